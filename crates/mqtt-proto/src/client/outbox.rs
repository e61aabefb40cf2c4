//! Outgoing QoS 1 and 2 messages: packet identifiers, the in-flight window
//! (the server's Receive Maximum), and what to resend after a reconnect.

use crate::{Packet, Publish, QoS};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// PUBLISH sent (QoS 1: awaiting PUBACK; QoS 2: awaiting PUBREC).
    Published,
    /// QoS 2 PUBREC received and PUBREL sent: awaiting PUBCOMP.
    Released,
}

#[derive(Debug)]
struct InFlight {
    publish: Publish,
    stage: Stage,
}

/// The client's side of QoS 1 and 2 delivery to the server.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    in_flight: BTreeMap<u16, InFlight>,
    /// Accepted but not yet sent: the window was full. Their identifiers
    /// are already given out, so `waiting_ids` keeps them from reuse.
    waiting: VecDeque<Publish>,
    waiting_ids: BTreeSet<u16>,
    last_id: u16,
}

/// What an acknowledgement from the server means for the caller.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AckOutcome {
    /// Delivery finished (PUBACK, or PUBCOMP, or a PUBREC with an error code).
    Done,
    /// PUBREC: send PUBREL for it.
    Release,
    /// No message with that identifier is in flight in that stage.
    Unknown,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.in_flight.len() + self.waiting.len()
    }

    /// A free identifier, also skipping those in flight.
    pub fn allocate_id(&mut self, also_taken: impl Fn(u16) -> bool) -> u16 {
        loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            let id = self.last_id;
            if !self.in_flight.contains_key(&id)
                && !self.waiting_ids.contains(&id)
                && !also_taken(id)
            {
                return self.last_id;
            }
        }
    }

    /// Queues a QoS 1/2 message that already carries its identifier.
    pub fn push(&mut self, publish: Publish) {
        self.waiting_ids.insert(publish.packet_id.unwrap_or(0));
        self.waiting.push_back(publish);
    }

    /// Moves waiting messages into flight while the window allows; returns
    /// what to send.
    pub fn fill_window(&mut self, window: usize) -> impl Iterator<Item = Packet> + '_ {
        core::iter::from_fn(move || {
            if self.in_flight.len() >= window {
                return None;
            }
            let publish = self.waiting.pop_front()?;
            let id = publish.packet_id.unwrap_or(0);
            self.waiting_ids.remove(&id);
            self.in_flight.insert(
                id,
                InFlight {
                    publish: publish.clone(),
                    stage: Stage::Published,
                },
            );
            Some(Packet::Publish(publish))
        })
    }

    pub fn puback(&mut self, id: u16) -> AckOutcome {
        self.finish_if(id, |f| {
            f.stage == Stage::Published && f.publish.qos == QoS::AtLeastOnce
        })
    }

    pub fn pubrec(&mut self, id: u16, failed: bool) -> AckOutcome {
        let Some(f) = self.in_flight.get_mut(&id) else {
            return AckOutcome::Unknown;
        };
        if f.publish.qos != QoS::ExactlyOnce {
            return AckOutcome::Unknown;
        }
        if failed {
            self.in_flight.remove(&id);
            return AckOutcome::Done;
        }
        f.stage = Stage::Released;
        AckOutcome::Release
    }

    pub fn pubcomp(&mut self, id: u16) -> AckOutcome {
        self.finish_if(id, |f| f.stage == Stage::Released)
    }

    fn finish_if(&mut self, id: u16, ok: impl Fn(&InFlight) -> bool) -> AckOutcome {
        match self.in_flight.get(&id) {
            Some(f) if ok(f) => {
                self.in_flight.remove(&id);
                AckOutcome::Done
            }
            _ => AckOutcome::Unknown,
        }
    }

    /// After a reconnect that resumed the session: everything in flight again,
    /// PUBLISH with DUP set, or PUBREL for released QoS 2 (spec 4.4).
    pub fn resend_resumed(&self) -> impl Iterator<Item = Packet> + '_ {
        self.in_flight.iter().map(|(&id, f)| match f.stage {
            Stage::Published => {
                let mut p = f.publish.clone();
                p.dup = true;
                Packet::Publish(p)
            }
            Stage::Released => Packet::PubRel(crate::Ack::new(id)),
        })
    }

    /// After a reconnect to a fresh session: the server forgot everything. A
    /// released QoS 2 message reached it already (it sent PUBREC), so it is
    /// done; unacknowledged ones are sent again as new messages, first in line.
    /// Returns the identifiers finished this way.
    pub fn restart_fresh(&mut self) -> alloc::vec::Vec<u16> {
        let mut done = alloc::vec::Vec::new();
        let in_flight = core::mem::take(&mut self.in_flight);
        for (id, f) in in_flight.into_iter().rev() {
            match f.stage {
                Stage::Released => done.push(id),
                Stage::Published => {
                    let mut p = f.publish;
                    p.dup = false;
                    self.waiting_ids.insert(id);
                    self.waiting.push_front(p);
                }
            }
        }
        done.reverse();
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(outbox: &mut Outbox) -> u16 {
        let id = outbox.allocate_id(|_| false);
        let mut p = Publish::new("t", &b"x"[..]);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(id);
        outbox.push(p);
        id
    }

    #[test]
    fn identifiers_of_waiting_messages_are_not_reused_after_wrapping() {
        let mut outbox = Outbox::default();
        let waiting = queued(&mut outbox); // never sent: the window stays closed
        for _ in 0..u16::MAX {
            let id = outbox.allocate_id(|_| false);
            assert_ne!(
                id, waiting,
                "identifier of a waiting message given out again"
            );
            assert_ne!(id, 0);
        }
        let sent: Vec<Packet> = outbox.fill_window(1).collect();
        assert!(matches!(&sent[..], [Packet::Publish(p)] if p.packet_id == Some(waiting)));
    }
}
