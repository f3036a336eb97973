//! Reassembled access units and the buffer they are built in.
//!
//! Owns [`AccessUnit`], the depacketizer's output, and the private builder
//! that accumulates NAL units of one RTP timestamp (RFC 6184 §5.1: all
//! packets of an access unit share a timestamp,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-5.1>), rebuilds FU-A
//! fragmented NAL units (§5.8) and tracks whether anything was lost.

use std::ops::Range;

use super::nal::{nal_type, vcl_starts_picture, NalType, ANNEX_B_START_CODE, NAL_TYPE_MASK};
use super::payload::{DepacketizeError, FuAFragment};

/// One reassembled access unit (a coded picture plus its non-VCL NAL units).
///
/// Stored as a single Annex-B buffer (every NAL unit preceded by a 4-byte
/// start code) because that is what decoders consume, plus the byte ranges of
/// the NAL units so they can be iterated without re-scanning for start codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// RTP timestamp shared by all packets of the access unit (90 kHz clock).
    pub timestamp: u32,
    /// True when the access unit contains an IDR slice (NAL type 5).
    pub keyframe: bool,
    /// False when packets were lost or damaged. Incomplete units are only
    /// returned when [`DepacketizerConfig::emit_incomplete`](super::DepacketizerConfig)
    /// is set; their buffer then holds only the NAL units received whole.
    pub complete: bool,
    annex_b: Vec<u8>,
    nal_ranges: Vec<Range<usize>>,
}

impl AccessUnit {
    /// The access unit as an Annex-B byte stream (4-byte start codes).
    pub fn annex_b(&self) -> &[u8] {
        &self.annex_b
    }

    /// Consumes the access unit, returning its Annex-B buffer.
    pub fn into_annex_b(self) -> Vec<u8> {
        self.annex_b
    }

    /// The NAL units (without start codes), in decoding order.
    pub fn nals(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.nal_ranges
            .iter()
            .map(|range| self.annex_b.get(range.clone()).unwrap_or_default())
    }

    /// Number of NAL units.
    pub fn nal_count(&self) -> usize {
        self.nal_ranges.len()
    }
}

/// A FU-A fragmented NAL unit being rebuilt.
#[derive(Debug, Clone, Copy)]
struct FragmentInProgress {
    nal_header: u8,
    /// Offset of the unit's start code in the buffer, for rollback.
    start_code_offset: usize,
}

/// How an access unit ended, returned by [`AccessUnitBuilder::finish`].
#[derive(Debug)]
pub(super) struct FinishedAccessUnit {
    pub complete: bool,
    pub keyframe: bool,
    /// `None` when the unit was incomplete and not asked for.
    pub unit: Option<AccessUnit>,
}

/// Accumulates the NAL units of the access unit currently being received.
#[derive(Debug)]
pub(super) struct AccessUnitBuilder {
    active: bool,
    timestamp: u32,
    data: Vec<u8>,
    nal_ranges: Vec<Range<usize>>,
    keyframe: bool,
    damaged: bool,
    /// Set when the limit was hit: further data of this unit is ignored.
    overflowed: bool,
    /// Set when packets may have been lost just before this unit began: it is
    /// only trusted if its first slice starts at macroblock 0.
    awaiting_picture_start: bool,
    fragment: Option<FragmentInProgress>,
    max_bytes: usize,
    spare_data: Vec<u8>,
    spare_ranges: Vec<Range<usize>>,
}

impl AccessUnitBuilder {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            active: false,
            timestamp: 0,
            data: Vec::new(),
            nal_ranges: Vec::new(),
            keyframe: false,
            damaged: false,
            overflowed: false,
            awaiting_picture_start: false,
            fragment: None,
            max_bytes,
            spare_data: Vec::new(),
            spare_ranges: Vec::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Starts a new access unit. `head_uncertain`: packets may have been lost
    /// right before it (sequence gap, or first packet of the stream).
    pub fn begin(&mut self, timestamp: u32, head_uncertain: bool) {
        if self.spare_data.capacity() > self.data.capacity() {
            std::mem::swap(&mut self.data, &mut self.spare_data);
        }
        if self.spare_ranges.capacity() > self.nal_ranges.capacity() {
            std::mem::swap(&mut self.nal_ranges, &mut self.spare_ranges);
        }
        self.active = true;
        self.timestamp = timestamp;
        self.data.clear();
        self.nal_ranges.clear();
        self.keyframe = false;
        self.damaged = false;
        self.overflowed = false;
        self.awaiting_picture_start = head_uncertain;
        self.fragment = None;
    }

    /// Discards the open unit without producing anything.
    pub fn abort(&mut self) {
        self.active = false;
        self.fragment = None;
        self.data.clear();
        self.nal_ranges.clear();
    }

    /// Marks the unit as missing data and drops any partial FU-A NAL unit
    /// (after a gap no later fragment of it can be trusted).
    pub fn mark_damaged(&mut self) {
        self.damaged = true;
        self.abandon_fragment();
    }

    /// Appends a whole NAL unit (single NAL unit packet or STAP-A unit).
    pub fn append_nal(&mut self, nal: &[u8]) -> Result<(), DepacketizeError> {
        if self.overflowed {
            return Ok(());
        }
        if self.fragment.is_some() {
            // The FU-A before this unit never received its end fragment.
            self.mark_damaged();
        }
        self.ensure_room(ANNEX_B_START_CODE.len() + nal.len())?;
        self.data.extend_from_slice(&ANNEX_B_START_CODE);
        let start = self.data.len();
        self.data.extend_from_slice(nal);
        self.nal_ranges.push(start..self.data.len());
        if let Some(&header) = nal.first() {
            self.note_nal(header, nal.get(1).copied());
        }
        Ok(())
    }

    /// Appends one FU-A fragment (RFC 6184 §5.8).
    pub fn append_fragment(&mut self, fragment: &FuAFragment<'_>) -> Result<(), DepacketizeError> {
        if self.overflowed {
            return Ok(());
        }
        if fragment.start {
            if self.fragment.is_some() {
                self.mark_damaged();
            }
            self.ensure_room(ANNEX_B_START_CODE.len() + 1 + fragment.data.len())?;
            let start_code_offset = self.data.len();
            self.data.extend_from_slice(&ANNEX_B_START_CODE);
            self.data.push(fragment.nal_header);
            self.fragment = Some(FragmentInProgress {
                nal_header: fragment.nal_header,
                start_code_offset,
            });
            self.note_nal(fragment.nal_header, fragment.data.first().copied());
        } else {
            match self.fragment {
                // A fragment whose start was never seen: lost (§5.8).
                None => {
                    self.damaged = true;
                    return Ok(());
                }
                // The end of the previous FU-A and the start of this one were lost.
                Some(current)
                    if (current.nal_header ^ fragment.nal_header) & NAL_TYPE_MASK != 0 =>
                {
                    self.mark_damaged();
                    return Ok(());
                }
                Some(_) => self.ensure_room(fragment.data.len())?,
            }
        }
        self.data.extend_from_slice(fragment.data);
        if fragment.end {
            if let Some(done) = self.fragment.take() {
                let start = done.start_code_offset + ANNEX_B_START_CODE.len();
                self.nal_ranges.push(start..self.data.len());
            }
        }
        Ok(())
    }

    /// Closes the current unit. Incomplete units are returned only when
    /// `keep_incomplete`; otherwise their buffers are kept for reuse.
    pub fn finish(&mut self, keep_incomplete: bool) -> FinishedAccessUnit {
        if self.fragment.is_some() {
            self.mark_damaged();
        }
        // Begun after a loss and no slice came: the picture was lost, whatever non-VCL units
        // (an end of sequence, SEI) of it arrived. Was returned as complete.
        if self.awaiting_picture_start {
            self.mark_damaged();
        }
        self.active = false;
        let complete = !self.damaged;
        let unit = (complete || keep_incomplete).then(|| AccessUnit {
            timestamp: self.timestamp,
            keyframe: self.keyframe,
            complete,
            annex_b: std::mem::replace(&mut self.data, std::mem::take(&mut self.spare_data)),
            nal_ranges: std::mem::replace(
                &mut self.nal_ranges,
                std::mem::take(&mut self.spare_ranges),
            ),
        });
        FinishedAccessUnit {
            complete,
            keyframe: self.keyframe,
            unit,
        }
    }

    /// Keeps the buffers of a consumed access unit for the next one.
    pub fn recycle(&mut self, unit: AccessUnit) {
        if unit.annex_b.capacity() > self.spare_data.capacity() {
            self.spare_data = unit.annex_b;
            self.spare_data.clear();
        }
        if unit.nal_ranges.capacity() > self.spare_ranges.capacity() {
            self.spare_ranges = unit.nal_ranges;
            self.spare_ranges.clear();
        }
    }

    fn note_nal(&mut self, header: u8, first_payload_byte: Option<u8>) {
        let kind = nal_type(header);
        if kind == NalType::Idr {
            self.keyframe = true;
        }
        if self.awaiting_picture_start && kind.is_vcl() {
            self.awaiting_picture_start = false;
            if !vcl_starts_picture(header, first_payload_byte) {
                self.damaged = true;
            }
        }
    }

    fn abandon_fragment(&mut self) {
        if let Some(partial) = self.fragment.take() {
            self.data.truncate(partial.start_code_offset);
        }
    }

    /// Enforces the size bound; on overflow the unit's data is released.
    fn ensure_room(&mut self, additional: usize) -> Result<(), DepacketizeError> {
        if self.data.len().saturating_add(additional) <= self.max_bytes {
            return Ok(());
        }
        self.overflowed = true;
        self.damaged = true;
        self.fragment = None;
        self.data = Vec::new();
        self.nal_ranges.clear();
        Err(DepacketizeError::AccessUnitTooLarge {
            limit: self.max_bytes,
        })
    }
}
