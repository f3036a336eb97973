//! Admission of new calls (#14 item 3), sans-IO with time passed in: the INVITE rate of each
//! source IP (a token bucket), calls per source, calls and rooms in all. The engine asks before
//! it parses the offer, binds a port or builds a codec, so a flood costs a hash lookup and a
//! small 503 per INVITE.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Sources whose buckets are remembered; past this, full (idle) buckets are forgotten.
const MAX_TRACKED_SOURCES: usize = 16_384;
/// `Retry-After` of a refusal for capacity (calls or rooms in all, calls from one source).
const CAPACITY_RETRY_AFTER_SECS: u32 = 30;

/// The limits, from `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionLimits {
    pub calls: usize,
    pub calls_per_ip: usize,
    /// New INVITEs per second from one IP, with a burst of twice that.
    pub invites_per_sec_per_ip: f64,
    pub rooms: usize,
}

/// Why a new call was refused; all are `503 Service Unavailable` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its source sent new INVITEs faster than the limit.
    Rate { retry_after_secs: u32 },
    /// Its source has as many calls as one source may.
    CallsFromSource,
    /// The server has as many calls as it takes.
    Calls,
    /// The call would open a room past the limit.
    Rooms,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Rate { .. } => "too many new calls from this address; slow down",
            Refusal::CallsFromSource => "too many calls from this address",
            Refusal::Calls => "the server is full",
            Refusal::Rooms => "no more rooms can be opened",
        }
    }

    /// Seconds for the `Retry-After` header.
    pub fn retry_after_secs(&self) -> u32 {
        match self {
            Refusal::Rate { retry_after_secs } => *retry_after_secs,
            _ => CAPACITY_RETRY_AFTER_SECS,
        }
    }

    /// The label of the `rejected` metric and log.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Rate { .. } => "rate",
            Refusal::CallsFromSource => "calls_per_ip",
            Refusal::Calls => "calls",
            Refusal::Rooms => "rooms",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What the limits need to remember: one token bucket per recent source.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    buckets: HashMap<IpAddr, Bucket>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        Self {
            limits,
            buckets: HashMap::new(),
        }
    }

    fn burst(&self) -> f64 {
        (2.0 * self.limits.invites_per_sec_per_ip).max(1.0)
    }

    /// Takes one new-INVITE token of `ip` at `now`, or says when one will be there.
    pub fn take_invite_token(&mut self, now: Instant, ip: IpAddr) -> Result<(), Refusal> {
        let rate = self.limits.invites_per_sec_per_ip.max(f64::MIN_POSITIVE);
        let burst = self.burst();
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&ip) {
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
            if self.buckets.len() >= MAX_TRACKED_SOURCES {
                // All busy (a flood from spoofed sources): start again rather than grow.
                self.buckets.clear();
            }
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / rate).ceil().clamp(1.0, 3600.0);
        Err(Refusal::Rate {
            retry_after_secs: wait as u32,
        })
    }

    /// Whether one more call fits: `calls` in all, `from_source` of its IP, and whether it
    /// opens a new room while `rooms` exist.
    pub fn check_capacity(
        &self,
        calls: usize,
        from_source: usize,
        opens_room: bool,
        rooms: usize,
    ) -> Result<(), Refusal> {
        if calls >= self.limits.calls {
            return Err(Refusal::Calls);
        }
        if from_source >= self.limits.calls_per_ip {
            return Err(Refusal::CallsFromSource);
        }
        if opens_room && rooms >= self.limits.rooms {
            return Err(Refusal::Rooms);
        }
        Ok(())
    }

    /// Sources remembered now (bounded by [`MAX_TRACKED_SOURCES`]).
    pub fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            calls: 10,
            calls_per_ip: 3,
            invites_per_sec_per_ip: 5.0,
            rooms: 2,
        }
    }

    #[test]
    fn a_burst_then_the_rate_then_retry_after() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut a = Admission::new(limits());
        let burst = (0..100)
            .take_while(|_| a.take_invite_token(t0, ip).is_ok())
            .count();
        assert_eq!(burst, 10, "a burst of twice the rate");
        assert_eq!(
            a.take_invite_token(t0, ip),
            Err(Refusal::Rate {
                retry_after_secs: 1
            })
        );
        // Another source is not affected.
        assert!(a
            .take_invite_token(t0, "192.0.2.2".parse().unwrap())
            .is_ok());
        // One second later, five more.
        let t1 = t0 + Duration::from_secs(1);
        let later = (0..100)
            .take_while(|_| a.take_invite_token(t1, ip).is_ok())
            .count();
        assert_eq!(later, 5);
    }

    #[test]
    fn capacity_in_all_per_source_and_rooms() {
        let a = Admission::new(limits());
        assert!(a.check_capacity(0, 0, true, 0).is_ok());
        assert_eq!(a.check_capacity(10, 0, false, 0), Err(Refusal::Calls));
        assert_eq!(
            a.check_capacity(5, 3, false, 0),
            Err(Refusal::CallsFromSource)
        );
        assert_eq!(a.check_capacity(5, 0, true, 2), Err(Refusal::Rooms));
        assert!(a.check_capacity(5, 0, false, 2).is_ok(), "joining a room");
    }

    #[test]
    fn a_spoofed_source_flood_remembers_a_bounded_number_of_sources() {
        let t0 = Instant::now();
        let mut a = Admission::new(limits());
        for i in 0..(MAX_TRACKED_SOURCES as u32 * 3) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = a.take_invite_token(t0 + Duration::from_millis(u64::from(i) / 1000), ip);
            assert!(a.tracked_sources() <= MAX_TRACKED_SOURCES);
        }
    }
}
