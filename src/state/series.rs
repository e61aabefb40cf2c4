/// One sample: wall-clock milliseconds since the Unix epoch, and a value.
pub type Sample = (f64, f64);

/// The readings of one topic, oldest first, bounded by count.
///
/// At the limit the oldest sample is dropped: a chart shows the recent past,
/// and memory stays flat however long the page is open.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    samples: std::collections::VecDeque<Sample>,
    capacity: usize,
}

impl TimeSeries {
    pub fn new(capacity: usize) -> Self {
        TimeSeries {
            samples: std::collections::VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, at_ms: f64, value: f64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, value));
    }

    pub fn latest(&self) -> Option<Sample> {
        self.samples.back().copied()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Samples at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: f64) -> impl Iterator<Item = Sample> + '_ {
        // Samples arrive in time order, so the window is a suffix.
        let start = self.samples.partition_point(|&(t, _)| t < since_ms);
        self.samples.range(start..).copied()
    }

    /// Smallest and largest value at or after `since_ms`.
    pub fn range_since(&self, since_ms: f64) -> Option<(f64, f64)> {
        self.since(since_ms).fold(None, |acc, (_, v)| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
    }
}

/// Latest, smallest, largest and mean value over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub latest: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: usize,
}

impl Stats {
    /// Decimals to show latest, min and max at: one precision for all three,
    /// so a legend reads evenly (`min 16.0 · max 16.3`, not `min 16 · max
    /// 16.3`), the most any of them needs.
    pub fn decimals(&self) -> usize {
        decimals_needed(self.latest)
            .max(decimals_needed(self.min))
            .max(decimals_needed(self.max))
    }

    /// Decimals for the mean: as many as the others, more if it has a
    /// fraction they lack (whole 20 and 25 average to 22.5, not 23).
    pub fn mean_decimals(&self) -> usize {
        self.decimals().max(decimals_needed(self.mean))
    }
}

/// A value with the precision a reading deserves, trailing zeros dropped:
/// none from 1000, one from 10, two below (`1234`, `24.9`, `0.57`, `16`).
pub fn fmt_value(v: f64) -> String {
    let text = if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Decimals [`fmt_value`] shows `v` with: 24.0 none, 16.30 one, 0.57 two.
fn decimals_needed(v: f64) -> usize {
    fmt_value(v)
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

impl TimeSeries {
    /// Oldest sample's time.
    pub fn first_time(&self) -> Option<f64> {
        self.samples.front().map(|&(t, _)| t)
    }

    /// Statistics of the samples in `since..=until`.
    pub fn stats(&self, since: f64, until: f64) -> Option<Stats> {
        let mut iter = self.since(since).take_while(|&(t, _)| t <= until);
        let (_, first) = iter.next()?;
        let mut stats = Stats {
            latest: first,
            min: first,
            max: first,
            mean: 0.0,
            count: 1,
        };
        let mut sum = first;
        for (_, v) in iter {
            stats.latest = v;
            stats.min = stats.min.min(v);
            stats.max = stats.max.max(v);
            stats.count += 1;
            sum += v;
        }
        stats.mean = sum / stats.count as f64;
        Some(stats)
    }

    /// The sample closest in time to `at`, within `since..=until`.
    pub fn nearest(&self, at: f64, since: f64, until: f64) -> Option<Sample> {
        let i = self.samples.partition_point(|&(t, _)| t < at);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|i| self.samples.get(i).copied())
            .filter(|&(t, _)| t >= since && t <= until)
            .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
    }

    /// The samples in `since..=until` reduced to what `columns` pixel
    /// columns can show: per column, its first, smallest, largest and last
    /// value in time order, so spikes survive and a line drawn through the
    /// points looks the same as one drawn through every sample. A window with
    /// few samples comes back whole.
    pub fn decimate(&self, since: f64, until: f64, columns: usize) -> Vec<Sample> {
        let samples: Vec<Sample> = self.since(since).take_while(|&(t, _)| t <= until).collect();
        let columns = columns.max(1);
        if samples.len() <= columns * 4 || until <= since {
            return samples;
        }
        let width = (until - since) / columns as f64;
        let mut out = Vec::with_capacity(columns * 4);
        let mut start = 0;
        while start < samples.len() {
            let column = ((samples[start].0 - since) / width).floor();
            let end = samples[start..]
                .iter()
                .position(|&(t, _)| ((t - since) / width).floor() != column)
                .map_or(samples.len(), |n| start + n);
            let bucket = &samples[start..end];
            let (mut lo, mut hi) = (0, 0);
            for (i, s) in bucket.iter().enumerate() {
                if s.1 < bucket[lo].1 {
                    lo = i;
                }
                if s.1 > bucket[hi].1 {
                    hi = i;
                }
            }
            let mut picks = [0, lo.min(hi), lo.max(hi), bucket.len() - 1];
            picks.sort_unstable();
            let mut last = None;
            for i in picks {
                if last != Some(i) {
                    out.push(bucket[i]);
                    last = Some(i);
                }
            }
            start = end;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_over_a_window() {
        let mut s = TimeSeries::new(100);
        for (t, v) in [(1.0, 4.0), (2.0, 8.0), (3.0, 6.0), (4.0, 100.0)] {
            s.push(t, v);
        }
        let st = s.stats(1.5, 3.0).expect("samples in window");
        assert_eq!((st.latest, st.min, st.max, st.count), (6.0, 6.0, 8.0, 2));
        assert_eq!(st.mean, 7.0);
        assert_eq!(s.stats(5.0, 9.0), None);
        assert_eq!(s.first_time(), Some(1.0));
    }

    fn stats_of(values: &[f64]) -> Stats {
        let mut s = TimeSeries::new(100);
        for (t, &v) in values.iter().enumerate() {
            s.push(t as f64, v);
        }
        s.stats(0.0, f64::MAX).expect("samples")
    }

    #[test]
    fn one_precision_per_window() {
        assert_eq!(decimals_needed(24.0), 0);
        assert_eq!(decimals_needed(16.3), 1);
        assert_eq!(decimals_needed(16.04), 0, "16.0 at one decimal");
        assert_eq!(decimals_needed(0.57), 2);
        assert_eq!(decimals_needed(-3.5), 1);
        assert_eq!(decimals_needed(1234.5), 0);
        // The most any of latest, min and max needs, for all three.
        let temp = stats_of(&[16.0, 16.3]);
        assert_eq!((temp.decimals(), temp.mean_decimals()), (1, 1));
        assert_eq!(stats_of(&[0.25, 2.0]).decimals(), 2);
        // Whole values stay whole; their mean shows a fraction it has.
        let counts = stats_of(&[20.0, 25.0]);
        assert_eq!((counts.decimals(), counts.mean_decimals()), (0, 1));
        let even = stats_of(&[20.0, 24.0]);
        assert_eq!((even.decimals(), even.mean_decimals()), (0, 0));
    }

    #[test]
    fn nearest_sample_in_window() {
        let mut s = TimeSeries::new(100);
        for (t, v) in [(10.0, 1.0), (20.0, 2.0), (30.0, 3.0)] {
            s.push(t, v);
        }
        assert_eq!(s.nearest(14.0, 0.0, 100.0), Some((10.0, 1.0)));
        assert_eq!(s.nearest(16.0, 0.0, 100.0), Some((20.0, 2.0)));
        assert_eq!(s.nearest(99.0, 0.0, 100.0), Some((30.0, 3.0)));
        assert_eq!(s.nearest(14.0, 15.0, 100.0), Some((20.0, 2.0)));
        assert_eq!(s.nearest(14.0, 31.0, 100.0), None);
    }

    #[test]
    fn decimation_keeps_extremes_per_column() {
        let mut s = TimeSeries::new(100_000);
        for i in 0..10_000 {
            // A flat line with one spike up and one down.
            let v = match i {
                5_000 => 50.0,
                7_000 => -50.0,
                _ => 1.0,
            };
            s.push(i as f64, v);
        }
        let points = s.decimate(0.0, 10_000.0, 100);
        assert!(points.len() <= 400, "{} points", points.len());
        assert!(points.contains(&(5_000.0, 50.0)), "spike kept");
        assert!(points.contains(&(7_000.0, -50.0)), "dip kept");
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "time order");
        assert_eq!(points.first(), Some(&(0.0, 1.0)));
        assert_eq!(points.last(), Some(&(9_999.0, 1.0)));
        // Few samples: all of them.
        assert_eq!(s.decimate(0.0, 9.0, 100).len(), 10);
    }

    #[test]
    fn drops_oldest_at_capacity() {
        let mut s = TimeSeries::new(3);
        for i in 0..5 {
            s.push(i as f64, i as f64 * 10.0);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.since(0.0).collect::<Vec<_>>(),
            [(2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]
        );
        assert_eq!(s.latest(), Some((4.0, 40.0)));
    }

    #[test]
    fn window_and_range() {
        let mut s = TimeSeries::new(100);
        for (t, v) in [(1.0, 5.0), (2.0, -1.0), (3.0, 7.0), (4.0, 2.0)] {
            s.push(t, v);
        }
        assert_eq!(s.since(2.5).count(), 2);
        assert_eq!(s.range_since(2.5), Some((2.0, 7.0)));
        assert_eq!(s.range_since(0.0), Some((-1.0, 7.0)));
        assert_eq!(s.range_since(10.0), None);
    }
}
