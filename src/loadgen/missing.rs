//! Mix packets missing by the clock. RFC 3550 loss (A.3) only sees gaps in the sequence
//! numbers, so a server that skips whole ticks when it is overloaded, and numbers on, shows
//! none. This count asks the clock instead: from the moment a member's stream starts until it
//! stops (or the run ends), the server owes it one audio packet per 20 ms.
//!
//! [`StreamClock`] measures a member's streaming time (the media thread passes `now`);
//! [`tally_missing`] turns each member's (expected, received) into the report's figures.

use std::time::{Duration, Instant};

/// The server's audio packet interval (ptime 20).
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);

/// Packets a member may miss at its start without their counting: the server sends none
/// until it has seen 5 of ours (media consent, `rtp::latch::PRE_CONSENT_PACKETS`), and its
/// tick and ours are not in phase.
pub const GRACE_PACKETS: u64 = 8;

/// How long one member's stream has run.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamClock {
    since: Option<Instant>,
    streamed: Duration,
}

impl StreamClock {
    /// The stream starts (again) at `now`; a running stream keeps its start.
    pub fn start(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// The stream stops at `now`.
    pub fn stop(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.streamed += now.saturating_duration_since(since);
        }
    }

    /// Packets the clock expects up to `now` (a running stream counts until `now`).
    pub fn expected(&self, now: Instant) -> u64 {
        let running = self
            .since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        let streamed = self.streamed + running;
        (streamed.as_nanos() / PACKET_INTERVAL.as_nanos()) as u64
    }
}

/// The report's clock-based figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MissingTally {
    /// Packets the clock expects, all members.
    pub expected_by_clock: u64,
    /// Expected minus received, per member less [`GRACE_PACKETS`] and at least 0, summed.
    pub missing_packets: u64,
    /// `missing_packets` as a percentage of `expected_by_clock`.
    pub missing_pct: f64,
    /// The worst member's missing packets as a percentage of what it expected.
    pub missing_per_member_max_pct: f64,
}

/// Tallies members given as (packets expected by the clock, packets received).
pub fn tally_missing(members: impl IntoIterator<Item = (u64, u64)>) -> MissingTally {
    let mut tally = MissingTally::default();
    for (expected, received) in members {
        let missing = expected.saturating_sub(received.saturating_add(GRACE_PACKETS));
        tally.expected_by_clock += expected;
        tally.missing_packets += missing;
        tally.missing_per_member_max_pct = tally
            .missing_per_member_max_pct
            .max(percent(missing, expected));
    }
    tally.missing_pct = percent(tally.missing_packets, tally.expected_by_clock);
    tally
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_counts_one_packet_per_20_ms_of_streaming_only() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut clock = StreamClock::default();
        assert_eq!(clock.expected(ms(1000)), 0, "not started");
        clock.start(ms(0));
        clock.start(ms(500)); // a repeated start keeps the first
        assert_eq!(clock.expected(ms(1000)), 50, "running: counts until now");
        clock.stop(ms(2000));
        assert_eq!(clock.expected(ms(9000)), 100, "stopped: the clock stands");
        clock.start(ms(10_000));
        assert_eq!(clock.expected(ms(10_219)), 110, "a second stretch adds on");
    }

    #[test]
    fn a_server_that_skips_ticks_misses_packets_by_the_clock() {
        // Three members of 10 s (500 packets each): one got everything, one got half (the
        // server skipped every other tick) and one joined late and got all but the grace.
        let t = tally_missing([(500, 500), (500, 250), (500, 500 - GRACE_PACKETS)]);
        assert_eq!(t.expected_by_clock, 1500);
        assert_eq!(t.missing_packets, 250 - GRACE_PACKETS);
        assert!(
            (t.missing_pct - 100.0 * 242.0 / 1500.0).abs() < 1e-9,
            "{t:?}"
        );
        assert!((t.missing_per_member_max_pct - 100.0 * 242.0 / 500.0).abs() < 1e-9);
    }

    #[test]
    fn more_than_expected_is_not_negative_and_nothing_expected_is_zero() {
        let t = tally_missing([(100, 130), (0, 0)]);
        assert_eq!((t.expected_by_clock, t.missing_packets), (100, 0));
        assert_eq!((t.missing_pct, t.missing_per_member_max_pct), (0.0, 0.0));
        assert_eq!(tally_missing([]), MissingTally::default());
    }
}
