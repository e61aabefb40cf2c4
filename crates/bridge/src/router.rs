//! Fan-out: who is connected, what they subscribe to, the retained messages,
//! and delivery of each publish to every matching session's bounded outbound
//! queue.

use crate::retain::{RetainOutcome, RetainStore};
use crate::trie::{SessionKey, SubscriptionTrie};
use mqtt_proto::{Publish, QoS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What a session gets back from [`Router::register`].
pub struct Registration {
    pub key: SessionKey,
    /// Messages routed to this session. Bounded: when a session cannot keep
    /// up, QoS 0 messages for it are dropped and counted rather than letting it
    /// stall the publisher or grow without limit.
    pub outbound: mpsc::Receiver<Publish>,
    /// Cancelled when another connection takes over this client id.
    pub taken_over: CancellationToken,
}

struct SessionEntry {
    client_id: String,
    outbound: mpsc::Sender<Publish>,
    taken_over: CancellationToken,
}

struct RouterState {
    trie: SubscriptionTrie,
    retained: RetainStore,
    sessions: HashMap<SessionKey, SessionEntry>,
    by_client_id: HashMap<String, SessionKey>,
}

/// Counters the future `$SYS` topics and benchmarks read.
#[derive(Debug, Default)]
pub struct RouterStats {
    pub publishes_received: AtomicU64,
    pub publishes_delivered: AtomicU64,
    pub publishes_dropped: AtomicU64,
    /// Retained messages not kept because the store was full.
    pub retained_refused: AtomicU64,
}

pub struct Router {
    state: Mutex<RouterState>,
    next_key: AtomicU64,
    outbound_capacity: usize,
    pub stats: RouterStats,
}

impl Router {
    pub fn new(outbound_capacity: usize, max_retained: usize) -> Self {
        Router {
            state: Mutex::new(RouterState {
                trie: SubscriptionTrie::default(),
                retained: RetainStore::new(max_retained),
                sessions: HashMap::new(),
                by_client_id: HashMap::new(),
            }),
            next_key: AtomicU64::new(1),
            outbound_capacity,
            stats: RouterStats::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RouterState> {
        // A panic while holding the lock leaves plain maps behind, still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connected session. An existing session with the same client id
    /// is told to close (MQTT-3.1.4-2).
    pub fn register(&self, client_id: &str) -> Registration {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.outbound_capacity);
        let taken_over = CancellationToken::new();
        let mut state = self.lock();
        if let Some(old) = state.by_client_id.insert(client_id.to_owned(), key) {
            if let Some(entry) = state.sessions.get(&old) {
                entry.taken_over.cancel();
            }
        }
        state.sessions.insert(
            key,
            SessionEntry {
                client_id: client_id.to_owned(),
                outbound: tx,
                taken_over: taken_over.clone(),
            },
        );
        Registration {
            key,
            outbound: rx,
            taken_over,
        }
    }

    /// Removes a session and its subscriptions.
    pub fn unregister<'a>(&self, key: SessionKey, filters: impl IntoIterator<Item = &'a str>) {
        let mut state = self.lock();
        for filter in filters {
            state.trie.remove(filter, key);
        }
        if let Some(entry) = state.sessions.remove(&key) {
            if state.by_client_id.get(&entry.client_id) == Some(&key) {
                state.by_client_id.remove(&entry.client_id);
            }
        }
    }

    pub fn subscribe(&self, key: SessionKey, filter: &str, qos: QoS) {
        self.lock().trie.insert(filter, key, qos);
    }

    pub fn unsubscribe(&self, key: SessionKey, filter: &str) -> bool {
        self.lock().trie.remove(filter, key)
    }

    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn subscription_count(&self) -> usize {
        self.lock().trie.len()
    }

    pub fn retained_count(&self) -> usize {
        self.lock().retained.len()
    }

    /// Retained messages for a new subscription to `filter`, with the retain
    /// flag set, at most at `granted` QoS.
    pub fn retained_for(&self, filter: &str, granted: QoS) -> Vec<Publish> {
        let mut found = self.lock().retained.matching(filter);
        for p in &mut found {
            p.retain = true;
            p.qos = p.qos.min(granted);
        }
        found
    }

    /// Delivers `publish` to every session with a matching subscription, one
    /// copy per session at the highest QoS its matching subscriptions granted,
    /// and keeps it if it is retained.
    pub fn publish(&self, publish: &Publish) {
        self.stats
            .publishes_received
            .fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if publish.retain && state.retained.set(publish) == RetainOutcome::Refused {
            self.stats.retained_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                topic = publish.topic(),
                "retained message store full; not kept"
            );
        }
        let mut targets: HashMap<SessionKey, QoS> = HashMap::new();
        state.trie.for_each_match(publish.topic(), |key, qos| {
            let best = targets.entry(key).or_insert(qos);
            *best = (*best).max(qos);
        });
        for (key, granted) in targets {
            let Some(entry) = state.sessions.get(&key) else {
                continue;
            };
            let mut delivery = publish.clone();
            delivery.dup = false;
            delivery.qos = publish.qos.min(granted);
            // Live deliveries carry retain 0 (MQTT-3.3.1-9).
            delivery.retain = false;
            delivery.packet_id = None;
            let counter = match entry.outbound.try_send(delivery) {
                Ok(()) => &self.stats.publishes_delivered,
                Err(_) => &self.stats.publishes_dropped,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}
