//! The room registry: which rooms exist, which media thread owns each, and who is in them.
//! Owned by the signalling task; rooms are created on first join and destroyed when their
//! last member leaves.

use super::canvas::CanvasConfig;
use super::canvas_control::CanvasChange;
use super::member::{MediaUpdate, MemberId, MemberSetup};
use super::member_control::MemberControl;
use super::room::{RoomId, RoomSnapshot, SharedEncoders};
use super::worker::{MediaPool, RoomCommand};
use crate::media::video::frame::I420Frame;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::oneshot;

/// Longest room id; ids are `[A-Za-z0-9_.-]{1,64}`.
pub const MAX_ROOM_ID_LEN: usize = 64;

/// Whether `id` is an acceptable room number/name.
pub fn is_valid_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

struct RoomEntry {
    thread: usize,
    members: BTreeSet<MemberId>,
}

/// Rooms and their placement on media threads.
pub struct RoomRegistry {
    pool: MediaPool,
    rooms: HashMap<RoomId, RoomEntry>,
}

impl RoomRegistry {
    pub fn new(pool: MediaPool) -> Self {
        Self {
            pool,
            rooms: HashMap::new(),
        }
    }

    /// Whether `room`'s media is running (it has members).
    pub fn contains(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn pool(&self) -> &MediaPool {
        &self.pool
    }

    /// Puts a member into `room`, creating the room on the least-loaded thread if needed.
    /// `make_shared` builds the room's shared encoders (only called when the room is new).
    pub fn join<E>(
        &mut self,
        room: &str,
        setup: MemberSetup,
        canvases: &[CanvasConfig],
        make_shared: impl FnOnce() -> Result<SharedEncoders, E>,
    ) -> Result<(), E> {
        let member = setup.id;
        if !self.rooms.contains_key(room) {
            let shared = make_shared()?;
            let thread = self.least_loaded_thread();
            self.pool.send(
                thread,
                RoomCommand::CreateRoom {
                    room: room.to_string(),
                    canvases: canvases.to_vec(),
                    shared: Box::new(shared),
                },
            );
            self.rooms.insert(
                room.to_string(),
                RoomEntry {
                    thread,
                    members: BTreeSet::new(),
                },
            );
        }
        if let Some(entry) = self.rooms.get_mut(room) {
            entry.members.insert(member);
            self.pool.send(
                entry.thread,
                RoomCommand::AddMember {
                    room: room.to_string(),
                    setup: Box::new(setup),
                },
            );
        }
        Ok(())
    }

    /// Applies a re-negotiation to a member.
    pub fn update(&self, room: &str, member: MemberId, update: MediaUpdate) {
        if let Some(entry) = self.rooms.get(room) {
            self.pool.send(
                entry.thread,
                RoomCommand::UpdateMember {
                    room: room.to_string(),
                    member,
                    update,
                },
            );
        }
    }

    /// Applies operator controls to a member of `room`.
    pub fn control(&self, room: &str, member: MemberId, change: MemberControl) {
        if let Some(entry) = self.rooms.get(room) {
            self.pool.send(
                entry.thread,
                RoomCommand::ControlMember {
                    room: room.to_string(),
                    member,
                    change,
                },
            );
        }
    }

    /// Applies an operator's change to the canvases of `room`.
    pub fn change_canvases(&self, room: &str, change: CanvasChange) {
        if let Some(entry) = self.rooms.get(room) {
            self.pool.send(
                entry.thread,
                RoomCommand::ChangeCanvases {
                    room: room.to_string(),
                    change,
                },
            );
        }
    }

    /// Asks the owning thread to compose canvas `canvas` now.
    pub fn canvas_picture(
        &self,
        room: &str,
        canvas: usize,
    ) -> Option<oneshot::Receiver<Option<I420Frame>>> {
        let entry = self.rooms.get(room)?;
        let (tx, rx) = oneshot::channel();
        self.pool.send(
            entry.thread,
            RoomCommand::CanvasPicture {
                room: room.to_string(),
                canvas,
                reply: tx,
            },
        );
        Some(rx)
    }

    /// Forgets a room whose media thread dropped it (it failed): the next caller creates it
    /// anew instead of joining a room that no longer runs.
    pub fn forget(&mut self, room: &str) {
        self.rooms.remove(room);
    }

    /// Members of `room` (0 when its media is not running).
    pub fn member_count(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |e| e.members.len())
    }

    /// Removes a member; destroys the room when it was the last one.
    pub fn leave(&mut self, room: &str, member: MemberId) {
        let Some(entry) = self.rooms.get_mut(room) else {
            return;
        };
        entry.members.remove(&member);
        let thread = entry.thread;
        self.pool.send(
            thread,
            RoomCommand::RemoveMember {
                room: room.to_string(),
                member,
            },
        );
        if entry.members.is_empty() {
            self.rooms.remove(room);
            self.pool.send(
                thread,
                RoomCommand::DestroyRoom {
                    room: room.to_string(),
                },
            );
        }
    }

    /// Asks the owning thread for a snapshot (answered between ticks).
    pub fn snapshot(&self, room: &str) -> Option<oneshot::Receiver<Option<RoomSnapshot>>> {
        let entry = self.rooms.get(room)?;
        let (tx, rx) = oneshot::channel();
        self.pool.send(
            entry.thread,
            RoomCommand::Snapshot {
                room: room.to_string(),
                reply: tx,
            },
        );
        Some(rx)
    }

    /// Room ids currently alive.
    pub fn room_ids(&self) -> Vec<RoomId> {
        self.rooms.keys().cloned().collect()
    }

    fn least_loaded_thread(&self) -> usize {
        let mut load = vec![0usize; self.pool.threads()];
        for e in self.rooms.values() {
            load[e.thread] += e.members.len().max(1);
        }
        load.iter()
            .enumerate()
            .min_by_key(|(_, l)| **l)
            .map(|(i, _)| i)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_id_rules() {
        assert!(is_valid_room_id("3000"));
        assert!(is_valid_room_id("team.standup-2_b"));
        assert!(!is_valid_room_id(""));
        assert!(!is_valid_room_id("a b"));
        assert!(!is_valid_room_id("room%20"));
        assert!(!is_valid_room_id(&"x".repeat(65)));
        assert!(is_valid_room_id(&"x".repeat(64)));
    }
}
