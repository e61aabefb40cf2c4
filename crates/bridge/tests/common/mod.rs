//! Helpers for tests that run the real `bridge` binary and talk to it over sockets.

#![allow(dead_code)]

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use mqtt_proto::{Packet, StreamDecoder};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(5);

/// The bridge binary on free ports; killed when dropped, also when a test fails.
pub struct RunningBridge {
    child: Child,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    /// The MQTT/TLS and WSS listeners, when a certificate was given.
    pub tls: Option<SocketAddr>,
    pub wss: Option<SocketAddr>,
}

impl RunningBridge {
    pub async fn start(extra_args: &[&str]) -> RunningBridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bridge"))
            .args(["--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("bridge binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut first = String::new();
        timeout(WAIT, BufReader::new(stdout).read_line(&mut first))
            .await
            .expect("bridge prints its addresses in time")
            .expect("stdout readable");
        let (tcp, ws) = parse_address_line(&first);
        let optional = |name: &str| {
            first
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|a| a.parse().expect("address parses"))
        };
        RunningBridge {
            child,
            tcp,
            ws,
            tls: optional("tls="),
            wss: optional("wss="),
        }
    }

    /// The binary with a configuration file holding `toml`. The file is read
    /// at start-up only, so it is gone again once the bridge listens.
    pub async fn start_with_config(toml: &str) -> RunningBridge {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file =
            std::env::temp_dir().join(format!("bridge-test-{}-{n}.toml", std::process::id()));
        std::fs::write(&file, toml).expect("write config");
        let bridge = Self::start(&["--config", file.to_str().expect("utf-8 path")]).await;
        std::fs::remove_file(&file).ok();
        bridge
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit;
    /// returns whether it did (it is killed either way).
    pub async fn terminate(mut self, within: Duration) -> bool {
        let pid = self.child.id().expect("running");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let exited = timeout(within, self.child.wait()).await.is_ok();
        let _ = self.child.kill().await;
        exited
    }
}

/// Reads `tcp=ADDR ws=ADDR` from the bridge's first stdout line.
pub fn parse_address_line(line: &str) -> (SocketAddr, SocketAddr) {
    let field = |name: &str| -> SocketAddr {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .parse()
            .expect("address parses")
    };
    (field("tcp="), field("ws="))
}

/// A CONNECT for MQTT 3.1.1 with a clean session and no keepalive, by hand
/// from spec section 3.1.
pub fn connect_bytes(client_id: &str) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x00];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    frame(0x10, &body)
}

pub fn subscribe_bytes(packet_id: u16, filter: &str) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
    body.extend_from_slice(filter.as_bytes());
    body.push(0x00);
    frame(0x82, &body)
}

pub fn publish_bytes(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    frame(0x30, &body)
}

/// Fixed header (short remaining lengths only) plus body.
pub fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128, "test frames are small");
    let mut v = vec![first_byte, body.len() as u8];
    v.extend_from_slice(body);
    v
}

pub const CONNACK_ACCEPTED: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// A client that writes raw bytes and reads raw bytes, over TCP or WebSocket.
pub enum RawClient {
    Tcp(TcpStream),
    Ws(Box<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>),
}

impl RawClient {
    pub async fn tcp(addr: SocketAddr) -> RawClient {
        RawClient::Tcp(TcpStream::connect(addr).await.expect("TCP connect"))
    }

    pub async fn ws(addr: SocketAddr) -> RawClient {
        let mut request = format!("ws://{addr}/mqtt")
            .into_client_request()
            .expect("valid URL");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "mqtt".parse().expect("header"));
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket upgrade");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.as_bytes()),
            Some(&b"mqtt"[..]),
            "bridge negotiates the mqtt subprotocol"
        );
        RawClient::Ws(Box::new(ws))
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        match self {
            RawClient::Tcp(s) => s.write_all(bytes).await.expect("write"),
            RawClient::Ws(ws) => ws
                .send(Message::Binary(Bytes::copy_from_slice(bytes)))
                .await
                .expect("ws send"),
        }
    }

    /// Reads exactly `n` bytes (TCP) or the next binary frame's bytes (WS, checked to be `n` long).
    pub async fn recv_exact(&mut self, n: usize) -> Vec<u8> {
        timeout(WAIT, async {
            match self {
                RawClient::Tcp(s) => {
                    let mut buf = vec![0; n];
                    s.read_exact(&mut buf).await.expect("read");
                    buf
                }
                RawClient::Ws(ws) => loop {
                    match ws.next().await.expect("ws open").expect("ws frame") {
                        Message::Binary(b) => break b.to_vec(),
                        _ => continue,
                    }
                },
            }
        })
        .await
        .expect("bytes arrive in time")
    }

    /// Connects with a raw CONNECT and checks the raw CONNACK.
    pub async fn handshake(&mut self, client_id: &str) {
        self.send(&connect_bytes(client_id)).await;
        assert_eq!(self.recv_exact(4).await, CONNACK_ACCEPTED);
    }

    /// Subscribes and checks the SUBACK grants QoS 0.
    pub async fn subscribe(&mut self, packet_id: u16, filter: &str) {
        self.send(&subscribe_bytes(packet_id, filter)).await;
        let id = packet_id.to_be_bytes();
        assert_eq!(self.recv_exact(5).await, [0x90, 0x03, id[0], id[1], 0x00]);
    }

    /// True when the bridge closed the connection (EOF or reset) within [`WAIT`].
    pub async fn closed_by_peer(&mut self) -> bool {
        timeout(WAIT, async {
            match self {
                RawClient::Tcp(s) => {
                    let mut buf = [0u8; 64];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return true,
                            Ok(_) => continue,
                        }
                    }
                }
                RawClient::Ws(ws) => loop {
                    match ws.next().await {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                        Some(Ok(_)) => continue,
                    }
                },
            }
        })
        .await
        .unwrap_or(false)
    }
}

/// Reads whole packets from a TCP stream with the codec (for tests whose
/// subject is not the bytes themselves).
pub struct PacketReader {
    pub stream: TcpStream,
    decoder: StreamDecoder,
}

impl PacketReader {
    pub fn new(stream: TcpStream) -> Self {
        Self::with_version(stream, mqtt_proto::ProtocolVersion::V311)
    }

    pub fn with_version(stream: TcpStream, version: mqtt_proto::ProtocolVersion) -> Self {
        PacketReader {
            stream,
            decoder: StreamDecoder::new(1 << 20, version),
        }
    }

    pub async fn next(&mut self, within: Duration) -> Option<Packet> {
        timeout(within, async {
            loop {
                if let Some(p) = self
                    .decoder
                    .next_packet()
                    .expect("bridge sends valid packets")
                {
                    return Some(p);
                }
                let n = self.stream.read_buf(self.decoder.buffer_mut()).await.ok()?;
                if n == 0 {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}

/// A client over TCP that sends and expects typed packets, for tests about
/// sessions and acknowledgement flows rather than bytes.
pub struct MqttClient {
    reader: PacketReader,
    version: mqtt_proto::ProtocolVersion,
}

/// A CONNECT with no keepalive, Will or credentials.
pub fn connect_packet(
    version: mqtt_proto::ProtocolVersion,
    client_id: &str,
    clean: bool,
) -> mqtt_proto::Connect {
    mqtt_proto::Connect {
        protocol: version,
        clean_session: clean,
        keep_alive: 0,
        client_id: client_id.into(),
        will: None,
        username: None,
        password: None,
        properties: mqtt_proto::Properties::new(),
    }
}

impl MqttClient {
    /// Connects with 3.1.1 and returns the client and CONNACK's Session Present flag.
    pub async fn connect(addr: SocketAddr, client_id: &str, clean: bool) -> (MqttClient, bool) {
        let connect = connect_packet(mqtt_proto::ProtocolVersion::V311, client_id, clean);
        let (client, ack) = Self::connect_with(addr, connect).await;
        (client, ack.session_present)
    }

    /// Sends `connect` and returns the client and the accepting CONNACK.
    pub async fn connect_with(
        addr: SocketAddr,
        connect: mqtt_proto::Connect,
    ) -> (MqttClient, mqtt_proto::ConnAck) {
        let stream = TcpStream::connect(addr).await.expect("TCP connect");
        let version = connect.protocol;
        let mut client = MqttClient {
            reader: PacketReader::with_version(stream, version),
            version,
        };
        client.send(&Packet::from(connect)).await;
        match client.next().await {
            Packet::ConnAck(ack) if ack.code == mqtt_proto::ReasonCode::Success => (client, ack),
            other => panic!("expected an accepting CONNACK, got {other:?}"),
        }
    }

    pub async fn send(&mut self, packet: &Packet) {
        let bytes = packet.to_bytes(self.version).expect("test packets encode");
        self.send_raw(&bytes).await;
    }

    /// Bytes as they are, e.g. a packet the codec would refuse to encode.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.stream.write_all(bytes).await.expect("write");
    }

    /// The next packet, failing the test if none comes within [`WAIT`].
    pub async fn next(&mut self) -> Packet {
        self.reader
            .next(WAIT)
            .await
            .expect("a packet arrives in time")
    }

    /// The next packet if one comes within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Packet> {
        self.reader.next(within).await
    }

    pub async fn subscribe(&mut self, packet_id: u16, filter: &str, qos: mqtt_proto::QoS) {
        let subscription = mqtt_proto::Subscription::new(filter, qos);
        self.subscribe_with(packet_id, subscription, mqtt_proto::Properties::new())
            .await;
    }

    /// Subscribes with all options and properties; checks the QoS is granted.
    pub async fn subscribe_with(
        &mut self,
        packet_id: u16,
        subscription: mqtt_proto::Subscription,
        properties: mqtt_proto::Properties,
    ) {
        let qos = subscription.qos;
        self.send(&Packet::Subscribe(mqtt_proto::Subscribe {
            packet_id,
            subscriptions: vec![subscription],
            properties,
        }))
        .await;
        match self.next().await {
            Packet::SubAck(ack) if ack.packet_id == packet_id => {
                assert_eq!(ack.reason_codes, [mqtt_proto::ReasonCode::granted(qos)]);
            }
            other => panic!("expected SUBACK {packet_id}, got {other:?}"),
        }
    }

    /// Publishes at `qos` with `packet_id` and completes the acknowledgement flow.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: mqtt_proto::QoS,
        packet_id: u16,
    ) {
        let mut p = mqtt_proto::Publish::new(topic, payload);
        p.qos = qos;
        p.packet_id = (qos != mqtt_proto::QoS::AtMostOnce).then_some(packet_id);
        self.send(&Packet::Publish(p)).await;
        match qos {
            mqtt_proto::QoS::AtMostOnce => {}
            // (A 5.0 acknowledgement may say there were no subscribers.)
            mqtt_proto::QoS::AtLeastOnce => match self.next().await {
                Packet::PubAck(ack) if ack.packet_id == packet_id => {}
                other => panic!("expected PUBACK {packet_id}, got {other:?}"),
            },
            mqtt_proto::QoS::ExactlyOnce => {
                match self.next().await {
                    Packet::PubRec(ack) if ack.packet_id == packet_id => {}
                    other => panic!("expected PUBREC {packet_id}, got {other:?}"),
                }
                self.send(&Packet::PubRel(mqtt_proto::Ack::new(packet_id)))
                    .await;
                assert_eq!(
                    self.next().await,
                    Packet::PubComp(mqtt_proto::Ack::new(packet_id))
                );
            }
        }
    }

    /// Waits for a PINGRESP, so everything sent before it has been handled.
    pub async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        assert_eq!(self.next().await, Packet::PingResp);
    }

    pub async fn disconnect(mut self) {
        self.send(&Packet::disconnect()).await;
    }
}

/// The reason code of a DISCONNECT from the bridge, which also explains
/// itself in a Reason String.
pub fn disconnect_reason(packet: Packet) -> mqtt_proto::ReasonCode {
    match packet {
        Packet::Disconnect(status) => {
            let why = status.properties.find(|p| match p {
                mqtt_proto::Property::ReasonString(s) => Some(s.to_string()),
                _ => None,
            });
            assert!(
                why.is_some_and(|w| !w.is_empty()),
                "a reason string in {status:?}"
            );
            status.reason
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

/// The next packet from `c`, which must be a PUBLISH.
pub async fn next_publish(c: &mut MqttClient) -> mqtt_proto::Publish {
    match c.next().await {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}
