use crate::state::payload::{hex, number_at, numeric_paths, pretty_json, preview};
use crate::state::{ChartSpec, CustomCharts, LogEntry, LogFilter, MessageLog, SubscriptionList};
use crate::theme::{css, series_color};
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Height of one log row in CSS pixels (style/main.css `.log-row`).
const ROW_PX: f64 = 30.0;
/// Rows rendered beyond the visible ones, above and below.
const OVERSCAN: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadView {
    Text,
    Json,
    Hex,
}

/// What one row of the log shows.
#[derive(Debug, Clone, PartialEq)]
struct RowView {
    seq: u64,
    selected: bool,
    flagged: bool,
    time: String,
    topic: String,
    payload: String,
    qos: u8,
    retain: bool,
    dup: bool,
    color: String,
}

impl RowView {
    fn of(e: &LogEntry, selected: bool, subscriptions: &SubscriptionList) -> RowView {
        RowView {
            seq: e.seq,
            selected,
            flagged: e.flagged,
            time: local_time(e.at_ms),
            topic: e.topic.clone(),
            payload: preview(&e.payload, 120),
            qos: e.qos,
            retain: e.retain,
            dup: e.dup,
            color: subscriptions
                .color_for(&e.topic)
                .map(|i| css(series_color(i)))
                .unwrap_or_else(|| "transparent".to_owned()),
        }
    }
}

/// Local wall-clock time with milliseconds, e.g. `15:46:36.123`.
fn local_time(ms: f64) -> String {
    let d = js_sys::Date::new(&ms.into());
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        d.get_milliseconds()
    )
}

/// Offers `contents` as a file download.
fn download(name: &str, mime: &str, contents: &str) {
    let parts = js_sys::Array::of1(&contents.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let anchor = document()
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(a) = anchor {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// The latest messages in a virtualized list: only the rows in view exist in
/// the page. Filter by topic pattern and text, pause, clear, export, and a
/// detail view of one message as text, pretty JSON or hex.
#[component]
pub fn MessageLogPanel(
    log: RwSignal<MessageLog>,
    subscriptions: RwSignal<SubscriptionList>,
    charts: RwSignal<CustomCharts>,
) -> impl IntoView {
    let filter = RwSignal::new(LogFilter::default());
    let matching = Memo::new(move |_| filter.with(|f| log.with(|l| l.matching(f))));
    let viewport = NodeRef::<Div>::new();
    let scroll_top = RwSignal::new(0.0f64);
    let view_height = RwSignal::new(360.0f64);
    // Follow the newest message while scrolled to the bottom; otherwise keep
    // the message at the top of the view in place as new ones arrive and old
    // ones fall off.
    let follow = RwSignal::new(true);
    let anchor_seq = RwSignal::new(None::<u64>);
    let selected = RwSignal::new(None::<u64>);
    let payload_view = RwSignal::new(PayloadView::Text);

    let window = Memo::new(move |_| {
        let total = matching.with(Vec::len);
        let first = ((scroll_top.get() / ROW_PX).floor() as usize).saturating_sub(OVERSCAN);
        let visible = (view_height.get() / ROW_PX).ceil() as usize + 2 * OVERSCAN;
        let first = first.min(total);
        (first, (first + visible).min(total))
    });
    // The rows in view, as they are shown. The page keeps one element per
    // slot of the view and rewrites its text as messages stream past, rather
    // than making and dropping elements for every message: at 10,000
    // messages a second, rows made per frame each left a little memory behind
    // in the reactive runtime (about 0.2 MiB a second).
    let visible = Memo::new(move |_| {
        let (first, end) = window.get();
        let chosen = selected.get();
        let ids: Vec<u64> = matching.with(|m| m[first..end].to_vec());
        log.with_untracked(|l| {
            subscriptions.with_untracked(|subs| {
                ids.iter()
                    .filter_map(|&seq| l.by_seq(seq))
                    .map(|e| RowView::of(e, chosen == Some(e.seq), subs))
                    .collect::<Vec<_>>()
            })
        })
    });
    let slots = move || (0..visible.with(Vec::len)).collect::<Vec<usize>>();
    // One handler for every row: which message a row shows changes many
    // times a second, so the click asks the row.
    let on_row_click = move |ev: leptos::ev::MouseEvent| {
        let seq = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-seq]").ok().flatten())
            .and_then(|row| row.get_attribute("data-seq"))
            .and_then(|s| s.parse::<u64>().ok());
        if seq.is_some() {
            selected.set(seq);
        }
    };
    // Arrow keys, Home and End move the selection through the messages
    // shown, scrolling to keep it in view.
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let key = ev.key();
        let next = matching.with_untracked(|m| {
            let at = selected
                .get_untracked()
                .and_then(|s| m.binary_search(&s).ok());
            let index = match (key.as_str(), at) {
                ("ArrowDown", Some(i)) => (i + 1).min(m.len().saturating_sub(1)),
                ("ArrowUp", Some(i)) => i.saturating_sub(1),
                ("ArrowDown" | "Home", None) | ("Home", _) => 0,
                ("ArrowUp" | "End", None) | ("End", _) => m.len().saturating_sub(1),
                _ => return None,
            };
            m.get(index).map(|&seq| (index, seq))
        });
        let Some((index, seq)) = next else {
            return;
        };
        ev.prevent_default();
        selected.set(Some(seq));
        if let Some(el) = viewport.get_untracked() {
            let top = index as f64 * ROW_PX;
            let height = f64::from(el.client_height());
            let scroll = f64::from(el.scroll_top());
            if top < scroll {
                el.set_scroll_top(top as i32);
            } else if top + ROW_PX > scroll + height {
                el.set_scroll_top((top + ROW_PX - height) as i32);
            }
        }
    };
    let on_scroll = move |_| {
        let Some(el) = viewport.get_untracked() else {
            return;
        };
        let top = f64::from(el.scroll_top());
        let height = f64::from(el.client_height());
        let bottom = top + height;
        follow.set(bottom >= f64::from(el.scroll_height()) - ROW_PX);
        scroll_top.set(top);
        view_height.set(height.max(ROW_PX));
        let index = (top / ROW_PX).floor() as usize;
        anchor_seq.set(matching.with_untracked(|m| m.get(index).copied()));
    };
    // After each change of the list: stick to the bottom, or to the anchor.
    Effect::new(move |_| {
        let total = matching.with(Vec::len);
        let Some(el) = viewport.get_untracked() else {
            return;
        };
        if follow.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        } else if let Some(anchor) = anchor_seq.get_untracked() {
            let index = matching.with_untracked(|m| m.partition_point(|&s| s < anchor));
            let offset = f64::from(el.scroll_top()) % ROW_PX;
            el.set_scroll_top((index as f64 * ROW_PX + offset) as i32);
        }
        let _ = total;
        scroll_top.set(f64::from(el.scroll_top()));
    });

    let export = move |csv: bool| {
        let f = filter.get_untracked();
        log.with_untracked(|l| {
            if csv {
                download("mqtt-messages.csv", "text/csv", &l.to_csv(&f));
            } else {
                download("mqtt-messages.json", "application/json", &l.to_json(&f));
            }
        });
    };
    let paused = move || log.with(|l| l.paused);
    let counts = move || {
        let shown = matching.with(Vec::len);
        let total = log.with(MessageLog::len);
        let missed = log.with(|l| l.missed_while_paused);
        let mut text = if shown == total {
            format!("{total} messages")
        } else {
            format!("{shown} of {total} messages")
        };
        if missed > 0 {
            text.push_str(&format!(" · {missed} arrived while paused"));
        }
        text
    };
    let topic_problem = move || filter.with(LogFilter::topic_problem);

    let slot_view = move |i: usize| {
        let text = move |pick: fn(&RowView) -> String| {
            move || visible.with(|v| v.get(i).map(pick).unwrap_or_default())
        };
        let flag =
            move |pick: fn(&RowView) -> bool| move || visible.with(|v| v.get(i).is_some_and(pick));
        view! {
            <div
                class="log-row"
                class:flagged=flag(|r| r.flagged)
                class:selected=flag(|r| r.selected)
                role="option"
                aria-selected=move || flag(|r| r.selected)().to_string()
                data-seq=text(|r| r.seq.to_string())
            >
                <span class="log-bar" style:background-color=text(|r| r.color.clone())></span>
                <span class="log-time">{text(|r| r.time.clone())}</span>
                // At phone width a long topic is cut at its start (CSS); the
                // <bdi> keeps the topic itself left to right.
                <span class="log-topic" title=text(|r| r.topic.clone())><bdi>{text(|r| r.topic.clone())}</bdi></span>
                <span class="log-payload">{text(|r| r.payload.clone())}</span>
                <span class="log-marks">
                    <span class="badge qos">{text(|r| format!("Q{}", r.qos))}</span>
                    <span class="badge retained" title="Retained" hidden=move || !flag(|r| r.retain)()>"R"</span>
                    <span class="badge dup" title="Duplicate delivery" hidden=move || !flag(|r| r.dup)()>"DUP"</span>
                </span>
            </div>
        }
    };

    view! {
        <section class="card panel log-panel" aria-labelledby="log-title">
            <header class="panel-head">
                <h2 id="log-title">"Messages"</h2>
                <span class="panel-meta log-count">{counts}</span>
            </header>
            <div class="log-toolbar">
                <input
                    class="log-topic-filter"
                    type="search"
                    placeholder="Topic or filter (sensors/+/temperature)"
                    aria-label="Filter by topic"
                    aria-invalid=move || topic_problem().is_some().to_string()
                    on:input=move |ev| filter.update(|f| f.topic = event_target_value(&ev))
                />
                <input
                    class="log-text-filter"
                    type="search"
                    placeholder="Text in payload"
                    aria-label="Filter by payload text"
                    on:input=move |ev| filter.update(|f| f.text = event_target_value(&ev))
                />
                <div class="button-group">
                    <button
                        class="button log-pause"
                        aria-pressed=move || paused().to_string()
                        on:click=move |_| log.update(|l| { let p = !l.paused; l.set_paused(p) })
                    >
                        {move || if paused() { "Resume" } else { "Pause" }}
                    </button>
                    <button class="button log-clear" on:click=move |_| { log.update(MessageLog::clear); selected.set(None); }>"Clear"</button>
                    <button class="button log-export-csv" on:click=move |_| export(true)>"CSV"</button>
                    <button class="button log-export-json" on:click=move |_| export(false)>"JSON"</button>
                </div>
            </div>
            <p class="field-problem" role="alert">{move || topic_problem().unwrap_or_default()}</p>
            <div class="log-viewport" node_ref=viewport on:scroll=on_scroll on:click=on_row_click on:keydown=on_key role="listbox" aria-label="Messages" tabindex="0">
                <div class="log-spacer" style:height=move || format!("{}px", window.get().0 as f64 * ROW_PX)></div>
                <For each=slots key=|i| *i let:i>
                    {slot_view(i)}
                </For>
                <div class="log-spacer" style:height=move || {
                    let (_, end) = window.get();
                    format!("{}px", (matching.with(Vec::len) - end) as f64 * ROW_PX)
                }></div>
            </div>
            <MessageDetail log=log selected=selected payload_view=payload_view charts=charts />
        </section>
    }
}

#[component]
fn MessageDetail(
    log: RwSignal<MessageLog>,
    selected: RwSignal<Option<u64>>,
    payload_view: RwSignal<PayloadView>,
    charts: RwSignal<CustomCharts>,
) -> impl IntoView {
    let chart_note = RwSignal::new(None::<String>);
    // The numbers this message holds, each a chart to add with one click.
    let chart_buttons = move |e: &LogEntry| {
        let mut fields = Vec::new();
        if number_at(&e.payload, "").is_some() {
            fields.push(String::new());
        }
        fields.extend(numeric_paths(&e.payload, 6));
        let topic = e.topic.clone();
        fields
            .into_iter()
            .map(|field| {
                let label = if field.is_empty() {
                    "Chart value".to_owned()
                } else {
                    format!("Chart {field}")
                };
                let spec = ChartSpec {
                    filter: topic.clone(),
                    field,
                    unit: String::new(),
                };
                view! {
                    <button
                        class="button small chart-this"
                        on:click=move |_| {
                            let mut result = Ok(0);
                            charts.update(|c| {
                                result = c.add(spec.clone());
                                if let Ok(id) = result {
                                    log.with_untracked(|l| c.backfill(id, l.history()));
                                }
                            });
                            chart_note.set(Some(match result {
                                Ok(_) => format!("Charting {} above.", spec.title()),
                                Err(e) => e,
                            }));
                        }
                    >
                        {label}
                    </button>
                }
            })
            .collect_view()
    };
    let entry = move || {
        selected
            .get()
            .and_then(|s| log.with(|l| l.by_seq(s).cloned()))
    };
    let body = move |e: &LogEntry| match payload_view.get() {
        PayloadView::Text => e
            .text()
            .map(str::to_owned)
            .unwrap_or_else(|| "(not UTF-8 text: see Hex)".to_owned()),
        PayloadView::Json => pretty_json(&e.payload).unwrap_or_else(|| "(not JSON)".to_owned()),
        PayloadView::Hex => hex(&e.payload),
    };
    let tab = move |v: PayloadView, label: &'static str| {
        view! {
            <button
                class="tab"
                role="tab"
                aria-selected=move || (payload_view.get() == v).to_string()
                on:click=move |_| payload_view.set(v)
            >
                {label}
            </button>
        }
    };
    view! {
        <div class="log-detail">
            {move || match entry() {
                None => view! {
                    <p class="empty-hint">
                        {if selected.get().is_some() { "That message is no longer in the log." } else { "Select a message to see its payload." }}
                    </p>
                }.into_any(),
                Some(e) => {
                    let meta = format!(
                        "{} · QoS {} · {} bytes{}{}",
                        local_time(e.at_ms),
                        e.qos,
                        e.payload.len() + e.cut_bytes,
                        if e.retain { " · retained" } else { "" },
                        if e.dup { " · DUP" } else { "" },
                    );
                    let cut = (e.cut_bytes > 0).then(|| format!("Showing the first {} bytes.", e.payload.len()));
                    view! {
                        <div class="detail-head">
                            <code class="detail-topic">{e.topic.clone()}</code>
                            <span class="panel-meta">{meta}</span>
                        </div>
                        <div class="tabs" role="tablist">
                            {tab(PayloadView::Text, "Text")}
                            {tab(PayloadView::Json, "JSON")}
                            {tab(PayloadView::Hex, "Hex")}
                        </div>
                        <pre class="detail-payload">{body(&e)}</pre>
                        {cut.map(|c| view! { <p class="panel-meta">{c}</p> })}
                        <div class="detail-actions">
                            {chart_buttons(&e)}
                            <span class="panel-meta chart-note">{move || chart_note.get().unwrap_or_default()}</span>
                        </div>
                    }.into_any()
                }
            }}
        </div>
    }
}
