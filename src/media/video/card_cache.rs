//! A cache of rendered per-member cards (placeholder cards, name banners): one I420 picture per
//! (member, width, height), rendered again only when its text changes. Call
//! [`CardCache::end_tick`] once per canvas tick to drop cards nobody asked for since.

use super::frame::I420Frame;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

#[derive(Debug)]
struct CachedCard {
    text: String,
    card: I420Frame,
    used_in_tick: u64,
}

/// Rendered cards keyed by (member, width, height).
#[derive(Debug, Default)]
pub struct CardCache {
    cards: HashMap<(u64, u32, u32), CachedCard>,
    tick: u64,
    renders: u64,
}

impl CardCache {
    /// The card of `member` at a size showing `text`; `render` draws it when it is missing or
    /// its text changed.
    pub fn get(
        &mut self,
        member: u64,
        text: &str,
        width: u32,
        height: u32,
        render: impl FnOnce() -> I420Frame,
    ) -> &I420Frame {
        let tick = self.tick;
        match self.cards.entry((member, width, height)) {
            Entry::Occupied(occupied) => {
                let cached = occupied.into_mut();
                if cached.text != text {
                    cached.card = render();
                    cached.text = text.to_string();
                    self.renders += 1;
                }
                cached.used_in_tick = tick;
                &cached.card
            }
            Entry::Vacant(vacant) => {
                self.renders += 1;
                let card = render();
                &vacant
                    .insert(CachedCard {
                        text: text.to_string(),
                        card,
                        used_in_tick: tick,
                    })
                    .card
            }
        }
    }

    /// Ends a canvas tick: drops the cards not requested since the last call.
    pub fn end_tick(&mut self) {
        let tick = self.tick;
        self.cards.retain(|_, c| c.used_in_tick == tick);
        self.tick = tick.wrapping_add(1);
    }

    /// How many cards were rendered since creation.
    pub fn renders(&self) -> u64 {
        self.renders
    }

    /// Number of cached cards.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// True when no card is cached.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }
}
