use crate::state::{Metric, SensorStore};
use crate::theme::{css, series_color};
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use std::cell::Cell;
use std::rc::Rc;

/// How much history the chart shows.
const WINDOW_MS: f64 = 60_000.0;

/// A line per device for one metric over the last minute, with a legend that
/// names each device in its colour and gives its latest value.
#[component]
pub fn SensorChart(
    metric: Metric,
    store: RwSignal<SensorStore>,
    clock: RwSignal<f64>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    // Redraw at most once per animation frame however fast messages arrive.
    let frame_pending = Rc::new(Cell::new(false));
    let resized = RwSignal::new(0u32);
    let handle = window_event_listener(leptos::ev::resize, move |_| resized.update(|n| *n += 1));
    on_cleanup(move || handle.remove());
    Effect::new(move |_| {
        store.track();
        clock.track();
        resized.track();
        if frame_pending.replace(true) {
            return;
        }
        let pending = frame_pending.clone();
        request_animation_frame(move || {
            pending.set(false);
            if let Some(el) = canvas.get_untracked() {
                store.with_untracked(|s| draw(&el, s, metric, js_sys::Date::now()));
            }
        });
    });

    let legend = move || {
        store.with(|s| {
            s.devices()
                .enumerate()
                .map(|(i, (name, readings))| {
                    let latest = readings
                        .series(metric)
                        .latest()
                        .map(|(_, v)| format!("{v:.1} {}", metric.unit()))
                        .unwrap_or_else(|| "–".to_owned());
                    view! {
                        <li>
                            <span class="swatch" style:background-color=css(series_color(i))></span>
                            <span class="legend-name">{name.to_owned()}</span>
                            <span class="legend-value">{latest}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let metric_name = format!("{metric:?}").to_lowercase();
    view! {
        <article class="card chart-card" data-metric=metric_name>
            <header class="chart-head">
                <h2>{metric.title()}<span class="unit">" (" {metric.unit()} ")"</span></h2>
                <span class="window">"last 60 s"</span>
            </header>
            <ul class="legend">{legend}</ul>
            <div class="chart-frame">
                <canvas node_ref=canvas role="img" aria-label=format!("{} chart", metric.title())></canvas>
            </div>
        </article>
    }
}

/// Draws the chart at the canvas's CSS size times the device pixel ratio, so
/// lines stay sharp on high-density screens.
fn draw(canvas: &web_sys::HtmlCanvasElement, store: &SensorStore, metric: Metric, now_ms: f64) {
    let ratio = window().device_pixel_ratio().max(1.0);
    let width = (f64::from(canvas.client_width()) * ratio).round() as u32;
    let height = (f64::from(canvas.client_height()) * ratio).round() as u32;
    if width == 0 || height == 0 {
        return;
    }
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }
    let Some(backend) = CanvasBackend::with_canvas_object(canvas.clone()) else {
        return;
    };
    let root = backend.into_drawing_area();
    if let Err(e) = render(root, store, metric, now_ms, ratio) {
        web_sys::console::warn_1(&format!("chart drawing failed: {e}").into());
    }
}

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;

fn render(
    root: Area,
    store: &SensorStore,
    metric: Metric,
    now_ms: f64,
    ratio: f64,
) -> Result<(), DrawingAreaErrorKind<<CanvasBackend as DrawingBackend>::ErrorType>> {
    let px = |n: f64| (n * ratio).round() as u32;
    let since = now_ms - WINDOW_MS;
    root.fill(&WHITE)?;
    let (lo, hi) = y_range(store, metric, since);
    let label_font = ("Inter, system-ui, sans-serif", px(12.0))
        .into_font()
        .color(&RGBColor(100, 110, 125));
    let mut chart = ChartBuilder::on(&root)
        .margin(px(10.0))
        .margin_right(px(16.0))
        .x_label_area_size(px(26.0))
        .y_label_area_size(px(44.0))
        .build_cartesian_2d(-WINDOW_MS / 1000.0..0.0, lo..hi)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(241, 243, 246))
        .bold_line_style(RGBColor(226, 230, 235))
        .axis_style(RGBColor(210, 215, 222))
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&|x| {
            if *x >= 0.0 {
                "now".to_owned()
            } else {
                format!("{x:.0}s")
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(label_font)
        .draw()?;
    for (i, (_, readings)) in store.devices().enumerate() {
        let (r, g, b) = series_color(i);
        let style = ShapeStyle::from(RGBColor(r, g, b)).stroke_width(px(2.0));
        let points = readings
            .series(metric)
            .since(since)
            .map(|(t, v)| ((t - now_ms) / 1000.0, v));
        chart.draw_series(LineSeries::new(points, style))?;
        if let Some((t, v)) = readings
            .series(metric)
            .latest()
            .filter(|(t, _)| *t >= since)
        {
            let dot = Circle::new(
                ((t - now_ms) / 1000.0, v),
                px(3.5),
                RGBColor(r, g, b).filled(),
            );
            chart.draw_series(std::iter::once(dot))?;
        }
    }
    root.present()?;
    Ok(())
}

/// The value axis: the data's range padded a little, never thinner than a
/// sensible span for the metric, so noise does not look like a cliff.
fn y_range(store: &SensorStore, metric: Metric, since: f64) -> (f64, f64) {
    let (min_span, default) = match metric {
        Metric::Temperature => (4.0, (15.0, 30.0)),
        Metric::Moisture => (10.0, (0.0, 100.0)),
    };
    let range = store
        .devices()
        .filter_map(|(_, r)| r.series(metric).range_since(since))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
    let Some((lo, hi)) = range else {
        return default;
    };
    let pad = ((hi - lo) * 0.15).max((min_span - (hi - lo)).max(0.0) / 2.0);
    let (mut lo, mut hi) = ((lo - pad).floor(), (hi + pad).ceil());
    if metric == Metric::Moisture {
        lo = lo.max(0.0);
        hi = hi.min(100.0);
    }
    (lo, hi)
}
