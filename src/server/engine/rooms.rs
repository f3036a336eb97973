//! The engine's rooms as operators see them: who may enter (locked, PIN, capacity), when a
//! room begins and ends (announced as events), and reports for the control API. A room made
//! by a first dial ends with its last member; one made by the API stays until deleted.

use super::pin_entry::PinEntry;
use super::{CallEngine, Reject};
use crate::conference::registry::is_valid_room_id;
use crate::server::call::{Call, CallState};
use crate::server::control::ControlError;
use crate::server::roster::{CallInfo, MemberKind, RoomInfo, RoomPatch, RoomPolicy, RoomReport};
use crate::server::server_event::{LeaveReason, ServerEvent};
use std::time::Instant;
use subtle::ConstantTimeEq;
use tracing::info;

/// Longest PIN accepted.
const MAX_PIN_DIGITS: usize = 16;

/// Splits a dialled user part `3000*1234` into the room and the PIN.
pub(super) fn split_pin(user: &str) -> (&str, Option<&str>) {
    match user.split_once('*') {
        Some((room, pin)) => (room, Some(pin)),
        None => (user, None),
    }
}

fn pin_matches(dialled: &str, expected: &str) -> bool {
    dialled.len() == expected.len() && bool::from(dialled.as_bytes().ct_eq(expected.as_bytes()))
}

fn check_patch(patch: &RoomPatch) -> Result<(), ControlError> {
    if let Some(Some(pin)) = &patch.pin {
        if pin.is_empty() || pin.len() > MAX_PIN_DIGITS || !pin.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ControlError::Invalid(format!(
                "pin must be 1 to {MAX_PIN_DIGITS} digits"
            )));
        }
    }
    if let Some(Some(0)) = patch.max_members {
        return Err(ControlError::Invalid(
            "max_members must be at least 1".to_string(),
        ));
    }
    if let Some(canvases) = &patch.canvases {
        if canvases.is_empty() || canvases.len() > MAX_CANVASES {
            return Err(ControlError::Invalid(format!(
                "canvases: 1 to {MAX_CANVASES}"
            )));
        }
    }
    Ok(())
}

/// The most canvases a room may have.
pub const MAX_CANVASES: usize = 16;

impl CallEngine {
    /// Whether a new caller may enter `room` having dialled `pin`, checked before any port
    /// or codec is allocated; `Ok(true)`: it must enter the PIN by DTMF first.
    pub(super) fn admit(&self, room: &str, pin: Option<&str>) -> Result<bool, Reject> {
        // A PIN dialled into a room that has none is ignored.
        let Some(policy) = self.policies.get(room) else {
            return Ok(false);
        };
        if policy.locked {
            return Err(Reject::new(403, "room is locked"));
        }
        let needs_pin = match (&policy.pin, pin) {
            (Some(expected), Some(dialled)) if pin_matches(dialled, expected) => false,
            (Some(_), Some(_)) => return Err(Reject::new(403, "wrong PIN")),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if policy
            .max_members
            .is_some_and(|max| self.people_in(room) >= max)
        {
            return Err(Reject::new(486, "room is full"));
        }
        Ok(needs_pin)
    }

    /// Whether `typed` is `room`'s PIN.
    pub(super) fn pin_is(&self, room: &str, typed: &str) -> bool {
        self.policies
            .get(room)
            .and_then(|p| p.pin.as_deref())
            .is_some_and(|pin| pin_matches(typed, pin))
    }

    /// People (not cascade legs) in or entering `room`.
    fn people_in(&self, room: &str) -> usize {
        self.calls
            .values()
            .filter(|c| {
                c.room == room
                    && c.kind != MemberKind::Cascade
                    && !matches!(c.state, CallState::Terminating)
            })
            .count()
    }

    /// Records that a call's member is in its room, creating the room's record on first join.
    pub(super) fn joined(&mut self, now: Instant, cid: &str) {
        let at = self.clock.at(now);
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        call.joined = true;
        call.joined_at = Some(at);
        let room = call.room.clone();
        let leg = call.leg.clone();
        if call.awaiting_pin {
            self.pin_entries
                .insert(call.member, PinEntry::new(&room, now));
            info!(%room, member = call.member, "caller waits in the PIN lobby");
        }
        if let Some(leg) = leg {
            self.leg_up(now, &leg);
        }
        if !self.policies.contains_key(&room) {
            let policy = RoomPolicy::new(at, false, self.config.video.canvas_configs());
            self.events.push_back(ServerEvent::RoomCreated {
                room: room.clone(),
                info: policy.info(),
            });
            self.policies.insert(room.clone(), policy);
            info!(%room, "room created");
        }
        if let Some(member) = self.calls.get(cid).map(|c| self.call_info(c)) {
            info!(%room, member = member.id, name = %member.name, source = %member.source,
                  "member joined");
            self.events
                .push_back(ServerEvent::MemberJoined { room, member });
        }
    }

    /// Forgets a room that has no media left, unless the API created it.
    pub(super) fn forget_room_if_done(&mut self, room: &str) {
        // A leg still ringing keeps its room: its answer joins it (two nodes that dial each
        // other at once drop one leg, maybe the room's only member, before the other answers).
        let dialling = self
            .cascades
            .in_room(room)
            .any(|l| l.state == crate::cascade::LegState::Connecting);
        let keep = self.registry.contains(room)
            || dialling
            || self.policies.get(room).is_none_or(|p| p.persistent);
        if !keep {
            self.policies.remove(room);
            self.cascades.forget_room(room);
            self.idle_rooms.remove(room);
            self.events.push_back(ServerEvent::RoomDestroyed {
                room: room.to_string(),
            });
            info!(%room, "room destroyed");
        }
    }

    pub(super) fn call_info(&self, call: &Call) -> CallInfo {
        CallInfo {
            id: call.member,
            name: call.name.clone(),
            uri: call.uri.clone(),
            call_id: call.call_id.clone(),
            kind: call.kind,
            role: call.role,
            audio_codec: call.codec.map_or("none", |c| c.encoding_name()).to_string(),
            video: call.video_port.is_some(),
            source: format!(
                "{}:{}",
                call.peer.transport_name().to_ascii_lowercase(),
                call.peer.addr
            ),
            user: call.user.clone(),
            joined_at: call.joined_at.unwrap_or(self.clock.at(Instant::now())),
            node: None,
            via: None,
        }
    }

    /// A room's policy, joined calls and (if its media runs) a snapshot on the way.
    pub(super) fn report(&self, room: &str) -> Option<RoomReport> {
        let policy = self.policies.get(room)?;
        let mut calls: Vec<CallInfo> = self
            .calls
            .values()
            .filter(|c| c.joined && c.room == room)
            .map(|c| self.call_info(c))
            .collect();
        calls.sort_by_key(|c| c.id);
        Some(RoomReport {
            room: room.to_string(),
            info: policy.info(),
            canvases: policy.canvases.clone(),
            calls,
            far: self.far_members(room),
            live: self.registry.snapshot(room),
        })
    }

    /// Every room's report, ordered by id.
    pub(super) fn reports(&self) -> Vec<RoomReport> {
        let mut ids: Vec<&String> = self.policies.keys().collect();
        ids.sort();
        ids.into_iter().filter_map(|r| self.report(r)).collect()
    }

    /// Creates a persistent room or updates one; true when it is new.
    pub(super) fn put_room(
        &mut self,
        now: Instant,
        room: &str,
        patch: RoomPatch,
    ) -> Result<bool, ControlError> {
        if !is_valid_room_id(room) {
            return Err(ControlError::InvalidRoomId);
        }
        check_patch(&patch)?;
        self.check_canvases_settable(room, &patch)?;
        let created = !self.policies.contains_key(room);
        let at = self.clock.at(now);
        let policy = self
            .policies
            .entry(room.to_string())
            .or_insert_with(|| RoomPolicy::new(at, true, self.config.video.canvas_configs()));
        policy.persistent = true;
        policy.apply(&patch);
        let info = policy.info();
        self.events.push_back(if created {
            ServerEvent::RoomCreated {
                room: room.to_string(),
                info,
            }
        } else {
            ServerEvent::RoomUpdated {
                room: room.to_string(),
                info,
            }
        });
        info!(%room, created, "room put by API");
        Ok(created)
    }

    /// A room's whole set of canvases is replaced only while its media is not running (a
    /// running room changes them one by one through `…/canvases`).
    fn check_canvases_settable(&self, room: &str, patch: &RoomPatch) -> Result<(), ControlError> {
        if patch.canvases.is_some() && self.registry.contains(room) {
            return Err(ControlError::Conflict(format!(
                "room {room} has members: change its canvases one by one (/canvases)"
            )));
        }
        Ok(())
    }

    /// Changes a room's policy.
    pub(super) fn patch_room(
        &mut self,
        room: &str,
        patch: RoomPatch,
    ) -> Result<RoomInfo, ControlError> {
        check_patch(&patch)?;
        self.check_canvases_settable(room, &patch)?;
        let policy = self
            .policies
            .get_mut(room)
            .ok_or_else(|| ControlError::UnknownRoom(room.to_string()))?;
        policy.apply(&patch);
        let info = policy.info();
        self.events.push_back(ServerEvent::RoomUpdated {
            room: room.to_string(),
            info: info.clone(),
        });
        info!(%room, locked = info.locked, pin_required = info.pin_required,
              max_members = ?info.max_members, "room updated by API");
        Ok(info)
    }

    /// Ends every call of `room` with BYE (a ringing one with 480) and forgets the room.
    pub(super) fn delete_room(&mut self, now: Instant, room: &str) -> Result<(), ControlError> {
        let policy = self
            .policies
            .get_mut(room)
            .ok_or_else(|| ControlError::UnknownRoom(room.to_string()))?;
        policy.persistent = false;
        let calls: Vec<String> = self
            .calls
            .values()
            .filter(|c| c.room == room)
            .map(|c| c.call_id.clone())
            .collect();
        info!(%room, calls = calls.len(), "room deleted by API");
        self.cancel_dials_into(now, room);
        for cid in calls {
            if self.fail_pending_invite(now, &cid, 480) {
                self.end_call(&cid, LeaveReason::RoomEnded);
            } else {
                self.hang_up(now, &cid, LeaveReason::RoomEnded);
            }
        }
        self.forget_room_if_done(room);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_follows_a_star_in_the_user_part() {
        assert_eq!(split_pin("3000"), ("3000", None));
        assert_eq!(split_pin("3000*1234"), ("3000", Some("1234")));
        assert_eq!(split_pin("3000*"), ("3000", Some("")));
        assert!(pin_matches("1234", "1234"));
        assert!(!pin_matches("1235", "1234"));
        assert!(!pin_matches("123", "1234"));
    }

    #[test]
    fn patches_are_checked() {
        let pin = |p: &str| RoomPatch {
            pin: Some(Some(p.to_string())),
            ..RoomPatch::default()
        };
        assert!(check_patch(&pin("1234")).is_ok());
        assert!(check_patch(&pin("")).is_err());
        assert!(check_patch(&pin("12a4")).is_err());
        assert!(check_patch(&pin(&"1".repeat(17))).is_err());
        let max = |m| RoomPatch {
            max_members: Some(Some(m)),
            ..RoomPatch::default()
        };
        assert!(check_patch(&max(0)).is_err());
        assert!(check_patch(&max(3)).is_ok());
    }
}
