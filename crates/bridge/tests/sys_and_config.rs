//! `$SYS/broker/...` as a client sees it, and the configuration file and
//! flags as a user runs the binary with them.

mod common;

use common::{MqttClient, RunningBridge};
use mqtt_proto::{Ack, Packet, Publish, QoS};
use std::collections::HashMap;
use std::time::Duration;

/// Reads `$SYS` messages until `want` topics have arrived; returns topic -> value.
async fn sys_values(c: &mut MqttClient, want: &[&str]) -> HashMap<String, String> {
    let mut seen = HashMap::new();
    while !want.iter().all(|t| seen.contains_key(*t)) {
        match c.next().await {
            Packet::Publish(p) => {
                assert!(p.topic().starts_with("$SYS/broker/"), "{}", p.topic());
                let value = String::from_utf8(p.payload().to_vec()).expect("text");
                seen.insert(p.topic().to_owned(), value);
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    seen
}

/// Everything `$SYS` has sent up to a pause in its reports, latest value per topic.
async fn latest_values(c: &mut MqttClient) -> HashMap<String, String> {
    let mut seen = HashMap::new();
    while let Some(packet) = c.next_within(Duration::from_millis(300)).await {
        if let Packet::Publish(p) = packet {
            let value = String::from_utf8(p.payload().to_vec()).expect("text");
            seen.insert(p.topic().to_owned(), value);
        }
    }
    seen
}

fn number(values: &HashMap<String, String>, topic: &str) -> f64 {
    values[topic]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{topic}: {:?}", values[topic]))
}

#[tokio::test]
async fn sys_topics_report_and_change() {
    let bridge = RunningBridge::start(&["--sys-interval", "1"]).await;
    let (mut everything, _) = MqttClient::connect(bridge.tcp, "everything", true).await;
    everything.subscribe(1, "#", QoS::AtMostOnce).await;
    let (mut sys, _) = MqttClient::connect(bridge.tcp, "sys", true).await;
    sys.subscribe(1, "$SYS/broker/#", QoS::AtMostOnce).await;
    let topics = [
        "$SYS/broker/version",
        "$SYS/broker/uptime",
        "$SYS/broker/clients/connected",
        "$SYS/broker/messages/received",
        "$SYS/broker/publish/messages/received",
        "$SYS/broker/bytes/received",
        "$SYS/broker/subscriptions/count",
        "$SYS/broker/retained messages/count",
        "$SYS/broker/load/publish/received/1min",
    ];
    let before = sys_values(&mut sys, &topics).await;
    assert!(before["$SYS/broker/version"].starts_with("bridge "));

    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "pub", true).await;
    for i in 0..20 {
        publisher
            .publish("site/x", b"1", QoS::AtLeastOnce, i + 1)
            .await;
    }
    // Let the next report, and the one after, go by.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let after = latest_values(&mut sys).await;
    for topic in [
        "$SYS/broker/uptime",
        "$SYS/broker/messages/received",
        "$SYS/broker/bytes/received",
    ] {
        assert!(
            number(&after, topic) > number(&before, topic),
            "{topic}: {} then {}",
            before[topic],
            after[topic]
        );
    }
    assert!(number(&after, "$SYS/broker/publish/messages/received") >= 20.0);
    assert!(number(&after, "$SYS/broker/load/publish/received/1min") > 0.0);
    assert_eq!(number(&after, "$SYS/broker/clients/connected"), 3.0);
    assert_eq!(number(&after, "$SYS/broker/subscriptions/count"), 2.0);

    // '#' sees the site's messages but none of the $SYS ones (MQTT-4.7.2-1).
    let mut topics_seen = Vec::new();
    while let Some(Packet::Publish(p)) = everything.next_within(Duration::from_millis(200)).await {
        topics_seen.push(p.topic().to_owned());
    }
    assert!(
        !topics_seen.is_empty() && topics_seen.iter().all(|t| t == "site/x"),
        "{topics_seen:?}"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn the_config_file_sets_what_flags_do_not() {
    // The file's tcp address is overridden by the flags RunningBridge passes.
    let bridge = RunningBridge::start_with_config(
        "tcp = \"127.0.0.1:1\"\nmax_inflight_messages = 2\nsys_interval = 0\n",
    )
    .await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "sub", true).await;
    sub.subscribe(1, "w", QoS::AtLeastOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "pub", true).await;
    for i in 0..3 {
        publisher.publish("w", b"x", QoS::AtLeastOnce, i + 1).await;
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        match sub.next().await {
            Packet::Publish(p) => ids.push(p.packet_id.expect("id")),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    assert_eq!(
        sub.next_within(Duration::from_millis(300)).await,
        None,
        "a window of 2"
    );
    sub.send(&Packet::PubAck(Ack::new(ids[0]))).await;
    assert!(matches!(sub.next().await, Packet::Publish(Publish { .. })));
    bridge.stop().await;
}

#[test]
fn an_invalid_config_is_refused_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("bridge-bad-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (text, expected) in [
        ("max_inflight = 3\n", "unknown field `max_inflight`"),
        (
            "receive_maximum = 0\n",
            "receive_maximum: must be at least 1",
        ),
        ("tcp = 1883\n", "tcp"),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, text).expect("write config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
            .arg("--config")
            .arg(&file)
            .output()
            .expect("bridge runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?} accepted");
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing listened");
    }
    std::fs::remove_dir_all(&dir).ok();
}
