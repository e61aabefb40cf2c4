//! One MQTT 3.1.1 connection, driven by mqtt-proto's `ClientSession` over TCP.

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use mqtt_proto::{
    ClientConfig, ClientSession, Event, Instant as ProtoInstant, Publish, QoS, Subscription,
};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Client {
    session: ClientSession,
    stream: TcpStream,
    received: BytesMut,
    origin: Instant,
    /// Bytes waiting to be written, gathered from the session.
    outgoing: BytesMut,
}

impl Client {
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        keep_alive_secs: u16,
        clean_session: bool,
    ) -> Result<Client> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let mut config = ClientConfig::new(client_id);
        config.keep_alive_secs = keep_alive_secs;
        config.clean_session = clean_session;
        let mut client = Client {
            session: ClientSession::new(config),
            stream,
            received: BytesMut::with_capacity(16 * 1024),
            origin: Instant::now(),
            outgoing: BytesMut::new(),
        };
        client.session.connect(client.now())?;
        client.flush().await?;
        loop {
            match client.next_event().await? {
                Event::Connected { .. } => return Ok(client),
                Event::Disconnected(reason) => bail!("{client_id}: refused: {reason:?}"),
                _ => {}
            }
        }
    }

    fn now(&self) -> ProtoInstant {
        ProtoInstant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<()> {
        self.session
            .subscribe(vec![Subscription::new(filter, qos)], self.now())?;
        self.flush().await?;
        loop {
            match self.next_event().await? {
                Event::SubAck { .. } => return Ok(()),
                Event::Disconnected(reason) => bail!("disconnected while subscribing: {reason:?}"),
                _ => {}
            }
        }
    }

    /// Queues a message; [`Client::flush`] sends it.
    pub fn publish(&mut self, publish: Publish) -> Result<()> {
        self.session.publish(publish, self.now())?;
        Ok(())
    }

    /// Writes everything the session has to send.
    pub async fn flush(&mut self) -> Result<()> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.outgoing.extend_from_slice(&bytes);
        }
        if !self.outgoing.is_empty() {
            self.stream.write_all(&self.outgoing).await?;
            self.outgoing.clear();
        }
        Ok(())
    }

    /// Reads once from the socket (waiting if nothing is there) and feeds the session.
    pub async fn read(&mut self) -> Result<()> {
        if self.stream.read_buf(&mut self.received).await? == 0 {
            bail!("the broker closed the connection");
        }
        let now = self.now();
        self.session.handle_bytes(&self.received, now);
        self.received.clear();
        Ok(())
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.session.poll_event()
    }

    /// QoS 1/2 messages published and not yet acknowledged.
    pub fn unacknowledged(&self) -> usize {
        self.session.unacknowledged()
    }

    async fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            self.read().await?;
            self.flush().await?;
        }
    }
}
