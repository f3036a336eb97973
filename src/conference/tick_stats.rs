//! Tick-duration statistics of a media thread: a window of recent tick costs summarised as
//! p50/p99/max and logged periodically, so operators and the load benchmark can see how close
//! a thread is to its 20 ms budget. Sans-IO: durations and `now` are passed in.

use std::time::{Duration, Instant};

/// How often a summary is produced.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A summary of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickSummary {
    pub ticks: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Collects tick durations and yields a summary every [`REPORT_EVERY`].
#[derive(Debug)]
pub struct TickStats {
    window: Vec<Duration>,
    window_start: Option<Instant>,
}

impl Default for TickStats {
    fn default() -> Self {
        Self {
            window: Vec::with_capacity(600),
            window_start: None,
        }
    }
}

impl TickStats {
    /// Records one tick; returns a summary when the window is complete.
    pub fn record(&mut self, now: Instant, spent: Duration) -> Option<TickSummary> {
        let start = *self.window_start.get_or_insert(now);
        self.window.push(spent);
        if now.duration_since(start) < REPORT_EVERY {
            return None;
        }
        self.window_start = Some(now);
        let summary = summarise(&mut self.window);
        self.window.clear();
        summary
    }
}

fn summarise(window: &mut [Duration]) -> Option<TickSummary> {
    if window.is_empty() {
        return None;
    }
    window.sort_unstable();
    let at = |p: usize| window[((window.len() * p).div_ceil(100)).clamp(1, window.len()) - 1];
    Some(TickSummary {
        ticks: window.len(),
        p50: at(50),
        p99: at(99),
        max: window[window.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_after_the_window() {
        let t0 = Instant::now();
        let mut s = TickStats::default();
        let mut out = None;
        for i in 0..=500u64 {
            let now = t0 + Duration::from_millis(20 * i);
            if let Some(sum) = s.record(now, Duration::from_micros(i % 100)) {
                out = Some(sum);
            }
        }
        let sum = out.expect("a summary after 10 s");
        assert_eq!(sum.ticks, 501);
        assert_eq!(sum.max, Duration::from_micros(99));
        assert!(sum.p50 >= Duration::from_micros(45) && sum.p50 <= Duration::from_micros(55));
        assert!(sum.p99 >= Duration::from_micros(97));
    }
}
