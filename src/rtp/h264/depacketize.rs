//! H.264 RTP depacketizer (receive side), RFC 6184
//! (<https://www.rfc-editor.org/rfc/rfc6184>).
//!
//! Owns access unit reassembly from in-order RTP packets: single NAL unit
//! packets (§5.6), STAP-A (§5.7.1) and FU-A (§5.8), the access unit boundary
//! rules (marker bit or timestamp change, §5.1) and loss detection that
//! drives keyframe requests (PLI, RFC 4585 §6.3.1).
//!
//! Packets must arrive in sequence-number order (the jitter buffer reorders);
//! a late or missing packet is seen as a sequence gap, i.e. a loss.
//!
//! Loss rules:
//! - a gap while an access unit is open damages it (lost middle or, when the
//!   timestamp then changes, its lost tail/marker packet);
//! - the access unit that begins right after a gap (or at stream start) is
//!   trusted only if its first slice starts at macroblock 0
//!   (`first_mb_in_slice == 0`), otherwise its head was lost;
//! - a FU-A fragment without its start, a FU-A never ended, a malformed or
//!   oversized packet all damage the access unit.
//!
//! A damaged access unit is dropped (or returned with `complete == false` when
//! [`DepacketizerConfig::emit_incomplete`] is set) and
//! [`H264Depacketizer::needs_keyframe`] stays true until a complete access
//! unit containing an IDR slice has been produced.

use std::collections::VecDeque;

use super::access_unit::{AccessUnit, AccessUnitBuilder};
use super::payload::{parse_payload, DepacketizeError, ParsedPayload};

/// Default bound on one access unit: 4 MiB.
pub const DEFAULT_MAX_ACCESS_UNIT_BYTES: usize = 4 * 1024 * 1024;

/// Finished access units kept for [`H264Depacketizer::pop_ready`] at most;
/// beyond that the oldest is discarded (the caller is not draining).
const MAX_READY_ACCESS_UNITS: usize = 8;

/// Depacketizer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepacketizerConfig {
    /// Access units growing past this many bytes are discarded with
    /// [`DepacketizeError::AccessUnitTooLarge`].
    pub max_access_unit_bytes: usize,
    /// Return damaged access units with `complete == false` (holding only the
    /// NAL units received whole) instead of dropping them.
    pub emit_incomplete: bool,
}

impl Default for DepacketizerConfig {
    fn default() -> Self {
        Self {
            max_access_unit_bytes: DEFAULT_MAX_ACCESS_UNIT_BYTES,
            emit_incomplete: false,
        }
    }
}

/// Depacketizer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepacketizerStats {
    /// Complete access units produced.
    pub frames: u64,
    /// Complete access units containing an IDR slice.
    pub keyframes: u64,
    /// Damaged access units (dropped, or returned incomplete when configured).
    pub dropped_incomplete: u64,
    /// Payloads rejected as malformed or unsupported (not counting empty ones).
    pub malformed: u64,
    /// Access units discarded for exceeding the size limit.
    pub oversized: u64,
    /// Packets ignored because they repeated the previous sequence number.
    pub duplicates: u64,
    /// Empty payloads (e.g. padding-only packets), skipped without loss.
    pub empty_payloads: u64,
    /// Finished access units discarded because they were never collected.
    pub dropped_unread: u64,
}

/// Reassembles H.264 access units from RTP packets. Sans-IO: feed packets
/// with [`push`](Self::push), read frames from its return value and
/// [`pop_ready`](Self::pop_ready).
#[derive(Debug)]
pub struct H264Depacketizer {
    config: DepacketizerConfig,
    builder: AccessUnitBuilder,
    last_seq: Option<u16>,
    needs_keyframe: bool,
    ready: VecDeque<AccessUnit>,
    stats: DepacketizerStats,
}

impl Default for H264Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl H264Depacketizer {
    /// A depacketizer with [`DepacketizerConfig::default`].
    pub fn new() -> Self {
        Self::with_config(DepacketizerConfig::default())
    }

    /// A depacketizer with explicit settings.
    pub fn with_config(config: DepacketizerConfig) -> Self {
        Self {
            config,
            builder: AccessUnitBuilder::new(config.max_access_unit_bytes),
            last_seq: None,
            needs_keyframe: false,
            ready: VecDeque::new(),
            stats: DepacketizerStats::default(),
        }
    }

    /// Feeds one RTP packet (sequence number, timestamp, marker bit and
    /// payload with RTP padding already removed), in sequence order.
    ///
    /// Returns the oldest finished access unit, if any. One packet can finish
    /// two units (a unit without marker closed by a timestamp change, then a
    /// single-packet unit with marker): call [`pop_ready`](Self::pop_ready)
    /// until `None` after every push, including pushes that returned `Err`.
    ///
    /// Errors: malformed or unsupported payloads are treated as lost packets
    /// (the access unit becomes incomplete, a keyframe is needed); an empty
    /// payload is reported as [`DepacketizeError::EmptyPayload`] but keeps
    /// sequence continuity (padding-only packets, RFC 3550 §5.1).
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<AccessUnit>, DepacketizeError> {
        if self.last_seq == Some(seq) {
            self.stats.duplicates += 1;
            return Ok(self.ready.pop_front());
        }
        if payload.is_empty() {
            return Err(self.on_empty_payload(seq));
        }
        let parsed = match parse_payload(payload) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.on_malformed(timestamp);
                return Err(error);
            }
        };
        let first_packet = self.last_seq.is_none();
        let gap = self
            .last_seq
            .is_some_and(|last| seq != last.wrapping_add(1));
        self.last_seq = Some(seq);
        if gap {
            self.needs_keyframe = true;
        }
        if self.builder.is_active() {
            if gap {
                self.builder.mark_damaged();
            }
            if self.builder.timestamp() != timestamp {
                self.finish_access_unit();
            }
        }
        if !self.builder.is_active() {
            self.builder.begin(timestamp, gap || first_packet);
        }
        let applied = self.apply(parsed);
        if marker {
            self.finish_access_unit();
        }
        match applied {
            Ok(()) => Ok(self.ready.pop_front()),
            Err(error) => {
                self.stats.oversized += 1;
                self.needs_keyframe = true;
                Err(error)
            }
        }
    }

    /// The next finished access unit not yet returned by [`push`](Self::push).
    pub fn pop_ready(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    /// Closes the open access unit (if any) as if its marker bit had been
    /// seen, e.g. at end of stream or when the caller's timer decides the
    /// marker packet will not come, and returns the oldest ready unit.
    pub fn flush(&mut self) -> Option<AccessUnit> {
        if self.builder.is_active() {
            self.finish_access_unit();
        }
        self.ready.pop_front()
    }

    /// True once a loss broke the decoding chain, until a complete access
    /// unit containing an IDR slice has been produced. The caller should send
    /// PLI (rate-limited) while this is true, and may skip decoding non-IDR
    /// units meanwhile. False at start.
    pub fn needs_keyframe(&self) -> bool {
        self.needs_keyframe
    }

    /// Counters since creation.
    pub fn stats(&self) -> DepacketizerStats {
        self.stats
    }

    /// Hands back a consumed access unit so its buffers are reused.
    pub fn recycle(&mut self, unit: AccessUnit) {
        self.builder.recycle(unit);
    }

    /// Forgets sequence state, the open access unit and unread units (e.g.
    /// after an SSRC change). Counters and `needs_keyframe` are kept.
    pub fn reset(&mut self) {
        self.last_seq = None;
        self.builder.abort();
        self.ready.clear();
    }

    fn apply(&mut self, parsed: ParsedPayload<'_>) -> Result<(), DepacketizeError> {
        match parsed {
            ParsedPayload::Single(nal) => self.builder.append_nal(nal),
            ParsedPayload::StapA(units) => {
                for nal in units {
                    self.builder.append_nal(nal)?;
                }
                Ok(())
            }
            ParsedPayload::FuA(fragment) => self.builder.append_fragment(&fragment),
        }
    }

    fn finish_access_unit(&mut self) {
        let finished = self.builder.finish(self.config.emit_incomplete);
        if finished.complete {
            self.stats.frames += 1;
            if finished.keyframe {
                self.stats.keyframes += 1;
                self.needs_keyframe = false;
            }
        } else {
            self.stats.dropped_incomplete += 1;
            self.needs_keyframe = true;
        }
        if let Some(unit) = finished.unit {
            if self.ready.len() >= MAX_READY_ACCESS_UNITS {
                if let Some(unread) = self.ready.pop_front() {
                    self.stats.dropped_unread += 1;
                    self.builder.recycle(unread);
                }
            }
            self.ready.push_back(unit);
        }
    }

    /// A malformed packet counts as lost: it damages the open access unit of
    /// the same timestamp and, since `last_seq` does not advance, the next
    /// packet sees a sequence gap.
    fn on_malformed(&mut self, timestamp: u32) {
        self.stats.malformed += 1;
        self.needs_keyframe = true;
        if self.builder.is_active() && self.builder.timestamp() == timestamp {
            self.builder.mark_damaged();
        }
    }

    /// An empty payload carries nothing: it only advances the sequence, so a
    /// gap before it still counts as a loss for the next packet.
    fn on_empty_payload(&mut self, seq: u16) -> DepacketizeError {
        self.stats.empty_payloads += 1;
        let contiguous = self
            .last_seq
            .is_some_and(|last| seq == last.wrapping_add(1));
        if contiguous {
            self.last_seq = Some(seq);
        }
        DepacketizeError::EmptyPayload
    }
}
