//! The cascade legs of a server: per leg its room, peer, direction, state and what it said
//! about the far side of the tree, and the tree arithmetic that keeps the cascade graph a
//! tree. Sans-IO: the call engine owns a [`CascadeLegs`] and tells it what happened.

use super::keepalive::Keepalive;
use super::node_id::NodeId;
use super::roster::LegRoster;
use crate::conference::member::MemberId;
use crate::server::wall_clock::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// Who dialled the leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegDirection {
    /// We dialled the peer.
    Out,
    /// The peer dialled us.
    In,
}

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegState {
    /// The INVITE is on its way.
    Connecting,
    /// Answered: media flows.
    Up,
    /// Ended or refused.
    Down,
}

/// One cascade leg.
#[derive(Debug, Clone)]
pub struct CascadeLeg {
    pub id: String,
    pub room: String,
    /// The peer's URI (out) or the caller's From URI (in).
    pub peer: String,
    pub direction: LegDirection,
    pub state: LegState,
    /// The far node, once it said (a plain SIP peer never does).
    pub remote_node: Option<NodeId>,
    /// The far side of the tree as the far node listed it (its own node included).
    pub remote_tree: BTreeSet<NodeId>,
    /// When it entered its state.
    pub since: Timestamp,
    /// The SIP call carrying it, and the member it is in its room.
    pub call_id: Option<String>,
    pub member: Option<MemberId>,
    /// Why it went down (a SIP status), when it did.
    pub status: Option<u16>,
    /// An outgoing leg that went down is dialled again at `redial.at` (none: it stays down).
    pub redial: Option<Redial>,
    /// How an outgoing leg is dialled.
    pub request: Option<LegRequest>,
    /// Stays up whether or not anybody is in the room (configured so on the dialling side).
    pub permanent: bool,
    /// Between Tessera nodes: what it heard of the far side's people and what it said of ours.
    pub roster: LegRoster,
    /// Between Tessera nodes, while up: the OPTIONS keepalive (and the measured round trip).
    pub keepalive: Option<Keepalive>,
}

/// How an outgoing leg is dialled (again on every redial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRequest {
    /// `sip:ROOM@IP[:port]` (UDP).
    pub uri: String,
    /// 1-based canvas showing the far room (0: on none); default as for callers.
    pub canvas: Option<usize>,
    /// 1-based canvas the far room is sent.
    pub watching_canvas: Option<usize>,
    /// Give up ringing after this long.
    pub timeout: std::time::Duration,
    /// Kept up whether or not anybody is in the room: no idle end, and the room stays.
    pub permanent: bool,
    /// The size and bitrate of the view the leg is sent.
    pub video: crate::conference::view::ViewFormat,
}

/// When and how often a leg that went down is dialled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redial {
    /// Failed attempts since it was last up.
    pub attempts: u32,
    /// When the next attempt goes out (none while one is under way or it is up).
    pub at: Option<std::time::Instant>,
}

/// The wait before redial attempt `attempts` + 1: `first`, doubling, at most `max`.
pub fn backoff(
    attempts: u32,
    first: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    first
        .checked_mul(1u32 << attempts.min(16))
        .unwrap_or(max)
        .min(max)
}

/// Every leg of the server, by id (`cascade-N`).
#[derive(Debug, Default)]
pub struct CascadeLegs {
    legs: BTreeMap<String, CascadeLeg>,
    next: u64,
}

impl CascadeLegs {
    /// A new leg id.
    pub fn next_id(&mut self) -> String {
        self.next += 1;
        format!("cascade-{}", self.next)
    }

    pub fn insert(&mut self, leg: CascadeLeg) {
        self.legs.insert(leg.id.clone(), leg);
    }

    pub fn remove(&mut self, id: &str) -> Option<CascadeLeg> {
        self.legs.remove(id)
    }

    pub fn get(&self, id: &str) -> Option<&CascadeLeg> {
        self.legs.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut CascadeLeg> {
        self.legs.get_mut(id)
    }

    /// The leg carried by SIP call `call_id`.
    pub fn by_call_mut(&mut self, call_id: &str) -> Option<&mut CascadeLeg> {
        self.legs
            .values_mut()
            .find(|l| l.call_id.as_deref() == Some(call_id))
    }

    /// Forgets the legs of a room that ended.
    pub fn forget_room(&mut self, room: &str) {
        self.legs.retain(|_, l| l.room != room);
    }

    /// Every leg.
    pub fn all(&self) -> impl Iterator<Item = &CascadeLeg> {
        self.legs.values()
    }

    /// The legs of `room`, by id.
    pub fn in_room<'a>(&'a self, room: &'a str) -> impl Iterator<Item = &'a CascadeLeg> + 'a {
        self.legs.values().filter(move |l| l.room == room)
    }

    /// Our side of `room`'s tree as seen from across leg `except` (none: from a new leg): this
    /// node and everything the room's other live legs reach.
    pub fn side(&self, room: &str, this: &NodeId, except: Option<&str>) -> BTreeSet<NodeId> {
        let mut tree: BTreeSet<NodeId> = self
            .in_room(room)
            .filter(|l| l.state != LegState::Down && Some(l.id.as_str()) != except)
            .flat_map(|l| l.remote_tree.iter().cloned())
            .collect();
        tree.insert(this.clone());
        tree
    }

    /// Whether a leg whose far side is `their_side` would close a ring in `room`.
    pub fn would_loop(&self, room: &str, this: &NodeId, their_side: &BTreeSet<NodeId>) -> bool {
        !self.side(room, this, None).is_disjoint(their_side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    fn leg(legs: &mut CascadeLegs, room: &str, far: &[&str], state: LegState) -> String {
        let leg_id = legs.next_id();
        legs.insert(CascadeLeg {
            id: leg_id.clone(),
            room: room.to_string(),
            peer: "sip:3000@127.0.0.1".to_string(),
            direction: LegDirection::Out,
            state,
            remote_node: far.first().map(|n| id(n)),
            remote_tree: far.iter().map(|n| id(n)).collect(),
            since: Timestamp(SystemTime::UNIX_EPOCH),
            call_id: None,
            member: None,
            status: None,
            redial: None,
            request: None,
            permanent: false,
            roster: Default::default(),
            keepalive: None,
        });
        leg_id
    }

    #[test]
    fn redials_back_off_exponentially_up_to_the_cap() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<u64> = (0..8).map(|n| backoff(n, first, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX, first, max), max);
    }

    #[test]
    fn a_chain_refuses_the_leg_that_would_close_the_ring() {
        // B, in the middle of A–B–C: one leg reaching A, one reaching C.
        let b = id("b");
        let mut legs = CascadeLegs::default();
        let to_a = leg(&mut legs, "3000", &["a"], LegState::Up);
        leg(&mut legs, "3000", &["c"], LegState::Up);
        assert_eq!(
            legs.side("3000", &b, Some(&to_a)),
            [id("b"), id("c")].into_iter().collect(),
            "what A hears of B's side"
        );
        // Another leg from anything already in the tree is a ring; a new node is not.
        let from_c_side = [id("c"), id("d")].into_iter().collect();
        assert!(legs.would_loop("3000", &b, &from_c_side));
        assert!(legs.would_loop("3000", &b, &[id("b")].into_iter().collect()));
        assert!(!legs.would_loop("3000", &b, &[id("e")].into_iter().collect()));
        // Other rooms and legs that are down do not count.
        assert!(!legs.would_loop("4000", &b, &from_c_side));
        let mut down = CascadeLegs::default();
        leg(&mut down, "3000", &["c"], LegState::Down);
        assert!(!down.would_loop("3000", &b, &from_c_side));
    }
}
