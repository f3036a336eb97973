//! NAL unit helper tests (H.264 §7.3.1, Annex B).

use super::super::nal::{forbidden_bit_set, nal_ref_idc};
use super::super::{is_keyframe_access_unit, nal_type, split_annex_b, write_annex_b, NalType};
use super::{idr, pps, slice, sps};

#[test]
fn nal_type_maps_known_and_other_types() {
    assert_eq!(nal_type(0x41), NalType::Slice);
    assert_eq!(nal_type(0x65), NalType::Idr);
    assert_eq!(nal_type(0x06), NalType::Sei);
    assert_eq!(nal_type(0x67), NalType::Sps);
    assert_eq!(nal_type(0x68), NalType::Pps);
    assert_eq!(nal_type(0x09), NalType::Aud);
    assert_eq!(nal_type(0x78), NalType::StapA);
    assert_eq!(nal_type(0x7C), NalType::FuA);
    assert_eq!(nal_type(0x0C), NalType::Other(12));
    for bits in 0..32u8 {
        assert_eq!(NalType::from(bits).type_bits(), bits);
    }
    assert!(NalType::Other(2).is_vcl() && NalType::Idr.is_vcl() && !NalType::Sps.is_vcl());
    assert_eq!(nal_ref_idc(0x65), 3);
    assert!(forbidden_bit_set(0x80) && !forbidden_bit_set(0x7F));
}

#[test]
fn split_annex_b_handles_three_and_four_byte_start_codes() {
    let stream = [
        0, 0, 0, 1, 0x67, 1, 2, // 4-byte start code
        0, 0, 1, 0x68, 3, // 3-byte start code
        0, 0, 1, // empty unit, skipped
        0, 0, 0, 1, 0x65, 4, 5, 0, 0, // trailing zeros stripped
    ];
    let units: Vec<&[u8]> = split_annex_b(&stream).collect();
    assert_eq!(
        units,
        vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
    );
}

#[test]
fn split_annex_b_edge_cases() {
    assert_eq!(split_annex_b(&[]).count(), 0);
    assert_eq!(split_annex_b(&[0, 0, 0, 1]).count(), 0);
    assert_eq!(split_annex_b(&[0, 0, 0, 0]).count(), 0);
    // A bare NAL unit without start code is passed through.
    let bare: Vec<&[u8]> = split_annex_b(&[0x41, 9, 9]).collect();
    assert_eq!(bare, vec![&[0x41, 9, 9][..]]);
    let truncated: Vec<&[u8]> = split_annex_b(&[0, 0, 1, 0x41, 0, 0]).collect();
    assert_eq!(truncated, vec![&[0x41][..]]);
}

#[test]
fn write_then_split_round_trips() {
    let nals = vec![sps(), pps(), Vec::new(), idr(300), slice(40)];
    let mut stream = Vec::new();
    write_annex_b(&nals, &mut stream);
    assert_eq!(&stream[..5], &[0, 0, 0, 1, 0x67]);
    let split: Vec<Vec<u8>> = split_annex_b(&stream).map(<[u8]>::to_vec).collect();
    let expected: Vec<Vec<u8>> = nals.into_iter().filter(|n| !n.is_empty()).collect();
    assert_eq!(split, expected);
}

#[test]
fn keyframe_access_unit_requires_idr_slice() {
    assert!(is_keyframe_access_unit([sps(), pps(), idr(10)]));
    assert!(!is_keyframe_access_unit([sps(), pps(), slice(10)]));
    assert!(!is_keyframe_access_unit(Vec::<Vec<u8>>::new()));
    assert!(is_keyframe_access_unit([&[][..], &[0x25u8][..]]));
}
