//! How each stored value is laid out. Little-endian integers first, then
//! the variable part; a message is its MQTT 5.0 PUBLISH packet, so the codec
//! that checks every client's bytes also checks what comes back from disk.

use crate::handshake::SessionExpiry;
use crate::trie::SubOptions;
use bytes::BytesMut;
use mqtt_proto::{Packet, ProtocolVersion, Publish, QoS};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A value that does not decode: the store was damaged or written by
/// something else.
#[derive(Debug, thiserror::Error)]
#[error("{what} does not decode")]
pub struct BadRecord {
    pub what: &'static str,
}

fn bad(what: &'static str) -> BadRecord {
    BadRecord { what }
}

/// Milliseconds since the Unix epoch; stored instead of an `Instant`, which
/// means nothing after a restart.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An `Instant` as wall-clock milliseconds (0: none).
pub fn instant_to_unix(at: Option<Instant>, now: Instant, wall: SystemTime) -> u64 {
    match at {
        None => 0,
        Some(at) => unix_ms(wall + at.saturating_duration_since(now)).max(1),
    }
}

/// Wall-clock milliseconds (0: none) as an `Instant`; times already past
/// give `now`.
pub fn unix_to_instant(ms: u64, now: Instant, wall: SystemTime) -> Option<Instant> {
    (ms != 0).then(|| {
        let at = UNIX_EPOCH + Duration::from_millis(ms);
        now + at.duration_since(wall).unwrap_or(Duration::ZERO)
    })
}

/// A message with its expiry: `[expiry ms: u64][PUBLISH as 5.0]`.
pub fn encode_message(publish: &Publish, expires_ms: u64) -> Vec<u8> {
    let mut p = publish.clone();
    p.dup = false;
    // The packet id on disk is a placeholder (a QoS 1/2 PUBLISH must have
    // one); the one it is sent with is kept apart, per session.
    p.packet_id = (p.qos != QoS::AtMostOnce).then_some(1);
    let mut out = expires_ms.to_le_bytes().to_vec();
    // A message the codec decoded or built encodes: it was checked on the way in.
    if let Ok(bytes) = Packet::Publish(p).to_bytes(ProtocolVersion::V5) {
        out.extend_from_slice(&bytes);
    }
    out
}

pub fn decode_message(value: &[u8]) -> Result<(Publish, u64), BadRecord> {
    let (expiry, packet) = split_u64(value).ok_or(bad("a message"))?;
    let mut buf = BytesMut::from(packet);
    match mqtt_proto::framing::decode(&mut buf, usize::MAX, ProtocolVersion::V5) {
        Ok(Some(Packet::Publish(mut p))) if buf.is_empty() => {
            p.packet_id = None;
            Ok((p, expiry))
        }
        _ => Err(bad("a message")),
    }
}

fn split_u64(value: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = value.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

/// A session: `[expiry secs: u32, u32::MAX never][disconnected ms: u64, 0
/// while connected][client id]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub client_id: String,
    pub expiry: SessionExpiry,
    pub disconnected_ms: u64,
}

impl SessionRecord {
    pub fn encode(&self) -> Vec<u8> {
        let secs = match self.expiry {
            SessionExpiry::Never => u32::MAX,
            SessionExpiry::After(d) => d.as_secs().min(u64::from(u32::MAX - 1)) as u32,
            SessionExpiry::AtDisconnect => 0,
        };
        let mut out = secs.to_le_bytes().to_vec();
        out.extend_from_slice(&self.disconnected_ms.to_le_bytes());
        out.extend_from_slice(self.client_id.as_bytes());
        out
    }

    pub fn decode(value: &[u8]) -> Result<SessionRecord, BadRecord> {
        let err = || bad("a session");
        let (secs, rest) = value.split_first_chunk::<4>().ok_or_else(err)?;
        let (disconnected_ms, id) = split_u64(rest).ok_or_else(err)?;
        Ok(SessionRecord {
            client_id: std::str::from_utf8(id).map_err(|_| err())?.to_owned(),
            expiry: SessionExpiry::from_secs(u32::from_le_bytes(*secs)),
            disconnected_ms,
        })
    }
}

/// Subscription options: `[qos][flags: 1 No Local, 2 Retain As Published][id: u32, 0 none]`.
pub fn encode_options(o: &SubOptions) -> [u8; 6] {
    let flags = u8::from(o.no_local) | u8::from(o.retain_as_published) << 1;
    let id = o.id.unwrap_or(0).to_le_bytes();
    [o.qos as u8, flags, id[0], id[1], id[2], id[3]]
}

pub fn decode_options(value: &[u8]) -> Result<SubOptions, BadRecord> {
    let err = || bad("a subscription");
    let [qos, flags, a, b, c, d] = *<&[u8; 6]>::try_from(value).map_err(|_| err())?;
    Ok(SubOptions {
        qos: QoS::from_u8(qos).map_err(|_| err())?,
        no_local: flags & 1 != 0,
        retain_as_published: flags & 2 != 0,
        id: Some(u32::from_le_bytes([a, b, c, d])).filter(|&id| id != 0),
    })
}

/// Where a session's stored message is in its flow to the client. Only
/// QoS 2 records its packet id: a resend must reuse it, or the client,
/// which delivered on the first PUBLISH, would deliver again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Sent(u16),
    Released(u16),
}

impl Stage {
    pub fn encode(self) -> u32 {
        match self {
            Stage::Sent(id) => 1 << 16 | u32::from(id),
            Stage::Released(id) => 2 << 16 | u32::from(id),
        }
    }

    pub fn decode(value: u32) -> Result<Stage, BadRecord> {
        let id = value as u16;
        match value >> 16 {
            _ if id == 0 => Err(bad("a packet id")),
            1 => Ok(Stage::Sent(id)),
            2 => Ok(Stage::Released(id)),
            _ => Err(bad("a packet id")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::Property;

    #[test]
    fn a_message_keeps_its_flags_properties_and_expiry() {
        let mut p = Publish::new("sensors/a/temperature", &b"21.5"[..]);
        p.qos = QoS::ExactlyOnce;
        p.retain = true;
        p.properties.push(Property::SubscriptionIdentifier(7));
        p.properties
            .push(Property::ContentType("text/plain".into()));
        let (back, expiry) = decode_message(&encode_message(&p, 1234)).expect("decodes");
        assert_eq!(expiry, 1234);
        assert_eq!(back.topic(), "sensors/a/temperature");
        assert_eq!(back.payload(), b"21.5");
        assert_eq!(
            (back.qos, back.retain, back.packet_id),
            (QoS::ExactlyOnce, true, None)
        );
        assert_eq!(back.properties, p.properties);
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let good = encode_message(&Publish::new("t", &b"x"[..]), 0);
        for cut in 0..good.len() {
            assert!(decode_message(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(SessionRecord::decode(&[1, 2, 3]).is_err());
        assert!(SessionRecord::decode(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
        assert!(decode_options(&[3, 0, 0, 0, 0, 0]).is_err(), "QoS 3");
        assert!(Stage::decode(3 << 16 | 5).is_err());
        assert!(Stage::decode(1 << 16).is_err(), "packet id 0");
    }

    #[test]
    fn sessions_options_and_stages_round_trip() {
        for expiry in [
            SessionExpiry::Never,
            SessionExpiry::After(Duration::from_secs(3600)),
        ] {
            let s = SessionRecord {
                client_id: "dev-1".into(),
                expiry,
                disconnected_ms: 99,
            };
            assert_eq!(SessionRecord::decode(&s.encode()).expect("decodes"), s);
        }
        let o = SubOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: false,
            id: Some(300),
        };
        assert_eq!(decode_options(&encode_options(&o)).expect("decodes"), o);
        for stage in [Stage::Sent(1), Stage::Released(65535)] {
            assert_eq!(Stage::decode(stage.encode()).expect("decodes"), stage);
        }
    }

    #[test]
    fn expiry_times_survive_as_wall_clock() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let at = now + Duration::from_secs(30);
        let ms = instant_to_unix(Some(at), now, wall);
        let back = unix_to_instant(ms, now, wall).expect("set");
        assert!(
            back.duration_since(now).abs_diff(Duration::from_secs(30)) < Duration::from_millis(2)
        );
        assert_eq!(instant_to_unix(None, now, wall), 0);
        let past = unix_ms(wall - Duration::from_secs(5));
        assert_eq!(
            unix_to_instant(past, now, wall),
            Some(now),
            "already expired"
        );
    }
}
