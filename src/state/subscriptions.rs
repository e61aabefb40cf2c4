//! The subscriptions a person made, each with its QoS, colour and what the
//! broker answered.

use mqtt_proto::{topic::validate_topic_filter, Error, QoS, ReasonCode};

/// What the broker said about a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// SUBSCRIBE sent (or waiting for the connection), no SUBACK yet.
    Pending,
    Granted(QoS),
    Refused(ReasonCode),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionEntry {
    pub filter: String,
    pub qos: QoS,
    /// Index into the series palette.
    pub color: usize,
    pub status: SubscriptionStatus,
}

/// Why `filter` is not a topic filter, in words, or `None` if it is one.
pub fn filter_problem(filter: &str) -> Option<String> {
    if filter.len() > usize::from(u16::MAX) {
        return Some("A filter is at most 65,535 bytes long.".to_owned());
    }
    let problem = match validate_topic_filter(filter).err()? {
        Error::EmptyTopic => "Enter a topic filter, e.g. sensors/# or sensors/+/temperature.",
        Error::NullCharacter => "A filter cannot contain the NUL character.",
        Error::InvalidWildcard => {
            "A wildcard must fill a whole level, and # must be the last one: \
             sensors/+/temperature or sensors/#, not sensors/temp+ or sensors/#/x."
        }
        Error::InvalidSharedSubscription => {
            "A shared subscription is $share/<group>/<filter>, with a group name free of + and #."
        }
        _ => "This is not a valid topic filter.",
    };
    Some(problem.to_owned())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionList {
    entries: Vec<SubscriptionEntry>,
    next_color: usize,
}

impl SubscriptionList {
    /// Adds a subscription (or changes the QoS of the same filter, which MQTT
    /// treats as a new SUBSCRIBE replacing the old); the status is pending
    /// until the broker answers.
    pub fn add(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
        if let Some(problem) = filter_problem(filter) {
            return Err(problem);
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.filter == filter) {
            e.qos = qos;
            e.status = SubscriptionStatus::Pending;
            return Ok(());
        }
        self.entries.push(SubscriptionEntry {
            filter: filter.to_owned(),
            qos,
            color: self.next_color,
            status: SubscriptionStatus::Pending,
        });
        self.next_color += 1;
        Ok(())
    }

    pub fn remove(&mut self, filter: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.filter != filter);
        self.entries.len() != before
    }

    /// Applies a SUBACK's codes to the filters of its SUBSCRIBE, in order.
    pub fn acknowledge(&mut self, filters: &[String], codes: &[ReasonCode]) {
        for (filter, &code) in filters.iter().zip(codes) {
            if let Some(e) = self.entries.iter_mut().find(|e| &e.filter == filter) {
                e.status = match code {
                    ReasonCode::Success => SubscriptionStatus::Granted(QoS::AtMostOnce),
                    ReasonCode::GrantedQoS1 => SubscriptionStatus::Granted(QoS::AtLeastOnce),
                    ReasonCode::GrantedQoS2 => SubscriptionStatus::Granted(QoS::ExactlyOnce),
                    refused => SubscriptionStatus::Refused(refused),
                };
            }
        }
    }

    /// Every subscription waits for a new SUBACK (after a reconnect).
    pub fn mark_pending(&mut self) {
        for e in &mut self.entries {
            e.status = SubscriptionStatus::Pending;
        }
    }

    pub fn entries(&self) -> &[SubscriptionEntry] {
        &self.entries
    }

    pub fn get(&self, filter: &str) -> Option<&SubscriptionEntry> {
        self.entries.iter().find(|e| e.filter == filter)
    }

    /// The colour of the first granted subscription whose filter matches `topic`.
    pub fn color_for(&self, topic: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| {
                !matches!(e.status, SubscriptionStatus::Refused(_))
                    && mqtt_proto::topic::filter_matches(shared_inner(&e.filter), topic)
            })
            .map(|e| e.color)
    }
}

/// The filter a shared subscription applies (`$share/g/sensors/#` -> `sensors/#`).
fn shared_inner(filter: &str) -> &str {
    mqtt_proto::topic::parse_shared(filter).map_or(filter, |(_, inner)| inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illegal_filters_are_explained() {
        for bad in [
            "",
            "sensors/temp+",
            "sensors/#/x",
            "a/b#",
            "$share/g+/x",
            "$share/g",
        ] {
            assert!(filter_problem(bad).is_some(), "{bad:?} refused");
        }
        for good in [
            "#",
            "+",
            "sensors/+/temperature",
            "$SYS/#",
            "$share/g/a/#",
            "/",
        ] {
            assert_eq!(filter_problem(good), None, "{good:?} accepted");
        }
        assert!(filter_problem("a/#/b").is_some_and(|p| p.contains("last")));
    }

    #[test]
    fn add_acknowledge_and_remove() {
        let mut list = SubscriptionList::default();
        list.add("sensors/#", QoS::AtLeastOnce).expect("valid");
        list.add("alerts/+", QoS::ExactlyOnce).expect("valid");
        assert!(list.add("bad/#/x", QoS::AtMostOnce).is_err());
        assert_eq!(list.entries().len(), 2);
        assert_eq!(list.entries()[1].color, 1);
        list.acknowledge(
            &["sensors/#".into(), "alerts/+".into()],
            &[ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized],
        );
        assert_eq!(
            list.get("sensors/#").map(|e| e.status),
            Some(SubscriptionStatus::Granted(QoS::AtLeastOnce))
        );
        assert_eq!(
            list.get("alerts/+").map(|e| e.status),
            Some(SubscriptionStatus::Refused(ReasonCode::NotAuthorized))
        );
        // Same filter again: a QoS change, not a second entry.
        list.add("sensors/#", QoS::AtMostOnce).expect("valid");
        assert_eq!(list.entries().len(), 2);
        assert_eq!(
            list.get("sensors/#").map(|e| (e.qos, e.status)),
            Some((QoS::AtMostOnce, SubscriptionStatus::Pending))
        );
        assert!(list.remove("alerts/+"));
        assert!(!list.remove("alerts/+"));
        // Colours are not reused, so a new filter does not take an old one's.
        list.add("x", QoS::AtMostOnce).expect("valid");
        assert_eq!(list.get("x").map(|e| e.color), Some(2));
    }

    #[test]
    fn colour_of_the_first_matching_subscription() {
        let mut list = SubscriptionList::default();
        list.add("sensors/+/temperature", QoS::AtMostOnce)
            .expect("valid");
        list.add("$share/team/sensors/#", QoS::AtMostOnce)
            .expect("valid");
        assert_eq!(list.color_for("sensors/a/temperature"), Some(0));
        assert_eq!(list.color_for("sensors/a/moisture"), Some(1));
        assert_eq!(list.color_for("other"), None);
    }
}
