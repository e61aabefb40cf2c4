use crate::broker::Broker;
use crate::state::subscriptions::filter_problem;
use crate::state::SubscriptionStatus;
use crate::theme::{css, series_color};
use leptos::prelude::*;
use mqtt_proto::QoS;

pub fn qos_from(value: &str) -> QoS {
    match value {
        "1" => QoS::AtLeastOnce,
        "2" => QoS::ExactlyOnce,
        _ => QoS::AtMostOnce,
    }
}

/// Add a filter with its QoS, see what the broker granted, unsubscribe.
#[component]
pub fn SubscriptionsPanel(broker: Broker) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let qos = RwSignal::new("0".to_owned());
    // Shown once the person has typed, or tried to add.
    let touched = RwSignal::new(false);
    let problem = move || {
        let f = filter.get();
        (touched.get() || !f.is_empty())
            .then(|| filter_problem(&f))
            .flatten()
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        let f = filter.get_untracked();
        if filter_problem(&f).is_some() {
            return;
        }
        if broker.subscribe(&f, qos_from(&qos.get_untracked())).is_ok() {
            filter.set(String::new());
            touched.set(false);
        }
    };
    let entries = move || broker.subscriptions.with(|s| s.entries().to_vec());
    view! {
        <section class="card panel subscriptions-panel" aria-labelledby="subs-title">
            <header class="panel-head">
                <h2 id="subs-title">"Subscriptions"</h2>
            </header>
            <form class="sub-form" on:submit=add novalidate>
                <input
                    class="sub-filter"
                    type="text"
                    placeholder="sensors/+/temperature"
                    aria-label="Topic filter"
                    aria-invalid=move || problem().is_some().to_string()
                    aria-describedby="sub-problem"
                    spellcheck="false"
                    autocomplete="off"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
                <select class="sub-qos" aria-label="QoS" on:change=move |ev| qos.set(event_target_value(&ev))>
                    <option value="0" selected=true>"QoS 0"</option>
                    <option value="1">"QoS 1"</option>
                    <option value="2">"QoS 2"</option>
                </select>
                <button type="submit" class="button primary">"Subscribe"</button>
            </form>
            <p id="sub-problem" class="field-problem" role="alert">{move || problem().unwrap_or_default()}</p>
            <ul class="sub-list">
                <For each=entries key=|e| (e.filter.clone(), e.qos as u8, e.status, e.color) let:entry>
                    {
                        let filter = entry.filter.clone();
                        let (status_class, status_text) = match entry.status {
                            SubscriptionStatus::Pending => ("sub-status pending", "pending".to_owned()),
                            SubscriptionStatus::Granted(q) => ("sub-status granted", format!("granted QoS {}", q as u8)),
                            SubscriptionStatus::Refused(code) => (
                                "sub-status refused",
                                format!("refused 0x{:02X}", code as u8),
                            ),
                        };
                        view! {
                            <li class="sub-item" data-filter=entry.filter.clone()>
                                <span class="swatch" style:background-color=css(series_color(entry.color)) aria-hidden="true"></span>
                                <code class="sub-name">{entry.filter.clone()}</code>
                                <span class="sub-qos-label">{format!("QoS {}", entry.qos as u8)}</span>
                                <span class=status_class>{status_text}</span>
                                <button
                                    class="button ghost small"
                                    aria-label=format!("Unsubscribe from {}", entry.filter)
                                    on:click=move |_| broker.unsubscribe(&filter)
                                >
                                    "Unsubscribe"
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
}
