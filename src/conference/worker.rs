//! The media thread pool. Each thread owns whole rooms and wakes once per 20 ms for all of
//! them (not once per room or per member); a room is only ever touched by its own thread, so
//! room state needs no locks. Commands arrive over a channel and are applied between ticks.

use super::canvas::CanvasConfig;
use super::canvas_control::CanvasChange;
use super::events::{EventSink, RoomEvent};
use super::member::{MediaUpdate, MemberId, MemberSetup, TickTime};
use super::member_control::MemberControl;
use super::room::{Room, RoomId, RoomSettings, RoomSnapshot, SharedEncoders};
use super::tick_stats::TickStats;
use crate::media::video::frame::I420Frame;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

/// The audio frame period.
pub const TICK: Duration = Duration::from_millis(20);

/// What a media thread can be asked to do.
pub enum RoomCommand {
    CreateRoom {
        room: RoomId,
        /// Its canvases (in place of the server's defaults).
        canvases: Vec<CanvasConfig>,
        shared: Box<SharedEncoders>,
    },
    AddMember {
        room: RoomId,
        setup: Box<MemberSetup>,
    },
    UpdateMember {
        room: RoomId,
        member: MemberId,
        update: MediaUpdate,
    },
    RemoveMember {
        room: RoomId,
        member: MemberId,
    },
    ControlMember {
        room: RoomId,
        member: MemberId,
        change: MemberControl,
    },
    DestroyRoom {
        room: RoomId,
    },
    Snapshot {
        room: RoomId,
        reply: oneshot::Sender<Option<RoomSnapshot>>,
    },
    ChangeCanvases {
        room: RoomId,
        change: CanvasChange,
    },
    /// Composes a canvas now and sends the picture.
    CanvasPicture {
        room: RoomId,
        canvas: usize,
        reply: oneshot::Sender<Option<I420Frame>>,
    },
    /// Panics while applied, as a broken invariant in a room would (tests of fault isolation).
    #[cfg(test)]
    PanicForTest {
        room: RoomId,
    },
    Shutdown,
}

impl RoomCommand {
    /// The room a command is about.
    pub fn room(&self) -> Option<&RoomId> {
        match self {
            RoomCommand::CreateRoom { room, .. }
            | RoomCommand::AddMember { room, .. }
            | RoomCommand::UpdateMember { room, .. }
            | RoomCommand::RemoveMember { room, .. }
            | RoomCommand::ControlMember { room, .. }
            | RoomCommand::DestroyRoom { room }
            | RoomCommand::Snapshot { room, .. }
            | RoomCommand::ChangeCanvases { room, .. }
            | RoomCommand::CanvasPicture { room, .. } => Some(room),
            #[cfg(test)]
            RoomCommand::PanicForTest { room } => Some(room),
            RoomCommand::Shutdown => None,
        }
    }
}

/// Per-thread timing counters, readable from anywhere.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub ticks: AtomicU64,
    pub overruns: AtomicU64,
    /// Duration of the last tick over all rooms, in nanoseconds.
    pub last_tick_ns: AtomicU64,
}

struct Worker {
    index: usize,
    rooms: HashMap<RoomId, Room>,
    commands: mpsc::Receiver<RoomCommand>,
    settings: RoomSettings,
    events: EventSink,
    stats: Arc<WorkerStats>,
    tick_stats: TickStats,
}

/// Handles to the media threads.
pub struct MediaPool {
    senders: Vec<mpsc::Sender<RoomCommand>>,
    threads: Vec<JoinHandle<()>>,
    stats: Vec<Arc<WorkerStats>>,
}

fn tick_time() -> TickTime {
    TickTime {
        now: Instant::now(),
        since_unix_epoch: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    }
}

impl MediaPool {
    /// Starts `threads` media threads.
    pub fn start(
        threads: usize,
        settings: RoomSettings,
        events: EventSink,
    ) -> std::io::Result<Self> {
        let mut pool = Self {
            senders: Vec::new(),
            threads: Vec::new(),
            stats: Vec::new(),
        };
        for index in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let stats = Arc::new(WorkerStats::default());
            let worker = Worker {
                index,
                rooms: HashMap::new(),
                commands: rx,
                settings: settings.clone(),
                events: events.clone(),
                stats: stats.clone(),
                tick_stats: TickStats::default(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("tessera-media-{index}"))
                .spawn(move || worker.run())?;
            pool.senders.push(tx);
            pool.threads.push(handle);
            pool.stats.push(stats);
        }
        info!(threads = pool.threads.len(), "media threads started");
        Ok(pool)
    }

    pub fn threads(&self) -> usize {
        self.senders.len()
    }

    /// Sends a command to thread `index`.
    pub fn send(&self, index: usize, command: RoomCommand) {
        if let Some(tx) = self.senders.get(index) {
            if tx.send(command).is_err() {
                error!(thread = index, "media thread is gone");
            }
        }
    }

    pub fn stats(&self) -> &[Arc<WorkerStats>] {
        &self.stats
    }

    /// Stops every thread and waits for them.
    pub fn shutdown(&mut self) {
        for tx in &self.senders {
            let _ = tx.send(RoomCommand::Shutdown);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for MediaPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Worker {
    fn run(mut self) {
        let mut next_tick = Instant::now() + TICK;
        loop {
            // Apply commands until the tick is due.
            loop {
                let wait = next_tick.saturating_duration_since(Instant::now());
                match self.commands.recv_timeout(wait) {
                    Ok(RoomCommand::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                        info!(
                            thread = self.index,
                            rooms = self.rooms.len(),
                            "media thread stopping"
                        );
                        return;
                    }
                    Ok(cmd) => self.apply_guarded(cmd),
                    Err(RecvTimeoutError::Timeout) => break,
                }
            }
            let started = Instant::now();
            self.tick_rooms();
            let spent = started.elapsed();
            Metrics::observe(&self.settings.metrics.media_tick, spent);
            let summary = self.tick_stats.record(started, spent);
            if let Some(sum) = summary.filter(|_| !self.rooms.is_empty()) {
                let members: usize = self.rooms.values().map(Room::member_count).sum();
                info!(
                    thread = self.index,
                    rooms = self.rooms.len(),
                    members,
                    tick_p50_us = sum.p50.as_micros() as u64,
                    tick_p99_us = sum.p99.as_micros() as u64,
                    tick_max_us = sum.max.as_micros() as u64,
                    ticks = sum.ticks,
                    "media tick stats"
                );
            }
            self.stats.ticks.fetch_add(1, Ordering::Relaxed);
            self.stats
                .last_tick_ns
                .store(spent.as_nanos() as u64, Ordering::Relaxed);
            next_tick += TICK;
            let now = Instant::now();
            if now > next_tick + TICK * 5 {
                // We fell far behind (machine overloaded): skip ahead rather than burst.
                self.stats.overruns.fetch_add(1, Ordering::Relaxed);
                warn!(
                    thread = self.index,
                    behind_ms = (now - next_tick).as_millis() as u64,
                    "media tick overrun; skipping ahead"
                );
                next_tick = now + TICK;
            }
        }
    }

    /// Ticks every room, each at the time its turn comes: a room late in the tick times its
    /// packets' wait in the jitter buffer from when it reads them, not from the tick's start.
    /// A panic in one room is a broken invariant: that room is dropped (its members are
    /// reported so their calls end) and every other room carries on.
    fn tick_rooms(&mut self) {
        let mut failed = Vec::new();
        for (id, room) in self.rooms.iter_mut() {
            let t = tick_time();
            let ticked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| room.tick(t)));
            if ticked.is_err() {
                error!(room = %id, "room tick panicked; closing the room");
                failed.push(id.clone());
            }
        }
        for id in failed {
            self.fail_room(id);
        }
    }

    /// Applies a command; a panic while applying it fails its room alone, like one in a tick.
    fn apply_guarded(&mut self, cmd: RoomCommand) {
        let room = cmd.room().cloned();
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(cmd)));
        if applied.is_err() {
            error!(room = ?room, "room command panicked; closing the room");
            if let Some(room) = room {
                self.fail_room(room);
            }
        }
    }

    /// Drops a room whose invariants broke and reports it (with its members) to the core,
    /// which ends its calls with BYE and forgets it.
    fn fail_room(&mut self, id: RoomId) {
        self.settings.metrics.fault("room");
        let members = self
            .rooms
            .remove(&id)
            .map(|room| room.member_ids())
            .unwrap_or_default();
        self.events
            .send(RoomEvent::RoomFailed { room: id, members });
    }

    fn apply(&mut self, cmd: RoomCommand) {
        match cmd {
            RoomCommand::CreateRoom {
                room,
                canvases,
                shared,
            } => {
                let settings = RoomSettings {
                    canvases,
                    ..self.settings.clone()
                };
                let r = Room::new(room.clone(), settings, *shared, self.events.clone());
                self.rooms.insert(room, r);
            }
            RoomCommand::AddMember { room, setup } => match self.rooms.get_mut(&room) {
                Some(r) => r.add_member(*setup, tick_time()),
                None => warn!(%room, "add member to unknown room"),
            },
            RoomCommand::UpdateMember {
                room,
                member,
                update,
            } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.update_member(member, update, tick_time());
                }
            }
            RoomCommand::ControlMember {
                room,
                member,
                change,
            } => {
                let applied = self
                    .rooms
                    .get_mut(&room)
                    .is_some_and(|r| r.control_member(member, change));
                if !applied {
                    warn!(%room, member, "control for a member not in the room");
                }
            }
            RoomCommand::RemoveMember { room, member } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.remove_member(member);
                }
            }
            RoomCommand::DestroyRoom { room } => {
                self.rooms.remove(&room);
            }
            #[cfg(test)]
            RoomCommand::PanicForTest { room } => panic!("test panic in room {room}"),
            RoomCommand::Snapshot { room, reply } => {
                let _ = reply.send(self.rooms.get(&room).map(Room::snapshot));
            }
            RoomCommand::ChangeCanvases { room, change } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.change_canvases(change);
                }
            }
            RoomCommand::CanvasPicture {
                room,
                canvas,
                reply,
            } => {
                let now = Instant::now();
                let picture = self
                    .rooms
                    .get_mut(&room)
                    .and_then(|r| r.canvas_picture(canvas, now));
                let _ = reply.send(picture);
            }
            RoomCommand::Shutdown => {}
        }
    }
}
