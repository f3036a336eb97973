//! What the load generator's audio and video threads share: the commands signalling sends
//! them (start a member's stream towards the server's answer, stop it, finish the run) and the
//! pacing of their loops.

use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// Commands from signalling to a media thread.
pub(super) enum StreamCommand {
    Start {
        index: usize,
        remote: SocketAddr,
        payload_type: u8,
    },
    Stop {
        index: usize,
    },
    Finish,
}

/// Applies the queued commands: `apply(index, Some((remote, payload type)))` starts member
/// `index`, `apply(index, None)` stops it. True when the run is over.
pub(super) fn apply_commands(
    commands: &Receiver<StreamCommand>,
    mut apply: impl FnMut(usize, Option<(SocketAddr, u8)>),
) -> bool {
    loop {
        match commands.try_recv() {
            Ok(StreamCommand::Start {
                index,
                remote,
                payload_type,
            }) => apply(index, Some((remote, payload_type))),
            Ok(StreamCommand::Stop { index }) => apply(index, None),
            Ok(StreamCommand::Finish) | Err(TryRecvError::Disconnected) => return true,
            Err(TryRecvError::Empty) => return false,
        }
    }
}

/// Sleeps until the next tick `interval` after `next`; when more than five ticks behind
/// (overloaded), skips ahead rather than bursting.
pub(super) fn pace(next: &mut Instant, interval: Duration) {
    *next += interval;
    let after = Instant::now();
    if after > *next + interval * 5 {
        *next = after + interval;
    }
    std::thread::sleep(next.saturating_duration_since(after));
}
