//! A *view*: canvas C minus a set of excluded sources. Every outgoing video stream subscribes
//! to exactly one view; each distinct view is encoded and packetized once per frame however
//! many members watch it, and subscribers only get their own SSRC/sequence/timestamp stamped
//! on the shared payloads. Keyframe requests are coalesced per view and rate-limited.

use super::member::MemberId;
use crate::media::video::codec::{EncoderConfig, VideoCodecError, VideoEncoder};
use crate::media::video::frame::I420Frame;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// At most one repair keyframe (PLI/FIR) per view in this interval (no keyframe storms).
pub const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
/// A new watcher needs a decodable picture quickly (target: < 300 ms): its keyframe may follow
/// the previous one after this shorter interval.
pub const NEW_WATCHER_KEYFRAME_INTERVAL: Duration = Duration::from_millis(250);

/// Why a watcher asks for a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeReason {
    /// Lost packets or a decoder error (PLI/FIR).
    Repair,
    /// It just started watching this view.
    NewWatcher,
}

/// Identifies a view: a canvas index and the members whose tiles it leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewKey {
    pub canvas: usize,
    pub excluded: BTreeSet<MemberId>,
}

/// The encoder and packetizer of one view, plus its keyframe policy.
pub struct View {
    encoder: VideoEncoder,
    packetizer: H264Packetizer,
    encoded: Vec<u8>,
    pub payloads: RtpPayloads,
    keyframe_wanted: Option<KeyframeReason>,
    last_keyframe: Option<Instant>,
    pub keyframes_sent: u64,
    pub frames_encoded: u64,
}

impl View {
    pub fn new(config: EncoderConfig) -> Result<Self, VideoCodecError> {
        Ok(Self {
            encoder: VideoEncoder::new(config)?,
            packetizer: H264Packetizer::default(),
            encoded: Vec::with_capacity(64 * 1024),
            payloads: RtpPayloads::new(),
            keyframe_wanted: Some(KeyframeReason::NewWatcher),
            last_keyframe: None,
            keyframes_sent: 0,
            frames_encoded: 0,
        })
    }

    /// A watcher lost the picture or just joined (PLI/FIR or subscription).
    pub fn request_keyframe(&mut self, reason: KeyframeReason) {
        // A new watcher's (shorter) limit wins over a pending repair request.
        if self.keyframe_wanted != Some(KeyframeReason::NewWatcher) {
            self.keyframe_wanted = Some(reason);
        }
    }

    /// Encodes and packetizes `canvas`. Returns false when the encoder skipped the frame.
    pub fn encode(&mut self, now: Instant, canvas: &I420Frame) -> Result<bool, VideoCodecError> {
        let force = match self.keyframe_wanted {
            None => false,
            Some(reason) => {
                let interval = match reason {
                    KeyframeReason::Repair => KEYFRAME_INTERVAL,
                    KeyframeReason::NewWatcher => NEW_WATCHER_KEYFRAME_INTERVAL,
                };
                self.last_keyframe
                    .is_none_or(|at| now.duration_since(at) >= interval)
            }
        };
        let frame = self.encoder.encode(canvas, force, &mut self.encoded)?;
        if frame.bytes == 0 {
            return Ok(false);
        }
        self.frames_encoded += 1;
        if frame.keyframe {
            self.keyframe_wanted = None;
            self.last_keyframe = Some(now);
            self.keyframes_sent += 1;
        }
        self.payloads.clear();
        // A packetizer error means the encoder produced an invalid NAL: skip this frame.
        let packed = self
            .packetizer
            .packetize_annex_b(&self.encoded, &mut self.payloads)
            .ok()
            .flatten()
            .is_some();
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View::new(EncoderConfig {
            width: 64,
            height: 64,
            fps: 50.0,
            bitrate_bps: 2_000_000,
            max_keyframe_interval: None,
        })
        .unwrap()
    }

    #[test]
    fn repair_requests_are_coalesced_to_one_keyframe_per_500_ms() {
        let mut v = view();
        let canvas = I420Frame::new_filled(64, 64, (100, 128, 128));
        let t0 = Instant::now();
        for i in 0..50u64 {
            // A PLI every 40 ms for 1 s (25 requests), frames every 20 ms.
            if i % 2 == 0 {
                v.request_keyframe(KeyframeReason::Repair);
            }
            v.encode(t0 + Duration::from_millis(20 * i), &canvas)
                .unwrap();
        }
        // The initial keyframe plus at most one per 500 ms over 1 s.
        assert!(v.keyframes_sent <= 3, "{} keyframes", v.keyframes_sent);
        assert!(v.keyframes_sent >= 2, "repairs are honoured");
    }

    #[test]
    fn a_new_watcher_gets_a_keyframe_sooner_than_a_repair() {
        let mut v = view();
        let canvas = I420Frame::new_filled(64, 64, (100, 128, 128));
        let t0 = Instant::now();
        v.encode(t0, &canvas).unwrap();
        assert_eq!(v.keyframes_sent, 1);
        v.request_keyframe(KeyframeReason::NewWatcher);
        v.encode(t0 + Duration::from_millis(100), &canvas).unwrap();
        assert_eq!(v.keyframes_sent, 1, "still inside the 250 ms floor");
        v.encode(t0 + Duration::from_millis(260), &canvas).unwrap();
        assert_eq!(
            v.keyframes_sent, 2,
            "new watcher served after 250 ms, not 500"
        );
    }
}
