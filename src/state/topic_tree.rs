//! Every topic seen, as a hierarchy of levels with message counts and the
//! last message of each topic.
//!
//! Children are kept in name order, never by activity, so rows stay where they
//! are while data streams in and a click lands on the topic under the pointer
//! (MQTT Explorer #612).

use super::payload::preview;
use std::collections::{BTreeMap, HashSet};

/// Topics the tree tracks; messages on further new topics are counted at the
/// root only, so a publisher inventing topics cannot grow the page unbounded.
pub const MAX_TOPICS: usize = 20_000;
/// Characters of the last payload kept per topic.
pub const PREVIEW_CHARS: usize = 160;

/// The last message seen on a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct LastMessage {
    pub preview: String,
    pub at_ms: f64,
    pub retained: bool,
    pub qos: u8,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicNode {
    children: BTreeMap<String, TopicNode>,
    /// Messages on exactly this topic.
    pub messages: u64,
    /// Messages on this topic and every topic below it.
    pub subtree_messages: u64,
    /// Topics with at least one message, here and below.
    pub subtree_topics: usize,
    pub last: Option<LastMessage>,
}

impl TopicNode {
    pub fn has_children(&self) -> bool {
        !self.children.is_empty()
    }
}

/// One line of the rendered tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    /// The full topic of this node: levels joined by `/`.
    pub path: String,
    /// This node's own level (may be empty: `a//b` has an empty level).
    pub name: String,
    pub depth: usize,
    pub has_children: bool,
    pub expanded: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicTree {
    root: TopicNode,
    /// Messages dropped from the tree because it was full.
    pub untracked: u64,
}

impl TopicTree {
    pub fn record(&mut self, topic: &str, payload: &[u8], retained: bool, qos: u8, at_ms: f64) {
        let known = self.node(topic).is_some_and(|n| n.messages > 0);
        if !known && self.root.subtree_topics >= MAX_TOPICS {
            self.untracked += 1;
            return;
        }
        let mut node = &mut self.root;
        node.subtree_messages += 1;
        node.subtree_topics += usize::from(!known);
        for level in topic.split('/') {
            if !node.children.contains_key(level) {
                node.children.insert(level.to_owned(), TopicNode::default());
            }
            node = node.children.get_mut(level).expect("inserted above");
            node.subtree_messages += 1;
            node.subtree_topics += usize::from(!known);
        }
        node.messages += 1;
        node.last = Some(LastMessage {
            preview: preview(payload, PREVIEW_CHARS),
            at_ms,
            retained,
            qos,
        });
    }

    /// The node for a full topic path.
    pub fn node(&self, path: &str) -> Option<&TopicNode> {
        path.split('/')
            .try_fold(&self.root, |node, level| node.children.get(level))
    }

    pub fn topic_count(&self) -> usize {
        self.root.subtree_topics
    }

    pub fn message_count(&self) -> u64 {
        self.root.subtree_messages
    }

    /// The rows to show: children of expanded nodes, depth first in name
    /// order. With a search `query`, only topics whose path contains it (any
    /// case) and their ancestors, all open. At most `limit` rows.
    pub fn rows(&self, expanded: &HashSet<String>, query: &str, limit: usize) -> Vec<TreeRow> {
        let query = query.trim().to_lowercase();
        let mut rows = Vec::new();
        let mut path = String::new();
        self.collect(&self.root, &mut path, 0, expanded, &query, limit, &mut rows);
        rows
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        node: &TopicNode,
        path: &mut String,
        depth: usize,
        expanded: &HashSet<String>,
        query: &str,
        limit: usize,
        rows: &mut Vec<TreeRow>,
    ) -> bool {
        let searching = !query.is_empty();
        let mut any_match = false;
        for (name, child) in &node.children {
            if rows.len() >= limit {
                break;
            }
            let parent_len = path.len();
            if depth > 0 {
                path.push('/');
            }
            path.push_str(name);
            // While searching, a row is kept when its path or a descendant's
            // matches: pushed first, taken back if neither does (one pass).
            let row_at = rows.len();
            let open = if searching {
                child.has_children()
            } else {
                expanded.contains(path.as_str())
            };
            rows.push(TreeRow {
                path: path.clone(),
                name: name.clone(),
                depth,
                has_children: child.has_children(),
                expanded: open,
            });
            let below = open && self.collect(child, path, depth + 1, expanded, query, limit, rows);
            let keep = !searching || below || path.to_lowercase().contains(query);
            if keep {
                any_match = true;
            } else {
                rows.truncate(row_at);
            }
            path.truncate(parent_len);
        }
        any_match
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(topics: &[&str]) -> TopicTree {
        let mut t = TopicTree::default();
        for (i, topic) in topics.iter().enumerate() {
            t.record(topic, format!("v{i}").as_bytes(), false, 0, i as f64);
        }
        t
    }

    fn paths(rows: &[TreeRow]) -> Vec<&str> {
        rows.iter().map(|r| r.path.as_str()).collect()
    }

    #[test]
    fn counts_topics_and_messages_per_subtree() {
        let t = tree(&[
            "sensors/a/temperature",
            "sensors/a/moisture",
            "sensors/a/temperature",
            "sensors/b/temperature",
            "sensors",
        ]);
        assert_eq!(t.topic_count(), 4);
        assert_eq!(t.message_count(), 5);
        let sensors = t.node("sensors").expect("seen");
        assert_eq!(
            (
                sensors.messages,
                sensors.subtree_messages,
                sensors.subtree_topics
            ),
            (1, 5, 4)
        );
        let a_temp = t.node("sensors/a/temperature").expect("seen");
        assert_eq!(a_temp.messages, 2);
        assert_eq!(a_temp.last.as_ref().map(|l| l.preview.as_str()), Some("v2"));
        assert!(t.node("sensors/c").is_none());
        assert!(t.node("sensors/a").is_some_and(|n| n.last.is_none()));
    }

    #[test]
    fn rows_follow_expansion_in_name_order() {
        let t = tree(&["b/x", "a/z", "a/y", "$SYS/broker/uptime", "a/y/deep"]);
        let none = HashSet::new();
        assert_eq!(paths(&t.rows(&none, "", 100)), ["$SYS", "a", "b"]);
        let open: HashSet<String> = ["a".to_owned(), "a/y".to_owned()].into();
        let rows = t.rows(&open, "", 100);
        assert_eq!(paths(&rows), ["$SYS", "a", "a/y", "a/y/deep", "a/z", "b"]);
        assert_eq!(rows[3].depth, 2);
        assert!(rows[1].expanded && rows[1].has_children);
        assert!(!rows[4].has_children);
        // A new, busier topic does not move the rows already shown.
        let mut t2 = t.clone();
        for _ in 0..50 {
            t2.record("a/z", b"1", false, 0, 9.0);
        }
        assert_eq!(paths(&t2.rows(&open, "", 100)), paths(&rows));
    }

    #[test]
    fn search_shows_matches_with_their_ancestors() {
        let t = tree(&[
            "sensors/greenhouse-1/temperature",
            "sensors/orchard/temperature",
            "sensors/greenhouse-1/moisture",
            "plant/Greenhouse-2",
        ]);
        let rows = t.rows(&HashSet::new(), "GREENHOUSE", 100);
        assert_eq!(
            paths(&rows),
            [
                "plant",
                "plant/Greenhouse-2",
                "sensors",
                "sensors/greenhouse-1",
                "sensors/greenhouse-1/moisture",
                "sensors/greenhouse-1/temperature",
            ]
        );
        assert!(t.rows(&HashSet::new(), "nothing", 100).is_empty());
    }

    #[test]
    fn empty_levels_and_limits() {
        let t = tree(&["/leading", "a//b"]);
        let all: HashSet<String> = ["".into(), "a".into(), "a/".into()].into();
        assert_eq!(
            paths(&t.rows(&all, "", 100)),
            ["", "/leading", "a", "a/", "a//b"]
        );
        assert_eq!(t.rows(&all, "", 2).len(), 2);
    }

    #[test]
    fn topic_count_is_bounded() {
        let mut t = TopicTree::default();
        for i in 0..MAX_TOPICS + 5 {
            t.record(&format!("t/{i}"), b"", false, 0, 0.0);
        }
        assert_eq!(t.topic_count(), MAX_TOPICS);
        assert_eq!(t.untracked, 5);
        t.record("t/0", b"again", true, 1, 1.0);
        let n = t.node("t/0").expect("tracked");
        assert_eq!(n.messages, 2);
        assert!(n.last.as_ref().is_some_and(|l| l.retained && l.qos == 1));
    }
}
