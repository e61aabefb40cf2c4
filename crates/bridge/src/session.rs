//! One client connection's protocol loop: the CONNECT handshake, then
//! packets in, routed messages out, keepalive, until either side ends it.

use crate::connection::{Connection, ConnectionError};
use crate::router::{Registration, Router};
use mqtt_proto::{
    Ack, ConnAck, Connect, LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode, SubAck,
};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// The highest QoS this bridge grants today; higher requests are downgraded.
const MAX_GRANTED_QOS: QoS = QoS::AtMostOnce;
/// Messages written per wake-up, so one busy session cannot starve reads.
const WRITE_BATCH: usize = 64;

static ASSIGNED_IDS: AtomicU64 = AtomicU64::new(1);

pub struct SessionSettings {
    pub connect_timeout: Duration,
}

/// How a session ended, for the log.
#[derive(Debug)]
enum End {
    Disconnected,
    PeerClosed,
    TakenOver,
    Shutdown,
    KeepAliveExpired,
    Error(ConnectionError),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Disconnected => f.write_str("client sent DISCONNECT"),
            End::PeerClosed => f.write_str("connection closed without DISCONNECT"),
            End::TakenOver => f.write_str("another connection took over the client id"),
            End::Shutdown => f.write_str("bridge shutting down"),
            End::KeepAliveExpired => f.write_str("keepalive expired"),
            End::Error(e) => write!(f, "{e}"),
        }
    }
}

impl End {
    /// A client that vanished without DISCONNECT leaves its will (spec 3.1.2.5).
    fn publishes_will(&self) -> bool {
        !matches!(self, End::Disconnected | End::TakenOver)
    }
}

pub async fn run(
    mut conn: Connection,
    peer: String,
    router: Arc<Router>,
    settings: Arc<SessionSettings>,
    shutdown: CancellationToken,
) {
    let connect = tokio::select! {
        _ = shutdown.cancelled() => return,
        first = timeout(settings.connect_timeout, conn.read_packet()) => first,
    };
    let connect = match connect {
        Ok(Ok(Some(Packet::Connect(c)))) => c,
        Ok(Ok(Some(other))) => {
            tracing::info!(%peer, packet = ?other.packet_type(), "first packet is not CONNECT; closing");
            return conn.close().await;
        }
        Ok(Ok(None)) => return,
        Ok(Err(ConnectionError::Protocol(e))) => {
            tracing::info!(%peer, error = %e, "bad CONNECT; closing");
            if e.needs_connack() {
                let _ = conn.write_packet(&connack(e.connack_code())).await;
            }
            return conn.close().await;
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection failed before CONNECT");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "no CONNECT within {:?}; closing", settings.connect_timeout);
            return conn.close().await;
        }
    };
    conn.set_version(connect.protocol);
    if connect.protocol == ProtocolVersion::V5 {
        // MQTT 5.0 is decoded but not served yet: refuse it in its own format
        // (MQTT 5.0 section 3.1.4) so the client can read why.
        tracing::info!(%peer, "MQTT 5.0 client refused: not supported yet");
        let _ = conn
            .write_packet(&connack(ReasonCode::UnsupportedProtocolVersion))
            .await;
        return conn.close().await;
    }
    let Some(client_id) = client_id_for(&connect) else {
        // MQTT-3.1.3-8: empty id with clean session 0 is refused.
        let _ = conn
            .write_packet(&connack(ReasonCode::ClientIdentifierNotValid))
            .await;
        return conn.close().await;
    };
    let registration = router.register(&client_id);
    let mut session = Session {
        conn,
        router,
        registration,
        filters: BTreeSet::new(),
        incoming_qos2: HashSet::new(),
    };
    if let Err(e) = session
        .conn
        .write_packet(&connack(ReasonCode::Success))
        .await
    {
        tracing::debug!(%peer, error = %e, "could not send CONNACK");
        return session.finish(None).await;
    }
    tracing::info!(%peer, transport = session.conn.kind(), client_id, "client connected");
    let end = session.serve(connect.keep_alive, &shutdown).await;
    tracing::info!(%peer, client_id, reason = %end, "client disconnected");
    let will = connect.will.filter(|_| end.publishes_will());
    session.finish(will).await;
}

fn connack(code: ReasonCode) -> Packet {
    Packet::ConnAck(ConnAck::new(code, false))
}

/// The client's own id, or one we assign when it sent none with a clean session.
fn client_id_for(connect: &Connect) -> Option<String> {
    if !connect.client_id.is_empty() {
        return Some(connect.client_id.to_string());
    }
    connect
        .clean_session
        .then(|| format!("auto-{}", ASSIGNED_IDS.fetch_add(1, Ordering::Relaxed)))
}

struct Session {
    conn: Connection,
    router: Arc<Router>,
    registration: Registration,
    filters: BTreeSet<String>,
    /// QoS 2 packet ids received and routed, until PUBREL.
    incoming_qos2: HashSet<u16>,
}

impl Session {
    async fn serve(&mut self, keep_alive_secs: u16, shutdown: &CancellationToken) -> End {
        // MQTT-3.1.2-24: one and a half keepalive periods without a packet ends it.
        let grace =
            (keep_alive_secs > 0).then(|| Duration::from_millis(u64::from(keep_alive_secs) * 1500));
        let mut deadline = grace.map(|g| Instant::now() + g);
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                _ = self.registration.taken_over.cancelled() => return End::TakenOver,
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return End::KeepAliveExpired;
                }
                received = self.conn.read_packet() => {
                    let packet = match received {
                        Ok(Some(p)) => p,
                        Ok(None) => return End::PeerClosed,
                        Err(e) => return End::Error(e),
                    };
                    deadline = grace.map(|g| Instant::now() + g);
                    match self.handle(packet).await {
                        Ok(true) => {}
                        Ok(false) => return End::Disconnected,
                        Err(e) => return End::Error(e),
                    }
                }
                n = self.registration.outbound.recv_many(&mut batch, WRITE_BATCH) => {
                    if n == 0 {
                        return End::Shutdown;
                    }
                    let packets: Vec<Packet> = batch.drain(..).map(Packet::Publish).collect();
                    if let Err(e) = self.conn.write_packets(&packets).await {
                        return End::Error(e);
                    }
                }
            }
        }
    }

    /// Handles one packet; `Ok(false)` means the client said DISCONNECT.
    async fn handle(&mut self, packet: Packet) -> Result<bool, ConnectionError> {
        let reply = match packet {
            Packet::Publish(publish) => self.handle_publish(publish),
            Packet::PubRel(ack) => {
                self.incoming_qos2.remove(&ack.packet_id);
                Some(Packet::PubComp(Ack::new(ack.packet_id)))
            }
            Packet::Subscribe(subscribe) => {
                let mut reason_codes = Vec::with_capacity(subscribe.subscriptions.len());
                let mut retained = Vec::new();
                for s in &subscribe.subscriptions {
                    let granted = s.qos.min(MAX_GRANTED_QOS);
                    self.router
                        .subscribe(self.registration.key, &s.filter, granted);
                    self.filters.insert(s.filter.to_string());
                    reason_codes.push(ReasonCode::granted(granted));
                    retained.extend(self.router.retained_for(&s.filter, granted));
                }
                // SUBACK first, then the retained messages for the new filters.
                let suback = Packet::SubAck(SubAck::new(subscribe.packet_id, reason_codes));
                let packets =
                    std::iter::once(suback).chain(retained.into_iter().map(Packet::Publish));
                let packets: Vec<Packet> = packets.collect();
                self.conn.write_packets(&packets).await?;
                None
            }
            Packet::Unsubscribe(unsubscribe) => {
                let mut reason_codes = Vec::with_capacity(unsubscribe.filters.len());
                for filter in &unsubscribe.filters {
                    let existed = self.router.unsubscribe(self.registration.key, filter);
                    self.filters.remove(filter.as_str());
                    reason_codes.push(if existed {
                        ReasonCode::Success
                    } else {
                        ReasonCode::NoSubscriptionExisted
                    });
                }
                Some(Packet::UnsubAck(SubAck::new(
                    unsubscribe.packet_id,
                    reason_codes,
                )))
            }
            Packet::PingReq => Some(Packet::PingResp),
            Packet::Disconnect(_) => return Ok(false),
            // Nothing is sent at QoS > 0 yet, so acknowledgements of ours cannot arrive.
            other => {
                return Err(ConnectionError::Protocol(
                    mqtt_proto::Error::UnexpectedPacket(other.packet_type()),
                ))
            }
        };
        if let Some(reply) = reply {
            self.conn.write_packet(&reply).await?;
        }
        Ok(true)
    }

    fn handle_publish(&mut self, publish: Publish) -> Option<Packet> {
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.router.publish(&publish);
                Some(Packet::PubAck(Ack::new(id)))
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Route once; a retransmission before PUBREL is only acknowledged.
                if self.incoming_qos2.insert(id) {
                    self.router.publish(&publish);
                }
                Some(Packet::PubRec(Ack::new(id)))
            }
            _ => {
                self.router.publish(&publish);
                None
            }
        }
    }

    async fn finish(mut self, will: Option<LastWill>) {
        self.router.unregister(
            self.registration.key,
            self.filters.iter().map(String::as_str),
        );
        if let Some(will) = will {
            let mut publish = Publish::new(&will.topic, will.payload);
            publish.qos = will.qos;
            publish.retain = will.retain;
            publish.properties = will.properties;
            self.router.publish(&publish);
        }
        self.conn.close().await;
    }
}
