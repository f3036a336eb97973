//! Who is where, as signalling knows it: each call's identity (name, URI, kind, when it
//! joined) and each room's admission policy (locked, PIN, capacity). The control API merges
//! these with the room's own live state ([`RoomSnapshot`]: talking, controls, canvases).

use super::wall_clock::Timestamp;
use crate::cascade::NodeId;
use crate::conference::canvas::CanvasConfig;
use crate::conference::member::MemberId;
use crate::conference::member_control::Role;
use crate::conference::room::{RoomId, RoomSnapshot};
use serde::Serialize;
use tokio::sync::oneshot;

/// What kind of call a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    /// Dialled in.
    Member,
    /// Called out by the server.
    Dialout,
    /// A leg to another conference server.
    Cascade,
    /// A person at home on another Tessera node of the cascade (the roster).
    Remote,
}

/// A call as signalling knows it.
#[derive(Debug, Clone, Serialize)]
pub struct CallInfo {
    pub id: MemberId,
    /// From display name, else its user part.
    pub name: String,
    /// The caller's From URI.
    pub uri: String,
    pub call_id: String,
    pub kind: MemberKind,
    pub role: Role,
    pub audio_codec: String,
    /// Whether the call negotiated video.
    pub video: bool,
    /// Where its signalling came from (`udp:1.2.3.4:5060`; `cascade:LEG` for a far person).
    pub source: String,
    /// The user it authenticated as (`[sip.auth]`), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub joined_at: Timestamp,
    /// A far person's home node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// The leg a far person is reached by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// A far person of the cascade roster, as the leg reaching it last heard.
#[derive(Debug, Clone)]
pub struct FarMember {
    pub info: CallInfo,
    pub talking: bool,
    pub muted: bool,
    pub deaf: bool,
    pub video_muted: bool,
}

/// How a room admits callers.
#[derive(Debug, Clone)]
pub struct RoomPolicy {
    pub locked: bool,
    pub pin: Option<String>,
    /// People (not cascade legs) the room admits.
    pub max_members: Option<usize>,
    pub created_at: Timestamp,
    /// Created by the API: stays until deleted, even when empty.
    pub persistent: bool,
    /// The room's canvases as operators set them (the server's defaults at first); a room's
    /// media starts with these.
    pub canvases: Vec<CanvasConfig>,
}

impl RoomPolicy {
    pub fn new(created_at: Timestamp, persistent: bool, canvases: Vec<CanvasConfig>) -> Self {
        Self {
            locked: false,
            pin: None,
            max_members: None,
            created_at,
            persistent,
            canvases,
        }
    }

    /// What the API shows of the policy (never the PIN itself).
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            locked: self.locked,
            pin_required: self.pin.is_some(),
            max_members: self.max_members,
            created_at: self.created_at,
            persistent: self.persistent,
        }
    }
}

/// The public part of a room's policy.
#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    pub locked: bool,
    pub pin_required: bool,
    pub max_members: Option<usize>,
    pub created_at: Timestamp,
    pub persistent: bool,
}

/// A change to a room's policy; `pin: Some(None)` clears the PIN.
#[derive(Debug, Clone, Default)]
pub struct RoomPatch {
    pub locked: Option<bool>,
    pub pin: Option<Option<String>>,
    pub max_members: Option<Option<usize>>,
    /// The room's canvases (only while its media is not running).
    pub canvases: Option<Vec<CanvasConfig>>,
}

impl RoomPolicy {
    pub fn apply(&mut self, patch: &RoomPatch) {
        if let Some(locked) = patch.locked {
            self.locked = locked;
        }
        if let Some(pin) = &patch.pin {
            self.pin = pin.clone();
        }
        if let Some(max) = patch.max_members {
            self.max_members = max;
        }
        if let Some(canvases) = &patch.canvases {
            self.canvases = canvases.clone();
        }
    }
}

/// A room as the engine answers for it: policy, calls, and (when its media is running) a
/// receiver for the media thread's snapshot, answered between ticks.
pub struct RoomReport {
    pub room: RoomId,
    pub info: RoomInfo,
    pub canvases: Vec<CanvasConfig>,
    pub calls: Vec<CallInfo>,
    /// People on other nodes, reached over the room's cascade legs.
    pub far: Vec<FarMember>,
    pub live: Option<oneshot::Receiver<Option<RoomSnapshot>>>,
}
