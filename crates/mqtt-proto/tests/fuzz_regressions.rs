//! Every input the fuzzer (`fuzz/`, `cargo +nightly fuzz run decode`) found
//! failing, run through the same checks as the fuzz target, forever.

use mqtt_proto::{
    ClientConfig, ClientSession, Instant, Packet, ProtocolVersion, Publish, QoS, StreamDecoder,
};

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

/// The `client_session` fuzz target's checks: a connected session fed the
/// input as server bytes must only ever send valid MQTT.
fn check_session(data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let version = if control & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let mut config = ClientConfig::new("fuzz");
    config.protocol = version;
    config.keep_alive_secs = 5;
    let mut session = ClientSession::new(config);
    let _ = session.connect(Instant::from_millis(0));
    let connack: &[u8] = if version == ProtocolVersion::V5 {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    };
    session.handle_bytes(connack, Instant::from_millis(1));
    for q in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut p = Publish::new("t", &b"x"[..]);
        p.qos = q;
        let _ = session.publish(p, Instant::from_millis(2));
    }
    let mut now = 3;
    for piece in bytes.chunks(usize::from(control >> 1) + 1) {
        session.handle_bytes(piece, Instant::from_millis(now));
        now += 700;
        session.handle_timeout(Instant::from_millis(now));
        while session.poll_event().is_some() {}
    }
    let mut sent = StreamDecoder::new(usize::MAX, version);
    while let Some(out) = session.poll_transmit() {
        sent.feed(&out);
    }
    while let Some(packet) = sent.next_packet().expect("the session sends valid MQTT") {
        drop(packet);
    }
}

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
    check(&[
        0x00, 0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    let mut d = StreamDecoder::new(64, ProtocolVersion::V311);
    d.feed(&[0xB0, 0x04, 0x00, 0x2C, 0x02, 0x00]);
    assert_eq!(d.next_packet(), Err(mqtt_proto::Error::TrailingBytes(2)));
}
