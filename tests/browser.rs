//! The dashboard in headless Chromium against the bridge: a reading published
//! by a real MQTT client shows up as text and as pixels on the chart, and the
//! page reconnects by itself when the bridge restarts.

use anyhow::Result;
use e2e::browser::WAIT;
use e2e::{eventually, mosquitto_pub, Dashboard, ProxyMode, TestBridge};

const TEMPERATURE_E2E: &str = r#"[data-device="e2e"][data-metric="temperature"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_reaches_the_chart_and_the_page_survives_a_bridge_restart() -> Result<()> {
    let Dashboard {
        bridge,
        server,
        browser,
    } = Dashboard::open(ProxyMode::Transparent, 1280, 800).await?;

    // The first device's colour (theme::SERIES[0]) is on no empty chart.
    let device_colour = (0, 114, 178);
    assert_eq!(
        browser.series_pixels("temperature", device_colour).await?,
        0,
        "empty chart has no series"
    );

    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/temperature", "-m", "22.0"]).await?;
    browser.wait_for_text(TEMPERATURE_E2E, "22.0", WAIT).await?;
    mosquitto_pub(bridge.tcp, &["-t", "sensors/e2e/temperature", "-m", "23.5"]).await?;
    browser.wait_for_text(TEMPERATURE_E2E, "23.5", WAIT).await?;
    let drawn = eventually(WAIT, "the series to be drawn", || async {
        browser
            .series_pixels("temperature", device_colour)
            .await
            .ok()
            .filter(|&n| n > 20)
    })
    .await?;
    assert!(
        drawn > 20,
        "the line and the latest-value dot are drawn ({drawn} pixels)"
    );
    let legend = browser
        .text(r#"[data-chart="temperature"] .legend"#)
        .await
        .unwrap_or_default();
    assert!(
        legend.contains("e2e") && legend.contains("23.5 °C"),
        "legend: {legend:?}"
    );

    // The device's retained status, as its Last Will would set it.
    mosquitto_pub(
        bridge.tcp,
        &["-t", "sensors/e2e/status", "-r", "-m", "offline"],
    )
    .await?;
    browser
        .wait_for_text(r#"[data-presence-of="e2e"]"#, "OFFLINE", WAIT)
        .await?;

    // Restart the bridge on the same ports: the page notices and comes back.
    let (tcp, ws) = (bridge.tcp, bridge.ws);
    bridge.stop().await;
    eventually(
        WAIT,
        "the dashboard to notice the bridge is gone",
        || async { (browser.link_state().await.as_deref() == Some("reconnecting")).then_some(()) },
    )
    .await?;
    let dashboard = Dashboard {
        bridge: TestBridge::start_on(tcp, ws).await?,
        server,
        browser,
    };
    dashboard.wait_connected().await?;
    dashboard.wait_subscribed().await?;
    mosquitto_pub(
        dashboard.bridge.tcp,
        &["-t", "sensors/e2e/temperature", "-m", "24.1"],
    )
    .await?;
    dashboard
        .browser
        .wait_for_text(TEMPERATURE_E2E, "24.1", WAIT)
        .await?;
    dashboard.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_through_a_proxy_that_drops_the_subprotocol() -> Result<()> {
    let dashboard = Dashboard::open(ProxyMode::DropSubprotocol, 390, 844).await?;
    mosquitto_pub(
        dashboard.bridge.tcp,
        &[
            "-t",
            "sensors/phone/moisture",
            "-m",
            r#"{"value":41.3,"unit":"%"}"#,
        ],
    )
    .await?;
    dashboard
        .browser
        .wait_for_text(
            r#"[data-device="phone"][data-metric="moisture"]"#,
            "41.3",
            WAIT,
        )
        .await?;

    // At phone width a long topic in the log is cut at its start, so its
    // last levels (what tells rows apart) stay in view.
    let topic = "lab/phone/a-rather-long-level/and-another-long-one/humidity";
    mosquitto_pub(dashboard.bridge.tcp, &["-t", topic, "-m", "57"]).await?;
    let shown = eventually(WAIT, "the long topic's row", || async {
        let script = format!(
            r#"const cell = [...document.querySelectorAll('.log-row .log-topic')]
                 .find(e => e.title === '{topic}');
               if (!cell) return null;
               const text = cell.querySelector('bdi').getBoundingClientRect();
               const box = cell.getBoundingClientRect();
               return [text.left < box.left - 20, Math.abs(text.right - box.right) < 2];"#
        );
        let v = dashboard.browser.execute(&script).await.ok()?;
        (!v.is_null()).then_some(v)
    })
    .await?;
    assert_eq!(
        shown,
        serde_json::json!([true, true]),
        "cut at the start, end in view"
    );
    dashboard.close().await
}
