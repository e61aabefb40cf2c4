//! Hostile input over real sockets, and the limits against abuse. After
//! each attack a well-behaved client still connects and exchanges messages,
//! and the bridge's resident memory stays bounded. (broker.rs's
//! `protocol_violations_close_only_the_offender` checks the reason codes
//! the violations get.)

mod common;

use common::{connect_bytes, frame, publish_bytes, MqttClient, RawClient, RunningBridge, WAIT};
use futures_util::SinkExt;
use mqtt_proto::{Packet, Properties, ProtocolVersion, QoS, ReasonCode, Subscribe, Subscription};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A client connects, subscribes, publishes to itself and gets it back.
async fn still_serves(bridge: &RunningBridge, after: &str) {
    let (mut c, _) = MqttClient::connect(bridge.tcp, "well-behaved", true).await;
    c.subscribe(1, "ok/#", QoS::AtLeastOnce).await;
    c.publish("ok/1", after.as_bytes(), QoS::AtLeastOnce, 2)
        .await;
    match c.next().await {
        Packet::Publish(p) => assert_eq!(p.payload(), after.as_bytes(), "after {after}"),
        other => panic!("after {after}: expected the message back, got {other:?}"),
    }
    c.disconnect().await;
}

#[tokio::test]
async fn attacks_close_the_attacker_and_leave_the_bridge_serving_in_bounded_memory() {
    let bridge = RunningBridge::start_with_config("connect_timeout = 2\nsys_interval = 0\n").await;
    still_serves(&bridge, "start").await;
    let rss_start = bridge.rss_kib();

    // Truncated packets: half a CONNECT, then half a PUBLISH after a good one.
    let connect = connect_bytes("cut");
    let mut cut = RawClient::tcp(bridge.tcp).await;
    cut.send(&connect[..connect.len() / 2]).await;
    drop(cut);
    let mut cut = RawClient::tcp(bridge.tcp).await;
    cut.handshake("cut").await;
    let publish = publish_bytes("t", &[7; 100]);
    cut.send(&publish[..50]).await;
    drop(cut);
    still_serves(&bridge, "truncated packets").await;

    // Announcing 256 MiB (the largest remaining length) and sending a little.
    for _ in 0..20 {
        let mut huge = RawClient::tcp(bridge.tcp).await;
        huge.handshake("huge").await;
        huge.send(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0, 1, b't']).await;
        assert!(huge.closed_by_peer().await);
    }
    still_serves(&bridge, "256 MiB announced").await;

    // Slowloris: a CONNECT one byte a second is cut off by the CONNECT timeout.
    let mut slow = TcpStream::connect(bridge.tcp).await.expect("connect");
    let started = Instant::now();
    let mut closed = false;
    for byte in connect_bytes("slow") {
        if slow.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(closed, "a one-byte-a-second CONNECT was let finish");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed at the 2 s timeout"
    );
    still_serves(&bridge, "slowloris").await;

    // PUBLISH before CONNECT, a second CONNECT, a wildcard in a PUBLISH topic.
    let mut early = RawClient::tcp(bridge.tcp).await;
    early.send(&publish_bytes("ok/1", b"sneaky")).await;
    assert!(early.closed_by_peer().await);
    let mut twice = RawClient::tcp(bridge.tcp).await;
    twice.handshake("twice").await;
    twice.send(&connect_bytes("twice")).await;
    assert!(twice.closed_by_peer().await);
    let mut wild = RawClient::tcp(bridge.tcp).await;
    wild.handshake("wild").await;
    wild.send(&publish_bytes("ok/#", b"x")).await;
    assert!(wild.closed_by_peer().await);
    still_serves(&bridge, "protocol violations").await;

    // Invalid UTF-8 in a topic.
    let mut bad = RawClient::tcp(bridge.tcp).await;
    bad.handshake("utf8").await;
    bad.send(&frame(0x30, &[0, 3, b'a', 0xC3, 0x28, b'x']))
        .await;
    assert!(bad.closed_by_peer().await);
    still_serves(&bridge, "invalid UTF-8").await;

    // 100,000 subscriptions from one client, 1,000 per SUBSCRIBE: the first
    // 10,000 (the default limit) granted, the rest refused.
    let (mut greedy, _) = MqttClient::connect(bridge.tcp, "greedy", true).await;
    let mut granted = 0;
    for batch in 0..100u16 {
        let subscriptions = (0..1000)
            .map(|i| Subscription::new(&*format!("greedy/{batch}/{i}"), QoS::AtMostOnce))
            .collect();
        greedy
            .send(&Packet::Subscribe(Subscribe {
                packet_id: batch + 1,
                subscriptions,
                properties: Properties::new(),
            }))
            .await;
        match greedy.next().await {
            Packet::SubAck(ack) => {
                granted += ack.reason_codes.iter().filter(|c| !c.is_error()).count();
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }
    assert_eq!(granted, 10_000);
    greedy.disconnect().await;
    still_serves(&bridge, "100,000 subscriptions").await;

    // Oversized WebSocket frames (above the 1 MiB default), and text frames.
    let mut big = RawClient::ws(bridge.ws).await;
    if let RawClient::Ws(ws) = &mut big {
        let _ = ws.send(Message::binary(vec![0u8; 2 * 1024 * 1024])).await;
    }
    assert!(big.closed_by_peer().await);
    let mut text = RawClient::ws(bridge.ws).await;
    if let RawClient::Ws(ws) = &mut text {
        let _ = ws.send(Message::text("CONNECT")).await;
    }
    assert!(text.closed_by_peer().await);
    still_serves(&bridge, "oversized and text WebSocket frames").await;

    let grown = bridge.rss_kib().saturating_sub(rss_start);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    bridge.stop().await;
}

/// `$SYS/broker/limits/...` values after a pause in the reports.
async fn limit_counters(bridge: &RunningBridge) -> HashMap<String, u64> {
    let (mut c, _) = MqttClient::connect(bridge.tcp, "sys-reader", true).await;
    c.subscribe(1, "$SYS/broker/limits/#", QoS::AtMostOnce)
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut seen = HashMap::new();
    while let Some(Packet::Publish(p)) = c.next_within(Duration::from_millis(300)).await {
        let name = p
            .topic()
            .trim_start_matches("$SYS/broker/limits/")
            .to_owned();
        let value = std::str::from_utf8(p.payload())
            .expect("text")
            .parse()
            .expect("count");
        seen.insert(name, value);
    }
    seen
}

async fn ws_with_origin(addr: std::net::SocketAddr, origin: Option<&str>) -> bool {
    let mut request = format!("ws://{addr}/mqtt")
        .into_client_request()
        .expect("url");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().expect("header"));
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await.is_ok()
}

#[tokio::test]
async fn each_limit_bites_logs_and_counts() {
    let config = "
        sys_interval = 1
        max_connections = 8
        max_connect_rate = 20
        max_publish_rate = 5
        max_subscriptions_per_client = 3
        max_packet_size = 1024
        ws_max_frame_size = 512
        ws_origins = [\"https://dashboard.example\"]
    ";
    let bridge = RunningBridge::start_with_config(config).await;

    // Connections: 8 open (one is the $SYS reader's later), the 9th closed at once.
    let mut held = Vec::new();
    for i in 0..7 {
        held.push(
            MqttClient::connect(bridge.tcp, &format!("held-{i}"), true)
                .await
                .0,
        );
    }
    let mut eighth = RawClient::tcp(bridge.tcp).await;
    eighth.handshake("eighth").await;
    let mut ninth = RawClient::tcp(bridge.tcp).await;
    assert!(
        ninth.closed_by_peer().await,
        "the ninth connection is refused"
    );
    drop(eighth);
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Publish rate: 5 a second; the rest of a burst is refused with 0x97.
    let connect = common::connect_packet(ProtocolVersion::V5, "fast", true);
    let (mut fast, _) = MqttClient::connect_with(bridge.tcp, connect).await;
    let mut codes = Vec::new();
    for id in 1..=10u16 {
        let mut p = mqtt_proto::Publish::new("fast/t", &b"x"[..]);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(id);
        fast.send(&Packet::Publish(p)).await;
        match fast.next().await {
            Packet::PubAck(ack) => codes.push(ack.reason),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
    let throttled = codes
        .iter()
        .filter(|c| **c == ReasonCode::QuotaExceeded)
        .count();
    assert!((4..=5).contains(&throttled), "{codes:?}");

    // Subscriptions: three per client, then 0x97.
    let subscriptions = ["a", "b", "c", "d"]
        .iter()
        .map(|f| Subscription::new(*f, QoS::AtMostOnce))
        .collect();
    fast.send(&Packet::Subscribe(Subscribe {
        packet_id: 20,
        subscriptions,
        properties: Properties::new(),
    }))
    .await;
    match fast.next().await {
        Packet::SubAck(ack) => assert_eq!(
            ack.reason_codes,
            [
                ReasonCode::Success,
                ReasonCode::Success,
                ReasonCode::Success,
                ReasonCode::QuotaExceeded
            ]
        ),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    fast.disconnect().await;

    // A packet above the maximum packet size, a frame above the frame size.
    let mut big = RawClient::tcp(bridge.tcp).await;
    big.handshake("big").await;
    let oversized = Packet::Publish(mqtt_proto::Publish::new("t", vec![0u8; 2000]))
        .to_bytes(ProtocolVersion::V311)
        .expect("encodes");
    big.send(&oversized).await;
    assert!(big.closed_by_peer().await);
    let mut big_frame = RawClient::ws(bridge.ws).await;
    if let RawClient::Ws(ws) = &mut big_frame {
        let _ = ws.send(Message::binary(vec![0u8; 800])).await;
    }
    assert!(big_frame.closed_by_peer().await);

    // Origins: a listed one and none (not a browser) are let in.
    assert!(ws_with_origin(bridge.ws, Some("https://dashboard.example")).await);
    assert!(ws_with_origin(bridge.ws, None).await);
    assert!(!ws_with_origin(bridge.ws, Some("https://evil.example")).await);

    // Connect rate: 20 a second from one address; a burst of 40 gets cut.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut refused = 0;
    for _ in 0..40 {
        let mut c = RawClient::tcp(bridge.tcp).await;
        c.send(&connect_bytes("")).await;
        let answered = tokio::time::timeout(WAIT, async {
            if let RawClient::Tcp(s) = &mut c {
                let mut buf = [0u8; 4];
                tokio::io::AsyncReadExt::read_exact(s, &mut buf)
                    .await
                    .is_ok()
            } else {
                false
            }
        })
        .await
        .unwrap_or(false);
        refused += usize::from(!answered);
    }
    assert!((15..=25).contains(&refused), "{refused} of 40 refused");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let counted = limit_counters(&bridge).await;
    for (name, at_least) in [
        ("connections refused", 1),
        ("publishes throttled", 4),
        ("subscriptions refused", 1),
        ("packets too large", 1),
        ("websocket frames too large", 1),
        ("origins refused", 1),
        ("connects throttled", 15),
    ] {
        assert!(
            counted.get(name).copied().unwrap_or(0) >= at_least,
            "{name}: {counted:?}"
        );
    }
    still_serves(&bridge, "every limit").await;
    bridge.stop().await;
}
