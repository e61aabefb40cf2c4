//! `bridge --demo`: three simulated devices publish readings every second.

mod common;

use common::*;
use mqtt_proto::{Packet, Property, ProtocolVersion, Publish, QoS};
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
        // Status, pump and LED reports are retained words, not readings.
        if matches!(metric, "status" | "pump" | "led") {
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

/// Publishes `command` (its `{id}` replaced by a fresh id per attempt) to
/// greenhouse-1 until an acknowledgement on `ack_topic` answers it: the
/// device may still be subscribing when the test starts. Returns the ack
/// message and every other message seen meanwhile.
async fn command(
    c: &mut MqttClient,
    command: &str,
    properties: &[Property],
    ack_topic: &str,
) -> (Publish, serde_json::Value, Vec<Publish>) {
    let mut others = Vec::new();
    for attempt in 0..10 {
        let id = format!("t{attempt}");
        let mut p = Publish::new("sensors/greenhouse-1/cmd", command.replace("{id}", &id));
        p.properties = properties.iter().cloned().collect();
        c.send(&Packet::Publish(p)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1000);
        while let Some(packet) = c
            .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            let Packet::Publish(p) = packet else { continue };
            if p.topic() == ack_topic {
                let ack: serde_json::Value =
                    serde_json::from_slice(p.payload()).expect("an ack is JSON");
                if ack["id"] == id.as_str() {
                    return (p, ack, others);
                }
            }
            others.push(p);
        }
    }
    panic!("no acknowledgement of {command} on {ack_topic}");
}

fn moisture_readings(messages: &[Publish]) -> Vec<f64> {
    messages
        .iter()
        .filter(|p| p.topic() == "sensors/greenhouse-1/moisture")
        .map(|p| {
            std::str::from_utf8(p.payload())
                .expect("utf-8")
                .parse()
                .expect("decimal")
        })
        .collect()
}

async fn collect_for(c: &mut MqttClient, period: Duration) -> Vec<Publish> {
    let deadline = tokio::time::Instant::now() + period;
    let mut out = Vec::new();
    while let Some(packet) = c
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if let Packet::Publish(p) = packet {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn demo_devices_obey_commands_and_acknowledge_them() {
    let bridge = RunningBridge::start(&["--demo"]).await;
    let (mut c, _) = MqttClient::connect(bridge.tcp, "operator", true).await;
    c.subscribe(1, "sensors/greenhouse-1/#", QoS::AtMostOnce)
        .await;

    // Pump on, and readings five times a second.
    let ack_topic = "sensors/greenhouse-1/cmd/ack";
    let (_, ack, before_ack) = command(
        &mut c,
        r#"{"pump":"on","interval_ms":200,"id":"{id}"}"#,
        &[],
        ack_topic,
    )
    .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["pump"], "on");
    assert_eq!(ack["interval_ms"], 200);
    let watered = collect_for(&mut c, Duration::from_millis(2500)).await;
    // The report is published before the acknowledgement.
    assert!(
        before_ack
            .iter()
            .any(|p| p.topic() == "sensors/greenhouse-1/pump" && p.payload() == b"on"),
        "the pump reports it runs"
    );
    let readings = moisture_readings(&watered);
    assert!(readings.len() >= 8, "faster readings: {readings:?}");
    let (first, last) = (readings[0], readings[readings.len() - 1]);
    assert!(last > first + 5.0, "watering raises moisture: {readings:?}");

    // A command the device cannot obey is refused with the reason.
    let (_, ack, _) = command(&mut c, r#"{"pump":"maybe","id":"{id}"}"#, &[], ack_topic).await;
    assert_eq!(ack["ok"], false);
    assert!(
        ack["error"].as_str().is_some_and(|e| e.contains("pump")),
        "{ack}"
    );

    // Pump off and the LED on.
    let (_, ack, led_report) = command(
        &mut c,
        r#"{"pump":"off","led":"on","id":"{id}"}"#,
        &[],
        ack_topic,
    )
    .await;
    assert_eq!(
        (ack["pump"].as_str(), ack["led"].as_str()),
        (Some("off"), Some("on"))
    );
    assert!(led_report
        .iter()
        .any(|p| p.topic() == "sensors/greenhouse-1/led" && p.payload() == b"on"));
    bridge.stop().await;
}

#[tokio::test]
async fn mqtt5_commands_are_answered_on_the_response_topic_with_their_correlation() {
    let bridge = RunningBridge::start(&["--demo"]).await;
    let connect = connect_packet(ProtocolVersion::V5, "operator-5", true);
    let (mut c, _) = MqttClient::connect_with(bridge.tcp, connect).await;
    c.subscribe(1, "replies/operator-5", QoS::AtMostOnce).await;
    let properties = [
        Property::ResponseTopic("replies/operator-5".into()),
        Property::CorrelationData(bytes::Bytes::from_static(b"corr-42")),
    ];
    let (ack, body, _) = command(
        &mut c,
        r#"{"led":true,"id":"{id}"}"#,
        &properties,
        "replies/operator-5",
    )
    .await;
    assert_eq!(body["ok"], true);
    assert_eq!(body["led"], "on");
    let correlation = ack.properties.find(|p| match p {
        Property::CorrelationData(d) => Some(d.clone()),
        _ => None,
    });
    assert_eq!(correlation.as_deref(), Some(&b"corr-42"[..]));
    bridge.stop().await;
}
