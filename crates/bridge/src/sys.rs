//! `$SYS/broker/...`: the bridge's own state, published as retained
//! messages every `sys_interval`, under Mosquitto's topic names so the tools
//! people already point at Mosquitto read it unchanged.

use crate::limits::LimitCounters;
use crate::router::Router;
use crate::stats::{LoadAverages, TrafficStats};
use mqtt_proto::Publish;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub const VERSION: &str = concat!("bridge ", env!("CARGO_PKG_VERSION"));

/// Publishes the `$SYS` topics now and then every `interval` until shutdown.
pub async fn run(
    router: Arc<Router>,
    traffic: Arc<TrafficStats>,
    counters: Arc<LimitCounters>,
    links: Arc<Vec<(String, Arc<crate::upstream::LinkStats>)>>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut load = LoadAverages::default();
    let mut last = started;
    let mut max_connected = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        load.update(traffic.snapshot(), (now - last).as_secs_f64());
        last = now;
        let connected = router.connected_count();
        max_connected = max_connected.max(connected);
        let state = BrokerState {
            uptime: now - started,
            connected,
            total: router.session_count(),
            max_connected,
            subscriptions: router.subscription_count(),
            retained: router.retained_count(),
            dropped: router.stats.publishes_dropped.load(Ordering::Relaxed),
            limits: counters.all(),
        };
        let mut all = topics(&state, &traffic, &load);
        for (name, stats) in links.iter() {
            all.extend(link_topics(name, stats));
        }
        for (topic, value) in all {
            let mut message = Publish::new(&topic, value);
            message.retain = true;
            router.publish(None, &message, None);
        }
    }
}

/// `$SYS/broker/bridge/<name>/...` for one upstream link.
pub fn link_topics(name: &str, stats: &crate::upstream::LinkStats) -> Vec<(String, String)> {
    let state = match stats.connected.load(Ordering::Relaxed) {
        true => "connected",
        false => "disconnected",
    };
    let prefix = format!("$SYS/broker/bridge/{name}");
    vec![
        (format!("{prefix}/state"), state.to_owned()),
        (
            format!("{prefix}/messages/sent"),
            stats.sent.load(Ordering::Relaxed).to_string(),
        ),
        (
            format!("{prefix}/messages/received"),
            stats.received.load(Ordering::Relaxed).to_string(),
        ),
        (
            format!("{prefix}/messages/dropped"),
            stats.dropped.load(Ordering::Relaxed).to_string(),
        ),
    ]
}

/// What `$SYS` reports besides the traffic counters.
pub struct BrokerState {
    pub uptime: Duration,
    pub connected: usize,
    /// Sessions: connected ones and those kept for absent clients.
    pub total: usize,
    pub max_connected: usize,
    pub subscriptions: usize,
    pub retained: usize,
    pub dropped: u64,
    /// How often each limit has bitten: `$SYS/broker/limits/<name>` (the
    /// bridge's own; Mosquitto has none).
    pub limits: [(&'static str, u64); 8],
}

/// Every `$SYS` topic with its value, as Mosquitto 2 names and formats them.
pub fn topics(
    state: &BrokerState,
    traffic: &TrafficStats,
    load: &LoadAverages,
) -> Vec<(String, String)> {
    let t = traffic.snapshot();
    let mut out: Vec<(&str, String)> = vec![
        ("version", VERSION.to_owned()),
        ("uptime", format!("{} seconds", state.uptime.as_secs())),
        ("clients/connected", state.connected.to_string()),
        (
            "clients/disconnected",
            (state.total - state.connected.min(state.total)).to_string(),
        ),
        ("clients/total", state.total.to_string()),
        ("clients/maximum", state.max_connected.to_string()),
        ("messages/received", t.messages_received.to_string()),
        ("messages/sent", t.messages_sent.to_string()),
        ("publish/messages/received", t.publish_received.to_string()),
        ("publish/messages/sent", t.publish_sent.to_string()),
        ("publish/messages/dropped", state.dropped.to_string()),
        ("bytes/received", t.bytes_received.to_string()),
        ("bytes/sent", t.bytes_sent.to_string()),
        ("subscriptions/count", state.subscriptions.to_string()),
        ("retained messages/count", state.retained.to_string()),
    ];
    let loads = [
        "messages/received",
        "messages/sent",
        "publish/received",
        "publish/sent",
        "bytes/received",
        "bytes/sent",
        "connections",
    ];
    for (name, value) in loads.iter().zip(load.per_minute) {
        out.push((name, format!("{value:.2}")));
    }
    let limits: Vec<(String, String)> = state
        .limits
        .iter()
        .map(|(name, n)| (format!("$SYS/broker/limits/{name}"), n.to_string()))
        .collect();
    let n = out.len();
    out.into_iter()
        .enumerate()
        .map(|(i, (name, value))| {
            let prefix = if i >= n - loads.len() {
                "$SYS/broker/load/"
            } else {
                "$SYS/broker/"
            };
            let suffix = if i >= n - loads.len() { "/1min" } else { "" };
            (format!("{prefix}{name}{suffix}"), value)
        })
        .chain(limits)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_mosquitto() {
        let state = BrokerState {
            uptime: Duration::from_secs(42),
            connected: 2,
            total: 3,
            max_connected: 5,
            subscriptions: 7,
            retained: 1,
            dropped: 0,
            limits: LimitCounters::default().all(),
        };
        let traffic = TrafficStats::default();
        TrafficStats::add(&traffic.bytes_received, 100);
        let all = topics(&state, &traffic, &LoadAverages::default());
        let get = |name: &str| all.iter().find(|(t, _)| t == name).map(|(_, v)| v.as_str());
        assert_eq!(get("$SYS/broker/uptime"), Some("42 seconds"));
        assert_eq!(get("$SYS/broker/clients/disconnected"), Some("1"));
        assert_eq!(get("$SYS/broker/bytes/received"), Some("100"));
        assert_eq!(get("$SYS/broker/retained messages/count"), Some("1"));
        assert_eq!(get("$SYS/broker/load/connections/1min"), Some("0.00"));
        assert_eq!(get("$SYS/broker/load/publish/sent/1min"), Some("0.00"));
        assert_eq!(get("$SYS/broker/limits/connections refused"), Some("0"));
    }
}
