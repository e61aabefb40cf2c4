//! Upstream bridging: this bridge as an MQTT client of another broker (a
//! cluster's EMQX, HiveMQ or VerneMQ, or a Mosquitto), forwarding topics
//! each way by [`rules`].
//!
//! Outward messages reach the link through the router like any session's:
//! each link has a local session, `$bridge/<name>`, kept forever, whose
//! subscriptions are the outward rules' local filters. Its bounded queue
//! holds what arrives while the link is down (stored with `--data-dir`, so
//! it survives a restart), drops with a count when full, and is drained in
//! order once the link is up. A stored message leaves the store when the
//! upstream broker acknowledges it. Upstream, a `ClientSession` (the
//! dashboard's sans-IO client) keeps QoS 1/2 messages until acknowledged and
//! resends them after a reconnect.
//!
//! No loops: inward messages are published here as coming from the link's
//! session, and its subscriptions have No Local; upstream, a 5.0 link
//! subscribes with No Local, and a 3.1.1 link drops the echo of a message it
//! sent (Mosquitto's bridges have the same problem and a private protocol
//! flag for it).

pub mod rules;

use crate::handshake::SessionExpiry;
use crate::router::{Delivery, Router};
use crate::session_state::SessionState;
use crate::store::Op;
use crate::transport::ByteStream;
use crate::trie::{SessionKey, SubOptions};
use bytes::BytesMut;
use mqtt_proto::{
    ClientConfig, ClientSession, Event, Property, ProtocolVersion, Publish, Subscription,
};
use rules::UpstreamConfig;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

/// The local session's client id for link `name`. CONNECTs with such an id
/// are refused.
pub fn session_id(name: &str) -> String {
    format!("{RESERVED_PREFIX}{name}")
}

pub const RESERVED_PREFIX: &str = "$bridge/";

const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// QoS 1/2 messages upstream may have unacknowledged.
const WINDOW: usize = 256;
/// Messages remembered to recognise their echo on a 3.1.1 link.
const ECHOES: usize = 1024;

/// What `$SYS/broker/bridge/<name>/...` and `/metrics` report.
#[derive(Debug, Default)]
pub struct LinkStats {
    pub connected: AtomicBool,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Outward messages no rule maps, or upstream refused to take.
    pub dropped: AtomicU64,
}

/// One configured link and its numbers.
pub struct Link {
    pub config: UpstreamConfig,
    pub stats: Arc<LinkStats>,
    key: SessionKey,
    state: Arc<AsyncMutex<SessionState>>,
}

impl Link {
    /// Registers the link's local session and its outward subscriptions
    /// (resuming the stored one, with its queue, after a restart).
    pub fn register(router: &Router, config: UpstreamConfig) -> Link {
        let registration = router.register(&session_id(&config.name), false, SessionExpiry::Never);
        // Down until it connects: only QoS 1/2 wait for it, so a stream of
        // QoS 0 readings cannot push them out of the bounded queue.
        router.set_online(registration.key, false);
        // A stored session may subscribe to what the configuration no longer forwards.
        let wanted: Vec<String> = config
            .topics
            .iter()
            .filter(|r| r.direction.outward())
            .map(|r| r.local_filter())
            .collect();
        for filter in router.filters_of(registration.key) {
            if !wanted.contains(&filter) {
                router.unsubscribe(registration.key, &filter);
            }
        }
        for rule in config.topics.iter().filter(|r| r.direction.outward()) {
            let options = SubOptions {
                qos: rule.qos(),
                no_local: true,
                retain_as_published: true,
                id: None,
            };
            router.subscribe(registration.key, &rule.local_filter(), options);
        }
        Link {
            config,
            stats: Arc::new(LinkStats::default()),
            key: registration.key,
            state: registration.state,
        }
    }
}

/// Runs the link until shutdown: connect, forward both ways, reconnect with
/// exponential backoff and jitter.
pub async fn run(link: Link, router: Arc<Router>, shutdown: CancellationToken) {
    let Link {
        config,
        stats,
        key,
        state,
    } = link;
    let Ok(address) = config.address() else {
        return; // checked with the configuration
    };
    let tls = match address.tls {
        true => match tls_connector(&config) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(link = config.name, error = %e, "upstream TLS is not usable; the link stays down");
                return;
            }
        },
        false => None,
    };
    let mut state = state.lock_owned().await;
    let mut client_config = ClientConfig::new(config.client_id());
    client_config.protocol = match config.version {
        5 => ProtocolVersion::V5,
        _ => ProtocolVersion::V311,
    };
    client_config.keep_alive_secs = config.keepalive;
    client_config.clean_session = false;
    client_config.session_expiry_secs = u32::MAX;
    client_config.username = config.username.clone();
    client_config.password = config
        .password
        .as_ref()
        .map(|p| p.clone().into_bytes().into());
    let mut forwarder = Forwarder {
        client: ClientSession::new(client_config),
        config: &config,
        router: &router,
        key,
        stats: &stats,
        origin: Instant::now(),
        pending: HashMap::new(),
        echoes: VecDeque::new(),
        subscribed: false,
    };
    let mut backoff = BACKOFF_FIRST;
    let mut outage_logged = false;
    while !shutdown.is_cancelled() {
        let target = format!("{}:{}", address.host, address.port);
        let connecting = async {
            let tcp = tokio::net::TcpStream::connect(&target).await?;
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn ByteStream> = match &tls {
                None => Box::new(tcp),
                Some(connector) => {
                    let name = rustls_pki_types::ServerName::try_from(address.host.clone())
                        .map_err(std::io::Error::other)?;
                    Box::new(connector.connect(name, tcp).await?)
                }
            };
            std::io::Result::Ok(stream)
        };
        let connected = tokio::select! {
            _ = shutdown.cancelled() => break,
            c = tokio::time::timeout(CONNECT_TIMEOUT, connecting) => c,
        };
        let stream = match connected {
            Ok(Ok(stream)) => stream,
            failed => {
                if !outage_logged {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(
                        link = config.name,
                        upstream = config.address,
                        error = why,
                        "upstream unreachable; retrying with backoff"
                    );
                    outage_logged = true;
                }
                // Jitter: sites restarting together do not reconnect in step.
                let jitter = Duration::from_millis(
                    u64::from(std::process::id() ^ forwarder.now_ms() as u32) % 250,
                );
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff + jitter) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let connected_at = Instant::now();
        let end = forwarder.serve(stream, &mut state, &shutdown).await;
        stats.connected.store(false, Ordering::Relaxed);
        router.set_online(key, false);
        outage_logged = true;
        tracing::warn!(
            link = config.name,
            reason = end,
            "upstream link down; reconnecting"
        );
        if connected_at.elapsed() > Duration::from_secs(10) {
            backoff = BACKOFF_FIRST;
        }
    }
}

struct Forwarder<'a> {
    client: ClientSession,
    config: &'a UpstreamConfig,
    router: &'a Router,
    key: SessionKey,
    stats: &'a LinkStats,
    origin: Instant,
    /// Upstream packet id -> the stored message it carries.
    pending: HashMap<u16, u64>,
    /// Recently sent (remote topic, payload), to drop their echo on 3.1.1.
    echoes: VecDeque<(String, bytes::Bytes)>,
    subscribed: bool,
}

impl Forwarder<'_> {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn now(&self) -> mqtt_proto::Instant {
        mqtt_proto::Instant::from_millis(self.now_ms())
    }

    /// One connection: until it drops (the reason) or shutdown.
    async fn serve(
        &mut self,
        stream: Box<dyn ByteStream>,
        state: &mut SessionState,
        shutdown: &CancellationToken,
    ) -> String {
        let (mut reader, mut writer) = tokio::io::split(stream);
        if let Err(e) = self.client.connect(self.now()) {
            return e.to_string();
        }
        let mut received = BytesMut::with_capacity(16 * 1024);
        let mut batch = Vec::new();
        loop {
            while let Some(bytes) = self.client.poll_transmit() {
                if let Err(e) = writer.write_all(&bytes).await {
                    self.client.handle_transport_closed();
                    return e.to_string();
                }
            }
            while let Some(event) = self.client.poll_event() {
                if let Some(end) = self.handle_event(event) {
                    return end;
                }
            }
            let connected = self.client.state() == mqtt_proto::SessionState::Connected;
            let room = match connected {
                true => WINDOW.saturating_sub(self.client.unacknowledged()),
                false => 0,
            };
            let deadline = self.client.poll_timeout().map(|at| {
                let wait = at.as_millis().saturating_sub(self.now_ms());
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.client.disconnect(self.now());
                    while let Some(bytes) = self.client.poll_transmit() {
                        let _ = writer.write_all(&bytes).await;
                    }
                    return "shutting down".to_owned();
                }
                read = reader.read_buf(&mut received) => match read {
                    Ok(n) if n > 0 => {
                        self.client.handle_bytes(&received, self.now());
                        received.clear();
                    }
                    _ => self.client.handle_transport_closed(),
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                    self.client.handle_timeout(self.now());
                }
                n = state.outbound.recv_many(&mut batch, room), if room > 0 => {
                    if n == 0 {
                        return "local session closed".to_owned();
                    }
                    for delivery in std::mem::take(&mut batch) {
                        self.forward_out(delivery);
                    }
                }
            }
        }
    }

    /// `Some(reason)` when the connection is over.
    fn handle_event(&mut self, event: Event) -> Option<String> {
        match event {
            Event::Connected { session_present } => {
                self.stats.connected.store(true, Ordering::Relaxed);
                self.router.set_online(self.key, true);
                tracing::info!(
                    link = self.config.name,
                    upstream = self.config.address,
                    session_present,
                    "upstream link up"
                );
                if !self.subscribed {
                    self.subscribe();
                }
            }
            Event::Message(p) => self.forward_in(p),
            Event::Published { packet_id } => {
                if let Some(seq) = self.pending.remove(&packet_id) {
                    self.done(Some(seq));
                }
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Event::SubAck { ack, filters } => {
                for (code, filter) in ack.reason_codes.iter().zip(&filters) {
                    if code.is_error() {
                        tracing::warn!(
                            link = self.config.name,
                            filter = &**filter,
                            ?code,
                            "upstream refused the subscription"
                        );
                    }
                }
            }
            Event::UnsubAck(_) => {}
            Event::Disconnected(reason) => return Some(format!("{reason:?}")),
        }
        None
    }

    /// Subscribes upstream to the inward rules' remote filters; the client
    /// session makes them again after a reconnect that lost them.
    fn subscribe(&mut self) {
        let v5 = self.client.config().protocol.is_v5();
        let wanted: Vec<Subscription> = self
            .config
            .topics
            .iter()
            .filter(|r| r.direction.inward())
            .map(|r| {
                let mut s = Subscription::new(&*r.remote_filter(), r.qos());
                s.no_local = v5;
                s.retain_as_published = v5;
                s
            })
            .collect();
        self.subscribed = true;
        if wanted.is_empty() {
            return;
        }
        if let Err(e) = self.client.subscribe(wanted, self.now()) {
            tracing::warn!(link = self.config.name, error = %e, "cannot subscribe upstream");
        }
    }

    fn forward_out(&mut self, delivery: Delivery) {
        let Delivery {
            publish,
            expires_at,
            stored,
        } = delivery;
        if expires_at.is_some_and(|at| at <= Instant::now()) {
            return self.done(stored);
        }
        let Some(remote) = self.config.to_remote(publish.topic()) else {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return self.done(stored);
        };
        let mut out = Publish::new(&remote, publish.payload_bytes());
        out.qos = publish.qos;
        out.retain = publish.retain;
        out.properties = passed_on(&publish);
        if !self.client.config().protocol.is_v5() {
            if self.echoes.len() == ECHOES {
                self.echoes.pop_front();
            }
            self.echoes
                .push_back((remote.clone(), publish.payload_bytes()));
        }
        match self.client.publish(out, self.now()) {
            Ok(Some(id)) => {
                if let Some(seq) = stored {
                    self.pending.insert(id, seq);
                }
            }
            Ok(None) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(link = self.config.name, topic = remote, error = %e, "upstream cannot take this message; dropped");
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.done(stored);
            }
        }
    }

    fn forward_in(&mut self, publish: Publish) {
        if let Some(at) = self.echoes.iter().position(|(topic, payload)| {
            topic == publish.topic() && *payload == publish.payload_bytes()
        }) {
            self.echoes.remove(at);
            return;
        }
        let Some(local) = self.config.to_local(publish.topic()) else {
            return;
        };
        let mut message = Publish::new(&local, publish.payload_bytes());
        message.qos = publish.qos;
        message.retain = publish.retain;
        message.properties = passed_on(&publish);
        let expires_at = message
            .properties
            .find(|p| match p {
                Property::MessageExpiryInterval(s) => Some(*s),
                _ => None,
            })
            .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.router.publish(Some(self.key), &message, expires_at);
    }

    /// A stored message is delivered upstream, or will never be: it leaves the store.
    fn done(&self, stored: Option<u64>) {
        if let (Some(seq), Some(store)) = (stored, self.router.store()) {
            store.push(Op::Done { key: self.key, seq });
        }
    }
}

/// Properties that travel with a message across the link: not the ones
/// each hop sets for itself (subscription identifiers, topic aliases).
fn passed_on(publish: &Publish) -> mqtt_proto::Properties {
    let mut properties = publish.properties.clone();
    properties.retain(|p| {
        !matches!(
            p,
            Property::SubscriptionIdentifier(_) | Property::TopicAlias(_)
        )
    });
    properties
}

fn tls_connector(config: &UpstreamConfig) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    let path = config
        .ca_file
        .clone()
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        // A bundle may hold certificates rustls cannot use; the rest still count.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!("{}: no usable CA certificate", path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client)))
}
