use crate::app::broker_url_for;
use crate::broker::Broker;
use crate::state::{ConnectionSettings, Profiles};
use crate::storage;
use leptos::prelude::*;

/// Broker URL, client id, credentials, protocol version, keepalive, clean
/// start and session expiry, Last Will; saved as named profiles.
#[component]
pub fn ConnectionPanel(
    broker: Broker,
    profiles: RwSignal<Profiles>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let name = RwSignal::new(profiles.with_untracked(|p| p.active.clone()));
    let draft = RwSignal::new(profiles.with_untracked(Profiles::active_settings));
    let message = RwSignal::new(None::<Result<String, String>>);

    let pick_profile = move |ev: leptos::ev::Event| {
        let picked = event_target_value(&ev);
        if let Some(p) = profiles.with_untracked(|ps| ps.get(&picked).cloned()) {
            name.set(p.name);
            draft.set(p.settings);
            message.set(None);
        }
    };
    let save = move || -> Result<(), String> {
        let settings = draft.get_untracked();
        let mut result = Ok(());
        profiles.update(|p| result = p.save(&name.get_untracked(), settings));
        result?;
        if !profiles.with_untracked(storage::save_profiles) {
            return Err("Connected, but this browser did not keep the profile.".to_owned());
        }
        Ok(())
    };
    let connect = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let settings = draft.get_untracked();
        if let Some(p) = settings.problem() {
            message.set(Some(Err(p)));
            return;
        }
        let saved = save();
        broker.connect(broker_url_for(&settings), &settings);
        message.set(Some(saved.map(|()| {
            format!("Saved “{}” and connecting.", name.get_untracked())
        })));
    };
    let delete = move |_| {
        let current = name.get_untracked();
        let mut deleted = false;
        profiles.update(|p| deleted = p.delete(&current));
        if deleted {
            storage::save_profiles(&profiles.get_untracked());
            let p = profiles.get_untracked();
            name.set(p.active.clone());
            draft.set(p.active_settings());
            message.set(Some(Ok(format!("Deleted “{current}”."))));
        } else {
            message.set(Some(Err("The last profile stays.".to_owned())));
        }
    };

    // Two-way bindings for the draft's fields.
    macro_rules! text_field {
        ($field:ident $(. $sub:ident)*) => {
            (
                move || draft.with(|d| d.$field$(.$sub)*.clone()),
                move |ev: leptos::ev::Event| draft.update(|d| d.$field$(.$sub)* = event_target_value(&ev)),
            )
        };
    }
    let (url_value, url_input) = text_field!(url);
    let (id_value, id_input) = text_field!(client_id);
    let (user_value, user_input) = text_field!(username);
    let (pass_value, pass_input) = text_field!(password);
    let (will_topic_value, will_topic_input) = text_field!(will.topic);
    let (will_payload_value, will_payload_input) = text_field!(will.payload);
    let is_v5 = move || draft.with(ConnectionSettings::is_v5);
    let problem = move || draft.with(ConnectionSettings::problem);

    view! {
        <section id="connection-panel" class="card panel connection-panel" aria-labelledby="conn-title">
            <header class="panel-head">
                <h2 id="conn-title">"Connection"</h2>
                <button class="button ghost small" aria-label="Close connection settings" on:click=move |_| open.set(false)>"✕"</button>
            </header>
            <form class="conn-form" on:submit=connect novalidate>
                <label class="field">
                    <span>"Profile"</span>
                    <select class="conn-profile" on:change=pick_profile>
                        {move || profiles.with(|p| p.list.iter().map(|prof| {
                            let selected = prof.name == name.get();
                            view! { <option value=prof.name.clone() selected=selected>{prof.name.clone()}</option> }
                        }).collect_view())}
                    </select>
                </label>
                <label class="field">
                    <span>"Profile name"</span>
                    <input class="conn-name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label class="field wide">
                    <span>"Broker URL"</span>
                    <input class="conn-url" type="text" placeholder="this site: /mqtt on the page's own origin" spellcheck="false" prop:value=url_value on:input=url_input />
                </label>
                <label class="field">
                    <span>"Client ID"</span>
                    <input class="conn-client-id" type="text" placeholder="random" spellcheck="false" prop:value=id_value on:input=id_input />
                </label>
                <label class="field">
                    <span>"MQTT version"</span>
                    <select class="conn-version" on:change=move |ev| draft.update(|d| d.protocol = if event_target_value(&ev) == "5" { 5 } else { 4 })>
                        <option value="4" selected=move || !is_v5()>"3.1.1"</option>
                        <option value="5" selected=is_v5>"5.0"</option>
                    </select>
                </label>
                <label class="field">
                    <span>"Username"</span>
                    <input class="conn-username" type="text" autocomplete="username" prop:value=user_value on:input=user_input />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input class="conn-password" type="password" autocomplete="current-password" prop:value=pass_value on:input=pass_input />
                </label>
                <label class="check">
                    <input type="checkbox" class="conn-remember" prop:checked=move || draft.with(|d| d.remember_password)
                        on:change=move |ev| draft.update(|d| d.remember_password = event_target_checked(&ev)) />
                    "Remember password in this browser"
                </label>
                <label class="field">
                    <span>"Keepalive (s)"</span>
                    <input class="conn-keepalive" type="number" min="0" max="65535" prop:value=move || draft.with(|d| d.keep_alive_secs.to_string())
                        on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { draft.update(|d| d.keep_alive_secs = v) } />
                </label>
                <label class="check">
                    <input type="checkbox" class="conn-clean" prop:checked=move || draft.with(|d| d.clean_start)
                        on:change=move |ev| draft.update(|d| d.clean_start = event_target_checked(&ev)) />
                    {move || if is_v5() { "Clean start" } else { "Clean session" }}
                </label>
                <Show when=is_v5>
                    <label class="field">
                        <span>"Session expiry (s)"</span>
                        <input class="conn-expiry" type="number" min="0" prop:value=move || draft.with(|d| d.session_expiry_secs.to_string())
                            on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { draft.update(|d| d.session_expiry_secs = v) } />
                    </label>
                </Show>
                <fieldset class="will wide">
                    <legend>"Last Will (optional)"</legend>
                    <input class="conn-will-topic" type="text" placeholder="Topic" aria-label="Last Will topic" spellcheck="false" prop:value=will_topic_value on:input=will_topic_input />
                    <input class="conn-will-payload" type="text" placeholder="Payload" aria-label="Last Will payload" prop:value=will_payload_value on:input=will_payload_input />
                    <select aria-label="Last Will QoS" on:change=move |ev| draft.update(|d| d.will.qos = event_target_value(&ev).parse().unwrap_or(0))>
                        {(0u8..=2).map(|q| view! { <option value=q.to_string() selected=move || draft.with(|d| d.will.qos == q)>{format!("QoS {q}")}</option> }).collect_view()}
                    </select>
                    <label class="check">
                        <input type="checkbox" prop:checked=move || draft.with(|d| d.will.retain) on:change=move |ev| draft.update(|d| d.will.retain = event_target_checked(&ev)) />
                        "Retain"
                    </label>
                </fieldset>
                <p class="field-problem wide" role="alert">{move || problem().unwrap_or_default()}</p>
                <div class="conn-actions wide">
                    <button type="submit" class="button primary conn-connect" disabled=move || problem().is_some()>"Save & connect"</button>
                    <button type="button" class="button conn-disconnect" on:click=move |_| broker.disconnect()>"Disconnect"</button>
                    <button type="button" class="button ghost conn-delete" on:click=delete>"Delete profile"</button>
                    <span class="conn-message" role="status">
                        {move || match message.get() {
                            Some(Ok(text)) => view! { <span class="ok">{text}</span> }.into_any(),
                            Some(Err(text)) => view! { <span class="bad">{text}</span> }.into_any(),
                            None => ().into_any(),
                        }}
                    </span>
                </div>
            </form>
        </section>
    }
}
