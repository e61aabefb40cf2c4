//! `bridge --demo`: three simulated devices publish readings every second.

mod common;

use common::*;
use mqtt_proto::Packet;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn demo_devices_publish_temperature_and_moisture_every_second() {
    let bridge = RunningBridge::start(&["--demo"]).await;
    let mut stream = TcpStream::connect(bridge.tcp).await.expect("connect");
    stream
        .write_all(&connect_bytes("watcher"))
        .await
        .expect("write");
    stream
        .write_all(&subscribe_bytes(1, "sensors/#"))
        .await
        .expect("write");
    let mut reader = PacketReader::new(stream);
    assert!(matches!(reader.next(WAIT).await, Some(Packet::ConnAck(_))));
    assert!(matches!(reader.next(WAIT).await, Some(Packet::SubAck(_))));

    let mut seen = BTreeSet::new();
    let mut per_topic = std::collections::BTreeMap::<String, usize>::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(3500);
    while let Some(packet) = reader
        .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        let Packet::Publish(p) = packet else { continue };
        let parts: Vec<&str> = p.topic().split('/').collect();
        let metric = parts[2];
        if metric == "status" {
            continue;
        }
        let value: f64 = std::str::from_utf8(p.payload())
            .expect("utf-8")
            .parse()
            .expect("decimal reading");
        match metric {
            "temperature" => assert!((-10.0..50.0).contains(&value), "{value}"),
            "moisture" => assert!((0.0..=100.0).contains(&value), "{value}"),
            other => panic!("unexpected topic leaf {other}"),
        }
        seen.insert(parts[1].to_string());
        *per_topic.entry(p.topic().to_string()).or_default() += 1;
    }
    assert_eq!(seen.len(), 3, "three devices: {seen:?}");
    assert_eq!(per_topic.len(), 6, "two metrics each: {per_topic:?}");
    // In 3.5 s at one reading a second, each topic has published at least twice.
    assert!(
        per_topic.values().all(|&n| (2..=5).contains(&n)),
        "{per_topic:?}"
    );
    bridge.stop().await;
}
