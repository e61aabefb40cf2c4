use crate::Error;
use alloc::string::String;
use bytes::Bytes;
use core::{fmt, ops::Deref};

/// A UTF-8 string that shares the buffer it was decoded from.
///
/// Decoding a PUBLISH of a megabyte should not copy its topic or payload, so
/// strings are slices of the received [`Bytes`], checked once for the MQTT
/// string rules (valid UTF-8, no U+0000) when they are decoded.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Validates `bytes` as an MQTT UTF-8 string (spec 1.5.3).
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Error> {
        let s = core::str::from_utf8(&bytes).map_err(|_| Error::InvalidUtf8)?;
        if s.contains('\0') {
            return Err(Error::NullCharacter);
        }
        Ok(ByteStr(bytes))
    }

    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // Every constructor checked UTF-8.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        ByteStr(Bytes::from(s))
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
