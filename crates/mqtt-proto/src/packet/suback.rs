//! SUBACK (spec 3.9).

use super::wire::Reader;
use crate::{Error, QoS};
use alloc::vec::Vec;
use bytes::BufMut;

/// The server's answer to one filter of a SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscribeReturnCode {
    Granted(QoS),
    Failure,
}

impl SubscribeReturnCode {
    fn from_u8(v: u8) -> Result<Self, Error> {
        match v {
            0x80 => Ok(SubscribeReturnCode::Failure),
            0..=2 => Ok(SubscribeReturnCode::Granted(QoS::from_u8(v)?)),
            other => Err(Error::InvalidSubscribeReturnCode(other)),
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            SubscribeReturnCode::Granted(qos) => qos as u8,
            SubscribeReturnCode::Failure => 0x80,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// One per filter of the SUBSCRIBE, in the same order.
    pub return_codes: Vec<SubscribeReturnCode>,
}

pub fn read(r: &mut Reader) -> Result<SubAck, Error> {
    let packet_id = r.packet_id()?;
    let mut return_codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        return_codes.push(SubscribeReturnCode::from_u8(r.u8()?)?);
    }
    Ok(SubAck {
        packet_id,
        return_codes,
    })
}

impl SubAck {
    pub(super) fn write_body(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.packet_id);
        for code in &self.return_codes {
            buf.put_u8(code.to_u8());
        }
    }
}
