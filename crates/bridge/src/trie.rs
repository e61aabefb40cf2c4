//! Which sessions want a topic: subscriptions stored by topic level.

use mqtt_proto::{topic, QoS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Identifies one session inside the bridge.
pub type SessionKey = u64;

/// What a session asked for with one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions {
    /// The QoS granted: messages are delivered at most at this QoS.
    pub qos: QoS,
    /// 5.0: not sent the session's own messages.
    pub no_local: bool,
    /// 5.0: live messages keep the RETAIN flag they were published with.
    pub retain_as_published: bool,
    /// 5.0 Subscription Identifier, sent with each message this subscription delivers.
    pub id: Option<u32>,
}

impl SubOptions {
    /// A 3.1.1 subscription: only a QoS.
    pub fn qos(qos: QoS) -> Self {
        SubOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            id: None,
        }
    }
}

/// Topic filters stored level by level, so a publish visits only the branches
/// its topic can match (exact level, `+`, `#`) instead of every subscription.
#[derive(Debug, Default)]
pub struct SubscriptionTrie {
    root: Node,
    len: usize,
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    subscribers: HashMap<SessionKey, SubOptions>,
    /// Shared subscriptions (`$share/<group>/<filter>`) ending here, by group.
    shared: HashMap<Box<str>, SharedGroup>,
}

/// The sessions sharing one subscription: each message goes to one of them,
/// in turn (MQTT 5.0 section 4.8.2).
#[derive(Debug, Default)]
struct SharedGroup {
    members: Vec<(SessionKey, SubOptions)>,
    /// The next member's turn; atomic because matching only reads the trie.
    next: AtomicUsize,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty() && self.shared.is_empty()
    }

    fn node_mut(&mut self, filter: &str) -> &mut Node {
        let mut node = self;
        for level in filter.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        node
    }

    /// Every plain subscriber, and one member of each shared group.
    fn visit(&self, visit: &mut impl FnMut(SessionKey, &SubOptions)) {
        self.subscribers.iter().for_each(|(&k, o)| visit(k, o));
        for group in self.shared.values() {
            let turn = group.next.fetch_add(1, Ordering::Relaxed) % group.members.len();
            let (key, options) = &group.members[turn];
            visit(*key, options);
        }
    }
}

impl SubscriptionTrie {
    /// Number of (filter, session) pairs stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds or replaces `session`'s subscription to a validated `filter`,
    /// shared (`$share/<group>/<filter>`) or not; returns whether it is new.
    pub fn insert(&mut self, filter: &str, session: SessionKey, options: SubOptions) -> bool {
        let new = match topic::parse_shared(filter) {
            Some((group, inner)) => {
                let group = self
                    .root
                    .node_mut(inner)
                    .shared
                    .entry(group.into())
                    .or_default();
                match group.members.iter_mut().find(|(k, _)| *k == session) {
                    Some(member) => {
                        member.1 = options;
                        false
                    }
                    None => {
                        group.members.push((session, options));
                        true
                    }
                }
            }
            None => self
                .root
                .node_mut(filter)
                .subscribers
                .insert(session, options)
                .is_none(),
        };
        if new {
            self.len += 1;
        }
        new
    }

    /// Removes `session`'s subscription to `filter`; returns whether it existed.
    pub fn remove(&mut self, filter: &str, session: SessionKey) -> bool {
        let (group, filter) = match topic::parse_shared(filter) {
            Some((group, inner)) => (Some(group), inner),
            None => (None, filter),
        };
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = Self::remove_at(&mut self.root, &levels, group, session);
        if removed {
            self.len -= 1;
        }
        removed
    }

    fn remove_at(
        node: &mut Node,
        levels: &[&str],
        group: Option<&str>,
        session: SessionKey,
    ) -> bool {
        let Some((first, rest)) = levels.split_first() else {
            let Some(name) = group else {
                return node.subscribers.remove(&session).is_some();
            };
            let Some(shared) = node.shared.get_mut(name) else {
                return false;
            };
            let before = shared.members.len();
            shared.members.retain(|(k, _)| *k != session);
            let removed = shared.members.len() < before;
            if shared.members.is_empty() {
                node.shared.remove(name);
            }
            return removed;
        };
        let Some(child) = node.children.get_mut(*first) else {
            return false;
        };
        let removed = Self::remove_at(child, rest, group, session);
        // Prune branches nobody subscribes under any more.
        if child.is_empty() {
            node.children.remove(*first);
        }
        removed
    }

    /// Calls `visit` for every subscription matching topic `name`, once per
    /// matching filter (a session with overlapping filters is visited more than once).
    pub fn for_each_match(&self, name: &str, mut visit: impl FnMut(SessionKey, &SubOptions)) {
        let levels: Vec<&str> = name.split('/').collect();
        let dollar = name.starts_with('$');
        Self::match_at(&self.root, &levels, !dollar, &mut visit);
    }

    fn match_at(
        node: &Node,
        levels: &[&str],
        wildcards_allowed: bool,
        visit: &mut impl FnMut(SessionKey, &SubOptions),
    ) {
        if wildcards_allowed {
            // "#" matches this level and everything below, including nothing ("a/#" matches "a").
            if let Some(hash) = node.children.get("#") {
                hash.visit(visit);
            }
        }
        let Some((first, rest)) = levels.split_first() else {
            node.visit(visit);
            return;
        };
        if let Some(child) = node.children.get(*first) {
            Self::match_at(child, rest, true, visit);
        }
        if wildcards_allowed {
            if let Some(plus) = node.children.get("+") {
                Self::match_at(plus, rest, true, visit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::topic::filter_matches;

    fn matches(trie: &SubscriptionTrie, name: &str) -> Vec<SessionKey> {
        let mut keys = Vec::new();
        trie.for_each_match(name, |k, _| keys.push(k));
        keys.sort();
        keys
    }

    const FILTERS: &[&str] = &[
        "#",
        "+",
        "+/+",
        "/+",
        "a",
        "a/b",
        "a/+",
        "a/#",
        "a/+/c",
        "+/b/#",
        "$SYS/#",
        "$SYS/+",
        "a/b/c/d",
        "sensors/+/temperature",
        "sensors/#",
    ];
    const TOPICS: &[&str] = &[
        "a",
        "a/b",
        "a/b/c",
        "a/x/c",
        "/x",
        "b",
        "$SYS/uptime",
        "$SYS/a/b",
        "a/b/c/d",
        "sensors/e2e/temperature",
        "sensors/e2e/moisture",
        "x/b",
        "x/b/y",
        "a/",
    ];

    #[test]
    fn agrees_with_filter_matches() {
        let mut trie = SubscriptionTrie::default();
        for (i, f) in FILTERS.iter().enumerate() {
            trie.insert(f, i as SessionKey, SubOptions::qos(QoS::AtMostOnce));
        }
        for topic in TOPICS {
            let expected: Vec<SessionKey> = FILTERS
                .iter()
                .enumerate()
                .filter(|(_, f)| filter_matches(f, topic))
                .map(|(i, _)| i as SessionKey)
                .collect();
            assert_eq!(matches(&trie, topic), expected, "topic {topic}");
        }
    }

    #[test]
    fn a_shared_group_takes_turns() {
        let mut trie = SubscriptionTrie::default();
        for member in 1..=3 {
            assert!(trie.insert(
                "$share/workers/jobs/+",
                member,
                SubOptions::qos(QoS::AtMostOnce)
            ));
        }
        trie.insert("jobs/#", 9, SubOptions::qos(QoS::AtMostOnce));
        trie.insert("$share/audit/jobs/#", 7, SubOptions::qos(QoS::AtMostOnce));
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(matches(&trie, "jobs/a"));
        }
        // Every time: the plain subscriber, the only auditor, one worker, in turn.
        let workers: Vec<SessionKey> = got
            .iter()
            .map(|m| m.iter().copied().find(|k| *k <= 3).expect("a worker"))
            .collect();
        assert_eq!(workers, [1, 2, 3, 1, 2, 3]);
        assert!(got
            .iter()
            .all(|m| m.len() == 3 && m.contains(&9) && m.contains(&7)));
        assert!(trie.remove("$share/workers/jobs/+", 2));
        assert!(!trie.remove("$share/workers/jobs/+", 2));
        assert!(
            !trie.remove("jobs/+", 1),
            "a shared subscription is not a plain one"
        );
        assert_eq!(trie.len(), 4);
        for member in [1, 3] {
            trie.remove("$share/workers/jobs/+", member);
        }
        trie.remove("jobs/#", 9);
        trie.remove("$share/audit/jobs/#", 7);
        assert!(trie.root.is_empty(), "empty groups and branches are pruned");
    }

    #[test]
    fn remove_prunes_and_counts() {
        let mut trie = SubscriptionTrie::default();
        assert!(trie.insert("a/+/c", 1, SubOptions::qos(QoS::AtMostOnce)));
        assert!(!trie.insert("a/+/c", 1, SubOptions::qos(QoS::AtLeastOnce)));
        assert!(trie.insert("a/b", 2, SubOptions::qos(QoS::AtMostOnce)));
        assert_eq!(trie.len(), 2);
        assert!(!trie.remove("a/+/c", 2));
        assert!(trie.remove("a/+/c", 1));
        assert!(!trie.remove("a/+/c", 1));
        assert_eq!(matches(&trie, "a/x/c"), Vec::<SessionKey>::new());
        assert!(trie.remove("a/b", 2));
        assert!(trie.is_empty());
        assert!(trie.root.is_empty(), "empty branches are pruned");
    }
}
