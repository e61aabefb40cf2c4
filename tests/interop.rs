//! Real third-party MQTT clients (Mosquitto's mosquitto_pub and mosquitto_sub)
//! through the bridge over TCP, in MQTT 3.1 and 3.1.1, at every QoS.

use anyhow::Result;
use e2e::mosquitto::Mosquitto;
use e2e::{eventually, mosquitto_pub, MosquittoSub, TestBridge};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn mosquitto_pub_reaches_mosquitto_sub_through_the_bridge() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let mut lines = MosquittoSub::start(&bridge, "sensors/+/temperature", &[]).await?;
    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/temperature", "-m", "23.5"]).await?;
    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/moisture", "-m", "40"]).await?;
    mosquitto_pub(
        bridge.tcp,
        &["-t", "sensors/kitchen/temperature", "-m", "19.0"],
    )
    .await?;
    assert_eq!(lines.next_line().await?, "sensors/e2e/temperature 23.5");
    // The moisture reading does not match the filter.
    assert_eq!(lines.next_line().await?, "sensors/kitchen/temperature 19.0");
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn every_qos_and_mqtt_31_are_accepted() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let mut lines =
        MosquittoSub::start(&bridge, "interop/#", &["-V", "mqttv31", "-q", "2"]).await?;
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
        assert_eq!(lines.next_line().await?, format!("interop/q {payload}"));
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
    let mut lines = MosquittoSub::start(&bridge, "sensors/+/status", &[]).await?;
    assert_eq!(lines.next_line().await?, "sensors/kitchen/status online");
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
    let sub = MosquittoSub::start(&bridge, "alerts/#", &kept).await?;
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

    // Resuming the kept session: the bridge already holds the subscription.
    let mut lines = MosquittoSub::spawn(&bridge, "alerts/#", &[&kept[..], &["-C", "2"]].concat())?;
    assert_eq!(lines.next_line().await?, "alerts/frost -2.5");
    assert_eq!(lines.next_line().await?, "alerts/wind 80");
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn mqtt5_and_311_mosquitto_clients_talk_and_5_properties_arrive() -> Result<()> {
    let bridge = TestBridge::start().await?;
    let format = ["-V", "mqttv5", "-F", "%t %p %P %C"];
    let mut new_lines = MosquittoSub::start(&bridge, "v5/#", &format).await?;
    let mut old_lines = MosquittoSub::start(&bridge, "v5/#", &["-V", "mqttv311"]).await?;
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
        new_lines.next_line().await?,
        "v5/x hello site:greenhouse text/plain"
    );
    assert_eq!(old_lines.next_line().await?, "v5/x hello");
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
    assert_eq!(new_lines.next_line().await?, "v5/y from 3.1.1  ");
    assert_eq!(old_lines.next_line().await?, "v5/y from 3.1.1");
    bridge.stop().await;
    Ok(())
}

#[tokio::test]
async fn password_files_work_both_ways_between_the_bridge_and_mosquitto() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("e2e-passwords-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Written by mosquitto_passwd, read by the bridge.
    let theirs = dir.join("mosquitto-passwords");
    let status = tokio::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&theirs)
        .args(["alice", "s3cret"])
        .status()
        .await?;
    assert!(status.success());
    let file = theirs.clone();
    let bridge = TestBridge::start_configured(move |c| c.auth.password_file = Some(file)).await?;
    let mut lines = MosquittoSub::start(&bridge, "t", &["-u", "alice", "-P", "s3cret"]).await?;
    mosquitto_pub(
        bridge.tcp,
        &["-u", "alice", "-P", "s3cret", "-t", "t", "-m", "in"],
    )
    .await?;
    assert_eq!(lines.next_line().await?, "t in");
    for refused in [&["-u", "alice", "-P", "wrong"][..], &[][..]] {
        let args = [refused, &["-t", "t", "-m", "x"][..]].concat();
        let e = mosquitto_pub(bridge.tcp, &args).await.expect_err("refused");
        assert!(
            e.to_string().contains("not authorised") || e.to_string().contains("refused"),
            "{e}"
        );
    }
    bridge.stop().await;

    // Written by the bridge (as `bridge passwd` does), read by Mosquitto.
    let ours = dir.join("bridge-passwords");
    let mut users = bridge::auth::password::PasswordFile::default();
    users.set("bob", "battery staple")?;
    users.save(&ours)?;
    let mosquitto = Mosquitto::start_with_password_file(&ours).await?;
    mosquitto_pub(
        mosquitto.tcp,
        &["-u", "bob", "-P", "battery staple", "-t", "t", "-m", "x"],
    )
    .await?;
    let wrong = mosquitto_pub(
        mosquitto.tcp,
        &["-u", "bob", "-P", "battery", "-t", "t", "-m", "x"],
    )
    .await;
    assert!(
        wrong.is_err(),
        "Mosquitto checks our hash, not just its format"
    );
    drop(mosquitto);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
