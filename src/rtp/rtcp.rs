//! RTCP wire format: parsing and building compound RTCP packets.
//!
//! Owns the packet types Tessera exchanges on the RTCP channel:
//! - sender and receiver reports, RFC 3550 §6.4.1 / §6.4.2
//!   (<https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1>,
//!   <https://www.rfc-editor.org/rfc/rfc3550#section-6.4.2>);
//! - source description, RFC 3550 §6.5 (<https://www.rfc-editor.org/rfc/rfc3550#section-6.5>);
//! - goodbye, RFC 3550 §6.6 (<https://www.rfc-editor.org/rfc/rfc3550#section-6.6>);
//! - generic NACK and PLI, RFC 4585 §6.2.1 / §6.3.1
//!   (<https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1>,
//!   <https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1>);
//! - full intra request, RFC 5104 §4.3.1 (<https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1>);
//! - RTP/RTCP demultiplexing on one port, RFC 5761 §4 (<https://www.rfc-editor.org/rfc/rfc5761#section-4>);
//! - NTP timestamp helpers, RFC 3550 §4 (<https://www.rfc-editor.org/rfc/rfc3550#section-4>).
//!
//! Parsing never panics: malformed input is an [`RtcpError`], packet types
//! Tessera does not interpret come back as [`RtcpPacket::Unknown`].

use std::time::Duration;

/// SDES item type of the canonical name (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

// Packet types (RFC 3550 §12.1, RFC 4585 §6.1) and feedback formats (FMT).
const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const PT_RTPFB: u8 = 205;
const PT_PSFB: u8 = 206;
const FMT_NACK: u8 = 1;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;

/// Largest value of the 5-bit count field.
const MAX_COUNT: usize = 31;
/// Largest SDES item text / BYE reason, in bytes (8-bit length field).
const MAX_TEXT_LEN: usize = 255;
/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;
/// Bounds of the 24-bit signed cumulative-lost field.
const CUMULATIVE_LOST_MAX: i32 = 0x7f_ffff;
const CUMULATIVE_LOST_MIN: i32 = -0x80_0000;

/// Why a compound RTCP packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// The buffer holds no packet at all.
    #[error("empty RTCP compound packet")]
    Empty,
    /// A header or its length field points past the end of the buffer.
    #[error("RTCP packet truncated: needs {needed} bytes, {available} remain")]
    Truncated {
        /// Bytes the header announces (or the 4 header bytes themselves).
        needed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The padding bit is set but the padding count is 0 or exceeds the body.
    #[error("RTCP padding count is zero or larger than the packet body")]
    BadPadding,
    /// The body is shorter than, or inconsistent with, what its header announces.
    #[error("RTCP packet type {packet_type} has a malformed body")]
    Malformed {
        /// Packet type of the offending packet.
        packet_type: u8,
    },
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost; encoded as 24-bit signed (clamped on write).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

/// Sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP wallclock timestamp (see [`ntp_from_unix`]).
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to `ntp_timestamp`.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// One SDES item (RFC 3550 §6.5); `kind` is the item type, e.g. [`SDES_CNAME`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// Item type (1 = CNAME, 2 = NAME, ...). Type 0 is the terminator and is never written.
    pub kind: u8,
    /// Item text; truncated to 255 bytes on write, decoded lossily on parse.
    pub text: String,
}

/// The items describing one source (RFC 3550 §6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// Source described.
    pub ssrc: u32,
    /// Its items.
    pub items: Vec<SdesItem>,
}

/// One RTCP packet of a compound packet. SSRC fields follow the RFC names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// Sender report (RFC 3550 §6.4.1) from `ssrc`.
    SenderReport {
        ssrc: u32,
        info: SenderInfo,
        reports: Vec<ReportBlock>,
    },
    /// Receiver report (RFC 3550 §6.4.2) from `ssrc`.
    ReceiverReport {
        ssrc: u32,
        reports: Vec<ReportBlock>,
    },
    /// Source description (RFC 3550 §6.5), one chunk per source.
    SourceDescription { chunks: Vec<SdesChunk> },
    /// Goodbye (RFC 3550 §6.6) for `ssrcs`, with an optional reason.
    Bye {
        ssrcs: Vec<u32>,
        reason: Option<String>,
    },
    /// Generic NACK (RTPFB FMT 1, RFC 4585 §6.2.1): `lost` sequence numbers of
    /// `media_ssrc`, written as PID+BLP pairs (densest when in ascending order).
    Nack {
        sender_ssrc: u32,
        media_ssrc: u32,
        lost: Vec<u16>,
    },
    /// Picture loss indication (PSFB FMT 1, RFC 4585 §6.3.1) for `media_ssrc`.
    PictureLossIndication { sender_ssrc: u32, media_ssrc: u32 },
    /// Full intra request (PSFB FMT 4, RFC 5104 §4.3.1): one
    /// `(media source SSRC, command sequence number)` per FCI entry.
    FullIntraRequest {
        sender_ssrc: u32,
        entries: Vec<(u32, u8)>,
    },
    /// A packet type or feedback format Tessera does not interpret. Its body
    /// is skipped on parse; writing it emits the header with an empty body.
    Unknown { packet_type: u8, count_or_fmt: u8 },
}

/// Parses a compound RTCP packet into its packets, in order.
///
/// Checks version 2, every length field against the buffer and the padding
/// count; unknown packet types are returned as [`RtcpPacket::Unknown`]. Does
/// not insist that the first packet is an SR/RR (reduced-size RTCP, RFC 5506,
/// sends feedback alone). Any malformed packet rejects the whole buffer.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if buf.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let header: [u8; 4] = match rest.get(..4).and_then(|h| h.try_into().ok()) {
            Some(header) => header,
            None => {
                return Err(RtcpError::Truncated {
                    needed: 4,
                    available: rest.len(),
                });
            }
        };
        let version = header[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let has_padding = header[0] & 0x20 != 0;
        let count = header[0] & 0x1f;
        let packet_type = header[1];
        let total_len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
        let (packet, remainder) = match (rest.get(4..total_len), rest.get(total_len..)) {
            (Some(body), Some(remainder)) => (body, remainder),
            _ => {
                return Err(RtcpError::Truncated {
                    needed: total_len,
                    available: rest.len(),
                });
            }
        };
        let body = if has_padding {
            strip_padding(packet)?
        } else {
            packet
        };
        let parsed =
            parse_body(packet_type, count, body).ok_or(RtcpError::Malformed { packet_type })?;
        packets.push(parsed);
        rest = remainder;
    }
    Ok(packets)
}

/// Appends `packets` to `out` as one compound RTCP packet.
///
/// Lists longer than the 5-bit count field allows are split: extra report
/// blocks go into following RR packets (RFC 3550 §6.4.2), extra SDES chunks
/// and BYE SSRCs into further SDES/BYE packets (the BYE reason goes on the
/// last). Texts are truncated to 255 bytes at a character boundary. A packet
/// whose encoding would exceed the 16-bit length field (> 256 KiB) is omitted.
pub fn write_compound(packets: &[RtcpPacket], out: &mut Vec<u8>) {
    for packet in packets {
        write_packet(packet, out);
    }
}

/// True when `buf` looks like RTCP rather than RTP on a multiplexed port
/// (RFC 5761 §4: second octet 192..=223, i.e. RTP marker+PT 64..=95).
pub fn is_rtcp(buf: &[u8]) -> bool {
    matches!(buf.get(1), Some(192..=223))
}

/// Converts a time since the Unix epoch into a 64-bit NTP timestamp
/// (32.32 fixed point seconds since 1900, seconds wrap per NTP era).
pub fn ntp_from_unix(duration_since_epoch: Duration) -> u64 {
    let seconds = duration_since_epoch
        .as_secs()
        .wrapping_add(NTP_UNIX_OFFSET_SECS)
        & 0xffff_ffff;
    let fraction = (u64::from(duration_since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// Middle 32 bits of an NTP timestamp, the form used in LSR (RFC 3550 §6.4.1).
pub fn ntp_middle_32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

fn strip_padding(packet: &[u8]) -> Result<&[u8], RtcpError> {
    let padding = usize::from(*packet.last().ok_or(RtcpError::BadPadding)?);
    if padding == 0 || padding > packet.len() {
        return Err(RtcpError::BadPadding);
    }
    Ok(&packet[..packet.len() - padding])
}

/// Bounds-checked big-endian cursor over a packet body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let slice = self.buf.get(self.pos..self.pos.checked_add(len)?)?;
        self.pos += len;
        Some(slice)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[byte]| byte)
    }
    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
    fn skip_to_word_boundary(&mut self) {
        self.pos = self.pos.next_multiple_of(4);
    }
}

fn parse_body(packet_type: u8, count: u8, body: &[u8]) -> Option<RtcpPacket> {
    let mut r = Reader::new(body);
    let packet = match (packet_type, count) {
        (PT_SR, _) => RtcpPacket::SenderReport {
            ssrc: r.u32()?,
            info: SenderInfo {
                ntp_timestamp: r.u64()?,
                rtp_timestamp: r.u32()?,
                packet_count: r.u32()?,
                octet_count: r.u32()?,
            },
            reports: read_report_blocks(&mut r, count)?,
        },
        (PT_RR, _) => RtcpPacket::ReceiverReport {
            ssrc: r.u32()?,
            reports: read_report_blocks(&mut r, count)?,
        },
        (PT_SDES, _) => RtcpPacket::SourceDescription {
            chunks: (0..count)
                .map(|_| read_sdes_chunk(&mut r))
                .collect::<Option<_>>()?,
        },
        (PT_BYE, _) => {
            let ssrcs = (0..count).map(|_| r.u32()).collect::<Option<_>>()?;
            let reason = match r.remaining() {
                0 => None,
                _ => {
                    let len = usize::from(r.u8()?);
                    Some(String::from_utf8_lossy(r.bytes(len)?).into_owned())
                }
            };
            RtcpPacket::Bye { ssrcs, reason }
        }
        (PT_RTPFB, FMT_NACK) => {
            let (sender_ssrc, media_ssrc) = (r.u32()?, r.u32()?);
            let mut lost = Vec::new();
            while r.remaining() >= 4 {
                let (pid, blp) = (r.u16()?, r.u16()?);
                lost.push(pid);
                let following = (0..16u16).filter(|bit| blp & (1 << bit) != 0);
                lost.extend(following.map(|bit| pid.wrapping_add(bit + 1)));
            }
            RtcpPacket::Nack {
                sender_ssrc,
                media_ssrc,
                lost,
            }
        }
        (PT_PSFB, FMT_PLI) => RtcpPacket::PictureLossIndication {
            sender_ssrc: r.u32()?,
            media_ssrc: r.u32()?,
        },
        (PT_PSFB, FMT_FIR) => {
            let sender_ssrc = r.u32()?;
            let _unused_media_ssrc = r.u32()?;
            let mut entries = Vec::new();
            while r.remaining() >= 8 {
                let (ssrc, seq_nr, _reserved) = (r.u32()?, r.u8()?, r.bytes(3)?);
                entries.push((ssrc, seq_nr));
            }
            RtcpPacket::FullIntraRequest {
                sender_ssrc,
                entries,
            }
        }
        _ => RtcpPacket::Unknown {
            packet_type,
            count_or_fmt: count,
        },
    };
    Some(packet)
}

fn read_report_blocks(r: &mut Reader<'_>, count: u8) -> Option<Vec<ReportBlock>> {
    (0..count).map(|_| read_report_block(r)).collect()
}

fn read_report_block(r: &mut Reader<'_>) -> Option<ReportBlock> {
    let ssrc = r.u32()?;
    let lost_word = r.u32()?;
    Some(ReportBlock {
        ssrc,
        fraction_lost: (lost_word >> 24) as u8,
        // Sign-extend the 24-bit two's complement field.
        cumulative_lost: ((lost_word << 8) as i32) >> 8,
        highest_seq: r.u32()?,
        jitter: r.u32()?,
        last_sr: r.u32()?,
        delay_since_last_sr: r.u32()?,
    })
}

fn read_sdes_chunk(r: &mut Reader<'_>) -> Option<SdesChunk> {
    let ssrc = r.u32()?;
    let mut items = Vec::new();
    loop {
        let kind = r.u8()?;
        if kind == 0 {
            r.skip_to_word_boundary();
            return Some(SdesChunk { ssrc, items });
        }
        let len = usize::from(r.u8()?);
        let text = String::from_utf8_lossy(r.bytes(len)?).into_owned();
        items.push(SdesItem { kind, text });
    }
}

fn write_packet(packet: &RtcpPacket, out: &mut Vec<u8>) {
    match packet {
        RtcpPacket::SenderReport {
            ssrc,
            info,
            reports,
        } => {
            let mut groups = count_groups(reports);
            if let Some(head) = groups.next() {
                let start = begin(out, head.len() as u8, PT_SR);
                put_u32(out, *ssrc);
                out.extend_from_slice(&info.ntp_timestamp.to_be_bytes());
                put_u32(out, info.rtp_timestamp);
                put_u32(out, info.packet_count);
                put_u32(out, info.octet_count);
                head.iter().for_each(|block| put_report_block(out, block));
                finish(out, start);
            }
            groups.for_each(|group| write_receiver_report(out, *ssrc, group));
        }
        RtcpPacket::ReceiverReport { ssrc, reports } => {
            count_groups(reports).for_each(|group| write_receiver_report(out, *ssrc, group));
        }
        RtcpPacket::SourceDescription { chunks } => {
            for group in count_groups(chunks) {
                let start = begin(out, group.len() as u8, PT_SDES);
                group
                    .iter()
                    .for_each(|chunk| put_sdes_chunk(out, start, chunk));
                finish(out, start);
            }
        }
        RtcpPacket::Bye { ssrcs, reason } => {
            let mut groups = count_groups(ssrcs).peekable();
            while let Some(group) = groups.next() {
                let start = begin(out, group.len() as u8, PT_BYE);
                group.iter().for_each(|ssrc| put_u32(out, *ssrc));
                if let (None, Some(reason)) = (groups.peek(), reason) {
                    put_text(out, reason);
                }
                finish(out, start);
            }
        }
        RtcpPacket::Nack {
            sender_ssrc,
            media_ssrc,
            lost,
        } => {
            let start = begin(out, FMT_NACK, PT_RTPFB);
            put_u32(out, *sender_ssrc);
            put_u32(out, *media_ssrc);
            for (pid, blp) in pack_nack(lost) {
                out.extend_from_slice(&pid.to_be_bytes());
                out.extend_from_slice(&blp.to_be_bytes());
            }
            finish(out, start);
        }
        RtcpPacket::PictureLossIndication {
            sender_ssrc,
            media_ssrc,
        } => {
            let start = begin_feedback(out, FMT_PLI, PT_PSFB, *sender_ssrc, *media_ssrc);
            finish(out, start);
        }
        RtcpPacket::FullIntraRequest {
            sender_ssrc,
            entries,
        } => {
            // The media source SSRC is unused and SHALL be 0 (RFC 5104 §4.3.1.1).
            let start = begin_feedback(out, FMT_FIR, PT_PSFB, *sender_ssrc, 0);
            for (ssrc, seq_nr) in entries {
                put_u32(out, *ssrc);
                out.extend_from_slice(&[*seq_nr, 0, 0, 0]);
            }
            finish(out, start);
        }
        RtcpPacket::Unknown {
            packet_type,
            count_or_fmt,
        } => {
            let start = begin(out, *count_or_fmt, *packet_type);
            finish(out, start);
        }
    }
}

/// Splits `items` into runs fitting the 5-bit count field; one empty run for an empty slice.
fn count_groups<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let empty = items.is_empty().then_some(items);
    empty.into_iter().chain(items.chunks(MAX_COUNT))
}

/// Packs lost sequence numbers into `(PID, BLP)` pairs (RFC 4585 §6.2.1).
/// Densest when `lost` is in ascending (serial) order.
fn pack_nack(lost: &[u16]) -> Vec<(u16, u16)> {
    let mut pairs: Vec<(u16, u16)> = Vec::new();
    for &seq in lost {
        if let Some((pid, blp)) = pairs.last_mut() {
            let offset = seq.wrapping_sub(*pid);
            if offset == 0 {
                continue;
            }
            if offset <= 16 {
                *blp |= 1 << (offset - 1);
                continue;
            }
        }
        pairs.push((seq, 0));
    }
    pairs
}

fn write_receiver_report(out: &mut Vec<u8>, ssrc: u32, blocks: &[ReportBlock]) {
    let start = begin(out, blocks.len() as u8, PT_RR);
    put_u32(out, ssrc);
    blocks.iter().for_each(|block| put_report_block(out, block));
    finish(out, start);
}

fn put_report_block(out: &mut Vec<u8>, block: &ReportBlock) {
    let cumulative = block
        .cumulative_lost
        .clamp(CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX);
    put_u32(out, block.ssrc);
    put_u32(
        out,
        (u32::from(block.fraction_lost) << 24) | (cumulative as u32 & 0x00ff_ffff),
    );
    put_u32(out, block.highest_seq);
    put_u32(out, block.jitter);
    put_u32(out, block.last_sr);
    put_u32(out, block.delay_since_last_sr);
}

fn put_sdes_chunk(out: &mut Vec<u8>, packet_start: usize, chunk: &SdesChunk) {
    put_u32(out, chunk.ssrc);
    for item in chunk.items.iter().filter(|item| item.kind != 0) {
        out.push(item.kind);
        put_text(out, &item.text);
    }
    out.push(0); // terminating null item, then pad the chunk to a word
    pad_to_word(out, packet_start);
}

/// Writes an 8-bit length followed by at most 255 bytes of `text`.
fn put_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(MAX_TEXT_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &text.as_bytes()[..end];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Starts a packet header (length filled in by [`finish`]); returns its offset.
fn begin(out: &mut Vec<u8>, count_or_fmt: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count_or_fmt & 0x1f), packet_type, 0, 0]);
    start
}

/// Starts an RFC 4585 feedback packet: header, sender and media source SSRCs.
fn begin_feedback(out: &mut Vec<u8>, fmt: u8, packet_type: u8, sender: u32, media: u32) -> usize {
    let start = begin(out, fmt, packet_type);
    put_u32(out, sender);
    put_u32(out, media);
    start
}

fn pad_to_word(out: &mut Vec<u8>, packet_start: usize) {
    let len = out.len() - packet_start;
    out.resize(packet_start + len.next_multiple_of(4), 0);
}

/// Pads the packet started at `start` and writes its length in words minus one.
fn finish(out: &mut Vec<u8>, start: usize) {
    pad_to_word(out, start);
    let words = (out.len() - start) / 4 - 1;
    match (u16::try_from(words), out.get_mut(start + 2..start + 4)) {
        (Ok(words), Some(field)) => field.copy_from_slice(&words.to_be_bytes()),
        _ => out.truncate(start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, cumulative_lost: i32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost,
            highest_seq: 0x0001_0005,
            jitter: 42,
            last_sr: 0xdead_beef,
            delay_since_last_sr: 65536,
        }
    }

    fn sender_report(reports: Vec<ReportBlock>) -> RtcpPacket {
        RtcpPacket::SenderReport {
            ssrc: 0x1234_5678,
            info: SenderInfo {
                ntp_timestamp: ntp_from_unix(Duration::from_millis(1_700_000_000_250)),
                rtp_timestamp: 960_000,
                packet_count: 1000,
                octet_count: 160_000,
            },
            reports,
        }
    }

    fn sdes(cname: &str) -> RtcpPacket {
        RtcpPacket::SourceDescription {
            chunks: vec![SdesChunk {
                ssrc: 0x1234_5678,
                items: vec![SdesItem {
                    kind: SDES_CNAME,
                    text: cname.to_string(),
                }],
            }],
        }
    }

    fn round_trip(packets: &[RtcpPacket]) -> Vec<u8> {
        let mut wire = Vec::new();
        write_compound(packets, &mut wire);
        assert_eq!(wire.len() % 4, 0);
        assert_eq!(parse_compound(&wire).unwrap(), packets);
        wire
    }

    #[test]
    fn round_trips_every_packet_kind() {
        round_trip(&[sender_report(vec![])]);
        round_trip(&[sender_report(vec![block(1, 7), block(2, -5)])]);
        round_trip(&[RtcpPacket::ReceiverReport {
            ssrc: 9,
            reports: vec![],
        }]);
        round_trip(&[RtcpPacket::ReceiverReport {
            ssrc: 9,
            reports: vec![block(3, 0x7f_ffff)],
        }]);
        for cname in ["", "a", "ab", "abc", "tessera@10.0.0.1", "héllo wörld"] {
            round_trip(&[sdes(cname)]);
        }
        round_trip(&[RtcpPacket::SourceDescription { chunks: vec![] }]);
        round_trip(&[RtcpPacket::Bye {
            ssrcs: vec![1, 2],
            reason: None,
        }]);
        round_trip(&[RtcpPacket::Bye {
            ssrcs: vec![1],
            reason: Some("bye now".into()),
        }]);
        round_trip(&[RtcpPacket::Bye {
            ssrcs: vec![],
            reason: Some(String::new()),
        }]);
        round_trip(&[RtcpPacket::Nack {
            sender_ssrc: 1,
            media_ssrc: 2,
            lost: vec![65535, 0, 7, 100],
        }]);
        round_trip(&[RtcpPacket::PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        }]);
        round_trip(&[RtcpPacket::FullIntraRequest {
            sender_ssrc: 1,
            entries: vec![(5, 3), (6, 255)],
        }]);
        round_trip(&[RtcpPacket::Unknown {
            packet_type: 207,
            count_or_fmt: 3,
        }]);
    }

    #[test]
    fn round_trips_compound_sr_sdes_bye() {
        let packets = [
            sender_report(vec![block(0xaaaa, 3)]),
            sdes("mcu@tessera"),
            RtcpPacket::Bye {
                ssrcs: vec![0x1234_5678],
                reason: Some("conference ended".into()),
            },
        ];
        let wire = round_trip(&packets);
        assert_eq!(&wire[..2], &[0x81, PT_SR]);
    }

    #[test]
    fn parses_hand_written_sender_report() {
        let wire: [u8; 52] = [
            0x81, 0xc8, 0x00, 0x0c, // V=2 RC=1 PT=200 length=12
            0xde, 0xad, 0xbe, 0xef, // SSRC
            0xe6, 0x5b, 0x2a, 0x30, 0x80, 0x00, 0x00, 0x00, // NTP
            0x00, 0x01, 0xe2, 0x40, // RTP timestamp 123456
            0x00, 0x00, 0x00, 0x64, // packet count 100
            0x00, 0x00, 0x3e, 0x80, // octet count 16000
            0x12, 0x34, 0x56, 0x78, // report SSRC
            0x19, 0xff, 0xff, 0xfe, // fraction 25/256, cumulative -2
            0x00, 0x01, 0x00, 0x05, // extended highest seq
            0x00, 0x00, 0x00, 0x10, // jitter
            0x2a, 0x30, 0x80, 0x00, // LSR
            0x00, 0x01, 0x80, 0x00, // DLSR 1.5 s
        ];
        let expected = RtcpPacket::SenderReport {
            ssrc: 0xdead_beef,
            info: SenderInfo {
                ntp_timestamp: 0xe65b_2a30_8000_0000,
                rtp_timestamp: 123_456,
                packet_count: 100,
                octet_count: 16_000,
            },
            reports: vec![ReportBlock {
                ssrc: 0x1234_5678,
                fraction_lost: 25,
                cumulative_lost: -2,
                highest_seq: 65541,
                jitter: 16,
                last_sr: 0x2a30_8000,
                delay_since_last_sr: 0x1_8000,
            }],
        };
        assert_eq!(parse_compound(&wire).unwrap(), vec![expected.clone()]);
        let mut rebuilt = Vec::new();
        write_compound(&[expected], &mut rebuilt);
        assert_eq!(rebuilt, wire);
    }

    #[test]
    fn nack_packs_pid_and_blp() {
        let lost = vec![100, 101, 105, 116, 117, 200];
        let mut wire = Vec::new();
        write_compound(
            &[RtcpPacket::Nack {
                sender_ssrc: 1,
                media_ssrc: 2,
                lost: lost.clone(),
            }],
            &mut wire,
        );
        assert_eq!(wire.len(), 12 + 3 * 4);
        assert_eq!(&wire[12..16], &[0, 100, 0b1000_0000, 0b0001_0001]);
        let parsed = parse_compound(&wire).unwrap();
        assert_eq!(
            parsed,
            vec![RtcpPacket::Nack {
                sender_ssrc: 1,
                media_ssrc: 2,
                lost
            }]
        );
    }

    #[test]
    fn long_lists_split_into_extra_packets() {
        let blocks: Vec<ReportBlock> = (0..40).map(|i| block(i, 0)).collect();
        let mut wire = Vec::new();
        write_compound(&[sender_report(blocks.clone())], &mut wire);
        let parsed = parse_compound(&wire).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[1],
            RtcpPacket::ReceiverReport {
                ssrc: 0x1234_5678,
                reports: blocks[31..].to_vec()
            }
        );
        let long_reason = "x".repeat(300);
        let bye = RtcpPacket::Bye {
            ssrcs: (0..33).collect(),
            reason: Some(long_reason),
        };
        wire.clear();
        write_compound(&[bye], &mut wire);
        let parsed = parse_compound(&wire).unwrap();
        assert_eq!(
            parsed[1],
            RtcpPacket::Bye {
                ssrcs: vec![31, 32],
                reason: Some("x".repeat(255))
            }
        );
    }

    #[test]
    fn rejects_bad_headers_and_padding() {
        assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
        assert_eq!(
            parse_compound(&[0x80, 201]),
            Err(RtcpError::Truncated {
                needed: 4,
                available: 2
            })
        );
        assert_eq!(
            parse_compound(&[0x40, 201, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
        assert_eq!(
            parse_compound(&[0x80, 201, 0, 1]),
            Err(RtcpError::Truncated {
                needed: 8,
                available: 4
            })
        );
        assert_eq!(
            parse_compound(&[0x81, 201, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::Malformed { packet_type: 201 })
        );
        assert_eq!(
            parse_compound(&[0xa0, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadPadding)
        );
        assert_eq!(
            parse_compound(&[0xa0, 201, 0, 1, 0, 0, 0, 9]),
            Err(RtcpError::BadPadding)
        );
        // RR with its SSRC followed by 4 bytes of padding.
        let padded = [0xa0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4];
        assert_eq!(
            parse_compound(&padded).unwrap(),
            vec![RtcpPacket::ReceiverReport {
                ssrc: 7,
                reports: vec![]
            }]
        );
    }

    #[test]
    fn demultiplexes_rtp_and_rtcp() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 223]));
        assert!(!is_rtcp(&[0x80, 111])); // RTP, Opus PT 111
        assert!(!is_rtcp(&[0x80, 0x80 | 111])); // RTP with marker
        assert!(!is_rtcp(&[0x80, 224]));
        assert!(!is_rtcp(&[0x80]));
    }

    #[test]
    fn ntp_conversion() {
        assert_eq!(ntp_from_unix(Duration::ZERO), NTP_UNIX_OFFSET_SECS << 32);
        let half = ntp_from_unix(Duration::from_millis(1500));
        assert_eq!(half, ((NTP_UNIX_OFFSET_SECS + 1) << 32) | 0x8000_0000);
        assert_eq!(ntp_middle_32(0x1122_3344_5566_7788), 0x3344_5566);
    }
}
