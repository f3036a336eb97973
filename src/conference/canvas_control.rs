//! What an operator can change about a room's canvas while the room runs, applied on its
//! media thread: its settings ([`CanvasPatch`]: layout, size, frame rate, bitrate, name
//! banners) and a forced floor (a member held in the floor slot whatever the talker order;
//! `Some(None)` returns the floor to the loudest talker). Fields left `None` stay as they are.
//! A new size, frame rate or bitrate rebuilds the canvas; its views restart with a keyframe.

use super::canvas::CanvasConfig;
use super::member::MemberId;
use serde::{Deserialize, Serialize};

/// Canvas sides the API accepts (even, so the chroma planes line up).
pub const SIDE_RANGE: std::ops::RangeInclusive<u32> = 64..=3840;
pub const FPS_RANGE: std::ops::RangeInclusive<f32> = 1.0..=60.0;
pub const BITRATE_RANGE: std::ops::RangeInclusive<u32> = 50_000..=20_000_000;

/// A change to a canvas's settings (as in `PATCH …/canvases/{n}` and the events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanvasPatch {
    /// A layout name or `group:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f32>,
    /// Bits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// Draw each member's name on its tile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banners: Option<bool>,
}

impl CanvasPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the numbers (the layout is checked against the layout library by the caller).
    pub fn validate(&self) -> Result<(), String> {
        for (field, side) in [("width", self.width), ("height", self.height)] {
            if let Some(side) = side {
                if !SIDE_RANGE.contains(&side) || side % 2 != 0 {
                    return Err(format!(
                        "{field}: {side} must be even and in {}..={}",
                        SIDE_RANGE.start(),
                        SIDE_RANGE.end()
                    ));
                }
            }
        }
        if let Some(fps) = self.fps.filter(|f| !FPS_RANGE.contains(f)) {
            return Err(format!(
                "fps: {fps} is out of range {}..={}",
                FPS_RANGE.start(),
                FPS_RANGE.end()
            ));
        }
        if let Some(bitrate) = self.bitrate.filter(|b| !BITRATE_RANGE.contains(b)) {
            return Err(format!(
                "bitrate: {bitrate} is out of range {}..={}",
                BITRATE_RANGE.start(),
                BITRATE_RANGE.end()
            ));
        }
        Ok(())
    }

    /// Applies the patch to `config`.
    pub fn apply(&self, config: &mut CanvasConfig) {
        if let Some(layout) = &self.layout {
            config.layout = layout.clone();
        }
        if let Some(width) = self.width {
            config.width = width;
        }
        if let Some(height) = self.height {
            config.height = height;
        }
        if let Some(fps) = self.fps {
            config.fps = fps;
        }
        if let Some(bitrate) = self.bitrate {
            config.bitrate_bps = bitrate;
        }
        if let Some(banners) = self.banners {
            config.banners = banners;
        }
    }
}

/// Whether going from `old` to `new` changes how the canvas is encoded (size, rate, bitrate).
pub fn changes_encoding(old: &CanvasConfig, new: &CanvasConfig) -> bool {
    (old.width, old.height, old.bitrate_bps) != (new.width, new.height, new.bitrate_bps)
        || old.fps != new.fps
}

/// A change to one canvas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanvasControl {
    pub settings: CanvasPatch,
    pub floor: Option<Option<MemberId>>,
}

/// A change to a room's set of canvases (0-based numbers).
#[derive(Debug, Clone, PartialEq)]
pub enum CanvasChange {
    Control {
        canvas: usize,
        change: CanvasControl,
    },
    Add(CanvasConfig),
    /// Its members and watchers move to the first canvas.
    Remove(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_what_it_names_and_knows_what_needs_a_new_encoder() {
        let old = CanvasConfig::default();
        let mut new = old.clone();
        CanvasPatch {
            layout: Some("1x1".into()),
            banners: Some(true),
            ..CanvasPatch::default()
        }
        .apply(&mut new);
        assert_eq!((new.layout.as_str(), new.banners), ("1x1", true));
        assert!(!changes_encoding(&old, &new));
        CanvasPatch {
            width: Some(640),
            ..CanvasPatch::default()
        }
        .apply(&mut new);
        assert_eq!((new.width, new.height), (640, old.height));
        assert!(changes_encoding(&old, &new));
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        let bad = [
            CanvasPatch {
                width: Some(641),
                ..CanvasPatch::default()
            },
            CanvasPatch {
                height: Some(0),
                ..CanvasPatch::default()
            },
            CanvasPatch {
                fps: Some(f32::NAN),
                ..CanvasPatch::default()
            },
            CanvasPatch {
                bitrate: Some(1),
                ..CanvasPatch::default()
            },
        ];
        for patch in bad {
            assert!(patch.validate().is_err(), "{patch:?}");
        }
        let good = CanvasPatch {
            width: Some(640),
            height: Some(360),
            fps: Some(15.0),
            bitrate: Some(500_000),
            ..CanvasPatch::default()
        };
        assert_eq!(good.validate(), Ok(()));
    }
}
