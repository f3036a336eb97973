//! The load generator's media thread: one wake-up per 20 ms for every member. Talkers send a
//! pre-encoded loop (a 200 ms tone burst each second), the others the listener sound (a
//! pre-encoded loop, by default one silent packet); every socket but the probes' is drained
//! each tick into RFC 3550 receive statistics, and each member's streaming time is clocked
//! for the missing-packet count. The latency probes receive on a thread of their own
//! ([`super::probe`]); this thread tells it when each burst's first packet leaves.

use super::listener_sound::{start_frame, ListenerSound};
use super::missing::{tally_missing, MissingTally, StreamClock};
use super::probe::{ProbeEvent, ProbeMember, ProbeThread, ProbeTotals};
use super::reception::Reception;
use super::stream::{apply_commands, pace, StreamCommand};
use crate::media::audio::codec::{AudioEncoder, EncoderSettings, FRAME_SAMPLES};
use crate::media::audio::tone::ToneGenerator;
use crate::rtp::recv_batch::RecvBatch;
use crate::rtp::sender::RtpSender;
use crate::sdp::AudioCodec;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);
/// Frames per burst period (1 s) and tone frames at its start (200 ms).
const PERIOD_FRAMES: usize = 50;
const BURST_FRAMES: usize = 10;

/// One member's media state.
pub(super) struct MemberMedia {
    socket: UdpSocket,
    remote: Option<SocketAddr>,
    sender: RtpSender,
    tx_packets: u64,
    talker: Option<usize>,
    clock: StreamClock,
    /// What arrived, when this thread drains the socket; `None` for a probe (the probe
    /// thread receives on its socket).
    reception: Option<Reception>,
}

impl MemberMedia {
    pub fn new(
        socket: UdpSocket,
        talker: Option<usize>,
        probe: bool,
    ) -> Result<Self, super::LoadError> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            remote: None,
            sender: RtpSender::new(111),
            tx_packets: 0,
            talker,
            clock: StreamClock::default(),
            reception: (!probe).then(Reception::default),
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
    pub missing: MissingTally,
}

/// Pre-encoded payload loops.
pub(super) struct Payloads {
    talkers: Vec<Vec<Vec<u8>>>,
    /// The listener sound's loop (one packet for silence).
    listener: Vec<Vec<u8>>,
}

impl Payloads {
    /// One burst loop per talker (distinct tones) and the listeners' loop.
    pub fn encode(talkers: usize, listener: ListenerSound) -> Result<Self, super::LoadError> {
        let mut encoder = AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default())?;
        let listener = listener.encode(&mut encoder)?;
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut loops = Vec::with_capacity(talkers);
        for t in 0..talkers {
            let mut tone = ToneGenerator::new(talker_tone_hz(t), 8000, 48_000);
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
            listener,
        })
    }

    /// What member `index` sends in frame `frame`.
    fn payload(&self, index: usize, talker: Option<usize>, frame: usize) -> &[u8] {
        match talker {
            Some(t) => &self.talkers[t][frame % PERIOD_FRAMES],
            None => {
                let len = self.listener.len();
                &self.listener[(frame + start_frame(index, len)) % len]
            }
        }
    }

    /// A listener's quiet packet and a talker's first loud one (silence and tone, for tests).
    #[cfg(test)]
    pub fn burst_and_quiet_example(&self) -> (&[u8], &[u8]) {
        (&self.listener[0], &self.talkers[0][0])
    }

    /// The tones the talkers' bursts are made of.
    pub fn tones_hz(&self) -> Vec<f32> {
        (0..self.talkers.len()).map(talker_tone_hz).collect()
    }
}

/// Talker `t`'s tone: 400, 550, 700 … Hz.
fn talker_tone_hz(t: usize) -> f32 {
    400.0 + 150.0 * t as f32
}

/// Starts the media thread (and, when there are probes, the probe thread).
pub(super) fn spawn(
    mut members: Vec<MemberMedia>,
    payloads: Payloads,
    commands: Receiver<StreamCommand>,
) -> Result<JoinHandle<MediaTotals>, super::LoadError> {
    let mut probes = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if m.reception.is_none() {
            probes.push(ProbeMember::new(
                i,
                m.socket.try_clone()?,
                payloads.tones_hz(),
            )?);
        }
    }
    let probes = ProbeThread::spawn(probes)?;
    let thread = std::thread::Builder::new()
        .name("tessera-loadgen-media".into())
        .spawn(move || {
            let mut frame_index = 0usize;
            let mut next = Instant::now() + TICK;
            let mut packet = Vec::with_capacity(1500);
            let mut batch = RecvBatch::new();
            loop {
                let finished = apply_commands(&commands, |index, start| {
                    let Some(m) = members.get_mut(index) else {
                        return;
                    };
                    let now = Instant::now();
                    m.remote = start.map(|(remote, _)| remote);
                    match start {
                        Some((_, payload_type)) => {
                            m.sender.set_payload_type(payload_type);
                            m.clock.start(now);
                        }
                        None => m.clock.stop(now),
                    }
                    if m.reception.is_none() {
                        probes.send(ProbeEvent::Listen {
                            member: index,
                            on: start.is_some(),
                        });
                    }
                });
                if finished {
                    return totals(members, probes.finish(), Instant::now());
                }
                let now = Instant::now();
                let mut burst_noted = !frame_index.is_multiple_of(PERIOD_FRAMES);
                for (i, m) in members.iter_mut().enumerate() {
                    let Some(remote) = m.remote else { continue };
                    m.sender.packetize(
                        payloads.payload(i, m.talker, frame_index),
                        960,
                        &mut packet,
                    );
                    if !burst_noted && m.talker.is_some() {
                        burst_noted = true;
                        probes.send(ProbeEvent::BurstSent(Instant::now()));
                    }
                    if m.socket.send_to(&packet, remote).is_ok() {
                        m.tx_packets += 1;
                    }
                    if let Some(reception) = m.reception.as_mut() {
                        reception.drain(&m.socket, &mut batch, || now, |_, _| {});
                    }
                }
                frame_index += 1;
                pace(&mut next, TICK);
            }
        })?;
    Ok(thread)
}

fn totals(mut members: Vec<MemberMedia>, probes: ProbeTotals, now: Instant) -> MediaTotals {
    let mut t = MediaTotals {
        rx_packets: 0,
        tx_packets: 0,
        expected: 0,
        lost: 0,
        jitter_ms: Vec::new(),
        latencies_ms: probes.latencies_ms,
        silent_members: 0,
        missing: MissingTally::default(),
    };
    for (i, reception) in probes.receptions {
        if let Some(m) = members.get_mut(i) {
            m.reception = Some(reception);
        }
    }
    let mut by_clock = Vec::with_capacity(members.len());
    for m in &members {
        let r = m.reception.as_ref();
        let rx = r.map_or(0, |r| r.rx_packets);
        t.rx_packets += rx;
        t.tx_packets += m.tx_packets;
        if let Some(r) = r {
            t.lost += r.lost();
            t.expected += r.expected();
        }
        match r {
            Some(r) if rx > 0 => t.jitter_ms.push(r.jitter_ms()),
            _ if m.tx_packets > 0 => t.silent_members += 1,
            _ => {}
        }
        by_clock.push((m.clock.expected(now), rx));
    }
    t.missing = tally_missing(by_clock);
    t
}
