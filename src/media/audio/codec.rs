//! Audio codecs behind one interface: Opus (RFC 7587, via libopus) and G.711 μ-law/A-law
//! (RFC 3551 §4.5.14) with 8 kHz ↔ 48 kHz resampling. Everything meets the mixer as 48 kHz
//! mono 16-bit in 20 ms frames.

use super::g711;
use super::resample::Resampler;
use crate::sdp::AudioCodec;
use thiserror::Error;

/// Samples in one 20 ms frame at the 48 kHz mixing rate.
pub const FRAME_SAMPLES: usize = 960;
/// The mixing rate.
pub const MIX_RATE: u32 = 48_000;
/// Samples in 20 ms at 8 kHz.
const NARROWBAND_FRAME: usize = 160;
/// Largest Opus packet we produce.
const MAX_OPUS_PACKET: usize = 1275;

/// Codec failures (bad payloads are counted and concealed by callers).
#[derive(Debug, Error)]
pub enum CodecError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("resampler: {0}")]
    Resample(String),
    #[error("pipeline configuration: {0}")]
    Config(String),
}

/// Encoder tuning.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    pub opus_bitrate: i32,
    /// Opus encoder complexity, 0 (cheapest) to 10 (libopus's default, best).
    pub opus_complexity: i32,
}

/// The Opus complexity a server uses unless configured (see `docs/PERFORMANCE.md`).
pub const DEFAULT_OPUS_COMPLEXITY: i32 = 10;

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            opus_bitrate: 32_000,
            opus_complexity: DEFAULT_OPUS_COMPLEXITY,
        }
    }
}

/// Decodes one member's payloads to 48 kHz PCM.
pub enum AudioDecoder {
    Opus(opus::Decoder),
    G711 {
        law: G711Law,
        narrowband: Vec<i16>,
        upsampler: Box<Resampler>,
    },
}

impl AudioDecoder {
    pub fn new(codec: AudioCodec) -> Result<Self, CodecError> {
        Ok(match codec {
            AudioCodec::Opus => Self::Opus(opus::Decoder::new(MIX_RATE, opus::Channels::Mono)?),
            AudioCodec::Pcmu | AudioCodec::Pcma => Self::G711 {
                law: law_of(codec),
                narrowband: Vec::with_capacity(FRAME_SAMPLES),
                upsampler: Box::new(
                    Resampler::narrowband_to_mix()
                        .map_err(|e| CodecError::Resample(e.to_string()))?,
                ),
            },
        })
    }

    /// Decodes `payload`, appending 48 kHz samples to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        match self {
            Self::Opus(dec) => {
                let start = out.len();
                out.resize(start + 6 * FRAME_SAMPLES, 0); // up to 120 ms
                let n = dec.decode(payload, &mut out[start..], false);
                out.truncate(start + n.as_ref().copied().unwrap_or(0));
                n?;
                Ok(())
            }
            Self::G711 {
                law,
                narrowband,
                upsampler,
            } => {
                // Packets may carry 10, 20, 30 ms...: decoded samples accumulate and the
                // resampler consumes whole 20 ms (160-sample) frames; the rest waits.
                law.decode(payload, narrowband);
                let whole = narrowband.len() - narrowband.len() % NARROWBAND_FRAME;
                for chunk in narrowband[..whole].chunks_exact(NARROWBAND_FRAME) {
                    upsampler
                        .process(chunk, out)
                        .map_err(|e| CodecError::Resample(e.to_string()))?;
                }
                narrowband.drain(..whole);
                Ok(())
            }
        }
    }

    /// Forgets the decoder's history, as after a gap in what it was given.
    pub fn reset(&mut self) -> Result<(), CodecError> {
        match self {
            Self::Opus(dec) => dec.reset_state()?,
            Self::G711 { narrowband, .. } => narrowband.clear(),
        }
        Ok(())
    }

    /// Produces one 20 ms frame for a lost packet: Opus in-band FEC from `next` when it is
    /// available, packet-loss concealment otherwise; G.711 repeats silence.
    pub fn conceal(&mut self, next: Option<&[u8]>, out: &mut Vec<i16>) -> Result<(), CodecError> {
        match self {
            Self::Opus(dec) => {
                let start = out.len();
                out.resize(start + FRAME_SAMPLES, 0);
                let result = match next {
                    Some(p) => dec.decode(p, &mut out[start..], true),
                    None => dec.decode(&[], &mut out[start..], false),
                };
                out.truncate(start + result.as_ref().copied().unwrap_or(0));
                result?;
                Ok(())
            }
            Self::G711 { .. } => {
                out.extend(std::iter::repeat_n(0, FRAME_SAMPLES));
                Ok(())
            }
        }
    }
}

/// Encodes 48 kHz mix frames into one codec's payloads.
pub enum AudioEncoder {
    Opus(Box<opus::Encoder>),
    G711 {
        law: G711Law,
        narrowband: Vec<i16>,
        downsampler: Box<Resampler>,
    },
}

impl AudioEncoder {
    pub fn new(codec: AudioCodec, settings: EncoderSettings) -> Result<Self, CodecError> {
        Ok(match codec {
            AudioCodec::Opus => {
                let mut enc =
                    opus::Encoder::new(MIX_RATE, opus::Channels::Mono, opus::Application::Voip)?;
                enc.set_bitrate(opus::Bitrate::Bits(settings.opus_bitrate))?;
                enc.set_complexity(settings.opus_complexity.clamp(0, 10))?;
                enc.set_inband_fec(true)?;
                enc.set_packet_loss_perc(5)?;
                Self::Opus(Box::new(enc))
            }
            AudioCodec::Pcmu | AudioCodec::Pcma => Self::G711 {
                law: law_of(codec),
                narrowband: Vec::with_capacity(FRAME_SAMPLES),
                downsampler: Box::new(
                    Resampler::mix_to_narrowband()
                        .map_err(|e| CodecError::Resample(e.to_string()))?,
                ),
            },
        })
    }

    /// Forgets the encoder's history: its next frame is coded as the first of a stream, for a
    /// receiver whose decoder was just fed other packets (forwarded, ready-made silence).
    pub fn reset(&mut self) -> Result<(), CodecError> {
        match self {
            Self::Opus(enc) => enc.reset_state()?,
            Self::G711 { narrowband, .. } => narrowband.clear(),
        }
        Ok(())
    }

    /// Encodes one 20 ms frame (960 samples) into `out` (cleared first).
    pub fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        match self {
            Self::Opus(enc) => {
                out.resize(MAX_OPUS_PACKET, 0);
                let n = enc.encode(frame, out);
                out.truncate(n.as_ref().copied().unwrap_or(0));
                n?;
                Ok(())
            }
            Self::G711 {
                law,
                narrowband,
                downsampler,
            } => {
                narrowband.clear();
                downsampler
                    .process(frame, narrowband)
                    .map_err(|e| CodecError::Resample(e.to_string()))?;
                law.encode(narrowband, out);
                Ok(())
            }
        }
    }
}

/// Which G.711 companding law a member uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711Law {
    Mu,
    A,
}

impl G711Law {
    fn decode(self, codes: &[u8], out: &mut Vec<i16>) {
        match self {
            Self::Mu => g711::decode_ulaw(codes, out),
            Self::A => g711::decode_alaw(codes, out),
        }
    }

    fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        match self {
            Self::Mu => g711::encode_ulaw(samples, out),
            Self::A => g711::encode_alaw(samples, out),
        }
    }
}

fn law_of(codec: AudioCodec) -> G711Law {
    if codec == AudioCodec::Pcma {
        G711Law::A
    } else {
        G711Law::Mu
    }
}

/// RTP timestamp units per 20 ms frame.
pub fn rtp_ticks_per_frame(codec: AudioCodec) -> u32 {
    match codec {
        AudioCodec::Opus => 960,
        AudioCodec::Pcmu | AudioCodec::Pcma => 160,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::tone::{tone_ratio, ToneGenerator};

    fn round_trip(codec: AudioCodec, hz: f32) -> Vec<i16> {
        let mut enc = AudioEncoder::new(codec, EncoderSettings::default()).unwrap();
        let mut dec = AudioDecoder::new(codec).unwrap();
        let mut tone = ToneGenerator::new(hz, 8000, MIX_RATE);
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut payload = Vec::new();
        let mut out = Vec::new();
        for _ in 0..25 {
            tone.fill(&mut frame);
            enc.encode(&frame, &mut payload).unwrap();
            dec.decode(&payload, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn opus_and_g711_round_trip_keep_the_tone() {
        for codec in [AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma] {
            let out = round_trip(codec, 1000.0);
            assert_eq!(out.len(), 25 * FRAME_SAMPLES, "{codec:?}");
            let ratio = tone_ratio(&out[FRAME_SAMPLES * 5..], 1000.0, MIX_RATE);
            assert!(ratio > 0.9, "{codec:?}: {ratio}");
        }
    }

    #[test]
    fn g711_ten_millisecond_packets_make_whole_frames() {
        let mut dec = AudioDecoder::new(AudioCodec::Pcmu).unwrap();
        let mut out = Vec::new();
        dec.decode(&[0xFF; 80], &mut out).unwrap();
        assert!(out.is_empty(), "half a frame waits for the other half");
        dec.decode(&[0xFF; 80], &mut out).unwrap();
        assert_eq!(out.len(), FRAME_SAMPLES);
        dec.decode(&[0xFF; 240], &mut out).unwrap(); // 30 ms: one frame out, 10 ms carried
        assert_eq!(out.len(), 2 * FRAME_SAMPLES);
    }

    #[test]
    fn opus_loss_is_concealed_with_one_frame() {
        let mut dec = AudioDecoder::new(AudioCodec::Opus).unwrap();
        let mut out = Vec::new();
        dec.conceal(None, &mut out).unwrap();
        assert_eq!(out.len(), FRAME_SAMPLES);
    }

    #[test]
    fn garbage_opus_payload_is_an_error_not_a_panic() {
        let mut dec = AudioDecoder::new(AudioCodec::Opus).unwrap();
        let mut out = Vec::new();
        let _ = dec.decode(&[0xFF, 0xFF, 0xFF], &mut out);
        let _ = dec.decode(&[], &mut out);
    }

    /// Signal-to-noise ratio (dB) of an Opus round trip at `complexity` of two seconds of a
    /// voice-like signal (three partials under a 4 Hz envelope), after aligning the decoded
    /// signal to the input (the codec's delay is searched, not assumed).
    fn opus_round_trip_snr(complexity: i32) -> f64 {
        let settings = EncoderSettings {
            opus_complexity: complexity,
            ..EncoderSettings::default()
        };
        let mut enc = AudioEncoder::new(AudioCodec::Opus, settings).unwrap();
        let mut dec = AudioDecoder::new(AudioCodec::Opus).unwrap();
        let input: Vec<i16> = (0..100 * FRAME_SAMPLES)
            .map(|n| {
                let t = n as f64 / f64::from(MIX_RATE);
                let envelope = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
                let partials: f64 = [(220.0, 1.0), (1100.0, 0.5), (2900.0, 0.25)]
                    .iter()
                    .map(|(hz, a)| a * (2.0 * std::f64::consts::PI * hz * t).sin())
                    .sum();
                (4000.0 * envelope * partials) as i16
            })
            .collect();
        let mut payload = Vec::new();
        let mut out = Vec::new();
        for frame in input.chunks_exact(FRAME_SAMPLES) {
            enc.encode(frame, &mut payload).unwrap();
            dec.decode(&payload, &mut out).unwrap();
        }
        let skip = 10 * FRAME_SAMPLES; // the encoder's start-up
        let len = input.len() - skip - 2000;
        let snr = |delay: usize| {
            let (mut signal, mut noise) = (0.0f64, 0.0f64);
            for i in skip..skip + len {
                let x = f64::from(input[i]);
                let e = f64::from(out[i + delay]) - x;
                signal += x * x;
                noise += e * e;
            }
            10.0 * (signal / noise.max(1.0)).log10()
        };
        (0..1500).map(snr).fold(f64::MIN, f64::max)
    }

    #[test]
    fn the_default_opus_complexity_keeps_the_quality_of_complexity_10() {
        // `cargo test --release opus_complexity -- --nocapture` prints the quality behind the
        // default, `cargo bench --bench hot_paths -- complexity` the cost (docs/PERFORMANCE.md).
        // A waveform SNR understates a perceptual codec (phase is not kept above a few kHz),
        // but it orders the complexities fairly on one signal.
        let best = opus_round_trip_snr(10);
        for complexity in [0, 2, 4, 5, 6, 7, 8, 9] {
            let snr = opus_round_trip_snr(complexity);
            println!("complexity {complexity}: {snr:.1} dB (10: {best:.1} dB)");
        }
        let default = opus_round_trip_snr(DEFAULT_OPUS_COMPLEXITY);
        assert!(
            best > 6.0,
            "complexity 10 reproduces the signal: {best:.1} dB"
        );
        assert!(
            default > best - 1.5,
            "the default loses at most 1.5 dB: {default:.1} against {best:.1}"
        );
    }
}
