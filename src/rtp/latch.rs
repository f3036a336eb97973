//! Symmetric-RTP source validation: we send where the SDP says, accept media only from the
//! addresses the call is entitled to (the SDP address and the SIP signalling source) and
//! re-latch to a new port on an entitled IP only after several consecutive packets of the same
//! SSRC arrive from it (NAT rebinding). Everything else is foreign: dropped and counted.

use std::net::{IpAddr, SocketAddr};

/// Consecutive packets from a new port before we switch our sending address to it.
pub const RELATCH_PACKETS: u32 = 3;

/// Outcome for one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchVerdict {
    /// From the current remote address.
    Accept,
    /// From a new port of an entitled IP that has now proven itself; send there from now on.
    Relatched(SocketAddr),
    /// From an entitled IP but not yet validated.
    Unvalidated,
    /// From an address this call is not entitled to.
    Foreign,
}

/// Tracks where a member's media comes from.
#[derive(Debug, Clone)]
pub struct SourceLatch {
    remote: Option<SocketAddr>,
    entitled: Vec<IpAddr>,
    candidate: Option<(SocketAddr, u32, u32)>,
}

impl SourceLatch {
    /// `remote`: the SDP address (None while unknown); `signalling_ip`: where SIP came from.
    pub fn new(remote: Option<SocketAddr>, signalling_ip: IpAddr) -> Self {
        let mut latch = Self {
            remote: None,
            entitled: vec![signalling_ip],
            candidate: None,
        };
        latch.set_remote(remote);
        latch
    }

    /// New SDP address (re-INVITE): it becomes the sending address and is entitled.
    pub fn set_remote(&mut self, remote: Option<SocketAddr>) {
        if let Some(r) = remote {
            if !r.ip().is_unspecified() && !self.entitled.contains(&r.ip()) {
                self.entitled.push(r.ip());
            }
        }
        self.remote = remote.filter(|r| !r.ip().is_unspecified() && r.port() != 0);
        self.candidate = None;
    }

    /// Where to send.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Judges a packet from `from` carrying `ssrc`.
    pub fn check(&mut self, from: SocketAddr, ssrc: u32) -> LatchVerdict {
        if Some(from) == self.remote {
            self.candidate = None;
            return LatchVerdict::Accept;
        }
        if !self.entitled.contains(&from.ip()) {
            return LatchVerdict::Foreign;
        }
        let count = match self.candidate {
            Some((addr, s, n)) if addr == from && s == ssrc => n + 1,
            _ => 1,
        };
        if count >= RELATCH_PACKETS || self.remote.is_none() {
            self.remote = Some(from);
            self.candidate = None;
            return LatchVerdict::Relatched(from);
        }
        self.candidate = Some((from, ssrc, count));
        LatchVerdict::Unvalidated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_sdp_address_and_rejects_foreign() {
        let mut l = SourceLatch::new(Some(addr("10.0.0.1:4000")), "10.0.0.1".parse().unwrap());
        assert_eq!(l.check(addr("10.0.0.1:4000"), 1), LatchVerdict::Accept);
        assert_eq!(l.check(addr("10.9.9.9:4000"), 1), LatchVerdict::Foreign);
    }

    #[test]
    fn relatches_after_consecutive_packets_from_new_port() {
        let mut l = SourceLatch::new(Some(addr("10.0.0.1:4000")), "10.0.0.1".parse().unwrap());
        assert_eq!(l.check(addr("10.0.0.1:5000"), 7), LatchVerdict::Unvalidated);
        assert_eq!(l.check(addr("10.0.0.1:5000"), 7), LatchVerdict::Unvalidated);
        assert_eq!(
            l.check(addr("10.0.0.1:5000"), 7),
            LatchVerdict::Relatched(addr("10.0.0.1:5000"))
        );
        assert_eq!(l.remote(), Some(addr("10.0.0.1:5000")));
    }

    #[test]
    fn interleaved_ssrc_resets_validation() {
        let mut l = SourceLatch::new(Some(addr("10.0.0.1:4000")), "10.0.0.1".parse().unwrap());
        l.check(addr("10.0.0.1:5000"), 7);
        l.check(addr("10.0.0.1:5000"), 8);
        assert_eq!(l.check(addr("10.0.0.1:5000"), 7), LatchVerdict::Unvalidated);
    }

    #[test]
    fn signalling_ip_is_entitled_when_sdp_is_private() {
        let mut l = SourceLatch::new(
            Some(addr("192.168.1.5:4000")),
            "203.0.113.9".parse().unwrap(),
        );
        for _ in 0..2 {
            assert_eq!(
                l.check(addr("203.0.113.9:31000"), 3),
                LatchVerdict::Unvalidated
            );
        }
        assert!(matches!(
            l.check(addr("203.0.113.9:31000"), 3),
            LatchVerdict::Relatched(_)
        ));
    }
}
