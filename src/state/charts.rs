//! Charts a person adds: any numeric topic, or a numeric JSON field of its
//! payload, one line per matching topic.

use super::payload::number_at;
use super::series::TimeSeries;
use super::subscriptions::filter_problem;
use mqtt_proto::topic::filter_matches;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Samples kept per line of a custom chart.
pub const CUSTOM_SERIES_CAPACITY: usize = 3600;
/// Lines per custom chart; further matching topics are not drawn.
pub const MAX_LINES: usize = 12;
/// Custom charts on the page.
pub const MAX_CHARTS: usize = 12;

/// How much history a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartWindow {
    #[default]
    OneMinute,
    TenMinutes,
    OneHour,
    /// Everything kept.
    All,
}

impl ChartWindow {
    pub const ALL: [ChartWindow; 4] = [
        ChartWindow::OneMinute,
        ChartWindow::TenMinutes,
        ChartWindow::OneHour,
        ChartWindow::All,
    ];

    /// The window's length, or `None` for everything kept.
    pub fn millis(self) -> Option<f64> {
        match self {
            ChartWindow::OneMinute => Some(60_000.0),
            ChartWindow::TenMinutes => Some(600_000.0),
            ChartWindow::OneHour => Some(3_600_000.0),
            ChartWindow::All => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChartWindow::OneMinute => "1 min",
            ChartWindow::TenMinutes => "10 min",
            ChartWindow::OneHour => "1 h",
            ChartWindow::All => "All",
        }
    }
}

/// An x-axis label: how long before `now` a time is, in the window's unit.
pub fn ago_label(seconds_before: f64, span_seconds: f64) -> String {
    let s = seconds_before.max(0.0);
    if s < 0.5 {
        "now".to_owned()
    } else if span_seconds <= 180.0 {
        format!("-{s:.0} s")
    } else if span_seconds <= 3.0 * 3600.0 {
        format!("-{:.0} min", s / 60.0)
    } else {
        format!("-{:.1} h", s / 3600.0)
    }
}

/// What a custom chart plots (saved with the connection profile).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartSpec {
    /// A topic or a filter with `+`/`#`: one line per matching topic.
    pub filter: String,
    /// Dot-separated JSON path (`data.temp`), or empty for a plain number.
    pub field: String,
    pub unit: String,
}

impl ChartSpec {
    pub fn title(&self) -> String {
        if self.field.is_empty() {
            self.filter.clone()
        } else {
            format!("{} → {}", self.filter, self.field)
        }
    }

    /// Why this cannot be charted, in words.
    pub fn problem(&self) -> Option<String> {
        if let Some(p) = filter_problem(self.filter.trim()) {
            return Some(p);
        }
        let field = self.field.trim();
        (!field.is_empty() && field.split('.').any(str::is_empty))
            .then(|| "A field is a dot-separated path such as value or data.temp.".to_owned())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomChart {
    pub id: u32,
    pub spec: ChartSpec,
    /// One line per topic, in topic order.
    pub lines: BTreeMap<String, TimeSeries>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomCharts {
    charts: Vec<CustomChart>,
    next_id: u32,
}

impl CustomCharts {
    pub fn add(&mut self, spec: ChartSpec) -> Result<u32, String> {
        let spec = ChartSpec {
            filter: spec.filter.trim().to_owned(),
            field: spec.field.trim().to_owned(),
            unit: spec.unit.trim().to_owned(),
        };
        if let Some(p) = spec.problem() {
            return Err(p);
        }
        if self.charts.iter().any(|c| c.spec == spec) {
            return Err("That chart is already on the page.".to_owned());
        }
        if self.charts.len() >= MAX_CHARTS {
            return Err(format!("At most {MAX_CHARTS} charts: remove one first."));
        }
        self.next_id += 1;
        self.charts.push(CustomChart {
            id: self.next_id,
            spec,
            lines: BTreeMap::new(),
        });
        Ok(self.next_id)
    }

    pub fn remove(&mut self, id: u32) {
        self.charts.retain(|c| c.id != id);
    }

    pub fn get(&self, id: u32) -> Option<&CustomChart> {
        self.charts.iter().find(|c| c.id == id)
    }

    /// What each chart plots, in the order they were added.
    pub fn specs(&self) -> Vec<ChartSpec> {
        self.charts.iter().map(|c| c.spec.clone()).collect()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.charts.iter().map(|c| c.id).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.charts.is_empty()
    }

    /// Adds a message's value to every chart that plots its topic; returns
    /// whether any did.
    pub fn record(&mut self, topic: &str, payload: &[u8], at_ms: f64) -> bool {
        let mut any = false;
        for chart in &mut self.charts {
            any |= chart.record(topic, payload, at_ms);
        }
        any
    }

    /// Fills a new chart from messages already received (oldest first), so
    /// it starts with the history the page has.
    pub fn backfill<'a>(
        &mut self,
        id: u32,
        messages: impl Iterator<Item = (&'a str, &'a [u8], f64)>,
    ) {
        if let Some(chart) = self.charts.iter_mut().find(|c| c.id == id) {
            for (topic, payload, at_ms) in messages {
                chart.record(topic, payload, at_ms);
            }
        }
    }
}

impl CustomChart {
    fn record(&mut self, topic: &str, payload: &[u8], at_ms: f64) -> bool {
        if !filter_matches(&self.spec.filter, topic) {
            return false;
        }
        let Some(value) = number_at(payload, &self.spec.field) else {
            return false;
        };
        if !self.lines.contains_key(topic) {
            if self.lines.len() >= MAX_LINES {
                return false;
            }
            self.lines
                .insert(topic.to_owned(), TimeSeries::new(CUSTOM_SERIES_CAPACITY));
        }
        match self.lines.get_mut(topic) {
            Some(line) => {
                line.push(at_ms, value);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(filter: &str, field: &str) -> ChartSpec {
        ChartSpec {
            filter: filter.into(),
            field: field.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn charts_take_numbers_and_json_fields_from_matching_topics() {
        let mut charts = CustomCharts::default();
        let plain = charts.add(spec("plant/+/flow", "")).expect("valid");
        let json = charts.add(spec("lab/env", "data.temp")).expect("valid");
        assert!(charts.record("plant/a/flow", b"3.5", 1.0));
        assert!(charts.record("plant/b/flow", b"4", 2.0));
        assert!(!charts.record("plant/b/flow", b"n/a", 3.0));
        assert!(charts.record("lab/env", br#"{"data":{"temp":21.5}}"#, 4.0));
        assert!(!charts.record("lab/env", br#"{"data":{}}"#, 5.0));
        assert!(!charts.record("other", b"1", 6.0));
        let plain = charts.get(plain).expect("added");
        assert_eq!(
            plain.lines.keys().collect::<Vec<_>>(),
            ["plant/a/flow", "plant/b/flow"]
        );
        let json = charts.get(json).expect("added");
        assert_eq!(json.lines["lab/env"].latest(), Some((4.0, 21.5)));
        assert_eq!(json.spec.title(), "lab/env → data.temp");
    }

    #[test]
    fn a_new_chart_starts_from_earlier_messages() {
        let mut charts = CustomCharts::default();
        let id = charts.add(spec("t", "")).expect("valid");
        let earlier: [(&str, &[u8], f64); 3] =
            [("t", b"1", 1.0), ("u", b"5", 2.0), ("t", b"2", 3.0)];
        charts.backfill(id, earlier.into_iter());
        let line = &charts.get(id).expect("added").lines["t"];
        assert_eq!(
            line.since(0.0).collect::<Vec<_>>(),
            [(1.0, 1.0), (3.0, 2.0)]
        );
    }

    #[test]
    fn bad_specs_and_limits() {
        let mut charts = CustomCharts::default();
        assert!(charts.add(spec("a/#/b", "")).is_err());
        assert!(charts.add(spec("a", "data..temp")).is_err());
        let id = charts.add(spec(" a ", " v ")).expect("trimmed");
        assert!(charts.add(spec("a", "v")).is_err(), "duplicate");
        charts.remove(id);
        assert!(charts.is_empty());
        let wide = charts.add(spec("t/+", "")).expect("valid");
        for i in 0..MAX_LINES + 3 {
            charts.record(&format!("t/{i:02}"), b"1", 0.0);
        }
        assert_eq!(charts.get(wide).map(|c| c.lines.len()), Some(MAX_LINES));
    }

    #[test]
    fn axis_labels_use_the_window_unit() {
        assert_eq!(ago_label(0.2, 60.0), "now");
        assert_eq!(ago_label(30.0, 60.0), "-30 s");
        assert_eq!(ago_label(300.0, 600.0), "-5 min");
        assert_eq!(ago_label(5400.0, 7200.0), "-90 min");
        assert_eq!(ago_label(18_000.0, 36_000.0), "-5.0 h");
    }
}
