//! Real third-party MQTT clients (Mosquitto's mosquitto_pub and mosquitto_sub)
//! through the bridge over TCP, in MQTT 3.1 and 3.1.1, at every QoS.

use anyhow::{Context, Result};
use e2e::{eventually, mosquitto_pub, ChildGuard, TestBridge};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(10);

/// Starts `mosquitto_sub -v` on `filter`, waits until the bridge holds its
/// subscription, and returns it with a reader of its output lines.
async fn subscriber(
    bridge: &TestBridge,
    filter: &str,
    extra: &[&str],
) -> Result<(
    ChildGuard,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
)> {
    let before = bridge.router.subscription_count();
    let mut sub = ChildGuard::spawn(
        Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &bridge.tcp.port().to_string(),
                "-v",
                "-t",
                filter,
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )?;
    let stdout = sub.0.stdout.take().context("stdout piped")?;
    eventually(WAIT, "mosquitto_sub to subscribe", || async {
        (bridge.router.subscription_count() > before).then_some(())
    })
    .await?;
    Ok((sub, BufReader::new(stdout).lines()))
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Result<String> {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .context("mosquitto_sub printed nothing in time")??
        .context("mosquitto_sub exited")
}

#[tokio::test]
async fn mosquitto_pub_reaches_mosquitto_sub_through_the_bridge() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let (_sub, mut lines) = subscriber(&bridge, "sensors/+/temperature", &[]).await?;
    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/temperature", "-m", "23.5"]).await?;
    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/moisture", "-m", "40"]).await?;
    mosquitto_pub(
        bridge.tcp,
        &["-t", "sensors/kitchen/temperature", "-m", "19.0"],
    )
    .await?;
    assert_eq!(next_line(&mut lines).await?, "sensors/e2e/temperature 23.5");
    // The moisture reading does not match the filter.
    assert_eq!(
        next_line(&mut lines).await?,
        "sensors/kitchen/temperature 19.0"
    );
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn every_qos_and_mqtt_31_are_accepted() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let (_sub, mut lines) = subscriber(&bridge, "interop/#", &["-V", "mqttv31", "-q", "2"]).await?;
    for (qos, version) in [
        ("0", "mqttv311"),
        ("1", "mqttv311"),
        ("2", "mqttv311"),
        ("1", "mqttv31"),
    ] {
        let payload = format!("qos{qos}-{version}");
        // mosquitto_pub exits 0 only after the full acknowledgement flow.
        mosquitto_pub(
            bridge.tcp,
            &["-t", "interop/q", "-q", qos, "-V", version, "-m", &payload],
        )
        .await?;
        assert_eq!(next_line(&mut lines).await?, format!("interop/q {payload}"));
    }
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn mosquitto_sub_gets_what_mosquitto_pub_retained() -> Result<()> {
    let bridge = TestBridge::start().await?;
    mosquitto_pub(
        bridge.tcp,
        &["-t", "sensors/kitchen/status", "-r", "-m", "online"],
    )
    .await?;
    eventually(WAIT, "the retained message to be stored", || async {
        (bridge.router.retained_count() == 1).then_some(())
    })
    .await?;
    let (_sub, mut lines) = subscriber(&bridge, "sensors/+/status", &[]).await?;
    assert_eq!(
        next_line(&mut lines).await?,
        "sensors/kitchen/status online"
    );
    // -r with an empty message clears it.
    mosquitto_pub(bridge.tcp, &["-t", "sensors/kitchen/status", "-r", "-n"]).await?;
    eventually(WAIT, "the retained message to be cleared", || async {
        (bridge.router.retained_count() == 0).then_some(())
    })
    .await?;
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn mosquitto_sub_with_a_kept_session_gets_what_was_published_while_away() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let kept = ["-c", "-i", "e2e-keeper", "-q", "2", "-V", "mqttv311"];
    let (sub, _) = subscriber(&bridge, "alerts/#", &kept).await?;
    drop(sub); // killed: no DISCONNECT, and the session stays
    eventually(WAIT, "the bridge to see mosquitto_sub gone", || async {
        (bridge.router.connected_count() == 0).then_some(())
    })
    .await?;
    mosquitto_pub(bridge.tcp, &["-q", "1", "-t", "alerts/frost", "-m", "-2.5"]).await?;
    mosquitto_pub(bridge.tcp, &["-q", "2", "-t", "alerts/wind", "-m", "80"]).await?;
    mosquitto_pub(
        bridge.tcp,
        &["-q", "0", "-t", "alerts/info", "-m", "not kept"],
    )
    .await?;

    let mut back = ChildGuard::spawn(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &bridge.tcp.port().to_string()])
            .args(["-v", "-t", "alerts/#", "-C", "2"])
            .args(kept)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )?;
    let mut lines = BufReader::new(back.0.stdout.take().context("stdout piped")?).lines();
    assert_eq!(next_line(&mut lines).await?, "alerts/frost -2.5");
    assert_eq!(next_line(&mut lines).await?, "alerts/wind 80");
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn mqtt5_and_311_mosquitto_clients_talk_and_5_properties_arrive() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let format = ["-V", "mqttv5", "-F", "%t %p %P %C"];
    let (_new, mut new_lines) = subscriber(&bridge, "v5/#", &format).await?;
    let (_old, mut old_lines) = subscriber(&bridge, "v5/#", &["-V", "mqttv311"]).await?;
    mosquitto_pub(
        bridge.tcp,
        &[
            "-V",
            "mqttv5",
            "-q",
            "1",
            "-t",
            "v5/x",
            "-m",
            "hello",
            "-D",
            "publish",
            "user-property",
            "site",
            "greenhouse",
            "-D",
            "publish",
            "content-type",
            "text/plain",
        ],
    )
    .await?;
    assert_eq!(
        next_line(&mut new_lines).await?,
        "v5/x hello site:greenhouse text/plain"
    );
    assert_eq!(next_line(&mut old_lines).await?, "v5/x hello");
    mosquitto_pub(
        bridge.tcp,
        &[
            "-V",
            "mqttv311",
            "-q",
            "2",
            "-t",
            "v5/y",
            "-m",
            "from 3.1.1",
        ],
    )
    .await?;
    assert_eq!(next_line(&mut new_lines).await?, "v5/y from 3.1.1  ");
    assert_eq!(next_line(&mut old_lines).await?, "v5/y from 3.1.1");
    bridge.stop().await;
    Ok(())
}
