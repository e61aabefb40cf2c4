//! Authentication and authorization against the real binary: a password
//! file written by `bridge passwd` (password on stdin), anonymous clients
//! refused, and every ACL rule kind with 3.1.1 and 5.0 clients.

mod common;

use common::{connect_packet, MqttClient, PacketReader, RunningBridge, WAIT};
use mqtt_proto::{Ack, Connect, LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const QUIET: Duration = Duration::from_millis(300);
const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bridge-auth-{}-{name}", std::process::id()))
}

/// `bridge passwd FILE USER` with the password on stdin.
fn passwd(file: &Path, user: &str, password: &str) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .arg("passwd")
        .arg(file)
        .arg(user)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("bridge passwd runs");
    let mut stdin = child.stdin.take().expect("piped");
    writeln!(stdin, "{password}").expect("write password");
    drop(stdin);
    assert!(child.wait().expect("exits").success());
}

fn with_credentials(
    version: ProtocolVersion,
    id: &str,
    user: Option<&str>,
    pass: Option<&str>,
) -> Connect {
    let mut c = connect_packet(version, id, true);
    c.username = user.map(Into::into);
    c.password = pass.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
    c
}

/// Sends `connect` and returns the CONNACK's code, whatever it is.
async fn connack_code(addr: SocketAddr, connect: Connect) -> ReasonCode {
    let version = connect.protocol;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let bytes = Packet::from(connect).to_bytes(version).expect("encodes");
    stream.write_all(&bytes).await.expect("write");
    let mut reader = PacketReader::with_version(stream, version);
    match reader.next(WAIT).await {
        Some(Packet::ConnAck(ack)) => ack.code,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[tokio::test]
async fn a_password_file_lets_its_users_in_and_nobody_else() {
    let file = temp_path("passwords");
    let _ = std::fs::remove_file(&file);
    passwd(&file, "alice", "correct horse");
    passwd(&file, "bob", "battery staple");
    passwd(&file, "alice", "new password"); // changed, not added twice
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        !text.contains("new password") && !text.contains("staple"),
        "hashes only"
    );
    let bridge = RunningBridge::start(&["--password-file", file.to_str().expect("utf-8")]).await;

    for version in [V3, V5] {
        let ok = with_credentials(version, "a", Some("alice"), Some("new password"));
        let (c, _) = MqttClient::connect_with(bridge.tcp, ok).await;
        c.disconnect().await;
        let cases = [
            (
                Some("alice"),
                Some("correct horse"),
                ReasonCode::BadUserNameOrPassword,
            ),
            (Some("bob"), None, ReasonCode::BadUserNameOrPassword),
            (
                Some("carol"),
                Some("battery staple"),
                ReasonCode::BadUserNameOrPassword,
            ),
            (None, None, ReasonCode::NotAuthorized),
        ];
        for (user, pass, expected) in cases {
            let code = connack_code(bridge.tcp, with_credentials(version, "x", user, pass)).await;
            assert_eq!(code, expected, "{version:?} {user:?}/{pass:?}");
        }
    }
    // On the wire: 3.1.1 says 0x04 and 0x05, 5.0 says 0x86 and 0x87.
    let mut raw = TcpStream::connect(bridge.tcp).await.expect("connect");
    let anonymous = Packet::from(with_credentials(V3, "x", None, None));
    raw.write_all(&anonymous.to_bytes(V3).expect("encodes"))
        .await
        .expect("write");
    let mut reply = [0u8; 4];
    tokio::io::AsyncReadExt::read_exact(&mut raw, &mut reply)
        .await
        .expect("CONNACK");
    assert_eq!(reply, [0x20, 2, 0, 5]);
    bridge.stop().await;

    let config = format!(
        "password_file = {:?}\nallow_anonymous = true\n",
        file.to_str().expect("utf-8")
    );
    let bridge = RunningBridge::start_with_config(&config).await;
    let code = connack_code(bridge.tcp, with_credentials(V5, "x", None, None)).await;
    assert_eq!(code, ReasonCode::Success, "allow_anonymous = true");
    let code = connack_code(
        bridge.tcp,
        with_credentials(V5, "x", Some("bob"), Some("no")),
    )
    .await;
    assert_eq!(
        code,
        ReasonCode::BadUserNameOrPassword,
        "users still need their password"
    );
    bridge.stop().await;
    std::fs::remove_file(&file).ok();
}

const ACL: &str = "
# anonymous clients
topic read public/#

user alice
topic readwrite sensors/alice/#
topic deny sensors/alice/secret
topic read sensors/+/status

user bob
topic write sensors/bob/#

user admin
topic readwrite #

pattern readwrite devices/%c/#
pattern read users/%u/#
";

/// A client that keeps the messages it receives while waiting for an
/// acknowledgement, so no test depends on which comes first.
struct Client {
    c: MqttClient,
    seen: Vec<String>,
}

async fn as_user(
    bridge: &RunningBridge,
    version: ProtocolVersion,
    id: &str,
    user: Option<&str>,
) -> Client {
    let (c, _) =
        MqttClient::connect_with(bridge.tcp, with_credentials(version, id, user, None)).await;
    Client {
        c,
        seen: Vec::new(),
    }
}

impl Client {
    /// The next packet that is not a PUBLISH (those are acknowledged and kept).
    async fn next_reply(&mut self) -> Packet {
        loop {
            match self.c.next().await {
                Packet::Publish(p) => {
                    if let Some(id) = p.packet_id {
                        self.c.send(&Packet::PubAck(Ack::new(id))).await;
                    }
                    self.seen.push(p.topic().to_owned());
                }
                other => return other,
            }
        }
    }

    /// SUBSCRIBE to `filters` at QoS 1; the reason codes.
    async fn subscribe(&mut self, packet_id: u16, filters: &[&str]) -> Vec<ReasonCode> {
        self.c
            .send(&Packet::Subscribe(mqtt_proto::Subscribe {
                packet_id,
                subscriptions: filters
                    .iter()
                    .map(|f| mqtt_proto::Subscription::new(*f, QoS::AtLeastOnce))
                    .collect(),
                properties: mqtt_proto::Properties::new(),
            }))
            .await;
        match self.next_reply().await {
            Packet::SubAck(ack) => ack.reason_codes,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// PUBLISH at QoS 1; the PUBACK's reason code.
    async fn publish(&mut self, packet_id: u16, topic: &str, retain: bool) -> ReasonCode {
        let mut p = Publish::new(topic, &b"v"[..]);
        p.qos = QoS::AtLeastOnce;
        p.retain = retain;
        p.packet_id = Some(packet_id);
        self.c.send(&Packet::Publish(p)).await;
        match self.next_reply().await {
            Packet::PubAck(ack) if ack.packet_id == packet_id => ack.reason,
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }

    /// Topics received so far and until nothing comes for a moment, sorted.
    async fn topics_received(&mut self) -> Vec<String> {
        while let Some(packet) = self.c.next_within(QUIET).await {
            if let Packet::Publish(p) = packet {
                if let Some(id) = p.packet_id {
                    self.c.send(&Packet::PubAck(Ack::new(id))).await;
                }
                self.seen.push(p.topic().to_owned());
            }
        }
        let mut topics = std::mem::take(&mut self.seen);
        topics.sort();
        topics
    }
}

#[tokio::test]
async fn every_acl_rule_kind_with_311_and_5_clients() {
    let file = temp_path("acl");
    std::fs::write(&file, ACL).expect("write acl");
    let bridge = RunningBridge::start(&["--acl-file", file.to_str().expect("utf-8")]).await;
    let mut admin = as_user(&bridge, V5, "admin", Some("admin")).await;
    for topic in [
        "sensors/alice/t",
        "sensors/alice/secret",
        "sensors/bob/status",
    ] {
        let code = admin.publish(1, topic, true).await;
        assert!(!code.is_error(), "{topic}: {code:?}");
    }

    // Subscriptions: granted only when one read rule covers the filter.
    for version in [V3, V5] {
        let mut alice = as_user(&bridge, version, "alice-dev", Some("alice")).await;
        let refused = match version {
            V3 => ReasonCode::UnspecifiedError, // 0x80 on the wire
            _ => ReasonCode::NotAuthorized,
        };
        for (filter, expected) in [
            ("sensors/alice/#", ReasonCode::GrantedQoS1),
            ("sensors/+/status", ReasonCode::GrantedQoS1),
            ("devices/alice-dev/#", ReasonCode::GrantedQoS1),
            ("users/alice/#", ReasonCode::GrantedQoS1),
            ("$share/g/sensors/alice/#", ReasonCode::GrantedQoS1),
            ("sensors/#", refused),
            ("#", refused),
            ("devices/other/#", refused),
            ("users/bob/#", refused),
            ("public/#", refused),
            ("sensors/alice/secret", refused),
        ] {
            let codes = alice.subscribe(1, &[filter]).await;
            assert_eq!(codes, [expected], "{version:?} alice subscribes {filter}");
        }
        alice.c.disconnect().await;
    }

    // Retained messages pass the read check too: not the denied one.
    let mut alice = as_user(&bridge, V5, "alice-1", Some("alice")).await;
    alice
        .subscribe(1, &["sensors/alice/#", "sensors/+/status"])
        .await;
    assert_eq!(
        alice.topics_received().await,
        ["sensors/alice/t", "sensors/bob/status"]
    );

    // Publishing: bob may write his topics only; refusals are 0x87 in 5.0
    // and a plain PUBACK in 3.1.1; refused messages reach nobody.
    let mut bob5 = as_user(&bridge, V5, "bob-5", Some("bob")).await;
    assert_eq!(
        bob5.publish(1, "sensors/alice/t", false).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        bob5.publish(2, "sensors/bob/status", false).await,
        ReasonCode::Success
    );
    let mut bob3 = as_user(&bridge, V3, "bob-3", Some("bob")).await;
    assert_eq!(
        bob3.publish(1, "sensors/alice/t", false).await,
        ReasonCode::Success
    );
    // 3.1.1 QoS 2, refused: the flow still completes.
    let mut p = Publish::new("sensors/alice/t", &b"v"[..]);
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(9);
    bob3.c.send(&Packet::Publish(p)).await;
    assert_eq!(bob3.next_reply().await, Packet::PubRec(Ack::new(9)));
    bob3.c.send(&Packet::PubRel(Ack::new(9))).await;
    assert_eq!(bob3.next_reply().await, Packet::PubComp(Ack::new(9)));
    assert_eq!(alice.topics_received().await, ["sensors/bob/status"]);

    // Deny wins over readwrite, for her own publishing and her reading.
    assert_eq!(
        alice.publish(3, "sensors/alice/secret", false).await,
        ReasonCode::NotAuthorized
    );
    admin.publish(2, "sensors/alice/secret", false).await;
    admin.publish(3, "sensors/alice/t", false).await;
    assert_eq!(alice.topics_received().await, ["sensors/alice/t"]);

    // Anonymous clients get the rules before the first user, and patterns.
    let mut anon = as_user(&bridge, V3, "dev-7", None).await;
    assert_eq!(
        anon.subscribe(1, &["public/#", "devices/dev-7/#", "users/+/x"])
            .await,
        [
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS1,
            ReasonCode::UnspecifiedError
        ]
    );
    anon.publish(4, "public/x", false).await;
    anon.publish(5, "devices/dev-7/t", false).await;
    admin.publish(4, "public/news", false).await;
    assert_eq!(
        anon.topics_received().await,
        ["devices/dev-7/t", "public/news"]
    );

    // A Will the client may not publish refuses the CONNECT (0x05 / 0x87).
    for version in [V3, V5] {
        let mut c = with_credentials(version, "bob-will", Some("bob"), None);
        c.will = Some(LastWill {
            topic: "sensors/alice/t".into(),
            payload: bytes::Bytes::from_static(b"gone"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: mqtt_proto::Properties::new(),
        });
        assert_eq!(
            connack_code(bridge.tcp, c).await,
            ReasonCode::NotAuthorized,
            "{version:?}"
        );
    }
    bridge.stop().await;
    std::fs::remove_file(&file).ok();
}

#[tokio::test]
async fn a_bad_password_or_acl_file_stops_the_start_with_its_line() {
    let file = temp_path("bad-acl");
    std::fs::write(&file, "user alice\ntopic read a/#/b\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--acl-file"])
        .arg(&file)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("{}:2:", file.display())),
        "{stderr}"
    );
    std::fs::write(&file, "alice:plain\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args([
            "--tcp",
            "127.0.0.1:0",
            "--ws",
            "127.0.0.1:0",
            "--password-file",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("{}:1: not a $7$", file.display())),
        "{stderr}"
    );
    std::fs::remove_file(&file).ok();
}
