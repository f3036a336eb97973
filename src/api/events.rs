//! `GET /v1/events`: the event stream as Server-Sent Events. Each event's `id:` is its
//! server-wide sequence number and its data the JSON of the event (`seq`, `time`, `type`,
//! `room`, …). A new connection starts with a `snapshot` of every room (members, canvases);
//! `Last-Event-ID` resumes from the bus's ring of recent events instead, or gets a fresh
//! snapshot when those are gone. A client that falls behind gets a new snapshot, never a
//! silent gap; publishing never waits for a client.

use super::views::{CanvasView, MemberView, RoomView};
use super::ApiState;
use crate::server::event_bus::Event;
use crate::server::wall_clock::Timestamp;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::broadcast::{self, error::RecvError};

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Only this room's events (and only it in snapshots).
    room: Option<String>,
}

/// One room in a `snapshot` event.
#[derive(Debug, Serialize)]
struct SnapshotRoom {
    room: String,
    summary: RoomView,
    members: Vec<MemberView>,
    canvases: Vec<CanvasView>,
}

#[derive(Debug, Serialize)]
struct Snapshot {
    /// The last event the snapshot includes.
    seq: u64,
    time: Timestamp,
    #[serde(rename = "type")]
    kind: &'static str,
    rooms: Vec<SnapshotRoom>,
}

/// What one connection still has to send.
struct Feed {
    api: Arc<ApiState>,
    room: Option<String>,
    receiver: broadcast::Receiver<Arc<Event>>,
    replay: VecDeque<Arc<Event>>,
    needs_snapshot: bool,
    /// Events up to this one are in the snapshot already sent.
    sent_through: u64,
}

impl Feed {
    fn wanted(&self, event: &Event) -> bool {
        event.seq > self.sent_through
            && self.room.as_deref().is_none_or(|r| r == event.event.room())
    }

    async fn snapshot(&mut self) -> SseEvent {
        let seq = self.api.events.last_seq();
        self.sent_through = seq;
        let rooms = self.api.control.rooms().await.unwrap_or_default();
        let rooms = rooms
            .iter()
            .filter(|r| self.room.as_deref().is_none_or(|want| want == r.room))
            .map(|r| SnapshotRoom {
                room: r.room.clone(),
                summary: RoomView::new(r),
                members: MemberView::all(r),
                canvases: CanvasView::all(r),
            })
            .collect();
        let snapshot = Snapshot {
            seq,
            time: Timestamp(SystemTime::now()),
            kind: "snapshot",
            rooms,
        };
        sse(seq, &snapshot)
    }

    async fn next(mut self) -> Option<(SseEvent, Self)> {
        loop {
            if let Some(event) = self.replay.pop_front() {
                if self.wanted(&event) {
                    self.sent_through = event.seq;
                    return Some((sse(event.seq, &*event), self));
                }
                continue;
            }
            if self.needs_snapshot {
                self.needs_snapshot = false;
                let event = self.snapshot().await;
                return Some((event, self));
            }
            match self.receiver.recv().await {
                Ok(event) if self.wanted(&event) => {
                    self.sent_through = event.seq;
                    return Some((sse(event.seq, &*event), self));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(
                        missed,
                        "event stream client fell behind; resending snapshot"
                    );
                    self.needs_snapshot = true;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn sse(seq: u64, data: &impl Serialize) -> SseEvent {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_string());
    SseEvent::default().id(seq.to_string()).data(json)
}

#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(("room" = Option<String>, Query, description = "only this room's events"), ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event")),
    responses((status = 200, description = "Server-Sent Events: a snapshot first, then each event as JSON", content_type = "text/event-stream", body = String))
)]
pub async fn stream(
    State(api): State<Arc<ApiState>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let subscription = api.events.subscribe(after);
    let (replay, needs_snapshot) = match subscription.missed {
        Some(missed) => (missed.into(), false),
        None => (VecDeque::new(), true),
    };
    let mut stopping = api.stopping.clone();
    let feed = Feed {
        api,
        room: query.room,
        receiver: subscription.receiver,
        replay,
        needs_snapshot,
        sent_through: after.unwrap_or(subscription.last_seq),
    };
    let events = stream::unfold(feed, Feed::next)
        .map(Ok)
        .take_until(async move {
            let _ = stopping.wait_for(|s| *s).await;
        });
    Sse::new(events).keep_alive(KeepAlive::default())
}
