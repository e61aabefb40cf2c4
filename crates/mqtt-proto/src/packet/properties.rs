//! MQTT 5.0 properties (section 2.2.2): a length-prefixed list of
//! identifier/value pairs that most packets carry.

use super::wire::{field_len, Reader, Writer};
use crate::{topic, varint, ByteStr, Error, PacketType};
use alloc::{boxed::Box, vec::Vec};
use bytes::Bytes;

/// Where a property list sits; the Will has a list of its own inside CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    Packet(PacketType),
    Will,
}

/// One property with its typed value. Values with a restricted range are
/// checked when decoded (a 0 Receive Maximum, a Payload Format Indicator of 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(ByteStr),
    ResponseTopic(ByteStr),
    CorrelationData(Bytes),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(ByteStr),
    ServerKeepAlive(u16),
    AuthenticationMethod(ByteStr),
    AuthenticationData(Bytes),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(ByteStr),
    ServerReference(ByteStr),
    ReasonString(ByteStr),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQoS(u8),
    RetainAvailable(u8),
    UserProperty(ByteStr, ByteStr),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

// Where each property may appear, as bit flags over the contexts.
const CONNECT: u16 = 1 << 0;
const CONNACK: u16 = 1 << 1;
const PUBLISH: u16 = 1 << 2;
const ACKS: u16 = 1 << 3; // PUBACK, PUBREC, PUBREL, PUBCOMP
const SUBSCRIBE: u16 = 1 << 4;
const SUBACK: u16 = 1 << 5;
const UNSUBSCRIBE: u16 = 1 << 6;
const UNSUBACK: u16 = 1 << 7;
const DISCONNECT: u16 = 1 << 8;
const AUTH: u16 = 1 << 9;
const WILL: u16 = 1 << 10;
const EVERYWHERE: u16 = (1 << 11) - 1;

fn context_bit(context: PropertyContext) -> u16 {
    match context {
        PropertyContext::Will => WILL,
        PropertyContext::Packet(p) => match p {
            PacketType::Connect => CONNECT,
            PacketType::ConnAck => CONNACK,
            PacketType::Publish => PUBLISH,
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
                ACKS
            }
            PacketType::Subscribe => SUBSCRIBE,
            PacketType::SubAck => SUBACK,
            PacketType::Unsubscribe => UNSUBSCRIBE,
            PacketType::UnsubAck => UNSUBACK,
            PacketType::Disconnect => DISCONNECT,
            PacketType::Auth => AUTH,
            PacketType::PingReq | PacketType::PingResp => 0,
        },
    }
}

impl Property {
    #[inline]
    pub fn id(&self) -> u8 {
        use Property::*;
        match self {
            PayloadFormatIndicator(_) => 0x01,
            MessageExpiryInterval(_) => 0x02,
            ContentType(_) => 0x03,
            ResponseTopic(_) => 0x08,
            CorrelationData(_) => 0x09,
            SubscriptionIdentifier(_) => 0x0B,
            SessionExpiryInterval(_) => 0x11,
            AssignedClientIdentifier(_) => 0x12,
            ServerKeepAlive(_) => 0x13,
            AuthenticationMethod(_) => 0x15,
            AuthenticationData(_) => 0x16,
            RequestProblemInformation(_) => 0x17,
            WillDelayInterval(_) => 0x18,
            RequestResponseInformation(_) => 0x19,
            ResponseInformation(_) => 0x1A,
            ServerReference(_) => 0x1C,
            ReasonString(_) => 0x1F,
            ReceiveMaximum(_) => 0x21,
            TopicAliasMaximum(_) => 0x22,
            TopicAlias(_) => 0x23,
            MaximumQoS(_) => 0x24,
            RetainAvailable(_) => 0x25,
            UserProperty(..) => 0x26,
            MaximumPacketSize(_) => 0x27,
            WildcardSubscriptionAvailable(_) => 0x28,
            SubscriptionIdentifierAvailable(_) => 0x29,
            SharedSubscriptionAvailable(_) => 0x2A,
        }
    }

    /// The contexts this property may appear in (the table in section 2.2.2.2).
    fn allowed(&self) -> u16 {
        use Property::*;
        match self {
            PayloadFormatIndicator(_)
            | MessageExpiryInterval(_)
            | ContentType(_)
            | ResponseTopic(_)
            | CorrelationData(_) => PUBLISH | WILL,
            SubscriptionIdentifier(_) => PUBLISH | SUBSCRIBE,
            SessionExpiryInterval(_) => CONNECT | CONNACK | DISCONNECT,
            AssignedClientIdentifier(_)
            | ServerKeepAlive(_)
            | ResponseInformation(_)
            | MaximumQoS(_)
            | RetainAvailable(_)
            | WildcardSubscriptionAvailable(_)
            | SubscriptionIdentifierAvailable(_)
            | SharedSubscriptionAvailable(_) => CONNACK,
            AuthenticationMethod(_) | AuthenticationData(_) => CONNECT | CONNACK | AUTH,
            RequestProblemInformation(_) | RequestResponseInformation(_) => CONNECT,
            WillDelayInterval(_) => WILL,
            ServerReference(_) => CONNACK | DISCONNECT,
            ReasonString(_) => CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
            ReceiveMaximum(_) | TopicAliasMaximum(_) | MaximumPacketSize(_) => CONNECT | CONNACK,
            TopicAlias(_) => PUBLISH,
            UserProperty(..) => EVERYWHERE,
        }
    }

    /// Only User Property, and Subscription Identifier in PUBLISH, may repeat.
    fn may_repeat(&self, context: PropertyContext) -> bool {
        match self {
            Property::UserProperty(..) => true,
            Property::SubscriptionIdentifier(_) => {
                context == PropertyContext::Packet(PacketType::Publish)
            }
            _ => false,
        }
    }

    fn read(r: &mut Reader) -> Result<Property, Error> {
        use Property::*;
        let id = r.u8()?;
        let flag = |v: u8| {
            if v <= 1 {
                Ok(v)
            } else {
                Err(Error::InvalidPropertyValue(id))
            }
        };
        let nonzero16 = |v: u16| {
            if v != 0 {
                Ok(v)
            } else {
                Err(Error::InvalidPropertyValue(id))
            }
        };
        Ok(match id {
            0x01 => PayloadFormatIndicator(flag(r.u8()?)?),
            0x02 => MessageExpiryInterval(r.u32()?),
            0x03 => ContentType(r.string()?),
            0x08 => {
                let t = r.string()?;
                topic::validate_topic_name(&t)?;
                ResponseTopic(t)
            }
            0x09 => CorrelationData(r.binary()?),
            0x0B => match r.varint()? {
                0 => return Err(Error::InvalidPropertyValue(id)),
                v => SubscriptionIdentifier(v),
            },
            0x11 => SessionExpiryInterval(r.u32()?),
            0x12 => AssignedClientIdentifier(r.string()?),
            0x13 => ServerKeepAlive(r.u16()?),
            0x15 => AuthenticationMethod(r.string()?),
            0x16 => AuthenticationData(r.binary()?),
            0x17 => RequestProblemInformation(flag(r.u8()?)?),
            0x18 => WillDelayInterval(r.u32()?),
            0x19 => RequestResponseInformation(flag(r.u8()?)?),
            0x1A => ResponseInformation(r.string()?),
            0x1C => ServerReference(r.string()?),
            0x1F => ReasonString(r.string()?),
            0x21 => ReceiveMaximum(nonzero16(r.u16()?)?),
            0x22 => TopicAliasMaximum(r.u16()?),
            0x23 => TopicAlias(nonzero16(r.u16()?)?),
            0x24 => MaximumQoS(flag(r.u8()?)?),
            0x25 => RetainAvailable(flag(r.u8()?)?),
            0x26 => UserProperty(r.string()?, r.string()?),
            0x27 => match r.u32()? {
                0 => return Err(Error::InvalidPropertyValue(id)),
                v => MaximumPacketSize(v),
            },
            0x28 => WildcardSubscriptionAvailable(flag(r.u8()?)?),
            0x29 => SubscriptionIdentifierAvailable(flag(r.u8()?)?),
            0x2A => SharedSubscriptionAvailable(flag(r.u8()?)?),
            other => return Err(Error::UnknownProperty(other)),
        })
    }

    /// Bytes on the wire, or an error if a string or binary value does not
    /// fit its two-byte length.
    #[inline]
    fn wire_len(&self) -> Result<usize, Error> {
        use Property::*;
        Ok(1 + match self {
            PayloadFormatIndicator(_)
            | RequestProblemInformation(_)
            | RequestResponseInformation(_)
            | MaximumQoS(_)
            | RetainAvailable(_)
            | WildcardSubscriptionAvailable(_)
            | SubscriptionIdentifierAvailable(_)
            | SharedSubscriptionAvailable(_) => 1,
            ServerKeepAlive(_) | ReceiveMaximum(_) | TopicAliasMaximum(_) | TopicAlias(_) => 2,
            MessageExpiryInterval(_)
            | SessionExpiryInterval(_)
            | WillDelayInterval(_)
            | MaximumPacketSize(_) => 4,
            SubscriptionIdentifier(v) => varint::len(*v as usize),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => field_len(s.as_bytes())?,
            CorrelationData(b) | AuthenticationData(b) => field_len(b)?,
            UserProperty(k, v) => field_len(k.as_bytes())? + field_len(v.as_bytes())?,
        })
    }

    #[inline]
    fn write(&self, w: &mut Writer) {
        use Property::*;
        w.u8(self.id());
        match self {
            PayloadFormatIndicator(v)
            | RequestProblemInformation(v)
            | RequestResponseInformation(v)
            | MaximumQoS(v)
            | RetainAvailable(v)
            | WildcardSubscriptionAvailable(v)
            | SubscriptionIdentifierAvailable(v)
            | SharedSubscriptionAvailable(v) => w.u8(*v),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => {
                w.u16(*v)
            }
            MessageExpiryInterval(v)
            | SessionExpiryInterval(v)
            | WillDelayInterval(v)
            | MaximumPacketSize(v) => w.u32(*v),
            SubscriptionIdentifier(v) => w.varint(*v as usize),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => w.field(s.as_bytes()),
            CorrelationData(b) | AuthenticationData(b) => w.field(b),
            UserProperty(k, v) => {
                w.field(k.as_bytes());
                w.field(v.as_bytes());
            }
        }
    }
}

/// Bytes on the wire (id included) of each fixed-size property, by id; 0
/// for the others and for unassigned ids.
const FIXED_WIRE_LEN: [u8; 0x2B] = {
    let mut t = [0u8; 0x2B];
    let mut id = 0;
    while id < 0x2B {
        t[id] = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 2,
            0x13 | 0x21 | 0x22 | 0x23 => 3,
            0x02 | 0x11 | 0x18 | 0x27 => 5,
            _ => 0,
        };
        id += 1;
    }
    t
};

/// A packet's properties in the order they were decoded or added. Empty costs
/// nothing: no allocation, one byte on the wire. A boxed slice rather than a
/// `Vec` keeps every packet 8 bytes smaller, and packets are moved often.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties(Box<[Property]>);

impl Properties {
    pub fn new() -> Self {
        Properties(Box::default())
    }

    pub fn push(&mut self, property: Property) {
        let mut list = core::mem::take(&mut self.0).into_vec();
        list.push(property);
        self.0 = list.into_boxed_slice();
    }

    pub fn with(mut self, property: Property) -> Self {
        self.push(property);
        self
    }

    /// Keeps only the properties `keep` accepts, in their order: what a
    /// broker does to the properties it passes on (a topic alias or
    /// subscription identifier belongs to one connection).
    pub fn retain(&mut self, keep: impl FnMut(&Property) -> bool) {
        if self.0.is_empty() {
            return;
        }
        let mut list = core::mem::take(&mut self.0).into_vec();
        list.retain(keep);
        self.0 = list.into_boxed_slice();
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Property> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first property `pick` accepts.
    pub fn find<T>(&self, pick: impl FnMut(&Property) -> Option<T>) -> Option<T> {
        self.0.iter().find_map(pick)
    }

    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// Decodes a property length and the list, checking each property may
    /// appear in `context` and appears at most once unless it may repeat.
    pub(crate) fn read(r: &mut Reader, context: PropertyContext) -> Result<Properties, Error> {
        let len = r.varint()? as usize;
        let mut list = r.sub_reader(len)?;
        let here = context_bit(context);
        let mut seen = 0u64;
        let mut out = Vec::new();
        while list.remaining() > 0 {
            let p = Property::read(&mut list)?;
            if p.allowed() & here == 0 {
                return Err(Error::PropertyNotAllowed {
                    id: p.id(),
                    context,
                });
            }
            let bit = 1u64 << p.id();
            if seen & bit != 0 && !p.may_repeat(context) {
                return Err(Error::DuplicateProperty(p.id()));
            }
            seen |= bit;
            out.push(p);
        }
        Ok(Properties(out.into_boxed_slice()))
    }

    /// Bytes on the wire: the length prefix and the list, or why it cannot
    /// be written.
    #[inline]
    pub(crate) fn encoded_len(&self) -> Result<usize, Error> {
        if self.0.is_empty() {
            return Ok(1);
        }
        self.list_encoded_len()
    }

    fn list_encoded_len(&self) -> Result<usize, Error> {
        let mut n = 0;
        for p in self.0.iter() {
            // Most properties have a fixed size, known from the id by a
            // table lookup: cheaper than the jump through a table of match
            // arms, which mispredicted on a list of mixed properties.
            n += match FIXED_WIRE_LEN[usize::from(p.id())] {
                0 => p.wire_len()?,
                fixed => usize::from(fixed),
            };
        }
        let n = varint::checked(n)?;
        Ok(varint::len(n) + n)
    }

    /// Writes the length prefix and the list, whose lengths
    /// [`Properties::encoded_len`] already checked. One pass: the prefix is
    /// filled in after the list (summing the lengths again cost a sixth of
    /// encoding a CONNECT).
    #[inline]
    pub(crate) fn write(&self, w: &mut Writer) {
        if self.0.is_empty() {
            return w.u8(0);
        }
        self.write_list(w)
    }

    fn write_list(&self, w: &mut Writer) {
        w.length_prefixed(|w| {
            for p in self.0.iter() {
                p.write(w);
            }
        });
    }
}

impl FromIterator<Property> for Properties {
    fn from_iter<I: IntoIterator<Item = Property>>(iter: I) -> Self {
        Properties(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ByteStr;
    use alloc::vec;

    #[test]
    fn retain_keeps_the_accepted_properties_in_order() {
        let mut props = Properties::new()
            .with(Property::TopicAlias(3))
            .with(Property::UserProperty("a".into(), "1".into()))
            .with(Property::SubscriptionIdentifier(7))
            .with(Property::UserProperty("b".into(), "2".into()));
        props.retain(|p| {
            !matches!(
                p,
                Property::TopicAlias(_) | Property::SubscriptionIdentifier(_)
            )
        });
        assert_eq!(
            props.user_properties().collect::<vec::Vec<_>>(),
            [("a", "1"), ("b", "2")]
        );
        assert_eq!(props.len(), 2);
        let mut empty = Properties::new();
        empty.retain(|_| false);
        assert!(empty.is_empty());
    }

    /// One of each property, so a size table or a length computed apart
    /// from the writing cannot drift from what is written.
    #[test]
    fn every_property_is_written_in_the_length_computed_for_it() {
        let s = || ByteStr::from("text");
        let b = || Bytes::from_static(b"\x00\x01\x02");
        use Property::*;
        let all = vec![
            PayloadFormatIndicator(1),
            MessageExpiryInterval(70_000),
            ContentType(s()),
            ResponseTopic(s()),
            CorrelationData(b()),
            SubscriptionIdentifier(300),
            SessionExpiryInterval(3600),
            AssignedClientIdentifier(s()),
            ServerKeepAlive(60),
            AuthenticationMethod(s()),
            AuthenticationData(b()),
            RequestProblemInformation(1),
            WillDelayInterval(5),
            RequestResponseInformation(1),
            ResponseInformation(s()),
            ServerReference(s()),
            ReasonString(s()),
            ReceiveMaximum(10),
            TopicAliasMaximum(16),
            TopicAlias(3),
            MaximumQoS(1),
            RetainAvailable(1),
            UserProperty(s(), ByteStr::from("value")),
            MaximumPacketSize(1 << 20),
            WildcardSubscriptionAvailable(1),
            SubscriptionIdentifierAvailable(1),
            SharedSubscriptionAvailable(1),
        ];
        for p in all {
            let list = Properties::new().with(p.clone());
            let len = list.encoded_len().expect("fits");
            assert_eq!(len, 1 + p.wire_len().expect("fits"), "{p:?}");
            let mut buf = bytes::BytesMut::new();
            // Panics if the writing and the length disagree.
            super::super::wire::write_exact(&mut buf, len, |w| list.write(w));
            assert_eq!(buf[0] as usize, len - 1, "{p:?}");
            assert_eq!(buf[1], p.id(), "{p:?}");
        }
    }
}
