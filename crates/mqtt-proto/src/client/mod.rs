//! The client side of one MQTT connection as a deterministic state machine.
//!
//! The caller owns the transport and the clock. It calls [`ClientSession::connect`]
//! once the transport is open, passes received bytes to
//! [`ClientSession::handle_bytes`], sends what [`ClientSession::poll_transmit`]
//! returns, calls [`ClientSession::handle_timeout`] at [`ClientSession::poll_timeout`],
//! and reacts to [`ClientSession::poll_event`]. When an event says the session
//! is disconnected, the caller closes the transport; a new transport gets a new
//! `connect`.

use crate::{
    packet::SubAck, topic, ByteStr, ConnectReturnCode, Error, LastWill, Packet, ProtocolVersion,
    Publish, QoS, StreamDecoder, Subscribe, Subscription, Unsubscribe,
};
use alloc::{collections::BTreeSet, collections::VecDeque, string::String, vec::Vec};
use bytes::{Bytes, BytesMut};

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
    pub clean_session: bool,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<LastWill>,
    /// Largest packet accepted from the server.
    pub max_packet_size: usize,
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
            connect_timeout_ms: 10_000,
        }
    }
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
    /// The server answered CONNECT with a refusal.
    Refused(ConnectReturnCode),
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
    Connected { session_present: bool },
    Message(Publish),
    SubAck(SubAck),
    UnsubAck { packet_id: u16 },
    Disconnected(DisconnectReason),
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
    next_packet_id: u16,
    /// QoS 2 messages received and passed on, awaiting PUBREL (spec 4.3.3).
    incoming_qos2: BTreeSet<u16>,
}

impl ClientSession {
    pub fn new(config: ClientConfig) -> Self {
        let decoder = StreamDecoder::new(config.max_packet_size);
        ClientSession {
            config,
            state: SessionState::Disconnected,
            decoder,
            outgoing: BytesMut::new(),
            events: VecDeque::new(),
            last_sent: Instant::default(),
            connect_deadline: Instant::default(),
            ping_sent: None,
            next_packet_id: 0,
            incoming_qos2: BTreeSet::new(),
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Starts the handshake on a freshly opened transport.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.decoder.clear();
        self.outgoing.clear();
        self.ping_sent = None;
        let c = &self.config;
        let connect = Packet::Connect(crate::Connect {
            protocol: c.protocol,
            clean_session: c.clean_session,
            keep_alive: c.keep_alive_secs,
            client_id: ByteStr::from(c.client_id.as_str()),
            will: c.will.clone(),
            username: c.username.as_deref().map(ByteStr::from),
            password: c.password.clone(),
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
                Err(e) => self.close(DisconnectReason::ProtocolError(e)),
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
        let packet_id = self.allocate_packet_id();
        let subscribe = Subscribe {
            packet_id,
            subscriptions,
        };
        self.send(&Packet::Subscribe(subscribe), now)?;
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
        let packet_id = self.allocate_packet_id();
        self.send(
            &Packet::Unsubscribe(Unsubscribe { packet_id, filters }),
            now,
        )?;
        Ok(packet_id)
    }

    /// Publishes at QoS 0.
    pub fn publish(
        &mut self,
        topic: ByteStr,
        payload: Bytes,
        retain: bool,
        now: Instant,
    ) -> Result<(), Error> {
        self.require_connected()?;
        topic::validate_topic_name(&topic)?;
        let mut publish = Publish::new(topic, payload);
        publish.retain = retain;
        self.send(&Packet::Publish(publish), now)
    }

    /// Sends DISCONNECT, after which the caller closes the transport.
    pub fn disconnect(&mut self, now: Instant) {
        if self.state == SessionState::Connected {
            let _ = self.send(&Packet::Disconnect, now);
        }
        self.state = SessionState::Disconnected;
    }

    fn handle_packet(&mut self, packet: Packet, now: Instant) {
        match (self.state, packet) {
            (SessionState::Connecting, Packet::ConnAck(ack)) => {
                if ack.code == ConnectReturnCode::Accepted {
                    self.state = SessionState::Connected;
                    self.events.push_back(Event::Connected {
                        session_present: ack.session_present,
                    });
                } else {
                    self.close(DisconnectReason::Refused(ack.code));
                }
            }
            (SessionState::Connected, Packet::Publish(publish)) => {
                self.handle_publish(publish, now)
            }
            (SessionState::Connected, Packet::PubRel(id)) => {
                self.incoming_qos2.remove(&id);
                let _ = self.send(&Packet::PubComp(id), now);
            }
            (SessionState::Connected, Packet::SubAck(ack)) => {
                self.events.push_back(Event::SubAck(ack))
            }
            (SessionState::Connected, Packet::UnsubAck(packet_id)) => {
                self.events.push_back(Event::UnsubAck { packet_id })
            }
            (SessionState::Connected, Packet::PingResp) => self.ping_sent = None,
            (_, other) => self.close(DisconnectReason::ProtocolError(Error::UnexpectedPacket(
                other.packet_type(),
            ))),
        }
    }

    fn handle_publish(&mut self, publish: Publish, now: Instant) {
        match (publish.qos, publish.packet_id) {
            (QoS::AtMostOnce, _) => self.events.push_back(Event::Message(publish)),
            (QoS::AtLeastOnce, Some(id)) => {
                let _ = self.send(&Packet::PubAck(id), now);
                self.events.push_back(Event::Message(publish));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Pass the message on once; a DUP before PUBREL is answered again
                // but not delivered again.
                if self.incoming_qos2.insert(id) {
                    self.events.push_back(Event::Message(publish));
                }
                let _ = self.send(&Packet::PubRec(id), now);
            }
            // The decoder guarantees an identifier for QoS 1 and 2.
            (_, None) => self.close(DisconnectReason::ProtocolError(Error::ZeroPacketId)),
        }
    }

    fn require_connected(&self) -> Result<(), Error> {
        match self.state {
            SessionState::Connected => Ok(()),
            _ => Err(Error::NotConnected),
        }
    }

    fn allocate_packet_id(&mut self) -> u16 {
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        self.next_packet_id
    }

    fn keep_alive_ms(&self) -> Option<u64> {
        match self.config.keep_alive_secs {
            0 => None,
            secs => Some(u64::from(secs) * 1000),
        }
    }

    fn send(&mut self, packet: &Packet, now: Instant) -> Result<(), Error> {
        packet.write(&mut self.outgoing)?;
        self.last_sent = now;
        Ok(())
    }

    fn close(&mut self, reason: DisconnectReason) {
        self.state = SessionState::Disconnected;
        self.ping_sent = None;
        self.events.push_back(Event::Disconnected(reason));
    }
}

#[cfg(test)]
mod tests;
