//! Typed requests into the SIP core from outside its task (tests today, the HTTP control API
//! next): the core answers each over a oneshot channel.

use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::conference::room::{RoomId, RoomSnapshot};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// A question or command for the core.
#[derive(Debug)]
pub enum ControlRequest {
    RoomIds(oneshot::Sender<Vec<RoomId>>),
    Snapshot(RoomId, oneshot::Sender<Option<RoomSnapshot>>),
    CallCount(oneshot::Sender<usize>),
    /// Mute, unmute, deafen, undeafen a member.
    ControlMember {
        room: RoomId,
        member: MemberId,
        change: MemberControl,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// Ends a member's call with BYE.
    Kick {
        room: RoomId,
        member: MemberId,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    #[error("no room {0}")]
    UnknownRoom(RoomId),
    #[error("no member {member} in room {room}")]
    UnknownMember { room: RoomId, member: MemberId },
    #[error("the server is not answering")]
    Unavailable,
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

    /// Ids of the rooms that exist now.
    pub async fn room_ids(&self) -> Vec<RoomId> {
        self.ask(ControlRequest::RoomIds).await.unwrap_or_default()
    }

    /// A room's members and counters, if it exists.
    pub async fn room(&self, id: &str) -> Option<RoomSnapshot> {
        self.ask(|tx| ControlRequest::Snapshot(id.to_string(), tx))
            .await
            .flatten()
    }

    /// Calls the core is tracking (including ones still hanging up).
    pub async fn call_count(&self) -> usize {
        self.ask(ControlRequest::CallCount).await.unwrap_or(0)
    }

    /// Changes a member's controls (muted, deaf).
    pub async fn control_member(
        &self,
        room: &str,
        member: MemberId,
        change: MemberControl,
    ) -> Result<(), ControlError> {
        self.ask(|reply| ControlRequest::ControlMember {
            room: room.to_string(),
            member,
            change,
            reply,
        })
        .await
        .unwrap_or(Err(ControlError::Unavailable))
    }

    /// Ends a member's call with BYE.
    pub async fn kick(&self, room: &str, member: MemberId) -> Result<(), ControlError> {
        self.ask(|reply| ControlRequest::Kick {
            room: room.to_string(),
            member,
            reply,
        })
        .await
        .unwrap_or(Err(ControlError::Unavailable))
    }
}
