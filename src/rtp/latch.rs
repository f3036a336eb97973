//! Symmetric-RTP source validation and media consent, sans-IO with time passed in.
//!
//! - **Entitlement**: media is accepted only from the IPs the call is entitled to (the SDP
//!   address and the SIP signalling source); everything else is foreign: dropped and counted.
//! - **Consent** (#14 item 2): the SDP address is only a claim, so a forged INVITE could aim
//!   a canvas at any victim. Media goes there only once the peer has shown it wants it: RTP
//!   from the address we send to (or RTCP from it, [`SourceLatch::grant_consent`]). Before
//!   that at most [`PRE_CONSENT_PACKETS`] go, enough to open a NAT binding.
//! - **Latching** (NAT): while no source is proven, a new port on an entitled IP takes over
//!   after [`RELATCH_PACKETS`] consecutive packets of one SSRC.
//! - **No hijack** (#14 item 4): once a source is proven, another port may take it over only
//!   when the proven one has been silent for [`RELATCH_SILENCE`] and the newcomer carries the
//!   same SSRC (a NAT rebinding keeps it); a second socket on the member's IP cannot take the
//!   stream while its owner still sends.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Consecutive packets from a new port before we switch our sending address to it.
pub const RELATCH_PACKETS: u32 = 3;
/// How long a proven source must have been silent before another port may take its place.
pub const RELATCH_SILENCE: Duration = Duration::from_secs(2);
/// Packets sent to an address before it has shown consent (then nothing until it does).
pub const PRE_CONSENT_PACKETS: u32 = 5;

/// Outcome for one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchVerdict {
    /// From the current remote address.
    Accept,
    /// From a new port of an entitled IP that has now proven itself; send there from now on.
    Relatched(SocketAddr),
    /// From an entitled IP but not (or not yet) allowed to take the stream over.
    Unvalidated,
    /// From an address this call is not entitled to.
    Foreign,
}

/// The source whose RTP we accept: its SSRC and when it last sent.
#[derive(Debug, Clone, Copy)]
struct ProvenSource {
    ssrc: u32,
    last_seen: Instant,
}

/// Tracks where a member's media comes from and whether we may send to it.
#[derive(Debug, Clone)]
pub struct SourceLatch {
    remote: Option<SocketAddr>,
    entitled: Vec<IpAddr>,
    candidate: Option<(SocketAddr, u32, u32)>,
    proven: Option<ProvenSource>,
    consented: bool,
    sent_before_consent: u32,
}

impl SourceLatch {
    /// `remote`: the SDP address (None while unknown); `signalling_ip`: where SIP came from.
    pub fn new(remote: Option<SocketAddr>, signalling_ip: IpAddr) -> Self {
        let mut latch = Self {
            remote: None,
            entitled: vec![signalling_ip],
            candidate: None,
            proven: None,
            consented: false,
            sent_before_consent: 0,
        };
        latch.set_remote(remote);
        latch
    }

    /// New SDP address (re-INVITE): it becomes the sending address and is entitled. A changed
    /// address must show consent again.
    pub fn set_remote(&mut self, remote: Option<SocketAddr>) {
        if let Some(r) = remote {
            if !r.ip().is_unspecified() && !self.entitled.contains(&r.ip()) {
                self.entitled.push(r.ip());
            }
        }
        let remote = remote.filter(|r| !r.ip().is_unspecified() && r.port() != 0);
        if remote != self.remote {
            self.consented = false;
            self.sent_before_consent = 0;
            self.proven = None;
        }
        self.remote = remote;
        self.candidate = None;
    }

    /// Where to send.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Whether the peer has shown consent to receive at [`remote`](Self::remote).
    pub fn consented(&self) -> bool {
        self.consented
    }

    /// RTCP arrived from the peer's own RTP or RTCP address: it wants the media.
    pub fn grant_consent(&mut self) {
        self.consented = true;
    }

    /// Whether one more packet may go to [`remote`](Self::remote) now (counts the packets
    /// sent before consent).
    pub fn may_send(&mut self) -> bool {
        if self.consented {
            return true;
        }
        if self.sent_before_consent < PRE_CONSENT_PACKETS {
            self.sent_before_consent += 1;
            return true;
        }
        false
    }

    /// Judges an RTP packet from `from` carrying `ssrc`, received at `now`.
    pub fn check(&mut self, now: Instant, from: SocketAddr, ssrc: u32) -> LatchVerdict {
        if Some(from) == self.remote {
            self.candidate = None;
            self.prove(now, ssrc);
            return LatchVerdict::Accept;
        }
        if !self.entitled.contains(&from.ip()) {
            return LatchVerdict::Foreign;
        }
        if let Some(proven) = self.proven {
            let silent = now.saturating_duration_since(proven.last_seen) >= RELATCH_SILENCE;
            if !silent || proven.ssrc != ssrc {
                self.candidate = None;
                return LatchVerdict::Unvalidated;
            }
        }
        let count = match self.candidate {
            Some((addr, s, n)) if addr == from && s == ssrc => n + 1,
            _ => 1,
        };
        if count >= RELATCH_PACKETS || self.remote.is_none() {
            self.remote = Some(from);
            self.candidate = None;
            self.prove(now, ssrc);
            return LatchVerdict::Relatched(from);
        }
        self.candidate = Some((from, ssrc, count));
        LatchVerdict::Unvalidated
    }

    fn prove(&mut self, now: Instant, ssrc: u32) {
        self.proven = Some(ProvenSource {
            ssrc,
            last_seen: now,
        });
        self.consented = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn latch(sdp: &str, signalling: &str) -> SourceLatch {
        SourceLatch::new(Some(addr(sdp)), signalling.parse().unwrap())
    }

    #[test]
    fn accepts_sdp_address_and_rejects_foreign() {
        let now = Instant::now();
        let mut l = latch("10.0.0.1:4000", "10.0.0.1");
        assert_eq!(l.check(now, addr("10.0.0.1:4000"), 1), LatchVerdict::Accept);
        assert_eq!(
            l.check(now, addr("10.9.9.9:4000"), 1),
            LatchVerdict::Foreign
        );
    }

    #[test]
    fn relatches_after_consecutive_packets_from_new_port_while_nothing_is_proven() {
        let now = Instant::now();
        let mut l = latch("10.0.0.1:4000", "10.0.0.1");
        let new = addr("10.0.0.1:5000");
        assert_eq!(l.check(now, new, 7), LatchVerdict::Unvalidated);
        assert_eq!(l.check(now, new, 7), LatchVerdict::Unvalidated);
        assert_eq!(l.check(now, new, 7), LatchVerdict::Relatched(new));
        assert_eq!(l.remote(), Some(new));
    }

    #[test]
    fn interleaved_ssrc_resets_validation() {
        let now = Instant::now();
        let mut l = latch("10.0.0.1:4000", "10.0.0.1");
        l.check(now, addr("10.0.0.1:5000"), 7);
        l.check(now, addr("10.0.0.1:5000"), 8);
        assert_eq!(
            l.check(now, addr("10.0.0.1:5000"), 7),
            LatchVerdict::Unvalidated
        );
    }

    #[test]
    fn signalling_ip_is_entitled_when_sdp_is_private() {
        let now = Instant::now();
        let mut l = latch("192.168.1.5:4000", "203.0.113.9");
        for _ in 0..2 {
            assert_eq!(
                l.check(now, addr("203.0.113.9:31000"), 3),
                LatchVerdict::Unvalidated
            );
        }
        assert!(matches!(
            l.check(now, addr("203.0.113.9:31000"), 3),
            LatchVerdict::Relatched(_)
        ));
    }

    #[test]
    fn a_second_port_cannot_take_a_stream_whose_owner_still_sends() {
        let t0 = Instant::now();
        let mut l = latch("10.0.0.1:4000", "10.0.0.1");
        let owner = addr("10.0.0.1:4000");
        let intruder = addr("10.0.0.1:6666");
        let mut now = t0;
        for _ in 0..200 {
            now += Duration::from_millis(20);
            assert_eq!(l.check(now, owner, 7), LatchVerdict::Accept);
            // Even with the owner's SSRC, many packets in a row.
            for _ in 0..5 {
                assert_eq!(l.check(now, intruder, 7), LatchVerdict::Unvalidated);
            }
        }
        assert_eq!(l.remote(), Some(owner));
    }

    #[test]
    fn a_rebinding_with_the_same_ssrc_takes_over_after_the_silence() {
        let t0 = Instant::now();
        let mut l = latch("10.0.0.1:4000", "10.0.0.1");
        let rebound = addr("10.0.0.1:4002");
        assert_eq!(l.check(t0, addr("10.0.0.1:4000"), 7), LatchVerdict::Accept);
        let soon = t0 + Duration::from_millis(500);
        assert_eq!(l.check(soon, rebound, 7), LatchVerdict::Unvalidated);
        let later = t0 + RELATCH_SILENCE;
        assert_eq!(
            l.check(later, rebound, 8),
            LatchVerdict::Unvalidated,
            "another SSRC never takes over"
        );
        for _ in 0..RELATCH_PACKETS - 1 {
            assert_eq!(l.check(later, rebound, 7), LatchVerdict::Unvalidated);
        }
        assert_eq!(l.check(later, rebound, 7), LatchVerdict::Relatched(rebound));
    }

    #[test]
    fn only_a_few_packets_go_before_consent() {
        let now = Instant::now();
        let mut l = latch("198.51.100.7:4000", "198.51.100.7");
        let sent = (0..100).filter(|_| l.may_send()).count();
        assert_eq!(sent, PRE_CONSENT_PACKETS as usize);
        l.check(now, addr("198.51.100.7:4000"), 1);
        assert!(l.consented());
        assert!((0..100).all(|_| l.may_send()));
    }

    #[test]
    fn rtcp_consent_opens_sending_and_a_new_address_must_consent_again() {
        let mut l = latch("198.51.100.7:4000", "198.51.100.7");
        while l.may_send() {}
        l.grant_consent();
        assert!(l.may_send());
        l.set_remote(Some(addr("198.51.100.8:4000")));
        assert!(!l.consented());
        l.set_remote(Some(addr("198.51.100.8:4000")));
        assert_eq!(
            (0..100).filter(|_| l.may_send()).count(),
            PRE_CONSENT_PACKETS as usize,
            "the same address again keeps its count"
        );
    }
}
