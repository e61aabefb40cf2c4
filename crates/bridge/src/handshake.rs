//! What CONNECT and CONNACK settle: who the client is, how long its session
//! outlives the connection, and the limits each side announces (MQTT 5.0
//! section 3.2.2.3). Plain functions over packets, tested without sockets.

use mqtt_proto::{ConnAck, Connect, Properties, Property, ProtocolVersion, ReasonCode};
use std::time::Duration;

/// What this bridge accepts from every client.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// QoS 2 messages a client may have awaiting our PUBREL answer at once
    /// (our Receive Maximum); QoS 1 is acknowledged at once.
    pub receive_maximum: u16,
    /// Largest packet a client may send us.
    pub max_packet_size: u32,
    /// Topic aliases a client may define towards us.
    pub topic_alias_maximum: u16,
    /// Keepalive we impose when a client asks for none or a longer one;
    /// 0 imposes nothing.
    pub max_keep_alive: u16,
    /// QoS 1/2 messages we send a client before waiting for its acknowledgements.
    pub max_inflight: u16,
}

/// How long a session is kept once its connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionExpiry {
    AtDisconnect,
    After(Duration),
    Never,
}

impl SessionExpiry {
    /// 5.0 Session Expiry Interval, in seconds (0xFFFFFFFF: never).
    pub fn from_secs(secs: u32) -> Self {
        match secs {
            0 => SessionExpiry::AtDisconnect,
            u32::MAX => SessionExpiry::Never,
            s => SessionExpiry::After(Duration::from_secs(u64::from(s))),
        }
    }

    pub fn keeps(self) -> bool {
        self != SessionExpiry::AtDisconnect
    }
}

/// The outcome of a CONNECT this bridge accepts.
#[derive(Debug, Clone)]
pub struct Agreed {
    pub version: ProtocolVersion,
    pub client_id: String,
    /// The id was assigned by us (5.0: sent back in CONNACK).
    pub assigned_id: bool,
    /// Discard any existing session first.
    pub clean_start: bool,
    pub expiry: SessionExpiry,
    /// Keepalive in effect, in seconds (0: none).
    pub keep_alive: u16,
    /// Ours differs from what the client asked: sent as Server Keep Alive.
    pub keep_alive_imposed: bool,
    /// Our window towards the client: its Receive Maximum, within our own.
    pub outbound_window: u16,
    /// Largest packet the client accepts; larger messages for it are dropped.
    pub client_max_packet_size: Option<u32>,
    /// Aliases the client lets us define for topics we send it.
    pub client_topic_alias_maximum: u16,
}

/// Decides on `connect`, or says which CONNACK reason code refuses it.
/// `assign` names a client that sent no id.
pub fn agree(
    connect: &Connect,
    limits: &ServerLimits,
    assign: impl FnOnce() -> String,
) -> Result<Agreed, ReasonCode> {
    let v5 = connect.protocol.is_v5();
    let props = &connect.properties;
    let (client_id, assigned_id) = if !connect.client_id.is_empty() {
        (connect.client_id.to_string(), false)
    } else if v5 || connect.clean_session {
        (assign(), true)
    } else {
        // MQTT-3.1.3-8: 3.1.1, empty id, clean session 0.
        return Err(ReasonCode::ClientIdentifierNotValid);
    };
    let expiry = if v5 {
        SessionExpiry::from_secs(
            props
                .find(|p| match p {
                    Property::SessionExpiryInterval(s) => Some(*s),
                    _ => None,
                })
                .unwrap_or(0),
        )
    } else if connect.clean_session {
        SessionExpiry::AtDisconnect
    } else {
        SessionExpiry::Never
    };
    let max = limits.max_keep_alive;
    let keep_alive_imposed = max > 0 && (connect.keep_alive == 0 || connect.keep_alive > max);
    let client_receive_maximum = props
        .find(|p| match p {
            Property::ReceiveMaximum(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(u16::MAX);
    Ok(Agreed {
        version: connect.protocol,
        client_id,
        assigned_id,
        clean_start: connect.clean_session,
        expiry,
        keep_alive: if keep_alive_imposed {
            max
        } else {
            connect.keep_alive
        },
        // Only 5.0 can be told about an imposed keepalive.
        keep_alive_imposed: keep_alive_imposed && v5,
        outbound_window: client_receive_maximum.min(limits.max_inflight),
        client_max_packet_size: props.find(|p| match p {
            Property::MaximumPacketSize(n) => Some(*n),
            _ => None,
        }),
        client_topic_alias_maximum: props
            .find(|p| match p {
                Property::TopicAliasMaximum(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(0),
    })
}

/// The CONNACK accepting `agreed`: for 5.0 with what the client must know
/// about us (what is not said is available: retain, wildcards, subscription
/// identifiers, shared subscriptions, QoS 2).
pub fn accepting_connack(agreed: &Agreed, limits: &ServerLimits, session_present: bool) -> ConnAck {
    let mut ack = ConnAck::new(ReasonCode::Success, session_present);
    if !agreed.version.is_v5() {
        return ack;
    }
    let mut props = Properties::new()
        .with(Property::ReceiveMaximum(limits.receive_maximum))
        .with(Property::MaximumPacketSize(limits.max_packet_size))
        .with(Property::TopicAliasMaximum(limits.topic_alias_maximum));
    if agreed.assigned_id {
        props.push(Property::AssignedClientIdentifier(
            agreed.client_id.clone().into(),
        ));
    }
    if agreed.keep_alive_imposed {
        props.push(Property::ServerKeepAlive(agreed.keep_alive));
    }
    ack.properties = props;
    ack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            receive_maximum: 64,
            max_packet_size: 1 << 20,
            topic_alias_maximum: 32,
            max_keep_alive: 600,
            max_inflight: 32,
        }
    }

    fn connect(
        protocol: ProtocolVersion,
        id: &str,
        clean: bool,
        properties: Properties,
    ) -> Connect {
        Connect {
            protocol,
            clean_session: clean,
            keep_alive: 60,
            client_id: id.into(),
            will: None,
            username: None,
            password: None,
            properties,
        }
    }

    #[test]
    fn a_311_session_is_kept_forever_or_not_at_all() {
        let kept = agree(
            &connect(ProtocolVersion::V311, "a", false, Properties::new()),
            &limits(),
            String::new,
        );
        assert_eq!(kept.expect("accepted").expiry, SessionExpiry::Never);
        let clean = agree(
            &connect(ProtocolVersion::V311, "a", true, Properties::new()),
            &limits(),
            String::new,
        );
        assert_eq!(clean.expect("accepted").expiry, SessionExpiry::AtDisconnect);
        let anonymous = agree(
            &connect(ProtocolVersion::V311, "", false, Properties::new()),
            &limits(),
            String::new,
        );
        assert_eq!(anonymous.err(), Some(ReasonCode::ClientIdentifierNotValid));
    }

    #[test]
    fn a_5_client_without_id_gets_one_and_hears_the_limits() {
        let props = Properties::new()
            .with(Property::SessionExpiryInterval(300))
            .with(Property::ReceiveMaximum(5))
            .with(Property::TopicAliasMaximum(8))
            .with(Property::MaximumPacketSize(2048));
        let mut c = connect(ProtocolVersion::V5, "", false, props);
        c.keep_alive = 0;
        let agreed = agree(&c, &limits(), || "auto-7".to_owned()).expect("accepted");
        assert_eq!(agreed.client_id, "auto-7");
        assert_eq!(
            agreed.expiry,
            SessionExpiry::After(Duration::from_secs(300))
        );
        assert_eq!(
            (agreed.outbound_window, agreed.client_topic_alias_maximum),
            (5, 8)
        );
        assert_eq!(agreed.client_max_packet_size, Some(2048));
        assert_eq!((agreed.keep_alive, agreed.keep_alive_imposed), (600, true));
        let ack = accepting_connack(&agreed, &limits(), false);
        let assigned = ack.properties.find(|p| match p {
            Property::AssignedClientIdentifier(id) => Some(id.to_string()),
            _ => None,
        });
        assert_eq!(assigned.as_deref(), Some("auto-7"));
        assert!(ack
            .properties
            .iter()
            .any(|p| *p == Property::ServerKeepAlive(600)));
        assert!(ack
            .properties
            .iter()
            .any(|p| *p == Property::ReceiveMaximum(64)));
    }
}
