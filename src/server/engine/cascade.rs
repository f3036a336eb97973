//! The engine's side of cascades: cascade INVITEs in (`X-Tessera-Cascade` parsed, a ring
//! refused with 482, the call made a `cascade` member that never sees itself), cascade legs
//! out (a dial-out whose INVITE names our side of the tree, whose 2xx names the far side),
//! the leg table the API lists, and the tie-break that leaves one leg when two nodes dial each
//! other at the same moment (the lower node id keeps its outgoing leg).

use super::{CallEngine, Reject};
use crate::cascade::{
    backoff, CascadeHeader, CascadeLeg, LegDirection, LegState, Redial, CASCADE_HEADER,
};
use crate::conference::registry::is_valid_room_id;
use crate::server::call::Call;
use crate::server::control::{CascadeRequest, ControlError, DialRequest};
use crate::server::roster::MemberKind;
use crate::server::roster::RoomPolicy;
use crate::server::server_event::{LeaveReason, ServerEvent};
use crate::sip::message::other_header;
use rsip::{Request, Response};
use std::time::Instant;
use tracing::{info, warn};

/// The cascade header of a request, if it has one (malformed: 400).
pub(super) fn cascade_of(req: &Request) -> Result<Option<CascadeHeader>, Reject> {
    other_header(req, CASCADE_HEADER)
        .map(|value| {
            CascadeHeader::parse(value)
                .map_err(|e| Reject::new(400, &format!("malformed {CASCADE_HEADER}: {e}")))
        })
        .transpose()
}

impl CallEngine {
    /// Our side of `room`'s tree as the header across leg `except` (none: a new leg) says it.
    pub(super) fn cascade_header(&self, room: &str, leg: Option<&str>) -> String {
        CascadeHeader {
            node: self.node.clone(),
            room: room.to_string(),
            tree: self.cascades.side(room, &self.node, leg),
            permanent: leg
                .and_then(|id| self.cascades.get(id))
                .is_some_and(|l| l.permanent),
        }
        .to_string()
    }

    /// 482 when a leg whose far side is `header.tree` would close a ring in `room`.
    pub(super) fn refuse_ring(&self, room: &str, header: &CascadeHeader) -> Result<(), Reject> {
        if self.cascades.would_loop(room, &self.node, &header.tree) {
            info!(%room, from = %header.node, tree = ?header.tree,
                  "cascade leg refused: it would close a ring");
            return Err(Reject::new(
                482,
                "Loop Detected: the cascade would close a ring",
            ));
        }
        Ok(())
    }

    /// Makes an accepted cascade INVITE's call a leg (direction `in`).
    pub(super) fn inbound_leg(&mut self, call: &mut Call, header: CascadeHeader) {
        let id = self.cascades.next_id();
        info!(leg = %id, room = %call.room, from = %header.node, "cascade leg in");
        call.kind = MemberKind::Cascade;
        call.name = header.node.to_string();
        call.leg = Some(id.clone());
        self.cascades.insert(CascadeLeg {
            id,
            room: call.room.clone(),
            peer: call.uri.clone(),
            direction: LegDirection::In,
            state: LegState::Connecting,
            remote_node: Some(header.node.clone()),
            remote_tree: header.tree.clone(),
            since: self.clock.at(Instant::now()),
            call_id: Some(call.call_id.clone()),
            member: Some(call.member),
            status: None,
            redial: None,
            request: None,
            permanent: header.permanent,
            roster: Default::default(),
            keepalive: None,
        });
    }

    /// Starts a cascade leg from `room` to `request.uri`; answers the leg as listed.
    pub(super) fn start_cascade(
        &mut self,
        now: Instant,
        room: &str,
        request: CascadeRequest,
    ) -> Result<CascadeLeg, ControlError> {
        if request.permanent && is_valid_room_id(room) {
            // A permanent leg keeps its room, so it is there to redial into.
            if !self.policies.contains_key(room) {
                let policy =
                    RoomPolicy::new(self.clock.at(now), true, self.config.video.canvas_configs());
                self.events.push_back(ServerEvent::RoomCreated {
                    room: room.to_string(),
                    info: policy.info(),
                });
                self.policies.insert(room.to_string(), policy);
            }
            if let Some(policy) = self.policies.get_mut(room) {
                policy.persistent = true;
            }
        }
        let id = self.cascades.next_id();
        self.cascades.insert(CascadeLeg {
            id: id.clone(),
            room: room.to_string(),
            peer: request.uri.clone(),
            direction: LegDirection::Out,
            state: LegState::Connecting,
            remote_node: None,
            remote_tree: Default::default(),
            since: self.clock.at(now),
            call_id: None,
            member: None,
            status: None,
            redial: Some(Redial {
                attempts: 0,
                at: None,
            }),
            permanent: request.permanent,
            request: Some(request),
            roster: Default::default(),
            keepalive: None,
        });
        match self.dial_leg(now, &id) {
            Ok(leg) => {
                info!(leg = %id, %room, peer = %leg.peer, "cascade leg out");
                Ok(leg)
            }
            Err(e) => {
                self.cascades.remove(&id);
                Err(e)
            }
        }
    }

    /// Dials outgoing leg `id` (again).
    fn dial_leg(&mut self, now: Instant, id: &str) -> Result<CascadeLeg, ControlError> {
        let unknown = || ControlError::UnknownCascade(id.to_string());
        let (room, request) = self
            .cascades
            .get(id)
            .and_then(|l| Some((l.room.clone(), l.request.clone()?)))
            .ok_or_else(unknown)?;
        let dial = DialRequest {
            uri: request.uri,
            name: None,
            canvas: request.canvas,
            watching_canvas: request.watching_canvas,
            timeout: request.timeout,
            leg: Some(id.to_string()),
        };
        self.start_dial(now, &room, dial)?;
        let call_id = self.dial_call_of_leg(id);
        let at = self.clock.at(now);
        let leg = self.cascades.get_mut(id).ok_or_else(unknown)?;
        leg.call_id = call_id;
        leg.state = LegState::Connecting;
        leg.since = at;
        if let Some(redial) = leg.redial.as_mut() {
            redial.at = None;
        }
        Ok(leg.clone())
    }

    /// Dials again the legs whose redial time has come.
    pub(super) fn redial_timers(&mut self, now: Instant) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        let due: Vec<String> = self
            .cascades
            .all()
            .filter(|l| l.redial.and_then(|r| r.at).is_some_and(|at| at <= now))
            .map(|l| l.id.clone())
            .collect();
        for id in due {
            info!(leg = %id, "redialling the cascade leg");
            if let Err(e) = self.dial_leg(now, &id) {
                warn!(leg = %id, error = %e, "cannot redial the cascade leg");
                self.leg_down(&id, None);
            }
        }
    }

    /// When the next leg is due to be dialled again.
    pub(super) fn next_redial(&self) -> Option<Instant> {
        self.cascades
            .all()
            .filter_map(|l| l.redial.and_then(|r| r.at))
            .min()
    }

    /// The 2xx of an outgoing leg: the far side as its header says, unless taking it would
    /// close a ring or duplicate a leg (then `Err` with the status to report).
    pub(super) fn leg_answered(
        &mut self,
        leg: &str,
        call_id: &str,
        response: &Response,
    ) -> Result<(), u16> {
        let header = other_header(response, CASCADE_HEADER).and_then(|v| {
            CascadeHeader::parse(v)
                .inspect_err(|e| warn!(%leg, error = %e, "malformed cascade header in the 2xx"))
                .ok()
        });
        let Some(room) = self.cascades.get(leg).map(|l| l.room.clone()) else {
            return Err(487);
        };
        if let Some(header) = &header {
            let ours = self.cascades.side(&room, &self.node, Some(leg));
            if !ours.is_disjoint(&header.tree) {
                let duplicate = self
                    .cascades
                    .in_room(&room)
                    .any(|l| l.id != leg && l.remote_node.as_ref() == Some(&header.node));
                // Two nodes that dialled each other: the lower node id keeps its outgoing
                // leg, so both ends drop the same call.
                if !(duplicate && self.node < header.node) {
                    info!(%leg, %room, far = %header.node, "cascade leg answered into a ring; ending it");
                    self.leg_down(leg, Some(482));
                    return Err(482);
                }
                self.drop_duplicates_of(&room, leg, &header.node);
            }
        }
        if let Some(l) = self.cascades.get_mut(leg) {
            l.call_id = Some(call_id.to_string());
            if let Some(header) = header {
                l.remote_node = Some(header.node);
                l.remote_tree = header.tree;
            }
        }
        Ok(())
    }

    /// Ends the other legs of `room` to `far` (the tie-break kept `keep`).
    fn drop_duplicates_of(&mut self, room: &str, keep: &str, far: &crate::cascade::NodeId) {
        let others: Vec<String> = self
            .cascades
            .in_room(room)
            .filter(|l| l.id != keep && l.remote_node.as_ref() == Some(far))
            .filter_map(|l| l.call_id.clone())
            .collect();
        for cid in others {
            info!(%room, %far, call_id = %cid, "duplicate cascade leg; ending it");
            self.hang_up(Instant::now(), &cid, LeaveReason::Bye);
        }
    }

    /// A leg's call joined its room.
    pub(super) fn leg_up(&mut self, now: Instant, leg: &str) {
        self.start_keepalive(now, leg);
        let at = self.clock.at(now);
        if let Some(l) = self.cascades.get_mut(leg) {
            l.state = LegState::Up;
            l.since = at;
            if let Some(redial) = l.redial.as_mut() {
                *redial = Redial {
                    attempts: 0,
                    at: None,
                };
            }
            info!(leg = %l.id, room = %l.room, far = ?l.remote_node, "cascade leg up");
            self.events.push_back(ServerEvent::CascadeUp {
                room: l.room.clone(),
                leg: l.id.clone(),
                remote_node: l.remote_node.clone(),
            });
        }
    }

    /// A leg's call ended (or never came up): an incoming leg is forgotten (its dialler
    /// dials again); an outgoing one stays listed as `down`.
    pub(super) fn leg_down(&mut self, leg: &str, status: Option<u16>) {
        self.forget_far_side(leg);
        let at = self.clock.at(Instant::now());
        let first = std::time::Duration::from_secs(self.config.cascade.redial_first_secs);
        let max = std::time::Duration::from_secs(self.config.cascade.redial_max_secs.max(1));
        let Some(l) = self.cascades.get_mut(leg) else {
            return;
        };
        info!(leg = %l.id, room = %l.room, ?status, "cascade leg down");
        self.events.push_back(ServerEvent::CascadeDown {
            room: l.room.clone(),
            leg: l.id.clone(),
            status,
        });
        match l.direction {
            LegDirection::In => {
                self.cascades.remove(leg);
            }
            LegDirection::Out => {
                l.state = LegState::Down;
                l.since = at;
                l.status = status;
                l.remote_tree.clear();
                l.call_id = None;
                l.member = None;
                if status == Some(482) {
                    l.redial = None; // a ring stays refused
                }
                if let Some(redial) = l.redial.as_mut() {
                    let wait = backoff(redial.attempts, first, max);
                    redial.attempts = redial.attempts.saturating_add(1);
                    redial.at = Some(Instant::now() + wait);
                    info!(leg = %l.id, wait_ms = wait.as_millis() as u64, "cascade leg redials");
                }
            }
        }
    }

    /// Ends a leg (BYE, or CANCEL while it rings) and forgets it.
    pub(super) fn delete_cascade(
        &mut self,
        now: Instant,
        room: &str,
        id: &str,
    ) -> Result<(), ControlError> {
        let leg = self
            .cascades
            .get(id)
            .filter(|l| l.room == room)
            .cloned()
            .ok_or_else(|| ControlError::UnknownCascade(id.to_string()))?;
        self.forget_far_side(id);
        self.cascades.remove(id);
        if let Some(cid) = leg.call_id {
            if self.dials.contains_key(&cid) {
                self.cancel_dial_call(now, &cid);
            } else if let Some(call) = self.calls.get_mut(&cid) {
                call.leg = None;
                self.hang_up(now, &cid, LeaveReason::Kicked);
            }
        }
        info!(leg = %id, %room, "cascade leg deleted");
        Ok(())
    }

    /// Watches the rooms that have legs: a room with nobody in it and at most one leg (a
    /// leaf of the cascade tree) gets a deadline; people or a second leg clear it. An empty
    /// tree so ends from its leaves, one grace period per level.
    pub(super) fn refresh_idle_rooms(&mut self, now: Instant) {
        let grace = std::time::Duration::from_secs(self.config.cascade.idle_grace_secs);
        let mut legs_by_room: std::collections::HashMap<&str, usize> = Default::default();
        let mut permanent: std::collections::HashSet<&str> = Default::default();
        for leg in self.cascades.all().filter(|l| l.state == LegState::Up) {
            *legs_by_room.entry(leg.room.as_str()).or_default() += 1;
            if leg.permanent {
                permanent.insert(leg.room.as_str());
            }
        }
        let idle: Vec<String> = legs_by_room
            .into_iter()
            .filter(|(room, legs)| *legs <= 1 && self.registry.member_count(room) <= *legs)
            .filter(|(room, _)| !permanent.contains(room))
            .map(|(room, _)| room.to_string())
            .collect();
        self.idle_rooms.retain(|room, _| idle.contains(room));
        for room in idle {
            self.idle_rooms.entry(room).or_insert_with(|| {
                info!(grace_s = grace.as_secs(), "room kept only by a cascade leg");
                now + grace
            });
        }
    }

    /// Ends the legs of rooms whose idle grace has passed.
    pub(super) fn idle_leg_timers(&mut self, now: Instant) {
        let due: Vec<String> = self
            .idle_rooms
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(room, _)| room.clone())
            .collect();
        for room in due {
            self.idle_rooms.remove(&room);
            let calls: Vec<String> = self
                .cascades
                .in_room(&room)
                .filter(|l| l.state == LegState::Up)
                .filter_map(|l| l.call_id.clone())
                .collect();
            let ids: Vec<String> = self.cascades.in_room(&room).map(|l| l.id.clone()).collect();
            for id in ids {
                if let Some(leg) = self.cascades.get_mut(&id) {
                    leg.redial = None; // ended on purpose
                }
            }
            for cid in calls {
                info!(%room, call_id = %cid, "nobody left on this side: ending the cascade leg");
                self.hang_up(now, &cid, LeaveReason::Idle);
            }
        }
    }

    /// The legs of `room`.
    pub(super) fn cascades_of(&self, room: &str) -> Result<Vec<CascadeLeg>, ControlError> {
        if !self.policies.contains_key(room) && self.cascades.in_room(room).next().is_none() {
            return Err(ControlError::UnknownRoom(room.to_string()));
        }
        Ok(self.cascades.in_room(room).cloned().collect())
    }
}
