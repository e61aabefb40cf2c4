use crate::Error;
use alloc::string::String;
use bytes::Bytes;
use core::cmp::Ordering;
use core::hash::{Hash, Hasher};
use core::{fmt, ops::Deref};

/// Strings up to this many bytes are kept inline, copied: for a client id or
/// a topic filter that is cheaper than sharing the receive buffer, which costs
/// two atomic operations per string (a quarter of decoding a SUBSCRIBE).
const INLINE: usize = 22;

/// A UTF-8 string checked for the MQTT string rules (valid UTF-8, no U+0000)
/// once, when it is made.
///
/// Decoding a PUBLISH of a megabyte should not copy its topic or payload, so
/// a long string is a slice of the received [`Bytes`]; a short one is copied
/// into the value itself.
#[derive(Clone)]
pub struct ByteStr(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Bytes),
}

impl ByteStr {
    /// Validates `bytes` as an MQTT UTF-8 string (spec 1.5.3).
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Error> {
        check(&bytes)?;
        Ok(match inline(&bytes) {
            Some(short) => short,
            None => ByteStr(Repr::Shared(bytes)),
        })
    }

    /// Validates `bytes` in place: `Some` copy of them if they are short,
    /// `None` if the caller should share them with [`ByteStr::shared_checked`].
    pub(crate) fn check_and_inline(bytes: &[u8]) -> Result<Option<Self>, Error> {
        check(bytes)?;
        Ok(inline(bytes))
    }

    /// [`ByteStr::check_and_inline`] for the first `len` bytes of `window`,
    /// where `window` holds at least [`ByteStr::INLINE`] bytes.
    pub(crate) fn check_and_inline_prefix(
        window: &[u8],
        len: usize,
    ) -> Result<Option<Self>, Error> {
        check(&window[..len])?;
        Ok(inline_prefix(window, len))
    }

    pub(crate) const INLINE: usize = INLINE;

    /// `bytes` that [`ByteStr::check_and_inline`] accepted.
    pub(crate) fn shared_checked(bytes: Bytes) -> Self {
        ByteStr(Repr::Shared(bytes))
    }

    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Repr::Shared(Bytes::from_static(s.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        // Every constructor checked UTF-8.
        unsafe { core::str::from_utf8_unchecked(self.as_bytes()) }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

fn check(bytes: &[u8]) -> Result<(), Error> {
    // Nearly every MQTT string is ASCII: then it is valid UTF-8, and one
    // pass eight bytes at a time finds any NUL too.
    if !any_word(bytes, non_ascii_or_nul) {
        return Ok(());
    }
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
    if bytes.contains(&0) {
        return Err(Error::NullCharacter);
    }
    Ok(())
}

pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Non-zero exactly when some byte of `word` is zero (the classic bit trick).
pub(crate) fn has_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH
}

/// Non-zero if some byte of `word` is not ASCII or is NUL.
pub(crate) fn non_ascii_or_nul(word: u64) -> u64 {
    (word & HIGH) | has_zero_byte(word)
}

/// Whether `flag` is non-zero for any eight bytes of `bytes`, read as
/// little-endian words. Every flag here judges each byte on its own, so the
/// last, short word may repeat bytes: it is loaded with two overlapping
/// loads rather than copied into a padded buffer, whose narrow stores and
/// wide load stalled store forwarding (a third of decoding a SUBSCRIBE).
pub(crate) fn any_word(bytes: &[u8], flag: impl Fn(u64) -> u64) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut found = 0u64;
    for chunk in &mut chunks {
        found |= flag(word_at(chunk, 0));
    }
    found |= flag(last_word(bytes));
    found != 0
}

/// The eight bytes of `bytes` from `at` as a little-endian word.
#[inline]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// A word made only of bytes of `bytes`' last eight (all of them present),
/// or of 'a's, which no flag picks out, when `bytes` is empty.
#[inline]
fn last_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let half = |at: usize| {
        let mut half = [0u8; 4];
        half.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(half))
    };
    match n {
        8.. => word_at(bytes, n - 8),
        4..8 => half(0) | half(n - 4) << 32,
        1..4 => {
            let (a, b, c) = (bytes[0], bytes[n / 2], bytes[n - 1]);
            u64::from_le_bytes([a, b, c, a, a, a, a, a])
        }
        0 => ONES * u64::from(b'a'),
    }
}

/// The first `len` bytes of `window` (already checked), which holds at
/// least [`INLINE`], copied inline: one fixed-size copy instead of a
/// `memcpy` call of `len` bytes. `None` if they do not fit.
pub(crate) fn inline_prefix(window: &[u8], len: usize) -> Option<ByteStr> {
    if len > INLINE {
        return None;
    }
    let mut bytes = [0u8; INLINE];
    bytes.copy_from_slice(&window[..INLINE]);
    // The bytes past `len` are never read: `as_bytes` stops at `len`.
    Some(ByteStr(Repr::Inline {
        len: len as u8,
        bytes,
    }))
}

/// `bytes` (already checked) copied inline, if they fit.
fn inline(bytes: &[u8]) -> Option<ByteStr> {
    if bytes.len() > INLINE {
        return None;
    }
    let mut inline = [0u8; INLINE];
    inline[..bytes.len()].copy_from_slice(bytes);
    Some(ByteStr(Repr::Inline {
        len: bytes.len() as u8,
        bytes: inline,
    }))
}

impl Default for ByteStr {
    fn default() -> Self {
        ByteStr::from_static("")
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        inline(s.as_bytes())
            .unwrap_or_else(|| ByteStr(Repr::Shared(Bytes::copy_from_slice(s.as_bytes()))))
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        inline(s.as_bytes()).unwrap_or_else(|| ByteStr(Repr::Shared(Bytes::from(s))))
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ByteStr {}

impl PartialOrd for ByteStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteStr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_copied_long_ones_shared() {
        let long = Bytes::from_static(b"sensors/greenhouse-1/temperature");
        let shared = ByteStr::from_utf8(long.clone()).expect("valid");
        assert_eq!(shared.as_bytes().as_ptr(), long.as_ptr());
        let short = ByteStr::from_utf8(long.slice(..7)).expect("valid");
        assert_ne!(short.as_bytes().as_ptr(), long.as_ptr());
        assert_eq!(short, "sensors");
        // Equality, order and hashing see contents, not representation.
        assert_eq!(ByteStr::from("abc"), ByteStr::from_static("abc"));
        assert!(ByteStr::from("abd")
            .cmp(&ByteStr::from_static("abc"))
            .is_gt());
        assert_eq!(
            ByteStr::from_utf8(Bytes::from_static(b"a\0")),
            Err(Error::NullCharacter)
        );
        assert_eq!(
            ByteStr::from_utf8(Bytes::from_static(b"\xff")),
            Err(Error::InvalidUtf8)
        );
    }

    #[test]
    fn a_bad_byte_is_found_at_every_position_of_every_short_length() {
        // The word-at-a-time check reads the tail with overlapping loads:
        // each length and position takes a different path through it.
        for len in 1..=24 {
            for at in 0..len {
                for (bad, error) in [(0u8, Error::NullCharacter), (0xff, Error::InvalidUtf8)] {
                    let mut bytes = alloc::vec![b'x'; len];
                    bytes[at] = bad;
                    assert_eq!(check(&bytes), Err(error.clone()), "len {len} at {at}");
                    // Seen through a window holding more (good) bytes after it.
                    bytes.extend_from_slice(&[b'y'; INLINE]);
                    let found = ByteStr::check_and_inline_prefix(&bytes, len).map(|_| ());
                    assert_eq!(found, Err(error), "window, len {len} at {at}");
                }
            }
            let good = alloc::vec![b'x'; len];
            assert_eq!(check(&good), Ok(()));
        }
        assert_eq!(check(b""), Ok(()));
        let window = b"sensors/a/+\x01then the rest of the packet";
        let short = ByteStr::check_and_inline_prefix(window, 11)
            .expect("valid")
            .expect("short");
        assert_eq!(short, "sensors/a/+");
    }
}
