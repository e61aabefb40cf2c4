//! MQTT 5.0 through the real binary: CONNACK's limits, properties passed
//! through, subscription options and identifiers, topic aliases both ways,
//! expiry of messages and sessions, limits enforced with their reason codes,
//! the Will's delay, and 5.0 and 3.1.1 clients talking to each other.

mod common;

use common::{connect_packet, disconnect_reason, next_publish, MqttClient, RunningBridge};
use mqtt_proto::{
    Ack, ByteStr, LastWill, Packet, Properties, Property, ProtocolVersion, Publish, QoS,
    ReasonCode, RetainHandling, Status, Subscription,
};
use std::time::Duration;

const V5: ProtocolVersion = ProtocolVersion::V5;
const QUIET: Duration = Duration::from_millis(300);

async fn v5(addr: std::net::SocketAddr, id: &str) -> MqttClient {
    MqttClient::connect_with(addr, connect_packet(V5, id, true))
        .await
        .0
}

fn find<T>(p: &Properties, pick: impl FnMut(&Property) -> Option<T>) -> Option<T> {
    p.find(pick)
}

#[tokio::test]
async fn connack_tells_the_limits_and_assigns_an_id() {
    let bridge = RunningBridge::start(&[]).await;
    let (_c, ack) = MqttClient::connect_with(bridge.tcp, connect_packet(V5, "", true)).await;
    let assigned = find(&ack.properties, |p| match p {
        Property::AssignedClientIdentifier(id) => Some(id.to_string()),
        _ => None,
    });
    assert!(assigned.is_some_and(|id| !id.is_empty()));
    for expected in [
        Property::ReceiveMaximum(64),
        Property::TopicAliasMaximum(32),
        Property::MaximumPacketSize(1 << 20),
    ] {
        assert!(
            ack.properties.iter().any(|p| *p == expected),
            "{expected:?} in {ack:?}"
        );
    }
    bridge.stop().await;
}

#[tokio::test]
async fn a_5_and_a_311_client_exchange_messages_and_properties_pass_through() {
    let bridge = RunningBridge::start(&[]).await;
    let mut new = v5(bridge.tcp, "new").await;
    let (mut old, _) = MqttClient::connect(bridge.tcp, "old", true).await;
    new.subscribe(1, "to-new", QoS::AtLeastOnce).await;
    old.subscribe(1, "to-old", QoS::AtLeastOnce).await;
    let (mut also_new, _) =
        MqttClient::connect_with(bridge.tcp, connect_packet(V5, "also-new", true)).await;
    also_new.subscribe(1, "to-old", QoS::AtMostOnce).await;

    old.publish("to-new", b"from 3.1.1", QoS::AtLeastOnce, 1)
        .await;
    let got = next_publish(&mut new).await;
    assert_eq!((got.topic(), got.payload()), ("to-new", &b"from 3.1.1"[..]));

    let properties = Properties::new()
        .with(Property::PayloadFormatIndicator(1))
        .with(Property::ContentType(ByteStr::from("text/plain")))
        .with(Property::ResponseTopic(ByteStr::from("replies/new")))
        .with(Property::CorrelationData(bytes::Bytes::from_static(
            b"req-9",
        )))
        .with(Property::UserProperty(
            ByteStr::from("site"),
            ByteStr::from("greenhouse"),
        ));
    let mut p = Publish::new("to-old", b"from 5.0");
    p.properties = properties.clone();
    new.send(&Packet::Publish(p)).await;
    let got = next_publish(&mut old).await;
    assert_eq!((got.topic(), got.payload()), ("to-old", &b"from 5.0"[..]));
    let got = next_publish(&mut also_new).await;
    assert_eq!(
        got.properties, properties,
        "5.0 properties reach a 5.0 subscriber as sent"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn no_local_retain_as_published_and_retain_handling() {
    let bridge = RunningBridge::start(&[]).await;
    let mut me = v5(bridge.tcp, "me").await;
    let mut own = Subscription::new("chat", QoS::AtMostOnce);
    own.no_local = true;
    me.subscribe_with(1, own, Properties::new()).await;
    let mut other = v5(bridge.tcp, "other").await;
    me.send(&Packet::Publish(Publish::new("chat", b"mine")))
        .await;
    other
        .send(&Packet::Publish(Publish::new("chat", b"theirs")))
        .await;
    assert_eq!(
        next_publish(&mut me).await.payload(),
        b"theirs",
        "not my own"
    );
    assert_eq!(me.next_within(QUIET).await, None);

    let mut retained = Publish::new("state", b"on");
    retained.retain = true;
    other.send(&Packet::Publish(retained.clone())).await;
    other.ping().await;
    let mut keeps = Subscription::new("state", QoS::AtMostOnce);
    keeps.retain_as_published = true;
    keeps.retain_handling = RetainHandling::SendIfNewSubscription;
    me.subscribe_with(2, keeps.clone(), Properties::new()).await;
    assert!(
        next_publish(&mut me).await.retain,
        "retained message on a new subscription"
    );
    me.subscribe_with(3, keeps, Properties::new()).await;
    assert_eq!(
        me.next_within(QUIET).await,
        None,
        "not again for an existing one"
    );
    other.send(&Packet::Publish(retained)).await;
    assert!(
        next_publish(&mut me).await.retain,
        "live, with RETAIN as published"
    );
    let mut never = Subscription::new("state", QoS::AtMostOnce);
    never.retain_handling = RetainHandling::DoNotSend;
    let mut third = v5(bridge.tcp, "third").await;
    third.subscribe_with(1, never, Properties::new()).await;
    assert_eq!(third.next_within(QUIET).await, None);
    bridge.stop().await;
}

#[tokio::test]
async fn overlapping_subscriptions_deliver_once_with_every_identifier() {
    let bridge = RunningBridge::start(&[]).await;
    let mut sub = v5(bridge.tcp, "sub").await;
    let with_id = |id| Properties::new().with(Property::SubscriptionIdentifier(id));
    sub.subscribe_with(1, Subscription::new("s/+/t", QoS::AtMostOnce), with_id(7))
        .await;
    sub.subscribe_with(2, Subscription::new("s/#", QoS::AtLeastOnce), with_id(300))
        .await;
    let mut publisher = v5(bridge.tcp, "pub").await;
    publisher.publish("s/a/t", b"x", QoS::AtLeastOnce, 1).await;
    let got = next_publish(&mut sub).await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got
        .properties
        .iter()
        .filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(*id),
            _ => None,
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [7, 300]);
    assert_eq!(sub.next_within(QUIET).await, None, "one copy");
    bridge.stop().await;
}

#[tokio::test]
async fn topic_aliases_both_ways() {
    let bridge = RunningBridge::start(&[]).await;
    let mut connect = connect_packet(V5, "aliased", true);
    connect.properties.push(Property::TopicAliasMaximum(4));
    let (mut sub, _) = MqttClient::connect_with(bridge.tcp, connect).await;
    sub.subscribe(1, "greenhouse/#", QoS::AtMostOnce).await;
    let mut publisher = v5(bridge.tcp, "device").await;
    let mut first = Publish::new("greenhouse/1/temperature", b"21.0");
    first.properties.push(Property::TopicAlias(3));
    publisher.send(&Packet::Publish(first)).await;
    let mut second = Publish::new("", b"21.5");
    second.properties.push(Property::TopicAlias(3));
    publisher.send(&Packet::Publish(second)).await;

    // Sent to us with a full topic and alias 1, then with the alias alone.
    let a = next_publish(&mut sub).await;
    assert_eq!(
        (a.topic(), a.topic_alias()),
        ("greenhouse/1/temperature", Some(1))
    );
    let b = next_publish(&mut sub).await;
    assert_eq!(
        (b.topic(), b.topic_alias(), b.payload()),
        ("", Some(1), &b"21.5"[..])
    );

    // An alias above the announced maximum: DISCONNECT 0x94.
    let mut bad = Publish::new("x", b"1");
    bad.properties.push(Property::TopicAlias(33));
    publisher.send(&Packet::Publish(bad)).await;
    assert_eq!(
        disconnect_reason(publisher.next().await),
        ReasonCode::TopicAliasInvalid
    );
    bridge.stop().await;
}

#[tokio::test]
async fn message_expiry_is_counted_down_and_enforced() {
    let bridge = RunningBridge::start(&[]).await;
    let mut publisher = v5(bridge.tcp, "pub").await;
    let mut short = Publish::new("alerts/short", b"gone soon");
    short.retain = true;
    short.properties.push(Property::MessageExpiryInterval(1));
    publisher.send(&Packet::Publish(short)).await;
    let mut long = Publish::new("alerts/long", b"stays");
    long.retain = true;
    long.properties.push(Property::MessageExpiryInterval(100));
    publisher.send(&Packet::Publish(long)).await;
    publisher.ping().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut sub = v5(bridge.tcp, "sub").await;
    sub.subscribe(1, "alerts/#", QoS::AtMostOnce).await;
    let got = next_publish(&mut sub).await;
    assert_eq!(
        got.topic(),
        "alerts/long",
        "the expired one is not delivered"
    );
    let left = find(&got.properties, |p| match p {
        Property::MessageExpiryInterval(s) => Some(*s),
        _ => None,
    });
    assert!(
        left.is_some_and(|s| (97..=99).contains(&s)),
        "time left, not the original: {left:?}"
    );
    assert_eq!(sub.next_within(QUIET).await, None);
    bridge.stop().await;
}

#[tokio::test]
async fn session_expiry_ends_a_session_after_its_interval() {
    let bridge = RunningBridge::start(&[]).await;
    let with_expiry = |secs| {
        let mut c = connect_packet(V5, "roamer", false);
        c.properties.push(Property::SessionExpiryInterval(secs));
        c
    };
    let (mut c, ack) = MqttClient::connect_with(bridge.tcp, with_expiry(1)).await;
    assert!(!ack.session_present);
    c.subscribe(1, "x", QoS::AtLeastOnce).await;
    c.send(&Packet::disconnect()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (c, ack) = MqttClient::connect_with(bridge.tcp, with_expiry(1)).await;
    assert!(ack.session_present, "within its interval");
    drop(c);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (_c, ack) = MqttClient::connect_with(bridge.tcp, with_expiry(1)).await;
    assert!(!ack.session_present, "expired");
    bridge.stop().await;
}

#[tokio::test]
async fn limits_the_client_was_told_are_enforced() {
    let bridge = RunningBridge::start(&[]).await;
    // More QoS 2 messages awaiting PUBREL than our Receive Maximum (64): 0x93.
    let mut greedy = v5(bridge.tcp, "greedy").await;
    for id in 1..=65u16 {
        let mut p = Publish::new("q", b"x");
        p.qos = QoS::ExactlyOnce;
        p.packet_id = Some(id);
        greedy.send(&Packet::Publish(p)).await;
    }
    for id in 1..=64u16 {
        match greedy.next().await {
            Packet::PubRec(ack) => assert_eq!(ack.packet_id, id),
            other => panic!("expected PUBREC, got {other:?}"),
        }
    }
    assert_eq!(
        disconnect_reason(greedy.next().await),
        ReasonCode::ReceiveMaximumExceeded
    );

    // The client's Maximum Packet Size: what would exceed it is not sent.
    let mut small = connect_packet(V5, "small", true);
    small.properties.push(Property::MaximumPacketSize(64));
    let (mut small, _) = MqttClient::connect_with(bridge.tcp, small).await;
    small.subscribe(1, "m", QoS::AtMostOnce).await;
    let mut publisher = v5(bridge.tcp, "pub").await;
    publisher
        .send(&Packet::Publish(Publish::new("m", vec![b'x'; 100])))
        .await;
    publisher
        .send(&Packet::Publish(Publish::new("m", b"fits")))
        .await;
    assert_eq!(next_publish(&mut small).await.payload(), b"fits");

    // No subscribers: the acknowledgement says so (0x10).
    let mut p = Publish::new("nobody/listens", b"x");
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(1);
    publisher.send(&Packet::Publish(p)).await;
    let mut expected = Ack::new(1);
    expected.reason = ReasonCode::NoMatchingSubscribers;
    assert_eq!(publisher.next().await, Packet::PubAck(expected));
    bridge.stop().await;
}

#[tokio::test]
async fn takeover_and_keepalive_are_explained_in_a_disconnect() {
    let bridge = RunningBridge::start(&[]).await;
    let mut first = v5(bridge.tcp, "twin").await;
    let _second = v5(bridge.tcp, "twin").await;
    assert_eq!(
        disconnect_reason(first.next().await),
        ReasonCode::SessionTakenOver
    );

    let mut sleepy = connect_packet(V5, "sleepy", true);
    sleepy.keep_alive = 1;
    let (mut sleepy, _) = MqttClient::connect_with(bridge.tcp, sleepy).await;
    assert_eq!(
        disconnect_reason(sleepy.next().await),
        ReasonCode::KeepAliveTimeout
    );
    bridge.stop().await;
}

fn with_will(id: &str, delay_secs: u32, session_secs: u32) -> mqtt_proto::Connect {
    let mut c = connect_packet(V5, id, false);
    c.properties
        .push(Property::SessionExpiryInterval(session_secs));
    c.will = Some(LastWill {
        topic: ByteStr::from(format!("wills/{id}")),
        payload: bytes::Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties::new().with(Property::WillDelayInterval(delay_secs)),
    });
    c
}

#[tokio::test]
async fn the_will_waits_its_delay_and_is_cancelled_by_a_return() {
    let bridge = RunningBridge::start(&[]).await;
    let mut watcher = v5(bridge.tcp, "watcher").await;
    watcher.subscribe(1, "wills/#", QoS::AtMostOnce).await;

    // Back within the delay: no Will.
    let (c, _) = MqttClient::connect_with(bridge.tcp, with_will("blinker", 1, 60)).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (back, _) = MqttClient::connect_with(bridge.tcp, with_will("blinker", 1, 60)).await;
    // Gone for good: the Will after its delay, not before.
    let (c, _) = MqttClient::connect_with(bridge.tcp, with_will("leaver", 1, 60)).await;
    drop(c);
    assert_eq!(watcher.next_within(Duration::from_millis(600)).await, None);
    let will = next_publish(&mut watcher).await;
    assert_eq!(
        (will.topic(), will.payload()),
        ("wills/leaver", &b"gone"[..])
    );
    assert!(
        will.properties.is_empty(),
        "Will Delay Interval is not part of the message"
    );
    assert_eq!(
        watcher.next_within(Duration::from_millis(1200)).await,
        None,
        "no Will for blinker"
    );

    // DISCONNECT with reason 0x04 publishes it too.
    let mut back = back;
    back.send(&Packet::Disconnect(Status::new(
        ReasonCode::DisconnectWithWillMessage,
    )))
    .await;
    let will = next_publish(&mut watcher).await;
    assert_eq!(will.topic(), "wills/blinker");
    bridge.stop().await;
}

#[tokio::test]
async fn a_shared_subscription_hands_each_message_to_one_member_in_turn() {
    let bridge = RunningBridge::start(&[]).await;
    let mut retained = Publish::new("jobs/old", b"r");
    retained.retain = true;
    let mut publisher = v5(bridge.tcp, "dispatcher").await;
    publisher.send(&Packet::Publish(retained)).await;
    publisher.ping().await;
    let mut workers = Vec::new();
    for id in ["w1", "w2", "w3"] {
        let mut w = v5(bridge.tcp, id).await;
        w.subscribe(1, "$share/pool/jobs/+", QoS::AtLeastOnce).await;
        workers.push(w);
    }
    // A 3.1.1 client may join the group too.
    let (mut old, _) = MqttClient::connect(bridge.tcp, "w4", true).await;
    old.subscribe(1, "$share/pool/jobs/+", QoS::AtMostOnce)
        .await;
    workers.push(old);
    let mut auditor = v5(bridge.tcp, "auditor").await;
    auditor.subscribe(1, "jobs/#", QoS::AtMostOnce).await;
    let _ = next_publish(&mut auditor).await; // its retained message
    for i in 0..8u16 {
        publisher
            .publish(
                "jobs/new",
                format!("{i}").as_bytes(),
                QoS::AtLeastOnce,
                i + 1,
            )
            .await;
    }
    for w in &mut workers {
        let mut got = Vec::new();
        while let Some(Packet::Publish(p)) = w.next_within(QUIET).await {
            assert!(!p.retain, "no retained messages for a shared subscription");
            if let Some(id) = p.packet_id {
                w.send(&Packet::PubAck(Ack::new(id))).await;
            }
            got.push(p.payload().to_vec());
        }
        assert_eq!(got.len(), 2, "8 jobs over 4 members: 2 each");
    }
    for i in 0..8 {
        assert_eq!(
            next_publish(&mut auditor).await.payload(),
            format!("{i}").as_bytes()
        );
    }
    bridge.stop().await;
}

#[tokio::test]
async fn mqtt5_over_websocket() {
    let bridge = RunningBridge::start(&[]).await;
    let mut ws = common::RawClient::ws(bridge.ws).await;
    let connect = Packet::from(connect_packet(V5, "", true))
        .to_bytes(V5)
        .expect("encodes");
    ws.send(&connect).await;
    let frame = ws.recv_exact(0).await;
    let mut decoder = mqtt_proto::StreamDecoder::new(1 << 20, V5);
    decoder.feed(&frame);
    let Ok(Some(Packet::ConnAck(ack))) = decoder.next_packet() else {
        panic!("a 5.0 CONNACK, got {frame:?}")
    };
    assert_eq!(ack.code, ReasonCode::Success);
    assert!(ack
        .properties
        .iter()
        .any(|p| matches!(p, Property::AssignedClientIdentifier(_))));
    ws.send(&Packet::PingReq.to_bytes(V5).expect("encodes"))
        .await;
    assert_eq!(ws.recv_exact(2).await, [0xD0, 0x00]);
    bridge.stop().await;
}

#[tokio::test]
async fn a_configured_maximum_keepalive_is_announced_and_kept() {
    let bridge = RunningBridge::start_with_config("max_keepalive = 1\nsys_interval = 0\n").await;
    // The client asks for none; it is told 1 s and held to it.
    let (mut c, ack) = MqttClient::connect_with(bridge.tcp, connect_packet(V5, "lazy", true)).await;
    assert!(ack
        .properties
        .iter()
        .any(|p| *p == Property::ServerKeepAlive(1)));
    assert_eq!(
        disconnect_reason(c.next().await),
        ReasonCode::KeepAliveTimeout
    );
    bridge.stop().await;
}
