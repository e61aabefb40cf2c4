//! Bytes captured from real third-party software (Mosquitto's broker and
//! clients, paho-mqtt) by `scripts/record-fixtures.py`: every packet decodes
//! and re-encodes byte for byte.

use mqtt_proto::{Packet, ProtocolVersion, StreamDecoder};
use std::path::Path;

fn version(level: &str) -> ProtocolVersion {
    match level {
        "3" => ProtocolVersion::V31,
        "4" => ProtocolVersion::V311,
        "5" => ProtocolVersion::V5,
        other => panic!("unknown protocol level {other}"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn third_party_bytes_round_trip_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "fixtures from Mosquitto 3.1.1, 5.0 and paho 5.0"
    );
    let mut seen_types = std::collections::BTreeSet::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.starts_with('#'))
        {
            let mut fields = line.split_whitespace();
            let (Some(level), Some(_direction), Some(bytes)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("{}:{}: malformed line", file.display(), n + 1);
            };
            let v = version(level);
            let bytes = hex(bytes);
            let mut decoder = StreamDecoder::new(1 << 20, v);
            decoder.feed(&bytes);
            let packet = match decoder.next_packet() {
                Ok(Some(p)) => p,
                other => panic!("{}:{}: {other:?}", file.display(), n + 1),
            };
            assert_eq!(decoder.buffered(), 0, "{}:{}", file.display(), n + 1);
            let again = packet.to_bytes(v).expect("encodes");
            assert_eq!(
                again.as_ref(),
                &bytes[..],
                "{}:{}: {packet:?}",
                file.display(),
                n + 1
            );
            seen_types.insert(format!("{:?}", packet.packet_type()));
            if let Packet::Connect(c) = &packet {
                assert_eq!(c.protocol, v);
            }
            count += 1;
        }
    }
    assert!(count >= 80, "{count} packets");
    // CONNECT, CONNACK, PUBLISH, the four acks, (UN)SUBSCRIBE/(UN)SUBACK, DISCONNECT.
    assert!(seen_types.len() >= 12, "{seen_types:?}");
}
