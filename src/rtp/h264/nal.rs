//! H.264 NAL unit helpers.
//!
//! Owns the NAL unit header interpretation (ITU-T H.264 §7.3.1 /
//! §7.4.1, summarised in RFC 6184 §1.3,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-1.3>) and the Annex-B byte
//! stream framing (ITU-T H.264 Annex B: NAL units separated by
//! `00 00 01` / `00 00 00 01` start codes) used to talk to encoders and
//! decoders.

/// Mask of the 5-bit `nal_unit_type` field in the NAL unit header.
pub const NAL_TYPE_MASK: u8 = 0x1F;
/// Mask of the 2-bit `nal_ref_idc` (NRI) field in the NAL unit header.
pub const NAL_REF_IDC_MASK: u8 = 0x60;
/// Mask of the `forbidden_zero_bit` (F) in the NAL unit header.
pub const FORBIDDEN_BIT_MASK: u8 = 0x80;

/// The 4-byte start code written by [`write_annex_b`].
pub const ANNEX_B_START_CODE: [u8; 4] = [0, 0, 0, 1];

/// NAL unit type (the 5-bit `nal_unit_type`, H.264 Table 7-1; RFC 6184 §5.2
/// for the packetization types 24..=29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NalType {
    /// Coded slice of a non-IDR picture (type 1).
    Slice,
    /// Coded slice of an IDR picture (type 5).
    Idr,
    /// Supplemental enhancement information (type 6).
    Sei,
    /// Sequence parameter set (type 7).
    Sps,
    /// Picture parameter set (type 8).
    Pps,
    /// Access unit delimiter (type 9).
    Aud,
    /// RTP single-time aggregation packet A (type 24, RFC 6184 §5.7.1).
    StapA,
    /// RTP fragmentation unit A (type 28, RFC 6184 §5.8).
    FuA,
    /// Any other type value (0..=31), carried verbatim.
    Other(u8),
}

impl NalType {
    /// Interprets the low 5 bits of `bits` as a `nal_unit_type`.
    pub const fn from_type_bits(bits: u8) -> Self {
        match bits & NAL_TYPE_MASK {
            1 => Self::Slice,
            5 => Self::Idr,
            6 => Self::Sei,
            7 => Self::Sps,
            8 => Self::Pps,
            9 => Self::Aud,
            24 => Self::StapA,
            28 => Self::FuA,
            other => Self::Other(other),
        }
    }

    /// The 5-bit `nal_unit_type` value.
    pub const fn type_bits(self) -> u8 {
        match self {
            Self::Slice => 1,
            Self::Idr => 5,
            Self::Sei => 6,
            Self::Sps => 7,
            Self::Pps => 8,
            Self::Aud => 9,
            Self::StapA => 24,
            Self::FuA => 28,
            Self::Other(bits) => bits & NAL_TYPE_MASK,
        }
    }

    /// True for video coding layer NAL units (types 1..=5, H.264 §7.4.1.2.2).
    pub const fn is_vcl(self) -> bool {
        matches!(self.type_bits(), 1..=5)
    }

    /// True for the types a plain (non-RTP) H.264 stream may carry: 1..=23.
    ///
    /// 0 is unspecified, 24..=29 are RTP packetization types and 30/31 are
    /// reserved (RFC 6184 §5.2, Table 1).
    pub const fn is_single_nal_type(self) -> bool {
        matches!(self.type_bits(), 1..=23)
    }
}

impl From<u8> for NalType {
    fn from(bits: u8) -> Self {
        Self::from_type_bits(bits)
    }
}

/// The [`NalType`] of a NAL unit given its first (header) byte.
pub const fn nal_type(header: u8) -> NalType {
    NalType::from_type_bits(header)
}

/// The 2-bit `nal_ref_idc` (NRI) of a NAL unit header byte.
pub const fn nal_ref_idc(header: u8) -> u8 {
    (header & NAL_REF_IDC_MASK) >> 5
}

/// True when the `forbidden_zero_bit` of a NAL unit header byte is set.
pub const fn forbidden_bit_set(header: u8) -> bool {
    header & FORBIDDEN_BIT_MASK != 0
}

/// Splits an Annex-B byte stream into NAL units (start codes removed).
///
/// Both 3-byte (`00 00 01`) and 4-byte (`00 00 00 01`) start codes are
/// recognised. Trailing zero bytes of each unit are stripped (they are
/// `trailing_zero_8bits` or the leading zero of a 4-byte start code; a NAL
/// unit never ends in `00`, H.264 §7.4.1). Empty units are skipped. Bytes
/// before the first start code, if any remain after stripping, are returned
/// as a unit, so a bare NAL unit without start code is passed through.
pub fn split_annex_b(stream: &[u8]) -> AnnexBNalUnits<'_> {
    AnnexBNalUnits { rest: stream }
}

/// Iterator returned by [`split_annex_b`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AnnexBNalUnits<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AnnexBNalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (unit, rest) = match find_start_code(self.rest) {
                Some(index) => (
                    self.rest.get(..index).unwrap_or_default(),
                    self.rest.get(index + 3..).unwrap_or_default(),
                ),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let unit = strip_trailing_zeros(unit);
            if !unit.is_empty() {
                return Some(unit);
            }
        }
        None
    }
}

/// Index of the first `00 00 01` in `bytes`.
fn find_start_code(bytes: &[u8]) -> Option<usize> {
    bytes.windows(3).position(|window| window == [0, 0, 1])
}

fn strip_trailing_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

/// Appends `nals` to `out` as an Annex-B byte stream, each unit preceded by a
/// 4-byte start code ([`ANNEX_B_START_CODE`]). Empty units are skipped.
pub fn write_annex_b<I>(nals: I, out: &mut Vec<u8>)
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    for nal in nals {
        let nal = nal.as_ref();
        if !nal.is_empty() {
            out.extend_from_slice(&ANNEX_B_START_CODE);
            out.extend_from_slice(nal);
        }
    }
}

/// True when the access unit contains an IDR slice (NAL type 5), i.e. it can
/// be decoded without any earlier picture.
pub fn is_keyframe_access_unit<I>(nals: I) -> bool
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    nals.into_iter().any(|nal| {
        nal.as_ref()
            .first()
            .is_some_and(|&header| nal_type(header) == NalType::Idr)
    })
}

/// True when a VCL NAL unit starts a picture (`first_mb_in_slice == 0`).
///
/// `first_mb_in_slice` is the first `ue(v)` of the slice header (H.264
/// §7.3.3); the value 0 is coded as a single `1` bit, so the check is the most
/// significant bit of the byte after the NAL header. Only meaningful for types
/// 1, 2 and 5; partitions B/C (3, 4) never start a picture.
pub(super) fn vcl_starts_picture(header: u8, first_payload_byte: Option<u8>) -> bool {
    matches!(header & NAL_TYPE_MASK, 1 | 2 | 5) && first_payload_byte.is_some_and(|b| b & 0x80 != 0)
}
