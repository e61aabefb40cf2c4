use super::ago;
use crate::broker::Broker;
use crate::state::{CommandState, DeviceCommand, Metric, Presence, SensorStore};
use crate::theme::{css, series_color};
use leptos::prelude::*;

/// One card per device with its latest readings, their age, and whether the
/// device is online (from its retained status and Last Will).
#[component]
pub fn DeviceCards(
    store: RwSignal<SensorStore>,
    clock: RwSignal<f64>,
    broker: Broker,
) -> impl IntoView {
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
                <DeviceCard name=name store=store clock=clock broker=broker />
            </For>
        </section>
    }
}

#[component]
fn DeviceCard(
    name: String,
    store: RwSignal<SensorStore>,
    clock: RwSignal<f64>,
    broker: Broker,
) -> impl IntoView {
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
    let controls_of = name.clone();
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
            <DeviceControls name=controls_of store=store broker=broker />
        </article>
    }
}

/// Pump and LED switches, the reading interval, and what came of the last
/// command: its acknowledgement and round trip, or the device's refusal.
#[component]
fn DeviceControls(name: String, store: RwSignal<SensorStore>, broker: Broker) -> impl IntoView {
    let device = {
        let name = name.clone();
        move |pick: fn(&crate::state::sensors::DeviceReadings) -> Option<bool>| {
            let name = name.clone();
            Memo::new(move |_| store.with(|s| s.device(&name).and_then(pick)))
        }
    };
    let pump = device(|d| d.pump);
    let led = device(|d| d.led);
    let offline = device(|d| d.presence.map(|p| p == Presence::Offline));
    let offline = move || offline.get() == Some(true);
    let error = RwSignal::new(None::<String>);
    let send = {
        let name = name.clone();
        move |command: DeviceCommand| error.set(broker.command(&name, command).err())
    };
    let outcome = {
        let name = name.clone();
        move || {
            if let Some(e) = error.get() {
                return (String::from("command-outcome bad"), e);
            }
            broker.commands.with(|c| match c.latest(&name) {
                None => (String::from("command-outcome"), String::new()),
                Some(o) => match &o.state {
                    CommandState::Waiting => (
                        "command-outcome waiting".into(),
                        format!("{} · waiting for the device…", o.label),
                    ),
                    CommandState::Done { round_trip_ms } => (
                        "command-outcome ok".into(),
                        format!("{} · acknowledged in {round_trip_ms:.0} ms", o.label),
                    ),
                    CommandState::Refused {
                        round_trip_ms,
                        reason,
                    } => (
                        "command-outcome bad".into(),
                        format!("{} · refused in {round_trip_ms:.0} ms: {reason}", o.label),
                    ),
                },
            })
        }
    };
    let outcome_class = {
        let outcome = outcome.clone();
        move || outcome().0
    };
    let outcome_text = move || outcome().1;
    let switch_label = |word: &'static str, state: Option<bool>| match state {
        Some(true) => format!("{word} on"),
        Some(false) => format!("{word} off"),
        None => word.to_owned(),
    };
    let (send_pump, send_led, send_interval) = (send.clone(), send.clone(), send);
    view! {
        <div class="device-controls" role="group" aria-label=format!("Controls of {name}")>
            <button
                class="button small switch control-pump"
                aria-pressed=move || pump.get().unwrap_or(false).to_string()
                title="Switch the pump"
                disabled=offline
                on:click=move |_| send_pump(DeviceCommand::Pump(!pump.get_untracked().unwrap_or(false)))
            >
                <span class="switch-dot" aria-hidden="true"></span>
                {move || switch_label("Pump", pump.get())}
            </button>
            <button
                class="button small switch control-led"
                aria-pressed=move || led.get().unwrap_or(false).to_string()
                title="Switch the LED"
                disabled=offline
                on:click=move |_| send_led(DeviceCommand::Led(!led.get_untracked().unwrap_or(false)))
            >
                <span class="switch-dot" aria-hidden="true"></span>
                {move || switch_label("LED", led.get())}
            </button>
            <select
                class="control-interval"
                aria-label="Reading interval"
                disabled=offline
                on:change=move |ev| {
                    if let Ok(ms) = event_target_value(&ev).parse::<u64>() {
                        send_interval(DeviceCommand::IntervalMs(ms));
                    }
                }
            >
                <option value="" selected=true disabled=true>"Interval"</option>
                <option value="500">"0.5 s"</option>
                <option value="1000">"1 s"</option>
                <option value="2000">"2 s"</option>
                <option value="5000">"5 s"</option>
                <option value="10000">"10 s"</option>
            </select>
        </div>
        <p class=outcome_class data-command-of=name.clone() role="status" aria-live="polite">{outcome_text}</p>
    }
}
