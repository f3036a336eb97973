//! What an operator can change about a member while it is in a room, applied on the room's
//! media thread: `muted` (its sound is not mixed and it cannot take the floor), `deaf` (it is
//! sent silence), `video_muted` (its tile shows its placeholder card, never a frozen frame).
//! A patch: fields left `None` stay as they are. The control API translates HTTP into these;
//! the room never sees HTTP.

/// A change to a member's controls (serialized with only the fields it sets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemberControl {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deaf: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_muted: Option<bool>,
}

impl MemberControl {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A member's controls as they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ControlState {
    pub muted: bool,
    pub deaf: bool,
    pub video_muted: bool,
}

impl ControlState {
    /// Applies `change`; returns whether anything changed.
    pub fn apply(&mut self, change: MemberControl) -> bool {
        let before = *self;
        if let Some(muted) = change.muted {
            self.muted = muted;
        }
        if let Some(deaf) = change.deaf {
            self.deaf = deaf;
        }
        if let Some(video_muted) = change.video_muted {
            self.video_muted = video_muted;
        }
        *self != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut state = ControlState::default();
        assert!(state.apply(MemberControl {
            muted: Some(true),
            ..MemberControl::default()
        }));
        assert_eq!(
            state,
            ControlState {
                muted: true,
                ..ControlState::default()
            }
        );
        assert!(
            !state.apply(MemberControl::default()),
            "an empty patch changes nothing"
        );
        assert!(!state.apply(MemberControl {
            muted: Some(true),
            deaf: Some(false),
            video_muted: None,
        }));
        assert!(state.apply(MemberControl {
            deaf: Some(true),
            video_muted: Some(true),
            ..MemberControl::default()
        }));
        assert!(state.muted && state.deaf && state.video_muted);
    }
}
