//! Placeholder tiles for members without (fresh) video: a dark grey card
//! with a disc in a muted colour derived from the member id and one or two
//! initials drawn with a built-in 5x7 bitmap font (A–Z, 0–9; no font files).
//! Rendering is deterministic; [`PlaceholderCache`] keeps one rendered tile
//! per (member, size) so a tile is drawn once, not every canvas tick.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::frame::{rgb_to_yuv, I420Frame, Rect};

/// Card background (neutral dark grey).
const BACKGROUND_RGB: (u8, u8, u8) = (44, 44, 46);
/// Initials colour (light grey).
const GLYPH_RGB: (u8, u8, u8) = (232, 232, 232);
/// Tiles smaller than this (either side) are a plain card.
const MIN_DECORATED: u32 = 16;

/// 5x7 glyphs, one byte per row, bit 4 = leftmost column.
const FONT_LETTERS: [[u8; 7]; 26] = [
    [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], // A
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E], // B
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], // C
    [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E], // D
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], // E
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10], // F
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], // G
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], // H
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], // I
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C], // J
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], // K
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F], // L
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], // M
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11], // N
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // O
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10], // P
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], // Q
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11], // R
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], // S
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], // T
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // U
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04], // V
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], // W
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11], // X
    [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04], // Y
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F], // Z
];

const FONT_DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], // 0
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E], // 1
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], // 2
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E], // 3
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], // 4
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E], // 5
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], // 6
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08], // 7
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], // 8
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C], // 9
];

/// The bitmap of an upper-case ASCII letter or digit.
fn glyph(c: char) -> Option<&'static [u8; 7]> {
    match c {
        'A'..='Z' => FONT_LETTERS.get(usize::from(c as u8 - b'A')),
        '0'..='9' => FONT_DIGITS.get(usize::from(c as u8 - b'0')),
        _ => None,
    }
}

/// One or two initials for a display name: the first letter or digit of
/// the first two words (upper-cased, Latin-1 accents folded; words starting
/// with other scripts are skipped). Names with none fall back
/// to the member id modulo 100, so every card has a mark.
pub fn initials(name: &str, member: u64) -> String {
    let from_name: String = name
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|word| word.chars().next().and_then(fold_to_ascii))
        .take(2)
        .collect();
    if from_name.is_empty() {
        (member % 100).to_string()
    } else {
        from_name
    }
}

/// Upper-case ASCII letter or digit for `c`, folding Latin-1 accents
/// (`é` → `E`); `None` for anything the font cannot draw.
fn fold_to_ascii(c: char) -> Option<char> {
    let upper = c.to_uppercase().next()?;
    let folded = match upper {
        'À'..='Å' => 'A',
        'Ç' => 'C',
        'È'..='Ë' => 'E',
        'Ì'..='Ï' => 'I',
        'Ñ' => 'N',
        'Ò'..='Ö' | 'Ø' => 'O',
        'Ù'..='Ü' => 'U',
        'Ý' => 'Y',
        c if c.is_ascii_alphanumeric() => c,
        _ => return None,
    };
    Some(folded)
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

    let text: Vec<&[u8; 7]> = initials(name, member).chars().filter_map(glyph).collect();
    let columns = (text.len() as u32 * 6).saturating_sub(1).max(1);
    let cell = (diameter * 3 / 5 / columns)
        .min(diameter * 2 / 5 / 7)
        .max(1);
    let text_w = i64::from(columns * cell);
    let (x0, y0) = (cx - text_w / 2, cy - i64::from(7 * cell) / 2);
    let (gr, gg, gb) = GLYPH_RGB;
    let ink = rgb_to_yuv(gr, gg, gb);
    for (i, bitmap) in text.iter().enumerate() {
        let gx = x0 + i as i64 * 6 * i64::from(cell);
        for (row, bits) in bitmap.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    let x = gx + col * i64::from(cell);
                    let y = y0 + row as i64 * i64::from(cell);
                    card.fill_rect(
                        Rect::from_edges(x, y, x + i64::from(cell), y + i64::from(cell)),
                        ink,
                    );
                }
            }
        }
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

#[derive(Debug)]
struct CachedCard {
    name: String,
    card: I420Frame,
    used_in_tick: u64,
}

/// Rendered placeholder cards keyed by (member, width, height); a card is
/// re-rendered only when the member's name changes. Call
/// [`PlaceholderCache::end_tick`] once per canvas tick to drop unused cards.
#[derive(Debug, Default)]
pub struct PlaceholderCache {
    cards: HashMap<(u64, u32, u32), CachedCard>,
    tick: u64,
    renders: u64,
}

impl PlaceholderCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The card for a member at a size, rendered on first use.
    pub fn get(&mut self, member: u64, name: &str, width: u32, height: u32) -> &I420Frame {
        let tick = self.tick;
        match self.cards.entry((member, width, height)) {
            Entry::Occupied(occupied) => {
                let cached = occupied.into_mut();
                if cached.name != name {
                    cached.card = render_placeholder(member, name, width, height);
                    cached.name = name.to_string();
                    self.renders += 1;
                }
                cached.used_in_tick = tick;
                &cached.card
            }
            Entry::Vacant(vacant) => {
                self.renders += 1;
                let card = render_placeholder(member, name, width, height);
                let name = name.to_string();
                &vacant
                    .insert(CachedCard {
                        name,
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
