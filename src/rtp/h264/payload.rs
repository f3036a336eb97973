//! Validation and parsing of one H.264 RTP payload (receive side).
//!
//! Owns the payload structures of RFC 6184 that Tessera accepts
//! (packetization-mode 0 and 1, RFC 6184 §6.2 and §6.3):
//! single NAL unit packets (§5.6,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-5.6>), STAP-A (§5.7.1,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-5.7.1>) and FU-A (§5.8,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-5.8>). Everything else,
//! including the interleaved-mode types STAP-B, MTAP16, MTAP24 and FU-B, is
//! rejected with a [`DepacketizeError`]. Parsing is side-effect free so a bad
//! packet never disturbs the reassembly state.

use super::nal::{forbidden_bit_set, NAL_TYPE_MASK};

/// STAP-A packet type (RFC 6184 §5.7.1).
pub const STAP_A: u8 = 24;
/// STAP-B packet type (RFC 6184 §5.7.1, interleaved mode only).
pub const STAP_B: u8 = 25;
/// MTAP16 packet type (RFC 6184 §5.7.2, interleaved mode only).
pub const MTAP16: u8 = 26;
/// MTAP24 packet type (RFC 6184 §5.7.2, interleaved mode only).
pub const MTAP24: u8 = 27;
/// FU-A packet type (RFC 6184 §5.8).
pub const FU_A: u8 = 28;
/// FU-B packet type (RFC 6184 §5.8, interleaved mode only).
pub const FU_B: u8 = 29;

/// FU header start bit (RFC 6184 §5.8).
pub const FU_START_BIT: u8 = 0x80;
/// FU header end bit (RFC 6184 §5.8).
pub const FU_END_BIT: u8 = 0x40;

/// Why an RTP payload (or the access unit it belongs to) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepacketizeError {
    /// The RTP payload has no bytes.
    #[error("empty H.264 RTP payload")]
    EmptyPayload,
    /// A NAL unit (or payload) header has the forbidden_zero_bit set.
    #[error("forbidden_zero_bit set in NAL unit header")]
    ForbiddenBitSet,
    /// NAL type 0, 30 or 31 (undefined/reserved, RFC 6184 §5.2 Table 1).
    #[error("reserved or undefined NAL unit type {0}")]
    ReservedNalType(u8),
    /// STAP-B, MTAP16, MTAP24 or FU-B: only valid in interleaved mode, which
    /// Tessera does not negotiate.
    #[error("unsupported packetization type {0} (interleaved mode)")]
    UnsupportedPacketType(u8),
    /// A FU-A payload shorter than its FU indicator + FU header.
    #[error("FU-A payload truncated ({len} bytes)")]
    TruncatedFuA {
        /// Payload length in bytes.
        len: usize,
    },
    /// A FU-A header with both S and E bits set (forbidden by RFC 6184 §5.8).
    #[error("FU-A header has both start and end bits set")]
    FuAStartAndEnd,
    /// A FU-A carrying a type that cannot be fragmented (0 or 24..=31).
    #[error("FU-A carries invalid NAL unit type {0}")]
    InvalidFragmentedType(u8),
    /// A STAP-A that is empty, ends inside a size field or whose NAL unit
    /// size runs past the end of the payload.
    #[error("STAP-A truncated at offset {offset}")]
    TruncatedStapA {
        /// Byte offset in the payload where parsing failed.
        offset: usize,
    },
    /// A STAP-A aggregation unit of size zero.
    #[error("STAP-A contains a zero-length NAL unit at offset {offset}")]
    EmptyStapAUnit {
        /// Byte offset of the offending size field.
        offset: usize,
    },
    /// The access unit grew past the configured limit and was discarded.
    #[error("access unit exceeds {limit} bytes, discarded")]
    AccessUnitTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
}

/// A validated RTP payload, borrowing from the packet.
#[derive(Debug, Clone)]
pub(super) enum ParsedPayload<'a> {
    /// A whole NAL unit (RFC 6184 §5.6).
    Single(&'a [u8]),
    /// The NAL units of a STAP-A (RFC 6184 §5.7.1), already validated.
    StapA(StapAUnits<'a>),
    /// One FU-A fragment (RFC 6184 §5.8).
    FuA(FuAFragment<'a>),
}

/// One FU-A fragment.
#[derive(Debug, Clone, Copy)]
pub(super) struct FuAFragment<'a> {
    /// S bit: first fragment of the NAL unit.
    pub start: bool,
    /// E bit: last fragment of the NAL unit.
    pub end: bool,
    /// Reconstructed NAL unit header: F/NRI of the FU indicator, type of the
    /// FU header.
    pub nal_header: u8,
    /// Fragment payload (NAL unit bytes after the header).
    pub data: &'a [u8],
}

/// Iterator over the NAL units of a validated STAP-A body.
#[derive(Debug, Clone)]
pub(super) struct StapAUnits<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for StapAUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (size, body) = split_size_field(self.rest)?;
        let unit = body.get(..size)?;
        self.rest = body.get(size..).unwrap_or_default();
        Some(unit)
    }
}

fn split_size_field(bytes: &[u8]) -> Option<(usize, &[u8])> {
    match bytes {
        [hi, lo, body @ ..] => Some((usize::from(u16::from_be_bytes([*hi, *lo])), body)),
        _ => None,
    }
}

/// Validates and classifies one RTP payload. Never panics.
pub(super) fn parse_payload(payload: &[u8]) -> Result<ParsedPayload<'_>, DepacketizeError> {
    let &header = payload.first().ok_or(DepacketizeError::EmptyPayload)?;
    check_nal_header(header)?;
    match header & NAL_TYPE_MASK {
        1..=23 => Ok(ParsedPayload::Single(payload)),
        STAP_A => parse_stap_a(payload),
        FU_A => parse_fu_a(payload),
        kind @ (STAP_B | MTAP16 | MTAP24 | FU_B) => {
            Err(DepacketizeError::UnsupportedPacketType(kind))
        }
        // 0, 30 and 31 were rejected by `check_nal_header`.
        kind => Err(DepacketizeError::ReservedNalType(kind)),
    }
}

/// Rejects a set forbidden bit and the reserved types 0, 30, 31.
fn check_nal_header(header: u8) -> Result<(), DepacketizeError> {
    if forbidden_bit_set(header) {
        return Err(DepacketizeError::ForbiddenBitSet);
    }
    match header & NAL_TYPE_MASK {
        kind @ (0 | 30 | 31) => Err(DepacketizeError::ReservedNalType(kind)),
        _ => Ok(()),
    }
}

fn parse_stap_a(payload: &[u8]) -> Result<ParsedPayload<'_>, DepacketizeError> {
    let body = payload.get(1..).unwrap_or_default();
    if body.is_empty() {
        return Err(DepacketizeError::TruncatedStapA { offset: 1 });
    }
    let mut offset = 1;
    let mut rest = body;
    while !rest.is_empty() {
        let (size, after) =
            split_size_field(rest).ok_or(DepacketizeError::TruncatedStapA { offset })?;
        if size == 0 {
            return Err(DepacketizeError::EmptyStapAUnit { offset });
        }
        let unit = after
            .get(..size)
            .ok_or(DepacketizeError::TruncatedStapA { offset })?;
        let &unit_header = unit
            .first()
            .ok_or(DepacketizeError::TruncatedStapA { offset })?;
        check_nal_header(unit_header)?;
        let unit_type = unit_header & NAL_TYPE_MASK;
        if !(1..=23).contains(&unit_type) {
            return Err(DepacketizeError::UnsupportedPacketType(unit_type));
        }
        rest = after.get(size..).unwrap_or_default();
        offset += 2 + size;
    }
    Ok(ParsedPayload::StapA(StapAUnits { rest: body }))
}

fn parse_fu_a(payload: &[u8]) -> Result<ParsedPayload<'_>, DepacketizeError> {
    let [indicator, fu_header, data @ ..] = payload else {
        return Err(DepacketizeError::TruncatedFuA { len: payload.len() });
    };
    let start = fu_header & FU_START_BIT != 0;
    let end = fu_header & FU_END_BIT != 0;
    if start && end {
        return Err(DepacketizeError::FuAStartAndEnd);
    }
    let fragmented_type = fu_header & NAL_TYPE_MASK;
    if !(1..=23).contains(&fragmented_type) {
        return Err(DepacketizeError::InvalidFragmentedType(fragmented_type));
    }
    Ok(ParsedPayload::FuA(FuAFragment {
        start,
        end,
        nal_header: (indicator & !NAL_TYPE_MASK) | fragmented_type,
        data,
    }))
}
