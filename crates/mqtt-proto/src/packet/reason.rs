//! Reason codes (MQTT 5.0 section 2.4), one enum for every packet and both
//! protocol versions: MQTT 3.1.1's CONNACK and SUBACK return codes map onto it.

use crate::{Error, PacketType};

/// A reason code. One byte value can have several names in the specification
/// (0x00 is Success, Normal disconnection and Granted QoS 0); the aliases are
/// associated constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum ReasonCode {
    #[default]
    Success = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWillMessage = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

use ReasonCode::*;

const ALL: [ReasonCode; 43] = [
    Success,
    GrantedQoS1,
    GrantedQoS2,
    DisconnectWithWillMessage,
    NoMatchingSubscribers,
    NoSubscriptionExisted,
    ContinueAuthentication,
    ReAuthenticate,
    UnspecifiedError,
    MalformedPacket,
    ProtocolError,
    ImplementationSpecificError,
    UnsupportedProtocolVersion,
    ClientIdentifierNotValid,
    BadUserNameOrPassword,
    NotAuthorized,
    ServerUnavailable,
    ServerBusy,
    Banned,
    ServerShuttingDown,
    BadAuthenticationMethod,
    KeepAliveTimeout,
    SessionTakenOver,
    TopicFilterInvalid,
    TopicNameInvalid,
    PacketIdentifierInUse,
    PacketIdentifierNotFound,
    ReceiveMaximumExceeded,
    TopicAliasInvalid,
    PacketTooLarge,
    MessageRateTooHigh,
    QuotaExceeded,
    AdministrativeAction,
    PayloadFormatInvalid,
    RetainNotSupported,
    QoSNotSupported,
    UseAnotherServer,
    ServerMoved,
    SharedSubscriptionsNotSupported,
    ConnectionRateExceeded,
    MaximumConnectTime,
    SubscriptionIdentifiersNotSupported,
    WildcardSubscriptionsNotSupported,
];

/// Codes each packet may carry (MQTT 5.0 sections 3.2.2.2 to 3.15.2.1).
const CONNACK: &[ReasonCode] = &[
    Success,
    UnspecifiedError,
    MalformedPacket,
    ProtocolError,
    ImplementationSpecificError,
    UnsupportedProtocolVersion,
    ClientIdentifierNotValid,
    BadUserNameOrPassword,
    NotAuthorized,
    ServerUnavailable,
    ServerBusy,
    Banned,
    BadAuthenticationMethod,
    TopicNameInvalid,
    PacketTooLarge,
    QuotaExceeded,
    PayloadFormatInvalid,
    RetainNotSupported,
    QoSNotSupported,
    UseAnotherServer,
    ServerMoved,
    ConnectionRateExceeded,
];
const PUBACK: &[ReasonCode] = &[
    Success,
    NoMatchingSubscribers,
    UnspecifiedError,
    ImplementationSpecificError,
    NotAuthorized,
    TopicNameInvalid,
    PacketIdentifierInUse,
    QuotaExceeded,
    PayloadFormatInvalid,
];
const PUBREL: &[ReasonCode] = &[Success, PacketIdentifierNotFound];
const SUBACK: &[ReasonCode] = &[
    Success,
    GrantedQoS1,
    GrantedQoS2,
    UnspecifiedError,
    ImplementationSpecificError,
    NotAuthorized,
    TopicFilterInvalid,
    PacketIdentifierInUse,
    QuotaExceeded,
    SharedSubscriptionsNotSupported,
    SubscriptionIdentifiersNotSupported,
    WildcardSubscriptionsNotSupported,
];
const UNSUBACK: &[ReasonCode] = &[
    Success,
    NoSubscriptionExisted,
    UnspecifiedError,
    ImplementationSpecificError,
    NotAuthorized,
    TopicFilterInvalid,
    PacketIdentifierInUse,
];
const DISCONNECT: &[ReasonCode] = &[
    Success,
    DisconnectWithWillMessage,
    UnspecifiedError,
    MalformedPacket,
    ProtocolError,
    ImplementationSpecificError,
    NotAuthorized,
    ServerBusy,
    ServerShuttingDown,
    KeepAliveTimeout,
    SessionTakenOver,
    TopicFilterInvalid,
    TopicNameInvalid,
    ReceiveMaximumExceeded,
    TopicAliasInvalid,
    PacketTooLarge,
    MessageRateTooHigh,
    QuotaExceeded,
    AdministrativeAction,
    PayloadFormatInvalid,
    RetainNotSupported,
    QoSNotSupported,
    UseAnotherServer,
    ServerMoved,
    SharedSubscriptionsNotSupported,
    ConnectionRateExceeded,
    MaximumConnectTime,
    SubscriptionIdentifiersNotSupported,
    WildcardSubscriptionsNotSupported,
];
const AUTH: &[ReasonCode] = &[Success, ContinueAuthentication, ReAuthenticate];

impl ReasonCode {
    pub const NORMAL_DISCONNECTION: ReasonCode = Success;
    pub const GRANTED_QOS_0: ReasonCode = Success;

    pub fn from_u8(v: u8) -> Option<ReasonCode> {
        ALL.iter().copied().find(|c| *c as u8 == v)
    }

    /// Values 0x80 and above report failure.
    pub fn is_error(self) -> bool {
        self as u8 >= 0x80
    }

    /// The codes `packet` may carry in MQTT 5.0 (the four acknowledgements share
    /// PUBACK's and PUBREL's lists).
    pub fn allowed_in(packet: PacketType) -> &'static [ReasonCode] {
        match packet {
            PacketType::ConnAck => CONNACK,
            PacketType::PubAck | PacketType::PubRec => PUBACK,
            PacketType::PubRel | PacketType::PubComp => PUBREL,
            PacketType::SubAck => SUBACK,
            PacketType::UnsubAck => UNSUBACK,
            PacketType::Disconnect => DISCONNECT,
            PacketType::Auth => AUTH,
            _ => &[],
        }
    }

    /// Reads a 5.0 reason code byte that `packet` may carry.
    pub(crate) fn read_for(packet: PacketType, byte: u8) -> Result<ReasonCode, Error> {
        ReasonCode::from_u8(byte)
            .filter(|c| Self::allowed_in(packet).contains(c))
            .ok_or(Error::InvalidReasonCode { packet, code: byte })
    }

    /// MQTT 3.1.1 CONNACK return code (3.2.2.3) to reason code.
    pub(crate) fn from_v3_connack(code: u8) -> Result<ReasonCode, Error> {
        Ok(match code {
            0 => Success,
            1 => UnsupportedProtocolVersion,
            2 => ClientIdentifierNotValid,
            3 => ServerUnavailable,
            4 => BadUserNameOrPassword,
            5 => NotAuthorized,
            other => return Err(Error::InvalidConnectReturnCode(other)),
        })
    }

    /// The nearest MQTT 3.1.1 CONNACK return code: failures 3.1.1 cannot name
    /// become "server unavailable".
    pub(crate) fn to_v3_connack(self) -> u8 {
        match self {
            Success => 0,
            UnsupportedProtocolVersion => 1,
            ClientIdentifierNotValid => 2,
            BadUserNameOrPassword => 4,
            NotAuthorized | Banned => 5,
            _ => 3,
        }
    }

    /// MQTT 3.1.1 SUBACK return code (3.9.3) to reason code.
    pub(crate) fn from_v3_suback(code: u8) -> Result<ReasonCode, Error> {
        Ok(match code {
            0 => Success,
            1 => GrantedQoS1,
            2 => GrantedQoS2,
            0x80 => UnspecifiedError,
            other => return Err(Error::InvalidSubscribeReturnCode(other)),
        })
    }

    /// The MQTT 3.1.1 SUBACK return code: any failure is 0x80.
    pub(crate) fn to_v3_suback(self) -> u8 {
        match self {
            Success | GrantedQoS1 | GrantedQoS2 => self as u8,
            _ => 0x80,
        }
    }

    /// The SUBACK code granting `qos`.
    pub fn granted(qos: crate::QoS) -> ReasonCode {
        match qos {
            crate::QoS::AtMostOnce => Success,
            crate::QoS::AtLeastOnce => GrantedQoS1,
            crate::QoS::ExactlyOnce => GrantedQoS2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_maps_to_at_most_one_code() {
        let known = (0..=255u8).filter_map(ReasonCode::from_u8).count();
        assert_eq!(known, ALL.len());
        for code in ALL {
            assert_eq!(ReasonCode::from_u8(code as u8), Some(code));
        }
    }

    #[test]
    fn per_packet_lists_come_from_the_spec() {
        assert_eq!(CONNACK.len(), 22);
        assert_eq!(PUBACK.len(), 9);
        assert_eq!(SUBACK.len(), 12);
        assert_eq!(UNSUBACK.len(), 7);
        assert_eq!(DISCONNECT.len(), 29);
        assert_eq!(
            ReasonCode::read_for(PacketType::PubAck, 0x04),
            Err(Error::InvalidReasonCode {
                packet: PacketType::PubAck,
                code: 0x04
            })
        );
        assert_eq!(
            ReasonCode::read_for(PacketType::Disconnect, 0x04),
            Ok(DisconnectWithWillMessage)
        );
    }

    #[test]
    fn v3_codes_round_trip() {
        for code in 0..=5 {
            let reason = ReasonCode::from_v3_connack(code).expect("defined");
            assert_eq!(reason.to_v3_connack(), code);
        }
        for code in [0, 1, 2, 0x80] {
            assert_eq!(
                ReasonCode::from_v3_suback(code).map(ReasonCode::to_v3_suback),
                Ok(code)
            );
        }
        assert_eq!(ServerBusy.to_v3_connack(), 3);
        assert_eq!(QuotaExceeded.to_v3_suback(), 0x80);
    }
}
