//! How a connection ends: a DISCONNECT from our side for 5.0 clients, the
//! session kept or dropped, and the Will, now or after its delay.

use super::{publish_of_will, End, Session};
use crate::connection::ConnectionError;
use crate::handshake::SessionExpiry;
use mqtt_proto::{LastWill, Packet, Property, ReasonCode, Status};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a DISCONNECT of ours may take to write before we just close.
const DISCONNECT_WRITE: Duration = Duration::from_secs(1);

impl End {
    /// The 5.0 DISCONNECT reason we send for it, if we send one.
    fn our_reason(&self) -> Option<ReasonCode> {
        match self {
            End::TakenOver => Some(ReasonCode::SessionTakenOver),
            End::KeepAliveExpired => Some(ReasonCode::KeepAliveTimeout),
            End::Shutdown => Some(ReasonCode::ServerShuttingDown),
            End::Error(ConnectionError::Protocol(e)) => Some(e.reason_code()),
            End::Violation(code, _) => Some(*code),
            End::Disconnected { .. } | End::PeerClosed | End::Error(_) => None,
        }
    }

    /// Whether the Will is published (MQTT-3.1.2-8): not after a normal
    /// DISCONNECT, unless 5.0's "disconnect with Will Message" asked for it,
    /// and not when another connection took the session over.
    fn publishes_will(&self) -> bool {
        match self {
            End::Disconnected { with_will } => *with_will,
            End::TakenOver => false,
            _ => true,
        }
    }
}

impl Session {
    pub(super) async fn finish(
        self,
        end: End,
        will: Option<LastWill>,
        connection: u64,
        shutdown: &CancellationToken,
    ) {
        let Session {
            mut conn,
            router,
            store,
            key,
            state,
            agreed,
            replies,
            ..
        } = self;
        // Let a connection taking over have the session before anything slow.
        drop(state);
        router.detach(key, connection, agreed.expiry);
        if let SessionExpiry::After(after) = agreed.expiry {
            let (router, shutdown) = (router.clone(), shutdown.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(after) => router.expire(key, connection),
                }
            });
        }
        // Answers to what the client sent just before the end (a PUBACK
        // before its DISCONNECT), best effort.
        if !replies.is_empty()
            && !matches!(
                end,
                End::PeerClosed | End::Error(ConnectionError::Transport(_))
            )
        {
            let write = async {
                super::durable_before_acks(store.as_ref(), &replies).await?;
                conn.write_packets(&replies).await
            };
            let _ = tokio::time::timeout(DISCONNECT_WRITE, write).await;
        }
        if agreed.version.is_v5() {
            if let Some(reason) = end.our_reason() {
                // With the why in words (a Reason String is always allowed on
                // DISCONNECT, whatever Request Problem Information said).
                let mut status = Status::new(reason);
                status
                    .properties
                    .push(Property::ReasonString(end.to_string().into()));
                let bye = Packet::Disconnect(status);
                let _ = tokio::time::timeout(DISCONNECT_WRITE, conn.write_packet(&bye)).await;
            }
        }
        if let Some(will) = will.filter(|_| end.publishes_will()) {
            let delay = will.properties.find(|p| match p {
                Property::WillDelayInterval(s) => Some(Duration::from_secs(u64::from(*s))),
                _ => None,
            });
            // Published when the delay ends or the session does, whichever is
            // first, unless the client came back for its session meanwhile.
            let delay = match agreed.expiry {
                SessionExpiry::AtDisconnect => None,
                SessionExpiry::After(expiry) => delay.map(|d| d.min(expiry)),
                SessionExpiry::Never => delay,
            }
            .filter(|d| !d.is_zero());
            let publish = publish_of_will(will);
            match delay {
                None => {
                    router.publish(Some(key), &publish, None);
                }
                Some(delay) => {
                    let (router, shutdown) = (router.clone(), shutdown.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            _ = tokio::time::sleep(delay) => {
                                if !router.resumed_since(key, connection) {
                                    router.publish(Some(key), &publish, None);
                                }
                            }
                        }
                    });
                }
            }
        }
        conn.close().await;
    }
}
