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
