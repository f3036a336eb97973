//! Typed requests into the SIP core from outside its task (tests today, the HTTP control API
//! next): the core answers each over a oneshot channel.

use crate::conference::room::{RoomId, RoomSnapshot};
use tokio::sync::{mpsc, oneshot};

/// A question or command for the core.
#[derive(Debug)]
pub enum ControlRequest {
    RoomIds(oneshot::Sender<Vec<RoomId>>),
    Snapshot(RoomId, oneshot::Sender<Option<RoomSnapshot>>),
    CallCount(oneshot::Sender<usize>),
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
}
