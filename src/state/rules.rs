//! Rules on message content, and the alerts they raise.
//!
//! A rule has a topic filter (empty: every topic) and a condition written as
//! a person would say it:
//!
//! - nothing: every message on the topic;
//! - `contains press-4`: the payload mentions it (any case);
//! - `temperature > 30`, `data.temp <= 4.5`, `level == "error"`, `state != ok`:
//!   a JSON field compared with a number or a word; a plain-number payload
//!   is named by its topic's last level (`sensors/gh/temperature` -> `temperature`)
//!   or `value`;
//! - any comparison with `for 1 min` (or `30 s`, `2 h`): it must hold on a
//!   topic that long, message after message, before it matches.

use super::payload::{number_at, preview};
use mqtt_proto::topic::filter_matches;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Alerts kept in the list.
pub const ALERT_CAPACITY: usize = 50;
/// Rules a profile may hold.
pub const MAX_RULES: usize = 50;
/// At most one browser notification per rule in this many ms.
pub const NOTIFY_EVERY_MS: f64 = 30_000.0;

/// A rule as a person wrote it; saved with the connection profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleSpec {
    pub name: String,
    pub topic: String,
    pub condition: String,
    /// Raise a browser notification (when the person allowed them).
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Any,
    Contains(String),
    Compare {
        path: String,
        op: Op,
        value: Operand,
        hold_ms: Option<f64>,
    },
}

fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("“{text}” is not a duration like 30 s or 1 min"))?;
    let scale = match unit.trim() {
        "ms" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hour" | "hours" => 3_600_000.0,
        other => return Err(format!("unknown time unit “{other}”: use s, min or h")),
    };
    Ok(n * scale)
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Condition::Any);
        }
        if let Some(rest) = text.strip_prefix("contains ") {
            let needle = rest.trim().trim_matches('"').to_lowercase();
            if needle.is_empty() {
                return Err("contains what? e.g. contains error".to_owned());
            }
            return Ok(Condition::Contains(needle));
        }
        let (comparison, hold_ms) = match text.rsplit_once(" for ") {
            Some((c, d)) => (c.trim(), Some(parse_duration(d)?)),
            None => (text, None),
        };
        const OPS: [(&str, Op); 6] = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let Some((at, sym, op)) = OPS
            .iter()
            .filter_map(|(sym, op)| comparison.find(sym).map(|at| (at, *sym, *op)))
            .min_by_key(|(at, sym, _)| (*at, usize::MAX - sym.len()))
        else {
            return Err(
                "write a comparison like temperature > 30, level == \"error\", or contains press-4"
                    .to_owned(),
            );
        };
        let path = comparison[..at].trim();
        let raw = comparison[at + sym.len()..].trim();
        if path.is_empty() || path.contains(' ') || path.split('.').any(str::is_empty) {
            return Err(format!(
                "“{path}” is not a field name like temperature or data.temp"
            ));
        }
        if raw.is_empty() {
            return Err(format!("{path} {sym} what?"));
        }
        let value = match raw.parse::<f64>() {
            Ok(n) if n.is_finite() => Operand::Number(n),
            _ => Operand::Text(raw.trim_matches('"').to_owned()),
        };
        if matches!(value, Operand::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!("{sym} compares numbers; use == or != for words"));
        }
        Ok(Condition::Compare {
            path: path.to_owned(),
            op,
            value,
            hold_ms,
        })
    }

    /// Whether one message satisfies the condition (before any hold time).
    fn holds(&self, topic: &str, payload: &[u8]) -> bool {
        match self {
            Condition::Any => true,
            Condition::Contains(needle) => std::str::from_utf8(payload)
                .is_ok_and(|t| t.to_lowercase().contains(needle.as_str())),
            Condition::Compare {
                path, op, value, ..
            } => match value {
                Operand::Number(n) => number_of(topic, payload, path).is_some_and(|v| match op {
                    Op::Gt => v > *n,
                    Op::Ge => v >= *n,
                    Op::Lt => v < *n,
                    Op::Le => v <= *n,
                    Op::Eq => v == *n,
                    Op::Ne => v != *n,
                }),
                Operand::Text(word) => {
                    let found = text_of(topic, payload, path);
                    match op {
                        Op::Eq => found.is_some_and(|f| f.eq_ignore_ascii_case(word)),
                        _ => found.is_some_and(|f| !f.eq_ignore_ascii_case(word)),
                    }
                }
            },
        }
    }

    fn hold_ms(&self) -> Option<f64> {
        match self {
            Condition::Compare { hold_ms, .. } => *hold_ms,
            _ => None,
        }
    }
}

/// The number a path names: a JSON field, or a plain-number payload named
/// by the topic's last level or `value`.
fn number_of(topic: &str, payload: &[u8], path: &str) -> Option<f64> {
    number_at(payload, path).or_else(|| {
        let leaf = topic.rsplit('/').next().unwrap_or(topic);
        (path == leaf || path == "value")
            .then(|| number_at(payload, ""))
            .flatten()
    })
}

/// The word a path names: a JSON field's string, number or boolean, or a
/// plain-text payload named like a plain number (see [`number_of`]).
fn text_of(topic: &str, payload: &[u8], path: &str) -> Option<String> {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(json) => {
            let mut at = &json;
            for key in path.split('.') {
                at = at.get(key)?;
            }
            match at {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Some(at.to_string()),
                _ => None,
            }
        }
        Err(_) => {
            let leaf = topic.rsplit('/').next().unwrap_or(topic);
            (path == leaf || path == "value")
                .then(|| std::str::from_utf8(payload).ok())
                .flatten()
                .map(|t| t.trim().to_owned())
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: u32,
    pub spec: RuleSpec,
    pub condition: Condition,
    /// Messages that matched.
    pub matches: u64,
    /// Per topic: since when the held condition has been true.
    holding: HashMap<String, f64>,
    last_notified_ms: Option<f64>,
}

/// A raised alert; repeated matches of the same rule on the same topic
/// count up instead of filling the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: String,
    pub topic: String,
    pub preview: String,
    pub first_ms: f64,
    pub last_ms: f64,
    pub count: u64,
}

/// A notification to show: the rule's name and what matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleBook {
    rules: Vec<Rule>,
    next_id: u32,
    alerts: VecDeque<Alert>,
    /// Alerts raised since the person last looked.
    pub unseen: u64,
}

impl RuleBook {
    pub fn from_specs(specs: &[RuleSpec]) -> RuleBook {
        let mut book = RuleBook::default();
        for spec in specs {
            let _ = book.add(spec.clone());
        }
        book
    }

    pub fn specs(&self) -> Vec<RuleSpec> {
        self.rules.iter().map(|r| r.spec.clone()).collect()
    }

    pub fn add(&mut self, spec: RuleSpec) -> Result<u32, String> {
        let topic = spec.topic.trim();
        if !topic.is_empty() {
            if let Some(p) = super::subscriptions::filter_problem(topic) {
                return Err(p);
            }
        }
        let condition = Condition::parse(&spec.condition)?;
        if self.rules.len() >= MAX_RULES {
            return Err(format!("At most {MAX_RULES} rules."));
        }
        self.next_id += 1;
        let name = if spec.name.trim().is_empty() {
            format!("{} {}", spec.topic.trim(), spec.condition.trim())
                .trim()
                .to_owned()
        } else {
            spec.name.trim().to_owned()
        };
        self.rules.push(Rule {
            id: self.next_id,
            spec: RuleSpec {
                name: if name.is_empty() {
                    "every message".into()
                } else {
                    name
                },
                topic: topic.to_owned(),
                condition: spec.condition.trim().to_owned(),
                notify: spec.notify,
            },
            condition,
            matches: 0,
            holding: HashMap::new(),
            last_notified_ms: None,
        });
        Ok(self.next_id)
    }

    pub fn remove(&mut self, id: u32) {
        self.rules.retain(|r| r.id != id);
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Newest first.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter()
    }

    pub fn mark_seen(&mut self) {
        self.unseen = 0;
    }

    /// Checks a message against every rule: returns whether any matched,
    /// and the notifications due.
    pub fn evaluate(&mut self, topic: &str, payload: &[u8], at_ms: f64) -> (bool, Vec<Notify>) {
        let mut matched = false;
        let mut notify = Vec::new();
        for rule in &mut self.rules {
            if !rule.spec.topic.is_empty() && !filter_matches(&rule.spec.topic, topic) {
                continue;
            }
            let holds = rule.condition.holds(topic, payload);
            let fires = match (holds, rule.condition.hold_ms()) {
                (false, _) => {
                    rule.holding.remove(topic);
                    false
                }
                (true, None) => true,
                (true, Some(hold)) => {
                    let since = *rule.holding.entry(topic.to_owned()).or_insert(at_ms);
                    at_ms - since >= hold
                }
            };
            if !fires {
                continue;
            }
            matched = true;
            rule.matches += 1;
            let shown = preview(payload, 80);
            match self
                .alerts
                .front_mut()
                .filter(|a| a.rule == rule.spec.name && a.topic == topic)
            {
                Some(a) => {
                    a.count += 1;
                    a.last_ms = at_ms;
                    a.preview = shown.clone();
                }
                None => {
                    if self.alerts.len() == ALERT_CAPACITY {
                        self.alerts.pop_back();
                    }
                    self.alerts.push_front(Alert {
                        rule: rule.spec.name.clone(),
                        topic: topic.to_owned(),
                        preview: shown.clone(),
                        first_ms: at_ms,
                        last_ms: at_ms,
                        count: 1,
                    });
                    self.unseen += 1;
                }
            }
            let due = rule
                .last_notified_ms
                .is_none_or(|last| at_ms - last >= NOTIFY_EVERY_MS);
            if rule.spec.notify && due {
                rule.last_notified_ms = Some(at_ms);
                notify.push(Notify {
                    title: rule.spec.name.clone(),
                    body: format!("{topic}: {shown}"),
                });
            }
        }
        (matched, notify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(topic: &str, condition: &str) -> RuleSpec {
        RuleSpec {
            name: String::new(),
            topic: topic.into(),
            condition: condition.into(),
            notify: true,
        }
    }

    #[test]
    fn conditions_parse_as_people_write_them() {
        assert_eq!(Condition::parse(" "), Ok(Condition::Any));
        assert_eq!(
            Condition::parse("contains Press-4"),
            Ok(Condition::Contains("press-4".into()))
        );
        assert_eq!(
            Condition::parse("moisture < 25 for 1 min"),
            Ok(Condition::Compare {
                path: "moisture".into(),
                op: Op::Lt,
                value: Operand::Number(25.0),
                hold_ms: Some(60_000.0)
            })
        );
        assert_eq!(
            Condition::parse(r#"level == "error""#),
            Ok(Condition::Compare {
                path: "level".into(),
                op: Op::Eq,
                value: Operand::Text("error".into()),
                hold_ms: None
            })
        );
        assert!(matches!(
            Condition::parse("data.temp >= -4.5"),
            Ok(Condition::Compare { op: Op::Ge, value: Operand::Number(n), .. }) if n == -4.5
        ));
        for bad in [
            "temperature",
            "> 30",
            "temp > ",
            "level > warm",
            "a b > 1",
            "t > 1 for 5 parsecs",
            "contains ",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?} refused");
        }
    }

    #[test]
    fn plain_readings_json_fields_and_text() {
        let mut book = RuleBook::default();
        book.add(rule("sensors/#", "temperature > 30"))
            .expect("valid");
        book.add(rule("", r#"level == "error""#)).expect("valid");
        book.add(rule("", "contains press-4")).expect("valid");
        assert!(book.evaluate("sensors/gh/temperature", b"31.2", 0.0).0);
        assert!(!book.evaluate("sensors/gh/temperature", b"29", 1.0).0);
        assert!(
            !book.evaluate("sensors/gh/moisture", b"31", 2.0).0,
            "another leaf"
        );
        assert!(
            book.evaluate("plant/line", br#"{"level":"ERROR","code":7}"#, 3.0)
                .0
        );
        assert!(!book.evaluate("plant/line", br#"{"level":"info"}"#, 4.0).0);
        assert!(book.evaluate("alerts", b"jam at PRESS-4", 5.0).0);
        // A plain-text payload is named by its topic's last level.
        let mut status = RuleBook::default();
        status
            .add(rule("sensors/+/status", "status == offline"))
            .expect("valid");
        assert!(status.evaluate("sensors/gh/status", b"offline", 0.0).0);
        assert!(!status.evaluate("sensors/gh/status", b"online", 0.0).0);
        let counts: Vec<u64> = book.rules().iter().map(|r| r.matches).collect();
        assert_eq!(counts, [1, 1, 1]);
        assert_eq!(book.unseen, 3);
    }

    #[test]
    fn held_conditions_wait_their_time_and_reset() {
        let mut book = RuleBook::default();
        book.add(rule("sensors/+/moisture", "moisture < 25 for 1 min"))
            .expect("valid");
        let t = "sensors/orchard/moisture";
        assert!(!book.evaluate(t, b"20", 0.0).0);
        assert!(!book.evaluate(t, b"21", 30_000.0).0);
        assert!(book.evaluate(t, b"22", 60_000.0).0, "held a minute");
        assert!(!book.evaluate(t, b"40", 61_000.0).0, "recovered");
        assert!(
            !book.evaluate(t, b"20", 62_000.0).0,
            "the clock starts again"
        );
        assert!(!book.evaluate("sensors/other/moisture", b"20", 119_000.0).0);
        assert!(book.evaluate(t, b"20", 122_000.0).0);
    }

    #[test]
    fn alerts_group_repeats_and_notifications_are_spaced() {
        let mut book = RuleBook::default();
        book.add(RuleSpec {
            name: "Hot".into(),
            ..rule("sensors/+/temperature", "temperature > 30")
        })
        .expect("valid");
        let (_, first) = book.evaluate("sensors/a/temperature", b"31", 0.0);
        let (_, second) = book.evaluate("sensors/a/temperature", b"32", 1_000.0);
        let (_, later) = book.evaluate("sensors/a/temperature", b"33", 31_000.0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].title, "Hot");
        assert!(second.is_empty(), "at most one per 30 s");
        assert_eq!(later.len(), 1);
        let alerts: Vec<&Alert> = book.alerts().collect();
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].count, alerts[0].preview.as_str()), (3, "33"));
        book.evaluate("sensors/b/temperature", b"35", 32_000.0);
        assert_eq!(
            book.alerts().next().map(|a| a.topic.as_str()),
            Some("sensors/b/temperature")
        );
        assert_eq!(book.unseen, 2);
        book.mark_seen();
        assert_eq!(book.unseen, 0);
    }

    #[test]
    fn specs_round_trip_and_bad_rules_are_refused() {
        let mut book = RuleBook::default();
        assert!(book.add(rule("a/#/b", "")).is_err());
        assert!(book.add(rule("a", "x >")).is_err());
        book.add(rule("a/+", "contains x")).expect("valid");
        let again = RuleBook::from_specs(&book.specs());
        assert_eq!(again.rules().len(), 1);
        assert_eq!(again.rules()[0].spec.name, "a/+ contains x");
    }
}
