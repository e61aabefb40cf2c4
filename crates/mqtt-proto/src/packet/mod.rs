//! MQTT control packets. Each packet module has `read` (decode the variable
//! header and payload of a frame whose fixed header was already checked) and
//! `write` (encode into a caller-supplied buffer). MQTT 3.1, 3.1.1 and 5.0
//! share one code path per packet; the version decides whether properties and
//! reason codes are on the wire. Writing for 3.1/3.1.1 omits what those
//! versions cannot express (properties, 5.0 subscription options, reason codes
//! of acknowledgements) and maps reason codes to the nearest return code.

mod ack;
mod connack;
mod connect;
mod properties;
pub(crate) mod publish;
mod reason;
mod status;
mod suback;
mod subscribe;
mod unsubscribe;
mod wire;

pub use ack::Ack;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill, ProtocolVersion};
pub use properties::{Properties, Property, PropertyContext};
pub use publish::Publish;
pub use reason::ReasonCode;
pub use status::Status;
pub use suback::{SubAck, UnsubAck};
pub use subscribe::{RetainHandling, Subscribe, Subscription};
pub use unsubscribe::Unsubscribe;

use crate::{varint, Error};
use alloc::boxed::Box;
use bytes::{Bytes, BytesMut};

/// The control packet type from the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    /// MQTT 5.0 only.
    Auth = 15,
}

impl PacketType {
    fn from_nibble(n: u8, version: ProtocolVersion) -> Result<Self, Error> {
        use PacketType::*;
        Ok(match n {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 if version.is_v5() => Auth,
            other => return Err(Error::ReservedPacketType(other)),
        })
    }

    /// The fixed-header flags every packet but PUBLISH must carry (spec 2.2.2).
    fn required_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// Quality of service of a message or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_u8(v: u8) -> Result<Self, Error> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(Error::InvalidQoS(other)),
        }
    }
}

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Boxed: CONNECT comes once per connection and is the largest packet, so
    /// every other packet moves in a third of the space.
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Status),
    Auth(Status),
}

impl From<Connect> for Packet {
    fn from(connect: Connect) -> Packet {
        Packet::Connect(Box::new(connect))
    }
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// A DISCONNECT saying "normal disconnection".
    pub fn disconnect() -> Packet {
        Packet::Disconnect(Status::default())
    }

    /// Decodes one packet from its first byte and its body (everything after the
    /// remaining length), as `version` frames it; CONNECT carries its own version.
    /// `body` is shared, not copied, by strings and payloads.
    pub fn read(first_byte: u8, body: Bytes, version: ProtocolVersion) -> Result<Packet, Error> {
        let kind = PacketType::from_nibble(first_byte >> 4, version)?;
        let flags = first_byte & 0x0F;
        if kind != PacketType::Publish && flags != kind.required_flags() {
            return Err(Error::InvalidHeaderFlags {
                packet: kind,
                flags,
            });
        }
        let mut r = wire::Reader::new(body);
        let v = version;
        let packet = match kind {
            PacketType::Connect => Packet::from(connect::read(&mut r)?),
            PacketType::ConnAck => Packet::ConnAck(connack::read(&mut r, v)?),
            PacketType::Publish => Packet::Publish(publish::read(flags, &mut r, v)?),
            PacketType::PubAck => Packet::PubAck(ack::read(kind, &mut r, v)?),
            PacketType::PubRec => Packet::PubRec(ack::read(kind, &mut r, v)?),
            PacketType::PubRel => Packet::PubRel(ack::read(kind, &mut r, v)?),
            PacketType::PubComp => Packet::PubComp(ack::read(kind, &mut r, v)?),
            PacketType::Subscribe => Packet::Subscribe(subscribe::read(&mut r, v)?),
            PacketType::SubAck => Packet::SubAck(suback::read(kind, &mut r, v)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(unsubscribe::read(&mut r, v)?),
            PacketType::UnsubAck => Packet::UnsubAck(suback::read(kind, &mut r, v)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(status::read(kind, &mut r, v)?),
            PacketType::Auth => Packet::Auth(status::read(kind, &mut r, v)?),
        };
        r.finish()?;
        Ok(packet)
    }

    /// The remaining length this packet has when written for `version`.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let kind = self.packet_type();
        if kind == PacketType::Auth && !version.is_v5() {
            return Err(Error::NotInVersion(kind));
        }
        let v = version;
        let body_len = match self {
            Packet::Connect(p) => p.body_len()?,
            Packet::ConnAck(p) => p.body_len(v)?,
            Packet::Publish(p) => p.body_len(v)?,
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(v)?
            }
            Packet::Subscribe(p) => p.body_len(v)?,
            Packet::SubAck(p) | Packet::UnsubAck(p) => p.body_len(kind, v)?,
            Packet::Unsubscribe(p) => p.body_len(v)?,
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) | Packet::Auth(p) => p.body_len(v)?,
        };
        varint::checked(body_len)
    }

    /// Bytes [`Packet::write`] produces for `version`, computed without encoding.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let body_len = self.body_len(version)?;
        Ok(1 + varint::len(body_len) + body_len)
    }

    /// Encodes the packet for `version` onto the end of `buf`, which the caller
    /// may reuse. CONNECT is always written in its own `protocol`.
    pub fn write(&self, buf: &mut BytesMut, version: ProtocolVersion) -> Result<(), Error> {
        match self {
            Packet::Publish(p) => p.write_packet(buf, version),
            _ => self.write_generic(buf, version),
        }
    }

    /// Every packet but PUBLISH, out of line: when it was inlined into
    /// `write`, its setup cost a PUBLISH a tenth of its encoding time.
    #[inline(never)]
    fn write_generic(&self, buf: &mut BytesMut, version: ProtocolVersion) -> Result<(), Error> {
        if let Packet::Publish(p) = self {
            return p.write_packet(buf, version);
        }
        let kind = self.packet_type();
        let v = version;
        let body_len = self.body_len(v)?;
        wire::write_exact(buf, 1 + varint::len(body_len) + body_len, |w| {
            w.u8(((kind as u8) << 4) | kind.required_flags());
            w.varint(body_len);
            match self {
                Packet::Connect(p) => p.write_body(w),
                Packet::ConnAck(p) => p.write_body(w, v),
                // Written whole above, header included.
                Packet::Publish(_) => {}
                Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                    p.write_body(w, v)
                }
                Packet::Subscribe(p) => p.write_body(w, v),
                Packet::SubAck(p) | Packet::UnsubAck(p) => p.write_body(w, kind, v),
                Packet::Unsubscribe(p) => p.write_body(w, v),
                Packet::PingReq | Packet::PingResp => {}
                Packet::Disconnect(p) | Packet::Auth(p) => p.write_body(w, v),
            }
        });
        Ok(())
    }

    /// Encodes into a fresh buffer; convenient in tests and one-off sends.
    pub fn to_bytes(&self, version: ProtocolVersion) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        self.write(&mut buf, version)?;
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests;
