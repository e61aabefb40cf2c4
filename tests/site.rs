//! One binary per site: the bridge alone serves the dashboard, MQTT over
//! WebSocket at /mqtt on the same port, /metrics and /healthz.

use anyhow::{Context, Result};
use e2e::browser::WAIT;
use e2e::{eventually, workspace_root, Browser, TestBridge};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A GET over a plain socket: status code and body.
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: site\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").context("a response head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("a status")?
        .parse()?;
    Ok((status, body.to_owned()))
}

/// Parses Prometheus text: every sample line is `name{labels} value`, and
/// every metric has its HELP and TYPE.
fn parse_metrics(text: &str) -> Result<HashMap<String, f64>> {
    let mut samples = HashMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().context("a name")?;
            let kind = parts.next().context("a type")?;
            anyhow::ensure!(["counter", "gauge"].contains(&kind), "{line}");
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').context("name and value")?;
        let base = name.split('{').next().unwrap_or(name);
        anyhow::ensure!(typed.iter().any(|t| t == base), "{base} has no TYPE");
        samples.insert(name.to_owned(), value.parse::<f64>()?);
    }
    Ok(samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_alone_serves_the_dashboard_mqtt_and_metrics() -> Result<()> {
    let bridge = TestBridge::start_configured(|c| {
        c.http = Some("127.0.0.1:0".parse().expect("addr"));
        c.dashboard_dir = workspace_root().join("dist");
    })
    .await?;
    let http = bridge.http.context("an HTTP listener")?;
    assert_eq!(get(http, "/healthz").await?, (200, "ok\n".to_owned()));
    assert_eq!(get(http, "/nothing-here").await?.0, 404);
    let before = parse_metrics(&get(http, "/metrics").await?.1)?;

    // The page from the bridge's port connects to /mqtt on that same port.
    let b = Browser::start(1280, 800).await?;
    b.client.goto(&format!("http://{http}/")).await?;
    eventually(WAIT, "the page to connect", || async {
        (b.link_state().await.as_deref() == Some("connected")).then_some(())
    })
    .await?;
    b.wait_for_text_containing(".status-url", &format!("ws://{http}/mqtt"), WAIT)
        .await?;
    b.publish_until_charted(bridge.tcp, "site", "19.5").await?;

    // The wasm goes gzipped to a client that accepts it, a third of its size.
    let wasm = std::fs::read_dir(workspace_root().join("dist"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .context("a wasm file in dist")?;
    let name = wasm.file_name().and_then(|n| n.to_str()).context("name")?;
    let mut stream = tokio::net::TcpStream::connect(http).await?;
    stream
        .write_all(format!("GET /{name} HTTP/1.1\r\nAccept-Encoding: gzip, br\r\n\r\n").as_bytes())
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("a head")?;
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    let gzipped = response.len() - split - 4;
    let original = std::fs::metadata(&wasm)?.len() as usize;
    assert!(gzipped * 2 < original, "{gzipped} of {original} bytes");

    let after = parse_metrics(&get(http, "/metrics").await?.1)?;
    let moved = |name: &str| after[name] > before[name];
    assert!(moved("bridge_publish_received_total"), "{after:?}");
    assert!(moved("bridge_publish_sent_total"), "the page got it");
    assert!(after["bridge_clients_connected"] >= 1.0);
    assert!(after.contains_key(r#"bridge_limit_hits_total{limit="origins refused"}"#));
    b.close().await?;
    bridge.stop().await;
    Ok(())
}
