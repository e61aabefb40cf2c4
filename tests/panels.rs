//! Each dashboard panel in headless Chromium against the bridge, driven as a
//! person would: typing, clicking, reading what the page shows, and checking
//! the other side with real MQTT clients.

use anyhow::{Context, Result};
use e2e::browser::WAIT;
use e2e::{eventually, mosquitto_pub, ChildGuard, Dashboard, MosquittoSub, ProxyMode, TestBridge};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

async fn open() -> Result<Dashboard> {
    Dashboard::open(ProxyMode::Transparent, 1280, 900).await
}

/// Topics of the tree rows on the page, top to bottom.
async fn tree_rows(d: &Dashboard) -> Result<Vec<String>> {
    let rows = d
        .browser
        .execute("return [...document.querySelectorAll('.tree-row')].map(r => r.dataset.topic)")
        .await?;
    Ok(serde_json::from_value(rows)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_tree_shows_topics_and_subscribes_by_click() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/pump/state", "-r", "-m", "on"]).await?;
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/valve", "-m", "closed"]).await?;

    // Collapsed at first: open plant, then plant/pump.
    b.wait_for(r#".tree-row[data-topic="plant"]"#, WAIT).await?;
    assert_eq!(tree_rows(&d).await?, ["plant"]);
    b.click(r#".tree-row[data-topic="plant"] .tree-name"#)
        .await?;
    b.click(r#".tree-row[data-topic="plant/pump"] .tree-name"#)
        .await?;
    b.wait_for_text(
        r#".tree-row[data-topic="plant/pump/state"] .tree-value"#,
        "on",
        WAIT,
    )
    .await?;
    assert_eq!(
        tree_rows(&d).await?,
        ["plant", "plant/pump", "plant/pump/state", "plant/valve"]
    );
    // Delivered live to a subscriber, a retained message is not marked.
    assert!(
        b.text(r#".tree-row[data-topic="plant/pump/state"] .badge.retained"#)
            .await
            .is_none(),
        "the live copy has no retained flag"
    );
    let summary = b.text(".tree-summary").await.unwrap_or_default();
    assert_eq!(summary, "2 topics · 2 messages");

    // Search narrows to matches and their ancestors.
    b.type_into(".tree-search", "VALVE").await?;
    eventually(WAIT, "the search to narrow the tree", || async {
        (tree_rows(&d).await.ok()? == ["plant", "plant/valve"]).then_some(())
    })
    .await?;
    b.type_into(".tree-search", "").await?;

    // The keyboard: left closes plant/pump, right opens it, up moves to plant.
    b.execute(r#"document.querySelector('.tree-row[data-topic="plant/pump"] .tree-name').focus()"#)
        .await?;
    const LEFT: &str = "\u{E012}";
    const UP: &str = "\u{E013}";
    const RIGHT: &str = "\u{E014}";
    let focused_row = "return document.activeElement.closest('.tree-row').dataset.topic";
    b.press(r#".tree-row[data-topic="plant/pump"] .tree-name"#, LEFT)
        .await?;
    eventually(WAIT, "plant/pump to close", || async {
        (tree_rows(&d).await.ok()? == ["plant", "plant/pump", "plant/valve"]).then_some(())
    })
    .await?;
    b.press(r#".tree-row[data-topic="plant/pump"] .tree-name"#, RIGHT)
        .await?;
    eventually(WAIT, "plant/pump to open", || async {
        (tree_rows(&d).await.ok()?.len() == 4).then_some(())
    })
    .await?;
    b.press(r#".tree-row[data-topic="plant/pump"] .tree-name"#, UP)
        .await?;
    assert_eq!(b.execute(focused_row).await?, "plant");

    // Subscribe to a subtree from the tree, then drop `#`.
    b.click(r#".tree-row[data-topic="plant/pump"] [data-action="subscribe-subtree"]"#)
        .await?;
    b.wait_for_text(
        r#".sub-item[data-filter="plant/pump/#"] .sub-status"#,
        "granted QoS 0",
        WAIT,
    )
    .await?;
    assert_eq!(d.bridge.router.subscription_count(), 3);
    // The new subscription brings the stored copy, flagged retained.
    b.wait_for(
        r#".tree-row[data-topic="plant/pump/state"] .badge.retained"#,
        WAIT,
    )
    .await?;
    assert!(
        b.text(r#".tree-row[data-topic="plant/valve"] .badge.retained"#)
            .await
            .is_none(),
        "plant/valve had no retained message"
    );
    b.click(r##".sub-item[data-filter="#"] button"##).await?;
    eventually(WAIT, "the bridge to drop the # subscription", || async {
        (d.bridge.router.subscription_count() == 2).then_some(())
    })
    .await?;
    assert!(b.text(r##".sub-item[data-filter="#"]"##).await.is_none());

    // Now only plant/pump/# (and $SYS/#) reach the page.
    mosquitto_pub(d.bridge.tcp, &["-t", "other/topic", "-m", "x"]).await?;
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/pump/state", "-m", "off"]).await?;
    b.wait_for_text(
        r#".tree-row[data-topic="plant/pump/state"] .tree-value"#,
        "off",
        WAIT,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !tree_rows(&d).await?.iter().any(|t| t == "other"),
        "an unsubscribed topic does not arrive"
    );
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_illegal_filter_is_refused_with_a_reason() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    b.type_into(".sub-filter", "sensors/#/x").await?;
    let problem = b
        .wait_for_text_containing("#sub-problem", "last", WAIT)
        .await?;
    assert!(
        problem.contains("sensors/#"),
        "explains the rule: {problem}"
    );
    let invalid = b
        .execute("return document.querySelector('.sub-filter').getAttribute('aria-invalid')")
        .await?;
    assert_eq!(invalid, "true");
    b.click(".sub-form button[type=submit]").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.texts(".sub-name").await?, ["#", "$SYS/#"]);
    assert_eq!(d.bridge.router.subscription_count(), 2);

    // Fixed, with QoS 1: the broker grants it and the form empties.
    b.type_into(".sub-filter", "sensors/+/temperature").await?;
    assert_eq!(b.text("#sub-problem").await.as_deref(), Some(""));
    b.select(".sub-qos", "1").await?;
    b.click(".sub-form button[type=submit]").await?;
    b.wait_for_text(
        r#".sub-item[data-filter="sensors/+/temperature"] .sub-status"#,
        "granted QoS 1",
        WAIT,
    )
    .await?;
    assert_eq!(d.bridge.router.subscription_count(), 3);
    let field = b
        .execute("return document.querySelector('.sub-filter').value")
        .await?;
    assert_eq!(field, "");
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_log_filters_shows_payloads_and_exports() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    let messages: [(&str, &str); 4] = [
        ("sensors/a/temperature", "21.5"),
        (
            "sensors/b/temperature",
            r#"{"level":"error","machine":"Press-4"}"#,
        ),
        ("sensors/a/moisture", "40"),
        ("alerts/note", r#"a, "quoted" note"#),
    ];
    for (topic, payload) in messages {
        mosquitto_pub(d.bridge.tcp, &["-t", topic, "-m", payload]).await?;
    }
    b.wait_for_text(".log-count", "4 messages", WAIT).await?;
    // Live QoS 0 messages: no retained or DUP marker is shown.
    let markers = b
        .execute(
            "return [...document.querySelectorAll('.log-row .badge')]
               .filter(e => getComputedStyle(e).display !== 'none')
               .map(e => e.textContent)",
        )
        .await?;
    assert_eq!(markers, serde_json::json!(["Q0", "Q0", "Q0", "Q0"]));

    b.type_into(".log-topic-filter", "sensors/+/temperature")
        .await?;
    b.wait_for_text(".log-count", "2 of 4 messages", WAIT)
        .await?;
    assert_eq!(
        b.texts(".log-row .log-topic").await?,
        ["sensors/a/temperature", "sensors/b/temperature"]
    );
    b.type_into(".log-text-filter", "press-4").await?;
    b.wait_for_text(".log-count", "1 of 4 messages", WAIT)
        .await?;

    // The one left, as pretty JSON.
    b.click(".log-row").await?;
    b.wait_for_text(".detail-topic", "sensors/b/temperature", WAIT)
        .await?;
    b.click(".log-detail .tab:nth-child(2)").await?;
    b.wait_for_text_containing(".detail-payload", "\"machine\": \"Press-4\"", WAIT)
        .await?;
    b.click(".log-detail .tab:nth-child(3)").await?;
    b.wait_for_text_containing(".detail-payload", "7b 22 6c 65", WAIT)
        .await?;

    // Export what the filters let through, then everything.
    b.execute(
        "window.__exports = []; const make = URL.createObjectURL;
         URL.createObjectURL = blob => { window.__exports.push(blob); return make(blob); };",
    )
    .await?;
    b.click(".log-export-csv").await?;
    b.type_into(".log-topic-filter", "").await?;
    b.type_into(".log-text-filter", "").await?;
    b.wait_for_text(".log-count", "4 messages", WAIT).await?;
    b.click(".log-export-csv").await?;
    b.click(".log-export-json").await?;
    let exports = b
        .execute("return Promise.all(window.__exports.map(b => b.text()))")
        .await?;
    let exports: Vec<String> = serde_json::from_value(exports)?;
    assert_eq!(exports.len(), 3);
    let filtered: Vec<&str> = exports[0].split_terminator("\r\n").collect();
    assert_eq!(filtered.len(), 2, "header and one row: {filtered:?}");
    assert!(filtered[1].ends_with(r#"utf-8,"{""level"":""error"",""machine"":""Press-4""}""#));
    let all: Vec<&str> = exports[1].split_terminator("\r\n").collect();
    assert_eq!(all[0], "time,topic,qos,retain,dup,encoding,payload");
    assert_eq!(all.len(), 5, "one row per message: {all:?}");
    assert!(all[4].contains(r#",alerts/note,0,false,false,utf-8,"a, ""quoted"" note""#));
    let json: serde_json::Value = serde_json::from_str(&exports[2])?;
    let items = json.as_array().context("a JSON array")?;
    assert_eq!(items.len(), 4);
    assert_eq!(items[3]["payload"], r#"a, "quoted" note"#);

    // The keyboard moves through the messages: End, ArrowUp, Home.
    const END: &str = "\u{E010}";
    const HOME: &str = "\u{E011}";
    const UP: &str = "\u{E013}";
    b.press(".log-viewport", END).await?;
    b.wait_for_text(".detail-topic", "alerts/note", WAIT)
        .await?;
    b.press(".log-viewport", UP).await?;
    b.wait_for_text(".detail-topic", "sensors/a/moisture", WAIT)
        .await?;
    b.press(".log-viewport", HOME).await?;
    b.wait_for_text(".detail-topic", "sensors/a/temperature", WAIT)
        .await?;

    // Pause counts instead of logging; clear empties.
    b.click(".log-pause").await?;
    mosquitto_pub(d.bridge.tcp, &["-t", "sensors/a/moisture", "-m", "41"]).await?;
    b.wait_for_text(".log-count", "4 messages · 1 arrived while paused", WAIT)
        .await?;
    b.click(".log-pause").await?;
    b.click(".log-clear").await?;
    b.wait_for_text(".log-count", "0 messages", WAIT).await?;
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_panel_reaches_mosquitto_sub_and_shows_the_acknowledgement() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    let mut sub = MosquittoSub::start(&d.bridge, "sensors/+/cmd", &[]).await?;

    b.type_into(".publish-topic", "sensors/+/cmd").await?;
    b.wait_for_text_containing(".publish-topic-problem", "subscribing only", WAIT)
        .await?;
    b.type_into(".publish-topic", "sensors/greenhouse-1/cmd")
        .await?;
    b.click(r#".publish-format [role="radio"]:nth-child(2)"#)
        .await?;
    b.type_into(".publish-payload", r#"{"pump":"#).await?;
    b.wait_for_text_containing(".publish-payload-problem", "Not valid JSON", WAIT)
        .await?;
    let disabled = b
        .execute("return document.querySelector('.publish-form [type=submit]').disabled")
        .await?;
    assert_eq!(disabled, true, "invalid JSON cannot be sent");

    b.type_into(".publish-payload", r#"{"pump":"on"}"#).await?;
    b.select(".publish-qos", "1").await?;
    b.click(".publish-form [type=submit]").await?;
    assert_eq!(
        sub.next_line().await?,
        r#"sensors/greenhouse-1/cmd {"pump":"on"}"#
    );
    b.wait_for_text_containing(".sent-item .sent-meta", "acknowledged in", WAIT)
        .await?;

    b.click(".sent-item .button").await?;
    assert_eq!(
        sub.next_line().await?,
        r#"sensors/greenhouse-1/cmd {"pump":"on"}"#
    );
    eventually(WAIT, "two sent messages listed", || async {
        (b.texts(".sent-item").await.ok()?.len() == 2).then_some(())
    })
    .await?;
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_preset_reaches_the_device_and_its_acknowledgement_is_shown() -> Result<()> {
    let bridge = TestBridge::start_demo().await?;
    let d = Dashboard::open_on(bridge, ProxyMode::Transparent, 1280, 900).await?;
    let b = &d.browser;
    let mut sub = MosquittoSub::start(&d.bridge, "sensors/greenhouse-1/cmd", &[]).await?;
    let pump = r#"[aria-label="Controls of greenhouse-1"] .control-pump"#;
    // The device's retained report says the pump is off.
    b.wait_for_text(pump, "Pump off", WAIT).await?;
    b.click(pump).await?;
    let line = sub.next_line().await?;
    assert!(
        line.starts_with(r#"sensors/greenhouse-1/cmd {"pump":"on","id":""#),
        "{line}"
    );
    let outcome = b
        .wait_for_text_containing(
            r#"[data-command-of="greenhouse-1"]"#,
            "acknowledged in",
            WAIT,
        )
        .await?;
    assert!(
        outcome.starts_with("Pump on · acknowledged in "),
        "{outcome}"
    );
    b.wait_for_text(pump, "Pump on", WAIT).await?;
    let pressed = b
        .execute(&format!(
            "return document.querySelector('{}').getAttribute('aria-pressed')",
            pump.replace('\'', "\\'")
        ))
        .await?;
    assert_eq!(pressed, "true");

    // The interval preset goes out too.
    b.select(
        r#"[aria-label="Controls of greenhouse-1"] .control-interval"#,
        "2000",
    )
    .await?;
    let line = sub.next_line().await?;
    assert!(line.contains(r#""interval_ms":2000"#), "{line}");
    b.wait_for_text_containing(
        r#"[data-command-of="greenhouse-1"]"#,
        "Every 2 s · acknowledged in",
        WAIT,
    )
    .await?;
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_goes_offline_by_its_last_will_and_comes_back() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    let port = d.bridge.tcp.port().to_string();
    // A device: a client holding a Will that marks it offline.
    let device = ChildGuard::spawn(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port, "-i", "lwt-dev"])
            .args(["-t", "sensors/lwt-dev/cmd", "-k", "5"])
            .args(["--will-topic", "sensors/lwt-dev/status"])
            .args(["--will-payload", "offline", "--will-retain"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    eventually(WAIT, "the device to connect", || async {
        (d.bridge.router.connected_count() >= 2).then_some(())
    })
    .await?;
    let online = ["-t", "sensors/lwt-dev/status", "-r", "-m", "online"];
    mosquitto_pub(d.bridge.tcp, &online).await?;
    let presence = r#"[data-presence-of="lwt-dev"]"#;
    b.wait_for_text(presence, "ONLINE", WAIT).await?;

    drop(device); // killed: no DISCONNECT, so the bridge publishes the Will
    b.wait_for_text(presence, "OFFLINE", WAIT).await?;
    let disabled = b
        .execute(
            r#"return document.querySelector('[aria-label="Controls of lwt-dev"] .control-pump').disabled"#,
        )
        .await?;
    assert_eq!(disabled, true, "an offline device's controls are off");

    mosquitto_pub(d.bridge.tcp, &online).await?;
    b.wait_for_text(presence, "ONLINE", WAIT).await?;
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_field_is_charted_with_stats_crosshair_windows_and_pause() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    for temp in ["20", "22", "24"] {
        let payload = format!(r#"{{"data":{{"temp":{temp}}},"id":"x"}}"#);
        mosquitto_pub(d.bridge.tcp, &["-t", "lab/env", "-m", &payload]).await?;
    }
    b.wait_for_text(".log-count", "3 messages", WAIT).await?;

    // From the message's detail: its one numeric field, charted in a click.
    b.click(".log-row").await?;
    b.wait_for_text(".chart-this", "Chart data.temp", WAIT)
        .await?;
    b.click(".chart-this").await?;
    let legend = r#"[data-chart="custom-1"] .legend"#;
    // It starts from the messages the log holds.
    b.wait_for_text_containing(legend, "min 20 · max 24 · mean 22", WAIT)
        .await?;
    for temp in ["21", "25", "23"] {
        let payload = format!(r#"{{"data":{{"temp":{temp}}}}}"#);
        mosquitto_pub(d.bridge.tcp, &["-t", "lab/env", "-m", &payload]).await?;
    }
    let text = b
        .wait_for_text_containing(legend, "min 20 · max 25 · mean 22.5", WAIT)
        .await?;
    assert!(text.contains("lab/env\n23"), "latest value: {text}");
    let drawn = eventually(WAIT, "the line to be drawn", || async {
        b.series_pixels("custom-1", (0, 114, 178))
            .await
            .ok()
            .filter(|&n| n > 20)
    })
    .await?;
    assert!(drawn > 20);

    // The crosshair at the right edge reads the latest value (once the
    // readings are older than the few hundred ms that edge stands for).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.execute(
        r#"const c = document.querySelector('[data-chart="custom-1"] canvas');
           const r = c.getBoundingClientRect();
           c.dispatchEvent(new MouseEvent('mousemove',
             { bubbles: true, clientX: r.right - 18, clientY: r.top + r.height / 2 }));"#,
    )
    .await?;
    let tip = b
        .wait_for_text_containing(r#"[data-chart="custom-1"] .chart-tooltip"#, "lab/env", WAIT)
        .await?;
    assert!(tip.ends_with("lab/env\n23"), "tooltip: {tip}");

    // Windows and pause.
    b.click(r#"[data-chart="custom-1"] [data-window="10 min"]"#)
        .await?;
    let checked = b
        .execute(
            r#"return document.querySelector('[data-chart="custom-1"] [data-window="10 min"]').getAttribute('aria-checked')"#,
        )
        .await?;
    assert_eq!(checked, "true");
    b.click(r#"[data-chart="custom-1"] .chart-pause"#).await?;
    b.wait_for_text(r#"[data-chart="custom-1"] .chart-pause"#, "Resume", WAIT)
        .await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    mosquitto_pub(
        d.bridge.tcp,
        &["-t", "lab/env", "-m", r#"{"data":{"temp":40}}"#],
    )
    .await?;
    b.wait_for_text(".log-count", "7 messages", WAIT).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused = b.text(legend).await.unwrap_or_default();
    assert!(
        paused.contains("max 25"),
        "paused chart ignores new data: {paused}"
    );
    b.click(r#"[data-chart="custom-1"] .chart-pause"#).await?;
    b.wait_for_text_containing(legend, "max 40", WAIT).await?;

    // The form charts a filter: one line per matching topic.
    b.type_into(".chart-filter", "plant/+/flow").await?;
    b.type_into(".chart-unit", "l/min").await?;
    b.click(".chart-form [type=submit]").await?;
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/a/flow", "-m", "3.5"]).await?;
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/b/flow", "-m", "4"]).await?;
    let text = b
        .wait_for_text_containing(r#"[data-chart="custom-2"] .legend"#, "plant/b/flow", WAIT)
        .await?;
    assert!(text.contains("plant/a/flow\n3.5 l/min"), "{text}");
    // One precision per line: a whole reading next to 3.5 reads 3.0.
    mosquitto_pub(d.bridge.tcp, &["-t", "plant/a/flow", "-m", "3"]).await?;
    let text = b
        .wait_for_text_containing(
            r#"[data-chart="custom-2"] .legend"#,
            "plant/a/flow\n3.0 l/min\nmin 3.0 · max 3.5 · mean 3.25",
            WAIT,
        )
        .await?;
    assert!(text.contains("plant/b/flow\n4 l/min"), "{text}");
    b.type_into(".chart-filter", "plant/#/x").await?;
    b.click(".chart-form [type=submit]").await?;
    b.wait_for_text_containing(".chart-problem", "wildcard", WAIT)
        .await?;

    b.click(r#"[data-chart="custom-2"] .chart-remove"#).await?;
    eventually(WAIT, "the chart to go", || async {
        b.text(r#"[data-chart="custom-2"]"#)
            .await
            .is_none()
            .then_some(())
    })
    .await?;

    // Saved with the profile: after a reload the chart that stayed is back
    // (the removed one is not), and it charts new readings.
    b.client.refresh().await?;
    b.wait_for_text_containing(r#"[data-chart="custom-1"] h2"#, "lab/env → data.temp", WAIT)
        .await?;
    assert!(b.text(r#"[data-chart="custom-2"]"#).await.is_none());
    d.wait_connected().await?;
    eventually(WAIT, "a reading after the reload", || async {
        mosquitto_pub(
            d.bridge.tcp,
            &["-t", "lab/env", "-m", r#"{"data":{"temp":30}}"#],
        )
        .await
        .ok()?;
        b.text(legend).await.filter(|t| t.contains("max 30"))
    })
    .await?;
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_statistics_from_sys_and_a_remembered_dark_theme() -> Result<()> {
    let bridge = TestBridge::start_configured(|c| c.sys_interval = Duration::from_secs(1)).await?;
    let d = Dashboard::open_on(bridge, ProxyMode::Transparent, 1280, 900).await?;
    let b = &d.browser;
    let stat = |topic: &str| format!(r#"[data-stat="$SYS/broker/{topic}"] dd"#);
    b.wait_for_text_containing(&stat("version"), "bridge ", WAIT)
        .await?;
    b.wait_for_text(&stat("clients/connected"), "1", WAIT)
        .await?;
    let uptime = b
        .wait_for_text_containing(&stat("uptime"), " s", WAIT)
        .await?;
    assert!(!uptime.contains("seconds"), "uptime in words: {uptime}");

    // Follows the system (light here), then light, then dark.
    let background = "return getComputedStyle(document.documentElement).backgroundColor";
    assert_eq!(b.execute(background).await?, "rgb(243, 245, 248)");
    b.click(".theme-toggle").await?;
    b.click(".theme-toggle").await?;
    let theme = "return document.documentElement.dataset.theme";
    assert_eq!(b.execute(theme).await?, "dark");
    assert_eq!(b.execute(background).await?, "rgb(15, 19, 26)");
    // The charts redraw on the dark surface.
    let corner = r#"const c = document.querySelector('[data-chart="temperature"] canvas');
        return Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data.slice(0, 3));"#;
    eventually(WAIT, "the chart to turn dark", || async {
        (b.execute(corner).await.ok()? == serde_json::json!([24, 29, 39])).then_some(())
    })
    .await?;
    b.client.refresh().await?;
    d.wait_connected().await?;
    assert_eq!(b.execute(theme).await?, "dark", "remembered");
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_tab_keeps_its_connection_beyond_the_keepalive() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    // A 2 s keepalive: the bridge drops a client silent for 3 s.
    b.click("button.status").await?;
    b.type_into(".conn-keepalive", "2").await?;
    b.click(".conn-connect").await?;
    d.wait_connected().await?;
    d.wait_subscribed().await?;
    assert_eq!(d.bridge.router.connected_count(), 1);

    // Headless Chromium does not throttle hidden tabs, so the page's timers
    // are throttled here as Chrome does after five hidden minutes: at most
    // once a minute. Only the keepalive's worker timer is unaffected.
    b.execute(
        "for (const name of ['setTimeout', 'setInterval']) {
           const original = window[name].bind(window);
           window[name] = (f, ms, ...args) =>
             original(f, document.hidden ? Math.max(ms || 0, 60000) : ms, ...args);
         }",
    )
    .await?;
    let dashboard_tab = b.client.window().await?;
    let other = b.client.new_window(true).await?;
    b.client.switch_to_window(other.handle).await?;

    // Hidden for four keepalive periods; sampled often enough to see a drop
    // (a reconnect waits at least 400 ms).
    let until = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < until {
        assert_eq!(
            d.bridge.router.connected_count(),
            1,
            "the hidden dashboard lost its connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client.switch_to_window(dashboard_tab).await?;
    let hidden = b.execute("return document.visibilityState").await?;
    assert_eq!(hidden, "visible");
    assert_eq!(b.link_state().await.as_deref(), Some("connected"));
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_flag_count_alert_notify_and_are_saved_with_the_profile() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    // The browser's notification UI cannot be clicked headless: stand in a
    // Notification that records what the page shows, permission granted.
    b.execute(
        "window.__notes = [];
         window.Notification = class {
           static permission = 'granted';
           static requestPermission() { return Promise.resolve('granted'); }
           constructor(title, options) { window.__notes.push([title, options.body]); }
         };",
    )
    .await?;

    b.type_into(".rule-condition", "temperature >").await?;
    b.wait_for_text_containing(".rule-problem", "temperature > what", WAIT)
        .await?;
    b.type_into(".rule-name", "Hot").await?;
    b.type_into(".rule-topic", "sensors/+/temperature").await?;
    b.type_into(".rule-condition", "temperature > 30").await?;
    b.click(".rule-notify").await?;
    b.click(".rule-form [type=submit]").await?;
    b.wait_for(r#".rule-item[data-rule="Hot"]"#, WAIT).await?;
    b.type_into(".rule-name", "Errors").await?;
    b.type_into(".rule-topic", "").await?;
    b.type_into(".rule-condition", r#"level == "error""#)
        .await?;
    b.click(".rule-form [type=submit]").await?;
    b.wait_for(r#".rule-item[data-rule="Errors"]"#, WAIT)
        .await?;

    for (topic, payload) in [
        ("sensors/gh/temperature", "31.5"),
        ("sensors/gh/temperature", "25"),
        ("plant/line", r#"{"level":"error","machine":"press-4"}"#),
        ("plant/line", r#"{"level":"info"}"#),
    ] {
        mosquitto_pub(d.bridge.tcp, &["-t", topic, "-m", payload]).await?;
    }
    b.wait_for_text(".log-count", "4 messages", WAIT).await?;
    b.wait_for_text(r#".rule-item[data-rule="Hot"] .rule-count"#, "1", WAIT)
        .await?;
    b.wait_for_text(r#".rule-item[data-rule="Errors"] .rule-count"#, "1", WAIT)
        .await?;
    let flagged = b.texts(".log-row.flagged .log-topic").await?;
    assert_eq!(flagged, ["sensors/gh/temperature", "plant/line"]);
    let alerts = b.texts(".alert-item .alert-rule").await?;
    assert_eq!(alerts, ["Errors", "Hot"], "newest first");
    let notes = b.execute("return window.__notes").await?;
    assert_eq!(
        notes,
        serde_json::json!([["Hot", "sensors/gh/temperature: 31.5"]]),
        "only the rule that asks to notify"
    );
    b.wait_for_text(".alert-badge", "🔔 2", WAIT).await?;
    b.click(".alert-badge").await?;
    eventually(WAIT, "the badge to clear", || async {
        b.text(".alert-badge").await.is_none().then_some(())
    })
    .await?;

    // Saved with the profile: still there after a reload.
    b.client.refresh().await?;
    d.wait_connected().await?;
    assert_eq!(b.texts(".rule-title").await?, ["Hot", "Errors"]);
    d.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_properties_reach_a_5_0_subscriber() -> Result<()> {
    let d = open().await?;
    let b = &d.browser;
    b.click("button.status").await?;
    b.select(".conn-version", "5").await?;
    b.click(".conn-connect").await?;
    d.wait_connected().await?;
    d.wait_subscribed().await?;
    let format = ["-V", "mqttv5", "-F", "%t|%p|%C|%R|%D|%E|%P"];
    let mut sub = MosquittoSub::start(&d.bridge, "lab/cmd", &format).await?;

    b.type_into(".publish-topic", "lab/cmd").await?;
    b.type_into(".publish-payload", "go").await?;
    b.click(".v5-props summary").await?;
    b.type_into(".prop-expiry", "soon").await?;
    b.wait_for_text_containing(".publish-props-problem", "whole number", WAIT)
        .await?;
    b.type_into(".prop-content-type", "text/plain").await?;
    b.type_into(".prop-response-topic", "lab/reply").await?;
    b.type_into(".prop-correlation", "c-1").await?;
    b.type_into(".prop-expiry", "60").await?;
    b.type_into(".prop-user", "site=gh").await?;
    b.click(".publish-form [type=submit]").await?;
    let line = sub.next_line().await?;
    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(
        fields[..5],
        ["lab/cmd", "go", "text/plain", "lab/reply", "c-1"],
        "{line}"
    );
    let expiry: u32 = fields[5].parse()?;
    assert!((58..=60).contains(&expiry), "expiry counted down: {line}");
    assert_eq!(fields[6], "site:gh");
    d.close().await
}
