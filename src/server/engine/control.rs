//! The engine's answers to control requests (the HTTP API, tests): member controls, kicks,
//! mute-all, room administration and reports. Each request is answered at once over its
//! oneshot; a media snapshot travels back as a receiver the caller awaits, so the engine
//! never waits for a media thread.

use super::CallEngine;
use crate::conference::canvas_control::{CanvasChange, CanvasControl};
use crate::conference::member::MemberId;
use crate::conference::member_control::{MemberControl, Role};
use crate::server::control::{ControlError, ControlRequest};
use crate::server::roster::MemberKind;
use crate::server::server_event::{ChangeSource, LeaveReason, ServerEvent};
use std::time::Instant;
use tracing::info;

impl CallEngine {
    /// The call of `member` in `room`, if it is in that room.
    pub(super) fn member_call(&self, room: &str, member: MemberId) -> Result<String, ControlError> {
        if !self.policies.contains_key(room) {
            return Err(ControlError::UnknownRoom(room.to_string()));
        }
        self.by_member
            .get(&member)
            .filter(|cid| {
                self.calls
                    .get(*cid)
                    .is_some_and(|c| c.joined && c.room == room)
            })
            .cloned()
            .ok_or_else(|| ControlError::UnknownMember {
                room: room.to_string(),
                member,
            })
    }

    /// Canvas numbers of a change must name canvases of the room, and only a member with
    /// video watches one.
    fn check_canvases(&self, cid: &str, change: &MemberControl) -> Result<(), ControlError> {
        let has_video = self.calls.get(cid).is_some_and(|c| c.video_port.is_some());
        if change.watching_canvas.is_some() && !has_video {
            return Err(ControlError::Invalid(
                "watching_canvas: the member has no video".to_string(),
            ));
        }
        let room = self
            .calls
            .get(cid)
            .map(|c| c.room.clone())
            .unwrap_or_default();
        let canvases = self.canvas_count(&room);
        let out_of_range = change.canvas.flatten().is_some_and(|c| c >= canvases)
            || change.watching_canvas.is_some_and(|c| c >= canvases);
        if out_of_range {
            return Err(ControlError::Invalid(format!(
                "canvas out of range: the room has canvases 1..={canvases}"
            )));
        }
        Ok(())
    }

    pub(super) fn control_member(
        &mut self,
        room: &str,
        member: MemberId,
        change: MemberControl,
        by: ChangeSource,
    ) {
        if change.is_empty() {
            return;
        }
        let call = self
            .by_member
            .get(&member)
            .and_then(|cid| self.calls.get_mut(cid));
        if let Some(call) = call {
            if let Some(role) = change.role {
                call.role = role;
            }
            call.controls.apply(&change);
        }
        self.registry.control(room, member, change.clone());
        self.events.push_back(ServerEvent::MemberUpdated {
            room: room.to_string(),
            member,
            changes: change,
            by,
        });
    }

    pub(super) fn on_control(&mut self, now: Instant, request: ControlRequest) {
        match request {
            ControlRequest::ControlMember {
                room,
                member,
                change,
                reply,
            } => {
                let found = match self.member_call(&room, member) {
                    Ok(cid) => self.check_canvases(&cid, &change).map(|()| {
                        self.control_member(&room, member, change, ChangeSource::Api);
                    }),
                    // A far person of the cascade roster: changed on its home node.
                    Err(ControlError::UnknownMember { .. })
                        if self.far_target(&room, member).is_some() =>
                    {
                        self.send_home(now, &room, member, Some(&change))
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(found);
            }
            ControlRequest::Kick {
                room,
                member,
                reply,
            } => {
                let found = match self.member_call(&room, member) {
                    Ok(cid) => {
                        info!(call_id = %cid, %room, member, "kicked");
                        self.hang_up(now, &cid, LeaveReason::Kicked);
                        Ok(())
                    }
                    Err(ControlError::UnknownMember { .. })
                        if self.far_target(&room, member).is_some() =>
                    {
                        self.send_home(now, &room, member, None)
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(found);
            }
            ControlRequest::MuteAll {
                room,
                muted,
                except,
                reply,
            } => {
                let _ = reply.send(self.mute_all(&room, muted, &except));
            }
            ControlRequest::Rooms(reply) => {
                let _ = reply.send(self.reports());
            }
            ControlRequest::Room(room, reply) => {
                let _ = reply.send(self.report(&room));
            }
            ControlRequest::PutRoom { room, patch, reply } => {
                let _ = reply.send(self.put_room(now, &room, patch));
            }
            ControlRequest::PatchRoom { room, patch, reply } => {
                let _ = reply.send(self.patch_room(&room, patch));
            }
            ControlRequest::DeleteRoom { room, reply } => {
                let _ = reply.send(self.delete_room(now, &room));
            }
            ControlRequest::ChangeCanvases {
                room,
                change,
                reply,
            } => {
                let _ = reply.send(self.change_canvases(&room, change));
            }
            ControlRequest::CanvasPicture {
                room,
                canvas,
                reply,
            } => {
                let picture = self.check_canvas(&room, canvas).and_then(|()| {
                    self.registry
                        .canvas_picture(&room, canvas)
                        .ok_or_else(|| ControlError::NoMedia(room.clone()))
                });
                let _ = reply.send(picture);
            }
            ControlRequest::Dial {
                room,
                request,
                reply,
            } => {
                let _ = reply.send(self.start_dial(now, &room, request));
            }
            ControlRequest::StartCascade {
                room,
                request,
                reply,
            } => {
                let _ = reply.send(self.start_cascade(now, &room, request));
            }
            ControlRequest::Cascades { room, reply } => {
                let _ = reply.send(self.cascades_of(&room));
            }
            ControlRequest::DeleteCascade { room, leg, reply } => {
                let _ = reply.send(self.delete_cascade(now, &room, &leg));
            }
            ControlRequest::CancelDial { dial, reply } => {
                let _ = reply.send(self.cancel_dial(now, &dial));
            }
            ControlRequest::CallCount(reply) => {
                let _ = reply.send(self.calls.len());
            }
        }
    }

    /// `room` exists and has canvas `canvas` (0-based).
    fn check_canvas(&self, room: &str, canvas: usize) -> Result<(), ControlError> {
        let policy = self
            .policies
            .get(room)
            .ok_or_else(|| ControlError::UnknownRoom(room.to_string()))?;
        if canvas >= policy.canvases.len() {
            return Err(ControlError::UnknownCanvas {
                room: room.to_string(),
                canvas: canvas + 1,
            });
        }
        Ok(())
    }

    /// Changes, adds or removes a canvas; the room's canvases are kept for when its media
    /// restarts. Answers the canvas changed or added.
    fn change_canvases(&mut self, room: &str, change: CanvasChange) -> Result<usize, ControlError> {
        let canvas = match &change {
            CanvasChange::Control { canvas, change } => {
                self.check_canvas(room, *canvas)?;
                if *change == CanvasControl::default() {
                    return Ok(*canvas);
                }
                if let Some(Some(member)) = change.floor {
                    self.member_call(room, member)?;
                }
                change.settings.validate().map_err(ControlError::Invalid)?;
                *canvas
            }
            CanvasChange::Add(_) => {
                if !self.policies.contains_key(room) {
                    return Err(ControlError::UnknownRoom(room.to_string()));
                }
                let count = self.canvas_count(room);
                if count >= super::rooms::MAX_CANVASES {
                    return Err(ControlError::Conflict(format!(
                        "room {room} has the most canvases a room may have ({count})"
                    )));
                }
                count
            }
            CanvasChange::Remove(canvas) => {
                self.check_canvas(room, *canvas)?;
                if self.canvas_count(room) == 1 {
                    return Err(ControlError::Conflict(format!(
                        "canvas {} is the room's only canvas",
                        canvas + 1
                    )));
                }
                *canvas
            }
        };
        let Some(policy) = self.policies.get_mut(room) else {
            return Err(ControlError::UnknownRoom(room.to_string()));
        };
        let event = match &change {
            CanvasChange::Control { change, .. } => {
                if let Some(config) = policy.canvases.get_mut(canvas) {
                    change.settings.apply(config);
                }
                ServerEvent::CanvasUpdated {
                    room: room.to_string(),
                    canvas: canvas + 1,
                    changes: change.settings.clone(),
                    floor: change.floor,
                }
            }
            CanvasChange::Add(config) => {
                policy.canvases.push(config.clone());
                ServerEvent::CanvasAdded {
                    room: room.to_string(),
                    canvas: canvas + 1,
                }
            }
            CanvasChange::Remove(_) => {
                policy.canvases.remove(canvas);
                ServerEvent::CanvasRemoved {
                    room: room.to_string(),
                    canvas: canvas + 1,
                }
            }
        };
        info!(%room, canvas = canvas + 1, change = ?change, "canvases changed");
        self.events.push_back(event);
        self.registry.change_canvases(room, change);
        Ok(canvas)
    }

    /// Mutes or unmutes every participant (dialled-in or dialled-out) but the moderators and
    /// `except`.
    fn mute_all(
        &mut self,
        room: &str,
        muted: bool,
        except: &[MemberId],
    ) -> Result<Vec<MemberId>, ControlError> {
        if !self.policies.contains_key(room) {
            return Err(ControlError::UnknownRoom(room.to_string()));
        }
        let mut targets: Vec<MemberId> = self
            .calls
            .values()
            .filter(|c| {
                c.joined
                    && c.room == room
                    && c.kind != MemberKind::Cascade
                    && c.role != Role::Moderator
                    && !except.contains(&c.member)
            })
            .map(|c| c.member)
            .collect();
        targets.sort_unstable();
        let change = MemberControl {
            muted: Some(muted),
            ..MemberControl::default()
        };
        for &member in &targets {
            self.control_member(room, member, change.clone(), ChangeSource::Api);
        }
        info!(%room, muted, members = targets.len(), "mute-all");
        Ok(targets)
    }
}
