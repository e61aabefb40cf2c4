//! What the panels can ask of the broker: one handle that keeps the
//! subscription list and the link in step.

use crate::mqtt::BrokerLink;
use crate::state::commands::{command_topic, ACK_FILTER};
use crate::state::{CommandLog, DeviceCommand, SentLog, SentMessage, SubscriptionList};
use leptos::prelude::*;
use mqtt_proto::{ByteStr, Publish, QoS, Subscription};

/// Copyable, so every panel can hold one.
#[derive(Clone, Copy)]
pub struct Broker {
    pub link: StoredValue<BrokerLink, LocalStorage>,
    pub subscriptions: RwSignal<SubscriptionList>,
    pub sent: RwSignal<SentLog>,
    pub commands: RwSignal<CommandLog>,
}

impl Broker {
    /// Adds `filter` to the list and subscribes; refuses an illegal filter
    /// with the reason in words.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<(), String> {
        let mut result = Ok(());
        self.subscriptions.update(|s| result = s.add(filter, qos));
        result?;
        self.link
            .with_value(|link| link.subscribe(Subscription::new(ByteStr::from(filter), qos)))
    }

    pub fn unsubscribe(&self, filter: &str) {
        let mut removed = false;
        self.subscriptions.update(|s| removed = s.remove(filter));
        if removed {
            self.link.with_value(|link| link.unsubscribe(filter));
        }
    }

    /// Publishes and remembers the message in the sent history.
    pub fn publish(
        &self,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
    ) -> Result<(), String> {
        mqtt_proto::topic::validate_topic_name(topic).map_err(|_| topic_problem(topic))?;
        let mut publish = Publish::new(topic, payload.as_bytes());
        publish.qos = qos;
        publish.retain = retain;
        let packet_id = self.link.with_value(|link| link.publish(publish))?;
        self.sent.update(|s| {
            s.push(SentMessage {
                topic: topic.to_owned(),
                payload: payload.to_owned(),
                qos: qos as u8,
                retain,
                at_ms: js_sys::Date::now(),
                packet_id,
                delivered_ms: None,
            })
        });
        Ok(())
    }
}

impl Broker {
    /// Sends a command preset to a device at QoS 1 and waits for its
    /// acknowledgement, subscribing to acknowledgements first unless a
    /// subscription already brings them.
    pub fn command(&self, device: &str, command: DeviceCommand) -> Result<(), String> {
        let ack_topic = format!("sensors/{device}/cmd/ack");
        let covered = self
            .subscriptions
            .with_untracked(|s| s.color_for(&ack_topic).is_some());
        if !covered {
            self.subscribe(ACK_FILTER, QoS::AtLeastOnce)?;
        }
        let id = self
            .commands
            .try_update(|c| c.sent(device, command, js_sys::Date::now()))
            .unwrap_or_default();
        let mut publish = Publish::new(&command_topic(device), command.payload(&id));
        publish.qos = QoS::AtLeastOnce;
        self.link
            .with_value(|link| link.publish(publish))
            .map(|_| ())
    }
}

/// Why `topic` cannot be published to, in words.
pub fn topic_problem(topic: &str) -> String {
    if topic.is_empty() {
        "Enter the topic to publish to.".to_owned()
    } else if topic.contains(['+', '#']) {
        "A message goes to one topic: + and # are for subscribing only.".to_owned()
    } else {
        "This is not a valid topic name.".to_owned()
    }
}
