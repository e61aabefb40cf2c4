//! How a payload reads to a person: text when it is UTF-8, pretty JSON when it
//! parses, hex otherwise; and UTC timestamps for exports.

use std::fmt::Write;

/// Payload as one line of at most `max_chars` characters: UTF-8 text with line
/// breaks shown as spaces, or the start of its hex when it is binary.
pub fn preview(payload: &[u8], max_chars: usize) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) => {
            let mut out: String = text
                .chars()
                .take(max_chars)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if text.chars().nth(max_chars).is_some() {
                out.push('…');
            }
            out
        }
        Err(_) => {
            let shown = payload.len().min(max_chars / 3);
            let mut out = hex(&payload[..shown]);
            if shown < payload.len() {
                out.push('…');
            }
            out
        }
    }
}

/// Bytes as lowercase hex pairs separated by spaces: `0a ff 10`.
pub fn hex(payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len() * 3);
    for (i, b) in payload.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The payload re-indented, if it is a JSON document.
pub fn pretty_json(payload: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

/// The payload as a number: a plain decimal, or the JSON field at `path`
/// (dot-separated, e.g. `data.temp`; empty for a bare JSON number).
pub fn number_at(payload: &[u8], path: &str) -> Option<f64> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    let value = if path.is_empty() {
        match text.parse::<f64>() {
            Ok(v) => v,
            Err(_) => serde_json::from_str::<serde_json::Value>(text)
                .ok()?
                .as_f64()?,
        }
    } else {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut at = &json;
        for key in path.split('.') {
            at = match at {
                serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
                other => other.get(key)?,
            };
        }
        at.as_f64()?
    };
    value.is_finite().then_some(value)
}

/// The JSON paths (as [`number_at`] takes them) of the numbers in a JSON
/// object payload, depth first, at most `limit`: what a chart could plot.
pub fn numeric_paths(payload: &[u8], limit: usize) -> Vec<String> {
    fn walk(
        value: &serde_json::Value,
        path: &mut String,
        depth: usize,
        out: &mut Vec<String>,
        limit: usize,
    ) {
        let serde_json::Value::Object(fields) = value else {
            return;
        };
        for (key, v) in fields {
            if out.len() >= limit {
                return;
            }
            if key.is_empty() || key.contains('.') {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            if v.as_f64().is_some_and(f64::is_finite) {
                out.push(path.clone());
            } else if depth < 4 {
                walk(v, path, depth + 1, out, limit);
            }
            path.truncate(len);
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&value, &mut String::new(), 0, &mut out, limit);
    out
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC timestamp with
/// milliseconds: `2026-12-03T15:46:36.123Z`.
pub fn iso_time(ms: f64) -> String {
    let total_ms = ms.max(0.0).floor() as i64;
    let (secs, millis) = (total_ms.div_euclid(1000), total_ms.rem_euclid(1000));
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_text_and_binary() {
        assert_eq!(preview(b"21.5", 10), "21.5");
        assert_eq!(preview(b"line one\nline two", 100), "line one line two");
        assert_eq!(preview("héllo wörld".as_bytes(), 5), "héllo…");
        assert_eq!(preview(&[0xff, 0x00, 0x10], 30), "ff 00 10");
        assert_eq!(preview(&[0xff; 20], 9), "ff ff ff…");
    }

    #[test]
    fn hex_and_pretty_json() {
        assert_eq!(hex(b"\x00\x0aA"), "00 0a 41");
        assert_eq!(hex(b""), "");
        assert_eq!(
            pretty_json(br#"{"a":[1,2]}"#).as_deref(),
            Some("{\n  \"a\": [\n    1,\n    2\n  ]\n}")
        );
        assert_eq!(pretty_json(b"not json"), None);
    }

    #[test]
    fn numbers_from_text_and_json_paths() {
        assert_eq!(number_at(b" 21.5 ", ""), Some(21.5));
        assert_eq!(number_at(b"NaN", ""), None);
        assert_eq!(number_at(br#"{"value":3}"#, "value"), Some(3.0));
        assert_eq!(
            number_at(br#"{"data":{"temp":-4.5}}"#, "data.temp"),
            Some(-4.5)
        );
        assert_eq!(number_at(br#"{"data":[10,20]}"#, "data.1"), Some(20.0));
        assert_eq!(number_at(br#"{"data":{"temp":"hot"}}"#, "data.temp"), None);
        assert_eq!(number_at(br#"{"data":{}}"#, "data.temp"), None);
        assert_eq!(number_at(b"12", "value"), None);
    }

    #[test]
    fn numeric_paths_of_json_objects() {
        let payload =
            br#"{"id":"x","value":3,"data":{"temp":21.5,"ok":true,"deep":{"rh":40}},"list":[1]}"#;
        let mut paths = numeric_paths(payload, 10);
        paths.sort();
        assert_eq!(paths, ["data.deep.rh", "data.temp", "value"]);
        for p in &paths {
            assert!(number_at(payload, p).is_some(), "{p} charts");
        }
        assert_eq!(numeric_paths(payload, 1).len(), 1);
        assert!(numeric_paths(b"21.5", 10).is_empty());
        assert!(numeric_paths(b"junk", 10).is_empty());
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso_time(0.0), "1970-01-01T00:00:00.000Z");
        // date -u -d @1796312796 -> Thu Dec  3 15:46:36 UTC 2026
        assert_eq!(iso_time(1_796_312_796_123.0), "2026-12-03T15:46:36.123Z");
        assert_eq!(iso_time(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
    }
}
