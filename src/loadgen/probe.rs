//! Latency probes at 1 ms resolution. A few listeners' sockets are watched by a thread of
//! their own that waits in poll(2), so each packet is timed when it arrives, not at the media
//! thread's next 20 ms tick. Each probe decodes what it receives and times the talkers' burst
//! onsets ([`OnsetTimer`]): the first packet whose level at the talkers' tones rose 10 dB over
//! the mean of the 10 before it (and 3 dB over their loudest), measured from the instant the
//! media thread sent the first packet of the burst ([`ProbeEvent::BurstSent`]). The level is taken at the tones, not over the
//! band, so an onset shows in a room whose listeners all send noise or speech too.
//!
//! The media thread still sends for the probes (from the same sockets, cloned); this thread
//! only receives. It is cheap: it wakes for the probes' packets (50 a second each) and every
//! [`IDLE_WAIT`] to read its commands.

use super::reception::Reception;
use crate::media::audio::codec::{AudioDecoder, FRAME_SAMPLES};
use crate::media::audio::talk::{level_dbfs, SILENCE_DBFS};
use crate::media::audio::tone::tone_ratio;
use crate::rtp::recv_batch::RecvBatch;
use crate::sdp::AudioCodec;
use std::collections::VecDeque;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the report states as the probes' resolution: arrivals are timed as poll(2) returns.
pub const RESOLUTION_MS: f64 = 1.0;
/// Longest wait in poll(2) when no packet comes (how late a command may be read).
const IDLE_WAIT: Duration = Duration::from_millis(5);
/// Onset: loud after at least this many quiet packets.
const QUIET_BEFORE_ONSET: usize = 10;
/// An onset is this much louder than the mean of the quiet packets before it…
const RISE_OVER_MEAN_DB: f32 = 10.0;
/// …this much louder than the loudest of them (other members' speech has syllables)…
const RISE_OVER_PEAK_DB: f32 = 3.0;
/// …and at least this loud.
const LOUD_DBFS: f32 = -40.0;
/// A burst is over once a packet is this much below the burst's first.
const FALL_DB: f32 = 10.0;
/// Later than this after a burst, a loud packet belongs to no burst we can name.
const MAX_LATENCY: Duration = Duration::from_millis(900);

/// Times one probe's tone onsets (sans-IO: arrival and burst times are given).
#[derive(Debug, Default)]
pub(super) struct OnsetTimer {
    /// The levels of the last packets (up to [`QUIET_BEFORE_ONSET`]) since a burst ended.
    recent: VecDeque<f32>,
    /// In a burst: the level of its first packet.
    burst_dbfs: Option<f32>,
}

impl OnsetTimer {
    /// A packet whose tones measured `level` dBFS arrived at `arrival`; the latency since
    /// `burst_sent` when it is an onset (loud after enough quiet ones, not too late).
    pub fn on_packet(
        &mut self,
        arrival: Instant,
        level: f32,
        burst_sent: Option<Instant>,
    ) -> Option<Duration> {
        if let Some(burst) = self.burst_dbfs {
            if level < burst - FALL_DB {
                self.burst_dbfs = None;
                self.recent.clear();
                self.recent.push_back(level);
            }
            return None;
        }
        let peak = self.recent.iter().copied().fold(SILENCE_DBFS, f32::max);
        let mean = self.recent.iter().sum::<f32>() / self.recent.len().max(1) as f32;
        let threshold = (mean + RISE_OVER_MEAN_DB)
            .max(peak + RISE_OVER_PEAK_DB)
            .max(LOUD_DBFS);
        let quiet_enough = self.recent.len() >= QUIET_BEFORE_ONSET;
        if !quiet_enough || level < threshold {
            if self.recent.len() >= QUIET_BEFORE_ONSET {
                self.recent.pop_front();
            }
            self.recent.push_back(level);
            return None;
        }
        self.burst_dbfs = Some(level);
        let latency = arrival.saturating_duration_since(burst_sent?);
        (latency < MAX_LATENCY).then_some(latency)
    }
}

/// The level of `pcm` (48 kHz) at `tones`: its level times the share of its energy there.
fn tone_level_dbfs(pcm: &[i16], tones: &[f32]) -> f32 {
    let share: f64 = tones.iter().map(|&hz| tone_ratio(pcm, hz, 48_000)).sum();
    if share <= 0.0 {
        return SILENCE_DBFS;
    }
    (level_dbfs(pcm) + (10.0 * share.min(1.0).log10()) as f32).max(SILENCE_DBFS)
}

/// From the media thread to the probe thread.
pub(super) enum ProbeEvent {
    /// The first packet of a talker burst is being sent now.
    BurstSent(Instant),
    /// Member `member` (a probe) started or stopped streaming.
    Listen {
        member: usize,
        on: bool,
    },
    Finish,
}

/// One probe listener.
pub(super) struct ProbeMember {
    member: usize,
    socket: UdpSocket,
    listening: bool,
    reception: Reception,
    decoder: AudioDecoder,
    pcm: Vec<i16>,
    /// The talkers' tones.
    tones: Vec<f32>,
    onsets: OnsetTimer,
}

impl ProbeMember {
    /// Probe for member `member`, receiving on `socket` (non-blocking), listening for
    /// bursts of `tones`.
    pub fn new(
        member: usize,
        socket: UdpSocket,
        tones: Vec<f32>,
    ) -> Result<Self, super::LoadError> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            member,
            socket,
            listening: false,
            reception: Reception::default(),
            decoder: AudioDecoder::new(AudioCodec::Opus)?,
            pcm: Vec::with_capacity(6 * FRAME_SAMPLES),
            tones,
            onsets: OnsetTimer::default(),
        })
    }

    fn drain(
        &mut self,
        batch: &mut RecvBatch,
        burst_sent: Option<Instant>,
        latencies: &mut Vec<f64>,
    ) {
        if !self.listening {
            while batch.fill(&self.socket).is_ok() {} // before its start or after its stop
            return;
        }
        let (decoder, pcm, onsets) = (&mut self.decoder, &mut self.pcm, &mut self.onsets);
        let tones = &self.tones;
        self.reception
            .drain(&self.socket, batch, Instant::now, |arrival, payload| {
                pcm.clear();
                if decoder.decode(payload, pcm).is_err() {
                    return;
                }
                let level = tone_level_dbfs(pcm, tones);
                if let Some(latency) = onsets.on_packet(arrival, level, burst_sent) {
                    latencies.push(latency.as_secs_f64() * 1000.0);
                }
            });
    }
}

/// What the probe thread measured.
#[derive(Default)]
pub(super) struct ProbeTotals {
    /// Each probe's member index and reception.
    pub receptions: Vec<(usize, Reception)>,
    pub latencies_ms: Vec<f64>,
}

/// The media thread's end of the probe thread (a no-op without probes).
pub(super) struct ProbeThread {
    events: Sender<ProbeEvent>,
    thread: Option<JoinHandle<ProbeTotals>>,
}

impl ProbeThread {
    /// Starts the thread for `probes` (none: no thread).
    pub fn spawn(probes: Vec<ProbeMember>) -> std::io::Result<Self> {
        let (events, commands) = mpsc::channel();
        let thread = if probes.is_empty() {
            None
        } else {
            Some(
                std::thread::Builder::new()
                    .name("tessera-loadgen-probe".into())
                    .spawn(move || run(probes, commands))?,
            )
        };
        Ok(Self { events, thread })
    }

    pub fn send(&self, event: ProbeEvent) {
        if self.thread.is_some() {
            let _ = self.events.send(event);
        }
    }

    /// Ends the thread and returns what it measured.
    pub fn finish(self) -> ProbeTotals {
        self.send(ProbeEvent::Finish);
        self.thread.and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

fn run(mut probes: Vec<ProbeMember>, commands: Receiver<ProbeEvent>) -> ProbeTotals {
    let mut fds: Vec<libc::pollfd> = probes
        .iter()
        .map(|p| libc::pollfd {
            fd: p.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut burst_sent = None;
    let mut latencies = Vec::new();
    let mut batch = RecvBatch::new();
    loop {
        wait_readable(&mut fds, IDLE_WAIT);
        // Commands first: a burst's BurstSent was queued before the talker's packet left, so
        // before the mix carrying it can arrive.
        loop {
            match commands.try_recv() {
                Ok(ProbeEvent::BurstSent(at)) => burst_sent = Some(at),
                Ok(ProbeEvent::Listen { member, on }) => {
                    if let Some(p) = probes.iter_mut().find(|p| p.member == member) {
                        p.listening = on;
                    }
                }
                Ok(ProbeEvent::Finish) | Err(TryRecvError::Disconnected) => {
                    return ProbeTotals {
                        receptions: probes
                            .into_iter()
                            .map(|p| (p.member, p.reception))
                            .collect(),
                        latencies_ms: latencies,
                    }
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        for p in &mut probes {
            p.drain(&mut batch, burst_sent, &mut latencies);
        }
    }
}

/// Waits until one of `fds` is readable or `timeout` has passed (an interrupted wait just
/// returns early).
fn wait_readable(fds: &mut [libc::pollfd], timeout: Duration) {
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is an exclusively borrowed, initialised array of `fds.len()` pollfd
    // structs that outlives the call; poll(2) writes only their `revents`.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
}

#[cfg(test)]
mod tests {
    use super::super::listener_sound::ListenerSound;
    use super::super::media::Payloads;
    use super::*;
    use crate::rtp::sender::RtpSender;

    /// Feeds enough packets 20 ms apart from `t0` for an onset to count after them, at
    /// `level(i)`; none of them is one.
    fn quiet_run(timer: &mut OnsetTimer, t0: Instant, level: impl Fn(usize) -> f32) {
        for i in 0..QUIET_BEFORE_ONSET {
            let at = t0 + Duration::from_millis(20 * i as u64);
            assert_eq!(timer.on_packet(at, level(i), Some(t0)), None, "packet {i}");
        }
    }

    /// Other members' noise as heard at the tones: about -30 dBFS, with syllables.
    fn noise(i: usize) -> f32 {
        [-31.0, -25.5, -38.0][i % 3]
    }

    #[test]
    fn an_onset_is_loud_after_quiet_and_timed_from_the_burst() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut timer = OnsetTimer::default();
        quiet_run(&mut timer, t0, |_| -90.0);
        assert_eq!(
            timer.on_packet(at(233_417), -20.0, Some(at(200_000))),
            Some(Duration::from_micros(33_417)),
            "timed to the microsecond, not to the tick"
        );
        assert_eq!(
            timer.on_packet(at(253_000), -20.0, Some(at(200_000))),
            None,
            "the burst goes on: no new onset"
        );
        for _ in 0..QUIET_BEFORE_ONSET {
            timer.on_packet(at(300_000), -25.0, Some(at(200_000))); // a softer part: no end
        }
        assert_eq!(timer.on_packet(at(400_000), -20.0, Some(t0)), None);
    }

    #[test]
    fn an_onset_shows_over_a_noisy_background_by_its_rise() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut timer = OnsetTimer::default();
        quiet_run(&mut timer, t0, noise);
        assert_eq!(
            timer.on_packet(at(210), -24.0, Some(at(200))),
            None,
            "a syllable a little louder than the last is not an onset"
        );
        let mut timer = OnsetTimer::default();
        quiet_run(&mut timer, t0, noise);
        assert_eq!(
            timer.on_packet(at(215), -19.0, Some(at(200))),
            Some(Duration::from_millis(15)),
            "the burst's first packet, weaker than the rest, is its onset"
        );
        assert_eq!(timer.on_packet(at(235), -11.0, Some(at(200))), None);
        // The noise again ends the burst; after ten more packets of it the next burst counts.
        quiet_run(&mut timer, at(400), |_| -31.0);
        assert_eq!(
            timer.on_packet(at(1_212), -16.0, Some(at(1_200))),
            Some(Duration::from_millis(12))
        );
    }

    #[test]
    fn the_level_is_taken_at_the_talkers_tones() {
        let mut tone = vec![0i16; FRAME_SAMPLES];
        crate::media::audio::tone::ToneGenerator::new(550.0, 8000, 48_000).fill(&mut tone);
        let whole = level_dbfs(&tone);
        let at_tones = tone_level_dbfs(&tone, &[400.0, 550.0]);
        assert!((whole - at_tones).abs() < 1.0, "{whole} {at_tones}");
        let elsewhere = tone_level_dbfs(&tone, &[1_500.0]);
        assert!(elsewhere < whole - 20.0, "{elsewhere}");
        assert_eq!(tone_level_dbfs(&[0; FRAME_SAMPLES], &[400.0]), SILENCE_DBFS);
    }

    #[test]
    fn no_onset_without_enough_quiet_a_burst_or_in_time() {
        let t0 = Instant::now();
        let quiet = |timer: &mut OnsetTimer, n: usize| {
            for _ in 0..n {
                timer.on_packet(t0, -90.0, Some(t0));
            }
        };
        let mut timer = OnsetTimer::default();
        quiet(&mut timer, QUIET_BEFORE_ONSET - 1);
        assert_eq!(
            timer.on_packet(t0, -20.0, Some(t0)),
            None,
            "too little quiet"
        );
        quiet(&mut timer, QUIET_BEFORE_ONSET);
        assert_eq!(timer.on_packet(t0, -20.0, None), None, "no burst sent yet");
        quiet(&mut timer, QUIET_BEFORE_ONSET);
        let late = t0 + MAX_LATENCY;
        assert_eq!(timer.on_packet(late, -20.0, Some(t0)), None, "too late");
    }

    /// A real socket and thread: the latency is timed at arrival, within a few ms of the
    /// true delay (7 ms here), not at a 20 ms tick.
    #[test]
    fn the_probe_thread_times_arrivals_not_ticks() {
        let payloads = Payloads::encode(1, ListenerSound::Silence).expect("encodes");
        let (quiet, loud) = payloads.burst_and_quiet_example();
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = socket.local_addr().expect("addr");
        let probe = ProbeMember::new(3, socket, payloads.tones_hz()).expect("probe");
        let thread = ProbeThread::spawn(vec![probe]).expect("spawn");
        thread.send(ProbeEvent::Listen {
            member: 3,
            on: true,
        });
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut sender = RtpSender::new(111);
        let mut packet = Vec::new();
        let mut send = |payload: &[u8]| {
            sender.packetize(payload, 960, &mut packet);
            server.send_to(&packet, to).expect("send");
        };
        let mut true_delays = Vec::new();
        for _ in 0..5 {
            // A few more than the onset needs: the first after a burst decodes to its tail.
            for _ in 0..QUIET_BEFORE_ONSET + 3 {
                send(quiet);
            }
            std::thread::sleep(Duration::from_millis(10)); // the quiet ones are read
            let burst = Instant::now();
            thread.send(ProbeEvent::BurstSent(burst));
            std::thread::sleep(Duration::from_millis(7));
            true_delays.push(burst.elapsed());
            send(loud);
            send(loud);
            std::thread::sleep(Duration::from_millis(30));
        }
        let totals = thread.finish();
        assert_eq!(totals.receptions[0].0, 3);
        assert_eq!(totals.receptions[0].1.rx_packets, 5 * 15);
        let measured = totals.latencies_ms;
        assert_eq!(measured.len(), 5, "{measured:?}");
        let mut late_by: Vec<f64> = measured
            .iter()
            .zip(&true_delays)
            .map(|(m, t)| m - t.as_secs_f64() * 1000.0)
            .collect();
        assert!(late_by.iter().all(|d| *d >= 0.0), "{late_by:?}");
        late_by.sort_by(f64::total_cmp);
        assert!(late_by[2] < 5.0, "median {late_by:?} ms after arrival");
    }
}
