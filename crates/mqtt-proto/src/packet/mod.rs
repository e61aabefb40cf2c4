//! MQTT control packets. Each packet module has `read` (decode the variable
//! header and payload of a frame whose fixed header was already checked) and
//! `write` (encode into a caller-supplied buffer). The shapes MQTT 3.1 and
//! 3.1.1 share go through one code path; the version is passed where it matters.

mod ack;
mod connack;
mod connect;
mod publish;
mod suback;
mod subscribe;
mod unsubscribe;
mod wire;

pub use connack::{ConnAck, ConnectReturnCode};
pub use connect::{Connect, LastWill, ProtocolVersion};
pub use publish::Publish;
pub use suback::{SubAck, SubscribeReturnCode};
pub use subscribe::{Subscribe, Subscription};
pub use unsubscribe::Unsubscribe;

use crate::{varint, Error};
use bytes::{BufMut, Bytes, BytesMut};

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
}

impl PacketType {
    fn from_nibble(n: u8) -> Result<Self, Error> {
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
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
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
            Packet::Disconnect => PacketType::Disconnect,
        }
    }

    /// Decodes one packet from its first byte and its body (everything after the
    /// remaining length). `body` is shared, not copied, by strings and payloads.
    pub fn read(first_byte: u8, body: Bytes) -> Result<Packet, Error> {
        let kind = PacketType::from_nibble(first_byte >> 4)?;
        let flags = first_byte & 0x0F;
        if kind != PacketType::Publish && flags != kind.required_flags() {
            return Err(Error::InvalidHeaderFlags {
                packet: kind,
                flags,
            });
        }
        let mut r = wire::Reader::new(body);
        let packet = match kind {
            PacketType::Connect => Packet::Connect(connect::read(&mut r)?),
            PacketType::ConnAck => Packet::ConnAck(connack::read(&mut r)?),
            PacketType::Publish => Packet::Publish(publish::read(flags, &mut r)?),
            PacketType::PubAck => Packet::PubAck(ack::read(&mut r)?),
            PacketType::PubRec => Packet::PubRec(ack::read(&mut r)?),
            PacketType::PubRel => Packet::PubRel(ack::read(&mut r)?),
            PacketType::PubComp => Packet::PubComp(ack::read(&mut r)?),
            PacketType::Subscribe => Packet::Subscribe(subscribe::read(&mut r)?),
            PacketType::SubAck => Packet::SubAck(suback::read(&mut r)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(unsubscribe::read(&mut r)?),
            PacketType::UnsubAck => Packet::UnsubAck(ack::read(&mut r)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect,
        };
        r.finish()?;
        Ok(packet)
    }

    /// Encodes the packet onto the end of `buf`, which the caller may reuse.
    pub fn write(&self, buf: &mut BytesMut) -> Result<(), Error> {
        let kind = self.packet_type();
        let mut flags = kind.required_flags();
        let body_len = match self {
            Packet::Connect(p) => p.body_len()?,
            Packet::ConnAck(_) => 2,
            Packet::Publish(p) => {
                flags = p.header_flags();
                p.body_len()?
            }
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::UnsubAck(_) => 2,
            Packet::Subscribe(p) => p.body_len()?,
            Packet::SubAck(p) => 2 + p.return_codes.len(),
            Packet::Unsubscribe(p) => p.body_len()?,
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
        };
        if body_len > varint::MAX {
            return Err(Error::PacketTooLarge {
                size: body_len,
                max: varint::MAX,
            });
        }
        buf.reserve(1 + varint::len(body_len) + body_len);
        buf.put_u8(((kind as u8) << 4) | flags);
        varint::write(body_len, buf);
        match self {
            Packet::Connect(p) => p.write_body(buf),
            Packet::ConnAck(p) => p.write_body(buf),
            Packet::Publish(p) => p.write_body(buf),
            Packet::PubAck(id)
            | Packet::PubRec(id)
            | Packet::PubRel(id)
            | Packet::PubComp(id)
            | Packet::UnsubAck(id) => buf.put_u16(*id),
            Packet::Subscribe(p) => p.write_body(buf),
            Packet::SubAck(p) => p.write_body(buf),
            Packet::Unsubscribe(p) => p.write_body(buf),
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => {}
        }
        Ok(())
    }

    /// Encodes into a fresh buffer; convenient in tests and one-off sends.
    pub fn to_bytes(&self) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        self.write(&mut buf)?;
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests;
