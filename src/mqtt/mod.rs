//! The browser's MQTT client: a WebSocket carrying bytes for `mqtt-proto`'s
//! sans-IO [`mqtt_proto::ClientSession`], plus reconnection.

pub mod broker_url;
pub mod link;
pub mod worker_timer;

pub use link::{BrokerLink, LinkEvent, LinkState};
