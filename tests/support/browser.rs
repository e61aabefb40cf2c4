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

    pub async fn execute(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}
