//! One roster across a cascade. Between Tessera nodes each leg carries, in in-dialog INFO
//! requests with a JSON body ([`CASCADE_CONTENT_TYPE`]), what is on the sender's side of the
//! leg: its part of the tree and its people, with their talking and mute state
//! ([`LegMessage::Side`], whole each time, numbered so a late one is ignored), and operators'
//! changes to a far person, forwarded hop by hop to the person's home node
//! ([`LegMessage::Control`], [`LegMessage::Kick`]). Sans-IO: [`FarSide`] turns what a leg
//! heard into the joins, departures and talk changes the engine announces.

use super::node_id::NodeId;
use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::server::wall_clock::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The Content-Type of the INFO bodies between Tessera nodes.
pub const CASCADE_CONTENT_TYPE: &str = "application/vnd.tessera.cascade+json";

/// The largest body accepted (a side of a few hundred people).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The most people a side may list.
pub const MAX_PEOPLE: usize = 2000;

/// The longest name or URI kept of a far person, in characters.
const MAX_TEXT_CHARS: usize = 256;

/// A person as a leg tells of it: where it is at home and its state there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Its home node.
    pub node: NodeId,
    /// Its member id on its home node.
    pub member: MemberId,
    pub name: String,
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub video: bool,
    #[serde(default)]
    pub talking: bool,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub deaf: bool,
    #[serde(default)]
    pub video_muted: bool,
}

/// The controls an operator on another node may change (canvases, slots and banners belong
/// to the node that draws them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteControl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deaf: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_muted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_in: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_out: Option<i8>,
}

/// Why a change cannot reach a far person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("only muted, deaf, video_muted, volume_in and volume_out reach a member on another node")]
pub struct NotRemoteControl;

impl TryFrom<&MemberControl> for RemoteControl {
    type Error = NotRemoteControl;

    fn try_from(change: &MemberControl) -> Result<Self, Self::Error> {
        let remote = Self {
            muted: change.muted,
            deaf: change.deaf,
            video_muted: change.video_muted,
            volume_in: change.volume_in,
            volume_out: change.volume_out,
        };
        if MemberControl::from(&remote) == *change {
            Ok(remote)
        } else {
            Err(NotRemoteControl)
        }
    }
}

impl From<&RemoteControl> for MemberControl {
    fn from(remote: &RemoteControl) -> Self {
        Self {
            muted: remote.muted,
            deaf: remote.deaf,
            video_muted: remote.video_muted,
            volume_in: remote.volume_in,
            volume_out: remote.volume_out,
            ..Self::default()
        }
    }
}

/// What one Tessera node tells another over a leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LegMessage {
    /// Everything on the sender's side of the leg, replacing what it said before.
    Side {
        /// Increases with every side the sender sends on this leg.
        seq: u64,
        /// The sender's side of the tree (the sender included).
        tree: BTreeSet<NodeId>,
        people: Vec<Person>,
    },
    /// Changes a person's controls on its home node.
    Control {
        node: NodeId,
        member: MemberId,
        change: RemoteControl,
    },
    /// Ends a person's call on its home node.
    Kick { node: NodeId, member: MemberId },
}

/// Why a body is not a leg message.
#[derive(Debug, thiserror::Error)]
pub enum LegMessageError {
    #[error("the body has {0} bytes, more than {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("a side lists {0} people, more than {MAX_PEOPLE}")]
    TooManyPeople(usize),
}

impl LegMessage {
    /// Reads a body, with names and URIs cut to a sane length.
    pub fn parse(body: &[u8]) -> Result<Self, LegMessageError> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(LegMessageError::TooLarge(body.len()));
        }
        let mut message: Self = serde_json::from_slice(body)?;
        if let Self::Side { people, .. } = &mut message {
            if people.len() > MAX_PEOPLE {
                return Err(LegMessageError::TooManyPeople(people.len()));
            }
            for person in people {
                truncate(&mut person.name);
                truncate(&mut person.uri);
            }
        }
        Ok(message)
    }

    pub fn to_body(&self) -> Vec<u8> {
        // A message of plain data always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn truncate(text: &mut String) {
    if let Some((at, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(at);
    }
}

/// A far person as this node knows it: the member id it goes by here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarPerson {
    /// Its id in this node's API (from the same counter as local members).
    pub alias: MemberId,
    pub person: Person,
    /// When this node first heard of it.
    pub joined_at: Timestamp,
}

/// A change in what a leg reaches, to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterChange {
    Joined(FarPerson),
    Left(FarPerson),
    /// Started (`true`) or stopped talking.
    Talking(FarPerson, bool),
}

/// What a leg last heard of its far side.
#[derive(Debug, Clone, Default)]
pub struct FarSide {
    seq: u64,
    pub tree: BTreeSet<NodeId>,
    pub people: Vec<FarPerson>,
}

impl FarSide {
    /// Takes a side the leg heard at `now` (ignored, `None`, if older than the last one);
    /// new people get an alias from `alias`.
    pub fn apply(
        &mut self,
        seq: u64,
        tree: BTreeSet<NodeId>,
        people: Vec<Person>,
        now: Timestamp,
        mut alias: impl FnMut() -> MemberId,
    ) -> Option<Vec<RosterChange>> {
        if seq <= self.seq {
            return None;
        }
        self.seq = seq;
        self.tree = tree;
        let mut changes = Vec::new();
        let mut next = Vec::with_capacity(people.len());
        for person in people {
            let key = (&person.node, person.member);
            if next
                .iter()
                .any(|f: &FarPerson| (&f.person.node, f.person.member) == key)
            {
                continue; // listed twice
            }
            let known = self
                .people
                .iter()
                .position(|f| (&f.person.node, f.person.member) == key);
            let far = match known {
                Some(i) => {
                    let before = self.people.swap_remove(i);
                    if before.person.talking != person.talking {
                        let far = FarPerson {
                            person: person.clone(),
                            ..before.clone()
                        };
                        changes.push(RosterChange::Talking(far, person.talking));
                    }
                    FarPerson { person, ..before }
                }
                None => {
                    let far = FarPerson {
                        alias: alias(),
                        person,
                        joined_at: now,
                    };
                    changes.push(RosterChange::Joined(far.clone()));
                    if far.person.talking {
                        changes.push(RosterChange::Talking(far.clone(), true));
                    }
                    far
                }
            };
            next.push(far);
        }
        changes.extend(self.people.drain(..).map(RosterChange::Left));
        self.people = next;
        Some(changes)
    }

    /// Everybody it reached, as departures (the leg went down).
    pub fn clear(&mut self) -> Vec<RosterChange> {
        self.tree.clear();
        self.people.drain(..).map(RosterChange::Left).collect()
    }

    pub fn by_alias(&self, alias: MemberId) -> Option<&FarPerson> {
        self.people.iter().find(|f| f.alias == alias)
    }

    /// Whether `node`'s person `member` is reached over this leg.
    pub fn reaches(&self, node: &NodeId, member: MemberId) -> bool {
        self.people
            .iter()
            .any(|f| &f.person.node == node && f.person.member == member)
    }
}

/// What this node last told a leg, to send only what changed.
#[derive(Debug, Clone, Default)]
pub struct NearSide {
    pub seq: u64,
    pub said: Option<(BTreeSet<NodeId>, Vec<Person>)>,
    pub at: Option<std::time::Instant>,
}

impl NearSide {
    /// Whether `tree` and `people` differ from what was said.
    pub fn differs(&self, tree: &BTreeSet<NodeId>, people: &[Person]) -> bool {
        self.said
            .as_ref()
            .is_none_or(|(t, p)| t != tree || p != people)
    }

    /// The side message saying `tree` and `people`, remembered as said at `now`.
    pub fn say(
        &mut self,
        tree: BTreeSet<NodeId>,
        people: Vec<Person>,
        now: std::time::Instant,
    ) -> LegMessage {
        self.seq += 1;
        self.at = Some(now);
        self.said = Some((tree.clone(), people.clone()));
        LegMessage::Side {
            seq: self.seq,
            tree,
            people,
        }
    }
}

/// The roster state of one leg: what it heard and what it said.
#[derive(Debug, Clone, Default)]
pub struct LegRoster {
    pub far: FarSide,
    pub near: NearSide,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp(std::time::SystemTime::UNIX_EPOCH)
    }

    fn node(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    fn person(n: &str, member: MemberId, talking: bool) -> Person {
        Person {
            node: node(n),
            member,
            name: format!("{n}-{member}"),
            uri: String::new(),
            video: false,
            talking,
            muted: false,
            deaf: false,
            video_muted: false,
        }
    }

    fn kinds(changes: &[RosterChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                RosterChange::Joined(f) => format!("joined {}", f.person.name),
                RosterChange::Left(f) => format!("left {}", f.person.name),
                RosterChange::Talking(f, t) => format!("talking {} {t}", f.person.name),
            })
            .collect()
    }

    #[test]
    fn sides_become_joins_departures_and_talk_changes_with_stable_aliases() {
        let mut next = 100;
        let mut alias = || {
            next += 1;
            next
        };
        let mut far = FarSide::default();
        let tree: BTreeSet<NodeId> = [node("b")].into();
        let first = far
            .apply(
                1,
                tree.clone(),
                vec![person("b", 1, false), person("b", 2, true)],
                t0(),
                &mut alias,
            )
            .unwrap();
        assert_eq!(
            kinds(&first),
            ["joined b-1", "joined b-2", "talking b-2 true"]
        );
        let b1 = far.people[0].alias;
        let second = far
            .apply(
                2,
                tree.clone(),
                vec![person("b", 1, true), person("c", 1, false)],
                t0(),
                &mut alias,
            )
            .unwrap();
        assert_eq!(
            kinds(&second),
            ["talking b-1 true", "joined c-1", "left b-2"]
        );
        assert_eq!(far.people[0].alias, b1, "a known person keeps its alias");
        assert!(far.reaches(&node("c"), 1) && !far.reaches(&node("b"), 2));
        // A late side changes nothing.
        assert!(far.apply(1, tree, vec![], t0(), &mut alias).is_none());
        assert_eq!(far.people.len(), 2);
        assert_eq!(kinds(&far.clear()), ["left b-1", "left c-1"]);
    }

    #[test]
    fn a_person_listed_twice_is_one_person() {
        let mut far = FarSide::default();
        let mut n = 0;
        let changes = far
            .apply(
                1,
                BTreeSet::new(),
                vec![person("b", 1, false); 2],
                t0(),
                || {
                    n += 1;
                    n
                },
            )
            .unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(far.people.len(), 1);
    }

    #[test]
    fn messages_round_trip_and_bad_bodies_are_refused() {
        let side = LegMessage::Side {
            seq: 3,
            tree: [node("a"), node("b")].into(),
            people: vec![person("a", 7, true)],
        };
        assert_eq!(LegMessage::parse(&side.to_body()).unwrap(), side);
        let kick = LegMessage::Kick {
            node: node("a"),
            member: 7,
        };
        let body = String::from_utf8(kick.to_body()).unwrap();
        assert_eq!(body, r#"{"type":"kick","node":"a","member":7}"#);
        for bad in [
            &b"not json"[..],
            br#"{"type":"side","seq":1,"tree":["a,b"],"people":[]}"#,
            br#"{"type":"shout"}"#,
            br#"{"type":"kick","node":"a","member":-1}"#,
        ] {
            assert!(
                LegMessage::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let huge = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            LegMessage::parse(&huge),
            Err(LegMessageError::TooLarge(_))
        ));
        let crowd = LegMessage::Side {
            seq: 1,
            tree: BTreeSet::new(),
            people: vec![person("a", 1, false); MAX_PEOPLE + 1],
        };
        assert!(matches!(
            LegMessage::parse(&crowd.to_body()),
            Err(LegMessageError::TooManyPeople(_))
        ));
    }

    #[test]
    fn long_names_are_cut() {
        let mut p = person("a", 1, false);
        p.name = "é".repeat(1000);
        let side = LegMessage::Side {
            seq: 1,
            tree: BTreeSet::new(),
            people: vec![p],
        };
        let LegMessage::Side { people, .. } = LegMessage::parse(&side.to_body()).unwrap() else {
            panic!("not a side");
        };
        assert_eq!(people[0].name.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn only_controls_of_the_person_itself_cross_a_leg() {
        let mute = MemberControl {
            muted: Some(true),
            volume_in: Some(-3),
            ..MemberControl::default()
        };
        let remote = RemoteControl::try_from(&mute).unwrap();
        assert_eq!(MemberControl::from(&remote), mute);
        let canvas = MemberControl {
            muted: Some(true),
            canvas: Some(Some(1)),
            ..MemberControl::default()
        };
        assert_eq!(RemoteControl::try_from(&canvas), Err(NotRemoteControl));
    }

    #[test]
    fn the_near_side_is_said_again_only_when_it_changed() {
        let mut near = NearSide::default();
        let tree: BTreeSet<NodeId> = [node("a")].into();
        let people = vec![person("a", 1, false)];
        assert!(near.differs(&tree, &people));
        let now = std::time::Instant::now();
        let LegMessage::Side { seq, .. } = near.say(tree.clone(), people.clone(), now) else {
            panic!("not a side");
        };
        assert_eq!(seq, 1);
        assert!(!near.differs(&tree, &people));
        assert!(near.differs(&tree, &[person("a", 1, true)]));
    }
}
