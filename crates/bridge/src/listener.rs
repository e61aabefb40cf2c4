//! Accept loops: each turns a socket into a [`Transport`] and hands it to a session.

use crate::connection::Connection;
use crate::limits::{ConnectRate, ConnectionCount, ConnectionSlot, LimitCounters, Limits};
use crate::router::Router;
use crate::session::{self, SessionSettings};
use crate::stats::TrafficStats;
use crate::transport::{Stream, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The path browsers connect to, as Mosquitto, EMQX and HiveMQ use.
pub const WS_PATH: &str = "/mqtt";
/// WebSocket subprotocols we speak, preferred first (spec 6.0; "mqttv3.1" is
/// what MQTT 3.1 clients such as older Paho JavaScript ask for).
const SUBPROTOCOLS: &[&str] = &["mqtt", "mqttv3.1"];
/// How long a TLS handshake or WebSocket upgrade may take before the socket is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every accept loop needs to start sessions.
#[derive(Clone)]
pub struct Shared {
    pub router: Arc<Router>,
    pub settings: Arc<SessionSettings>,
    pub max_packet_size: usize,
    pub traffic: Arc<TrafficStats>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub limits: Arc<Limits>,
    pub counters: Arc<LimitCounters>,
    pub connections: Arc<ConnectionCount>,
    pub connect_rate: Arc<ConnectRate>,
    /// Upstream links' numbers, for `/metrics`.
    pub links: Arc<Vec<(String, Arc<crate::upstream::LinkStats>)>>,
}

/// The next accepted socket that the connection limits admit, with the slot
/// it holds until it ends; `None` once shutdown starts. Accept errors (EMFILE
/// and friends) back off briefly instead of spinning.
async fn next_socket(
    listener: &TcpListener,
    shared: &Shared,
) -> Option<(TcpStream, String, ConnectionSlot)> {
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Refused by closing at once: before TLS, before MQTT,
                    // so a flood costs one accept per connection.
                    if !shared.connect_rate.admit(peer.ip(), std::time::Instant::now()) {
                        LimitCounters::bump(&shared.counters.connects_throttled);
                        continue;
                    }
                    let Some(slot) = shared.connections.admit(shared.limits.max_connections) else {
                        LimitCounters::bump(&shared.counters.connections_refused);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    return Some((stream, peer.to_string(), slot));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// The TLS handshake, within [`HANDSHAKE_TIMEOUT`] and shutdown; `None`
/// (logged) when it fails.
async fn tls_handshake(
    tls: &TlsAcceptor,
    stream: TcpStream,
    peer: &str,
    shared: &Shared,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream));
    let result = tokio::select! {
        _ = shared.shutdown.cancelled() => return None,
        result = handshake => result,
    };
    match result {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// MQTT over TCP, or over TLS with `tls`.
pub async fn accept_tcp(listener: TcpListener, shared: Shared, tls: Option<TlsAcceptor>) {
    while let Some((stream, peer, slot)) = next_socket(&listener, &shared).await {
        let s = shared.clone();
        let tls = tls.clone();
        shared.tasks.spawn(async move {
            let _slot = slot;
            let transport = match &tls {
                None => Transport::Tcp(stream),
                Some(tls) => match tls_handshake(tls, stream, &peer, &s).await {
                    Some(stream) => Transport::Boxed(Box::new(stream), "tls"),
                    None => return,
                },
            };
            let conn = Connection::new(transport, s.max_packet_size, s.traffic.clone());
            session::run(conn, peer, s.router, s.settings, s.shutdown).await;
        });
    }
}

/// MQTT over WebSocket, or over WebSocket over TLS with `tls`.
pub async fn accept_ws(listener: TcpListener, shared: Shared, tls: Option<TlsAcceptor>) {
    while let Some((stream, peer, slot)) = next_socket(&listener, &shared).await {
        let s = shared.clone();
        let tls = tls.clone();
        shared.tasks.spawn(async move {
            let _slot = slot;
            let stream = match &tls {
                None => Stream::Plain(stream),
                Some(tls) => match tls_handshake(tls, stream, &peer, &s).await {
                    Some(stream) => Stream::Tls(Box::new(stream)),
                    None => return,
                },
            };
            serve_ws(stream, peer, s).await;
        });
    }
}

/// The dashboard, `/metrics` and `/healthz` over HTTP, and MQTT over
/// WebSocket at `/mqtt`, on one port.
pub async fn accept_http(listener: TcpListener, shared: Shared, site: Arc<crate::http::Site>) {
    while let Some((stream, peer, slot)) = next_socket(&listener, &shared).await {
        let s = shared.clone();
        let site = site.clone();
        shared.tasks.spawn(async move {
            let _slot = slot;
            crate::http::serve(stream, peer, s, &site).await;
        });
    }
}

/// The WebSocket upgrade, then the MQTT session over it.
pub async fn serve_ws(stream: Stream, peer: String, s: Shared) {
    let upgrade = tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade(stream, &s, &peer));
    let ws = tokio::select! {
        _ = s.shutdown.cancelled() => return,
        ws = upgrade => ws,
    };
    match ws {
        Ok(Ok(ws)) => {
            let transport = Transport::WebSocket(Box::new(ws));
            let conn = Connection::new(transport, s.max_packet_size, s.traffic.clone());
            session::run(conn, peer, s.router, s.settings, s.shutdown).await;
        }
        Ok(Err(e)) => tracing::info!(%peer, error = %e, "WebSocket upgrade refused"),
        Err(_) => tracing::info!(%peer, "WebSocket upgrade timed out"),
    }
}

async fn upgrade(
    stream: Stream,
    shared: &Shared,
    peer: &str,
) -> Result<tokio_tungstenite::WebSocketStream<Stream>, tokio_tungstenite::tungstenite::Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.max_packet_size))
        .max_frame_size(Some(shared.limits.ws_max_frame_size));
    let origins = &shared.limits.ws_origins;
    // tungstenite's handshake `Callback` signature: its error type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let origin = request
            .headers()
            .get("origin")
            .map(|o| o.to_str().unwrap_or(""));
        if let Some(origin) =
            origin.filter(|o| !origins.is_empty() && !origins.iter().any(|a| a == o))
        {
            LimitCounters::bump(&shared.counters.origins_refused);
            tracing::info!(%peer, origin, "WebSocket from an origin not in ws_origins; refused");
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "this page's origin may not connect",
            ));
        }
        negotiate(request, response)
    };
    tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
}

/// Accepts only [`WS_PATH`] and picks an MQTT subprotocol when the client offers any.
// The signature is tungstenite's handshake `Callback`; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
fn negotiate(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() != WS_PATH {
        return Err(refusal(StatusCode::NOT_FOUND, "MQTT is served at /mqtt"));
    }
    let Some(offered) = request.headers().get("sec-websocket-protocol") else {
        // Some clients send no subprotocol at all; the bytes are MQTT either way.
        return Ok(response);
    };
    let offered: Vec<&str> = offered
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    match SUBPROTOCOLS.iter().find(|p| offered.contains(p)) {
        Some(chosen) => {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static(chosen));
            Ok(response)
        }
        None => Err(refusal(
            StatusCode::BAD_REQUEST,
            "no supported WebSocket subprotocol; offer \"mqtt\"",
        )),
    }
}

fn refusal(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = status;
    response
}
