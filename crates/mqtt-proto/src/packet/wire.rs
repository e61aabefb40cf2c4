//! Field-level reading and writing shared by every packet (spec 1.5).

use crate::{ByteStr, Error};
use bytes::{Buf, Bytes, BytesMut};
use core::mem::MaybeUninit;

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
        let short = if self.body.len() >= ByteStr::INLINE {
            ByteStr::check_and_inline_prefix(&self.body, len)?
        } else {
            ByteStr::check_and_inline(&self.body[..len])?
        };
        match short {
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

/// Writes a packet, or a part of one, of exactly `len` bytes onto the end of
/// `buf` with `write`: one capacity check and one length update for the whole
/// instead of one of each per field through `BufMut`. CONNECT and SUBSCRIBE
/// encoded through `BufMut` spent a third of their time on that bookkeeping.
#[inline]
pub fn write_exact(buf: &mut BytesMut, len: usize, write: impl FnOnce(&mut Writer)) {
    buf.reserve(len);
    let start = buf.len();
    let mut w = Writer {
        dst: &mut buf.spare_capacity_mut()[..len],
        at: 0,
    };
    write(&mut w);
    // A length computed wrong is a bug here, never a peer's doing.
    assert_eq!(w.at, len, "packet shorter than its length");
    // SAFETY: the writer writes contiguously from the start of the `len`
    // reserved bytes and only moves on past bytes it has written (or moved);
    // it reached their end, so all are written.
    unsafe { buf.set_len(start + len) };
}

/// The bytes of a [`write_exact`] reservation; the first `at` are written.
pub struct Writer<'a> {
    dst: &'a mut [MaybeUninit<u8>],
    at: usize,
}

impl Writer<'_> {
    #[inline]
    pub fn bytes(&mut self, src: &[u8]) {
        let dst = self.take(src.len());
        copy_short(src, dst);
    }

    /// The next `n` bytes, counted as written: the caller writes them all.
    #[inline]
    fn take(&mut self, n: usize) -> *mut u8 {
        // Panics (a wrong length, as above) rather than write past the end.
        // One comparison: `at <= dst.len()` always holds.
        assert!(
            n <= self.dst.len() - self.at,
            "packet longer than its length"
        );
        // SAFETY: in bounds, as just checked.
        let dst = unsafe { self.dst.as_mut_ptr().add(self.at) }.cast::<u8>();
        self.at += n;
        dst
    }

    /// Writes what `write` writes after its length as a variable byte
    /// integer, without knowing that length first: a one-byte prefix,
    /// widened afterwards in the rare case of 128 bytes or more.
    #[inline]
    pub fn length_prefixed(&mut self, write: impl FnOnce(&mut Self)) {
        let at = self.at;
        self.u8(0);
        write(self);
        let n = self.at - at - 1;
        let (word, len) = crate::varint::encode_word(n);
        if len > 1 {
            let end = self.at;
            // Checks there is room, as `bytes` does.
            let _ = &self.dst[end..end + len - 1];
            self.dst.copy_within(at + 1..end, at + len);
            self.at += len - 1;
        }
        for (slot, byte) in self.dst[at..at + len].iter_mut().zip(word.to_le_bytes()) {
            slot.write(byte);
        }
    }

    #[inline]
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    #[inline]
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A variable byte integer (spec 1.5.5); `value` at most [`crate::varint::MAX`].
    #[inline]
    pub fn varint(&mut self, value: usize) {
        let (word, len) = crate::varint::encode_word(value);
        self.bytes(&word.to_le_bytes()[..len]);
    }

    /// A length-prefixed field whose length [`field_len`] already checked.
    #[inline]
    pub fn field(&mut self, bytes: &[u8]) {
        let dst = self.take(2 + bytes.len());
        // SAFETY: `take` gave `2 + bytes.len()` bytes.
        unsafe {
            dst.cast::<[u8; 2]>()
                .write_unaligned((bytes.len() as u16).to_be_bytes());
            copy_short(bytes, dst.add(2));
        }
    }
}

/// Copies `src` to `dst`, which must be valid for `src.len()` bytes and not
/// overlap it. Fields are mostly short (ids, topics, filters, property
/// values): two overlapping copies instead of a call to `memcpy`, whose call
/// and return were half of encoding a SUBSCRIBE.
#[inline]
fn copy_short(src: &[u8], dst: *mut u8) {
    let (n, s, d) = (src.len(), src.as_ptr(), dst);
    // SAFETY: every read is within `src[..n]`, every write within `dst[..n]`.
    unsafe {
        if (16..=32).contains(&n) {
            let head = s.cast::<u128>().read_unaligned();
            let tail = s.add(n - 16).cast::<u128>().read_unaligned();
            d.cast::<u128>().write_unaligned(head);
            d.add(n - 16).cast::<u128>().write_unaligned(tail);
        } else if (8..16).contains(&n) {
            let head = s.cast::<u64>().read_unaligned();
            let tail = s.add(n - 8).cast::<u64>().read_unaligned();
            d.cast::<u64>().write_unaligned(head);
            d.add(n - 8).cast::<u64>().write_unaligned(tail);
        } else if (4..8).contains(&n) {
            let head = s.cast::<u32>().read_unaligned();
            let tail = s.add(n - 4).cast::<u32>().read_unaligned();
            d.cast::<u32>().write_unaligned(head);
            d.add(n - 4).cast::<u32>().write_unaligned(tail);
        } else {
            core::ptr::copy_nonoverlapping(s, d, n);
        }
    }
}
