//! Field-level reading and writing shared by every packet (spec 1.5).

use crate::{ByteStr, Error};
use bytes::{Buf, BufMut, Bytes};

/// Reads fields from a packet body, failing with [`Error::UnexpectedEof`]
/// instead of panicking when the peer's packet is shorter than its fields.
pub struct Reader {
    body: Bytes,
}

impl Reader {
    pub fn new(body: Bytes) -> Self {
        Reader { body }
    }

    pub fn remaining(&self) -> usize {
        self.body.len()
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        if self.body.is_empty() {
            return Err(Error::UnexpectedEof);
        }
        Ok(self.body.get_u8())
    }

    pub fn u16(&mut self) -> Result<u16, Error> {
        if self.body.len() < 2 {
            return Err(Error::UnexpectedEof);
        }
        Ok(self.body.get_u16())
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        if self.body.len() < 4 {
            return Err(Error::UnexpectedEof);
        }
        Ok(self.body.get_u32())
    }

    /// A variable byte integer (spec 1.5.5), at most four bytes.
    pub fn varint(&mut self) -> Result<u32, Error> {
        match crate::varint::read(&self.body)? {
            Some((value, used)) => {
                self.body.advance(used);
                Ok(value as u32)
            }
            None => Err(Error::UnexpectedEof),
        }
    }

    /// The next `len` bytes as a reader of their own.
    pub fn sub_reader(&mut self, len: usize) -> Result<Reader, Error> {
        if self.body.len() < len {
            return Err(Error::UnexpectedEof);
        }
        Ok(Reader::new(self.body.split_to(len)))
    }

    /// A packet identifier, which is never 0 (spec 2.3.1).
    pub fn packet_id(&mut self) -> Result<u16, Error> {
        match self.u16()? {
            0 => Err(Error::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// Two-byte length followed by that many bytes.
    pub fn binary(&mut self) -> Result<Bytes, Error> {
        let len = usize::from(self.u16()?);
        if self.body.len() < len {
            return Err(Error::UnexpectedEof);
        }
        Ok(self.body.split_to(len))
    }

    pub fn string(&mut self) -> Result<ByteStr, Error> {
        let len = usize::from(self.u16()?);
        if self.body.len() < len {
            return Err(Error::UnexpectedEof);
        }
        match ByteStr::check_and_inline(&self.body[..len])? {
            Some(short) => {
                self.body.advance(len);
                Ok(short)
            }
            None => Ok(ByteStr::shared_checked(self.body.split_to(len))),
        }
    }

    /// How many length-prefixed fields, each followed by `trailer` bytes,
    /// the rest holds (stopping at a field cut short), up to 64: a list of
    /// them is allocated once at its size, but a peer's packet of thousands
    /// of entries must prove valid as it grows.
    pub fn count_fields(&self, trailer: usize) -> usize {
        let (mut at, mut n) = (0, 0);
        while n < 64 {
            let Some(len) = self.body.get(at..at + 2) else {
                break;
            };
            at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]])) + trailer;
            n += 1;
        }
        n
    }

    /// Everything left, e.g. a PUBLISH payload.
    pub fn rest(&mut self) -> Bytes {
        core::mem::take(&mut self.body)
    }

    pub fn finish(self) -> Result<(), Error> {
        match self.body.len() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    }
}

/// Encoded size of a length-prefixed string or binary field, or an error if
/// it cannot be expressed in two length bytes.
pub fn field_len(bytes: &[u8]) -> Result<usize, Error> {
    if bytes.len() > usize::from(u16::MAX) {
        return Err(Error::FieldTooLong(bytes.len()));
    }
    Ok(2 + bytes.len())
}

/// Writes a field whose length [`field_len`] already checked.
pub fn put_field(buf: &mut impl BufMut, bytes: &[u8]) {
    buf.put_u16(bytes.len() as u16);
    buf.put_slice(bytes);
}
