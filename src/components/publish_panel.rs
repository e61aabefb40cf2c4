use super::ago;
use super::subscriptions_panel::qos_from;
use crate::broker::{topic_problem, Broker};
use crate::state::{PublishProperties, SentMessage};
use leptos::prelude::*;

/// Payload formats the form checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

fn json_problem(payload: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(payload)
        .err()
        .map(|e| format!("Not valid JSON: {e}."))
}

/// Publish a message (topic, payload as text or checked JSON, QoS, retain),
/// and the history of sent messages with their delivery and a resend button.
#[component]
pub fn PublishPanel(broker: Broker, clock: RwSignal<f64>) -> impl IntoView {
    let topic = RwSignal::new(String::new());
    let payload = RwSignal::new(String::new());
    let format = RwSignal::new(Format::Text);
    let qos = RwSignal::new("0".to_owned());
    let retain = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let props = RwSignal::new(PublishProperties::default());
    let props_error = move || props.with(|p| p.to_properties().err());

    let topic_error = move || {
        let t = topic.get();
        (!t.is_empty() && mqtt_proto::topic::validate_topic_name(&t).is_err())
            .then(|| topic_problem(&t))
    };
    let payload_error = move || {
        (format.get() == Format::Json)
            .then(|| payload.with(|p| json_problem(p)))
            .flatten()
    };
    let can_send = move || {
        !topic.with(String::is_empty) && topic_error().is_none() && payload_error().is_none()
    };
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !can_send() {
            return;
        }
        let q = qos_from(&qos.get_untracked());
        let properties = props.with_untracked(PublishProperties::to_properties);
        let result = properties.and_then(|properties| {
            broker.publish(
                &topic.get_untracked(),
                &payload.get_untracked(),
                q,
                retain.get_untracked(),
                properties,
            )
        });
        outcome.set(Some(result.map(|()| "Sent.".to_owned())));
    };
    let resend = move |m: SentMessage| {
        let qos = qos_from(&m.qos.to_string());
        let result = broker.publish(&m.topic, &m.payload, qos, m.retain, m.properties.clone());
        outcome.set(Some(result.map(|()| format!("Sent again to {}.", m.topic))));
    };
    let history = move || {
        broker
            .sent
            .with(|s| s.entries().cloned().enumerate().collect::<Vec<_>>())
    };
    view! {
        <section class="card panel publish-panel" aria-labelledby="publish-title">
            <header class="panel-head">
                <h2 id="publish-title">"Publish"</h2>
            </header>
            <form class="publish-form" on:submit=send novalidate>
                <input
                    class="publish-topic"
                    type="text"
                    placeholder="sensors/greenhouse-1/cmd"
                    aria-label="Topic"
                    spellcheck="false"
                    aria-invalid=move || topic_error().is_some().to_string()
                    prop:value=move || topic.get()
                    on:input=move |ev| topic.set(event_target_value(&ev))
                />
                <p class="field-problem publish-topic-problem" role="alert">{move || topic_error().unwrap_or_default()}</p>
                <textarea
                    class="publish-payload"
                    rows="3"
                    placeholder=r#"{"pump":"on"}"#
                    aria-label="Payload"
                    spellcheck="false"
                    aria-invalid=move || payload_error().is_some().to_string()
                    prop:value=move || payload.get()
                    on:input=move |ev| payload.set(event_target_value(&ev))
                ></textarea>
                <p class="field-problem publish-payload-problem" role="alert">{move || payload_error().unwrap_or_default()}</p>
                <details class="v5-props">
                    <summary>
                        "MQTT 5.0 properties"
                        <Show when=move || !broker.is_v5.get()>
                            <span class="panel-meta">" (connect with 5.0 to send them)"</span>
                        </Show>
                    </summary>
                    <div class="v5-grid">
                        <input class="prop-content-type" type="text" placeholder="Content type, e.g. application/json" aria-label="Content type"
                            prop:value=move || props.with(|p| p.content_type.clone())
                            on:input=move |ev| props.update(|p| p.content_type = event_target_value(&ev)) />
                        <input class="prop-response-topic" type="text" placeholder="Response topic" aria-label="Response topic" spellcheck="false"
                            prop:value=move || props.with(|p| p.response_topic.clone())
                            on:input=move |ev| props.update(|p| p.response_topic = event_target_value(&ev)) />
                        <input class="prop-correlation" type="text" placeholder="Correlation data" aria-label="Correlation data" spellcheck="false"
                            prop:value=move || props.with(|p| p.correlation_data.clone())
                            on:input=move |ev| props.update(|p| p.correlation_data = event_target_value(&ev)) />
                        <input class="prop-expiry" type="text" inputmode="numeric" placeholder="Message expiry (s)" aria-label="Message expiry in seconds"
                            prop:value=move || props.with(|p| p.message_expiry.clone())
                            on:input=move |ev| props.update(|p| p.message_expiry = event_target_value(&ev)) />
                        <textarea class="prop-user" rows="2" placeholder="User properties, one key=value per line" aria-label="User properties" spellcheck="false"
                            prop:value=move || props.with(|p| p.user_properties.clone())
                            on:input=move |ev| props.update(|p| p.user_properties = event_target_value(&ev))></textarea>
                    </div>
                    <p class="field-problem publish-props-problem" role="alert">{move || props_error().unwrap_or_default()}</p>
                </details>
                <div class="publish-options">
                    <div class="segmented publish-format" role="radiogroup" aria-label="Payload format">
                        <button type="button" role="radio" aria-checked=move || (format.get() == Format::Text).to_string() on:click=move |_| format.set(Format::Text)>"Text"</button>
                        <button type="button" role="radio" aria-checked=move || (format.get() == Format::Json).to_string() on:click=move |_| format.set(Format::Json)>"JSON"</button>
                    </div>
                    <select class="publish-qos" aria-label="QoS" on:change=move |ev| qos.set(event_target_value(&ev))>
                        <option value="0" selected=true>"QoS 0"</option>
                        <option value="1">"QoS 1"</option>
                        <option value="2">"QoS 2"</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" class="publish-retain" prop:checked=move || retain.get() on:change=move |ev| retain.set(event_target_checked(&ev)) />
                        "Retain"
                    </label>
                    <button type="submit" class="button primary" disabled=move || !can_send()>"Publish"</button>
                </div>
                <p class="publish-outcome" role="status">
                    {move || match outcome.get() {
                        Some(Ok(text)) => view! { <span class="ok">{text}</span> }.into_any(),
                        Some(Err(text)) => view! { <span class="bad">{text}</span> }.into_any(),
                        None => ().into_any(),
                    }}
                </p>
            </form>
            <Show when=move || !broker.sent.with(|s| s.is_empty())>
                <h3 class="subhead">"Sent"</h3>
            </Show>
            <ul class="sent-list">
                <For each=history key=|(_, m)| (m.at_ms.to_bits(), m.delivered_ms.map(f64::to_bits)) let:item>
                    {
                        let (_, m) = item;
                        let delivery = match (m.qos, m.round_trip_ms()) {
                            (0, _) => "QoS 0".to_owned(),
                            (q, Some(rtt)) => format!("QoS {q} · acknowledged in {rtt:.0} ms"),
                            (q, None) => format!("QoS {q} · waiting for acknowledgement"),
                        };
                        let at = m.at_ms;
                        let again = m.clone();
                        view! {
                            <li class="sent-item">
                                <div class="sent-main">
                                    <code>{m.topic.clone()}</code>
                                    <span class="sent-payload">{m.payload.clone()}</span>
                                </div>
                                <div class="sent-meta">
                                    <span>{delivery}</span>
                                    {m.retain.then_some(" · retained")}
                                    <span class="sent-age">{move || format!(" · {}", ago(clock.get() - at))}</span>
                                </div>
                                <button class="button ghost small" on:click=move |_| resend(again.clone())>"Resend"</button>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
}
