//! Traffic counters every connection adds to, and the one-minute load
//! averages `$SYS` reports from them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Packets and bytes through every connection since the bridge started.
#[derive(Debug, Default)]
pub struct TrafficStats {
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    pub publish_received: AtomicU64,
    pub publish_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Network connections accepted (for the connections load).
    pub connections: AtomicU64,
}

/// The counters at one moment, in the order of [`TrafficStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub messages_received: u64,
    pub messages_sent: u64,
    pub publish_received: u64,
    pub publish_sent: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub connections: u64,
}

impl TrafficStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            messages_received: get(&self.messages_received),
            messages_sent: get(&self.messages_sent),
            publish_received: get(&self.publish_received),
            publish_sent: get(&self.publish_sent),
            bytes_received: get(&self.bytes_received),
            bytes_sent: get(&self.bytes_sent),
            connections: get(&self.connections),
        }
    }
}

/// One-minute load averages, per minute, as Mosquitto reports them: each
/// interval's rate folded into an exponential moving average whose weight
/// decays with a one-minute time constant.
#[derive(Debug, Default)]
pub struct LoadAverages {
    last: Snapshot,
    /// In the order of [`Snapshot`]'s fields.
    pub per_minute: [f64; 7],
}

impl LoadAverages {
    /// Folds in the counters `now`, `interval_secs` after the previous update.
    pub fn update(&mut self, now: Snapshot, interval_secs: f64) {
        if interval_secs <= 0.0 {
            return;
        }
        let deltas = [
            now.messages_received - self.last.messages_received,
            now.messages_sent - self.last.messages_sent,
            now.publish_received - self.last.publish_received,
            now.publish_sent - self.last.publish_sent,
            now.bytes_received - self.last.bytes_received,
            now.bytes_sent - self.last.bytes_sent,
            now.connections - self.last.connections,
        ];
        let keep = (-interval_secs / 60.0).exp();
        for (avg, delta) in self.per_minute.iter_mut().zip(deltas) {
            let rate = delta as f64 * 60.0 / interval_secs;
            *avg = *avg * keep + rate * (1.0 - keep);
        }
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_converges_to_itself() {
        let mut load = LoadAverages::default();
        let mut now = Snapshot::default();
        // 10 messages every 10 s: 60 per minute.
        for _ in 0..60 {
            now.messages_received += 10;
            load.update(now, 10.0);
        }
        assert!(
            (load.per_minute[0] - 60.0).abs() < 0.5,
            "{}",
            load.per_minute[0]
        );
        assert_eq!(load.per_minute[1], 0.0);
        // Silence decays it: after a minute, to about 1/e.
        for _ in 0..6 {
            load.update(now, 10.0);
        }
        assert!((load.per_minute[0] - 60.0 / std::f64::consts::E).abs() < 1.0);
    }
}
