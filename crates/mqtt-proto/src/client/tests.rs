//! The session against a scripted server: bytes in, bytes and events out,
//! with time stepped by hand. Server bytes are written out by hand.

use super::*;
use crate::{Packet, PacketType};
use alloc::vec;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Packets the session wants to send, decoded as the server would.
fn sent(session: &mut ClientSession) -> Vec<Packet> {
    let mut decoder = StreamDecoder::new(1 << 20, session.config().protocol);
    if let Some(bytes) = session.poll_transmit() {
        decoder.feed(&bytes);
    }
    let mut packets = Vec::new();
    while let Some(p) = decoder.next_packet().expect("session sends valid packets") {
        packets.push(p);
    }
    packets
}

fn events(session: &mut ClientSession) -> Vec<Event> {
    core::iter::from_fn(|| session.poll_event()).collect()
}

fn config(protocol: ProtocolVersion, keep_alive_secs: u16) -> ClientConfig {
    let mut config = ClientConfig::new("dash-1");
    config.protocol = protocol;
    config.keep_alive_secs = keep_alive_secs;
    config
}

/// A session past CONNACK; `connack` is the server's raw CONNACK.
fn connected_with(config: ClientConfig, connack: &[u8]) -> ClientSession {
    let mut s = ClientSession::new(config);
    s.connect(at(0)).expect("connect encodes");
    let Packet::Connect(c) = &sent(&mut s)[0] else {
        panic!("first packet is CONNECT")
    };
    assert_eq!(c.client_id, "dash-1");
    s.handle_bytes(connack, at(5));
    assert!(matches!(events(&mut s)[..], [Event::Connected { .. }]));
    s
}

fn connected(keep_alive_secs: u16) -> ClientSession {
    connected_with(
        config(ProtocolVersion::V311, keep_alive_secs),
        &[0x20, 0x02, 0x00, 0x00],
    )
}

fn qos(topic: &str, payload: &'static [u8], q: QoS) -> Publish {
    let mut p = Publish::new(topic, Bytes::from_static(payload));
    p.qos = q;
    p
}

#[test]
fn handshake_in_single_bytes() {
    let mut s = ClientSession::new(ClientConfig::new("x"));
    s.connect(at(0)).expect("connect encodes");
    assert_eq!(s.state(), SessionState::Connecting);
    for b in [0x20, 0x02, 0x01, 0x00] {
        s.handle_bytes(&[b], at(1));
    }
    assert_eq!(s.state(), SessionState::Connected);
    assert_eq!(
        events(&mut s),
        vec![Event::Connected {
            session_present: true
        }]
    );
}

#[test]
fn refusal_is_reported() {
    let mut s = ClientSession::new(ClientConfig::new("x"));
    s.connect(at(0)).expect("connect encodes");
    s.handle_bytes(&[0x20, 0x02, 0x00, 0x04], at(1));
    assert_eq!(s.state(), SessionState::Disconnected);
    assert_eq!(
        events(&mut s),
        vec![Event::Disconnected(DisconnectReason::Refused(
            ReasonCode::BadUserNameOrPassword
        ))]
    );
}

#[test]
fn connack_timeout() {
    let mut s = ClientSession::new(ClientConfig::new("x"));
    s.connect(at(0)).expect("connect encodes");
    assert_eq!(s.poll_timeout(), Some(at(10_000)));
    s.handle_timeout(at(9_999));
    assert_eq!(s.state(), SessionState::Connecting);
    s.handle_timeout(at(10_000));
    assert_eq!(
        events(&mut s),
        vec![Event::Disconnected(DisconnectReason::ConnectTimeout)]
    );
}

#[test]
fn keepalive_pings_then_times_out() {
    let mut s = connected(10);
    // CONNECT went out at 0, so the first ping is due at 10 s.
    assert_eq!(s.poll_timeout(), Some(at(10_000)));
    s.handle_timeout(at(10_000));
    assert_eq!(sent(&mut s), vec![Packet::PingReq]);
    s.handle_bytes(&[0xD0, 0x00], at(10_050));
    assert_eq!(s.poll_timeout(), Some(at(20_000)));
    s.handle_timeout(at(20_000));
    assert_eq!(sent(&mut s), vec![Packet::PingReq]);
    // No PINGRESP this time.
    assert_eq!(s.poll_timeout(), Some(at(30_000)));
    s.handle_timeout(at(30_000));
    assert_eq!(
        events(&mut s),
        vec![Event::Disconnected(DisconnectReason::KeepAliveTimeout)]
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn sending_defers_the_ping() {
    let mut s = connected(10);
    s.publish(qos("a", b"1", QoS::AtMostOnce), at(4_000))
        .expect("publish");
    assert_eq!(s.poll_timeout(), Some(at(14_000)));
}

#[test]
fn subscribe_and_receive() {
    let mut s = connected(0);
    let id = s
        .subscribe(
            vec![Subscription::new("sensors/+/temperature", QoS::AtMostOnce)],
            at(10),
        )
        .expect("valid filter");
    assert!(matches!(&sent(&mut s)[..], [Packet::Subscribe(sub)] if sub.packet_id == id));
    let [hi, lo] = id.to_be_bytes();
    s.handle_bytes(&[0x90, 0x03, hi, lo, 0x00], at(11));
    s.handle_bytes(
        &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'2', b'1'],
        at(12),
    );
    assert_eq!(
        events(&mut s),
        vec![
            Event::SubAck {
                ack: SubAck::new(id, vec![ReasonCode::Success]),
                filters: vec![ByteStr::from_static("sensors/+/temperature")],
            },
            Event::Message(Publish::new("a/b", Bytes::from_static(b"21"))),
        ]
    );
}

#[test]
fn invalid_filter_is_refused_locally() {
    let mut s = connected(0);
    let bad = vec![Subscription::new("a/#/b", QoS::AtMostOnce)];
    assert_eq!(s.subscribe(bad, at(1)), Err(Error::InvalidWildcard));
    assert_eq!(sent(&mut s), vec![]);
}

#[test]
fn incoming_qos2_delivered_once_despite_dup() {
    let mut s = connected(0);
    // PUBLISH QoS 2, id 7, then its DUP, then PUBREL.
    s.handle_bytes(&[0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x07, b'v'], at(1));
    s.handle_bytes(&[0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x07, b'v'], at(2));
    s.handle_bytes(&[0x62, 0x02, 0x00, 0x07], at(3));
    assert_eq!(
        sent(&mut s),
        vec![
            Packet::PubRec(Ack::new(7)),
            Packet::PubRec(Ack::new(7)),
            Packet::PubComp(Ack::new(7))
        ]
    );
    assert_eq!(events(&mut s).len(), 1);
}

#[test]
fn outgoing_qos1_until_puback() {
    let mut s = connected(0);
    let id = s
        .publish(qos("a", b"x", QoS::AtLeastOnce), at(1))
        .expect("publish")
        .expect("id");
    assert!(matches!(&sent(&mut s)[..], [Packet::Publish(p)] if p.packet_id == Some(id) && !p.dup));
    assert_eq!(s.unacknowledged(), 1);
    let [hi, lo] = id.to_be_bytes();
    s.handle_bytes(&[0x40, 0x02, hi, lo], at(2));
    assert_eq!(events(&mut s), vec![Event::Published { packet_id: id }]);
    assert_eq!(s.unacknowledged(), 0);
}

#[test]
fn outgoing_qos2_full_exchange() {
    let mut s = connected(0);
    let id = s
        .publish(qos("a", b"x", QoS::ExactlyOnce), at(1))
        .expect("publish")
        .expect("id");
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(sent(&mut s).len(), 1);
    // PUBCOMP before PUBREC is out of order: a protocol error.
    let mut early = connected(0);
    early
        .publish(qos("a", b"x", QoS::ExactlyOnce), at(1))
        .expect("publish");
    early.handle_bytes(&[0x70, 0x02, 0x00, 0x01], at(2));
    assert!(matches!(
        events(&mut early)[..],
        [Event::Disconnected(DisconnectReason::ProtocolError(_))]
    ));
    s.handle_bytes(&[0x50, 0x02, hi, lo], at(2));
    assert_eq!(sent(&mut s), vec![Packet::PubRel(Ack::new(id))]);
    assert_eq!(events(&mut s), vec![]);
    s.handle_bytes(&[0x70, 0x02, hi, lo], at(3));
    assert_eq!(events(&mut s), vec![Event::Published { packet_id: id }]);
}

#[test]
fn resumed_session_resends_with_dup_and_pubrel() {
    let mut cfg = config(ProtocolVersion::V311, 0);
    cfg.clean_session = false;
    let mut s = connected_with(cfg, &[0x20, 0x02, 0x00, 0x00]);
    let q1 = s
        .publish(qos("a", b"1", QoS::AtLeastOnce), at(1))
        .expect("ok")
        .expect("id");
    let q2 = s
        .publish(qos("b", b"2", QoS::ExactlyOnce), at(1))
        .expect("ok")
        .expect("id");
    let [hi, lo] = q2.to_be_bytes();
    s.handle_bytes(&[0x50, 0x02, hi, lo], at(2)); // PUBREC for q2
    sent(&mut s);
    s.handle_transport_closed();
    events(&mut s);

    s.connect(at(100)).expect("reconnect");
    let Packet::Connect(c) = &sent(&mut s)[0] else {
        panic!("CONNECT")
    };
    assert!(!c.clean_session, "a persistent session resumes");
    s.handle_bytes(&[0x20, 0x02, 0x01, 0x00], at(101)); // session present
    let resent = sent(&mut s);
    assert_eq!(resent.len(), 2);
    assert!(matches!(&resent[0], Packet::Publish(p) if p.dup && p.packet_id == Some(q1)));
    assert_eq!(resent[1], Packet::PubRel(Ack::new(q2)));
}

#[test]
fn fresh_session_sends_unacknowledged_messages_again() {
    let mut s = connected(0);
    let q1 = s
        .publish(qos("a", b"1", QoS::AtLeastOnce), at(1))
        .expect("ok")
        .expect("id");
    sent(&mut s);
    s.handle_transport_closed();
    events(&mut s);
    s.connect(at(100)).expect("reconnect");
    sent(&mut s);
    s.handle_bytes(&[0x20, 0x02, 0x00, 0x00], at(101)); // no session
    let resent = sent(&mut s);
    assert!(matches!(&resent[..], [Packet::Publish(p)] if !p.dup && p.packet_id == Some(q1)));
}

#[test]
fn receive_maximum_limits_the_window() {
    // CONNACK 5.0 with Receive Maximum 2.
    let connack = [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02];
    let mut s = connected_with(config(ProtocolVersion::V5, 0), &connack);
    let ids: Vec<u16> = (0..3)
        .map(|_| {
            s.publish(qos("a", b"x", QoS::AtLeastOnce), at(1))
                .expect("ok")
                .expect("id")
        })
        .collect();
    assert_eq!(sent(&mut s).len(), 2, "only two in flight");
    let [hi, lo] = ids[0].to_be_bytes();
    s.handle_bytes(&[0x40, 0x02, hi, lo], at(2));
    assert!(matches!(&sent(&mut s)[..], [Packet::Publish(p)] if p.packet_id == Some(ids[2])));
}

#[test]
fn v5_connack_properties_take_effect() {
    // Server Keep Alive 5 s and Maximum Packet Size 20 bytes.
    let connack = [
        0x20, 0x0B, 0x00, 0x00, 0x08, 0x13, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x14,
    ];
    let mut s = connected_with(config(ProtocolVersion::V5, 60), &connack);
    assert_eq!(s.poll_timeout(), Some(at(5_000)));
    let big = Publish::new("a", Bytes::from_static(&[0u8; 32]));
    assert!(matches!(
        s.publish(big, at(1)),
        Err(Error::PacketTooLarge { max: 20, .. })
    ));
}

#[test]
fn v5_connect_announces_limits() {
    let mut cfg = config(ProtocolVersion::V5, 30);
    cfg.receive_maximum = 8;
    cfg.session_expiry_secs = 600;
    let mut s = ClientSession::new(cfg);
    s.connect(at(0)).expect("connect");
    let Packet::Connect(c) = &sent(&mut s)[0] else {
        panic!("CONNECT")
    };
    assert_eq!(c.protocol, ProtocolVersion::V5);
    let find = |id: u8| c.properties.iter().find(|p| p.id() == id).cloned();
    assert_eq!(find(0x11), Some(Property::SessionExpiryInterval(600)));
    assert_eq!(find(0x21), Some(Property::ReceiveMaximum(8)));
    assert_eq!(find(0x22), Some(Property::TopicAliasMaximum(16)));
}

#[test]
fn v5_topic_aliases_resolve() {
    let mut s = connected_with(
        config(ProtocolVersion::V5, 0),
        &[0x20, 0x03, 0x00, 0x00, 0x00],
    );
    // "s/t" with alias 3, then an empty topic with alias 3.
    s.handle_bytes(
        &[
            0x30, 0x0A, 0x00, 0x03, b's', b'/', b't', 0x03, 0x23, 0x00, 0x03, b'1',
        ],
        at(1),
    );
    s.handle_bytes(
        &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x03, b'2'],
        at(2),
    );
    let topics: Vec<String> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(p) => Some(p.topic().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(topics, ["s/t", "s/t"]);
    // An alias never set up ends the session with DISCONNECT 0x94.
    s.handle_bytes(
        &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x04, b'3'],
        at(3),
    );
    assert_eq!(
        sent(&mut s),
        vec![Packet::Disconnect(crate::Status::new(
            ReasonCode::TopicAliasInvalid
        ))]
    );
}

#[test]
fn v5_server_disconnect_reason() {
    let mut s = connected_with(
        config(ProtocolVersion::V5, 0),
        &[0x20, 0x03, 0x00, 0x00, 0x00],
    );
    s.handle_bytes(&[0xE0, 0x01, 0x8B], at(1));
    assert_eq!(
        events(&mut s),
        vec![Event::Disconnected(DisconnectReason::ServerDisconnected(
            ReasonCode::ServerShuttingDown
        ))]
    );
}

#[test]
fn garbage_from_server_closes_with_protocol_error() {
    let mut s = connected(0);
    s.handle_bytes(&[0x00, 0x00], at(1));
    assert_eq!(
        events(&mut s),
        vec![Event::Disconnected(DisconnectReason::ProtocolError(
            Error::ReservedPacketType(0)
        ))]
    );
    assert_eq!(
        s.publish(qos("a", b"", QoS::AtMostOnce), at(2)),
        Err(Error::NotConnected)
    );
}

#[test]
fn fresh_session_resubscribes_what_was_granted() {
    let mut s = connected(0);
    let a = Subscription::new("sensors/+/temperature", QoS::AtMostOnce);
    let b = Subscription::new("secret/#", QoS::AtLeastOnce);
    let id = s.subscribe(vec![a.clone(), b], at(1)).expect("valid");
    let [hi, lo] = id.to_be_bytes();
    s.handle_bytes(&[0x90, 0x04, hi, lo, 0x00, 0x80], at(2)); // granted, refused
    s.subscribe(vec![Subscription::new("tmp/x", QoS::AtMostOnce)], at(3))
        .expect("valid");
    s.unsubscribe(vec![ByteStr::from("tmp/x")], at(4))
        .expect("valid");
    sent(&mut s);
    events(&mut s);
    assert_eq!(
        s.subscriptions().cloned().collect::<Vec<_>>(),
        vec![a.clone()]
    );

    s.handle_transport_closed();
    s.connect(at(100)).expect("reconnect");
    sent(&mut s);
    s.handle_bytes(&[0x20, 0x02, 0x00, 0x00], at(101)); // no session on the server
    let resent = sent(&mut s);
    assert!(
        matches!(&resent[..], [Packet::Subscribe(sub)] if sub.subscriptions == vec![a.clone()]),
        "{resent:?}"
    );

    // A resumed session keeps them on the server: nothing is re-sent.
    s.handle_transport_closed();
    s.connect(at(200)).expect("reconnect");
    sent(&mut s);
    s.handle_bytes(&[0x20, 0x02, 0x01, 0x00], at(201));
    assert_eq!(sent(&mut s), vec![]);
}

#[test]
fn suback_for_an_unknown_identifier_is_a_protocol_error() {
    let mut s = connected(0);
    s.handle_bytes(&[0x90, 0x03, 0x00, 0x09, 0x00], at(1));
    assert!(matches!(
        events(&mut s)[..],
        [Event::Disconnected(DisconnectReason::ProtocolError(
            Error::UnexpectedPacket(PacketType::SubAck)
        ))]
    ));
}
