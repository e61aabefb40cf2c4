//! The connection panel against a real Mosquitto with a password file: the
//! refusal and its reason code, credentials, saved profiles across a reload,
//! disconnect; and the dashboard working with a third-party broker
//! (subscribe, receive, publish).

use anyhow::{Context, Result};
use e2e::browser::WAIT;
use e2e::mosquitto::{Aedes, Mosquitto, WsRelay};
use e2e::{eventually, mosquitto_pub, workspace_root, Browser, DistServer, ProxyMode, TestBridge};
use std::process::Stdio;
use tokio::process::Command;

async fn wait_state(browser: &Browser, state: &str) -> Result<()> {
    eventually(WAIT, &format!("the link to be {state}"), || async {
        (browser.link_state().await.as_deref() == Some(state)).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_profiles_and_a_third_party_broker() -> Result<()> {
    let mosquitto = Mosquitto::start_with_user("alice", "s3cret").await?;
    let relay = WsRelay::start(mosquitto.tcp).await?;
    // The page's own origin carries /mqtt to Mosquitto, as a site would.
    let server = DistServer::start(
        workspace_root().join("dist"),
        relay.addr,
        ProxyMode::Transparent,
    )
    .await?;
    let b = Browser::start(1280, 900).await?;
    b.client.goto(&server.url()).await?;

    // Anonymous: Mosquitto refuses, and the page says why.
    wait_state(&b, "reconnecting").await?;
    b.wait_for_text_containing(".status-url", "refused: not authorized", WAIT)
        .await?;

    b.click("button.status").await?;
    b.type_into(".conn-username", "alice").await?;
    b.type_into(".conn-password", "s3cret").await?;
    b.click(".conn-connect").await?;
    wait_state(&b, "connected").await?;
    b.wait_for_text(
        r##".sub-item[data-filter="#"] .sub-status"##,
        "granted QoS 0",
        WAIT,
    )
    .await?;

    // Receive what a Mosquitto client publishes.
    let auth = ["-u", "alice", "-P", "s3cret"];
    mosquitto_pub(
        mosquitto.tcp,
        &[&auth[..], &["-t", "greenhouse/valve", "-m", "open"]].concat(),
    )
    .await?;
    b.wait_for(r#".tree-row[data-topic="greenhouse"]"#, WAIT)
        .await?;

    // Publish to a Mosquitto client.
    let mut sub = e2e::ChildGuard::spawn(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &mosquitto.tcp.port().to_string()])
            .args(auth)
            .args(["-t", "greenhouse/cmd", "-C", "1", "-W", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )?;
    let sub_out = sub.0.stdout.take().context("stdout piped")?;
    // mosquitto_sub gives no sign when its subscription is in place, so the
    // page publishes until it hears the message (each send is QoS 0).
    b.type_into(".publish-topic", "greenhouse/cmd").await?;
    b.type_into(".publish-payload", "water").await?;
    let mut reader = tokio::io::BufReader::new(sub_out);
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.is_empty() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "mosquitto_sub never got the page's message"
        );
        b.click(".publish-form [type=submit]").await?;
        let read = tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut got);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), read).await;
    }
    assert_eq!(got.trim(), "water");

    // Disconnect stays disconnected.
    b.click(".conn-disconnect").await?;
    wait_state(&b, "disconnected").await?;

    // A reload keeps the profile but not the password (not remembered).
    b.client.refresh().await?;
    wait_state(&b, "reconnecting").await?;
    b.click("button.status").await?;
    let user = b
        .execute("return document.querySelector('.conn-username').value")
        .await?;
    assert_eq!(user, "alice");
    let password = b
        .execute("return document.querySelector('.conn-password').value")
        .await?;
    assert_eq!(password, "");

    // Remembered, it connects by itself after a reload.
    b.type_into(".conn-password", "s3cret").await?;
    b.click(".conn-remember").await?;
    b.click(".conn-connect").await?;
    wait_state(&b, "connected").await?;
    b.client.refresh().await?;
    wait_state(&b, "connected").await?;
    b.close().await?;
    drop(relay);
    drop(mosquitto);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_logs_in_to_the_bridge_over_wss() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("e2e-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (cert, key, passwords) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("passwords"),
    );
    // A certificate for localhost from OpenSSL's command line tool.
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .context("openssl (apt-get install openssl)")?;
    anyhow::ensure!(status.success(), "openssl req failed");
    let mut users = bridge::auth::password::PasswordFile::default();
    users.set("alice", "s3cret")?;
    users.save(&passwords)?;
    let (tls_cert, tls_key, password_file) = (cert.clone(), key.clone(), passwords.clone());
    let bridge = TestBridge::start_configured(move |c| {
        c.auth.password_file = Some(password_file);
        c.tls = Some(bridge::tls::TlsSettings {
            cert: tls_cert,
            key: tls_key,
            client_ca: None,
            tcp: "127.0.0.1:0".parse().expect("addr"),
            ws: "127.0.0.1:0".parse().expect("addr"),
        });
    })
    .await?;
    let wss = bridge.wss.context("a WSS listener")?;
    let server = DistServer::start(
        workspace_root().join("dist"),
        bridge.ws,
        ProxyMode::Transparent,
    )
    .await?;
    let b = Browser::start(1280, 900).await?;
    b.client.goto(&server.url()).await?;

    b.click("button.status").await?;
    let url = format!("wss://localhost:{}/mqtt", wss.port());
    b.type_into(".conn-url", &url).await?;
    b.type_into(".conn-username", "alice").await?;
    b.type_into(".conn-password", "s3cret").await?;
    b.click(".conn-connect").await?;
    wait_state(&b, "connected").await?;
    b.wait_for_text_containing(".status-url", &url, WAIT)
        .await?;

    // Messages flow over it: published on the plain TCP listener, shown here.
    let auth = ["-u", "alice", "-P", "s3cret"];
    eventually(WAIT, "the message over WSS", || async {
        mosquitto_pub(
            bridge.tcp,
            &[&auth[..], &["-t", "vault/door", "-m", "shut"]].concat(),
        )
        .await
        .ok()?;
        b.client
            .find(fantoccini::Locator::Css(r#".tree-row[data-topic="vault"]"#))
            .await
            .ok()
    })
    .await?;
    bridge.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Debian's Mosquitto 2.0.11 is built without WebSocket support, so the
/// dashboard meets a third-party WebSocket listener in Aedes (a Node broker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_connects_subscribes_and_charts_on_a_third_party_websocket_broker(
) -> Result<()> {
    let aedes = Aedes::start().await?;
    let server = DistServer::start(
        workspace_root().join("dist"),
        aedes.ws,
        ProxyMode::Transparent,
    )
    .await?;
    let b = Browser::start(1280, 800).await?;
    let broker = format!("ws://{}/mqtt", aedes.ws);
    b.client
        .goto(&format!("{}?broker={broker}", server.url()))
        .await?;
    wait_state(&b, "connected").await?;
    b.wait_for_text_containing(".status-url", &broker, WAIT)
        .await?;
    b.wait_for_text(
        r##".sub-item[data-filter="#"] .sub-status"##,
        "granted QoS 0",
        WAIT,
    )
    .await?;
    b.publish_until_charted(aedes.tcp, "aedes", "18.5").await?;
    Ok(())
}
