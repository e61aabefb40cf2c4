//! Headless Chromium driven through chromedriver.

use super::{eventually, free_port, ChildGuard};
use anyhow::{Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

pub struct Browser {
    pub client: Client,
    _driver: ChildGuard,
    _profile: TempDir,
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens headless Chromium at
    /// `width` x `height` with a fresh profile.
    pub async fn start(width: u32, height: u32) -> Result<Browser> {
        let port = free_port();
        let driver = ChildGuard::spawn(
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .context("chromedriver (apt-get install chromium chromium-driver)")?;
        let profile = TempDir(
            std::env::temp_dir().join(format!("e2e-chromium-{}-{port}", std::process::id())),
        );
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            // WSS tests use a certificate made for the test, which no
            // browser trust store holds.
            "--ignore-certificate-errors".to_owned(),
            format!("--user-data-dir={}", profile.0.display()),
            format!("--window-size={width},{height}"),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let client = eventually(
            Duration::from_secs(10),
            "chromedriver to start a session",
            || {
                let caps = caps.clone();
                let url = url.clone();
                async move {
                    ClientBuilder::new(HttpConnector::new())
                        .capabilities(caps)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await?;
        Ok(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    /// Text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until the element matching `css` has exactly `expected` as text.
    pub async fn wait_for_text(&self, css: &str, expected: &str, within: Duration) -> Result<()> {
        eventually(within, &format!("{css} to read {expected:?}"), || async {
            (self.text(css).await.as_deref() == Some(expected)).then_some(())
        })
        .await
    }

    /// Waits until the element matching `css` has a text containing `part`,
    /// and returns that text.
    pub async fn wait_for_text_containing(
        &self,
        css: &str,
        part: &str,
        within: Duration,
    ) -> Result<String> {
        eventually(within, &format!("{css} to contain {part:?}"), || async {
            self.text(css).await.filter(|t| t.contains(part))
        })
        .await
    }

    /// Waits until an element matches `css`.
    pub async fn wait_for(&self, css: &str, within: Duration) -> Result<()> {
        eventually(within, &format!("{css} to appear"), || async {
            self.client.find(Locator::Css(css)).await.ok().map(|_| ())
        })
        .await
    }

    /// Clicks the first element matching `css`, waiting for it to appear.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css, Duration::from_secs(10)).await?;
        let element = self.client.find(Locator::Css(css)).await?;
        // Centred, so the sticky top bar cannot cover it.
        self.client
            .execute(
                "arguments[0].scrollIntoView({ block: 'center' })",
                vec![serde_json::to_value(&element)?],
            )
            .await?;
        element.click().await?;
        Ok(())
    }

    /// Empties the field matching `css`, then types `text` into it as
    /// keystrokes, so input events fire as when a person types. (WebDriver's
    /// own clear fires no input event, so the page would not see it.)
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let field = self.client.find(Locator::Css(css)).await?;
        self.client
            .execute(
                "arguments[0].value = ''; \
                 arguments[0].dispatchEvent(new Event('input', { bubbles: true }));",
                vec![serde_json::to_value(&field)?],
            )
            .await?;
        if !text.is_empty() {
            field.send_keys(text).await?;
        }
        Ok(())
    }

    /// Sends keystrokes to the element matching `css` (WebDriver key codes,
    /// e.g. "\u{E013}" for ArrowUp).
    pub async fn press(&self, css: &str, keys: &str) -> Result<()> {
        self.client
            .find(Locator::Css(css))
            .await?
            .send_keys(keys)
            .await?;
        Ok(())
    }

    /// Chooses the option with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let select = self.client.find(Locator::Css(css)).await?;
        select.select_by_value(value).await?;
        Ok(())
    }

    /// Texts of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await? {
            out.push(element.text().await?);
        }
        Ok(out)
    }

    /// Pixels of the colour `rgb` on the canvas of the chart `chart`
    /// (`temperature`, `moisture`, `custom-1`, ...).
    pub async fn series_pixels(&self, chart: &str, rgb: (u8, u8, u8)) -> Result<u64> {
        let script = format!(
            r#"const c = document.querySelector('[data-chart="{chart}"] canvas');
               const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
               let n = 0;
               for (let i = 0; i < d.length; i += 4) {{
                 if (Math.abs(d[i] - {}) < 8 && Math.abs(d[i+1] - {}) < 8 && Math.abs(d[i+2] - {}) < 8) n++;
               }}
               return n;"#,
            rgb.0, rgb.1, rgb.2
        );
        Ok(self.execute(&script).await?.as_u64().unwrap_or(0))
    }

    /// Publishes `value` to `sensors/<device>/temperature` through the
    /// broker at `tcp` (again, in case the page's subscription is not made
    /// yet) until the device's card shows it, then waits for the first
    /// device's colour (theme::SERIES[0]) on the temperature chart.
    pub async fn publish_until_charted(
        &self,
        tcp: std::net::SocketAddr,
        device: &str,
        value: &str,
    ) -> Result<()> {
        let topic = format!("sensors/{device}/temperature");
        let cell = format!(r#"[data-device="{device}"][data-metric="temperature"]"#);
        eventually(WAIT, "a reading on the page", || async {
            super::mosquitto_pub(tcp, &["-t", &topic, "-m", value])
                .await
                .ok()?;
            (self.text(&cell).await.as_deref() == Some(value)).then_some(())
        })
        .await?;
        eventually(WAIT, "the reading on the chart", || async {
            self.series_pixels("temperature", (0, 114, 178))
                .await
                .ok()
                .filter(|&n| n > 0)
        })
        .await?;
        Ok(())
    }

    /// The dashboard's link: `connecting`, `connected` or `reconnecting`.
    pub async fn link_state(&self) -> Option<String> {
        let state = self
            .execute("return document.querySelector('.status')?.dataset.state")
            .await
            .ok()?;
        state.as_str().map(str::to_owned)
    }

    pub async fn execute(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// The bridge, `dist/` served in front of it, and a browser on the page with
/// the dashboard connected and its default subscriptions (`#`, `$SYS/#`) made.
pub struct Dashboard {
    pub bridge: super::TestBridge,
    pub server: super::DistServer,
    pub browser: Browser,
}

pub const WAIT: Duration = Duration::from_secs(20);

impl Dashboard {
    pub async fn open(mode: super::ProxyMode, width: u32, height: u32) -> Result<Dashboard> {
        Self::open_on(super::TestBridge::start().await?, mode, width, height).await
    }

    /// The dashboard in front of a bridge the caller started.
    pub async fn open_on(
        bridge: super::TestBridge,
        mode: super::ProxyMode,
        width: u32,
        height: u32,
    ) -> Result<Dashboard> {
        let server =
            super::DistServer::start(super::workspace_root().join("dist"), bridge.ws, mode).await?;
        let browser = Browser::start(width, height).await?;
        browser.client.goto(&server.url()).await?;
        let dashboard = Dashboard {
            bridge,
            server,
            browser,
        };
        dashboard.wait_connected().await?;
        dashboard.wait_subscribed().await?;
        Ok(dashboard)
    }

    pub async fn wait_connected(&self) -> Result<()> {
        eventually(WAIT, "the dashboard to connect", || async {
            (self.browser.link_state().await.as_deref() == Some("connected")).then_some(())
        })
        .await
    }

    /// The default subscriptions granted, as the page shows them.
    pub async fn wait_subscribed(&self) -> Result<()> {
        eventually(WAIT, "the dashboard's two subscriptions", || async {
            (self.bridge.router.subscription_count() >= 2).then_some(())
        })
        .await?;
        self.browser
            .wait_for_text_containing(
                r#".sub-item[data-filter="$SYS/#"] .sub-status"#,
                "granted",
                WAIT,
            )
            .await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.browser.close().await?;
        self.bridge.stop().await;
        Ok(())
    }
}
