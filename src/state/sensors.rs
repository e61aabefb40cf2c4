//! Readings from devices that follow the topic conventions in ARCHITECTURE.md:
//! `sensors/<device>/temperature`, `sensors/<device>/moisture`, and the retained
//! `sensors/<device>/status` ("online", or "offline" from the device's Last Will).

use super::series::TimeSeries;
use std::collections::BTreeMap;

/// Samples kept per device and metric: an hour at one reading a second.
pub const SERIES_CAPACITY: usize = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Temperature,
    Moisture,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::Temperature, Metric::Moisture];

    pub fn from_topic_leaf(leaf: &str) -> Option<Metric> {
        match leaf {
            "temperature" => Some(Metric::Temperature),
            "moisture" => Some(Metric::Moisture),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::Temperature => "Temperature",
            Metric::Moisture => "Soil moisture",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Temperature => "°C",
            Metric::Moisture => "%",
        }
    }

    /// The subscription that brings this metric from every device.
    pub fn filter(self) -> &'static str {
        match self {
            Metric::Temperature => "sensors/+/temperature",
            Metric::Moisture => "sensors/+/moisture",
        }
    }
}

/// The subscription that brings every device's retained status.
pub const STATUS_FILTER: &str = "sensors/+/status";

/// Whether a device is connected, as its retained status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Online,
    Offline,
}

impl Presence {
    pub fn label(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Offline => "offline",
        }
    }
}

/// A status payload: "online" or "offline" (any case, surrounding space
/// ignored). An empty payload clears a retained status and says nothing.
pub fn parse_presence(payload: &[u8]) -> Option<Presence> {
    parse_word(payload, "online", "offline").map(|online| {
        if online {
            Presence::Online
        } else {
            Presence::Offline
        }
    })
}

/// `Some(true)` for `yes`, `Some(false)` for `no`, in any case with
/// surrounding space ignored; anything else `None`.
fn parse_word(payload: &[u8], yes: &str, no: &str) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if text.eq_ignore_ascii_case(yes) {
        Some(true)
    } else if text.eq_ignore_ascii_case(no) {
        Some(false)
    } else {
        None
    }
}

/// `(device, last level)` of `sensors/<device>/<leaf>`.
fn device_topic(topic: &str) -> Option<(&str, &str)> {
    let mut levels = topic.split('/');
    let (Some("sensors"), Some(device), Some(leaf), None) =
        (levels.next(), levels.next(), levels.next(), levels.next())
    else {
        return None;
    };
    (!device.is_empty()).then_some((device, leaf))
}

/// `(device, metric)` for a conventional sensor topic.
pub fn parse_topic(topic: &str) -> Option<(&str, Metric)> {
    let (device, leaf) = device_topic(topic)?;
    Some((device, Metric::from_topic_leaf(leaf)?))
}

/// A reading: a plain decimal (`21.4`) or JSON with a numeric `value`
/// (`{"value":21.4,"unit":"C"}`); anything else is not a reading.
pub fn parse_reading(payload: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    let value = match text.parse::<f64>() {
        Ok(v) => v,
        Err(_) => {
            let json: serde_json::Value = serde_json::from_str(text).ok()?;
            json.get("value")?.as_f64()?
        }
    };
    value.is_finite().then_some(value)
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceReadings {
    pub temperature: TimeSeries,
    pub moisture: TimeSeries,
    /// `None` until the device's status is seen.
    pub presence: Option<Presence>,
    /// The pump and LED as the device last reported them (`None`: not seen).
    pub pump: Option<bool>,
    pub led: Option<bool>,
}

impl DeviceReadings {
    fn new() -> Self {
        DeviceReadings {
            temperature: TimeSeries::new(SERIES_CAPACITY),
            moisture: TimeSeries::new(SERIES_CAPACITY),
            presence: None,
            pump: None,
            led: None,
        }
    }

    pub fn series(&self, metric: Metric) -> &TimeSeries {
        match metric {
            Metric::Temperature => &self.temperature,
            Metric::Moisture => &self.moisture,
        }
    }

    fn series_mut(&mut self, metric: Metric) -> &mut TimeSeries {
        match metric {
            Metric::Temperature => &mut self.temperature,
            Metric::Moisture => &mut self.moisture,
        }
    }

    /// Time of the newest reading of any metric.
    pub fn last_update_ms(&self) -> Option<f64> {
        Metric::ALL
            .iter()
            .filter_map(|m| self.series(*m).latest())
            .map(|(t, _)| t)
            .reduce(f64::max)
    }
}

enum Update {
    Reading(Metric, f64),
    Presence(Presence),
    Pump(bool),
    Led(bool),
}

/// A switch report: "on" or "off" (any case, surrounding space ignored).
fn parse_switch(payload: &[u8]) -> Option<bool> {
    parse_word(payload, "on", "off")
}

/// Every device seen, by name, and its bounded readings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SensorStore {
    devices: BTreeMap<String, DeviceReadings>,
}

/// How many devices the store tracks; further new names are ignored so a
/// misbehaving publisher cannot grow the page without bound.
pub const MAX_DEVICES: usize = 256;

impl SensorStore {
    /// Records a message if it is a sensor reading or a device status;
    /// returns whether it was.
    pub fn record(&mut self, topic: &str, payload: &[u8], at_ms: f64) -> bool {
        let Some((device, leaf)) = device_topic(topic) else {
            return false;
        };
        let update = match leaf {
            "status" => parse_presence(payload).map(Update::Presence),
            "pump" => parse_switch(payload).map(Update::Pump),
            "led" => parse_switch(payload).map(Update::Led),
            _ => Metric::from_topic_leaf(leaf)
                .zip(parse_reading(payload))
                .map(|(m, v)| Update::Reading(m, v)),
        };
        let Some(update) = update else {
            return false;
        };
        if !self.devices.contains_key(device) && self.devices.len() >= MAX_DEVICES {
            return false;
        }
        let readings = self
            .devices
            .entry(device.to_owned())
            .or_insert_with(DeviceReadings::new);
        match update {
            Update::Reading(metric, value) => readings.series_mut(metric).push(at_ms, value),
            Update::Presence(p) => readings.presence = Some(p),
            Update::Pump(on) => readings.pump = Some(on),
            Update::Led(on) => readings.led = Some(on),
        }
        true
    }

    /// Devices in name order.
    pub fn devices(&self) -> impl Iterator<Item = (&str, &DeviceReadings)> {
        self.devices.iter().map(|(name, r)| (name.as_str(), r))
    }

    pub fn device(&self, name: &str) -> Option<&DeviceReadings> {
        self.devices.get(name)
    }

    pub fn device_names(&self) -> Vec<String> {
        self.devices.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_convention() {
        assert_eq!(
            parse_topic("sensors/e2e/temperature"),
            Some(("e2e", Metric::Temperature))
        );
        assert_eq!(
            parse_topic("sensors/greenhouse-1/moisture"),
            Some(("greenhouse-1", Metric::Moisture))
        );
        assert_eq!(parse_topic("sensors/e2e/status"), None);
        assert_eq!(parse_topic("sensors/e2e/temperature/raw"), None);
        assert_eq!(parse_topic("sensors//temperature"), None);
        assert_eq!(parse_topic("other/e2e/temperature"), None);
    }

    #[test]
    fn readings_are_decimals_or_json_values() {
        assert_eq!(parse_reading(b"23.5"), Some(23.5));
        assert_eq!(parse_reading(b" -4 \n"), Some(-4.0));
        assert_eq!(parse_reading(br#"{"value":21.4,"unit":"C"}"#), Some(21.4));
        assert_eq!(parse_reading(b"warm"), None);
        assert_eq!(parse_reading(b"NaN"), None);
        assert_eq!(parse_reading(br#"{"v":1}"#), None);
        assert_eq!(parse_reading(&[0xFF, 0xFE]), None);
    }

    #[test]
    fn store_keeps_devices_in_order_with_latest_values() {
        let mut store = SensorStore::default();
        assert!(store.record("sensors/b/temperature", b"20.0", 1000.0));
        assert!(store.record("sensors/a/moisture", b"40", 1500.0));
        assert!(store.record("sensors/b/temperature", b"20.5", 2000.0));
        assert!(!store.record("sensors/b/temperature", b"broken", 2500.0));
        assert!(!store.record("sensors/b/battery", b"87", 2500.0));
        assert_eq!(store.device_names(), ["a", "b"]);
        let b = store.device("b").expect("b seen");
        assert_eq!(b.temperature.latest(), Some((2000.0, 20.5)));
        assert_eq!(b.temperature.len(), 2);
        assert!(b.moisture.is_empty());
        assert_eq!(b.last_update_ms(), Some(2000.0));
    }

    #[test]
    fn status_sets_presence_and_names_a_device() {
        let mut store = SensorStore::default();
        assert!(store.record("sensors/pump-3/status", b"offline", 0.0));
        assert_eq!(store.device_names(), ["pump-3"]);
        let d = store.device("pump-3").expect("seen");
        assert_eq!(d.presence, Some(Presence::Offline));
        assert!(d.temperature.is_empty());
        assert!(store.record("sensors/pump-3/status", b" Online\n", 1.0));
        assert_eq!(
            store.device("pump-3").and_then(|d| d.presence),
            Some(Presence::Online)
        );
        // A cleared retained status (empty payload) and unknown words change nothing.
        assert!(!store.record("sensors/pump-3/status", b"", 2.0));
        assert!(!store.record("sensors/pump-3/status", b"sleeping", 3.0));
        assert_eq!(
            store.device("pump-3").and_then(|d| d.presence),
            Some(Presence::Online)
        );
    }

    #[test]
    fn pump_and_led_reports_set_the_switches() {
        let mut store = SensorStore::default();
        assert!(store.record("sensors/gh/pump", b"ON", 0.0));
        assert!(store.record("sensors/gh/led", b" off ", 0.0));
        assert!(!store.record("sensors/gh/led", b"dim", 0.0));
        let d = store.device("gh").expect("seen");
        assert_eq!((d.pump, d.led), (Some(true), Some(false)));
    }

    #[test]
    fn device_count_is_bounded() {
        let mut store = SensorStore::default();
        for i in 0..MAX_DEVICES + 10 {
            store.record(&format!("sensors/d{i}/temperature"), b"1", 0.0);
        }
        assert_eq!(store.device_names().len(), MAX_DEVICES);
        assert!(
            store.record("sensors/d0/temperature", b"2", 1.0),
            "known devices still update"
        );
    }
}
