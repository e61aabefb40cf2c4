//! A real Mosquitto broker for the browser tests, and a WebSocket-to-TCP
//! relay in front of it: Debian's Mosquitto 2.0.11 is built without
//! WebSocket support ("Unable to start any listening sockets" for
//! `protocol websockets`), so the page reaches Mosquitto's own MQTT over TCP
//! through this relay, as websockify would carry it. Every byte of MQTT the
//! page exchanges is Mosquitto's.

use super::{eventually, free_port, ChildGuard};
use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// Mosquitto on a free port with a password file, anonymous clients refused.
pub struct Mosquitto {
    pub tcp: SocketAddr,
    _process: ChildGuard,
    dir: std::path::PathBuf,
}

impl Mosquitto {
    /// Starts Mosquitto accepting only `user` with `password`.
    pub async fn start_with_user(user: &str, password: &str) -> Result<Mosquitto> {
        let dir =
            std::env::temp_dir().join(format!("e2e-mosquitto-{}-pw-{user}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let passwords = dir.join("passwords");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwords)
            .args([user, password])
            .status()
            .await
            .context("mosquitto_passwd (apt-get install mosquitto)")?;
        if !status.success() {
            bail!("mosquitto_passwd failed");
        }
        let mosquitto = Self::start_with_password_file(&passwords).await;
        std::fs::remove_dir_all(&dir).ok();
        mosquitto
    }

    /// Starts Mosquitto with a copy of the password file at `passwords`,
    /// anonymous clients refused.
    pub async fn start_with_password_file(passwords: &std::path::Path) -> Result<Mosquitto> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("e2e-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let copy = dir.join("passwords");
        std::fs::copy(passwords, &copy).context("copying the password file")?;
        let config = dir.join("mosquitto.conf");
        // As root, Mosquitto would switch to its own user, which cannot read
        // a file only its owner may (as `bridge passwd` writes them).
        std::fs::write(
            &config,
            format!(
                "user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
                copy.display()
            ),
        )?;
        let process = ChildGuard::spawn(
            Command::new("mosquitto")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        let tcp: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        eventually(Duration::from_secs(10), "Mosquitto to listen", || async {
            TcpStream::connect(tcp).await.ok().map(|_| ())
        })
        .await?;
        Ok(Mosquitto {
            tcp,
            _process: process,
            dir,
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Accepts WebSocket connections (answering the `mqtt` subprotocol when
/// offered) and carries each one's binary frames to and from a new TCP
/// connection to `backend`.
pub struct WsRelay {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl WsRelay {
    pub async fn start(backend: SocketAddr) -> Result<WsRelay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = relay(stream, backend).await;
                });
            }
        });
        Ok(WsRelay { addr, task })
    }

    pub fn url(&self) -> String {
        format!("ws://{}/mqtt", self.addr)
    }
}

impl Drop for WsRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// The handshake callback's error type is tungstenite's, large or not.
#[allow(clippy::result_large_err)]
async fn relay(stream: TcpStream, backend: SocketAddr) -> Result<()> {
    let answer_mqtt = |request: &Request, mut response: Response| {
        let offered = request
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|p| p.trim() == "mqtt"));
        if offered {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        }
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, answer_mqtt).await?;
    let tcp = TcpStream::connect(backend).await?;
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    let (mut ws_write, mut ws_read) = ws.split();
    let up = async {
        while let Some(message) = ws_read.next().await {
            match message? {
                Message::Binary(bytes) => tcp_write.write_all(&bytes).await?,
                Message::Close(_) => break,
                _ => {}
            }
        }
        anyhow::Ok(())
    };
    let down = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = tcp_read.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            ws_write
                .send(Message::Binary(buffer[..n].to_vec().into()))
                .await?;
        }
        let _ = ws_write.close().await;
        anyhow::Ok(())
    };
    // Either side ending ends the relay, as a broker closing the socket would.
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

/// Mosquitto on a port the test keeps across restarts, anonymous clients
/// welcome, persistence on (saved when stopped), for upstream links.
pub struct PlainMosquitto {
    pub tcp: SocketAddr,
    process: Option<ChildGuard>,
    dir: std::path::PathBuf,
}

impl PlainMosquitto {
    pub async fn start() -> Result<PlainMosquitto> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("e2e-upstream-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut m = PlainMosquitto {
            tcp: format!("127.0.0.1:{port}").parse()?,
            process: None,
            dir,
        };
        m.restart().await?;
        Ok(m)
    }

    /// Starts it again on the same port with what it saved.
    pub async fn restart(&mut self) -> Result<()> {
        let config = self.dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "user root\nlistener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 0\n",
                self.tcp.port(),
                self.dir.display()
            ),
        )?;
        self.process = Some(ChildGuard::spawn(
            Command::new("mosquitto")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?);
        let tcp = self.tcp;
        eventually(Duration::from_secs(10), "Mosquitto to listen", || async {
            TcpStream::connect(tcp).await.ok().map(|_| ())
        })
        .await
    }

    /// SIGTERM (Mosquitto saves its state) and waits for it to exit.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut guard) = self.process.take() {
            if let Some(pid) = guard.0.id() {
                Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await?;
            }
            tokio::time::timeout(Duration::from_secs(10), guard.0.wait())
                .await
                .context("Mosquitto to stop")??;
        }
        Ok(())
    }
}

impl Drop for PlainMosquitto {
    fn drop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Aedes (a Node MQTT broker) with MQTT/TCP and a WebSocket listener at
/// `/mqtt`: a third-party WebSocket broker, since Debian's Mosquitto has none.
pub struct Aedes {
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    _process: ChildGuard,
}

impl Aedes {
    pub async fn start() -> Result<Aedes> {
        let (tcp_port, ws_port) = (free_port(), free_port());
        let script = super::workspace_root().join("tests/support/aedes.mjs");
        let mut process = ChildGuard::spawn(
            Command::new("node")
                .arg(script)
                .arg(super::tools_dir())
                .args([tcp_port.to_string(), ws_port.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .context("node (make test installs aedes with npm)")?;
        let out = process.0.stdout.take().context("stdout")?;
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(out));
        let first = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
            .await
            .context("aedes to start")??;
        if first.as_deref() != Some("listening") {
            bail!("aedes did not start: {first:?}");
        }
        Ok(Aedes {
            tcp: format!("127.0.0.1:{tcp_port}").parse()?,
            ws: format!("127.0.0.1:{ws_port}").parse()?,
            _process: process,
        })
    }
}
