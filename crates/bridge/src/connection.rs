//! Framing: whole MQTT packets over a [`Transport`].

use crate::stats::TrafficStats;
use crate::transport::{Transport, TransportError};
use bytes::BytesMut;
use mqtt_proto::{Packet, ProtocolVersion, StreamDecoder};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("protocol violation: {0}")]
    Protocol(#[from] mqtt_proto::Error),
    #[error("connection closed in the middle of a packet")]
    ClosedMidPacket,
    #[error(transparent)]
    Store(#[from] crate::store::StoreFailed),
}

/// Reads packets once they are whole and writes packets through one reusable
/// encode buffer.
pub struct Connection {
    transport: Transport,
    decoder: StreamDecoder,
    encode_buf: BytesMut,
    stats: Arc<TrafficStats>,
}

impl Connection {
    pub fn new(transport: Transport, max_packet_size: usize, stats: Arc<TrafficStats>) -> Self {
        TrafficStats::add(&stats.connections, 1);
        Connection {
            transport,
            stats,
            // CONNECT decodes the same in every version; the session sets the
            // version it names before anything else is read.
            decoder: StreamDecoder::new(max_packet_size, ProtocolVersion::V311),
            // Grown by the first write; idle connections hold next to nothing.
            encode_buf: BytesMut::new(),
        }
    }

    pub fn kind(&self) -> &'static str {
        self.transport.kind()
    }

    /// The protocol version packets are read and written in from now on.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.decoder.set_version(version);
    }

    /// The next packet, or `Ok(None)` when the peer closed cleanly between
    /// packets. Cancel-safe, so it can sit in a `select!`.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, ConnectionError> {
        loop {
            if let Some(packet) = self.buffered_packet()? {
                return Ok(Some(packet));
            }
            if self.decoder.buffered() == 0 {
                // Let go of a drained buffer: its bytes may live on in packets
                // still queued, but an idle connection keeps none of it.
                *self.decoder.buffer_mut() = BytesMut::new();
            }
            let n = self.transport.read_into(self.decoder.buffer_mut()).await?;
            if n == 0 {
                return match self.decoder.buffered() {
                    0 => Ok(None),
                    _ => Err(ConnectionError::ClosedMidPacket),
                };
            }
            TrafficStats::add(&self.stats.bytes_received, n as u64);
        }
    }

    /// The next packet if it is already whole in the receive buffer, without
    /// reading: callers handle everything that arrived together, then write
    /// their replies at once.
    pub fn buffered_packet(&mut self) -> Result<Option<Packet>, ConnectionError> {
        let Some(packet) = self.decoder.next_packet()? else {
            return Ok(None);
        };
        TrafficStats::add(&self.stats.messages_received, 1);
        if let Packet::Publish(_) = packet {
            TrafficStats::add(&self.stats.publish_received, 1);
        }
        Ok(Some(packet))
    }

    /// Encodes `packets` into one write.
    pub async fn write_packets(
        &mut self,
        packets: impl IntoIterator<Item = &Packet>,
    ) -> Result<(), ConnectionError> {
        let (mut count, mut publishes) = (0, 0);
        for packet in packets {
            packet.write(&mut self.encode_buf, self.decoder.version())?;
            count += 1;
            publishes += u64::from(matches!(packet, Packet::Publish(_)));
        }
        if self.encode_buf.is_empty() {
            return Ok(());
        }
        TrafficStats::add(&self.stats.messages_sent, count);
        TrafficStats::add(&self.stats.publish_sent, publishes);
        TrafficStats::add(&self.stats.bytes_sent, self.encode_buf.len() as u64);
        let bytes = self.encode_buf.split().freeze();
        self.transport.write(bytes).await?;
        Ok(())
    }

    pub async fn write_packet(&mut self, packet: &Packet) -> Result<(), ConnectionError> {
        self.write_packets([packet]).await
    }

    pub async fn close(&mut self) {
        self.transport.close().await
    }
}
