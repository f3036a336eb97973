//! The canvas compositor: places each member's latest picture (or a
//! placeholder card) into the tiles of a [`Layout`] on a black I420 canvas.
//! It never waits and never fails on an input: a member without a usable
//! frame gets a placeholder. Scaled tiles and placeholder cards are cached
//! between ticks, so an unchanged input costs one copy, not a rescale.

use super::banner::{banner_rect, BannerCache};
use super::frame::{I420Frame, Rect, BLACK_YUV, MAX_DIMENSION};
use super::layout::Layout;
use super::placeholder::PlaceholderCache;
use super::scale::{CacheStats, FitMode, ScaleQuality, ScaledCache, ScaledKey, Scaler};

/// What to show for one member, in display order.
#[derive(Debug, Clone, Copy)]
pub enum TileSource<'a> {
    /// The member's latest decoded picture. `generation` must change
    /// whenever the picture content changes (e.g. a per-member frame
    /// counter); an unchanged generation reuses the previous scaled tile.
    Frame {
        /// Member id.
        member: u64,
        /// Decoded picture, any size.
        frame: &'a I420Frame,
        /// Content version of `frame` for this member.
        generation: u64,
    },
    /// A member without video (or whose video went stale).
    Placeholder {
        /// Member id.
        member: u64,
        /// Display name, for the initials.
        name: &'a str,
    },
    /// Keeps a slot free (drawn as background).
    Empty,
}

impl TileSource<'_> {
    /// The member shown, if any.
    pub fn member(&self) -> Option<u64> {
        match self {
            TileSource::Frame { member, .. } | TileSource::Placeholder { member, .. } => {
                Some(*member)
            }
            TileSource::Empty => None,
        }
    }
}

/// Where sources go beyond their order, and what is written on them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement<'a> {
    /// The member in the layout's floor slot.
    pub floor: Option<u64>,
    /// Members held in a slot (0-based) whatever the order; a slot the layout lacks is
    /// ignored (the member is placed like the others).
    pub reserved: &'a [(u64, usize)],
    /// Banner text per member, drawn across the bottom of its tile.
    pub banners: &'a [(u64, &'a str)],
}

/// Counters of the last and all compose calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ComposeStats {
    /// Canvases composed.
    pub frames: u64,
    /// Frame inputs shown as placeholders because they could not be scaled
    /// (inconsistent planes, zero size or a resampler error).
    pub fallbacks: u64,
    /// Sources not shown because the layout had no slot left, last call.
    pub hidden_last: usize,
}

/// Composes canvases of a fixed size; keep one per canvas.
#[derive(Debug)]
pub struct Compositor {
    canvas: I420Frame,
    scaler: Scaler,
    scaled: ScaledCache,
    placeholders: PlaceholderCache,
    banners: BannerCache,
    stats: ComposeStats,
}

impl Compositor {
    /// A compositor with a black canvas (bilinear scaling). Dimensions are
    /// clamped to [`MAX_DIMENSION`]; use even sizes (odd ones lose their
    /// last column/row to the background).
    pub fn new(width: u32, height: u32) -> Self {
        Self::with_quality(width, height, ScaleQuality::default())
    }

    /// A compositor using the given scaling filter.
    pub fn with_quality(width: u32, height: u32, quality: ScaleQuality) -> Self {
        Self {
            canvas: I420Frame::new_black(width.min(MAX_DIMENSION), height.min(MAX_DIMENSION)),
            scaler: Scaler::new(quality),
            scaled: ScaledCache::new(),
            placeholders: PlaceholderCache::new(),
            banners: BannerCache::default(),
            stats: ComposeStats::default(),
        }
    }

    /// Canvas width.
    pub fn width(&self) -> u32 {
        self.canvas.width
    }

    /// Canvas height.
    pub fn height(&self) -> u32 {
        self.canvas.height
    }

    /// The last composed canvas (black before the first call).
    pub fn canvas(&self) -> &I420Frame {
        &self.canvas
    }

    /// Scaled-tile cache counters.
    pub fn scaled_stats(&self) -> CacheStats {
        self.scaled.stats()
    }

    /// How many placeholder cards were rendered so far.
    pub fn placeholder_renders(&self) -> u64 {
        self.placeholders.renders()
    }

    /// Compose counters.
    pub fn stats(&self) -> ComposeStats {
        self.stats
    }

    /// Changes the scaling filter (drops cached tiles).
    pub fn set_quality(&mut self, quality: ScaleQuality) {
        if quality != self.scaler.quality() {
            self.scaler = Scaler::new(quality);
            self.scaled.clear();
        }
    }

    /// Composes one canvas. The `floor` member, when present in `sources`
    /// and the layout has a floor slot, goes into the first floor slot; the
    /// other sources fill the remaining slots in order. Sources beyond the
    /// layout's capacity are not shown. Returns the member shown in each
    /// tile with the tile's full rectangle (bars included), in slot order.
    pub fn compose(
        &mut self,
        layout: &Layout,
        sources: &[TileSource<'_>],
        floor: Option<u64>,
    ) -> Vec<(u64, Rect)> {
        self.compose_placed(
            layout,
            sources,
            &Placement {
                floor,
                ..Placement::default()
            },
        )
    }

    /// [`compose`](Self::compose) with reserved slots and banners.
    pub fn compose_placed(
        &mut self,
        layout: &Layout,
        sources: &[TileSource<'_>],
        placement: &Placement<'_>,
    ) -> Vec<(u64, Rect)> {
        self.canvas.fill_rect(self.canvas.bounds(), BLACK_YUV);
        let rects = layout.tile_rects(self.canvas.width, self.canvas.height);
        let assignment = assign_slots_reserved(layout, sources, placement);
        let mut placements = Vec::with_capacity(assignment.len());
        for (slot_index, source) in assignment
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
        {
            let (Some(rect), Some(slot), Some(source)) = (
                rects.get(slot_index),
                layout.slots.get(slot_index),
                sources.get(source),
            ) else {
                continue;
            };
            let mode = if slot.crop {
                FitMode::Crop
            } else {
                FitMode::Fit
            };
            if let Some(member) = self.draw_tile(source, *rect, mode) {
                self.draw_banner(member, *rect, placement.banners);
                placements.push((member, *rect));
            }
        }
        let shown = assignment.iter().flatten().count();
        self.stats.hidden_last = sources.len().saturating_sub(shown);
        self.stats.frames += 1;
        self.scaled.end_tick();
        self.placeholders.end_tick();
        self.banners.end_tick();
        placements
    }

    /// Draws `member`'s banner across the bottom of its tile, if it has one.
    fn draw_banner(&mut self, member: u64, tile: Rect, banners: &[(u64, &str)]) {
        let Some((_, text)) = banners.iter().find(|(m, _)| *m == member) else {
            return;
        };
        let strip = banner_rect(tile);
        if strip.is_empty() {
            return;
        }
        let card = self.banners.get(member, text, strip.w, strip.h);
        self.canvas.blit(card, strip.x, strip.y);
    }

    /// Draws one tile; returns the member drawn.
    fn draw_tile(&mut self, source: &TileSource<'_>, rect: Rect, mode: FitMode) -> Option<u64> {
        if rect.is_empty() {
            return source.member();
        }
        match *source {
            TileSource::Empty => None,
            TileSource::Placeholder { member, name } => {
                let card = self.placeholders.get(member, name, rect.w, rect.h);
                self.canvas.blit(card, rect.x, rect.y);
                Some(member)
            }
            TileSource::Frame {
                member,
                frame,
                generation,
            } => {
                let key = ScaledKey {
                    source: member,
                    width: rect.w,
                    height: rect.h,
                    mode,
                };
                let scaled = if frame.is_empty() {
                    None
                } else {
                    self.scaled
                        .get_or_scale(&mut self.scaler, key, generation, frame)
                        .ok()
                };
                match scaled {
                    Some(tile) => self.canvas.blit(tile, rect.x, rect.y),
                    None => {
                        self.stats.fallbacks += 1;
                        let card = self.placeholders.get(member, "", rect.w, rect.h);
                        self.canvas.blit(card, rect.x, rect.y);
                    }
                }
                Some(member)
            }
        }
    }
}

/// For each slot, the index of the source shown there (`None` = nothing).
/// Empty sources take a slot like any other.
pub fn assign_slots(
    layout: &Layout,
    sources: &[TileSource<'_>],
    floor: Option<u64>,
) -> Vec<Option<usize>> {
    assign_slots_reserved(
        layout,
        sources,
        &Placement {
            floor,
            ..Placement::default()
        },
    )
}

/// [`assign_slots`] with reservations: each reserved member present takes its slot first;
/// then the floor member takes the floor slot unless a reservation holds it or the floor
/// member is reserved elsewhere; the other sources fill the free slots in order.
pub fn assign_slots_reserved(
    layout: &Layout,
    sources: &[TileSource<'_>],
    placement: &Placement<'_>,
) -> Vec<Option<usize>> {
    let mut assignment = vec![None; layout.slots.len()];
    let mut placed = vec![false; sources.len()];
    let index_of = |member: u64| sources.iter().position(|s| s.member() == Some(member));
    for &(member, slot) in placement.reserved {
        let (Some(source), Some(cell)) = (index_of(member), assignment.get_mut(slot)) else {
            continue;
        };
        if cell.is_none() && !placed[source] {
            *cell = Some(source);
            placed[source] = true;
        }
    }
    let floor_pair = placement.floor.and_then(index_of).zip(layout.floor_slot());
    if let Some((source, slot)) = floor_pair {
        if let Some(cell) = assignment.get_mut(slot).filter(|c| c.is_none()) {
            if !placed[source] {
                *cell = Some(source);
                placed[source] = true;
            }
        }
    }
    let mut remaining = (0..sources.len()).filter(|i| !placed[*i]);
    for cell in assignment.iter_mut().filter(|c| c.is_none()) {
        *cell = remaining.next();
    }
    assignment
}
