//! The RTP port pool: hands out even/odd port pairs (RTP on the even port, RTCP on the next,
//! RFC 3550 §11) from the configured range, binds them, and takes them back when the lease
//! is dropped. Allocation walks the range round-robin so a just-freed pair is not reused at
//! once (late packets of an old call must not land in a new one).

use crate::config::PortRange;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// Allocation failures.
#[derive(Debug, Error)]
pub enum PortPoolError {
    #[error("no free RTP port pair in {0}")]
    Exhausted(PortRange),
    #[error("cannot configure RTP socket: {0}")]
    Socket(#[from] std::io::Error),
}

#[derive(Debug)]
struct PoolState {
    next: u16,
    in_use: BTreeSet<u16>,
}

/// Shared pool of RTP port pairs.
#[derive(Debug, Clone)]
pub struct PortPool {
    range: PortRange,
    bind_ip: IpAddr,
    state: Arc<Mutex<PoolState>>,
}

/// A bound RTP/RTCP socket pair; the ports return to the pool when this is dropped.
#[derive(Debug)]
pub struct RtpSocketPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    lease: PortLease,
}

impl RtpSocketPair {
    /// The RTP port (RTCP is `rtp_port() + 1`).
    pub fn rtp_port(&self) -> u16 {
        self.lease.port
    }
}

#[derive(Debug)]
struct PortLease {
    port: u16,
    state: Arc<Mutex<PoolState>>,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.lock() {
            s.in_use.remove(&self.port);
        }
    }
}

impl PortPool {
    pub fn new(range: PortRange, bind_ip: IpAddr) -> Self {
        Self {
            range,
            bind_ip,
            state: Arc::new(Mutex::new(PoolState {
                next: range.low,
                in_use: BTreeSet::new(),
            })),
        }
    }

    /// Pairs currently leased.
    pub fn in_use(&self) -> usize {
        self.state.lock().map(|s| s.in_use.len()).unwrap_or(0)
    }

    /// Binds the next free pair (non-blocking sockets, ready for the media thread).
    pub fn allocate(&self) -> Result<RtpSocketPair, PortPoolError> {
        let pairs = usize::from((self.range.high - self.range.low) / 2) + 1;
        let mut state = self
            .state
            .lock()
            .map_err(|_| PortPoolError::Exhausted(self.range))?;
        for _ in 0..pairs {
            let port = state.next;
            // u32 arithmetic: a range ending at 65535 must not overflow.
            state.next = if u32::from(port) + 3 > u32::from(self.range.high) {
                self.range.low
            } else {
                port + 2
            };
            if state.in_use.contains(&port) || port == u16::MAX {
                continue;
            }
            // Another process may hold the port: binding is the only honest check.
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.bind_ip, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.bind_ip, port + 1)) else {
                continue;
            };
            rtp.set_nonblocking(true)?;
            rtcp.set_nonblocking(true)?;
            state.in_use.insert(port);
            return Ok(RtpSocketPair {
                rtp,
                rtcp,
                lease: PortLease {
                    port,
                    state: self.state.clone(),
                },
            });
        }
        Err(PortPoolError::Exhausted(self.range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(low: u16, high: u16) -> PortPool {
        PortPool::new(PortRange { low, high }, IpAddr::from([127, 0, 0, 1]))
    }

    #[test]
    fn pairs_are_even_and_returned_on_drop() {
        let p = pool(41000, 41009);
        let a = p.allocate().unwrap();
        assert_eq!(a.rtp_port() % 2, 0);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), a.rtp_port() + 1);
        assert_eq!(p.in_use(), 1);
        drop(a);
        assert_eq!(p.in_use(), 0);
    }

    #[test]
    fn exhaustion_is_an_error_and_not_a_reuse() {
        let p = pool(41020, 41023);
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        assert_ne!(a.rtp_port(), b.rtp_port());
        assert!(matches!(p.allocate(), Err(PortPoolError::Exhausted(_))));
        drop(a);
        assert!(p.allocate().is_ok());
    }

    #[test]
    fn range_at_the_top_of_the_port_space_wraps_without_overflow() {
        let p = pool(65530, 65535);
        let ports: Vec<u16> = (0..3)
            .map(|_| p.allocate().map(|s| s.rtp_port()))
            .filter_map(Result::ok)
            .collect();
        assert!(
            ports.iter().all(|port| (65530..=65534).contains(port)),
            "{ports:?}"
        );
    }

    #[test]
    fn round_robin_avoids_immediate_reuse() {
        let p = pool(41040, 41049);
        let first = p.allocate().unwrap().rtp_port();
        let second = p.allocate().unwrap().rtp_port();
        assert_ne!(first, second);
    }
}
