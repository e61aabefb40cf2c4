//! SUBSCRIBE (spec 3.8).

use super::properties::{Properties, PropertyContext};
use super::wire::{field_len, Reader, Writer};
use crate::{topic, ByteStr, Error, PacketType, ProtocolVersion, QoS};
use alloc::vec::Vec;

/// When retained messages are sent for a new subscription (5.0 section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    #[default]
    SendOnSubscribe = 0,
    SendIfNewSubscription = 1,
    DoNotSend = 2,
}

/// One topic filter and its options. Before 5.0 only `qos` exists on the
/// wire; the other options are written only for 5.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: ByteStr,
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl Subscription {
    pub fn new(filter: impl Into<ByteStr>, qos: QoS) -> Subscription {
        Subscription {
            filter: filter.into(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendOnSubscribe,
        }
    }

    fn options_byte(&self, version: ProtocolVersion) -> u8 {
        let mut b = self.qos as u8;
        if version.is_v5() {
            b |= u8::from(self.no_local) << 2;
            b |= u8::from(self.retain_as_published) << 3;
            b |= (self.retain_handling as u8) << 4;
        }
        b
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub subscriptions: Vec<Subscription>,
    /// 5.0 properties (Subscription Identifier, User Property); empty before 5.0.
    pub properties: Properties,
}

fn read_options(filter: ByteStr, b: u8, version: ProtocolVersion) -> Result<Subscription, Error> {
    let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
    if b & reserved != 0 {
        return Err(Error::InvalidSubscriptionOptions(b));
    }
    let retain_handling = match (b >> 4) & 0b11 {
        0 => RetainHandling::SendOnSubscribe,
        1 => RetainHandling::SendIfNewSubscription,
        2 => RetainHandling::DoNotSend,
        _ => return Err(Error::InvalidSubscriptionOptions(b)),
    };
    let sub = Subscription {
        qos: QoS::from_u8(b & 0b11)?,
        no_local: b & 0x04 != 0,
        retain_as_published: b & 0x08 != 0,
        retain_handling,
        filter,
    };
    // MQTT-3.8.3-4: No Local on a shared subscription is a protocol error.
    if sub.no_local && topic::parse_shared(&sub.filter).is_some() {
        return Err(Error::NoLocalOnSharedSubscription);
    }
    Ok(sub)
}

pub fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Subscribe, Error> {
    let packet_id = r.packet_id()?;
    let properties = if version.is_v5() {
        Properties::read(r, PropertyContext::Packet(PacketType::Subscribe))?
    } else {
        Properties::new()
    };
    let mut subscriptions = Vec::with_capacity(r.count_fields(1));
    while r.remaining() > 0 {
        let filter = r.string()?;
        topic::validate_topic_filter(&filter)?;
        subscriptions.push(read_options(filter, r.u8()?, version)?);
    }
    if subscriptions.is_empty() {
        return Err(Error::NoTopicFilters(PacketType::Subscribe));
    }
    Ok(Subscribe {
        packet_id,
        subscriptions,
        properties,
    })
}

impl Subscribe {
    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let mut len = 2;
        if version.is_v5() {
            len += self.properties.encoded_len()?;
        }
        for s in &self.subscriptions {
            len += field_len(s.filter.as_bytes())? + 1;
        }
        Ok(len)
    }

    pub(super) fn write_body(&self, w: &mut Writer, version: ProtocolVersion) {
        w.u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(w);
        }
        for s in &self.subscriptions {
            w.field(s.filter.as_bytes());
            w.u8(s.options_byte(version));
        }
    }
}
