//! Scaling of I420 frames into tiles: [`Scaler`] resamples each plane into a destination
//! rectangle of another frame (fit with black bars, or centred crop-to-fill, clipped to the
//! destination), with `fast_image_resize`, or by exact 2x2 and kxk block means where the
//! shrink allows them.
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
///
/// Exact shrinks skip the convolution with the smooth filter (the same area mean, several
/// times cheaper): by exactly 2, 4, 8... in both directions, repeated 2x2 averages
/// ([`halve_plane`], SSE2 on x86-64); by another whole factor k up to 8 (to within one
/// destination pixel, trimmed), one pass of kxk block means ([`block_mean_plane`]).
#[derive(Debug, Clone)]
pub struct Scaler {
    resizer: fir::Resizer,
    quality: ScaleQuality,
    exact_shrinks: bool,
    /// The halved source planes, ping-ponged between passes.
    halved: [Vec<u8>; 2],
    /// One row of a kxk shrink's column sums.
    column_sums: Vec<u16>,
}

impl Default for Scaler {
    fn default() -> Self {
        Self::new(ScaleQuality::default())
    }
}

impl Scaler {
    /// A scaler with the given filter.
    pub fn new(quality: ScaleQuality) -> Self {
        Self {
            resizer: fir::Resizer::new(),
            quality,
            exact_shrinks: true,
            halved: [Vec::new(), Vec::new()],
            column_sums: Vec::new(),
        }
    }

    /// The filter in use.
    pub fn quality(&self) -> ScaleQuality {
        self.quality
    }

    /// Turns the exact shrinks (2x2 halvings, kxk block means) off, leaving everything to the
    /// convolution, or on again: for benchmarks and tests comparing both.
    pub fn set_exact_shrinks(&mut self, on: bool) {
        self.exact_shrinks = on;
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
        self.resize_plane(&options, &src.y, &mut dst.y, luma)?;
        self.resize_plane(&options, &src.u, &mut dst.u, chroma)?;
        self.resize_plane(&options, &src.v, &mut dst.v, chroma)?;
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
        self.resize_plane(&options, src, dst, geometry)
    }

    /// Resamples one plane. With the smooth filter: by repeated 2x2 averages and a copy when
    /// the shrink is exactly 2, 4, 8... ([`PlaneGeometry::exact_halvings`]), by kxk block
    /// means when it is another whole factor ([`PlaneGeometry::exact_blocks`]); else by
    /// convolution.
    fn resize_plane(
        &mut self,
        options: &fir::ResizeOptions,
        src: &[u8],
        dst: &mut [u8],
        g: PlaneGeometry,
    ) -> Result<(), ScaleError> {
        if self.exact_shrinks && self.quality == ScaleQuality::Bilinear {
            if let Some(passes) = g.exact_halvings() {
                return self.halve_into(options, src, dst, g, passes);
            }
            if let Some((k, region)) = g.exact_blocks() {
                if block_mean_plane(src, g.src_w, k, region, dst, g, &mut self.column_sums) {
                    return Ok(());
                }
            }
        }
        resize_plane(&mut self.resizer, options, src, dst, g)
    }

    /// `passes` 2x2 halvings of the source box, then a copy into the destination rectangle.
    fn halve_into(
        &mut self,
        options: &fir::ResizeOptions,
        src: &[u8],
        dst: &mut [u8],
        geometry: PlaneGeometry,
        passes: u32,
    ) -> Result<(), ScaleError> {
        let [mut current, mut spare] = self.halved.each_mut();
        let (mut source, mut g) = (src, geometry);
        for _ in 0..passes {
            let region = g.source_region();
            if !halve_plane(source, g.src_w, region, spare) {
                return resize_plane(&mut self.resizer, options, src, dst, geometry);
            }
            std::mem::swap(&mut current, &mut spare);
            source = current;
            g = g.after_halving(region);
        }
        copy_into(source, g, dst);
        Ok(())
    }
}

/// Copies a plane already at the destination size into `g.dst_rect` of `dst`.
fn copy_into(src: &[u8], g: PlaneGeometry, dst: &mut [u8]) {
    let r = g.dst_rect;
    let (w, x, y) = (r.w as usize, r.x as usize, r.y as usize);
    let stride = g.dst_w as usize;
    for (row, line) in src.chunks_exact(w).take(r.h as usize).enumerate() {
        let at = (y + row) * stride + x;
        if let Some(out) = dst.get_mut(at..at + w) {
            out.copy_from_slice(line);
        }
    }
}

/// The source rectangle an exact shrink averages: whole pixels inside the plane (even-aligned
/// for a halving pass, a multiple of k pixels each way for kxk block means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SourceRegion {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

/// Averages each 2x2 block of `region` of a plane `stride` pixels wide into `out`
/// (`region.w / 2` x `region.h / 2`, rounded to nearest); false when the region does not lie
/// inside `src`.
fn halve_plane(src: &[u8], stride: u32, region: SourceRegion, out: &mut Vec<u8>) -> bool {
    let (stride, x, y) = (stride as usize, region.x as usize, region.y as usize);
    let (w, h) = (region.w as usize, region.h as usize);
    let end = (y + h).checked_sub(1).map(|last| last * stride + x + w);
    if w < 2 || h < 2 || end.is_none_or(|end| end > src.len()) {
        return false;
    }
    let (ow, oh) = (w / 2, h / 2);
    out.clear();
    out.resize(ow * oh, 0);
    for (row, dst) in out.chunks_exact_mut(ow).enumerate() {
        let top = (y + 2 * row) * stride + x;
        let bottom = top + stride;
        halve_rows(&src[top..top + 2 * ow], &src[bottom..bottom + 2 * ow], dst);
    }
    true
}

/// Largest factor [`block_mean_plane`] shrinks by (a 5x5 grid's tiles need 5).
const MAX_BLOCK: u32 = 8;

/// Averages each `k`x`k` block of `region` of a plane `stride` pixels wide into `g.dst_rect`
/// of `dst` (rounded, halves up); false, writing nothing, when a rectangle leaves its plane
/// or `k` is not 2 to [`MAX_BLOCK`].
fn block_mean_plane(
    src: &[u8],
    stride: u32,
    k: u32,
    region: SourceRegion,
    dst: &mut [u8],
    g: PlaneGeometry,
    column_sums: &mut Vec<u16>,
) -> bool {
    let (stride, x, y, k) = (
        stride as usize,
        region.x as usize,
        region.y as usize,
        k as usize,
    );
    let row_means = match k {
        2 => block_mean_row::<2>,
        3 => block_mean_row::<3>,
        4 => block_mean_row::<4>,
        5 => block_mean_row::<5>,
        6 => block_mean_row::<6>,
        7 => block_mean_row::<7>,
        8 => block_mean_row::<8>,
        _ => return false,
    };
    let (w, h) = (region.w as usize, region.h as usize);
    let r = g.dst_rect;
    let (ow, oh, dst_stride) = (w / k, h / k, g.dst_w as usize);
    let src_end = (y + h).checked_sub(1).map(|last| last * stride + x + w);
    let dst_end = (r.y as usize + oh)
        .checked_sub(1)
        .map(|last| last * dst_stride + r.x as usize + ow);
    if ow == 0
        || oh == 0
        || (ow, oh) != (r.w as usize, r.h as usize)
        || r.x < 0
        || r.y < 0
        || src_end.is_none_or(|end| end > src.len())
        || dst_end.is_none_or(|end| end > dst.len())
    {
        return false;
    }
    column_sums.clear();
    column_sums.resize(w, 0);
    for row in 0..oh {
        let top = &src[(y + k * row) * stride + x..];
        let at = (r.y as usize + row) * dst_stride + r.x as usize;
        row_means(top, stride, w, &mut dst[at..at + ow], column_sums);
    }
    true
}

/// One output row of `K`x`K` block means: the `K` rows of `w` pixels starting at `top` (rows
/// `stride` apart) summed column by column (loops the compiler vectorizes), then each `K`
/// neighbouring column sums (unrolled: `K` is a constant) divided by `K * K`, rounded.
fn block_mean_row<const K: usize>(
    top: &[u8],
    stride: usize,
    w: usize,
    out: &mut [u8],
    column_sums: &mut [u16],
) {
    for (sum, &pixel) in column_sums.iter_mut().zip(&top[..w]) {
        *sum = u16::from(pixel);
    }
    for line in 1..K {
        let row = &top[line * stride..line * stride + w];
        for (sum, &pixel) in column_sums.iter_mut().zip(row) {
            *sum += u16::from(pixel);
        }
    }
    let area = (K * K) as u32;
    for (mean, sums) in out.iter_mut().zip(column_sums.chunks_exact(K)) {
        let total: u32 = sums.iter().map(|&s| u32::from(s)).sum();
        *mean = ((total + area / 2) / area) as u8;
    }
}

/// `dst[i]` = the rounded mean of `top[2i]`, `top[2i + 1]`, `bottom[2i]`, `bottom[2i + 1]`.
fn halve_rows(top: &[u8], bottom: &[u8], dst: &mut [u8]) {
    let done = halve_rows_simd(top, bottom, dst);
    let (top, bottom) = (&top[2 * done..], &bottom[2 * done..]);
    for ((out, t), b) in dst[done..]
        .iter_mut()
        .zip(top.chunks_exact(2))
        .zip(bottom.chunks_exact(2))
    {
        let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
        *out = ((sum + 2) >> 2) as u8;
    }
}

/// [`halve_rows`] 16 output pixels at a time with SSE2 (part of every x86-64 CPU); returns how
/// many it wrote. The compiler does not vectorize the scalar loop's byte pairs.
#[cfg(target_arch = "x86_64")]
fn halve_rows_simd(top: &[u8], bottom: &[u8], dst: &mut [u8]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi16, _mm_and_si128, _mm_loadu_si128, _mm_packus_epi16, _mm_set1_epi16,
        _mm_srli_epi16, _mm_storeu_si128,
    };
    let blocks = dst.len().min(top.len() / 2).min(bottom.len() / 2) / 16;
    // SAFETY: SSE2 is baseline on x86-64. Every load reads 16 bytes at 32 * i (+ 16) of `top`
    // or `bottom` and every store writes 16 bytes at 16 * i of `dst`, for i < `blocks`, which
    // the slices' lengths bound; unaligned loads and stores are used.
    unsafe {
        let low_bytes = _mm_set1_epi16(0x00ff);
        let two = _mm_set1_epi16(2);
        // The sums of each pixel pair of 16 bytes, as eight u16.
        let pair_sums =
            |v: __m128i| _mm_add_epi16(_mm_and_si128(v, low_bytes), _mm_srli_epi16(v, 8));
        for i in 0..blocks {
            let load = |row: &[u8], at: usize| _mm_loadu_si128(row.as_ptr().add(at).cast());
            let mean = |at: usize| {
                let sum = _mm_add_epi16(pair_sums(load(top, at)), pair_sums(load(bottom, at)));
                _mm_srli_epi16(_mm_add_epi16(sum, two), 2)
            };
            let packed = _mm_packus_epi16(mean(32 * i), mean(32 * i + 16));
            _mm_storeu_si128(dst.as_mut_ptr().add(16 * i).cast(), packed);
        }
    }
    blocks * 16
}

#[cfg(not(target_arch = "x86_64"))]
fn halve_rows_simd(_top: &[u8], _bottom: &[u8], _dst: &mut [u8]) -> usize {
    0
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
    /// How many 2x2 halvings take the source box exactly to the destination size (1, 2, ...),
    /// when that is what the geometry asks: a box of whole pixels on even edges, exactly
    /// 2, 4, 8... times the destination in both directions (720p into the tiles of a 2x2 or 4x4
    /// grid). The halvings then compute each destination pixel's exact area mean, faster than
    /// the convolution; other ratios are left to it (halving first and convolving the rest
    /// measured 2 levels of blur on noise, `scale_tests`).
    fn exact_halvings(&self) -> Option<u32> {
        let (r, b) = (self.dst_rect, self.src_box);
        if r.w == 0 || r.h == 0 || b.left.fract() != 0.0 || b.top.fract() != 0.0 {
            return None;
        }
        let ratio = b.width / f64::from(r.w);
        let passes = ratio.log2().round();
        let exact = |extent: f64, dst: u32| extent == f64::from(dst) * 2f64.powf(passes);
        let aligned = |edge: f64| edge % 2f64.powf(passes) == 0.0;
        (passes >= 1.0
            && exact(b.width, r.w)
            && exact(b.height, r.h)
            && aligned(b.left)
            && aligned(b.top)
            && b.left + b.width <= f64::from(self.src_w)
            && b.top + b.height <= f64::from(self.src_h))
        .then_some(passes as u32)
    }

    /// The shrink factor k (2 to [`MAX_BLOCK`]) and the whole-pixel region whose kxk blocks
    /// are the destination pixels, when the source box starts on whole pixels and is within one
    /// destination pixel of exactly k times the destination in both directions (720p into
    /// the tiles of a 3x3 grid, 1280x720 into 426x240; of a 5x5 grid, into 256x144). The box
    /// is trimmed, centred, to exactly k times: at most k - 1 source pixels of an extent go
    /// unshown. The mean of each block is the area mean the convolution computes, several
    /// times cheaper.
    fn exact_blocks(&self) -> Option<(u32, SourceRegion)> {
        let (r, b) = (self.dst_rect, self.src_box);
        let whole = |edge: f64| edge >= 0.0 && edge.fract() == 0.0;
        if r.is_empty() || !whole(b.left) || !whole(b.top) {
            return None;
        }
        let k = (b.width / f64::from(r.w)).floor();
        if !(2.0..=f64::from(MAX_BLOCK)).contains(&k) {
            return None;
        }
        let trim = |extent: f64, dst: u32| {
            let excess = extent - k * f64::from(dst);
            (0.0..k)
                .contains(&excess)
                .then(|| (excess / 2.0).floor() as u32)
        };
        let k = k as u32;
        let region = SourceRegion {
            x: b.left as u32 + trim(b.width, r.w)?,
            y: b.top as u32 + trim(b.height, r.h)?,
            w: k * r.w,
            h: k * r.h,
        };
        let inside = region.x + region.w <= self.src_w && region.y + region.h <= self.src_h;
        inside.then_some((k, region))
    }

    /// The source box as whole pixels (exact when [`Self::exact_halvings`] said so).
    fn source_region(&self) -> SourceRegion {
        let b = self.src_box;
        SourceRegion {
            x: b.left as u32,
            y: b.top as u32,
            w: b.width as u32,
            h: b.height as u32,
        }
    }

    /// The geometry on the plane halved from `region`.
    fn after_halving(&self, region: SourceRegion) -> PlaneGeometry {
        let b = self.src_box;
        PlaneGeometry {
            src_w: region.w / 2,
            src_h: region.h / 2,
            src_box: SrcBox {
                left: (b.left - f64::from(region.x)) / 2.0,
                top: (b.top - f64::from(region.y)) / 2.0,
                width: b.width / 2.0,
                height: b.height / 2.0,
            },
            ..*self
        }
    }

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
