//! What each packet from the client does.

use super::{End, Session};
use crate::connection::ConnectionError;
use crate::inflight::{AckOutcome, Inflight};
use crate::limits::LimitCounters;
use crate::store::record::Stage;
use crate::store::Op;
use crate::topic_alias::AliasError;
use crate::trie::SubOptions;
use mqtt_proto::{
    topic, Ack, Packet, Property, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
};
use std::time::{Duration, Instant};

impl Session {
    /// Handles one packet; `Some` when the connection ends because of it.
    pub(super) async fn handle(&mut self, packet: Packet) -> Option<End> {
        let reply = match packet {
            Packet::Publish(publish) => match self.handle_publish(publish) {
                Ok(reply) => reply,
                Err(end) => return Some(end),
            },
            Packet::PubRel(ack) => {
                let known = self.state.incoming_qos2.remove(&ack.packet_id);
                if known {
                    self.persist(Op::IncomingQos2 {
                        key: self.key,
                        packet_id: ack.packet_id,
                        held: false,
                    });
                }
                let mut comp = Ack::new(ack.packet_id);
                if !known {
                    comp.reason = ReasonCode::PacketIdentifierNotFound;
                }
                Some(Packet::PubComp(comp))
            }
            Packet::PubAck(ack) => self.acknowledged(ack.packet_id, Inflight::puback),
            Packet::PubRec(ack) => self.acknowledged(ack.packet_id, Inflight::pubrec),
            Packet::PubComp(ack) => self.acknowledged(ack.packet_id, Inflight::pubcomp),
            Packet::Subscribe(subscribe) => Some(self.subscribe(subscribe)),
            Packet::Unsubscribe(unsubscribe) => {
                let reason_codes = unsubscribe
                    .filters
                    .iter()
                    .map(|filter| match self.router.unsubscribe(self.key, filter) {
                        true => ReasonCode::Success,
                        false => ReasonCode::NoSubscriptionExisted,
                    })
                    .collect();
                Some(Packet::UnsubAck(SubAck::new(
                    unsubscribe.packet_id,
                    reason_codes,
                )))
            }
            Packet::PingReq => Some(Packet::PingResp),
            Packet::Disconnect(status) => return Some(self.disconnected(&status)),
            other => {
                return Some(End::Error(ConnectionError::Protocol(
                    mqtt_proto::Error::UnexpectedPacket(other.packet_type()),
                )))
            }
        };
        let subscribed = matches!(reply, Some(Packet::SubAck(_)));
        self.replies.extend(reply);
        if subscribed {
            // Retained messages right after the SUBACK, before anything else
            // the client sent is answered, as far as the window allows.
            let sent = match self.flush_replies().await {
                Ok(()) => self.send_retained().await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                return Some(End::Error(e));
            }
        }
        None
    }

    /// Writes the replies gathered so far.
    pub(super) async fn flush_replies(&mut self) -> Result<(), ConnectionError> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let replies = std::mem::take(&mut self.replies);
        let written = match super::durable_before_acks(self.store.as_ref(), &replies).await {
            Ok(()) => self.conn.write_packets(&replies).await,
            Err(e) => Err(e.into()),
        };
        // Keep the allocation for the next round.
        self.replies = replies;
        self.replies.clear();
        written
    }

    fn handle_publish(&mut self, mut publish: Publish) -> Result<Option<Packet>, End> {
        if let Err(e) = self.inbound_aliases.resolve(&mut publish) {
            return Err(match e {
                AliasError::OutOfRange(_) => {
                    End::Violation(ReasonCode::TopicAliasInvalid, "topic alias out of range")
                }
                AliasError::Unknown(_) => {
                    End::Violation(ReasonCode::ProtocolError, "topic alias never defined")
                }
            });
        }
        // Subscription identifiers are ours to add, per subscriber.
        if publish
            .properties
            .iter()
            .any(|p| matches!(p, Property::SubscriptionIdentifier(_)))
        {
            return Err(End::Violation(
                ReasonCode::ProtocolError,
                "PUBLISH from a client with a Subscription Identifier",
            ));
        }
        let expires_at = publish
            .properties
            .find(|p| match p {
                Property::MessageExpiryInterval(s) => Some(*s),
                _ => None,
            })
            .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
        let (qos, packet_id) = (publish.qos, publish.packet_id);
        if let Some(rate) = &mut self.publish_rate {
            let admitted = rate.try_take(Instant::now());
            if !admitted {
                LimitCounters::bump(&self.counters.publishes_throttled);
                if !self.throttled {
                    tracing::warn!(
                        client_id = self.agreed.client_id,
                        "publishing faster than the configured rate; dropping its messages until it slows down"
                    );
                }
            }
            self.throttled = !admitted;
            if !admitted {
                return Ok(self.refuse_publish(&publish, ReasonCode::QuotaExceeded));
            }
        }
        if !self.identity.can_write(publish.topic()) {
            tracing::info!(
                client_id = self.agreed.client_id,
                user = self.identity.username.as_deref().unwrap_or(""),
                topic = publish.topic(),
                "PUBLISH not allowed by the ACL; dropped"
            );
            return Ok(self.refuse_publish(&publish, ReasonCode::NotAuthorized));
        }
        let Some(id) = packet_id.filter(|_| qos != QoS::AtMostOnce) else {
            self.router.publish(Some(self.key), &publish, expires_at);
            return Ok(None);
        };
        if qos == QoS::ExactlyOnce {
            // Route once; a retransmission before PUBREL is only acknowledged
            // (MQTT-4.3.3-9), also after a reconnect.
            if self.state.incoming_qos2.contains(&id) {
                return Ok(Some(Packet::PubRec(Ack::new(id))));
            }
            if self.state.incoming_qos2.len() >= usize::from(self.receive_maximum) {
                return Err(End::Violation(
                    ReasonCode::ReceiveMaximumExceeded,
                    "more QoS 2 messages in flight than announced",
                ));
            }
            self.state.incoming_qos2.insert(id);
        }
        let qos2_id = (qos == QoS::ExactlyOnce).then_some(id);
        let matched = self
            .router
            .publish_received(Some(self.key), &publish, expires_at, qos2_id);
        let mut ack = Ack::new(id);
        if matched == 0 {
            // 5.0 only: 3.1.1 acknowledgements have no reason code.
            ack.reason = ReasonCode::NoMatchingSubscribers;
        }
        Ok(Some(match qos {
            QoS::ExactlyOnce => Packet::PubRec(ack),
            _ => Packet::PubAck(ack),
        }))
    }

    /// A PUBLISH not taken (the ACL or a rate limit): dropped, and
    /// acknowledged as usual in 3.1.1 (which has no way to say no) or with
    /// `reason` in 5.0.
    fn refuse_publish(&mut self, publish: &Publish, reason: ReasonCode) -> Option<Packet> {
        let id = publish.packet_id?;
        let mut ack = Ack::new(id);
        ack.reason = reason;
        match publish.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => Some(Packet::PubAck(ack)),
            QoS::ExactlyOnce => {
                // A 3.1.1 client goes on with PUBREL, which must find the id;
                // a 5.0 one stops at a PUBREC with an error code.
                if !self.agreed.version.is_v5() {
                    self.state.incoming_qos2.insert(id);
                }
                Some(Packet::PubRec(ack))
            }
        }
    }

    fn subscribe(&mut self, subscribe: Subscribe) -> Packet {
        let id = subscribe.properties.find(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(*id),
            _ => None,
        });
        let mut reason_codes = Vec::with_capacity(subscribe.subscriptions.len());
        for s in &subscribe.subscriptions {
            // Retained messages are not sent for a shared subscription
            // (MQTT 5.0 section 4.8.2): the group's members would all get them.
            let shared = topic::parse_shared(&s.filter).is_some();
            let options = SubOptions {
                qos: s.qos,
                no_local: s.no_local,
                retain_as_published: s.retain_as_published,
                id,
            };
            if self.max_subscriptions > 0
                && self.router.subscriptions_of(self.key) >= self.max_subscriptions
                && !self.router.is_subscribed(self.key, &s.filter)
            {
                LimitCounters::bump(&self.counters.subscriptions_refused);
                if reason_codes.iter().all(|c: &ReasonCode| !c.is_error()) {
                    tracing::warn!(
                        client_id = self.agreed.client_id,
                        max = self.max_subscriptions,
                        "subscription limit reached; refusing more"
                    );
                }
                reason_codes.push(ReasonCode::QuotaExceeded);
                continue;
            }
            if !self.identity.can_subscribe(&s.filter) {
                tracing::info!(
                    client_id = self.agreed.client_id,
                    user = self.identity.username.as_deref().unwrap_or(""),
                    filter = &*s.filter,
                    "SUBSCRIBE not allowed by the ACL"
                );
                // 3.1.1 writes any refusal as 0x80.
                reason_codes.push(ReasonCode::NotAuthorized);
                continue;
            }
            let new = self.router.subscribe(self.key, &s.filter, options);
            reason_codes.push(ReasonCode::granted(s.qos));
            let wants_retained = !shared
                && match s.retain_handling {
                    RetainHandling::SendOnSubscribe => true,
                    RetainHandling::SendIfNewSubscription => new,
                    RetainHandling::DoNotSend => false,
                };
            if wants_retained {
                // Sent after the SUBACK, through the in-flight window like any
                // QoS 1/2 message, so their acknowledgements are expected.
                let retained = self.router.retained_for(&s.filter, &options);
                self.state.retained.extend(retained);
            }
        }
        Packet::SubAck(SubAck::new(subscribe.packet_id, reason_codes))
    }

    /// Applies an acknowledgement of one of our messages to the window.
    fn acknowledged(
        &mut self,
        packet_id: u16,
        step: fn(&mut Inflight, u16) -> AckOutcome,
    ) -> Option<Packet> {
        let key = self.key;
        match step(&mut self.state.inflight, packet_id) {
            AckOutcome::Completed(stored) => {
                if let Some(seq) = stored {
                    self.persist(Op::Done { key, seq });
                }
                None
            }
            AckOutcome::Release(pubrel, stored) => {
                if let Some(seq) = stored {
                    let stage = Stage::Released(packet_id);
                    self.persist(Op::Stage { key, seq, stage });
                }
                Some(pubrel)
            }
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

    /// The client's DISCONNECT; in 5.0 it may change the session expiry
    /// (not from zero, MQTT-3.14.2-2) and ask for its Will to be published.
    fn disconnected(&mut self, status: &mqtt_proto::Status) -> End {
        let expiry = status.properties.find(|p| match p {
            Property::SessionExpiryInterval(s) => Some(*s),
            _ => None,
        });
        if let Some(secs) = expiry {
            if !self.agreed.expiry.keeps() && secs > 0 {
                return End::Violation(
                    ReasonCode::ProtocolError,
                    "session expiry set in DISCONNECT after CONNECT said 0",
                );
            }
            self.agreed.expiry = crate::handshake::SessionExpiry::from_secs(secs);
        }
        End::Disconnected {
            with_will: status.reason == ReasonCode::DisconnectWithWillMessage,
        }
    }
}
