//! Malformed and unsupported payloads return typed errors (RFC 6184 §5.2
//! Table 1, §5.7.1, §5.8) and are counted, never panicking.

use super::super::{DepacketizeError, H264Depacketizer};
use DepacketizeError::*;

fn push_one(payload: &[u8]) -> Result<(), DepacketizeError> {
    let mut receiver = H264Depacketizer::new();
    receiver.push(1, 0, true, payload).map(|_| ())
}

#[test]
fn every_malformed_case_returns_its_error() {
    let cases: &[(&[u8], DepacketizeError)] = &[
        (&[], EmptyPayload),
        (&[0x80 | 0x41, 1], ForbiddenBitSet),
        (&[0x00, 1], ReservedNalType(0)),
        (&[0x1E, 1], ReservedNalType(30)),
        (&[0x1F, 1], ReservedNalType(31)),
        (&[0x19, 0, 1, 0x41], UnsupportedPacketType(25)), // STAP-B
        (&[0x1A, 0, 0, 1, 0x41], UnsupportedPacketType(26)), // MTAP16
        (&[0x1B, 0, 0, 1, 0x41], UnsupportedPacketType(27)), // MTAP24
        (&[0x1D, 0x85, 0, 0, 1], UnsupportedPacketType(29)), // FU-B
        (&[0x7C], TruncatedFuA { len: 1 }),
        (&[0x7C, 0xC5, 1], FuAStartAndEnd),
        (&[0x7C, 0x80, 1], InvalidFragmentedType(0)),
        (&[0x7C, 0x9C, 1], InvalidFragmentedType(28)),
        (&[0x7C, 0x98, 1], InvalidFragmentedType(24)),
        (&[0x78], TruncatedStapA { offset: 1 }),
        (&[0x78, 0x00], TruncatedStapA { offset: 1 }),
        (&[0x78, 0x00, 0x05, 0x67, 1], TruncatedStapA { offset: 1 }),
        (
            &[0x78, 0x00, 0x01, 0x67, 0x00],
            TruncatedStapA { offset: 4 },
        ),
        (
            &[0x78, 0x00, 0x00, 0x00, 0x01, 0x67],
            EmptyStapAUnit { offset: 1 },
        ),
        (&[0x78, 0x00, 0x02, 0xE7, 1], ForbiddenBitSet),
        (&[0x78, 0x00, 0x02, 0x1F, 1], ReservedNalType(31)),
        (&[0x78, 0x00, 0x02, 0x7C, 1], UnsupportedPacketType(28)),
    ];
    for (payload, expected) in cases {
        assert_eq!(push_one(payload), Err(expected.clone()), "{payload:02x?}");
        assert!(!expected.to_string().is_empty());
    }
}

#[test]
fn malformed_packets_are_counted_and_treated_as_loss() {
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(1, 0, false, &[0x67, 1, 2]), Ok(None));
    assert_eq!(
        receiver.push(2, 0, false, &[0x7C]),
        Err(TruncatedFuA { len: 1 })
    );
    assert_eq!(
        receiver.push(3, 0, false, &[0x1F]),
        Err(ReservedNalType(31))
    );
    assert_eq!(receiver.push(4, 0, true, &[0x65, 0x88]), Ok(None));
    let stats = receiver.stats();
    assert_eq!(stats.malformed, 2);
    assert_eq!(stats.dropped_incomplete, 1);
    assert!(receiver.needs_keyframe());
}

#[test]
fn valid_edge_payloads_are_accepted() {
    // FU-A start fragment with no data bytes, then its end.
    let mut receiver = H264Depacketizer::new();
    assert_eq!(receiver.push(1, 0, false, &[0x7C, 0x85]), Ok(None));
    // The head check cannot see first_mb_in_slice: a unit at stream start
    // whose first slice byte is missing counts as incomplete.
    assert_eq!(receiver.push(2, 0, true, &[0x7C, 0x45, 0x88]), Ok(None));
    assert_eq!(receiver.stats().malformed, 0);
    // A single-byte NAL unit (header only) is a valid single NAL unit packet.
    let unit = receiver
        .push(3, 10, true, &[0x09])
        .expect("ok")
        .expect("unit");
    assert_eq!(unit.nals().collect::<Vec<_>>(), vec![&[0x09][..]]);
}
