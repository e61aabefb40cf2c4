//! UNSUBSCRIBE (spec 3.10).

use super::wire::{field_len, put_field, Reader};
use crate::{topic, ByteStr, Error, PacketType};
use alloc::vec::Vec;
use bytes::BufMut;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<ByteStr>,
}

pub fn read(r: &mut Reader) -> Result<Unsubscribe, Error> {
    let packet_id = r.packet_id()?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        topic::validate_topic_filter(&filter)?;
        filters.push(filter);
    }
    if filters.is_empty() {
        return Err(Error::NoTopicFilters(PacketType::Unsubscribe));
    }
    Ok(Unsubscribe { packet_id, filters })
}

impl Unsubscribe {
    pub(super) fn body_len(&self) -> Result<usize, Error> {
        let mut len = 2;
        for f in &self.filters {
            len += field_len(f.as_bytes())?;
        }
        Ok(len)
    }

    pub(super) fn write_body(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.packet_id);
        for f in &self.filters {
            put_field(buf, f.as_bytes());
        }
    }
}
