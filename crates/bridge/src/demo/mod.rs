//! Simulated sensor devices. Each is a real MQTT client that connects to the
//! bridge's own TCP listener over loopback and drives `mqtt-proto`'s
//! [`ClientSession`], exactly as firmware on a NodeMCU board would talk to it.
//! Devices speak MQTT 5.0, obey commands on `sensors/<device>/cmd` (see
//! [`command`]) and report their pump and LED as retained messages.

pub mod command;

use command::{ack_payload, command_id, on_off, Command, Controls};

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    ByteStr, ClientConfig, ClientSession, Event, Instant as ProtoInstant, LastWill, Properties,
    Property, ProtocolVersion, Publish, QoS, Subscription,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct DemoDevice {
    pub name: &'static str,
    /// Temperature (°C) the reading drifts around.
    pub base_temperature: f64,
    /// Soil moisture (%) the reading drifts around.
    pub base_moisture: f64,
}

pub const DEVICES: [DemoDevice; 3] = [
    DemoDevice {
        name: "greenhouse-1",
        base_temperature: 24.5,
        base_moisture: 62.0,
    },
    DemoDevice {
        name: "greenhouse-2",
        base_temperature: 21.0,
        base_moisture: 48.0,
    },
    DemoDevice {
        name: "orchard",
        base_temperature: 16.5,
        base_moisture: 33.0,
    },
];

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a device on this machine reaches a listener bound to `addr`
/// (a wildcard bind is reached over loopback).
pub fn loopback_target(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Slowly varying, plausible readings: a mean-reverting random walk.
#[derive(Debug, Clone)]
pub struct Sensor {
    rng: u64,
    base_temperature: f64,
    base_moisture: f64,
    pub temperature: f64,
    pub moisture: f64,
    /// While the pump runs, the soil gets wetter with each reading.
    pub pump_on: bool,
}

impl Sensor {
    pub fn new(device: &DemoDevice, seed: u64) -> Self {
        Sensor {
            rng: seed | 1,
            base_temperature: device.base_temperature,
            base_moisture: device.base_moisture,
            temperature: device.base_temperature,
            moisture: device.base_moisture,
            pump_on: false,
        }
    }

    /// Uniform in [-1, 1), from xorshift64: no dependency for a toy signal.
    fn noise(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Advances one reading interval.
    pub fn step(&mut self) {
        let t_noise = self.noise();
        let m_noise = self.noise();
        self.temperature += 0.08 * (self.base_temperature - self.temperature) + 0.25 * t_noise;
        // Watering pulls moisture up towards saturation; without it the soil
        // dries back towards the device's usual level.
        let (target, pull) = if self.pump_on {
            (PUMP_MOISTURE, 0.15)
        } else {
            (self.base_moisture, 0.05)
        };
        self.moisture += pull * (target - self.moisture) + 0.6 * m_noise;
        self.moisture = self.moisture.clamp(0.0, 100.0);
    }
}

fn topic(device: &str, leaf: &str) -> String {
    format!("sensors/{device}/{leaf}")
}

fn reading(device: &str, leaf: &str, value: f64) -> Publish {
    Publish::new(&topic(device, leaf), format!("{value:.1}"))
}

/// Moisture (%) a running pump brings the soil towards.
const PUMP_MOISTURE: f64 = 88.0;

/// A retained report of a switch (`sensors/<device>/pump`, `.../led`).
fn switch_report(device: &str, leaf: &str, on: bool) -> Publish {
    let mut p = Publish::new(&topic(device, leaf), on_off(on));
    p.retain = true;
    p.qos = QoS::AtLeastOnce;
    p
}

/// Obeys one message on the device's `cmd` topic and builds the
/// acknowledgement: to the command's Response Topic if it has one, else to
/// `sensors/<device>/cmd/ack`, with its Correlation Data copied.
fn obey(device: &str, command: &Publish, controls: &mut Controls) -> Publish {
    let outcome = Command::parse(command.payload()).map(|c| {
        c.apply(controls);
        (c.id, *controls)
    });
    let (id, outcome) = match outcome {
        Ok((id, controls)) => (id, Ok(controls)),
        Err(e) => (command_id(command.payload()), Err(e)),
    };
    let mut response_topic = None;
    let mut properties = Vec::new();
    for property in command.properties.iter() {
        match property {
            Property::ResponseTopic(t) if mqtt_proto::topic::validate_topic_name(t).is_ok() => {
                response_topic = Some(t.to_string())
            }
            Property::CorrelationData(d) => properties.push(Property::CorrelationData(d.clone())),
            _ => {}
        }
    }
    let ack_topic = response_topic.unwrap_or_else(|| topic(device, "cmd/ack"));
    let mut ack = Publish::new(&ack_topic, ack_payload(id, outcome));
    ack.qos = QoS::AtLeastOnce;
    ack.properties = properties.into_iter().collect();
    ack
}

fn status(device: &str, online: bool) -> Publish {
    let payload = if online { "online" } else { "offline" };
    let mut p = Publish::new(&topic(device, "status"), payload);
    p.retain = true;
    p
}

/// FNV-1a, so devices started in the same nanosecond still differ.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs one device until `shutdown`, reconnecting with backoff when the
/// connection drops.
pub async fn run_device(device: DemoDevice, target: SocketAddr, shutdown: CancellationToken) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ name_hash(device.name);
    let mut sensor = Sensor::new(&device, seed);
    let mut backoff = Duration::from_millis(100);
    loop {
        match connect_and_publish(&device, &mut sensor, target, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(device = device.name, error = %format!("{e:#}"), "demo device disconnected; retrying")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: `Ok(())` on shutdown, an error when the link failed.
async fn connect_and_publish(
    device: &DemoDevice,
    sensor: &mut Sensor,
    target: SocketAddr,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    let _ = stream.set_nodelay(true);
    let origin = Instant::now();
    let now = || ProtoInstant::from_millis(origin.elapsed().as_millis() as u64);

    let mut config = ClientConfig::new(format!("demo-{}", device.name));
    config.protocol = ProtocolVersion::V5;
    config.keep_alive_secs = 30;
    config.will = Some(LastWill {
        topic: topic(device.name, "status").into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Properties::new(),
    });
    let mut session = ClientSession::new(config);
    session.connect(now())?;

    let mut received = BytesMut::with_capacity(1024);
    let mut controls = Controls {
        pump: sensor.pump_on,
        ..Controls::default()
    };
    let mut readings = tokio::time::interval(controls.interval);
    let mut connected = false;
    let cmd_topic = topic(device.name, "cmd");
    loop {
        while let Some(event) = session.poll_event() {
            match event {
                Event::Connected { .. } => {
                    connected = true;
                    session.publish(status(device.name, true), now())?;
                    session.publish(switch_report(device.name, "pump", controls.pump), now())?;
                    session.publish(switch_report(device.name, "led", controls.led), now())?;
                    let cmd =
                        Subscription::new(ByteStr::from(cmd_topic.as_str()), QoS::AtLeastOnce);
                    session.subscribe(vec![cmd], now())?;
                    tracing::debug!(device = device.name, "demo device online");
                }
                Event::Message(command) if command.topic() == cmd_topic => {
                    let before = controls;
                    let ack = obey(device.name, &command, &mut controls);
                    tracing::info!(device = device.name, command = %String::from_utf8_lossy(command.payload()), "demo device command");
                    sensor.pump_on = controls.pump;
                    if controls.pump != before.pump {
                        session
                            .publish(switch_report(device.name, "pump", controls.pump), now())?;
                    }
                    if controls.led != before.led {
                        session.publish(switch_report(device.name, "led", controls.led), now())?;
                    }
                    if controls.interval != before.interval {
                        readings = tokio::time::interval_at(
                            Instant::now() + controls.interval,
                            controls.interval,
                        );
                    }
                    session.publish(ack, now())?;
                }
                Event::Disconnected(reason) => bail!("session ended: {reason:?}"),
                _ => {}
            }
        }
        while let Some(bytes) = session.poll_transmit() {
            stream.write_all(&bytes).await?;
        }
        let deadline = session
            .poll_timeout()
            .map(|t| origin + Duration::from_millis(t.as_millis()));
        tokio::select! {
            _ = shutdown.cancelled() => {
                if connected {
                    session.publish(status(device.name, false), now())?;
                }
                session.disconnect(now());
                while let Some(bytes) = session.poll_transmit() {
                    stream.write_all(&bytes).await?;
                }
                return Ok(());
            }
            n = stream.read_buf(&mut received) => {
                if n? == 0 {
                    bail!("bridge closed the connection");
                }
                session.handle_bytes(&received, now());
                received.clear();
            }
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                session.handle_timeout(now());
            }
            _ = readings.tick(), if connected => {
                sensor.step();
                session.publish(reading(device.name, "temperature", sensor.temperature), now())?;
                session.publish(reading(device.name, "moisture", sensor.moisture), now())?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_stay_plausible_and_vary_slowly() {
        for device in &DEVICES {
            let mut sensor = Sensor::new(device, 42);
            let mut distinct = std::collections::BTreeSet::new();
            for _ in 0..10_000 {
                let (t0, m0) = (sensor.temperature, sensor.moisture);
                sensor.step();
                assert!((sensor.temperature - t0).abs() < 1.5, "temperature jumps");
                assert!((sensor.moisture - m0).abs() < 4.0, "moisture jumps");
                assert!(
                    (5.0..40.0).contains(&sensor.temperature),
                    "{}",
                    sensor.temperature
                );
                assert!((0.0..=100.0).contains(&sensor.moisture));
                distinct.insert(format!("{:.1}", sensor.temperature));
            }
            assert!(distinct.len() > 20, "readings vary");
        }
    }

    #[test]
    fn wildcard_binds_are_reached_over_loopback() {
        let any: SocketAddr = "0.0.0.0:1883".parse().expect("literal");
        assert_eq!(
            loopback_target(any),
            "127.0.0.1:1883".parse().expect("literal")
        );
        let local: SocketAddr = "127.0.0.2:9".parse().expect("literal");
        assert_eq!(loopback_target(local), local);
    }
}
