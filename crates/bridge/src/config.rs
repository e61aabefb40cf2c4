//! The TOML configuration file: every setting the bridge has, each checked
//! with a message naming the key. Command-line flags override the file.

use crate::Config;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The file's keys, all optional (defaults are [`Config::default`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// MQTT/TCP listener address.
    pub tcp: Option<SocketAddr>,
    /// MQTT-over-WebSocket listener address (path /mqtt).
    pub ws: Option<SocketAddr>,
    /// Start the simulated sensor devices.
    pub demo: Option<bool>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive.
    pub log: Option<String>,
    /// Seconds between `$SYS` updates; 0 turns them off.
    pub sys_interval: Option<u64>,
    /// Largest packet accepted, in bytes.
    pub max_packet_size: Option<u32>,
    /// Messages queued per session before new ones for it are dropped.
    pub max_queued_messages: Option<usize>,
    /// QoS 1/2 messages sent to a client and not yet acknowledged.
    pub max_inflight_messages: Option<u16>,
    /// QoS 2 messages a client may have in flight towards the bridge.
    pub receive_maximum: Option<u16>,
    /// Topic aliases a 5.0 client may define.
    pub topic_alias_maximum: Option<u16>,
    /// Longest keepalive allowed, in seconds; 0 allows any.
    pub max_keepalive: Option<u16>,
    /// Topics with a retained message.
    pub max_retained_messages: Option<usize>,
    /// Seconds a new connection has to send CONNECT.
    pub connect_timeout: Option<u64>,
    /// Directory for retained messages and persistent sessions.
    pub data_dir: Option<std::path::PathBuf>,
    /// "every-ack" or an interval such as "100ms".
    pub fsync: Option<String>,
    /// Users and their password hashes (`bridge passwd` or `mosquitto_passwd`).
    pub password_file: Option<std::path::PathBuf>,
    /// Topic access per user, in Mosquitto's format.
    pub acl_file: Option<std::path::PathBuf>,
    /// Clients without a user name; default: only without a password file.
    pub allow_anonymous: Option<bool>,
    /// PEM certificate chain for the TLS and WSS listeners.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for it.
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificates: clients on TLS and WSS must present one they signed.
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// MQTT/TLS listener address (with a certificate).
    pub tls: Option<SocketAddr>,
    /// WSS listener address (with a certificate).
    pub wss: Option<SocketAddr>,
    /// Connections open at once; 0: any.
    pub max_connections: Option<usize>,
    /// Subscriptions per session; 0: any.
    pub max_subscriptions_per_client: Option<usize>,
    /// PUBLISH packets a second per client; 0: any.
    pub max_publish_rate: Option<u32>,
    /// New connections a second per IP address; 0: any.
    pub max_connect_rate: Option<u32>,
    /// Largest WebSocket frame, in bytes.
    pub ws_max_frame_size: Option<usize>,
    /// Origins allowed to open a WebSocket (browsers send one); empty: any.
    pub ws_origins: Option<Vec<String>>,
    /// One port for the dashboard, /mqtt, /metrics and /healthz.
    pub http: Option<SocketAddr>,
    /// The dashboard's files for `http`.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// Links to other brokers (`[[upstream]]` tables).
    pub upstream: Option<Vec<crate::upstream::rules::UpstreamConfig>>,
}

/// TLS settings from the file and flags together, checked.
#[derive(Debug, Default)]
pub struct TlsChoice {
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
    pub client_ca: Option<std::path::PathBuf>,
    pub tcp: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
}

impl TlsChoice {
    /// The listeners' settings; `None` without a certificate. Ports 8883
    /// (MQTT's TLS port) and 9443 on the plain TCP listener's host unless set.
    pub fn settings(
        self,
        host: std::net::IpAddr,
    ) -> Result<Option<crate::tls::TlsSettings>, String> {
        match (self.cert, self.key) {
            (Some(cert), Some(key)) => Ok(Some(crate::tls::TlsSettings {
                cert,
                key,
                client_ca: self.client_ca,
                tcp: self.tcp.unwrap_or(SocketAddr::new(host, 8883)),
                ws: self.ws.unwrap_or(SocketAddr::new(host, 9443)),
            })),
            (None, None) if self.client_ca.is_none() && self.tcp.is_none() && self.ws.is_none() => {
                Ok(None)
            }
            (None, None) => Err("TLS listeners need tls_cert and tls_key".to_owned()),
            (Some(_), None) => Err("tls_cert needs tls_key".to_owned()),
            (None, Some(_)) => Err("tls_key needs tls_cert".to_owned()),
        }
    }
}

/// A configuration file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {problem}")]
    Invalid {
        path: String,
        key: &'static str,
        problem: String,
    },
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        load_text(
            path,
            |path, source| ConfigError::Read { path, source },
            Self::parse,
        )
    }

    /// Parses and checks `text`; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<FileConfig, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            // toml's message names the key and shows the line.
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.check(path)?;
        Ok(file)
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            problem,
        };
        if let Some(n) = self.max_packet_size {
            if !(64..=mqtt_proto::MAX_POSSIBLE_PACKET_SIZE as u32).contains(&n) {
                return Err(invalid(
                    "max_packet_size",
                    format!("must be between 64 and 268435460 bytes, not {n}"),
                ));
            }
        }
        for (key, value) in [
            ("max_inflight_messages", self.max_inflight_messages),
            ("receive_maximum", self.receive_maximum),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        for (key, value) in [
            ("max_queued_messages", self.max_queued_messages),
            ("max_retained_messages", self.max_retained_messages),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        if self.connect_timeout == Some(0) {
            return Err(invalid(
                "connect_timeout",
                "must be at least 1 second".to_owned(),
            ));
        }
        if let Some(n) = self.ws_max_frame_size {
            if n < 64 {
                return Err(invalid(
                    "ws_max_frame_size",
                    format!("must be at least 64 bytes, not {n}"),
                ));
            }
        }
        for link in self.upstream.iter().flatten() {
            link.check()
                .map_err(|problem| invalid("upstream", format!("{}: {problem}", link.name)))?;
        }
        if let Some(fsync) = &self.fsync {
            fsync
                .parse::<crate::store::SyncPolicy>()
                .map_err(|problem| invalid("fsync", problem))?;
        }
        if let Some(level) = &self.log {
            if tracing_subscriber::EnvFilter::try_new(level).is_err() {
                return Err(invalid(
                    "log",
                    format!("{level:?} is not a log level or filter"),
                ));
            }
        }
        Ok(())
    }

    /// `base` with this file's settings applied.
    pub fn apply(&self, mut base: Config) -> Config {
        let secs = Duration::from_secs;
        base.tcp = self.tcp.unwrap_or(base.tcp);
        base.ws = self.ws.unwrap_or(base.ws);
        base.demo = self.demo.unwrap_or(base.demo);
        base.sys_interval = self.sys_interval.map(secs).unwrap_or(base.sys_interval);
        base.max_packet_size = self
            .max_packet_size
            .map_or(base.max_packet_size, |n| n as usize);
        base.outbound_queue = self.max_queued_messages.unwrap_or(base.outbound_queue);
        base.max_inflight = self.max_inflight_messages.unwrap_or(base.max_inflight);
        base.receive_maximum = self.receive_maximum.unwrap_or(base.receive_maximum);
        base.topic_alias_maximum = self.topic_alias_maximum.unwrap_or(base.topic_alias_maximum);
        base.max_keep_alive = self.max_keepalive.unwrap_or(base.max_keep_alive);
        base.max_retained = self.max_retained_messages.unwrap_or(base.max_retained);
        let limits = &mut base.limits;
        limits.max_connections = self.max_connections.unwrap_or(limits.max_connections);
        limits.max_subscriptions = self
            .max_subscriptions_per_client
            .unwrap_or(limits.max_subscriptions);
        limits.publish_rate = self.max_publish_rate.unwrap_or(limits.publish_rate);
        limits.connect_rate = self.max_connect_rate.unwrap_or(limits.connect_rate);
        // A browser sends a packet as one frame: by default as large as a packet.
        limits.ws_max_frame_size = self.ws_max_frame_size.unwrap_or(base.max_packet_size);
        limits.ws_origins = self.ws_origins.clone().unwrap_or(limits.ws_origins.clone());
        base.http = self.http.or(base.http);
        base.upstreams = self.upstream.clone().unwrap_or(base.upstreams);
        base.dashboard_dir = self.dashboard_dir.clone().unwrap_or(base.dashboard_dir);
        base.data_dir = self.data_dir.clone().or(base.data_dir);
        base.auth.password_file = self.password_file.clone().or(base.auth.password_file);
        base.auth.acl_file = self.acl_file.clone().or(base.auth.acl_file);
        base.auth.allow_anonymous = self.allow_anonymous.or(base.auth.allow_anonymous);
        if let Some(Ok(sync)) = self.fsync.as_deref().map(str::parse) {
            base.sync = sync;
        }
        base.connect_timeout = self
            .connect_timeout
            .map(secs)
            .unwrap_or(base.connect_timeout);
        base
    }
}

/// Reads the text file at `path` (the config file, a password or ACL file)
/// and `parse`s it, naming the file as shown to the user in either error.
pub fn load_text<T, E>(
    path: &Path,
    read_error: impl FnOnce(String, std::io::Error) -> E,
    parse: impl FnOnce(&str, &str) -> Result<T, E>,
) -> Result<T, E> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &shown),
        Err(source) => Err(read_error(shown, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_applies() {
        let file = FileConfig::parse(
            r#"
            tcp = "0.0.0.0:1884"
            demo = true
            log = "debug"
            sys_interval = 0
            max_packet_size = 65536
            max_inflight_messages = 10
            max_keepalive = 120
            data_dir = "/var/lib/bridge"
            fsync = "25ms"
            "#,
            "t.toml",
        )
        .expect("valid");
        let config = file.apply(Config::default());
        assert_eq!(config.tcp, "0.0.0.0:1884".parse().expect("addr"));
        assert!(config.demo);
        assert!(config.sys_interval.is_zero());
        assert_eq!(
            (
                config.max_packet_size,
                config.max_inflight,
                config.max_keep_alive
            ),
            (65536, 10, 120)
        );
        assert_eq!(
            config.data_dir.as_deref(),
            Some(std::path::Path::new("/var/lib/bridge"))
        );
        assert_eq!(
            config.sync,
            crate::store::SyncPolicy::Every(Duration::from_millis(25))
        );
        assert_eq!(
            config.ws,
            Config::default().ws,
            "unset keys keep their defaults"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text| {
            FileConfig::parse(text, "bridge.toml")
                .expect_err("refused")
                .to_string()
        };
        assert!(
            err("max_inflight = 3").contains("unknown field `max_inflight`"),
            "{}",
            err("max_inflight = 3")
        );
        assert_eq!(
            err("receive_maximum = 0"),
            "bridge.toml: receive_maximum: must be at least 1"
        );
        assert!(err("max_packet_size = 10")
            .starts_with("bridge.toml: max_packet_size: must be between"));
        assert!(
            err("tcp = \"nowhere\"").contains("tcp"),
            "{}",
            err("tcp = \"nowhere\"")
        );
        assert!(err("demo = 3").contains("demo"));
        assert!(err("log = \"loud[\"").starts_with("bridge.toml: log:"));
        for bad in ["sometimes", "0ms", "60001ms", "5s"] {
            let text = format!("fsync = \"{bad}\"");
            let e = FileConfig::parse(&text, "bridge.toml")
                .expect_err("refused")
                .to_string();
            assert!(e.starts_with("bridge.toml: fsync: "), "{e}");
        }
        assert!(FileConfig::parse("fsync = \"every-ack\"", "b.toml").is_ok());
    }
}
