//! `tessera dial`: a real SIP+RTP client (UAC). It places a call, sends an Opus/G.711 encoded
//! tone, decodes and records what it receives, hangs up with BYE and reports one JSON line.
//! Used to check deployments, by the integration tests, and as the basis of load generation.
//! With `--listen` it answers one call instead ([`answer`]), for dial-out and cascade checks.

mod answer;
mod session;
mod video;

pub use answer::{answer, Listener};
pub use session::dial;

use crate::sdp::AudioCodec;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// SIP transport for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DialTransport {
    Udp,
    Tcp,
}

/// What to dial and how.
#[derive(Debug, Clone)]
pub struct DialOptions {
    /// `sip:room@host[:port]`.
    pub target: String,
    /// Tone to send (Hz); silence when `None`.
    pub tone_hz: Option<f32>,
    /// Time from answer to BYE.
    pub duration: Duration,
    /// Where to write the received audio (48 kHz, 16-bit mono WAV).
    pub record_wav: Option<PathBuf>,
    pub transport: DialTransport,
    pub codec: AudioCodec,
    /// User part and display name of From.
    pub from: String,
    /// Extra headers on the INVITE.
    pub headers: Vec<(String, String)>,
    /// Give up if no final response arrives in this time.
    pub answer_timeout: Duration,
    /// Send H.264 video of this solid colour (RGB) with a small moving marker.
    pub color: Option<(u8, u8, u8)>,
    /// Size of the sent video.
    pub video_size: (u32, u32),
    /// Save the last decoded received video frame here (PNG).
    pub save_frame: Option<PathBuf>,
    /// Report the picture seen this long after the answer instead of the last one.
    pub capture_frame_at: Option<Duration>,
    /// Test knob: drop every Nth received video packet (simulated loss).
    pub drop_every_nth_video_packet: Option<u32>,
    /// DTMF digits to press (RFC 4733) once `dtmf_at` has passed after the answer.
    pub dtmf: Option<String>,
    pub dtmf_at: Duration,
}

impl DialOptions {
    /// Whether the call offers video (sending a colour or wanting to see the canvas).
    pub fn wants_video(&self) -> bool {
        self.color.is_some() || self.save_frame.is_some()
    }
}

/// Parses `RRGGBB` (optionally with a leading `#`).
pub fn parse_color(text: &str) -> Result<(u8, u8, u8), String> {
    let hex = text.trim().trim_start_matches('#');
    let bad = || format!("invalid colour {text:?}: expected RRGGBB");
    if hex.len() != 6 {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok((byte(0)?, byte(2)?, byte(4)?))
}

/// Parses `WxH` (even, at least 16x16).
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("invalid size {text:?}: expected e.g. 640x360 (even numbers)");
    let (w, h) = text.split_once('x').ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if w < 16 || h < 16 || w % 2 != 0 || h % 2 != 0 || w > 3840 || h > 2160 {
        return Err(bad());
    }
    Ok((w, h))
}

impl DialOptions {
    /// Sensible defaults for `target`.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            tone_hz: None,
            duration: Duration::from_secs(5),
            record_wav: None,
            transport: DialTransport::Udp,
            codec: AudioCodec::Opus,
            from: "tessera-dial".to_string(),
            headers: Vec::new(),
            answer_timeout: Duration::from_secs(32),
            color: None,
            video_size: (640, 360),
            save_frame: None,
            capture_frame_at: None,
            drop_every_nth_video_packet: None,
            dtmf: None,
            dtmf_at: Duration::from_secs(1),
        }
    }
}

/// The JSON line printed at exit (Debug shows the same fields, not the raw media).
#[derive(Clone, Serialize)]
pub struct DialReport {
    pub answered: bool,
    /// Final SIP status of the INVITE (0 when none arrived).
    pub status: u16,
    pub codec: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub duration_s: f64,
    /// Video frames decoded from the server.
    pub video_rx_frames: u64,
    /// Keyframe requests (PLI) this client sent.
    pub video_pli_sent: u64,
    /// Size of the last decoded video frame (0 without video).
    pub video_width: u32,
    pub video_height: u32,
    /// Why the call ended early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// Decoded received audio (48 kHz mono), for in-process callers: one 20 ms frame per
    /// tick from `media_started`, so sample `i` played at `media_started + i / 48 kHz`.
    #[serde(skip)]
    pub recording: Vec<i16>,
    /// When media (and the recording) started.
    #[serde(skip)]
    pub media_started: Option<std::time::Instant>,
    /// Last decoded video frame, for in-process callers.
    #[serde(skip)]
    pub last_frame: Option<crate::media::video::frame::I420Frame>,
    /// When each received video picture was decoded, for in-process callers.
    #[serde(skip)]
    pub video_decoded_at: Vec<std::time::Instant>,
}

/// Failures before a call could even be attempted.
#[derive(Debug, Error)]
pub enum DialError {
    #[error("invalid target {0:?}: expected sip:user@host[:port]")]
    Target(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error(transparent)]
    Transport(#[from] crate::sip::transport::TransportError),
    #[error("rtp socket: {0}")]
    Rtp(std::io::Error),
    #[error("codec: {0}")]
    Codec(#[from] crate::media::audio::codec::CodecError),
    #[error("cannot write {path}: {source}")]
    Wav { path: String, source: hound::Error },
    #[error("video: {0}")]
    Video(#[from] crate::media::video::codec::VideoCodecError),
    #[error("cannot save frame: {0}")]
    Frame(#[from] crate::media::video::frame::FrameError),
}

impl std::fmt::Debug for DialReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).unwrap_or_default())
    }
}
