//! Where a SIP message came from and goes to: a socket address plus the transport flow.

use std::fmt;
use std::net::SocketAddr;

/// Identifies one accepted or dialled TCP connection inside a process.
pub type ConnectionId = u64;

/// The transport flow of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Datagrams on the endpoint's UDP socket: unreliable, so timers retransmit.
    Udp,
    /// An established TCP connection: reliable, no retransmissions (RFC 3261 §17).
    Tcp(ConnectionId),
}

/// The remote end of a message exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub flow: Flow,
}

impl Peer {
    pub fn udp(addr: SocketAddr) -> Self {
        Self {
            addr,
            flow: Flow::Udp,
        }
    }

    /// Reliable transports get no retransmissions and zero-length wait timers.
    pub fn is_reliable(&self) -> bool {
        matches!(self.flow, Flow::Tcp(_))
    }

    /// Transport token for Via / Contact (`UDP` or `TCP`).
    pub fn transport_name(&self) -> &'static str {
        match self.flow {
            Flow::Udp => "UDP",
            Flow::Tcp(_) => "TCP",
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.transport_name().to_lowercase(), self.addr)
    }
}
