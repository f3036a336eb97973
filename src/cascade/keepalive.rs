//! A leg's keepalive between Tessera nodes: an in-dialog OPTIONS every `interval`, one at a
//! time; an OPTIONS unanswered for `timeout` means the far node is gone (the leg ends and is
//! redialled), and each answer measures the signalling round trip (`rtt_ms`). Sans-IO: the
//! engine asks [`Keepalive::poll`] what to do at a time and reports what it sent and heard.

use std::time::{Duration, Instant};

/// What the keepalive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// Send an OPTIONS now.
    Probe,
    /// The last OPTIONS went unanswered too long: the leg is dead.
    Dead,
}

/// One leg's keepalive.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    timeout: Duration,
    /// When the next OPTIONS is due (while none is outstanding).
    next: Instant,
    /// The outstanding OPTIONS: its CSeq and when it left.
    probe: Option<(u32, Instant)>,
    /// The last round trip measured.
    pub rtt: Option<Duration>,
}

impl Keepalive {
    /// A keepalive for a leg that came up at `now`.
    pub fn new(now: Instant, interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            next: now + interval,
            probe: None,
            rtt: None,
        }
    }

    /// What is due at `now`.
    pub fn poll(&self, now: Instant) -> Option<KeepaliveAction> {
        match self.probe {
            Some((_, sent)) if now >= sent + self.timeout => Some(KeepaliveAction::Dead),
            Some(_) => None,
            None if now >= self.next => Some(KeepaliveAction::Probe),
            None => None,
        }
    }

    /// When [`poll`](Self::poll) next has something to say.
    pub fn deadline(&self) -> Instant {
        match self.probe {
            Some((_, sent)) => sent + self.timeout,
            None => self.next,
        }
    }

    /// An OPTIONS with CSeq `cseq` left at `now`.
    pub fn sent(&mut self, cseq: u32, now: Instant) {
        self.probe = Some((cseq, now));
    }

    /// A final response to CSeq `cseq` arrived at `now`; true if it answered the probe.
    pub fn answered(&mut self, cseq: u32, now: Instant) -> bool {
        match self.probe {
            Some((probe, sent)) if probe == cseq => {
                self.rtt = Some(now.saturating_duration_since(sent));
                self.probe = None;
                self.next = now + self.interval;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn probes_every_interval_and_measures_the_round_trip() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(t0, 5 * SECOND, 10 * SECOND);
        assert_eq!(k.poll(t0), None);
        assert_eq!(k.deadline(), t0 + 5 * SECOND);
        assert_eq!(k.poll(t0 + 5 * SECOND), Some(KeepaliveAction::Probe));
        k.sent(7, t0 + 5 * SECOND);
        assert_eq!(k.poll(t0 + 6 * SECOND), None, "one probe at a time");
        assert!(!k.answered(6, t0 + 5 * SECOND), "another request's answer");
        assert!(k.answered(7, t0 + 5 * SECOND + Duration::from_millis(12)));
        assert_eq!(k.rtt, Some(Duration::from_millis(12)));
        assert_eq!(k.deadline(), t0 + 10 * SECOND + Duration::from_millis(12));
    }

    #[test]
    fn an_unanswered_probe_declares_the_leg_dead_after_the_timeout() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(t0, 5 * SECOND, 10 * SECOND);
        k.sent(1, t0 + 5 * SECOND);
        assert_eq!(k.poll(t0 + 14 * SECOND), None);
        assert_eq!(k.deadline(), t0 + 15 * SECOND);
        assert_eq!(k.poll(t0 + 15 * SECOND), Some(KeepaliveAction::Dead));
    }
}
