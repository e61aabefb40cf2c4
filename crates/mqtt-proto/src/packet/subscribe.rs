//! SUBSCRIBE (spec 3.8).

use super::wire::{field_len, put_field, Reader};
use crate::{topic, ByteStr, Error, PacketType, QoS};
use alloc::vec::Vec;
use bytes::BufMut;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: ByteStr,
    pub qos: QoS,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub subscriptions: Vec<Subscription>,
}

pub fn read(r: &mut Reader) -> Result<Subscribe, Error> {
    let packet_id = r.packet_id()?;
    let mut subscriptions = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        topic::validate_topic_filter(&filter)?;
        let options = r.u8()?;
        if options & 0xFC != 0 {
            return Err(Error::InvalidSubscriptionOptions(options));
        }
        subscriptions.push(Subscription {
            filter,
            qos: QoS::from_u8(options)?,
        });
    }
    if subscriptions.is_empty() {
        return Err(Error::NoTopicFilters(PacketType::Subscribe));
    }
    Ok(Subscribe {
        packet_id,
        subscriptions,
    })
}

impl Subscribe {
    pub(super) fn body_len(&self) -> Result<usize, Error> {
        let mut len = 2;
        for s in &self.subscriptions {
            len += field_len(s.filter.as_bytes())? + 1;
        }
        Ok(len)
    }

    pub(super) fn write_body(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.packet_id);
        for s in &self.subscriptions {
            put_field(buf, s.filter.as_bytes());
            buf.put_u8(s.qos as u8);
        }
    }
}
