//! H.264 decoding and encoding off the media threads. Decoding a 720p camera frame costs
//! milliseconds and encoding a 720p canvas several more, so a room doing them inline would make
//! its media thread (which also mixes audio every 20 ms) late, and could never use more than
//! one core. A small pool of codec threads runs the members' decoders and the views' encoders
//! instead: work goes to a codec by its queue and results come back by channel, with spent
//! picture buffers returned for reuse.
//!
//! Scheduling: a codec is not pinned to a thread. A codec with work waits in one ready queue,
//! and whichever codec thread is free runs its next job; a codec runs on one thread at a time,
//! so its frames stay in order, and goes to the back of the queue after each job, so threads
//! take turns between members. The threads share the work whatever the mix: pinned codecs
//! (round robin, or by weight) left the view's encoder on top of half the decoders, one thread
//! at twice the other's load. The only locks are a codec's slot and the ready queue, each held
//! for a queue operation, never while coding.
//!
//! Back-pressure: a decoder with [`MAX_DECODES_IN_FLIGHT`] frames still waiting is behind and
//! further frames are refused (the caller asks for a keyframe, since the chain is broken); an
//! encoder with [`MAX_ENCODES_IN_FLIGHT`] canvases waiting refuses the next one (the canvas
//! frame is skipped).

use super::codec::{DecoderBackend, EncoderConfig, VideoCodecError, VideoDecoder, VideoEncoder};
use super::frame::I420Frame;
use crate::metrics::Metrics;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{debug, error, info, warn};

/// Frames of one member queued or being decoded before new ones are refused.
pub const MAX_DECODES_IN_FLIGHT: usize = 4;
/// Canvases of one view queued or being encoded before new ones are refused.
pub const MAX_ENCODES_IN_FLIGHT: usize = 2;

/// What a codec thread hands back for one access unit.
pub enum DecodeOutcome {
    Picture(I420Frame),
    /// The unit completed no picture (parameter sets alone).
    NoPicture,
    Failed {
        needs_keyframe: bool,
    },
}

/// What a codec thread hands back for one canvas.
pub enum EncodeOutcome {
    /// Encoded and packetized; `captured_at` is when the canvas was composed.
    Frame {
        payloads: RtpPayloads,
        keyframe: bool,
        captured_at: Instant,
    },
    /// The encoder's rate control skipped the frame.
    Skipped,
    Failed(VideoCodecError),
}

struct EncodeJob {
    canvas: I420Frame,
    force_keyframe: bool,
    captured_at: Instant,
}

/// What a codec is asked to do, in order.
enum Job {
    Decode(Vec<u8>),
    Encode(Box<EncodeJob>),
    /// The owner is gone: the codec is dropped (on a codec thread, like all its work).
    Close,
    /// Panics while serving the codec, as a bug in a codec would.
    #[cfg(test)]
    PanicForTest,
    /// Keeps a codec thread busy with this codec until the sender is dropped.
    #[cfg(test)]
    HoldForTest(Receiver<()>),
}

/// How often the codec threads log what their work cost.
const STATS_INTERVAL: Duration = Duration::from_secs(10);

/// Which of [`CodecCpu`]'s sums a job's time goes to.
#[derive(Debug, Clone, Copy)]
enum Work {
    Decode,
    Encode,
}

/// CPU time the codec threads spent decoding and encoding (thread CPU clock, so a busy machine
/// does not inflate it), summed over a logging window. The load benchmark divides the server's
/// CPU by these costs: the video overhead ratio, measured in the same process and run.
struct CodecCpu {
    metrics: Arc<Metrics>,
    decode_ns: AtomicU64,
    decodes: AtomicU64,
    encode_ns: AtomicU64,
    encodes: AtomicU64,
    /// Decoders built so far (each on its member's first frame).
    decoders_built: AtomicU64,
    started: Instant,
    /// Milliseconds since `started` of the last log line.
    last_log_ms: AtomicU64,
}

impl CodecCpu {
    fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            decode_ns: AtomicU64::new(0),
            decodes: AtomicU64::new(0),
            encode_ns: AtomicU64::new(0),
            encodes: AtomicU64::new(0),
            decoders_built: AtomicU64::new(0),
            started: Instant::now(),
            last_log_ms: AtomicU64::new(0),
        }
    }

    /// Runs `job`, adding its thread CPU time to `work`'s sums and histogram.
    fn timed(&self, work: Work, job: impl FnOnce() -> bool) -> bool {
        let started = thread_cpu_ns();
        let listening = job();
        let spent = thread_cpu_ns().saturating_sub(started);
        let (ns, count, histogram) = match work {
            Work::Decode => (&self.decode_ns, &self.decodes, &self.metrics.video_decode),
            Work::Encode => (&self.encode_ns, &self.encodes, &self.metrics.video_encode),
        };
        ns.fetch_add(spent, Ordering::Relaxed);
        count.fetch_add(1, Ordering::Relaxed);
        Metrics::observe(histogram, Duration::from_nanos(spent));
        self.maybe_log();
        listening
    }

    /// One thread per window (whoever wins the exchange) logs and resets the sums.
    fn maybe_log(&self) {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let last = self.last_log_ms.load(Ordering::Relaxed);
        if now_ms < last + STATS_INTERVAL.as_millis() as u64
            || self
                .last_log_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mean_us = |ns: &AtomicU64, count: &AtomicU64| {
            let (ns, n) = (
                ns.swap(0, Ordering::Relaxed),
                count.swap(0, Ordering::Relaxed),
            );
            (
                n,
                if n > 0 {
                    ns as f64 / n as f64 / 1000.0
                } else {
                    0.0
                },
            )
        };
        let (decodes, decode_us) = mean_us(&self.decode_ns, &self.decodes);
        let (encodes, encode_us) = mean_us(&self.encode_ns, &self.encodes);
        info!(
            decodes,
            decode_us_mean = decode_us as u64,
            encodes,
            encode_us_mean = encode_us as u64,
            "video codec stats"
        );
    }
}

/// CPU time consumed by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    // Elsewhere (or if the clock is missing): wall time since first use.
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Locks `mutex`, also after a panic elsewhere (codec work runs outside every lock, so a
/// poisoned lock holds consistent data).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One codec and the jobs waiting for it.
struct Slot {
    state: Mutex<SlotState>,
}

struct SlotState {
    jobs: VecDeque<Job>,
    /// Out of the slot while a thread runs its job; `None` for good once closed.
    codec: Option<Codec>,
    /// In the ready queue or running: no second thread may take it (its jobs stay in order).
    scheduled: bool,
}

/// The codecs that have work, in the order they got it; every codec thread takes from here.
struct ReadyQueue {
    state: Mutex<ReadyState>,
    wake: Condvar,
}

struct ReadyState {
    slots: VecDeque<Arc<Slot>>,
    stopping: bool,
}

impl ReadyQueue {
    /// Queues `job` for `slot`, making the slot ready unless it already is; `false` when the
    /// pool is stopping.
    fn push_job(&self, slot: &Arc<Slot>, job: Job) -> bool {
        let mut state = lock(&slot.state);
        state.jobs.push_back(job);
        if state.scheduled {
            return !lock(&self.state).stopping;
        }
        state.scheduled = true;
        drop(state);
        self.push_ready(slot.clone())
    }

    fn push_ready(&self, slot: Arc<Slot>) -> bool {
        let mut ready = lock(&self.state);
        if ready.stopping {
            return false;
        }
        ready.slots.push_back(slot);
        drop(ready);
        self.wake.notify_one();
        true
    }

    /// The next ready codec, waiting for one; `None` once the pool stops.
    fn next(&self) -> Option<Arc<Slot>> {
        let mut ready = lock(&self.state);
        loop {
            if ready.stopping {
                return None;
            }
            if let Some(slot) = ready.slots.pop_front() {
                return Some(slot);
            }
            ready = self
                .wake
                .wait(ready)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn stop(&self) {
        lock(&self.state).stopping = true;
        self.wake.notify_all();
    }
}

/// The codec threads; dropping the pool stops and joins them (handles then fail quietly).
pub struct VideoCodecPool {
    ready: Arc<ReadyQueue>,
    handles: Vec<JoinHandle<()>>,
    cpu: Arc<CodecCpu>,
    decoder: DecoderBackend,
}

impl VideoCodecPool {
    /// Starts `threads` codec threads (at least one) decoding with `decoder`, reporting
    /// codec times to `metrics`.
    pub fn start(
        threads: usize,
        decoder: DecoderBackend,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Arc<Self>> {
        let cpu = Arc::new(CodecCpu::new(metrics));
        let ready = Arc::new(ReadyQueue {
            state: Mutex::new(ReadyState {
                slots: VecDeque::new(),
                stopping: false,
            }),
            wake: Condvar::new(),
        });
        let mut pool = Self {
            ready: ready.clone(),
            handles: Vec::new(),
            cpu: cpu.clone(),
            decoder,
        };
        for index in 0..threads.max(1) {
            let (ready, cpu) = (ready.clone(), cpu.clone());
            let handle = std::thread::Builder::new()
                .name(format!("tessera-video-{index}"))
                .spawn(move || {
                    lower_priority();
                    run(&ready, &cpu)
                })?;
            pool.handles.push(handle);
        }
        info!(threads = pool.handles.len(), decoder = ?decoder, "video codec threads started");
        Ok(Arc::new(pool))
    }

    pub fn threads(&self) -> usize {
        self.handles.len()
    }

    /// Decoders built so far: one per member that sent video, not per member.
    pub fn decoders_built(&self) -> u64 {
        self.cpu.decoders_built.load(Ordering::Relaxed)
    }

    /// A member's decoder and its handle. The decoder is built on a codec thread on the
    /// member's first frame: a call that never sends video (a watcher, or a spoofed call)
    /// costs no decoder, and the SIP core never waits for one.
    pub fn open_decoder(&self) -> Result<PooledDecoder, VideoCodecError> {
        let (results_tx, results) = mpsc::channel();
        let (recycle, recycled) = mpsc::channel();
        let codec = Codec::Decoder(OpenDecoder {
            decoder: None,
            backend: self.decoder,
            results: results_tx,
            recycled,
        });
        Ok(PooledDecoder {
            link: self.link(codec, results, MAX_DECODES_IN_FLIGHT)?,
            recycle,
        })
    }

    /// An encoder for `config` (built on a codec thread with its first canvas, off the
    /// caller's thread; a refused configuration shows up as [`EncodeOutcome::Failed`]).
    pub fn open_encoder(&self, config: EncoderConfig) -> Result<PooledEncoder, VideoCodecError> {
        let (results_tx, results) = mpsc::channel();
        let (canvases_back_tx, canvases_back) = mpsc::channel();
        let (payloads_back, payloads_back_rx) = mpsc::channel();
        let codec = Codec::Encoder(Box::new(OpenEncoder {
            encoder: Ok(None),
            config,
            packetizer: packetizer_for(&config),
            encoded: Vec::with_capacity(64 * 1024),
            results: results_tx,
            canvases_back: canvases_back_tx,
            payloads_back: payloads_back_rx,
        }));
        Ok(PooledEncoder {
            link: self.link(codec, results, MAX_ENCODES_IN_FLIGHT)?,
            canvases_back,
            payloads_back,
        })
    }

    fn link<R>(
        &self,
        codec: Codec,
        results: Receiver<R>,
        max_in_flight: usize,
    ) -> Result<CodecLink<R>, VideoCodecError> {
        if lock(&self.ready.state).stopping {
            return Err(gone());
        }
        let slot = Arc::new(Slot {
            state: Mutex::new(SlotState {
                jobs: VecDeque::new(),
                codec: Some(codec),
                scheduled: false,
            }),
        });
        Ok(CodecLink {
            slot,
            ready: self.ready.clone(),
            results,
            in_flight: 0,
            max_in_flight,
        })
    }
}

/// Codec threads yield to the media threads when the cores are busy: a late canvas frame is
/// harmless, a late audio tick is heard. On Linux a nice value is per thread.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority takes plain integers and only changes this thread's nice value.
        let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, CODEC_THREAD_NICE) };
        if result != 0 {
            debug!("could not lower the video codec thread's priority");
        }
    }
}

/// Nice value of the codec threads (the media threads keep the process default).
#[cfg(target_os = "linux")]
const CODEC_THREAD_NICE: libc::c_int = 5;

fn gone() -> VideoCodecError {
    VideoCodecError::DecoderInit("video codec thread is gone".into())
}

impl Drop for VideoCodecPool {
    fn drop(&mut self) {
        self.ready.stop();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// The media thread's end of one codec: its slot (where its jobs wait for a codec thread),
/// its results, and how many jobs are still in flight (bounded, so a slow codec sheds work
/// instead of queueing it). Dropping it closes the codec.
struct CodecLink<R> {
    slot: Arc<Slot>,
    ready: Arc<ReadyQueue>,
    results: Receiver<R>,
    in_flight: usize,
    max_in_flight: usize,
}

impl<R> CodecLink<R> {
    /// Whether another job may be queued (checked before preparing one).
    fn has_room(&self) -> bool {
        self.in_flight < self.max_in_flight
    }

    /// Queues `job`; `false` when too many are in flight or the pool is stopping.
    fn submit(&mut self, job: Job) -> bool {
        if !self.has_room() || !self.ready.push_job(&self.slot, job) {
            return false;
        }
        self.in_flight += 1;
        true
    }

    fn poll(&mut self) -> Option<R> {
        let outcome = self.results.try_recv().ok()?;
        self.in_flight = self.in_flight.saturating_sub(1);
        Some(outcome)
    }
}

impl<R> Drop for CodecLink<R> {
    fn drop(&mut self) {
        self.ready.push_job(&self.slot, Job::Close);
    }
}

/// One member's decoder living on a codec thread.
pub struct PooledDecoder {
    link: CodecLink<DecodeOutcome>,
    recycle: Sender<I420Frame>,
}

impl PooledDecoder {
    /// Makes the codec thread panic while serving this decoder.
    #[cfg(test)]
    fn panic_for_test(&mut self) -> bool {
        self.link.submit(Job::PanicForTest)
    }

    /// Queues one access unit. `false` when the member is too far behind (the unit was
    /// dropped) or the thread is gone.
    pub fn submit(&mut self, annex_b: &[u8]) -> bool {
        if !self.link.has_room() {
            return false;
        }
        self.link.submit(Job::Decode(annex_b.to_vec()))
    }

    /// The next finished outcome, if any.
    pub fn poll(&mut self) -> Option<DecodeOutcome> {
        self.link.poll()
    }

    /// Gives a spent picture buffer back to the codec thread.
    pub fn recycle(&self, frame: I420Frame) {
        let _ = self.recycle.send(frame);
    }
}

/// One view's encoder and packetizer living on a codec thread.
pub struct PooledEncoder {
    link: CodecLink<EncodeOutcome>,
    canvases_back: Receiver<I420Frame>,
    payloads_back: Sender<RtpPayloads>,
}

impl PooledEncoder {
    /// Makes the codec thread panic while serving this encoder.
    #[cfg(test)]
    fn panic_for_test(&mut self) -> bool {
        self.link.submit(Job::PanicForTest)
    }

    /// Copies `canvas` into a spare buffer and queues it. `false` when the encoder is behind
    /// (the frame is skipped) or the thread is gone.
    pub fn submit(
        &mut self,
        canvas: &I420Frame,
        force_keyframe: bool,
        captured_at: Instant,
    ) -> bool {
        if !self.link.has_room() {
            return false;
        }
        let mut copy = self.canvases_back.try_recv().unwrap_or_default();
        copy.copy_from(canvas);
        self.link.submit(Job::Encode(Box::new(EncodeJob {
            canvas: copy,
            force_keyframe,
            captured_at,
        })))
    }

    /// The next finished outcome, if any.
    pub fn poll(&mut self) -> Option<EncodeOutcome> {
        self.link.poll()
    }

    /// Gives a sent frame's payload buffers back to the codec thread.
    pub fn recycle(&self, payloads: RtpPayloads) {
        let _ = self.payloads_back.send(payloads);
    }
}

/// The packetizer that fits what `config` encodes: single NAL units when the encoder keeps
/// every NAL under a size limit (a view for packetization-mode=0 watchers), else the default
/// (STAP-A for parameter sets, FU-A for large slices).
pub fn packetizer_for(config: &EncoderConfig) -> H264Packetizer {
    if config.max_nal_bytes.is_some() {
        H264Packetizer::single_nal_units()
    } else {
        H264Packetizer::default()
    }
}

struct OpenDecoder {
    /// Built on the first frame.
    decoder: Option<Box<VideoDecoder>>,
    backend: DecoderBackend,
    results: Sender<DecodeOutcome>,
    recycled: Receiver<I420Frame>,
}

struct OpenEncoder {
    /// Built on the first frame, so that construction never runs on the caller's thread.
    encoder: Result<Option<VideoEncoder>, ()>,
    config: EncoderConfig,
    packetizer: H264Packetizer,
    encoded: Vec<u8>,
    results: Sender<EncodeOutcome>,
    canvases_back: Sender<I420Frame>,
    payloads_back: Receiver<RtpPayloads>,
}

enum Codec {
    Decoder(OpenDecoder),
    Encoder(Box<OpenEncoder>),
}

/// A codec thread: runs ready codecs' jobs, one job at a time, until the pool stops it.
fn run(ready: &ReadyQueue, cpu: &CodecCpu) {
    while let Some(slot) = ready.next() {
        let (job, codec) = {
            let mut state = lock(&slot.state);
            (state.jobs.pop_front(), state.codec.take())
        };
        let kept = match (job, codec) {
            (Some(job), Some(mut codec)) => serve(&mut codec, job, cpu).then_some(codec),
            _ => None,
        };
        let mut state = lock(&slot.state);
        let closed = kept.is_none();
        state.codec = kept;
        if closed {
            state.jobs.clear();
        }
        if state.jobs.is_empty() {
            state.scheduled = false;
        } else {
            // Behind the other ready codecs: the threads take turns between members.
            drop(state);
            ready.push_ready(slot);
        }
    }
}

/// Runs one job on `codec`; `false` (closed, or nobody listens any more) drops the codec. A
/// panic in the job is contained to that codec: it is rebuilt and its owner told, and the
/// thread goes on serving the other members and views.
fn serve(codec: &mut Codec, job: Job, cpu: &CodecCpu) -> bool {
    let run = || match (job, &mut *codec) {
        (Job::Close, _) => false,
        (Job::Decode(annex_b), Codec::Decoder(open)) => {
            cpu.timed(Work::Decode, || decode(open, &annex_b, cpu))
        }
        (Job::Encode(job), Codec::Encoder(open)) => cpu.timed(Work::Encode, || encode(open, *job)),
        (Job::Decode(_) | Job::Encode(_), _) => true,
        #[cfg(test)]
        (Job::PanicForTest, _) => panic!("a codec panicked (test)"),
        #[cfg(test)]
        (Job::HoldForTest(release), _) => {
            let _ = release.recv();
            true
        }
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(listening) => listening,
        Err(_) => rebuild(codec, &cpu.metrics),
    }
}

/// After a panic: a decoder starts afresh and its member is asked for a keyframe (its
/// reference pictures are gone); an encoder is rebuilt on the next canvas, whose first frame
/// is then an IDR for every watcher. Both are built again on their next frame. False when
/// the owner is gone.
fn rebuild(codec: &mut Codec, metrics: &Metrics) -> bool {
    match codec {
        Codec::Decoder(open) => {
            metrics.fault("video_decoder");
            error!("video decoder panicked; starting a new one and asking for a keyframe");
            open.decoder = None; // built again on the next frame
            open.results
                .send(DecodeOutcome::Failed {
                    needs_keyframe: true,
                })
                .is_ok()
        }
        Codec::Encoder(open) => {
            metrics.fault("video_encoder");
            error!("video encoder panicked; a new one starts with a keyframe");
            open.encoder = Ok(None);
            open.packetizer = packetizer_for(&open.config);
            open.results
                .send(EncodeOutcome::Failed(VideoCodecError::Encoder(
                    "the encoder panicked and was rebuilt".into(),
                )))
                .is_ok()
        }
    }
}

/// Decodes one unit (building the decoder on the first); false when nobody listens any more.
fn decode(open: &mut OpenDecoder, annex_b: &[u8], cpu: &CodecCpu) -> bool {
    if open.decoder.is_none() {
        match VideoDecoder::with_backend(open.backend) {
            Ok(decoder) => {
                cpu.decoders_built.fetch_add(1, Ordering::Relaxed);
                open.decoder = Some(Box::new(decoder));
            }
            Err(e) => {
                warn!(error = %e, "cannot create a video decoder");
                let failed = DecodeOutcome::Failed {
                    needs_keyframe: false,
                };
                return open.results.send(failed).is_ok();
            }
        }
    }
    let Some(decoder) = open.decoder.as_mut() else {
        return true;
    };
    let mut picture = open.recycled.try_recv().unwrap_or_default();
    let outcome = match decoder.decode_into(annex_b, &mut picture) {
        Ok(true) => DecodeOutcome::Picture(picture),
        Ok(false) => DecodeOutcome::NoPicture,
        Err(e) => {
            debug!(error = %e, "video decode failed");
            DecodeOutcome::Failed {
                needs_keyframe: e.needs_keyframe(),
            }
        }
    };
    open.results.send(outcome).is_ok()
}

/// Encodes and packetizes one canvas; false when nobody listens any more.
fn encode(open: &mut OpenEncoder, job: EncodeJob) -> bool {
    let outcome = encode_outcome(open, &job);
    let _ = open.canvases_back.send(job.canvas);
    open.results.send(outcome).is_ok()
}

fn encode_outcome(open: &mut OpenEncoder, job: &EncodeJob) -> EncodeOutcome {
    if let Ok(None) = open.encoder {
        open.encoder = match VideoEncoder::new(open.config) {
            Ok(encoder) => Ok(Some(encoder)),
            Err(e) => {
                warn!(error = %e, "cannot create video encoder");
                open.encoder = Err(());
                return EncodeOutcome::Failed(e);
            }
        };
    }
    let Ok(Some(encoder)) = open.encoder.as_mut() else {
        return EncodeOutcome::Failed(VideoCodecError::InvalidConfig(
            "the encoder could not be created".into(),
        ));
    };
    let frame = match encoder.encode(&job.canvas, job.force_keyframe, &mut open.encoded) {
        Ok(frame) => frame,
        Err(e) => return EncodeOutcome::Failed(e),
    };
    if frame.bytes == 0 {
        return EncodeOutcome::Skipped;
    }
    let mut payloads = open.payloads_back.try_recv().unwrap_or_default();
    payloads.clear();
    // A packetizer error means the encoder produced an invalid NAL: skip this frame.
    match open
        .packetizer
        .packetize_annex_b(&open.encoded, &mut payloads)
    {
        Ok(Some(_)) => EncodeOutcome::Frame {
            payloads,
            keyframe: frame.keyframe,
            captured_at: job.captured_at,
        },
        _ => EncodeOutcome::Skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::video::test_pattern::pattern_frame;
    use std::time::Duration;

    fn wait<T>(mut poll: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = poll() {
                return v;
            }
            assert!(Instant::now() < deadline, "codec thread did not answer");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn small_config() -> EncoderConfig {
        EncoderConfig {
            width: 160,
            height: 96,
            fps: 30.0,
            bitrate_bps: 300_000,
            max_keyframe_interval: None,
            max_nal_bytes: None,
        }
    }

    /// Encodes pattern frame `t` on the pool; answers its payloads and whether it is a keyframe.
    fn encode_one(encoder: &mut PooledEncoder, t: u32, force: bool) -> (RtpPayloads, bool) {
        let captured = Instant::now();
        assert!(encoder.submit(&pattern_frame(160, 96, t), force, captured));
        let EncodeOutcome::Frame {
            payloads,
            keyframe,
            captured_at,
        } = wait(|| encoder.poll())
        else {
            panic!("frame {t} not encoded");
        };
        assert_eq!(captured_at, captured);
        (payloads, keyframe)
    }

    /// Reassembles the access unit from the FU-A/STAP-A payloads and decodes it on the pool.
    fn decode_one(decoder: &mut PooledDecoder, payloads: &RtpPayloads) -> DecodeOutcome {
        let mut depacketizer = crate::rtp::h264::H264Depacketizer::new();
        let mut unit = None;
        for (i, (payload, marker)) in payloads.iter_with_marker().enumerate() {
            unit = unit.or(depacketizer
                .push(i as u16, 0, marker, payload)
                .ok()
                .flatten());
        }
        let unit = unit.expect("complete access unit");
        assert!(decoder.submit(unit.annex_b()));
        wait(|| decoder.poll())
    }

    #[test]
    fn frames_round_trip_through_pooled_encoder_and_decoder() {
        let pool =
            VideoCodecPool::start(2, DecoderBackend::default(), Default::default()).expect("pool");
        let mut encoder = pool.open_encoder(small_config()).expect("encoder");
        let mut decoder = pool.open_decoder().expect("pooled decoder");
        let mut pictures = 0;
        for t in 0..5 {
            let (payloads, keyframe) = encode_one(&mut encoder, t, t == 0);
            assert_eq!(keyframe, t == 0);
            if let DecodeOutcome::Picture(p) = decode_one(&mut decoder, &payloads) {
                assert_eq!((p.width, p.height), (160, 96));
                decoder.recycle(p);
                pictures += 1;
            }
            encoder.recycle(payloads);
        }
        assert_eq!(pictures, 5);
        drop((encoder, decoder));
        drop(pool); // joins the threads
    }

    #[test]
    fn a_decoder_is_built_on_its_members_first_frame_only() {
        let pool =
            VideoCodecPool::start(1, DecoderBackend::default(), Default::default()).expect("pool");
        let mut encoder = pool.open_encoder(small_config()).expect("encoder");
        let mut watchers: Vec<_> = (0..10)
            .map(|_| pool.open_decoder().expect("decoder"))
            .collect();
        let mut sender = pool.open_decoder().expect("decoder");
        let (payloads, _) = encode_one(&mut encoder, 0, true);
        assert!(matches!(
            decode_one(&mut sender, &payloads),
            DecodeOutcome::Picture(_)
        ));
        assert_eq!(
            pool.decoders_built(),
            1,
            "ten members that sent nothing cost none"
        );
        // Once built, a decoder is reused for the member's later frames.
        let (payloads, _) = encode_one(&mut encoder, 1, false);
        assert!(matches!(
            decode_one(&mut sender, &payloads),
            DecodeOutcome::Picture(_)
        ));
        assert!(matches!(
            decode_one(&mut watchers[0], &payloads),
            DecodeOutcome::Failed { .. } | DecodeOutcome::NoPicture
        ));
        assert_eq!(pool.decoders_built(), 2);
    }

    #[test]
    fn a_codec_busy_on_one_thread_holds_up_no_other_codec() {
        let pool =
            VideoCodecPool::start(2, DecoderBackend::default(), Default::default()).expect("pool");
        let mut encoder = pool.open_encoder(small_config()).expect("encoder");
        let (payloads, _) = encode_one(&mut encoder, 0, true);
        // One codec keeps a thread; every other codec's work is done by the other one (a
        // pinned codec on the held thread would wait, and the test time out).
        let mut busy = pool.open_decoder().expect("decoder");
        let (release, held) = mpsc::channel();
        assert!(busy.link.submit(Job::HoldForTest(held)));
        let mut senders: Vec<_> = (0..6)
            .map(|_| pool.open_decoder().expect("decoder"))
            .collect();
        for round in 0..3 {
            for sender in &mut senders {
                assert!(
                    matches!(decode_one(sender, &payloads), DecodeOutcome::Picture(_)),
                    "round {round}"
                );
            }
            let (next, _) = encode_one(&mut encoder, round + 1, true);
            assert!(!next.is_empty());
        }
        drop(release);
        assert!(matches!(
            decode_one(&mut busy, &payloads),
            DecodeOutcome::Picture(_)
        ));
    }

    #[test]
    fn a_codec_that_panics_is_rebuilt_and_its_thread_serves_on() {
        let metrics = Arc::new(Metrics::new());
        let pool =
            VideoCodecPool::start(1, DecoderBackend::default(), metrics.clone()).expect("pool");
        let mut encoder = pool.open_encoder(small_config()).expect("encoder");
        let mut decoder = pool.open_decoder().expect("pooled decoder");
        for t in 0..2 {
            let (payloads, _) = encode_one(&mut encoder, t, t == 0);
            assert!(matches!(
                decode_one(&mut decoder, &payloads),
                DecodeOutcome::Picture(_)
            ));
        }
        // Both codecs live on the one thread: each panic must leave it serving.
        assert!(decoder.panic_for_test());
        assert!(
            matches!(
                wait(|| decoder.poll()),
                DecodeOutcome::Failed {
                    needs_keyframe: true
                }
            ),
            "the member is asked for a keyframe"
        );
        assert!(encoder.panic_for_test());
        assert!(matches!(wait(|| encoder.poll()), EncodeOutcome::Failed(_)));
        // The new encoder's first frame is an IDR though none was asked for, and the new
        // decoder decodes it: both carry on.
        let (payloads, keyframe) = encode_one(&mut encoder, 2, false);
        assert!(keyframe, "a rebuilt encoder starts with a keyframe");
        assert!(matches!(
            decode_one(&mut decoder, &payloads),
            DecodeOutcome::Picture(_)
        ));
        let (payloads, keyframe) = encode_one(&mut encoder, 3, false);
        assert!(!keyframe);
        assert!(matches!(
            decode_one(&mut decoder, &payloads),
            DecodeOutcome::Picture(_)
        ));
        let text = metrics.encode();
        for kind in ["video_decoder", "video_encoder"] {
            assert!(
                text.contains(&format!("tessera_faults_total{{kind=\"{kind}\"}} 1")),
                "{kind} counted: {text}"
            );
        }
    }

    #[test]
    fn a_backlogged_decoder_refuses_more_frames() {
        let pool =
            VideoCodecPool::start(1, DecoderBackend::default(), Default::default()).expect("pool");
        let mut decoder = pool.open_decoder().expect("pooled decoder");
        // Garbage units fail to decode, but each is in flight until polled.
        for _ in 0..MAX_DECODES_IN_FLIGHT {
            assert!(decoder.submit(&[0, 0, 0, 1, 0x65, 1, 2, 3]));
        }
        assert!(!decoder.submit(&[0, 0, 0, 1, 0x65, 1, 2, 3]));
        for _ in 0..MAX_DECODES_IN_FLIGHT {
            wait(|| decoder.poll());
        }
        assert!(decoder.submit(&[0, 0, 0, 1, 0x65, 1, 2, 3]));
    }
}
