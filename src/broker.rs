//! What the panels can ask of the broker: one handle that keeps the
//! subscription list, the connection and the link in step.

use crate::mqtt::link::client_config;
use crate::mqtt::{BrokerLink, LinkState};
use crate::state::commands::{command_topic, ACK_FILTER};
use crate::state::{
    CommandLog, ConnectionSettings, DeviceCommand, SentLog, SentMessage, SubscriptionList,
};
use leptos::prelude::*;
use mqtt_proto::{ByteStr, ClientConfig, Property, Publish, QoS, Subscription};
use std::rc::Rc;

/// Opens a link: URL, session configuration, subscriptions to make.
pub type StartLink = Rc<dyn Fn(String, ClientConfig, Vec<Subscription>) -> BrokerLink>;

/// Copyable, so every panel can hold one.
#[derive(Clone, Copy)]
pub struct Broker {
    link: StoredValue<Option<BrokerLink>, LocalStorage>,
    start: StoredValue<StartLink, LocalStorage>,
    pub state: RwSignal<LinkState>,
    /// The URL of the current (or last) connection.
    pub url: RwSignal<String>,
    /// Whether that connection speaks MQTT 5.0.
    pub is_v5: RwSignal<bool>,
    pub subscriptions: RwSignal<SubscriptionList>,
    pub sent: RwSignal<SentLog>,
    pub commands: RwSignal<CommandLog>,
}

impl Broker {
    pub fn new(
        start: StartLink,
        state: RwSignal<LinkState>,
        subscriptions: RwSignal<SubscriptionList>,
        sent: RwSignal<SentLog>,
        commands: RwSignal<CommandLog>,
    ) -> Broker {
        Broker {
            link: StoredValue::new_local(None),
            start: StoredValue::new_local(start),
            state,
            url: RwSignal::new(String::new()),
            is_v5: RwSignal::new(false),
            subscriptions,
            sent,
            commands,
        }
    }

    /// (Re)connects to `url` with `settings`, making every subscription in
    /// the list. A previous connection ends with DISCONNECT first.
    pub fn connect(&self, url: String, settings: &ConnectionSettings) {
        self.link.update_value(|l| *l = None);
        self.subscriptions.update(SubscriptionList::mark_pending);
        let subscriptions = self.subscriptions.with_untracked(|s| {
            s.entries()
                .iter()
                .map(|e| Subscription::new(ByteStr::from(e.filter.as_str()), e.qos))
                .collect()
        });
        self.url.set(url.clone());
        self.is_v5.set(settings.is_v5());
        let config = client_config(settings);
        let link = self
            .start
            .with_value(|start| start(url, config, subscriptions));
        self.link.update_value(|l| *l = Some(link));
    }

    /// Ends the connection (DISCONNECT, so no Last Will) and stays off.
    pub fn disconnect(&self) {
        self.link.update_value(|l| *l = None);
        self.state.set(LinkState::Disconnected);
    }

    fn with_link<T>(&self, f: impl FnOnce(&BrokerLink) -> T) -> Option<T> {
        self.link.with_value(|l| l.as_ref().map(f))
    }

    /// Adds `filter` to the list and subscribes (now, or when connected);
    /// refuses an illegal filter with the reason in words.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<(), String> {
        let mut result = Ok(());
        self.subscriptions.update(|s| result = s.add(filter, qos));
        result?;
        self.with_link(|link| link.subscribe(Subscription::new(ByteStr::from(filter), qos)))
            .unwrap_or(Ok(()))
    }

    pub fn unsubscribe(&self, filter: &str) {
        let mut removed = false;
        self.subscriptions.update(|s| removed = s.remove(filter));
        if removed {
            self.with_link(|link| link.unsubscribe(filter));
        }
    }

    fn send(&self, publish: Publish) -> Result<Option<u16>, String> {
        self.with_link(|link| link.publish(publish))
            .unwrap_or_else(|| Err("not connected".to_owned()))
    }

    /// Publishes and remembers the message in the sent history. 5.0
    /// `properties` need a 5.0 connection.
    pub fn publish(
        &self,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
        properties: Vec<Property>,
    ) -> Result<(), String> {
        mqtt_proto::topic::validate_topic_name(topic).map_err(|_| topic_problem(topic))?;
        if !properties.is_empty() && !self.is_v5.get_untracked() {
            return Err(
                "Properties need an MQTT 5.0 connection: choose 5.0 in the connection settings."
                    .to_owned(),
            );
        }
        let mut publish = Publish::new(topic, payload.as_bytes());
        publish.qos = qos;
        publish.retain = retain;
        publish.properties = properties.iter().cloned().collect();
        let packet_id = self.send(publish)?;
        self.sent.update(|s| {
            s.push(SentMessage {
                topic: topic.to_owned(),
                payload: payload.to_owned(),
                qos: qos as u8,
                retain,
                at_ms: js_sys::Date::now(),
                packet_id,
                delivered_ms: None,
                properties,
            })
        });
        Ok(())
    }

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
        self.send(publish).map(|_| ())
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
