//! Typed requests into the call engine from outside its task (the HTTP control API, tests):
//! the engine answers each over a oneshot channel; nothing here knows HTTP.

pub use super::engine::dial_out::DialRequest;
pub use crate::cascade::CascadeLeg;

use super::roster::{CallInfo, FarMember, RoomInfo, RoomPatch, RoomReport};
/// An operator's cascade leg to another conference server.
pub use crate::cascade::LegRequest as CascadeRequest;
use crate::conference::canvas::CanvasConfig;
use crate::conference::canvas_control::CanvasChange;
use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::conference::room::{RoomId, RoomSnapshot};
use crate::media::video::frame::I420Frame;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// A reply channel for a request that can be refused.
pub type Reply<T> = oneshot::Sender<Result<T, ControlError>>;

/// A question or command for the engine.
#[derive(Debug)]
pub enum ControlRequest {
    /// Every room, with its calls and a pending media snapshot.
    Rooms(oneshot::Sender<Vec<RoomReport>>),
    Room(RoomId, oneshot::Sender<Option<RoomReport>>),
    CallCount(oneshot::Sender<usize>),
    /// Creates a room that stays until deleted (or updates one); answers whether it is new.
    PutRoom {
        room: RoomId,
        patch: RoomPatch,
        reply: Reply<bool>,
    },
    /// Changes a room's policy (locked, PIN, capacity).
    PatchRoom {
        room: RoomId,
        patch: RoomPatch,
        reply: Reply<RoomInfo>,
    },
    /// Ends every call of a room with BYE and forgets the room.
    DeleteRoom {
        room: RoomId,
        reply: Reply<()>,
    },
    /// Mute, unmute, deafen, undeafen a member.
    ControlMember {
        room: RoomId,
        member: MemberId,
        change: MemberControl,
        reply: Reply<()>,
    },
    /// Ends a member's call with BYE.
    Kick {
        room: RoomId,
        member: MemberId,
        reply: Reply<()>,
    },
    /// Changes a canvas (settings, forced floor), adds one or removes one; answers the
    /// (0-based) canvas changed or added.
    ChangeCanvases {
        room: RoomId,
        change: CanvasChange,
        reply: Reply<usize>,
    },
    /// Composes a canvas (0-based) now; answers a receiver for the picture.
    CanvasPicture {
        room: RoomId,
        canvas: usize,
        reply: Reply<oneshot::Receiver<Option<I420Frame>>>,
    },
    /// Calls `request.uri` into `room`; answers the dial's id.
    Dial {
        room: RoomId,
        request: DialRequest,
        reply: Reply<String>,
    },
    /// Starts a cascade leg from a room; answers the leg.
    StartCascade {
        room: RoomId,
        request: CascadeRequest,
        reply: Reply<CascadeLeg>,
    },
    /// The cascade legs of a room.
    Cascades {
        room: RoomId,
        reply: Reply<Vec<CascadeLeg>>,
    },
    /// Ends a cascade leg (BYE, or CANCEL while it rings).
    DeleteCascade {
        room: RoomId,
        leg: String,
        reply: Reply<()>,
    },
    /// CANCELs a dial not answered yet.
    CancelDial {
        dial: String,
        reply: Reply<()>,
    },
    /// Mutes or unmutes every participant but `except`; answers who was changed.
    MuteAll {
        room: RoomId,
        muted: bool,
        except: Vec<MemberId>,
        reply: Reply<Vec<MemberId>>,
    },
}

impl std::fmt::Debug for RoomReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomReport")
            .field("room", &self.room)
            .field("calls", &self.calls.len())
            .finish()
    }
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    #[error("no room {0}")]
    UnknownRoom(RoomId),
    #[error("no member {member} in room {room}")]
    UnknownMember { room: RoomId, member: MemberId },
    #[error("room ids are [A-Za-z0-9_.-]{{1,64}}")]
    InvalidRoomId,
    #[error("room {room} has no canvas {canvas}")]
    UnknownCanvas { room: RoomId, canvas: usize },
    #[error("room {0} has no media running (no members)")]
    NoMedia(RoomId),
    #[error("no pending dial {0}")]
    UnknownDial(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the server is not answering")]
    Unavailable,
    #[error("no RTP ports free")]
    NoPorts,
    #[error("{0}")]
    Conflict(String),
    #[error("no cascade leg {0}")]
    UnknownCascade(String),
}

/// A room with its media state collected.
#[derive(Debug)]
pub struct RoomState {
    pub room: RoomId,
    pub info: RoomInfo,
    pub calls: Vec<CallInfo>,
    /// People on other nodes, reached over its cascade legs.
    pub far: Vec<FarMember>,
    /// Its canvases' settings.
    pub canvases: Vec<CanvasConfig>,
    /// The media thread's view (absent while the room has no media running).
    pub live: Option<RoomSnapshot>,
}

impl RoomState {
    async fn collect(report: RoomReport) -> Self {
        let live = match report.live {
            Some(rx) => rx.await.ok().flatten(),
            None => None,
        };
        Self {
            room: report.room,
            info: report.info,
            calls: report.calls,
            far: report.far,
            canvases: report.canvases,
            live,
        }
    }
}

/// Cloneable client side of the control channel.
#[derive(Debug, Clone)]
pub struct ControlClient(pub(super) mpsc::Sender<ControlRequest>);

impl ControlClient {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> ControlRequest) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.0.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> ControlRequest,
    ) -> Result<T, ControlError> {
        self.ask(make)
            .await
            .unwrap_or(Err(ControlError::Unavailable))
    }

    /// Every room with its calls and media state.
    pub async fn rooms(&self) -> Result<Vec<RoomState>, ControlError> {
        let reports = self
            .ask(ControlRequest::Rooms)
            .await
            .ok_or(ControlError::Unavailable)?;
        let mut rooms = Vec::with_capacity(reports.len());
        for report in reports {
            rooms.push(RoomState::collect(report).await);
        }
        Ok(rooms)
    }

    /// One room with its calls and media state.
    pub async fn room_state(&self, room: &str) -> Result<RoomState, ControlError> {
        let report = self
            .ask(|tx| ControlRequest::Room(room.to_string(), tx))
            .await
            .ok_or(ControlError::Unavailable)?
            .ok_or_else(|| ControlError::UnknownRoom(room.to_string()))?;
        Ok(RoomState::collect(report).await)
    }

    /// Ids of the rooms that exist now.
    pub async fn room_ids(&self) -> Vec<RoomId> {
        self.ask(ControlRequest::Rooms)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.room)
            .collect()
    }

    /// A room's members and counters, while its media runs.
    pub async fn room(&self, id: &str) -> Option<RoomSnapshot> {
        self.room_state(id).await.ok().and_then(|r| r.live)
    }

    /// Calls the engine is tracking (including ones still hanging up).
    pub async fn call_count(&self) -> usize {
        self.ask(ControlRequest::CallCount).await.unwrap_or(0)
    }

    /// Creates (or updates) a room that stays until deleted; true when it is new.
    pub async fn put_room(&self, room: &str, patch: RoomPatch) -> Result<bool, ControlError> {
        self.command(|reply| ControlRequest::PutRoom {
            room: room.to_string(),
            patch,
            reply,
        })
        .await
    }

    /// Changes a room's policy.
    pub async fn patch_room(&self, room: &str, patch: RoomPatch) -> Result<RoomInfo, ControlError> {
        self.command(|reply| ControlRequest::PatchRoom {
            room: room.to_string(),
            patch,
            reply,
        })
        .await
    }

    /// Ends a room's calls with BYE and forgets it.
    pub async fn delete_room(&self, room: &str) -> Result<(), ControlError> {
        self.command(|reply| ControlRequest::DeleteRoom {
            room: room.to_string(),
            reply,
        })
        .await
    }

    /// Changes a member's controls (muted, deaf, video_muted).
    pub async fn control_member(
        &self,
        room: &str,
        member: MemberId,
        change: MemberControl,
    ) -> Result<(), ControlError> {
        self.command(|reply| ControlRequest::ControlMember {
            room: room.to_string(),
            member,
            change,
            reply,
        })
        .await
    }

    /// Ends a member's call with BYE.
    pub async fn kick(&self, room: &str, member: MemberId) -> Result<(), ControlError> {
        self.command(|reply| ControlRequest::Kick {
            room: room.to_string(),
            member,
            reply,
        })
        .await
    }

    /// Changes canvas `canvas` (0-based) of `room`.
    pub async fn start_cascade(
        &self,
        room: &str,
        request: CascadeRequest,
    ) -> Result<CascadeLeg, ControlError> {
        self.command(|reply| ControlRequest::StartCascade {
            room: room.to_string(),
            request,
            reply,
        })
        .await
    }

    pub async fn cascades(&self, room: &str) -> Result<Vec<CascadeLeg>, ControlError> {
        self.command(|reply| ControlRequest::Cascades {
            room: room.to_string(),
            reply,
        })
        .await
    }

    pub async fn delete_cascade(&self, room: &str, leg: &str) -> Result<(), ControlError> {
        self.command(|reply| ControlRequest::DeleteCascade {
            room: room.to_string(),
            leg: leg.to_string(),
            reply,
        })
        .await
    }

    pub async fn change_canvases(
        &self,
        room: &str,
        change: CanvasChange,
    ) -> Result<usize, ControlError> {
        self.command(|reply| ControlRequest::ChangeCanvases {
            room: room.to_string(),
            change,
            reply,
        })
        .await
    }

    /// Canvas `canvas` (0-based) of `room` composed now.
    pub async fn canvas_picture(
        &self,
        room: &str,
        canvas: usize,
    ) -> Result<I420Frame, ControlError> {
        let rx = self
            .command(|reply| ControlRequest::CanvasPicture {
                room: room.to_string(),
                canvas,
                reply,
            })
            .await?;
        rx.await
            .ok()
            .flatten()
            .ok_or_else(|| ControlError::NoMedia(room.to_string()))
    }

    /// Calls `request.uri` into `room`; progress arrives as `dial-progress` events.
    pub async fn dial(&self, room: &str, request: DialRequest) -> Result<String, ControlError> {
        self.command(|reply| ControlRequest::Dial {
            room: room.to_string(),
            request,
            reply,
        })
        .await
    }

    /// CANCELs a dial that is not answered yet.
    pub async fn cancel_dial(&self, dial: &str) -> Result<(), ControlError> {
        self.command(|reply| ControlRequest::CancelDial {
            dial: dial.to_string(),
            reply,
        })
        .await
    }

    /// Mutes or unmutes every participant of `room` but `except`.
    pub async fn mute_all(
        &self,
        room: &str,
        muted: bool,
        except: Vec<MemberId>,
    ) -> Result<Vec<MemberId>, ControlError> {
        self.command(|reply| ControlRequest::MuteAll {
            room: room.to_string(),
            muted,
            except,
            reply,
        })
        .await
    }
}
