//! DISCONNECT (spec 3.14) and AUTH (3.15): in 5.0 an optional reason code and
//! optional properties; in 3.1.1 DISCONNECT is empty and AUTH does not exist.

use super::properties::{Properties, PropertyContext};
use super::reason::ReasonCode;
use super::wire::{Reader, Writer};
use crate::{Error, PacketType, ProtocolVersion};

/// The body of a DISCONNECT or an AUTH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl Status {
    pub fn new(reason: ReasonCode) -> Status {
        Status {
            reason,
            properties: Properties::new(),
        }
    }

    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        Ok(
            match (version.is_v5(), self.reason, self.properties.is_empty()) {
                (false, _, _) | (true, ReasonCode::Success, true) => 0,
                (true, _, true) => 1,
                (true, _, false) => 1 + self.properties.encoded_len()?,
            },
        )
    }

    pub(super) fn write_body(&self, w: &mut Writer, version: ProtocolVersion) {
        if self.body_len(version).unwrap_or(0) == 0 {
            return;
        }
        w.u8(self.reason as u8);
        if !self.properties.is_empty() {
            self.properties.write(w);
        }
    }
}

pub fn read(kind: PacketType, r: &mut Reader, version: ProtocolVersion) -> Result<Status, Error> {
    let mut status = Status::default();
    if version.is_v5() && r.remaining() > 0 {
        status.reason = ReasonCode::read_for(kind, r.u8()?)?;
        if r.remaining() > 0 {
            status.properties = Properties::read(r, PropertyContext::Packet(kind))?;
        }
    }
    Ok(status)
}
