//! Fuzz-style robustness tests: random and mutated payloads never panic, and
//! random access units round-trip within the MTU.

use super::super::{DepacketizerConfig, H264Depacketizer, H264Packetizer, RtpPayloads};
use super::{feed, idr, nal, nals_of, pps, slice, sps, Sender};

/// xorshift64* PRNG: deterministic, dependency-free.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Valid payloads to mutate: single NAL, STAP-A and FU-A packets.
fn seed_payloads() -> Vec<Vec<u8>> {
    let mut packetizer = H264Packetizer::new(200).expect("mtu");
    let mut out = RtpPayloads::new();
    let mut seeds = Vec::new();
    let frames = [
        vec![sps(), pps(), idr(900)],
        vec![slice(150), slice(30)],
        vec![nal(0x06, 10), nal(0x09, 2), slice(500)],
    ];
    for frame in &frames {
        packetizer.packetize(frame, &mut out).expect("packetize");
        seeds.extend(out.iter().map(<[u8]>::to_vec));
    }
    seeds
}

fn mutate(rng: &mut XorShift, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(48)).map(|_| rng.byte()).collect(),
        1 => {
            let mut payload = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                if !payload.is_empty() {
                    let index = rng.below(payload.len().min(8));
                    payload[index] ^= 1 << rng.below(8);
                }
            }
            payload
        }
        2 => {
            let mut payload = seeds[rng.below(seeds.len())].clone();
            payload.truncate(rng.below(payload.len() + 1));
            payload
        }
        _ => seeds[rng.below(seeds.len())].clone(),
    }
}

#[test]
fn twenty_thousand_random_and_mutated_payloads_never_panic() {
    let seeds = seed_payloads();
    for (seed, config) in [
        (0x9E37_79B9_7F4A_7C15, DepacketizerConfig::default()),
        (
            0xD1B5_4A32_D192_ED03,
            DepacketizerConfig {
                max_access_unit_bytes: 700,
                emit_incomplete: true,
            },
        ),
    ] {
        let mut rng = XorShift(seed);
        let mut receiver = H264Depacketizer::with_config(config);
        let (mut seq, mut timestamp) = (0u16, 0u32);
        let mut errors = 0u64;
        for _ in 0..20_000 {
            let payload = mutate(&mut rng, &seeds);
            seq = match rng.below(20) {
                0 => seq.wrapping_add(rng.below(5) as u16),
                1 => rng.next() as u16,
                _ => seq.wrapping_add(1),
            };
            if rng.chance(15) {
                timestamp = timestamp.wrapping_add(3000);
            }
            let marker = rng.chance(20);
            match receiver.push(seq, timestamp, marker, &payload) {
                Ok(first) => {
                    let rest: Vec<_> = std::iter::from_fn(|| receiver.pop_ready()).collect();
                    for unit in first.into_iter().chain(rest) {
                        assert!(config.emit_incomplete || unit.complete);
                        assert!(unit.annex_b().len() <= config.max_access_unit_bytes);
                        assert_eq!(unit.nals().count(), unit.nal_count());
                        receiver.recycle(unit);
                    }
                }
                Err(error) => {
                    errors += 1;
                    assert!(!error.to_string().is_empty());
                }
            }
            let _ = receiver.needs_keyframe();
        }
        let stats = receiver.stats();
        assert!(errors > 1000 && stats.frames > 100, "{stats:?}");
        assert_eq!(
            errors,
            stats.malformed + stats.oversized + stats.empty_payloads
        );
    }
}

#[test]
fn random_access_units_round_trip_within_mtu() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    for _ in 0..60 {
        let mtu = 3 + rng.below(1500);
        let packetizer = H264Packetizer::new(mtu)
            .expect("mtu")
            .with_aggregation(rng.chance(50));
        let mut sender = Sender::new(packetizer);
        sender.seq = rng.next() as u16;
        let mut receiver = H264Depacketizer::new();
        for frame_index in 0..8u32 {
            let mut frame = Vec::new();
            if frame_index % 4 == 0 {
                frame.extend([sps(), pps(), idr(2 + rng.below(6000))]);
            }
            for _ in 0..rng.below(4) {
                let header = [0x41, 0x01, 0x06, 0x0C][rng.below(4)];
                frame.push(nal(header, 1 + rng.below(3000)));
            }
            if frame.is_empty() {
                frame.push(slice(1 + rng.below(100)));
            }
            let packets = sender.send(frame_index * 3000, &frame);
            assert!(packets.iter().all(|p| p.payload.len() <= mtu), "mtu {mtu}");
            let units = feed(&mut receiver, &packets);
            assert_eq!(units.len(), 1);
            assert_eq!(nals_of(&units[0]), frame);
            assert_eq!(units[0].keyframe, frame_index % 4 == 0);
        }
        assert_eq!(receiver.stats().dropped_incomplete, 0);
    }
}
