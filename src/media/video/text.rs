//! Text on tiles: one line of text rasterised with a TrueType font (`ab_glyph`) into a coverage
//! mask, which banners and placeholder cards paint in their own colours. The font is DejaVu
//! Sans from the system (Debian's `fonts-dejavu-core`, installed by `scripts/install-deps`);
//! `TESSERA_FONT` names another TTF/OTF file. Without a font, text is left out (logged once)
//! and tiles still render.

use super::frame::I420Frame;
use ab_glyph::{point, Font, FontArc, PxScale, ScaleFont};
use std::sync::OnceLock;
use tracing::{info, warn};

/// Where the font is looked for when `TESSERA_FONT` is not set.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// The process's tile font, loaded on first use; `None` when no font file could be read.
pub fn tile_font() -> Option<&'static FontArc> {
    static FONT: OnceLock<Option<FontArc>> = OnceLock::new();
    FONT.get_or_init(load_tile_font).as_ref()
}

fn load_tile_font() -> Option<FontArc> {
    let configured = std::env::var("TESSERA_FONT").ok();
    let paths: Vec<&str> = match &configured {
        Some(path) => vec![path.as_str()],
        None => FONT_CANDIDATES.to_vec(),
    };
    for path in &paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        match FontArc::try_from_vec(bytes) {
            Ok(font) => {
                info!(font = %path, "tile font loaded");
                return Some(font);
            }
            Err(e) => warn!(font = %path, error = %e, "not a usable font"),
        }
    }
    warn!(tried = ?paths, "no tile font found: banners and initials are not drawn \
          (install fonts-dejavu-core or set TESSERA_FONT)");
    None
}

/// A line of text as coverage (0 = background, 255 = ink), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMask {
    pub width: u32,
    pub height: u32,
    pub coverage: Vec<u8>,
}

impl TextMask {
    /// Coverage at (x, y); 0 outside the mask.
    pub fn at(&self, x: u32, y: u32) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.coverage
            .get(y as usize * self.width as usize + x as usize)
            .copied()
            .unwrap_or(0)
    }
}

/// Rasterises `text` on one line, `px` pixels high (ascent to descent), cut at `max_width`
/// pixels. Characters the font lacks draw as its missing-glyph box.
pub fn render_line(font: &FontArc, text: &str, px: f32, max_width: u32) -> TextMask {
    let scale = PxScale::from(px.max(1.0));
    let scaled = font.as_scaled(scale);
    let ascent = scaled.ascent();
    let height = (ascent - scaled.descent()).ceil().max(1.0) as u32;
    let mut caret = 0.0f32;
    let mut previous = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(caret, ascent)));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    let width = (caret.ceil().max(1.0) as u32).min(max_width.max(1));
    let mut coverage = vec![0u8; width as usize * height as usize];
    for glyph in glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, c| {
            let x = bounds.min.x as i64 + i64::from(gx);
            let y = bounds.min.y as i64 + i64::from(gy);
            if x < 0 || y < 0 || x >= i64::from(width) || y >= i64::from(height) {
                return;
            }
            let i = y as usize * width as usize + x as usize;
            let ink = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
            if let Some(cell) = coverage.get_mut(i) {
                *cell = (*cell).max(ink);
            }
        });
    }
    TextMask {
        width,
        height,
        coverage,
    }
}

/// Paints `mask` onto `frame` with its top-left corner at `origin`, in colour `yuv`, blending
/// by coverage (chroma by the mean coverage of its 2×2 luma block). Parts outside the frame
/// are clipped.
pub fn paint_mask(frame: &mut I420Frame, mask: &TextMask, origin: (i64, i64), yuv: (u8, u8, u8)) {
    if frame.validate().is_err() {
        return;
    }
    let blend = |bg: u8, ink: u8, c: u32| -> u8 {
        ((u32::from(bg) * (255 - c) + u32::from(ink) * c + 127) / 255) as u8
    };
    let (w, h) = (i64::from(frame.width), i64::from(frame.height));
    let (x0, y0) = origin;
    for my in 0..mask.height {
        let y = y0 + i64::from(my);
        if y < 0 || y >= h {
            continue;
        }
        for mx in 0..mask.width {
            let x = x0 + i64::from(mx);
            let c = u32::from(mask.at(mx, my));
            if x < 0 || x >= w || c == 0 {
                continue;
            }
            if let Some(p) = frame.y.get_mut((y * w + x) as usize) {
                *p = blend(*p, yuv.0, c);
            }
        }
    }
    let cw = i64::from(frame.chroma_width());
    let ch = i64::from(frame.chroma_height());
    let (cx0, cy0) = (x0.div_euclid(2), y0.div_euclid(2));
    let (cx1, cy1) = (
        (x0 + i64::from(mask.width) + 1).div_euclid(2),
        (y0 + i64::from(mask.height) + 1).div_euclid(2),
    );
    for cy in cy0.max(0)..cy1.min(ch) {
        for cx in cx0.max(0)..cx1.min(cw) {
            let mut sum = 0u32;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (mx, my) = (cx * 2 + dx - x0, cy * 2 + dy - y0);
                if mx >= 0 && my >= 0 {
                    sum += u32::from(mask.at(mx as u32, my as u32));
                }
            }
            let c = sum / 4;
            if c == 0 {
                continue;
            }
            let i = (cy * cw + cx) as usize;
            if let Some(u) = frame.u.get_mut(i) {
                *u = blend(*u, yuv.1, c);
            }
            if let Some(v) = frame.v.get_mut(i) {
                *v = blend(*v, yuv.2, c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> &'static FontArc {
        tile_font().expect("DejaVu Sans (scripts/install-deps installs fonts-dejavu-core)")
    }

    #[test]
    fn text_has_ink_and_spaces_do_not() {
        let mask = render_line(font(), "Alice", 24.0, 1000);
        assert!(
            mask.height >= 24 && mask.width > 40,
            "{}x{}",
            mask.width,
            mask.height
        );
        let inked = mask.coverage.iter().filter(|c| **c > 128).count();
        assert!(inked > 50, "{inked} inked pixels");
        let blank = render_line(font(), "   ", 24.0, 1000);
        assert!(blank.coverage.iter().all(|c| *c == 0));
    }

    #[test]
    fn longer_text_is_wider_until_the_cut() {
        let short = render_line(font(), "Al", 20.0, 1000);
        let long = render_line(font(), "Alice Liddell", 20.0, 1000);
        assert!(long.width > short.width * 3);
        let cut = render_line(font(), "Alice Liddell", 20.0, 50);
        assert_eq!(cut.width, 50);
        assert_eq!(cut.coverage.len(), 50 * cut.height as usize);
    }

    #[test]
    fn painting_inks_where_the_mask_covers_and_clips_at_the_edges() {
        let mask = render_line(font(), "Hi", 20.0, 100);
        let mut frame = I420Frame::new_black(64, 32);
        paint_mask(&mut frame, &mask, (2, 2), (235, 128, 128));
        let (x, y) = (0..mask.width)
            .flat_map(|x| (0..mask.height).map(move |y| (x, y)))
            .find(|(x, y)| mask.at(*x, *y) == 255)
            .expect("a fully inked pixel");
        assert_eq!(frame.pixel_yuv(x + 2, y + 2).map(|p| p.0), Some(235));
        assert_eq!(frame.pixel_yuv(63, 31).map(|p| p.0), Some(16), "untouched");
        for origin in [(-30, -10), (60, 28), (-1000, 1000)] {
            paint_mask(&mut frame, &mask, origin, (235, 128, 128));
        }
        assert!(frame.validate().is_ok());
    }

    #[test]
    fn any_text_and_size_renders_without_panicking() {
        for text in [
            "",
            "é日本\u{1F600}",
            "\u{0}\u{7f}",
            "W".repeat(300).as_str(),
        ] {
            for px in [0.0, 1.0, 7.5, 200.0] {
                let mask = render_line(font(), text, px, 640);
                assert_eq!(
                    mask.coverage.len(),
                    mask.width as usize * mask.height as usize
                );
            }
        }
    }
}
