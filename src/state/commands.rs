//! Commands sent to devices from their cards, and the acknowledgements that
//! answer them (topic conventions in ARCHITECTURE.md): the JSON carries an
//! `id` that the device's `cmd/ack` repeats, which gives the round trip.

use std::collections::{BTreeMap, HashMap};

/// Commands awaiting an acknowledgement; beyond this the oldest is forgotten.
const MAX_PENDING: usize = 256;

/// What a device card can ask of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCommand {
    Pump(bool),
    Led(bool),
    IntervalMs(u64),
}

impl DeviceCommand {
    /// The command's JSON, with `id` for the acknowledgement to repeat.
    pub fn payload(self, id: &str) -> String {
        let body = match self {
            DeviceCommand::Pump(on) => format!(r#""pump":"{}""#, on_off(on)),
            DeviceCommand::Led(on) => format!(r#""led":"{}""#, on_off(on)),
            DeviceCommand::IntervalMs(ms) => format!(r#""interval_ms":{ms}"#),
        };
        format!(r#"{{{body},"id":{}}}"#, serde_json::Value::from(id))
    }

    pub fn label(self) -> String {
        match self {
            DeviceCommand::Pump(on) => format!("Pump {}", on_off(on)),
            DeviceCommand::Led(on) => format!("LED {}", on_off(on)),
            DeviceCommand::IntervalMs(ms) => format!("Every {} s", ms as f64 / 1000.0),
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The topic a device's commands go to.
pub fn command_topic(device: &str) -> String {
    format!("sensors/{device}/cmd")
}

/// The filter that brings every device's acknowledgements.
pub const ACK_FILTER: &str = "sensors/+/cmd/ack";

#[derive(Debug, Clone, PartialEq)]
pub enum CommandState {
    Waiting,
    Done { round_trip_ms: f64 },
    Refused { round_trip_ms: f64, reason: String },
}

/// The latest command sent to a device and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub id: String,
    pub label: String,
    pub sent_ms: f64,
    pub state: CommandState,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandLog {
    /// Prefix of this page's ids, so dashboards do not take each other's acks.
    prefix: String,
    next: u64,
    /// Id -> device, for commands not yet acknowledged.
    pending: HashMap<String, String>,
    latest: BTreeMap<String, CommandOutcome>,
}

impl CommandLog {
    pub fn new(prefix: impl Into<String>) -> Self {
        CommandLog {
            prefix: prefix.into(),
            ..CommandLog::default()
        }
    }

    /// Records a command about to be sent; returns its id.
    pub fn sent(&mut self, device: &str, command: DeviceCommand, now_ms: f64) -> String {
        self.next += 1;
        let id = format!("{}-{}", self.prefix, self.next);
        if self.pending.len() >= MAX_PENDING {
            self.pending.clear();
        }
        self.pending.insert(id.clone(), device.to_owned());
        self.latest.insert(
            device.to_owned(),
            CommandOutcome {
                id: id.clone(),
                label: command.label(),
                sent_ms: now_ms,
                state: CommandState::Waiting,
            },
        );
        id
    }

    /// Matches a message on `sensors/<device>/cmd/ack` to the command it
    /// answers; returns whether it answered one of ours.
    pub fn acknowledged(&mut self, topic: &str, payload: &[u8], now_ms: f64) -> bool {
        if !topic.ends_with("/cmd/ack") {
            return false;
        }
        let Ok(ack) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return false;
        };
        let Some(id) = ack.get("id").and_then(|v| v.as_str()) else {
            return false;
        };
        let Some(device) = self.pending.remove(id) else {
            return false;
        };
        let Some(outcome) = self.latest.get_mut(&device).filter(|o| o.id == id) else {
            return true; // a newer command to that device has taken its place
        };
        let round_trip_ms = (now_ms - outcome.sent_ms).max(0.0);
        outcome.state = if ack.get("ok").and_then(|v| v.as_bool()) == Some(true) {
            CommandState::Done { round_trip_ms }
        } else {
            let reason = ack
                .get("error")
                .and_then(|v| v.as_str())
                .unwrap_or("refused")
                .to_owned();
            CommandState::Refused {
                round_trip_ms,
                reason,
            }
        };
        true
    }

    pub fn latest(&self, device: &str) -> Option<&CommandOutcome> {
        self.latest.get(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_the_id() {
        assert_eq!(
            DeviceCommand::Pump(true).payload("p-1"),
            r#"{"pump":"on","id":"p-1"}"#
        );
        assert_eq!(
            DeviceCommand::IntervalMs(2000).payload("p-\"2"),
            r#"{"interval_ms":2000,"id":"p-\"2"}"#
        );
        assert_eq!(DeviceCommand::IntervalMs(500).label(), "Every 0.5 s");
        assert_eq!(DeviceCommand::Led(false).label(), "LED off");
    }

    #[test]
    fn acks_complete_their_command_with_the_round_trip() {
        let mut log = CommandLog::new("page");
        let id = log.sent("gh-1", DeviceCommand::Pump(true), 1000.0);
        assert_eq!(
            log.latest("gh-1").map(|o| &o.state),
            Some(&CommandState::Waiting)
        );
        let ack = format!(r#"{{"id":"{id}","ok":true,"pump":"on"}}"#);
        assert!(!log.acknowledged("sensors/gh-1/temperature", ack.as_bytes(), 1012.0));
        assert!(log.acknowledged("sensors/gh-1/cmd/ack", ack.as_bytes(), 1012.0));
        assert_eq!(
            log.latest("gh-1").map(|o| &o.state),
            Some(&CommandState::Done {
                round_trip_ms: 12.0
            })
        );
        // The same ack again, or someone else's, is not ours.
        assert!(!log.acknowledged("sensors/gh-1/cmd/ack", ack.as_bytes(), 1013.0));
        assert!(!log.acknowledged(
            "sensors/gh-1/cmd/ack",
            br#"{"id":"other-1","ok":true}"#,
            1013.0
        ));
    }

    #[test]
    fn refusals_keep_the_reason_and_newer_commands_win() {
        let mut log = CommandLog::new("page");
        let first = log.sent("d", DeviceCommand::Led(true), 0.0);
        let second = log.sent("d", DeviceCommand::IntervalMs(100), 5.0);
        let refusal = format!(r#"{{"id":"{second}","ok":false,"error":"interval_ms must be"}}"#);
        assert!(log.acknowledged("sensors/d/cmd/ack", refusal.as_bytes(), 25.0));
        let late = format!(r#"{{"id":"{first}","ok":true}}"#);
        assert!(log.acknowledged("sensors/d/cmd/ack", late.as_bytes(), 30.0));
        let outcome = log.latest("d").expect("sent");
        assert_eq!(outcome.label, "Every 0.1 s");
        assert_eq!(
            outcome.state,
            CommandState::Refused {
                round_trip_ms: 20.0,
                reason: "interval_ms must be".into()
            }
        );
    }
}
