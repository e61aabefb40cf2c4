use crate::packet::{PacketType, PropertyContext, ReasonCode};

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
    #[error("reason code {code:#04x} is not one a {packet:?} may carry")]
    InvalidReasonCode { packet: PacketType, code: u8 },
    #[error("subscription options {0:#04x} have reserved bits set or Retain Handling 3")]
    InvalidSubscriptionOptions(u8),
    #[error("No Local on a shared subscription")]
    NoLocalOnSharedSubscription,
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u8),
    #[error("property {0:#04x} has a value outside its range")]
    InvalidPropertyValue(u8),
    #[error("property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    #[error("property {id:#04x} may not appear in {context:?}")]
    PropertyNotAllowed { id: u8, context: PropertyContext },
    #[error("{0:?} does not exist before MQTT 5.0")]
    NotInVersion(PacketType),
    #[error("shared subscription needs $share/<group>/<filter> with a group free of wildcards")]
    InvalidSharedSubscription,
    #[error("{0:?} carries no topic filter")]
    NoTopicFilters(PacketType),
    #[error("{0:?} carries no reason code")]
    NoReasonCodes(PacketType),
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
    #[error("topic alias {0} is 0, above the maximum, or not set up")]
    TopicAliasInvalid(u16),
    #[error("more unacknowledged QoS 2 messages than Receive Maximum allows")]
    ReceiveMaximumExceeded,
}

impl Error {
    /// The reason code a 5.0 peer closes the connection with over this error,
    /// in DISCONNECT: always one DISCONNECT may carry.
    pub fn reason_code(&self) -> ReasonCode {
        use Error::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            WildcardInTopicName => ReasonCode::TopicNameInvalid,
            TopicAliasInvalid(_) => ReasonCode::TopicAliasInvalid,
            ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            InvalidWildcard | InvalidSharedSubscription => ReasonCode::TopicFilterInvalid,
            DuplicateProperty(_)
            | PropertyNotAllowed { .. }
            | InvalidPropertyValue(_)
            | NoLocalOnSharedSubscription
            | UnexpectedPacket(_)
            | ZeroPacketId
            | EmptyTopic
            | NotInVersion(_) => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }

    /// The reason code a 5.0 server refuses a CONNECT with over this error,
    /// in CONNACK: always one CONNACK may carry.
    pub fn connack_code(&self) -> ReasonCode {
        match self {
            Error::UnsupportedProtocolLevel(_) | Error::InvalidProtocolName(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            other => match other.reason_code() {
                code if ReasonCode::allowed_in(PacketType::ConnAck).contains(&code) => code,
                _ => ReasonCode::MalformedPacket,
            },
        }
    }

    /// Whether a server owes the client a CONNACK with this error's code before
    /// closing (an unsupported protocol version, spec 3.1.2.2); other CONNECT
    /// errors just close the connection.
    pub fn needs_connack(&self) -> bool {
        matches!(self, Error::UnsupportedProtocolLevel(_))
    }
}
