use crate::state::TopicTree;
use leptos::prelude::*;

/// `$SYS` topics (Mosquitto's names) and how each is shown.
const STATS: [(&str, &str); 8] = [
    ("Broker", "$SYS/broker/version"),
    ("Uptime", "$SYS/broker/uptime"),
    ("Clients connected", "$SYS/broker/clients/connected"),
    (
        "Messages in / min",
        "$SYS/broker/load/messages/received/1min",
    ),
    ("Messages out / min", "$SYS/broker/load/messages/sent/1min"),
    ("Subscriptions", "$SYS/broker/subscriptions/count"),
    ("Retained messages", "$SYS/broker/retained messages/count"),
    ("Messages dropped", "$SYS/broker/publish/messages/dropped"),
];

/// "93784 seconds" (Mosquitto's uptime) as "1 d 2 h".
pub fn uptime_words(value: &str) -> String {
    let Some(secs) = value
        .trim()
        .strip_suffix("seconds")
        .and_then(|n| n.trim().parse::<u64>().ok())
    else {
        return value.to_owned();
    };
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86_399 => format!("{} h {} min", secs / 3600, secs / 60 % 60),
        _ => format!("{} d {} h", secs / 86_400, secs / 3600 % 24),
    }
}

/// The broker's own statistics, when it publishes `$SYS`.
#[component]
pub fn BrokerStats(tree: RwSignal<TopicTree>) -> impl IntoView {
    let value = move |topic: &'static str| {
        tree.with(|t| {
            t.node(topic)
                .and_then(|n| n.last.as_ref())
                .map(|l| l.preview.clone())
        })
    };
    let any = move || tree.with(|t| t.node("$SYS/broker").is_some());
    view! {
        <section class="card panel broker-stats" aria-labelledby="broker-title">
            <header class="panel-head">
                <h2 id="broker-title">"Broker"</h2>
                <span class="panel-meta">"$SYS"</span>
            </header>
            <Show
                when=any
                fallback=|| view! {
                    <p class="empty-hint">"No $SYS statistics yet: subscribe to $SYS/# on a broker that publishes them."</p>
                }
            >
                <dl class="stats-grid">
                    {STATS
                        .into_iter()
                        .map(|(label, topic)| {
                            let shown = move || {
                                let v = value(topic);
                                match (topic.ends_with("/uptime"), v) {
                                    (true, Some(v)) => uptime_words(&v),
                                    (_, Some(v)) => v,
                                    (_, None) => "–".to_owned(),
                                }
                            };
                            view! {
                                <div class="stat" data-stat=topic>
                                    <dt>{label}</dt>
                                    <dd>{shown}</dd>
                                </div>
                            }
                        })
                        .collect_view()}
                </dl>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_naturally() {
        assert_eq!(super::uptime_words("42 seconds"), "42 s");
        assert_eq!(super::uptime_words("600 seconds"), "10 min");
        assert_eq!(super::uptime_words("7380 seconds"), "2 h 3 min");
        assert_eq!(super::uptime_words("93784 seconds"), "1 d 2 h");
        assert_eq!(super::uptime_words("soon"), "soon");
    }
}
