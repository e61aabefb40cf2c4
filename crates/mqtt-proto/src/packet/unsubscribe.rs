//! UNSUBSCRIBE (spec 3.10).

use super::properties::{Properties, PropertyContext};
use super::wire::{field_len, Reader, Writer};
use crate::{topic, ByteStr, Error, PacketType, ProtocolVersion};
use alloc::vec::Vec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<ByteStr>,
    /// 5.0 properties (User Property); empty before 5.0.
    pub properties: Properties,
}

pub fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Unsubscribe, Error> {
    let packet_id = r.packet_id()?;
    let properties = if version.is_v5() {
        Properties::read(r, PropertyContext::Packet(PacketType::Unsubscribe))?
    } else {
        Properties::new()
    };
    let mut filters = Vec::with_capacity(r.count_fields(0));
    while r.remaining() > 0 {
        let filter = r.string()?;
        topic::validate_topic_filter(&filter)?;
        filters.push(filter);
    }
    if filters.is_empty() {
        return Err(Error::NoTopicFilters(PacketType::Unsubscribe));
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

impl Unsubscribe {
    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let mut len = 2;
        if version.is_v5() {
            len += self.properties.encoded_len()?;
        }
        for f in &self.filters {
            len += field_len(f.as_bytes())?;
        }
        Ok(len)
    }

    pub(super) fn write_body(&self, w: &mut Writer, version: ProtocolVersion) {
        w.u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(w);
        }
        for f in &self.filters {
            w.field(f.as_bytes());
        }
    }
}
