//! The dialling client's video: sends an H.264 stream of a solid colour with a small moving
//! marker (so the encoder has real work), answers PLI with a keyframe, and decodes what the
//! server sends, keeping the last picture (saved as PNG on request).

use crate::media::video::codec::{DecoderBackend, EncoderConfig, VideoDecoder, VideoEncoder};
use crate::media::video::frame::{rgb_to_yuv, I420Frame, Rect};
use crate::media::video::inbound::VideoInbound;
use crate::rtp::clock::MediaClock;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use crate::rtp::rtcp::{is_rtcp, parse_compound, write_compound, RtcpPacket};
use crate::rtp::sender::RtpSender;
use crate::sdp::video::H264_CLOCK_RATE;
use crate::sdp::NegotiatedVideo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Frame interval of the sent stream (15 fps keeps the client cheap).
pub const SEND_INTERVAL: Duration = Duration::from_millis(66);
const MARKER: u32 = 32;
/// Receiver reports go this often (RFC 3550 §6.2 suggests 5 s); the first at once, which also
/// shows the server we want its video (media consent).
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Video state of one dialled call.
pub struct DialVideo {
    pub socket: UdpSocket,
    remote: SocketAddr,
    remote_rtcp: SocketAddr,
    sends: bool,
    encoder: Option<VideoEncoder>,
    packetizer: H264Packetizer,
    payloads: RtpPayloads,
    encoded: Vec<u8>,
    sender: RtpSender,
    picture: I420Frame,
    colour: (u8, u8, u8),
    frame_index: u32,
    clock: MediaClock,
    keyframe_asked: bool,
    pub inbound: VideoInbound,
    remote_ssrc: Option<u32>,
    packet: Vec<u8>,
    /// The picture captured at the requested time, if any.
    pub captured: Option<I420Frame>,
    /// When each received picture was decoded.
    pub decoded_at: Vec<Instant>,
    drop_every: Option<u32>,
    received: u32,
    next_report: Option<Instant>,
}

impl DialVideo {
    pub fn new(
        socket: UdpSocket,
        negotiated: &NegotiatedVideo,
        colour: Option<(u8, u8, u8)>,
        size: (u32, u32),
    ) -> Result<Self, crate::media::video::codec::VideoCodecError> {
        let encoder = match colour {
            Some(_) => Some(VideoEncoder::new(EncoderConfig {
                width: size.0,
                height: size.1,
                fps: 15.0,
                bitrate_bps: 600_000,
                max_keyframe_interval: None,
                max_nal_bytes: None,
            })?),
            None => None,
        };
        let (r, g, b) = colour.unwrap_or((0, 0, 0));
        Ok(Self {
            socket,
            remote: negotiated.remote_rtp,
            remote_rtcp: negotiated.remote_rtcp,
            sends: negotiated.direction.sends() && colour.is_some(),
            encoder,
            packetizer: H264Packetizer::default(),
            payloads: RtpPayloads::new(),
            encoded: Vec::new(),
            sender: RtpSender::new(negotiated.payload_type),
            picture: I420Frame::from_rgb(size.0, size.1, (r, g, b)),
            colour: rgb_to_yuv(r, g, b),
            frame_index: 0,
            clock: MediaClock::new(H264_CLOCK_RATE, Instant::now()),
            keyframe_asked: true,
            // OpenH264, not the server's libavcodec: the canvas is checked by a decoder other
            // than the one the server decodes its members with.
            inbound: VideoInbound::new(VideoDecoder::with_backend(DecoderBackend::Openh264)?),
            remote_ssrc: None,
            packet: Vec::with_capacity(1500),
            captured: None,
            decoded_at: Vec::new(),
            drop_every: None,
            received: 0,
            next_report: None,
        })
    }

    /// Drops every `n`th received packet (simulated loss for tests).
    pub fn set_drop_every(&mut self, n: Option<u32>) {
        self.drop_every = n;
    }

    /// Sends a receiver report when one is due.
    pub async fn send_report(&mut self, now: Instant) {
        if self.next_report.is_some_and(|at| now < at) {
            return;
        }
        self.next_report = Some(now + REPORT_INTERVAL);
        let report = RtcpPacket::ReceiverReport {
            ssrc: self.sender.ssrc(),
            reports: Vec::new(),
        };
        let mut out = Vec::new();
        write_compound(&[report], &mut out);
        let _ = self.socket.send_to(&out, self.remote_rtcp).await;
    }

    /// Encodes and sends the next frame of the test pattern. Returns packets sent.
    pub async fn send_frame(&mut self, now: Instant) -> u64 {
        let Some(encoder) = self.encoder.as_mut().filter(|_| self.sends) else {
            return 0;
        };
        // Move a small white square along the diagonal.
        let w = self.picture.width.saturating_sub(MARKER).max(1);
        let h = self.picture.height.saturating_sub(MARKER).max(1);
        let step = self.frame_index * 4;
        let old = marker_rect(step.wrapping_sub(4), w, h);
        self.picture.fill_rect(old, self.colour);
        self.picture
            .fill_rect(marker_rect(step, w, h), (235, 128, 128));
        self.frame_index += 1;
        let force = std::mem::take(&mut self.keyframe_asked);
        let Ok(frame) = encoder.encode(&self.picture, force, &mut self.encoded) else {
            return 0;
        };
        if frame.bytes == 0
            || self
                .packetizer
                .packetize_annex_b(&self.encoded, &mut self.payloads)
                .is_err()
        {
            self.keyframe_asked |= force;
            return 0;
        }
        let timestamp = self.clock.timestamp_at(now);
        let mut sent = 0;
        for (payload, marker) in self.payloads.iter_with_marker() {
            self.sender
                .packetize_at(payload, timestamp, marker, &mut self.packet);
            if self.socket.send_to(&self.packet, self.remote).await.is_ok() {
                sent += 1;
            }
        }
        sent
    }

    /// Handles one datagram from the video socket.
    pub async fn receive(&mut self, now: Instant, data: &[u8]) -> bool {
        if is_rtcp(data) {
            if let Ok(packets) = parse_compound(data) {
                for p in packets {
                    if matches!(
                        p,
                        RtcpPacket::PictureLossIndication { .. }
                            | RtcpPacket::FullIntraRequest { .. }
                    ) {
                        self.keyframe_asked = true;
                    }
                }
            }
            return false;
        }
        let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
            return false;
        };
        self.received = self.received.wrapping_add(1);
        if self
            .drop_every
            .is_some_and(|n| n > 0 && self.received.is_multiple_of(n))
        {
            return false; // simulated network loss (tests)
        }
        self.remote_ssrc = Some(rtp.ssrc());
        let decoded = self.inbound.stats().frames_decoded;
        self.inbound.push(
            now,
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.mark(),
            rtp.payload(),
        );
        if self.inbound.stats().frames_decoded > decoded {
            self.decoded_at.push(now);
        }
        if self.inbound.take_keyframe_request(now) {
            let pli = RtcpPacket::PictureLossIndication {
                sender_ssrc: self.sender.ssrc(),
                media_ssrc: self.remote_ssrc.unwrap_or(0),
            };
            let mut out = Vec::new();
            write_compound(&[pli], &mut out);
            let _ = self.socket.send_to(&out, self.remote_rtcp).await;
        }
        true
    }

    /// The last decoded picture (even if stale: the client keeps what it saw last).
    pub fn last_picture(&self) -> Option<I420Frame> {
        self.inbound.last_picture().cloned()
    }
}

fn marker_rect(step: u32, w: u32, h: u32) -> Rect {
    Rect {
        x: (step % w) as i32 & !1,
        y: (step % h) as i32 & !1,
        w: MARKER,
        h: MARKER,
    }
}
