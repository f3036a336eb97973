//! Adaptive jitter buffer: reorders incoming RTP payloads and releases one
//! frame per consumer tick, with a playout delay that follows the measured
//! network jitter and never grows without bound.
//!
//! The playout delay is a time, not a packet count: how long the newest packet
//! will have waited when it is played (since it arrived, plus the frames ahead
//! of it). A consumer that ticks every 20 ms can play a packet that arrived
//! 12 ms before the tick at once, and holds one that arrived 1 ms before it for
//! the next tick, so the delay is a few milliseconds over what the jitter asks
//! for, not a whole frame. Arrival times should be the kernel's
//! ([`super::recv_batch::stamp_arrivals`]); when they are the read's (the tick),
//! every packet seems to arrive on a tick and one frame of delay is the least.
//!
//! Jitter is estimated as in RFC 3550 Appendix A.8
//! (<https://www.rfc-editor.org/rfc/rfc3550#appendix-A.8>); sequence numbers
//! are extended with [`super::seq::SeqExtender`] (RFC 3550 Appendix A.1,
//! <https://www.rfc-editor.org/rfc/rfc3550#appendix-A.1>). Sans-IO: the caller
//! passes arrival and playout times in; playout is paced by calls to
//! [`JitterBuffer::pop`], one frame each.

use std::collections::BTreeMap;
use std::time::Instant;

use super::seq::SeqExtender;

/// Consecutive concealed frames with an empty buffer before playout stops.
const MAX_EMPTY_LOSSES: u32 = 5;
/// Packets this far behind the playout point are a possible restart, not just late.
const MAX_MISORDER: u64 = 100;
/// Packets this far ahead of the newest one are a possible restart.
const MAX_SEQ_JUMP: u64 = 3000;
/// Frames above the target tolerated before draining starts.
const DRAIN_MARGIN_FRAMES: u64 = 2;
const DEFAULT_FRAME_MS: u64 = 20;
/// Plausible frame durations, in microseconds (2.5 ms to 120 ms, Opus' range).
const MIN_FRAME_US: u64 = 2_500;
const MAX_FRAME_US: u64 = 120_000;
/// Longest wait of a held packet that [`JitterBuffer`] counts (far above any delay cap).
const MAX_COUNTED_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Transit-time steps above this are timestamp discontinuities, not jitter.
const MAX_TRANSIT_STEP_US: u64 = 3_000_000;

/// Jitter buffer parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream, Hz.
    pub clock_rate: u32,
    /// Lowest target playout delay (from a packet's arrival to its playout), ms.
    pub min_delay_ms: u32,
    /// Highest target playout delay and hard cap on buffered audio, ms.
    pub max_delay_ms: u32,
    /// Most packets held; the oldest are dropped beyond this.
    pub max_packets: usize,
    /// Safety on top of three times the jitter, ms: the consumer's own tick is late by a
    /// millisecond or two on a busy machine ([`DEFAULT_HEADROOM_MS`]; 0 for a stream a
    /// server already paced, such as a cascade leg's mix).
    pub headroom_ms: u32,
}

/// Default [`JitterConfig::headroom_ms`].
pub const DEFAULT_HEADROOM_MS: u32 = 4;

impl Default for JitterConfig {
    /// 48 kHz, 0..200 ms, 50 packets, 4 ms of headroom.
    fn default() -> Self {
        Self {
            clock_rate: 48_000,
            min_delay_ms: 0,
            max_delay_ms: 200,
            max_packets: 50,
            headroom_ms: DEFAULT_HEADROOM_MS,
        }
    }
}

/// Invalid [`JitterConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JitterConfigError {
    /// `clock_rate` is 0.
    #[error("jitter buffer clock rate must be positive")]
    ZeroClockRate,
    /// `min_delay_ms` exceeds `max_delay_ms`.
    #[error("jitter buffer min delay {min_ms} ms exceeds max delay {max_ms} ms")]
    DelayRange {
        /// Configured minimum.
        min_ms: u32,
        /// Configured maximum.
        max_ms: u32,
    },
    /// `max_packets` is 0.
    #[error("jitter buffer capacity must be at least one packet")]
    ZeroCapacity,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Accepted,
    /// Already buffered; dropped.
    Duplicate,
    /// Its turn already passed (a later packet was played or it was concealed); dropped.
    Late,
    /// Stored, but capacity forced dropping the `dropped` oldest packets.
    Overflow {
        /// Packets dropped.
        dropped: usize,
    },
    /// Far outside the current sequence window (> 100 behind the playout
    /// point or > 3000 ahead): held aside; if the next push continues from it
    /// the buffer resynchronises, otherwise it is dropped (counted as late).
    Discontinuity,
    /// Continued a [`PushOutcome::Discontinuity`]: the stream restarted, the
    /// buffer was cleared and both packets stored.
    Resynced,
}

/// What the consumer should play for the current frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<T> {
    /// Not playing: not started, or re-buffering after the stream stopped. Play silence.
    Buffering,
    /// The next frame.
    Packet(T),
    /// The expected frame is missing: conceal (PLC), or decode FEC from `next`,
    /// a clone of the immediately following packet when it is buffered.
    Lost {
        /// The packet right after the missing one, if already buffered.
        next: Option<T>,
    },
}

/// Counters and current delays of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Packets stored (including those later dropped by overflow or draining).
    pub accepted: u64,
    /// Packets dropped because their turn had passed (and unconfirmed discontinuities).
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Packets dropped because capacity was exceeded.
    pub overflow_dropped: u64,
    /// Sequence slots skipped to bring the delay back to target.
    pub drained: u64,
    /// `Playout::Lost` frames returned.
    pub lost: u64,
    /// Stream restarts detected by the buffer (not counting [`JitterBuffer::reset`]).
    pub resyncs: u64,
    /// Current target playout delay, ms.
    pub target_delay_ms: u32,
    /// Current buffered span (frames between the playout point and the newest packet), ms.
    pub buffered_ms: u32,
    /// The playout delay at the last pop, ms: how long the newest packet held will have
    /// waited from its arrival to its playout, the time the buffer keeps near the target
    /// (unchanged while the buffer is empty).
    pub delay_ms: u32,
}

/// Adaptive jitter buffer over payloads of type `T`.
#[derive(Debug, Clone)]
pub struct JitterBuffer<T: Clone> {
    config: JitterConfig,
    packets: BTreeMap<u64, T>,
    extender: SeqExtender,
    playing: bool,
    /// Next extended sequence number to play; everything below it is done.
    next_seq: Option<u64>,
    empty_misses: u32,
    draining: bool,
    pending_jump: Option<(Instant, u16, u32, T)>,
    /// When the newest (highest-numbered) packet held arrived.
    newest_arrival: Option<Instant>,
    arrivals: ArrivalEstimator,
    stats: JitterStats,
}

/// RFC 3550 A.8 jitter and frame-duration learning from packet arrivals.
#[derive(Debug, Clone)]
struct ArrivalEstimator {
    clock_rate: u32,
    epoch: Option<Instant>,
    last_transit: Option<u32>,
    /// Jitter in RTP timestamp units.
    jitter: f64,
    frame_ts: u64,
    frame_candidate: Option<u64>,
    last_packet: Option<(u64, u32)>,
}

impl ArrivalEstimator {
    fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            epoch: None,
            last_transit: None,
            jitter: 0.0,
            frame_ts: (u64::from(clock_rate) * DEFAULT_FRAME_MS / 1000).max(1),
            frame_candidate: None,
            last_packet: None,
        }
    }

    fn observe(&mut self, now: Instant, ext_seq: u64, rtp_timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let nanos = now.saturating_duration_since(epoch).as_nanos();
        let arrival = (nanos * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.last_transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            if d <= self.us_to_ts(MAX_TRANSIT_STEP_US) {
                self.jitter += (d as f64 - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);
        // A new frame duration is adopted once seen twice in a row between consecutive packets.
        if let Some((last_seq, last_ts)) = self.last_packet {
            let delta = u64::from(rtp_timestamp.wrapping_sub(last_ts));
            let plausible = self.us_to_ts(MIN_FRAME_US)..=self.us_to_ts(MAX_FRAME_US);
            if ext_seq == last_seq + 1 && delta > 0 && plausible.contains(&delta) {
                if self.frame_candidate == Some(delta) {
                    self.frame_ts = delta;
                }
                self.frame_candidate = Some(delta);
            }
        }
        self.last_packet = Some((ext_seq, rtp_timestamp));
    }

    fn us_to_ts(&self, micros: u64) -> u64 {
        u64::from(self.clock_rate) * micros / 1_000_000
    }

    fn forget_stream(&mut self) {
        self.last_transit = None;
        self.last_packet = None;
        self.frame_candidate = None;
    }
}

impl<T: Clone> JitterBuffer<T> {
    /// Creates an empty buffer, in `Buffering` state.
    pub fn new(config: JitterConfig) -> Result<Self, JitterConfigError> {
        if config.clock_rate == 0 {
            return Err(JitterConfigError::ZeroClockRate);
        }
        if config.min_delay_ms > config.max_delay_ms {
            return Err(JitterConfigError::DelayRange {
                min_ms: config.min_delay_ms,
                max_ms: config.max_delay_ms,
            });
        }
        if config.max_packets == 0 {
            return Err(JitterConfigError::ZeroCapacity);
        }
        Ok(Self {
            config,
            packets: BTreeMap::new(),
            extender: SeqExtender::new(),
            playing: false,
            next_seq: None,
            empty_misses: 0,
            draining: false,
            pending_jump: None,
            newest_arrival: None,
            arrivals: ArrivalEstimator::new(config.clock_rate),
            stats: JitterStats::default(),
        })
    }

    /// Forgets the current stream (e.g. new SSRC) and goes back to `Buffering`.
    /// Counters, the jitter estimate and the learned frame duration are kept.
    pub fn reset(&mut self) {
        self.packets.clear();
        self.extender.reset();
        self.playing = false;
        self.next_seq = None;
        self.empty_misses = 0;
        self.draining = false;
        self.pending_jump = None;
        self.newest_arrival = None;
        self.arrivals.forget_stream();
    }

    /// Stores a packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, seq: u16, rtp_timestamp: u32, payload: T) -> PushOutcome {
        if let Some((pending_now, pending_seq, pending_ts, pending_payload)) =
            self.pending_jump.take()
        {
            if pending_seq.wrapping_add(1) == seq {
                self.reset();
                self.stats.resyncs += 1;
                self.store(pending_now, pending_seq, pending_ts, pending_payload);
                self.store(now, seq, rtp_timestamp, payload);
                return PushOutcome::Resynced;
            }
            self.stats.late += 1;
        }
        let Some(ext) = self
            .extender
            .peek(seq)
            .filter(|&ext| !self.is_discontinuous(ext))
        else {
            self.pending_jump = Some((now, seq, rtp_timestamp, payload));
            return PushOutcome::Discontinuity;
        };
        if self.next_seq.is_some_and(|next| ext < next) {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        self.store(now, seq, rtp_timestamp, payload)
    }

    /// Returns what to play for the next frame; call once per frame duration.
    ///
    /// - [`Playout::Buffering`]: not playing. Playout (re)starts at the oldest
    ///   buffered packet once the newest would be played with the target delay:
    ///   `now - its arrival + (newest - oldest seq) × frame` reaches the target.
    ///   Playout stops (back to `Buffering`) on the pop after 5 consecutive
    ///   underrun `Lost { next: None }`.
    /// - [`Playout::Packet`]: the packet at the playout point.
    /// - [`Playout::Lost`] on a gap (a later packet is buffered): the slot is
    ///   consumed, `next` is the following packet if buffered, the missing one
    ///   becomes `Late`. On an underrun (buffer empty): `next` is `None` and
    ///   the slot is kept, so a slightly late packet still plays next.
    ///
    /// Before choosing, the delay is bounded: a delay above `max_delay` + 2
    /// frames is cut to `max_delay` at once; a delay above target + 2 frames
    /// is drained one slot per pop while a frame less still meets the target.
    /// Pacing comes from the call rate; `now` times the delay.
    pub fn pop(&mut self, now: Instant) -> Playout<T> {
        if !self.playing && !self.try_start(now) {
            return Playout::Buffering;
        }
        self.bound_delay(now);
        let Some(next) = self.next_seq else {
            // Invariant: try_start sets next_seq before playing starts.
            self.playing = false;
            return Playout::Buffering;
        };
        if let Some(payload) = self.packets.remove(&next) {
            self.next_seq = Some(next + 1);
            self.empty_misses = 0;
            return Playout::Packet(payload);
        }
        if self.packets.is_empty() {
            // Underrun: conceal but keep the slot, so the packet still plays if it shows up.
            if self.empty_misses >= MAX_EMPTY_LOSSES {
                self.playing = false;
                self.draining = false;
                return Playout::Buffering;
            }
            self.empty_misses += 1;
            self.stats.lost += 1;
            return Playout::Lost { next: None };
        }
        // Gap: a later packet is buffered, so this one's turn is over.
        self.empty_misses = 0;
        self.stats.lost += 1;
        self.next_seq = Some(next + 1);
        Playout::Lost {
            next: self.packets.get(&(next + 1)).cloned(),
        }
    }

    /// Counters and current delays.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_delay_ms: self.ts_to_ms(self.target_ts()),
            buffered_ms: self.ts_to_ms(self.buffered_ts()),
            ..self.stats
        }
    }

    /// Packets currently held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn store(&mut self, now: Instant, seq: u16, rtp_timestamp: u32, payload: T) -> PushOutcome {
        let Some(ext) = self.extender.extend(seq) else {
            // Only reachable right after a reset, where extension always succeeds.
            self.stats.late += 1;
            return PushOutcome::Late;
        };
        self.arrivals.observe(now, ext, rtp_timestamp);
        if self
            .packets
            .keys()
            .next_back()
            .is_none_or(|&newest| ext > newest)
        {
            self.newest_arrival = Some(now);
        }
        self.packets.insert(ext, payload);
        self.stats.accepted += 1;
        let mut dropped = 0;
        while self.packets.len() > self.config.max_packets {
            let Some((oldest, _)) = self.packets.pop_first() else {
                break;
            };
            self.next_seq = Some(
                self.next_seq
                    .map_or(oldest + 1, |next| next.max(oldest + 1)),
            );
            dropped += 1;
        }
        self.stats.overflow_dropped += dropped as u64;
        if dropped > 0 {
            PushOutcome::Overflow { dropped }
        } else {
            PushOutcome::Accepted
        }
    }

    fn is_discontinuous(&self, ext: u64) -> bool {
        let far_behind = self.next_seq.is_some_and(|next| ext + MAX_MISORDER < next);
        let far_ahead = self
            .extender
            .highest()
            .is_some_and(|highest| ext > highest + MAX_SEQ_JUMP);
        far_behind || far_ahead
    }

    /// Starts playout at the oldest packet once the newest would be played with the target
    /// delay.
    fn try_start(&mut self, now: Instant) -> bool {
        let Some(&oldest) = self.packets.keys().next() else {
            return false;
        };
        if self.delay_ts(now, oldest) < self.target_ts() {
            return false;
        }
        self.playing = true;
        self.next_seq = Some(oldest);
        self.empty_misses = 0;
        true
    }

    /// The delay the newest packet will have had when it is played, if `next` plays at
    /// `now`: since its arrival, plus a frame for each packet before it. RTP units.
    fn delay_ts(&self, now: Instant, next: u64) -> u64 {
        let (Some(&newest), Some(arrived)) = (self.packets.keys().next_back(), self.newest_arrival)
        else {
            return 0;
        };
        // Past the longest delay a wait only needs to compare as "too long".
        let waited = now
            .saturating_duration_since(arrived)
            .min(MAX_COUNTED_WAIT)
            .as_micros() as u64;
        self.arrivals.us_to_ts(waited) + newest.saturating_sub(next) * self.arrivals.frame_ts
    }

    /// Caps the delay at `max_delay` and drains one slot per pop while above target.
    fn bound_delay(&mut self, now: Instant) {
        let frame = self.arrivals.frame_ts;
        let max = self.ms_to_ts(self.config.max_delay_ms);
        let target = self.target_ts();
        let (Some(next), Some(&newest)) = (self.next_seq, self.packets.keys().next_back()) else {
            self.draining = false;
            return;
        };
        let mut delay = self.delay_ts(now, next);
        if delay > max + DRAIN_MARGIN_FRAMES * frame {
            let skip = (delay - max)
                .div_ceil(frame)
                .min(newest.saturating_sub(next));
            self.skip_to(next + skip);
            delay -= skip * frame;
        }
        if delay > target + DRAIN_MARGIN_FRAMES * frame {
            self.draining = true;
        }
        if self.draining {
            if delay < target + frame {
                self.draining = false;
            } else if let Some(next) = self.next_seq.filter(|&next| next < newest) {
                self.skip_to(next + 1);
                delay -= frame;
            }
        }
        self.stats.delay_ms = self.ts_to_ms(delay);
    }

    fn skip_to(&mut self, new_next: u64) {
        let skipped = self
            .next_seq
            .map_or(0, |next| new_next.saturating_sub(next));
        self.packets = self.packets.split_off(&new_next);
        self.stats.drained += skipped;
        self.next_seq = Some(new_next);
    }

    /// Target delay in RTP units: clamp(3 × jitter + headroom, min, max). The RFC 3550
    /// estimate is a mean deviation; three of them cover nearly every late packet.
    fn target_ts(&self) -> u64 {
        let headroom = self.ms_to_ts(self.config.headroom_ms);
        let wanted = 3.0 * self.arrivals.jitter + headroom as f64;
        let min = self.ms_to_ts(self.config.min_delay_ms);
        let max = self.ms_to_ts(self.config.max_delay_ms);
        (wanted as u64).clamp(min, max)
    }

    /// Frames between the playout point (or oldest packet) and the newest packet, in RTP units.
    fn buffered_ts(&self) -> u64 {
        let newest = self.packets.keys().next_back();
        let start = if self.playing {
            self.next_seq
        } else {
            self.packets.keys().next().copied()
        };
        match (start, newest) {
            (Some(start), Some(&newest)) => newest.saturating_sub(start) * self.arrivals.frame_ts,
            _ => 0,
        }
    }

    fn ms_to_ts(&self, ms: u32) -> u64 {
        u64::from(self.config.clock_rate) * u64::from(ms) / 1000
    }

    fn ts_to_ms(&self, ts: u64) -> u32 {
        u32::try_from(ts * 1000 / u64::from(self.config.clock_rate)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FRAME_TS: u32 = 960; // 20 ms at 48 kHz

    fn buffer() -> JitterBuffer<u32> {
        JitterBuffer::new(JitterConfig::default()).unwrap()
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Packet `index` of a stream starting at `first_seq`: (seq, timestamp, payload).
    fn packet(first_seq: u16, index: u32) -> (u16, u32, u32) {
        (
            first_seq.wrapping_add(index as u16),
            5_000 + index * FRAME_TS,
            index,
        )
    }

    /// Plays `ticks` consumer ticks of 20 ms from `start_ms`; before each pop, pushes
    /// every packet whose arrival time (ms) has come, in the given order.
    fn run(
        jb: &mut JitterBuffer<u32>,
        t0: Instant,
        first_seq: u16,
        arrivals: &[(u64, u32)],
        start_ms: u64,
        ticks: u64,
    ) -> Vec<Playout<u32>> {
        let mut pending: Vec<(u64, u32)> = arrivals.to_vec();
        pending.sort_by_key(|&(arrival, _)| arrival); // stable: keeps order within a tick
        let mut pending = pending.into_iter().peekable();
        let mut out = Vec::new();
        for tick in 0..ticks {
            let now_ms = start_ms + tick * 20;
            while let Some((arrival, index)) = pending.next_if(|&(arrival, _)| arrival <= now_ms) {
                let (seq, ts, payload) = packet(first_seq, index);
                jb.push(at(t0, arrival), seq, ts, payload);
            }
            out.push(jb.pop(at(t0, now_ms)));
        }
        out
    }

    fn played(playouts: &[Playout<u32>]) -> Vec<u32> {
        playouts
            .iter()
            .filter_map(|p| {
                if let Playout::Packet(v) = p {
                    Some(*v)
                } else {
                    None
                }
            })
            .collect()
    }

    fn steady(range: std::ops::Range<u32>) -> Vec<(u64, u32)> {
        range.map(|i| (u64::from(i) * 20, i)).collect()
    }

    #[test]
    fn a_paced_stream_plays_its_first_packet_at_once_and_keeps_every_packet() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig {
            min_delay_ms: 0,
            headroom_ms: 0,
            ..JitterConfig::default()
        })
        .unwrap();
        let out = run(&mut jb, t0, 100, &steady(0..50), 0, 55);
        assert_eq!(out[0], Playout::Packet(0), "no frame of headroom");
        assert_eq!(played(&out), (0..50).collect::<Vec<_>>());
        assert_eq!(jb.stats().target_delay_ms, 0);
        // The default waits one frame first.
        let mut jb = buffer();
        let out = run(&mut jb, t0, 100, &steady(0..50), 0, 55);
        assert_eq!(out[0], Playout::Buffering);
    }

    #[test]
    fn in_order_stream_plays_every_packet_once() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let out = run(&mut jb, t0, 100, &steady(0..100), 0, 110);
        assert_eq!(out[0], Playout::Buffering);
        assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
        let stats = jb.stats();
        assert_eq!((stats.accepted, stats.late, stats.drained), (100, 0, 0));
        assert_eq!(stats.target_delay_ms, DEFAULT_HEADROOM_MS);
    }

    /// The delay each packet of a steady stream arriving `phase_ms` after each tick has when
    /// it is played (ticks every 20 ms from 0), what was lost and the delay the stats report.
    fn delays_at_phase(phase_ms: u64) -> (Vec<u64>, u64, u32) {
        let (t0, mut jb) = (Instant::now(), buffer());
        let arrivals: Vec<_> = (0..100)
            .map(|i| (u64::from(i) * 20 + phase_ms, i))
            .collect();
        let out = run(&mut jb, t0, 0, &arrivals, 0, 100);
        let delays = out
            .iter()
            .enumerate()
            .filter_map(|(tick, p)| match p {
                Playout::Packet(i) => Some(tick as u64 * 20 - arrivals[*i as usize].0),
                _ => None,
            })
            .collect();
        let stats = jb.stats();
        (delays, stats.lost, stats.delay_ms)
    }

    #[test]
    fn a_packet_that_came_well_before_the_tick_plays_at_that_tick() {
        // 12 ms before each tick: more than the headroom, so no frame is added.
        let (delays, lost, delay_ms) = delays_at_phase(8);
        assert_eq!(delays.len(), 99);
        assert!(delays.iter().all(|&d| d == 12), "{delays:?}");
        assert_eq!(lost, 0);
        assert_eq!(delay_ms, 12, "the stats report the delay played");
    }

    #[test]
    fn a_packet_that_came_just_before_the_tick_waits_one_more() {
        // 1 ms before each tick is within the headroom (the tick may run a little late, or
        // the next packet a little later): a frame more, every time, and nothing concealed.
        let (delays, lost, delay_ms) = delays_at_phase(19);
        assert!(delays.iter().all(|&d| d == 21), "{delays:?}");
        assert_eq!(lost, 0);
        assert_eq!(delay_ms, 21);
    }

    #[test]
    fn reordered_pair_is_played_in_order() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let mut arrivals = steady(0..30);
        arrivals.swap(10, 11);
        arrivals[10].0 = 220; // packet 11 arrives first, in the same tick as 10
        arrivals[11].0 = 220;
        let out = run(&mut jb, t0, 0, &arrivals, 0, 40);
        assert_eq!(played(&out), (0..30).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 5); // only the trailing underrun after the stream ends
    }

    #[test]
    fn missing_packet_is_lost_with_next_for_fec() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let arrivals: Vec<_> = steady(0..40)
            .into_iter()
            .filter(|&(_, i)| i != 30)
            .collect();
        let out = run(&mut jb, t0, 0, &arrivals, 0, 40);
        let lost_at = out
            .iter()
            .position(|p| matches!(p, Playout::Lost { .. }))
            .unwrap();
        assert_eq!(out[lost_at], Playout::Lost { next: Some(31) });
        assert_eq!(out[lost_at - 1], Playout::Packet(29));
        assert_eq!(out[lost_at + 1], Playout::Packet(31));
        // The missing packet showing up afterwards is late.
        assert_eq!(jb.push(at(t0, 900), 30, 0, 30), PushOutcome::Late);
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn burst_after_stall_drains_back_to_target() {
        let (t0, mut jb) = (Instant::now(), buffer());
        // Packets sent during 1000..1500 ms all arrive at 1500 ms.
        let arrivals: Vec<_> = steady(0..250)
            .into_iter()
            .map(|(t, i)| (if (1000..1500).contains(&t) { 1500 } else { t }, i))
            .collect();
        let before = run(&mut jb, t0, 0, &arrivals[..50], 0, 75);
        assert!(before[51..56]
            .iter()
            .all(|p| *p == Playout::Lost { next: None }));
        assert_eq!(
            before[56..75]
                .iter()
                .filter(|p| **p == Playout::Buffering)
                .count(),
            19
        );
        run(&mut jb, t0, 0, &arrivals[50..76], 1500, 1);
        let bounded = jb.stats();
        assert!(bounded.buffered_ms <= 200, "delay after burst {bounded:?}");
        let mut pops_to_target = None;
        for tick in 1..100u64 {
            run(
                &mut jb,
                t0,
                0,
                &arrivals[(75 + tick as usize)..(76 + tick as usize)],
                1500 + tick * 20,
                1,
            );
            let stats = jb.stats();
            if stats.buffered_ms <= stats.target_delay_ms && pops_to_target.is_none() {
                pops_to_target = Some(tick);
            }
        }
        assert!(
            pops_to_target.is_some_and(|pops| pops <= 20),
            "took {pops_to_target:?} pops"
        );
        let stats = jb.stats();
        assert!(stats.buffered_ms <= stats.target_delay_ms + 40, "{stats:?}");
        assert_eq!((stats.late, stats.lost), (0, 5));
        assert!(stats.drained > 0);
    }

    #[test]
    fn burst_of_one_hundred_packets_is_bounded() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let arrivals: Vec<_> = (0..100)
            .map(|i| (0, i))
            .chain((100..200).map(|i| (u64::from(i - 99) * 20, i)))
            .collect();
        let out = run(&mut jb, t0, 0, &arrivals, 0, 1);
        assert!(matches!(out[0], Playout::Packet(_)));
        let stats = jb.stats();
        assert_eq!(stats.overflow_dropped, 50);
        assert!(stats.buffered_ms <= 200, "{stats:?}");
        run(&mut jb, t0, 0, &arrivals[100..], 20, 60);
        let stats = jb.stats();
        assert!(stats.buffered_ms <= stats.target_delay_ms + 40, "{stats:?}");
    }

    #[test]
    fn jitter_raises_target_and_smoothness_lowers_it() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let jittery: Vec<_> = (0..200)
            .map(|i| (u64::from(i) * 20 + u64::from(i % 2) * 15, i))
            .collect();
        run(&mut jb, t0, 0, &jittery, 0, 200);
        let raised = jb.stats().target_delay_ms;
        assert!((45..=52).contains(&raised), "target {raised}"); // 2 × 15 ms + 20 ms
        let smooth: Vec<_> = (200..400).map(|i| (u64::from(i) * 20, i)).collect();
        run(&mut jb, t0, 0, &smooth, 4000, 200);
        let stats = jb.stats();
        assert!(stats.target_delay_ms <= 21, "{stats:?}");
        assert!(stats.buffered_ms <= stats.target_delay_ms + 40, "{stats:?}");
    }

    #[test]
    fn sequence_wrap_during_playout() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let mut arrivals = steady(0..40);
        arrivals.swap(19, 20); // seq 0 arrives before seq 65535, in the same tick
        arrivals[20].0 = 400;
        let out = run(&mut jb, t0, 65_516, &arrivals, 0, 41);
        assert_eq!(played(&out), (0..40).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn duplicate_and_late_packets_are_counted() {
        let (t0, mut jb) = (Instant::now(), buffer());
        for i in 0..3 {
            assert_eq!(
                jb.push(t0, i as u16, i * FRAME_TS, i),
                PushOutcome::Accepted
            );
        }
        assert_eq!(jb.pop(t0), Playout::Packet(0));
        assert_eq!(jb.push(t0, 0, 0, 0), PushOutcome::Late);
        assert_eq!(jb.push(t0, 2, 2 * FRAME_TS, 2), PushOutcome::Duplicate);
        let stats = jb.stats();
        assert_eq!((stats.accepted, stats.late, stats.duplicate), (3, 1, 1));
    }

    #[test]
    fn stopped_stream_goes_back_to_buffering_and_resumes() {
        let (t0, mut jb) = (Instant::now(), buffer());
        let mut arrivals = steady(0..10);
        arrivals.extend((20..30).map(|i| (u64::from(i) * 20 + 400, i)));
        let out = run(&mut jb, t0, 0, &arrivals, 0, 70);
        let after_last = out.iter().position(|p| *p == Playout::Packet(9)).unwrap() + 1;
        assert!(out[after_last..after_last + 5]
            .iter()
            .all(|p| *p == Playout::Lost { next: None }));
        assert_eq!(out[after_last + 5], Playout::Buffering);
        assert_eq!(played(&out), (0..10).chain(20..30).collect::<Vec<_>>());
    }

    #[test]
    fn sequence_restart_resynchronises() {
        let (t0, mut jb) = (Instant::now(), buffer());
        run(&mut jb, t0, 1000, &steady(0..10), 0, 10);
        assert_eq!(
            jb.push(at(t0, 200), 40_000, 7, 77),
            PushOutcome::Discontinuity
        );
        assert_eq!(
            jb.push(at(t0, 220), 40_001, 7 + FRAME_TS, 78),
            PushOutcome::Resynced
        );
        assert_eq!(jb.pop(at(t0, 220)), Playout::Packet(77));
        assert_eq!(jb.pop(at(t0, 240)), Playout::Packet(78));
        // A lone stray packet is dropped once the stream continues.
        assert_eq!(jb.push(at(t0, 240), 9, 0, 0), PushOutcome::Discontinuity);
        assert_eq!(
            jb.push(at(t0, 240), 40_002, 7 + 2 * FRAME_TS, 79),
            PushOutcome::Accepted
        );
        assert_eq!(jb.stats().resyncs, 1);
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn capacity_drops_the_oldest() {
        let config = JitterConfig {
            max_packets: 5,
            ..JitterConfig::default()
        };
        let (t0, mut jb) = (Instant::now(), JitterBuffer::new(config).unwrap());
        let outcomes: Vec<_> = (0..8u32)
            .map(|i| jb.push(t0, i as u16, i * FRAME_TS, i))
            .collect();
        assert_eq!(outcomes[4], PushOutcome::Accepted);
        assert_eq!(outcomes[5], PushOutcome::Overflow { dropped: 1 });
        assert_eq!(jb.stats().overflow_dropped, 3);
        assert_eq!(jb.push(t0, 1, FRAME_TS, 1), PushOutcome::Late);
        // 3..=7 buffered is 80 ms, above target + 2 frames: the first pop drains one.
        assert_eq!(jb.pop(t0), Playout::Packet(4));
        assert_eq!(jb.stats().drained, 1);
    }

    #[test]
    fn rejects_invalid_config() {
        let bad = |config| JitterBuffer::<u32>::new(config).err();
        let base = JitterConfig::default();
        assert_eq!(
            bad(JitterConfig {
                clock_rate: 0,
                ..base
            }),
            Some(JitterConfigError::ZeroClockRate)
        );
        assert_eq!(
            bad(JitterConfig {
                max_packets: 0,
                ..base
            }),
            Some(JitterConfigError::ZeroCapacity)
        );
        assert_eq!(
            bad(JitterConfig {
                min_delay_ms: 300,
                ..base
            }),
            Some(JitterConfigError::DelayRange {
                min_ms: 300,
                max_ms: 200
            })
        );
    }
}
