//! What the load generator's non-talkers send (`--listener-sound silence|noise|speech LEVEL`):
//! digital silence (one pre-encoded packet, the default), white noise, or speech-like sound —
//! noise shaped to the speech band (one-pole high-pass at 300 Hz, two one-pole low-passes at
//! 3.4 kHz) under a 4 Hz syllabic envelope. Noise and speech are scaled to LEVEL dBFS RMS
//! (as `talk::level_dbfs` measures it) over the loop, one second (50 frames) encoded once at
//! start; each listener starts at its own point of the loop, so that listeners are not
//! coherent and their sum grows like that of independent voices.

use crate::media::audio::codec::{AudioEncoder, CodecError, FRAME_SAMPLES, MIX_RATE};
use rand::{Rng, SeedableRng};
use std::f64::consts::{PI, TAU};
use std::fmt;

/// LEVEL when `--listener-sound noise` or `speech` gives none.
pub const DEFAULT_LEVEL_DBFS: f32 = -24.0;
/// Levels a listener sound may ask for: louder ones would clip their peaks.
pub const LEVELS_DBFS: std::ops::RangeInclusive<f32> = -70.0..=-10.0;
/// Frames in the noise and speech loops (1 s).
pub const LOOP_FRAMES: usize = 50;
/// The syllabic rate of the speech envelope; it divides the loop, which therefore joins up.
const SYLLABLES_HZ: f64 = 4.0;
/// The envelope's floor between syllables, relative to its peak (about −16 dB).
const ENVELOPE_FLOOR: f64 = 0.15;
const SPEECH_LOW_HZ: f64 = 300.0;
const SPEECH_HIGH_HZ: f64 = 3400.0;

/// What non-talkers send.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ListenerSound {
    /// Digital silence, one pre-encoded packet.
    #[default]
    Silence,
    /// White noise at `level_dbfs` RMS.
    Noise { level_dbfs: f32 },
    /// Speech-band noise with a syllabic envelope at `level_dbfs` RMS over the loop.
    Speech { level_dbfs: f32 },
}

impl ListenerSound {
    /// From the flag's one or two values: `silence`, `noise [LEVEL]`, `speech [LEVEL]`, or
    /// one value `noise:LEVEL`. LEVEL is in dBFS (`-24`, `-24dBFS`).
    pub fn from_args<S: AsRef<str>>(values: &[S]) -> Result<Self, String> {
        let (kind, level) = match values {
            [one] => match one.as_ref().split_once(':') {
                Some((kind, level)) => (kind, Some(level)),
                None => (one.as_ref(), None),
            },
            [kind, level] => (kind.as_ref(), Some(level.as_ref())),
            _ => return Err("--listener-sound takes SOUND [LEVEL]".into()),
        };
        let level = level.map(parse_level).transpose()?;
        match (kind.trim(), level) {
            ("silence", None) => Ok(Self::Silence),
            ("silence", Some(_)) => Err("--listener-sound silence takes no level".into()),
            ("noise", level) => Ok(Self::Noise {
                level_dbfs: level.unwrap_or(DEFAULT_LEVEL_DBFS),
            }),
            ("speech", level) => Ok(Self::Speech {
                level_dbfs: level.unwrap_or(DEFAULT_LEVEL_DBFS),
            }),
            (other, _) => Err(format!(
                "unknown listener sound {other:?}: expected silence, noise or speech"
            )),
        }
    }

    /// The loop's frames of PCM at 48 kHz: one silent frame, or [`LOOP_FRAMES`] of sound.
    pub fn frames(&self) -> Vec<Vec<i16>> {
        let (shaped, level) = match *self {
            Self::Silence => return vec![vec![0; FRAME_SAMPLES]],
            Self::Noise { level_dbfs } => (white_noise(), level_dbfs),
            Self::Speech { level_dbfs } => (speech_like(white_noise()), level_dbfs),
        };
        scale_to_level(&shaped, level)
            .chunks(FRAME_SAMPLES)
            .map(<[i16]>::to_vec)
            .collect()
    }

    /// The loop, Opus-encoded with `encoder`.
    pub fn encode(&self, encoder: &mut AudioEncoder) -> Result<Vec<Vec<u8>>, CodecError> {
        self.frames()
            .iter()
            .map(|frame| {
                let mut payload = Vec::new();
                encoder.encode(frame, &mut payload).map(|()| payload)
            })
            .collect()
    }
}

impl fmt::Display for ListenerSound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Silence => write!(f, "silence"),
            Self::Noise { level_dbfs } => write!(f, "noise {level_dbfs}"),
            Self::Speech { level_dbfs } => write!(f, "speech {level_dbfs}"),
        }
    }
}

/// Where listener `member` starts in a loop of `len` frames (7 is prime to the loop's 50, so
/// 50 consecutive listeners start at 50 different frames).
pub fn start_frame(member: usize, len: usize) -> usize {
    (member * 7) % len.max(1)
}

fn parse_level(text: &str) -> Result<f32, String> {
    let number = text.trim().trim_end_matches("dBFS").trim_end_matches("dB");
    number
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|level| LEVELS_DBFS.contains(level))
        .ok_or_else(|| {
            format!(
                "invalid listener level {text:?}: expected dBFS from {} to {}",
                LEVELS_DBFS.start(),
                LEVELS_DBFS.end()
            )
        })
}

/// One loop of uniform white noise in [-1, 1) (a fixed seed: every run sends the same).
fn white_noise() -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    (0..LOOP_FRAMES * FRAME_SAMPLES)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect()
}

/// `noise` band-limited to the speech band and shaped by the syllabic envelope.
fn speech_like(noise: Vec<f64>) -> Vec<f64> {
    let dt = 1.0 / f64::from(MIX_RATE);
    let rc_low = 1.0 / (TAU * SPEECH_LOW_HZ);
    let rc_high = 1.0 / (TAU * SPEECH_HIGH_HZ);
    let high_pass = rc_low / (rc_low + dt);
    let low_pass = dt / (rc_high + dt);
    let (mut previous_in, mut high, mut low1, mut low2) = (0.0, 0.0, 0.0, 0.0);
    noise
        .into_iter()
        .enumerate()
        .map(|(n, x)| {
            high = high_pass * (high + x - previous_in);
            previous_in = x;
            low1 += low_pass * (high - low1);
            low2 += low_pass * (low1 - low2);
            let syllable = (PI * SYLLABLES_HZ * n as f64 * dt).sin().powi(2);
            low2 * (ENVELOPE_FLOOR + (1.0 - ENVELOPE_FLOOR) * syllable)
        })
        .collect()
}

/// `signal` scaled so that its RMS over the whole loop is `level_dbfs` (full scale 32768).
fn scale_to_level(signal: &[f64], level_dbfs: f32) -> Vec<i16> {
    let rms = (signal.iter().map(|s| s * s).sum::<f64>() / signal.len().max(1) as f64).sqrt();
    let target = 32768.0 * 10f64.powf(f64::from(level_dbfs) / 20.0);
    let gain = if rms > 0.0 { target / rms } else { 0.0 };
    signal
        .iter()
        .map(|s| (s * gain).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::codec::{AudioDecoder, EncoderSettings};
    use crate::media::audio::talk::level_dbfs;
    use crate::media::audio::tone::goertzel_power;
    use crate::sdp::AudioCodec;

    /// The loop encoded and decoded again, frame by frame.
    fn through_opus(sound: ListenerSound) -> Vec<Vec<i16>> {
        let mut encoder =
            AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default()).expect("encoder");
        let mut decoder = AudioDecoder::new(AudioCodec::Opus).expect("decoder");
        let packets = sound.encode(&mut encoder).expect("encodes");
        // Twice round the loop, as listeners send it; the second round is measured (the
        // codecs have settled).
        let mut frames = Vec::new();
        for payload in packets.iter().chain(&packets) {
            let mut pcm = Vec::new();
            decoder.decode(payload, &mut pcm).expect("decodes");
            frames.push(pcm);
        }
        frames.split_off(packets.len())
    }

    fn loop_level(frames: &[Vec<i16>]) -> f32 {
        level_dbfs(&frames.concat())
    }

    #[test]
    fn noise_and_speech_decode_at_the_asked_level() {
        for level in [-24.0, -40.0] {
            for sound in [
                ListenerSound::Noise { level_dbfs: level },
                ListenerSound::Speech { level_dbfs: level },
            ] {
                let pcm = sound.frames().concat();
                assert!(
                    (level_dbfs(&pcm) - level).abs() < 0.1,
                    "{sound} before Opus"
                );
                let heard = loop_level(&through_opus(sound));
                assert!((heard - level).abs() <= 3.0, "{sound}: {heard:.1} dBFS");
            }
        }
    }

    #[test]
    fn silence_stays_digital_silence() {
        let frames = through_opus(ListenerSound::Silence);
        assert_eq!(frames.len(), 1, "one packet, sent again and again");
        assert!(loop_level(&frames) < -90.0, "{}", loop_level(&frames));
    }

    #[test]
    fn speech_has_syllables_and_the_speech_band_and_noise_has_neither() {
        let band = |frames: &[Vec<i16>], hz| {
            frames
                .iter()
                .map(|f| goertzel_power(f, hz, MIX_RATE))
                .sum::<f64>()
        };
        let spread = |frames: &[Vec<i16>]| {
            let levels: Vec<f32> = frames.iter().map(|f| level_dbfs(f)).collect();
            levels.iter().copied().fold(f32::MIN, f32::max)
                - levels.iter().copied().fold(f32::MAX, f32::min)
        };
        let speech = through_opus(ListenerSound::Speech { level_dbfs: -24.0 });
        let noise = through_opus(ListenerSound::Noise { level_dbfs: -24.0 });
        assert!(spread(&speech) > 10.0, "syllables: {} dB", spread(&speech));
        assert!(spread(&noise) < 4.0, "steady noise: {} dB", spread(&noise));
        let tilt =
            |frames: &[Vec<i16>]| 10.0 * (band(frames, 1000.0) / band(frames, 9000.0)).log10();
        assert!(tilt(&speech) > 10.0, "speech band: {} dB", tilt(&speech));
        assert!(tilt(&noise).abs() < 4.0, "white: {} dB", tilt(&noise));
    }

    #[test]
    fn listeners_start_at_different_points_of_the_loop() {
        let starts: std::collections::HashSet<usize> = (0..LOOP_FRAMES)
            .map(|m| start_frame(m, LOOP_FRAMES))
            .collect();
        assert_eq!(starts.len(), LOOP_FRAMES);
        assert_eq!(start_frame(12, 1), 0, "silence: one packet for all");
    }

    #[test]
    fn the_flag_takes_a_sound_and_an_optional_level() {
        let parse = |v: &[&str]| ListenerSound::from_args(v);
        assert_eq!(parse(&["silence"]), Ok(ListenerSound::Silence));
        assert_eq!(
            parse(&["speech", "-30"]),
            Ok(ListenerSound::Speech { level_dbfs: -30.0 })
        );
        assert_eq!(
            parse(&["noise:-24dBFS"]),
            Ok(ListenerSound::Noise { level_dbfs: -24.0 })
        );
        assert_eq!(
            parse(&["speech"]),
            Ok(ListenerSound::Speech {
                level_dbfs: DEFAULT_LEVEL_DBFS
            })
        );
        for bad in [
            &["silence", "-24"][..],
            &["hum"],
            &["noise", "loud"],
            &["noise", "-3"],
            &[],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ListenerSound::Speech { level_dbfs: -24.0 }.to_string(),
            "speech -24"
        );
    }
}
