//! PIN entry by DTMF: a caller who dials a PIN room without `*PIN` is admitted to a lobby
//! (not mixed, hearing only a prompt tone, heard by nobody) and types the PIN followed by `#`
//! (RFC 4733 events). The right PIN lets it into the room; three wrong tries, or 30 s
//! without the right one, end the call.

use super::CallEngine;
use crate::conference::member::MemberId;
use crate::conference::member_control::MemberControl;
use crate::server::server_event::{ChangeSource, LeaveReason, ServerEvent};
use std::time::{Duration, Instant};
use tracing::info;

/// Time a caller has to enter the PIN.
pub const PIN_TIME: Duration = Duration::from_secs(30);

/// Wrong PINs before the call ends.
pub const PIN_TRIES: u32 = 3;

/// Digits kept while typing (longer input is a wrong PIN).
const MAX_DIGITS: usize = 32;

/// A caller in the lobby.
#[derive(Debug)]
pub(super) struct PinEntry {
    room: String,
    digits: String,
    tries: u32,
    deadline: Instant,
}

impl PinEntry {
    pub(super) fn new(room: &str, now: Instant) -> Self {
        Self {
            room: room.to_string(),
            digits: String::new(),
            tries: 0,
            deadline: now + PIN_TIME,
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl CallEngine {
    /// A digit from `member`; a lobby member's digits build its PIN.
    pub(super) fn on_pin_digit(&mut self, now: Instant, member: MemberId, digit: char) {
        let Some(entry) = self.pin_entries.get_mut(&member) else {
            return;
        };
        if digit != '#' {
            if entry.digits.len() < MAX_DIGITS {
                entry.digits.push(digit);
            }
            return;
        }
        let typed = std::mem::take(&mut entry.digits);
        let room = entry.room.clone();
        if self.pin_is(&room, &typed) {
            self.pin_entries.remove(&member);
            info!(%room, member, "PIN accepted; member enters the room");
            let change = MemberControl {
                awaiting_pin: Some(false),
                ..MemberControl::default()
            };
            self.registry.control(&room, member, change.clone());
            self.events.push_back(ServerEvent::MemberUpdated {
                room,
                member,
                changes: change,
                by: ChangeSource::Dtmf,
            });
            return;
        }
        let Some(entry) = self.pin_entries.get_mut(&member) else {
            return;
        };
        entry.tries += 1;
        info!(%room, member, tries = entry.tries, "wrong PIN");
        if entry.tries >= PIN_TRIES {
            self.pin_entries.remove(&member);
            if let Some(cid) = self.by_member.get(&member).cloned() {
                self.hang_up(now, &cid, LeaveReason::PinFailed);
            }
        }
    }

    /// Lobby members whose time ran out.
    pub(super) fn pin_timers(&mut self, now: Instant) {
        let expired: Vec<MemberId> = self
            .pin_entries
            .iter()
            .filter(|(_, e)| e.deadline <= now)
            .map(|(m, _)| *m)
            .collect();
        for member in expired {
            self.pin_entries.remove(&member);
            info!(member, "no PIN in time; ending the call");
            if let Some(cid) = self.by_member.get(&member).cloned() {
                self.hang_up(now, &cid, LeaveReason::PinFailed);
            }
        }
    }
}
