//! Sessions and the acknowledgement flows towards subscribers, against the
//! real binary over TCP: QoS 1 and 2 delivery, the in-flight window, sessions
//! kept while a client is away (clean session 0) and what it gets back.

mod common;

use common::{next_publish, MqttClient, RunningBridge};
use mqtt_proto::{Ack, Packet, Publish, QoS};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn qos1_and_qos2_reach_subscribers_with_their_acknowledgement_flows() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "sub", true).await;
    sub.subscribe(1, "s/+/t", QoS::ExactlyOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "pub", true).await;

    publisher
        .publish("s/a/t", b"one", QoS::AtLeastOnce, 10)
        .await;
    let one = next_publish(&mut sub).await;
    assert_eq!(
        (one.qos, one.dup, one.payload()),
        (QoS::AtLeastOnce, false, &b"one"[..])
    );
    let one_id = one.packet_id.expect("QoS 1 has a packet id");
    sub.send(&Packet::PubAck(Ack::new(one_id))).await;

    publisher
        .publish("s/b/t", b"two", QoS::ExactlyOnce, 11)
        .await;
    let two = next_publish(&mut sub).await;
    assert_eq!((two.qos, two.topic()), (QoS::ExactlyOnce, "s/b/t"));
    let two_id = two.packet_id.expect("QoS 2 has a packet id");
    assert_ne!(two_id, one_id);
    sub.send(&Packet::PubRec(Ack::new(two_id))).await;
    assert_eq!(sub.next().await, Packet::PubRel(Ack::new(two_id)));
    sub.send(&Packet::PubComp(Ack::new(two_id))).await;

    // A QoS 2 subscription gets a QoS 0 message at QoS 0, without an id.
    publisher
        .publish("s/c/t", b"three", QoS::AtMostOnce, 0)
        .await;
    let three = next_publish(&mut sub).await;
    assert_eq!((three.qos, three.packet_id), (QoS::AtMostOnce, None));
    // A QoS 1 subscription gets a QoS 2 message at QoS 1.
    sub.subscribe(2, "s/a/t", QoS::AtLeastOnce).await;
    let (mut low, _) = MqttClient::connect(bridge.tcp, "low", true).await;
    low.subscribe(1, "s/a/t", QoS::AtLeastOnce).await;
    publisher
        .publish("s/a/t", b"four", QoS::ExactlyOnce, 12)
        .await;
    assert_eq!(next_publish(&mut low).await.qos, QoS::AtLeastOnce);
    // Overlapping subscriptions: one copy, at the highest QoS granted.
    let four = next_publish(&mut sub).await;
    assert_eq!(four.qos, QoS::ExactlyOnce);
    assert_eq!(sub.next_within(QUIET).await, None);
    bridge.stop().await;
}

#[tokio::test]
async fn the_in_flight_window_holds_back_messages_until_acknowledged() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "slow", true).await;
    sub.subscribe(1, "w", QoS::AtLeastOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "fast", true).await;
    for i in 0..108u16 {
        publisher
            .publish("w", format!("{i}").as_bytes(), QoS::AtLeastOnce, i + 1)
            .await;
    }
    // The default window is 100 messages.
    let mut ids = Vec::new();
    for i in 0..100 {
        let p = next_publish(&mut sub).await;
        assert_eq!(p.payload(), format!("{i}").as_bytes(), "in order");
        ids.push(p.packet_id.expect("id"));
    }
    assert_eq!(
        sub.next_within(QUIET).await,
        None,
        "the 101st waits for an ack"
    );
    sub.send(&Packet::PubAck(Ack::new(ids[0]))).await;
    assert_eq!(next_publish(&mut sub).await.payload(), b"100");
    assert_eq!(sub.next_within(QUIET).await, None);
    for id in &ids[1..] {
        sub.send(&Packet::PubAck(Ack::new(*id))).await;
    }
    for i in 101..108 {
        assert_eq!(
            next_publish(&mut sub).await.payload(),
            format!("{i}").as_bytes()
        );
    }
    bridge.stop().await;
}

#[tokio::test]
async fn a_kept_session_receives_qos1_and_qos2_published_while_it_was_away() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut sub, present) = MqttClient::connect(bridge.tcp, "field-unit", false).await;
    assert!(!present, "a new session");
    sub.subscribe(1, "cmd/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "console", true).await;
    publisher
        .publish("cmd/valve", b"open", QoS::AtLeastOnce, 1)
        .await;
    publisher
        .publish("cmd/pump", b"on", QoS::ExactlyOnce, 2)
        .await;
    publisher
        .publish("cmd/led", b"blink", QoS::AtMostOnce, 0)
        .await;
    publisher.ping().await;

    let (mut sub, present) = MqttClient::connect(bridge.tcp, "field-unit", false).await;
    assert!(present, "the session was kept");
    let valve = next_publish(&mut sub).await;
    assert_eq!((valve.topic(), valve.qos), ("cmd/valve", QoS::AtLeastOnce));
    sub.send(&Packet::PubAck(Ack::new(valve.packet_id.expect("id"))))
        .await;
    let pump = next_publish(&mut sub).await;
    assert_eq!((pump.topic(), pump.qos), ("cmd/pump", QoS::ExactlyOnce));
    // QoS 0 messages are not kept for an absent client.
    assert_eq!(sub.next_within(QUIET).await, None);
    // The subscription itself was kept: live messages arrive too.
    publisher
        .publish("cmd/valve", b"close", QoS::AtMostOnce, 0)
        .await;
    assert_eq!(next_publish(&mut sub).await.payload(), b"close");

    // Connecting with a clean session discards it.
    sub.disconnect().await;
    let (mut fresh, present) = MqttClient::connect(bridge.tcp, "field-unit", true).await;
    assert!(!present);
    publisher
        .publish("cmd/valve", b"open", QoS::AtLeastOnce, 3)
        .await;
    assert_eq!(
        fresh.next_within(QUIET).await,
        None,
        "no subscription survived"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn unacknowledged_messages_are_sent_again_with_dup_after_a_reconnect() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "flaky", false).await;
    sub.subscribe(1, "t/#", QoS::ExactlyOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "steady", true).await;
    publisher.publish("t/1", b"a", QoS::AtLeastOnce, 1).await;
    publisher.publish("t/2", b"b", QoS::ExactlyOnce, 2).await;
    publisher.publish("t/3", b"c", QoS::ExactlyOnce, 3).await;
    let a = next_publish(&mut sub).await;
    let b = next_publish(&mut sub).await;
    let c = next_publish(&mut sub).await;
    // b is received (PUBREC, answered by PUBREL); a and c are never acknowledged.
    let b_id = b.packet_id.expect("id");
    sub.send(&Packet::PubRec(Ack::new(b_id))).await;
    assert_eq!(sub.next().await, Packet::PubRel(Ack::new(b_id)));
    drop(sub); // the connection drops without DISCONNECT

    let (mut sub, present) = MqttClient::connect(bridge.tcp, "flaky", false).await;
    assert!(present);
    let again = next_publish(&mut sub).await;
    assert_eq!(
        (again.dup, again.packet_id, again.payload()),
        (true, a.packet_id, &b"a"[..])
    );
    assert_eq!(
        sub.next().await,
        Packet::PubRel(Ack::new(b_id)),
        "b: PUBREL again"
    );
    let again = next_publish(&mut sub).await;
    assert_eq!(
        (again.dup, again.packet_id, again.payload()),
        (true, c.packet_id, &b"c"[..])
    );
    sub.send(&Packet::PubAck(Ack::new(a.packet_id.expect("id"))))
        .await;
    sub.send(&Packet::PubComp(Ack::new(b_id))).await;
    assert_eq!(sub.next_within(QUIET).await, None, "each resent once");
    bridge.stop().await;
}

#[tokio::test]
async fn qos2_from_a_publisher_is_routed_once_across_a_reconnect_mid_flow() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "watcher", true).await;
    sub.subscribe(1, "meter", QoS::AtMostOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "meter-1", false).await;
    let mut p = Publish::new("meter", b"42 kWh");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(7);
    publisher.send(&Packet::Publish(p.clone())).await;
    assert_eq!(publisher.next().await, Packet::PubRec(Ack::new(7)));
    drop(publisher); // gone before PUBREL

    let (mut publisher, present) = MqttClient::connect(bridge.tcp, "meter-1", false).await;
    assert!(present);
    // It did not see the PUBREC, so it sends the PUBLISH again (DUP).
    p.dup = true;
    publisher.send(&Packet::Publish(p)).await;
    assert_eq!(publisher.next().await, Packet::PubRec(Ack::new(7)));
    publisher.send(&Packet::PubRel(Ack::new(7))).await;
    assert_eq!(publisher.next().await, Packet::PubComp(Ack::new(7)));

    assert_eq!(next_publish(&mut sub).await.payload(), b"42 kWh");
    assert_eq!(sub.next_within(QUIET).await, None, "exactly once");
    bridge.stop().await;
}

#[tokio::test]
async fn a_retained_qos1_message_is_tracked_like_any_other() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "station", true).await;
    let mut p = Publish::new("site/config", b"v2");
    p.qos = QoS::AtLeastOnce;
    p.retain = true;
    p.packet_id = Some(1);
    publisher.send(&Packet::Publish(p)).await;
    assert_eq!(publisher.next().await, Packet::PubAck(Ack::new(1)));

    let (mut sub, _) = MqttClient::connect(bridge.tcp, "late", false).await;
    sub.subscribe(1, "site/#", QoS::AtLeastOnce).await;
    let retained = next_publish(&mut sub).await;
    assert_eq!((retained.retain, retained.qos), (true, QoS::AtLeastOnce));
    let id = retained
        .packet_id
        .expect("a QoS 1 retained message has an id");
    // Unacknowledged, it comes again after a reconnect; acknowledged, it is done.
    drop(sub);
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "late", false).await;
    let again = next_publish(&mut sub).await;
    assert_eq!((again.dup, again.packet_id), (true, Some(id)));
    sub.send(&Packet::PubAck(Ack::new(id))).await;
    sub.ping().await; // still connected: the acknowledgement was expected
    drop(sub);
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "late", false).await;
    assert_eq!(sub.next_within(QUIET).await, None);
    bridge.stop().await;
}

#[tokio::test]
async fn a_takeover_resumes_the_session_with_what_was_in_flight() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut first, _) = MqttClient::connect(bridge.tcp, "gateway", false).await;
    first.subscribe(1, "g/#", QoS::AtLeastOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "cloud", true).await;
    publisher.publish("g/fw", b"1.2", QoS::AtLeastOnce, 1).await;
    let sent = next_publish(&mut first).await;

    // The same id connects again while the first connection is still up.
    let (mut second, present) = MqttClient::connect(bridge.tcp, "gateway", false).await;
    assert!(present);
    assert_eq!(
        first.next_within(Duration::from_secs(2)).await,
        None,
        "first is closed"
    );
    let again = next_publish(&mut second).await;
    assert_eq!(
        (again.dup, again.packet_id, again.payload()),
        (true, sent.packet_id, &b"1.2"[..])
    );
    second
        .send(&Packet::PubAck(Ack::new(sent.packet_id.expect("id"))))
        .await;
    publisher.publish("g/fw", b"1.3", QoS::AtLeastOnce, 2).await;
    assert_eq!(next_publish(&mut second).await.payload(), b"1.3");
    bridge.stop().await;
}
