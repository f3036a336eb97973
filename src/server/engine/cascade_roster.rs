//! The engine's side of the cascade roster: INFO requests on a leg between Tessera nodes are
//! read as [`LegMessage`]s; each up leg is told our side (tree and people, local and reached
//! over the room's other legs) whenever it changes, at most every [`SIDE_INTERVAL`]; far
//! people become members of the API with aliases, announced as joins, departures and talk
//! changes; and operators' mute and kick of a far person travel leg by leg to its home node.

use super::{CallEngine, Reject};
use crate::cascade::roster::{
    FarPerson, LegMessage, Person, RemoteControl, RosterChange, CASCADE_CONTENT_TYPE,
};
use crate::cascade::{LegState, NodeId};
use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::server::call::CallState;
use crate::server::control::ControlError;
use crate::server::roster::{CallInfo, FarMember, MemberKind};
use crate::server::server_event::{ChangeSource, FarOrigin, LeaveReason, ServerEvent};
use crate::sip::message::{call_id, content_type};
use crate::sip::transaction::TxKey;
use rsip::{Method, Request};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The least time between two sides sent on one leg (talk changes come in bursts).
pub(super) const SIDE_INTERVAL: Duration = Duration::from_millis(100);

/// Where a far person is reached: the leg, and who it is at home.
pub(super) struct FarTarget {
    pub leg: String,
    pub node: NodeId,
    pub member: MemberId,
}

impl CallEngine {
    /// An in-dialog INFO: on a leg between Tessera nodes, a roster message.
    pub(super) fn on_info(&mut self, now: Instant, key: TxKey, req: Request) {
        let cid = call_id(&req).unwrap_or_default();
        let Some(call) = self.calls.get(&cid).filter(|c| c.is_dialog_of(&req)) else {
            return self.reply(now, &key, &req, 481, None);
        };
        let leg = call.leg.clone().filter(|l| {
            self.cascades
                .get(l)
                .is_some_and(|l| l.remote_node.is_some())
        });
        let ours =
            content_type(&req).is_some_and(|c| c.trim().eq_ignore_ascii_case(CASCADE_CONTENT_TYPE));
        let result = match (leg, ours) {
            (_, false) => Err(Reject::new(415, "INFO carries only cascade messages here")),
            (None, true) => Err(Reject::new(403, "not a cascade leg between Tessera nodes")),
            (Some(leg), true) => LegMessage::parse(&req.body)
                .map(|m| (leg, m))
                .map_err(|e| Reject::new(400, &format!("cascade message: {e}"))),
        };
        match result {
            Err(reject) => {
                debug!(call_id = %cid, status = reject.status, warning = %reject.warning, "INFO refused");
                self.reply(now, &key, &req, reject.status, Some(&reject.warning));
            }
            Ok((leg, message)) => {
                self.reply(now, &key, &req, 200, None);
                self.on_leg_message(now, &leg, message);
            }
        }
    }

    fn on_leg_message(&mut self, now: Instant, leg: &str, message: LegMessage) {
        let Some(room) = self.cascades.get(leg).map(|l| l.room.clone()) else {
            return;
        };
        match message {
            LegMessage::Side { seq, tree, people } => {
                let joined_at = self.clock.at(now);
                let next_member = &mut self.next_member;
                let Some(l) = self.cascades.get_mut(leg) else {
                    return;
                };
                let alias = || {
                    let id = *next_member;
                    *next_member += 1;
                    id
                };
                let Some(changes) = l
                    .roster
                    .far
                    .apply(seq, tree.clone(), people, joined_at, alias)
                else {
                    return; // an older side, overtaken
                };
                l.remote_tree = tree;
                if let Some(far) = l.remote_node.clone() {
                    l.remote_tree.insert(far);
                }
                self.announce(&room, leg, changes, LeaveReason::FarSide);
            }
            LegMessage::Control {
                node,
                member,
                change,
            } => {
                if node == self.node {
                    match self.member_call(&room, member) {
                        Ok(_) => {
                            info!(%room, member, via = %leg, "controls changed from another node");
                            let change = MemberControl::from(&change);
                            self.control_member(&room, member, change, ChangeSource::Cascade);
                        }
                        Err(e) => debug!(%room, member, error = %e, "control for a member gone"),
                    }
                } else {
                    self.forward(
                        now,
                        &room,
                        leg,
                        LegMessage::Control {
                            node,
                            member,
                            change,
                        },
                    );
                }
            }
            LegMessage::Kick { node, member } => {
                if node == self.node {
                    if let Ok(cid) = self.member_call(&room, member) {
                        info!(call_id = %cid, %room, member, via = %leg, "kicked from another node");
                        self.hang_up(now, &cid, LeaveReason::Kicked);
                    }
                } else {
                    self.forward(now, &room, leg, LegMessage::Kick { node, member });
                }
            }
        }
    }

    /// Sends a control or kick on toward the home node of its person (not back where it
    /// came from).
    fn forward(&mut self, now: Instant, room: &str, from: &str, message: LegMessage) {
        let (LegMessage::Control { node, member, .. } | LegMessage::Kick { node, member }) =
            &message
        else {
            return;
        };
        let next = self
            .cascades
            .in_room(room)
            .find(|l| l.id != from && l.roster.far.reaches(node, *member))
            .map(|l| l.id.clone());
        match next {
            Some(leg) => self.send_leg_message(now, &leg, &message),
            None => debug!(%room, %node, member, "no leg reaches the member any more"),
        }
    }

    /// Announces what changed in what a leg reaches.
    fn announce(&mut self, room: &str, leg: &str, changes: Vec<RosterChange>, gone: LeaveReason) {
        for change in changes {
            let origin = |f: &FarPerson| {
                Some(FarOrigin {
                    node: f.person.node.clone(),
                    via: leg.to_string(),
                })
            };
            let room = room.to_string();
            match change {
                RosterChange::Joined(f) => {
                    debug!(%room, member = f.alias, node = %f.person.node, via = %leg, "far member joined");
                    self.events.push_back(ServerEvent::MemberJoined {
                        room,
                        member: far_info(leg, &f),
                    });
                }
                RosterChange::Left(f) => {
                    if f.person.talking {
                        self.events.push_back(ServerEvent::TalkingStopped {
                            room: room.clone(),
                            member: f.alias,
                            far: origin(&f),
                        });
                    }
                    debug!(%room, member = f.alias, node = %f.person.node, via = %leg, "far member left");
                    self.events.push_back(ServerEvent::MemberLeft {
                        room,
                        member: f.alias,
                        reason: gone,
                        far: origin(&f),
                    });
                }
                RosterChange::Talking(f, talking) => {
                    let far = origin(&f);
                    let member = f.alias;
                    self.events.push_back(if talking {
                        ServerEvent::TalkingStarted { room, member, far }
                    } else {
                        ServerEvent::TalkingStopped { room, member, far }
                    });
                }
            }
        }
    }

    /// Forgets what a leg reached (it went down or was deleted): its people leave.
    pub(super) fn forget_far_side(&mut self, leg: &str) {
        let Some(l) = self.cascades.get_mut(leg) else {
            return;
        };
        let room = l.room.clone();
        let changes = l.roster.far.clear();
        l.roster.near = Default::default();
        self.announce(&room, leg, changes, LeaveReason::LegDown);
    }

    /// Tells every up leg between Tessera nodes our side when it changed; returns when a
    /// change held back by [`SIDE_INTERVAL`] is due.
    pub(super) fn sync_rosters(&mut self, now: Instant) {
        let legs: Vec<(String, String)> = self
            .cascades
            .all()
            .filter(|l| l.state == LegState::Up && l.remote_node.is_some())
            .filter(|l| {
                l.call_id
                    .as_ref()
                    .and_then(|cid| self.calls.get(cid))
                    .is_some_and(|c| matches!(c.state, CallState::Confirmed))
            })
            .map(|l| (l.id.clone(), l.room.clone()))
            .collect();
        self.roster_wake = None;
        for (leg, room) in legs {
            let tree = self.cascades.side(&room, &self.node, Some(&leg));
            let people = self.people_for(&room, &leg);
            let Some(l) = self.cascades.get_mut(&leg) else {
                continue;
            };
            if !l.roster.near.differs(&tree, &people) {
                continue;
            }
            if let Some(due) = l.roster.near.at.map(|at| at + SIDE_INTERVAL) {
                if now < due {
                    self.roster_wake = Some(self.roster_wake.map_or(due, |w| w.min(due)));
                    continue;
                }
            }
            let message = l.roster.near.say(tree, people, now);
            self.send_leg_message(now, &leg, &message);
        }
    }

    /// Our people as leg `leg` is told of them: the room's own (in the mix) and those its
    /// other legs reach.
    fn people_for(&self, room: &str, leg: &str) -> Vec<Person> {
        let mut people: Vec<Person> = self
            .calls
            .values()
            .filter(|c| c.joined && c.room == room && c.kind != MemberKind::Cascade)
            .filter(|c| !c.awaiting_pin)
            .map(|c| Person {
                node: self.node.clone(),
                member: c.member,
                name: c.name.clone(),
                uri: c.uri.clone(),
                video: c.video_port.is_some(),
                talking: self.talking.contains(&c.member),
                muted: c.controls.muted,
                deaf: c.controls.deaf,
                video_muted: c.controls.video_muted,
            })
            .collect();
        people.sort_by_key(|p| p.member);
        for other in self
            .cascades
            .in_room(room)
            .filter(|l| l.id != leg && l.state == LegState::Up)
        {
            people.extend(other.roster.far.people.iter().map(|f| f.person.clone()));
        }
        people
    }

    /// Sends a message on a leg (an INFO in its dialog).
    pub(super) fn send_leg_message(&mut self, now: Instant, leg: &str, message: &LegMessage) {
        let Some(cid) = self.cascades.get(leg).and_then(|l| l.call_id.clone()) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&cid) else {
            return;
        };
        let info = call.build_request(
            Method::Info,
            Some((CASCADE_CONTENT_TYPE, message.to_body())),
        );
        let peer = call.peer;
        if self.layer.send_request(now, info, peer).is_none() {
            warn!(%leg, "cascade message not sent");
        }
    }

    /// The far person `alias` of `room`, as the leg reaching it knows it.
    pub(super) fn far_target(&self, room: &str, alias: MemberId) -> Option<FarTarget> {
        self.cascades.in_room(room).find_map(|l| {
            l.roster.far.by_alias(alias).map(|f| FarTarget {
                leg: l.id.clone(),
                node: f.person.node.clone(),
                member: f.person.member,
            })
        })
    }

    /// An operator's change (`Some`) or kick (`None`) of far person `alias`, sent toward
    /// its home node.
    pub(super) fn send_home(
        &mut self,
        now: Instant,
        room: &str,
        alias: MemberId,
        change: Option<&MemberControl>,
    ) -> Result<(), ControlError> {
        let FarTarget { leg, node, member } =
            self.far_target(room, alias)
                .ok_or_else(|| ControlError::UnknownMember {
                    room: room.to_string(),
                    member: alias,
                })?;
        info!(%room, member = alias, %node, via = %leg, kick = change.is_none(),
              "sent to the member's home node");
        let message = match change {
            Some(change) => LegMessage::Control {
                node,
                member,
                change: RemoteControl::try_from(change)
                    .map_err(|e| ControlError::Invalid(e.to_string()))?,
            },
            None => LegMessage::Kick { node, member },
        };
        self.send_leg_message(now, &leg, &message);
        Ok(())
    }

    /// The far people of `room`, for its report.
    pub(super) fn far_members(&self, room: &str) -> Vec<FarMember> {
        let mut far: Vec<FarMember> = self
            .cascades
            .in_room(room)
            .flat_map(|l| {
                l.roster.far.people.iter().map(|f| FarMember {
                    info: far_info(&l.id, f),
                    talking: f.person.talking,
                    muted: f.person.muted,
                    deaf: f.person.deaf,
                    video_muted: f.person.video_muted,
                })
            })
            .collect();
        far.sort_by_key(|f| f.info.id);
        far
    }
}

/// A far person as the API and events show it.
fn far_info(leg: &str, f: &FarPerson) -> CallInfo {
    CallInfo {
        id: f.alias,
        name: f.person.name.clone(),
        uri: f.person.uri.clone(),
        call_id: String::new(),
        kind: MemberKind::Remote,
        role: Default::default(),
        audio_codec: String::new(),
        video: f.person.video,
        source: format!("cascade:{leg}"),
        joined_at: f.joined_at,
        node: Some(f.person.node.clone()),
        via: Some(leg.to_string()),
        user: None,
    }
}
