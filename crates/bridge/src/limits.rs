//! Limits against abuse: how many connections, how fast one address may
//! connect, how fast one client may publish, how many subscriptions it may
//! hold, how large a WebSocket frame may be and which web pages may open a
//! WebSocket. Each limit, when it bites, logs a line (once per episode, not
//! per event) and counts in [`LimitCounters`], which `$SYS` publishes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The configured limits; 0 (or an empty list) turns one off.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once, on all listeners.
    pub max_connections: usize,
    /// Subscriptions one session may hold.
    pub max_subscriptions: usize,
    /// PUBLISH packets a second one client may send (over a one-second burst).
    pub publish_rate: u32,
    /// New connections a second from one IP address (over a burst of as many).
    pub connect_rate: u32,
    /// Largest WebSocket frame or message accepted, in bytes.
    pub ws_max_frame_size: usize,
    /// `Origin` values allowed to open a WebSocket; empty: any. Clients that
    /// send no Origin (not browsers) are always allowed.
    pub ws_origins: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100_000,
            max_subscriptions: 10_000,
            publish_rate: 0,
            connect_rate: 0,
            ws_max_frame_size: 1024 * 1024,
            ws_origins: Vec::new(),
        }
    }
}

/// How often each limit has bitten since start.
#[derive(Debug, Default)]
pub struct LimitCounters {
    pub connections_refused: AtomicU64,
    pub connects_throttled: AtomicU64,
    pub connect_timeouts: AtomicU64,
    pub packets_too_large: AtomicU64,
    pub subscriptions_refused: AtomicU64,
    pub publishes_throttled: AtomicU64,
    pub ws_frames_too_large: AtomicU64,
    pub origins_refused: AtomicU64,
}

impl LimitCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(name, count)` for `$SYS/broker/limits/<name>`.
    pub fn all(&self) -> [(&'static str, u64); 8] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("connections refused", get(&self.connections_refused)),
            ("connects throttled", get(&self.connects_throttled)),
            ("connect timeouts", get(&self.connect_timeouts)),
            ("packets too large", get(&self.packets_too_large)),
            ("subscriptions refused", get(&self.subscriptions_refused)),
            ("publishes throttled", get(&self.publishes_throttled)),
            ("websocket frames too large", get(&self.ws_frames_too_large)),
            ("origins refused", get(&self.origins_refused)),
        ]
    }
}

/// A token bucket: `rate` tokens a second, holding at most `rate`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate: u32, now: Instant) -> Self {
        RateLimiter {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.rate
    }
}

/// Addresses tracked before idle ones are forgotten.
const TRACKED_ADDRESSES: usize = 10_000;

/// Per-address CONNECT rate, shared by every listener.
#[derive(Debug)]
pub struct ConnectRate {
    rate: u32,
    buckets: Mutex<HashMap<IpAddr, (RateLimiter, bool)>>,
}

impl ConnectRate {
    pub fn new(rate: u32) -> Self {
        ConnectRate {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` may open a connection now; logs the first refusal of an
    /// episode.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= TRACKED_ADDRESSES {
            // Full buckets hold nothing a new one would not.
            buckets.retain(|_, (bucket, _)| !bucket.is_full(now));
        }
        let (bucket, throttled) = buckets
            .entry(ip)
            .or_insert_with(|| (RateLimiter::new(self.rate, now), false));
        let admitted = bucket.try_take(now);
        if !admitted && !*throttled {
            tracing::warn!(%ip, rate = self.rate, "connecting too often; refusing its connections for now");
        }
        *throttled = !admitted;
        admitted
    }
}

/// Open connections, against [`Limits::max_connections`]; each admitted
/// connection holds a [`ConnectionSlot`] until it ends.
#[derive(Debug, Default)]
pub struct ConnectionCount {
    open: AtomicUsize,
    over: std::sync::atomic::AtomicBool,
}

pub struct ConnectionSlot(Arc<ConnectionCount>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnectionCount {
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A slot, or `None` when `max` are open (0: no maximum).
    pub fn admit(self: &Arc<Self>, max: usize) -> Option<ConnectionSlot> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if max != 0 && before >= max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            if !self.over.swap(true, Ordering::Relaxed) {
                tracing::warn!(max, "maximum connections reached; refusing new ones");
            }
            return None;
        }
        self.over.store(false, Ordering::Relaxed);
        Some(ConnectionSlot(self.clone()))
    }
}

/// How long a throttled address waits before its bucket holds a token again.
pub fn refill_time(rate: u32) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(rate.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_rate_and_refills() {
        let start = Instant::now();
        let mut bucket = RateLimiter::new(5, start);
        assert_eq!((0..10).filter(|_| bucket.try_take(start)).count(), 5);
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
        assert!(
            bucket.try_take(start + Duration::from_millis(400)),
            "one token per 200 ms"
        );
        let later = start + Duration::from_secs(10);
        assert_eq!(
            (0..10).filter(|_| bucket.try_take(later)).count(),
            5,
            "never more than the rate"
        );
    }

    #[test]
    fn connect_rate_is_per_address() {
        let rate = ConnectRate::new(2);
        let now = Instant::now();
        let (a, b): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        assert!(rate.admit(a, now) && rate.admit(a, now));
        assert!(!rate.admit(a, now));
        assert!(rate.admit(b, now), "another address is not held back");
        assert!(rate.admit(a, now + refill_time(2)));
        assert!(ConnectRate::new(0).admit(a, now), "0: no limit");
    }

    #[test]
    fn connection_slots_are_given_back() {
        let count = Arc::new(ConnectionCount::default());
        let first = count.admit(2);
        let second = count.admit(2);
        assert!(first.is_some() && second.is_some());
        assert!(count.admit(2).is_none());
        drop(first);
        assert!(count.admit(2).is_some());
        assert!(count.admit(0).is_some(), "0: no maximum");
    }
}
