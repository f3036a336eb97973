//! The load generator's video thread: one wake-up per frame interval for every video member.
//! Senders send the next frame of the shared pre-encoded loop ([`VideoLoop`]) with their own
//! SSRC, sequence numbers and timestamps, and restart the loop at its IDR when the server asks
//! for a keyframe (PLI/FIR, at most once per 500 ms). Every video socket is drained each tick;
//! watchers depacketize what arrives into access units (frames), never decoding, and keep
//! RFC 3550 receive statistics.

use super::stream::{apply_commands, pace, StreamCommand};
use super::video_loop::VideoLoop;
use crate::rtp::h264::{is_keyframe_access_unit, H264Depacketizer};
use crate::rtp::rtcp::{is_rtcp, parse_compound, write_compound, RtcpPacket};
use crate::rtp::sender::RtpSender;
use crate::rtp::stats::ReceiveStats;
use crate::sdp::video::H264_CLOCK_RATE;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A sender restarts its loop at most this often on keyframe requests.
const MIN_RESTART_INTERVAL: Duration = Duration::from_millis(500);

/// What a video member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VideoRole {
    pub sends: bool,
    pub watches: bool,
}

/// One member's video state.
pub(super) struct VideoMember {
    socket: UdpSocket,
    role: VideoRole,
    remote: Option<SocketAddr>,
    sender: RtpSender,
    position: usize,
    frames_sent: u64,
    last_restart: Option<Instant>,
    stats: ReceiveStats,
    depacketizer: H264Depacketizer,
    rx_packets: u64,
    rx_frames: u64,
    rx_keyframes: u64,
    keyframe_requests: u64,
    first_frame: Option<Instant>,
    last_frame: Option<Instant>,
    /// When the call's media started (its 200 OK) and the first keyframe (the first
    /// picture a decoder can show) came.
    answered: Option<Instant>,
    first_keyframe: Option<Instant>,
    next_report: Option<Instant>,
    remote_ssrc: Option<u32>,
}

/// A watcher's receiver reports go this often (the first at once: it shows the server the
/// watcher wants video, which the server waits for before sending more than a few packets).
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

impl VideoMember {
    pub fn new(socket: UdpSocket, role: VideoRole) -> std::io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            role,
            remote: None,
            sender: RtpSender::new(96),
            position: 0,
            frames_sent: 0,
            last_restart: None,
            stats: ReceiveStats::new(H264_CLOCK_RATE),
            depacketizer: H264Depacketizer::new(),
            rx_packets: 0,
            rx_frames: 0,
            rx_keyframes: 0,
            keyframe_requests: 0,
            first_frame: None,
            last_frame: None,
            answered: None,
            first_keyframe: None,
            next_report: None,
            remote_ssrc: None,
        })
    }
}

/// What the video thread measured.
#[derive(Debug, Default)]
pub(super) struct VideoTotals {
    pub tx_frames: u64,
    pub tx_packets: u64,
    pub rx_packets: u64,
    pub rx_frames: u64,
    pub rx_keyframes: u64,
    pub expected: i64,
    pub lost: i64,
    /// Mean received frame rate per watcher that received anything.
    pub rx_fps: Vec<f64>,
    /// Keyframe requests (PLI/FIR) the senders received from the server.
    pub keyframe_requests: u64,
    /// Watchers that received no video at all.
    pub blind_watchers: usize,
    /// Per watcher: 200 OK → first keyframe, ms (at the video thread's frame-interval
    /// resolution).
    pub first_keyframe_ms: Vec<f64>,
}

/// Starts the video thread.
pub(super) fn spawn(
    mut members: Vec<Option<VideoMember>>,
    video: VideoLoop,
    commands: Receiver<StreamCommand>,
) -> std::io::Result<JoinHandle<VideoTotals>> {
    std::thread::Builder::new()
        .name("tessera-loadgen-video".into())
        .spawn(move || {
            let interval = Duration::from_secs_f64(1.0 / f64::from(video.fps.max(1.0)));
            let ticks_per_frame =
                (f64::from(H264_CLOCK_RATE) / f64::from(video.fps.max(1.0))) as u32;
            let mut next = Instant::now();
            let mut packet = Vec::with_capacity(1500);
            let mut buf = vec![0u8; 2048];
            loop {
                let finished = apply_commands(&commands, |index, start| {
                    if let Some(Some(m)) = members.get_mut(index) {
                        m.remote = start.map(|(remote, _)| remote);
                        if start.is_some() {
                            m.answered.get_or_insert_with(Instant::now);
                        }
                        if let Some((_, payload_type)) = start {
                            m.sender.set_payload_type(payload_type);
                        }
                    }
                });
                if finished {
                    return totals(members.iter().flatten());
                }
                let now = Instant::now();
                for m in members.iter_mut().flatten() {
                    drain(m, now, &mut buf);
                    if m.role.watches {
                        send_report(m, now, &mut packet);
                    }
                    if m.role.sends {
                        send_frame(m, &video, ticks_per_frame, &mut packet);
                    }
                }
                pace(&mut next, interval);
            }
        })
}

/// A receiver report (rtcp-mux: to the RTP address) when one is due.
fn send_report(m: &mut VideoMember, now: Instant, packet: &mut Vec<u8>) {
    let Some(remote) = m.remote else { return };
    if m.next_report.is_some_and(|at| now < at) {
        return;
    }
    m.next_report = Some(now + REPORT_INTERVAL);
    let reports = m
        .remote_ssrc
        .map(|ssrc| vec![m.stats.report_block(ssrc, now)])
        .unwrap_or_default();
    packet.clear();
    write_compound(
        &[RtcpPacket::ReceiverReport {
            ssrc: m.sender.ssrc(),
            reports,
        }],
        packet,
    );
    let _ = m.socket.send_to(packet, remote);
}

fn send_frame(m: &mut VideoMember, video: &VideoLoop, ticks_per_frame: u32, packet: &mut Vec<u8>) {
    let Some(remote) = m.remote else { return };
    if video.frames.is_empty() {
        return;
    }
    let frame = &video.frames[m.position % video.frames.len()];
    m.position = (m.position + 1) % video.frames.len();
    let timestamp = m
        .sender
        .initial_timestamp()
        .wrapping_add((m.frames_sent as u32).wrapping_mul(ticks_per_frame));
    let last = frame.payloads.len().saturating_sub(1);
    for (i, payload) in frame.payloads.iter().enumerate() {
        m.sender.packetize_at(payload, timestamp, i == last, packet);
        let _ = m.socket.send_to(packet, remote);
    }
    m.frames_sent += 1;
}

fn drain(m: &mut VideoMember, now: Instant, buf: &mut [u8]) {
    while let Ok((len, _)) = m.socket.recv_from(buf) {
        let data = &buf[..len];
        if is_rtcp(data) {
            let asks_keyframe = parse_compound(data).is_ok_and(|packets| {
                packets.iter().any(|p| {
                    matches!(
                        p,
                        RtcpPacket::PictureLossIndication { .. }
                            | RtcpPacket::FullIntraRequest { .. }
                    )
                })
            });
            if asks_keyframe && m.role.sends {
                m.keyframe_requests += 1;
                if m.last_restart
                    .is_none_or(|at| now.duration_since(at) >= MIN_RESTART_INTERVAL)
                {
                    m.last_restart = Some(now);
                    m.position = 0; // the loop starts with an IDR
                }
            }
            continue;
        }
        let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
            continue;
        };
        m.rx_packets += 1;
        m.remote_ssrc = Some(rtp.ssrc());
        let seq = u16::from(rtp.sequence_number());
        m.stats
            .on_packet(now, seq, rtp.timestamp(), rtp.payload().len());
        let first = m
            .depacketizer
            .push(seq, rtp.timestamp(), rtp.mark(), rtp.payload())
            .ok()
            .flatten();
        let mut unit = first;
        while let Some(au) = unit {
            m.rx_frames += 1;
            if is_keyframe_access_unit(au.nals()) {
                m.rx_keyframes += 1;
                m.first_keyframe.get_or_insert(now);
            }
            m.first_frame.get_or_insert(now);
            m.last_frame = Some(now);
            m.depacketizer.recycle(au);
            unit = m.depacketizer.pop_ready();
        }
    }
}

fn totals<'a>(members: impl Iterator<Item = &'a VideoMember>) -> VideoTotals {
    let mut t = VideoTotals::default();
    for m in members {
        t.tx_frames += m.frames_sent;
        t.tx_packets += m.sender.counts().0 as u64;
        t.rx_packets += m.rx_packets;
        t.rx_frames += m.rx_frames;
        t.rx_keyframes += m.rx_keyframes;
        t.keyframe_requests += m.keyframe_requests;
        let lost = i64::from(m.stats.cumulative_lost()).max(0);
        t.lost += lost;
        t.expected += m.stats.packets_received() as i64 + lost;
        if m.role.watches {
            match (m.first_frame, m.last_frame) {
                (Some(a), Some(b)) if b > a && m.rx_frames > 1 => {
                    t.rx_fps
                        .push((m.rx_frames - 1) as f64 / b.duration_since(a).as_secs_f64());
                }
                _ => t.blind_watchers += 1,
            }
            if let (Some(answered), Some(keyframe)) = (m.answered, m.first_keyframe) {
                t.first_keyframe_ms
                    .push(keyframe.saturating_duration_since(answered).as_secs_f64() * 1e3);
            }
        }
    }
    t
}
