//! A canvas of a room: its size, frame rate, layout choice and compositor. Composed at most
//! once per frame interval on the room's media thread; the encodes happen per view.

use super::member::MemberId;
use crate::media::video::compositor::{Compositor, Placement, TileSource};
use crate::media::video::frame::{I420Frame, Rect};
use crate::media::video::layout_library::LayoutLibrary;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How a canvas picks its layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutChoice {
    /// A layout group: the smallest layout with enough slots for the members shown.
    Group(String),
    /// One fixed layout.
    Fixed(String),
}

/// Settings of one canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanvasConfig {
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    pub bitrate_bps: u32,
    /// Layout name, or `group:NAME` for automatic choice by member count.
    pub layout: String,
    /// Draw each member's name (or its banner text) across the bottom of its tile.
    pub banners: bool,
}

impl Default for CanvasConfig {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30.0,
            bitrate_bps: 2_000_000,
            layout: "group:grid".to_string(),
            banners: false,
        }
    }
}

impl CanvasConfig {
    pub fn layout_choice(&self) -> LayoutChoice {
        match self.layout.strip_prefix("group:") {
            Some(group) => LayoutChoice::Group(group.to_string()),
            None => LayoutChoice::Fixed(self.layout.clone()),
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f32(1.0 / self.fps.clamp(1.0, 60.0))
    }
}

/// One canvas with its compositor and frame schedule.
pub struct Canvas {
    pub config: CanvasConfig,
    /// Built on the first composition: its picture is 1.4 MB at 720p, and a room whose
    /// members are all audio-only never composes.
    compositor: Option<Compositor>,
    next_frame_at: Option<Instant>,
    /// Where each member was drawn in the last composition.
    pub placements: Vec<(MemberId, Rect)>,
}

impl Canvas {
    pub fn new(config: CanvasConfig) -> Self {
        Self {
            compositor: None,
            config,
            next_frame_at: None,
            placements: Vec::new(),
        }
    }

    /// True when a new frame is due at `now` (and schedules the next one).
    pub fn frame_due(&mut self, now: Instant) -> bool {
        let interval = self.config.interval();
        match self.next_frame_at {
            Some(at) if now < at => false,
            Some(at) => {
                // Keep the cadence; after a stall, restart it from now.
                let next = at + interval;
                self.next_frame_at = Some(if next <= now { now + interval } else { next });
                true
            }
            None => {
                self.next_frame_at = Some(now + interval);
                true
            }
        }
    }

    /// Composes the canvas from `sources` (in display order) placed by `placement` (floor,
    /// reserved slots, banners). `record` keeps the placements for snapshots (the full view,
    /// not an exclusion view).
    pub fn compose(
        &mut self,
        layouts: &LayoutLibrary,
        sources: &[TileSource<'_>],
        placement: &Placement<'_>,
        record: bool,
    ) -> &I420Frame {
        let layout = match self.config.layout_choice() {
            LayoutChoice::Group(g) => layouts.pick(&g, sources.len()),
            LayoutChoice::Fixed(name) => layouts.get(&name),
        };
        let (width, height) = (self.config.width, self.config.height);
        let compositor = self
            .compositor
            .get_or_insert_with(|| Compositor::new(width, height));
        match layout {
            Some(layout) => {
                let placements = compositor.compose_placed(layout, sources, placement);
                if record {
                    self.placements = placements;
                }
            }
            None => self.placements.clear(),
        }
        compositor.canvas()
    }
}
