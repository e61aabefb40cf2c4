//! The packets every codec benchmark uses, as encoded frames, so each peer
//! decodes and encodes exactly the same bytes.

use bytes::Bytes;
use mqtt_proto::{
    ByteStr, Connect, LastWill, Packet, Properties, Property, ProtocolVersion, Publish, QoS,
    Subscribe, Subscription,
};

/// A named packet, as built by a program and as the frame it encodes to.
pub struct Case {
    pub name: &'static str,
    pub version: ProtocolVersion,
    pub built: Packet,
    pub frame: Bytes,
}

/// QoS 1 PUBLISH to a sensor-like topic with `len` payload bytes.
pub fn publish(len: usize) -> Packet {
    let mut p = Publish::new("sensors/greenhouse-1/temperature", vec![0x5a; len]);
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(7);
    Packet::Publish(p)
}

pub fn subscribe_10() -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: 3,
        subscriptions: (0..10)
            .map(|i| Subscription::new(format!("sensors/device-{i}/+"), QoS::AtLeastOnce))
            .collect(),
        properties: Properties::new(),
    })
}

pub fn connect_v5() -> Packet {
    Packet::from(Connect {
        protocol: ProtocolVersion::V5,
        clean_session: true,
        keep_alive: 30,
        client_id: ByteStr::from("dashboard-4f2a9c"),
        will: Some(LastWill {
            topic: ByteStr::from("sensors/greenhouse-1/status"),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::new(),
        }),
        username: Some(ByteStr::from("site-a")),
        password: Some(Bytes::from_static(b"correct horse battery")),
        properties: Properties::new()
            .with(Property::SessionExpiryInterval(3600))
            .with(Property::ReceiveMaximum(64))
            .with(Property::MaximumPacketSize(1 << 20))
            .with(Property::TopicAliasMaximum(16))
            .with(Property::UserProperty(
                ByteStr::from("site"),
                ByteStr::from("greenhouse"),
            )),
    })
}

fn case(name: &'static str, version: ProtocolVersion, packet: Packet) -> Case {
    Case {
        name,
        version,
        frame: packet.to_bytes(version).expect("benchmark packets encode"),
        built: packet,
    }
}

pub fn cases() -> Vec<Case> {
    let v3 = ProtocolVersion::V311;
    vec![
        case("publish_16B", v3, publish(16)),
        case("publish_1KiB", v3, publish(1024)),
        case("publish_64KiB", v3, publish(64 * 1024)),
        case("subscribe_10_filters", v3, subscribe_10()),
        case("connect_v5_properties", ProtocolVersion::V5, connect_v5()),
    ]
}
