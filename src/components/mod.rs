//! One component per file.

mod broker_stats;
mod chart_card;
mod connection_panel;
mod connection_status;
mod custom_charts;
mod device_cards;
mod message_log;
mod publish_panel;
mod rules_panel;
mod sensor_chart;
mod subscriptions_panel;
mod theme_toggle;
mod topic_tree;

pub use broker_stats::BrokerStats;
pub use connection_panel::ConnectionPanel;
pub use connection_status::ConnectionStatus;
pub use custom_charts::{ChartForm, CustomChartList};
pub use device_cards::DeviceCards;
pub use message_log::MessageLogPanel;
pub use publish_panel::PublishPanel;
pub use rules_panel::{AlertBadge, RulesPanel};
pub use sensor_chart::SensorChart;
pub use subscriptions_panel::SubscriptionsPanel;
pub use theme_toggle::ThemeToggle;
pub use topic_tree::TopicTreePanel;

/// "just now", "12 s ago", "3 min ago", "2 h ago".
pub fn ago(elapsed_ms: f64) -> String {
    let s = (elapsed_ms / 1000.0).max(0.0).floor() as u64;
    match s {
        0..=1 => "just now".to_owned(),
        2..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ago_reads_naturally() {
        assert_eq!(super::ago(-50.0), "just now");
        assert_eq!(super::ago(1999.0), "just now");
        assert_eq!(super::ago(12_400.0), "12 s ago");
        assert_eq!(super::ago(185_000.0), "3 min ago");
        assert_eq!(super::ago(7_300_000.0), "2 h ago");
    }
}
