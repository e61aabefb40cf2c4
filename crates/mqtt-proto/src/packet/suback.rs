//! SUBACK (spec 3.9) and UNSUBACK (3.11): a packet identifier, one reason
//! code per filter (UNSUBACK only from 5.0), and 5.0 properties.

use super::properties::{Properties, PropertyContext};
use super::reason::ReasonCode;
use super::wire::{Reader, Writer};
use crate::{Error, PacketType, ProtocolVersion};
use alloc::vec::Vec;

/// The answer to a SUBSCRIBE or an UNSUBSCRIBE, one reason code per filter in
/// the same order. A 3.1.1 UNSUBACK carries no codes, so decodes with none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    pub reason_codes: Vec<ReasonCode>,
    pub properties: Properties,
}

/// UNSUBACK has SUBACK's shape.
pub type UnsubAck = SubAck;

impl SubAck {
    pub fn new(packet_id: u16, reason_codes: Vec<ReasonCode>) -> SubAck {
        SubAck {
            packet_id,
            reason_codes,
            properties: Properties::new(),
        }
    }

    pub(super) fn body_len(
        &self,
        kind: PacketType,
        version: ProtocolVersion,
    ) -> Result<usize, Error> {
        Ok(match (version.is_v5(), kind) {
            (true, _) => 2 + self.properties.encoded_len()? + self.reason_codes.len(),
            (false, PacketType::SubAck) => 2 + self.reason_codes.len(),
            (false, _) => 2,
        })
    }

    pub(super) fn write_body(&self, w: &mut Writer, kind: PacketType, version: ProtocolVersion) {
        w.u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(w);
            for code in &self.reason_codes {
                w.u8(*code as u8);
            }
        } else if kind == PacketType::SubAck {
            for code in &self.reason_codes {
                w.u8(code.to_v3_suback());
            }
        }
    }
}

pub fn read(kind: PacketType, r: &mut Reader, version: ProtocolVersion) -> Result<SubAck, Error> {
    let packet_id = r.packet_id()?;
    let properties = if version.is_v5() {
        Properties::read(r, PropertyContext::Packet(kind))?
    } else {
        Properties::new()
    };
    let mut reason_codes = Vec::with_capacity(r.remaining());
    // A 3.1.1 UNSUBACK is the packet identifier alone; anything after it is
    // left for `finish` to reject as trailing bytes.
    let has_codes = version.is_v5() || kind == PacketType::SubAck;
    while has_codes && r.remaining() > 0 {
        let byte = r.u8()?;
        reason_codes.push(if version.is_v5() {
            ReasonCode::read_for(kind, byte)?
        } else {
            ReasonCode::from_v3_suback(byte)?
        });
    }
    // One code per filter, and SUBSCRIBE/UNSUBSCRIBE carry at least one.
    if has_codes && reason_codes.is_empty() {
        return Err(Error::NoReasonCodes(kind));
    }
    Ok(SubAck {
        packet_id,
        reason_codes,
        properties,
    })
}
