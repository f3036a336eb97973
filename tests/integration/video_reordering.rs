//! The video jitter buffer over a real call: a sender whose packets arrive out of order within
//! the window loses nothing and is never asked for a keyframe; a lost packet is NACKed (the
//! sender offered `nack`) and its retransmission repairs the frame without a keyframe; a packet
//! that never comes is given up after the window and repaired with a PLI; and the server
//! answers a NACK of its own video with the packet it sent (its retransmission history).

use crate::common;

use common::media_peer::*;
use common::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tessera::conference::member::VideoSnapshot;
use tessera::media::video::codec::{EncoderConfig, VideoEncoder};
use tessera::media::video::test_pattern::pattern_frame;
use tessera::rtp::h264::{H264Packetizer, RtpPayloads};
use tessera::rtp::rtcp::{is_rtcp, parse_compound, RtcpPacket};
use tessera::rtp::sender::RtpSender;
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

const W: u32 = 320;
const H: u32 = 180;
const FRAME: Duration = Duration::from_millis(66);

/// What the sender does to the packets of one frame.
#[derive(Clone, Copy, PartialEq)]
enum Impairment {
    None,
    /// Swap every pair of consecutive packets.
    Swap,
    /// Hold back the second packet; send it once the server NACKs it.
    LoseThenRetransmit,
    /// Drop the second packet for good.
    Lose,
}

/// RTCP feedback the server sent us.
#[derive(Default)]
struct Feedback {
    nacked: HashSet<u16>,
    plis: usize,
}

struct Sender {
    socket: UdpSocket,
    server: std::net::SocketAddr,
    encoder: VideoEncoder,
    packetizer: H264Packetizer,
    payloads: RtpPayloads,
    encoded: Vec<u8>,
    rtp: RtpSender,
    base: u32,
    frame: u32,
    feedback: Feedback,
    /// A packet held back for retransmission: (seq, bytes).
    held: Option<(u16, Vec<u8>)>,
}

impl Sender {
    /// Encodes and sends one frame with `impairment`, then listens until the next frame time.
    async fn send_frame(&mut self, impairment: Impairment) -> Option<u16> {
        let deadline = Instant::now() + FRAME;
        let picture = pattern_frame(W, H, self.frame);
        let force = self.feedback.plis > 0 && std::mem::take(&mut self.feedback.plis) > 0;
        let info = self
            .encoder
            .encode(&picture, force || self.frame == 0, &mut self.encoded)
            .expect("encode");
        let timestamp = self.base.wrapping_add(self.frame * 6000);
        self.frame += 1;
        let mut packets = Vec::new();
        if info.bytes > 0 {
            self.packetizer
                .packetize_annex_b(&self.encoded, &mut self.payloads)
                .expect("packetize");
            for (payload, marker) in self.payloads.iter_with_marker() {
                let mut out = Vec::new();
                self.rtp.packetize_at(payload, timestamp, marker, &mut out);
                packets.push(out);
            }
        }
        let mut impaired = None;
        if packets.len() >= 3 {
            match impairment {
                Impairment::None => {}
                Impairment::Swap => {
                    for pair in packets.chunks_mut(2) {
                        pair.reverse();
                    }
                }
                Impairment::LoseThenRetransmit | Impairment::Lose => {
                    let victim = packets.remove(1);
                    let seq = u16::from_be_bytes([victim[2], victim[3]]);
                    impaired = Some(seq);
                    if impairment == Impairment::LoseThenRetransmit {
                        self.held = Some((seq, victim));
                    }
                }
            }
        }
        for p in &packets {
            self.socket.send_to(p, self.server).await.unwrap();
        }
        self.listen_until(deadline).await;
        impaired
    }

    /// Takes RTCP feedback until `deadline`; retransmits a held packet once it is NACKed.
    async fn listen_until(&mut self, deadline: Instant) {
        let mut buf = vec![0u8; 2048];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(Ok((n, _))) = tokio::time::timeout(left, self.socket.recv_from(&mut buf)).await
            else {
                break;
            };
            if !is_rtcp(&buf[..n]) {
                continue;
            }
            for packet in parse_compound(&buf[..n]).unwrap_or_default() {
                match packet {
                    RtcpPacket::Nack { lost, .. } => self.feedback.nacked.extend(lost),
                    RtcpPacket::PictureLossIndication { .. } => self.feedback.plis += 1,
                    _ => {}
                }
            }
            if let Some((seq, packet)) = self.held.take() {
                if self.feedback.nacked.contains(&seq) {
                    self.socket.send_to(&packet, self.server).await.unwrap();
                } else {
                    self.held = Some((seq, packet));
                }
            }
        }
    }
}

/// The next RTP packet (not RTCP) the server sends to `socket`.
async fn next_rtp(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
            .await
            .expect("the server keeps sending video")
            .expect("recv");
        if !is_rtcp(&buf[..n]) && n >= 12 {
            return buf[..n].to_vec();
        }
    }
}

async fn video_of(server: &ServerHandle) -> VideoSnapshot {
    let room = server.control().room("reo").await.expect("room");
    room.members[0].video.clone().expect("member video")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_packets_are_put_back_lost_ones_nacked_then_repaired() {
    let mut config = test_config();
    config.video.canvas.width = W;
    config.video.canvas.height = H;
    config.video.canvas.fps = 15.0;
    let server = start(config).await;
    let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = AvOffer {
        video_direction: "sendrecv",
        ..AvOffer::watching(audio.local_addr().unwrap(), socket.local_addr().unwrap())
    };
    let call = ProbeCall::place(
        server.sip_addr(),
        &uri(&server, "reo"),
        "reo-1",
        "",
        &offer.sdp(),
    )
    .await;
    let server_port = sdp_port(&call.answer, "video").expect("video answered");
    let mut sender = Sender {
        socket,
        server: ([127, 0, 0, 1], server_port).into(),
        encoder: VideoEncoder::new(EncoderConfig {
            width: W,
            height: H,
            fps: 15.0,
            bitrate_bps: 600_000,
            max_keyframe_interval: None,
            max_nal_bytes: None,
        })
        .expect("encoder"),
        // Small packets: every frame spans several.
        packetizer: H264Packetizer::new(200).expect("packetizer"),
        payloads: RtpPayloads::new(),
        encoded: Vec::new(),
        rtp: RtpSender::new(H264_PT),
        base: 1000,
        frame: 0,
        feedback: Feedback::default(),
        held: None,
    };
    // A clean start, then two seconds of swapped packets.
    for _ in 0..8 {
        sender.send_frame(Impairment::None).await;
    }
    let before = video_of(&server).await;
    for _ in 0..30 {
        sender.send_frame(Impairment::Swap).await;
    }
    sender.send_frame(Impairment::None).await;
    let swapped = video_of(&server).await;
    assert!(
        swapped.reorder.reordered >= 30,
        "reordering seen: {:?}",
        swapped.reorder
    );
    assert_eq!(swapped.reorder.lost, 0, "nothing counted lost");
    assert_eq!(
        swapped.inbound.keyframe_requests, before.inbound.keyframe_requests,
        "reordering cost no keyframe"
    );
    assert!(
        swapped.inbound.frames_decoded >= before.inbound.frames_decoded + 25,
        "frames kept decoding: {} → {}",
        before.inbound.frames_decoded,
        swapped.inbound.frames_decoded
    );
    // A lost packet, NACKed and retransmitted: no keyframe.
    let victim = sender
        .send_frame(Impairment::LoseThenRetransmit)
        .await
        .expect("a packet held back");
    for _ in 0..5 {
        sender.send_frame(Impairment::None).await;
    }
    assert!(
        sender.feedback.nacked.contains(&victim),
        "the lost packet was NACKed"
    );
    let repaired = video_of(&server).await;
    assert_eq!(
        repaired.reorder.lost, 0,
        "the retransmission filled the gap"
    );
    assert_eq!(
        repaired.inbound.keyframe_requests, before.inbound.keyframe_requests,
        "a retransmission needs no keyframe"
    );
    // A packet that never comes: NACKed, given up, then a PLI.
    let victim = sender
        .send_frame(Impairment::Lose)
        .await
        .expect("a packet dropped");
    let mut asked = false;
    for _ in 0..30 {
        sender.send_frame(Impairment::None).await;
        if video_of(&server).await.inbound.keyframe_requests > before.inbound.keyframe_requests {
            asked = true;
            break;
        }
    }
    assert!(sender.feedback.nacked.contains(&victim), "NACKed first");
    assert!(asked, "then a keyframe was requested");
    let lost = video_of(&server).await;
    assert!(lost.reorder.lost >= 1, "{:?}", lost.reorder);
    // The other way: our NACK of the server's video is answered from its history, with the
    // very packet it sent.
    let sent = next_rtp(&sender.socket).await;
    let (seq, ssrc) = (
        u16::from_be_bytes([sent[2], sent[3]]),
        u32::from_be_bytes([sent[8], sent[9], sent[10], sent[11]]),
    );
    let mut nack = Vec::new();
    tessera::rtp::rtcp::write_compound(
        &[RtcpPacket::Nack {
            sender_ssrc: 1,
            media_ssrc: ssrc,
            lost: vec![seq],
        }],
        &mut nack,
    );
    sender.socket.send_to(&nack, sender.server).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = None;
    while Instant::now() < deadline && again.is_none() {
        let packet = next_rtp(&sender.socket).await;
        if packet[2..4] == sent[2..4] {
            again = Some(packet);
        }
    }
    assert_eq!(
        again.as_deref(),
        Some(sent.as_slice()),
        "packet {seq} sent again as it was"
    );
    assert!(video_of(&server).await.retransmitted >= 1);
    call.hang_up().await;
    server.shutdown().await;
}
