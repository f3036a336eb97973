//! A conference room: its members and the 20 ms audio tick. Owned by exactly one media thread;
//! everything else talks to it through [`super::worker::RoomCommand`]s.
//!
//! Per tick: drain every member's sockets, decode one frame each, detect talkers, sum the
//! talkers once, then send each listener either the shared full mix (non-talkers: one encode
//! per codec for the whole room) or its private mix-minus (talkers: one encode each). The
//! number of encoders in use is therefore talkers + codecs-in-use, not members.

use super::canvas::CanvasConfig;
use super::canvas_control::CanvasChange;
use super::events::{EventSink, RoomEvent};
use super::fork_join::for_each_split;
use super::member::{MediaUpdate, Member, MemberId, MemberSetup, MemberSnapshot, TickTime};
use super::member_control::MemberControl;
use super::room_video::RoomVideo;
use super::talker_selection::{Candidate, TalkerSelection};
use crate::media::audio::codec::{AudioEncoder, FRAME_SAMPLES};
use crate::media::audio::mixer::AudioMixer;
use crate::media::audio::silence::silence_frame;
use crate::media::audio::talk::TalkConfig;
use crate::media::video::codec_pool::VideoCodecPool;
use crate::media::video::frame::I420Frame;
use crate::media::video::layout_library::LayoutLibrary;
use crate::metrics::Metrics;
use crate::sdp::AudioCodec;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use tracing::{info, info_span, warn};

/// A room's per-member work is split over threads only in chunks of at least this many
/// members (below, a thread start costs more than it saves).
const MEMBERS_PER_THREAD: usize = 64;

/// Room identifier: the user part of the Request-URI.
pub type RoomId = String;

/// Settings every room of a server shares.
#[derive(Clone)]
pub struct RoomSettings {
    pub talk: TalkConfig,
    /// Leave packets that say they hold no speech undecoded while their member is not talking
    /// (see [`crate::media::audio::opus_activity`]).
    pub skip_inactive_decode: bool,
    pub rtp_timeout: Duration,
    /// One entry per canvas of a room.
    pub canvases: Vec<CanvasConfig>,
    pub layouts: Arc<LayoutLibrary>,
    /// Threads encoding the rooms' views (inline on the media thread when `None`).
    pub video_codecs: Option<Arc<VideoCodecPool>>,
    /// Where the room reports its RTP counts and compose times.
    pub metrics: Arc<Metrics>,
    pub mixing: MixingPolicy,
}

/// How a room may make its mixes (`[audio]` settings; each lever's cost and effect on what
/// listeners hear is in `docs/PERFORMANCE.md`).
#[derive(Debug, Clone, Copy)]
pub struct MixingPolicy {
    /// A listener hearing one member in its own codec gets that member's packets.
    pub forward_single_source: bool,
    /// A listener hearing nobody gets a ready-made silent frame.
    pub cached_silence: bool,
    /// Most talkers mixed at once (0 = no limit).
    pub max_mixed_talkers: usize,
}

impl Default for MixingPolicy {
    fn default() -> Self {
        Self {
            forward_single_source: true,
            cached_silence: true,
            max_mixed_talkers: 4,
        }
    }
}

/// Whose voices a mix holds: every mixed member, or all of them but a listener's own.
#[derive(Debug, Clone, Copy)]
enum MixSources {
    All,
    AllBut(usize),
}

/// How one mix is made this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MixPlan {
    Silence,
    /// The packets of this member (an index into the room's members).
    Forward(usize),
    Encode,
}

/// Mixes made since the last metrics report, by how.
#[derive(Debug, Default)]
struct MixCounts {
    encoded: u64,
    forwarded: u64,
    silence: u64,
}

impl MixCounts {
    fn report(&mut self, metrics: &Metrics) {
        let counts = std::mem::take(self);
        metrics.add_mixes("encoded", counts.encoded);
        metrics.add_mixes("forwarded", counts.forwarded);
        metrics.add_mixes("silence", counts.silence);
    }
}

/// The shared (non-talker) encoders, one per codec, built off the media thread.
pub struct SharedEncoders {
    pub opus: AudioEncoder,
    pub pcmu: AudioEncoder,
    pub pcma: AudioEncoder,
}

impl SharedEncoders {
    fn get(&mut self, codec: AudioCodec) -> &mut AudioEncoder {
        match codec {
            AudioCodec::Opus => &mut self.opus,
            AudioCodec::Pcmu => &mut self.pcmu,
            AudioCodec::Pcma => &mut self.pcma,
        }
    }
}

const CODECS: [AudioCodec; 3] = [AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma];

fn codec_index(codec: AudioCodec) -> usize {
    match codec {
        AudioCodec::Opus => 0,
        AudioCodec::Pcmu => 1,
        AudioCodec::Pcma => 2,
    }
}

/// A read-only view of a room.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoomSnapshot {
    pub id: RoomId,
    pub members: Vec<MemberSnapshot>,
    pub talkers: usize,
    pub audio_encoders: usize,
    /// Distinct video views being encoded (one encoder each).
    pub video_encoders: usize,
    /// Keyframes (IDR) sent on all views so far.
    pub video_keyframes: u64,
    pub floor: Option<MemberId>,
    pub canvases: Vec<CanvasSnapshot>,
    pub ticks: u64,
}

/// Where each member's picture was drawn on a canvas in the last composition.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CanvasSnapshot {
    /// 1-based, as in the SIP headers.
    pub canvas: usize,
    pub width: u32,
    pub height: u32,
    /// The layout in use (a name or `group:NAME`).
    pub layout: String,
    /// Who holds its floor slot, and whether an operator put it there.
    pub floor: Option<MemberId>,
    pub floor_forced: bool,
    pub tiles: Vec<TileSnapshot>,
}

/// One tile of a canvas.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TileSnapshot {
    pub member: MemberId,
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

/// Ticks between reports of the members' RTP counts to the metrics (one second).
const METRICS_EVERY_TICKS: u64 = 50;

/// Adds what `member` received and sent since its last report to the metrics.
fn report_rtp(metrics: &Metrics, member: &mut Member) {
    let [audio, video] = member.take_rtp_deltas();
    metrics.add_rtp("audio", audio);
    metrics.add_rtp("video", video);
}

/// One conference room.
pub struct Room {
    id: RoomId,
    settings: RoomSettings,
    members: Vec<Member>,
    mixer: AudioMixer,
    shared: SharedEncoders,
    shared_payloads: [Vec<u8>; 3],
    /// A shared payload was made this tick (it is sent to the codec's listeners).
    shared_ready: [bool; 3],
    /// The shared payload was made by the codec's encoder (not forwarded, not silence).
    shared_encoded: [bool; 3],
    mix: Vec<i16>,
    /// This tick's mixed members (indices into `members`) and the selection's lists.
    mixed: Vec<usize>,
    candidates: Vec<Candidate>,
    candidate_members: Vec<usize>,
    chosen: Vec<usize>,
    selection: TalkerSelection,
    forward_buf: Vec<u8>,
    mix_counts: MixCounts,
    /// More talk than may be mixed: those not mixed are only metered.
    selecting: bool,
    /// Threads a tick's per-member work may use (see [`for_each_split`]).
    split_ways: usize,
    audio_encoders: usize,
    talkers: usize,
    ticks: u64,
    events: EventSink,
    video: RoomVideo,
    /// The room's tracing span, made once: formatting its fields every tick cost 2 % of a
    /// server of 1000 small rooms.
    span: tracing::Span,
}

impl Room {
    pub fn new(
        id: RoomId,
        settings: RoomSettings,
        shared: SharedEncoders,
        events: EventSink,
    ) -> Self {
        info!(room = %id, "room created");
        let settings_video = settings.clone();
        let span = info_span!("room", room = %id);
        Self {
            span,
            id,
            settings,
            members: Vec::new(),
            mixer: AudioMixer::new(),
            shared,
            shared_payloads: Default::default(),
            shared_ready: [false; 3],
            shared_encoded: [false; 3],
            mix: vec![0; FRAME_SAMPLES],
            mixed: Vec::new(),
            candidates: Vec::new(),
            candidate_members: Vec::new(),
            chosen: Vec::new(),
            selection: TalkerSelection::default(),
            forward_buf: Vec::with_capacity(1500),
            mix_counts: MixCounts::default(),
            selecting: false,
            split_ways: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            audio_encoders: 0,
            talkers: 0,
            ticks: 0,
            events,
            video: RoomVideo::new(&settings_video),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Caps the threads a tick may split per-member work over (1 = never split; the default
    /// is one per core). For benchmarks comparing the two.
    pub fn set_split_ways(&mut self, ways: usize) {
        self.split_ways = ways.max(1);
    }

    /// Ids of the members (for reporting a failed room).
    pub fn member_ids(&self) -> Vec<MemberId> {
        self.members.iter().map(|m| m.id).collect()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Adds a member (its sockets and codecs were prepared by the caller).
    pub fn add_member(&mut self, setup: MemberSetup, t: TickTime) {
        let member = Member::new(setup, self.settings.talk, t.now);
        self.video.member_joined(&member);
        info!(room = %self.id, member = member.id, call_id = %member.call_id,
              codec = member.codec().encoding_name(), members = self.members.len() + 1,
              "member joined");
        self.members.push(member);
    }

    /// Removes a member; its sockets and codecs are dropped here (cheap: no thread joins).
    pub fn remove_member(&mut self, id: MemberId) -> bool {
        let Some(pos) = self.members.iter().position(|m| m.id == id) else {
            return false;
        };
        let mut member = self.members.swap_remove(pos);
        report_rtp(&self.settings.metrics, &mut member);
        self.mixed.clear(); // indices moved; the next tick chooses again
        self.video.member_left(id);
        info!(room = %self.id, member = id, call_id = %member.call_id,
              members = self.members.len(), "member left");
        true
    }

    /// Applies an operator's change to the canvases; false when it names no canvas (or
    /// would remove the last one).
    pub fn change_canvases(&mut self, change: CanvasChange) -> bool {
        match change {
            CanvasChange::Control { canvas, change } => self.video.control_canvas(canvas, change),
            CanvasChange::Add(config) => {
                self.video.add_canvas(config);
                true
            }
            CanvasChange::Remove(canvas) => self.video.remove_canvas(canvas, &mut self.members),
        }
    }

    /// Canvas `index` composed now, for a snapshot.
    pub fn canvas_picture(&mut self, index: usize, now: Instant) -> Option<I420Frame> {
        self.video.compose_now(index, &self.members, now)
    }

    /// Applies operator controls to a member; false when it is not in this room.
    pub fn control_member(&mut self, id: MemberId, change: MemberControl) -> bool {
        let Some(m) = self.members.iter_mut().find(|m| m.id == id) else {
            return false;
        };
        if m.apply_control(&change) {
            info!(room = %self.id, member = id, muted = m.controls.muted, deaf = m.controls.deaf,
                  video_muted = m.controls.video_muted, "member controls changed");
        }
        if m.controls.muted && std::mem::take(&mut m.talking) {
            // A muted member stops talking now, not at the next tick.
            self.events.send(RoomEvent::Talking {
                room: self.id.clone(),
                member: id,
                talking: false,
            });
        }
        true
    }

    /// Applies a re-negotiated media description to a member.
    pub fn update_member(&mut self, id: MemberId, update: MediaUpdate, t: TickTime) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            info!(room = %self.id, member = id, audio = ?update.audio.map(|a| a.direction),
                  video = ?update.video.map(|v| v.direction), "member media updated");
            m.update(t.now, update);
        }
    }

    /// One 20 ms audio tick. In a big room the per-member halves (receive and decode; send)
    /// are split over a few threads ([`for_each_split`]); mixing and encoding stay here.
    pub fn tick(&mut self, t: TickTime) {
        let _span = self.span.clone().entered();
        self.ticks += 1;
        if self.ticks.is_multiple_of(METRICS_EVERY_TICKS) {
            for m in &mut self.members {
                report_rtp(&self.settings.metrics, m);
            }
            self.mix_counts.report(&self.settings.metrics);
        }
        self.mixer.reset();
        let now = t.now;
        let skip_inactive = self.settings.skip_inactive_decode;
        let selecting = self.selecting;
        for m in &mut self.members {
            m.metered = selecting && !m.mixed;
        }
        for_each_split(
            &mut self.members,
            self.split_ways,
            MEMBERS_PER_THREAD,
            |m| {
                m.talk_change = m.receive(now, skip_inactive);
            },
        );
        for m in &mut self.members {
            for digit in m.take_dtmf() {
                self.events.send(RoomEvent::Dtmf {
                    room: self.id.clone(),
                    member: m.id,
                    digit,
                });
            }
            if let Some(talking) = m.talk_change.take() {
                self.events.send(RoomEvent::Talking {
                    room: self.id.clone(),
                    member: m.id,
                    talking,
                });
            }
        }
        self.choose_mixed();
        for &i in &self.mixed {
            let m = &mut self.members[i];
            if !m.gain_in.is_unity() {
                m.gain_in.apply(&mut m.frame);
            }
            self.mixer.add(&m.frame);
        }
        let talkers = self.mixed.len();
        let encoders = self.encode_audio();
        let shared_payloads = &self.shared_payloads;
        let shared_ready = self.shared_ready;
        for_each_split(
            &mut self.members,
            self.split_ways,
            MEMBERS_PER_THREAD,
            |m| {
                if !m.wants_audio() {
                    return;
                }
                if m.controls.deaf {
                    m.send_audio(now, silence_frame(m.codec()));
                } else if m.sends_own_mix {
                    m.send_own_mix(now);
                } else {
                    let c = codec_index(m.codec());
                    if shared_ready[c] {
                        m.send_audio(now, &shared_payloads[c]);
                    }
                }
            },
        );
        self.video.tick(t, &mut self.members);
        if let Some(member) = self.video.take_floor_change() {
            self.events.send(RoomEvent::FloorChanged {
                room: self.id.clone(),
                member,
            });
        }
        for m in &mut self.members {
            if m.check_timeout(t.now, self.settings.rtp_timeout) {
                warn!(member = m.id, call_id = %m.call_id, "no RTP within the timeout");
                self.events.send(RoomEvent::MediaTimeout {
                    room: self.id.clone(),
                    member: m.id,
                });
            }
            m.maybe_send_rtcp(t);
        }
        if encoders != self.audio_encoders || talkers != self.talkers {
            info!(
                members = self.members.len(),
                talkers,
                audio_encoders = encoders,
                "audio encoders in use changed"
            );
            self.audio_encoders = encoders;
            self.talkers = talkers;
        }
    }

    /// Chooses this tick's mixed members ([`Self::mixed`]): the talkers, at most
    /// `max_mixed_talkers` of them, the loudest ([`TalkerSelection`]). While more talk than
    /// that, the others are only metered on the next tick (their level, decoded at 16 kHz);
    /// one of them chosen is heard at once (its metered packet decoded again at 48 kHz).
    fn choose_mixed(&mut self) {
        self.candidates.clear();
        self.candidate_members.clear();
        for (i, m) in self.members.iter().enumerate() {
            if m.talking && (m.has_frame || m.metered) {
                // As loud as it is in the mix: an operator's volume counts.
                self.candidates.push(Candidate {
                    loudness_dbfs: m.loudness_dbfs + f32::from(m.controls.volume_in),
                    was_mixed: m.mixed,
                });
                self.candidate_members.push(i);
            }
        }
        let max = self.settings.mixing.max_mixed_talkers;
        self.selection
            .select(&self.candidates, max, &mut self.chosen);
        self.selecting = max > 0 && self.candidates.len() > max;
        for m in &mut self.members {
            m.mixed = false;
        }
        self.mixed.clear();
        for &c in &self.chosen {
            let i = self.candidate_members[c];
            let m = &mut self.members[i];
            m.mixed = true;
            // A metered member just chosen is heard from the packet it was metered on.
            if m.hear_metered_packet() {
                self.mixed.push(i);
            }
        }
    }

    /// How the mix of a listener hearing `sources` (the mixed members it is not one of) in
    /// `codec` is made, cheapest first: ready-made silence when nobody is heard, the one
    /// member's own packets when only it is heard in the listener's codec at 0 dB, else an
    /// encode.
    fn plan_mix(&self, sources: MixSources, codec: AudioCodec, unity_out: bool) -> MixPlan {
        let policy = self.settings.mixing;
        let mut heard = self.mixed.iter().copied().filter(|&i| match sources {
            MixSources::All => true,
            MixSources::AllBut(own) => i != own,
        });
        match (heard.next(), heard.next()) {
            (None, _) if policy.cached_silence => MixPlan::Silence,
            (Some(only), None) if policy.forward_single_source && unity_out => {
                let source = &self.members[only];
                if source.codec() == codec && source.forwardable_payload().is_some() {
                    MixPlan::Forward(only)
                } else {
                    MixPlan::Encode
                }
            }
            _ => MixPlan::Encode,
        }
    }

    /// Makes this tick's audio: a private mix for each mixed talker (its mix-minus), each
    /// listener with a volume of its own and each caller in the PIN lobby; and the full mix
    /// once per codec for everyone else. Each is made the cheapest way ([`Self::plan_mix`]).
    /// Returns the encoders run.
    fn encode_audio(&mut self) -> usize {
        let previous_ready = std::mem::take(&mut self.shared_ready);
        let mut encoders = 0;
        for i in 0..self.members.len() {
            let m = &self.members[i];
            if !m.wants_audio() || m.controls.deaf {
                // A deaf member is sent ready-made silence.
                self.members[i].sends_own_mix = false;
                self.members[i].private_encoder_idle();
                continue;
            }
            let codec = m.codec();
            let unity_out = m.gain_out.is_unity();
            // In the mix this tick (one chosen while metered without a whole packet has no
            // frame yet: it hears the shared mix this once).
            let heard_in_mix = m.mixed && m.has_frame;
            let private = m.controls.awaiting_pin || heard_in_mix || !unity_out;
            if !private {
                self.members[i].sends_own_mix = false;
                self.members[i].private_encoder_idle();
                let c = codec_index(codec);
                if !self.shared_ready[c] {
                    encoders += self.make_shared_mix(codec, previous_ready[c]);
                }
                continue;
            }
            let plan = if m.controls.awaiting_pin {
                MixPlan::Encode
            } else {
                self.plan_mix(MixSources::AllBut(i), codec, unity_out)
            };
            match plan {
                MixPlan::Silence => {
                    self.members[i].set_own_mix(silence_frame(codec));
                    self.mix_counts.silence += 1;
                }
                MixPlan::Forward(source) => {
                    self.forward_buf.clear();
                    if let Some(p) = self.members[source].forwardable_payload() {
                        self.forward_buf.extend_from_slice(p);
                    }
                    self.members[i].set_own_mix(&self.forward_buf);
                    self.mix_counts.forwarded += 1;
                }
                MixPlan::Encode => {
                    let m = &mut self.members[i];
                    if m.controls.awaiting_pin {
                        m.prompt_frame(&mut self.mix);
                    } else {
                        if heard_in_mix {
                            self.mixer.write_mix_minus(&m.frame, &mut self.mix);
                        } else {
                            self.mixer.write_full_mix(&mut self.mix);
                        }
                        if !unity_out {
                            m.gain_out.apply(&mut self.mix);
                        }
                    }
                    if let Err(e) = m.encode_own_mix(&self.mix) {
                        // Silence, not the shared mix: that may hold its own voice.
                        warn!(member = m.id, error = %e, "encode failed");
                        m.set_own_mix(silence_frame(codec));
                        m.sends_own_mix = true;
                        continue;
                    }
                    self.mix_counts.encoded += 1;
                    encoders += 1;
                }
            }
            self.members[i].sends_own_mix = true;
        }
        encoders
    }

    /// Makes the shared full mix in `codec` into its payload; `was_sent` says whether the
    /// shared encoder's output went out on the last tick (if not, it restarts its stream).
    /// Returns the encoders run (0 or 1).
    fn make_shared_mix(&mut self, codec: AudioCodec, was_sent: bool) -> usize {
        let c = codec_index(codec);
        let plan = self.plan_mix(MixSources::All, codec, true);
        let payload = &mut self.shared_payloads[c];
        match plan {
            MixPlan::Silence => {
                payload.clear();
                payload.extend_from_slice(silence_frame(codec));
                self.shared_encoded[c] = false;
                self.mix_counts.silence += 1;
            }
            MixPlan::Forward(source) => {
                payload.clear();
                if let Some(p) = self.members[source].forwardable_payload() {
                    payload.extend_from_slice(p);
                }
                self.shared_encoded[c] = false;
                self.mix_counts.forwarded += 1;
            }
            MixPlan::Encode => {
                self.mixer.write_full_mix(&mut self.mix);
                let encoder = self.shared.get(codec);
                let restart = !(was_sent && self.shared_encoded[c]);
                if restart && encoder.reset().is_err() {
                    warn!("shared encoder reset failed");
                }
                if let Err(e) = encoder.encode(&self.mix, payload) {
                    warn!(error = %e, "shared encode failed");
                    return 0;
                }
                self.shared_encoded[c] = true;
                self.mix_counts.encoded += 1;
                self.shared_ready[c] = true;
                return 1;
            }
        }
        self.shared_ready[c] = true;
        0
    }

    /// Codecs that have a shared encoder (for documentation of the encoder count).
    pub fn shared_codecs() -> &'static [AudioCodec] {
        &CODECS
    }

    pub fn snapshot(&self) -> RoomSnapshot {
        RoomSnapshot {
            id: self.id.clone(),
            members: self.members.iter().map(Member::snapshot).collect(),
            talkers: self.talkers,
            audio_encoders: self.audio_encoders,
            video_encoders: self.video.encoders(),
            video_keyframes: self.video.keyframes(),
            floor: self.video.floor(),
            canvases: self.video.canvas_snapshots(),
            ticks: self.ticks,
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        info!(room = %self.id, "room destroyed");
    }
}
