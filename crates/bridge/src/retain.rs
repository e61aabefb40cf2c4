//! Retained messages: the last retained PUBLISH per topic, handed to each new
//! subscription that matches it (MQTT 3.1.1 section 3.3.1.3).

use crate::router::Delivery;
use mqtt_proto::topic::filter_matches;
use mqtt_proto::Publish;
use std::collections::HashMap;
use std::time::Instant;

/// What [`RetainStore::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainOutcome {
    Stored,
    Replaced,
    /// An empty payload clears the topic's retained message.
    Cleared,
    /// The store is full and the topic is new: not kept (the limit's policy:
    /// existing topics still update, new ones are refused and counted).
    Refused,
}

/// Bounded by topic count.
#[derive(Debug)]
pub struct RetainStore {
    by_topic: HashMap<Box<str>, Delivery>,
    max_topics: usize,
}

impl RetainStore {
    pub fn new(max_topics: usize) -> Self {
        RetainStore {
            by_topic: HashMap::new(),
            max_topics,
        }
    }

    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// Keeps `publish` as its topic's retained message (its retain flag is
    /// assumed set) until `expires_at`, or clears the topic when the payload
    /// is empty.
    pub fn set(&mut self, publish: &Publish, expires_at: Option<Instant>) -> RetainOutcome {
        if publish.payload().is_empty() {
            self.by_topic.remove(publish.topic());
            return RetainOutcome::Cleared;
        }
        // A decoded PUBLISH shares its connection's receive buffer.
        let mut kept = publish.detached();
        kept.dup = false;
        kept.packet_id = None;
        let kept = Delivery {
            publish: kept,
            expires_at,
            stored: None,
        };
        let full = self.by_topic.len() >= self.max_topics;
        match self.by_topic.get_mut(publish.topic()) {
            Some(slot) => {
                *slot = kept;
                RetainOutcome::Replaced
            }
            None if full => RetainOutcome::Refused,
            None => {
                self.by_topic.insert(publish.topic().into(), kept);
                RetainOutcome::Stored
            }
        }
    }

    /// Retained messages a new subscription to `filter` receives, in topic
    /// order so the same subscription always sees the same sequence. Expired
    /// ones are left out (and removed).
    pub fn matching(&mut self, filter: &str, now: Instant) -> Vec<Delivery> {
        self.by_topic
            .retain(|_, d| d.expires_at.is_none_or(|at| at > now));
        let mut found: Vec<Delivery> = self
            .by_topic
            .iter()
            .filter(|(topic, _)| filter_matches(filter, topic))
            .map(|(_, d)| d.clone())
            .collect();
        found.sort_by(|a, b| a.publish.topic().cmp(b.publish.topic()));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    impl RetainStore {
        fn set_forever(&mut self, publish: &Publish) -> RetainOutcome {
            self.set(publish, None)
        }
    }

    #[test]
    fn expired_messages_are_not_handed_out() {
        let mut store = RetainStore::new(10);
        let now = Instant::now();
        store.set(
            &retained("a", b"1"),
            Some(now + std::time::Duration::from_secs(5)),
        );
        store.set(&retained("b", b"1"), Some(now));
        let left: Vec<_> = store
            .matching("#", now)
            .into_iter()
            .map(|d| d.publish.topic().to_owned())
            .collect();
        assert_eq!(left, ["a"]);
        assert_eq!(store.len(), 1, "the expired one is gone");
    }

    fn retained(topic: &str, payload: &'static [u8]) -> Publish {
        let mut p = Publish::new(topic, Bytes::from_static(payload));
        p.retain = true;
        p
    }

    #[test]
    fn store_replace_clear_and_match() {
        let mut store = RetainStore::new(10);
        assert_eq!(
            store.set_forever(&retained("s/a/t", b"21")),
            RetainOutcome::Stored
        );
        assert_eq!(
            store.set_forever(&retained("s/b/t", b"19")),
            RetainOutcome::Stored
        );
        assert_eq!(
            store.set_forever(&retained("s/a/t", b"22")),
            RetainOutcome::Replaced
        );
        let got: Vec<_> = store
            .matching("s/+/t", Instant::now())
            .into_iter()
            .map(|d| (d.publish.topic().to_string(), d.publish.payload_bytes()))
            .collect();
        assert_eq!(
            got,
            [
                ("s/a/t".to_owned(), Bytes::from_static(b"22")),
                ("s/b/t".to_owned(), Bytes::from_static(b"19"))
            ]
        );
        assert_eq!(
            store.set_forever(&retained("s/a/t", b"")),
            RetainOutcome::Cleared
        );
        assert_eq!(store.matching("#", Instant::now()).len(), 1);
        assert!(store.matching("other/#", Instant::now()).is_empty());
    }

    #[test]
    fn full_store_refuses_new_topics_but_updates_old_ones() {
        let mut store = RetainStore::new(1);
        assert_eq!(
            store.set_forever(&retained("a", b"1")),
            RetainOutcome::Stored
        );
        assert_eq!(
            store.set_forever(&retained("b", b"1")),
            RetainOutcome::Refused
        );
        assert_eq!(
            store.set_forever(&retained("a", b"2")),
            RetainOutcome::Replaced
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn dollar_topics_need_an_explicit_filter() {
        let mut store = RetainStore::new(10);
        store.set_forever(&retained("$SYS/broker/uptime", b"5"));
        assert!(store.matching("#", Instant::now()).is_empty());
        assert_eq!(store.matching("$SYS/#", Instant::now()).len(), 1);
    }
}
