//! What one member's audio socket brought: RFC 3550 receive statistics and a packet count.
//! The media thread keeps one for each member it drains, the probe thread one for each probe.

use crate::rtp::recv_batch::{self, RecvBatch};
use crate::rtp::rtcp::is_rtcp;
use crate::rtp::stats::ReceiveStats;
use std::net::UdpSocket;
use std::time::Instant;

pub(super) struct Reception {
    stats: ReceiveStats,
    pub rx_packets: u64,
}

impl Default for Reception {
    fn default() -> Self {
        Self {
            stats: ReceiveStats::new(48_000),
            rx_packets: 0,
        }
    }
}

impl Reception {
    /// Reads everything waiting on `socket` (non-blocking; one `recvmmsg` when one packet
    /// waits, as the server does), RTCP aside (rtcp-mux: reports share the socket). Each RTP
    /// packet is timed by `arrival()` and its payload handed to `on_payload`.
    pub fn drain(
        &mut self,
        socket: &UdpSocket,
        batch: &mut RecvBatch,
        arrival: impl Fn() -> Instant,
        mut on_payload: impl FnMut(Instant, &[u8]),
    ) {
        while let Ok(n) = batch.fill(socket) {
            for i in 0..n {
                let (data, _) = batch.get(i);
                if is_rtcp(data) {
                    continue;
                }
                let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
                    continue;
                };
                let at = arrival();
                self.rx_packets += 1;
                self.stats.on_packet(
                    at,
                    u16::from(rtp.sequence_number()),
                    rtp.timestamp(),
                    rtp.payload().len(),
                );
                on_payload(at, rtp.payload());
            }
            if n < recv_batch::SLOTS {
                break; // a short count: the queue is empty
            }
        }
    }

    /// Packets lost by the sequence numbers (RFC 3550 A.3), never negative.
    pub fn lost(&self) -> i64 {
        i64::from(self.stats.cumulative_lost()).max(0)
    }

    /// Packets the sequence numbers say were sent.
    pub fn expected(&self) -> i64 {
        self.stats.packets_received() as i64 + self.lost()
    }

    pub fn jitter_ms(&self) -> f64 {
        self.stats.jitter_ms()
    }
}
