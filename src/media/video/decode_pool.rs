//! Video decoding off the media threads. Decoding a 720p camera frame costs milliseconds, so a
//! room with several senders would make its media thread (which also mixes audio every 20 ms)
//! late and could never use more than one core. A small pool of decode threads owns the
//! members' decoders instead: each member is pinned to one thread (its frames stay in order),
//! access units go there by channel and decoded pictures come back by channel, with the spent
//! picture buffers returned for reuse. Nothing is shared or locked: buffers change owner.
//!
//! Back-pressure: a member with [`MAX_IN_FLIGHT`] frames still waiting is behind; further
//! frames are dropped (and a keyframe requested, since the chain is broken) until it catches up.

use super::codec::{VideoCodecError, VideoDecoder};
use super::frame::I420Frame;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use tracing::{debug, info, warn};

/// Frames of one member queued or being decoded before new ones are dropped.
pub const MAX_IN_FLIGHT: usize = 4;

/// What a decode thread hands back for one access unit.
pub enum DecodeOutcome {
    Picture(I420Frame),
    /// The unit completed no picture (parameter sets alone).
    NoPicture,
    Failed {
        needs_keyframe: bool,
    },
}

enum Job {
    Open {
        key: u64,
        decoder: Box<VideoDecoder>,
        results: Sender<DecodeOutcome>,
        recycled: Receiver<I420Frame>,
    },
    Decode {
        key: u64,
        annex_b: Vec<u8>,
    },
    Close {
        key: u64,
    },
    /// Ends the thread (the pool is being dropped).
    Stop,
}

/// The decode threads; dropping the pool stops and joins them (members' handles then fail
/// quietly: their frames are no longer decoded).
pub struct VideoDecodePool {
    jobs: Vec<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
    next_key: AtomicU64,
}

impl VideoDecodePool {
    /// Starts `threads` decode threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Arc<Self>> {
        let mut pool = Self {
            jobs: Vec::new(),
            handles: Vec::new(),
            next_key: AtomicU64::new(0),
        };
        for index in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let handle = std::thread::Builder::new()
                .name(format!("tessera-vdec-{index}"))
                .spawn(move || run(rx))?;
            pool.jobs.push(tx);
            pool.handles.push(handle);
        }
        info!(threads = pool.jobs.len(), "video decode threads started");
        Ok(Arc::new(pool))
    }

    pub fn threads(&self) -> usize {
        self.jobs.len()
    }

    /// Moves `decoder` to one of the threads (round robin) and returns the member's handle.
    pub fn open(&self, decoder: VideoDecoder) -> Result<PooledDecoder, VideoCodecError> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let jobs = self.jobs[(key as usize) % self.jobs.len()].clone();
        let (results_tx, results) = mpsc::channel();
        let (recycle, recycled) = mpsc::channel();
        jobs.send(Job::Open {
            key,
            decoder: Box::new(decoder),
            results: results_tx,
            recycled,
        })
        .map_err(|_| VideoCodecError::DecoderInit("video decode thread is gone".into()))?;
        Ok(PooledDecoder {
            key,
            jobs,
            results,
            recycle,
            in_flight: 0,
        })
    }
}

impl Drop for VideoDecodePool {
    fn drop(&mut self) {
        for jobs in &self.jobs {
            let _ = jobs.send(Job::Stop);
        }
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// One member's decoder living on a decode thread.
pub struct PooledDecoder {
    key: u64,
    jobs: Sender<Job>,
    results: Receiver<DecodeOutcome>,
    recycle: Sender<I420Frame>,
    in_flight: usize,
}

impl PooledDecoder {
    /// Queues one access unit. `false` when the member is too far behind (the unit was
    /// dropped) or the thread is gone.
    pub fn submit(&mut self, annex_b: &[u8]) -> bool {
        if self.in_flight >= MAX_IN_FLIGHT {
            return false;
        }
        let job = Job::Decode {
            key: self.key,
            annex_b: annex_b.to_vec(),
        };
        if self.jobs.send(job).is_err() {
            return false;
        }
        self.in_flight += 1;
        true
    }

    /// The next finished outcome, if any.
    pub fn poll(&mut self) -> Option<DecodeOutcome> {
        match self.results.try_recv() {
            Ok(outcome) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                Some(outcome)
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Gives a spent picture buffer back to the decode thread.
    pub fn recycle(&self, frame: I420Frame) {
        let _ = self.recycle.send(frame);
    }
}

impl Drop for PooledDecoder {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Close { key: self.key });
    }
}

struct OpenDecoder {
    decoder: Box<VideoDecoder>,
    results: Sender<DecodeOutcome>,
    recycled: Receiver<I420Frame>,
}

/// A decode thread: serves jobs until every sender is gone.
fn run(jobs: Receiver<Job>) {
    let mut decoders: HashMap<u64, OpenDecoder> = HashMap::new();
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Open {
                key,
                decoder,
                results,
                recycled,
            } => {
                decoders.insert(
                    key,
                    OpenDecoder {
                        decoder,
                        results,
                        recycled,
                    },
                );
            }
            Job::Close { key } => {
                decoders.remove(&key);
            }
            Job::Stop => return,
            Job::Decode { key, annex_b } => {
                let Some(open) = decoders.get_mut(&key) else {
                    continue;
                };
                let mut picture = open.recycled.try_recv().unwrap_or_default();
                let outcome = match open.decoder.decode_into(&annex_b, &mut picture) {
                    Ok(true) => DecodeOutcome::Picture(picture),
                    Ok(false) => DecodeOutcome::NoPicture,
                    Err(e) => {
                        debug!(error = %e, "video decode failed");
                        DecodeOutcome::Failed {
                            needs_keyframe: e.needs_keyframe(),
                        }
                    }
                };
                if open.results.send(outcome).is_err() {
                    warn!("video decode result had no receiver");
                    decoders.remove(&key);
                }
            }
        }
    }
}
