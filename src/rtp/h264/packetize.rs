//! H.264 RTP packetizer (send side), RFC 6184 non-interleaved mode
//! (packetization-mode=1, §6.3,
//! <https://www.rfc-editor.org/rfc/rfc6184#section-6.3>) and single NAL unit
//! mode (packetization-mode=0, §6.2).
//!
//! Owns the split of one access unit into RTP payloads no larger than the
//! MTU: NAL units that fit are sent as single NAL unit packets (§5.6) or, when
//! aggregation is on, consecutive small ones share a STAP-A (§5.7.1); larger
//! NAL units are fragmented into FU-A (§5.8). In single NAL unit mode neither
//! STAP-A nor FU-A may be sent: every NAL unit is a packet of its own, so the
//! encoder must keep them under the MTU (size-limited slices). It also keeps the last SPS/PPS
//! seen and re-sends them before every IDR picture that lacks them, so a
//! receiver joining mid-stream (or recovering with PLI) can always decode the
//! keyframe.

use std::iter::Map;

use super::nal::{NalType, FORBIDDEN_BIT_MASK, NAL_REF_IDC_MASK, NAL_TYPE_MASK};
use super::payload::{FU_A, FU_END_BIT, FU_START_BIT, STAP_A};
use super::payloads::RtpPayloads;
use super::split_annex_b;

/// Default payload MTU: leaves room for IP/UDP/RTP/SRTP headers and
/// extensions on a 1500-byte path.
pub const DEFAULT_MTU: usize = 1200;
/// Smallest usable MTU: FU indicator + FU header + one byte.
pub const MIN_MTU: usize = 3;

/// Size of a STAP-A NAL unit size field (RFC 6184 §5.7.1).
const STAP_SIZE_FIELD: usize = 2;
/// FU indicator + FU header (RFC 6184 §5.8).
const FU_HEADERS: usize = 2;

/// Why an access unit could not be packetized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketizeError {
    /// The MTU cannot hold even one FU-A fragment.
    #[error("MTU {mtu} is below the minimum of {MIN_MTU} bytes")]
    MtuTooSmall {
        /// The rejected MTU.
        mtu: usize,
    },
    /// An input NAL unit has a type an encoder never produces (0 or 24..=31).
    #[error("input NAL unit #{index} has type {nal_type}, which cannot be packetized")]
    InvalidNalType {
        /// Position of the NAL unit among the non-empty input units.
        index: usize,
        /// Its 5-bit type.
        nal_type: u8,
    },
}

/// Splits access units into RTP payloads. Keeps the last SPS/PPS seen, so
/// use one packetizer per outgoing stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Packetizer {
    mtu: usize,
    aggregate: bool,
    /// Packetization mode 0: no STAP-A, no FU-A.
    single_nal_units: bool,
    last_sps: Vec<u8>,
    last_pps: Vec<u8>,
}

impl Default for H264Packetizer {
    fn default() -> Self {
        Self {
            mtu: DEFAULT_MTU,
            aggregate: true,
            single_nal_units: false,
            last_sps: Vec::new(),
            last_pps: Vec::new(),
        }
    }
}

impl H264Packetizer {
    /// A packetizer producing payloads of at most `mtu` bytes, with STAP-A
    /// aggregation enabled.
    pub fn new(mtu: usize) -> Result<Self, PacketizeError> {
        if mtu < MIN_MTU {
            return Err(PacketizeError::MtuTooSmall { mtu });
        }
        Ok(Self {
            mtu,
            ..Self::default()
        })
    }

    /// Single NAL unit mode (packetization-mode=0, RFC 6184 §6.2): every NAL unit becomes one
    /// payload, aggregated never and fragmented never; one larger than the MTU goes whole
    /// (the path fragments it at the IP layer), since a mode-0 receiver cannot reassemble FU-A.
    pub fn single_nal_units() -> Self {
        Self {
            aggregate: false,
            single_nal_units: true,
            ..Self::default()
        }
    }

    /// Whether this packetizer sends only single NAL unit packets.
    pub fn sends_single_nal_units_only(&self) -> bool {
        self.single_nal_units
    }

    /// Enables or disables STAP-A aggregation of consecutive small NAL units.
    pub fn with_aggregation(mut self, enabled: bool) -> Self {
        self.aggregate = enabled;
        self
    }

    /// The payload size limit in bytes.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Seeds the remembered parameter sets, e.g. from the SDP
    /// `sprop-parameter-sets` (RFC 6184 §8.1). Empty slices are ignored.
    pub fn set_parameter_sets(&mut self, sps: &[u8], pps: &[u8]) {
        remember(&mut self.last_sps, Some(sps));
        remember(&mut self.last_pps, Some(pps));
    }

    /// Packetizes one access unit given as NAL units without start codes
    /// (empty ones are skipped). `out` is cleared first and then holds the
    /// payloads in sending order.
    ///
    /// Returns the index in `out` of the payload that must carry the RTP
    /// marker bit (always the last one), or `None` when nothing was produced.
    /// On error `out` is left empty and nothing is remembered.
    pub fn packetize<N: AsRef<[u8]>>(
        &mut self,
        nals: &[N],
        out: &mut RtpPayloads,
    ) -> Result<Option<usize>, PacketizeError> {
        self.packetize_units(nals.iter().map(AsRef::as_ref), out)
    }

    /// Like [`packetize`](Self::packetize) for an access unit given as an
    /// Annex-B byte stream (see [`split_annex_b`]).
    pub fn packetize_annex_b(
        &mut self,
        access_unit: &[u8],
        out: &mut RtpPayloads,
    ) -> Result<Option<usize>, PacketizeError> {
        self.packetize_units(split_annex_b(access_unit), out)
    }

    fn packetize_units<'a, I>(
        &mut self,
        nals: I,
        out: &mut RtpPayloads,
    ) -> Result<Option<usize>, PacketizeError>
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        out.clear();
        let nals = nals.filter(|nal| !nal.is_empty());
        let summary = summarize(nals.clone())?;
        remember(&mut self.last_sps, summary.sps);
        remember(&mut self.last_pps, summary.pps);

        // SPS/PPS must precede the first VCL NAL unit (H.264 §7.4.1.2.3).
        let insert_sps = summary.has_idr && summary.sps.is_none() && !self.last_sps.is_empty();
        let insert_pps = summary.has_idr && summary.pps.is_none() && !self.last_pps.is_empty();
        let inserted = [
            insert_sps.then_some(self.last_sps.as_slice()),
            insert_pps.then_some(self.last_pps.as_slice()),
        ];
        let split = summary.first_vcl.unwrap_or(0);
        let units = shorten(nals.clone().take(split))
            .chain(inserted.into_iter().flatten())
            .chain(shorten(nals.skip(split)));
        let mtu = if self.single_nal_units {
            usize::MAX
        } else {
            self.mtu
        };
        write_payloads(units, mtu, self.aggregate, out);
        Ok(out.len().checked_sub(1))
    }
}

/// What [`summarize`] learned about an access unit.
struct AccessUnitSummary<'a> {
    has_idr: bool,
    sps: Option<&'a [u8]>,
    pps: Option<&'a [u8]>,
    /// Position (among non-empty units) of the first VCL NAL unit.
    first_vcl: Option<usize>,
}

/// Validates the input types and finds the IDR, the last SPS/PPS and the
/// first VCL NAL unit.
fn summarize<'a>(
    nals: impl Iterator<Item = &'a [u8]>,
) -> Result<AccessUnitSummary<'a>, PacketizeError> {
    let mut summary = AccessUnitSummary {
        has_idr: false,
        sps: None,
        pps: None,
        first_vcl: None,
    };
    for (index, nal) in nals.enumerate() {
        let Some(&header) = nal.first() else { continue };
        let kind = NalType::from_type_bits(header);
        if !kind.is_single_nal_type() {
            return Err(PacketizeError::InvalidNalType {
                index,
                nal_type: kind.type_bits(),
            });
        }
        match kind {
            NalType::Idr => summary.has_idr = true,
            NalType::Sps => summary.sps = Some(nal),
            NalType::Pps => summary.pps = Some(nal),
            _ => {}
        }
        if kind.is_vcl() && summary.first_vcl.is_none() {
            summary.first_vcl = Some(index);
        }
    }
    Ok(summary)
}

/// Iterator adapter returned by [`shorten`].
type Shortened<'long, 'short, I> = Map<I, fn(&'long [u8]) -> &'short [u8]>;

/// Re-types borrowed units to a shorter lifetime so they can be chained with
/// the remembered parameter sets.
fn shorten<'long: 'short, 'short, I>(units: I) -> Shortened<'long, 'short, I>
where
    I: Iterator<Item = &'long [u8]>,
{
    units.map(|unit| unit)
}

/// Replaces `slot` with `nal` when one is given (reusing the allocation).
fn remember(slot: &mut Vec<u8>, nal: Option<&[u8]>) {
    if let Some(nal) = nal.filter(|nal| !nal.is_empty()) {
        slot.clear();
        slot.extend_from_slice(nal);
    }
}

/// Emits single NAL unit packets, STAP-A and FU-A payloads for `units`.
fn write_payloads<'a>(
    units: impl Iterator<Item = &'a [u8]>,
    mtu: usize,
    aggregate: bool,
    out: &mut RtpPayloads,
) {
    let mut units = units.peekable();
    while let Some(nal) = units.next() {
        let next = units.peek().copied();
        if let Some(next) = next.filter(|next| aggregate && stap_a_fits(nal, next, mtu)) {
            write_stap_a_start(out, nal);
            write_stap_a_unit(out, next);
            units.next();
            while let Some(&more) = units.peek() {
                if !stap_a_unit_fits(out.open_len(), more, mtu) {
                    break;
                }
                write_stap_a_unit(out, more);
                units.next();
            }
            out.finish_payload();
        } else if nal.len() <= mtu {
            out.extend(nal);
            out.finish_payload();
        } else {
            write_fu_a(out, nal, mtu);
        }
    }
}

fn stap_a_fits(first: &[u8], second: &[u8], mtu: usize) -> bool {
    stap_a_unit_fits(1, first, mtu)
        && stap_a_unit_fits(1 + STAP_SIZE_FIELD + first.len(), second, mtu)
}

fn stap_a_unit_fits(current_len: usize, nal: &[u8], mtu: usize) -> bool {
    nal.len() <= usize::from(u16::MAX) && current_len + STAP_SIZE_FIELD + nal.len() <= mtu
}

/// Opens a STAP-A payload (RFC 6184 §5.7.1) with its first unit. The STAP-A
/// header is kept up to date by [`write_stap_a_unit`].
fn write_stap_a_start(out: &mut RtpPayloads, first: &[u8]) {
    out.push_byte(STAP_A);
    write_stap_a_unit(out, first);
}

/// Appends one aggregation unit and folds its header into the STAP-A header:
/// F is the OR and NRI the maximum over the aggregated units (§5.7.1).
fn write_stap_a_unit(out: &mut RtpPayloads, nal: &[u8]) {
    let header = nal.first().copied().unwrap_or(0);
    let size = u16::try_from(nal.len()).unwrap_or(u16::MAX);
    out.extend(&size.to_be_bytes());
    out.extend(nal);
    let current = out.open_byte(0).unwrap_or(STAP_A);
    let forbidden = (current | header) & FORBIDDEN_BIT_MASK;
    let nri = (current & NAL_REF_IDC_MASK).max(header & NAL_REF_IDC_MASK);
    out.set_open_byte(0, forbidden | nri | STAP_A);
}

/// Fragments one NAL unit into FU-A payloads of near-equal size (§5.8).
fn write_fu_a(out: &mut RtpPayloads, nal: &[u8], mtu: usize) {
    let Some((&header, data)) = nal.split_first() else {
        return;
    };
    let indicator = (header & (FORBIDDEN_BIT_MASK | NAL_REF_IDC_MASK)) | FU_A;
    let max_chunk = mtu.saturating_sub(FU_HEADERS).max(1);
    let count = data.len().div_ceil(max_chunk).max(1);
    let base = data.len() / count;
    let extra = data.len() % count;
    let mut offset = 0;
    for index in 0..count {
        let size = base + usize::from(index < extra);
        let chunk = data.get(offset..offset + size).unwrap_or_default();
        offset += size;
        let mut fu_header = header & NAL_TYPE_MASK;
        if index == 0 {
            fu_header |= FU_START_BIT;
        }
        if index + 1 == count {
            fu_header |= FU_END_BIT;
        }
        out.push_byte(indicator);
        out.push_byte(fu_header);
        out.extend(chunk);
        out.finish_payload();
    }
}
