use crate::state::charts::ago_label;
use crate::state::{fmt_value, ChartWindow, TimeSeries};
use crate::theme::{chart_palette, css, series_color};
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use std::cell::Cell;
use std::rc::Rc;

/// One line of a chart, borrowed from its store while drawing.
pub struct Line<'a> {
    pub label: &'a str,
    pub color: usize,
    pub series: &'a TimeSeries,
}

/// Visits a chart's lines without copying them.
pub type VisitLines = Rc<dyn Fn(&mut dyn FnMut(Line<'_>))>;

/// How the value axis behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YAxis {
    /// The axis never spans less than this, so noise does not look like a cliff.
    pub min_span: f64,
    /// The range shown before any data.
    pub empty: (f64, f64),
    /// Values outside this cannot occur (moisture is 0..100 %).
    pub clamp: Option<(f64, f64)>,
}

impl Default for YAxis {
    fn default() -> Self {
        YAxis {
            min_span: 1.0,
            empty: (0.0, 1.0),
            clamp: None,
        }
    }
}

/// Where the last drawing put the plot, for the pointer: CSS pixels of the
/// plotting area's left and right edges, and the times they stand for.
#[derive(Debug, Clone, Copy, Default)]
struct PlotGeometry {
    left: f64,
    right: f64,
    since: f64,
    until: f64,
}

fn with_unit(value: String, unit: &str) -> String {
    if unit.is_empty() {
        value
    } else {
        format!("{value} {unit}")
    }
}

/// A chart of time series: window choice (1 min, 10 min, 1 h, all), pause,
/// a crosshair with each line's exact value under the pointer, and per line
/// its latest, minimum, maximum and mean over the window. Lines are
/// decimated to the pixels available and redrawn at most once per frame.
#[component]
#[allow(clippy::too_many_arguments)]
pub fn ChartCard(
    /// `data-chart` of the card, for tests and styling.
    key: String,
    title: String,
    unit: String,
    /// Tracks whatever the lines are read from.
    changed: Rc<dyn Fn()>,
    lines: VisitLines,
    clock: RwSignal<f64>,
    #[prop(optional)] y_axis: YAxis,
    #[prop(optional)] on_remove: Option<Rc<dyn Fn()>>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let window_choice = RwSignal::new(ChartWindow::OneMinute);
    let paused_at = RwSignal::new(None::<f64>);
    let hover_time = RwSignal::new(None::<f64>);
    let geometry = Rc::new(Cell::new(PlotGeometry::default()));
    let frame_pending = Rc::new(Cell::new(false));
    let resized = RwSignal::new(0u32);
    let handle = window_event_listener(leptos::ev::resize, move |_| resized.update(|n| *n += 1));
    on_cleanup(move || handle.remove());

    // The time span on screen: up to now (or the pause), back the window.
    let span = move |lines: &VisitLines, now: f64| {
        span_of(
            lines,
            window_choice.get_untracked(),
            paused_at.get_untracked(),
            now,
        )
    };
    // Closures in the view must be Send: they reach the Rc-held lines and
    // geometry through arena handles.
    let lines_sv = StoredValue::new_local(lines.clone());
    let geometry_sv = StoredValue::new_local(geometry.clone());
    let changed_sv = StoredValue::new_local(changed.clone());

    {
        let (lines, geometry, changed) = (lines.clone(), geometry.clone(), changed.clone());
        Effect::new(move |_| {
            changed();
            clock.track();
            resized.track();
            window_choice.track();
            paused_at.track();
            hover_time.track();
            if frame_pending.replace(true) {
                return;
            }
            let (pending, lines, geometry) =
                (frame_pending.clone(), lines.clone(), geometry.clone());
            request_animation_frame(move || {
                pending.set(false);
                if let Some(el) = canvas.get_untracked() {
                    let (since, until) = span(&lines, js_sys::Date::now());
                    let drawn = draw(
                        &el,
                        &lines,
                        since,
                        until,
                        y_axis,
                        hover_time.get_untracked(),
                    );
                    if let Some(g) = drawn {
                        geometry.set(g);
                    }
                }
            });
        });
    }

    let on_move = {
        move |ev: leptos::ev::MouseEvent| {
            let g = geometry_sv.with_value(|g| g.get());
            let x = f64::from(ev.offset_x());
            if g.right <= g.left || x < g.left || x > g.right {
                hover_time.set(None);
                return;
            }
            let t = g.since + (x - g.left) / (g.right - g.left) * (g.until - g.since);
            hover_time.set(Some(t));
        }
    };
    let tooltip = {
        let unit = unit.clone();
        move || {
            let t = hover_time.get()?;
            // The tooltip follows the data under a still pointer.
            clock.track();
            let g = geometry_sv.with_value(|g| g.get());
            let lines = lines_sv.get_value();
            let mut rows = Vec::new();
            lines(&mut |l| {
                if let Some((_, v)) = l.series.nearest(t, g.since, g.until) {
                    rows.push((l.color, l.label.to_owned(), v));
                }
            });
            let x = g.left + (t - g.since) / (g.until - g.since).max(1.0) * (g.right - g.left);
            let flip = x > (g.left + g.right) / 2.0;
            let time = {
                let d = js_sys::Date::new(&t.into());
                format!(
                    "{:02}:{:02}:{:02}",
                    d.get_hours(),
                    d.get_minutes(),
                    d.get_seconds()
                )
            };
            let unit = unit.clone();
            Some(view! {
                <div
                    class="chart-tooltip"
                    class:flip=flip
                    style:left=format!("{x}px")
                    role="tooltip"
                >
                    <div class="tooltip-time">{time}</div>
                    {rows
                        .into_iter()
                        .map(|(color, label, v)| {
                            view! {
                                <div class="tooltip-row">
                                    <span class="swatch" style:background-color=css(series_color(color))></span>
                                    <span class="tooltip-label">{label}</span>
                                    <span class="tooltip-value">{with_unit(fmt_value(v), &unit)}</span>
                                </div>
                            }
                        })
                        .collect_view()}
                </div>
            })
        }
    };

    let legend = {
        let unit = unit.clone();
        move || {
            changed_sv.with_value(|changed| changed());
            // Re-read each second as the window slides; the wall clock
            // itself, not the ticking signal, so a reading that just arrived
            // is inside the window.
            clock.track();
            window_choice.track();
            paused_at.track();
            let lines = lines_sv.get_value();
            let (since, until) = span(&lines, js_sys::Date::now());
            let mut items = Vec::new();
            lines(&mut |l| {
                items.push((l.color, l.label.to_owned(), l.series.stats(since, until)));
            });
            let unit = unit.clone();
            if items.is_empty() {
                return view! { <li class="legend-empty">"No values yet."</li> }.into_any();
            }
            items
                .into_iter()
                .map(|(color, label, stats)| {
                    let (latest, detail) = match stats {
                        Some(s) => {
                            let d = s.decimals();
                            (
                                with_unit(format!("{:.*}", d, s.latest), &unit),
                                format!(
                                    "min {:.*} · max {:.*} · mean {:.*}",
                                    d,
                                    s.min,
                                    d,
                                    s.max,
                                    s.mean_decimals(),
                                    s.mean
                                ),
                            )
                        }
                        None => ("–".to_owned(), "no data in window".to_owned()),
                    };
                    let name = label.clone();
                    view! {
                        <li data-line=label>
                            <span class="swatch" style:background-color=css(series_color(color))></span>
                            <span class="legend-name">{name}</span>
                            <span class="legend-value">{latest}</span>
                            <span class="legend-stats">{detail}</span>
                        </li>
                    }
                })
                .collect_view()
                .into_any()
        }
    };

    let unit_label =
        (!unit.is_empty()).then(|| view! { <span class="unit">" (" {unit.clone()} ")"</span> });
    let aria = format!("{title} chart");
    view! {
        <article class="card chart-card" data-chart=key>
            <header class="chart-head">
                <h2>{title}{unit_label}</h2>
                <div class="chart-tools">
                    <div class="segmented small" role="radiogroup" aria-label="Time window">
                        {ChartWindow::ALL
                            .into_iter()
                            .map(|w| {
                                view! {
                                    <button
                                        type="button"
                                        role="radio"
                                        data-window=w.label()
                                        aria-checked=move || (window_choice.get() == w).to_string()
                                        on:click=move |_| window_choice.set(w)
                                    >
                                        {w.label()}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                    <button
                        class="button small chart-pause"
                        aria-pressed=move || paused_at.get().is_some().to_string()
                        on:click=move |_| {
                            paused_at.update(|p| *p = if p.is_some() { None } else { Some(js_sys::Date::now()) })
                        }
                    >
                        {move || if paused_at.get().is_some() { "Resume" } else { "Pause" }}
                    </button>
                    {on_remove.map(|remove| view! {
                        <button class="button ghost small chart-remove" aria-label="Remove chart" on:click=move |_| remove()>"✕"</button>
                    })}
                </div>
            </header>
            <ul class="legend">{legend}</ul>
            <div class="chart-frame" on:mousemove=on_move on:mouseleave=move |_| hover_time.set(None)>
                <canvas node_ref=canvas role="img" aria-label=aria></canvas>
                {tooltip}
            </div>
        </article>
    }
}

/// The time span on screen: up to now (or the pause), back the window; for
/// "all", back to the oldest sample kept.
fn span_of(lines: &VisitLines, window: ChartWindow, paused: Option<f64>, now: f64) -> (f64, f64) {
    let until = paused.unwrap_or(now);
    let since = match window.millis() {
        Some(ms) => until - ms,
        None => {
            let mut first = until - 60_000.0;
            lines(&mut |l| {
                if let Some(t) = l.series.first_time() {
                    first = first.min(t);
                }
            });
            first
        }
    };
    (since, until)
}

/// Draws at the canvas's CSS size times the device pixel ratio, so lines stay
/// sharp on high-density screens. Returns where the plot went.
fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    lines: &VisitLines,
    since: f64,
    until: f64,
    y_axis: YAxis,
    hover: Option<f64>,
) -> Option<PlotGeometry> {
    let ratio = window().device_pixel_ratio().max(1.0);
    let width = (f64::from(canvas.client_width()) * ratio).round() as u32;
    let height = (f64::from(canvas.client_height()) * ratio).round() as u32;
    if width == 0 || height == 0 {
        return None;
    }
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }
    let backend = CanvasBackend::with_canvas_object(canvas.clone())?;
    let root = backend.into_drawing_area();
    match render(root, lines, since, until, y_axis, hover, ratio) {
        Ok(g) => Some(g),
        Err(e) => {
            web_sys::console::warn_1(&format!("chart drawing failed: {e}").into());
            None
        }
    }
}

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;
type DrawResult<T> = Result<T, DrawingAreaErrorKind<<CanvasBackend as DrawingBackend>::ErrorType>>;

#[allow(clippy::too_many_arguments)]
fn render(
    root: Area,
    lines: &VisitLines,
    since: f64,
    until: f64,
    y_axis: YAxis,
    hover: Option<f64>,
    ratio: f64,
) -> DrawResult<PlotGeometry> {
    let palette = chart_palette();
    let px = |n: f64| (n * ratio).round() as u32;
    root.fill(&palette.background)?;
    let (lo, hi) = y_range(lines, since, until, y_axis);
    let span_s = ((until - since) / 1000.0).max(1.0);
    let label_font = ("Inter, system-ui, sans-serif", px(12.0))
        .into_font()
        .color(&palette.label);
    let mut chart = ChartBuilder::on(&root)
        .margin(px(10.0))
        .margin_right(px(16.0))
        .x_label_area_size(px(26.0))
        .y_label_area_size(px(48.0))
        .build_cartesian_2d(-span_s..0.0, lo..hi)?;
    let decimals = if hi - lo < 5.0 { 1 } else { 0 };
    chart
        .configure_mesh()
        .light_line_style(palette.grid_light)
        .bold_line_style(palette.grid)
        .axis_style(palette.axis)
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&|x| ago_label(-x, span_s))
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
        .label_style(label_font)
        .draw()?;
    let (x_pixels, _) = chart.plotting_area().get_pixel_range();
    let columns = ((x_pixels.end - x_pixels.start).max(1) as f64 / ratio) as usize;
    let x_of = |t: f64| (t - until) / 1000.0;
    let mut result = Ok(());
    lines(&mut |l| {
        if result.is_err() {
            return;
        }
        let (r, g, b) = series_color(l.color);
        let color = RGBColor(r, g, b);
        let style = ShapeStyle::from(color).stroke_width(px(2.0));
        let points = l.series.decimate(since, until, columns);
        let last = points.last().copied();
        result = chart
            .draw_series(LineSeries::new(
                points.into_iter().map(|(t, v)| (x_of(t), v)),
                style,
            ))
            .map(|_| ())
            .and_then(|()| match last {
                Some((t, v)) => chart
                    .draw_series(std::iter::once(Circle::new(
                        (x_of(t), v),
                        px(3.5),
                        color.filled(),
                    )))
                    .map(|_| ()),
                None => Ok(()),
            });
    });
    result?;
    if let Some(t) = hover.filter(|t| (since..=until).contains(t)) {
        let x = x_of(t);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, lo), (x, hi)],
            ShapeStyle::from(palette.crosshair).stroke_width(px(1.0)),
        )))?;
        lines(&mut |l| {
            if let Some((st, v)) = l.series.nearest(t, since, until) {
                let (r, g, b) = series_color(l.color);
                let _ = chart.draw_series(std::iter::once(Circle::new(
                    (x_of(st), v),
                    px(4.5),
                    ShapeStyle::from(RGBColor(r, g, b)).stroke_width(px(2.0)),
                )));
            }
        });
    }
    root.present()?;
    Ok(PlotGeometry {
        left: f64::from(x_pixels.start) / ratio,
        right: f64::from(x_pixels.end) / ratio,
        since,
        until,
    })
}

/// The value axis: the data's range padded a little, never thinner than the
/// axis's minimum span, within its clamp.
fn y_range(lines: &VisitLines, since: f64, until: f64, y_axis: YAxis) -> (f64, f64) {
    let mut range: Option<(f64, f64)> = None;
    lines(&mut |l| {
        if let Some(s) = l.series.stats(since, until) {
            range = Some(match range {
                None => (s.min, s.max),
                Some((a, b)) => (a.min(s.min), b.max(s.max)),
            });
        }
    });
    let Some((lo, hi)) = range else {
        return y_axis.empty;
    };
    let pad = ((hi - lo) * 0.15).max((y_axis.min_span - (hi - lo)).max(0.0) / 2.0);
    let (mut lo, mut hi) = (lo - pad, hi + pad);
    if y_axis.min_span >= 2.0 {
        (lo, hi) = (lo.floor(), hi.ceil());
    }
    if let Some((min, max)) = y_axis.clamp {
        lo = lo.max(min);
        hi = hi.min(max);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}
