//! How connections end and what that sets off: Wills on abnormal ends and
//! keepalive expiry but not after DISCONNECT, the CONNECT timeout, 5.0
//! protocol errors answered with their reason code, and a subscriber that
//! stops reading without stalling anyone else.

mod common;

use common::{connect_packet, disconnect_reason, MqttClient, RawClient, RunningBridge};
use mqtt_proto::{ByteStr, LastWill, Packet, Properties, ProtocolVersion, QoS, ReasonCode};
use std::time::{Duration, Instant};

fn with_will(id: &str, keep_alive: u16) -> mqtt_proto::Connect {
    let mut c = connect_packet(ProtocolVersion::V311, id, true);
    c.keep_alive = keep_alive;
    c.will = Some(LastWill {
        topic: ByteStr::from(format!("wills/{id}")),
        payload: bytes::Bytes::from_static(b"lost"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    });
    c
}

#[tokio::test]
async fn wills_follow_abnormal_ends_and_keepalive_expiry_not_disconnect() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut watcher, _) = MqttClient::connect(bridge.tcp, "watcher", true).await;
    watcher.subscribe(1, "wills/#", QoS::AtLeastOnce).await;

    let (polite, _) = MqttClient::connect_with(bridge.tcp, with_will("polite", 0)).await;
    polite.disconnect().await;
    let (dropped, _) = MqttClient::connect_with(bridge.tcp, with_will("dropped", 0)).await;
    drop(dropped);
    let will = match watcher.next().await {
        Packet::Publish(p) => p,
        other => panic!("expected the Will, got {other:?}"),
    };
    assert_eq!(
        (will.topic(), will.qos),
        ("wills/dropped", QoS::AtLeastOnce)
    );

    // Keepalive 1 s and then silence: the bridge gives up after 1.5 s.
    let started = Instant::now();
    let (_silent, _) = MqttClient::connect_with(bridge.tcp, with_will("silent", 1)).await;
    let will = loop {
        match watcher.next().await {
            Packet::Publish(p) if p.topic() == "wills/silent" => break p,
            Packet::Publish(p) => panic!("unexpected Will {}", p.topic()),
            _ => continue,
        }
    };
    assert_eq!(will.payload(), b"lost");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(
        watcher.next_within(Duration::from_millis(300)).await,
        None,
        "none from polite"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_connect_is_closed() {
    let bridge = RunningBridge::start_with_config("connect_timeout = 1\n").await;
    let started = Instant::now();
    let mut idle = RawClient::tcp(bridge.tcp).await;
    assert!(idle.closed_by_peer().await);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn a_5_client_breaking_the_protocol_is_told_why() {
    let bridge = RunningBridge::start(&[]).await;
    let (mut wild, _) = MqttClient::connect_with(
        bridge.tcp,
        connect_packet(ProtocolVersion::V5, "wild", true),
    )
    .await;
    // PUBLISH to "t/#" by hand: the codec would refuse to encode it.
    wild.send_raw(&[0x30, 0x07, 0x00, 0x03, b't', b'/', b'#', 0x00, b'x'])
        .await;
    assert_eq!(
        disconnect_reason(wild.next().await),
        ReasonCode::TopicNameInvalid
    );
    bridge.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_does_not_stall_the_others() {
    let bridge = RunningBridge::start(&["--sys-interval", "1"]).await;
    let (mut stuck, _) = MqttClient::connect(bridge.tcp, "stuck", true).await;
    stuck.subscribe(1, "flood", QoS::AtMostOnce).await;
    // From here on `stuck` reads nothing.
    let (mut fast, _) = MqttClient::connect(bridge.tcp, "fast", true).await;
    fast.subscribe(1, "flood", QoS::AtMostOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "flooder", true).await;
    let payload = vec![b'x'; 1024];
    let total = 10_000u16;
    let reader = tokio::spawn(async move {
        let mut got = 0u16;
        while got < total {
            match fast.next().await {
                Packet::Publish(_) => got += 1,
                other => panic!("expected PUBLISH, got {other:?}"),
            }
        }
        fast
    });
    for i in 0..total {
        // QoS 1 paces the publisher by the bridge's acknowledgements.
        publisher
            .publish("flood", &payload, QoS::AtLeastOnce, i % 60_000 + 1)
            .await;
    }
    let mut fast = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast subscriber got every message in time")
        .expect("reader task");
    fast.subscribe(2, "$SYS/broker/publish/messages/dropped", QoS::AtMostOnce)
        .await;
    let dropped: u64 = loop {
        if let Packet::Publish(p) = fast.next().await {
            let n: u64 = std::str::from_utf8(p.payload())
                .expect("text")
                .parse()
                .expect("number");
            if n > 0 {
                break n;
            }
        }
    };
    assert!(
        dropped > 0,
        "what the stuck subscriber could not take was dropped and counted"
    );
    drop(stuck);
    bridge.stop().await;
}
