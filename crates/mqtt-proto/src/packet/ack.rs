//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec 3.4 to 3.7): a packet identifier,
//! and in 5.0 a reason code and properties, both omitted when they say
//! "success, nothing more".

use super::properties::{Properties, PropertyContext};
use super::reason::ReasonCode;
use super::wire::{Reader, Writer};
use crate::{Error, PacketType, ProtocolVersion};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub packet_id: u16,
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl Ack {
    pub fn new(packet_id: u16) -> Ack {
        Ack {
            packet_id,
            reason: ReasonCode::Success,
            properties: Properties::new(),
        }
    }

    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        if !version.is_v5() || self.is_plain_success() {
            return Ok(2);
        }
        if self.properties.is_empty() {
            return Ok(3);
        }
        Ok(3 + self.properties.encoded_len()?)
    }

    fn is_plain_success(&self) -> bool {
        self.reason == ReasonCode::Success && self.properties.is_empty()
    }

    pub(super) fn write_body(&self, w: &mut Writer, version: ProtocolVersion) {
        w.u16(self.packet_id);
        if !version.is_v5() || self.is_plain_success() {
            return;
        }
        w.u8(self.reason as u8);
        if !self.properties.is_empty() {
            self.properties.write(w);
        }
    }
}

pub fn read(kind: PacketType, r: &mut Reader, version: ProtocolVersion) -> Result<Ack, Error> {
    let mut ack = Ack::new(r.packet_id()?);
    if version.is_v5() && r.remaining() > 0 {
        ack.reason = ReasonCode::read_for(kind, r.u8()?)?;
        if r.remaining() > 0 {
            ack.properties = Properties::read(r, PropertyContext::Packet(kind))?;
        }
    }
    Ok(ack)
}
