//! `--http ADDR`: one port for a site. It serves the built dashboard (trunk's
//! `dist/`, read from a directory), upgrades `/mqtt` to MQTT over WebSocket,
//! and answers `/metrics` (Prometheus text) and `/healthz`.
//!
//! The request head is peeked, not read: a WebSocket upgrade for `/mqtt`
//! goes to the WebSocket listener's code with the socket untouched, and
//! anything else is a plain HTTP/1.1 request answered with `Connection: close`.
//! Text and wasm files go gzipped to browsers that accept it (the wasm is a
//! third of its size), compressed once per file version and kept.

use crate::listener::{self, Shared};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request head read; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the HTTP port serves besides MQTT.
#[derive(Debug, Default)]
pub struct Site {
    /// The dashboard's files (trunk's `dist/`).
    pub root: PathBuf,
    gzipped: Mutex<HashMap<PathBuf, Gzipped>>,
}

/// A file's gzipped bytes, with the modification time they were made from.
type Gzipped = (SystemTime, Arc<Vec<u8>>);

impl Site {
    pub fn new(root: PathBuf) -> Site {
        Site {
            root,
            gzipped: Mutex::default(),
        }
    }

    /// The file's gzipped bytes, made on first request and again when it changes.
    fn gzipped(&self, file: &StaticFile) -> Arc<Vec<u8>> {
        let (path, body, modified) = (&file.path, &file.body, file.modified);
        let cached = self
            .gzipped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned();
        if let Some((_, gz)) = cached.filter(|(at, _)| *at == modified) {
            return gz;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gz = match encoder.write_all(body).and_then(|()| encoder.finish()) {
            Ok(gz) => Arc::new(gz),
            Err(_) => return Arc::new(body.to_vec()),
        };
        self.gzipped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), (modified, gz.clone()));
        gz
    }
}

/// One request head, as far as routing needs it.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub websocket: bool,
    /// The client accepts `Content-Encoding: gzip`.
    pub gzip: bool,
    /// Bytes the head takes, to consume it for a plain request.
    pub len: usize,
}

/// Parses a complete head from `buf`; `Ok(None)` if more bytes are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let has = |name: &str, wanted: &dyn Fn(&str) -> bool| {
                request.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case(name)
                        && std::str::from_utf8(h.value).is_ok_and(wanted)
                })
            };
            let websocket = has("upgrade", &|v| v.eq_ignore_ascii_case("websocket"));
            let gzip = has("accept-encoding", &|v| v.contains("gzip"));
            Ok(Some(Head {
                method: request.method.unwrap_or("").to_owned(),
                path: request.path.unwrap_or("/").to_owned(),
                websocket,
                gzip,
                len,
            }))
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => Ok(None),
        Ok(httparse::Status::Partial) => Err("request head too large"),
        Err(_) => Err("not an HTTP request"),
    }
}

/// Serves one connection on the HTTP port.
pub async fn serve(stream: TcpStream, peer: String, shared: Shared, site: &Site) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, peek_head(&stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(why)) => {
            tracing::debug!(%peer, why, "bad HTTP request");
            return respond(stream, 400, "text/plain", why.as_bytes(), false).await;
        }
        Err(_) => return,
    };
    if head.websocket {
        // The WebSocket code checks the path (/mqtt) and answers the upgrade.
        return listener::serve_ws(crate::transport::Stream::Plain(stream), peer, shared).await;
    }
    let mut stream = stream;
    let mut consumed = vec![0; head.len];
    if stream.read_exact(&mut consumed).await.is_err() {
        return;
    }
    if head.method != "GET" && head.method != "HEAD" {
        return respond(stream, 405, "text/plain", b"GET only\n", false).await;
    }
    let path = head.path.split(['?', '#']).next().unwrap_or("/");
    let text = |body: &[u8]| Arc::new(body.to_vec());
    let (status, kind, body, gzipped) = match path {
        "/healthz" => (200, "text/plain", text(b"ok\n"), false),
        "/metrics" => (
            200,
            "text/plain; version=0.0.4",
            text(metrics(&shared).as_bytes()),
            false,
        ),
        _ => match file(&site.root, path).await {
            Some(f) if head.gzip && compressible(f.kind) => (200, f.kind, site.gzipped(&f), true),
            Some(f) => (200, f.kind, Arc::new(f.body), false),
            None => (404, "text/plain", text(b"not found\n"), false),
        },
    };
    let body: &[u8] = if head.method == "HEAD" { &[] } else { &body };
    respond(stream, status, kind, body, gzipped).await;
}

/// Worth gzipping: text and wasm, not images already compressed.
fn compressible(kind: &str) -> bool {
    !matches!(
        kind,
        "image/png" | "image/x-icon" | "application/octet-stream"
    )
}

/// Waits until the whole request head has arrived, without consuming it.
async fn peek_head(stream: &TcpStream) -> Result<Head, &'static str> {
    let mut buf = vec![0; MAX_HEAD];
    loop {
        let n = stream
            .peek(&mut buf)
            .await
            .map_err(|_| "connection failed")?;
        if n == 0 {
            return Err("connection closed");
        }
        if let Some(head) = parse_head(&buf[..n])? {
            return Ok(head);
        }
        if n == buf.len() {
            return Err("request head too large");
        }
        // Peek returns at once while bytes wait: give the client a moment.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn respond(mut stream: TcpStream, status: u16, kind: &str, body: &[u8], gzipped: bool) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let encoding = if gzipped {
        "content-encoding: gzip\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n{encoding}vary: accept-encoding\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// A file under `root` for a request path (`/` is `index.html`); never
/// outside it.
/// A file of the site, read whole.
struct StaticFile {
    path: PathBuf,
    kind: &'static str,
    body: Vec<u8>,
    /// When the bytes read were last changed: the gzip cache's key.
    modified: SystemTime,
}

async fn file(root: &Path, path: &str) -> Option<StaticFile> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let relative = Path::new(relative);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let full = root.join(relative);
    // The time comes from the handle the bytes are read from, so a file
    // replaced in between cannot pair new bytes with an old time.
    let mut handle = tokio::fs::File::open(&full).await.ok()?;
    let metadata = handle.metadata().await.ok()?;
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mut body = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    tokio::io::AsyncReadExt::read_to_end(&mut handle, &mut body)
        .await
        .ok()?;
    Some(StaticFile {
        kind: content_type(&full),
        path: full,
        body,
        modified,
    })
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The Prometheus text exposition of the bridge's counters and gauges.
pub fn metrics(shared: &Shared) -> String {
    let t = shared.traffic.snapshot();
    let router = &shared.router;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        out.push_str(&format!(
            "# HELP bridge_{name} {help}\n# TYPE bridge_{name} {kind}\nbridge_{name} {value}\n"
        ));
    };
    metric(
        "connections",
        "gauge",
        "Connections open now, on every listener.",
        shared.connections.open() as u64,
    );
    metric(
        "clients_connected",
        "gauge",
        "Sessions a client is connected to.",
        router.connected_count() as u64,
    );
    metric(
        "sessions",
        "gauge",
        "Sessions, connected or kept for absent clients.",
        router.session_count() as u64,
    );
    metric(
        "subscriptions",
        "gauge",
        "Subscriptions.",
        router.subscription_count() as u64,
    );
    metric(
        "retained_messages",
        "gauge",
        "Topics with a retained message.",
        router.retained_count() as u64,
    );
    metric(
        "queued_messages",
        "gauge",
        "Messages waiting in session queues.",
        router.queued_total() as u64,
    );
    metric(
        "packets_received_total",
        "counter",
        "MQTT packets received.",
        t.messages_received,
    );
    metric(
        "packets_sent_total",
        "counter",
        "MQTT packets sent.",
        t.messages_sent,
    );
    metric(
        "publish_received_total",
        "counter",
        "PUBLISH packets received.",
        t.publish_received,
    );
    metric(
        "publish_sent_total",
        "counter",
        "PUBLISH packets sent.",
        t.publish_sent,
    );
    metric(
        "bytes_received_total",
        "counter",
        "Bytes received.",
        t.bytes_received,
    );
    metric("bytes_sent_total", "counter", "Bytes sent.", t.bytes_sent);
    metric(
        "publish_dropped_total",
        "counter",
        "Messages dropped because a session queue was full.",
        router.stats.publishes_dropped.load(Ordering::Relaxed),
    );
    out.push_str(
        "# HELP bridge_upstream_connected Whether an upstream link is up (1) or not (0).\n",
    );
    out.push_str("# TYPE bridge_upstream_connected gauge\n");
    for (name, stats) in shared.links.iter() {
        let up = u8::from(stats.connected.load(Ordering::Relaxed));
        out.push_str(&format!(
            "bridge_upstream_connected{{link=\"{name}\"}} {up}\n"
        ));
    }
    out.push_str(
        "# HELP bridge_upstream_messages_total Messages forwarded over an upstream link.\n",
    );
    out.push_str("# TYPE bridge_upstream_messages_total counter\n");
    for (name, stats) in shared.links.iter() {
        for (direction, n) in [
            ("sent", &stats.sent),
            ("received", &stats.received),
            ("dropped", &stats.dropped),
        ] {
            let n = n.load(Ordering::Relaxed);
            out.push_str(&format!(
                "bridge_upstream_messages_total{{link=\"{name}\",direction=\"{direction}\"}} {n}\n"
            ));
        }
    }
    out.push_str("# HELP bridge_limit_hits_total Times a limit against abuse refused something.\n");
    out.push_str("# TYPE bridge_limit_hits_total counter\n");
    for (name, n) in shared.counters.all() {
        out.push_str(&format!(
            "bridge_limit_hits_total{{limit=\"{name}\"}} {n}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_when_whole() {
        let upgrade =
            b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n";
        let head = parse_head(upgrade).expect("valid").expect("complete");
        assert_eq!(
            (head.method.as_str(), head.path.as_str(), head.websocket),
            ("GET", "/mqtt", true)
        );
        assert_eq!(head.len, upgrade.len());
        assert_eq!(parse_head(&upgrade[..20]), Ok(None));
        let plain = parse_head(b"GET /index.html HTTP/1.1\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert!(!plain.websocket);
        assert!(
            parse_head(b"\x10\x0c\x00\x04MQTT").is_err(),
            "MQTT bytes are not HTTP"
        );
    }

    #[tokio::test]
    async fn files_stay_under_the_root() {
        let root = std::env::temp_dir().join(format!("bridge-http-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("assets")).expect("mkdir");
        std::fs::write(root.join("index.html"), "<html>").expect("write");
        std::fs::write(root.join("assets/app.wasm"), [0, 97, 115, 109]).expect("write");
        assert_eq!(
            file(&root, "/").await.map(|f| f.kind),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            file(&root, "/assets/app.wasm").await.map(|f| f.kind),
            Some("application/wasm")
        );
        for escape in [
            "/../etc/passwd",
            "/assets/../../x",
            "//etc/passwd",
            "/%2e%2e/x",
        ] {
            assert!(file(&root, escape).await.is_none(), "{escape}");
        }
        std::fs::remove_dir_all(&root).ok();
    }
}
