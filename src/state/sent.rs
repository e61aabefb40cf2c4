//! Messages this page published, newest first, to show their delivery and
//! send them again.

use std::collections::VecDeque;

/// Sent messages remembered.
pub const SENT_CAPACITY: usize = 25;

#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub topic: String,
    pub payload: String,
    pub qos: u8,
    pub retain: bool,
    pub at_ms: f64,
    /// QoS 1/2: the packet id its acknowledgement will carry.
    pub packet_id: Option<u16>,
    /// When the broker completed the QoS 1/2 flow.
    pub delivered_ms: Option<f64>,
    /// 5.0 properties it carried (a resend carries them again).
    pub properties: Vec<mqtt_proto::Property>,
}

impl SentMessage {
    /// Round trip of the acknowledgement flow, for QoS 1/2.
    pub fn round_trip_ms(&self) -> Option<f64> {
        self.delivered_ms.map(|d| (d - self.at_ms).max(0.0))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentLog {
    entries: VecDeque<SentMessage>,
}

impl SentLog {
    pub fn push(&mut self, message: SentMessage) {
        if self.entries.len() == SENT_CAPACITY {
            self.entries.pop_back();
        }
        self.entries.push_front(message);
    }

    /// Marks the newest undelivered message with this packet id delivered.
    pub fn delivered(&mut self, packet_id: u16, at_ms: f64) -> bool {
        match self
            .entries
            .iter_mut()
            .find(|m| m.packet_id == Some(packet_id) && m.delivered_ms.is_none())
        {
            Some(m) => {
                m.delivered_ms = Some(at_ms);
                true
            }
            None => false,
        }
    }

    /// Newest first.
    pub fn entries(&self) -> impl Iterator<Item = &SentMessage> {
        self.entries.iter()
    }

    pub fn get(&self, index: usize) -> Option<&SentMessage> {
        self.entries.get(index)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(topic: &str, packet_id: Option<u16>, at_ms: f64) -> SentMessage {
        SentMessage {
            topic: topic.into(),
            payload: "on".into(),
            qos: u8::from(packet_id.is_some()),
            retain: false,
            at_ms,
            packet_id,
            delivered_ms: None,
            properties: Vec::new(),
        }
    }

    #[test]
    fn newest_first_and_bounded() {
        let mut log = SentLog::default();
        for i in 0..SENT_CAPACITY + 3 {
            log.push(sent(&format!("t/{i}"), None, i as f64));
        }
        assert_eq!(log.len(), SENT_CAPACITY);
        assert_eq!(
            log.get(0).map(|m| m.topic.as_str()),
            Some(format!("t/{}", SENT_CAPACITY + 2).as_str())
        );
    }

    #[test]
    fn delivery_matches_the_newest_with_that_id() {
        let mut log = SentLog::default();
        log.push(sent("a", Some(7), 100.0));
        log.push(sent("b", Some(7), 200.0)); // id reused after a's flow ended
        log.push(sent("c", None, 300.0));
        assert!(log.delivered(7, 250.0));
        assert_eq!(log.get(1).and_then(SentMessage::round_trip_ms), Some(50.0));
        assert_eq!(log.get(2).and_then(|m| m.delivered_ms), None);
        assert!(log.delivered(7, 260.0), "then the older one");
        assert!(!log.delivered(7, 270.0));
        assert!(!log.delivered(9, 270.0));
    }
}
