use crate::broker::{Broker, StartLink};
use crate::components::{
    AlertBadge, BrokerStats, ChartForm, ConnectionPanel, ConnectionStatus, CustomChartList,
    DeviceCards, MessageLogPanel, PublishPanel, RulesPanel, SensorChart, SubscriptionsPanel,
    ThemeToggle, TopicTreePanel,
};
use crate::mqtt::{broker_url, BrokerLink, LinkEvent, LinkState};
use crate::notifications;
use crate::state::{
    CommandLog, ConnectionSettings, CustomCharts, MessageLog, Metric, Profiles, RuleBook,
    SensorStore, SentLog, SubscriptionList, TopicTree,
};
use crate::storage;
use leptos::prelude::*;
use mqtt_proto::{Publish, QoS};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// What a fresh page subscribes to: every topic, and the broker's statistics
/// (`#` does not match `$SYS`).
const DEFAULT_FILTERS: [&str; 2] = ["#", "$SYS/#"];
/// Messages held between frames before they are stored anyway: a hidden tab
/// gets few frames and slow timers, and this keeps its memory bounded.
const MAX_PENDING: usize = 20_000;
/// Longest wait for a frame before storing arrived messages.
const FLUSH_FALLBACK: Duration = Duration::from_millis(250);

/// The URL to connect to: the settings' own, else the page's default.
pub fn broker_url_for(settings: &ConnectionSettings) -> String {
    let url = settings.url.trim();
    if url.is_empty() {
        page_broker_url()
    } else {
        url.to_owned()
    }
}

fn page_broker_url() -> String {
    let location = window().location();
    broker_url::resolve(
        &location.protocol().unwrap_or_default(),
        &location.host().unwrap_or_default(),
        &location.search().unwrap_or_default(),
    )
}

/// The stores every panel reads; each is bounded.
#[derive(Clone, Copy)]
struct Stores {
    sensors: RwSignal<SensorStore>,
    tree: RwSignal<TopicTree>,
    log: RwSignal<MessageLog>,
    subscriptions: RwSignal<SubscriptionList>,
    sent: RwSignal<SentLog>,
    commands: RwSignal<CommandLog>,
    charts: RwSignal<CustomCharts>,
    rules: RwSignal<RuleBook>,
}

impl Stores {
    /// Stores a batch of messages: one signal update per store, so panels
    /// redraw once per batch, not once per message.
    fn record(&self, batch: &[(Publish, f64)]) {
        // Stores a batch did not change are not notified: charts of sensors
        // need not redraw for a burst of other topics.
        self.sensors.maybe_update(|s| {
            let mut changed = false;
            for (p, at) in batch {
                changed |= s.record(p.topic(), p.payload(), *at);
            }
            changed
        });
        self.tree.update(|t| {
            for (p, at) in batch {
                t.record(p.topic(), p.payload(), p.retain, p.qos as u8, *at);
            }
        });
        // Rules first: the log marks the messages they matched.
        let flagged: Vec<bool> = if self.rules.with_untracked(RuleBook::is_empty) {
            vec![false; batch.len()]
        } else {
            let mut notes = Vec::new();
            let mut flags = Vec::with_capacity(batch.len());
            self.rules.maybe_update(|r| {
                for (p, at) in batch {
                    let (matched, notify) = r.evaluate(p.topic(), p.payload(), *at);
                    flags.push(matched);
                    notes.extend(notify);
                }
                flags.contains(&true)
            });
            for note in notes {
                notifications::show(&note);
            }
            flags
        };
        self.log.update(|l| {
            for ((p, at), flagged) in batch.iter().zip(flagged) {
                l.record(
                    p.topic(),
                    p.payload(),
                    p.qos as u8,
                    p.retain,
                    p.dup,
                    flagged,
                    *at,
                );
            }
        });
        if !self.charts.with_untracked(CustomCharts::is_empty) {
            self.charts.maybe_update(|c| {
                let mut changed = false;
                for (p, at) in batch {
                    changed |= c.record(p.topic(), p.payload(), *at);
                }
                changed
            });
        }
        // Most batches hold no acknowledgement: leave the command store alone.
        let acks: Vec<_> = batch
            .iter()
            .filter(|(p, _)| p.topic().ends_with("/cmd/ack"))
            .collect();
        if !acks.is_empty() {
            self.commands.update(|c| {
                for (p, at) in acks {
                    c.acknowledged(p.topic(), p.payload(), *at);
                }
            });
        }
    }
}

/// Messages that arrived since the last frame.
#[derive(Default)]
struct Inbox {
    pending: RefCell<Vec<(Publish, f64)>>,
    scheduled: Cell<bool>,
}

impl Inbox {
    fn push(self: &Rc<Self>, publish: Publish, stores: Stores) {
        let mut pending = self.pending.borrow_mut();
        pending.push((publish, js_sys::Date::now()));
        if pending.len() >= MAX_PENDING {
            drop(pending);
            self.flush(stores);
            return;
        }
        if !self.scheduled.replace(true) {
            let inbox = self.clone();
            request_animation_frame(move || inbox.flush(stores));
            let inbox = self.clone();
            set_timeout(move || inbox.flush(stores), FLUSH_FALLBACK);
        }
    }

    fn flush(&self, stores: Stores) {
        self.scheduled.set(false);
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if !batch.is_empty() {
            stores.record(&batch);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let stores = Stores {
        sensors: RwSignal::new(SensorStore::default()),
        tree: RwSignal::new(TopicTree::default()),
        log: RwSignal::new(MessageLog::default()),
        subscriptions: RwSignal::new(SubscriptionList::default()),
        sent: RwSignal::new(SentLog::default()),
        commands: RwSignal::new(CommandLog::new(format!(
            "{:06x}",
            (js_sys::Math::random() * f64::from(0xFF_FFFF)) as u32
        ))),
        charts: RwSignal::new(CustomCharts::default()),
        rules: RwSignal::new(RuleBook::default()),
    };
    let link_state = RwSignal::new(LinkState::Connecting);
    // Wall-clock time, ticking each second: drives "5 s ago" and scrolls the charts.
    let clock = RwSignal::new(js_sys::Date::now());
    set_interval(
        move || clock.set(js_sys::Date::now()),
        Duration::from_secs(1),
    );

    stores.subscriptions.update(|s| {
        for filter in DEFAULT_FILTERS {
            let _ = s.add(filter, QoS::AtMostOnce);
        }
    });
    let inbox = Rc::new(Inbox::default());
    let on_event = Rc::new(move |event| match event {
        LinkEvent::Message(publish) => inbox.push(publish, stores),
        LinkEvent::Connected { session_present } => {
            if !session_present {
                stores.subscriptions.update(SubscriptionList::mark_pending);
            }
        }
        LinkEvent::SubAck { filters, codes } => stores
            .subscriptions
            .update(|s| s.acknowledge(&filters, &codes)),
        LinkEvent::Published { packet_id } => {
            stores.sent.update(|s| {
                s.delivered(packet_id, js_sys::Date::now());
            });
        }
    });
    let start: StartLink = Rc::new(move |url, config, subscriptions| {
        let on_event = on_event.clone();
        BrokerLink::start(url, config, subscriptions, link_state, move |e| on_event(e))
    });
    let broker = Broker::new(
        start,
        link_state,
        stores.subscriptions,
        stores.sent,
        stores.commands,
    );
    let profiles = RwSignal::new(storage::load_profiles());
    stores
        .rules
        .set(profiles.with_untracked(|p| RuleBook::from_specs(&p.active_rules())));
    stores.charts.update(|charts| {
        for spec in profiles.with_untracked(Profiles::active_charts) {
            // A saved chart this version cannot draw is left out, not fatal.
            let _ = charts.add(spec);
        }
    });
    // The charts' specs change rarely; their data every frame: saving follows
    // the specs alone.
    let chart_specs = Memo::new(move |_| stores.charts.with(CustomCharts::specs));
    Effect::new(move |previous: Option<()>| {
        let specs = chart_specs.get();
        if previous.is_some() {
            profiles.update(|p| p.set_active_charts(specs));
            storage::save_profiles(&profiles.get_untracked());
        }
    });
    let settings = profiles.with_untracked(Profiles::active_settings);
    broker.connect(broker_url_for(&settings), &settings);
    let panel_open = RwSignal::new(false);
    let store = stores.sensors;

    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true"></span>
                <div>
                    <h1>"Sensor Dashboard"</h1>
                    <p class="subtitle">"Live MQTT readings"</p>
                </div>
            </div>
            <div class="topbar-actions">
                <AlertBadge rules=stores.rules />
                <ThemeToggle />
                <ConnectionStatus state=link_state url=broker.url clock=clock panel_open=panel_open />
            </div>
        </header>
        <main class="content">
            <Show when=move || panel_open.get()>
                <ConnectionPanel broker=broker profiles=profiles open=panel_open />
            </Show>
            <DeviceCards store=store clock=clock broker=broker />
            <section class="charts">
                <SensorChart metric=Metric::Temperature store=store clock=clock />
                <SensorChart metric=Metric::Moisture store=store clock=clock />
                <CustomChartList charts=stores.charts clock=clock />
                <ChartForm charts=stores.charts log=stores.log />
            </section>
            <section class="workbench">
                <div class="column">
                    <SubscriptionsPanel broker=broker />
                    <TopicTreePanel tree=stores.tree broker=broker clock=clock />
                    <RulesPanel rules=stores.rules profiles=profiles clock=clock />
                    <BrokerStats tree=stores.tree />
                </div>
                <div class="column">
                    <MessageLogPanel log=stores.log subscriptions=stores.subscriptions charts=stores.charts />
                    <PublishPanel broker=broker clock=clock />
                </div>
            </section>
        </main>
    }
}
