//! One member's RTP/RTCP sockets as seen from the media thread: non-blocking receive drained
//! once per tick (no thread or task per member), symmetric-RTP validation and consent
//! ([`SourceLatch`]), one `recvmmsg` per socket per tick ([`RecvBatch`]), RTP/RTCP
//! demultiplexing for rtcp-mux (RFC 5761 §4), and sending.
//! RTCP is accepted only from the latched RTP source's address, its port + 1, or the RTCP
//! address the SDP gave. Malformed and foreign packets are counted and dropped here; nothing
//! on this path can end a call.

use super::latch::{LatchVerdict, SourceLatch};
use super::port_pool::RtpSocketPair;
use super::recv_batch::{self, RecvBatch};
use super::rtcp::{is_rtcp, parse_compound, RtcpPacket};
use rtp_rs::RtpReader;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tracing::debug;

/// Most packets taken from one socket per tick; the rest wait for the next tick.
const MAX_PACKETS_PER_DRAIN: usize = 256;
/// The separate RTCP socket is read on every this many drains (200 ms at 20 ms ticks): RTCP
/// comes every few seconds and is not urgent, and an empty read is a syscall per member per
/// tick.
const RTCP_SOCKET_EVERY: u8 = 10;

/// What arrived.
pub enum Inbound<'a> {
    /// An RTP packet and when it arrived (the kernel's note of it, or the drain's time).
    Rtp(RtpReader<'a>, Instant),
    /// A parsed compound RTCP packet (malformed ones are counted and dropped here).
    Rtcp(Vec<RtcpPacket>),
}

/// Per-endpoint counters.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct EndpointCounters {
    pub rx_rtp: u64,
    pub rx_rtcp: u64,
    pub rx_bytes: u64,
    pub tx_rtp: u64,
    pub tx_rtcp: u64,
    pub malformed: u64,
    pub foreign: u64,
    pub unvalidated: u64,
    /// RTP packets not sent because the peer has not shown consent yet.
    pub held_for_consent: u64,
}

/// Where the remote end wants media.
#[derive(Debug, Clone, Copy)]
pub struct RemoteMedia {
    pub rtp: Option<SocketAddr>,
    pub rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
}

/// Sockets, remote addresses and counters of one member.
pub struct RtpEndpoint {
    sockets: RtpSocketPair,
    latch: SourceLatch,
    remote_rtcp: Option<SocketAddr>,
    rtcp_mux: bool,
    counters: EndpointCounters,
    /// Taken out while a drain reads it (a pointer move).
    batch: Option<Box<RecvBatch>>,
    /// Drains left until the RTCP socket is read again.
    rtcp_socket_countdown: u8,
}

impl RtpEndpoint {
    pub fn new(sockets: RtpSocketPair, remote: RemoteMedia, signalling_ip: IpAddr) -> Self {
        if let Err(e) = recv_batch::stamp_arrivals(&sockets.rtp) {
            debug!(error = %e, "no kernel arrival times; packets are timed when read");
        }
        Self {
            sockets,
            latch: SourceLatch::new(remote.rtp, signalling_ip),
            remote_rtcp: remote.rtcp,
            rtcp_mux: remote.rtcp_mux,
            counters: EndpointCounters::default(),
            batch: Some(Box::default()),
            rtcp_socket_countdown: 0,
        }
    }

    /// Our RTP port.
    pub fn local_port(&self) -> u16 {
        self.sockets.rtp_port()
    }

    /// Applies a new offer/answer (re-INVITE, or the answer in an ACK).
    pub fn update_remote(&mut self, remote: RemoteMedia) {
        self.latch.set_remote(remote.rtp);
        self.remote_rtcp = remote.rtcp;
        self.rtcp_mux = remote.rtcp_mux;
    }

    pub fn counters(&self) -> EndpointCounters {
        self.counters
    }

    /// Whether the peer has shown consent to receive our media.
    pub fn consented(&self) -> bool {
        self.latch.consented()
    }

    /// Drains the RTP socket (and, every [`RTCP_SOCKET_EVERY`] calls, the RTCP socket),
    /// handing each valid packet to `handle`; a packet the kernel did not time arrived `now`.
    pub fn drain(&mut self, now: Instant, mut handle: impl FnMut(Inbound<'_>)) {
        let sockets = if self.rtcp_socket_countdown == 0 {
            self.rtcp_socket_countdown = RTCP_SOCKET_EVERY - 1;
            2
        } else {
            self.rtcp_socket_countdown -= 1;
            1
        };
        let mut batch = self.batch.take().unwrap_or_default();
        for socket_index in 0..sockets {
            let mut taken = 0;
            while taken < MAX_PACKETS_PER_DRAIN {
                let socket = if socket_index == 0 {
                    &self.sockets.rtp
                } else {
                    &self.sockets.rtcp
                };
                let n = match batch.fill(socket) {
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        // e.g. ICMP unreachable reported on the socket: not fatal.
                        debug!(error = %e, "rtp recv error");
                        break;
                    }
                };
                for i in 0..n {
                    let (data, from) = batch.get(i);
                    let arrived = batch.arrived(i).unwrap_or(now);
                    if let Some(from) = from {
                        self.on_datagram(arrived, socket_index == 1, data, from, &mut handle);
                    }
                }
                taken += n;
                if n < recv_batch::SLOTS {
                    break; // a short count: the queue is empty
                }
            }
        }
        self.batch = Some(batch);
    }

    /// Checks and hands on one datagram that came from `from` at `arrived` (on the RTCP
    /// socket when `on_rtcp_socket`).
    fn on_datagram(
        &mut self,
        arrived: Instant,
        on_rtcp_socket: bool,
        data: &[u8],
        from: SocketAddr,
        handle: &mut impl FnMut(Inbound<'_>),
    ) {
        if on_rtcp_socket || is_rtcp(data) {
            if !self.accept_rtcp_source(from) {
                self.counters.foreign += 1;
                return;
            }
            match parse_compound(data) {
                Ok(packets) => {
                    self.counters.rx_rtcp += 1;
                    handle(Inbound::Rtcp(packets));
                }
                Err(e) => {
                    self.counters.malformed += 1;
                    debug!(error = %e, "malformed RTCP dropped");
                }
            }
            return;
        }
        let Ok(packet) = RtpReader::new(data) else {
            self.counters.malformed += 1;
            return;
        };
        match self.latch.check(arrived, from, packet.ssrc()) {
            LatchVerdict::Accept => {}
            LatchVerdict::Relatched(to) => {
                debug!(%to, "rtp source re-latched");
                if self.rtcp_mux {
                    self.remote_rtcp = Some(to);
                }
            }
            LatchVerdict::Unvalidated => {
                self.counters.unvalidated += 1;
                return;
            }
            LatchVerdict::Foreign => {
                self.counters.foreign += 1;
                return;
            }
        }
        self.counters.rx_rtp += 1;
        self.counters.rx_bytes += data.len() as u64;
        handle(Inbound::Rtp(packet, arrived));
    }

    /// RTCP from the latched RTP address, its port + 1, or the RTCP address of the SDP; such
    /// RTCP also shows the peer's consent.
    fn accept_rtcp_source(&mut self, from: SocketAddr) -> bool {
        let rtp = self.latch.remote();
        let entitled = rtp == Some(from)
            || rtp.is_some_and(|r| {
                r.ip() == from.ip() && r.port().checked_add(1) == Some(from.port())
            })
            || self.remote_rtcp == Some(from);
        if entitled {
            self.latch.grant_consent();
            if !self.rtcp_mux {
                self.remote_rtcp = Some(from);
            }
        }
        entitled
    }

    /// Sends one RTP packet to the latched remote address.
    pub fn send_rtp(&mut self, packet: &[u8]) {
        let Some(to) = self.latch.remote() else {
            return;
        };
        if !self.latch.may_send() {
            self.counters.held_for_consent += 1;
            return;
        }
        if self.sockets.rtp.send_to(packet, to).is_ok() {
            self.counters.tx_rtp += 1;
        }
    }

    /// Sends one compound RTCP packet (on the RTP port when muxed).
    pub fn send_rtcp(&mut self, packet: &[u8]) {
        let (socket, to) = if self.rtcp_mux {
            (&self.sockets.rtp, self.latch.remote())
        } else {
            (&self.sockets.rtcp, self.remote_rtcp)
        };
        if let Some(to) = to {
            if socket.send_to(packet, to).is_ok() {
                self.counters.tx_rtcp += 1;
            }
        }
    }
}
