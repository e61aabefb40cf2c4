//! The bridge: the MQTT broker devices (over TCP) and browsers (over
//! WebSocket) meet at.
//!
//! Map of the crate, in the order bytes flow ([`config`] is the TOML file):
//! - [`listener`]: TCP and WebSocket accept loops; the WebSocket upgrade checks
//!   the path and negotiates the `mqtt` subprotocol.
//! - [`transport`]: one byte-stream type over TCP, TLS, WebSocket and WSS
//!   ([`tls`]: the rustls configuration).
//! - [`connection`]: framing, whole packets in and out via `mqtt-proto`.
//! - [`session`]: one client's protocol loop (handshake, keepalive, acks).
//! - [`session_state`]: what a session keeps between connections: its queue,
//!   [`inflight`] messages (QoS 1/2 sent, not yet acknowledged), QoS 2 received.
//! - [`router`]: sessions (connected or kept offline), their subscriptions,
//!   fan-out to bounded queues.
//! - [`trie`]: the subscription index the router matches topics against.
//! - [`stats`], [`sys`]: traffic counters and the `$SYS/broker/...` topics.
//! - [`retain`]: the last retained message per topic.
//! - [`store`]: with a data directory, retained messages and persistent
//!   sessions in a redb file, written in group commits by one thread.
//! - [`demo`]: simulated sensor devices, real MQTT clients over loopback TCP.
//! - [`upstream`]: links to other brokers, forwarding topics both ways.
//! - [`http`]: `--http`, the dashboard, `/mqtt`, `/metrics` and `/healthz` on one port.
//!
//! Shutdown is explicit: [`Bridge::run`] cancels one token that every accept
//! loop, session and device watches, then waits until all of them have
//! finished, or [`SHUTDOWN_GRACE`] has passed (a session stuck writing to a
//! client that stopped reading must not hold the process).

pub mod auth;
pub mod config;
pub mod connection;
pub mod demo;
pub mod handshake;
pub mod http;
pub mod inflight;
pub mod limits;
pub mod listener;
pub mod queue;
pub mod retain;
pub mod router;
pub mod session;
pub mod session_state;
pub mod stats;
pub mod store;
pub mod sys;
pub mod tls;
pub mod topic_alias;
pub mod transport;
pub mod trie;
pub mod upstream;

use anyhow::Context;
use auth::{Auth, AuthConfig};
use handshake::ServerLimits;
use listener::Shared;
use router::{Router, SessionLimits};
use session::SessionSettings;
use stats::TrafficStats;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::{Store, SyncPolicy};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for connections to close before giving up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Config {
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    pub demo: bool,
    /// Largest packet accepted from a client; larger ones close the connection.
    pub max_packet_size: usize,
    /// Messages queued per session, connected or kept offline; beyond it new
    /// messages for that session are dropped, counted and logged.
    pub outbound_queue: usize,
    /// QoS 1/2 messages sent to a client and not yet acknowledged (a 5.0
    /// client's Receive Maximum may lower it).
    pub max_inflight: u16,
    /// QoS 2 messages a client may have in flight towards us (announced to 5.0
    /// clients as Receive Maximum; exceeding it is DISCONNECT 0x93).
    pub receive_maximum: u16,
    /// Topic aliases a 5.0 client may define towards us.
    pub topic_alias_maximum: u16,
    /// The longest keepalive allowed; a 5.0 client asking for more (or none)
    /// is told this one. 0: any.
    pub max_keep_alive: u16,
    /// Topics with a retained message; beyond it new ones are refused and counted.
    pub max_retained: usize,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// How often `$SYS` topics are published; zero turns them off.
    pub sys_interval: Duration,
    /// Where retained messages and persistent sessions are kept; `None`:
    /// in memory only, lost when the bridge stops.
    pub data_dir: Option<PathBuf>,
    /// When the data directory's changes reach the disk.
    pub sync: SyncPolicy,
    /// Password and ACL files.
    pub auth: AuthConfig,
    /// TLS and WSS listeners, when a certificate is configured.
    pub tls: Option<tls::TlsSettings>,
    /// Limits against abuse.
    pub limits: limits::Limits,
    /// One port for the dashboard's files, `/mqtt`, `/metrics` and `/healthz`.
    pub http: Option<SocketAddr>,
    /// The dashboard's files for `http` (trunk's `dist/`).
    pub dashboard_dir: PathBuf,
    /// Links to other brokers.
    pub upstreams: Vec<upstream::rules::UpstreamConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tcp: SocketAddr::from(([127, 0, 0, 1], 1883)),
            ws: SocketAddr::from(([127, 0, 0, 1], 9001)),
            demo: false,
            max_packet_size: 1024 * 1024,
            outbound_queue: 1024,
            // rumqttd's shipped setting; Mosquitto's 20 halves QoS 1 fan-out here.
            max_inflight: 100,
            receive_maximum: 64,
            topic_alias_maximum: 32,
            max_keep_alive: 0,
            max_retained: 100_000,
            connect_timeout: Duration::from_secs(10),
            sys_interval: Duration::from_secs(10),
            data_dir: None,
            sync: SyncPolicy::EveryAck,
            auth: AuthConfig::default(),
            tls: None,
            limits: limits::Limits::default(),
            http: None,
            dashboard_dir: PathBuf::from("dist"),
            upstreams: Vec::new(),
        }
    }
}

/// The MQTT/TLS and WSS listeners and the acceptor they share.
struct TlsListeners {
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpListener,
    ws: TcpListener,
}

/// A bridge whose listeners are bound but not yet accepting.
pub struct Bridge {
    config: Config,
    tcp: TcpListener,
    ws: TcpListener,
    router: Arc<Router>,
    store: Option<Store>,
    auth: Arc<Auth>,
    tls: Option<TlsListeners>,
    http: Option<TcpListener>,
    links: Vec<upstream::Link>,
    /// Sessions read back from the store, whose expiry timers start with `run`.
    restored: Vec<router::RestoredSession>,
}

impl Bridge {
    pub async fn bind(config: Config) -> anyhow::Result<Bridge> {
        let tcp = TcpListener::bind(config.tcp)
            .await
            .with_context(|| format!("binding the TCP listener to {}", config.tcp))?;
        let ws = TcpListener::bind(config.ws)
            .await
            .with_context(|| format!("binding the WebSocket listener to {}", config.ws))?;
        let limits = SessionLimits {
            queue: config.outbound_queue,
            inflight: usize::from(config.max_inflight),
        };
        let tls = match &config.tls {
            None => None,
            Some(settings) => Some(TlsListeners {
                acceptor: tls::acceptor(settings)?,
                tcp: TcpListener::bind(settings.tcp)
                    .await
                    .with_context(|| format!("binding the TLS listener to {}", settings.tcp))?,
                ws: TcpListener::bind(settings.ws)
                    .await
                    .with_context(|| format!("binding the WSS listener to {}", settings.ws))?,
            }),
        };
        let http = match config.http {
            None => None,
            Some(addr) => {
                if !config.dashboard_dir.join("index.html").exists() {
                    tracing::warn!(
                        dir = %config.dashboard_dir.display(),
                        "no index.html in the dashboard directory: /metrics, /healthz and /mqtt only (make dist builds it)"
                    );
                }
                Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding the HTTP listener to {addr}"))?,
                )
            }
        };
        let auth = Arc::new(Auth::load(&config.auth)?);
        match auth.users() {
            Some(users) => tracing::info!(
                users,
                allow_anonymous = auth.allows_anonymous(),
                acl = auth.has_acl(),
                "password file loaded"
            ),
            None if auth.has_acl() => {
                tracing::info!("ACL file loaded; no password file: user names are taken as given")
            }
            None => {}
        }
        let (store, snapshot) = match &config.data_dir {
            Some(dir) => {
                let (store, snapshot) = Store::open(dir, config.sync)?;
                (Some(store), Some(snapshot))
            }
            None => (None, None),
        };
        let router = Arc::new(Router::new(limits, config.max_retained, store.clone()));
        let mut restored = Vec::new();
        match (&store, snapshot) {
            (Some(store), Some(snapshot)) => {
                let retained = snapshot.retained.len();
                restored = router.restore(snapshot);
                let queued: usize = restored
                    .iter()
                    .map(|r| router.queued_for(r.key))
                    .sum();
                tracing::info!(
                    path = %store.path().display(),
                    sync = ?store.sync(),
                    retained,
                    sessions = restored.len(),
                    queued,
                    "data store open"
                );
            }
            _ => tracing::info!(
                "no data directory: retained messages and sessions are kept in memory only and lost when the bridge stops (--data-dir keeps them)"
            ),
        }
        // After the restore: a link resumes its stored session and queue.
        let links = config
            .upstreams
            .iter()
            .map(|c| upstream::Link::register(&router, c.clone()))
            .collect();
        Ok(Bridge {
            config,
            tcp,
            ws,
            router,
            links,
            store,
            auth,
            tls,
            http,
            restored,
        })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr().unwrap_or(self.config.tcp)
    }

    /// The MQTT/TLS listener's address, when there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|t| t.tcp.local_addr().ok())
    }

    /// The HTTP listener's address, when there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The WSS listener's address, when there is one.
    pub fn wss_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|t| t.ws.local_addr().ok())
    }

    pub fn ws_addr(&self) -> SocketAddr {
        self.ws.local_addr().unwrap_or(self.config.ws)
    }

    pub fn router(&self) -> Arc<Router> {
        self.router.clone()
    }

    /// Serves until `shutdown` is cancelled, then waits for every connection
    /// and demo device to finish. Fails if the data store cannot be written
    /// (after shutting down the same way).
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tasks = TaskTracker::new();
        let counters = Arc::new(limits::LimitCounters::default());
        let link_stats: Arc<Vec<(String, Arc<upstream::LinkStats>)>> = Arc::new(
            self.links
                .iter()
                .map(|l| (l.config.name.clone(), l.stats.clone()))
                .collect(),
        );
        for link in std::mem::take(&mut self.links) {
            tasks.spawn(upstream::run(link, self.router.clone(), shutdown.clone()));
        }
        for restored in std::mem::take(&mut self.restored) {
            if let Some(after) = restored.expires_in {
                let (router, shutdown) = (self.router.clone(), shutdown.clone());
                tasks.spawn(async move {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(after) => router.expire(restored.key, restored.connection),
                    }
                });
            }
        }
        let traffic = Arc::new(TrafficStats::default());
        if !self.config.sys_interval.is_zero() {
            tasks.spawn(sys::run(
                self.router.clone(),
                traffic.clone(),
                counters.clone(),
                link_stats.clone(),
                self.config.sys_interval,
                shutdown.clone(),
            ));
        }
        let shared = Shared {
            router: self.router.clone(),
            settings: Arc::new(SessionSettings {
                connect_timeout: self.config.connect_timeout,
                limits: ServerLimits {
                    receive_maximum: self.config.receive_maximum,
                    max_packet_size: u32::try_from(self.config.max_packet_size).unwrap_or(u32::MAX),
                    topic_alias_maximum: self.config.topic_alias_maximum,
                    max_keep_alive: self.config.max_keep_alive,
                    max_inflight: self.config.max_inflight,
                },
                auth: self.auth.clone(),
                max_subscriptions: self.config.limits.max_subscriptions,
                publish_rate: self.config.limits.publish_rate,
                counters: counters.clone(),
            }),
            max_packet_size: self.config.max_packet_size,
            traffic: traffic.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            limits: Arc::new(self.config.limits.clone()),
            counters: counters.clone(),
            connections: Arc::new(limits::ConnectionCount::default()),
            connect_rate: Arc::new(limits::ConnectRate::new(self.config.limits.connect_rate)),
            links: link_stats,
        };
        let device_target = demo::loopback_target(self.tcp_addr());
        tasks.spawn(listener::accept_tcp(self.tcp, shared.clone(), None));
        tasks.spawn(listener::accept_ws(self.ws, shared.clone(), None));
        if let Some(http) = self.http {
            let site = Arc::new(http::Site::new(self.config.dashboard_dir.clone()));
            tasks.spawn(listener::accept_http(http, shared.clone(), site));
        }
        if let Some(tls) = self.tls {
            let acceptor = Some(tls.acceptor);
            tasks.spawn(listener::accept_tcp(
                tls.tcp,
                shared.clone(),
                acceptor.clone(),
            ));
            tasks.spawn(listener::accept_ws(tls.ws, shared, acceptor));
        }
        if self.config.demo {
            for device in demo::DEVICES {
                tasks.spawn(demo::run_device(device, device_target, shutdown.clone()));
            }
        }
        let mut store_failed = false;
        match &self.store {
            Some(store) => tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = store.failed() => {
                    store_failed = true;
                    shutdown.cancel();
                }
            },
            None => shutdown.cancelled().await,
        }
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                stuck = tasks.len(),
                "connections still busy after {SHUTDOWN_GRACE:?} (a client not reading?); stopping without them"
            );
        }
        if let Some(store) = self.store {
            // What the last connections changed is committed before the process ends.
            let closing = store.clone();
            let _ = tokio::task::spawn_blocking(move || closing.close()).await;
            if store_failed {
                anyhow::bail!(
                    "the data store {} cannot be written",
                    store.path().display()
                );
            }
        }
        Ok(())
    }
}
