use super::chart_card::{ChartCard, Line, VisitLines};
use crate::state::{ChartSpec, CustomCharts, MessageLog};
use leptos::prelude::*;
use std::rc::Rc;

/// The "chart a value" form: a topic or filter, an optional JSON field and a
/// unit; one chart per entry, a line per matching topic.
#[component]
pub fn ChartForm(charts: RwSignal<CustomCharts>, log: RwSignal<MessageLog>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let field = RwSignal::new(String::new());
    let unit = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let spec = ChartSpec {
            filter: filter.get_untracked(),
            field: field.get_untracked(),
            unit: unit.get_untracked(),
        };
        let mut result = Ok(0);
        charts.update(|c| {
            result = c.add(spec);
            // Start from the messages the log still holds.
            if let Ok(id) = result {
                log.with_untracked(|l| c.backfill(id, l.history()));
            }
        });
        match result {
            Ok(_) => {
                problem.set(None);
                filter.set(String::new());
                field.set(String::new());
                unit.set(String::new());
            }
            Err(p) => problem.set(Some(p)),
        }
    };
    view! {
        <form class="card chart-form" on:submit=add novalidate aria-label="Chart a value">
            <span class="chart-form-title">"Chart a value"</span>
            <input class="chart-filter" type="text" placeholder="Topic or filter, e.g. plant/+/flow"
                aria-label="Topic or filter to chart" spellcheck="false"
                prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev)) />
            <input class="chart-field" type="text" placeholder="JSON field (optional), e.g. data.temp"
                aria-label="JSON field" spellcheck="false"
                prop:value=move || field.get() on:input=move |ev| field.set(event_target_value(&ev)) />
            <input class="chart-unit" type="text" placeholder="Unit" aria-label="Unit"
                prop:value=move || unit.get() on:input=move |ev| unit.set(event_target_value(&ev)) />
            <button type="submit" class="button primary">"Add chart"</button>
            <p class="field-problem chart-problem" role="alert">{move || problem.get().unwrap_or_default()}</p>
        </form>
    }
}

/// The charts a person added, each removable.
#[component]
pub fn CustomChartList(charts: RwSignal<CustomCharts>, clock: RwSignal<f64>) -> impl IntoView {
    let ids = move || charts.with(CustomCharts::ids);
    view! {
        <For each=ids key=|id| *id let:id>
            {
                let spec = charts.with_untracked(|c| c.get(id).map(|c| c.spec.clone()));
                spec.map(|spec| {
                    let lines: VisitLines = Rc::new(move |visit| {
                        charts.with_untracked(|c| {
                            if let Some(chart) = c.get(id) {
                                for (i, (topic, series)) in chart.lines.iter().enumerate() {
                                    visit(Line { label: topic, color: i, series });
                                }
                            }
                        })
                    });
                    view! {
                        <ChartCard
                            key=format!("custom-{id}")
                            title=spec.title()
                            unit=spec.unit.clone()
                            changed=Rc::new(move || charts.track())
                            lines=lines
                            clock=clock
                            on_remove=Rc::new(move || charts.update(|c| c.remove(id)))
                        />
                    }
                })
            }
        </For>
    }
}
