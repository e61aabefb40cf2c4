use crate::mqtt::LinkState;
use leptos::prelude::*;

/// The broker link's state: a coloured dot, a word, the broker URL or why
/// the last attempt failed. A button: it opens the connection settings.
#[component]
pub fn ConnectionStatus(
    state: RwSignal<LinkState>,
    url: RwSignal<String>,
    clock: RwSignal<f64>,
    panel_open: RwSignal<bool>,
) -> impl IntoView {
    let class = move || match state.get() {
        LinkState::Connected => "status status-connected",
        LinkState::Connecting => "status status-connecting",
        LinkState::Reconnecting { .. } => "status status-reconnecting",
        LinkState::Disconnected => "status status-disconnected",
    };
    let label = move || match state.get() {
        LinkState::Connected => "Connected".to_owned(),
        LinkState::Connecting => "Connecting…".to_owned(),
        LinkState::Disconnected => "Disconnected".to_owned(),
        LinkState::Reconnecting { retry_at_ms, .. } => {
            let secs = ((retry_at_ms - clock.get()) / 1000.0).ceil().max(0.0);
            if secs >= 1.0 {
                format!("Reconnecting in {secs} s")
            } else {
                "Reconnecting…".to_owned()
            }
        }
    };
    // While waiting to retry, the reason is what a person needs to see.
    let detail = move || match state.get() {
        LinkState::Reconnecting { reason, .. } => reason,
        _ => url.get(),
    };
    view! {
        <button
            class=class
            data-state=move || state.with(LinkState::name)
            aria-expanded=move || panel_open.get().to_string()
            aria-controls="connection-panel"
            title="Connection settings"
            on:click=move |_| panel_open.update(|o| *o = !*o)
        >
            <span class="dot" aria-hidden="true"></span>
            <span class="status-text" role="status" aria-live="polite">
                <span class="status-label">{label}</span>
                <span class="status-url">{detail}</span>
            </span>
            <span class="status-gear" aria-hidden="true">"⚙"</span>
        </button>
    }
}
