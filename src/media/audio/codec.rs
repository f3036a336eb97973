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
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            opus_bitrate: 32_000,
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
                narrowband.clear();
                law.decode(payload, narrowband);
                // The resampler works in whole 20 ms frames (160 samples).
                for chunk in narrowband.chunks(160) {
                    let mut frame = [0i16; 160];
                    frame[..chunk.len()].copy_from_slice(chunk);
                    upsampler
                        .process(&frame, out)
                        .map_err(|e| CodecError::Resample(e.to_string()))?;
                }
                Ok(())
            }
        }
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
