//! The checks the fuzz targets run on each input, in one place: the targets in
//! `fuzz/fuzz_targets/` and `tests/fuzz_regressions.rs` include this file.
#![allow(dead_code)] // each includer uses one of the two

use mqtt_proto::{
    ClientConfig, ClientSession, Instant, Packet, ProtocolVersion, Publish, QoS, StreamDecoder,
};

/// `decode`: the first byte picks the version and the chunk size, the rest is
/// fed in those chunks. Nothing panics, the buffer stays bounded, and every
/// packet that decodes encodes and decodes back to itself.
pub fn check_decode(data: &[u8]) {
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
                    // A CONNECT names its own version; everything else is `version`.
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

/// `client_session`: a connected session with QoS 1 and 2 messages in flight
/// is fed the input as server bytes, with time passing between chunks. It may
/// end the session, but never panic, and everything it sends is valid MQTT.
pub fn check_session(data: &[u8]) {
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
