//! A room member as the media thread sees it: its RTP endpoint, inbound audio pipeline, talk
//! detector, outgoing stream header state, its private encoder (used only while it talks) and
//! RTCP reporting (RFC 3550 §6.4).

use super::member_control::{ControlState, MemberControl};
use super::member_video::{MemberVideo, MemberVideoSetup};
use crate::media::audio::codec::{rtp_ticks_per_frame, AudioEncoder, CodecError, FRAME_SAMPLES};
use crate::media::audio::gain::Gain;
use crate::media::audio::inbound::{AudioInbound, DecodeNeed};
use crate::media::audio::talk::{level_dbfs, TalkConfig, TalkDetector, SILENCE_DBFS};
use crate::media::audio::tone::ToneGenerator;
use crate::metrics::RtpDelta;
use crate::rtp::clock::{FrameClock, MediaClock};
use crate::rtp::endpoint::{Inbound, RemoteMedia, RtpEndpoint};
use crate::rtp::rtcp::{
    ntp_from_unix, write_compound, RtcpPacket, SdesChunk, SdesItem, SenderInfo,
};
use crate::rtp::sender::RtpSender;
use crate::rtp::stats::ReceiveStats;
use crate::rtp::telephone_event::DtmfReceiver;
use crate::sdp::{AudioCodec, Direction};
use std::time::{Duration, Instant};
use tracing::debug;

/// Process-wide member identifier.
pub type MemberId = u64;

/// Weight of each quieter frame's level in [`Member::loudness_dbfs`] (a release of about 5
/// frames, 100 ms; a louder frame counts at once).
const LOUDNESS_SMOOTHING: f32 = 0.2;
/// The lowest loudness a member has (the talk threshold is far above).
const LOUDNESS_FLOOR_DBFS: f32 = -70.0;

/// RTCP report interval (RFC 3550 §6.2 minimum is 5 s).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// The clock of one tick: monotonic time for intervals, wall clock for RTCP NTP timestamps.
#[derive(Debug, Clone, Copy)]
pub struct TickTime {
    pub now: Instant,
    pub since_unix_epoch: Duration,
}

/// Negotiated audio parameters of a member.
#[derive(Debug, Clone, Copy)]
pub struct AudioParams {
    pub codec: AudioCodec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    /// Our direction towards the member.
    pub direction: Direction,
}

/// A re-negotiated media description for an existing member (re-INVITE). A stream that is
/// `None` was rejected or left out: it stops in both directions.
#[derive(Debug, Clone, Copy)]
pub struct MediaUpdate {
    pub audio: Option<StreamUpdate>,
    pub video: Option<StreamUpdate>,
}

/// One stream's re-negotiated description.
#[derive(Debug, Clone, Copy)]
pub struct StreamUpdate {
    pub remote: RemoteMedia,
    pub direction: Direction,
    pub payload_type: u8,
    /// RFC 4733 events (audio only).
    pub telephone_event_pt: Option<u8>,
}

/// Frequency of the PIN prompt beeps a caller in the lobby hears.
pub const PROMPT_HZ: f32 = 425.0;

/// Everything needed to put a member into a room, built off the media thread (sockets bound,
/// decoder and encoder constructed) so that joining never stalls the mix.
pub struct MemberSetup {
    pub id: MemberId,
    pub call_id: String,
    pub name: String,
    pub endpoint: RtpEndpoint,
    pub audio: AudioParams,
    pub inbound: AudioInbound,
    pub encoder: AudioEncoder,
    /// Video, when the call negotiated it.
    pub video: Option<MemberVideoSetup>,
    /// Canvas (0-based) showing this member: its picture, or its placeholder card when it
    /// sends no video; `None` = on no canvas (watch-only, or audio kept off the screen).
    pub initial_canvas: Option<usize>,
    /// Controls it starts with (a caller that must enter a PIN starts awaiting it).
    pub controls: ControlState,
}

/// A member's media state, owned by its room's media thread.
pub struct Member {
    pub id: MemberId,
    pub call_id: String,
    pub name: String,
    endpoint: RtpEndpoint,
    audio: AudioParams,
    inbound: AudioInbound,
    /// Private encoder for mix-minus while talking.
    pub(super) encoder: AudioEncoder,
    /// The private encoder's last output was not sent on the tick before (it was idle, or
    /// forwarded packets or silence went out instead): reset it before it encodes again.
    encoder_idle: bool,
    talk: TalkDetector,
    sender: RtpSender,
    /// Timestamps of the audio we send; its epoch is the video clock's too (lip sync).
    audio_clock: FrameClock,
    rx_stats: ReceiveStats,
    remote_ssrc: Option<u32>,
    /// This tick's decoded frame (silence when nothing arrived).
    pub(super) frame: Vec<i16>,
    pub(super) has_frame: bool,
    pub(super) talking: bool,
    /// In this tick's mix (a talker among the loudest, see [`super::talker_selection`]).
    pub(super) mixed: bool,
    /// Its level with a fast attack and a release of about 100 ms (dBFS), what the talker
    /// selection compares.
    pub(super) loudness_dbfs: f32,
    /// Only its level is needed this tick (its room mixes fewer talkers than talk, and it is
    /// not one of them): decoded at 16 kHz, no frame ([`AudioInbound::next_level`]).
    pub(super) metered: bool,
    last_rx: Instant,
    timed_out: bool,
    next_rtcp: Instant,
    packet_buf: Vec<u8>,
    cname: String,
    pub(super) ignored_packets: u64,
    /// This tick's audio level (for the video floor).
    pub(super) level_dbfs: f32,
    /// Video state, when negotiated.
    pub video: Option<MemberVideo>,
    /// Canvas (0-based) showing this member, see [`MemberSetup::initial_canvas`].
    pub initial_canvas: Option<usize>,
    /// This tick's talk-state change, between the receive and the mix step.
    pub(super) talk_change: Option<bool>,
    /// This tick's private mix-minus payload (talkers), and whether it is to be sent.
    own_mix: Vec<u8>,
    pub(super) sends_own_mix: bool,
    /// Operator controls (muted, deaf, volumes, slot, banner).
    pub controls: ControlState,
    /// Its voice's gain in the mix and the gain of what it hears (from the controls).
    pub(super) gain_in: Gain,
    pub(super) gain_out: Gain,
    /// Cumulative RTP counts of audio and video at the last metrics report.
    rtp_reported: [RtpDelta; 2],
    dtmf: DtmfReceiver,
    /// Digits received this tick, for the room to report.
    dtmf_digits: Vec<char>,
    /// The PIN prompt tone and where in its cadence it is.
    prompt: ToneGenerator,
    prompt_ticks: u32,
}

impl Member {
    pub fn new(setup: MemberSetup, talk: TalkConfig, now: Instant) -> Self {
        let clock = setup.audio.codec.rtp_clock_rate();
        // One epoch for all of this member's streams, so their SRs share a wall clock.
        let epoch = now;
        let audio_clock = FrameClock::new(
            MediaClock::new(clock, epoch),
            rtp_ticks_per_frame(setup.audio.codec),
        );
        Self {
            id: setup.id,
            cname: format!("tessera-{}", setup.id),
            call_id: setup.call_id,
            name: setup.name,
            endpoint: setup.endpoint,
            audio: setup.audio,
            inbound: setup.inbound,
            encoder: setup.encoder,
            encoder_idle: false,
            talk: TalkDetector::new(talk),
            sender: RtpSender::new(setup.audio.payload_type),
            audio_clock,
            rx_stats: ReceiveStats::new(clock),
            remote_ssrc: None,
            frame: vec![0; FRAME_SAMPLES],
            has_frame: false,
            talking: false,
            mixed: false,
            loudness_dbfs: LOUDNESS_FLOOR_DBFS,
            metered: false,
            last_rx: now,
            timed_out: false,
            next_rtcp: now + RTCP_INTERVAL / 2,
            packet_buf: Vec::with_capacity(1500),
            ignored_packets: 0,
            rtp_reported: [RtpDelta::default(); 2],
            dtmf: DtmfReceiver::default(),
            dtmf_digits: Vec::new(),
            prompt: ToneGenerator::new(PROMPT_HZ, 6000, 48_000),
            prompt_ticks: 0,
            level_dbfs: -120.0,
            video: setup.video.map(|video| MemberVideo::new(video, epoch)),
            initial_canvas: setup.initial_canvas,
            talk_change: None,
            own_mix: Vec::new(),
            sends_own_mix: false,
            gain_in: Gain::from_db(setup.controls.volume_in),
            gain_out: Gain::from_db(setup.controls.volume_out),
            controls: setup.controls,
        }
    }

    /// Audio and video RTP counts since the last call (for the metrics).
    pub fn take_rtp_deltas(&mut self) -> [RtpDelta; 2] {
        let audio = self.endpoint.counters();
        let lost = self.rx_stats.cumulative_lost().max(0) as u64;
        let video = self
            .video
            .as_ref()
            .map(|v| v.counters())
            .unwrap_or_default();
        let now = [
            RtpDelta {
                received: audio.rx_rtp,
                sent: audio.tx_rtp,
                lost,
            },
            RtpDelta {
                received: video.rx_rtp,
                sent: video.tx_rtp,
                lost: 0,
            },
        ];
        let before = std::mem::replace(&mut self.rtp_reported, now);
        [0, 1].map(|i| RtpDelta {
            received: now[i].received.saturating_sub(before[i].received),
            sent: now[i].sent.saturating_sub(before[i].sent),
            // The cumulative count can shrink (duplicates, a new SSRC).
            lost: now[i].lost.saturating_sub(before[i].lost),
        })
    }

    pub fn codec(&self) -> AudioCodec {
        self.audio.codec
    }

    /// Whether we send media to this member (not when it put us on hold).
    pub fn wants_audio(&self) -> bool {
        self.audio.direction.sends()
    }

    /// Whether we take this member's audio into the mix (not when muted, nor on hold).
    pub fn contributes(&self) -> bool {
        self.audio.direction.receives() && !self.controls.muted && !self.controls.awaiting_pin
    }

    /// Digits received since the last call (RFC 4733 events).
    pub fn take_dtmf(&mut self) -> Vec<char> {
        std::mem::take(&mut self.dtmf_digits)
    }

    /// Fills `frame` with the PIN prompt: a short [`PROMPT_HZ`] beep every two seconds.
    pub(super) fn prompt_frame(&mut self, frame: &mut [i16]) {
        const BEEP_TICKS: u32 = 10;
        const PERIOD_TICKS: u32 = 100;
        let tick = self.prompt_ticks;
        self.prompt_ticks = self.prompt_ticks.wrapping_add(1);
        if tick % PERIOD_TICKS < BEEP_TICKS {
            self.prompt.fill(frame);
        } else {
            frame.iter_mut().for_each(|s| *s = 0);
        }
    }

    /// Applies operator controls; a member muted while talking stops talking at its next
    /// receive. Returns whether anything changed.
    pub fn apply_control(&mut self, change: &MemberControl) -> bool {
        let mut changed = self.controls.apply(change);
        self.gain_in = Gain::from_db(self.controls.volume_in);
        self.gain_out = Gain::from_db(self.controls.volume_out);
        if let Some(canvas) = change.canvas {
            changed |= self.initial_canvas != canvas;
            self.initial_canvas = canvas;
        }
        if let (Some(canvas), Some(video)) = (change.watching_canvas, self.video.as_mut()) {
            changed |= video.watch(canvas);
        }
        if self.controls.muted {
            self.talk.reset();
        }
        changed
    }

    /// Applies a re-negotiation (the codecs themselves stay; payload types may be renumbered;
    /// a stream left out stops both ways).
    pub fn update(&mut self, now: Instant, update: MediaUpdate) {
        match update.audio {
            Some(audio) => {
                self.endpoint.update_remote(audio.remote);
                self.audio.direction = audio.direction;
                self.audio.payload_type = audio.payload_type;
                self.audio.telephone_event_pt = audio.telephone_event_pt;
                self.sender.set_payload_type(audio.payload_type);
            }
            None => self.audio.direction = Direction::Inactive,
        }
        if let Some(video) = self.video.as_mut() {
            video.update(now, update.video);
        }
        self.last_rx = now; // the RTP timeout restarts with the new media description
        self.timed_out = false;
    }

    /// Drains the sockets and produces this tick's frame and talk state. With
    /// `skip_inactive_decode`, a member that is not talking is decoded only when its packets
    /// may hold speech. Returns `Some(talking)` when the talk state changed.
    pub fn receive(&mut self, now: Instant, skip_inactive_decode: bool) -> Option<bool> {
        let Self {
            endpoint,
            inbound,
            rx_stats,
            remote_ssrc,
            last_rx,
            audio,
            ignored_packets,
            dtmf,
            dtmf_digits,
            ..
        } = self;
        endpoint.drain(now, |packet| match packet {
            Inbound::Rtp(rtp, arrived) => {
                if Some(rtp.payload_type()) == audio.telephone_event_pt {
                    if let Some(digit) = dtmf.on_packet(rtp.timestamp(), rtp.payload()) {
                        dtmf_digits.push(digit);
                    }
                    *last_rx = now;
                    return;
                }
                if rtp.payload_type() != audio.payload_type {
                    // telephone-event and anything unexpected are not mixed.
                    *ignored_packets += 1;
                    return;
                }
                if remote_ssrc.is_some_and(|s| s != rtp.ssrc()) {
                    *rx_stats = ReceiveStats::new(audio.codec.rtp_clock_rate());
                    debug!(ssrc = rtp.ssrc(), "remote SSRC changed");
                }
                *remote_ssrc = Some(rtp.ssrc());
                let seq = u16::from(rtp.sequence_number());
                rx_stats.on_packet(arrived, seq, rtp.timestamp(), rtp.payload().len());
                inbound.push(arrived, seq, rtp.timestamp(), rtp.payload());
                *last_rx = now;
            }
            Inbound::Rtcp(packets) => {
                for p in packets {
                    if let RtcpPacket::SenderReport { info, .. } = p {
                        rx_stats.on_sender_report(now, info.ntp_timestamp);
                    }
                }
                *last_rx = now;
            }
        });
        if !self.contributes() {
            // Muted or on hold: nothing of it is mixed, so nothing needs decoding; the
            // jitter buffer is still drained.
            let _ = self.inbound.next_frame(now, DecodeNeed::SpeechOnly);
            if self.has_frame {
                self.frame.iter_mut().for_each(|s| *s = 0);
            }
            self.has_frame = false;
            self.level_dbfs = SILENCE_DBFS;
            self.loudness_dbfs = LOUDNESS_FLOOR_DBFS;
            let stopped = std::mem::take(&mut self.talking);
            return stopped.then_some(false);
        }
        if self.metered {
            // Among a big room's talkers but not mixed: its level, not its frame.
            if self.has_frame {
                self.frame.iter_mut().for_each(|s| *s = 0);
            }
            self.has_frame = false;
            let need = if skip_inactive_decode {
                DecodeNeed::SpeechOnly
            } else {
                DecodeNeed::Everything
            };
            let level = self.inbound.next_level(now, need).unwrap_or(SILENCE_DBFS);
            return self.hear_level(level);
        }
        let need = if skip_inactive_decode && !self.talking {
            DecodeNeed::SpeechOnly
        } else {
            DecodeNeed::Everything
        };
        match self.inbound.next_frame(now, need) {
            Some(frame) => {
                self.frame.copy_from_slice(frame);
                self.has_frame = true;
            }
            _ => {
                if self.has_frame {
                    self.frame.iter_mut().for_each(|s| *s = 0);
                }
                self.has_frame = false;
            }
        }
        // Nothing to play is digital silence: no pass over 960 zeros (most members of a
        // big room, most of the time).
        let level = if self.has_frame {
            level_dbfs(&self.frame)
        } else {
            SILENCE_DBFS
        };
        self.hear_level(level)
    }

    /// Feeds this tick's level to the talk detector and the loudness; returns `Some(talking)`
    /// when the talk state changed.
    fn hear_level(&mut self, level: f32) -> Option<bool> {
        let update = self.talk.update_level(level);
        self.talking = update.talking;
        self.level_dbfs = update.level_dbfs;
        // Fast attack (a voice that starts is at once as loud as it is), slow release (a pause
        // between words does not give its place away), floored (silence is not -120 dB that
        // the next word must climb out of).
        let level = update.level_dbfs.max(LOUDNESS_FLOOR_DBFS);
        if level > self.loudness_dbfs {
            self.loudness_dbfs = level;
        } else {
            self.loudness_dbfs += LOUDNESS_SMOOTHING * (level - self.loudness_dbfs);
        }
        update.changed.then_some(update.talking)
    }

    /// Chosen for the mix on the tick it was only metered: decodes the packet just metered
    /// into this tick's frame, so the onset that won its place is heard now. False when that
    /// level did not come from one whole packet (it is heard from the next tick).
    pub(super) fn hear_metered_packet(&mut self) -> bool {
        if !self.metered || self.has_frame {
            return self.has_frame;
        }
        let Some(frame) = self.inbound.frame_of_metered() else {
            return false;
        };
        self.frame.copy_from_slice(frame);
        self.has_frame = true;
        true
    }

    /// The packet this tick's frame was decoded from, as it came, when it alone made the
    /// frame and nothing changed its level: what a listener hearing only this member can be
    /// sent instead of an encode.
    pub(super) fn forwardable_payload(&self) -> Option<&[u8]> {
        if !self.has_frame || !self.gain_in.is_unity() {
            return None;
        }
        self.inbound.forwardable_payload()
    }

    /// Encodes the member's own mix-minus with its private encoder (reset first when its
    /// last output was not what the member was sent).
    pub(super) fn encode_own_mix(&mut self, mix: &[i16]) -> Result<(), CodecError> {
        if std::mem::take(&mut self.encoder_idle) {
            self.encoder.reset()?;
        }
        self.encoder.encode(mix, &mut self.own_mix)
    }

    /// Makes this tick's own mix `payload` as it is (forwarded packets, ready-made silence):
    /// the private encoder sits idle.
    pub(super) fn set_own_mix(&mut self, payload: &[u8]) {
        self.own_mix.clear();
        self.own_mix.extend_from_slice(payload);
        self.encoder_idle = true;
    }

    /// The member hears the shared mix (or nothing) this tick: its private encoder is idle.
    pub(super) fn private_encoder_idle(&mut self) {
        self.encoder_idle = true;
    }

    /// Sends what [`encode_own_mix`](Self::encode_own_mix) produced.
    pub(super) fn send_own_mix(&mut self, now: Instant) {
        let payload = std::mem::take(&mut self.own_mix);
        self.send_audio(now, &payload);
        self.own_mix = payload;
    }

    /// Stamps and sends one encoded 20 ms payload, sent at `now`: its timestamp is that frame
    /// on the member's audio clock. The first packet carries the marker (RFC 3551 §4.1).
    pub fn send_audio(&mut self, now: Instant, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let timestamp = self.audio_clock.next_timestamp(now);
        let marker = !self.sender.has_sent();
        self.sender
            .packetize_at(payload, timestamp, marker, &mut self.packet_buf);
        self.endpoint.send_rtp(&self.packet_buf);
    }

    /// True once, when no RTP or RTCP arrived on any of the member's streams for `timeout`,
    /// whatever the directions: a peer on hold still sends RTCP (RFC 3550 §6), and a call
    /// whose peer sends nothing at all (a spoofed INVITE, a vanished phone) must not hold its
    /// ports and encoders until restart.
    pub fn check_timeout(&mut self, now: Instant, timeout: Duration) -> bool {
        let video = self.video.as_ref();
        let last_rx = video.map_or(self.last_rx, |v| v.last_rx.max(self.last_rx));
        if !self.timed_out && now.duration_since(last_rx) >= timeout {
            self.timed_out = true;
            return true;
        }
        false
    }

    /// Sends an SR (or RR before we sent anything) with SDES CNAME when due.
    pub fn maybe_send_rtcp(&mut self, t: TickTime) {
        if t.now < self.next_rtcp {
            return;
        }
        self.next_rtcp = t.now + RTCP_INTERVAL;
        let reports = self
            .remote_ssrc
            .map(|ssrc| vec![self.rx_stats.report_block(ssrc, t.now)])
            .unwrap_or_default();
        let ssrc = self.sender.ssrc();
        let report = if self.sender.has_sent() {
            let (packet_count, octet_count) = self.sender.counts();
            RtcpPacket::SenderReport {
                ssrc,
                info: SenderInfo {
                    ntp_timestamp: ntp_from_unix(t.since_unix_epoch),
                    rtp_timestamp: self.audio_clock.clock().timestamp_at(t.now),
                    packet_count,
                    octet_count,
                },
                reports,
            }
        } else {
            RtcpPacket::ReceiverReport { ssrc, reports }
        };
        let sdes = RtcpPacket::SourceDescription {
            chunks: vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: 1,
                    text: self.cname.clone(),
                }],
            }],
        };
        self.packet_buf.clear();
        write_compound(&[report, sdes], &mut self.packet_buf);
        let packet = std::mem::take(&mut self.packet_buf);
        self.endpoint.send_rtcp(&packet);
        self.packet_buf = packet;
    }

    /// Counters for snapshots.
    pub fn snapshot(&self) -> MemberSnapshot {
        MemberSnapshot {
            id: self.id,
            call_id: self.call_id.clone(),
            name: self.name.clone(),
            codec: self.audio.codec.encoding_name().to_string(),
            talking: self.talking,
            mixed: self.mixed,
            level_dbov: self.level_dbfs,
            canvas: self.initial_canvas.map(|c| c + 1),
            muted: self.controls.muted,
            deaf: self.controls.deaf,
            video_muted: self.controls.video_muted,
            awaiting_pin: self.controls.awaiting_pin,
            volume_in: self.controls.volume_in,
            volume_out: self.controls.volume_out,
            slot: self.controls.slot.map(|s| s + 1),
            banner: self.controls.banner.clone(),
            rtp_port: self.endpoint.local_port(),
            counters: self.endpoint.counters(),
            jitter_ms: self.rx_stats.jitter_ms(),
            concealed_frames: self.inbound.stats().concealed_frames,
            playout_delay_ms: self.inbound.jitter_stats().delay_ms,
            playout_target_ms: self.inbound.jitter_stats().target_delay_ms,
            video: self.video.as_ref().map(|v| VideoSnapshot {
                rtp_port: v.local_port(),
                counters: v.counters(),
                initial_canvas: self.initial_canvas.map(|c| c + 1),
                watching_canvas: v.watching_canvas + 1,
                inbound: v.inbound.stats(),
                reorder: v.reorder_stats(),
                frames_sent: v.frames_sent,
                retransmitted: v.retransmitted,
            }),
        }
    }
}

/// A read-only view of a member for tests, logs and the control API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberSnapshot {
    pub id: MemberId,
    pub call_id: String,
    pub name: String,
    pub codec: String,
    pub talking: bool,
    /// Its voice is in the mix (a talker among the room's loudest, `[audio] max_mixed_talkers`).
    pub mixed: bool,
    /// Level of its last audio frame, dB relative to a full-scale sine overload (dBov).
    pub level_dbov: f32,
    /// The canvas (1-based) showing it.
    pub canvas: Option<usize>,
    /// Not mixed (operator control).
    pub muted: bool,
    /// Sent silence (operator control).
    pub deaf: bool,
    /// Shown as its placeholder card (operator control).
    pub video_muted: bool,
    /// In the PIN lobby (not mixed, hearing the prompt).
    pub awaiting_pin: bool,
    /// Gains (dB) of its voice in the mix and of what it hears.
    pub volume_in: i8,
    pub volume_out: i8,
    /// Its reserved layout slot (1-based).
    pub slot: Option<usize>,
    pub banner: Option<String>,
    pub rtp_port: u16,
    pub counters: crate::rtp::endpoint::EndpointCounters,
    pub jitter_ms: f64,
    pub concealed_frames: u64,
    /// Its audio's playout delay at the last tick (from the newest packet's arrival to its
    /// playout) and the delay the jitter buffer aims for (both ms): after a burst of loss the
    /// first comes back to the second.
    pub playout_delay_ms: u32,
    pub playout_target_ms: u32,
    pub video: Option<VideoSnapshot>,
}

/// A member's video counters (canvas numbers are 1-based, as in the SIP headers).
#[derive(Debug, Clone, serde::Serialize)]
pub struct VideoSnapshot {
    pub rtp_port: u16,
    pub counters: crate::rtp::endpoint::EndpointCounters,
    pub initial_canvas: Option<usize>,
    pub watching_canvas: usize,
    pub inbound: crate::media::video::inbound::VideoInboundStats,
    /// Reordering of its incoming video (the video jitter buffer).
    pub reorder: crate::rtp::reorder::ReorderStats,
    pub frames_sent: u64,
    /// Packets sent again because it NACKed them.
    pub retransmitted: u64,
}
