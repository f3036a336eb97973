//! `tessera loadgen`: many real SIP calls with real RTP from one process, to measure a server.
//!
//! Signalling (one UDP transport, one transaction layer, a dialog per member) runs on tokio;
//! audio runs on one plain thread that wakes every 20 ms for all members, sends pre-encoded
//! Opus packets (tone bursts from talkers, the listener sound from the others) and drains
//! every member's socket, but the few latency probes', which a thread of their own times at
//! arrival (1 ms resolution); video members (senders of a pre-encoded
//! H.264 loop, and watchers that count the frames they receive) share a second thread. The
//! generator stays cheap: it never encodes after start-up and decodes only on a few audio
//! latency probes. Bounded in members and time, loopback only.

pub mod calibrate;
pub mod listener_sound;
mod media;
pub mod missing;
mod probe;
mod reception;
mod signalling;
mod stream;
mod video;
pub mod video_loop;

pub use listener_sound::ListenerSound;
pub use signalling::run;

use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// Most members one run may place.
pub const MAX_MEMBERS: usize = 5000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Most video senders one run may place (each sends a full-rate camera stream).
pub const MAX_VIDEO_SENDERS: usize = 64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `sip:room@127.0.0.1:port` (loopback only).
    pub target: String,
    pub members: usize,
    /// Members that also send H.264 video (the first ones); they watch too unless
    /// `video_send_only`.
    pub video_members: usize,
    /// Further members that only watch video (receive the canvas, send none).
    pub video_watchers: usize,
    /// Video members send without watching (`a=sendonly`), so that the number of watchers
    /// is exactly `video_watchers`.
    pub video_send_only: bool,
    /// Size of the sent video.
    pub video_size: (u32, u32),
    /// Frame rate of the sent video.
    pub video_fps: f32,
    /// Members that send tone bursts (the rest send `listener_sound`); per room with `rooms`.
    pub talkers: usize,
    /// What the members that do not talk send.
    pub listener_sound: ListenerSound,
    /// Rooms the members are spread over, round robin: the target's room number and the
    /// ones after it (`sip:3000@…` with 100 rooms: 3000…3099).
    pub rooms: usize,
    /// Total run time, from the first INVITE to the BYEs.
    pub duration: Duration,
    /// New calls per second.
    pub ramp_per_sec: f64,
    /// Listeners that decode audio to time tone onsets.
    pub latency_probes: usize,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

impl LoadOptions {
    pub fn new(target: impl Into<String>, members: usize) -> Self {
        Self {
            target: target.into(),
            members,
            video_members: 0,
            video_watchers: 0,
            video_send_only: false,
            video_size: (1280, 720),
            video_fps: 30.0,
            talkers: 1,
            listener_sound: ListenerSound::Silence,
            rooms: 1,
            duration: Duration::from_secs(60),
            ramp_per_sec: 10.0,
            latency_probes: 4,
            progress: false,
        }
    }
}

/// The JSON summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub members: usize,
    /// Rooms the members were spread over.
    pub rooms: usize,
    pub joined: usize,
    pub failed: usize,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Packets the server should have sent us but did not arrive (RFC 3550 A.3), percent.
    pub loss_pct: f64,
    /// Mean interarrival jitter over members (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f64,
    /// Packets the server owed the members by the clock: one per 20 ms from each member's
    /// stream start to its stop or the end of the run.
    pub expected_by_clock: u64,
    /// Of those, the ones that did not arrive, summed over members (each member's count
    /// less a grace of `missing::GRACE_PACKETS` for its start, at least 0). Unlike
    /// `loss_pct` it counts ticks the server skipped.
    pub missing_packets: u64,
    /// `missing_packets` as a percentage of `expected_by_clock`.
    pub missing_pct: f64,
    /// The worst member's missing packets as a percentage of what it was owed.
    pub missing_per_member_max_pct: f64,
    /// What non-talkers sent: `silence`, `noise LEVEL` or `speech LEVEL` (dBFS).
    pub listener_sound: String,
    /// Talker burst's first packet sent → arrival of its onset (at the tones) at a probe,
    /// milliseconds.
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_samples: usize,
    /// Resolution of the latency samples, milliseconds (arrivals are timed as they come).
    pub latency_resolution_ms: f64,
    /// Members whose call the server ended before the run did.
    pub ended_by_server: usize,
    /// Members that received no RTP at all.
    pub silent_members: usize,
    pub duration_s: f64,
    /// Video senders and watch-only members asked for.
    pub video_members: usize,
    pub video_watchers: usize,
    /// Members whose video the server accepted.
    pub video_joined: usize,
    pub video_tx_frames: u64,
    pub video_tx_packets: u64,
    pub video_rx_packets: u64,
    /// Complete access units (frames) received by all video members.
    pub video_rx_frames: u64,
    pub video_rx_keyframes: u64,
    /// Video packets the server should have sent us but did not arrive, percent.
    pub video_loss_pct: f64,
    /// Mean frame rate received per watcher.
    pub video_rx_fps: f64,
    /// Keyframe requests (PLI/FIR) the server sent our senders.
    pub video_keyframe_requests: u64,
    /// Watchers that received no video.
    pub video_blind_watchers: usize,
    /// A watcher's wait from the 200 OK to its first keyframe (the first picture it can
    /// decode), ms: median and worst over the watchers that got one.
    pub video_first_keyframe_ms_p50: f64,
    pub video_first_keyframe_ms_max: f64,
}

/// Refusals before any packet is sent.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("invalid target {0:?}: expected sip:room@host[:port]")]
    Target(String),
    #[error("target {0} is not a loopback address: the load generator only sends to this machine")]
    NotLoopback(std::net::SocketAddr),
    #[error("{0}")]
    Limits(String),
    #[error(transparent)]
    Transport(#[from] crate::sip::transport::TransportError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("codec: {0}")]
    Codec(#[from] crate::media::audio::codec::CodecError),
    #[error("video codec: {0}")]
    VideoCodec(#[from] crate::media::video::codec::VideoCodecError),
}

impl LoadOptions {
    /// Checks the bounds every run must respect.
    /// The target of room `index` (0 = the target itself), `None` when the target's room is
    /// not a number it can count on from.
    pub fn room_target(&self, index: usize) -> Option<String> {
        if index == 0 {
            return Some(self.target.clone());
        }
        let rest = self.target.strip_prefix("sip:")?;
        let (room, host) = rest.split_once('@')?;
        let first: u64 = room.parse().ok()?;
        Some(format!("sip:{}@{host}", first.checked_add(index as u64)?))
    }

    /// Member `i`'s room, and its seat there (members go round robin over the rooms).
    pub fn seat_of(&self, i: usize) -> (usize, usize) {
        let rooms = self.rooms.max(1);
        (i % rooms, i / rooms)
    }

    pub fn validate(&self) -> Result<(), LoadError> {
        if self.members == 0 || self.members > MAX_MEMBERS {
            return Err(LoadError::Limits(format!(
                "--members must be 1..={MAX_MEMBERS}"
            )));
        }
        if self.duration < std::time::Duration::from_secs(1) || self.duration > MAX_DURATION {
            return Err(LoadError::Limits("--duration must be 1..=3600 s".into()));
        }
        if self.rooms == 0 || self.rooms > self.members {
            return Err(LoadError::Limits("--rooms must be 1..=--members".into()));
        }
        if self.talkers * self.rooms > self.members {
            return Err(LoadError::Limits(
                "--talkers (per room) times --rooms cannot exceed --members".into(),
            ));
        }
        if self.rooms > 1 && self.room_target(self.rooms - 1).is_none() {
            return Err(LoadError::Limits(
                "--rooms needs a numeric room in the target, e.g. sip:3000@127.0.0.1:5060".into(),
            ));
        }
        if !(self.ramp_per_sec > 0.0 && self.ramp_per_sec <= 1000.0) {
            return Err(LoadError::Limits("--ramp must be 0 < N/s <= 1000".into()));
        }
        if self.video_members > MAX_VIDEO_SENDERS {
            return Err(LoadError::Limits(format!(
                "--video-members must be at most {MAX_VIDEO_SENDERS}"
            )));
        }
        if self.video_members + self.video_watchers > self.members {
            return Err(LoadError::Limits(
                "--video-members plus --video-watchers cannot exceed --members".into(),
            ));
        }
        let (w, h) = self.video_size;
        if !(64..=1920).contains(&w) || !(64..=1088).contains(&h) || w % 2 != 0 || h % 2 != 0 {
            return Err(LoadError::Limits(
                "--video-size must be even, 64x64 up to 1920x1088".into(),
            ));
        }
        if !(1.0..=60.0).contains(&self.video_fps) {
            return Err(LoadError::Limits("--video-fps must be 1..=60".into()));
        }
        Ok(())
    }
}

/// Parses `--ramp 10/s` (also accepts a bare number).
pub fn parse_ramp(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("/s");
    number
        .parse::<f64>()
        .ok()
        .filter(|r| *r > 0.0)
        .ok_or_else(|| format!("invalid ramp {text:?}: expected e.g. 10/s"))
}

/// Percentile of sorted samples (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_and_limits() {
        assert_eq!(parse_ramp("10/s"), Ok(10.0));
        assert_eq!(parse_ramp("2.5"), Ok(2.5));
        assert!(parse_ramp("fast").is_err());
        let mut o = LoadOptions::new("sip:1@127.0.0.1", 0);
        assert!(o.validate().is_err());
        o.members = 10;
        assert!(o.validate().is_ok());
        o.talkers = 11;
        assert!(o.validate().is_err());
        o.talkers = 1;
        o.video_members = 6;
        o.video_watchers = 4;
        assert!(o.validate().is_ok());
        o.video_watchers = 5;
        assert!(o.validate().is_err());
        o.video_watchers = 0;
        o.video_size = (641, 360);
        assert!(o.validate().is_err());
        o.video_size = (640, 360);
        o.video_fps = 0.0;
        assert!(o.validate().is_err());
    }

    #[test]
    fn rooms_count_on_from_the_targets_number_and_take_members_round_robin() {
        let mut o = LoadOptions::new("sip:3000@127.0.0.1:5060", 300);
        o.rooms = 100;
        assert!(o.validate().is_ok());
        assert_eq!(o.room_target(0).as_deref(), Some("sip:3000@127.0.0.1:5060"));
        assert_eq!(
            o.room_target(99).as_deref(),
            Some("sip:3099@127.0.0.1:5060")
        );
        assert_eq!(o.seat_of(0), (0, 0));
        assert_eq!(o.seat_of(99), (99, 0));
        assert_eq!(
            o.seat_of(100),
            (0, 1),
            "the 101st member is the second in room 3000"
        );
        o.talkers = 3;
        assert!(o.validate().is_ok(), "3 talkers in each of 100 rooms of 3");
        o.talkers = 4;
        assert!(o.validate().is_err());
        o.talkers = 1;
        o.target = "sip:lobby@127.0.0.1".into();
        assert!(
            o.validate().is_err(),
            "only a numbered room can be counted on from"
        );
        o.rooms = 1;
        assert!(o.validate().is_ok());
        o.rooms = 301;
        assert!(o.validate().is_err());
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
