//! Every input the fuzzer (`fuzz/`, `cargo +nightly fuzz run decode`) found
//! failing, run through the same checks as the fuzz target, forever.

use mqtt_proto::{Packet, ProtocolVersion, StreamDecoder};

/// The `decode` fuzz target's checks: the first byte picks the version and the
/// chunk size; every packet that decodes must encode and decode to itself, and
/// the buffer stays bounded.
fn check(data: &[u8]) {
    const MAX: usize = 4096;
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let version = match control & 0b11 {
        0 => ProtocolVersion::V31,
        1 => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    };
    let chunk = usize::from(control >> 2) + 1;
    let mut decoder = StreamDecoder::new(MAX, version);
    for piece in bytes.chunks(chunk) {
        decoder.feed(piece);
        loop {
            match decoder.next_packet() {
                Ok(Some(packet)) => {
                    let v = match &packet {
                        Packet::Connect(c) => c.protocol,
                        _ => version,
                    };
                    let encoded = packet.to_bytes(v).expect("a decoded packet encodes");
                    assert_eq!(packet.encoded_len(v), Ok(encoded.len()));
                    let mut again = StreamDecoder::new(usize::MAX, v);
                    again.feed(&encoded);
                    assert_eq!(again.next_packet(), Ok(Some(packet)));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.buffered() < MAX + chunk);
    }
}

/// A 3.1.1 UNSUBACK with two bytes after its packet identifier decoded them as
/// SUBACK return codes, which do not survive re-encoding. Now: trailing bytes.
#[test]
fn unsuback_v3_with_trailing_bytes() {
    check(&[
        0x00, 0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    let mut d = StreamDecoder::new(64, ProtocolVersion::V311);
    d.feed(&[0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00]);
    assert_eq!(d.next_packet(), Err(mqtt_proto::Error::TrailingBytes(2)));
}
