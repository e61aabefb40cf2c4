//! Colours that identify a device wherever it appears.

/// Distinct on white and for common colour-vision deficiencies (Okabe-Ito,
/// darkened where needed for contrast).
pub const SERIES: [(u8, u8, u8); 8] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (230, 159, 0),
    (120, 94, 240),
    (90, 90, 90),
];

/// The colour of the `index`-th device in name order.
pub fn series_color(index: usize) -> (u8, u8, u8) {
    SERIES[index % SERIES.len()]
}

pub fn css(rgb: (u8, u8, u8)) -> String {
    format!("rgb({}, {}, {})", rgb.0, rgb.1, rgb.2)
}

/// Colours of a chart's surface, for the light or dark theme.
pub struct ChartPalette {
    pub background: plotters::style::RGBColor,
    pub grid_light: plotters::style::RGBColor,
    pub grid: plotters::style::RGBColor,
    pub axis: plotters::style::RGBColor,
    pub label: plotters::style::RGBColor,
    pub crosshair: plotters::style::RGBColor,
}

/// Whether the page shows the dark theme: the person's choice on the page,
/// else the system's (`data-theme` on `<html>` is set by the theme switch).
pub fn is_dark() -> bool {
    let chosen = leptos::prelude::document()
        .document_element()
        .and_then(|e| e.get_attribute("data-theme"));
    match chosen.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => leptos::prelude::window()
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches()),
    }
}

pub fn chart_palette() -> ChartPalette {
    use plotters::style::RGBColor;
    if is_dark() {
        ChartPalette {
            background: RGBColor(24, 29, 39),
            grid_light: RGBColor(34, 40, 52),
            grid: RGBColor(48, 56, 70),
            axis: RGBColor(70, 80, 96),
            label: RGBColor(152, 162, 179),
            crosshair: RGBColor(152, 162, 179),
        }
    } else {
        ChartPalette {
            background: RGBColor(255, 255, 255),
            grid_light: RGBColor(241, 243, 246),
            grid: RGBColor(226, 230, 235),
            axis: RGBColor(210, 215, 222),
            label: RGBColor(100, 110, 125),
            crosshair: RGBColor(102, 112, 133),
        }
    }
}
