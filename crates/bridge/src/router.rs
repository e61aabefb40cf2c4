//! Fan-out: who is connected, what they subscribe to, the retained messages,
//! and delivery of each publish to every matching session's bounded outbound
//! queue.

use crate::retain::{RetainOutcome, RetainStore};
use crate::session_state::SessionState;
use crate::trie::{SessionKey, SubscriptionTrie};
use mqtt_proto::{Publish, QoS};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Mutex as AsyncMutex};
use tokio_util::sync::CancellationToken;

/// What a connection gets back from [`Router::register`].
pub struct Registration {
    pub key: SessionKey,
    /// This connection's number, to tell it from a later one on the same session.
    pub connection: u64,
    /// Cancelled when another connection takes over this client id.
    pub taken_over: CancellationToken,
    /// The session's queues and in-flight messages; lock it before serving.
    pub state: Arc<AsyncMutex<SessionState>>,
    /// Whether an existing session was resumed (CONNACK's Session Present).
    pub resumed: bool,
}

struct SessionEntry {
    client_id: String,
    outbound: mpsc::Sender<Publish>,
    state: Arc<AsyncMutex<SessionState>>,
    /// Filters this session subscribes to, to clean the trie when it ends.
    filters: HashSet<String>,
    /// Whether a connection serves it; offline sessions are sent only QoS 1/2.
    online: bool,
    /// The connection serving it (or that last did).
    connection: u64,
    taken_over: CancellationToken,
    /// Whether its queue was full at the last delivery, so a flood of drops
    /// is logged once rather than per message.
    overflowing: bool,
}

struct RouterState {
    trie: SubscriptionTrie,
    retained: RetainStore,
    sessions: HashMap<SessionKey, SessionEntry>,
    by_client_id: HashMap<String, SessionKey>,
}

impl RouterState {
    fn remove_session(&mut self, key: SessionKey) {
        let Some(entry) = self.sessions.remove(&key) else {
            return;
        };
        for filter in &entry.filters {
            self.trie.remove(filter, key);
        }
        if self.by_client_id.get(&entry.client_id) == Some(&key) {
            self.by_client_id.remove(&entry.client_id);
        }
    }
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

/// Sizes of what the router creates per session.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Deliveries queued per session, online or offline.
    pub queue: usize,
    /// QoS 1/2 messages in flight per session.
    pub inflight: usize,
}

pub struct Router {
    state: Mutex<RouterState>,
    next_key: AtomicU64,
    limits: SessionLimits,
    pub stats: RouterStats,
}

impl Router {
    pub fn new(limits: SessionLimits, max_retained: usize) -> Self {
        Router {
            state: Mutex::new(RouterState {
                trie: SubscriptionTrie::default(),
                retained: RetainStore::new(max_retained),
                sessions: HashMap::new(),
                by_client_id: HashMap::new(),
            }),
            next_key: AtomicU64::new(1),
            limits,
            stats: RouterStats::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RouterState> {
        // A panic while holding the lock leaves plain maps behind, still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection for `client_id`. A connection already serving that
    /// id is told to close (MQTT-3.1.4-2). Without `clean`, an existing
    /// session is resumed; with it, any existing session is discarded.
    pub fn register(&self, client_id: &str, clean: bool) -> Registration {
        let connection = self.next_key.fetch_add(1, Ordering::Relaxed);
        let taken_over = CancellationToken::new();
        let mut state = self.lock();
        if let Some(&key) = state.by_client_id.get(client_id) {
            if let Some(entry) = state.sessions.get_mut(&key) {
                entry.taken_over.cancel();
                if !clean {
                    entry.taken_over = taken_over.clone();
                    entry.connection = connection;
                    entry.online = true;
                    return Registration {
                        key,
                        connection,
                        taken_over,
                        state: entry.state.clone(),
                        resumed: true,
                    };
                }
            }
            state.remove_session(key);
        }
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.limits.queue);
        let session_state = Arc::new(AsyncMutex::new(SessionState::new(rx, self.limits.inflight)));
        state.by_client_id.insert(client_id.to_owned(), key);
        state.sessions.insert(
            key,
            SessionEntry {
                client_id: client_id.to_owned(),
                outbound: tx,
                state: session_state.clone(),
                filters: HashSet::new(),
                online: true,
                connection,
                taken_over: taken_over.clone(),
                overflowing: false,
            },
        );
        Registration {
            key,
            connection,
            taken_over,
            state: session_state,
            resumed: false,
        }
    }

    /// `connection` has ended. Its session stays, offline, when `keep` (and
    /// receives QoS 1/2 messages meanwhile), or ends with its subscriptions.
    /// Nothing changes if a later connection has taken the session over.
    pub fn detach(&self, key: SessionKey, connection: u64, keep: bool) {
        let mut state = self.lock();
        let Some(entry) = state.sessions.get_mut(&key) else {
            return;
        };
        if entry.connection != connection {
            return;
        }
        if keep {
            entry.online = false;
        } else {
            state.remove_session(key);
        }
    }

    pub fn subscribe(&self, key: SessionKey, filter: &str, qos: QoS) {
        let mut state = self.lock();
        if let Some(entry) = state.sessions.get_mut(&key) {
            entry.filters.insert(filter.to_owned());
            state.trie.insert(filter, key, qos);
        }
    }

    pub fn unsubscribe(&self, key: SessionKey, filter: &str) -> bool {
        let mut state = self.lock();
        if let Some(entry) = state.sessions.get_mut(&key) {
            entry.filters.remove(filter);
        }
        state.trie.remove(filter, key)
    }

    /// Sessions, connected or kept offline.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Sessions a connection is serving now.
    pub fn connected_count(&self) -> usize {
        self.lock().sessions.values().filter(|s| s.online).count()
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
            let Some(entry) = state.sessions.get_mut(&key) else {
                continue;
            };
            let qos = publish.qos.min(granted);
            // An offline session is owed its QoS 1 and 2 messages only
            // (MQTT-3.1.2-5; QoS 0 may be, and is not, kept).
            if !entry.online && qos == QoS::AtMostOnce {
                continue;
            }
            let mut delivery = publish.clone();
            delivery.dup = false;
            delivery.qos = qos;
            // Live deliveries carry retain 0 (MQTT-3.3.1-9).
            delivery.retain = false;
            delivery.packet_id = None;
            if !entry.online {
                // Kept for long: must not pin the publisher's receive buffer.
                delivery = delivery.detached();
            }
            // A full queue drops the new message, whatever its QoS: the
            // client is too slow or away too long, and the queue's limit is
            // what bounds the bridge's memory.
            match entry.outbound.try_send(delivery) {
                Ok(()) => {
                    entry.overflowing = false;
                    self.stats
                        .publishes_delivered
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    if !entry.overflowing {
                        tracing::warn!(
                            client_id = entry.client_id,
                            online = entry.online,
                            limit = self.limits.queue,
                            "session queue full; dropping new messages for it until it drains"
                        );
                    }
                    entry.overflowing = true;
                    self.stats.publishes_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
