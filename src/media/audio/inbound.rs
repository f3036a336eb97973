//! One member's incoming audio: RTP payloads → adaptive jitter buffer → decoder → a 48 kHz
//! PCM queue from which the mixer takes exactly one 20 ms frame per tick. Loss is concealed
//! (Opus FEC or PLC); when the stream is buffering or stopped the member is simply silent.

use super::codec::{AudioDecoder, CodecError, FRAME_SAMPLES};
use crate::rtp::jitter::{JitterBuffer, JitterConfig, Playout, PushOutcome};
use crate::sdp::AudioCodec;
use std::collections::VecDeque;
use std::time::Instant;

/// Upper bound of decoded audio kept ahead of the mixer (120 ms: one large Opus packet).
const MAX_QUEUED_SAMPLES: usize = 6 * FRAME_SAMPLES;

/// Counters for metrics and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct InboundStats {
    pub decoded_packets: u64,
    pub concealed_frames: u64,
    pub decode_errors: u64,
}

/// Jitter buffer plus decoder for one member.
pub struct AudioInbound {
    jitter: JitterBuffer<Vec<u8>>,
    decoder: AudioDecoder,
    queue: VecDeque<i16>,
    scratch: Vec<i16>,
    frame: Vec<i16>,
    stats: InboundStats,
}

impl AudioInbound {
    pub fn new(codec: AudioCodec) -> Result<Self, CodecError> {
        let clock_rate = match codec {
            AudioCodec::Opus => 48_000,
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
        };
        Ok(Self {
            jitter: JitterBuffer::new(JitterConfig {
                clock_rate,
                ..JitterConfig::default()
            })
            .map_err(|e| CodecError::Config(e.to_string()))?,
            decoder: AudioDecoder::new(codec)?,
            queue: VecDeque::with_capacity(MAX_QUEUED_SAMPLES + FRAME_SAMPLES),
            scratch: Vec::with_capacity(MAX_QUEUED_SAMPLES),
            frame: vec![0; FRAME_SAMPLES],
            stats: InboundStats::default(),
        })
    }

    /// Queues one RTP payload.
    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, payload: &[u8]) -> PushOutcome {
        self.jitter.push(now, seq, timestamp, payload.to_vec())
    }

    /// The next 20 ms frame, or `None` while there is nothing to play (silence).
    pub fn next_frame(&mut self, now: Instant) -> Option<&[i16]> {
        while self.queue.len() < FRAME_SAMPLES {
            self.scratch.clear();
            let result = match self.jitter.pop(now) {
                Playout::Buffering => return None,
                Playout::Packet(payload) => {
                    self.stats.decoded_packets += 1;
                    self.decoder.decode(&payload, &mut self.scratch)
                }
                Playout::Lost { next } => {
                    self.stats.concealed_frames += 1;
                    self.decoder.conceal(next.as_deref(), &mut self.scratch)
                }
            };
            if result.is_err() {
                self.stats.decode_errors += 1;
                continue; // the jitter buffer moves on; the next pop tries the next packet
            }
            if self.scratch.is_empty() {
                return None;
            }
            let room = MAX_QUEUED_SAMPLES.saturating_sub(self.queue.len());
            self.queue
                .extend(self.scratch.iter().take(room.max(FRAME_SAMPLES)).copied());
        }
        for (dst, src) in self.frame.iter_mut().zip(self.queue.drain(..FRAME_SAMPLES)) {
            *dst = src;
        }
        Some(&self.frame)
    }

    /// Decoder counters.
    pub fn stats(&self) -> InboundStats {
        self.stats
    }

    /// Jitter-buffer counters.
    pub fn jitter_stats(&self) -> crate::rtp::jitter::JitterStats {
        self.jitter.stats()
    }
}
