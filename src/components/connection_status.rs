use crate::mqtt::LinkState;
use leptos::prelude::*;

/// The broker link's state: a coloured dot, a word, and the broker URL.
#[component]
pub fn ConnectionStatus(
    state: RwSignal<LinkState>,
    url: String,
    clock: RwSignal<f64>,
) -> impl IntoView {
    let class = move || match state.get() {
        LinkState::Connected => "status status-connected",
        LinkState::Connecting => "status status-connecting",
        LinkState::Reconnecting { .. } => "status status-reconnecting",
    };
    let label = move || match state.get() {
        LinkState::Connected => "Connected".to_owned(),
        LinkState::Connecting => "Connecting…".to_owned(),
        LinkState::Reconnecting { retry_at_ms, .. } => {
            let secs = ((retry_at_ms - clock.get()) / 1000.0).ceil().max(0.0);
            if secs >= 1.0 {
                format!("Reconnecting in {secs} s")
            } else {
                "Reconnecting…".to_owned()
            }
        }
    };
    let detail = move || match state.get() {
        LinkState::Reconnecting { reason, .. } => reason,
        _ => String::new(),
    };
    view! {
        <div class=class data-state=move || state.with(LinkState::name) role="status" aria-live="polite">
            <span class="dot" aria-hidden="true"></span>
            <div class="status-text">
                <span class="status-label">{label}</span>
                <span class="status-url" title=detail>{url}</span>
            </div>
        </div>
    }
}
