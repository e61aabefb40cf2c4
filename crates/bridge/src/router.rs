//! Fan-out: who is connected, what they subscribe to, the retained messages,
//! and delivery of each publish to every matching session's bounded outbound
//! queue.

use crate::handshake::SessionExpiry;
use crate::queue::SessionQueue;
use crate::retain::{RetainOutcome, RetainStore};
use crate::session_state::SessionState;
use crate::trie::{SessionKey, SubOptions, SubscriptionTrie};
use mqtt_proto::{Property, Publish, QoS};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

/// A message on its way to one session.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub publish: Publish,
    /// When it expires (5.0 Message Expiry Interval), counted from when the
    /// bridge received it: undelivered by then, it is dropped.
    pub expires_at: Option<Instant>,
}

/// How one session gets a message, from all its matching subscriptions.
#[derive(Default)]
struct Target {
    qos: QoS,
    retain: bool,
    ids: Vec<u32>,
}

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
    outbound: Arc<SessionQueue>,
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
        entry.outbound.close();
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
        let queue = Arc::new(SessionQueue::new(self.limits.queue));
        let session_state = Arc::new(AsyncMutex::new(SessionState::new(
            queue.clone(),
            self.limits.inflight,
        )));
        state.by_client_id.insert(client_id.to_owned(), key);
        state.sessions.insert(
            key,
            SessionEntry {
                client_id: client_id.to_owned(),
                outbound: queue,
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

    /// `connection` has ended. Its session stays, offline, when `expiry`
    /// keeps it (and receives QoS 1/2 messages meanwhile), or ends with its
    /// subscriptions. Nothing changes if a later connection has taken it over.
    pub fn detach(&self, key: SessionKey, connection: u64, expiry: SessionExpiry) {
        let mut state = self.lock();
        let Some(entry) = state.sessions.get_mut(&key) else {
            return;
        };
        if entry.connection != connection {
            return;
        }
        if expiry.keeps() {
            entry.online = false;
        } else {
            state.remove_session(key);
        }
    }

    /// The session left offline by `connection` has reached its expiry: it
    /// ends, unless a client has resumed it since.
    pub fn expire(&self, key: SessionKey, connection: u64) {
        let mut state = self.lock();
        if let Some(entry) = state.sessions.get(&key) {
            if entry.connection == connection && !entry.online {
                tracing::info!(client_id = entry.client_id, "session expired");
                state.remove_session(key);
            }
        }
    }

    /// Whether a later connection has resumed the session `connection` served.
    pub fn resumed_since(&self, key: SessionKey, connection: u64) -> bool {
        self.lock()
            .sessions
            .get(&key)
            .is_some_and(|entry| entry.connection != connection)
    }

    /// Adds or replaces a subscription; returns whether it is new.
    pub fn subscribe(&self, key: SessionKey, filter: &str, options: SubOptions) -> bool {
        let mut state = self.lock();
        let Some(entry) = state.sessions.get_mut(&key) else {
            return false;
        };
        entry.filters.insert(filter.to_owned());
        state.trie.insert(filter, key, options)
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
    /// flag set, at most at the subscription's QoS and with its identifier.
    pub fn retained_for(&self, filter: &str, options: &SubOptions) -> Vec<Delivery> {
        let mut found = self.lock().retained.matching(filter, Instant::now());
        for d in &mut found {
            d.publish.retain = true;
            d.publish.qos = d.publish.qos.min(options.qos);
            if let Some(id) = options.id {
                d.publish
                    .properties
                    .push(Property::SubscriptionIdentifier(id));
            }
        }
        found
    }

    /// Delivers `publish`, received from session `from`, to every session
    /// with a matching subscription (one copy each, at the highest QoS their
    /// matching subscriptions granted, with all their identifiers), keeps it
    /// if it is retained, and returns how many sessions it was for.
    pub fn publish(
        &self,
        from: Option<SessionKey>,
        publish: &Publish,
        expires_at: Option<Instant>,
    ) -> usize {
        self.stats
            .publishes_received
            .fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if publish.retain && state.retained.set(publish, expires_at) == RetainOutcome::Refused {
            self.stats.retained_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                topic = publish.topic(),
                "retained message store full; not kept"
            );
        }
        let mut targets: HashMap<SessionKey, Target> = HashMap::new();
        state.trie.for_each_match(publish.topic(), |key, options| {
            if options.no_local && from == Some(key) {
                return;
            }
            let target = targets.entry(key).or_default();
            target.qos = target.qos.max(options.qos);
            target.retain |= options.retain_as_published && publish.retain;
            target.ids.extend(options.id);
        });
        let matched = targets.len();
        for (key, target) in targets {
            let Some(entry) = state.sessions.get_mut(&key) else {
                continue;
            };
            let qos = publish.qos.min(target.qos);
            // An offline session is owed its QoS 1 and 2 messages only
            // (MQTT-3.1.2-5; QoS 0 may be, and is not, kept).
            if !entry.online && qos == QoS::AtMostOnce {
                continue;
            }
            let mut message = publish.clone();
            message.dup = false;
            message.qos = qos;
            // Live deliveries carry retain 0 (MQTT-3.3.1-9) unless a 5.0
            // subscription asked for Retain As Published.
            message.retain = target.retain;
            message.packet_id = None;
            for id in target.ids {
                message
                    .properties
                    .push(Property::SubscriptionIdentifier(id));
            }
            if !entry.online {
                // Kept for long: must not pin the publisher's receive buffer.
                message = message.detached();
            }
            let delivery = Delivery {
                publish: message,
                expires_at,
            };
            // A full queue drops the new message, whatever its QoS: the
            // client is too slow or away too long, and the queue's limit is
            // what bounds the bridge's memory.
            match entry.outbound.try_push(delivery) {
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
        matched
    }
}
