//! The JSON the API answers with: rooms, members and canvases as operators see them, merged
//! from what signalling knows (names, URIs, policy) and what the room's media thread reports
//! (talking, levels, controls, tiles). Canvas numbers are 1-based, as in the SIP headers.

use crate::cascade::NodeId;
use crate::conference::member::{MemberId, MemberSnapshot};
use crate::conference::member_control::Role;
use crate::conference::room::TileSnapshot;
use crate::server::control::RoomState;
use crate::server::roster::{CallInfo, FarMember, MemberKind};
use crate::server::wall_clock::Timestamp;
use serde::Serialize;

/// A room in `GET /v1/rooms`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoomView {
    pub room: String,
    /// People in the room (cascade legs not counted).
    pub members: usize,
    pub canvases: usize,
    pub locked: bool,
    pub pin_required: bool,
    pub max_members: Option<usize>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Created by the API (stays until deleted).
    pub persistent: bool,
    /// Members talking now.
    pub talkers: usize,
    /// The member holding the video floor.
    pub floor: Option<MemberId>,
}

impl RoomView {
    pub fn new(state: &RoomState) -> Self {
        Self {
            room: state.room.clone(),
            members: state
                .calls
                .iter()
                .filter(|c| c.kind != MemberKind::Cascade)
                .count(),
            canvases: state.canvases.len(),
            locked: state.info.locked,
            pin_required: state.info.pin_required,
            max_members: state.info.max_members,
            created_at: state.info.created_at,
            persistent: state.info.persistent,
            talkers: state.live.as_ref().map_or(0, |l| l.talkers),
            floor: state.live.as_ref().and_then(|l| l.floor),
        }
    }
}

/// A member in `GET /v1/rooms/{room}/members`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: MemberId,
    pub name: String,
    pub uri: String,
    pub call_id: String,
    pub kind: MemberKind,
    pub role: Role,
    pub audio_codec: String,
    pub video: bool,
    /// The canvas showing it (none: on no canvas).
    pub canvas: Option<usize>,
    /// The canvas it watches (none: no video).
    pub watching_canvas: Option<usize>,
    pub muted: bool,
    pub deaf: bool,
    pub video_muted: bool,
    /// Typing the room's PIN: not in the mix yet.
    pub awaiting_pin: bool,
    pub talking: bool,
    /// Its voice is in the mix: it talks and is among the room's loudest
    /// (`[audio] max_mixed_talkers`).
    pub mixed: bool,
    pub level_dbov: f32,
    /// Holds the floor of the room's canvases.
    pub floor: bool,
    /// Its reserved layout slot (1-based).
    pub slot: Option<usize>,
    pub banner: Option<String>,
    pub volume_in: i8,
    pub volume_out: i8,
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: Timestamp,
    /// Where its signalling comes from (`udp:1.2.3.4:5060`; `cascade:LEG` for a far person).
    pub source: String,
    /// The user it authenticated as (`[sip.auth]`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A far person's home node (kind `remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub node: Option<NodeId>,
    /// The cascade leg a far person is reached by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl MemberView {
    fn new(call: &CallInfo, live: Option<&MemberSnapshot>, floor: Option<MemberId>) -> Self {
        Self {
            id: call.id,
            name: call.name.clone(),
            uri: call.uri.clone(),
            call_id: call.call_id.clone(),
            kind: call.kind,
            role: call.role,
            audio_codec: call.audio_codec.clone(),
            video: call.video,
            canvas: live.and_then(|m| m.canvas),
            watching_canvas: live.and_then(|m| m.video.as_ref().map(|v| v.watching_canvas)),
            muted: live.is_some_and(|m| m.muted),
            deaf: live.is_some_and(|m| m.deaf),
            video_muted: live.is_some_and(|m| m.video_muted),
            awaiting_pin: live.is_some_and(|m| m.awaiting_pin),
            talking: live.is_some_and(|m| m.talking),
            mixed: live.is_some_and(|m| m.mixed),
            level_dbov: live.map_or(-120.0, |m| (m.level_dbov * 10.0).round() / 10.0),
            floor: floor == Some(call.id),
            slot: live.and_then(|m| m.slot),
            banner: live.and_then(|m| m.banner.clone()),
            volume_in: live.map_or(0, |m| m.volume_in),
            volume_out: live.map_or(0, |m| m.volume_out),
            joined_at: call.joined_at,
            source: call.source.clone(),
            user: call.user.clone(),
            node: call.node.clone(),
            via: call.via.clone(),
        }
    }

    /// A far person, as the leg reaching it last heard.
    fn far(far: &FarMember) -> Self {
        Self {
            talking: far.talking,
            muted: far.muted,
            deaf: far.deaf,
            video_muted: far.video_muted,
            ..Self::new(&far.info, None, None)
        }
    }

    /// Every member of `state`, ordered by id: its own, then the far people of its cascade.
    pub fn all(state: &RoomState) -> Vec<Self> {
        let floor = state.live.as_ref().and_then(|l| l.floor);
        let own = state.calls.iter().map(|call| {
            let live = state
                .live
                .as_ref()
                .and_then(|l| l.members.iter().find(|m| m.id == call.id));
            Self::new(call, live, floor)
        });
        own.chain(state.far.iter().map(Self::far)).collect()
    }
}

/// A canvas in `GET /v1/rooms/{room}/canvases`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CanvasView {
    pub id: usize,
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    pub bitrate: u32,
    pub layout: String,
    pub banners: bool,
    /// Members placed on it, in the last composition.
    pub members: Vec<MemberId>,
    /// Where each was drawn (pixels).
    pub tiles: Vec<TileSnapshot>,
    /// Members watching it.
    pub watchers: Vec<MemberId>,
    pub floor: Option<MemberId>,
    /// An operator holds the floor member there.
    pub floor_forced: bool,
}

impl CanvasView {
    /// The room's canvases (configured) with what the last composition placed on them.
    pub fn all(state: &RoomState) -> Vec<Self> {
        state
            .canvases
            .iter()
            .enumerate()
            .map(|(i, config)| {
                let id = i + 1;
                let live = state.live.as_ref();
                let composed = live.and_then(|l| l.canvases.iter().find(|c| c.canvas == id));
                let tiles = composed.map(|c| c.tiles.clone()).unwrap_or_default();
                let members = tiles.iter().map(|t| t.member).collect();
                let watchers = live
                    .map(|l| {
                        l.members
                            .iter()
                            .filter(|m| m.video.as_ref().is_some_and(|v| v.watching_canvas == id))
                            .map(|m| m.id)
                            .collect()
                    })
                    .unwrap_or_default();
                Self {
                    id,
                    width: config.width,
                    height: config.height,
                    fps: config.fps,
                    bitrate: config.bitrate_bps,
                    layout: config.layout.clone(),
                    banners: config.banners,
                    members,
                    tiles,
                    watchers,
                    floor: composed.and_then(|c| c.floor),
                    floor_forced: composed.is_some_and(|c| c.floor_forced),
                }
            })
            .collect()
    }
}
