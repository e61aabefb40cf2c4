//! One client connection: the CONNECT handshake, then packets in, routed
//! messages out and keepalive, until either side ends it.
//!
//! - [`inbound`]: what each packet from the client does.
//! - [`outbound`]: routed messages on their way out (expiry, size, aliases, window).
//! - [`ending`]: DISCONNECT from our side, the Will, and how long the session stays.

mod ending;
mod inbound;
mod outbound;

use crate::auth::{Auth, Identity};
use crate::connection::{Connection, ConnectionError};
use crate::handshake::{self, Agreed, ServerLimits};
use crate::limits::{LimitCounters, RateLimiter};
use crate::router::Router;
use crate::session_state::SessionState;
use crate::store::{Op, Store};
use crate::topic_alias::{InboundAliases, OutboundAliases};
use crate::trie::SessionKey;
use mqtt_proto::{ConnAck, Packet, Publish, ReasonCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Messages written per wake-up, so one busy session cannot starve reads.
const WRITE_BATCH: usize = 64;

static ASSIGNED_IDS: AtomicU64 = AtomicU64::new(1);
static STARTED_MS: std::sync::LazyLock<u64> =
    std::sync::LazyLock::new(|| crate::store::record::unix_ms(std::time::SystemTime::now()));

pub struct SessionSettings {
    pub connect_timeout: Duration,
    pub limits: ServerLimits,
    pub auth: Arc<Auth>,
    /// Subscriptions per session (0: any).
    pub max_subscriptions: usize,
    /// PUBLISH packets a second per client (0: any).
    pub publish_rate: u32,
    pub counters: Arc<LimitCounters>,
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The client sent DISCONNECT; `with_will` for 5.0 reason 0x04.
    Disconnected {
        with_will: bool,
    },
    PeerClosed,
    TakenOver,
    Shutdown,
    KeepAliveExpired,
    Error(ConnectionError),
    /// The client broke a rule only the bridge can check (a 5.0 limit it was told).
    Violation(ReasonCode, &'static str),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Disconnected { .. } => f.write_str("client sent DISCONNECT"),
            End::PeerClosed => f.write_str("connection closed without DISCONNECT"),
            End::TakenOver => f.write_str("another connection took over the client id"),
            End::Shutdown => f.write_str("bridge shutting down"),
            End::KeepAliveExpired => f.write_str("keepalive expired"),
            End::Error(e) => write!(f, "{e}"),
            End::Violation(code, why) => write!(f, "{why} ({code:?})"),
        }
    }
}

pub async fn run(
    mut conn: Connection,
    peer: String,
    router: Arc<Router>,
    settings: Arc<SessionSettings>,
    shutdown: CancellationToken,
) {
    let connect = tokio::select! {
        _ = shutdown.cancelled() => return,
        first = timeout(settings.connect_timeout, conn.read_packet()) => first,
    };
    let connect = match connect {
        Ok(Ok(Some(Packet::Connect(c)))) => c,
        Ok(Ok(Some(other))) => {
            tracing::info!(%peer, packet = ?other.packet_type(), "first packet is not CONNECT; closing");
            return conn.close().await;
        }
        Ok(Ok(None)) => return,
        Ok(Err(ConnectionError::Protocol(e))) => {
            count_limit(&settings.counters, &ConnectionError::Protocol(e.clone()));
            tracing::info!(%peer, error = %e, "bad CONNECT; closing");
            if e.needs_connack() {
                let _ = conn.write_packet(&refusal(e.connack_code())).await;
            }
            return conn.close().await;
        }
        Ok(Err(e)) => {
            count_limit(&settings.counters, &e);
            tracing::debug!(%peer, error = %e, "connection failed before CONNECT");
            return;
        }
        Err(_) => {
            LimitCounters::bump(&settings.counters.connect_timeouts);
            tracing::info!(%peer, "no CONNECT within {:?}; closing", settings.connect_timeout);
            return conn.close().await;
        }
    };
    conn.set_version(connect.protocol);
    let assign = || {
        let n = ASSIGNED_IDS.fetch_add(1, Ordering::Relaxed);
        // With the process's start time: an id assigned before a restart
        // may name a stored session, which a new client must not take.
        format!("auto-{:x}-{n}", *STARTED_MS)
    };
    let agreed = match handshake::agree(&connect, &settings.limits, assign) {
        Ok(agreed) => agreed,
        Err(code) => {
            tracing::info!(%peer, ?code, "CONNECT refused");
            let _ = conn.write_packet(&refusal(code)).await;
            return conn.close().await;
        }
    };
    if agreed
        .client_id
        .starts_with(crate::upstream::RESERVED_PREFIX)
    {
        tracing::info!(%peer, client_id = agreed.client_id, "client id reserved for upstream links; refused");
        let _ = conn
            .write_packet(&refusal(ReasonCode::ClientIdentifierNotValid))
            .await;
        return conn.close().await;
    }
    let identity = match authenticate(&settings.auth, &connect, &agreed.client_id).await {
        Ok(identity) => identity,
        Err(code) => {
            let user = connect.username.as_deref().unwrap_or("");
            tracing::info!(%peer, client_id = agreed.client_id, user, ?code, "CONNECT refused");
            let _ = conn.write_packet(&refusal(code)).await;
            return conn.close().await;
        }
    };
    let registration = router.register(&agreed.client_id, agreed.clean_start, agreed.expiry);
    let (key, connection) = (registration.key, registration.connection);
    // A connection being taken over lets go of the session once it has
    // stopped; one stuck writing to a client that stopped reading gets as long
    // as a CONNECT does.
    let locked = tokio::select! {
        _ = shutdown.cancelled() => None,
        state = timeout(settings.connect_timeout, registration.state.lock_owned()) => state.ok(),
    };
    let Some(mut state) = locked else {
        tracing::warn!(%peer, client_id = agreed.client_id, "previous connection did not release the session in time");
        router.detach(key, connection, agreed.expiry);
        let _ = conn
            .write_packet(&refusal(ReasonCode::ServerUnavailable))
            .await;
        return conn.close().await;
    };
    state.inflight.set_max(usize::from(agreed.outbound_window));
    // A resumed session first sends again what the client has not acknowledged.
    let resent = state.inflight.resend();
    let connack = handshake::accepting_connack(&agreed, &settings.limits, registration.resumed);
    let store = router.store();
    let mut session = Session {
        conn,
        router,
        store,
        persistent: registration.persistent,
        identity,
        key,
        state,
        inbound_aliases: InboundAliases::new(settings.limits.topic_alias_maximum),
        outbound_aliases: OutboundAliases::new(agreed.client_topic_alias_maximum),
        receive_maximum: settings.limits.receive_maximum,
        replies: Vec::new(),
        publish_rate: (settings.publish_rate > 0)
            .then(|| RateLimiter::new(settings.publish_rate, std::time::Instant::now())),
        throttled: false,
        max_subscriptions: settings.max_subscriptions,
        counters: settings.counters.clone(),
        agreed,
    };
    let accepted = Packet::ConnAck(connack);
    if let Err(e) = session
        .conn
        .write_packets(std::iter::once(&accepted).chain(&resent))
        .await
    {
        tracing::debug!(%peer, error = %e, "could not send CONNACK");
        return session
            .finish(End::Error(e), None, connection, &shutdown)
            .await;
    }
    tracing::info!(
        %peer,
        transport = session.conn.kind(),
        version = ?session.agreed.version,
        client_id = session.agreed.client_id,
        resumed = registration.resumed,
        resent = resent.len(),
        "client connected"
    );
    let end = session.serve(&registration.taken_over, &shutdown).await;
    if let End::Error(e) = &end {
        count_limit(&session.counters, e);
    }
    tracing::info!(%peer, client_id = session.agreed.client_id, reason = %end, "client disconnected");
    session
        .finish(end, connect.will, connection, &shutdown)
        .await;
}

/// Counts a connection ended by a size limit: a packet above the maximum
/// packet size, or a WebSocket frame above the maximum frame size.
fn count_limit(counters: &LimitCounters, e: &ConnectionError) {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        ConnectionError::Protocol(mqtt_proto::Error::PacketTooLarge { .. }) => {
            LimitCounters::bump(&counters.packets_too_large)
        }
        ConnectionError::Transport(crate::transport::TransportError::WebSocket(
            WsError::Capacity(_),
        )) => LimitCounters::bump(&counters.ws_frames_too_large),
        _ => {}
    }
}

/// Checks the credentials (on a blocking thread: the hash is slow on
/// purpose) and that the client may publish its Will.
async fn authenticate(
    auth: &Arc<Auth>,
    connect: &mqtt_proto::Connect,
    client_id: &str,
) -> Result<Identity, ReasonCode> {
    let identity = match (auth.users(), auth.has_acl()) {
        (None, false) => Identity {
            username: connect.username.as_deref().map(str::to_owned),
            acl: None,
        },
        _ => {
            let auth = auth.clone();
            let username = connect.username.as_deref().map(str::to_owned);
            let password = connect.password.clone();
            let client_id = client_id.to_owned();
            tokio::task::spawn_blocking(move || {
                auth.authenticate(username.as_deref(), password.as_deref(), &client_id)
            })
            .await
            .map_err(|_| ReasonCode::ServerUnavailable)??
        }
    };
    match &connect.will {
        Some(will) if !identity.can_write(&will.topic) => Err(ReasonCode::NotAuthorized),
        _ => Ok(identity),
    }
}

/// A CONNACK refusing the connection (written in the client's version).
fn refusal(code: ReasonCode) -> Packet {
    Packet::ConnAck(ConnAck::new(code, false))
}

struct Session {
    conn: Connection,
    router: Arc<Router>,
    /// The bridge's store, when it has a data directory.
    store: Option<Store>,
    /// Whether this session's own state is stored.
    persistent: bool,
    /// Who the client is, and what it may publish and receive.
    identity: Identity,
    key: SessionKey,
    state: OwnedMutexGuard<SessionState>,
    agreed: Agreed,
    inbound_aliases: InboundAliases,
    outbound_aliases: OutboundAliases,
    /// QoS 2 messages the client may have awaiting PUBREL (ours, announced).
    receive_maximum: u16,
    /// Answers to packets handled and not yet written.
    replies: Vec<Packet>,
    /// The client's PUBLISH rate, when limited.
    publish_rate: Option<RateLimiter>,
    /// Whether the last PUBLISH was over the rate (a flood is logged once).
    throttled: bool,
    max_subscriptions: usize,
    counters: Arc<LimitCounters>,
}

impl Session {
    async fn serve(&mut self, taken_over: &CancellationToken, shutdown: &CancellationToken) -> End {
        // MQTT-3.1.2-24: one and a half keepalive periods without a packet ends it.
        let keep_alive = self.agreed.keep_alive;
        let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut deadline = grace.map(|g| Instant::now() + g);
        // Grown by the first batch: an idle session holds none (64 slots are 5.6 KiB).
        let mut batch = Vec::new();
        loop {
            // QoS 1/2 messages wait while the in-flight window is full (and
            // everything queued behind them, to keep the order).
            let room = self.state.inflight.room().min(WRITE_BATCH);
            let retained_due = room > 0 && !self.state.retained.is_empty();
            tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                _ = taken_over.cancelled() => return End::TakenOver,
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return End::KeepAliveExpired;
                }
                received = self.conn.read_packet() => {
                    let mut packet = match received {
                        Ok(Some(p)) => p,
                        Ok(None) => return End::PeerClosed,
                        Err(e) => return End::Error(e),
                    };
                    deadline = grace.map(|g| Instant::now() + g);
                    // Everything that arrived together is handled before the
                    // replies go out in one write (a PUBACK per write cost a
                    // system call per message).
                    loop {
                        if let Some(end) = self.handle(packet).await {
                            return end;
                        }
                        match self.conn.buffered_packet() {
                            Ok(Some(next)) => packet = next,
                            Ok(None) => break,
                            Err(e) => return End::Error(e),
                        }
                    }
                    if let Err(e) = self.flush_replies().await {
                        return End::Error(e);
                    }
                }
                _ = std::future::ready(()), if retained_due => {
                    if let Err(e) = self.send_retained().await {
                        return End::Error(e);
                    }
                }
                n = self.state.outbound.recv_many(&mut batch, room), if room > 0 && !retained_due => {
                    if n == 0 {
                        // The router dropped the session: a clean takeover.
                        return End::TakenOver;
                    }
                    let due = std::mem::take(&mut batch);
                    if let Err(e) = self.send(due).await {
                        return End::Error(e);
                    }
                }
            }
        }
    }
}

impl Session {
    /// Records a change to this session's stored state, if it is stored.
    fn persist(&self, op: Op) {
        if let Some(store) = self.store.as_ref().filter(|_| self.persistent) {
            store.push(op);
        }
    }
}

/// With `fsync` on every acknowledgement (or a timed commit far behind),
/// waits until everything the acknowledgements among `replies` promise is on
/// disk (and what else was pushed meanwhile: one commit serves them all).
async fn durable_before_acks(
    store: Option<&Store>,
    replies: &[Packet],
) -> Result<(), crate::store::StoreFailed> {
    let Some(store) = store else {
        return Ok(());
    };
    let acks = replies.iter().any(|p| {
        matches!(
            p,
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_)
        )
    });
    if !acks || !store.waits() {
        return Ok(());
    }
    store.durable(store.ticket()).await
}

/// A Will or message as this bridge publishes it on a client's behalf.
fn publish_of_will(will: mqtt_proto::LastWill) -> Publish {
    let mut publish = Publish::new(&will.topic, will.payload);
    publish.qos = will.qos;
    publish.retain = will.retain;
    // Will Delay Interval is about when, not part of the message.
    publish.properties = will
        .properties
        .iter()
        .filter(|p| !matches!(p, mqtt_proto::Property::WillDelayInterval(_)))
        .cloned()
        .collect();
    publish
}
