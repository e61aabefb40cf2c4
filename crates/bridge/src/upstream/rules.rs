//! An upstream's configuration and its topic rules: which topics go which
//! way, at what QoS, and how their prefixes change on the way (so
//! `sensors/#` on a site becomes `site-a/sensors/#` upstream).

use mqtt_proto::topic::validate_topic_filter;
use mqtt_proto::QoS;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Upstream to this bridge.
    In,
    /// This bridge to upstream.
    Out,
    Both,
}

impl Direction {
    pub fn outward(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }

    pub fn inward(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
}

/// One `[[upstream.topics]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    /// A topic filter, relative to the prefixes.
    pub pattern: String,
    pub direction: Direction,
    /// The QoS of the subscription each side makes (0, 1 or 2).
    #[serde(default)]
    pub qos: u8,
    /// Prepended on this bridge: `local_prefix + pattern`.
    #[serde(default)]
    pub local_prefix: String,
    /// Prepended upstream: `remote_prefix + pattern`.
    #[serde(default)]
    pub remote_prefix: String,
}

impl TopicRule {
    pub fn qos(&self) -> QoS {
        QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce)
    }

    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }
}

/// One `[[upstream]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Names the link in logs and `$SYS/broker/bridge/<name>/...`.
    pub name: String,
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub address: String,
    /// The client id upstream [default: bridge-<name>].
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// 4 (MQTT 3.1.1) or 5 [default: 4].
    #[serde(default = "default_version")]
    pub version: u8,
    /// Seconds [default: 60].
    #[serde(default = "default_keepalive")]
    pub keepalive: u16,
    /// PEM CA certificates for `mqtts://` [default: the system's,
    /// /etc/ssl/certs/ca-certificates.crt].
    pub ca_file: Option<PathBuf>,
    pub topics: Vec<TopicRule>,
}

fn default_version() -> u8 {
    4
}

fn default_keepalive() -> u16 {
    60
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl UpstreamConfig {
    /// Checks everything that can be checked before connecting.
    pub fn check(&self) -> Result<(), String> {
        self.address()?;
        if self.name.is_empty() || self.name.contains(['/', '+', '#']) {
            return Err(format!("name {:?}: not empty, no / + #", self.name));
        }
        if ![4, 5].contains(&self.version) {
            return Err(format!("version {}: 4 (3.1.1) or 5", self.version));
        }
        if self.topics.is_empty() {
            return Err("no topics: nothing would cross".to_owned());
        }
        for rule in &self.topics {
            if rule.qos > 2 {
                return Err(format!(
                    "{}: qos {} is not 0, 1 or 2",
                    rule.pattern, rule.qos
                ));
            }
            for filter in [rule.local_filter(), rule.remote_filter()] {
                validate_topic_filter(&filter)
                    .map_err(|e| format!("{filter:?} is not a topic filter: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn address(&self) -> Result<Address, String> {
        let (tls, rest) = if let Some(rest) = self.address.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = self.address.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(format!(
                "address {:?}: mqtt://host:port or mqtts://host:port",
                self.address
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| format!("address {:?}: bad port", self.address))?,
            ),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(format!("address {:?}: no host", self.address));
        }
        Ok(Address {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            tls,
        })
    }

    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("bridge-{}", self.name))
    }

    /// The remote topic for a local one going out, by the first outward
    /// rule whose local filter matches it.
    pub fn to_remote(&self, local: &str) -> Option<String> {
        self.topics
            .iter()
            .filter(|r| r.direction.outward())
            .find(|r| mqtt_proto::topic::filter_matches(&r.local_filter(), local))
            .map(|r| swap_prefix(local, &r.local_prefix, &r.remote_prefix))
    }

    /// The local topic for a remote one coming in.
    pub fn to_local(&self, remote: &str) -> Option<String> {
        self.topics
            .iter()
            .filter(|r| r.direction.inward())
            .find(|r| mqtt_proto::topic::filter_matches(&r.remote_filter(), remote))
            .map(|r| swap_prefix(remote, &r.remote_prefix, &r.local_prefix))
    }
}

fn swap_prefix(topic: &str, from: &str, to: &str) -> String {
    format!("{to}{}", topic.strip_prefix(from).unwrap_or(topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UpstreamConfig {
        toml::from_str(
            r#"
            name = "cloud"
            address = "mqtt://cloud.example:1884"
            [[topics]]
            pattern = "sensors/#"
            direction = "out"
            qos = 1
            remote_prefix = "site-a/"
            [[topics]]
            pattern = "cmd/#"
            direction = "in"
            local_prefix = "sensors/"
            remote_prefix = "site-a/"
            "#,
        )
        .expect("parses")
    }

    #[test]
    fn prefixes_are_swapped_each_way() {
        let c = config();
        c.check().expect("valid");
        assert_eq!(
            c.to_remote("sensors/a/t").as_deref(),
            Some("site-a/sensors/a/t")
        );
        assert_eq!(c.to_remote("other/x"), None);
        assert_eq!(
            c.to_local("site-a/cmd/pump").as_deref(),
            Some("sensors/cmd/pump")
        );
        assert_eq!(
            c.to_local("site-a/sensors/a/t"),
            None,
            "an out rule does not bring it in"
        );
        assert_eq!(c.client_id(), "bridge-cloud");
        assert_eq!(
            c.address(),
            Ok(Address {
                host: "cloud.example".into(),
                port: 1884,
                tls: false
            })
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let mut c = config();
        c.address = "tcp://x:1".into();
        assert!(c.check().expect_err("refused").contains("mqtt://"));
        let mut c = config();
        c.topics[0].pattern = "a/#/b".into();
        assert!(c
            .check()
            .expect_err("refused")
            .contains("not a topic filter"));
        let mut c = config();
        c.version = 3;
        assert!(c.check().is_err());
        let mut c = config();
        c.address = "mqtts://secure.example".into();
        assert_eq!(c.address().map(|a| (a.port, a.tls)), Ok((8883, true)));
    }
}
