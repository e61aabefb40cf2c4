use crate::components::{ConnectionStatus, DeviceCards, SensorChart};
use crate::mqtt::{broker_url, BrokerLink, LinkState};
use crate::state::{Metric, SensorStore, STATUS_FILTER};
use leptos::prelude::*;
use mqtt_proto::{ByteStr, QoS, Subscription};
use std::time::Duration;

fn page_broker_url() -> String {
    let location = window().location();
    broker_url::resolve(
        &location.protocol().unwrap_or_default(),
        &location.host().unwrap_or_default(),
        &location.search().unwrap_or_default(),
    )
}

#[component]
pub fn App() -> impl IntoView {
    let store = RwSignal::new(SensorStore::default());
    let link_state = RwSignal::new(LinkState::Connecting);
    // Wall-clock time, ticking each second: drives "5 s ago" and scrolls the charts.
    let clock = RwSignal::new(js_sys::Date::now());
    set_interval(
        move || clock.set(js_sys::Date::now()),
        Duration::from_secs(1),
    );

    let url = page_broker_url();
    let subscriptions = Metric::ALL
        .iter()
        .map(|m| m.filter())
        .chain([STATUS_FILTER])
        .map(|f| Subscription::new(ByteStr::from_static(f), QoS::AtMostOnce))
        .collect();
    let link = BrokerLink::start(url.clone(), subscriptions, link_state, move |publish| {
        let at = js_sys::Date::now();
        store.update(|s| {
            s.record(publish.topic(), publish.payload(), at);
        });
    });
    // The link lives as long as the app.
    StoredValue::new_local(link);

    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true"></span>
                <div>
                    <h1>"Sensor Dashboard"</h1>
                    <p class="subtitle">"Live MQTT readings"</p>
                </div>
            </div>
            <ConnectionStatus state=link_state url=url clock=clock />
        </header>
        <main class="content">
            <DeviceCards store=store clock=clock />
            <section class="charts">
                <SensorChart metric=Metric::Temperature store=store clock=clock />
                <SensorChart metric=Metric::Moisture store=store clock=clock />
            </section>
        </main>
    }
}
