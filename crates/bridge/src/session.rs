//! One client connection's protocol loop: the CONNECT handshake, then
//! packets in, routed messages out, keepalive, until either side ends it.

use crate::connection::{Connection, ConnectionError};
use crate::inflight::{AckOutcome, Inflight};
use crate::router::Router;
use crate::session_state::SessionState;
use crate::trie::SessionKey;
use mqtt_proto::{
    Ack, ConnAck, Connect, LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode, SubAck,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;
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
    let keep = !connect.clean_session;
    let registration = router.register(&client_id, connect.clean_session);
    let (key, connection) = (registration.key, registration.connection);
    // A connection being taken over lets go of the session once it has
    // stopped; one stuck writing to a client that stopped reading gets as long
    // as a CONNECT does.
    let locked = tokio::select! {
        _ = shutdown.cancelled() => None,
        state = timeout(settings.connect_timeout, registration.state.lock_owned()) => state.ok(),
    };
    let Some(state) = locked else {
        tracing::warn!(%peer, client_id, "previous connection did not release the session in time");
        router.detach(key, connection, keep);
        let _ = conn
            .write_packet(&connack(ReasonCode::ServerUnavailable))
            .await;
        return conn.close().await;
    };
    let mut session = Session {
        conn,
        router,
        key,
        state,
    };
    // A resumed session first sends again what the client has not acknowledged.
    let resent = session.state.inflight.resend();
    let accepted = Packet::ConnAck(ConnAck::new(ReasonCode::Success, registration.resumed));
    if let Err(e) = session
        .conn
        .write_packets(std::iter::once(&accepted).chain(&resent))
        .await
    {
        tracing::debug!(%peer, error = %e, "could not send CONNACK");
        return session.finish(None, connection, keep).await;
    }
    tracing::info!(
        %peer,
        transport = session.conn.kind(),
        client_id,
        resumed = registration.resumed,
        resent = resent.len(),
        "client connected"
    );
    let end = session
        .serve(connect.keep_alive, &registration.taken_over, &shutdown)
        .await;
    tracing::info!(%peer, client_id, reason = %end, "client disconnected");
    let will = connect.will.filter(|_| end.publishes_will());
    session.finish(will, connection, keep).await;
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
    key: SessionKey,
    state: OwnedMutexGuard<SessionState>,
}

impl Session {
    async fn serve(
        &mut self,
        keep_alive_secs: u16,
        taken_over: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> End {
        // MQTT-3.1.2-24: one and a half keepalive periods without a packet ends it.
        let grace =
            (keep_alive_secs > 0).then(|| Duration::from_millis(u64::from(keep_alive_secs) * 1500));
        let mut deadline = grace.map(|g| Instant::now() + g);
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        loop {
            // QoS 1/2 messages wait while the in-flight window is full (and
            // everything queued behind them, to keep the order).
            let room = self.state.inflight.room().min(WRITE_BATCH);
            let retained_due = room > 0 && !self.state.retained.is_empty();
            tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                _ = taken_over.cancelled() => return End::TakenOver,
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
                _ = std::future::ready(()), if retained_due => {
                    let due: Vec<Publish> = (0..room).map_while(|_| self.state.retained.pop_front()).collect();
                    if let Err(e) = self.send(due).await {
                        return End::Error(e);
                    }
                }
                n = self.state.outbound.recv_many(&mut batch, room), if room > 0 && !retained_due => {
                    if n == 0 {
                        // The router dropped the session: a clean takeover.
                        return End::TakenOver;
                    }
                    let due = std::mem::take(&mut batch);
                    if let Err(e) = self.send(due).await {
                        return End::Error(e);
                    }
                }
            }
        }
    }

    /// Sends routed messages, giving QoS 1/2 ones their packet ids.
    async fn send(&mut self, messages: Vec<Publish>) -> Result<(), ConnectionError> {
        let packets: Vec<Packet> = messages
            .into_iter()
            .map(|p| Packet::Publish(self.state.inflight.send(p)))
            .collect();
        self.conn.write_packets(&packets).await
    }

    /// Handles one packet; `Ok(false)` means the client said DISCONNECT.
    async fn handle(&mut self, packet: Packet) -> Result<bool, ConnectionError> {
        let reply = match packet {
            Packet::Publish(publish) => self.handle_publish(publish),
            Packet::PubRel(ack) => {
                self.state.incoming_qos2.remove(&ack.packet_id);
                Some(Packet::PubComp(Ack::new(ack.packet_id)))
            }
            Packet::PubAck(ack) => self.acknowledged(ack.packet_id, Inflight::puback),
            Packet::PubRec(ack) => self.acknowledged(ack.packet_id, Inflight::pubrec),
            Packet::PubComp(ack) => self.acknowledged(ack.packet_id, Inflight::pubcomp),
            Packet::Subscribe(subscribe) => {
                let mut reason_codes = Vec::with_capacity(subscribe.subscriptions.len());
                for s in &subscribe.subscriptions {
                    self.router.subscribe(self.key, &s.filter, s.qos);
                    reason_codes.push(ReasonCode::granted(s.qos));
                    // Sent after the SUBACK, through the in-flight window like
                    // any QoS 1/2 message, so their acknowledgements are expected.
                    let retained = self.router.retained_for(&s.filter, s.qos);
                    self.state.retained.extend(retained);
                }
                Some(Packet::SubAck(SubAck::new(
                    subscribe.packet_id,
                    reason_codes,
                )))
            }
            Packet::Unsubscribe(unsubscribe) => {
                let mut reason_codes = Vec::with_capacity(unsubscribe.filters.len());
                for filter in &unsubscribe.filters {
                    let existed = self.router.unsubscribe(self.key, filter);
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

    /// Applies an acknowledgement of one of our messages to the window.
    fn acknowledged(
        &mut self,
        packet_id: u16,
        step: fn(&mut Inflight, u16) -> AckOutcome,
    ) -> Option<Packet> {
        match step(&mut self.state.inflight, packet_id) {
            AckOutcome::Completed => None,
            AckOutcome::Release(pubrel) => Some(pubrel),
            AckOutcome::Unknown => {
                // A late duplicate, e.g. after a resend crossed the original's ack.
                tracing::debug!(
                    packet_id,
                    "acknowledgement for no message in flight; ignored"
                );
                None
            }
        }
    }

    fn handle_publish(&mut self, publish: Publish) -> Option<Packet> {
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.router.publish(&publish);
                Some(Packet::PubAck(Ack::new(id)))
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Route once; a retransmission before PUBREL is only acknowledged
                // (MQTT-4.3.3-9), also after a reconnect.
                if self.state.incoming_qos2.insert(id) {
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

    async fn finish(self, will: Option<LastWill>, connection: u64, keep: bool) {
        let Session {
            mut conn,
            router,
            key,
            state,
        } = self;
        // Let a connection taking over have the session before anything slow.
        drop(state);
        router.detach(key, connection, keep);
        if let Some(will) = will {
            let mut publish = Publish::new(&will.topic, will.payload);
            publish.qos = will.qos;
            publish.retain = will.retain;
            publish.properties = will.properties;
            router.publish(&publish);
        }
        conn.close().await;
    }
}
