//! The variable byte integer MQTT uses for the remaining length (spec 2.2.3).

use crate::Error;

/// The largest value four bytes can hold.
pub const MAX: usize = 268_435_455;

/// Reads a variable byte integer from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` ends before the integer does, and
/// `Ok(Some((value, bytes_used)))` otherwise. An integer in more bytes than
/// it needs (a last byte of 0 after others) is malformed (MQTT-1.5.5-1): it
/// would also not survive re-encoding, which forwarding a frame as received
/// relies on.
pub fn read(buf: &[u8]) -> Result<Option<(usize, usize)>, Error> {
    let mut value = 0usize;
    for (i, &byte) in buf.iter().enumerate() {
        if i == 4 {
            return Err(Error::MalformedRemainingLength);
        }
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(Error::MalformedRemainingLength);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        return Err(Error::MalformedRemainingLength);
    }
    Ok(None)
}

/// `value` if a variable byte integer can express it, or the error an
/// encoder reports for a length that large.
pub fn checked(value: usize) -> Result<usize, Error> {
    if value > MAX {
        return Err(Error::PacketTooLarge {
            size: value,
            max: MAX,
        });
    }
    Ok(value)
}

/// How many bytes [`write`] uses for `value`.
pub fn len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// `value` (at most [`MAX`]) encoded, as the bytes of a little-endian word,
/// and how many of them it takes: for writers that assemble a header in a
/// register rather than byte by byte in memory.
pub fn encode_word(mut value: usize) -> (u32, usize) {
    debug_assert!(value <= MAX);
    let (mut word, mut n) = (0u32, 0);
    loop {
        let more = value >= 128;
        word |= ((value % 128) as u32 | if more { 0x80 } else { 0 }) << (8 * n);
        n += 1;
        value /= 128;
        if !more {
            return (word, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Boundary values from the table in MQTT 3.1.1 section 2.2.3.
    const TABLE: &[(usize, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];

    #[test]
    fn spec_table_decodes_and_encodes() {
        for &(value, bytes) in TABLE {
            assert_eq!(read(bytes), Ok(Some((value, bytes.len()))), "{value}");
            let (word, n) = encode_word(value);
            assert_eq!(&word.to_le_bytes()[..n], bytes, "{value}");
            assert_eq!(len(value), bytes.len());
        }
    }

    #[test]
    fn more_bytes_than_needed_is_malformed() {
        assert_eq!(read(&[0x80, 0x00]), Err(Error::MalformedRemainingLength));
        assert_eq!(
            read(&[0xFF, 0x80, 0x00]),
            Err(Error::MalformedRemainingLength)
        );
        assert_eq!(read(&[0x80]), Ok(None), "not yet known");
        assert_eq!(read(&[0x00]), Ok(Some((0, 1))));
    }

    #[test]
    fn incomplete_integer_asks_for_more() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[0x80]), Ok(None));
        assert_eq!(read(&[0xFF, 0xFF, 0xFF]), Ok(None));
    }

    #[test]
    fn fifth_byte_is_malformed() {
        assert_eq!(
            read(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(Error::MalformedRemainingLength)
        );
        assert_eq!(
            read(&[0x80, 0x80, 0x80, 0x80]),
            Err(Error::MalformedRemainingLength)
        );
    }
}
