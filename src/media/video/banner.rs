//! Name banners: a dark strip across the bottom of a member's tile with its name (or an
//! operator's text) in white, drawn with the tile font. The strip's height follows the tile
//! ([`banner_height`]); the text starts one margin in from the left and is cut at the right
//! edge. [`BannerCache`] renders a strip once per (member, size, text).

use super::card_cache::CardCache;
use super::frame::{rgb_to_yuv, I420Frame, Rect};
use super::text::{paint_mask, render_line, tile_font, TextMask};
use ab_glyph::FontArc;

/// Strip colour (near black) and text colour (white).
pub const BANNER_RGB: (u8, u8, u8) = (20, 20, 24);
pub const BANNER_TEXT_RGB: (u8, u8, u8) = (255, 255, 255);

/// Tiles lower than this get no banner (the text would be unreadable).
const MIN_TILE_HEIGHT: u32 = 48;

/// Height of the banner strip on a tile `tile_height` high (even, for chroma): an eighth of
/// the tile, at least 18 and at most 48 pixels; 0 on tiles too small for text.
pub fn banner_height(tile_height: u32) -> u32 {
    if tile_height < MIN_TILE_HEIGHT {
        return 0;
    }
    (tile_height / 8).clamp(18, 48) & !1
}

/// Where the banner of a tile at `tile` goes: the bottom strip.
pub fn banner_rect(tile: Rect) -> Rect {
    let h = banner_height(tile.h);
    Rect {
        x: tile.x,
        y: tile.y + tile.h as i32 - h as i32,
        w: tile.w,
        h,
    }
}

/// The text of a strip `width`×`height`, as the strip draws it: its mask and where its
/// top-left corner goes within the strip. Tests compare received frames with this.
pub fn banner_text(font: &FontArc, text: &str, width: u32, height: u32) -> (TextMask, (i64, i64)) {
    let margin = height / 4;
    let px = height as f32 * 0.7;
    let mask = render_line(font, text, px, width.saturating_sub(2 * margin));
    let y = (i64::from(height) - i64::from(mask.height)) / 2;
    (mask, (i64::from(margin), y))
}

/// Renders the strip of `text`, `width`×`height`.
pub fn render_banner(text: &str, width: u32, height: u32) -> I420Frame {
    let (r, g, b) = BANNER_RGB;
    let mut strip = I420Frame::new_filled(width, height, rgb_to_yuv(r, g, b));
    if let Some(font) = tile_font() {
        let (mask, origin) = banner_text(font, text, width, height);
        let (r, g, b) = BANNER_TEXT_RGB;
        paint_mask(&mut strip, &mask, origin, rgb_to_yuv(r, g, b));
    }
    strip
}

/// Rendered strips keyed by (member, size), re-rendered when the text changes.
#[derive(Debug, Default)]
pub struct BannerCache {
    strips: CardCache,
}

impl BannerCache {
    /// The strip of `member` showing `text`.
    pub fn get(&mut self, member: u64, text: &str, width: u32, height: u32) -> &I420Frame {
        self.strips.get(member, text, width, height, || {
            render_banner(text, width, height)
        })
    }

    /// Ends a canvas tick (drops strips not drawn since the last one).
    pub fn end_tick(&mut self) {
        self.strips.end_tick();
    }

    pub fn renders(&self) -> u64 {
        self.strips.renders()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_follow_the_tile_and_small_tiles_have_none() {
        assert_eq!(banner_height(40), 0);
        assert_eq!(banner_height(90), 18);
        assert_eq!(banner_height(360), 44);
        assert_eq!(banner_height(1080), 48);
        let tile = Rect {
            x: 640,
            y: 0,
            w: 640,
            h: 360,
        };
        assert_eq!(
            banner_rect(tile),
            Rect {
                x: 640,
                y: 316,
                w: 640,
                h: 44
            }
        );
    }

    #[test]
    fn a_strip_shows_its_text_in_white_on_dark() {
        let strip = render_banner("Alice", 320, 40);
        let font = tile_font().expect("tile font");
        let (mask, (ox, oy)) = banner_text(font, "Alice", 320, 40);
        let mut ink = 0;
        for y in 0..mask.height {
            for x in 0..mask.width {
                let luma = strip
                    .pixel_yuv(x + ox as u32, y + oy as u32)
                    .map_or(0, |p| p.0);
                match mask.at(x, y) {
                    255 => {
                        ink += 1;
                        assert!(luma > 200, "ink at {x},{y}: {luma}");
                    }
                    0 => assert!(luma < 40, "background at {x},{y}: {luma}"),
                    _ => {}
                }
            }
        }
        assert!(ink > 30);
        assert_ne!(render_banner("Bob", 320, 40), strip);
    }

    #[test]
    fn the_cache_renders_again_only_when_the_text_changes() {
        let mut cache = BannerCache::default();
        cache.get(1, "Ann", 320, 40);
        cache.get(1, "Ann", 320, 40);
        assert_eq!(cache.renders(), 1);
        cache.get(1, "Anna", 320, 40);
        assert_eq!(cache.renders(), 2);
    }
}
