//! The video jitter buffer: puts one stream's RTP packets back in sequence before they are
//! depacketized, so that reordering within a short window is not mistaken for loss (which
//! would cost a keyframe). A gap is waited on for the window, NACKed once meanwhile when the
//! sender offered `nack` (RFC 4585 §6.2.1; a plain NACK retransmission is the original packet,
//! sequence number included, so it fills the gap), then given up on: the depacketizer sees the
//! jump, drops the damaged frame and asks for a keyframe (PLI).
//!
//! Packets in order pass straight through without a copy; only those behind a gap are held,
//! at most [`MAX_HELD`], so a burst or a sender that jumps ahead cannot grow it. Sans-IO: the
//! caller passes the time.

use super::seq::SeqExtender;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Packets held behind gaps at most; beyond that the oldest gap is given up at once.
pub const MAX_HELD: usize = 256;
/// Sequence numbers NACKed per gap at most (a longer gap is a burst: the keyframe repairs it).
pub const MAX_NACK_PER_GAP: u64 = 32;

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Next in sequence: use it now (the buffer kept nothing).
    InOrder,
    /// Ahead of a gap: held until the gap fills or is given up ([`ReorderBuffer::pop`]).
    Held,
    /// Already held, or behind a gap already given up: dropped.
    Dropped,
}

/// A held packet released in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

struct Held {
    arrived: Instant,
    packet: Released,
}

/// Counters for snapshots.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReorderStats {
    /// Packets that arrived out of order and were put back in place.
    pub reordered: u64,
    /// Sequence numbers given up on (lost for good).
    pub lost: u64,
    /// Packets dropped as duplicates or as too late.
    pub dropped: u64,
    /// Sequence numbers NACKed.
    pub nacked: u64,
}

/// One stream's reordering state.
pub struct ReorderBuffer {
    window: Duration,
    nack: bool,
    extender: SeqExtender,
    /// Extended sequence number expected next.
    next: Option<u64>,
    held: BTreeMap<u64, Held>,
    nacks: Vec<u16>,
    /// Highest extended sequence number already NACKed (no NACK twice).
    nacked_up_to: Option<u64>,
    stats: ReorderStats,
}

impl ReorderBuffer {
    /// A buffer that waits up to `window` for a missing packet, NACKing it when `nack`.
    pub fn new(window: Duration, nack: bool) -> Self {
        Self {
            window,
            nack,
            extender: SeqExtender::new(),
            next: None,
            held: BTreeMap::new(),
            nacks: Vec::new(),
            nacked_up_to: None,
            stats: ReorderStats::default(),
        }
    }

    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// Forgets the stream (new SSRC): held packets are dropped.
    pub fn reset(&mut self) {
        self.stats.dropped += self.held.len() as u64;
        self.held.clear();
        self.extender.reset();
        self.next = None;
        self.nacked_up_to = None;
    }

    /// Takes one packet that arrived at `now`.
    pub fn push(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Arrival {
        let Some(extended) = self.extender.extend(seq) else {
            self.stats.dropped += 1;
            return Arrival::Dropped;
        };
        let next = *self.next.get_or_insert(extended);
        if extended < next || self.held.contains_key(&extended) {
            self.stats.dropped += 1;
            return Arrival::Dropped;
        }
        if extended == next && self.held.is_empty() {
            self.next = Some(next + 1);
            return Arrival::InOrder;
        }
        if extended == next
            || self
                .held
                .keys()
                .next()
                .is_some_and(|first| extended < *first)
        {
            self.stats.reordered += 1;
        }
        self.queue_nacks(next, extended);
        self.held.insert(
            extended,
            Held {
                arrived: now,
                packet: Released {
                    seq,
                    timestamp,
                    marker,
                    payload: payload.to_vec(),
                },
            },
        );
        Arrival::Held
    }

    /// NACKs the sequence numbers missing before `arrived` (once each, a bounded number).
    fn queue_nacks(&mut self, next: u64, arrived: u64) {
        if !self.nack {
            return;
        }
        let from = self
            .nacked_up_to
            .map_or(next, |n| n.saturating_add(1).max(next));
        let from = from.max(arrived.saturating_sub(MAX_NACK_PER_GAP));
        for missing in from..arrived {
            if !self.held.contains_key(&missing) {
                self.nacks.push(missing as u16);
                self.stats.nacked += 1;
            }
        }
        self.nacked_up_to = Some(self.nacked_up_to.map_or(arrived, |n| n.max(arrived)));
    }

    /// Sequence numbers to NACK now (empty unless NACK was negotiated).
    pub fn take_nacks(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.nacks)
    }

    /// The next held packet that may go on at `now`: the one next in sequence, or — once the
    /// gap before the oldest held packet has waited the window (or too much is held) — the
    /// first packet after the gap, the gap counted as lost.
    pub fn pop(&mut self, now: Instant) -> Option<Released> {
        let next = self.next?;
        let (&first, _) = self.held.first_key_value()?;
        if first != next {
            let waited_enough = self
                .held
                .values()
                .map(|h| h.arrived)
                .min()
                .is_some_and(|oldest| now.saturating_duration_since(oldest) >= self.window);
            let too_far = first - next > MAX_HELD as u64 || self.held.len() > MAX_HELD;
            if !(waited_enough || too_far) {
                return None;
            }
            self.stats.lost += first - next;
        }
        self.next = Some(first + 1);
        self.held.remove(&first).map(|h| h.packet)
    }

    /// Packets held behind gaps.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(50);
    const MS: Duration = Duration::from_millis(1);

    fn drain(buffer: &mut ReorderBuffer, now: Instant) -> Vec<u16> {
        std::iter::from_fn(|| buffer.pop(now))
            .map(|p| p.seq)
            .collect()
    }

    #[test]
    fn in_order_packets_pass_straight_through() {
        let mut b = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        for seq in 65_530..=65_535u16 {
            assert_eq!(b.push(t, seq, 0, false, &[1]), Arrival::InOrder);
        }
        assert_eq!(
            b.push(t, 0, 0, false, &[1]),
            Arrival::InOrder,
            "across the wrap"
        );
        assert_eq!(b.held(), 0);
        assert_eq!(b.stats(), ReorderStats::default());
    }

    #[test]
    fn a_swapped_pair_comes_out_in_order_without_loss() {
        let mut b = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        assert_eq!(b.push(t, 10, 0, false, &[10]), Arrival::InOrder);
        assert_eq!(b.push(t, 12, 0, true, &[12]), Arrival::Held);
        assert!(b.pop(t).is_none(), "waits for 11");
        assert_eq!(b.push(t + MS * 5, 11, 0, false, &[11]), Arrival::Held);
        let released: Vec<Released> = std::iter::from_fn(|| b.pop(t + MS * 5)).collect();
        assert_eq!(
            released
                .iter()
                .map(|p| (p.seq, p.payload[0]))
                .collect::<Vec<_>>(),
            [(11, 11), (12, 12)]
        );
        assert!(released[1].marker);
        assert_eq!(b.stats().lost, 0);
        assert_eq!(b.stats().reordered, 1);
        assert_eq!(b.push(t, 13, 0, false, &[13]), Arrival::InOrder);
    }

    #[test]
    fn a_gap_is_given_up_after_the_window_and_late_packets_are_dropped() {
        let mut b = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        b.push(t, 1, 0, false, &[]);
        b.push(t + MS, 3, 0, false, &[]);
        b.push(t + MS * 2, 4, 0, false, &[]);
        assert!(
            drain(&mut b, t + MS * 50).is_empty(),
            "still inside the window"
        );
        assert_eq!(drain(&mut b, t + MS * 51), [3, 4]);
        assert_eq!(b.stats().lost, 1);
        assert_eq!(
            b.push(t + MS * 60, 2, 0, false, &[]),
            Arrival::Dropped,
            "too late"
        );
        assert_eq!(b.push(t + MS * 60, 5, 0, false, &[]), Arrival::InOrder);
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut b = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        b.push(t, 1, 0, false, &[]);
        assert_eq!(b.push(t, 1, 0, false, &[]), Arrival::Dropped);
        b.push(t, 3, 0, false, &[]);
        assert_eq!(b.push(t, 3, 0, false, &[]), Arrival::Dropped);
        assert_eq!(b.stats().dropped, 2);
    }

    #[test]
    fn missing_packets_are_nacked_once_and_a_retransmission_fills_the_gap() {
        let mut b = ReorderBuffer::new(WINDOW * 2, true);
        let t = Instant::now();
        b.push(t, 100, 0, false, &[]);
        b.push(t, 103, 0, false, &[]);
        assert_eq!(b.take_nacks(), [101, 102]);
        b.push(t + MS, 104, 0, false, &[]);
        assert!(b.take_nacks().is_empty(), "no NACK twice");
        // The retransmissions arrive (same sequence numbers) within the window.
        b.push(t + MS * 40, 102, 0, false, &[]);
        b.push(t + MS * 41, 101, 0, false, &[]);
        assert_eq!(drain(&mut b, t + MS * 41), [101, 102, 103, 104]);
        assert_eq!(b.stats().lost, 0);
        assert_eq!(b.stats().nacked, 2);
    }

    #[test]
    fn no_nacks_unless_negotiated_and_long_gaps_nack_a_bounded_tail() {
        let mut plain = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        plain.push(t, 1, 0, false, &[]);
        plain.push(t, 9, 0, false, &[]);
        assert!(plain.take_nacks().is_empty());
        let mut b = ReorderBuffer::new(WINDOW, true);
        b.push(t, 1, 0, false, &[]);
        b.push(t, 1000, 0, false, &[]);
        assert_eq!(b.take_nacks().len() as u64, MAX_NACK_PER_GAP);
    }

    #[test]
    fn a_jump_far_ahead_or_a_flood_is_released_at_once_and_bounded() {
        let mut b = ReorderBuffer::new(WINDOW, false);
        let t = Instant::now();
        b.push(t, 1, 0, false, &[]);
        b.push(t, 5000, 0, false, &[]);
        assert_eq!(
            drain(&mut b, t),
            [5000],
            "a sender that jumped ahead is followed"
        );
        let mut b = ReorderBuffer::new(WINDOW, false);
        b.push(t, 1, 0, false, &[]);
        for seq in 3..(3 + MAX_HELD as u16 + 10) {
            b.push(t, seq, 0, false, &[0; 100]);
            let _ = drain(&mut b, t);
            assert!(b.held() <= MAX_HELD + 1);
        }
    }
}
