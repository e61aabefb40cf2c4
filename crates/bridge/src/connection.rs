//! Framing: whole MQTT packets over a [`Transport`].

use crate::transport::{Transport, TransportError};
use bytes::BytesMut;
use mqtt_proto::{Packet, StreamDecoder};

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("protocol violation: {0}")]
    Protocol(#[from] mqtt_proto::Error),
    #[error("connection closed in the middle of a packet")]
    ClosedMidPacket,
}

/// Reads packets once they are whole and writes packets through one reusable
/// encode buffer.
pub struct Connection {
    transport: Transport,
    decoder: StreamDecoder,
    encode_buf: BytesMut,
}

impl Connection {
    pub fn new(transport: Transport, max_packet_size: usize) -> Self {
        Connection {
            transport,
            decoder: StreamDecoder::new(max_packet_size),
            encode_buf: BytesMut::with_capacity(4096),
        }
    }

    pub fn kind(&self) -> &'static str {
        self.transport.kind()
    }

    /// The next packet, or `Ok(None)` when the peer closed cleanly between
    /// packets. Cancel-safe, so it can sit in a `select!`.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, ConnectionError> {
        loop {
            if let Some(packet) = self.decoder.next_packet()? {
                return Ok(Some(packet));
            }
            if self.transport.read_into(self.decoder.buffer_mut()).await? == 0 {
                return match self.decoder.buffered() {
                    0 => Ok(None),
                    _ => Err(ConnectionError::ClosedMidPacket),
                };
            }
        }
    }

    /// Encodes `packets` into one write.
    pub async fn write_packets(
        &mut self,
        packets: impl IntoIterator<Item = &Packet>,
    ) -> Result<(), ConnectionError> {
        for packet in packets {
            packet.write(&mut self.encode_buf)?;
        }
        if self.encode_buf.is_empty() {
            return Ok(());
        }
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
