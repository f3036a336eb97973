//! A *view*: canvas C minus a set of excluded sources. Every outgoing video stream subscribes
//! to exactly one view; each distinct view is encoded and packetized once per frame however
//! many members watch it, and subscribers only get their own SSRC/sequence/timestamp stamped
//! on the shared payloads. Keyframe requests are coalesced per view and rate-limited. A view
//! may have a size and bitrate of its own ([`ViewFormat`], a cascade leg's): its canvas is
//! scaled to it before the encode. In the server the encoding runs on a codec thread ([`VideoCodecPool`]); the frame comes back to
//! be sent a tick later, stamped with the time its canvas was composed.

use super::member::MemberId;
use crate::media::video::codec::{EncoderConfig, VideoCodecError, VideoEncoder};
use crate::media::video::codec_pool::{
    packetizer_for, EncodeOutcome, PooledEncoder, VideoCodecPool,
};
use crate::media::video::frame::I420Frame;
use crate::media::video::scale::{FitMode, ScaleQuality, Scaler};
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tracing::warn;

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

/// A view's own encode size and bitrate, when not its canvas's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewFormat {
    pub width: u32,
    pub height: u32,
    pub bitrate_bps: u32,
}

/// Identifies a view: a canvas index, the members whose tiles it leaves out, whether it is
/// sent as single NAL units (watchers in packetization-mode=0: size-limited slices), and its
/// own format, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewKey {
    pub canvas: usize,
    pub excluded: BTreeSet<MemberId>,
    pub single_nal_units: bool,
    pub format: Option<ViewFormat>,
}

/// Where a view's canvases are encoded.
enum ViewEncoder {
    /// On the media thread (unit tests, tools).
    Inline {
        encoder: Box<VideoEncoder>,
        packetizer: H264Packetizer,
        encoded: Vec<u8>,
    },
    /// On a codec thread; frames come back a tick later.
    Pooled(PooledEncoder),
}

/// One encoded canvas frame, ready to be sent to the view's subscribers.
pub struct FinishedFrame {
    pub payloads: RtpPayloads,
    /// When the canvas was composed (the frame's RTP timestamp).
    pub captured_at: Instant,
    /// An IDR (with SPS and PPS): a watcher can start decoding here.
    pub keyframe: bool,
}

/// The encoder and packetizer of one view, plus its keyframe policy.
pub struct View {
    encoder: ViewEncoder,
    /// The encoder's picture size.
    size: (u32, u32),
    /// A canvas of another size is scaled into this picture first.
    resized: Option<(Scaler, I420Frame)>,
    /// Encoded frames not yet sent, oldest first.
    pub finished: Vec<FinishedFrame>,
    keyframe_wanted: Option<KeyframeReason>,
    last_keyframe: Option<Instant>,
    pub keyframes_sent: u64,
    pub frames_encoded: u64,
    /// Canvases not encoded because the codec thread was behind.
    pub frames_dropped: u64,
}

impl View {
    /// A view encoding inline.
    pub fn new(config: EncoderConfig) -> Result<Self, VideoCodecError> {
        Ok(Self::with_encoder(
            ViewEncoder::Inline {
                encoder: Box::new(VideoEncoder::new(config)?),
                packetizer: packetizer_for(&config),
                encoded: Vec::with_capacity(64 * 1024),
            },
            &config,
        ))
    }

    /// A view encoding on a thread of `pool` (the encoder is built there).
    pub fn pooled(pool: &VideoCodecPool, config: EncoderConfig) -> Result<Self, VideoCodecError> {
        Ok(Self::with_encoder(
            ViewEncoder::Pooled(pool.open_encoder(config)?),
            &config,
        ))
    }

    fn with_encoder(encoder: ViewEncoder, config: &EncoderConfig) -> Self {
        Self {
            encoder,
            size: (config.width, config.height),
            resized: None,
            finished: Vec::new(),
            keyframe_wanted: Some(KeyframeReason::NewWatcher),
            last_keyframe: None,
            keyframes_sent: 0,
            frames_encoded: 0,
            frames_dropped: 0,
        }
    }

    /// A watcher lost the picture or just joined (PLI/FIR or subscription).
    pub fn request_keyframe(&mut self, reason: KeyframeReason) {
        // A new watcher's (shorter) limit wins over a pending repair request.
        if self.keyframe_wanted != Some(KeyframeReason::NewWatcher) {
            self.keyframe_wanted = Some(reason);
        }
    }

    /// Whether the keyframe policy forces an IDR for a frame composed at `now`.
    fn force_keyframe(&self, now: Instant) -> bool {
        match self.keyframe_wanted {
            None => false,
            Some(reason) => {
                let interval = match reason {
                    KeyframeReason::Repair => KEYFRAME_INTERVAL,
                    KeyframeReason::NewWatcher => NEW_WATCHER_KEYFRAME_INTERVAL,
                };
                self.last_keyframe
                    .is_none_or(|at| now.duration_since(at) >= interval)
            }
        }
    }

    fn keyframe_made(&mut self, at: Instant) {
        self.keyframe_wanted = None;
        self.last_keyframe = Some(at);
    }

    /// Encodes and packetizes `canvas` (composed at `now`): inline, the frame is in
    /// [`finished`](Self::finished) when this returns; pooled, after a later
    /// [`collect`](Self::collect).
    pub fn encode(&mut self, now: Instant, canvas: &I420Frame) -> Result<(), VideoCodecError> {
        let force = self.force_keyframe(now);
        let canvas = if (canvas.width, canvas.height) == self.size {
            canvas
        } else {
            let (w, h) = self.size;
            let (scaler, picture) = self.resized.get_or_insert_with(|| {
                (
                    Scaler::new(ScaleQuality::Bilinear),
                    I420Frame::new_black(w, h),
                )
            });
            let bounds = picture.bounds();
            if let Err(e) = scaler.scale_into(canvas, picture, bounds, FitMode::Fit) {
                warn!(error = %e, "cannot scale the canvas to its view's size");
                return Ok(());
            }
            &*picture
        };
        match &mut self.encoder {
            ViewEncoder::Inline {
                encoder,
                packetizer,
                encoded,
            } => {
                let frame = encoder.encode(canvas, force, encoded)?;
                if frame.bytes == 0 {
                    return Ok(());
                }
                let mut payloads = RtpPayloads::new();
                // A packetizer error means the encoder produced an invalid NAL: skip it.
                let packed = packetizer
                    .packetize_annex_b(encoded, &mut payloads)
                    .ok()
                    .flatten()
                    .is_some();
                self.frames_encoded += 1;
                if frame.keyframe {
                    self.keyframe_made(now);
                    self.keyframes_sent += 1;
                }
                if packed {
                    self.finished.push(FinishedFrame {
                        payloads,
                        captured_at: now,
                        keyframe: frame.keyframe,
                    });
                }
            }
            ViewEncoder::Pooled(pooled) => {
                if !pooled.submit(canvas, force, now) {
                    self.frames_dropped += 1;
                } else if force {
                    self.keyframe_made(now);
                }
            }
        }
        Ok(())
    }

    /// Takes in the frames a codec thread finished (in order) into [`finished`](Self::finished).
    pub fn collect(&mut self) {
        let ViewEncoder::Pooled(pooled) = &mut self.encoder else {
            return;
        };
        while let Some(outcome) = pooled.poll() {
            match outcome {
                EncodeOutcome::Frame {
                    payloads,
                    keyframe,
                    captured_at,
                } => {
                    self.frames_encoded += 1;
                    if keyframe {
                        self.keyframes_sent += 1;
                    }
                    self.finished.push(FinishedFrame {
                        payloads,
                        captured_at,
                        keyframe,
                    });
                }
                EncodeOutcome::Skipped => {}
                EncodeOutcome::Failed(e) => warn!(error = %e, "canvas encode failed"),
            }
        }
    }

    /// Forgets the sent frames, handing their buffers back to the codec thread.
    pub fn clear_finished(&mut self) {
        for frame in self.finished.drain(..) {
            if let ViewEncoder::Pooled(pooled) = &self.encoder {
                pooled.recycle(frame.payloads);
            }
        }
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
            max_nal_bytes: None,
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
