//! One member's incoming audio: RTP payloads → adaptive jitter buffer → decoder → a 48 kHz
//! PCM queue from which the mixer takes exactly one 20 ms frame per tick. Loss is concealed
//! (Opus FEC or PLC); when the stream is buffering or stopped the member is simply silent.
//!
//! A member that is not talking need not be decoded while its packets say they hold no speech
//! ([`opus_voice_activity`]): such packets are dropped undecoded and the decoder is reset
//! before the next packet it does decode, so no stale history leaks into the speech onset.
//!
//! A member that is only metered (a big room's talker that is not among the mixed ones) needs
//! its level, not its frame: [`AudioInbound::next_level`] decodes it at 16 kHz (no resampling
//! of wideband SILK to 48 kHz: 17 µs a packet against 23 µs) with a second decoder, and the
//! 48 kHz decoder is reset before it is used again. When such a member is chosen on the tick
//! it was metered, [`AudioInbound::frame_of_metered`] decodes the packet just metered at
//! 48 kHz, so the onset that won it its place is heard on that tick, not one later.
//!
//! A frame decoded from exactly one whole 20 ms packet keeps that packet
//! ([`AudioInbound::forwardable_payload`]): a listener whose mix is this member alone can be
//! sent it as it came, with no encode and no generation loss.

use super::codec::{AudioDecoder, CodecError, FRAME_SAMPLES};
use super::opus_activity::{opus_voice_activity, VoiceActivity};
use super::talk::{level_dbfs, SILENCE_DBFS};
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
    /// Packets not decoded because they carried no speech and nobody needed them.
    pub skipped_inactive: u64,
    /// Packets decoded at 16 kHz for their level only.
    pub metered_packets: u64,
}

/// Bytes of 20 ms of G.711 (8 kHz, a byte a sample).
const G711_FRAME_BYTES: usize = 160;

/// The rate at which a metered member is decoded.
const METER_RATE: u32 = 16_000;
/// Samples of 20 ms at [`METER_RATE`].
const METER_FRAME: usize = 320;

/// The 16 kHz decoder of a metered member and what is left of its last packet.
struct Meter {
    decoder: opus::Decoder,
    pcm: Vec<i16>,
    /// Its history is not the stream's (packets went to the 48 kHz decoder, or were lost).
    stale: bool,
    /// Samples of the last packet not yet accounted for (a packet longer than 20 ms), and
    /// that packet's level.
    carried: usize,
    level: f32,
    /// The last level came from one whole 20 ms packet, kept in `last_payload`.
    whole_packet: bool,
}

/// Whether [`AudioInbound::next_frame`] may leave packets without speech undecoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeNeed {
    /// Decode everything (the member is in the mix, or skipping is disabled).
    Everything,
    /// Only packets that may hold speech; inactive ones (and losses among them) become silence.
    SpeechOnly,
}

/// Jitter buffer plus decoder for one member.
pub struct AudioInbound {
    jitter: JitterBuffer<Vec<u8>>,
    decoder: AudioDecoder,
    /// Packets were skipped since the last decode: reset before decoding again.
    decoder_stale: bool,
    /// The codec can tell speech from silence without decoding.
    has_activity_flags: bool,
    queue: VecDeque<i16>,
    scratch: Vec<i16>,
    frame: Vec<i16>,
    /// The packet the last frame was decoded from, when it alone made that frame.
    last_payload: Vec<u8>,
    forwardable: bool,
    /// Built the first time the member is only metered.
    meter: Option<Box<Meter>>,
    stats: InboundStats,
}

impl AudioInbound {
    pub fn new(codec: AudioCodec) -> Result<Self, CodecError> {
        Self::with_jitter(codec, JitterConfig::default())
    }

    /// For a stream another server paced (a cascade leg's mix): no playout delay beyond what
    /// its jitter asks for (a hop adds one frame less).
    pub fn paced(codec: AudioCodec) -> Result<Self, CodecError> {
        Self::with_jitter(
            codec,
            JitterConfig {
                min_delay_ms: 0,
                headroom_ms: 0,
                ..JitterConfig::default()
            },
        )
    }

    fn with_jitter(codec: AudioCodec, jitter: JitterConfig) -> Result<Self, CodecError> {
        let clock_rate = match codec {
            AudioCodec::Opus => 48_000,
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
        };
        Ok(Self {
            jitter: JitterBuffer::new(JitterConfig {
                clock_rate,
                ..jitter
            })
            .map_err(|e| CodecError::Config(e.to_string()))?,
            decoder: AudioDecoder::new(codec)?,
            decoder_stale: false,
            has_activity_flags: codec == AudioCodec::Opus,
            queue: VecDeque::with_capacity(MAX_QUEUED_SAMPLES + FRAME_SAMPLES),
            scratch: Vec::with_capacity(MAX_QUEUED_SAMPLES),
            frame: vec![0; FRAME_SAMPLES],
            last_payload: Vec::new(),
            forwardable: false,
            meter: None,
            stats: InboundStats::default(),
        })
    }

    /// Queues one RTP payload.
    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, payload: &[u8]) -> PushOutcome {
        self.jitter.push(now, seq, timestamp, payload.to_vec())
    }

    /// The next 20 ms frame, or `None` while there is nothing to play (silence).
    pub fn next_frame(&mut self, now: Instant, need: DecodeNeed) -> Option<&[i16]> {
        let skip_inactive = need == DecodeNeed::SpeechOnly && self.has_activity_flags;
        // Forwardable: nothing was carried over, and one packet makes exactly this frame.
        let mut sole_packet = self.queue.is_empty();
        let mut popped = 0;
        self.forwardable = false;
        while self.queue.len() < FRAME_SAMPLES {
            self.scratch.clear();
            popped += 1;
            let result = match self.jitter.pop(now) {
                Playout::Buffering => return None,
                Playout::Packet(payload) => {
                    if skip_inactive && opus_voice_activity(&payload) == VoiceActivity::Inactive {
                        return self.skip();
                    }
                    self.stats.decoded_packets += 1;
                    self.refresh_decoder();
                    let result = self.decoder.decode(&payload, &mut self.scratch);
                    // An Opus packet's decode is the whole packet (960 samples: 20 ms); G.711
                    // carries samples between packets, so its payload itself must be 20 ms.
                    sole_packet &= self.has_activity_flags || payload.len() == G711_FRAME_BYTES;
                    self.last_payload = payload;
                    result
                }
                Playout::Lost { .. } if skip_inactive => return self.skip(),
                Playout::Lost { next } => {
                    sole_packet = false;
                    self.stats.concealed_frames += 1;
                    self.refresh_decoder();
                    self.decoder.conceal(next.as_deref(), &mut self.scratch)
                }
            };
            if result.is_err() {
                self.stats.decode_errors += 1;
                sole_packet = false;
                continue; // the jitter buffer moves on; the next pop tries the next packet
            }
            if self.scratch.is_empty() {
                return None;
            }
            sole_packet &= popped == 1 && self.scratch.len() == FRAME_SAMPLES;
            let room = MAX_QUEUED_SAMPLES.saturating_sub(self.queue.len());
            self.queue
                .extend(self.scratch.iter().take(room.max(FRAME_SAMPLES)).copied());
        }
        for (dst, src) in self.frame.iter_mut().zip(self.queue.drain(..FRAME_SAMPLES)) {
            *dst = src;
        }
        self.forwardable = sole_packet;
        Some(&self.frame)
    }

    /// The packet the last [`next_frame`](Self::next_frame) decoded, when that one whole
    /// 20 ms packet alone made the frame (not concealment, not part of a longer packet).
    pub fn forwardable_payload(&self) -> Option<&[u8]> {
        self.forwardable.then_some(self.last_payload.as_slice())
    }

    /// The level (dBFS) of the next 20 ms, without making the frame: Opus is decoded at 16 kHz
    /// by a decoder of its own (with [`DecodeNeed::SpeechOnly`], packets without speech are
    /// not decoded at all); the 48 kHz decoder misses these packets and is reset before it
    /// decodes again. `None` while there is nothing to play. G.711 is decoded as usual (it is
    /// cheap).
    pub fn next_level(&mut self, now: Instant, need: DecodeNeed) -> Option<f32> {
        if !self.has_activity_flags {
            return self.next_frame(now, DecodeNeed::Everything).map(level_dbfs);
        }
        self.forwardable = false;
        // What the 48 kHz decoder had queued is dropped: it starts afresh when needed.
        self.queue.clear();
        self.decoder_stale = true;
        if self.meter.is_none() {
            let decoder = opus::Decoder::new(METER_RATE, opus::Channels::Mono).ok()?;
            self.meter = Some(Box::new(Meter {
                decoder,
                pcm: vec![0; 6 * METER_FRAME],
                stale: false,
                carried: 0,
                level: SILENCE_DBFS,
                whole_packet: false,
            }));
        }
        let Self {
            meter,
            jitter,
            stats,
            last_payload,
            ..
        } = self;
        let meter = meter.as_mut()?;
        meter.whole_packet = false;
        let mut popped = 0;
        // Packets of 10 ms take two pops a tick, packets of 40 ms one every other tick.
        while meter.carried < METER_FRAME {
            popped += 1;
            let payload = match jitter.pop(now) {
                Playout::Buffering => return None,
                Playout::Lost { .. } => {
                    meter.stale = true;
                    meter.carried = 0;
                    return None;
                }
                Playout::Packet(payload) => payload,
            };
            if need == DecodeNeed::SpeechOnly
                && opus_voice_activity(&payload) == VoiceActivity::Inactive
            {
                stats.skipped_inactive += 1;
                meter.stale = true;
                meter.carried = 0;
                return None;
            }
            if std::mem::take(&mut meter.stale) && meter.decoder.reset_state().is_err() {
                stats.decode_errors += 1;
            }
            let Ok(n) = meter.decoder.decode(&payload, &mut meter.pcm, false) else {
                stats.decode_errors += 1;
                return None;
            };
            stats.metered_packets += 1;
            meter.level = level_dbfs(&meter.pcm[..n]);
            meter.carried += n;
            meter.whole_packet = popped == 1 && n == METER_FRAME;
            if meter.whole_packet {
                *last_payload = payload;
            }
        }
        meter.carried -= METER_FRAME;
        Some(meter.level)
    }

    /// The 48 kHz frame of the packet the last [`next_level`](Self::next_level) metered, for
    /// a member chosen on that tick: decoded by the 48 kHz decoder (reset, as it missed the
    /// metered packets), which then goes on with the stream. `None` unless that level came
    /// from one whole 20 ms packet. The frame is forwardable like any other.
    pub fn frame_of_metered(&mut self) -> Option<&[i16]> {
        let meter = self.meter.as_mut()?;
        if !std::mem::take(&mut meter.whole_packet) {
            return None;
        }
        self.refresh_decoder();
        self.scratch.clear();
        let payload = std::mem::take(&mut self.last_payload);
        let decoded = self.decoder.decode(&payload, &mut self.scratch);
        self.last_payload = payload;
        if decoded.is_err() || self.scratch.len() != FRAME_SAMPLES {
            self.stats.decode_errors += u64::from(decoded.is_err());
            self.decoder_stale = true;
            return None;
        }
        self.stats.decoded_packets += 1;
        self.frame.copy_from_slice(&self.scratch);
        self.forwardable = true;
        Some(&self.frame)
    }

    /// A packet left undecoded: this tick is silent, and the decoder's history is now stale.
    fn skip(&mut self) -> Option<&[i16]> {
        self.stats.skipped_inactive += 1;
        if let Some(meter) = self.meter.as_mut() {
            meter.stale = true;
        }
        self.decoder_stale = true;
        self.queue.clear();
        None
    }

    fn refresh_decoder(&mut self) {
        if let Some(meter) = self.meter.as_mut() {
            meter.stale = true; // the 48 kHz decoder takes the packets now
            meter.carried = 0;
        }
        if self.decoder_stale {
            self.decoder_stale = false;
            if self.decoder.reset().is_err() {
                self.stats.decode_errors += 1;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::codec::{AudioEncoder, EncoderSettings};
    use crate::media::audio::tone::ToneGenerator;
    use std::time::Duration;

    /// Feeds `silent` silent frames then tone frames, one per tick, and returns the inbound
    /// with the levels of the frames it produced.
    fn run(need: DecodeNeed, silent: usize, tone: usize) -> (AudioInbound, Vec<Option<f32>>) {
        let mut encoder =
            AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default()).expect("encoder");
        let mut inbound = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let mut generator = ToneGenerator::new(440.0, 8000, 48_000);
        let mut pcm = vec![0i16; FRAME_SAMPLES];
        let start = Instant::now();
        let mut levels = Vec::new();
        for i in 0..silent + tone {
            if i >= silent {
                generator.fill(&mut pcm);
            }
            let mut payload = Vec::new();
            encoder.encode(&pcm, &mut payload).expect("encode");
            let now = start + Duration::from_millis(20 * i as u64);
            inbound.push(now, i as u16, (i * FRAME_SAMPLES) as u32, &payload);
            levels.push(inbound.next_frame(now, need).map(level_dbfs));
        }
        (inbound, levels)
    }

    #[test]
    fn silent_packets_are_not_decoded_when_only_speech_is_needed() {
        let (inbound, levels) = run(DecodeNeed::SpeechOnly, 40, 20);
        let stats = inbound.stats();
        assert!(stats.skipped_inactive >= 30, "{stats:?}");
        assert!(stats.decoded_packets <= 30, "{stats:?}");
        // The tone after the skipped silence decodes cleanly from a reset decoder.
        let loud = levels[45..]
            .iter()
            .flatten()
            .filter(|l| **l > -30.0)
            .count();
        assert!(loud >= 10, "{levels:?}");
    }

    #[test]
    fn everything_is_decoded_when_asked() {
        let (inbound, _) = run(DecodeNeed::Everything, 40, 5);
        let stats = inbound.stats();
        assert_eq!(stats.skipped_inactive, 0);
        assert!(stats.decoded_packets >= 40, "{stats:?}");
    }

    /// `count` Opus packets of `frame` samples (20 ms = 960) of a 440 Hz tone.
    fn opus_tone_packets(count: usize, frame: usize) -> Vec<Vec<u8>> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .expect("opus");
        let mut generator = ToneGenerator::new(440.0, 8000, 48_000);
        let mut pcm = vec![0i16; frame];
        let mut packet = vec![0u8; 1275];
        (0..count)
            .map(|_| {
                generator.fill(&mut pcm);
                let n = encoder.encode(&pcm, &mut packet).expect("encode");
                packet[..n].to_vec()
            })
            .collect()
    }

    #[test]
    fn a_whole_20_ms_packet_is_kept_for_forwarding_and_concealment_or_longer_packets_are_not() {
        let mut inbound = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let start = Instant::now();
        let sent = opus_tone_packets(30, FRAME_SAMPLES);
        let mut forwarded = Vec::new();
        for (i, payload) in (0..30u16).zip(&sent) {
            let now = start + Duration::from_millis(20 * u64::from(i));
            if i != 20 {
                // Packet 20 is lost: its frame is concealed, which is not a packet to forward.
                inbound.push(now, i, u32::from(i) * 960, payload);
            }
            if inbound.next_frame(now, DecodeNeed::Everything).is_some() {
                forwarded.push(inbound.forwardable_payload().map(<[u8]>::to_vec));
            }
        }
        let kept: Vec<&Vec<u8>> = forwarded.iter().flatten().collect();
        assert!(
            kept.len() >= 15,
            "{} of {} frames",
            kept.len(),
            forwarded.len()
        );
        for payload in &kept {
            assert!(sent.contains(payload), "forwarded exactly as received");
        }
        assert!(
            forwarded.iter().any(Option::is_none),
            "the concealed frame is not forwardable"
        );
        assert_eq!(inbound.stats().concealed_frames, 1);
        // A 40 ms packet makes two frames: neither is the packet.
        let mut long = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        for (i, packet) in (0..10u16).zip(&opus_tone_packets(10, 2 * FRAME_SAMPLES)) {
            let now = start + Duration::from_millis(40 * u64::from(i));
            long.push(now, i, u32::from(i) * 1920, packet);
            for _ in 0..2 {
                if long.next_frame(now, DecodeNeed::Everything).is_some() {
                    assert!(long.forwardable_payload().is_none(), "40 ms packets");
                }
            }
        }
        assert!(long.stats().decoded_packets > 0);
    }

    #[test]
    fn a_metered_member_gets_its_level_from_16_khz_and_its_48_khz_stream_restarts_cleanly() {
        let mut full = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let mut metered = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let start = Instant::now();
        let mut full_levels = Vec::new();
        let mut meter_levels = Vec::new();
        let mut after = Vec::new();
        for (i, payload) in (0..60u16).zip(&opus_tone_packets(60, FRAME_SAMPLES)) {
            let now = start + Duration::from_millis(20 * u64::from(i));
            full.push(now, i, u32::from(i) * 960, payload);
            metered.push(now, i, u32::from(i) * 960, payload);
            full_levels.extend(full.next_frame(now, DecodeNeed::Everything).map(level_dbfs));
            if i < 40 {
                meter_levels.extend(metered.next_level(now, DecodeNeed::SpeechOnly));
            } else {
                // Mixed again: frames at 48 kHz from a reset decoder.
                after.extend(
                    metered
                        .next_frame(now, DecodeNeed::Everything)
                        .map(level_dbfs),
                );
            }
        }
        let median = |v: &mut Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        let (full, meter) = (median(&mut full_levels), median(&mut meter_levels));
        assert!(meter_levels.len() >= 30, "{meter_levels:?}");
        assert!(
            (full - meter).abs() < 1.5,
            "48 kHz {full:.1} dBFS, 16 kHz {meter:.1}"
        );
        assert!(
            metered.stats().metered_packets >= 30,
            "{:?}",
            metered.stats()
        );
        assert!(after.len() >= 15, "{after:?}");
        // A reset decoder fades in over about 80 ms (measured: -11, -5, -2.4, -1.2 dB, then
        // the level); audible from the first frame.
        assert!(after[0] > full - 15.0, "heard at once: {after:?}");
        assert!(
            after[5..].iter().all(|l| (l - full).abs() < 1.5),
            "the tone at its level after the switch: {after:?}"
        );
    }

    #[test]
    fn a_member_chosen_while_metered_is_heard_from_the_packet_just_metered() {
        let mut full = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let mut chosen = AudioInbound::new(AudioCodec::Opus).expect("inbound");
        let sent = opus_tone_packets(40, FRAME_SAMPLES);
        let start = Instant::now();
        let mut full_levels = Vec::new();
        let mut heard = Vec::new();
        for (i, payload) in (0..40u16).zip(&sent) {
            let now = start + Duration::from_millis(20 * u64::from(i));
            full.push(now, i, u32::from(i) * 960, payload);
            chosen.push(now, i, u32::from(i) * 960, payload);
            full_levels.extend(full.next_frame(now, DecodeNeed::Everything).map(level_dbfs));
            if i < 20 {
                let _ = chosen.next_level(now, DecodeNeed::SpeechOnly);
                continue;
            }
            let frame = if i == 20 {
                // Metered, then chosen on the same tick: that packet is the onset heard.
                assert!(chosen.next_level(now, DecodeNeed::SpeechOnly).is_some());
                chosen.frame_of_metered().map(level_dbfs)
            } else {
                chosen
                    .next_frame(now, DecodeNeed::Everything)
                    .map(level_dbfs)
            };
            // The packet a member mixed all along plays at this tick, no later.
            assert!(chosen.forwardable_payload().is_some(), "tick {i}");
            assert_eq!(
                chosen.forwardable_payload(),
                full.forwardable_payload(),
                "tick {i}"
            );
            heard.extend(frame);
            if i == 20 {
                assert!(
                    chosen.frame_of_metered().is_none(),
                    "once per metered packet"
                );
            }
        }
        full_levels.sort_by(f32::total_cmp);
        let level = full_levels[full_levels.len() / 2];
        assert_eq!(
            heard.len(),
            20,
            "every tick from the choice is heard: {heard:?}"
        );
        // The reset decoder fades in over a few frames from the onset packet on, without a
        // second reset at the next packet.
        assert!(heard[0] > level - 15.0, "{heard:?}");
        assert!(heard[1] > level - 8.0, "{heard:?}");
        assert!(
            heard[5..].iter().all(|l| (l - level).abs() < 1.5),
            "the tone at its level: {heard:?}"
        );
        let stats = chosen.stats();
        assert_eq!(stats.decoded_packets, 20, "{stats:?}");
    }

    #[test]
    fn metering_takes_10_ms_and_40_ms_packets_at_the_rate_they_come() {
        for (frame, per_tick) in [(480usize, 2u64), (1920, 1)] {
            let mut inbound = AudioInbound::new(AudioCodec::Opus).expect("inbound");
            let start = Instant::now();
            let packets = opus_tone_packets(200, frame);
            let ms = (frame / 48) as u64;
            let mut sent = 0usize;
            let mut levels = 0;
            for tick in 0..100u64 {
                let now = start + Duration::from_millis(20 * tick);
                // Everything due by now has arrived.
                while sent < packets.len() && (sent as u64) * ms <= 20 * tick {
                    let ts = (sent * frame) as u32;
                    inbound.push(now, sent as u16, ts, &packets[sent]);
                    sent += 1;
                }
                if inbound.next_level(now, DecodeNeed::Everything).is_some() {
                    levels += 1;
                }
            }
            let stats = inbound.jitter_stats();
            assert!(
                levels >= 90,
                "{frame}: a level nearly every tick ({levels})"
            );
            assert!(
                stats.buffered_ms <= 80,
                "{frame}: drained as fast as it comes: {stats:?}"
            );
            let metered = inbound.stats().metered_packets;
            let want = 100 * 20 / ms;
            assert!(
                metered + 5 >= want && metered <= want,
                "{frame}: {metered} of {want} packets metered ({per_tick} per tick)"
            );
        }
    }

    #[test]
    fn g711_forwards_only_20_ms_payloads() {
        for (bytes, forwardable) in [(160usize, true), (80, false), (240, false)] {
            let mut inbound = AudioInbound::new(AudioCodec::Pcmu).expect("inbound");
            let start = Instant::now();
            let mut kept = 0;
            for i in 0..40u16 {
                let now = start + Duration::from_millis(20 * u64::from(i));
                let ts = u32::from(i) * bytes as u32;
                inbound.push(now, i, ts, &vec![0x55; bytes]);
                if inbound.next_frame(now, DecodeNeed::Everything).is_some() {
                    kept += usize::from(inbound.forwardable_payload().is_some());
                }
            }
            assert_eq!(
                kept > 0,
                forwardable,
                "{bytes}-byte packets: {kept} forwardable"
            );
        }
    }
}
