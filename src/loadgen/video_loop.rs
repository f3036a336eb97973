//! The load generator's pre-encoded H.264 loop: a few seconds of the synthetic camera pattern
//! ([`pattern_frame`]) encoded once at start-up and packetized into RTP payloads (RFC 6184,
//! packetization-mode 1), so sending video costs the generator no encoding. The loop starts
//! with an IDR; restarting it is how a sender answers a PLI.

use crate::media::video::codec::{EncoderConfig, VideoCodecError, VideoDecoder, VideoEncoder};
use crate::media::video::frame::I420Frame;
use crate::media::video::test_pattern::pattern_frame;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::time::Instant;

/// One encoded frame as RTP payloads (the last one carries the marker bit).
pub struct LoopFrame {
    pub payloads: Vec<Vec<u8>>,
    pub keyframe: bool,
}

/// What encoding the loop measured.
#[derive(Debug, Clone, Copy)]
pub struct LoopCosts {
    /// Median encode time of a P-frame, microseconds.
    pub encode_p_us: f64,
    /// Median decode time of a P-frame, microseconds.
    pub decode_p_us: f64,
}

/// A pre-encoded video loop.
pub struct VideoLoop {
    pub frames: Vec<LoopFrame>,
    pub fps: f32,
}

/// The loop's encoder: the bitrate a camera at this size typically sends (2 Mbit/s at
/// 1280x720, proportional to the pixels, at least 300 kbit/s), one IDR at the start.
fn encoder_config(size: (u32, u32), fps: f32) -> EncoderConfig {
    let pixels = u64::from(size.0) * u64::from(size.1);
    EncoderConfig {
        width: size.0,
        height: size.1,
        fps,
        bitrate_bps: ((pixels * 2_000_000 / (1280 * 720)) as u32).max(300_000),
        max_keyframe_interval: None,
        max_nal_bytes: None,
    }
}

impl VideoLoop {
    /// Encodes `seconds` of the pattern at `size` and `fps`.
    pub fn encode(size: (u32, u32), fps: f32, seconds: f32) -> Result<Self, VideoCodecError> {
        let mut encoder = VideoEncoder::new(encoder_config(size, fps))?;
        let count = ((seconds * fps).round() as u32).max(1);
        let mut packetizer = H264Packetizer::default();
        let mut payloads = RtpPayloads::new();
        let mut frames = Vec::with_capacity(count as usize);
        let mut annex_b = Vec::new();
        for t in 0..count {
            let picture = pattern_frame(size.0, size.1, t);
            let encoded = encoder.encode(&picture, t == 0, &mut annex_b)?;
            if encoded.bytes == 0 {
                continue; // rate control skipped the frame
            }
            payloads.clear();
            if packetizer
                .packetize_annex_b(&annex_b, &mut payloads)
                .is_err()
            {
                continue;
            }
            frames.push(LoopFrame {
                payloads: payloads.iter().map(<[u8]>::to_vec).collect(),
                keyframe: encoded.keyframe,
            });
        }
        Ok(Self { frames, fps })
    }

    /// A loop with no frames (for runs whose video members only watch).
    pub fn empty(fps: f32) -> Self {
        Self {
            frames: Vec::new(),
            fps,
        }
    }

    /// Measures this machine's encode and decode cost per P-frame of this content (medians),
    /// the denominators of the load benchmark's overhead ratio.
    pub fn measure_costs(
        size: (u32, u32),
        fps: f32,
        frames: u32,
    ) -> Result<LoopCosts, VideoCodecError> {
        let mut encoder = VideoEncoder::new(encoder_config(size, fps))?;
        let mut decoder = VideoDecoder::new()?;
        let mut encode_us = Vec::new();
        let mut decode_us = Vec::new();
        let mut annex_b = Vec::new();
        let mut decoded = I420Frame::default();
        for t in 0..frames.max(2) {
            let picture = pattern_frame(size.0, size.1, t);
            let started = Instant::now();
            let encoded = encoder.encode(&picture, t == 0, &mut annex_b)?;
            let encode_time = started.elapsed();
            if encoded.bytes == 0 {
                continue;
            }
            let started = Instant::now();
            decoder.decode_into(&annex_b, &mut decoded)?;
            let decode_time = started.elapsed();
            if !encoded.keyframe {
                encode_us.push(encode_time.as_secs_f64() * 1e6);
                decode_us.push(decode_time.as_secs_f64() * 1e6);
            }
        }
        encode_us.sort_by(f64::total_cmp);
        decode_us.sort_by(f64::total_cmp);
        Ok(LoopCosts {
            encode_p_us: super::percentile(&encode_us, 50.0),
            decode_p_us: super::percentile(&decode_us, 50.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_starts_with_a_keyframe_and_its_packets_decode() {
        let video = VideoLoop::encode((320, 180), 15.0, 1.0).expect("loop");
        assert!(video.frames.len() >= 10, "{}", video.frames.len());
        assert!(video.frames[0].keyframe);
        // Depacketize the RTP payloads as a receiver would, then decode.
        let mut depacketizer = crate::rtp::h264::H264Depacketizer::new();
        let mut decoder = VideoDecoder::new().expect("decoder");
        let (mut seq, mut pictures) = (0u16, 0);
        for (t, frame) in video.frames.iter().enumerate() {
            let last = frame.payloads.len() - 1;
            for (i, payload) in frame.payloads.iter().enumerate() {
                let unit = depacketizer.push(seq, t as u32 * 6000, i == last, payload);
                seq = seq.wrapping_add(1);
                if let Ok(Some(unit)) = unit {
                    if let Ok(Some(picture)) = decoder.decode(unit.annex_b()) {
                        assert_eq!((picture.frame.width, picture.frame.height), (320, 180));
                        pictures += 1;
                    }
                }
            }
        }
        assert_eq!(pictures, video.frames.len());
    }
}
