//! One member's incoming video: RTP payloads → H.264 depacketizer (RFC 6184) → decoder →
//! the latest decoded picture (the compositor never waits for it). Loss, damaged frames or
//! decode errors ask the sender for a keyframe (PLI, RFC 4585 §6.3.1), rate-limited.
//!
//! The decoder runs inline (the dialling client, tests) or on a decode thread of the server's
//! [`VideoCodecPool`](super::codec_pool::VideoCodecPool); then pictures arrive a little
//! later and [`VideoInbound::collect`] takes them in.

use super::codec::VideoDecoder;
use super::codec_pool::{DecodeOutcome, PooledDecoder};
use super::frame::I420Frame;
use crate::rtp::h264::H264Depacketizer;
use std::time::{Duration, Instant};
use tracing::debug;

/// Minimum spacing of our keyframe requests to one sender.
pub const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// A picture older than this is stale: the tile shows a placeholder instead.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// Counters for snapshots.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct VideoInboundStats {
    pub frames_decoded: u64,
    pub decode_errors: u64,
    pub malformed_payloads: u64,
    pub keyframe_requests: u64,
    /// Frames dropped because the member's decode thread was behind.
    pub dropped_behind: u64,
    /// Complete frames not decoded because an earlier one was lost: they cannot show the
    /// right picture before the next keyframe.
    pub skipped_until_keyframe: u64,
}

/// Where a member's frames are decoded.
pub enum VideoDecoding {
    /// On the caller's thread, as they arrive.
    Inline(VideoDecoder),
    /// On a decode thread; pictures come back through [`VideoInbound::collect`].
    Pooled(PooledDecoder),
}

/// Depacketizer, decoder and the latest picture of one member.
pub struct VideoInbound {
    depacketizer: H264Depacketizer,
    decoder: VideoDecoding,
    picture: I420Frame,
    generation: u64,
    last_picture_at: Option<Instant>,
    want_keyframe: bool,
    /// A frame was dropped on this side (the decode thread was behind): the chain is broken
    /// until a keyframe.
    chain_broken: bool,
    last_request: Option<Instant>,
    stats: VideoInboundStats,
}

impl VideoInbound {
    /// Decodes inline.
    pub fn new(decoder: VideoDecoder) -> Self {
        Self::with_decoding(VideoDecoding::Inline(decoder))
    }

    pub fn with_decoding(decoder: VideoDecoding) -> Self {
        Self {
            depacketizer: H264Depacketizer::new(),
            decoder,
            picture: I420Frame::new_black(2, 2),
            generation: 0,
            last_picture_at: None,
            want_keyframe: true, // ask for a picture as soon as the member joins
            chain_broken: false,
            last_request: None,
            stats: VideoInboundStats::default(),
        }
    }

    /// Feeds one RTP packet of the video stream.
    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, marker: bool, payload: &[u8]) {
        // `push` returns the first finished access unit; `pop_ready` yields any further one.
        let first = match self.depacketizer.push(seq, timestamp, marker, payload) {
            Ok(unit) => unit,
            Err(e) => {
                self.stats.malformed_payloads += 1;
                debug!(error = %e, "bad H.264 payload dropped");
                None
            }
        };
        let mut next = first;
        while let Some(unit) = next.take().or_else(|| self.depacketizer.pop_ready()) {
            if !unit.complete {
                self.depacketizer.recycle(unit);
                continue;
            }
            // After a loss only a keyframe repairs the picture: the frames in between would
            // decode against a missing reference (libavcodec fills it in and shows damage).
            if (self.chain_broken || self.depacketizer.needs_keyframe()) && !unit.keyframe {
                self.stats.skipped_until_keyframe += 1;
                self.want_keyframe = true;
                self.depacketizer.recycle(unit);
                continue;
            }
            self.chain_broken &= !unit.keyframe;
            match &mut self.decoder {
                VideoDecoding::Inline(decoder) => {
                    match decoder.decode_into(unit.annex_b(), &mut self.picture) {
                        Ok(true) => {
                            self.generation += 1;
                            self.last_picture_at = Some(now);
                            self.stats.frames_decoded += 1;
                        }
                        Ok(false) => {}
                        Err(e) => {
                            self.stats.decode_errors += 1;
                            self.want_keyframe |= e.needs_keyframe();
                            debug!(error = %e, "video decode failed");
                        }
                    }
                }
                VideoDecoding::Pooled(pooled) => {
                    if !pooled.submit(unit.annex_b()) {
                        // The chain is broken from here: start again at a keyframe.
                        self.stats.dropped_behind += 1;
                        self.want_keyframe = true;
                        self.chain_broken = true;
                    }
                }
            }
            self.depacketizer.recycle(unit);
        }
        self.want_keyframe |= self.depacketizer.needs_keyframe();
    }

    /// Takes in the pictures a decode thread finished (nothing to do when decoding inline).
    pub fn collect(&mut self, now: Instant) {
        let VideoDecoding::Pooled(pooled) = &mut self.decoder else {
            return;
        };
        while let Some(outcome) = pooled.poll() {
            match outcome {
                DecodeOutcome::Picture(picture) => {
                    let spent = std::mem::replace(&mut self.picture, picture);
                    pooled.recycle(spent);
                    self.generation += 1;
                    self.last_picture_at = Some(now);
                    self.stats.frames_decoded += 1;
                }
                DecodeOutcome::NoPicture => {}
                DecodeOutcome::Failed { needs_keyframe } => {
                    self.stats.decode_errors += 1;
                    self.want_keyframe |= needs_keyframe;
                }
            }
        }
    }

    /// True when a PLI should be sent now (and records that it was).
    pub fn take_keyframe_request(&mut self, now: Instant) -> bool {
        let due = self
            .last_request
            .is_none_or(|at| now.duration_since(at) >= PLI_INTERVAL);
        if self.want_keyframe && due {
            self.want_keyframe = false;
            self.last_request = Some(now);
            self.stats.keyframe_requests += 1;
            return true;
        }
        false
    }

    /// The latest picture and its generation, unless none arrived yet or it went stale.
    pub fn picture(&self, now: Instant) -> Option<(&I420Frame, u64)> {
        let at = self.last_picture_at?;
        (now.duration_since(at) < STALE_AFTER).then_some((&self.picture, self.generation))
    }

    /// The latest picture regardless of age (clients keep showing what they saw last).
    pub fn last_picture(&self) -> Option<&I420Frame> {
        self.last_picture_at.map(|_| &self.picture)
    }

    pub fn stats(&self) -> VideoInboundStats {
        self.stats
    }
}
