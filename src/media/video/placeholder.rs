//! Placeholder tiles for members without (fresh) video: a dark grey card
//! with a disc in a muted colour derived from the member id and one or two
//! initials drawn with the tile font ([`super::text`]). Rendering is
//! deterministic; [`PlaceholderCache`] keeps one rendered tile per (member,
//! size) so a tile is drawn once, not every canvas tick.

use super::card_cache::CardCache;
use super::frame::{rgb_to_yuv, I420Frame};
use super::text::{paint_mask, render_line, tile_font};

/// Card background (neutral dark grey).
const BACKGROUND_RGB: (u8, u8, u8) = (44, 44, 46);
/// Initials colour (light grey).
const GLYPH_RGB: (u8, u8, u8) = (232, 232, 232);
/// Tiles smaller than this (either side) are a plain card.
const MIN_DECORATED: u32 = 16;

/// One or two initials for a display name: the first letter or digit of the first two words,
/// upper-cased (any script the font draws). Names with none fall back to the member id modulo
/// 100, so every card has a mark.
pub fn initials(name: &str, member: u64) -> String {
    let from_name: String = name
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|word| word.chars().next())
        .flat_map(char::to_uppercase)
        .take(2)
        .collect();
    if from_name.is_empty() {
        (member % 100).to_string()
    } else {
        from_name
    }
}

/// The member's accent colour (RGB): a hue picked from the id, muted.
pub fn member_accent_rgb(member: u64) -> (u8, u8, u8) {
    let hue = (splitmix64(member) % 360) as f64;
    hsv_to_rgb(hue, 0.40, 0.50)
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hsv_to_rgb(hue: f64, saturation: f64, value: f64) -> (u8, u8, u8) {
    let c = value * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    let to_u8 = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (to_u8(r), to_u8(g), to_u8(b))
}

/// Renders the placeholder card of a member at a tile size.
pub fn render_placeholder(member: u64, name: &str, width: u32, height: u32) -> I420Frame {
    let (r, g, b) = BACKGROUND_RGB;
    let mut card = I420Frame::new_filled(width, height, rgb_to_yuv(r, g, b));
    let (width, height) = (card.width, card.height);
    if width < MIN_DECORATED || height < MIN_DECORATED {
        return card;
    }
    let diameter = width.min(height) * 3 / 5;
    let (cx, cy) = (i64::from(width / 2), i64::from(height / 2));
    let (ar, ag, ab) = member_accent_rgb(member);
    fill_disc(
        &mut card,
        (cx, cy),
        i64::from(diameter / 2),
        rgb_to_yuv(ar, ag, ab),
    );

    if let Some(font) = tile_font() {
        let mask = render_line(
            font,
            &initials(name, member),
            diameter as f32 * 0.45,
            diameter,
        );
        let (gr, gg, gb) = GLYPH_RGB;
        let x0 = cx - i64::from(mask.width / 2);
        let y0 = cy - i64::from(mask.height / 2);
        paint_mask(&mut card, &mask, (x0, y0), rgb_to_yuv(gr, gg, gb));
    }
    card
}

/// Paints a filled circle; a chroma sample is painted when the luma pixel
/// at its top-left corner is inside.
fn fill_disc(frame: &mut I420Frame, (cx, cy): (i64, i64), radius: i64, yuv: (u8, u8, u8)) {
    if frame.validate().is_err() {
        return;
    }
    let inside = |x: i64, y: i64| (x - cx).pow(2) + (y - cy).pow(2) <= radius * radius;
    let (w, h) = (i64::from(frame.width), i64::from(frame.height));
    let cw = frame.chroma_width() as usize;
    for y in (cy - radius).max(0)..(cy + radius + 1).min(h) {
        for x in (cx - radius).max(0)..(cx + radius + 1).min(w) {
            if !inside(x, y) {
                continue;
            }
            if let Some(p) = frame.y.get_mut(y as usize * w as usize + x as usize) {
                *p = yuv.0;
            }
            if x % 2 == 0 && y % 2 == 0 {
                let ci = (y / 2) as usize * cw + (x / 2) as usize;
                if let Some(u) = frame.u.get_mut(ci) {
                    *u = yuv.1;
                }
                if let Some(v) = frame.v.get_mut(ci) {
                    *v = yuv.2;
                }
            }
        }
    }
}

/// Placeholder cards keyed by (member, size), re-rendered when the name changes.
#[derive(Debug, Default)]
pub struct PlaceholderCache {
    cards: CardCache,
}

impl PlaceholderCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The card for a member at a size, rendered on first use.
    pub fn get(&mut self, member: u64, name: &str, width: u32, height: u32) -> &I420Frame {
        self.cards.get(member, name, width, height, || {
            render_placeholder(member, name, width, height)
        })
    }

    /// Ends a canvas tick: drops the cards not requested since the last call.
    pub fn end_tick(&mut self) {
        self.cards.end_tick();
    }

    /// How many cards were rendered since creation.
    pub fn renders(&self) -> u64 {
        self.cards.renders()
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
