//! The load generator's media thread: one wake-up per 20 ms for every member. Talkers send a
//! pre-encoded loop (a 200 ms tone burst each second), the others pre-encoded silence; every
//! socket is drained each tick into RFC 3550 receive statistics. A few probe listeners decode
//! what they receive to time tone onsets (talker burst sent → first loud packet arrives).

use super::stream::{apply_commands, pace, StreamCommand};
use crate::media::audio::codec::{AudioDecoder, AudioEncoder, EncoderSettings, FRAME_SAMPLES};
use crate::media::audio::talk::level_dbfs;
use crate::media::audio::tone::ToneGenerator;
use crate::rtp::rtcp::is_rtcp;
use crate::rtp::sender::RtpSender;
use crate::rtp::stats::ReceiveStats;
use crate::sdp::AudioCodec;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);
/// Frames per burst period (1 s) and tone frames at its start (200 ms).
const PERIOD_FRAMES: usize = 50;
const BURST_FRAMES: usize = 10;
/// Probe onset: loud after at least this many quiet packets.
const QUIET_BEFORE_ONSET: u32 = 10;
const LOUD_DBFS: f32 = -35.0;
const QUIET_DBFS: f32 = -50.0;

/// One member's media state.
pub(super) struct MemberMedia {
    pub socket: UdpSocket,
    remote: Option<SocketAddr>,
    sender: RtpSender,
    stats: ReceiveStats,
    pub rx_packets: u64,
    pub tx_packets: u64,
    talker: Option<usize>,
    probe: Option<Probe>,
}

struct Probe {
    decoder: AudioDecoder,
    pcm: Vec<i16>,
    quiet_packets: u32,
}

impl MemberMedia {
    pub fn new(
        socket: UdpSocket,
        talker: Option<usize>,
        probe: bool,
    ) -> Result<Self, super::LoadError> {
        socket.set_nonblocking(true)?;
        let probe = if probe {
            Some(Probe {
                decoder: AudioDecoder::new(AudioCodec::Opus)?,
                pcm: Vec::with_capacity(6 * FRAME_SAMPLES),
                quiet_packets: 0,
            })
        } else {
            None
        };
        Ok(Self {
            socket,
            remote: None,
            sender: RtpSender::new(111),
            stats: ReceiveStats::new(48_000),
            rx_packets: 0,
            tx_packets: 0,
            talker,
            probe,
        })
    }
}

/// What the media thread measured.
pub(super) struct MediaTotals {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub expected: i64,
    pub lost: i64,
    pub jitter_ms: Vec<f64>,
    pub latencies_ms: Vec<f64>,
    pub silent_members: usize,
}

/// Pre-encoded payload loops.
pub(super) struct Payloads {
    talkers: Vec<Vec<Vec<u8>>>,
    silence: Vec<u8>,
}

impl Payloads {
    /// One burst loop per talker (distinct tones) and one silence packet.
    pub fn encode(talkers: usize) -> Result<Self, super::LoadError> {
        let mut encoder = AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default())?;
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut silence = Vec::new();
        encoder.encode(&frame, &mut silence)?;
        let mut loops = Vec::with_capacity(talkers);
        for t in 0..talkers {
            let mut tone = ToneGenerator::new(400.0 + 150.0 * t as f32, 8000, 48_000);
            let mut packets = Vec::with_capacity(PERIOD_FRAMES);
            for f in 0..PERIOD_FRAMES {
                if f < BURST_FRAMES {
                    tone.fill(&mut frame);
                } else {
                    frame.iter_mut().for_each(|s| *s = 0);
                }
                let mut p = Vec::new();
                encoder.encode(&frame, &mut p)?;
                packets.push(p);
            }
            loops.push(packets);
        }
        Ok(Self {
            talkers: loops,
            silence,
        })
    }
}

/// Starts the media thread.
pub(super) fn spawn(
    mut members: Vec<MemberMedia>,
    payloads: Payloads,
    commands: Receiver<StreamCommand>,
) -> std::io::Result<JoinHandle<MediaTotals>> {
    std::thread::Builder::new()
        .name("tessera-loadgen-media".into())
        .spawn(move || {
            let mut latencies = Vec::new();
            let mut burst_sent_at: Option<Instant> = None;
            let mut frame_index = 0usize;
            let mut next = Instant::now() + TICK;
            let mut packet = Vec::with_capacity(1500);
            let mut buf = vec![0u8; 2048];
            loop {
                let finished = apply_commands(&commands, |index, start| {
                    if let Some(m) = members.get_mut(index) {
                        m.remote = start.map(|(remote, _)| remote);
                        if let Some((_, payload_type)) = start {
                            m.sender.set_payload_type(payload_type);
                        }
                    }
                });
                if finished {
                    return totals(&members, latencies);
                }
                let now = Instant::now();
                let phase = frame_index % PERIOD_FRAMES;
                if phase == 0 {
                    burst_sent_at = Some(now);
                }
                for m in members.iter_mut() {
                    let Some(remote) = m.remote else { continue };
                    let payload = match m.talker {
                        Some(t) => &payloads.talkers[t][phase],
                        None => &payloads.silence,
                    };
                    m.sender.packetize(payload, 960, &mut packet);
                    if m.socket.send_to(&packet, remote).is_ok() {
                        m.tx_packets += 1;
                    }
                    drain(m, now, burst_sent_at, &mut buf, &mut latencies);
                }
                frame_index += 1;
                pace(&mut next, TICK);
            }
        })
}

fn drain(
    m: &mut MemberMedia,
    now: Instant,
    burst: Option<Instant>,
    buf: &mut [u8],
    latencies: &mut Vec<f64>,
) {
    while let Ok((len, _)) = m.socket.recv_from(buf) {
        if is_rtcp(&buf[..len]) {
            continue; // rtcp-mux: reports share the socket
        }
        let Ok(rtp) = rtp_rs::RtpReader::new(&buf[..len]) else {
            continue;
        };
        m.rx_packets += 1;
        m.stats.on_packet(
            now,
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.payload().len(),
        );
        let Some(probe) = m.probe.as_mut() else {
            continue;
        };
        probe.pcm.clear();
        if probe.decoder.decode(rtp.payload(), &mut probe.pcm).is_err() {
            continue;
        }
        let level = level_dbfs(&probe.pcm);
        if level >= LOUD_DBFS {
            if probe.quiet_packets >= QUIET_BEFORE_ONSET {
                if let Some(sent) = burst {
                    let latency = now.saturating_duration_since(sent);
                    if latency < Duration::from_millis(900) {
                        latencies.push(latency.as_secs_f64() * 1000.0);
                    }
                }
            }
            probe.quiet_packets = 0;
        } else if level <= QUIET_DBFS {
            probe.quiet_packets += 1;
        }
    }
}

fn totals(members: &[MemberMedia], latencies: Vec<f64>) -> MediaTotals {
    let mut t = MediaTotals {
        rx_packets: 0,
        tx_packets: 0,
        expected: 0,
        lost: 0,
        jitter_ms: Vec::new(),
        latencies_ms: latencies,
        silent_members: 0,
    };
    for m in members {
        t.rx_packets += m.rx_packets;
        t.tx_packets += m.tx_packets;
        let lost = i64::from(m.stats.cumulative_lost());
        t.lost += lost.max(0);
        t.expected += m.stats.packets_received() as i64 + lost.max(0);
        if m.rx_packets > 0 {
            t.jitter_ms.push(m.stats.jitter_ms());
        } else if m.tx_packets > 0 {
            t.silent_members += 1;
        }
    }
    t
}
