use super::ago;
use crate::broker::Broker;
use crate::state::TopicTree;
use leptos::prelude::*;
use mqtt_proto::QoS;
use std::collections::HashSet;

/// Rows rendered at most; a search narrows a larger tree.
const MAX_ROWS: usize = 1_000;

/// Every topic seen as a live hierarchy: message counts, last value, its age
/// and a retained marker; search; subscribe to a topic or its subtree.
#[component]
pub fn TopicTreePanel(
    tree: RwSignal<TopicTree>,
    broker: Broker,
    clock: RwSignal<f64>,
) -> impl IntoView {
    let expanded = RwSignal::new(HashSet::<String>::new());
    let query = RwSignal::new(String::new());
    // Recomputed per batch of messages, but equal rows leave the DOM alone:
    // only new topics and expansion change it.
    let rows = Memo::new(move |_| {
        let q = query.get();
        expanded.with(|e| tree.with(|t| t.rows(e, &q, MAX_ROWS)))
    });
    let summary = move || {
        tree.with(|t| {
            format!(
                "{} topics · {} messages",
                t.topic_count(),
                t.message_count()
            )
        })
    };
    let searching = move || !query.with(|q| q.trim().is_empty());
    view! {
        <section class="card panel tree-panel" aria-labelledby="tree-title">
            <header class="panel-head">
                <h2 id="tree-title">"Topics"</h2>
                <span class="panel-meta tree-summary">{summary}</span>
            </header>
            <input
                class="tree-search"
                type="search"
                placeholder="Search topics"
                aria-label="Search topics"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            <Show when=move || rows.with(Vec::is_empty)>
                <p class="empty-hint tree-empty">
                    {move || if searching() { "No topic matches." } else { "No messages yet." }}
                </p>
            </Show>
            <ul class="tree" role="tree" aria-label="Topics" on:keydown=move |ev| tree_keys(&ev, expanded)>
                <For each=move || rows.get() key=|r| r.path.clone() let:row>
                    <TopicRow
                        path=row.path
                        name=row.name
                        depth=row.depth
                        tree=tree
                        expanded=expanded
                        searching=Signal::derive(searching)
                        broker=broker
                        clock=clock
                    />
                </For>
            </ul>
        </section>
    }
}

/// Arrow keys over the tree: up and down move between topics, right opens
/// a topic with children, left closes it (Enter toggles, as the name is a
/// button). Focus stays on the topic names, so the row buttons keep Tab.
fn tree_keys(ev: &leptos::ev::KeyboardEvent, expanded: RwSignal<HashSet<String>>) {
    use wasm_bindgen::JsCast;
    let Some(focused) = document()
        .active_element()
        .filter(|e| e.class_list().contains("tree-name"))
    else {
        return;
    };
    let Some(path) = focused
        .closest(".tree-row")
        .ok()
        .flatten()
        .and_then(|row| row.get_attribute("data-topic"))
    else {
        return;
    };
    let names = document().query_selector_all(".tree-row .tree-name").ok();
    let index = names.as_ref().and_then(|list| {
        (0..list.length()).find(|&i| {
            list.item(i)
                .is_some_and(|n| n.is_same_node(Some(focused.as_ref())))
        })
    });
    let focus = |i: u32| {
        if let Some(el) = names
            .as_ref()
            .and_then(|l| l.item(i))
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    };
    match (ev.key().as_str(), index) {
        ("ArrowDown", Some(i)) => focus(i + 1),
        ("ArrowUp", Some(i)) if i > 0 => focus(i - 1),
        ("ArrowRight", _) => expanded.update(|e| {
            e.insert(path);
        }),
        ("ArrowLeft", _) => expanded.update(|e| {
            e.remove(&path);
        }),
        _ => return,
    }
    ev.prevent_default();
}

#[component]
#[allow(clippy::too_many_arguments)]
fn TopicRow(
    path: String,
    name: String,
    depth: usize,
    tree: RwSignal<TopicTree>,
    expanded: RwSignal<HashSet<String>>,
    searching: Signal<bool>,
    broker: Broker,
    clock: RwSignal<f64>,
) -> impl IntoView {
    // Row content reads the tree by path, so a busy topic updates its numbers
    // in place and the row itself never moves or re-renders.
    let node = {
        let path = path.clone();
        move |f: &dyn Fn(&crate::state::topic_tree::TopicNode) -> String| {
            tree.with(|t| t.node(&path).map(f).unwrap_or_default())
        }
    };
    let has_children = {
        let path = path.clone();
        move || tree.with(|t| t.node(&path).is_some_and(|n| n.has_children()))
    };
    let is_open = {
        let path = path.clone();
        move || searching.get() || expanded.with(|e| e.contains(&path))
    };
    let toggle = {
        let path = path.clone();
        move || {
            expanded.update(|e| {
                if !e.remove(&path) {
                    e.insert(path.clone());
                }
            })
        }
    };
    let value = {
        let node = node.clone();
        move || {
            node(&|n| {
                n.last
                    .as_ref()
                    .map(|l| l.preview.clone())
                    .unwrap_or_default()
            })
        }
    };
    let count = {
        let node = node.clone();
        move || {
            node(&|n| {
                if n.has_children() {
                    format!("{} topics · {} msgs", n.subtree_topics, n.subtree_messages)
                } else {
                    format!("{} msgs", n.messages)
                }
            })
        }
    };
    let age = {
        let node = node.clone();
        move || {
            let now = clock.get();
            node(&|n| {
                n.last
                    .as_ref()
                    .map(|l| ago(now - l.at_ms))
                    .unwrap_or_default()
            })
        }
    };
    let retained = {
        let path = path.clone();
        move || {
            tree.with(|t| {
                t.node(&path)
                    .and_then(|n| n.last.as_ref())
                    .is_some_and(|l| l.retained)
            })
        }
    };
    let label = if name.is_empty() {
        "(empty)".to_owned()
    } else {
        name
    };
    let subscribe_topic = path.clone();
    let subscribe_subtree = if path.is_empty() {
        "/#".to_owned()
    } else {
        format!("{path}/#")
    };
    let sub_label = format!("Subscribe to {path}");
    let subtree_label = format!("Subscribe to {subscribe_subtree}");
    let subtree_filter = subscribe_subtree.clone();
    let has_children_2 = has_children.clone();
    let is_open_2 = is_open.clone();
    let toggle_2 = toggle.clone();
    view! {
        <li
            class="tree-row"
            role="treeitem"
            data-topic=path.clone()
            aria-expanded=move || has_children().then(|| is_open().to_string())
            style:padding-left=format!("{}px", 8 + depth * 16)
        >
            <button
                class="twisty"
                class:open=is_open_2
                tabindex="-1"
                aria-hidden="true"
                disabled=move || !has_children_2()
                on:click=move |_| toggle_2()
            ></button>
            <button class="tree-name" on:click=move |_| toggle() title=path.clone()>{label}</button>
            <Show when=retained>
                <span class="badge retained" title="Retained message">"R"</span>
            </Show>
            <span class="tree-value">{value}</span>
            <span class="tree-meta">
                <span class="tree-count">{count}</span>
                <span class="tree-age">{age}</span>
            </span>
            <span class="tree-actions">
                <button
                    class="button ghost small"
                    data-action="subscribe"
                    aria-label=sub_label
                    title=format!("Subscribe to {subscribe_topic}")
                    on:click=move |_| {
                        let _ = broker.subscribe(&subscribe_topic, QoS::AtMostOnce);
                    }
                >
                    "Sub"
                </button>
                <button
                    class="button ghost small"
                    data-action="subscribe-subtree"
                    aria-label=subtree_label
                    title=format!("Subscribe to {subtree_filter}")
                    on:click=move |_| {
                        let _ = broker.subscribe(&subscribe_subtree, QoS::AtMostOnce);
                    }
                >
                    "/#"
                </button>
            </span>
        </li>
    }
}
