use crate::packet::PacketType;

/// Everything that can go wrong decoding or encoding MQTT, as one flat enum.
///
/// A decoder error means the peer broke the protocol: the connection must be
/// closed (MQTT 3.1.1 section 4.8), after a CONNACK where the specification asks
/// for one (see [`Error::connack_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge { size: usize, max: usize },
    #[error("remaining length is longer than four bytes")]
    MalformedRemainingLength,
    #[error("packet ends before its fields do")]
    UnexpectedEof,
    #[error("packet has {0} bytes after its last field")]
    TrailingBytes(usize),
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    #[error("{packet:?} has invalid fixed-header flags {flags:#06b}")]
    InvalidHeaderFlags { packet: PacketType, flags: u8 },
    #[error("QoS value {0} is not 0, 1 or 2")]
    InvalidQoS(u8),
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    #[error("packet identifier 0 is not allowed")]
    ZeroPacketId,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("string contains the null character U+0000")]
    NullCharacter,
    #[error("string or binary field of {0} bytes is longer than 65,535")]
    FieldTooLong(usize),
    #[error("protocol name {0:?} is not MQTT or MQIsdp")]
    InvalidProtocolName(alloc::string::String),
    #[error("protocol level {0} is not supported")]
    UnsupportedProtocolLevel(u8),
    #[error("CONNECT flags {0:#010b} break the rules of the specification")]
    InvalidConnectFlags(u8),
    #[error("CONNACK acknowledge flags {0:#010b} have reserved bits set")]
    InvalidConnAckFlags(u8),
    #[error("CONNACK return code {0} is reserved")]
    InvalidConnectReturnCode(u8),
    #[error("SUBACK return code {0:#04x} is reserved")]
    InvalidSubscribeReturnCode(u8),
    #[error("requested QoS byte {0:#04x} has reserved bits set")]
    InvalidSubscriptionOptions(u8),
    #[error("{0:?} carries no topic filter")]
    NoTopicFilters(PacketType),
    #[error("topic is empty")]
    EmptyTopic,
    #[error("topic name contains a wildcard")]
    WildcardInTopicName,
    #[error("wildcard is not a whole level, or '#' is not the last level")]
    InvalidWildcard,
    #[error("{0:?} is not expected from this peer in this state")]
    UnexpectedPacket(PacketType),
    #[error("the session is not connected")]
    NotConnected,
}

impl Error {
    /// The MQTT 3.1.1 CONNACK return code a server sends before closing the
    /// connection for this error, where the specification asks for one.
    pub fn connack_code(&self) -> Option<crate::ConnectReturnCode> {
        match self {
            Error::UnsupportedProtocolLevel(_) => {
                Some(crate::ConnectReturnCode::UnacceptableProtocolVersion)
            }
            _ => None,
        }
    }
}
