//! QoS 1 and 2 messages sent to one client and not yet acknowledged.
//!
//! No I/O and no clock: the session feeds it what it sends and what the
//! client acknowledges, and asks it what to resend when the client comes back.
//! It lives in the session's persistent state, so a client that reconnects
//! to a kept session gets its unacknowledged messages again with DUP set
//! (MQTT-4.4.0-1), and PUBREL for those it had already received.

use mqtt_proto::{Ack, Packet, Publish, QoS};
use std::collections::VecDeque;

/// Where one outgoing message is in its acknowledgement flow.
#[derive(Debug, Clone)]
enum Stage {
    /// Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published(Publish),
    /// QoS 2: PUBREC received, PUBREL sent; waiting for PUBCOMP.
    Released,
}

/// What an acknowledgement from the client did. `Option<u64>` is the
/// message's sequence number in the store, when it is stored.
#[derive(Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The flow is complete; the packet id is free again.
    Completed(Option<u64>),
    /// QoS 2 PUBREC: send this PUBREL.
    Release(Packet, Option<u64>),
    /// No message in flight has that packet id at that stage; ignored.
    Unknown,
}

/// The in-flight window: at most `max` messages awaiting acknowledgement, in
/// the order they were sent.
#[derive(Debug)]
pub struct Inflight {
    max: usize,
    next_id: u16,
    sent: VecDeque<Entry>,
}

#[derive(Debug)]
struct Entry {
    id: u16,
    /// The message's sequence number in the store, if stored.
    stored: Option<u64>,
    stage: Stage,
}

impl Inflight {
    /// A window of `max` messages (at least one).
    pub fn new(max: usize) -> Self {
        Inflight {
            max: max.max(1),
            next_id: 1,
            sent: VecDeque::new(),
        }
    }

    /// Changes the window, e.g. to a reconnecting 5.0 client's Receive Maximum.
    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// Whether another QoS 1/2 message may be sent now.
    pub fn has_room(&self) -> bool {
        self.sent.len() < self.max
    }

    /// How many more QoS 1/2 messages may be sent now.
    pub fn room(&self) -> usize {
        self.max.saturating_sub(self.sent.len())
    }

    /// Prepares `publish` (`stored` under that sequence number) for sending:
    /// a QoS 1/2 message gets a free packet identifier and is remembered
    /// until acknowledged. Callers check [`Inflight::has_room`] first; QoS 0
    /// passes through untouched.
    pub fn send(&mut self, mut publish: Publish, stored: Option<u64>) -> Publish {
        if publish.qos == QoS::AtMostOnce {
            publish.packet_id = None;
            return publish;
        }
        let id = self.free_id();
        publish.packet_id = Some(id);
        publish.dup = false;
        self.sent.push_back(Entry {
            id,
            stored,
            stage: Stage::Published(publish.clone()),
        });
        publish
    }

    /// A stored QoS 2 message that was in flight when the bridge stopped,
    /// with the id it was sent with: `released` once the client's PUBREC
    /// had come. In the order stored; resent like any other.
    pub fn restore(&mut self, mut publish: Publish, id: u16, stored: u64, released: bool) {
        publish.packet_id = Some(id);
        self.next_id = id.checked_add(1).unwrap_or(1);
        let stage = match released {
            true => Stage::Released,
            false => Stage::Published(publish),
        };
        self.sent.push_back(Entry {
            id,
            stored: Some(stored),
            stage,
        });
    }

    /// The next identifier not in flight. There are fewer messages in flight
    /// than identifiers (the window is at most 65,535), so this ends.
    fn free_id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            if !self.sent.iter().any(|e| e.id == id) {
                return id;
            }
        }
    }

    fn position(&self, id: u16) -> Option<usize> {
        // Acknowledgements nearly always come in order: the front is checked first.
        self.sent.iter().position(|e| e.id == id)
    }

    /// PUBACK for a QoS 1 message.
    pub fn puback(&mut self, id: u16) -> AckOutcome {
        match self.position(id) {
            Some(at) if self.published_at(at, QoS::AtLeastOnce) => {
                AckOutcome::Completed(self.sent.remove(at).and_then(|e| e.stored))
            }
            _ => AckOutcome::Unknown,
        }
    }

    /// PUBREC for a QoS 2 message: the client has it; release it. A repeated
    /// PUBREC (after a resend) gets the PUBREL again.
    pub fn pubrec(&mut self, id: u16) -> AckOutcome {
        let Some(at) = self.position(id) else {
            return AckOutcome::Unknown;
        };
        let released = matches!(self.sent[at].stage, Stage::Released);
        if !released && !self.published_at(at, QoS::ExactlyOnce) {
            return AckOutcome::Unknown;
        }
        self.sent[at].stage = Stage::Released;
        AckOutcome::Release(Packet::PubRel(Ack::new(id)), self.sent[at].stored)
    }

    /// PUBCOMP: the QoS 2 exchange is over.
    pub fn pubcomp(&mut self, id: u16) -> AckOutcome {
        match self.position(id) {
            Some(at) if matches!(self.sent[at].stage, Stage::Released) => {
                AckOutcome::Completed(self.sent.remove(at).and_then(|e| e.stored))
            }
            _ => AckOutcome::Unknown,
        }
    }

    fn published_at(&self, at: usize, qos: QoS) -> bool {
        matches!(&self.sent[at].stage, Stage::Published(p) if p.qos == qos)
    }

    /// What a resumed session sends again before anything new, in the
    /// original order: each unacknowledged PUBLISH with DUP set, and PUBREL
    /// for QoS 2 messages the client already acknowledged receiving.
    pub fn resend(&self) -> Vec<Packet> {
        self.sent
            .iter()
            .map(|e| match &e.stage {
                Stage::Published(p) => {
                    let mut again = p.clone();
                    again.dup = true;
                    Packet::Publish(again)
                }
                Stage::Released => Packet::PubRel(Ack::new(e.id)),
            })
            .collect()
    }

    /// Forgets everything, for a session that starts clean.
    pub fn clear(&mut self) {
        self.sent.clear();
        self.next_id = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(qos: QoS) -> Publish {
        let mut p = Publish::new("s/a/t", b"21.5");
        p.qos = qos;
        p
    }

    #[test]
    fn qos1_takes_an_id_until_puback() {
        let mut window = Inflight::new(2);
        let first = window.send(message(QoS::AtLeastOnce), None);
        let second = window.send(message(QoS::AtLeastOnce), None);
        assert_eq!((first.packet_id, second.packet_id), (Some(1), Some(2)));
        assert!(!window.has_room());
        assert_eq!(window.puback(2), AckOutcome::Completed(None));
        assert_eq!(window.puback(2), AckOutcome::Unknown);
        assert!(window.has_room());
        // Ids go round rather than reuse the one just freed, so a late
        // duplicate acknowledgement cannot complete the wrong message.
        assert_eq!(
            window.send(message(QoS::AtLeastOnce), None).packet_id,
            Some(3)
        );
    }

    #[test]
    fn qos2_releases_then_completes() {
        let mut window = Inflight::new(8);
        let sent = window.send(message(QoS::ExactlyOnce), None);
        let id = sent.packet_id.expect("QoS 2 has an id");
        assert_eq!(
            window.pubcomp(id),
            AckOutcome::Unknown,
            "PUBCOMP before PUBREC"
        );
        assert_eq!(
            window.puback(id),
            AckOutcome::Unknown,
            "PUBACK is for QoS 1"
        );
        let rel = AckOutcome::Release(Packet::PubRel(Ack::new(id)), None);
        assert_eq!(window.pubrec(id), rel);
        assert_eq!(
            window.pubrec(id),
            rel,
            "a repeated PUBREC is answered again"
        );
        assert_eq!(window.pubcomp(id), AckOutcome::Completed(None));
        assert!(window.is_empty());
    }

    #[test]
    fn qos0_passes_through() {
        let mut window = Inflight::new(1);
        let sent = window.send(message(QoS::AtMostOnce), None);
        assert_eq!(sent.packet_id, None);
        assert!(window.is_empty());
    }

    #[test]
    fn resend_repeats_publishes_with_dup_and_releases_in_order() {
        let mut window = Inflight::new(8);
        let a = window
            .send(message(QoS::ExactlyOnce), None)
            .packet_id
            .expect("id");
        let b = window
            .send(message(QoS::AtLeastOnce), None)
            .packet_id
            .expect("id");
        let _ = window.pubrec(a);
        let again = window.resend();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0], Packet::PubRel(Ack::new(a)));
        let Packet::Publish(p) = &again[1] else {
            panic!("a PUBLISH is resent")
        };
        assert_eq!(
            (p.dup, p.packet_id, p.qos),
            (true, Some(b), QoS::AtLeastOnce)
        );
    }

    #[test]
    fn ids_wrap_past_65535_and_skip_those_in_use() {
        let mut window = Inflight::new(4);
        let first = window.send(message(QoS::AtLeastOnce), None).packet_id;
        window.next_id = u16::MAX;
        let last = window.send(message(QoS::AtLeastOnce), None).packet_id;
        let wrapped = window.send(message(QoS::AtLeastOnce), None).packet_id;
        assert_eq!((first, last, wrapped), (Some(1), Some(u16::MAX), Some(2)));
    }
}
