//! Every input the fuzzers (`fuzz/`, `cargo +nightly fuzz run decode` and
//! `client_session`) found failing, run through the same checks, forever.

#[path = "support/fuzz_checks.rs"]
mod fuzz_checks;

use fuzz_checks::{check_decode, check_session};
use mqtt_proto::{ProtocolVersion, StreamDecoder};

/// A server sending CONNECT with protocol name "." made a 5.0 client answer
/// DISCONNECT 0x84 (Unsupported Protocol Version), a code only CONNACK may
/// carry. Errors now map to a DISCONNECT code (0x81 Malformed Packet here).
#[test]
fn session_disconnect_reason_is_a_disconnect_code() {
    check_session(&[0x99, 0x10, 0x04, 0x00, 0x01, 0x2E, 0x00, 0xF0, 0x01, 0x00]);
}

/// A 3.1.1 UNSUBACK with two bytes after its packet identifier decoded them as
/// SUBACK return codes, which do not survive re-encoding. Now: trailing bytes.
#[test]
fn unsuback_v3_with_trailing_bytes() {
    check_decode(&[
        0x00, 0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    let mut d = StreamDecoder::new(64, ProtocolVersion::V311);
    d.feed(&[0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00]);
    assert_eq!(d.next_packet(), Err(mqtt_proto::Error::TrailingBytes(2)));
}

/// A 5.0 PUBLISH whose property length 0 took two bytes (0x80 0x00) was
/// forwarded as received, one byte longer than its encoded length said.
/// Variable byte integers in more bytes than needed are now malformed.
#[test]
fn non_minimal_property_length() {
    check_decode(&[
        0x23, 0xE0, 0x01, 0x9F, 0x30, 0x1C, 0x00, 0x0E, 0x0B, 0x0B, 0x0B, 0x15, 0x0B, 0x0B, 0x0B,
        0x0B, 0x08, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x02,
        0x0B, 0x2B, 0x02, 0xDA, 0x30, 0x1C, 0x00, 0x0E, 0x0B, 0x0B, 0x0B, 0x15, 0x0B, 0x0B, 0x0B,
        0x0B, 0x08, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x80, 0x00, 0x02, 0x00, 0x00, 0x90, 0x8B, 0x00,
        0xFE, 0x00, 0x00, 0x00, 0x02, 0x00, 0x80, 0x00,
    ]);
    let mut d = StreamDecoder::new(64, ProtocolVersion::V5);
    d.feed(&[0x30, 0x05, 0x00, 0x01, b't', 0x80, 0x00]);
    assert_eq!(
        d.next_packet(),
        Err(mqtt_proto::Error::MalformedRemainingLength)
    );
}
