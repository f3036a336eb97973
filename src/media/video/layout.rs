//! The layout model and its file format: resolution-independent [`Layout`]s
//! (slots on an integer grid, mapped to even pixel rectangles of any canvas),
//! [`LayoutGroup`]s (auto layout by member count) and the [`LayoutLibrary`]
//! (in `layout_library.rs`) that loads them from TOML files
//! (`layouts/README.md` documents the format) or from the embedded copies.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::frame::Rect;

pub use super::freeswitch_xml::{import_freeswitch_xml, parse_freeswitch_xml, FreeswitchLayouts};
pub use super::layout_library::{LayoutLibrary, BUILTIN_ORIGIN};

/// Everything that can be wrong with a layout file or definition. `file` is
/// the path (or `<builtin>` / `<freeswitch-xml>`) the definition came from.
#[derive(Debug, Error)]
pub enum LayoutError {
    /// A directory or file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// Path being read.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown/mistyped keys.
    #[error("{file}: {source}")]
    Parse {
        /// Origin.
        file: String,
        /// TOML error, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// A layout or group has an empty name.
    #[error("{file}: a layout or group has an empty name")]
    EmptyName {
        /// Origin.
        file: String,
    },
    /// `grid` is 0.
    #[error("{file}: layout {layout:?} has grid = 0")]
    ZeroGrid {
        /// Origin.
        file: String,
        /// Layout name.
        layout: String,
    },
    /// A layout has no slot.
    #[error("{file}: layout {layout:?} has no slots")]
    NoSlots {
        /// Origin.
        file: String,
        /// Layout name.
        layout: String,
    },
    /// A slot has zero width or height.
    #[error("{file}: layout {layout:?} slot #{slot} has zero width or height")]
    ZeroSizeSlot {
        /// Origin.
        file: String,
        /// Layout name.
        layout: String,
        /// Slot index, 0-based.
        slot: usize,
    },
    /// A slot extends past the grid.
    #[error("{file}: layout {layout:?} slot #{slot} extends outside the {grid}x{grid} grid")]
    SlotOutsideGrid {
        /// Origin.
        file: String,
        /// Layout name.
        layout: String,
        /// Slot index, 0-based.
        slot: usize,
        /// Grid size.
        grid: u32,
    },
    /// Two layouts share a name.
    #[error("{file}: layout {name:?} is already defined in {first}")]
    DuplicateLayout {
        /// Origin of the second definition.
        file: String,
        /// Layout name.
        name: String,
        /// Origin of the first definition.
        first: String,
    },
    /// Two groups share a name.
    #[error("{file}: group {name:?} is already defined in {first}")]
    DuplicateGroup {
        /// Origin of the second definition.
        file: String,
        /// Group name.
        name: String,
        /// Origin of the first definition.
        first: String,
    },
    /// A group lists no layout.
    #[error("{file}: group {group:?} lists no layouts")]
    EmptyGroup {
        /// Origin.
        file: String,
        /// Group name.
        group: String,
    },
    /// A group names a layout nobody defined.
    #[error("{file}: group {group:?} names unknown layout {layout:?}")]
    UnknownLayoutInGroup {
        /// Origin.
        file: String,
        /// Group name.
        group: String,
        /// The unknown layout name.
        layout: String,
    },
    /// The FreeSWITCH XML could not be read.
    #[error("freeswitch xml line {line}: {message}")]
    Xml {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One tile position, in grid units, in order of filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
    /// The floor holder (loudest talker) goes into the first floor slot.
    #[serde(default, skip_serializing_if = "is_false")]
    pub floor: bool,
    /// Crop to fill the tile instead of fitting with black bars.
    #[serde(default, skip_serializing_if = "is_false")]
    pub crop: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A named arrangement of slots on a `grid` x `grid` square that is
/// stretched over the canvas (x by width, y by height).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Unique name (`1x1`, `presenter`, ...).
    pub name: String,
    /// Grid size in units (FreeSWITCH uses 360).
    pub grid: u32,
    /// Slots in order of filling; later slots are drawn on top.
    pub slots: Vec<Slot>,
}

impl Layout {
    /// Number of members the layout can show.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Index of the first floor slot.
    pub fn floor_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.floor)
    }

    /// Checks grid, sizes and bounds; `file` names the origin in errors.
    pub fn validate(&self, file: &str) -> Result<(), LayoutError> {
        let err_ctx = || (file.to_string(), self.name.clone());
        if self.name.trim().is_empty() {
            return Err(LayoutError::EmptyName { file: file.into() });
        }
        if self.grid == 0 {
            let (file, layout) = err_ctx();
            return Err(LayoutError::ZeroGrid { file, layout });
        }
        if self.slots.is_empty() {
            let (file, layout) = err_ctx();
            return Err(LayoutError::NoSlots { file, layout });
        }
        for (slot, s) in self.slots.iter().enumerate() {
            let (file, layout) = err_ctx();
            if s.w == 0 || s.h == 0 {
                return Err(LayoutError::ZeroSizeSlot { file, layout, slot });
            }
            let grid = u64::from(self.grid);
            if u64::from(s.x) + u64::from(s.w) > grid || u64::from(s.y) + u64::from(s.h) > grid {
                let grid = self.grid;
                return Err(LayoutError::SlotOutsideGrid {
                    file,
                    layout,
                    slot,
                    grid,
                });
            }
        }
        Ok(())
    }

    /// Pixel rectangles of the slots on a canvas, one per slot, with even
    /// edges (rounded to the nearest even pixel, adjacent slots share edges
    /// exactly) and inside the canvas. A zero grid gives empty rectangles.
    pub fn tile_rects(&self, canvas_w: u32, canvas_h: u32) -> Vec<Rect> {
        self.slots
            .iter()
            .map(|s| {
                let x0 = grid_edge(s.x, canvas_w, self.grid);
                let y0 = grid_edge(s.y, canvas_h, self.grid);
                let x1 = grid_edge(s.x.saturating_add(s.w), canvas_w, self.grid);
                let y1 = grid_edge(s.y.saturating_add(s.h), canvas_h, self.grid);
                Rect::from_edges(x0, y0, x1, y1)
            })
            .collect()
    }
}

/// Grid position → even pixel edge, clamped to the (even-floored) canvas.
fn grid_edge(units: u32, canvas: u32, grid: u32) -> i64 {
    if grid == 0 {
        return 0;
    }
    let (units, canvas, grid) = (u64::from(units), u64::from(canvas), u64::from(grid));
    let edge = 2 * ((units * canvas + grid) / (2 * grid));
    edge.min(canvas & !1) as i64
}

/// Named list of layouts for auto layout by member count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutGroup {
    /// Unique group name.
    pub name: String,
    /// Layout names, any order.
    pub layouts: Vec<String>,
}
