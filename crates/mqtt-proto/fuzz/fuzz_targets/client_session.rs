//! A connected client session fed arbitrary server bytes: it may end the
//! session, but never panic, and whatever it sends must be valid MQTT.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_proto::{
    ClientConfig, ClientSession, Instant, ProtocolVersion, Publish, QoS, StreamDecoder,
};

fuzz_target!(|data: &[u8]| {
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
    let mut check = StreamDecoder::new(usize::MAX, version);
    while let Some(out) = session.poll_transmit() {
        check.feed(&out);
    }
    while let Some(packet) = check.next_packet().expect("the session sends valid MQTT") {
        drop(packet);
    }
});
