//! Packetize → depacketize round trips and access unit boundaries
//! (RFC 6184 §5.1, §5.6, §5.7.1, §5.8).

use super::super::{write_annex_b, H264Depacketizer, H264Packetizer, STAP_A};
use super::{feed, idr, nal, nals_of, pps, slice, sps, Packet, Sender};

#[test]
fn small_nals_round_trip_with_and_without_aggregation() {
    for aggregate in [false, true] {
        let mut sender = Sender::new(H264Packetizer::default().with_aggregation(aggregate));
        let mut receiver = H264Depacketizer::new();
        let frames = [
            vec![sps(), pps(), idr(300)],
            vec![slice(120), slice(80)],
            vec![nal(0x06, 9), slice(40)],
        ];
        for (index, frame) in frames.iter().enumerate() {
            let timestamp = 3000 * index as u32;
            let units = feed(&mut receiver, &sender.send(timestamp, frame));
            assert_eq!(units.len(), 1);
            assert_eq!(units[0].timestamp, timestamp);
            assert!(units[0].complete);
            assert_eq!(units[0].keyframe, index == 0);
            assert_eq!(nals_of(&units[0]), *frame);
            let mut annex_b = Vec::new();
            write_annex_b(frame, &mut annex_b);
            assert_eq!(units[0].annex_b(), annex_b.as_slice());
        }
        assert_eq!(receiver.stats().frames, 3);
        assert!(!receiver.needs_keyframe());
    }
}

#[test]
fn ten_kilobyte_idr_round_trips_through_fu_a() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    let frame = vec![sps(), pps(), idr(10_240)];
    let packets = sender.send(90_000, &frame);
    assert_eq!(packets.len(), 10, "1 STAP-A + 9 FU-A");
    assert!(packets.iter().all(|p| p.payload.len() <= 1200));
    let units = feed(&mut receiver, &packets);
    assert_eq!(units.len(), 1);
    assert!(units[0].keyframe && units[0].complete);
    assert_eq!(nals_of(&units[0]), frame);
    assert_eq!(units[0].nal_count(), 3);
    assert_eq!(receiver.stats().keyframes, 1);
}

#[test]
fn hand_built_stap_a_is_split() {
    let mut payload = vec![0x78];
    for unit in [sps(), pps(), idr(30)] {
        payload.extend_from_slice(&(unit.len() as u16).to_be_bytes());
        payload.extend_from_slice(&unit);
    }
    assert_eq!(payload[0] & 0x1F, STAP_A);
    let mut receiver = H264Depacketizer::new();
    let unit = receiver
        .push(1, 0, true, &payload)
        .expect("valid")
        .expect("marker ends the unit");
    assert_eq!(nals_of(&unit), vec![sps(), pps(), idr(30)]);
    assert!(unit.keyframe);
}

#[test]
fn frames_round_trip_across_sequence_wrap() {
    let mut sender = Sender::new(H264Packetizer::new(400).expect("mtu"));
    sender.seq = 65_530;
    let mut receiver = H264Depacketizer::new();
    let mut total = 0;
    for index in 0..6u32 {
        let frame = if index == 0 {
            vec![idr(3000)]
        } else {
            vec![slice(900)]
        };
        total += feed(&mut receiver, &sender.send(index * 3000, &frame)).len();
    }
    assert_eq!(total, 6);
    assert_eq!(receiver.stats().dropped_incomplete, 0);
    assert!(!receiver.needs_keyframe());
}

#[test]
fn timestamp_change_closes_a_unit_without_marker() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(10, 100, false, &idr(50)), Ok(None));
    let unit = receiver
        .push(11, 200, false, &slice(20))
        .expect("valid")
        .expect("timestamp change closes the first unit");
    assert_eq!((unit.timestamp, unit.complete), (100, true));
    let last = receiver.flush().expect("flush closes the open unit");
    assert_eq!((last.timestamp, nals_of(&last)), (200, vec![slice(20)]));
    assert_eq!(receiver.flush(), None);
}

#[test]
fn one_push_can_finish_two_units() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(1, 100, false, &idr(50)), Ok(None));
    let first = receiver.push(2, 200, true, &slice(20)).expect("valid");
    assert_eq!(first.map(|u| u.timestamp), Some(100));
    assert_eq!(receiver.pop_ready().map(|u| u.timestamp), Some(200));
    assert_eq!(receiver.pop_ready(), None);
}

#[test]
fn duplicate_packet_is_ignored() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(5, 0, false, &idr(40)), Ok(None));
    assert_eq!(receiver.push(5, 0, false, &idr(40)), Ok(None));
    let unit = receiver
        .push(6, 0, true, &idr(40))
        .expect("ok")
        .expect("unit");
    assert_eq!(unit.nal_count(), 2);
    assert_eq!(receiver.stats().duplicates, 1);
}

#[test]
fn recycled_buffers_are_reused() {
    let mut sender = Sender::new(H264Packetizer::default());
    let mut receiver = H264Depacketizer::new();
    let packets: Vec<Packet> = sender.send(0, &[idr(5000)]);
    let unit = feed(&mut receiver, &packets).remove(0);
    let capacity = unit.annex_b().len();
    receiver.recycle(unit);
    let again = feed(&mut receiver, &sender.send(3000, &[slice(100)])).remove(0);
    assert_eq!(nals_of(&again), vec![slice(100)]);
    assert!(again.into_annex_b().capacity() >= capacity);
}
