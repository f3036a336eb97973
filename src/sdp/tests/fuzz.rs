//! Robustness: random bytes and mutated real SDPs must never panic the
//! parser or the negotiation, and whatever parses must round-trip.

use super::super::{accept_answer, answer_offer, build_offer, LocalMedia, SessionDescription};
use super::samples;

/// xorshift64*: deterministic, dependency-free pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that are likely to hit parser edge cases.
const INTERESTING: &[u8] = b"=:/ \r\n\t0123456789vosctmabIP46.-";

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        let byte = if rng.below(2) == 0 {
            INTERESTING[rng.below(INTERESTING.len())]
        } else {
            rng.next() as u8
        };
        match rng.below(5) {
            0 if at < bytes.len() => bytes[at] = byte,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, byte),
            3 => bytes.truncate(at),
            _ => {
                // Duplicate or drop a whole line.
                let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
                let pick = rng.below(lines.len());
                let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                if rng.below(2) == 0 {
                    out.insert(pick, lines[pick].to_vec());
                } else {
                    out.remove(pick);
                }
                bytes = out.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn local() -> LocalMedia {
    LocalMedia::new("192.0.2.50".parse().unwrap(), 42, 20000)
}

fn local_with_video() -> LocalMedia {
    let mut local = local();
    local.video_port = Some(20002);
    local
}

/// Parses `text`; if it parses, checks the round trip and that answering it
/// (and accepting it as an answer), with and without video, does not panic.
fn exercise(text: &str) -> bool {
    let Ok(parsed) = SessionDescription::parse(text) else {
        return false;
    };
    let printed = parsed.to_string();
    let reparsed = SessionDescription::parse(&printed)
        .unwrap_or_else(|e| panic!("printed SDP does not parse: {e}\n{printed}"));
    assert_eq!(parsed, reparsed, "round trip of {text:?}");
    for local in [local(), local_with_video()] {
        if let Ok((answer, negotiated)) = answer_offer(&parsed, &local) {
            assert_eq!(answer.media.len(), parsed.media.len());
            assert!(!negotiated.is_empty());
            assert!(SessionDescription::parse(&answer.to_string()).is_ok());
        }
        let _ = accept_answer(&build_offer(&local), &parsed);
    }
    true
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(3) {
                0 => INTERESTING[rng.below(INTERESTING.len())],
                _ => rng.next() as u8,
            })
            .collect();
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_lines_never_panic() {
    let mut rng = Rng(7);
    for _ in 0..3000 {
        let mut text = String::from("v=0\n");
        for _ in 0..rng.below(12) {
            let kind = char::from(b'a' + rng.below(26) as u8);
            let len = rng.below(30);
            let value: String = (0..len)
                .map(|_| char::from(INTERESTING[rng.below(INTERESTING.len())]))
                .filter(|c| *c != '\n')
                .collect();
            text.push_str(&format!("{kind}={value}\n"));
        }
        exercise(&text);
    }
}

#[test]
fn mutated_samples_never_panic_and_round_trip() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let mut parsed = 0;
    for round in 0..6000 {
        let (_, sample) = samples::ALL[round % samples::ALL.len()];
        let text = mutate(&mut rng, sample);
        if exercise(&text) {
            parsed += 1;
        }
    }
    // The mutations must leave enough valid input to exercise the printer
    // and the negotiation, not only the error paths.
    assert!(parsed > 1000, "only {parsed} mutated samples parsed");
}
