use super::ago;
use crate::state::{Metric, SensorStore};
use crate::theme::{css, series_color};
use leptos::prelude::*;

/// One card per device with its latest readings, their age, and whether the
/// device is online (from its retained status and Last Will).
#[component]
pub fn DeviceCards(store: RwSignal<SensorStore>, clock: RwSignal<f64>) -> impl IntoView {
    let names = move || store.with(|s| s.device_names());
    view! {
        <section class="devices" aria-label="Devices">
            <Show when=move || store.with(|s| s.is_empty())>
                <div class="card empty">
                    <p class="empty-title">"Waiting for sensor readings…"</p>
                    <p class="empty-hint">
                        "Devices publish to "<code>"sensors/<device>/temperature"</code>" and "
                        <code>"sensors/<device>/moisture"</code>"."
                    </p>
                </div>
            </Show>
            <For each=names key=|name| name.clone() let:name>
                <DeviceCard name=name store=store clock=clock />
            </For>
        </section>
    }
}

#[component]
fn DeviceCard(name: String, store: RwSignal<SensorStore>, clock: RwSignal<f64>) -> impl IntoView {
    let index = {
        let name = name.clone();
        move || {
            // Runs on every message: find the position without collecting names.
            store.with(|s| s.devices().position(|(n, _)| n == name).unwrap_or(0))
        }
    };
    let color = Memo::new(move |_| css(series_color(index())));
    let reading = {
        let name = name.clone();
        move |metric: Metric| {
            let name = name.clone();
            move || {
                store.with(|s| {
                    s.device(&name)
                        .and_then(|d| d.series(metric).latest())
                        .map(|(_, v)| format!("{v:.1}"))
                        .unwrap_or_else(|| "–".to_owned())
                })
            }
        }
    };
    let updated = {
        let name = name.clone();
        move || {
            let last = store.with(|s| s.device(&name).and_then(|d| d.last_update_ms()));
            last.map(|t| ago(clock.get() - t)).unwrap_or_default()
        }
    };
    let presence = {
        let name = name.clone();
        move || store.with(|s| s.device(&name).and_then(|d| d.presence))
    };
    let presence_class = {
        let presence = presence.clone();
        move || match presence() {
            Some(p) => format!("presence presence-{}", p.label()),
            None => "presence presence-unknown".to_owned(),
        }
    };
    let presence_label = move || presence().map(|p| p.label()).unwrap_or_default();
    let presence_of = name.clone();
    let title = name.clone();
    let metric_view = move |metric: Metric| {
        view! {
            <div class="reading">
                <span class="reading-label">{metric.title()}</span>
                <span class="reading-value" data-device=name.clone() data-metric=format!("{metric:?}").to_lowercase()>
                    {reading(metric)}
                </span>
                <span class="reading-unit">{metric.unit()}</span>
            </div>
        }
    };
    view! {
        <article class="card device" style:border-top-color=color>
            <header class="device-head">
                <span class="swatch" style:background-color=color aria-hidden="true"></span>
                <h2 class="device-name">{title}</h2>
                <span class=presence_class data-presence-of=presence_of>{presence_label}</span>
                <span class="device-updated">{updated}</span>
            </header>
            <div class="readings">
                {metric_view(Metric::Temperature)}
                {metric_view(Metric::Moisture)}
            </div>
        </article>
    }
}
