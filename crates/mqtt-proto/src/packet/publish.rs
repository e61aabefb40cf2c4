//! PUBLISH (spec 3.3).

use super::wire::{field_len, put_field, Reader};
use crate::{topic, ByteStr, Error, QoS};
use bytes::{BufMut, Bytes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: ByteStr,
    /// Present exactly when `qos` is above 0.
    pub packet_id: Option<u16>,
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
            payload: payload.into(),
        }
    }

    pub(super) fn header_flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(super) fn body_len(&self) -> Result<usize, Error> {
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        Ok(field_len(self.topic.as_bytes())? + id_len + self.payload.len())
    }

    pub(super) fn write_body(&self, buf: &mut impl BufMut) {
        put_field(buf, self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id.unwrap_or(0));
        }
        buf.put_slice(&self.payload);
    }
}

pub fn read(flags: u8, r: &mut Reader) -> Result<Publish, Error> {
    let dup = flags & 0b1000 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11)?;
    if dup && qos == QoS::AtMostOnce {
        return Err(Error::DupOnQoS0);
    }
    let topic = r.string()?;
    topic::validate_topic_name(&topic)?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        _ => Some(r.packet_id()?),
    };
    Ok(Publish {
        dup,
        qos,
        retain: flags & 1 != 0,
        topic,
        packet_id,
        payload: r.rest(),
    })
}
