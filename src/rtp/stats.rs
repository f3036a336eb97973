//! Per-source RTP receiver statistics, the input of RTCP reception reports.
//!
//! Implements RFC 3550 Appendix A.1 source validation and sequence tracking
//! (<https://www.rfc-editor.org/rfc/rfc3550#appendix-A.1>), A.3 loss
//! accounting (<https://www.rfc-editor.org/rfc/rfc3550#appendix-A.3>) and
//! A.8 interarrival jitter (<https://www.rfc-editor.org/rfc/rfc3550#appendix-A.8>),
//! producing the report block of §6.4.1
//! (<https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1>). Sans-IO: arrival
//! times are passed in by the caller.

use std::time::Instant;

use super::rtcp::{ntp_middle_32, ReportBlock};

/// Sequential packets required before a source is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u16 = 2;
/// Largest forward jump still treated as the same stream (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step still treated as reordering (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;

const RTP_SEQ_MOD: u32 = 1 << 16;
/// Bounds of the 24-bit signed cumulative-lost field.
const CUMULATIVE_LOST_MAX: i64 = 0x7f_ffff;
const CUMULATIVE_LOST_MIN: i64 = -0x80_0000;
/// Width of the duplicate-detection window; must exceed `MAX_MISORDER`.
const RECENT_WINDOW: u16 = 128;

/// What [`ReceiveStats::on_packet`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketVerdict {
    /// Valid packet, in order or reordered within `MAX_MISORDER`; counted.
    Accepted,
    /// The source is not validated yet (fewer than `MIN_SEQUENTIAL` in a row); not counted.
    Probation,
    /// Already received (within the last 128 sequence numbers). Counted as
    /// received, as RFC 3550 A.3 does, so cumulative loss may go negative.
    Duplicate,
    /// More than `MAX_MISORDER` behind the highest sequence number; not
    /// counted. Remembered as a possible restart (see [`PacketVerdict::Restarted`]).
    TooOld,
    /// At least `MAX_DROPOUT` ahead; not counted until the next packet
    /// confirms a restart (see [`PacketVerdict::Restarted`]).
    Jump,
    /// The packet directly follows a `TooOld`/`Jump` one: the sender restarted,
    /// sequence state (and loss counters) were re-initialised; counted.
    Restarted,
}

/// Receiver statistics for one synchronisation source.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    started: bool,
    probation: u16,
    max_seq: u16,
    /// Shifted count of sequence number cycles (RFC 3550 A.1 `cycles`).
    cycles: u64,
    base_seq: u16,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit `k` set: extended sequence `max - k` was received.
    recent: u128,
    packets_total: u64,
    bytes_total: u64,
    epoch: Option<Instant>,
    last_transit: Option<u32>,
    /// Interarrival jitter estimate in RTP timestamp units.
    jitter: f64,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// Creates statistics for a source whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            started: false,
            probation: MIN_SEQUENTIAL,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            recent: 0,
            packets_total: 0,
            bytes_total: 0,
            epoch: None,
            last_transit: None,
            jitter: 0.0,
            last_sr: None,
        }
    }

    /// Accounts one RTP packet that arrived at `now`.
    pub fn on_packet(
        &mut self,
        now: Instant,
        seq: u16,
        rtp_timestamp: u32,
        payload_len: usize,
    ) -> PacketVerdict {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let verdict = self.update_seq(seq);
        if matches!(
            verdict,
            PacketVerdict::Accepted | PacketVerdict::Duplicate | PacketVerdict::Restarted
        ) {
            self.packets_total += 1;
            self.bytes_total += payload_len as u64;
        }
        if matches!(verdict, PacketVerdict::Accepted | PacketVerdict::Restarted) {
            self.update_jitter(now, rtp_timestamp);
        }
        verdict
    }

    /// Records a sender report from this source (NTP timestamp `ntp`) arriving at `now`.
    pub fn on_sender_report(&mut self, now: Instant, ntp: u64) {
        self.last_sr = Some((ntp_middle_32(ntp), now));
    }

    /// Builds the reception report block for this source as `ssrc`, at `now`.
    ///
    /// The fraction lost covers the interval since the previous call. Before
    /// the source is validated only LSR/DLSR are filled in.
    pub fn report_block(&mut self, ssrc: u32, now: Instant) -> ReportBlock {
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, arrival)) => {
                let units =
                    now.saturating_duration_since(arrival).as_nanos() * 65_536 / 1_000_000_000;
                (lsr, u32::try_from(units).unwrap_or(u32::MAX))
            }
            None => (0, 0),
        };
        let mut block = ReportBlock {
            ssrc,
            last_sr,
            delay_since_last_sr,
            ..ReportBlock::default()
        };
        if !self.is_validated() {
            return block;
        }
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        if expected_interval > 0 && lost_interval > 0 {
            block.fraction_lost =
                u8::try_from((lost_interval << 8) / expected_interval).unwrap_or(u8::MAX);
        }
        block.cumulative_lost = self.cumulative_lost();
        block.highest_seq = (self.cycles + u64::from(self.max_seq)) as u32;
        block.jitter = self.jitter as u32;
        block
    }

    /// True once `MIN_SEQUENTIAL` packets arrived in sequence.
    pub fn is_validated(&self) -> bool {
        self.started && self.probation == 0
    }

    /// Packets counted since the source was first seen (including duplicates, across restarts).
    pub fn packets_received(&self) -> u64 {
        self.packets_total
    }

    /// Payload bytes of the packets counted by [`ReceiveStats::packets_received`].
    pub fn bytes_received(&self) -> u64 {
        self.bytes_total
    }

    /// Expected minus received since validation (or the last restart), clamped to 24-bit signed.
    pub fn cumulative_lost(&self) -> i32 {
        if !self.is_validated() {
            return 0;
        }
        let lost = self.expected() as i64 - self.received as i64;
        lost.clamp(CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX) as i32
    }

    /// Interarrival jitter estimate in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        match self.clock_rate {
            0 => 0.0,
            rate => self.jitter * 1000.0 / f64::from(rate),
        }
    }

    fn expected(&self) -> u64 {
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(u64::from(self.base_seq))
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq;
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.recent = 1;
        self.last_transit = None;
    }

    /// RFC 3550 A.1 `update_seq`, plus duplicate detection.
    fn update_seq(&mut self, seq: u16) -> PacketVerdict {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return PacketVerdict::Accepted;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return PacketVerdict::Probation;
        }
        let verdict = if udelta == 0 {
            PacketVerdict::Duplicate
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += u64::from(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
            self.recent = if udelta >= RECENT_WINDOW {
                1
            } else {
                (self.recent << udelta) | 1
            };
            PacketVerdict::Accepted
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
                self.received += 1;
                return PacketVerdict::Restarted;
            }
            self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
            return if udelta >= 0x8000 {
                PacketVerdict::TooOld
            } else {
                PacketVerdict::Jump
            };
        } else {
            let bit = 1u128 << self.max_seq.wrapping_sub(seq);
            if self.recent & bit != 0 {
                PacketVerdict::Duplicate
            } else {
                self.recent |= bit;
                PacketVerdict::Accepted
            }
        };
        self.received += 1;
        verdict
    }

    /// RFC 3550 A.8: J += (|D(i-1, i)| - J) / 16, in RTP timestamp units.
    fn update_jitter(&mut self, now: Instant, rtp_timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed_nanos = now.saturating_duration_since(epoch).as_nanos();
        // Arrival time in RTP units; truncation to u32 wraps like RTP timestamps do.
        let arrival = (elapsed_nanos * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const RATE: u32 = 8000;
    const FRAME_TS: u32 = 160; // 20 ms at 8 kHz

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// xorshift64 PRNG for reproducible arrival noise.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn steady_stream_has_no_jitter_and_no_loss() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        let first_seq = 65_500u16; // crosses the wrap
        for i in 0..200u16 {
            let verdict = stats.on_packet(
                at(t0, u64::from(i) * 20),
                first_seq.wrapping_add(i),
                u32::from(i) * FRAME_TS,
                160,
            );
            let expected = if i == 0 {
                PacketVerdict::Probation
            } else {
                PacketVerdict::Accepted
            };
            assert_eq!(verdict, expected, "packet {i}");
        }
        assert!(stats.jitter_ms() < 0.01);
        assert_eq!(stats.cumulative_lost(), 0);
        assert_eq!(stats.packets_received(), 199);
        assert_eq!(stats.bytes_received(), 199 * 160);
        let block = stats.report_block(7, at(t0, 4000));
        assert_eq!(
            (
                block.ssrc,
                block.fraction_lost,
                block.cumulative_lost,
                block.jitter
            ),
            (7, 0, 0, 0)
        );
        assert_eq!(
            block.highest_seq,
            65_536 + u32::from(first_seq.wrapping_add(199))
        );
    }

    #[test]
    fn ten_percent_loss_gives_fraction_of_25() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        for i in (0..=200u16).filter(|i| i % 10 != 5) {
            stats.on_packet(at(t0, u64::from(i) * 20), i, u32::from(i) * FRAME_TS, 160);
        }
        let block = stats.report_block(1, at(t0, 4020));
        assert_eq!(block.fraction_lost, 25); // 20 lost of 200 expected: 25.6/256
        assert_eq!(block.cumulative_lost, 20);
        assert_eq!(block.highest_seq, 200);
        // Nothing new since the last report: no fraction lost, same cumulative loss.
        let block = stats.report_block(1, at(t0, 5000));
        assert_eq!((block.fraction_lost, block.cumulative_lost), (0, 20));
    }

    #[test]
    fn alternating_five_ms_offsets_give_about_ten_ms_jitter() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        for i in 0..300u16 {
            // Arrivals alternate 5 ms early / 5 ms late around a 5 ms mean delay.
            let arrival = u64::from(i) * 20 + if i % 2 == 0 { 0 } else { 10 };
            stats.on_packet(at(t0, arrival), i, u32::from(i) * FRAME_TS, 160);
        }
        let jitter = stats.jitter_ms();
        assert!((9.0..=11.0).contains(&jitter), "jitter {jitter}");
        let units = stats.report_block(1, at(t0, 7000)).jitter;
        assert!((72..=88).contains(&units), "jitter units {units}");
    }

    #[test]
    fn uniform_five_ms_noise_gives_a_few_ms_jitter() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..2000u16 {
            let noise_us = xorshift(&mut state) % 10_001; // 0..=10 ms, i.e. ±5 ms around 5 ms
            let arrival =
                t0 + Duration::from_millis(u64::from(i) * 20) + Duration::from_micros(noise_us);
            stats.on_packet(arrival, i, u32::from(i) * FRAME_TS, 160);
        }
        // E|U1 - U2| for U uniform over 10 ms is 3.33 ms.
        let jitter = stats.jitter_ms();
        assert!((2.0..=5.0).contains(&jitter), "jitter {jitter}");
    }

    #[test]
    fn dlsr_follows_injected_time() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        let ntp = 0xe65b_2a30_8000_0000u64;
        stats.on_sender_report(t0, ntp);
        let block = stats.report_block(1, at(t0, 1500));
        assert_eq!(block.last_sr, 0x2a30_8000);
        assert_eq!(block.delay_since_last_sr, 98_304); // 1.5 s in 1/65536 s
        let block = stats.report_block(1, t0 + Duration::from_micros(250_000));
        assert_eq!(block.delay_since_last_sr, 16_384);
    }

    #[test]
    fn reordering_duplicates_and_old_packets() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        let verdicts: Vec<PacketVerdict> = [10u16, 11, 12, 14, 13, 13, 14, 500, 5000]
            .iter()
            .map(|&seq| stats.on_packet(t0, seq, 0, 10))
            .collect();
        use PacketVerdict::*;
        assert_eq!(
            verdicts,
            vec![
                Probation, Accepted, Accepted, Accepted, Accepted, Duplicate, Duplicate, Accepted,
                Jump
            ]
        );
        assert_eq!(stats.on_packet(t0, 200, 0, 10), TooOld);
        // Duplicates count as received (RFC 3550 A.3), so loss can go negative...
        // ...but the 485 skipped by the in-window jump to 500 dominate here.
        assert_eq!(stats.cumulative_lost(), (500 - 11 + 1) - 7);
    }

    #[test]
    fn big_jump_confirmed_by_next_packet_restarts() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        for seq in 1000..1010u16 {
            stats.on_packet(t0, seq, 0, 10);
        }
        assert_eq!(stats.on_packet(t0, 1009, 0, 10), PacketVerdict::Duplicate);
        assert_eq!(stats.cumulative_lost(), -1);
        assert_eq!(stats.on_packet(t0, 20_000, 0, 10), PacketVerdict::Jump);
        assert_eq!(stats.on_packet(t0, 20_001, 0, 10), PacketVerdict::Restarted);
        assert_eq!(stats.on_packet(t0, 20_002, 0, 10), PacketVerdict::Accepted);
        assert_eq!(stats.cumulative_lost(), 0);
        assert_eq!(stats.report_block(1, t0).highest_seq, 20_002);
    }

    #[test]
    fn unsequenced_source_stays_on_probation() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(RATE);
        for seq in [5u16, 9, 100, 7] {
            assert_eq!(stats.on_packet(t0, seq, 0, 10), PacketVerdict::Probation);
        }
        assert!(!stats.is_validated());
        assert_eq!(
            stats.report_block(1, t0),
            ReportBlock {
                ssrc: 1,
                ..ReportBlock::default()
            }
        );
        assert_eq!(stats.on_packet(t0, 8, 0, 10), PacketVerdict::Accepted);
        assert!(stats.is_validated());
    }
}
