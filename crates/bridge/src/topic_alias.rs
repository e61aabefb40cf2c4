//! 5.0 topic aliases (section 3.3.2.3.4): numbers standing for topics on one
//! connection, in each direction, so a busy topic is not sent in full every time.

use mqtt_proto::{Property, Publish};
use std::collections::HashMap;

/// Aliases a client defines for the topics it publishes to us.
#[derive(Debug, Default)]
pub struct InboundAliases {
    max: u16,
    topics: HashMap<u16, String>,
}

/// Why an inbound alias was refused (DISCONNECT 0x94 or 0x82).
#[derive(Debug, PartialEq, Eq)]
pub enum AliasError {
    /// 0, or above the maximum we announced.
    OutOfRange(u16),
    /// An empty topic with an alias never defined on this connection.
    Unknown(u16),
}

impl InboundAliases {
    pub fn new(max: u16) -> Self {
        InboundAliases {
            max,
            topics: HashMap::new(),
        }
    }

    /// Resolves `publish`'s alias: an empty topic takes the aliased one, a
    /// topic with an alias (re)defines it. The alias property is removed,
    /// as it means nothing to anyone else.
    pub fn resolve(&mut self, publish: &mut Publish) -> Result<(), AliasError> {
        let Some(alias) = publish.topic_alias() else {
            return Ok(());
        };
        if alias == 0 || alias > self.max {
            return Err(AliasError::OutOfRange(alias));
        }
        strip_alias(publish);
        if publish.topic().is_empty() {
            let topic = self.topics.get(&alias).ok_or(AliasError::Unknown(alias))?;
            publish.set_topic(topic);
        } else {
            self.topics.insert(alias, publish.topic().to_owned());
        }
        Ok(())
    }
}

/// Aliases we define for the topics we send a client, up to the maximum it
/// announced. The first `max` distinct topics get one for the life of the
/// connection: simple, and sensor dashboards reuse a small set of topics.
#[derive(Debug, Default)]
pub struct OutboundAliases {
    max: u16,
    by_topic: HashMap<String, u16>,
}

impl OutboundAliases {
    pub fn new(max: u16) -> Self {
        OutboundAliases {
            max,
            by_topic: HashMap::new(),
        }
    }

    /// Rewrites `publish` to use an alias: the first time a topic is sent it
    /// goes in full with its new alias, afterwards as an empty topic and the alias.
    pub fn apply(&mut self, publish: &mut Publish) {
        if self.max == 0 {
            return;
        }
        if let Some(&alias) = self.by_topic.get(publish.topic()) {
            publish.set_topic("");
            publish.properties.push(Property::TopicAlias(alias));
            return;
        }
        let next = self.by_topic.len() + 1;
        if next <= usize::from(self.max) {
            let alias = next as u16;
            self.by_topic.insert(publish.topic().to_owned(), alias);
            publish.properties.push(Property::TopicAlias(alias));
        }
    }
}

fn strip_alias(publish: &mut Publish) {
    if publish.topic_alias().is_some() {
        publish
            .properties
            .retain(|p| !matches!(p, Property::TopicAlias(_)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliased(topic: &str, alias: u16) -> Publish {
        let mut p = Publish::new(topic, b"1");
        p.properties.push(Property::TopicAlias(alias));
        p
    }

    #[test]
    fn inbound_aliases_define_resolve_and_refuse() {
        let mut aliases = InboundAliases::new(4);
        let mut first = aliased("s/a/t", 2);
        assert_eq!(aliases.resolve(&mut first), Ok(()));
        assert_eq!((first.topic(), first.topic_alias()), ("s/a/t", None));
        let mut again = aliased("", 2);
        assert_eq!(aliases.resolve(&mut again), Ok(()));
        assert_eq!(again.topic(), "s/a/t");
        assert_eq!(
            aliases.resolve(&mut aliased("", 3)),
            Err(AliasError::Unknown(3))
        );
        assert_eq!(
            aliases.resolve(&mut aliased("x", 5)),
            Err(AliasError::OutOfRange(5))
        );
        assert_eq!(
            aliases.resolve(&mut aliased("x", 0)),
            Err(AliasError::OutOfRange(0))
        );
    }

    #[test]
    fn outbound_aliases_send_a_topic_in_full_once() {
        let mut aliases = OutboundAliases::new(1);
        let mut first = Publish::new("s/a/t", b"1");
        aliases.apply(&mut first);
        assert_eq!((first.topic(), first.topic_alias()), ("s/a/t", Some(1)));
        let mut second = Publish::new("s/a/t", b"2");
        aliases.apply(&mut second);
        assert_eq!(
            (second.topic(), second.topic_alias(), second.payload()),
            ("", Some(1), &b"2"[..])
        );
        // Out of aliases: other topics go in full, without one.
        let mut other = Publish::new("s/b/t", b"3");
        aliases.apply(&mut other);
        assert_eq!((other.topic(), other.topic_alias()), ("s/b/t", None));
        let mut none = OutboundAliases::new(0);
        let mut p = Publish::new("s/a/t", b"1");
        none.apply(&mut p);
        assert_eq!(p.topic_alias(), None);
    }
}
