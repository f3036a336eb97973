//! Packetizer tests (RFC 6184 §5.6, §5.7.1, §5.8).

use super::super::{
    split_annex_b, write_annex_b, H264Packetizer, PacketizeError, RtpPayloads, DEFAULT_MTU, FU_A,
    MIN_MTU, STAP_A,
};
use super::{idr, nal, pps, slice, sps};

fn payloads_of(packetizer: &mut H264Packetizer, nals: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = RtpPayloads::new();
    let marker = packetizer.packetize(nals, &mut out).expect("packetize");
    assert_eq!(marker, out.len().checked_sub(1));
    out.iter().map(<[u8]>::to_vec).collect()
}

/// Splits a STAP-A payload into its NAL units.
fn stap_a_units(payload: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(payload[0] & 0x1F, STAP_A);
    let mut units = Vec::new();
    let mut rest = &payload[1..];
    while !rest.is_empty() {
        let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        units.push(rest[2..2 + size].to_vec());
        rest = &rest[2 + size..];
    }
    units
}

#[test]
fn default_mtu_is_1200() {
    assert_eq!(H264Packetizer::default().mtu(), DEFAULT_MTU);
    assert_eq!(DEFAULT_MTU, 1200);
}

#[test]
fn small_nals_are_single_nal_unit_packets_without_aggregation() {
    let mut packetizer = H264Packetizer::default().with_aggregation(false);
    let nals = vec![nal(0x06, 20), slice(100), slice(200)];
    assert_eq!(payloads_of(&mut packetizer, &nals), nals);
}

#[test]
fn small_nals_are_aggregated_into_stap_a() {
    let mut packetizer = H264Packetizer::new(300).expect("mtu");
    let nals = vec![nal(0x06, 20), nal(0x21, 100), slice(150), slice(250)];
    let payloads = payloads_of(&mut packetizer, &nals);
    assert_eq!(payloads.len(), 2);
    // F = OR, NRI = max of the aggregated headers (0x06 NRI 0, 0x41 NRI 2).
    assert_eq!(payloads[0][0], 0x40 | STAP_A);
    assert_eq!(stap_a_units(&payloads[0]), nals[..3].to_vec());
    assert_eq!(payloads[1], nals[3]);
}

#[test]
fn large_nal_is_fragmented_into_fu_a() {
    let mut packetizer = H264Packetizer::new(500).expect("mtu");
    let unit = idr(2000);
    let payloads = payloads_of(&mut packetizer, std::slice::from_ref(&unit));
    assert_eq!(payloads.len(), 5);
    let mut rebuilt = vec![unit[0]];
    for (index, payload) in payloads.iter().enumerate() {
        assert_eq!(payload[0], 0x60 | FU_A, "FU indicator keeps F/NRI");
        let start = index == 0;
        let end = index == payloads.len() - 1;
        assert_eq!(payload[1] & 0x80 != 0, start);
        assert_eq!(payload[1] & 0x40 != 0, end);
        assert_eq!(payload[1] & 0x1F, 5, "FU header carries the original type");
        assert!(payload.len() <= 500);
        rebuilt.extend_from_slice(&payload[2..]);
    }
    assert_eq!(rebuilt, unit);
    // Near-equal fragment sizes.
    let sizes: Vec<usize> = payloads.iter().map(Vec::len).collect();
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
}

#[test]
fn every_payload_respects_the_mtu() {
    for mtu in [MIN_MTU, 4, 7, 50, 101, 576, 1200, 1500] {
        for aggregate in [false, true] {
            let mut packetizer = H264Packetizer::new(mtu)
                .expect("mtu")
                .with_aggregation(aggregate);
            let nals = vec![
                sps(),
                pps(),
                nal(0x06, 3),
                idr(1),
                idr(mtu),
                idr(mtu + 1),
                idr(10_000),
                slice(2),
            ];
            for payload in payloads_of(&mut packetizer, &nals) {
                assert!(!payload.is_empty() && payload.len() <= mtu, "mtu {mtu}");
            }
        }
    }
}

#[test]
fn remembered_sps_pps_are_inserted_before_idr() {
    let mut packetizer = H264Packetizer::default();
    payloads_of(&mut packetizer, &[sps(), pps(), idr(3000)]);
    payloads_of(&mut packetizer, &[slice(500)]);
    let payloads = payloads_of(&mut packetizer, &[idr(3000)]);
    // SPS + PPS aggregated into one STAP-A, then the IDR as FU-A.
    assert_eq!(stap_a_units(&payloads[0]), vec![sps(), pps()]);
    assert_eq!(payloads[0][0], 0x60 | STAP_A);
    assert_eq!(payloads[1][0] & 0x1F, FU_A);
    assert_eq!(payloads[1][1], 0x80 | 5);
}

#[test]
fn parameter_sets_go_after_aud_and_sei_before_first_slice() {
    let mut packetizer = H264Packetizer::default().with_aggregation(false);
    packetizer.set_parameter_sets(&sps(), &pps());
    let aud = nal(0x09, 2);
    let sei = nal(0x06, 8);
    let payloads = payloads_of(&mut packetizer, &[aud.clone(), sei.clone(), idr(100)]);
    assert_eq!(payloads, vec![aud, sei, sps(), pps(), idr(100)]);
}

#[test]
fn only_missing_parameter_set_is_inserted() {
    let mut packetizer = H264Packetizer::default().with_aggregation(false);
    packetizer.set_parameter_sets(&sps(), &pps());
    let new_sps = nal(0x67, 20);
    let payloads = payloads_of(&mut packetizer, &[new_sps.clone(), idr(50)]);
    assert_eq!(payloads, vec![new_sps.clone(), pps(), idr(50)]);
    // The new SPS is remembered from now on.
    let payloads = payloads_of(&mut packetizer, &[idr(50)]);
    assert_eq!(payloads, vec![new_sps, pps(), idr(50)]);
}

#[test]
fn nothing_is_inserted_without_idr_or_without_known_parameter_sets() {
    let mut packetizer = H264Packetizer::default().with_aggregation(false);
    assert_eq!(payloads_of(&mut packetizer, &[idr(80)]), vec![idr(80)]);
    packetizer.set_parameter_sets(&sps(), &pps());
    assert_eq!(payloads_of(&mut packetizer, &[slice(80)]), vec![slice(80)]);
    let complete = vec![sps(), pps(), idr(80)];
    assert_eq!(payloads_of(&mut packetizer, &complete), complete);
}

#[test]
fn annex_b_input_matches_nal_input() {
    let nals = vec![sps(), pps(), idr(5000), idr(700)];
    let mut stream = Vec::new();
    write_annex_b(&nals, &mut stream);
    let mut from_nals = H264Packetizer::default();
    let mut from_stream = H264Packetizer::default();
    let mut expected = RtpPayloads::new();
    let mut actual = RtpPayloads::new();
    from_nals.packetize(&nals, &mut expected).expect("nals");
    let marker = from_stream
        .packetize_annex_b(&stream, &mut actual)
        .expect("annex b");
    assert_eq!(actual, expected);
    assert_eq!(marker, Some(actual.len() - 1));
    assert_eq!(split_annex_b(&stream).count(), 4);
}

#[test]
fn marker_is_on_the_last_payload_and_empty_input_gives_none() {
    let mut packetizer = H264Packetizer::default();
    let mut out = RtpPayloads::new();
    let marker = packetizer
        .packetize(&[slice(3000)], &mut out)
        .expect("packetize");
    assert_eq!(marker, Some(2));
    let markers: Vec<bool> = out.iter_with_marker().map(|(_, m)| m).collect();
    assert_eq!(markers, vec![false, false, true]);
    let empty: [&[u8]; 1] = [&[]];
    assert_eq!(packetizer.packetize(&empty, &mut out), Ok(None));
    assert!(out.is_empty());
}

#[test]
fn payload_arena_is_reused_without_growing() {
    let mut packetizer = H264Packetizer::default();
    let mut out = RtpPayloads::new();
    let nals = vec![idr(20_000)];
    packetizer.packetize(&nals, &mut out).expect("first");
    let first = out.clone();
    for _ in 0..10 {
        packetizer.packetize(&nals, &mut out).expect("again");
    }
    assert_eq!(out, first);
    assert_eq!(out.get(out.len()), None);
    assert_eq!(
        out.total_bytes(),
        out.iter().map(<[u8]>::len).sum::<usize>()
    );
}

#[test]
fn invalid_input_is_rejected() {
    assert_eq!(
        H264Packetizer::new(2),
        Err(PacketizeError::MtuTooSmall { mtu: 2 })
    );
    let mut packetizer = H264Packetizer::default();
    let mut out = RtpPayloads::new();
    for bad_type in [0u8, 24, 28, 30, 31] {
        let nals = vec![slice(10), vec![0x60 | bad_type, 1, 2]];
        assert_eq!(
            packetizer.packetize(&nals, &mut out),
            Err(PacketizeError::InvalidNalType {
                index: 1,
                nal_type: bad_type
            })
        );
        assert!(out.is_empty());
    }
}

#[test]
fn single_nal_unit_mode_sends_each_nal_whole() {
    // RFC 6184 §6.2: packetization-mode=0 allows single NAL unit packets only.
    let mut packetizer = H264Packetizer::single_nal_units();
    assert!(packetizer.sends_single_nal_units_only());
    let nals = vec![
        sps(),
        pps(),
        idr(900),
        slice(1100),
        slice(DEFAULT_MTU + 300),
    ];
    let payloads = payloads_of(&mut packetizer, &nals);
    assert_eq!(
        payloads, nals,
        "one payload per NAL, none aggregated or fragmented"
    );
    // SPS/PPS are still re-sent before an IDR that lacks them, each on its own.
    let payloads = payloads_of(&mut packetizer, &[idr(400)]);
    let types: Vec<u8> = payloads.iter().map(|p| p[0] & 0x1F).collect();
    assert_eq!(types, vec![7, 8, 5]);
}
