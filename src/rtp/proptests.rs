//! Properties of the RTP and RTCP wire code (#14 item 9): what [`RtpSender`] writes reads
//! back field for field (RFC 3550 §5.1); any valid compound RTCP packet — SR, RR, SDES, BYE,
//! NACK, PLI, FIR and packet types we do not interpret — survives
//! [`write_compound`] → [`parse_compound`] (RFC 3550 §6, RFC 4585 §6, RFC 5104 §4.3.1);
//! mutated packets of both never panic, and what parses stays within the size of its input.
//! Replaces the xorshift fuzz loop of `rtcp.rs`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rtp_rs::RtpReader;

use super::rtcp::{
    is_rtcp, parse_compound, write_compound, ReportBlock, RtcpPacket, SdesChunk, SdesItem,
    SenderInfo,
};
use super::sender::RtpSender;
use super::stats::ReceiveStats;
use super::telephone_event::DtmfReceiver;
use crate::proptest_support::{config, mutate};

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<(u32, u8, u32, u32, u32, u32)>(),
        -0x80_0000..=0x7f_ffffi32,
    )
        .prop_map(
            |((ssrc, fraction_lost, highest_seq, jitter, last_sr, delay), cumulative_lost)| {
                ReportBlock {
                    ssrc,
                    fraction_lost,
                    cumulative_lost,
                    highest_seq,
                    jitter,
                    last_sr,
                    delay_since_last_sr: delay,
                }
            },
        )
}

/// Texts of at most 255 bytes (the 8-bit length field), ASCII or not.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,60}", "\\PC{0,20}"].prop_filter("fits the length byte", |t| t.len() <= 255)
}

fn sdes_chunk() -> impl Strategy<Value = SdesChunk> {
    let item = (1..=8u8, text()).prop_map(|(kind, text)| SdesItem { kind, text });
    (any::<u32>(), proptest::collection::vec(item, 0..4))
        .prop_map(|(ssrc, items)| SdesChunk { ssrc, items })
}

/// Lost sequence numbers as a NACK carries them: ascending, without repeats.
fn lost() -> impl Strategy<Value = Vec<u16>> {
    proptest::collection::btree_set(any::<u16>(), 0..40).prop_map(|set| set.into_iter().collect())
}

/// Every packet kind, with lists short enough for one packet each (the writer splits longer
/// ones, which is tested in `rtcp.rs`).
fn rtcp_packet() -> impl Strategy<Value = RtcpPacket> {
    let blocks = || proptest::collection::vec(report_block(), 0..=31);
    prop_oneof![
        (any::<u32>(), any::<(u64, u32, u32, u32)>(), blocks()).prop_map(
            |(ssrc, (ntp_timestamp, rtp_timestamp, packet_count, octet_count), reports)| {
                RtcpPacket::SenderReport {
                    ssrc,
                    info: SenderInfo {
                        ntp_timestamp,
                        rtp_timestamp,
                        packet_count,
                        octet_count,
                    },
                    reports,
                }
            }
        ),
        (any::<u32>(), blocks())
            .prop_map(|(ssrc, reports)| RtcpPacket::ReceiverReport { ssrc, reports }),
        proptest::collection::vec(sdes_chunk(), 0..=4)
            .prop_map(|chunks| RtcpPacket::SourceDescription { chunks }),
        (
            proptest::collection::vec(any::<u32>(), 0..=31),
            proptest::option::of(text())
        )
            .prop_map(|(ssrcs, reason)| RtcpPacket::Bye { ssrcs, reason }),
        (any::<u32>(), any::<u32>(), lost()).prop_map(|(sender_ssrc, media_ssrc, lost)| {
            RtcpPacket::Nack {
                sender_ssrc,
                media_ssrc,
                lost,
            }
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(sender_ssrc, media_ssrc)| {
            RtcpPacket::PictureLossIndication {
                sender_ssrc,
                media_ssrc,
            }
        }),
        (
            any::<u32>(),
            proptest::collection::vec(any::<(u32, u8)>(), 0..8)
        )
            .prop_map(|(sender_ssrc, entries)| RtcpPacket::FullIntraRequest {
                sender_ssrc,
                entries
            }),
        // APP (204), XR (207) and REMB-style PSFB 15 are not interpreted: kept as Unknown.
        (
            prop_oneof![Just(204u8), Just(207), Just(195), Just(209)],
            0..=31u8
        )
            .prop_map(|(packet_type, count_or_fmt)| RtcpPacket::Unknown {
                packet_type,
                count_or_fmt
            }),
    ]
}

fn compound() -> impl Strategy<Value = Vec<RtcpPacket>> {
    proptest::collection::vec(rtcp_packet(), 1..6)
}

/// How many items `packets` hold: none can come from less than one byte of input.
fn items(packets: &[RtcpPacket]) -> usize {
    packets
        .iter()
        .map(|p| match p {
            RtcpPacket::SenderReport { reports, .. }
            | RtcpPacket::ReceiverReport { reports, .. } => 1 + reports.len(),
            RtcpPacket::SourceDescription { chunks } => {
                1 + chunks.iter().map(|c| 1 + c.items.len()).sum::<usize>()
            }
            RtcpPacket::Bye { ssrcs, reason } => {
                1 + ssrcs.len() + reason.as_ref().map_or(0, String::len)
            }
            RtcpPacket::Nack { lost, .. } => 1 + lost.len() / 17,
            RtcpPacket::FullIntraRequest { entries, .. } => 1 + entries.len(),
            RtcpPacket::PictureLossIndication { .. } | RtcpPacket::Unknown { .. } => 1,
        })
        .sum()
}

/// One RTP packet as a sender is asked to send it.
fn frame() -> impl Strategy<Value = (Vec<u8>, u32, bool)> {
    (
        proptest::collection::vec(any::<u8>(), 0..1400),
        any::<u32>(),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_valid_compound_survives_write_and_parse(packets in compound()) {
        let mut wire = Vec::new();
        write_compound(&packets, &mut wire);
        prop_assert_eq!(wire.len() % 4, 0);
        prop_assert!(is_rtcp(&wire));
        prop_assert_eq!(parse_compound(&wire), Ok(packets));
    }

    #[test]
    fn mutated_compounds_never_panic_and_stay_within_their_size(
        wire in compound().prop_flat_map(|packets| {
            let mut wire = Vec::new();
            write_compound(&packets, &mut wire);
            mutate::mutated(wire)
        })
    ) {
        if let Ok(packets) = parse_compound(&wire) {
            let count = items(&packets);
            prop_assert!(count <= wire.len(), "{} items from {} bytes", count, wire.len());
            let mut again = Vec::new();
            write_compound(&packets, &mut again);
        }
    }

    #[test]
    fn what_the_sender_writes_reads_back(
        payload_type in 0..=127u8,
        frames in proptest::collection::vec(frame(), 1..8),
    ) {
        let mut sender = RtpSender::new(payload_type);
        let mut out = Vec::new();
        let mut first_seq = None;
        for (i, (payload, timestamp, marker)) in frames.iter().enumerate() {
            sender.packetize_at(payload, *timestamp, *marker, &mut out);
            let packet = RtpReader::new(&out).expect("our own packet reads");
            let seq = u16::from(packet.sequence_number());
            let first = *first_seq.get_or_insert(seq);
            prop_assert_eq!(seq, first.wrapping_add(i as u16));
            prop_assert_eq!(packet.version(), 2);
            prop_assert_eq!(packet.payload_type(), payload_type);
            prop_assert_eq!(packet.ssrc(), sender.ssrc());
            prop_assert_eq!(packet.timestamp(), *timestamp);
            prop_assert_eq!(packet.mark(), *marker);
            prop_assert_eq!(packet.payload(), &payload[..]);
        }
        let octets: usize = frames.iter().map(|(p, _, _)| p.len()).sum();
        prop_assert_eq!(sender.counts(), (frames.len() as u32, octets as u32));
    }

    #[test]
    fn mutated_rtp_never_panics_the_receive_side(
        packets in proptest::collection::vec(
            (frame(), 0..=127u8).prop_flat_map(|((payload, timestamp, marker), pt)| {
                let mut out = Vec::new();
                RtpSender::new(pt).packetize_at(&payload, timestamp, marker, &mut out);
                mutate::mutated(out)
            }),
            1..10,
        )
    ) {
        let start = Instant::now();
        let mut stats = ReceiveStats::new(48_000);
        let mut dtmf = DtmfReceiver::default();
        for (i, data) in packets.iter().enumerate() {
            let _ = is_rtcp(data);
            let Ok(packet) = RtpReader::new(data) else { continue };
            let payload = packet.payload();
            prop_assert!(payload.len() <= data.len().saturating_sub(12));
            let _ = (packet.padding(), packet.extension(), packet.csrc().count());
            let now = start + Duration::from_millis(20 * i as u64);
            let seq = packet.sequence_number().into();
            stats.on_packet(now, seq, packet.timestamp(), payload.len());
            let _ = dtmf.on_packet(packet.timestamp(), payload);
        }
        let _ = stats.report_block(1, start + Duration::from_secs(1));
    }
}
