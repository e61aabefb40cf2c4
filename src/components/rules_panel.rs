use super::ago;
use crate::notifications;
use crate::state::rules::Condition;
use crate::state::{Profiles, RuleBook, RuleSpec};
use crate::storage;
use leptos::prelude::*;

/// Keeps the active profile's saved rules in step with the rule book.
fn persist(rules: RwSignal<RuleBook>, profiles: RwSignal<Profiles>) {
    let specs = rules.with_untracked(RuleBook::specs);
    profiles.update(|p| p.set_active_rules(specs));
    storage::save_profiles(&profiles.get_untracked());
}

/// Rules on topic and content (a topic filter and a condition such as
/// `temperature > 30`, `moisture < 25 for 1 min`, `level == "error"` or
/// `contains press-4`), their match counts, and the alerts they raised.
#[component]
pub fn RulesPanel(
    rules: RwSignal<RuleBook>,
    profiles: RwSignal<Profiles>,
    clock: RwSignal<f64>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let topic = RwSignal::new(String::new());
    let condition = RwSignal::new(String::new());
    let notify = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let live_problem = move || condition.with(|c| Condition::parse(c).err());
    let permission = RwSignal::new(notifications::permission());

    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let spec = RuleSpec {
            name: name.get_untracked(),
            topic: topic.get_untracked(),
            condition: condition.get_untracked(),
            notify: notify.get_untracked(),
        };
        let mut result = Ok(0);
        rules.update(|r| result = r.add(spec));
        match result {
            Ok(_) => {
                persist(rules, profiles);
                problem.set(None);
                name.set(String::new());
                condition.set(String::new());
                notify.set(false);
            }
            Err(p) => problem.set(Some(p)),
        }
    };
    let rows = move || {
        rules.with(|r| {
            r.rules()
                .iter()
                .map(|rule| (rule.id, rule.spec.clone(), rule.matches))
                .collect::<Vec<_>>()
        })
    };
    let alerts = move || rules.with(|r| r.alerts().cloned().collect::<Vec<_>>());
    let ask = move |_| {
        notifications::request(move |_| permission.set(notifications::permission()));
    };
    view! {
        <section id="rules" class="card panel rules-panel" aria-labelledby="rules-title">
            <header class="panel-head">
                <h2 id="rules-title">"Rules & alerts"</h2>
                <Show when=move || permission.get() == web_sys::NotificationPermission::Default>
                    <button class="button ghost small rules-allow" on:click=ask>"Allow notifications"</button>
                </Show>
            </header>
            <form class="rule-form" on:submit=add novalidate>
                <input class="rule-name" type="text" placeholder="Name (optional)" aria-label="Rule name"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <input class="rule-topic" type="text" placeholder="Topic filter (empty: all)" aria-label="Rule topic filter" spellcheck="false"
                    prop:value=move || topic.get() on:input=move |ev| topic.set(event_target_value(&ev)) />
                <input class="rule-condition" type="text" placeholder=r#"temperature > 30 · moisture < 25 for 1 min · level == "error" · contains press-4"#
                    aria-label="Condition" spellcheck="false"
                    aria-invalid=move || live_problem().is_some().to_string()
                    prop:value=move || condition.get() on:input=move |ev| condition.set(event_target_value(&ev)) />
                <label class="check">
                    <input type="checkbox" class="rule-notify" prop:checked=move || notify.get() on:change=move |ev| notify.set(event_target_checked(&ev)) />
                    "Notify"
                </label>
                <button type="submit" class="button primary">"Add rule"</button>
            </form>
            <p class="field-problem rule-problem" role="alert">{move || problem.get().or_else(live_problem).unwrap_or_default()}</p>
            <ul class="rule-list">
                <For each=rows key=|(id, _, matches)| (*id, *matches) let:row>
                    {
                        let (id, spec, matches) = row;
                        view! {
                            <li class="rule-item" data-rule=spec.name.clone()>
                                <div class="rule-main">
                                    <span class="rule-title">{spec.name.clone()}</span>
                                    <code class="rule-def">
                                        {if spec.topic.is_empty() { "all topics".to_owned() } else { spec.topic.clone() }}
                                        {(!spec.condition.is_empty()).then(|| format!(" · {}", spec.condition))}
                                    </code>
                                </div>
                                <span class="rule-count" title="Matching messages">{matches}</span>
                                {spec.notify.then(|| view! { <span class="badge" title="Notifies">"🔔"</span> })}
                                <button class="button ghost small" aria-label=format!("Remove rule {}", spec.name)
                                    on:click=move |_| { rules.update(|r| r.remove(id)); persist(rules, profiles); }>"Remove"</button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <Show when=move || rules.with(|r| r.alerts().next().is_some())>
                <h3 class="subhead">"Alerts"</h3>
            </Show>
            <ul class="alert-list" aria-live="polite">
                {move || alerts().into_iter().map(|a| {
                    let when = move || ago(clock.get() - a.last_ms);
                    view! {
                        <li class="alert-item">
                            <span class="alert-rule">{a.rule.clone()}</span>
                            <code class="alert-topic">{a.topic.clone()}</code>
                            <span class="alert-value">{a.preview.clone()}</span>
                            {(a.count > 1).then(|| view! { <span class="badge">{format!("×{}", a.count)}</span> })}
                            <span class="alert-when">{when}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// The number of alerts not yet looked at; a click goes to the rules panel.
#[component]
pub fn AlertBadge(rules: RwSignal<RuleBook>) -> impl IntoView {
    let unseen = move || rules.with(|r| r.unseen);
    let label = move || format!("{} new alerts", unseen());
    view! {
        <Show when=move || { unseen() > 0 }>
            <button class="button alert-badge" aria-label=label title=label
                on:click=move |_| {
                    rules.update(RuleBook::mark_seen);
                    if let Some(el) = document().get_element_by_id("rules") {
                        el.scroll_into_view();
                    }
                }>
                "🔔 "{unseen}
            </button>
        </Show>
    }
}
