//! Properties of the H.264 depacketizer (#14 item 9, RFC 6184): access units of any shape
//! round-trip through the packetizer (single NAL units, STAP-A, FU-A start/middle/end)
//! within any MTU; delivered with losses, duplicates and reordering, every unit the
//! depacketizer calls complete is exactly one that was sent; mutated payloads never panic it
//! and its output never exceeds its size limit. Replaces the xorshift fuzz loops.

use std::collections::HashMap;

use proptest::prelude::*;

use super::super::{DepacketizerConfig, H264Depacketizer, H264Packetizer, MIN_MTU};
use super::{feed, nal, nals_of, pps, sps, Packet, Sender};
use crate::proptest_support::{config, mutate};

/// A slice of `len` bytes (at least 2) of NAL `header`: the first of its picture starts at
/// macroblock 0, a later one further on (`first_mb_in_slice` 1: the bits `010`).
fn slice_of(header: u8, len: usize, first: bool) -> Vec<u8> {
    let mut unit = nal(header, len.max(2));
    if !first {
        unit[1] = 0x40;
    }
    unit
}

/// Access units shaped as encoders send them: an optional access unit delimiter and SEI,
/// SPS and PPS before an IDR picture (the first and every fourth unit), the picture's
/// slices, and at times an end of sequence.
fn access_units() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let unit = (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(2..4000usize, 1..4),
        any::<bool>(),
    );
    proptest::collection::vec(unit, 1..8).prop_map(|units| {
        units
            .into_iter()
            .enumerate()
            .map(|(i, (delimiter, sei, slices, end))| {
                let keyframe = i % 4 == 0;
                let mut nals = Vec::new();
                if delimiter {
                    nals.push(nal(0x09, 2));
                }
                if sei {
                    nals.push(nal(0x06, 10));
                }
                if keyframe {
                    nals.extend([sps(), pps()]);
                }
                let header = if keyframe { 0x65 } else { 0x41 };
                for (n, len) in slices.into_iter().enumerate() {
                    nals.push(slice_of(header, len, n == 0));
                }
                if end {
                    nals.push(nal(0x0C, 1));
                }
                nals
            })
            .collect()
    })
}

/// Whether `got` is `sent` with, at most, some NAL units before its first slice missing:
/// the depacketizer can only see a lost head by the first slice (RFC 6184 §5.1 leaves
/// parameter sets and SEI before it undetectable), and must see every other loss.
fn is_sent_unit(got: &[Vec<u8>], sent: &[Vec<u8>]) -> bool {
    let first_slice = sent
        .iter()
        .position(|n| matches!(n[0] & 0x1f, 1 | 5))
        .unwrap_or(0);
    let tail = &sent[first_slice..];
    got.len() >= tail.len()
        && got.ends_with(tail)
        && sent[..first_slice].ends_with(&got[..got.len() - tail.len()])
}

/// A packetizer for any MTU, with or without STAP-A aggregation.
fn packetizer() -> impl Strategy<Value = (usize, H264Packetizer)> {
    (MIN_MTU..1500usize, any::<bool>()).prop_map(|(mtu, aggregate)| {
        let packetizer = H264Packetizer::new(mtu)
            .expect("mtu")
            .with_aggregation(aggregate);
        (mtu, packetizer)
    })
}

/// What the network does to one packet.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Delivered,
    Lost,
    Duplicated,
    /// Swapped with the next packet.
    Late,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        12 => Just(Fate::Delivered),
        2 => Just(Fate::Lost),
        1 => Just(Fate::Duplicated),
        1 => Just(Fate::Late),
    ]
}

fn impaired(packets: Vec<Packet>, fates: &[Fate]) -> Vec<Packet> {
    let mut out: Vec<Packet> = Vec::new();
    let mut late: Option<Packet> = None;
    for (i, packet) in packets.into_iter().enumerate() {
        match fates[i % fates.len()] {
            Fate::Delivered => out.push(packet),
            Fate::Lost => {}
            Fate::Duplicated => {
                out.push(packet.clone());
                out.push(packet);
            }
            Fate::Late => {
                if let Some(earlier) = late.replace(packet) {
                    out.push(earlier);
                }
                continue;
            }
        }
        out.extend(late.take());
    }
    out.extend(late);
    out
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn access_units_round_trip_within_the_mtu(
        (mtu, packetizer) in packetizer(),
        first_seq in any::<u16>(),
        frames in access_units(),
    ) {
        let mut sender = Sender::new(packetizer);
        sender.seq = first_seq;
        let mut receiver = H264Depacketizer::new();
        for (i, frame) in frames.iter().enumerate() {
            let packets = sender.send(i as u32 * 3000, frame);
            prop_assert!(packets.iter().all(|p| p.payload.len() <= mtu));
            let units = feed(&mut receiver, &packets);
            prop_assert_eq!(units.len(), 1);
            prop_assert_eq!(&nals_of(&units[0]), frame);
            prop_assert_eq!(units[0].keyframe, i % 4 == 0);
        }
        prop_assert_eq!(receiver.stats().dropped_incomplete, 0);
    }

    #[test]
    fn under_loss_duplication_and_reordering_a_complete_unit_is_one_that_was_sent(
        (_, packetizer) in packetizer(),
        frames in access_units(),
        fates in proptest::collection::vec(fate(), 1..32),
    ) {
        let mut sender = Sender::new(packetizer);
        let mut sent = HashMap::new();
        let mut packets = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let timestamp = i as u32 * 3000;
            sent.insert(timestamp, frame.clone());
            packets.extend(sender.send(timestamp, frame));
        }
        let mut receiver = H264Depacketizer::new();
        for packet in impaired(packets, &fates) {
            let Packet { seq, timestamp, marker, payload } = &packet;
            let pushed = receiver.push(*seq, *timestamp, *marker, payload);
            let mut units: Vec<_> = pushed.ok().flatten().into_iter().collect();
            units.extend(std::iter::from_fn(|| receiver.pop_ready()));
            for unit in units {
                prop_assert!(unit.complete);
                let got = nals_of(&unit);
                let original = sent.get(&unit.timestamp).expect("a timestamp that was sent");
                prop_assert!(is_sent_unit(&got, original), "got {:?}\nsent {:?}", got, original);
                receiver.recycle(unit);
            }
        }
    }

    #[test]
    fn mutated_payloads_never_panic_and_stay_within_the_limit(
        (_, packetizer) in packetizer(),
        frames in access_units(),
        mutations in proptest::collection::vec(
            proptest::collection::vec(mutate::mutation(), 0..3),
            1..16,
        ),
        seq_steps in proptest::collection::vec(
            prop_oneof![8 => Just(1u16), 1 => Just(0), 1 => any::<u16>()],
            1..16,
        ),
        max_access_unit_bytes in 64..20_000usize,
        emit_incomplete in any::<bool>(),
    ) {
        let mut sender = Sender::new(packetizer);
        let config = DepacketizerConfig { max_access_unit_bytes, emit_incomplete };
        let mut receiver = H264Depacketizer::with_config(config);
        let mut seq = 0u16;
        let mut errors = 0u64;
        for (i, frame) in frames.iter().enumerate() {
            for (j, mut packet) in sender.send(i as u32 * 3000, frame).into_iter().enumerate() {
                for m in &mutations[j % mutations.len()] {
                    mutate::apply(&mut packet.payload, m);
                }
                seq = seq.wrapping_add(seq_steps[j % seq_steps.len()]);
                let pushed = receiver.push(seq, packet.timestamp, packet.marker, &packet.payload);
                let first = match pushed {
                    Ok(first) => first,
                    Err(error) => {
                        errors += 1;
                        prop_assert!(!error.to_string().is_empty());
                        None
                    }
                };
                let rest: Vec<_> = std::iter::from_fn(|| receiver.pop_ready()).collect();
                for unit in first.into_iter().chain(rest) {
                    prop_assert!(emit_incomplete || unit.complete);
                    prop_assert!(unit.annex_b().len() <= max_access_unit_bytes);
                    prop_assert_eq!(unit.nals().count(), unit.nal_count());
                    receiver.recycle(unit);
                }
                let _ = receiver.needs_keyframe();
            }
        }
        let _ = receiver.flush();
        let stats = receiver.stats();
        prop_assert_eq!(errors, stats.malformed + stats.oversized + stats.empty_payloads);
    }
}
