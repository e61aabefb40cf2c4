//! Byte vectors worked out by hand from the MQTT 3.1.1 specification
//! (chapters 2 and 3), decoded and re-encoded. None of them came from our encoder.

use super::*;
use crate::framing::check;
use crate::ByteStr;
use alloc::{vec, vec::Vec};

fn decode(bytes: &[u8]) -> Result<Packet, Error> {
    let frame = check(bytes, bytes.len())?.expect("vector holds a whole frame");
    assert_eq!(frame.len(), bytes.len(), "vector holds exactly one frame");
    Packet::read(
        frame.first_byte,
        Bytes::copy_from_slice(&bytes[frame.header_len..]),
    )
}

/// Decodes `bytes` to `expected` and encodes `expected` back to `bytes`.
fn both_ways(bytes: &[u8], expected: Packet) {
    assert_eq!(decode(bytes), Ok(expected.clone()));
    assert_eq!(&expected.to_bytes().expect("encodes")[..], bytes);
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
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V311,
            clean_session: true,
            keep_alive: 60,
            client_id: ByteStr::from("dash"),
            will: None,
            username: None,
            password: None,
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
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V31,
            clean_session: true,
            keep_alive: 10,
            client_id: ByteStr::from("c1"),
            will: Some(LastWill {
                topic: ByteStr::from("s/x"),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            username: Some(ByteStr::from("u")),
            password: Some(Bytes::from_static(b"p")),
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
    assert_eq!(with(5, 0x02), Err(Error::UnsupportedProtocolLevel(5)));
    assert_eq!(
        Error::UnsupportedProtocolLevel(5).connack_code(),
        Some(ConnectReturnCode::UnacceptableProtocolVersion)
    );
    let bad_name = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'X', 4, 2, 0, 0, 0, 0];
    assert!(matches!(
        decode(&bad_name),
        Err(Error::InvalidProtocolName(_))
    ));
}

#[test]
fn connack() {
    let accepted = |session_present| {
        Packet::ConnAck(ConnAck {
            session_present,
            code: ConnectReturnCode::Accepted,
        })
    };
    both_ways(&[0x20, 0x02, 0x00, 0x00], accepted(false));
    both_ways(&[0x20, 0x02, 0x01, 0x00], accepted(true));
    both_ways(
        &[0x20, 0x02, 0x00, 0x05],
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: ConnectReturnCode::NotAuthorized,
        }),
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
    both_ways(
        &bytes,
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: ByteStr::from("a/b"),
            packet_id: Some(10),
            payload: Bytes::from_static(b"hi"),
        }),
    );
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
    both_ways(&[0x40, 0x02, 0x00, 0x0A], Packet::PubAck(10));
    both_ways(&[0x50, 0x02, 0x00, 0x0A], Packet::PubRec(10));
    both_ways(&[0x62, 0x02, 0x00, 0x0A], Packet::PubRel(10));
    both_ways(&[0x70, 0x02, 0x00, 0x0A], Packet::PubComp(10));
    both_ways(&[0xB0, 0x02, 0x01, 0x00], Packet::UnsubAck(256));
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
                Subscription {
                    filter: ByteStr::from("sensors/+/temperature"),
                    qos: QoS::AtMostOnce,
                },
                Subscription {
                    filter: ByteStr::from("a/#"),
                    qos: QoS::AtLeastOnce,
                },
            ],
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
        Packet::SubAck(SubAck {
            packet_id: 1,
            return_codes: vec![
                SubscribeReturnCode::Granted(QoS::AtMostOnce),
                SubscribeReturnCode::Granted(QoS::ExactlyOnce),
                SubscribeReturnCode::Failure,
            ],
        }),
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
    both_ways(&[0xE0, 0x00], Packet::Disconnect);
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
    let Packet::Publish(p) = Packet::read(0x30, input.clone()).expect("valid") else {
        panic!("not a publish");
    };
    assert_eq!(p.payload.as_ptr(), input[3..].as_ptr());
    assert_eq!(p.topic.as_bytes().as_ptr(), input[2..].as_ptr());
    let _: Vec<u8> = p.payload.to_vec();
}
