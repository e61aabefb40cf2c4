//! Exports only what the wasm benchmark calls, so the built module is the
//! codec's decoder and little else: its size is the codec's share of a page.

use bytes::BytesMut;
use mqtt_proto::{framing, Packet, ProtocolVersion};
use wasm_bindgen::prelude::*;

fn version(v5: bool) -> ProtocolVersion {
    if v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    }
}

/// Decodes `frame` (one whole packet) `iterations` times inside wasm; returns
/// the payload bytes seen, so nothing is optimized away.
#[wasm_bindgen]
pub fn decode_repeatedly(frame: &[u8], iterations: u32, v5: bool) -> u32 {
    let mut seen = 0u32;
    for _ in 0..iterations {
        let mut buf = BytesMut::from(frame);
        if let Ok(Some(Packet::Publish(p))) = framing::decode(&mut buf, usize::MAX, version(v5)) {
            seen = seen.wrapping_add(p.payload().len() as u32);
        }
    }
    seen
}

/// Decodes a buffer holding any number of whole packets, as a WebSocket
/// message delivers them; returns how many decoded.
#[wasm_bindgen]
pub fn decode_stream(bytes: &[u8], v5: bool) -> u32 {
    let mut buf = BytesMut::from(bytes);
    let mut n = 0;
    while let Ok(Some(_)) = framing::decode(&mut buf, usize::MAX, version(v5)) {
        n += 1;
    }
    n
}
