//! CONNECT (spec 3.1), for MQTT 3.1 ("MQIsdp", level 3), 3.1.1 ("MQTT", level 4)
//! and 5.0 ("MQTT", level 5, with properties for the connection and the Will).

use super::properties::{Properties, PropertyContext};
use super::wire::{field_len, Reader, Writer};
use crate::{topic, ByteStr, Error, PacketType, QoS};
use bytes::Bytes;

/// The protocol a client speaks, from CONNECT's protocol name and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name "MQIsdp", level 3.
    V31,
    /// MQTT 3.1.1: protocol name "MQTT", level 4.
    #[default]
    V311,
    /// MQTT 5.0: protocol name "MQTT", level 5.
    V5,
}

impl ProtocolVersion {
    fn name(self) -> &'static [u8] {
        match self {
            ProtocolVersion::V31 => b"MQIsdp",
            ProtocolVersion::V311 | ProtocolVersion::V5 => b"MQTT",
        }
    }

    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V31 => 3,
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// Whether packets carry properties and reason codes.
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }
}

/// The message the server publishes for a client that goes away without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: ByteStr,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 Will properties (delay, expiry, content type, ...); empty before 5.0.
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol: ProtocolVersion,
    pub clean_session: bool,
    /// Seconds; 0 turns keepalive off.
    pub keep_alive: u16,
    pub client_id: ByteStr,
    pub will: Option<LastWill>,
    pub username: Option<ByteStr>,
    pub password: Option<Bytes>,
    /// 5.0 CONNECT properties; empty before 5.0.
    pub properties: Properties,
}

const USERNAME: u8 = 0x80;
const PASSWORD: u8 = 0x40;
const WILL_RETAIN: u8 = 0x20;
const WILL_QOS_SHIFT: u8 = 3;
const WILL: u8 = 0x04;
const CLEAN_SESSION: u8 = 0x02;
const RESERVED: u8 = 0x01;

pub fn read(r: &mut Reader) -> Result<Connect, Error> {
    let name = r.binary()?;
    let level = r.u8()?;
    let protocol = match (&name[..], level) {
        (b"MQTT", 4) => ProtocolVersion::V311,
        (b"MQTT", 5) => ProtocolVersion::V5,
        (b"MQIsdp", 3) => ProtocolVersion::V31,
        (b"MQTT" | b"MQIsdp", other) => return Err(Error::UnsupportedProtocolLevel(other)),
        _ => {
            return Err(Error::InvalidProtocolName(
                alloc::string::String::from_utf8_lossy(&name).into_owned(),
            ))
        }
    };
    let flags = r.u8()?;
    let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
    let has_will = flags & WILL != 0;
    // MQTT-3.1.2-3 (reserved bit), -11/-13/-15 (will fields without a will),
    // -14 (will QoS 3), and before 5.0 -22 (password without user name).
    let bad_flags = flags & RESERVED != 0
        || (!has_will && (will_qos != 0 || flags & WILL_RETAIN != 0))
        || will_qos == 3
        || (!protocol.is_v5() && flags & PASSWORD != 0 && flags & USERNAME == 0);
    if bad_flags {
        return Err(Error::InvalidConnectFlags(flags));
    }
    let keep_alive = r.u16()?;
    let properties = read_properties(r, protocol, PropertyContext::Packet(PacketType::Connect))?;
    let client_id = r.string()?;
    let will = if has_will {
        let properties = read_properties(r, protocol, PropertyContext::Will)?;
        let topic = r.string()?;
        topic::validate_topic_name(&topic)?;
        Some(LastWill {
            topic,
            payload: r.binary()?,
            qos: QoS::from_u8(will_qos)?,
            retain: flags & WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    let username = if flags & USERNAME != 0 {
        Some(r.string()?)
    } else {
        None
    };
    let password = if flags & PASSWORD != 0 {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_session: flags & CLEAN_SESSION != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

fn read_properties(
    r: &mut Reader,
    protocol: ProtocolVersion,
    context: PropertyContext,
) -> Result<Properties, Error> {
    if protocol.is_v5() {
        Properties::read(r, context)
    } else {
        Ok(Properties::new())
    }
}

impl Connect {
    pub(super) fn body_len(&self) -> Result<usize, Error> {
        let v5 = self.protocol.is_v5();
        let mut len = field_len(self.protocol.name())? + 1 + 1 + 2;
        if v5 {
            len += self.properties.encoded_len()?;
        }
        len += field_len(self.client_id.as_bytes())?;
        if let Some(will) = &self.will {
            len += field_len(will.topic.as_bytes())? + field_len(&will.payload)?;
            if v5 {
                len += will.properties.encoded_len()?;
            }
        }
        if let Some(username) = &self.username {
            len += field_len(username.as_bytes())?;
        }
        if let Some(password) = &self.password {
            len += field_len(password)?;
        }
        Ok(len)
    }

    pub(super) fn write_body(&self, w: &mut Writer) {
        w.field(self.protocol.name());
        w.u8(self.protocol.level());
        let mut flags = 0;
        if self.clean_session {
            flags |= CLEAN_SESSION;
        }
        if let Some(will) = &self.will {
            flags |= WILL | ((will.qos as u8) << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        w.u8(flags);
        w.u16(self.keep_alive);
        let v5 = self.protocol.is_v5();
        if v5 {
            self.properties.write(w);
        }
        w.field(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                will.properties.write(w);
            }
            w.field(will.topic.as_bytes());
            w.field(&will.payload);
        }
        if let Some(username) = &self.username {
            w.field(username.as_bytes());
        }
        if let Some(password) = &self.password {
            w.field(password);
        }
    }
}
