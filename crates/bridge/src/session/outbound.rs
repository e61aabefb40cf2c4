//! Routed messages on their way to the client.

use super::{Session, WRITE_BATCH};
use crate::connection::ConnectionError;
use crate::router::Delivery;
use crate::store::record::Stage;
use crate::store::Op;
use mqtt_proto::{Packet, Property, QoS};
use std::time::Instant;

impl Session {
    /// Sends routed messages. Each that expired on the way is dropped, and
    /// so is each the client said is too large for it (MQTT-3.1.2-25); the
    /// rest get the time they have left, packet ids (QoS 1/2) and topic aliases.
    pub(super) async fn send(&mut self, deliveries: Vec<Delivery>) -> Result<(), ConnectionError> {
        let now = Instant::now();
        let version = self.agreed.version;
        let mut packets = Vec::with_capacity(deliveries.len());
        // Whether a stored QoS 2 message got its packet id: that must be on
        // disk before the client sees it (a resend after a crash reuses it).
        let mut ids_stored = false;
        for Delivery {
            mut publish,
            expires_at,
            stored,
        } in deliveries
        {
            if let Some(at) = expires_at {
                let Some(left) = at.checked_duration_since(now).filter(|d| !d.is_zero()) else {
                    tracing::debug!(
                        topic = publish.topic(),
                        "message expired before delivery; dropped"
                    );
                    self.forget(stored);
                    continue;
                };
                // What is left, rounded up: a message never lives longer than it was given.
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                set_expiry(
                    &mut publish.properties,
                    secs.min(u64::from(u32::MAX)) as u32,
                );
            }
            // A subscription may cover topics a deny rule excludes, and a
            // retained message is checked like a live one.
            if !self.identity.can_read(publish.topic()) {
                self.forget(stored);
                continue;
            }
            if let Some(max) = self.agreed.client_max_packet_size {
                // With a packet id (2 bytes) whatever its QoS: an upper bound.
                let size = Packet::Publish(publish.clone())
                    .encoded_len(version)
                    .unwrap_or(usize::MAX)
                    + 2;
                if size > max as usize {
                    tracing::debug!(
                        topic = publish.topic(),
                        size,
                        max,
                        "message larger than the client accepts; dropped"
                    );
                    self.forget(stored);
                    continue;
                }
            }
            // The window keeps the message as sent before its topic is
            // aliased: aliases do not survive a reconnect, resends must not use one.
            let mut publish = self.state.inflight.send(publish, stored);
            if let (Some(seq), Some(id), QoS::ExactlyOnce) =
                (stored, publish.packet_id, publish.qos)
            {
                let stage = Stage::Sent(id);
                self.persist(Op::Stage {
                    key: self.key,
                    seq,
                    stage,
                });
                ids_stored = true;
            }
            if version.is_v5() {
                self.outbound_aliases.apply(&mut publish);
            }
            packets.push(Packet::Publish(publish));
        }
        if let Some(store) = self.store.as_ref().filter(|s| ids_stored && s.waits()) {
            store.durable(store.ticket()).await?;
        }
        self.conn.write_packets(&packets).await
    }

    /// A stored message that will not be sent: it leaves the store.
    fn forget(&self, stored: Option<u64>) {
        if let Some(seq) = stored {
            self.persist(Op::Done { key: self.key, seq });
        }
    }
}

impl Session {
    /// Retained messages owed to new subscriptions, as many as the window
    /// has room for (QoS 0 ones take none, but count towards the batch).
    pub(super) async fn send_retained(&mut self) -> Result<(), ConnectionError> {
        let room = self.state.inflight.room().min(WRITE_BATCH);
        let due: Vec<_> = (0..room)
            .map_while(|_| self.state.retained.pop_front())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        self.send(due).await
    }
}

/// Replaces the Message Expiry Interval in `properties`, in one allocation
/// (this runs for every delivery of an expiring message; `retain` and then
/// `push` would reallocate twice).
fn set_expiry(properties: &mut mqtt_proto::Properties, secs: u32) {
    *properties = properties
        .iter()
        .filter(|p| !matches!(p, Property::MessageExpiryInterval(_)))
        .cloned()
        .chain([Property::MessageExpiryInterval(secs)])
        .collect();
}
