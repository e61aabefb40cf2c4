//! Fan-out: who is connected, what they subscribe to, the retained messages,
//! and delivery of each publish to every matching session's bounded outbound
//! queue.

use crate::handshake::SessionExpiry;
use crate::queue::SessionQueue;
use crate::retain::{RetainOutcome, RetainStore};
use crate::session_state::SessionState;
use crate::store::record::{unix_ms, SessionRecord};
use crate::store::{Op, Snapshot, Store};
use crate::trie::{SessionKey, SubOptions, SubscriptionTrie};
use mqtt_proto::{Property, Publish, QoS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

/// A message on its way to one session.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub publish: Publish,
    /// When it expires (5.0 Message Expiry Interval), counted from when the
    /// bridge received it: undelivered by then, it is dropped.
    pub expires_at: Option<Instant>,
    /// Its sequence number in the store, for a QoS 1/2 message to a
    /// persistent session while the bridge has a data directory.
    pub stored: Option<u64>,
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
    /// Whether the session is kept in the store.
    pub persistent: bool,
}

struct SessionEntry {
    client_id: String,
    outbound: Arc<SessionQueue>,
    state: Arc<AsyncMutex<SessionState>>,
    /// Filters this session subscribes to, to clean the trie when it ends
    /// (and to store them if the session becomes persistent).
    filters: HashMap<String, SubOptions>,
    /// Whether it is kept in the store (a data directory, and an expiry
    /// that outlives the connection).
    persistent: bool,
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
    /// Changes go here, in the order they happen under this state's lock.
    store: Option<Store>,
}

impl RouterState {
    fn remove_session(&mut self, key: SessionKey) {
        let Some(entry) = self.sessions.remove(&key) else {
            return;
        };
        entry.outbound.close();
        if entry.persistent {
            self.persist(Op::DropSession { key });
        }
        for filter in entry.filters.keys() {
            self.trie.remove(filter, key);
        }
        if self.by_client_id.get(&entry.client_id) == Some(&key) {
            self.by_client_id.remove(&entry.client_id);
        }
    }

    fn is_persistent(&self, key: SessionKey) -> bool {
        self.sessions.get(&key).is_some_and(|e| e.persistent)
    }

    fn persist(&self, op: Op) {
        if let Some(store) = &self.store {
            store.push(op);
        }
    }

    /// Stores the session's record, and everything it holds when it has
    /// just become persistent.
    fn persist_session(&mut self, key: SessionKey, expiry: SessionExpiry, connected: bool) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let Some(entry) = self.sessions.get_mut(&key) else {
            return;
        };
        if !expiry.keeps() {
            return;
        }
        let record = SessionRecord {
            client_id: entry.client_id.clone(),
            expiry,
            disconnected_ms: if connected {
                0
            } else {
                unix_ms(SystemTime::now())
            },
        };
        store.push(Op::Session { key, record });
        if !entry.persistent {
            // Messages it already queues stay in memory only.
            entry.persistent = true;
            for (filter, options) in &entry.filters {
                store.push(Op::Subscribe {
                    key,
                    filter: filter.as_str().into(),
                    options: *options,
                });
            }
        }
    }
}

/// A session read back from the store, offline until its client returns,
/// and when it expires unless that happens.
pub struct RestoredSession {
    pub key: SessionKey,
    pub connection: u64,
    pub expires_in: Option<Duration>,
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
    /// A router that keeps everything in memory, or also in `store`.
    pub fn new(limits: SessionLimits, max_retained: usize, store: Option<Store>) -> Self {
        Router {
            state: Mutex::new(RouterState {
                trie: SubscriptionTrie::default(),
                retained: RetainStore::new(max_retained),
                sessions: HashMap::new(),
                by_client_id: HashMap::new(),
                store,
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

    /// Takes back what the store held when the bridge started: retained
    /// messages, and each session, offline, with its subscriptions, queued
    /// messages, QoS 2 messages in flight (resent when its client returns)
    /// and QoS 2 ids received. Sessions whose expiry passed while the bridge
    /// was down are dropped.
    pub fn restore(&self, snapshot: Snapshot) -> Vec<RestoredSession> {
        let wall_ms = unix_ms(SystemTime::now());
        self.next_key
            .fetch_max(snapshot.max_key + 1, Ordering::Relaxed);
        let mut state = self.lock();
        for (publish, expires_at) in &snapshot.retained {
            if state.retained.set(publish, *expires_at) == RetainOutcome::Refused {
                self.stats.retained_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut restored = Vec::new();
        for stored in snapshot.sessions {
            let key = stored.key;
            let away = match stored.record.disconnected_ms {
                // Connected when the bridge stopped: away from now on.
                0 => Duration::ZERO,
                at => Duration::from_millis(wall_ms.saturating_sub(at)),
            };
            let expires_in = match stored.record.expiry {
                SessionExpiry::After(after) => Some(after.saturating_sub(away)),
                SessionExpiry::Never => None,
                SessionExpiry::AtDisconnect => Some(Duration::ZERO),
            };
            if expires_in == Some(Duration::ZERO) {
                tracing::info!(
                    client_id = stored.record.client_id,
                    "stored session expired while the bridge was down"
                );
                state.persist(Op::DropSession { key });
                continue;
            }
            let connection = self.next_key.fetch_add(1, Ordering::Relaxed);
            let queue = Arc::new(SessionQueue::new(self.limits.queue));
            let mut session = SessionState::new(queue.clone(), self.limits.inflight);
            for m in stored.messages {
                use crate::store::record::Stage;
                match m.stage {
                    Some(Stage::Sent(id)) => session.inflight.restore(m.publish, id, m.seq, false),
                    Some(Stage::Released(id)) => {
                        session.inflight.restore(m.publish, id, m.seq, true)
                    }
                    None => {
                        let delivery = Delivery {
                            publish: m.publish,
                            expires_at: m.expires_at,
                            stored: Some(m.seq),
                        };
                        if queue.try_push(delivery).is_err() {
                            // The queue limit was lowered since.
                            self.stats.publishes_dropped.fetch_add(1, Ordering::Relaxed);
                            state.persist(Op::Done { key, seq: m.seq });
                        }
                    }
                }
            }
            session.incoming_qos2.extend(stored.incoming_qos2);
            let mut filters = HashMap::new();
            for (filter, options) in stored.subscriptions {
                state.trie.insert(filter.as_str(), key, options);
                filters.insert(filter, options);
            }
            let client_id = stored.record.client_id;
            state.by_client_id.insert(client_id.clone(), key);
            state.sessions.insert(
                key,
                SessionEntry {
                    client_id,
                    outbound: queue,
                    state: Arc::new(AsyncMutex::new(session)),
                    filters,
                    persistent: true,
                    online: false,
                    connection,
                    taken_over: CancellationToken::new(),
                    overflowing: false,
                },
            );
            restored.push(RestoredSession {
                key,
                connection,
                expires_in,
            });
        }
        restored
    }

    /// The store this router writes to, if the bridge has a data directory.
    pub fn store(&self) -> Option<Store> {
        self.lock().store.clone()
    }

    /// A new connection for `client_id`. A connection already serving that
    /// id is told to close (MQTT-3.1.4-2). Without `clean`, an existing
    /// session is resumed; with it, any existing session is discarded.
    /// `expiry` decides whether the session is stored.
    pub fn register(&self, client_id: &str, clean: bool, expiry: SessionExpiry) -> Registration {
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
                    let session_state = entry.state.clone();
                    state.persist_session(key, expiry, true);
                    return Registration {
                        key,
                        connection,
                        taken_over,
                        state: session_state,
                        resumed: true,
                        persistent: state.is_persistent(key),
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
                filters: HashMap::new(),
                persistent: false,
                online: true,
                connection,
                taken_over: taken_over.clone(),
                overflowing: false,
            },
        );
        state.persist_session(key, expiry, true);
        Registration {
            key,
            connection,
            taken_over,
            state: session_state,
            resumed: false,
            persistent: state.is_persistent(key),
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
            state.persist_session(key, expiry, false);
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
        entry.filters.insert(filter.to_owned(), options);
        if entry.persistent {
            state.persist(Op::Subscribe {
                key,
                filter: filter.into(),
                options,
            });
        }
        state.trie.insert(filter, key, options)
    }

    pub fn unsubscribe(&self, key: SessionKey, filter: &str) -> bool {
        let mut state = self.lock();
        if let Some(entry) = state.sessions.get_mut(&key) {
            if entry.filters.remove(filter).is_some() && entry.persistent {
                state.persist(Op::Unsubscribe {
                    key,
                    filter: filter.into(),
                });
            }
        }
        state.trie.remove(filter, key)
    }

    /// Messages waiting in every session's queue.
    pub fn queued_total(&self) -> usize {
        self.lock()
            .sessions
            .values()
            .map(|e| e.outbound.len())
            .sum()
    }

    /// Messages waiting in a session's queue (not counting those in flight).
    pub fn queued_for(&self, key: SessionKey) -> usize {
        self.lock()
            .sessions
            .get(&key)
            .map_or(0, |e| e.outbound.len())
    }

    /// Marks a session served or not without a connection ending (an
    /// upstream link going up or down): an offline session is queued only
    /// QoS 1/2 messages.
    pub fn set_online(&self, key: SessionKey, online: bool) {
        if let Some(entry) = self.lock().sessions.get_mut(&key) {
            entry.online = online;
        }
    }

    /// The filters a session subscribes to.
    pub fn filters_of(&self, key: SessionKey) -> Vec<String> {
        self.lock()
            .sessions
            .get(&key)
            .map(|e| e.filters.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many subscriptions a session holds.
    pub fn subscriptions_of(&self, key: SessionKey) -> usize {
        self.lock()
            .sessions
            .get(&key)
            .map_or(0, |e| e.filters.len())
    }

    /// Whether a session holds a subscription to exactly `filter`.
    pub fn is_subscribed(&self, key: SessionKey, filter: &str) -> bool {
        self.lock()
            .sessions
            .get(&key)
            .is_some_and(|e| e.filters.contains_key(filter))
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
        self.publish_received(from, publish, expires_at, None)
    }

    /// [`Router::publish`] for a QoS 2 message with packet id `qos2_id`
    /// from a persistent session: that it was received is stored in the
    /// same transaction as the copies routed, so after a crash the client's
    /// resend is neither lost nor routed twice.
    pub fn publish_received(
        &self,
        from: Option<SessionKey>,
        publish: &Publish,
        expires_at: Option<Instant>,
        qos2_id: Option<u16>,
    ) -> usize {
        self.stats
            .publishes_received
            .fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        let store = state.store.clone();
        // Held until every copy is queued: a subscriber acknowledging one
        // (Done) must come after its Enqueue.
        let mut batch = store.as_ref().map(Store::batch);
        if let (Some(batch), Some(id), Some(from)) = (&mut batch, qos2_id, from) {
            if state.sessions.get(&from).is_some_and(|e| e.persistent) {
                batch.push(Op::IncomingQos2 {
                    key: from,
                    packet_id: id,
                    held: true,
                });
            }
        }
        if publish.retain {
            match state.retained.set(publish, expires_at) {
                RetainOutcome::Refused => {
                    self.stats.retained_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        topic = publish.topic(),
                        "retained message store full; not kept"
                    );
                }
                // The bridge's own statistics are not worth a disk write.
                _ if publish.topic().starts_with("$SYS/") => {}
                outcome => {
                    if let Some(batch) = &mut batch {
                        batch.push(Op::Retain {
                            topic: publish.topic().into(),
                            message: (outcome != RetainOutcome::Cleared)
                                .then(|| (publish.detached(), expires_at)),
                        });
                    }
                }
            }
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
            // Stored before it is queued: the session may send it and have
            // it acknowledged (Done) before this thread gets further.
            let stored = match (&store, &mut batch) {
                (Some(store), Some(batch)) if entry.persistent && qos != QoS::AtMostOnce => {
                    let seq = store.next_seq();
                    batch.push(Op::Enqueue {
                        key,
                        seq,
                        publish: message.clone(),
                        expires_at,
                    });
                    Some(seq)
                }
                _ => None,
            };
            let delivery = Delivery {
                publish: message,
                expires_at,
                stored,
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
                    if let (Some(batch), Some(seq)) = (&mut batch, stored) {
                        batch.push(Op::Done { key, seq });
                    }
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
