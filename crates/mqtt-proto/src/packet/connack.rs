//! CONNACK (spec 3.2): 3.1.1 return codes and 5.0 reason codes are both a
//! [`ReasonCode`]; 5.0 adds properties.

use super::properties::{Properties, PropertyContext};
use super::reason::ReasonCode;
use super::wire::{Reader, Writer};
use crate::{Error, PacketType, ProtocolVersion};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ReasonCode,
    /// 5.0 CONNACK properties; empty before 5.0.
    pub properties: Properties,
}

impl ConnAck {
    pub fn new(code: ReasonCode, session_present: bool) -> ConnAck {
        ConnAck {
            session_present,
            code,
            properties: Properties::new(),
        }
    }

    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        Ok(2 + if version.is_v5() {
            self.properties.encoded_len()?
        } else {
            0
        })
    }

    pub(super) fn write_body(&self, w: &mut Writer, version: ProtocolVersion) {
        w.u8(u8::from(self.session_present));
        if version.is_v5() {
            w.u8(self.code as u8);
            self.properties.write(w);
        } else {
            w.u8(self.code.to_v3_connack());
        }
    }
}

pub fn read(r: &mut Reader, version: ProtocolVersion) -> Result<ConnAck, Error> {
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(Error::InvalidConnAckFlags(flags));
    }
    let code = r.u8()?;
    let (code, properties) = if version.is_v5() {
        (
            ReasonCode::read_for(PacketType::ConnAck, code)?,
            Properties::read(r, PropertyContext::Packet(PacketType::ConnAck))?,
        )
    } else {
        (ReasonCode::from_v3_connack(code)?, Properties::new())
    };
    Ok(ConnAck {
        session_present: flags & 1 != 0,
        code,
        properties,
    })
}
