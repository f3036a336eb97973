//! Ready-made 20 ms frames of silence per codec, sent to a member that must hear nothing
//! (deafened) without running an encoder: a stream that keeps flowing, at no cost.
//!
//! Opus: the 3-byte packet `F8 FF FE` — TOC config 31 (CELT-only, fullband, 20 ms), mono,
//! one frame (RFC 6716 §3.1), whose range-coded body decodes to silence; decoders of any
//! state accept it. G.711: 160 samples of the code for zero (μ-law 0xFF, A-law 0xD5,
//! ITU-T G.711).

use crate::sdp::AudioCodec;

const OPUS_SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];
const PCMU_SILENCE: [u8; 160] = [0xFF; 160];
const PCMA_SILENCE: [u8; 160] = [0xD5; 160];

/// One 20 ms frame of silence in `codec`.
pub fn silence_frame(codec: AudioCodec) -> &'static [u8] {
    match codec {
        AudioCodec::Opus => &OPUS_SILENCE,
        AudioCodec::Pcmu => &PCMU_SILENCE,
        AudioCodec::Pcma => &PCMA_SILENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::codec::{AudioDecoder, AudioEncoder, EncoderSettings, FRAME_SAMPLES};
    use crate::media::audio::tone::ToneGenerator;

    #[test]
    fn every_codec_decodes_its_silence_frame_to_20_ms_of_silence() {
        for codec in AudioCodec::ALL {
            let mut decoder = AudioDecoder::new(codec).expect("decoder");
            // After real sound, so the decoder has state.
            let mut encoder = AudioEncoder::new(codec, EncoderSettings::default()).expect("enc");
            let mut tone = ToneGenerator::new(440.0, 8000, 48_000);
            let mut payload = Vec::new();
            let mut out = Vec::new();
            let mut pcm = vec![0i16; FRAME_SAMPLES];
            for _ in 0..5 {
                tone.fill(&mut pcm);
                encoder.encode(&pcm, &mut payload).expect("encode");
                decoder.decode(&payload, &mut out).expect("decode");
            }
            let mut silent = Vec::new();
            for _ in 0..3 {
                silent.clear();
                decoder
                    .decode(silence_frame(codec), &mut silent)
                    .expect("silence decodes");
            }
            assert_eq!(silent.len(), FRAME_SAMPLES, "{codec:?}: 20 ms");
            let peak = silent.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak < 64, "{codec:?}: silence, peak {peak}");
        }
    }
}
