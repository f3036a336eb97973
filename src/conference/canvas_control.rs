//! What an operator can change about a room's canvas while the room runs, applied on its
//! media thread: the layout (a name or `group:NAME`) and a forced floor (a member held in the
//! floor slot whatever the talker order; `Some(None)` returns the floor to the loudest
//! talker). A patch: fields left `None` stay as they are.

use super::member::MemberId;

/// A change to one canvas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanvasControl {
    pub layout: Option<String>,
    pub floor: Option<Option<MemberId>>,
}
