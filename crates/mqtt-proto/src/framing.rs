//! Finding whole packets in a byte stream.

use crate::packet::publish;
use crate::{varint, Error, Packet, PacketType, ProtocolVersion};
use bytes::{Buf, BytesMut};

/// Where the next packet in a buffer begins and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The first byte: packet type and flags.
    pub first_byte: u8,
    /// Fixed-header length: 1 plus the bytes of the remaining length.
    pub header_len: usize,
    /// The remaining length: bytes after the fixed header.
    pub body_len: usize,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.header_len + self.body_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Looks at the start of `buf` for a packet no larger than `max_packet_size`.
///
/// Returns `Ok(None)` when the fixed header is not complete yet, or when it is
/// but the body is not all there. A packet announced larger than the limit is an
/// error as soon as its fixed header is readable, before any body is buffered.
pub fn check(buf: &[u8], max_packet_size: usize) -> Result<Option<Frame>, Error> {
    let Some(&first_byte) = buf.first() else {
        return Ok(None);
    };
    let Some((body_len, varint_len)) = varint::read(&buf[1..])? else {
        return Ok(None);
    };
    let frame = Frame {
        first_byte,
        header_len: 1 + varint_len,
        body_len,
    };
    if frame.len() > max_packet_size {
        return Err(Error::PacketTooLarge {
            size: frame.len(),
            max: max_packet_size,
        });
    }
    if buf.len() < frame.len() {
        return Ok(None);
    }
    Ok(Some(frame))
}

/// Takes the next whole packet off the front of `buf` (a caller-owned receive
/// buffer), `Ok(None)` if it is not all there yet.
pub fn decode(
    buf: &mut BytesMut,
    max_packet_size: usize,
    version: ProtocolVersion,
) -> Result<Option<Packet>, Error> {
    let Some(frame) = check(buf, max_packet_size)? else {
        return Ok(None);
    };
    if frame.first_byte >> 4 == PacketType::Publish as u8 {
        // The busiest packet keeps its whole frame: see `Publish`.
        let bytes = buf.split_to(frame.len()).freeze();
        return publish::read_frame(bytes, frame.header_len, version)
            .map(|p| Some(Packet::Publish(p)));
    }
    buf.advance(frame.header_len);
    let body = buf.split_to(frame.body_len).freeze();
    Packet::read(frame.first_byte, body, version).map(Some)
}

/// Turns bytes that arrive in any chunking into packets.
///
/// The buffer holds at most one partial packet plus whatever was fed since the
/// last call to [`StreamDecoder::next_packet`]; oversized packets are refused by
/// their header, so memory stays bounded by `max_packet_size` plus one chunk.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: BytesMut,
    max_packet_size: usize,
    version: ProtocolVersion,
}

impl StreamDecoder {
    /// A decoder for `version`; a server learns the version from CONNECT
    /// (which decodes the same in every version) and then calls
    /// [`StreamDecoder::set_version`].
    pub fn new(max_packet_size: usize, version: ProtocolVersion) -> Self {
        StreamDecoder {
            buf: BytesMut::new(),
            max_packet_size,
            version,
        }
    }

    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Changes the limit, e.g. to the Maximum Packet Size a 5.0 peer announced.
    pub fn set_max_packet_size(&mut self, max_packet_size: usize) {
        self.max_packet_size = max_packet_size;
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The receive buffer, for callers that read from a socket straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops any partial packet, e.g. when the transport reconnects.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The next complete packet, `Ok(None)` if more bytes are needed, or the
    /// protocol error that must close the connection.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        decode(&mut self.buf, self.max_packet_size, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    // PINGREQ, then a QoS 0 PUBLISH of "hi" to "a/b", then DISCONNECT.
    const STREAM: &[u8] = &[
        0xC0, 0x00, //
        0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i', //
        0xE0, 0x00,
    ];

    fn decode_in_chunks(chunk: usize) -> Vec<Packet> {
        let mut decoder = StreamDecoder::new(1024, ProtocolVersion::V311);
        let mut packets = Vec::new();
        for piece in STREAM.chunks(chunk) {
            decoder.feed(piece);
            while let Some(p) = decoder.next_packet().expect("valid stream") {
                packets.push(p);
            }
        }
        assert_eq!(decoder.buffered(), 0);
        packets
    }

    #[test]
    fn any_chunking_yields_the_same_packets() {
        let whole = decode_in_chunks(STREAM.len());
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0], Packet::PingReq);
        assert_eq!(whole[2], Packet::disconnect());
        for chunk in 1..STREAM.len() {
            assert_eq!(decode_in_chunks(chunk), whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn oversize_is_refused_from_the_header_alone() {
        let mut decoder = StreamDecoder::new(100, ProtocolVersion::V311);
        // PUBLISH announcing 256 MiB - 1: only the header has arrived.
        decoder.feed(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(
            decoder.next_packet(),
            Err(Error::PacketTooLarge {
                size: 268_435_455 + 5,
                max: 100
            })
        );
    }

    #[test]
    fn partial_header_waits() {
        assert_eq!(check(&[0x30], 10), Ok(None));
        assert_eq!(check(&[0x30, 0x80], 1000), Ok(None));
        assert_eq!(check(&[0x30, 0x02, 0x00], 10), Ok(None));
    }
}
