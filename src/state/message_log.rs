//! The most recent messages, bounded, with the filters and exports of the
//! message log panel.

use super::payload::{hex, iso_time};
use mqtt_proto::topic::{filter_matches, validate_topic_filter};
use std::collections::VecDeque;

/// Messages kept; older ones fall off the front.
pub const LOG_CAPACITY: usize = 5_000;
/// Payload bytes kept per logged message (the rest is cut, and marked so).
pub const LOG_PAYLOAD_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Increases by one per message logged; stable while entries fall off.
    pub seq: u64,
    pub at_ms: f64,
    pub topic: String,
    pub payload: Vec<u8>,
    /// Payload bytes beyond [`LOG_PAYLOAD_BYTES`] that were not kept.
    pub cut_bytes: usize,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// A rule matched this message.
    pub flagged: bool,
}

impl LogEntry {
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

/// What the log shows: a topic pattern and a text to look for.
///
/// A pattern with `+` or `#` is an MQTT filter (`sensors/+/temperature`);
/// without, it matches topics containing it, in any case, like a search box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub topic: String,
    pub text: String,
}

impl LogFilter {
    pub fn is_empty(&self) -> bool {
        self.topic.trim().is_empty() && self.text.trim().is_empty()
    }

    /// Why the topic pattern is not a usable MQTT filter, if it is not.
    pub fn topic_problem(&self) -> Option<String> {
        let topic = self.topic.trim();
        let wildcard = topic.contains(['+', '#']);
        (wildcard && validate_topic_filter(topic).is_err())
            .then(|| super::subscriptions::filter_problem(topic).unwrap_or_default())
    }

    pub fn matches(&self, entry: &LogEntry) -> bool {
        let topic = self.topic.trim();
        let topic_ok = if topic.is_empty() {
            true
        } else if topic.contains(['+', '#']) {
            validate_topic_filter(topic).is_ok() && filter_matches(topic, &entry.topic)
        } else {
            contains_ignoring_case(&entry.topic, topic)
        };
        let text = self.text.trim();
        topic_ok
            && (text.is_empty()
                || entry
                    .text()
                    .is_some_and(|t| contains_ignoring_case(t, text)))
    }
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
    next_seq: u64,
    /// While paused, arriving messages are counted but not logged.
    pub paused: bool,
    pub missed_while_paused: u64,
}

impl Default for MessageLog {
    fn default() -> Self {
        MessageLog::new(LOG_CAPACITY)
    }
}

impl MessageLog {
    pub fn new(capacity: usize) -> Self {
        MessageLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            paused: false,
            missed_while_paused: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        dup: bool,
        flagged: bool,
        at_ms: f64,
    ) {
        if self.paused {
            self.missed_while_paused += 1;
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        let kept = payload.len().min(LOG_PAYLOAD_BYTES);
        self.entries.push_back(LogEntry {
            seq: self.next_seq,
            at_ms,
            topic: topic.to_owned(),
            payload: payload[..kept].to_vec(),
            cut_bytes: payload.len() - kept,
            qos,
            retain,
            dup,
            flagged,
        });
        self.next_seq += 1;
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if !paused {
            self.missed_while_paused = 0;
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// `(topic, payload, time)` of every entry, oldest first.
    pub fn history(&self) -> impl Iterator<Item = (&str, &[u8], f64)> {
        self.entries
            .iter()
            .map(|e| (e.topic.as_str(), e.payload.as_slice(), e.at_ms))
    }

    pub fn by_seq(&self, seq: u64) -> Option<&LogEntry> {
        let first = self.entries.front()?.seq;
        self.entries
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    /// Sequence numbers of the entries `filter` lets through, oldest first.
    pub fn matching(&self, filter: &LogFilter) -> Vec<u64> {
        if filter.is_empty() {
            return self.entries.iter().map(|e| e.seq).collect();
        }
        self.entries
            .iter()
            .filter(|e| filter.matches(e))
            .map(|e| e.seq)
            .collect()
    }

    /// The matching entries as CSV (RFC 4180): a header, then one row per
    /// message, CRLF line ends, fields quoted when they need it. A payload
    /// that is not UTF-8 is written as hex and says so in `encoding`.
    pub fn to_csv(&self, filter: &LogFilter) -> String {
        let mut out = String::from("time,topic,qos,retain,dup,encoding,payload\r\n");
        for e in self.entries.iter().filter(|e| filter.matches(e)) {
            let (encoding, payload) = match e.text() {
                Some(t) => ("utf-8", t.to_owned()),
                None => ("hex", hex(&e.payload)),
            };
            let fields = [
                iso_time(e.at_ms),
                e.topic.clone(),
                e.qos.to_string(),
                e.retain.to_string(),
                e.dup.to_string(),
                encoding.to_owned(),
                payload,
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The matching entries as a JSON array of objects.
    pub fn to_json(&self, filter: &LogFilter) -> String {
        let items: Vec<serde_json::Value> = self
            .entries
            .iter()
            .filter(|e| filter.matches(e))
            .map(|e| {
                let mut obj = serde_json::Map::new();
                obj.insert("time".into(), iso_time(e.at_ms).into());
                obj.insert("topic".into(), e.topic.clone().into());
                obj.insert("qos".into(), e.qos.into());
                obj.insert("retain".into(), e.retain.into());
                obj.insert("dup".into(), e.dup.into());
                match e.text() {
                    Some(t) => obj.insert("payload".into(), t.into()),
                    None => obj.insert("payload_hex".into(), hex(&e.payload).into()),
                };
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// One CSV field: quoted when it holds a comma, a quote or a line break, with
/// quotes doubled (RFC 4180 section 2).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(messages: &[(&str, &[u8])]) -> MessageLog {
        let mut log = MessageLog::new(100);
        for (i, (topic, payload)) in messages.iter().enumerate() {
            log.record(topic, payload, 1, i == 0, false, false, 1_000.0 * i as f64);
        }
        log
    }

    #[test]
    fn bounded_with_stable_sequence_numbers() {
        let mut log = MessageLog::new(3);
        for i in 0..5u8 {
            log.record("t", &[i], 0, false, false, false, 0.0);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.matching(&LogFilter::default()), [2, 3, 4]);
        assert_eq!(log.by_seq(3).map(|e| e.payload.clone()), Some(vec![3]));
        assert!(log.by_seq(1).is_none());
        assert!(log.by_seq(5).is_none());
    }

    #[test]
    fn pause_counts_instead_of_logging() {
        let mut log = MessageLog::new(10);
        log.set_paused(true);
        log.record("t", b"x", 0, false, false, false, 0.0);
        assert!(log.is_empty());
        assert_eq!(log.missed_while_paused, 1);
        log.set_paused(false);
        log.record("t", b"x", 0, false, false, false, 0.0);
        assert_eq!(log.len(), 1);
        assert_eq!(log.missed_while_paused, 0);
    }

    #[test]
    fn large_payloads_are_cut() {
        let mut log = MessageLog::new(10);
        log.record(
            "t",
            &vec![b'a'; LOG_PAYLOAD_BYTES + 10],
            0,
            false,
            false,
            false,
            0.0,
        );
        let e = log.entries().next().expect("logged");
        assert_eq!((e.payload.len(), e.cut_bytes), (LOG_PAYLOAD_BYTES, 10));
    }

    #[test]
    fn filters_by_topic_pattern_and_text() {
        let log = log_of(&[
            ("sensors/a/temperature", b"21.5"),
            (
                "sensors/b/temperature",
                br#"{"level":"error","machine":"Press-4"}"#,
            ),
            ("sensors/a/moisture", b"40"),
            ("alerts/press-4", b"jam"),
        ]);
        let f = |topic: &str, text: &str| LogFilter {
            topic: topic.into(),
            text: text.into(),
        };
        assert_eq!(log.matching(&f("sensors/+/temperature", "")), [0, 1]);
        assert_eq!(log.matching(&f("sensors/#", "")), [0, 1, 2]);
        assert_eq!(log.matching(&f("TEMP", "")), [0, 1]);
        assert_eq!(log.matching(&f("", "press-4")), [1]);
        assert_eq!(log.matching(&f("press", "")), [3]);
        assert_eq!(log.matching(&f("sensors/#", "ERROR")), [1]);
        // An illegal pattern shows nothing, and says why.
        assert!(log.matching(&f("sensors/#/x", "")).is_empty());
        assert!(f("sensors/#/x", "").topic_problem().is_some());
        assert!(f("sensors/+", "").topic_problem().is_none());
    }

    #[test]
    fn csv_is_one_quoted_row_per_message() {
        let log = log_of(&[
            ("a", b"plain"),
            ("b", b"with, comma"),
            ("c", b"say \"hi\"\nnext line"),
            ("d", &[0xff, 0x01]),
        ]);
        let csv = log.to_csv(&LogFilter::default());
        let expected = "time,topic,qos,retain,dup,encoding,payload\r\n\
            1970-01-01T00:00:00.000Z,a,1,true,false,utf-8,plain\r\n\
            1970-01-01T00:00:01.000Z,b,1,false,false,utf-8,\"with, comma\"\r\n\
            1970-01-01T00:00:02.000Z,c,1,false,false,utf-8,\"say \"\"hi\"\"\nnext line\"\r\n\
            1970-01-01T00:00:03.000Z,d,1,false,false,hex,ff 01\r\n";
        assert_eq!(csv, expected);
        let only_b = log.to_csv(&LogFilter {
            topic: "b".into(),
            text: String::new(),
        });
        assert_eq!(only_b.matches("\r\n").count(), 2, "header and one row");
    }

    #[test]
    fn json_export_round_trips() {
        let log = log_of(&[("a/b", b"{\"v\":1}"), ("bin", &[0x00, 0xfe])]);
        let parsed: serde_json::Value =
            serde_json::from_str(&log.to_json(&LogFilter::default())).expect("valid JSON");
        let items = parsed.as_array().expect("array");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["topic"], "a/b");
        assert_eq!(items[0]["payload"], "{\"v\":1}");
        assert_eq!(items[0]["retain"], true);
        assert_eq!(items[1]["payload_hex"], "00 fe");
        assert_eq!(items[1]["time"], "1970-01-01T00:00:01.000Z");
    }
}
