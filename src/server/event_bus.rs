//! The server-wide event stream: every [`ServerEvent`] gets the next sequence number, a
//! wall-clock time and the node it happened on (this one, or a far person's home node), goes into a ring of recent events (so a client can resume with
//! `Last-Event-ID`) and out on a broadcast channel. Publishing never waits: a subscriber that
//! falls more than the channel's capacity behind is told it lagged (and resynchronises from
//! a fresh snapshot) instead of slowing anyone down.

use super::server_event::ServerEvent;
use super::wall_clock::Timestamp;
use crate::cascade::NodeId;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// Events kept for resuming, and the broadcast channel's capacity.
pub const RECENT_EVENTS: usize = 1024;

/// A published event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: u64,
    pub time: Timestamp,
    /// Where it happened.
    pub node: NodeId,
    #[serde(flatten)]
    pub event: ServerEvent,
}

struct Ring {
    next_seq: u64,
    recent: VecDeque<Arc<Event>>,
}

/// Where a new subscriber starts.
pub struct Subscription {
    /// Events after the one the client last saw, when the ring still holds all of them
    /// (`None`: too old or no position given; the client needs a snapshot).
    pub missed: Option<Vec<Arc<Event>>>,
    /// Sequence number of the last event published before subscribing.
    pub last_seq: u64,
    pub receiver: broadcast::Receiver<Arc<Event>>,
}

/// Numbered, broadcast events with a resume buffer. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    ring: Arc<Mutex<Ring>>,
    sender: broadcast::Sender<Arc<Event>>,
    node: NodeId,
}

impl EventBus {
    /// A bus of node `node` whose first event is number 1.
    pub fn new(node: NodeId) -> Self {
        Self::starting_after(0, node)
    }

    /// A bus for a server run that started at `started`: its numbers begin above every
    /// number an earlier run can have issued (milliseconds since 1970, times 1000), so a
    /// `Last-Event-ID` from before a restart gets a snapshot, never someone else's events.
    pub fn for_run(started: SystemTime, node: NodeId) -> Self {
        let millis = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self::starting_after(millis.saturating_mul(1000), node)
    }

    fn starting_after(last: u64, node: NodeId) -> Self {
        let (sender, _) = broadcast::channel(RECENT_EVENTS);
        Self {
            ring: Arc::new(Mutex::new(Ring {
                next_seq: last + 1,
                recent: VecDeque::with_capacity(RECENT_EVENTS),
            })),
            sender,
            node,
        }
    }

    /// Numbers, stores and broadcasts `event`; returns its sequence number.
    pub fn publish(&self, event: ServerEvent, time: SystemTime) -> u64 {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = ring.next_seq;
        ring.next_seq += 1;
        let event = Arc::new(Event {
            seq,
            time: Timestamp(time),
            node: event.far_node().unwrap_or(&self.node).clone(),
            event,
        });
        if ring.recent.len() == RECENT_EVENTS {
            ring.recent.pop_front();
        }
        ring.recent.push_back(event.clone());
        // Sent under the lock, so a subscriber sees each event exactly once: from the ring
        // (published before it subscribed) or from the channel (after).
        let _ = self.sender.send(event);
        seq
    }

    /// Subscribes; with `after` (a `Last-Event-ID`), also returns what was published since.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let last_seq = ring.next_seq - 1;
        let missed = after.and_then(|after| {
            if after > last_seq {
                return None; // from another server run
            }
            let oldest = ring.recent.front().map_or(ring.next_seq, |e| e.seq);
            (after + 1 >= oldest).then(|| {
                ring.recent
                    .iter()
                    .filter(|e| e.seq > after)
                    .cloned()
                    .collect()
            })
        });
        Subscription {
            missed,
            last_seq,
            receiver: self.sender.subscribe(),
        }
    }

    /// Sequence number of the last event published.
    pub fn last_seq(&self) -> u64 {
        self.ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_seq
            - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destroyed(room: &str) -> ServerEvent {
        ServerEvent::RoomDestroyed {
            room: room.to_string(),
        }
    }

    #[test]
    fn events_are_numbered_and_resumable_until_they_leave_the_ring() {
        let bus = EventBus::new(NodeId::parse("test").unwrap());
        for i in 0..10 {
            assert_eq!(
                bus.publish(destroyed(&i.to_string()), SystemTime::now()),
                i + 1
            );
        }
        let sub = bus.subscribe(Some(7));
        let missed: Vec<u64> = sub.missed.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(missed, vec![8, 9, 10]);
        assert_eq!(sub.last_seq, 10);
        assert!(bus.subscribe(Some(10)).missed.unwrap().is_empty());
        assert!(bus.subscribe(Some(11)).missed.is_none(), "a future id");
        assert!(bus.subscribe(None).missed.is_none());
        for i in 0..RECENT_EVENTS {
            bus.publish(destroyed(&i.to_string()), SystemTime::now());
        }
        assert!(
            bus.subscribe(Some(7)).missed.is_none(),
            "fell out of the ring"
        );
        let from = (10 + RECENT_EVENTS - 5) as u64;
        assert_eq!(bus.subscribe(Some(from)).missed.unwrap().len(), 5);
    }

    #[test]
    fn a_later_run_numbers_above_an_earlier_one() {
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let earlier = EventBus::for_run(t0, NodeId::parse("test").unwrap());
        for _ in 0..5000 {
            earlier.publish(destroyed("a"), t0);
        }
        let later = EventBus::for_run(
            t0 + std::time::Duration::from_secs(1),
            NodeId::parse("test").unwrap(),
        );
        later.publish(destroyed("b"), t0);
        assert!(later.last_seq() > earlier.last_seq());
        assert!(
            later.subscribe(Some(earlier.last_seq())).missed.is_none(),
            "an id of the earlier run gets a snapshot"
        );
    }

    #[test]
    fn a_subscriber_gets_later_events_and_a_lagging_one_is_told() {
        let bus = EventBus::new(NodeId::parse("test").unwrap());
        let mut sub = bus.subscribe(None).receiver;
        bus.publish(destroyed("a"), SystemTime::now());
        assert_eq!(sub.try_recv().unwrap().seq, 1);
        for _ in 0..RECENT_EVENTS + 5 {
            bus.publish(destroyed("b"), SystemTime::now());
        }
        assert!(matches!(
            sub.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }

    #[test]
    fn events_serialize_flat_with_their_type() {
        let bus = EventBus::new(NodeId::parse("test").unwrap());
        let mut sub = bus.subscribe(None).receiver;
        bus.publish(destroyed("3000"), SystemTime::UNIX_EPOCH);
        let json = serde_json::to_value(&*sub.try_recv().unwrap()).unwrap();
        assert_eq!(json["type"], "room-destroyed");
        assert_eq!(json["room"], "3000");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["time"], "1970-01-01T00:00:00.000Z");
    }
}
