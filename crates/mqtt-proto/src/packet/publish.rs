//! PUBLISH (spec 3.3).

use super::properties::{Properties, Property, PropertyContext};
use super::wire::{field_len, put_field, Reader};
use crate::{topic, ByteStr, Error, PacketType, ProtocolVersion, QoS};
use bytes::{BufMut, Bytes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Empty only in 5.0 with a Topic Alias property.
    pub topic: ByteStr,
    /// Present exactly when `qos` is above 0.
    pub packet_id: Option<u16>,
    /// 5.0 PUBLISH properties; empty before 5.0.
    pub properties: Properties,
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message, the common case.
    pub fn new(topic: impl Into<ByteStr>, payload: impl Into<Bytes>) -> Self {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: Properties::new(),
            payload: payload.into(),
        }
    }

    pub fn topic_alias(&self) -> Option<u16> {
        self.properties.find(|p| match p {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        })
    }

    pub(super) fn header_flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let props = if version.is_v5() {
            self.properties.encoded_len()?
        } else {
            0
        };
        Ok(field_len(self.topic.as_bytes())? + id_len + props + self.payload.len())
    }

    /// The whole packet, fixed header included: PUBLISH is the packet a busy
    /// connection writes most, so it skips the generic path's dispatching.
    pub(super) fn write_packet(
        &self,
        buf: &mut bytes::BytesMut,
        version: ProtocolVersion,
    ) -> Result<(), Error> {
        let body_len = crate::varint::checked(self.body_len(version)?)?;
        let mut header = [0u8; 5];
        header[0] = 0x30 | self.header_flags();
        let header_len = 1 + crate::varint::write_into(body_len, &mut header[1..]);
        buf.reserve(header_len + body_len);
        buf.extend_from_slice(&header[..header_len]);
        self.write_body(buf, version);
        Ok(())
    }

    pub(super) fn write_body(&self, buf: &mut impl BufMut, version: ProtocolVersion) {
        put_field(buf, self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id.unwrap_or(0));
        }
        if version.is_v5() {
            self.properties.write(buf);
        }
        buf.put_slice(&self.payload);
    }
}

pub fn read(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Publish, Error> {
    let dup = flags & 0b1000 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11)?;
    if dup && qos == QoS::AtMostOnce {
        return Err(Error::DupOnQoS0);
    }
    let topic = r.string()?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        _ => Some(r.packet_id()?),
    };
    let properties = if version.is_v5() {
        Properties::read(r, PropertyContext::Packet(PacketType::Publish))?
    } else {
        Properties::new()
    };
    let publish = Publish {
        dup,
        qos,
        retain: flags & 1 != 0,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    };
    // An empty topic stands for a Topic Alias's topic (5.0 section 3.3.2.3.4).
    if !(publish.topic.is_empty() && publish.topic_alias().is_some()) {
        topic::validate_topic_name(&publish.topic)?;
    }
    Ok(publish)
}
