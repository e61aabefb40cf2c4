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

#[cfg(test)]
mod tests {
    use super::*;

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
