//! Topic names and filters (spec 4.7).

use crate::Error;

/// Checks a topic name a PUBLISH or Will may carry: not empty, no wildcards.
pub fn validate_topic_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::EmptyTopic);
    }
    // '+', '#' and NUL are ASCII and never part of a multi-byte UTF-8
    // sequence, so one pass over the bytes finds them (this is on every PUBLISH).
    for &b in name.as_bytes() {
        match b {
            b'+' | b'#' => return Err(Error::WildcardInTopicName),
            0 => return Err(Error::NullCharacter),
            _ => {}
        }
    }
    Ok(())
}

/// Checks received bytes as a topic name (UTF-8 included) and returns them
/// as text. Topics are nearly always ASCII, so eight bytes at a time are
/// checked for a byte that is not ASCII, NUL, `+` or `#`; only a topic with
/// one of those takes the slower, exact path to find which error it is.
pub fn topic_name_from_bytes(bytes: &[u8]) -> Result<&str, Error> {
    if !crate::bytestr::any_word(bytes, suspect_bytes) && !bytes.is_empty() {
        // Only ASCII without NUL: valid UTF-8 and a valid topic name.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    let name = core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
    validate_topic_name(name)?;
    Ok(name)
}

/// Non-zero if any byte of `word` is at or above 0x80, NUL, `+` or `#`.
fn suspect_bytes(word: u64) -> u64 {
    crate::bytestr::non_ascii_or_nul(word) | wildcard_bytes(word)
}

/// Non-zero if any byte of `word` is `+` or `#`; the lowest set bit marks
/// the first such byte exactly.
fn wildcard_bytes(word: u64) -> u64 {
    use crate::bytestr::{has_zero_byte, ONES};
    has_zero_byte(word ^ (ONES * u64::from(b'+'))) | has_zero_byte(word ^ (ONES * u64::from(b'#')))
}

/// `(group, filter)` of a shared subscription `$share/<group>/<filter>`
/// (MQTT 5.0 section 4.8.2), or `None` for an ordinary filter.
pub fn parse_shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    rest.split_once('/')
}

/// Checks a topic filter: `+` fills a whole level, `#` fills the whole last
/// level; a shared subscription's group is one level free of wildcards.
pub fn validate_topic_filter(filter: &str) -> Result<(), Error> {
    // Only a filter starting with '$' can be shared; test one byte first.
    if filter.as_bytes().first() == Some(&b'$')
        && (filter.starts_with("$share/") || filter == "$share")
    {
        let (group, inner) = parse_shared(filter).ok_or(Error::InvalidSharedSubscription)?;
        if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
            return Err(Error::InvalidSharedSubscription);
        }
        return validate_plain_filter(inner);
    }
    validate_plain_filter(filter)
}

fn validate_plain_filter(filter: &str) -> Result<(), Error> {
    let bytes = filter.as_bytes();
    if bytes.is_empty() {
        return Err(Error::EmptyTopic);
    }
    // This runs for every filter of every SUBSCRIBE: only the bytes that can
    // be wrong (NUL, '+', '#') are looked at, found eight at a time. A
    // wildcard must fill its level, and '#' must be the last.
    let mut from = 0;
    while let Some(i) = next_filter_special(bytes, from) {
        let b = bytes[i];
        if b == 0 {
            return Err(Error::NullCharacter);
        }
        let last = i + 1 == bytes.len();
        let starts_level = i == 0 || bytes[i - 1] == b'/';
        let ends_level = last || bytes[i + 1] == b'/';
        if !starts_level || !ends_level || (b == b'#' && !last) {
            return Err(Error::InvalidWildcard);
        }
        from = i + 1;
    }
    Ok(())
}

/// The index of the first NUL, `+` or `#` in `bytes` at or after `from`.
fn next_filter_special(bytes: &[u8], from: usize) -> Option<usize> {
    use crate::bytestr::{has_zero_byte, word_at};
    let mut at = from;
    while at + 8 <= bytes.len() {
        let word = word_at(bytes, at);
        // The lowest flag bit of each test marks its first match exactly.
        let flags = has_zero_byte(word) | wildcard_bytes(word);
        if flags != 0 {
            return Some(at + flags.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = bytes[at..]
        .iter()
        .position(|&b| matches!(b, 0 | b'+' | b'#'));
    tail.map(|i| at + i)
}

/// Whether a valid `filter` matches a valid topic `name`.
///
/// A filter starting with a wildcard does not match a topic starting with `$`
/// (spec 4.7.2), so `#` does not see `$SYS/...`.
pub fn filter_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut name_levels = name.split('/');
    loop {
        match (filter_levels.next(), name_levels.next()) {
            // "#" also matches the parent level: "a/#" matches "a".
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(n)) if f == n => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The word-at-a-time check agrees with the plain one for every byte
    /// value at every position of every length up to three words, and for
    /// multi-byte UTF-8.
    #[test]
    fn topic_names_from_bytes_match_the_plain_check() {
        fn plain(bytes: &[u8]) -> Result<&str, Error> {
            let name = core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
            validate_topic_name(name).map(|()| name)
        }
        for len in 0..=24 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    bytes[at] = b;
                    assert_eq!(topic_name_from_bytes(&bytes), plain(&bytes), "{bytes:?}");
                }
            }
        }
        for name in ["température/salle", "€/x", "a/\u{1F600}"] {
            assert_eq!(topic_name_from_bytes(name.as_bytes()), Ok(name));
        }
        assert_eq!(topic_name_from_bytes(b""), Err(Error::EmptyTopic));
    }

    #[test]
    fn topic_names() {
        assert_eq!(validate_topic_name("sensors/a/temperature"), Ok(()));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_name(""), Err(Error::EmptyTopic));
        assert_eq!(
            validate_topic_name("sensors/+/t"),
            Err(Error::WildcardInTopicName)
        );
        assert_eq!(validate_topic_name("a#"), Err(Error::WildcardInTopicName));
    }

    #[test]
    fn topic_filters_from_spec_examples() {
        for ok in [
            "#",
            "+",
            "+/+",
            "/+",
            "sport/#",
            "sport/tennis/+",
            "+/tennis/#",
            "a//b",
        ] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for bad in [
            "sport/tennis#",
            "sport/tennis/#/ranking",
            "sport+",
            "#/a",
            "a/b+/c",
        ] {
            assert_eq!(
                validate_topic_filter(bad),
                Err(Error::InvalidWildcard),
                "{bad}"
            );
        }
        assert_eq!(validate_topic_filter(""), Err(Error::EmptyTopic));
    }

    /// The byte-by-byte rule the word-at-a-time validation must agree with.
    fn filter_rule(bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Err(Error::EmptyTopic);
        }
        let mut level_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                0 => return Err(Error::NullCharacter),
                b'/' => level_start = i + 1,
                b'+' | b'#' => {
                    let level_end = i + 1 == bytes.len() || bytes[i + 1] == b'/';
                    if i != level_start || !level_end || (b == b'#' && i + 1 != bytes.len()) {
                        return Err(Error::InvalidWildcard);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    #[test]
    fn filter_validation_agrees_with_the_rule_at_every_word_offset() {
        let alphabet = [b'a', b'/', b'+', b'#', 0];
        for len in 0..=6u32 {
            for mut code in 0..alphabet.len().pow(len) {
                let mut tail = alloc::vec::Vec::new();
                for _ in 0..len {
                    tail.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                // Prefixes move the tail across the eight-byte words.
                for prefix in ["", "abc/", "abcdefg/", "abcdefghijkl/"] {
                    let mut bytes = prefix.as_bytes().to_vec();
                    bytes.extend_from_slice(&tail);
                    let filter = core::str::from_utf8(&bytes).expect("ASCII");
                    assert_eq!(
                        validate_plain_filter(filter),
                        filter_rule(&bytes),
                        "{bytes:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn matching_follows_spec_4_7_1() {
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/ranking",
                true,
            ),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/#", "sport", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("sensors/+/temperature", "sensors/e2e/temperature", true),
            ("sensors/+/temperature", "sensors/e2e/moisture", false),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
        ];
        for (filter, name, expected) in cases {
            assert_eq!(filter_matches(filter, name), expected, "{filter} vs {name}");
        }
    }

    #[test]
    fn shared_subscriptions() {
        assert_eq!(
            parse_shared("$share/g1/sensors/+/t"),
            Some(("g1", "sensors/+/t"))
        );
        assert_eq!(parse_shared("sensors/#"), None);
        assert_eq!(validate_topic_filter("$share/g1/sensors/#"), Ok(()));
        assert_eq!(validate_topic_filter("$share/g1/#"), Ok(()));
        for bad in [
            "$share/g1",
            "$share//a",
            "$share/g+/a",
            "$share/g1/",
            "$share",
        ] {
            assert_eq!(
                validate_topic_filter(bad),
                Err(Error::InvalidSharedSubscription),
                "{bad}"
            );
        }
        assert_eq!(
            validate_topic_filter("$share/g/a/#/b"),
            Err(Error::InvalidWildcard)
        );
    }

    #[test]
    fn leading_wildcards_skip_dollar_topics() {
        assert!(!filter_matches("#", "$SYS/broker/uptime"));
        assert!(!filter_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(filter_matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(filter_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }
}
