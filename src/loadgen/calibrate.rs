//! Measures, on this machine and right now, the unavoidable per-frame codec costs the load
//! benchmark divides by: one Opus decode and one Opus encode of a 20 ms frame, and one H.264
//! decode and encode of a P-frame of the generator's video content (medians).

use super::video_loop::VideoLoop;
use crate::media::audio::codec::{
    AudioDecoder, AudioEncoder, CodecError, EncoderSettings, FRAME_SAMPLES,
};
use crate::media::audio::tone::ToneGenerator;
use crate::sdp::AudioCodec;
use serde::Serialize;
use std::time::Instant;

/// Median costs in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct CodecCosts {
    pub opus_encode_us: f64,
    pub opus_decode_us: f64,
    /// Size the H.264 costs were measured at, e.g. `1280x720`.
    pub h264_size: String,
    pub h264_encode_us: f64,
    pub h264_decode_us: f64,
}

/// Error of a calibration run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error(transparent)]
    Audio(#[from] CodecError),
    #[error(transparent)]
    Video(#[from] crate::media::video::codec::VideoCodecError),
}

/// Encodes and decodes `frames` tone frames and `video_frames` frames of the video pattern at
/// `video_size`, returning the median cost of each.
pub fn measure(
    frames: usize,
    video_size: (u32, u32),
    video_frames: u32,
) -> Result<CodecCosts, CalibrationError> {
    let mut encoder = AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default())?;
    let mut decoder = AudioDecoder::new(AudioCodec::Opus)?;
    let mut tone = ToneGenerator::new(440.0, 8000, 48_000);
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    let mut payload = Vec::new();
    let mut out = Vec::with_capacity(FRAME_SAMPLES * 6);
    let mut enc = Vec::with_capacity(frames);
    let mut dec = Vec::with_capacity(frames);
    for _ in 0..frames.max(1) {
        tone.fill(&mut pcm);
        let t = Instant::now();
        encoder.encode(&pcm, &mut payload)?;
        enc.push(t.elapsed().as_secs_f64() * 1e6);
        out.clear();
        let t = Instant::now();
        decoder.decode(&payload, &mut out)?;
        dec.push(t.elapsed().as_secs_f64() * 1e6);
    }
    enc.sort_by(f64::total_cmp);
    dec.sort_by(f64::total_cmp);
    let video = VideoLoop::measure_costs(video_size, 30.0, video_frames)?;
    Ok(CodecCosts {
        opus_encode_us: super::percentile(&enc, 50.0),
        opus_decode_us: super::percentile(&dec, 50.0),
        h264_size: format!("{}x{}", video_size.0, video_size.1),
        h264_encode_us: video.encode_p_us,
        h264_decode_us: video.decode_p_us,
    })
}
