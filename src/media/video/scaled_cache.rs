//! [`ScaledCache`]: the scaled tile of every compositor input, keyed by
//! (input, tile size, fit mode) and tagged with the input's generation, so an
//! input that did not change since the last canvas tick is copied, not
//! rescaled (scaling nine inputs costs about as much as encoding the canvas).

use std::collections::HashMap;

use super::frame::{I420Frame, Rect};
use super::scale::{FitMode, ScaleError, Scaler};

/// Identifies a cached scaled tile: which input, at which size and mode.
/// The input's generation is stored in the entry, so a new generation
/// rescales into the same buffer instead of allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScaledKey {
    /// Input identity (the member id in the compositor).
    pub source: u64,
    /// Tile width.
    pub width: u32,
    /// Tile height.
    pub height: u32,
    /// Fit or crop.
    pub mode: FitMode,
}

/// Counters exposed for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Tiles actually scaled (cache misses).
    pub scales: u64,
    /// Tiles served without scaling.
    pub hits: u64,
    /// Entries dropped because a tick did not use them.
    pub evictions: u64,
}

#[derive(Debug)]
struct ScaledEntry {
    generation: u64,
    tile: I420Frame,
    used_in_tick: u64,
}

/// Scaled tiles of the inputs, reused while an input's generation and its
/// tile geometry stay the same. Call [`ScaledCache::end_tick`] once per
/// canvas tick to drop tiles nobody used.
#[derive(Debug, Default)]
pub struct ScaledCache {
    entries: HashMap<ScaledKey, ScaledEntry>,
    tick: u64,
    stats: CacheStats,
}

impl ScaledCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the tile for `key`, scaling `frame` into it only when the
    /// cached tile is missing or was made from another `generation`.
    pub fn get_or_scale(
        &mut self,
        scaler: &mut Scaler,
        key: ScaledKey,
        generation: u64,
        frame: &I420Frame,
    ) -> Result<&I420Frame, ScaleError> {
        let tick = self.tick;
        let entry = self.entries.entry(key).or_insert_with(|| ScaledEntry {
            generation: generation.wrapping_add(1),
            tile: I420Frame::new_black(key.width, key.height),
            used_in_tick: tick,
        });
        entry.used_in_tick = tick;
        if entry.generation == generation {
            self.stats.hits += 1;
            return Ok(&entry.tile);
        }
        let tile = Rect::new(0, 0, key.width, key.height);
        match scaler.scale_into(frame, &mut entry.tile, tile, key.mode) {
            Ok(()) => {
                entry.generation = generation;
                self.stats.scales += 1;
                Ok(&entry.tile)
            }
            Err(e) => {
                // Never serve a half-written tile: force a rescale next time.
                entry.generation = generation.wrapping_add(1);
                Err(e)
            }
        }
    }

    /// Ends a canvas tick: drops the tiles not requested since the last call.
    pub fn end_tick(&mut self) {
        let tick = self.tick;
        let before = self.entries.len();
        self.entries.retain(|_, e| e.used_in_tick == tick);
        self.stats.evictions += (before - self.entries.len()) as u64;
        self.tick = tick.wrapping_add(1);
    }

    /// Drops every tile (e.g. after the scaling quality changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of cached tiles.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no tile is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Hit/miss/eviction counters since creation.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }
}
