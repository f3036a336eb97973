//! Events rooms report to the signalling side (and, later, to the control API's event stream).

use super::member::MemberId;
use super::room::RoomId;
use tokio::sync::mpsc;

/// Something a room noticed.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    /// A member started or stopped talking.
    Talking {
        room: RoomId,
        member: MemberId,
        talking: bool,
    },
    /// The loudest-talker floor went to `member` (`None`: its holder left).
    FloorChanged {
        room: RoomId,
        member: Option<MemberId>,
    },
    /// A member pressed a key (RFC 4733 telephone event).
    Dtmf {
        room: RoomId,
        member: MemberId,
        digit: char,
    },
    /// A member sent no RTP/RTCP within the configured timeout: its call should end.
    MediaTimeout { room: RoomId, member: MemberId },
    /// A room's media processing failed (a bug): its calls should end.
    RoomFailed {
        room: RoomId,
        members: Vec<MemberId>,
    },
}

/// Non-blocking sender usable from media threads.
#[derive(Debug, Clone)]
pub struct EventSink(mpsc::UnboundedSender<RoomEvent>);

impl EventSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<RoomEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    /// Sends, ignoring a closed receiver (the server is shutting down).
    pub fn send(&self, event: RoomEvent) {
        let _ = self.0.send(event);
    }
}
