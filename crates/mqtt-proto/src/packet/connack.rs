//! CONNACK (spec 3.2).

use super::wire::Reader;
use crate::Error;
use bytes::BufMut;

/// The server's answer to CONNECT (spec 3.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectReturnCode {
    Accepted = 0,
    UnacceptableProtocolVersion = 1,
    IdentifierRejected = 2,
    ServerUnavailable = 3,
    BadUserNameOrPassword = 4,
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    fn from_u8(v: u8) -> Result<Self, Error> {
        use ConnectReturnCode::*;
        Ok(match v {
            0 => Accepted,
            1 => UnacceptableProtocolVersion,
            2 => IdentifierRejected,
            3 => ServerUnavailable,
            4 => BadUserNameOrPassword,
            5 => NotAuthorized,
            other => return Err(Error::InvalidConnectReturnCode(other)),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ConnectReturnCode,
}

pub fn read(r: &mut Reader) -> Result<ConnAck, Error> {
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(Error::InvalidConnAckFlags(flags));
    }
    Ok(ConnAck {
        session_present: flags & 1 != 0,
        code: ConnectReturnCode::from_u8(r.u8()?)?,
    })
}

impl ConnAck {
    pub(super) fn write_body(&self, buf: &mut impl BufMut) {
        buf.put_u8(u8::from(self.session_present));
        buf.put_u8(self.code as u8);
    }
}
