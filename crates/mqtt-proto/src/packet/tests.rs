//! Byte vectors worked out by hand from the MQTT 3.1.1 and 5.0 specifications
//! (chapters 2 and 3), decoded and re-encoded. None of them came from our encoder.

use super::*;
use crate::framing::check;
use crate::ByteStr;
use alloc::{vec, vec::Vec};

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn decode_as(bytes: &[u8], version: ProtocolVersion) -> Result<Packet, Error> {
    let frame = check(bytes, bytes.len())?.expect("vector holds a whole frame");
    assert_eq!(frame.len(), bytes.len(), "vector holds exactly one frame");
    let body = Bytes::copy_from_slice(&bytes[frame.header_len..]);
    Packet::read(frame.first_byte, body, version)
}

fn decode(bytes: &[u8]) -> Result<Packet, Error> {
    decode_as(bytes, V3)
}

/// Decodes `bytes` to `expected` and encodes `expected` back to `bytes`, in `version`.
fn both_ways_as(bytes: &[u8], expected: Packet, version: ProtocolVersion) {
    assert_eq!(decode_as(bytes, version), Ok(expected.clone()));
    assert_eq!(&expected.to_bytes(version).expect("encodes")[..], bytes);
    assert_eq!(expected.encoded_len(version), Ok(bytes.len()));
}

fn both_ways(bytes: &[u8], expected: Packet) {
    both_ways_as(bytes, expected, V3)
}

#[test]
fn connect_minimal_311() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 16,                               // CONNECT, remaining length 16
        0x00, 0x04, b'M', b'Q', b'T', b'T',     // protocol name
        0x04,                                   // level 4 = 3.1.1
        0x02,                                   // clean session
        0x00, 0x3C,                             // keepalive 60 s
        0x00, 0x04, b'd', b'a', b's', b'h',     // client id
    ];
    both_ways(
        &bytes,
        Packet::from(Connect {
            protocol: ProtocolVersion::V311,
            clean_session: true,
            keep_alive: 60,
            client_id: ByteStr::from("dash"),
            will: None,
            username: None,
            password: None,
            properties: Properties::new(),
        }),
    );
}

#[test]
fn connect_31_with_will_and_credentials() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 36,
        0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p',
        0x03,                                   // level 3 = 3.1
        0xEE,                                   // user, password, will retain, will QoS 1, will, clean
        0x00, 0x0A,
        0x00, 0x02, b'c', b'1',
        0x00, 0x03, b's', b'/', b'x',
        0x00, 0x07, b'o', b'f', b'f', b'l', b'i', b'n', b'e',
        0x00, 0x01, b'u',
        0x00, 0x01, b'p',
    ];
    both_ways(
        &bytes,
        Packet::from(Connect {
            protocol: ProtocolVersion::V31,
            clean_session: true,
            keep_alive: 10,
            client_id: ByteStr::from("c1"),
            will: Some(LastWill {
                topic: ByteStr::from("s/x"),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::new(),
            }),
            username: Some(ByteStr::from("u")),
            password: Some(Bytes::from_static(b"p")),
            properties: Properties::new(),
        }),
    );
}

#[test]
fn connect_violations() {
    let with = |level: u8, flags: u8| {
        let mut v = vec![
            0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', level, flags, 0, 0, 0, 0,
        ];
        v[1] = (v.len() - 2) as u8;
        decode(&v)
    };
    assert_eq!(
        with(4, 0x03),
        Err(Error::InvalidConnectFlags(0x03)),
        "reserved bit"
    );
    assert_eq!(
        with(4, 0x42),
        Err(Error::InvalidConnectFlags(0x42)),
        "password without user"
    );
    assert_eq!(
        with(4, 0x0A),
        Err(Error::InvalidConnectFlags(0x0A)),
        "will QoS without will"
    );
    assert_eq!(
        with(4, 0x1E),
        Err(Error::InvalidConnectFlags(0x1E)),
        "will QoS 3"
    );
    assert_eq!(with(6, 0x02), Err(Error::UnsupportedProtocolLevel(6)));
    assert!(Error::UnsupportedProtocolLevel(6).needs_connack());
    assert_eq!(
        Error::UnsupportedProtocolLevel(6).connack_code(),
        ReasonCode::UnsupportedProtocolVersion
    );
    let bad_name = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'X', 4, 2, 0, 0, 0, 0];
    assert!(matches!(
        decode(&bad_name),
        Err(Error::InvalidProtocolName(_))
    ));
}

#[test]
fn connack() {
    let accepted =
        |session_present| Packet::ConnAck(ConnAck::new(ReasonCode::Success, session_present));
    both_ways(&[0x20, 0x02, 0x00, 0x00], accepted(false));
    both_ways(&[0x20, 0x02, 0x01, 0x00], accepted(true));
    both_ways(
        &[0x20, 0x02, 0x00, 0x05],
        Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false)),
    );
    assert_eq!(
        decode(&[0x20, 0x02, 0x00, 0x06]),
        Err(Error::InvalidConnectReturnCode(6))
    );
    assert_eq!(
        decode(&[0x20, 0x02, 0x02, 0x00]),
        Err(Error::InvalidConnAckFlags(2))
    );
}

#[test]
fn publish_qos0() {
    both_ways(
        &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'],
        Packet::Publish(Publish::new("a/b", Bytes::from_static(b"hi"))),
    );
}

#[test]
fn publish_qos1_dup_retain() {
    #[rustfmt::skip]
    let bytes = [
        0x3B, 0x09,                             // PUBLISH, DUP, QoS 1, RETAIN
        0x00, 0x03, b'a', b'/', b'b',
        0x00, 0x0A,                             // packet id 10
        b'h', b'i',
    ];
    let mut publish = Publish::new("a/b", b"hi");
    publish.dup = true;
    publish.qos = QoS::AtLeastOnce;
    publish.retain = true;
    publish.packet_id = Some(10);
    both_ways(&bytes, Packet::Publish(publish));
}

#[test]
fn publish_violations() {
    assert_eq!(
        decode(&[0x36, 0x05, 0, 1, b'a', 0, 1]),
        Err(Error::InvalidQoS(3))
    );
    assert_eq!(decode(&[0x38, 0x03, 0, 1, b'a']), Err(Error::DupOnQoS0));
    assert_eq!(
        decode(&[0x30, 0x03, 0, 1, b'#']),
        Err(Error::WildcardInTopicName)
    );
    assert_eq!(decode(&[0x30, 0x02, 0, 0]), Err(Error::EmptyTopic));
    assert_eq!(
        decode(&[0x30, 0x04, 0, 2, 0xC3, 0x28]),
        Err(Error::InvalidUtf8)
    );
    assert_eq!(decode(&[0x30, 0x03, 0, 1, 0x00]), Err(Error::NullCharacter));
    assert_eq!(
        decode(&[0x32, 0x05, 0, 1, b'a', 0, 0]),
        Err(Error::ZeroPacketId)
    );
    assert_eq!(decode(&[0x30, 0x03, 0, 5, b'a']), Err(Error::UnexpectedEof));
}

#[test]
fn acknowledgements() {
    both_ways(&[0x40, 0x02, 0x00, 0x0A], Packet::PubAck(Ack::new(10)));
    both_ways(&[0x50, 0x02, 0x00, 0x0A], Packet::PubRec(Ack::new(10)));
    both_ways(&[0x62, 0x02, 0x00, 0x0A], Packet::PubRel(Ack::new(10)));
    both_ways(&[0x70, 0x02, 0x00, 0x0A], Packet::PubComp(Ack::new(10)));
    both_ways(
        &[0xB0, 0x02, 0x01, 0x00],
        Packet::UnsubAck(SubAck::new(256, vec![])),
    );
    assert_eq!(
        decode(&[0x60, 0x02, 0x00, 0x0A]),
        Err(Error::InvalidHeaderFlags {
            packet: PacketType::PubRel,
            flags: 0
        })
    );
    assert_eq!(decode(&[0x40, 0x02, 0x00, 0x00]), Err(Error::ZeroPacketId));
    assert_eq!(
        decode(&[0x40, 0x03, 0x00, 0x01, 0x00]),
        Err(Error::TrailingBytes(1))
    );
}

#[test]
fn subscribe() {
    #[rustfmt::skip]
    let mut bytes = vec![0x82, 32, 0x00, 0x01, 0x00, 21];
    bytes.extend_from_slice(b"sensors/+/temperature");
    bytes.extend_from_slice(&[0x00, 0x00, 0x03, b'a', b'/', b'#', 0x01]);
    both_ways(
        &bytes,
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            subscriptions: vec![
                Subscription::new("sensors/+/temperature", QoS::AtMostOnce),
                Subscription::new("a/#", QoS::AtLeastOnce),
            ],
            properties: Properties::new(),
        }),
    );
}

#[test]
fn subscribe_violations() {
    assert_eq!(
        decode(&[0x82, 0x02, 0x00, 0x01]),
        Err(Error::NoTopicFilters(PacketType::Subscribe))
    );
    assert_eq!(
        decode(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
        Err(Error::InvalidHeaderFlags {
            packet: PacketType::Subscribe,
            flags: 0
        })
    );
    assert_eq!(
        decode(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04]),
        Err(Error::InvalidSubscriptionOptions(4))
    );
    assert_eq!(
        decode(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', b'#', 0x00]),
        Err(Error::InvalidWildcard)
    );
}

#[test]
fn suback() {
    both_ways(
        &[0x90, 0x05, 0x00, 0x01, 0x00, 0x02, 0x80],
        Packet::SubAck(SubAck::new(
            1,
            vec![
                ReasonCode::Success,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
        )),
    );
    assert_eq!(
        decode(&[0x90, 0x03, 0x00, 0x01, 0x03]),
        Err(Error::InvalidSubscribeReturnCode(3))
    );
}

#[test]
fn unsubscribe() {
    both_ways(
        &[0xA2, 0x07, 0x00, 0x02, 0x00, 0x03, b'a', b'/', b'#'],
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 2,
            filters: vec![ByteStr::from("a/#")],
            properties: Properties::new(),
        }),
    );
    assert_eq!(
        decode(&[0xA2, 0x02, 0x00, 0x02]),
        Err(Error::NoTopicFilters(PacketType::Unsubscribe))
    );
}

#[test]
fn bodiless_packets() {
    both_ways(&[0xC0, 0x00], Packet::PingReq);
    both_ways(&[0xD0, 0x00], Packet::PingResp);
    both_ways(&[0xE0, 0x00], Packet::disconnect());
    assert_eq!(decode(&[0xC0, 0x01, 0x00]), Err(Error::TrailingBytes(1)));
    assert_eq!(
        decode(&[0xE1, 0x00]),
        Err(Error::InvalidHeaderFlags {
            packet: PacketType::Disconnect,
            flags: 1
        })
    );
}

#[test]
fn reserved_packet_types() {
    assert_eq!(decode(&[0x00, 0x00]), Err(Error::ReservedPacketType(0)));
    assert_eq!(decode(&[0xF0, 0x00]), Err(Error::ReservedPacketType(15)));
}

#[test]
fn payload_shares_the_input_buffer() {
    let input = Bytes::from_static(&[0x00, 0x01, b't', b'x', b'y', b'z']);
    let Packet::Publish(p) = Packet::read(0x30, input.clone(), V3).expect("valid") else {
        panic!("not a publish");
    };
    assert_eq!(p.payload().as_ptr(), input[3..].as_ptr());
    assert_eq!(p.topic().as_ptr(), input[2..].as_ptr());
    assert_eq!(p.payload_bytes().as_ptr(), input[3..].as_ptr());
}

// ---- MQTT 5.0 ----

#[test]
fn connect_v5_with_properties_and_will_properties() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 39,
        0x00, 0x04, b'M', b'Q', b'T', b'T',
        0x05,                                   // level 5
        0xC6,                                   // user, password, will (QoS 0), clean start
        0x00, 0x1E,                             // keepalive 30 s
        8,                                      // property length
        0x11, 0x00, 0x00, 0x0E, 0x10,           // Session Expiry Interval 3600
        0x21, 0x00, 0x0A,                       // Receive Maximum 10
        0x00, 0x01, b'c',                       // client id
        5,                                      // will property length
        0x18, 0x00, 0x00, 0x00, 0x05,           // Will Delay Interval 5
        0x00, 0x01, b't',                       // will topic
        0x00, 0x00,                             // empty will payload
        0x00, 0x01, b'u',
        0x00, 0x01, b'p',
    ];
    both_ways_as(
        &bytes,
        Packet::from(Connect {
            protocol: V5,
            clean_session: true,
            keep_alive: 30,
            client_id: ByteStr::from("c"),
            will: Some(LastWill {
                topic: ByteStr::from("t"),
                payload: Bytes::new(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::new().with(Property::WillDelayInterval(5)),
            }),
            username: Some(ByteStr::from("u")),
            password: Some(Bytes::from_static(b"p")),
            properties: Properties::new()
                .with(Property::SessionExpiryInterval(3600))
                .with(Property::ReceiveMaximum(10)),
        }),
        V5,
    );
}

#[test]
fn connect_v5_allows_password_without_user_name() {
    let bytes = [
        0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x42, 0, 0, 0, 0, 0, 0, 1, b'p',
    ];
    let Ok(Packet::Connect(c)) = decode_as(&bytes, V3) else {
        panic!("CONNECT carries its own version");
    };
    assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(c.username, None);
}

#[test]
fn connack_v5() {
    #[rustfmt::skip]
    let bytes = [
        0x20, 0x0C,
        0x01, 0x00,                             // session present, success
        9,
        0x13, 0x00, 0x3C,                       // Server Keep Alive 60
        0x12, 0x00, 0x03, b'a', b'-', b'1',     // Assigned Client Identifier
    ];
    let mut ack = ConnAck::new(ReasonCode::Success, true);
    ack.properties = Properties::new()
        .with(Property::ServerKeepAlive(60))
        .with(Property::AssignedClientIdentifier(ByteStr::from("a-1")));
    both_ways_as(&bytes, Packet::ConnAck(ack), V5);
    // 0x8E (Session taken over) is a DISCONNECT code, not a CONNACK one.
    assert_eq!(
        decode_as(&[0x20, 0x03, 0x00, 0x8E, 0x00], V5),
        Err(Error::InvalidReasonCode {
            packet: PacketType::ConnAck,
            code: 0x8E
        })
    );
}

#[test]
fn publish_v5_with_properties() {
    #[rustfmt::skip]
    let bytes = [
        0x32, 0x1F,                             // PUBLISH QoS 1
        0x00, 0x03, b'a', b'/', b'b',
        0x00, 0x07,                             // packet id 7
        21,                                     // property length
        0x01, 0x01,                             // Payload Format Indicator: UTF-8
        0x02, 0x00, 0x00, 0x00, 0x3C,           // Message Expiry Interval 60
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property k=v
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'w', // User Property k=w (may repeat)
        b'h', b'i',
    ];
    let mut publish = Publish::new("a/b", Bytes::from_static(b"hi"));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = Some(7);
    publish.properties = Properties::new()
        .with(Property::PayloadFormatIndicator(1))
        .with(Property::MessageExpiryInterval(60))
        .with(Property::UserProperty(
            ByteStr::from("k"),
            ByteStr::from("v"),
        ))
        .with(Property::UserProperty(
            ByteStr::from("k"),
            ByteStr::from("w"),
        ));
    both_ways_as(&bytes, Packet::Publish(publish.clone()), V5);
    let pairs: Vec<_> = publish.properties.user_properties().collect();
    assert_eq!(pairs, [("k", "v"), ("k", "w")]);
    // The same message for a 3.1.1 subscriber: properties are not on the wire.
    let v3 = Packet::Publish(publish).to_bytes(V3).expect("encodes");
    assert_eq!(
        &v3[..],
        &[0x32, 0x09, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i']
    );
}

#[test]
fn publish_v5_topic_alias() {
    // Empty topic with Topic Alias 1.
    let bytes = [0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'x'];
    let Ok(Packet::Publish(p)) = decode_as(&bytes, V5) else {
        panic!("valid PUBLISH")
    };
    assert_eq!(p.topic_alias(), Some(1));
    assert!(p.topic().is_empty());
    // Empty topic without an alias is a protocol error; alias 0 is invalid.
    assert_eq!(
        decode_as(&[0x30, 0x04, 0, 0, 0, b'x'], V5),
        Err(Error::EmptyTopic)
    );
    assert_eq!(
        decode_as(&[0x30, 0x07, 0, 0, 3, 0x23, 0, 0, b'x'], V5),
        Err(Error::InvalidPropertyValue(0x23))
    );
}

#[test]
fn property_rules() {
    // Duplicate Message Expiry Interval.
    let dup = [
        0x30, 0x0F, 0, 1, b'a', 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2, b'x',
    ];
    assert_eq!(decode_as(&dup, V5), Err(Error::DuplicateProperty(0x02)));
    // Session Expiry Interval is not a PUBLISH property.
    let wrong = [0x30, 0x0A, 0, 1, b'a', 5, 0x11, 0, 0, 0, 1, b'x'];
    assert_eq!(
        decode_as(&wrong, V5),
        Err(Error::PropertyNotAllowed {
            id: 0x11,
            context: PropertyContext::Packet(PacketType::Publish)
        })
    );
    // Unknown identifier 0x7F.
    assert_eq!(
        decode_as(&[0x30, 0x07, 0, 1, b'a', 2, 0x7F, 0, b'x'], V5),
        Err(Error::UnknownProperty(0x7F))
    );
    // A property length running past the packet.
    assert_eq!(
        decode_as(&[0x30, 0x05, 0, 1, b'a', 9, 0x01], V5),
        Err(Error::UnexpectedEof)
    );
    // Subscription Identifier may repeat in PUBLISH (one per matching subscription).
    let ids = [
        0x30, 0x0A, 0, 1, b'a', 4, 0x0B, 0x01, 0x0B, 0x02, b'x', b'y',
    ];
    let Ok(Packet::Publish(p)) = decode_as(&ids, V5) else {
        panic!("valid PUBLISH")
    };
    assert_eq!(p.properties.len(), 2);
}

#[test]
fn acks_v5_short_and_long_forms() {
    // Success without properties: the 3.1.1 shape.
    both_ways_as(&[0x40, 0x02, 0x00, 0x01], Packet::PubAck(Ack::new(1)), V5);
    // Reason code only.
    let mut no_subs = Ack::new(1);
    no_subs.reason = ReasonCode::NoMatchingSubscribers;
    both_ways_as(&[0x40, 0x03, 0x00, 0x01, 0x10], Packet::PubAck(no_subs), V5);
    // Reason code and a Reason String.
    let mut refused = Ack::new(2);
    refused.reason = ReasonCode::NotAuthorized;
    refused.properties = Properties::new().with(Property::ReasonString(ByteStr::from("acl")));
    both_ways_as(
        &[
            0x50, 0x0A, 0x00, 0x02, 0x87, 0x06, 0x1F, 0x00, 0x03, b'a', b'c', b'l',
        ],
        Packet::PubRec(refused),
        V5,
    );
    // PUBREL may only say Success or Packet identifier not found.
    assert_eq!(
        decode_as(&[0x62, 0x03, 0x00, 0x01, 0x80], V5),
        Err(Error::InvalidReasonCode {
            packet: PacketType::PubRel,
            code: 0x80
        })
    );
    // Explicit success and empty properties decode to the same ack.
    assert_eq!(
        decode_as(&[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], V5),
        Ok(Packet::PubAck(Ack::new(1)))
    );
}

#[test]
fn subscribe_v5_options() {
    #[rustfmt::skip]
    let bytes = [
        0x82, 0x0B,
        0x00, 0x05,
        0x02, 0x0B, 0x07,                       // Subscription Identifier 7
        0x00, 0x03, b'a', b'/', b'#',
        0x2D,                                   // Retain Handling 2, RAP, No Local, QoS 1
    ];
    let mut sub = Subscription::new("a/#", QoS::AtLeastOnce);
    sub.no_local = true;
    sub.retain_as_published = true;
    sub.retain_handling = RetainHandling::DoNotSend;
    both_ways_as(
        &bytes,
        Packet::Subscribe(Subscribe {
            packet_id: 5,
            subscriptions: vec![sub],
            properties: Properties::new().with(Property::SubscriptionIdentifier(7)),
        }),
        V5,
    );
    // Retain Handling 3 and the reserved bits are errors; in 3.1.1 so is any bit above QoS.
    assert_eq!(
        decode_as(&[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0x30], V5),
        Err(Error::InvalidSubscriptionOptions(0x30))
    );
    assert_eq!(
        decode_as(&[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0x40], V5),
        Err(Error::InvalidSubscriptionOptions(0x40))
    );
    assert_eq!(
        decode_as(&[0x82, 0x06, 0, 1, 0, 1, b'a', 0x04], V3),
        Err(Error::InvalidSubscriptionOptions(0x04))
    );
    // No Local on a shared subscription.
    let mut shared = vec![0x82, 0x00, 0, 1, 0, 0, 10];
    shared.extend_from_slice(b"$share/g/a");
    shared.push(0x04);
    shared[1] = (shared.len() - 2) as u8;
    assert_eq!(
        decode_as(&shared, V5),
        Err(Error::NoLocalOnSharedSubscription)
    );
}

#[test]
fn suback_and_unsuback_v5() {
    both_ways_as(
        &[0x90, 0x05, 0x00, 0x05, 0x00, 0x01, 0x97],
        Packet::SubAck(SubAck::new(
            5,
            vec![ReasonCode::GrantedQoS1, ReasonCode::QuotaExceeded],
        )),
        V5,
    );
    both_ways_as(
        &[0xB0, 0x05, 0x00, 0x06, 0x00, 0x00, 0x11],
        Packet::UnsubAck(SubAck::new(
            6,
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        )),
        V5,
    );
    // A 5.0-only SUBACK code sent to a 3.1.1 client becomes 0x80.
    let quota = Packet::SubAck(SubAck::new(5, vec![ReasonCode::QuotaExceeded]));
    assert_eq!(
        &quota.to_bytes(V3).expect("encodes")[..],
        &[0x90, 0x03, 0x00, 0x05, 0x80]
    );
}

#[test]
fn disconnect_and_auth_v5() {
    both_ways_as(&[0xE0, 0x00], Packet::disconnect(), V5);
    both_ways_as(
        &[0xE0, 0x01, 0x8E],
        Packet::Disconnect(Status::new(ReasonCode::SessionTakenOver)),
        V5,
    );
    let mut with_will = Status::new(ReasonCode::DisconnectWithWillMessage);
    with_will.properties = Properties::new().with(Property::SessionExpiryInterval(0));
    both_ways_as(
        &[0xE0, 0x07, 0x04, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
        Packet::Disconnect(with_will),
        V5,
    );
    let mut auth = Status::new(ReasonCode::ContinueAuthentication);
    auth.properties = Properties::new().with(Property::AuthenticationMethod(ByteStr::from("X")));
    both_ways_as(
        &[0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'X'],
        Packet::Auth(auth),
        V5,
    );
    // AUTH is reserved before 5.0, in both directions.
    assert_eq!(
        decode_as(&[0xF0, 0x00], V3),
        Err(Error::ReservedPacketType(15))
    );
    assert_eq!(
        Packet::Auth(Status::default()).to_bytes(V3),
        Err(Error::NotInVersion(PacketType::Auth))
    );
    // A DISCONNECT reason a 3.1.1 peer cannot see is not on its wire.
    let taken = Packet::Disconnect(Status::new(ReasonCode::SessionTakenOver));
    assert_eq!(&taken.to_bytes(V3).expect("encodes")[..], &[0xE0, 0x00]);
}

#[test]
fn error_codes_fit_the_packet_that_carries_them() {
    let errors = [
        Error::PacketTooLarge { size: 9, max: 1 },
        Error::MalformedRemainingLength,
        Error::UnexpectedEof,
        Error::InvalidProtocolName("x".into()),
        Error::UnsupportedProtocolLevel(9),
        Error::WildcardInTopicName,
        Error::InvalidWildcard,
        Error::InvalidSharedSubscription,
        Error::DuplicateProperty(1),
        Error::UnexpectedPacket(PacketType::Connect),
        Error::TopicAliasInvalid(3),
        Error::ReceiveMaximumExceeded,
        Error::InvalidUtf8,
    ];
    for e in errors {
        let disconnect = ReasonCode::allowed_in(PacketType::Disconnect);
        assert!(
            disconnect.contains(&e.reason_code()),
            "{e:?} -> {:?}",
            e.reason_code()
        );
        let connack = ReasonCode::allowed_in(PacketType::ConnAck);
        assert!(
            connack.contains(&e.connack_code()),
            "{e:?} -> {:?}",
            e.connack_code()
        );
    }
}

#[test]
fn a_publish_kept_for_long_owns_its_bytes() {
    let mut received =
        BytesMut::from(&[0x32, 0x08, 0, 3, b'a', b'/', b'b', 0, 5, b'x', 0xC0, 0][..]);
    let Ok(Some(Packet::Publish(p))) = crate::framing::decode(&mut received, 64, V3) else {
        panic!("valid PUBLISH")
    };
    let kept = p.detached();
    assert_eq!(kept, p);
    assert_ne!(kept.payload().as_ptr(), p.payload().as_ptr());
    assert_eq!(
        Packet::Publish(kept).to_bytes(V3),
        Packet::Publish(p).to_bytes(V3)
    );
}

#[test]
fn set_topic_keeps_everything_else() {
    let bytes = [
        0x3B, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i',
    ];
    let Ok(Some(Packet::Publish(mut p))) =
        crate::framing::decode(&mut BytesMut::from(&bytes[..]), 64, V3)
    else {
        panic!("valid PUBLISH")
    };
    p.set_topic("longer/topic");
    assert_eq!((p.topic(), p.payload()), ("longer/topic", &b"hi"[..]));
    assert_eq!(
        (p.dup, p.qos, p.retain, p.packet_id),
        (true, QoS::AtLeastOnce, true, Some(10))
    );
    let mut expected = vec![0x3B, 0x12, 0x00, 0x0C];
    expected.extend_from_slice(b"longer/topic");
    expected.extend_from_slice(&[0x00, 0x0A, b'h', b'i']);
    assert_eq!(
        Packet::Publish(p).to_bytes(V3).expect("encodes")[..],
        expected[..]
    );
}

#[test]
fn a_property_list_of_128_bytes_or_more_widens_its_length() {
    // PUBACK, reason 0x10, a Reason String of 200 'r's: the list is 203 bytes.
    let reason = "r".repeat(200);
    let mut bytes = vec![
        0x40, 0xD0, 0x01, 0x00, 0x07, 0x10, 0xCB, 0x01, 0x1F, 0x00, 200,
    ];
    bytes.extend_from_slice(reason.as_bytes());
    let mut ack = Ack::new(7);
    ack.reason = ReasonCode::NoMatchingSubscribers;
    ack.properties = Properties::new().with(Property::ReasonString(ByteStr::from(reason)));
    both_ways_as(&bytes, Packet::PubAck(ack), V5);
}
