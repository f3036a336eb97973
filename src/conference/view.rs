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

/// At most one keyframe per view in this interval (no keyframe storms).
pub const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

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
    keyframe_wanted: bool,
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
            keyframe_wanted: true,
            last_keyframe: None,
            keyframes_sent: 0,
            frames_encoded: 0,
        })
    }

    /// A watcher lost the picture or just joined (PLI/FIR or subscription).
    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
    }

    /// Encodes and packetizes `canvas`. Returns false when the encoder skipped the frame.
    pub fn encode(&mut self, now: Instant, canvas: &I420Frame) -> Result<bool, VideoCodecError> {
        let allowed = self
            .last_keyframe
            .is_none_or(|at| now.duration_since(at) >= KEYFRAME_INTERVAL);
        let force = self.keyframe_wanted && allowed;
        let frame = self.encoder.encode(canvas, force, &mut self.encoded)?;
        if frame.bytes == 0 {
            return Ok(false);
        }
        self.frames_encoded += 1;
        if frame.keyframe {
            self.keyframe_wanted = false;
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
