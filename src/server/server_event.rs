//! What happens on the server that operators follow: rooms created and destroyed, members
//! joining, leaving, changing, talking. The call engine produces these; the
//! [event bus](super::event_bus) numbers and broadcasts them (the API's event stream).

use super::roster::{CallInfo, RoomInfo};
use crate::cascade::NodeId;
use crate::conference::canvas_control::CanvasPatch;
use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::conference::room::RoomId;
use serde::Serialize;

/// Why a member left its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaveReason {
    /// The caller hung up.
    Bye,
    /// An operator ended the call.
    Kicked,
    /// No media (or no ACK) within the timeout.
    Timeout,
    /// The room was deleted or failed.
    RoomEnded,
    /// No right PIN by DTMF (three wrong tries, or none in time).
    PinFailed,
    /// The server is stopping.
    Shutdown,
    /// A cascade leg ended because nobody was left on this side ([`crate::config::CascadeConfig`]).
    Idle,
    /// A far person left its home node's room (cascade roster).
    FarSide,
    /// The cascade leg that reached a far person went down.
    LegDown,
}

/// Where a far person of the cascade roster is at home, and the leg it is reached by. Its
/// node is the event's `node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FarOrigin {
    #[serde(skip)]
    pub node: NodeId,
    /// The leg id.
    pub via: String,
}

/// Who changed a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeSource {
    Api,
    Dtmf,
    Server,
    /// An operator on another node of the cascade.
    Cascade,
}

/// Where a dial-out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialState {
    Trying,
    Ringing,
    Answered,
    Failed,
}

/// One event, without its sequence number and time (the bus adds those).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerEvent {
    RoomCreated {
        room: RoomId,
        info: RoomInfo,
    },
    /// Locked, PIN or capacity changed.
    RoomUpdated {
        room: RoomId,
        info: RoomInfo,
    },
    RoomDestroyed {
        room: RoomId,
    },
    MemberJoined {
        room: RoomId,
        member: CallInfo,
    },
    MemberLeft {
        room: RoomId,
        member: MemberId,
        reason: LeaveReason,
        /// A far person's origin.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        far: Option<FarOrigin>,
    },
    MemberUpdated {
        room: RoomId,
        member: MemberId,
        /// The fields that changed, with their new values.
        changes: MemberControl,
        by: ChangeSource,
    },
    TalkingStarted {
        room: RoomId,
        member: MemberId,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        far: Option<FarOrigin>,
    },
    TalkingStopped {
        room: RoomId,
        member: MemberId,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        far: Option<FarOrigin>,
    },
    /// The loudest talker took the floor (`member: null`: its holder left). Floors an operator
    /// forces on a canvas are `canvas-updated` events.
    FloorChanged {
        room: RoomId,
        member: Option<MemberId>,
    },
    /// An operator changed a canvas (settings, or the floor forced or returned to the talkers).
    CanvasUpdated {
        room: RoomId,
        /// 1-based.
        canvas: usize,
        /// The settings changed (layout, width, height, fps, bitrate, banners).
        #[serde(flatten)]
        changes: CanvasPatch,
        /// The forced floor (`null`: back to the loudest talker).
        #[serde(skip_serializing_if = "Option::is_none")]
        floor: Option<Option<MemberId>>,
    },
    /// An operator added a canvas (1-based number).
    CanvasAdded {
        room: RoomId,
        canvas: usize,
    },
    /// An operator removed a canvas: its members and watchers moved to canvas 1, and the
    /// canvases after it moved down one number.
    CanvasRemoved {
        room: RoomId,
        canvas: usize,
    },
    /// A cascade leg came up (its far node, when it said).
    CascadeUp {
        room: RoomId,
        leg: String,
        remote_node: Option<NodeId>,
    },
    /// A cascade leg ended or was refused (`status`: the SIP status, when there was one).
    CascadeDown {
        room: RoomId,
        leg: String,
        status: Option<u16>,
    },
    /// A member pressed a key (RFC 4733).
    Dtmf {
        room: RoomId,
        member: MemberId,
        digit: char,
    },
    DialProgress {
        room: RoomId,
        dial_id: String,
        uri: String,
        state: DialState,
        /// The SIP status (provisional for `ringing`, final for `answered` and `failed`).
        status: Option<u16>,
        /// The member an answered call became.
        member: Option<MemberId>,
    },
}

impl ServerEvent {
    /// The node where it happened, when not this one (a far person's join, departure or
    /// talk).
    pub fn far_node(&self) -> Option<&NodeId> {
        match self {
            Self::MemberJoined { member, .. } => member.node.as_ref(),
            Self::MemberLeft { far, .. }
            | Self::TalkingStarted { far, .. }
            | Self::TalkingStopped { far, .. } => far.as_ref().map(|f| &f.node),
            _ => None,
        }
    }

    /// The room the event concerns.
    pub fn room(&self) -> &str {
        match self {
            Self::RoomCreated { room, .. }
            | Self::RoomUpdated { room, .. }
            | Self::RoomDestroyed { room }
            | Self::MemberJoined { room, .. }
            | Self::MemberLeft { room, .. }
            | Self::MemberUpdated { room, .. }
            | Self::TalkingStarted { room, .. }
            | Self::TalkingStopped { room, .. }
            | Self::FloorChanged { room, .. }
            | Self::DialProgress { room, .. }
            | Self::CanvasUpdated { room, .. }
            | Self::CanvasAdded { room, .. }
            | Self::CascadeUp { room, .. }
            | Self::CascadeDown { room, .. }
            | Self::CanvasRemoved { room, .. }
            | Self::Dtmf { room, .. } => room,
        }
    }
}
