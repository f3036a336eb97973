//! What an operator can change about a member while it is in a room, applied on the room's
//! media thread: `muted` (its sound is not mixed and it cannot take the floor), `deaf` (it is
//! sent silence), `video_muted` (its tile shows its placeholder card, never a frozen frame),
//! where it appears and what it watches (`canvas`, `watching_canvas`), its gains (`volume_in`,
//! `volume_out`, in dB), a reserved layout `slot` and the `banner` text drawn on its tile.
//! A patch: fields left `None` stay as they are. The control API translates HTTP into these;
//! the room never sees HTTP. `role` is signalling's (who mute-all spares); rooms ignore it.

/// The gains an operator may set, dB (`volume_in`, `volume_out`).
pub const VOLUME_RANGE_DB: std::ops::RangeInclusive<i8> = -12..=12;

/// What a member may do in its room.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Participant,
    /// Spared by mute-all.
    Moderator,
}

/// A change to a member's controls (serialized with only the fields it sets).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemberControl {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deaf: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_muted: Option<bool>,
    /// Held in the PIN lobby: not mixed, hearing only the prompt tone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_pin: Option<bool>,
    /// The canvas (0-based) showing the member; `Some(None)`: on no canvas.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "one_based_placement"
    )]
    pub canvas: Option<Option<usize>>,
    /// The canvas (0-based) the member watches (when it has video).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "one_based")]
    pub watching_canvas: Option<usize>,
    /// Gain of its voice in the mix, dB ([`VOLUME_RANGE_DB`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_in: Option<i8>,
    /// Gain of what it hears, dB ([`VOLUME_RANGE_DB`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_out: Option<i8>,
    /// The layout slot (0-based) reserved for it; `Some(None)`: none.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "one_based_placement"
    )]
    pub slot: Option<Option<usize>>,
    /// Text drawn on its tile; `Some(None)`: none (its name when the canvas shows banners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// Canvas numbers leave the server 1-based, as in the SIP headers and the API.
fn one_based<S: serde::Serializer>(canvas: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
    match canvas {
        Some(c) => s.serialize_u64(*c as u64 + 1),
        None => s.serialize_none(),
    }
}

fn one_based_placement<S: serde::Serializer>(
    canvas: &Option<Option<usize>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match canvas {
        Some(Some(c)) => s.serialize_u64(*c as u64 + 1),
        _ => s.serialize_none(),
    }
}

impl MemberControl {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A member's controls as they stand (its canvases are the member's own state).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ControlState {
    pub muted: bool,
    pub deaf: bool,
    pub video_muted: bool,
    pub awaiting_pin: bool,
    pub volume_in: i8,
    pub volume_out: i8,
    /// Reserved layout slot, 0-based.
    pub slot: Option<usize>,
    pub banner: Option<String>,
}

impl ControlState {
    /// Applies `change`; returns whether anything changed.
    pub fn apply(&mut self, change: &MemberControl) -> bool {
        let before = self.clone();
        if let Some(muted) = change.muted {
            self.muted = muted;
        }
        if let Some(deaf) = change.deaf {
            self.deaf = deaf;
        }
        if let Some(video_muted) = change.video_muted {
            self.video_muted = video_muted;
        }
        if let Some(awaiting_pin) = change.awaiting_pin {
            self.awaiting_pin = awaiting_pin;
        }
        if let Some(db) = change.volume_in {
            self.volume_in = db;
        }
        if let Some(db) = change.volume_out {
            self.volume_out = db;
        }
        if let Some(slot) = change.slot {
            self.slot = slot;
        }
        if let Some(banner) = &change.banner {
            self.banner = banner.clone();
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
        assert!(state.apply(&MemberControl {
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
            !state.apply(&MemberControl::default()),
            "an empty patch changes nothing"
        );
        assert!(!state.apply(&MemberControl {
            muted: Some(true),
            deaf: Some(false),
            ..MemberControl::default()
        }));
        assert!(state.apply(&MemberControl {
            deaf: Some(true),
            video_muted: Some(true),
            ..MemberControl::default()
        }));
        assert!(state.muted && state.deaf && state.video_muted);
    }
}

#[cfg(test)]
mod serialization {
    use super::*;

    #[test]
    fn a_patch_serializes_only_what_it_sets_with_canvases_one_based() {
        let patch = MemberControl {
            muted: Some(true),
            watching_canvas: Some(1),
            canvas: Some(None),
            ..MemberControl::default()
        };
        assert_eq!(
            serde_json::to_string(&patch).unwrap(),
            r#"{"muted":true,"canvas":null,"watching_canvas":2}"#
        );
    }
}
