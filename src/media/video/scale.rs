//! Scaling of I420 frames into tiles: [`Scaler`] resamples each plane with
//! `fast_image_resize` into a destination rectangle of another frame (fit
//! with black bars, or centred crop-to-fill, clipped to the destination).
//! [`ScaledCache`] (in `scaled_cache.rs`, re-exported here) keeps the scaled
//! tile of every input so an unchanged input is not scaled again.

use fast_image_resize as fir;
use fir::images::{TypedCroppedImageMut, TypedImage, TypedImageRef};
use fir::pixels::U8;
use thiserror::Error;

use super::frame::{FrameError, I420Frame, Rect, BLACK_YUV};

pub use super::scaled_cache::{CacheStats, ScaledCache, ScaledKey};

/// Resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ScaleQuality {
    /// Nearest neighbour: fastest, blocky.
    Nearest,
    /// Smooth: when shrinking, an area average (box convolution over each output pixel's
    /// footprint, as libyuv's `kFilterBox`); when enlarging, bilinear interpolation. The box is
    /// 1.5x cheaper than a bilinear convolution when shrinking and aliases no more.
    #[default]
    Bilinear,
}

/// How a picture is fitted into a tile whose aspect ratio differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FitMode {
    /// Keep the aspect ratio, show everything, fill the bars black.
    #[default]
    Fit,
    /// Keep the aspect ratio, fill the tile, crop the excess (centred).
    Crop,
}

/// Scaling failures (the compositor turns them into a placeholder tile).
#[derive(Debug, Error)]
pub enum ScaleError {
    /// The source frame's planes do not match its dimensions.
    #[error("invalid source frame: {0}")]
    Source(#[source] FrameError),
    /// The destination frame's planes do not match its dimensions.
    #[error("invalid destination frame: {0}")]
    Destination(#[source] FrameError),
    /// A plane buffer could not be viewed as an image.
    #[error("plane buffer rejected: {0}")]
    Buffer(#[from] fir::ImageBufferError),
    /// A destination rectangle was outside its plane.
    #[error("destination rectangle rejected: {0}")]
    CropBox(#[from] fir::CropBoxError),
    /// The resampler failed.
    #[error("resize failed: {0}")]
    Resize(#[from] fir::ResizeError),
}

/// Source sub-rectangle in (fractional) source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SrcBox {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

/// Where a picture lands: the destination `content` rectangle and the part
/// of the source that maps onto it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    content: Rect,
    src: SrcBox,
}

/// Plane-by-plane I420 scaler. Keeps the resampler and its buffers between
/// calls (`fast_image_resize` reuses them; filter coefficients are still
/// computed per call).
#[derive(Debug, Clone, Default)]
pub struct Scaler {
    resizer: fir::Resizer,
    quality: ScaleQuality,
}

impl Scaler {
    /// A scaler with the given filter.
    pub fn new(quality: ScaleQuality) -> Self {
        Self {
            resizer: fir::Resizer::new(),
            quality,
        }
    }

    /// The filter in use.
    pub fn quality(&self) -> ScaleQuality {
        self.quality
    }

    /// Resize options for a source region of `src` pixels shown in `dst` pixels.
    fn options(&self, src: (f64, f64), dst: (u32, u32)) -> fir::ResizeOptions {
        let shrinking = src.0 >= f64::from(dst.0) && src.1 >= f64::from(dst.1);
        let alg = match self.quality {
            ScaleQuality::Nearest => fir::ResizeAlg::Nearest,
            ScaleQuality::Bilinear if shrinking => {
                fir::ResizeAlg::Convolution(fir::FilterType::Box)
            }
            ScaleQuality::Bilinear => fir::ResizeAlg::Convolution(fir::FilterType::Bilinear),
        };
        fir::ResizeOptions::new().resize_alg(alg).use_alpha(false)
    }

    /// Scales `src` into `tile` of `dst`. The tile is rounded to even edges;
    /// whatever falls outside `dst` is clipped. With [`FitMode::Fit`] the bars
    /// are painted black. An empty source paints the tile black.
    pub fn scale_into(
        &mut self,
        src: &I420Frame,
        dst: &mut I420Frame,
        tile: Rect,
        mode: FitMode,
    ) -> Result<(), ScaleError> {
        src.validate().map_err(ScaleError::Source)?;
        dst.validate().map_err(ScaleError::Destination)?;
        let tile = tile.even_aligned();
        if tile.is_empty() {
            return Ok(());
        }
        if src.is_empty() {
            dst.fill_rect(tile, BLACK_YUV);
            return Ok(());
        }
        let placement = place(src.width, src.height, tile, mode);
        if mode == FitMode::Fit {
            paint_bars(dst, tile, placement.content);
        }
        let clip = dst.bounds().even_aligned();
        let Some(visible) = placement.content.intersect(&clip) else {
            return Ok(());
        };
        let src_box = visible_source(&placement, visible);
        let options = self.options((src_box.width, src_box.height), (visible.w, visible.h));
        let luma = PlaneGeometry {
            src_w: src.width,
            src_h: src.height,
            src_box,
            dst_w: dst.width,
            dst_h: dst.height,
            dst_rect: visible,
        };
        let chroma = luma.halved(src, dst);
        resize_plane(&mut self.resizer, &options, &src.y, &mut dst.y, luma)?;
        resize_plane(&mut self.resizer, &options, &src.u, &mut dst.u, chroma)?;
        resize_plane(&mut self.resizer, &options, &src.v, &mut dst.v, chroma)?;
        Ok(())
    }

    /// Scales one whole 8-bit plane into another (used by benchmarks and by
    /// callers that manage planes themselves).
    pub fn scale_plane(
        &mut self,
        src: &[u8],
        src_size: (u32, u32),
        dst: &mut [u8],
        dst_size: (u32, u32),
    ) -> Result<(), ScaleError> {
        let geometry = PlaneGeometry {
            src_w: src_size.0,
            src_h: src_size.1,
            src_box: SrcBox {
                left: 0.0,
                top: 0.0,
                width: f64::from(src_size.0),
                height: f64::from(src_size.1),
            },
            dst_w: dst_size.0,
            dst_h: dst_size.1,
            dst_rect: Rect::new(0, 0, dst_size.0, dst_size.1),
        };
        let options = self.options((f64::from(src_size.0), f64::from(src_size.1)), dst_size);
        resize_plane(&mut self.resizer, &options, src, dst, geometry)
    }
}

/// Computes the content rectangle and source box for a tile.
fn place(src_w: u32, src_h: u32, tile: Rect, mode: FitMode) -> Placement {
    let (sw, sh) = (f64::from(src_w), f64::from(src_h));
    let (tw, th) = (f64::from(tile.w), f64::from(tile.h));
    let full = SrcBox {
        left: 0.0,
        top: 0.0,
        width: sw,
        height: sh,
    };
    let source_is_wider = sw * th >= sh * tw;
    match mode {
        FitMode::Fit => {
            let (cw, ch) = if source_is_wider {
                (tile.w, even_extent(tw * sh / sw, tile.h))
            } else {
                (even_extent(th * sw / sh, tile.w), tile.h)
            };
            let x = i64::from(tile.x) + i64::from(((tile.w - cw) / 2) & !1);
            let y = i64::from(tile.y) + i64::from(((tile.h - ch) / 2) & !1);
            let content = Rect::from_edges(x, y, x + i64::from(cw), y + i64::from(ch));
            Placement { content, src: full }
        }
        FitMode::Crop => {
            let src = if source_is_wider {
                let width = sh * tw / th;
                SrcBox {
                    left: (sw - width) / 2.0,
                    width,
                    ..full
                }
            } else {
                let height = sw * th / tw;
                SrcBox {
                    top: (sh - height) / 2.0,
                    height,
                    ..full
                }
            };
            Placement { content: tile, src }
        }
    }
}

/// Rounds a scaled extent to even, at least 2 and at most `limit`.
fn even_extent(value: f64, limit: u32) -> u32 {
    let rounded = ((value / 2.0).round() as u32).saturating_mul(2);
    rounded.max(2).min(limit)
}

/// Maps the visible part of the content rectangle back to the source.
fn visible_source(p: &Placement, visible: Rect) -> SrcBox {
    let kx = p.src.width / f64::from(p.content.w.max(1));
    let ky = p.src.height / f64::from(p.content.h.max(1));
    SrcBox {
        left: p.src.left + f64::from(visible.x - p.content.x) * kx,
        top: p.src.top + f64::from(visible.y - p.content.y) * ky,
        width: f64::from(visible.w) * kx,
        height: f64::from(visible.h) * ky,
    }
}

/// Paints the part of `tile` not covered by `content` black.
fn paint_bars(dst: &mut I420Frame, tile: Rect, content: Rect) {
    let (tx0, ty0, tx1, ty1) = (
        i64::from(tile.x),
        i64::from(tile.y),
        tile.right(),
        tile.bottom(),
    );
    let (cx0, cy0, cx1, cy1) = (
        i64::from(content.x),
        i64::from(content.y),
        content.right(),
        content.bottom(),
    );
    for bar in [
        Rect::from_edges(tx0, ty0, tx1, cy0),
        Rect::from_edges(tx0, cy1, tx1, ty1),
        Rect::from_edges(tx0, cy0, cx0, cy1),
        Rect::from_edges(cx1, cy0, tx1, cy1),
    ] {
        if !bar.is_empty() {
            dst.fill_rect(bar, BLACK_YUV);
        }
    }
}

/// Everything needed to resample one plane.
#[derive(Debug, Clone, Copy)]
struct PlaneGeometry {
    src_w: u32,
    src_h: u32,
    src_box: SrcBox,
    dst_w: u32,
    dst_h: u32,
    /// Even-aligned for luma, so halving is exact for chroma.
    dst_rect: Rect,
}

impl PlaneGeometry {
    /// The same geometry on the chroma planes.
    fn halved(&self, src: &I420Frame, dst: &I420Frame) -> PlaneGeometry {
        let r = self.dst_rect;
        PlaneGeometry {
            src_w: src.chroma_width(),
            src_h: src.chroma_height(),
            src_box: SrcBox {
                left: self.src_box.left / 2.0,
                top: self.src_box.top / 2.0,
                width: self.src_box.width / 2.0,
                height: self.src_box.height / 2.0,
            },
            dst_w: dst.chroma_width(),
            dst_h: dst.chroma_height(),
            dst_rect: Rect::new(r.x / 2, r.y / 2, r.w / 2, r.h / 2),
        }
    }
}

fn resize_plane(
    resizer: &mut fir::Resizer,
    options: &fir::ResizeOptions,
    src: &[u8],
    dst: &mut [u8],
    g: PlaneGeometry,
) -> Result<(), ScaleError> {
    let r = g.dst_rect;
    if r.is_empty() || r.x < 0 || r.y < 0 || g.src_w == 0 || g.src_h == 0 {
        return Ok(());
    }
    // Keep the source box inside the plane despite floating-point rounding.
    let (pw, ph) = (f64::from(g.src_w), f64::from(g.src_h));
    let left = g.src_box.left.clamp(0.0, pw);
    let top = g.src_box.top.clamp(0.0, ph);
    let width = g.src_box.width.min(pw - left);
    let height = g.src_box.height.min(ph - top);
    if width <= 0.0 || height <= 0.0 {
        return Ok(());
    }
    let src_view = TypedImageRef::<U8>::from_buffer(g.src_w, g.src_h, src)?;
    let mut dst_image = TypedImage::<U8>::from_buffer(g.dst_w, g.dst_h, dst)?;
    let mut dst_view =
        TypedCroppedImageMut::from_ref(&mut dst_image, r.x as u32, r.y as u32, r.w, r.h)?;
    let options = options.crop(left, top, width, height);
    resizer.resize_typed(&src_view, &mut dst_view, &options)?;
    Ok(())
}
