//! Upstream bridging against a real Mosquitto started by the test: topics
//! cross both ways under remapped prefixes, nothing loops, and QoS 1
//! messages published while the upstream is down (or across a bridge
//! restart) all arrive, in order, once.

use anyhow::{Context, Result};
use bridge::upstream::rules::UpstreamConfig;
use e2e::mosquitto::PlainMosquitto;
use e2e::{eventually, mosquitto_pub, ChildGuard, MosquittoSub, TestBridge};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(15);

fn link(upstream: SocketAddr, version: u8) -> UpstreamConfig {
    toml::from_str(&format!(
        r#"
        name = "cloud"
        address = "mqtt://{upstream}"
        client_id = "site-a"
        version = {version}
        [[topics]]
        pattern = "sensors/#"
        direction = "out"
        qos = 1
        remote_prefix = "site-a/"
        [[topics]]
        pattern = "cmd/#"
        direction = "in"
        qos = 1
        remote_prefix = "site-a/"
        [[topics]]
        pattern = "shared/#"
        direction = "both"
        qos = 1
        remote_prefix = "site-a/"
        "#
    ))
    .expect("a link")
}

async fn bridge_to(
    upstream: SocketAddr,
    version: u8,
    data_dir: Option<PathBuf>,
) -> Result<TestBridge> {
    TestBridge::start_configured(move |c| {
        c.upstreams = vec![link(upstream, version)];
        c.data_dir = data_dir;
        c.sys_interval = Duration::from_secs(1);
    })
    .await
}

/// `mosquitto_sub` on Mosquitto with a kept session (QoS 1), printing
/// `topic payload` lines; stopped when dropped.
fn upstream_sub(
    upstream: SocketAddr,
    filter: &str,
) -> Result<(
    ChildGuard,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
)> {
    let mut child = ChildGuard::spawn(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &upstream.port().to_string()])
            .args(["-i", "counter", "-c", "-q", "1", "-v", "-t", filter])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )?;
    let out = child.0.stdout.take().context("stdout")?;
    Ok((child, BufReader::new(out).lines()))
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Result<String> {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .context("a line in time")??
        .context("mosquitto_sub ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_cross_both_ways_remapped_without_loops_311() -> Result<()> {
    topics_cross(4).await
}

/// 5.0: the link subscribes upstream with No Local.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_cross_both_ways_remapped_without_loops_5() -> Result<()> {
    topics_cross(5).await
}

async fn topics_cross(version: u8) -> Result<()> {
    let mosquitto = PlainMosquitto::start().await?;
    let (_sub_guard, mut upstream_lines) = upstream_sub(mosquitto.tcp, "site-a/#")?;
    let bridge = bridge_to(mosquitto.tcp, version, None).await?;
    let mut state = MosquittoSub::start(&bridge, "$SYS/broker/bridge/cloud/state", &[]).await?;
    tokio::time::timeout(WAIT, async {
        while state.next_line().await? != "$SYS/broker/bridge/cloud/state connected" {}
        anyhow::Ok(())
    })
    .await
    .context("the link's state to say connected")??;
    let mut local = MosquittoSub::start(&bridge, "#", &["-q", "1"]).await?;

    // Out: a device's reading appears upstream under the site's prefix.
    eventually(WAIT, "the link to come up", || async {
        mosquitto_pub(
            bridge.tcp,
            &["-q", "1", "-t", "sensors/g1/temperature", "-m", "21.5"],
        )
        .await
        .ok()?;
        Some(())
    })
    .await?;
    assert_eq!(
        next_line(&mut upstream_lines).await?,
        "site-a/sensors/g1/temperature 21.5"
    );
    assert_eq!(local.next_line().await?, "sensors/g1/temperature 21.5");

    // In: a command published upstream reaches a subscriber here.
    mosquitto_pub(
        mosquitto.tcp,
        &["-q", "1", "-t", "site-a/cmd/pump", "-m", "on"],
    )
    .await?;
    assert_eq!(local.next_line().await?, "cmd/pump on");
    assert_eq!(next_line(&mut upstream_lines).await?, "site-a/cmd/pump on");

    // Both: each side sees the other's message once; nothing comes back.
    mosquitto_pub(
        bridge.tcp,
        &["-q", "1", "-t", "shared/note", "-m", "from-site"],
    )
    .await?;
    mosquitto_pub(
        mosquitto.tcp,
        &["-q", "1", "-t", "site-a/shared/note", "-m", "from-cloud"],
    )
    .await?;
    let mut here = vec![local.next_line().await?, local.next_line().await?];
    here.sort();
    assert_eq!(here, ["shared/note from-cloud", "shared/note from-site"]);
    let mut there = vec![
        next_line(&mut upstream_lines).await?,
        next_line(&mut upstream_lines).await?,
    ];
    there.sort();
    assert_eq!(
        there,
        [
            "site-a/shared/note from-cloud",
            "site-a/shared/note from-site"
        ]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(800), local.next_line())
            .await
            .is_err(),
        "no echo on the site"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(800), upstream_lines.next_line())
            .await
            .is_err(),
        "no echo upstream"
    );
    bridge.stop().await;
    Ok(())
}

/// Publishes `sensors/n/<i>` = i at QoS 1 on the bridge for each i.
async fn publish_numbered(bridge: &TestBridge, range: std::ops::Range<u32>) -> Result<()> {
    for i in range {
        mosquitto_pub(
            bridge.tcp,
            &[
                "-q",
                "1",
                "-t",
                &format!("sensors/n/{i}"),
                "-m",
                &i.to_string(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Reads `count` lines and checks they are 0..count in order, then that no
/// other line follows.
async fn expect_numbered(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    count: u32,
) -> Result<()> {
    for i in 0..count {
        assert_eq!(
            next_line(lines).await?,
            format!("site-a/sensors/n/{i} {i}"),
            "message {i}"
        );
    }
    let extra = tokio::time::timeout(Duration::from_secs(1), lines.next_line()).await;
    assert!(extra.is_err(), "a message arrived twice: {extra:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_published_while_upstream_is_down_arrive_in_order_once() -> Result<()> {
    let mut mosquitto = PlainMosquitto::start().await?;
    // The counting subscriber's kept session is saved with Mosquitto's state.
    let (guard, lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/n/#")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop((guard, lines));
    let bridge = bridge_to(mosquitto.tcp, 4, None).await?;
    eventually(WAIT, "the link to come up", || async {
        bridge.router.session_count().checked_sub(1)?; // its own session at least
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some(())
    })
    .await?;
    publish_numbered(&bridge, 0..10).await?;
    mosquitto.stop().await?;
    publish_numbered(&bridge, 10..30).await?;
    mosquitto.restart().await?;
    publish_numbered(&bridge, 30..40).await?;
    let (_guard, mut lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/n/#")?;
    expect_numbered(&mut lines, 40).await?;
    bridge.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_restarted_while_upstream_is_down_still_delivers_its_queue() -> Result<()> {
    let mut mosquitto = PlainMosquitto::start().await?;
    let (guard, lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/n/#")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop((guard, lines));
    mosquitto.stop().await?;
    let data = std::env::temp_dir().join(format!("e2e-upstream-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let bridge = bridge_to(mosquitto.tcp, 5, Some(data.clone())).await?;
    publish_numbered(&bridge, 0..15).await?;
    bridge.stop().await;

    let bridge = bridge_to(mosquitto.tcp, 5, Some(data.clone())).await?;
    mosquitto.restart().await?;
    let (_guard, mut lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/n/#")?;
    expect_numbered(&mut lines, 15).await?;
    bridge.stop().await;
    std::fs::remove_dir_all(&data).ok();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_upstream_is_down_only_qos_1_waits_so_readings_cannot_crowd_it_out() -> Result<()> {
    let mut mosquitto = PlainMosquitto::start().await?;
    let (guard, lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/#")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop((guard, lines));
    mosquitto.stop().await?;
    let upstream = mosquitto.tcp;
    let bridge = TestBridge::start_configured(move |c| {
        c.upstreams = vec![link(upstream, 4)];
        c.outbound_queue = 5;
    })
    .await?;
    for i in 0..10 {
        mosquitto_pub(bridge.tcp, &["-t", &format!("sensors/r/{i}"), "-m", "qos0"]).await?;
    }
    publish_numbered(&bridge, 0..3).await?;
    mosquitto.restart().await?;
    let (_guard, mut lines) = upstream_sub(mosquitto.tcp, "site-a/sensors/#")?;
    expect_numbered(&mut lines, 3).await?;
    bridge.stop().await;
    Ok(())
}
