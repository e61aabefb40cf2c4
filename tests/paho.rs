//! paho-mqtt 2.1 for Python (the virtualenv `make test` prepares) through the
//! bridge: 3.1.1 and 5.0 clients exchanging messages with 5.0 properties, and
//! kept sessions receiving what was published while they were away.

use anyhow::{bail, Context, Result};
use e2e::{mosquitto_pub, workspace_root, ChildGuard, TestBridge};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const WAIT: Duration = Duration::from_secs(15);

fn python() -> PathBuf {
    e2e::tools_dir().join("venv/bin/python")
}

/// Starts tests/paho/client.py with `args`; its JSON lines come back in order.
fn paho(args: &[&str]) -> Result<(ChildGuard, Lines<BufReader<ChildStdout>>)> {
    let mut child = ChildGuard::spawn(
        Command::new(python())
            .arg(workspace_root().join("tests/paho/client.py"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .context("starting paho (make test installs it into a virtualenv)")?;
    let stdout = child.0.stdout.take().context("stdout piped")?;
    Ok((child, BufReader::new(stdout).lines()))
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> Result<Value> {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .context("paho printed nothing in time")??
        .context("paho exited early")?;
    Ok(serde_json::from_str(&line)?)
}

/// Reads lines until the `{"event": name}` one.
async fn until_event(lines: &mut Lines<BufReader<ChildStdout>>, name: &str) -> Result<Value> {
    loop {
        let v = next_json(lines).await?;
        if v["event"] == name {
            return Ok(v);
        }
        if v.get("topic").is_some() {
            bail!("a message before {name}: {v}");
        }
    }
}

/// Runs a paho publisher to completion.
async fn paho_publish(args: &[&str]) -> Result<()> {
    let (mut child, mut lines) = paho(args)?;
    until_event(&mut lines, "published").await?;
    let status = tokio::time::timeout(WAIT, child.0.wait())
        .await
        .context("paho publisher hung")??;
    if !status.success() {
        bail!("paho publish {args:?} failed");
    }
    Ok(())
}

#[tokio::test]
async fn paho_311_and_5_exchange_messages_with_5_properties() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let port = bridge.tcp.port().to_string();
    let (_sub, mut got) = paho(&["subscribe", &port, "paho-sub", "5", "1", "2", "paho/#", "2"])?;
    until_event(&mut got, "ready").await?;
    paho_publish(&[
        "publish",
        &port,
        "paho-old",
        "311",
        "paho/a",
        "from 3.1.1",
        "1",
    ])
    .await?;
    paho_publish(&[
        "publish",
        &port,
        "paho-new",
        "5",
        "paho/b",
        "from 5.0",
        "2",
        "site=greenhouse",
        "unit=C",
    ])
    .await?;
    let first = next_json(&mut got).await?;
    assert_eq!(
        (
            first["topic"].as_str(),
            first["payload"].as_str(),
            first["qos"].as_u64()
        ),
        (Some("paho/a"), Some("from 3.1.1"), Some(1))
    );
    let second = next_json(&mut got).await?;
    assert_eq!(
        (second["topic"].as_str(), second["qos"].as_u64()),
        (Some("paho/b"), Some(2))
    );
    assert_eq!(
        second["user"],
        serde_json::json!({"site": "greenhouse", "unit": "C"})
    );
    assert_eq!(second["content_type"], "text/plain");
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn paho_kept_sessions_get_qos1_and_qos2_sent_while_away() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let port = bridge.tcp.port().to_string();
    for version in ["311", "5"] {
        let id = format!("paho-away-{version}");
        let filter = format!("away/{version}/#");
        let (mut away, mut lines) = paho(&["away", &port, &id, version, &filter, "2"])?;
        let connected = until_event(&mut lines, "connected").await?;
        assert_eq!(connected["present"], false, "{version}: a new session");
        until_event(&mut lines, "ready").await?;
        tokio::time::timeout(WAIT, away.0.wait())
            .await
            .context("paho away hung")??;

        let (q1, q2) = (format!("away/{version}/one"), format!("away/{version}/two"));
        mosquitto_pub(bridge.tcp, &["-q", "1", "-t", &q1, "-m", "1"]).await?;
        mosquitto_pub(
            bridge.tcp,
            &["-V", "mqttv5", "-q", "2", "-t", &q2, "-m", "2"],
        )
        .await?;

        let (_back, mut lines) = paho(&["subscribe", &port, &id, version, "0", "2", &filter, "2"])?;
        let connected = until_event(&mut lines, "connected").await?;
        assert_eq!(
            connected["present"], true,
            "{version}: the session was kept"
        );
        let mut topics = Vec::new();
        for _ in 0..2 {
            let v = loop {
                let v = next_json(&mut lines).await?;
                if v.get("topic").is_some() {
                    break v;
                }
            };
            topics.push(v["topic"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(topics, [q1, q2], "{version}");
    }
    bridge.stop().await;
    Ok(())
}
