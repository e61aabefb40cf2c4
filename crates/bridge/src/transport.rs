//! A client's byte stream, whichever listener it came in on.
//!
//! MQTT over WebSocket carries the same bytes as over TCP, in binary frames
//! whose boundaries mean nothing (spec 6.0), so both become "read some bytes,
//! write some bytes" here and everything above is shared.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
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
    /// Any other byte stream, named: TLS, or an in-memory pipe (fuzzing).
    Boxed(Box<dyn ByteStream>, &'static str),
    WebSocket(Box<WebSocketStream<Stream>>),
}

/// A byte stream a session can run over.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// What a WebSocket runs over: a plain or a TLS socket.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Bytes made room for before a TCP read.
const READ_CHUNK: usize = 8 * 1024;

impl Transport {
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Tcp(_) => "tcp",
            Transport::Boxed(_, kind) => kind,
            Transport::WebSocket(ws) => match ws.get_ref() {
                Stream::Plain(_) => "ws",
                Stream::Tls(_) => "wss",
            },
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
            Transport::Boxed(stream, _) => {
                // TLS: decrypted bytes come in records of up to 16 KiB.
                if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                    buf.reserve(READ_CHUNK);
                }
                Ok(stream.read_buf(buf).await?)
            }
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
            Transport::Boxed(stream, _) => {
                stream.write_all(&bytes).await?;
                // rustls buffers what it encrypts: push it out now.
                Ok(stream.flush().await?)
            }
            Transport::WebSocket(ws) => Ok(ws.send(Message::Binary(bytes)).await?),
        }
    }

    /// Best-effort orderly close; the peer may already be gone.
    pub async fn close(&mut self) {
        match self {
            Transport::Tcp(stream) => {
                let _ = stream.shutdown().await;
            }
            Transport::Boxed(stream, _) => {
                let _ = stream.shutdown().await;
            }
            Transport::WebSocket(ws) => {
                let _ = SinkExt::close(ws.as_mut()).await;
            }
        }
    }
}
