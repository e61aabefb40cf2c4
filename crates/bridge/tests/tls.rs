//! TLS and WSS with certificates made in the test (rcgen): Mosquitto's
//! `mosquitto_pub --cafile` over TLS, a WebSocket client over TLS, and
//! client certificates checked against a CA.

mod common;

use common::{connect_bytes, next_publish, MqttClient, RunningBridge, WAIT};
use futures_util::{SinkExt, StreamExt};
use mqtt_proto::QoS;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A CA, a server certificate for localhost and a client certificate, as
/// PEM files in a temporary directory (removed when dropped).
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("bridge-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "bridge test CA");
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
        for (name, sans) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ),
            ("client", vec!["device-1".to_owned()]),
        ] {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(sans).expect("params");
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &ca).expect("signed");
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write");
        }
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().expect("utf-8").to_owned()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(pki: &Pki, client_ca: bool) -> RunningBridge {
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    let mut args = vec![
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls",
        "127.0.0.1:0",
        "--wss",
        "127.0.0.1:0",
    ];
    if client_ca {
        args.extend(["--tls-client-ca", &ca]);
    }
    RunningBridge::start(&args).await
}

/// `mosquitto_pub` to localhost:`port` with `args`; whether it succeeded.
async fn mosquitto_pub(port: u16, args: &[&str]) -> bool {
    let out = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string()])
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WAIT, out)
        .await
        .expect("mosquitto_pub finishes")
        .expect("mosquitto_pub runs (apt-get install mosquitto-clients)");
    out.status.success()
}

/// Trusts `pki`'s CA; presents the client certificate of `cert_from`.
fn client_config(pki: &Pki, cert_from: Option<&Pki>) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pki_types::CertificateDer::pem_file_iter(pki.path("ca.pem")).expect("ca") {
        roots.add(ca.expect("ca")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match cert_from {
        None => builder.with_no_client_auth(),
        Some(holder) => {
            let chain = rustls_pki_types::CertificateDer::pem_file_iter(holder.path("client.pem"))
                .expect("cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("cert");
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(holder.path("client.key"))
                .expect("key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
    };
    Arc::new(config)
}

/// CONNECT over WSS; the first binary frame back.
async fn wss_connack(addr: std::net::SocketAddr, pki: &Pki) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(client_config(pki, None));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let mut request = format!("wss://localhost:{}/mqtt", addr.port())
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().expect("header"));
    let (mut ws, response) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("WebSocket upgrade over TLS");
    assert_eq!(response.headers()["sec-websocket-protocol"], "mqtt");
    ws.send(Message::binary(connect_bytes("wss-client")))
        .await
        .expect("send");
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => bytes.to_vec(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

#[tokio::test]
async fn mqtt_over_tls_and_wss_with_a_generated_certificate() {
    let pki = Pki::new("server");
    let bridge = start(&pki, false).await;
    let (tls, wss) = (
        bridge.tls.expect("tls listener"),
        bridge.wss.expect("wss listener"),
    );
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "plain-sub", true).await;
    sub.subscribe(1, "secure/#", QoS::AtLeastOnce).await;

    // Mosquitto's client verifies our certificate against the CA file.
    let ca = pki.path("ca.pem");
    assert!(
        mosquitto_pub(
            tls.port(),
            &["--cafile", &ca, "-q", "1", "-t", "secure/a", "-m", "over tls"]
        )
        .await
    );
    let got = next_publish(&mut sub).await;
    assert_eq!((got.topic(), got.payload()), ("secure/a", &b"over tls"[..]));
    // Plain MQTT to the TLS port is not understood, and harms nothing.
    assert!(!mosquitto_pub(tls.port(), &["-t", "secure/b", "-m", "plain"]).await);
    assert!(
        mosquitto_pub(bridge.tcp.port(), &["-t", "secure/c", "-m", "still fine"]).await,
        "the plain listener still serves"
    );
    assert_eq!(next_publish(&mut sub).await.topic(), "secure/c");

    // WSS: a WebSocket client over TLS at /mqtt.
    assert_eq!(wss_connack(wss, &pki).await, [0x20, 2, 0, 0]);
    bridge.stop().await;
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_configured() {
    let pki = Pki::new("clients");
    let bridge = start(&pki, true).await;
    let tls = bridge.tls.expect("tls listener");
    let (mut sub, _) = MqttClient::connect(bridge.tcp, "plain-sub", true).await;
    sub.subscribe(1, "devices/#", QoS::AtMostOnce).await;
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    assert!(
        !mosquitto_pub(
            tls.port(),
            &["--cafile", &ca, "-t", "devices/x", "-m", "no cert"]
        )
        .await,
        "a client without a certificate is refused"
    );
    assert!(
        mosquitto_pub(
            tls.port(),
            &[
                "--cafile",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                "-t",
                "devices/y",
                "-m",
                "signed"
            ],
        )
        .await
    );
    let got = next_publish(&mut sub).await;
    assert_eq!(
        got.topic(),
        "devices/y",
        "only the signed client got through"
    );

    // A certificate from another CA gets no session; ours does (same client).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let other = Pki::new("other");
    for (holder, accepted) in [(&other, false), (&pki, true)] {
        let connector = tokio_rustls::TlsConnector::from(client_config(&pki, Some(holder)));
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let tcp = TcpStream::connect(tls).await.expect("connect");
        // TLS 1.3 finishes the client's side before the server has checked
        // its certificate: the refusal shows on the first read.
        let mut buf = [0u8; 4];
        let connack = match connector.connect(name, tcp).await {
            Ok(mut stream) => match stream.write_all(&connect_bytes("rust-client")).await {
                Ok(()) => stream.read_exact(&mut buf).await.is_ok(),
                Err(_) => false,
            },
            Err(_) => false,
        };
        assert_eq!(
            connack, accepted,
            "CONNACK for a certificate from {:?}",
            holder.dir
        );
    }
    bridge.stop().await;
}

#[test]
fn missing_or_mismatched_tls_files_stop_the_start() {
    let pki = Pki::new("bad");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
            .args([
                "--tcp",
                "127.0.0.1:0",
                "--ws",
                "127.0.0.1:0",
                "--tls",
                "127.0.0.1:0",
                "--wss",
                "127.0.0.1:0",
            ])
            .args(args)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?} started");
        assert!(out.stdout.is_empty(), "nothing listened");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let (cert, key, ca_key) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("client.key"),
    );
    assert!(run(&[]).contains("TLS listeners need tls_cert and tls_key"));
    assert!(run(&["--tls-cert", &cert]).contains("tls_cert needs tls_key"));
    let missing = run(&["--tls-cert", "/nonexistent.pem", "--tls-key", &key]);
    assert!(missing.contains("/nonexistent.pem"), "{missing}");
    let mismatched = run(&["--tls-cert", &cert, "--tls-key", &ca_key]);
    assert!(mismatched.contains("certificate and key"), "{mismatched}");
}

#[tokio::test]
async fn an_upstream_link_over_mqtts_checks_the_certificate_against_its_ca_file() {
    let pki = Pki::new("upstream");
    let cloud = start(&pki, false).await;
    let tls = cloud.tls.expect("tls listener");
    let (mut watcher, _) = MqttClient::connect(cloud.tcp, "cloud-watcher", true).await;
    watcher.subscribe(1, "site-a/#", QoS::AtLeastOnce).await;
    let link = |ca: &str| {
        format!(
            "sys_interval = 0\n[[upstream]]\nname = \"cloud\"\naddress = \"mqtts://localhost:{}\"\nca_file = \"{ca}\"\n\
             [[upstream.topics]]\npattern = \"sensors/#\"\ndirection = \"out\"\nqos = 1\nremote_prefix = \"site-a/\"\n",
            tls.port()
        )
    };
    // Trusting another CA, the link never comes up: nothing arrives.
    let other = Pki::new("upstream-other");
    let wrong = RunningBridge::start_with_config(&link(&other.path("ca.pem"))).await;
    let (mut device, _) = MqttClient::connect(wrong.tcp, "device", true).await;
    device
        .publish("sensors/t", b"untrusted", QoS::AtLeastOnce, 1)
        .await;
    assert!(watcher
        .next_within(std::time::Duration::from_secs(2))
        .await
        .is_none());
    wrong.stop().await;

    let site = RunningBridge::start_with_config(&link(&pki.path("ca.pem"))).await;
    let (mut device, _) = MqttClient::connect(site.tcp, "device", true).await;
    device
        .publish("sensors/t", b"21.5", QoS::AtLeastOnce, 1)
        .await;
    let got = next_publish(&mut watcher).await;
    assert_eq!(
        (got.topic(), got.payload()),
        ("site-a/sensors/t", &b"21.5"[..])
    );
    site.stop().await;
    cloud.stop().await;
}
