//! A client's byte stream, whichever listener it came in on.
//!
//! MQTT over WebSocket carries the same bytes as over TCP, in binary frames
//! whose boundaries mean nothing (spec 6.0), so both become "read some bytes,
//! write some bytes" here and everything above is shared.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, WebSocketStream};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// MQTT-6.0.0-1: a text frame closes the connection.
    #[error("WebSocket text frame; MQTT travels in binary frames")]
    TextFrame,
}

pub enum Transport {
    Tcp(TcpStream),
    WebSocket(Box<WebSocketStream<TcpStream>>),
}

/// Bytes made room for before a TCP read.
const READ_CHUNK: usize = 8 * 1024;

impl Transport {
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Tcp(_) => "tcp",
            Transport::WebSocket(_) => "ws",
        }
    }

    /// Appends received bytes to `buf`; `Ok(0)` means the peer closed.
    /// Cancel-safe: a cancelled read loses no bytes.
    pub async fn read_into(&mut self, buf: &mut BytesMut) -> Result<usize, TransportError> {
        match self {
            Transport::Tcp(stream) => loop {
                // Room is made only once data is there, so an idle connection
                // holds no read buffer; then in chunks large enough that a
                // busy one reads many packets per system call.
                stream.readable().await?;
                if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                    buf.reserve(READ_CHUNK);
                }
                match stream.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Readiness can be reported before there is data (a new
                        // socket's first poll): give the room back while waiting.
                        if buf.is_empty() {
                            *buf = BytesMut::new();
                        }
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            },
            Transport::WebSocket(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(data))) if !data.is_empty() => {
                        buf.extend_from_slice(&data);
                        return Ok(data.len());
                    }
                    Some(Ok(Message::Text(_))) => return Err(TransportError::TextFrame),
                    // Pings are answered by tungstenite itself; empty frames carry nothing.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                }
            },
        }
    }

    pub async fn write(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        match self {
            Transport::Tcp(stream) => Ok(stream.write_all(&bytes).await?),
            Transport::WebSocket(ws) => Ok(ws.send(Message::Binary(bytes)).await?),
        }
    }

    /// Best-effort orderly close; the peer may already be gone.
    pub async fn close(&mut self) {
        match self {
            Transport::Tcp(stream) => {
                let _ = stream.shutdown().await;
            }
            Transport::WebSocket(ws) => {
                let _ = SinkExt::close(ws.as_mut()).await;
            }
        }
    }
}
