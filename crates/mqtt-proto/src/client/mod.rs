//! The client side of one MQTT connection as a deterministic state machine.
//!
//! The caller owns the transport and the clock. It calls [`ClientSession::connect`]
//! once the transport is open, passes received bytes to
//! [`ClientSession::handle_bytes`], sends what [`ClientSession::poll_transmit`]
//! returns, calls [`ClientSession::handle_timeout`] at [`ClientSession::poll_timeout`],
//! and reacts to [`ClientSession::poll_event`]. When an event says the session
//! is disconnected, the caller closes the transport; a new transport gets a new
//! `connect`, and QoS 1/2 messages still in flight are sent again.

mod outbox;

use crate::{
    topic, Ack, ByteStr, Error, LastWill, Packet, Properties, Property, ProtocolVersion, Publish,
    QoS, ReasonCode, StreamDecoder, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
};
use alloc::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    string::String,
    vec::Vec,
};
use bytes::{Bytes, BytesMut};
use outbox::{AckOutcome, Outbox};

/// A point in time, in milliseconds since an origin the caller picks.
///
/// The session has no clock of its own, so tests can step time exactly and the
/// browser can use `performance.now()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    fn plus_ms(self, ms: u64) -> Self {
        Instant(self.0.saturating_add(ms))
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub protocol: ProtocolVersion,
    pub client_id: String,
    /// Seconds between control packets; 0 turns keepalive off.
    pub keep_alive_secs: u16,
    /// Clean session (3.1.1) or clean start (5.0).
    pub clean_session: bool,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<LastWill>,
    /// Largest packet accepted from the server (announced to 5.0 servers).
    pub max_packet_size: usize,
    /// QoS 1/2 messages the server may have unacknowledged towards us (5.0).
    pub receive_maximum: u16,
    /// Topic aliases the server may use towards us (5.0); 0 allows none.
    pub topic_alias_maximum: u16,
    /// 5.0 Session Expiry Interval in seconds; 0 ends the session with the connection.
    pub session_expiry_secs: u32,
    /// How long to wait for CONNACK.
    pub connect_timeout_ms: u64,
}

impl ClientConfig {
    pub fn new(client_id: impl Into<String>) -> Self {
        ClientConfig {
            protocol: ProtocolVersion::V311,
            client_id: client_id.into(),
            keep_alive_secs: 30,
            clean_session: true,
            username: None,
            password: None,
            will: None,
            max_packet_size: 1024 * 1024,
            receive_maximum: 64,
            topic_alias_maximum: 16,
            session_expiry_secs: 0,
            connect_timeout_ms: 10_000,
        }
    }

    fn connect_properties(&self) -> Properties {
        let mut p = Properties::new();
        if !self.protocol.is_v5() {
            return p;
        }
        if self.session_expiry_secs > 0 {
            p.push(Property::SessionExpiryInterval(self.session_expiry_secs));
        }
        if self.receive_maximum != u16::MAX {
            p.push(Property::ReceiveMaximum(self.receive_maximum.max(1)));
        }
        if let Ok(max) = u32::try_from(self.max_packet_size) {
            p.push(Property::MaximumPacketSize(max.max(1)));
        }
        if self.topic_alias_maximum > 0 {
            p.push(Property::TopicAliasMaximum(self.topic_alias_maximum));
        }
        p
    }
}

/// Filters per SUBSCRIBE when a reconnect makes the subscriptions again.
const RESUBSCRIBE_BATCH: usize = 64;

/// What an outstanding SUBSCRIBE or UNSUBSCRIBE was about.
#[derive(Debug)]
enum PendingAck {
    Subscribe(Vec<ByteStr>),
    Unsubscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Disconnected,
    /// CONNECT sent, waiting for CONNACK.
    Connecting,
    Connected,
}

/// Why a session left the connected or connecting state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server answered CONNECT with a failure code.
    Refused(ReasonCode),
    /// The server sent DISCONNECT (5.0) with this reason.
    ServerDisconnected(ReasonCode),
    /// No CONNACK within the connect timeout.
    ConnectTimeout,
    /// No PINGRESP within one keepalive period of a PINGREQ.
    KeepAliveTimeout,
    /// The server broke the protocol; the error says how.
    ProtocolError(Error),
    /// The caller reported that the transport closed.
    TransportClosed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Connected {
        session_present: bool,
    },
    Message(Publish),
    /// The answer to a SUBSCRIBE: one reason code per filter, in order. Also
    /// sent for the SUBSCRIBE the session makes itself after a reconnect.
    SubAck {
        ack: SubAck,
        filters: Vec<ByteStr>,
    },
    UnsubAck(UnsubAck),
    /// A QoS 1 or 2 message finished its acknowledgement flow.
    Published {
        packet_id: u16,
    },
    Disconnected(DisconnectReason),
}

/// What the server's CONNACK allowed for this connection.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    receive_maximum: usize,
    max_packet_size: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: usize::from(u16::MAX),
            max_packet_size: crate::MAX_POSSIBLE_PACKET_SIZE,
        }
    }
}

#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: SessionState,
    decoder: StreamDecoder,
    outgoing: BytesMut,
    events: VecDeque<Event>,
    last_sent: Instant,
    connect_deadline: Instant,
    ping_sent: Option<Instant>,
    /// Keepalive in force: ours, or the 5.0 Server Keep Alive.
    keep_alive_secs: u16,
    limits: ServerLimits,
    outbox: Outbox,
    /// SUBSCRIBE and UNSUBSCRIBE awaiting their ack, by packet identifier.
    pending_acks: BTreeMap<u16, PendingAck>,
    /// The subscriptions the caller wants, by filter: added by `subscribe`,
    /// dropped by `unsubscribe` or a refusal, and made again when a reconnect
    /// finds no session on the server.
    subscriptions: BTreeMap<ByteStr, Subscription>,
    /// QoS 2 messages received and passed on, awaiting PUBREL (spec 4.3.3).
    incoming_qos2: BTreeSet<u16>,
    /// Topic aliases the server set up on this connection (5.0).
    incoming_aliases: BTreeMap<u16, ByteStr>,
    /// Whether a connection has ever been accepted: a later one may resume.
    has_connected: bool,
}

impl ClientSession {
    pub fn new(config: ClientConfig) -> Self {
        let decoder = StreamDecoder::new(config.max_packet_size, config.protocol);
        ClientSession {
            keep_alive_secs: config.keep_alive_secs,
            config,
            state: SessionState::Disconnected,
            decoder,
            outgoing: BytesMut::new(),
            events: VecDeque::new(),
            last_sent: Instant::default(),
            connect_deadline: Instant::default(),
            ping_sent: None,
            limits: ServerLimits::default(),
            outbox: Outbox::default(),
            pending_acks: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            incoming_qos2: BTreeSet::new(),
            incoming_aliases: BTreeMap::new(),
            has_connected: false,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// QoS 1/2 messages accepted by [`ClientSession::publish`] and not yet
    /// acknowledged, including those waiting for room in the window.
    pub fn unacknowledged(&self) -> usize {
        self.outbox.len()
    }

    /// Starts the handshake on a freshly opened transport.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.decoder.clear();
        self.outgoing.clear();
        self.ping_sent = None;
        self.keep_alive_secs = self.config.keep_alive_secs;
        self.limits = ServerLimits::default();
        self.incoming_aliases.clear();
        self.pending_acks.clear();
        let c = &self.config;
        let connect = Packet::from(crate::Connect {
            protocol: c.protocol,
            clean_session: c.clean_session,
            keep_alive: c.keep_alive_secs,
            client_id: ByteStr::from(c.client_id.as_str()),
            will: c.will.clone(),
            username: c.username.as_deref().map(ByteStr::from),
            password: c.password.clone(),
            properties: c.connect_properties(),
        });
        self.send(&connect, now)?;
        self.state = SessionState::Connecting;
        self.connect_deadline = now.plus_ms(self.config.connect_timeout_ms);
        Ok(())
    }

    /// Feeds bytes received from the transport.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: Instant) {
        if self.state == SessionState::Disconnected {
            return;
        }
        self.decoder.feed(bytes);
        while self.state != SessionState::Disconnected {
            match self.decoder.next_packet() {
                Ok(Some(packet)) => self.handle_packet(packet, now),
                Ok(None) => break,
                Err(e) => self.fail(e, now),
            }
        }
    }

    /// Tells the session its transport closed underneath it.
    pub fn handle_transport_closed(&mut self) {
        if self.state != SessionState::Disconnected {
            self.close(DisconnectReason::TransportClosed);
        }
    }

    /// Runs timers that are due: CONNACK timeout, keepalive ping and its timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            SessionState::Disconnected => {}
            SessionState::Connecting => {
                if now >= self.connect_deadline {
                    self.close(DisconnectReason::ConnectTimeout);
                }
            }
            SessionState::Connected => {
                let Some(period) = self.keep_alive_ms() else {
                    return;
                };
                match self.ping_sent {
                    Some(sent) if now >= sent.plus_ms(period) => {
                        self.close(DisconnectReason::KeepAliveTimeout)
                    }
                    Some(_) => {}
                    None if now >= self.last_sent.plus_ms(period) => {
                        // PINGREQ always encodes.
                        let _ = self.send(&Packet::PingReq, now);
                        self.ping_sent = Some(now);
                    }
                    None => {}
                }
            }
        }
    }

    /// When [`ClientSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            SessionState::Disconnected => None,
            SessionState::Connecting => Some(self.connect_deadline),
            SessionState::Connected => {
                let period = self.keep_alive_ms()?;
                Some(match self.ping_sent {
                    Some(sent) => sent.plus_ms(period),
                    None => self.last_sent.plus_ms(period),
                })
            }
        }
    }

    /// Bytes to write to the transport, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.outgoing.is_empty() {
            None
        } else {
            Some(self.outgoing.split().freeze())
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Subscribes to `subscriptions`; the answer arrives as [`Event::SubAck`]
    /// with the returned packet identifier.
    pub fn subscribe(
        &mut self,
        subscriptions: Vec<Subscription>,
        now: Instant,
    ) -> Result<u16, Error> {
        self.require_connected()?;
        if subscriptions.is_empty() {
            return Err(Error::NoTopicFilters(crate::PacketType::Subscribe));
        }
        for s in &subscriptions {
            topic::validate_topic_filter(&s.filter)?;
        }
        for s in &subscriptions {
            self.subscriptions.insert(s.filter.clone(), s.clone());
        }
        self.send_subscribe(subscriptions, now)
    }

    /// The subscriptions the session keeps (and makes again after a reconnect
    /// to a server that forgot them), in filter order.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subscriptions.values()
    }

    fn send_subscribe(
        &mut self,
        subscriptions: Vec<Subscription>,
        now: Instant,
    ) -> Result<u16, Error> {
        let packet_id = self.allocate_packet_id();
        let filters = subscriptions.iter().map(|s| s.filter.clone()).collect();
        let subscribe = Subscribe {
            packet_id,
            subscriptions,
            properties: Properties::new(),
        };
        self.send(&Packet::Subscribe(subscribe), now)?;
        self.pending_acks
            .insert(packet_id, PendingAck::Subscribe(filters));
        Ok(packet_id)
    }

    pub fn unsubscribe(&mut self, filters: Vec<ByteStr>, now: Instant) -> Result<u16, Error> {
        self.require_connected()?;
        if filters.is_empty() {
            return Err(Error::NoTopicFilters(crate::PacketType::Unsubscribe));
        }
        for f in &filters {
            topic::validate_topic_filter(f)?;
        }
        for f in &filters {
            self.subscriptions.remove(f);
        }
        let packet_id = self.allocate_packet_id();
        let unsubscribe = Unsubscribe {
            packet_id,
            filters,
            properties: Properties::new(),
        };
        self.send(&Packet::Unsubscribe(unsubscribe), now)?;
        self.pending_acks.insert(packet_id, PendingAck::Unsubscribe);
        Ok(packet_id)
    }

    /// Publishes a message. QoS 0 goes out now (and is dropped if not
    /// connected); QoS 1 and 2 get a packet identifier, which this returns, and
    /// are sent as the server's Receive Maximum allows, kept until acknowledged
    /// ([`Event::Published`]) and resent after a reconnect.
    pub fn publish(&mut self, mut publish: Publish, now: Instant) -> Result<Option<u16>, Error> {
        topic::validate_topic_name(publish.topic())?;
        publish.dup = false;
        // Refuse now what the server could never accept, rather than at resend time.
        let size = Packet::Publish(publish.clone()).encoded_len(self.config.protocol)?;
        if size > self.limits.max_packet_size {
            return Err(Error::PacketTooLarge {
                size,
                max: self.limits.max_packet_size,
            });
        }
        if publish.qos == QoS::AtMostOnce {
            self.require_connected()?;
            publish.packet_id = None;
            self.send(&Packet::Publish(publish), now)?;
            return Ok(None);
        }
        let id = self.allocate_packet_id();
        publish.packet_id = Some(id);
        self.outbox.push(publish);
        if self.state == SessionState::Connected {
            self.flush_window(now);
        }
        Ok(Some(id))
    }

    /// Sends DISCONNECT, after which the caller closes the transport.
    pub fn disconnect(&mut self, now: Instant) {
        if self.state == SessionState::Connected {
            let _ = self.send(&Packet::disconnect(), now);
        }
        self.state = SessionState::Disconnected;
    }

    fn handle_packet(&mut self, packet: Packet, now: Instant) {
        match (self.state, packet) {
            (SessionState::Connecting, Packet::ConnAck(ack)) => self.handle_connack(ack, now),
            (SessionState::Connected, Packet::Publish(publish)) => {
                self.handle_publish(publish, now)
            }
            (SessionState::Connected, Packet::PubAck(ack)) => {
                let outcome = self.outbox.puback(ack.packet_id);
                self.finish_outgoing(ack.packet_id, outcome, now)
            }
            (SessionState::Connected, Packet::PubRec(ack)) => {
                let outcome = self.outbox.pubrec(ack.packet_id, ack.reason.is_error());
                self.finish_outgoing(ack.packet_id, outcome, now)
            }
            (SessionState::Connected, Packet::PubComp(ack)) => {
                let outcome = self.outbox.pubcomp(ack.packet_id);
                self.finish_outgoing(ack.packet_id, outcome, now)
            }
            (SessionState::Connected, Packet::PubRel(ack)) => {
                self.incoming_qos2.remove(&ack.packet_id);
                let _ = self.send(&Packet::PubComp(Ack::new(ack.packet_id)), now);
            }
            (SessionState::Connected, Packet::SubAck(ack))
                if matches!(
                    self.pending_acks.get(&ack.packet_id),
                    Some(PendingAck::Subscribe(_))
                ) =>
            {
                let Some(PendingAck::Subscribe(filters)) = self.pending_acks.remove(&ack.packet_id)
                else {
                    return;
                };
                // A refused filter is not kept, so it is not retried on reconnect.
                for (filter, code) in filters.iter().zip(&ack.reason_codes) {
                    if code.is_error() {
                        self.subscriptions.remove(filter);
                    }
                }
                self.events.push_back(Event::SubAck { ack, filters })
            }
            (SessionState::Connected, Packet::UnsubAck(ack))
                if matches!(
                    self.pending_acks.get(&ack.packet_id),
                    Some(PendingAck::Unsubscribe)
                ) =>
            {
                self.pending_acks.remove(&ack.packet_id);
                self.events.push_back(Event::UnsubAck(ack))
            }
            (SessionState::Connected, Packet::PingResp) => self.ping_sent = None,
            (_, Packet::Disconnect(status)) if self.config.protocol.is_v5() => {
                self.close(DisconnectReason::ServerDisconnected(status.reason))
            }
            (_, other) => self.fail(Error::UnexpectedPacket(other.packet_type()), now),
        }
    }

    fn handle_connack(&mut self, ack: crate::ConnAck, now: Instant) {
        if ack.code != ReasonCode::Success {
            self.close(DisconnectReason::Refused(ack.code));
            return;
        }
        for p in ack.properties.iter() {
            match p {
                Property::ReceiveMaximum(n) => self.limits.receive_maximum = usize::from(*n),
                Property::MaximumPacketSize(n) => self.limits.max_packet_size = *n as usize,
                Property::ServerKeepAlive(secs) => self.keep_alive_secs = *secs,
                _ => {}
            }
        }
        self.state = SessionState::Connected;
        // MQTT 4.4: a resumed session resends what is in flight, in order.
        let resumed = ack.session_present && self.has_connected;
        self.has_connected = true;
        self.events.push_back(Event::Connected {
            session_present: ack.session_present,
        });
        if resumed {
            let resend: Vec<Packet> = self.outbox.resend_resumed().collect();
            for packet in resend {
                let _ = self.send(&packet, now);
            }
        } else {
            self.incoming_qos2.clear();
            for packet_id in self.outbox.restart_fresh() {
                self.events.push_back(Event::Published { packet_id });
            }
            // The server has no subscriptions for us: make them again, in
            // SUBSCRIBEs of a bounded size.
            let wanted: Vec<Subscription> = self.subscriptions.values().cloned().collect();
            for chunk in wanted.chunks(RESUBSCRIBE_BATCH) {
                let _ = self.send_subscribe(chunk.to_vec(), now);
            }
        }
        self.flush_window(now);
    }

    fn handle_publish(&mut self, mut publish: Publish, now: Instant) {
        if let Some(alias) = publish.topic_alias() {
            if alias > self.config.topic_alias_maximum {
                return self.fail(Error::TopicAliasInvalid(alias), now);
            }
            if publish.topic().is_empty() {
                match self.incoming_aliases.get(&alias) {
                    Some(topic) => publish.set_topic(topic),
                    None => return self.fail(Error::TopicAliasInvalid(alias), now),
                }
            } else {
                self.incoming_aliases
                    .insert(alias, ByteStr::from(publish.topic()));
            }
        }
        match (publish.qos, publish.packet_id) {
            (QoS::AtMostOnce, _) => self.events.push_back(Event::Message(publish)),
            (QoS::AtLeastOnce, Some(id)) => {
                let _ = self.send(&Packet::PubAck(Ack::new(id)), now);
                self.events.push_back(Event::Message(publish));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Pass the message on once; a DUP before PUBREL is answered again
                // but not delivered again.
                if !self.incoming_qos2.contains(&id)
                    && self.incoming_qos2.len() >= usize::from(self.config.receive_maximum)
                    && self.config.protocol.is_v5()
                {
                    return self.fail(Error::ReceiveMaximumExceeded, now);
                }
                if self.incoming_qos2.insert(id) {
                    self.events.push_back(Event::Message(publish));
                }
                let _ = self.send(&Packet::PubRec(Ack::new(id)), now);
            }
            // The decoder guarantees an identifier for QoS 1 and 2.
            (_, None) => self.fail(Error::ZeroPacketId, now),
        }
    }

    fn finish_outgoing(&mut self, packet_id: u16, outcome: AckOutcome, now: Instant) {
        match outcome {
            AckOutcome::Done => {
                self.events.push_back(Event::Published { packet_id });
                self.flush_window(now);
            }
            AckOutcome::Release => {
                let _ = self.send(&Packet::PubRel(Ack::new(packet_id)), now);
            }
            // MQTT 5.0 4.13: an ack for an unknown identifier is a protocol error.
            AckOutcome::Unknown => {
                self.fail(Error::UnexpectedPacket(crate::PacketType::PubAck), now)
            }
        }
    }

    fn flush_window(&mut self, now: Instant) {
        let window = self.limits.receive_maximum;
        let ready: Vec<Packet> = self.outbox.fill_window(window).collect();
        for packet in ready {
            let _ = self.send(&packet, now);
        }
    }

    fn require_connected(&self) -> Result<(), Error> {
        match self.state {
            SessionState::Connected => Ok(()),
            _ => Err(Error::NotConnected),
        }
    }

    /// A packet identifier no SUBSCRIBE, UNSUBSCRIBE or QoS 1/2 exchange in
    /// either direction is using.
    fn allocate_packet_id(&mut self) -> u16 {
        let incoming = &self.incoming_qos2;
        let pending = &self.pending_acks;
        self.outbox
            .allocate_id(|id| pending.contains_key(&id) || incoming.contains(&id))
    }

    fn keep_alive_ms(&self) -> Option<u64> {
        match self.keep_alive_secs {
            0 => None,
            secs => Some(u64::from(secs) * 1000),
        }
    }

    fn send(&mut self, packet: &Packet, now: Instant) -> Result<(), Error> {
        packet.write(&mut self.outgoing, self.config.protocol)?;
        self.last_sent = now;
        Ok(())
    }

    /// Ends the session over a protocol error, telling a 5.0 server why.
    fn fail(&mut self, error: Error, now: Instant) {
        if self.config.protocol.is_v5() && self.state == SessionState::Connected {
            let status = crate::Status::new(error.reason_code());
            let _ = self.send(&Packet::Disconnect(status), now);
        }
        self.close(DisconnectReason::ProtocolError(error));
    }

    fn close(&mut self, reason: DisconnectReason) {
        self.state = SessionState::Disconnected;
        self.ping_sent = None;
        self.events.push_back(Event::Disconnected(reason));
    }
}

#[cfg(test)]
mod tests;
