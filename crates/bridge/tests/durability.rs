//! The data directory: what the bridge acknowledged survives `kill -9` and a
//! restart, exactly once for QoS 2; retained messages and sessions (with
//! their subscriptions and expiry) come back; a damaged or busy directory is
//! refused with a clear message and exit status 78.

mod common;

use common::{connect_packet, next_publish, MqttClient, RunningBridge};
use mqtt_proto::{Ack, Packet, Property, ProtocolVersion, Publish, QoS};
use std::path::{Path, PathBuf};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(400);

/// A fresh directory under the system's temporary one, removed when dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("bridge-durability-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(dir: &DataDir, extra: &[&str]) -> RunningBridge {
    let mut args = vec!["--data-dir", dir.arg(), "--sys-interval", "0"];
    args.extend_from_slice(extra);
    RunningBridge::start(&args).await
}

/// Completes the acknowledgement of a message the subscriber received.
async fn acknowledge(c: &mut MqttClient, p: &Publish) {
    let id = p.packet_id.expect("QoS 1/2 has a packet id");
    match p.qos {
        QoS::AtLeastOnce => c.send(&Packet::PubAck(Ack::new(id))).await,
        QoS::ExactlyOnce => {
            c.send(&Packet::PubRec(Ack::new(id))).await;
            assert_eq!(c.next().await, Packet::PubRel(Ack::new(id)));
            c.send(&Packet::PubComp(Ack::new(id))).await;
        }
        QoS::AtMostOnce => {}
    }
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9_and_arrive_exactly_once() {
    let dir = DataDir::new("kill");
    let bridge = start(&dir, &[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "plant-sub", false).await;
    sub.subscribe(1, "plant/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "plant-pub", true).await;
    publisher
        .publish("plant/1/moisture", b"31", QoS::AtLeastOnce, 1)
        .await;
    publisher
        .publish("plant/1/pump", b"on", QoS::ExactlyOnce, 2)
        .await;
    let mut status = Publish::new("status/plant-1", &b"online"[..]);
    status.retain = true;
    publisher.send(&Packet::Publish(status)).await;
    publisher.ping().await;
    // Every acknowledgement above was sent after its message was on disk.
    bridge.stop().await;

    let bridge = start(&dir, &[]).await;
    let (mut sub, present) = MqttClient::connect(bridge.tcp, "plant-sub", false).await;
    assert!(present, "the session survived the crash");
    let one = next_publish(&mut sub).await;
    assert_eq!(
        (one.topic(), one.payload(), one.qos),
        ("plant/1/moisture", &b"31"[..], QoS::AtLeastOnce)
    );
    acknowledge(&mut sub, &one).await;
    let two = next_publish(&mut sub).await;
    assert_eq!(
        (two.topic(), two.payload(), two.qos),
        ("plant/1/pump", &b"on"[..], QoS::ExactlyOnce)
    );
    acknowledge(&mut sub, &two).await;
    assert_eq!(sub.next_within(QUIET).await, None, "nothing else queued");

    // The subscription came back with the session: no SUBSCRIBE needed.
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "plant-pub", true).await;
    publisher
        .publish("plant/2/moisture", b"40", QoS::AtLeastOnce, 3)
        .await;
    let three = next_publish(&mut sub).await;
    assert_eq!(three.topic(), "plant/2/moisture");
    acknowledge(&mut sub, &three).await;
    sub.ping().await;
    // Give the completed flows their commit (they are not waited for).
    tokio::time::sleep(Duration::from_millis(300)).await;
    bridge.stop().await;

    let bridge = start(&dir, &[]).await;
    let (mut sub, present) = MqttClient::connect(bridge.tcp, "plant-sub", false).await;
    assert!(present);
    assert_eq!(
        sub.next_within(QUIET).await,
        None,
        "acknowledged messages are not delivered again"
    );
    let (mut watcher, _) = MqttClient::connect(bridge.tcp, "watcher", true).await;
    watcher.subscribe(1, "status/#", QoS::AtMostOnce).await;
    let retained = next_publish(&mut watcher).await;
    assert_eq!(
        (retained.topic(), retained.payload(), retained.retain),
        ("status/plant-1", &b"online"[..], true)
    );
    bridge.stop().await;
}

#[tokio::test]
async fn a_qos2_message_in_flight_is_resent_with_its_packet_id_after_a_crash() {
    let dir = DataDir::new("inflight");
    let bridge = start(&dir, &[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "valve", false).await;
    sub.subscribe(1, "valve/cmd", QoS::ExactlyOnce).await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "ctl", true).await;
    publisher
        .publish("valve/cmd", b"open", QoS::ExactlyOnce, 1)
        .await;
    publisher
        .publish("valve/cmd", b"close", QoS::ExactlyOnce, 2)
        .await;
    // The first is received and released (PUBREC answered by PUBREL); the
    // second only received. Neither is completed.
    let open = next_publish(&mut sub).await;
    let close = next_publish(&mut sub).await;
    let (open_id, close_id) = (open.packet_id.expect("id"), close.packet_id.expect("id"));
    sub.send(&Packet::PubRec(Ack::new(open_id))).await;
    assert_eq!(sub.next().await, Packet::PubRel(Ack::new(open_id)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    bridge.stop().await;

    let bridge = start(&dir, &[]).await;
    let (mut sub, present) = MqttClient::connect(bridge.tcp, "valve", false).await;
    assert!(present);
    // In the original order: the release again, then the same PUBLISH with
    // DUP and its id, so the client knows it has it already.
    assert_eq!(sub.next().await, Packet::PubRel(Ack::new(open_id)));
    let again = next_publish(&mut sub).await;
    assert_eq!(
        (again.payload(), again.packet_id, again.dup),
        (&b"close"[..], Some(close_id), true)
    );
    sub.send(&Packet::PubComp(Ack::new(open_id))).await;
    acknowledge(&mut sub, &again).await;
    sub.ping().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    bridge.stop().await;

    let bridge = start(&dir, &[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "valve", false).await;
    assert_eq!(sub.next_within(QUIET).await, None, "both flows completed");
    bridge.stop().await;
}

#[tokio::test]
async fn a_qos2_publish_received_before_a_crash_is_not_routed_twice() {
    let dir = DataDir::new("inbound");
    let bridge = start(&dir, &[]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "logger", false).await;
    sub.subscribe(1, "meter/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;
    let (mut meter, _) = MqttClient::connect(bridge.tcp, "meter", false).await;
    let mut reading = Publish::new("meter/kwh", &b"1042"[..]);
    reading.qos = QoS::ExactlyOnce;
    reading.packet_id = Some(7);
    meter.send(&Packet::Publish(reading.clone())).await;
    assert_eq!(meter.next().await, Packet::PubRec(Ack::new(7)));
    bridge.stop().await;

    let bridge = start(&dir, &[]).await;
    let (mut meter, present) = MqttClient::connect(bridge.tcp, "meter", false).await;
    assert!(present);
    // A client that lost our PUBREC sends the PUBLISH again.
    reading.dup = true;
    meter.send(&Packet::Publish(reading)).await;
    assert_eq!(meter.next().await, Packet::PubRec(Ack::new(7)));
    meter.send(&Packet::PubRel(Ack::new(7))).await;
    assert_eq!(meter.next().await, Packet::PubComp(Ack::new(7)));

    let (mut sub, _) = MqttClient::connect(bridge.tcp, "logger", false).await;
    let got = next_publish(&mut sub).await;
    assert_eq!(got.payload(), b"1042");
    acknowledge(&mut sub, &got).await;
    assert_eq!(sub.next_within(QUIET).await, None, "exactly once");
    bridge.stop().await;
}

fn v5_connect(client_id: &str, expiry_secs: u32) -> mqtt_proto::Connect {
    let mut c = connect_packet(ProtocolVersion::V5, client_id, false);
    c.properties
        .push(Property::SessionExpiryInterval(expiry_secs));
    c
}

#[tokio::test]
async fn session_expiry_counts_the_time_the_bridge_was_down() {
    let dir = DataDir::new("expiry");
    let bridge = start(&dir, &[]).await;
    for (id, secs) in [("short", 1), ("long", 600)] {
        let (mut c, _) = MqttClient::connect_with(bridge.tcp, v5_connect(id, secs)).await;
        c.subscribe(1, "x", QoS::AtLeastOnce).await;
        c.disconnect().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    bridge.stop().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let bridge = start(&dir, &[]).await;
    let (_short, ack) = MqttClient::connect_with(bridge.tcp, v5_connect("short", 60)).await;
    assert!(!ack.session_present, "expired while the bridge was down");
    let (_long, ack) = MqttClient::connect_with(bridge.tcp, v5_connect("long", 600)).await;
    assert!(ack.session_present);
    bridge.stop().await;
}

#[tokio::test]
async fn batched_fsync_keeps_what_was_committed_before_the_crash() {
    let dir = DataDir::new("batched");
    let bridge = start(&dir, &["--fsync", "50ms"]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "batch-sub", false).await;
    sub.subscribe(1, "b/#", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let (mut publisher, _) = MqttClient::connect(bridge.tcp, "batch-pub", true).await;
    for i in 0..20u16 {
        publisher
            .publish(&format!("b/{i}"), b"x", QoS::AtLeastOnce, i + 1)
            .await;
    }
    // Several intervals: the timer has committed them.
    tokio::time::sleep(Duration::from_millis(400)).await;
    bridge.stop().await;

    let bridge = start(&dir, &["--fsync", "50ms"]).await;
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "batch-sub", false).await;
    for i in 0..20 {
        let p = next_publish(&mut sub).await;
        assert_eq!(p.topic(), format!("b/{i}"), "in order");
        acknowledge(&mut sub, &p).await;
    }
    bridge.stop().await;
}

/// Runs the binary on `dir` expecting it to refuse to start; its stderr.
fn refused(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .output()
        .expect("bridge runs");
    assert_eq!(out.status.code(), Some(78), "exit status for {dir:?}");
    assert!(out.stdout.is_empty(), "nothing listened");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_damaged_busy_or_unusable_data_directory_is_refused_clearly() {
    let dir = DataDir::new("damaged");
    std::fs::create_dir_all(&dir.0).expect("mkdir");
    let file = dir.0.join("bridge.redb");
    std::fs::write(&file, vec![0x5a; 64 * 1024]).expect("write garbage");
    let why = refused(&dir.0);
    assert!(why.contains(file.to_str().expect("utf-8")), "{why}");
    assert!(why.contains("is damaged"), "{why}");
    assert!(!why.contains("panicked"), "{why}");

    // A readable file with a record that does not decode.
    std::fs::remove_file(&file).expect("rm");
    {
        let db = redb::Database::create(&file).expect("create");
        let tx = db.begin_write().expect("tx");
        {
            let table: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("retained");
            let mut retained = tx.open_table(table).expect("table");
            retained
                .insert("sensors/a/status", &b"junk"[..])
                .expect("insert");
        }
        tx.commit().expect("commit");
    }
    let why = refused(&dir.0);
    assert!(why.contains("is damaged"), "{why}");
    assert!(why.contains("sensors/a/status"), "names the record: {why}");

    let not_a_dir = DataDir::new("not-a-dir");
    std::fs::write(&not_a_dir.0, b"a file").expect("write");
    let why = refused(&not_a_dir.0);
    assert!(why.contains("cannot create the data directory"), "{why}");
    std::fs::remove_file(&not_a_dir.0).ok();

    let busy = DataDir::new("busy");
    let bridge = start(&busy, &[]).await;
    let why = refused(&busy.0);
    assert!(why.contains("already open"), "{why}");
    bridge.stop().await;
}

#[tokio::test]
async fn without_a_data_directory_the_bridge_says_it_keeps_state_in_memory() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args([
            "--tcp",
            "127.0.0.1:0",
            "--ws",
            "127.0.0.1:0",
            "--log",
            "info",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bridge starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let said = tokio::time::timeout(common::WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("in memory only") {
                return true;
            }
        }
        false
    })
    .await;
    let _ = child.kill().await;
    assert_eq!(said, Ok(true), "a start-up line says state is not kept");
}

#[tokio::test]
async fn message_expiry_is_an_absolute_time_across_a_restart() {
    let dir = DataDir::new("msg-expiry");
    let bridge = start(&dir, &[]).await;
    let connect = connect_packet(ProtocolVersion::V5, "expiring-pub", true);
    let (mut publisher, _) = MqttClient::connect_with(bridge.tcp, connect).await;
    for (topic, secs) in [("exp/short", 1u32), ("exp/long", 30)] {
        let mut p = Publish::new(topic, &b"v"[..]);
        p.retain = true;
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(1);
        p.properties.push(Property::MessageExpiryInterval(secs));
        publisher.send(&Packet::Publish(p)).await;
        assert!(matches!(publisher.next().await, Packet::PubAck(_)));
    }
    bridge.stop().await;
    // Down for longer than the short one may live (mosquitto #1464 restarts
    // the clock here).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let bridge = start(&dir, &[]).await;
    let connect = connect_packet(ProtocolVersion::V5, "expiring-sub", true);
    let (mut sub, _) = MqttClient::connect_with(bridge.tcp, connect).await;
    sub.subscribe(1, "exp/#", QoS::AtLeastOnce).await;
    let long = next_publish(&mut sub).await;
    assert_eq!(long.topic(), "exp/long", "the expired one is gone");
    let left = long.properties.find(|p| match p {
        Property::MessageExpiryInterval(s) => Some(*s),
        _ => None,
    });
    assert!(
        left.is_some_and(|s| s <= 29),
        "the downtime counted: {left:?}"
    );
    acknowledge(&mut sub, &long).await;
    assert_eq!(sub.next_within(QUIET).await, None);
    bridge.stop().await;
}
