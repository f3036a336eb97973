//! Raw picture types shared by the video pipeline: [`I420Frame`] (planar
//! YUV 4:2:0, strides equal to plane widths), the pixel [`Rect`] used for
//! tiles, BT.601 limited-range colour conversion, pixel sampling, rectangle
//! fills, clipped blits and PNG snapshots.
//!
//! Frames normally have even dimensions. Odd dimensions are tolerated: the
//! chroma planes are then `ceil(w/2) x ceil(h/2)`. Every method checks the
//! plane sizes first (the fields are public, so a frame can be inconsistent)
//! and does nothing (or returns an error / `None`) instead of panicking.

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use super::plane::Plane;

/// Largest width or height a constructor accepts; larger values are clamped.
pub const MAX_DIMENSION: u32 = 16_384;

/// YUV of black in BT.601 limited range.
pub const BLACK_YUV: (u8, u8, u8) = (16, 128, 128);

/// Errors about a frame's shape or its snapshot.
#[derive(Debug, Error)]
pub enum FrameError {
    /// A plane does not have the size the frame's dimensions require.
    #[error("{plane} plane has {actual} bytes, a {width}x{height} I420 frame needs {expected}")]
    PlaneSize {
        /// `"Y"`, `"U"` or `"V"`.
        plane: &'static str,
        /// Bytes required by the dimensions.
        expected: usize,
        /// Bytes present.
        actual: usize,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
    /// Writing a PNG snapshot failed.
    #[error("cannot write PNG snapshot {path}: {source}")]
    Png {
        /// Destination path.
        path: PathBuf,
        /// Underlying encoder or I/O error.
        #[source]
        source: image::ImageError,
    },
}

/// A pixel rectangle; `x`/`y` may be negative (partly outside a frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge in pixels.
    pub x: i32,
    /// Top edge in pixels.
    pub y: i32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// Builds a rectangle.
    pub const fn new(x: i32, y: i32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    /// Exclusive right edge.
    pub fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.w)
    }

    /// Exclusive bottom edge.
    pub fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.h)
    }

    /// True when the rectangle covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// Centre point (rounded down).
    pub fn center(&self) -> (i32, i32) {
        let cx = i64::from(self.x) + i64::from(self.w / 2);
        let cy = i64::from(self.y) + i64::from(self.h / 2);
        (clamp_i32(cx), clamp_i32(cy))
    }

    /// True when `(x, y)` lies inside.
    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= i64::from(self.x) && x < self.right() && y >= i64::from(self.y) && y < self.bottom()
    }

    /// Moves every edge down to an even coordinate, so the rectangle maps
    /// exactly onto the half-resolution chroma planes.
    pub fn even_aligned(&self) -> Rect {
        let x0 = floor_even(i64::from(self.x));
        let y0 = floor_even(i64::from(self.y));
        let x1 = floor_even(self.right());
        let y1 = floor_even(self.bottom());
        Rect::from_edges(x0, y0, x1, y1)
    }

    /// Intersection, or `None` when the rectangles do not overlap.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let x0 = i64::from(self.x).max(i64::from(other.x));
        let y0 = i64::from(self.y).max(i64::from(other.y));
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        let r = Rect::from_edges(x0, y0, x1, y1);
        (!r.is_empty()).then_some(r)
    }

    /// Builds a rectangle from edges (an inverted pair gives an empty rect).
    pub fn from_edges(x0: i64, y0: i64, x1: i64, y1: i64) -> Rect {
        let w = (x1 - x0).clamp(0, i64::from(u32::MAX));
        let h = (y1 - y0).clamp(0, i64::from(u32::MAX));
        Rect::new(clamp_i32(x0), clamp_i32(y0), w as u32, h as u32)
    }
}

fn floor_even(v: i64) -> i64 {
    v & !1
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// BT.601 limited-range RGB → YUV.
pub fn rgb_to_yuv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (clamp_u8(y), clamp_u8(u), clamp_u8(v))
}

/// BT.601 limited-range YUV → RGB.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> (u8, u8, u8) {
    let c = i32::from(y) - 16;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let r = (298 * c + 409 * e + 128) >> 8;
    let g = (298 * c - 100 * d - 208 * e + 128) >> 8;
    let b = (298 * c + 516 * d + 128) >> 8;
    (clamp_u8(r), clamp_u8(g), clamp_u8(b))
}

fn clamp_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// A planar YUV 4:2:0 picture; each plane's stride equals its width. A decoded picture's
/// planes may be shared with the decoder ([`Plane`]); painting on them copies them first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct I420Frame {
    /// Luma width in pixels.
    pub width: u32,
    /// Luma height in pixels.
    pub height: u32,
    /// Luma plane, `width * height` bytes.
    pub y: Plane,
    /// Cb plane, `chroma_width() * chroma_height()` bytes.
    pub u: Plane,
    /// Cr plane, same size as `u`.
    pub v: Plane,
}

impl I420Frame {
    /// A black frame (dimensions clamped to [`MAX_DIMENSION`]).
    pub fn new_black(width: u32, height: u32) -> Self {
        Self::new_filled(width, height, BLACK_YUV)
    }

    /// A frame filled with one YUV colour.
    pub fn new_filled(width: u32, height: u32, yuv: (u8, u8, u8)) -> Self {
        let width = width.min(MAX_DIMENSION);
        let height = height.min(MAX_DIMENSION);
        let chroma = width.div_ceil(2) as usize * height.div_ceil(2) as usize;
        Self {
            width,
            height,
            y: vec![yuv.0; width as usize * height as usize].into(),
            u: vec![yuv.1; chroma].into(),
            v: vec![yuv.2; chroma].into(),
        }
    }

    /// Makes `self` a copy of `other`, reusing `self`'s plane allocations.
    pub fn copy_from(&mut self, other: &I420Frame) {
        self.width = other.width;
        self.height = other.height;
        for (dst, src) in [
            (&mut self.y, &other.y),
            (&mut self.u, &other.u),
            (&mut self.v, &other.v),
        ] {
            dst.recycled_vec().extend_from_slice(src);
        }
    }

    /// A frame filled with one RGB colour (converted with [`rgb_to_yuv`]).
    pub fn from_rgb(width: u32, height: u32, rgb: (u8, u8, u8)) -> Self {
        Self::new_filled(width, height, rgb_to_yuv(rgb.0, rgb.1, rgb.2))
    }

    /// Width of the chroma planes.
    pub fn chroma_width(&self) -> u32 {
        self.width.div_ceil(2)
    }

    /// Height of the chroma planes.
    pub fn chroma_height(&self) -> u32 {
        self.height.div_ceil(2)
    }

    /// The whole frame as a rectangle at the origin.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// True when the frame has no pixel.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Checks that the planes match the dimensions.
    pub fn validate(&self) -> Result<(), FrameError> {
        let luma = self.width as usize * self.height as usize;
        let chroma = self.chroma_width() as usize * self.chroma_height() as usize;
        for (plane, expected, actual) in [
            ("Y", luma, self.y.len()),
            ("U", chroma, self.u.len()),
            ("V", chroma, self.v.len()),
        ] {
            if actual != expected {
                return Err(FrameError::PlaneSize {
                    plane,
                    expected,
                    actual,
                    width: self.width,
                    height: self.height,
                });
            }
        }
        Ok(())
    }

    /// YUV at a luma position, or `None` outside the frame.
    pub fn pixel_yuv(&self, x: u32, y: u32) -> Option<(u8, u8, u8)> {
        if x >= self.width || y >= self.height || self.validate().is_err() {
            return None;
        }
        let ci = (y / 2) as usize * self.chroma_width() as usize + (x / 2) as usize;
        let yi = y as usize * self.width as usize + x as usize;
        Some((*self.y.get(yi)?, *self.u.get(ci)?, *self.v.get(ci)?))
    }

    /// RGB at a luma position, or `None` outside the frame.
    pub fn pixel_rgb(&self, x: u32, y: u32) -> Option<(u8, u8, u8)> {
        self.pixel_yuv(x, y).map(|(y, u, v)| yuv_to_rgb(y, u, v))
    }

    /// Fills `rect` (clipped to the frame) with a YUV colour. Chroma samples
    /// touched by the rectangle at all are painted.
    pub fn fill_rect(&mut self, rect: Rect, yuv: (u8, u8, u8)) {
        if self.validate().is_err() {
            return;
        }
        let Some(r) = rect.intersect(&self.bounds()) else {
            return;
        };
        let (x0, y0) = (r.x as usize, r.y as usize);
        let (x1, y1) = (x0 + r.w as usize, y0 + r.h as usize);
        fill_plane(&mut self.y, self.width as usize, (x0, y0, x1, y1), yuv.0);
        let cw = self.chroma_width() as usize;
        let chroma = (x0 / 2, y0 / 2, x1.div_ceil(2), y1.div_ceil(2));
        fill_plane(&mut self.u, cw, chroma, yuv.1);
        fill_plane(&mut self.v, cw, chroma, yuv.2);
    }

    /// Copies `src` with its top-left corner at (`x`, `y`) rounded down to
    /// even, clipped to this frame. Invalid frames are ignored.
    pub fn blit(&mut self, src: &I420Frame, x: i32, y: i32) {
        if self.validate().is_err() || src.validate().is_err() {
            return;
        }
        let (x, y) = (floor_even(i64::from(x)), floor_even(i64::from(y)));
        let placed = Rect::from_edges(x, y, x + i64::from(src.width), y + i64::from(src.height));
        let Some(r) = placed.intersect(&self.bounds()) else {
            return;
        };
        let (sx, sy) = ((i64::from(r.x) - x) as usize, (i64::from(r.y) - y) as usize);
        let luma = CopyRegion {
            src_x: sx,
            src_y: sy,
            dst_x: r.x as usize,
            dst_y: r.y as usize,
            w: r.w as usize,
            h: r.h as usize,
        };
        copy_plane(
            &src.y,
            src.width as usize,
            &mut self.y,
            self.width as usize,
            luma,
        );
        let (scw, dcw) = (src.chroma_width() as usize, self.chroma_width() as usize);
        let chroma_w = (r.w as usize)
            .div_ceil(2)
            .min(scw.saturating_sub(sx / 2))
            .min(dcw.saturating_sub(r.x as usize / 2));
        let chroma_h = (r.h as usize)
            .div_ceil(2)
            .min((src.chroma_height() as usize).saturating_sub(sy / 2))
            .min((self.chroma_height() as usize).saturating_sub(r.y as usize / 2));
        let chroma = CopyRegion {
            src_x: sx / 2,
            src_y: sy / 2,
            dst_x: r.x as usize / 2,
            dst_y: r.y as usize / 2,
            w: chroma_w,
            h: chroma_h,
        };
        copy_plane(&src.u, scw, &mut self.u, dcw, chroma);
        copy_plane(&src.v, scw, &mut self.v, dcw, chroma);
    }

    /// Converts to an RGB image (nearest chroma sample); an inconsistent
    /// frame converts to an empty image.
    pub fn to_rgb_image(&self) -> image::RgbImage {
        if self.validate().is_err() {
            return image::RgbImage::new(0, 0);
        }
        image::RgbImage::from_fn(self.width, self.height, |x, y| {
            let (r, g, b) = self.pixel_rgb(x, y).unwrap_or((0, 0, 0));
            image::Rgb([r, g, b])
        })
    }

    /// Writes the frame as a PNG file (canvas snapshots, debugging).
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), FrameError> {
        self.validate()?;
        let path = path.as_ref();
        self.to_rgb_image()
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|source| FrameError::Png {
                path: path.to_path_buf(),
                source,
            })
    }
}

/// Fills the half-open box `(x0, y0, x1, y1)` of a plane; out-of-range parts
/// are skipped.
fn fill_plane(
    plane: &mut [u8],
    stride: usize,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    value: u8,
) {
    let x1 = x1.min(stride);
    if x0 >= x1 {
        return;
    }
    for row in y0..y1 {
        let start = row * stride;
        if let Some(line) = plane.get_mut(start + x0..start + x1) {
            line.fill(value);
        }
    }
}

/// Source and destination offsets and size of a plane copy.
#[derive(Clone, Copy)]
struct CopyRegion {
    src_x: usize,
    src_y: usize,
    dst_x: usize,
    dst_y: usize,
    w: usize,
    h: usize,
}

fn copy_plane(src: &[u8], src_stride: usize, dst: &mut [u8], dst_stride: usize, r: CopyRegion) {
    for row in 0..r.h {
        let s = (r.src_y + row) * src_stride + r.src_x;
        let d = (r.dst_y + row) * dst_stride + r.dst_x;
        if let (Some(from), Some(to)) = (src.get(s..s + r.w), dst.get_mut(d..d + r.w)) {
            to.copy_from_slice(from);
        }
    }
}
