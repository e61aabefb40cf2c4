//! Two broker sessions fed arbitrary bytes over in-memory pipes, sharing one
//! router, on a runtime whose clock only moves when every task waits (so
//! keepalive and CONNECT timeouts pass at once). Used by the fuzz target
//! (crates/bridge/fuzz) and by `tests/fuzz_regressions.rs`. A panic, or a
//! session still running after shutdown plus its grace, is a finding.

use bridge::auth::Auth;
use bridge::connection::Connection;
use bridge::handshake::ServerLimits;
use bridge::limits::LimitCounters;
use bridge::router::{Router, SessionLimits};
use bridge::session::{self, SessionSettings};
use bridge::stats::TrafficStats;
use bridge::transport::Transport;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
}

/// The first byte splits the rest between two clients; each client's bytes
/// go in pieces whose sizes come from the bytes themselves. Returns how many
/// bytes each client got back.
pub fn check_broker(data: &[u8]) -> [usize; 2] {
    let Some((&split, rest)) = data.split_first() else {
        return [0, 0];
    };
    let at = usize::from(split) * rest.len() / 256;
    let (first, second) = rest.split_at(at);
    RUNTIME.with(|rt| rt.block_on(run(first.to_vec(), second.to_vec())))
}

async fn run(first: Vec<u8>, second: Vec<u8>) -> [usize; 2] {
    let router = Arc::new(Router::new(
        SessionLimits {
            queue: 64,
            inflight: 8,
        },
        32,
        None,
    ));
    let settings = Arc::new(SessionSettings {
        connect_timeout: Duration::from_secs(10),
        limits: ServerLimits {
            receive_maximum: 8,
            max_packet_size: 64 * 1024,
            topic_alias_maximum: 4,
            max_keep_alive: 0,
            max_inflight: 8,
        },
        auth: Arc::new(Auth::default()),
        max_subscriptions: 16,
        publish_rate: 0,
        counters: Arc::new(LimitCounters::default()),
    });
    let traffic = Arc::new(TrafficStats::default());
    let shutdown = CancellationToken::new();
    let mut sessions = Vec::new();
    let mut clients = Vec::new();
    for (name, bytes) in [("fuzz-a", first), ("fuzz-b", second)] {
        let (client, server) = tokio::io::duplex(16 * 1024);
        let transport = Transport::Boxed(Box::new(server), "fuzz");
        let conn = Connection::new(transport, 64 * 1024, traffic.clone());
        sessions.push(tokio::spawn(session::run(
            conn,
            name.to_owned(),
            router.clone(),
            settings.clone(),
            shutdown.clone(),
        )));
        clients.push(tokio::spawn(client_side(client, bytes)));
    }
    let mut received = [0; 2];
    for (slot, client) in received.iter_mut().zip(clients) {
        // A client is done once everything is written and the bridge has
        // gone quiet or closed; its pipe stays open until then.
        *slot = client.await.unwrap_or(0);
    }
    shutdown.cancel();
    for s in sessions {
        let finished = tokio::time::timeout(bridge::SHUTDOWN_GRACE * 2, s).await;
        assert!(finished.is_ok(), "a session did not end after shutdown");
        if let Ok(Err(e)) = finished {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    received
}

/// Writes `bytes` in pieces, reading whatever the bridge answers meanwhile
/// (it must never block on a client that reads), then reads until the
/// bridge closes or is quiet for a minute of virtual time.
async fn client_side(client: tokio::io::DuplexStream, bytes: Vec<u8>) -> usize {
    let (mut reader, mut writer) = tokio::io::split(client);
    let draining = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let mut total = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(60), reader.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => total += n,
                _ => return (reader, total),
            }
        }
    });
    let mut rest = &bytes[..];
    while let Some((&size, _)) = rest.split_first() {
        let n = (usize::from(size % 64) + 1).min(rest.len());
        if writer.write_all(&rest[..n]).await.is_err() {
            break;
        }
        rest = &rest[n..];
        tokio::task::yield_now().await;
    }
    let (reader, total) = draining
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // Dropping both halves closes the client's end.
    drop((reader, writer));
    total
}
