//! PUBLISH (spec 3.3).

use super::properties::{Properties, Property, PropertyContext};
use super::wire::{field_len, Reader};
use crate::{topic, Error, PacketType, ProtocolVersion, QoS};
use bytes::{Bytes, BytesMut};
use core::fmt;

/// An application message.
///
/// Topic and payload live in one shared buffer. A decoded PUBLISH keeps the
/// frame it arrived in, so it costs one reference count however it is read
/// (a count per field was a third of the decode time), and a PUBLISH that is
/// forwarded with only its flags or packet identifier changed is written by
/// one copy of that frame. [`Publish::new`] puts topic and payload side by side.
#[derive(Clone)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Present exactly when `qos` is above 0.
    pub packet_id: Option<u16>,
    /// 5.0 PUBLISH properties; empty before 5.0.
    pub properties: Properties,
    /// `data[topic_at..][..topic_len]` is the topic, `data[payload_at..]` the payload.
    data: Bytes,
    topic_at: u32,
    topic_len: u32,
    payload_at: u32,
    /// Set when `data` is a whole frame as received, without properties.
    frame: Option<ReceivedFrame>,
}

/// How a received frame was laid out, to tell whether writing it again for
/// a version can reuse it byte for byte apart from flags and packet identifier.
#[derive(Debug, Clone, Copy)]
struct ReceivedFrame {
    v5: bool,
    has_packet_id: bool,
}

impl Publish {
    /// A QoS 0 message, the common case. Copies topic and payload into one
    /// buffer, with two bytes of room between them where a 3.1.1 frame has
    /// the packet identifier, so that QoS 1 and 2 messages are written with
    /// one copy. The topic is checked when the message is sent.
    pub fn new(topic: &str, payload: impl AsRef<[u8]>) -> Self {
        let payload = payload.as_ref();
        let mut data = BytesMut::with_capacity(topic.len() + 2 + payload.len());
        data.extend_from_slice(topic.as_bytes());
        data.extend_from_slice(&[0, 0]);
        data.extend_from_slice(payload);
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            packet_id: None,
            properties: Properties::new(),
            data: data.freeze(),
            topic_at: 0,
            topic_len: topic.len() as u32,
            payload_at: topic.len() as u32 + 2,
            frame: None,
        }
    }

    /// The topic name; empty only in 5.0 with a Topic Alias property.
    pub fn topic(&self) -> &str {
        let bytes = &self.data[self.topic_at as usize..][..self.topic_len as usize];
        // Decoding checked UTF-8, and the other constructors take a `&str`.
        unsafe { core::str::from_utf8_unchecked(bytes) }
    }

    pub fn payload(&self) -> &[u8] {
        &self.data[self.payload_at as usize..]
    }

    /// The payload as a shared buffer, without copying it.
    pub fn payload_bytes(&self) -> Bytes {
        self.data.slice(self.payload_at as usize..)
    }

    /// Replaces the topic, e.g. with the one a Topic Alias stands for.
    pub fn set_topic(&mut self, topic: &str) {
        let mut with_topic = Publish::new(topic, self.payload());
        with_topic.dup = self.dup;
        with_topic.qos = self.qos;
        with_topic.retain = self.retain;
        with_topic.packet_id = self.packet_id;
        with_topic.properties = core::mem::take(&mut self.properties);
        *self = with_topic;
    }

    /// A copy that owns exactly its own bytes, for messages kept for long
    /// (retained, queued for an offline session): a decoded PUBLISH shares the
    /// receive buffer it came in, which must not stay alive for one message.
    pub fn detached(&self) -> Publish {
        Publish {
            data: Bytes::copy_from_slice(&self.data),
            ..self.clone()
        }
    }

    /// Whether two bytes lie between topic and payload, as in a 3.1.1 frame
    /// with a packet identifier.
    fn has_id_room(&self) -> bool {
        self.payload_at == self.topic_at + self.topic_len + 2
    }

    pub fn topic_alias(&self) -> Option<u16> {
        self.properties.find(|p| match p {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        })
    }

    pub(super) fn header_flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(super) fn body_len(&self, version: ProtocolVersion) -> Result<usize, Error> {
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let props = if version.is_v5() {
            self.properties.encoded_len()?
        } else {
            0
        };
        let topic = field_len(self.topic().as_bytes())?;
        Ok(topic + id_len + props + self.payload().len())
    }

    /// The frame as received, when writing for `version` would reproduce it
    /// apart from the first byte and the packet identifier.
    fn reusable_frame(&self, version: ProtocolVersion) -> Option<&[u8]> {
        let frame = self.frame?;
        let same_layout = frame.v5 == version.is_v5()
            && frame.has_packet_id == (self.qos != QoS::AtMostOnce)
            && self.properties.is_empty();
        same_layout.then_some(&self.data[..])
    }

    /// The whole packet, fixed header included: PUBLISH is the packet a busy
    /// connection writes most, so it skips the generic path's dispatching.
    #[inline]
    pub(super) fn write_packet(
        &self,
        buf: &mut BytesMut,
        version: ProtocolVersion,
    ) -> Result<(), Error> {
        let first_byte = 0x30 | self.header_flags();
        if let Some(frame) = self.reusable_frame(version) {
            let start = buf.len();
            buf.extend_from_slice(frame);
            buf[start] = first_byte;
            if self.qos != QoS::AtMostOnce {
                let id = self.packet_id.unwrap_or(0);
                let at = start + (self.topic_at + self.topic_len) as usize;
                buf[at..at + 2].copy_from_slice(&id.to_be_bytes());
            }
            return Ok(());
        }
        self.write_fields(buf, version, first_byte)
    }

    /// [`Publish::write_packet`] field by field, for a PUBLISH built here or
    /// changed since it was received.
    #[inline]
    fn write_fields(
        &self,
        buf: &mut BytesMut,
        version: ProtocolVersion,
        first_byte: u8,
    ) -> Result<(), Error> {
        let topic = self.topic().as_bytes();
        let payload = self.payload();
        let has_id = self.qos != QoS::AtMostOnce;
        let props_len = match (version.is_v5(), self.properties.is_empty()) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => self.properties.encoded_len()?,
        };
        if topic.len() > usize::from(u16::MAX) {
            return Err(Error::FieldTooLong(topic.len()));
        }
        let body_len = 2 + topic.len() + 2 * usize::from(has_id) + props_len + payload.len();
        let body_len = crate::varint::checked(body_len)?;
        // Fixed header and topic length, three to seven bytes, built in a
        // register and stored as one word, cut to size after. Assembling them
        // byte by byte in memory stalled the load that copied them (a third
        // of the time for a small PUBLISH).
        let (length, length_len) = crate::varint::encode_word(body_len);
        let mut head = u64::from(first_byte) | u64::from(length) << 8;
        let mut head_len = 1 + length_len;
        let topic_len = topic.len() as u64;
        head |= ((topic_len >> 8) | ((topic_len & 0xFF) << 8)) << (8 * head_len);
        head_len += 2;
        let start = buf.len();
        buf.reserve(8 + body_len);
        buf.extend_from_slice(&head.to_le_bytes());
        buf.truncate(start + head_len);
        let id = self.packet_id.unwrap_or(0).to_be_bytes();
        if has_id && !version.is_v5() && self.has_id_room() {
            // Topic, room for the id, payload: one copy, then the id.
            let id_at = buf.len() + topic.len();
            buf.extend_from_slice(&self.data[self.topic_at as usize..]);
            buf[id_at..id_at + 2].copy_from_slice(&id);
            return Ok(());
        }
        buf.extend_from_slice(topic);
        if has_id {
            buf.extend_from_slice(&id);
        }
        if version.is_v5() {
            super::wire::write_exact(buf, props_len, |w| self.properties.write(w));
        }
        buf.extend_from_slice(payload);
        Ok(())
    }
}

impl PartialEq for Publish {
    fn eq(&self, other: &Self) -> bool {
        self.dup == other.dup
            && self.qos == other.qos
            && self.retain == other.retain
            && self.packet_id == other.packet_id
            && self.properties == other.properties
            && self.topic() == other.topic()
            && self.payload() == other.payload()
    }
}

impl Eq for Publish {}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic())
            .field("packet_id", &self.packet_id)
            .field("properties", &self.properties)
            .field("payload", &Bytes::copy_from_slice(self.payload()))
            .finish()
    }
}

/// Decodes a PUBLISH body handed over by [`super::Packet::read`].
pub fn read(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Publish, Error> {
    parse(r.rest(), 0, flags, version, false)
}

/// Decodes a whole PUBLISH frame, fixed header included, keeping it whole.
#[inline]
pub fn read_frame(
    frame: Bytes,
    header_len: usize,
    version: ProtocolVersion,
) -> Result<Publish, Error> {
    let flags = frame[0] & 0x0F;
    parse(frame, header_len, flags, version, true)
}

/// `len` bytes of `data` at `at`, or the error for a packet cut short.
fn field(data: &[u8], at: usize, len: usize) -> Result<&[u8], Error> {
    data.get(at..at + len).ok_or(Error::UnexpectedEof)
}

// Inlined into its callers: returned through memory, the `Publish` was
// copied into the `Packet` with wide loads over the narrow stores that made
// it, a store-forwarding stall that took two thirds of decoding a small
// PUBLISH.
#[inline(always)]
fn parse(
    data: Bytes,
    body_at: usize,
    flags: u8,
    version: ProtocolVersion,
    whole_frame: bool,
) -> Result<Publish, Error> {
    let dup = flags & 0b1000 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11)?;
    if dup && qos == QoS::AtMostOnce {
        return Err(Error::DupOnQoS0);
    }
    let topic_len = usize::from(u16::from_be_bytes([
        *data.get(body_at).ok_or(Error::UnexpectedEof)?,
        *data.get(body_at + 1).ok_or(Error::UnexpectedEof)?,
    ]));
    let topic_at = body_at + 2;
    let topic_bytes = field(&data, topic_at, topic_len)?;
    let mut at = topic_at + topic_len;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        _ => {
            let id = field(&data, at, 2)?;
            at += 2;
            match u16::from_be_bytes([id[0], id[1]]) {
                0 => return Err(Error::ZeroPacketId),
                id => Some(id),
            }
        }
    };
    let mut properties = Properties::new();
    let mut bare = true;
    if version.is_v5() {
        let Some((len, used)) = crate::varint::read(&data[at.min(data.len())..])? else {
            return Err(Error::UnexpectedEof);
        };
        if len > 0 {
            bare = false;
            let end = at + used + len;
            if end > data.len() {
                return Err(Error::UnexpectedEof);
            }
            let mut r = Reader::new(data.slice(at..end));
            properties = Properties::read(&mut r, PropertyContext::Packet(PacketType::Publish))?;
        }
        at += used + len;
    }
    // An empty topic stands for a Topic Alias's topic (5.0 section 3.3.2.3.4).
    let aliased = topic_bytes.is_empty()
        && properties
            .iter()
            .any(|p| matches!(p, Property::TopicAlias(_)));
    if !aliased {
        topic::topic_name_from_bytes(topic_bytes)?;
    }
    Ok(Publish {
        dup,
        qos,
        retain: flags & 1 != 0,
        packet_id,
        properties,
        frame: (whole_frame && bare).then_some(ReceivedFrame {
            v5: version.is_v5(),
            has_packet_id: packet_id.is_some(),
        }),
        topic_at: topic_at as u32,
        topic_len: topic_len as u32,
        payload_at: at as u32,
        data,
    })
}
