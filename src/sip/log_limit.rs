//! Logging what comes from the network, safely (#14 item 7), sans-IO with time passed in.
//!
//! - [`printable`]: text taken from a message (parser errors, SDP lines, a Warning) with
//!   control characters escaped and its length capped, so it can neither forge log lines nor
//!   headers of our responses.
//! - [`LogLimiter`]: at most [`BURST`] warnings per source address per [`WINDOW`], then one
//!   note that the rest are suppressed; a flood from one source cannot fill the log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Warnings logged per source per window.
pub const BURST: u32 = 5;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered; past this the table starts again (a spoofed flood cannot grow it).
const MAX_SOURCES: usize = 4096;

/// `text` with control characters (CR and LF included) escaped as `\r`, `\u{1b}`…, cut to
/// `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
    }
    out
}

/// Whether to log a warning about a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDecision {
    Log,
    /// The first one over the limit in this window: log that the rest are suppressed.
    LogSuppressing,
    Suppress,
}

/// Counts warnings per source.
#[derive(Debug, Default)]
pub struct LogLimiter {
    sources: HashMap<IpAddr, (Instant, u32)>,
}

impl LogLimiter {
    pub fn check(&mut self, now: Instant, source: IpAddr) -> LogDecision {
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&source) {
            self.sources.clear();
        }
        let entry = self.sources.entry(source).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        match entry.1 {
            n if n <= BURST => LogDecision::Log,
            n if n == BURST + 1 => LogDecision::LogSuppressing,
            _ => LogDecision::Suppress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_length_capped() {
        let forged = "abc\r\n2026-12-01 INFO fake line\u{1b}[31m";
        let shown = printable(forged, 200);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains("\\r\\n") && shown.contains("\\u{1b}"));
        assert_eq!(printable(&"x".repeat(1000), 10).chars().count(), 11);
    }

    #[test]
    fn a_burst_per_source_then_one_note_then_silence_until_the_window_ends() {
        let t0 = Instant::now();
        let mut limiter = LogLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let decisions: Vec<_> = (0..10).map(|_| limiter.check(t0, ip)).collect();
        assert_eq!(
            decisions.iter().filter(|d| **d == LogDecision::Log).count(),
            BURST as usize
        );
        assert_eq!(decisions[BURST as usize], LogDecision::LogSuppressing);
        assert_eq!(decisions[9], LogDecision::Suppress);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(limiter.check(t0, other), LogDecision::Log);
        assert_eq!(limiter.check(t0 + WINDOW, ip), LogDecision::Log);
    }
}
