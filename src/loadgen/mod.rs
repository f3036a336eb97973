//! `tessera loadgen`: many real SIP calls with real RTP from one process, to measure a server.
//!
//! Signalling (one UDP transport, one transaction layer, a dialog per member) runs on tokio;
//! media runs on one plain thread that wakes every 20 ms for all members, sends pre-encoded
//! Opus packets and drains every member's socket (the generator stays cheap: it never encodes
//! and decodes only on a few latency probes). Bounded in members and time, loopback only.

pub mod calibrate;
mod media;
mod signalling;

pub use signalling::run;

use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// Most members one run may place.
pub const MAX_MEMBERS: usize = 5000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `sip:room@127.0.0.1:port` (loopback only).
    pub target: String,
    pub members: usize,
    /// Members that also send video (needs the video pipeline; 0 today).
    pub video_members: usize,
    /// Members that send tone bursts (the rest send silence).
    pub talkers: usize,
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
            talkers: 1,
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
    pub joined: usize,
    pub failed: usize,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Packets the server should have sent us but did not arrive (RFC 3550 A.3), percent.
    pub loss_pct: f64,
    /// Mean interarrival jitter over members (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f64,
    /// Talker tone onset → arrival of the first loud packet at a probe, milliseconds.
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_samples: usize,
    /// Members whose call the server ended before the run did.
    pub ended_by_server: usize,
    /// Members that received no RTP at all.
    pub silent_members: usize,
    pub duration_s: f64,
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
}

impl LoadOptions {
    /// Checks the bounds every run must respect.
    pub fn validate(&self) -> Result<(), LoadError> {
        if self.members == 0 || self.members > MAX_MEMBERS {
            return Err(LoadError::Limits(format!(
                "--members must be 1..={MAX_MEMBERS}"
            )));
        }
        if self.duration < std::time::Duration::from_secs(1) || self.duration > MAX_DURATION {
            return Err(LoadError::Limits("--duration must be 1..=3600 s".into()));
        }
        if self.talkers > self.members {
            return Err(LoadError::Limits(
                "--talkers cannot exceed --members".into(),
            ));
        }
        if !(self.ramp_per_sec > 0.0 && self.ramp_per_sec <= 1000.0) {
            return Err(LoadError::Limits("--ramp must be 0 < N/s <= 1000".into()));
        }
        if self.video_members > 0 {
            return Err(LoadError::Limits(
                "--video-members needs the video pipeline, which this build does not have yet"
                    .into(),
            ));
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
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
