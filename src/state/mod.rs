//! Bounded stores the components read: plain Rust, no DOM, tested natively.

pub mod charts;
pub mod commands;
pub mod message_log;
pub mod payload;
pub mod publish_options;
pub mod rules;
pub mod sensors;
pub mod sent;
pub mod series;
pub mod settings;
pub mod subscriptions;
pub mod topic_tree;

pub use charts::{ChartSpec, ChartWindow, CustomCharts};
pub use commands::{CommandLog, CommandState, DeviceCommand};
pub use message_log::{LogEntry, LogFilter, MessageLog};
pub use publish_options::PublishProperties;
pub use rules::{RuleBook, RuleSpec};
pub use sensors::{Metric, Presence, SensorStore, STATUS_FILTER};
pub use sent::{SentLog, SentMessage};
pub use series::{fmt_value, Stats, TimeSeries};
pub use settings::{ConnectionSettings, Profiles, WillSettings};
pub use subscriptions::{SubscriptionEntry, SubscriptionList, SubscriptionStatus};
pub use topic_tree::{TopicTree, TreeRow};
