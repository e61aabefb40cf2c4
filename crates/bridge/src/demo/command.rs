//! Commands a demo device obeys, from `sensors/<device>/cmd`, and the
//! acknowledgement it answers with on `sensors/<device>/cmd/ack`.
//!
//! A command is a JSON object with any of `pump` and `led` (`"on"`/`"off"`
//! or `true`/`false`) and `interval_ms` (200 to 60000), plus an optional
//! `id` that the acknowledgement repeats (MQTT 3.1.1 has no correlation data;
//! with 5.0 the device also copies the Correlation Data property).

use serde_json::{Map, Value};
use std::time::Duration;

pub const MIN_INTERVAL_MS: u64 = 200;
pub const MAX_INTERVAL_MS: u64 = 60_000;

/// What a device can be told to change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Command {
    pub id: Option<Value>,
    pub pump: Option<bool>,
    pub led: Option<bool>,
    pub interval: Option<Duration>,
}

/// The device's controllable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Controls {
    pub pump: bool,
    pub led: bool,
    pub interval: Duration,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            pump: false,
            led: false,
            interval: Duration::from_secs(1),
        }
    }
}

fn switch(key: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("on") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("off") => Ok(false),
        other => Err(format!("{key} must be \"on\" or \"off\", not {other}")),
    }
}

/// The `id` of a payload, if it is a JSON object with one: an invalid
/// command is still answered with its id.
pub fn command_id(payload: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    value.get("id").cloned()
}

impl Command {
    pub fn parse(payload: &[u8]) -> Result<Command, String> {
        let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(fields) = value else {
            return Err("a command is a JSON object, e.g. {\"pump\":\"on\"}".to_owned());
        };
        let mut command = Command::default();
        for (key, value) in fields {
            match key.as_str() {
                "id" => command.id = Some(value),
                "pump" => command.pump = Some(switch("pump", &value)?),
                "led" => command.led = Some(switch("led", &value)?),
                "interval_ms" => {
                    let ms = value
                        .as_u64()
                        .filter(|ms| (MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(ms))
                        .ok_or_else(|| {
                            format!(
                                "interval_ms must be a whole number from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}"
                            )
                        })?;
                    command.interval = Some(Duration::from_millis(ms));
                }
                other => return Err(format!("unknown command {other:?}")),
            }
        }
        if command.pump.is_none() && command.led.is_none() && command.interval.is_none() {
            return Err("nothing to do: give pump, led or interval_ms".to_owned());
        }
        Ok(command)
    }

    pub fn apply(&self, controls: &mut Controls) {
        if let Some(pump) = self.pump {
            controls.pump = pump;
        }
        if let Some(led) = self.led {
            controls.led = led;
        }
        if let Some(interval) = self.interval {
            controls.interval = interval;
        }
    }
}

pub fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The acknowledgement: the command's id, whether it was applied, and the
/// device's state after it, or the reason it was refused.
pub fn ack_payload(id: Option<Value>, outcome: Result<Controls, String>) -> String {
    let mut ack = Map::new();
    if let Some(id) = id {
        ack.insert("id".into(), id);
    }
    match outcome {
        Ok(c) => {
            ack.insert("ok".into(), true.into());
            ack.insert("pump".into(), on_off(c.pump).into());
            ack.insert("led".into(), on_off(c.led).into());
            ack.insert("interval_ms".into(), (c.interval.as_millis() as u64).into());
        }
        Err(error) => {
            ack.insert("ok".into(), false.into());
            ack.insert("error".into(), error.into());
        }
    }
    Value::Object(ack).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_apply() {
        let c = Command::parse(br#"{"pump":"on","id":7}"#).expect("valid");
        assert_eq!(
            (c.pump, c.led, c.id.clone()),
            (Some(true), None, Some(7.into()))
        );
        let mut controls = Controls::default();
        c.apply(&mut controls);
        assert!(controls.pump && !controls.led);
        Command::parse(br#"{"led":true,"interval_ms":2000}"#)
            .expect("valid")
            .apply(&mut controls);
        assert_eq!(
            controls,
            Controls {
                pump: true,
                led: true,
                interval: Duration::from_secs(2)
            }
        );
        assert!(Command::parse(br#"{"pump":"OFF"}"#).is_ok_and(|c| c.pump == Some(false)));
    }

    #[test]
    fn bad_commands_say_why() {
        for (payload, says) in [
            (&b"pump on"[..], "not JSON"),
            (br#"["pump"]"#, "JSON object"),
            (br#"{"pump":"maybe"}"#, "pump must be"),
            (br#"{"interval_ms":50}"#, "interval_ms must be"),
            (br#"{"interval_ms":1.5}"#, "interval_ms must be"),
            (br#"{"fan":"on"}"#, "unknown command \"fan\""),
            (br#"{"id":"x"}"#, "nothing to do"),
        ] {
            let err = Command::parse(payload).expect_err("refused");
            assert!(err.contains(says), "{err:?} should say {says:?}");
        }
        assert_eq!(command_id(br#"{"id":"x","fan":1}"#), Some("x".into()));
        assert_eq!(command_id(b"junk"), None);
    }

    #[test]
    fn acks_carry_id_and_state_or_error() {
        let ok = ack_payload(Some("a1".into()), Ok(Controls::default()));
        assert_eq!(
            ok,
            r#"{"id":"a1","interval_ms":1000,"led":"off","ok":true,"pump":"off"}"#
        );
        let err = ack_payload(None, Err("nope".into()));
        assert_eq!(err, r#"{"error":"nope","ok":false}"#);
    }
}
