//! RTP media clocks (RFC 3550 §5.1): a stream's timestamp is a fixed random base plus the
//! time elapsed since an epoch, counted at the payload's clock rate — never a sum of steps, so
//! it cannot run away from the wall clock, and gaps in sending (hold, skipped ticks) show as
//! gaps in the timestamps, as receivers expect.
//!
//! The streams of one member share the epoch: an SR pairs an NTP time with
//! [`MediaClock::timestamp_at`] of the same instant (§6.4.1), so audio and video SRs map to
//! one wall clock and a receiver can put them in sync. Sans-IO: the caller passes the time.

use std::time::Instant;

/// One stream's clock: `base + (t − epoch) × rate`, wrapping at 2³².
#[derive(Debug, Clone, Copy)]
pub struct MediaClock {
    rate: u32,
    base: u32,
    epoch: Instant,
}

impl MediaClock {
    /// A clock at `rate` Hz with a random base (RFC 3550 §5.1), counting from `epoch`.
    pub fn new(rate: u32, epoch: Instant) -> Self {
        Self::with_base(rate, rand::random(), epoch)
    }

    /// A clock with a chosen base (tests, and streams that must continue a timestamp).
    pub fn with_base(rate: u32, base: u32, epoch: Instant) -> Self {
        Self { rate, base, epoch }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Clock ticks from the epoch to `t` (0 for an instant before the epoch).
    fn ticks_at(&self, t: Instant) -> u64 {
        let elapsed = t.saturating_duration_since(self.epoch);
        (elapsed.as_nanos() * u128::from(self.rate) / 1_000_000_000) as u64
    }

    /// The RTP timestamp of instant `t`.
    pub fn timestamp_at(&self, t: Instant) -> u32 {
        self.base.wrapping_add(self.ticks_at(t) as u32)
    }
}

/// Timestamps of a stream sent in fixed-length frames (audio: one 20 ms frame per tick): each
/// packet gets the frame boundary nearest to its send time, so wake-up jitter of the sending
/// thread does not show in the timestamps, and they strictly increase (two sends that round to
/// one boundary, as in a burst that catches up after a late tick, take consecutive frames).
#[derive(Debug, Clone)]
pub struct FrameClock {
    clock: MediaClock,
    /// One frame's length in nanoseconds (u64 arithmetic on the per-packet path).
    frame_ns: u64,
    frame_ticks: u32,
    last_frame: Option<u64>,
}

impl FrameClock {
    /// Frames of `frame_ticks` clock ticks (960 for 20 ms of Opus, 160 for 20 ms of G.711).
    pub fn new(clock: MediaClock, frame_ticks: u32) -> Self {
        let frame_ns =
            (u64::from(frame_ticks) * 1_000_000_000 / u64::from(clock.rate.max(1))).max(1);
        Self {
            clock,
            frame_ns,
            frame_ticks,
            last_frame: None,
        }
    }

    pub fn clock(&self) -> &MediaClock {
        &self.clock
    }

    /// The timestamp of a frame sent at `t`.
    pub fn next_timestamp(&mut self, t: Instant) -> u32 {
        // u64 nanoseconds last 584 years.
        let elapsed = t.saturating_duration_since(self.clock.epoch).as_nanos() as u64;
        let nearest = (elapsed + self.frame_ns / 2) / self.frame_ns;
        let index = match self.last_frame {
            Some(last) if nearest <= last => last + 1,
            _ => nearest,
        };
        self.last_frame = Some(index);
        self.clock
            .base
            .wrapping_add(index.wrapping_mul(u64::from(self.frame_ticks)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn timestamps_follow_elapsed_time_not_the_sum_of_steps() {
        let epoch = Instant::now();
        let clock = MediaClock::with_base(90_000, 1000, epoch);
        // Frames every 33 ms for 10 s: each delta is the elapsed time, however long it runs.
        let mut previous = clock.timestamp_at(epoch);
        assert_eq!(previous, 1000);
        for i in 1..=300u32 {
            let ts = clock.timestamp_at(epoch + MS * 33 * i);
            assert_eq!(ts.wrapping_sub(previous), 2970, "frame {i}");
            previous = ts;
        }
        assert_eq!(clock.timestamp_at(epoch - MS), 1000, "before the epoch");
    }

    #[test]
    fn wraps_at_two_to_the_32() {
        let epoch = Instant::now();
        let near_end = MediaClock::with_base(48_000, u32::MAX - 10, epoch);
        assert_eq!(near_end.timestamp_at(epoch + MS), 37);
    }

    #[test]
    fn frames_land_on_the_grid_despite_jittery_sends() {
        let epoch = Instant::now();
        let mut frames = FrameClock::new(MediaClock::with_base(48_000, 0, epoch), 960);
        let sends = [0, 23, 38, 61, 80, 104, 119];
        let stamps: Vec<u32> = sends
            .iter()
            .map(|ms| frames.next_timestamp(epoch + MS * *ms))
            .collect();
        assert_eq!(stamps, [0, 960, 1920, 2880, 3840, 4800, 5760]);
    }

    #[test]
    fn a_gap_in_sending_is_a_gap_in_timestamps() {
        let epoch = Instant::now();
        let mut frames = FrameClock::new(MediaClock::with_base(8_000, 0, epoch), 160);
        assert_eq!(frames.next_timestamp(epoch), 0);
        // On hold for 3 s, then resumed: the timestamp says 3 s passed.
        assert_eq!(frames.next_timestamp(epoch + MS * 3000), 24_000);
    }

    #[test]
    fn a_catch_up_burst_takes_consecutive_frames() {
        let epoch = Instant::now();
        let mut frames = FrameClock::new(MediaClock::with_base(48_000, 0, epoch), 960);
        assert_eq!(frames.next_timestamp(epoch), 0);
        // The thread slept 65 ms, then runs three late ticks back to back.
        let burst: Vec<u32> = (0..3)
            .map(|i| frames.next_timestamp(epoch + MS * 65 + Duration::from_micros(i * 50)))
            .collect();
        assert_eq!(burst, [3 * 960, 4 * 960, 5 * 960]);
        // Back on schedule, the grid takes over again.
        assert_eq!(frames.next_timestamp(epoch + MS * 120), 6 * 960);
    }

    #[test]
    fn frame_timestamps_agree_with_the_clock_for_sender_reports() {
        let epoch = Instant::now();
        let clock = MediaClock::with_base(48_000, 77, epoch);
        let mut frames = FrameClock::new(clock, 960);
        for i in 0..500u32 {
            let t = epoch + MS * 20 * i;
            assert_eq!(frames.next_timestamp(t), clock.timestamp_at(t));
        }
    }
}
