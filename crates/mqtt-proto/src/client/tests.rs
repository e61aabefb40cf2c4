//! The session against a scripted server: bytes in, bytes and events out,
//! with time stepped by hand.

use super::*;
use crate::{Packet, SubscribeReturnCode};
use alloc::vec;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn sent(session: &mut ClientSession) -> Vec<Packet> {
    let mut decoder = StreamDecoder::new(1 << 20);
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

fn connected(keep_alive_secs: u16) -> ClientSession {
    let mut config = ClientConfig::new("dash-1");
    config.keep_alive_secs = keep_alive_secs;
    let mut s = ClientSession::new(config);
    s.connect(at(0)).expect("connect encodes");
    let Packet::Connect(c) = &sent(&mut s)[0] else {
        panic!("first packet is CONNECT")
    };
    assert_eq!(c.client_id, "dash-1");
    assert_eq!(c.keep_alive, keep_alive_secs);
    s.handle_bytes(&[0x20, 0x02, 0x00, 0x00], at(5));
    assert_eq!(
        events(&mut s),
        vec![Event::Connected {
            session_present: false
        }]
    );
    s
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
            ConnectReturnCode::BadUserNameOrPassword
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
    s.publish(
        ByteStr::from("a"),
        Bytes::from_static(b"1"),
        false,
        at(4_000),
    )
    .expect("publish");
    assert_eq!(s.poll_timeout(), Some(at(14_000)));
}

#[test]
fn subscribe_and_receive() {
    let mut s = connected(0);
    let id = s
        .subscribe(
            vec![Subscription {
                filter: ByteStr::from("sensors/+/temperature"),
                qos: QoS::AtMostOnce,
            }],
            at(10),
        )
        .expect("valid filter");
    assert_eq!(id, 1);
    assert!(matches!(&sent(&mut s)[..], [Packet::Subscribe(sub)] if sub.packet_id == 1));
    s.handle_bytes(&[0x90, 0x03, 0x00, 0x01, 0x00], at(11));
    s.handle_bytes(
        &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'2', b'1'],
        at(12),
    );
    assert_eq!(
        events(&mut s),
        vec![
            Event::SubAck(SubAck {
                packet_id: 1,
                return_codes: vec![SubscribeReturnCode::Granted(QoS::AtMostOnce)]
            }),
            Event::Message(Publish::new("a/b", Bytes::from_static(b"21"))),
        ]
    );
}

#[test]
fn invalid_filter_is_refused_locally() {
    let mut s = connected(0);
    let bad = vec![Subscription {
        filter: ByteStr::from("a/#/b"),
        qos: QoS::AtMostOnce,
    }];
    assert_eq!(s.subscribe(bad, at(1)), Err(Error::InvalidWildcard));
    assert_eq!(sent(&mut s), vec![]);
}

#[test]
fn qos2_delivered_once_despite_dup() {
    let mut s = connected(0);
    // PUBLISH QoS 2, id 7, then its DUP, then PUBREL.
    let publish = [0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x07, b'v'];
    let dup = [0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x07, b'v'];
    s.handle_bytes(&publish, at(1));
    s.handle_bytes(&dup, at(2));
    s.handle_bytes(&[0x62, 0x02, 0x00, 0x07], at(3));
    assert_eq!(
        sent(&mut s),
        vec![Packet::PubRec(7), Packet::PubRec(7), Packet::PubComp(7)]
    );
    assert_eq!(events(&mut s).len(), 1);
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
        s.publish(ByteStr::from("a"), Bytes::new(), false, at(2)),
        Err(Error::NotConnected)
    );
}
