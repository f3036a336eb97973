//! A raw media peer for tests that check what the server sends at the packet level: it places
//! a call with a hand-written SDP (audio and video, rtcp-mux) through a [`SipProbe`], and
//! records every datagram the server sends with its arrival time, without decoding.

use super::{header, request, status, to_tag_of, SipProbe};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tessera::rtp::rtcp::{is_rtcp, parse_compound, RtcpPacket};
use tokio::net::UdpSocket;

pub const OPUS_PT: u8 = 111;
pub const H264_PT: u8 = 96;

/// One datagram received, with when it arrived.
#[derive(Clone)]
pub struct Arrival {
    pub at: Instant,
    pub data: Vec<u8>,
}

/// An RTP packet's header fields.
#[derive(Debug, Clone, Copy)]
pub struct RtpHead {
    pub at: Instant,
    pub payload_type: u8,
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
}

/// Everything one of the peer's sockets received.
#[derive(Default, Clone)]
pub struct Received {
    pub datagrams: Vec<Arrival>,
}

impl Received {
    pub fn rtp(&self) -> Vec<RtpHead> {
        self.datagrams
            .iter()
            .filter(|d| !is_rtcp(&d.data))
            .filter_map(|d| {
                let r = rtp_rs::RtpReader::new(&d.data).ok()?;
                Some(RtpHead {
                    at: d.at,
                    payload_type: r.payload_type(),
                    ssrc: r.ssrc(),
                    seq: u16::from(r.sequence_number()),
                    timestamp: r.timestamp(),
                    marker: r.mark(),
                })
            })
            .collect()
    }

    /// (arrival, ssrc, NTP timestamp, RTP timestamp) of every sender report.
    pub fn sender_reports(&self) -> Vec<(Instant, u32, u64, u32)> {
        self.datagrams
            .iter()
            .filter(|d| is_rtcp(&d.data))
            .filter_map(|d| parse_compound(&d.data).ok().map(|p| (d.at, p)))
            .flat_map(|(at, packets)| {
                packets.into_iter().filter_map(move |p| match p {
                    RtcpPacket::SenderReport { ssrc, info, .. } => {
                        Some((at, ssrc, info.ntp_timestamp, info.rtp_timestamp))
                    }
                    _ => None,
                })
            })
            .collect()
    }
}

/// Seconds since the Unix epoch of an NTP timestamp (32.32 fixed point since 1900).
pub fn ntp_to_unix_secs(ntp: u64) -> f64 {
    const NTP_UNIX_OFFSET_SECS: f64 = 2_208_988_800.0;
    (ntp >> 32) as f64 + (ntp & 0xffff_ffff) as f64 / 4_294_967_296.0 - NTP_UNIX_OFFSET_SECS
}

/// Maps an `Instant` to Unix seconds, through one pair of clock readings.
#[derive(Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    unix: f64,
}

impl WallClock {
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        }
    }

    pub fn unix_secs(&self, at: Instant) -> f64 {
        if at >= self.instant {
            self.unix + (at - self.instant).as_secs_f64()
        } else {
            self.unix - (self.instant - at).as_secs_f64()
        }
    }
}

/// An SDP offer with Opus audio and H.264 video.
#[derive(Clone, Copy)]
pub struct AvOffer {
    pub audio: SocketAddr,
    pub video: SocketAddr,
    /// `o=` version (bump it for a re-INVITE).
    pub version: u32,
    /// `sendrecv`, `recvonly`, ...
    pub video_direction: &'static str,
    /// RTCP on the RTP port (else on port + 1).
    pub rtcp_mux: bool,
    /// H.264 `packetization-mode` (RFC 6184 §6).
    pub packetization_mode: u8,
}

impl AvOffer {
    /// Watch-only video with rtcp-mux, packetization mode 1.
    pub fn watching(audio: SocketAddr, video: SocketAddr) -> Self {
        Self {
            audio,
            video,
            version: 1,
            video_direction: "recvonly",
            rtcp_mux: true,
            packetization_mode: 1,
        }
    }

    pub fn sdp(&self) -> String {
        let mux = if self.rtcp_mux { "a=rtcp-mux\r\n" } else { "" };
        format!(
            "v=0\r\no=peer 1 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=audio {ap} RTP/AVP {OPUS_PT}\r\na=rtpmap:{OPUS_PT} opus/48000/2\r\n{mux}a=sendrecv\r\n\
m=video {vp} RTP/AVP {H264_PT}\r\na=rtpmap:{H264_PT} H264/90000\r\n\
a=fmtp:{H264_PT} profile-level-id=42e01f;packetization-mode={mode}\r\n\
a=rtcp-fb:{H264_PT} nack\r\na=rtcp-fb:{H264_PT} nack pli\r\n{mux}a={direction}\r\n",
            version = self.version,
            ip = self.audio.ip(),
            ap = self.audio.port(),
            vp = self.video.port(),
            mode = self.packetization_mode,
            direction = self.video_direction,
        )
    }
}

/// A call placed by hand; the dialog's identifiers for in-dialog requests.
pub struct ProbeCall {
    pub probe: SipProbe,
    pub ruri: String,
    pub call_id: String,
    pub server_tag: String,
    pub answer: String,
    cseq: u32,
}

impl ProbeCall {
    /// INVITEs `ruri` with `sdp` (and `extra` header lines), waits for the 200 and ACKs it.
    pub async fn place(
        server: SocketAddr,
        ruri: &str,
        call_id: &str,
        extra: &str,
        sdp: &str,
    ) -> Self {
        let probe = SipProbe::new(server).await;
        probe
            .send(&request(
                "INVITE",
                ruri,
                probe.local(),
                call_id,
                &format!("{call_id}-1"),
                1,
                None,
                &format!("Content-Type: application/sdp\r\n{extra}"),
                sdp,
            ))
            .await;
        let ok = probe
            .final_response(Duration::from_secs(10))
            .await
            .expect("INVITE answered");
        assert_eq!(status(&ok), 200, "{ok}");
        let server_tag = to_tag_of(&ok);
        probe
            .in_dialog(
                "ACK",
                ruri,
                call_id,
                &format!("{call_id}-ack1"),
                1,
                &server_tag,
            )
            .await;
        Self {
            probe,
            ruri: ruri.to_string(),
            call_id: call_id.to_string(),
            server_tag,
            answer: super::body_of(&ok).to_string(),
            cseq: 1,
        }
    }

    /// Sends a re-INVITE with `sdp`, waits for its 200 and ACKs it; returns the answer.
    pub async fn reinvite(&mut self, sdp: &str) -> String {
        self.cseq += 1;
        let cseq = self.cseq;
        let branch = format!("{}-{cseq}", self.call_id);
        self.probe
            .send(&request(
                "INVITE",
                &self.ruri,
                self.probe.local(),
                &self.call_id,
                &branch,
                cseq,
                Some(&self.server_tag),
                "Content-Type: application/sdp\r\n",
                sdp,
            ))
            .await;
        let ok = self
            .probe
            .response_to("INVITE", "200", Duration::from_secs(10))
            .await
            .expect("re-INVITE answered");
        assert!(header(&ok, "CSeq").is_some_and(|c| c.starts_with(&cseq.to_string())));
        self.probe
            .in_dialog(
                "ACK",
                &self.ruri,
                &self.call_id,
                &format!("{branch}-ack"),
                cseq,
                &self.server_tag,
            )
            .await;
        super::body_of(&ok).to_string()
    }

    /// Sends BYE and waits for its 200.
    pub async fn hang_up(mut self) {
        self.cseq += 1;
        self.probe
            .in_dialog(
                "BYE",
                &self.ruri,
                &self.call_id,
                &format!("{}-bye", self.call_id),
                self.cseq,
                &self.server_tag,
            )
            .await;
        let _ = self
            .probe
            .response_to("BYE", "200", Duration::from_secs(10))
            .await;
    }
}

/// Records what arrives on `socket` until `until`.
pub async fn record(socket: &UdpSocket, until: Instant) -> Received {
    let mut received = Received::default();
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= until {
            return received;
        }
        if let Ok(Ok((n, _))) = tokio::time::timeout(until - now, socket.recv_from(&mut buf)).await
        {
            received.datagrams.push(Arrival {
                at: Instant::now(),
                data: buf[..n].to_vec(),
            });
        }
    }
}

/// The port of the `m=<media>` line of an SDP body.
pub fn sdp_port(sdp: &str, media: &str) -> Option<u16> {
    let prefix = format!("m={media} ");
    sdp.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
}

/// Sends an RTCP receiver report from `socket` to the server's `media` port of `answer`
/// (rtcp-mux), as a real peer does within its first RTCP interval. It shows the server that
/// the peer wants the media: until then at most a few packets come (#14, media consent).
pub async fn send_consent(socket: &UdpSocket, answer: &str, media: &str) {
    let port = sdp_port(answer, media).expect("the answer has the media");
    let mut report = Vec::new();
    tessera::rtp::rtcp::write_compound(
        &[RtcpPacket::ReceiverReport {
            ssrc: 0x7e57_0001,
            reports: Vec::new(),
        }],
        &mut report,
    );
    socket
        .send_to(&report, ("127.0.0.1", port))
        .await
        .expect("send the receiver report");
}

/// An even port whose odd neighbour is free too (ffmpeg binds both: RTP and RTCP).
pub fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        if port < 1024 || port == u16::MAX - 1 {
            continue;
        }
        let rtp = std::net::UdpSocket::bind(("127.0.0.1", port));
        let rtcp = std::net::UdpSocket::bind(("127.0.0.1", port + 1));
        if rtp.is_ok() && rtcp.is_ok() {
            return port;
        }
    }
    panic!("no free UDP port pair on loopback");
}

/// Forwards the RTP (not RTCP) arriving on `relay` to `ffmpeg` (a third-party receiver that
/// sends nothing itself: the relay stands for its side of the network) until `stop` fires;
/// returns each payload's first byte's low five bits (an H.264 NAL type) and size.
pub async fn relay_rtp(
    relay: std::sync::Arc<UdpSocket>,
    ffmpeg: SocketAddr,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Vec<(u8, usize)> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            _ = &mut stop => return seen,
            received = relay.recv_from(&mut buf) => {
                let Ok((n, _)) = received else { continue };
                let packet = &buf[..n];
                if tessera::rtp::rtcp::is_rtcp(packet) {
                    continue;
                }
                if let Ok(rtp) = rtp_rs::RtpReader::new(packet) {
                    let payload = rtp.payload();
                    seen.push((payload.first().map_or(0, |b| b & 0x1f), payload.len()));
                }
                let _ = relay.send_to(packet, ffmpeg).await;
            }
        }
    }
}
