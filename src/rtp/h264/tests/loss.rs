//! Loss detection and keyframe recovery (RFC 6184 §5.8 fragment loss rules,
//! PLI signalling via `needs_keyframe`).

use super::super::{
    AccessUnit, DepacketizeError, DepacketizerConfig, H264Depacketizer, H264Packetizer,
};
use super::{feed, idr, nals_of, pps, slice, sps, Packet, Sender};

/// Feeds packets, tolerating errors; returns units and errors.
fn feed_lossy(
    receiver: &mut H264Depacketizer,
    packets: &[Packet],
) -> (Vec<AccessUnit>, Vec<DepacketizeError>) {
    let mut units = Vec::new();
    let mut errors = Vec::new();
    for packet in packets {
        match receiver.push(packet.seq, packet.timestamp, packet.marker, &packet.payload) {
            Ok(unit) => units.extend(unit),
            Err(error) => errors.push(error),
        }
        units.extend(std::iter::from_fn(|| receiver.pop_ready()));
    }
    (units, errors)
}

fn without(mut packets: Vec<Packet>, lost: usize) -> Vec<Packet> {
    packets.remove(lost);
    packets
}

#[test]
fn gap_inside_unit_drops_it_until_next_complete_idr() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    assert_eq!(
        feed(&mut receiver, &sender.send(0, &[sps(), pps(), idr(3000)])).len(),
        1
    );

    let damaged = without(sender.send(3000, &[slice(3000)]), 1);
    assert!(feed(&mut receiver, &damaged).is_empty());
    assert!(receiver.needs_keyframe());
    assert_eq!(receiver.stats().dropped_incomplete, 1);

    // A complete P frame is still delivered, but the chain stays broken.
    let units = feed(&mut receiver, &sender.send(6000, &[slice(500)]));
    assert_eq!(units.len(), 1);
    assert!(units[0].complete && !units[0].keyframe);
    assert!(receiver.needs_keyframe());

    let units = feed(&mut receiver, &sender.send(9000, &[idr(4000)]));
    assert!(units[0].keyframe && units[0].complete);
    assert!(!receiver.needs_keyframe());
}

#[test]
fn fu_a_without_start_fragment_makes_unit_incomplete() {
    let mut receiver = H264Depacketizer::new();
    let middle = [0x7C, 0x05, 1, 2, 3];
    let end = [0x7C, 0x45, 4, 5];
    assert_eq!(receiver.push(1, 0, false, &middle), Ok(None));
    assert_eq!(receiver.push(2, 0, true, &end), Ok(None));
    assert_eq!(receiver.stats().dropped_incomplete, 1);
    assert!(receiver.needs_keyframe());
}

#[test]
fn fu_a_fragment_after_gap_is_discarded_with_partial_nal() {
    let config = DepacketizerConfig {
        emit_incomplete: true,
        ..DepacketizerConfig::default()
    };
    let mut receiver = H264Depacketizer::with_config(config);
    let mut sender = Sender::new(H264Packetizer::default());
    let packets = sender.send(0, &[sps(), pps(), idr(3000)]);
    assert_eq!(packets.len(), 4, "STAP-A + 3 FU-A");
    let (units, errors) = feed_lossy(&mut receiver, &without(packets, 2));
    assert!(errors.is_empty());
    assert_eq!(units.len(), 1);
    assert!(!units[0].complete && units[0].keyframe);
    assert_eq!(
        nals_of(&units[0]),
        vec![sps(), pps()],
        "partial IDR rolled back"
    );
    assert!(receiver.needs_keyframe());
}

#[test]
fn lost_marker_packet_damages_unit_but_following_idr_recovers() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    feed(&mut receiver, &sender.send(0, &[idr(100)]));
    let damaged = without(sender.send(3000, &[slice(3000)]), 2);
    assert!(feed(&mut receiver, &damaged).is_empty());
    let units = feed(
        &mut receiver,
        &sender.send(6000, &[sps(), pps(), idr(3000)]),
    );
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].timestamp, 6000);
    assert!(units[0].complete);
    assert_eq!(receiver.stats().dropped_incomplete, 1);
    assert!(!receiver.needs_keyframe());
}

#[test]
fn unit_after_gap_not_starting_at_macroblock_zero_is_dropped() {
    let mut receiver = H264Depacketizer::new();
    assert!(receiver.push(1, 0, true, &idr(20)).expect("ok").is_some());
    // Packet 2 (the first slice of the next picture) is lost; packet 3 holds
    // a slice with first_mb_in_slice != 0 (first bit 0).
    let second_slice = [0x41, 0x08, 0x11, 0x22];
    assert_eq!(receiver.push(3, 3000, true, &second_slice), Ok(None));
    assert!(receiver.needs_keyframe());
    assert_eq!(receiver.stats().dropped_incomplete, 1);
}

#[test]
fn whole_lost_frame_keeps_keyframe_request_until_idr() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    feed(&mut receiver, &sender.send(0, &[idr(100)]));
    sender.send(3000, &[slice(100)]); // lost entirely
    let units = feed(&mut receiver, &sender.send(6000, &[slice(100)]));
    assert!(units[0].complete, "the picture itself arrived whole");
    assert!(receiver.needs_keyframe(), "but its reference was lost");
    feed(&mut receiver, &sender.send(9000, &[idr(100)]));
    assert!(!receiver.needs_keyframe());
}

#[test]
fn incomplete_idr_does_not_clear_keyframe_request() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    feed(&mut receiver, &sender.send(0, &[idr(100)]));
    let damaged = without(sender.send(3000, &[idr(5000)]), 2);
    assert!(feed(&mut receiver, &damaged).is_empty());
    assert!(receiver.needs_keyframe());
    assert_eq!(receiver.stats().keyframes, 1);
}

#[test]
fn truncated_stap_a_makes_unit_incomplete() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(1, 0, false, &sps()), Ok(None));
    let truncated = [0x78, 0x00, 0x09, 0x68, 0x01];
    assert_eq!(
        receiver.push(2, 0, false, &truncated),
        Err(DepacketizeError::TruncatedStapA { offset: 1 })
    );
    assert!(receiver.needs_keyframe());
    assert_eq!(receiver.push(3, 0, true, &idr(40)), Ok(None));
    let stats = receiver.stats();
    assert_eq!(
        (stats.malformed, stats.dropped_incomplete, stats.frames),
        (1, 1, 0)
    );
}

#[test]
fn oversized_unit_is_dropped_with_bounded_memory() {
    let config = DepacketizerConfig {
        max_access_unit_bytes: 10_000,
        ..DepacketizerConfig::default()
    };
    let mut receiver = H264Depacketizer::with_config(config);
    let mut sender = Sender::new(H264Packetizer::default());
    let (units, errors) = feed_lossy(&mut receiver, &sender.send(0, &[idr(50_000)]));
    assert!(units.is_empty());
    assert_eq!(
        errors,
        vec![DepacketizeError::AccessUnitTooLarge { limit: 10_000 }]
    );
    assert!(receiver.needs_keyframe());
    assert_eq!(receiver.stats().oversized, 1);
    assert_eq!(receiver.stats().dropped_incomplete, 1);
    let units = feed(&mut receiver, &sender.send(3000, &[idr(9000)]));
    assert!(units[0].complete);
    assert!(!receiver.needs_keyframe());
}

#[test]
fn empty_padding_payload_keeps_sequence_continuity() {
    let mut receiver = H264Depacketizer::new();
    assert!(receiver.push(1, 0, true, &idr(10)).expect("ok").is_some());
    assert_eq!(
        receiver.push(2, 0, false, &[]),
        Err(DepacketizeError::EmptyPayload)
    );
    assert!(receiver
        .push(3, 3000, true, &slice(10))
        .expect("ok")
        .is_some());
    assert!(!receiver.needs_keyframe());
    assert_eq!(receiver.stats().empty_payloads, 1);
    assert_eq!(receiver.stats().malformed, 0);
}

#[test]
fn reset_forgets_sequence_state() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(1, 0, false, &idr(10)), Ok(None));
    receiver.reset();
    assert!(receiver
        .push(500, 9000, true, &idr(10))
        .expect("ok")
        .is_some());
    assert!(!receiver.needs_keyframe());
}
