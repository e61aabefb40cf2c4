//! Arbitrary bytes, in a chunking the input chooses, through the stream
//! decoder of either version. Nothing may panic, the buffer stays bounded, and
//! every packet that decodes must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_proto::{ProtocolVersion, StreamDecoder};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
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
                        mqtt_proto::Packet::Connect(c) => c.protocol,
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
});
