//! What a client's session holds apart from its connection, and keeps
//! between connections when the client asked for that (MQTT 3.1.1 clean
//! session 0): messages routed to it, messages in flight, and QoS 2 messages
//! received but not yet released. Its subscriptions live in the router.
//!
//! One connection at a time owns it, through an async mutex: a client that
//! takes over its session waits until the previous connection has let go,
//! so no message is sent twice or lost between them.

use crate::inflight::Inflight;
use crate::queue::SessionQueue;
use crate::router::Delivery;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

pub struct SessionState {
    /// Deliveries the router queued for this session, bounded (see
    /// [`crate::router::Router::publish`] for what happens when it is full).
    pub outbound: Arc<SessionQueue>,
    /// Retained messages owed to new subscriptions, sent before anything
    /// routed after them; as many as matched, not bounded by the queue.
    pub retained: VecDeque<Delivery>,
    /// QoS 1 and 2 messages sent and not yet acknowledged.
    pub inflight: Inflight,
    /// QoS 2 packet ids received and routed, until the client's PUBREL: a
    /// resent PUBLISH with one of them is acknowledged, not routed again.
    pub incoming_qos2: HashSet<u16>,
}

impl SessionState {
    pub fn new(outbound: Arc<SessionQueue>, max_inflight: usize) -> Self {
        SessionState {
            outbound,
            retained: VecDeque::new(),
            inflight: Inflight::new(max_inflight),
            incoming_qos2: HashSet::new(),
        }
    }
}
