//! `tessera dial`: a real SIP+RTP client (UAC). It places a call, sends an Opus/G.711 encoded
//! tone, decodes and records what it receives, hangs up with BYE and reports one JSON line.
//! Used to check deployments, by the integration tests, and as the basis of load generation.

pub(crate) mod requests;
mod session;

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
        }
    }
}

/// The JSON line printed at exit.
#[derive(Debug, Clone, Serialize)]
pub struct DialReport {
    pub answered: bool,
    /// Final SIP status of the INVITE (0 when none arrived).
    pub status: u16,
    pub codec: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub duration_s: f64,
    /// Why the call ended early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// Decoded received audio (48 kHz mono), for in-process callers.
    #[serde(skip)]
    pub recording: Vec<i16>,
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
}
