use super::chart_card::{ChartCard, Line, VisitLines, YAxis};
use crate::state::{Metric, SensorStore};
use leptos::prelude::*;
use std::rc::Rc;

/// One line per device for a metric of the topic conventions.
#[component]
pub fn SensorChart(
    metric: Metric,
    store: RwSignal<SensorStore>,
    clock: RwSignal<f64>,
) -> impl IntoView {
    let lines: VisitLines = Rc::new(move |visit| {
        store.with_untracked(|s| {
            for (i, (name, readings)) in s.devices().enumerate() {
                visit(Line {
                    label: name,
                    color: i,
                    series: readings.series(metric),
                });
            }
        })
    });
    let y_axis = match metric {
        Metric::Temperature => YAxis {
            min_span: 4.0,
            empty: (15.0, 30.0),
            clamp: None,
        },
        Metric::Moisture => YAxis {
            min_span: 10.0,
            empty: (0.0, 100.0),
            clamp: Some((0.0, 100.0)),
        },
    };
    view! {
        <ChartCard
            key=format!("{metric:?}").to_lowercase()
            title=metric.title().to_owned()
            unit=metric.unit().to_owned()
            changed=Rc::new(move || store.track())
            lines=lines
            clock=clock
            y_axis=y_axis
        />
    }
}
