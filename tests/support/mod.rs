//! Harness for end-to-end tests: the bridge in-process on free ports, a static
//! server for the built `dist/` that also carries `/mqtt` to the bridge (as
//! trunk serve does), chromedriver with headless Chromium, and Mosquitto's
//! command-line clients. Everything started here stops when dropped, so a
//! failing test leaves no process behind.

use anyhow::{bail, Context, Result};
use bridge::{Bridge, Config};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub mod browser;
pub mod mosquitto;
pub use browser::{Browser, Dashboard};

/// Polls `probe` every 100 ms until it yields a value or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind port 0")
}

/// Where `make test` installs its tools (paho's virtualenv, npm packages).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("MQTT_DASHBOARD_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mqtt-dashboard-tools")
        })
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The bridge inside the test process, on the given or free ports.
pub struct TestBridge {
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    /// The WSS listener, when the configuration has a certificate.
    pub wss: Option<SocketAddr>,
    /// The one-port HTTP listener (`--http`), when configured.
    pub http: Option<SocketAddr>,
    pub router: std::sync::Arc<bridge::router::Router>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestBridge {
    pub async fn start() -> Result<TestBridge> {
        Self::start_on("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).await
    }

    pub async fn start_on(tcp: SocketAddr, ws: SocketAddr) -> Result<TestBridge> {
        Self::start_configured(|c| {
            c.tcp = tcp;
            c.ws = ws;
        })
        .await
    }

    /// With the demo devices, which obey commands and acknowledge them.
    pub async fn start_demo() -> Result<TestBridge> {
        Self::start_configured(|c| c.demo = true).await
    }

    /// On free ports without `$SYS` (whose retained messages tests would
    /// count), after `configure` changes what it wants.
    pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> Result<TestBridge> {
        let mut config = Config {
            tcp: "127.0.0.1:0".parse()?,
            ws: "127.0.0.1:0".parse()?,
            sys_interval: Duration::ZERO,
            ..Config::default()
        };
        configure(&mut config);
        let bridge = Bridge::bind(config).await?;
        let shutdown = CancellationToken::new();
        let (tcp, ws, router) = (bridge.tcp_addr(), bridge.ws_addr(), bridge.router());
        let (wss, http) = (bridge.wss_addr(), bridge.http_addr());
        let task = tokio::spawn(bridge.run(shutdown.clone()));
        Ok(TestBridge {
            tcp,
            ws,
            wss,
            http,
            router,
            shutdown,
            task: Some(task),
        })
    }

    /// Stops accepting, closes every connection and waits until all are done.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How the static server carries `/mqtt` to the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Byte for byte, like a TCP load balancer.
    Transparent,
    /// Drops `Sec-WebSocket-Protocol` from the upgrade response, as trunk
    /// serve's WebSocket proxy does.
    DropSubprotocol,
}

/// Serves `dist/` over HTTP and forwards `/mqtt` upgrades to a bridge.
pub struct DistServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DistServer {
    pub async fn start(dist: PathBuf, bridge_ws: SocketAddr, mode: ProxyMode) -> Result<Self> {
        if !dist.join("index.html").exists() {
            bail!(
                "{} has no index.html: build the dashboard first (trunk build --release --offline; make test does)",
                dist.display()
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let dist = dist.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &dist, bridge_ws, mode).await;
                });
            }
        });
        Ok(DistServer { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for DistServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("closed before the end of the HTTP head");
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            bail!("HTTP head too large");
        }
    }
    Ok(head)
}

async fn serve(
    mut stream: TcpStream,
    dist: &Path,
    bridge_ws: SocketAddr,
    mode: ProxyMode,
) -> Result<()> {
    let head = read_head(&mut stream).await?;
    let text = String::from_utf8_lossy(&head);
    let path = text
        .split_whitespace()
        .nth(1)
        .context("no request path")?
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    if path == "/mqtt" {
        let mut backend = TcpStream::connect(bridge_ws).await?;
        backend.write_all(&head).await?;
        let response = read_head(&mut backend).await?;
        let response = match mode {
            ProxyMode::Transparent => response,
            ProxyMode::DropSubprotocol => String::from_utf8_lossy(&response)
                .split_inclusive("\r\n")
                .filter(|line| {
                    !line
                        .to_ascii_lowercase()
                        .starts_with("sec-websocket-protocol:")
                })
                .collect::<String>()
                .into_bytes(),
        };
        stream.write_all(&response).await?;
        tokio::io::copy_bidirectional(&mut stream, &mut backend).await?;
        return Ok(());
    }
    let relative = if path == "/" {
        "index.html"
    } else {
        path.trim_start_matches('/')
    };
    let file = dist.join(relative);
    let (status, body, kind) = match (relative.contains(".."), tokio::fs::read(&file).await) {
        (false, Ok(body)) => ("200 OK", body, content_type(&file)),
        _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    }
}

/// A child process in its own process group; the whole group is killed when
/// dropped, so a browser that chromedriver started goes with it.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> Result<ChildGuard> {
        let child = command
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(ChildGuard(child))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `mosquitto_pub` against the bridge's TCP port and checks it succeeded.
pub async fn mosquitto_pub(tcp: SocketAddr, args: &[&str]) -> Result<()> {
    let output = Command::new("mosquitto_pub")
        .args(["-h", &tcp.ip().to_string(), "-p", &tcp.port().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(10), output)
        .await
        .context("mosquitto_pub hung")?
        .context("running mosquitto_pub (apt-get install mosquitto-clients)")?;
    if !output.status.success() {
        bail!(
            "mosquitto_pub {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A `mosquitto_sub -v` on the bridge, stopped when dropped.
pub struct MosquittoSub {
    _child: ChildGuard,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl MosquittoSub {
    /// Starts `mosquitto_sub -v -t filter` with `extra` arguments and waits
    /// until the bridge holds its subscription.
    pub async fn start(bridge: &TestBridge, filter: &str, extra: &[&str]) -> Result<MosquittoSub> {
        let before = bridge.router.subscription_count();
        let sub = MosquittoSub::spawn(bridge, filter, extra)?;
        eventually(
            Duration::from_secs(10),
            "mosquitto_sub to subscribe",
            || async { (bridge.router.subscription_count() > before).then_some(()) },
        )
        .await?;
        Ok(sub)
    }

    /// Starts it without waiting: for a client resuming a kept session, whose
    /// subscription the bridge already holds.
    pub fn spawn(bridge: &TestBridge, filter: &str, extra: &[&str]) -> Result<MosquittoSub> {
        let mut child = ChildGuard::spawn(
            Command::new("mosquitto_sub")
                .args(["-h", "127.0.0.1", "-p", &bridge.tcp.port().to_string()])
                .args(["-v", "-t", filter])
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )?;
        let stdout = child.0.stdout.take().context("stdout piped")?;
        Ok(MosquittoSub {
            _child: child,
            lines: tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout)),
        })
    }

    /// The next `topic payload` line it prints.
    pub async fn next_line(&mut self) -> Result<String> {
        tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .context("mosquitto_sub printed nothing in time")??
            .context("mosquitto_sub exited")
    }
}
