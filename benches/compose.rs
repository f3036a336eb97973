//! Compose cost per canvas tick (NxN grids of 640x360 inputs at 720p and
//! 1080p): cold cache, inputs changing every frame (cache busted by a new
//! generation) and unchanged inputs; plus whole-plane scaling
//! 1280x720 → 426x240, 320x180 and 256x144: smooth (with and without the exact block-mean
//! and 2x2 shrinks) vs nearest.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use tessera::media::video::compositor::{Compositor, TileSource};
use tessera::media::video::frame::I420Frame;
use tessera::media::video::layout::LayoutLibrary;
use tessera::media::video::scale::{ScaleQuality, Scaler};

const RESOLUTIONS: [(&str, u32, u32); 2] = [("720p", 1280, 720), ("1080p", 1920, 1080)];
const GRIDS: [&str; 5] = ["1x1", "2x2", "3x3", "4x4", "5x5"];

fn inputs(count: usize) -> Vec<I420Frame> {
    (0..count)
        .map(|i| {
            let shade = (i * 9 % 256) as u8;
            I420Frame::from_rgb(640, 360, (shade, 255 - shade, 96))
        })
        .collect()
}

fn sources(frames: &[I420Frame], generation: u64) -> Vec<TileSource<'_>> {
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| TileSource::Frame {
            member: i as u64,
            frame,
            generation,
        })
        .collect()
}

fn compose(c: &mut Criterion) {
    let lib = LayoutLibrary::builtin();
    let mut group = c.benchmark_group("compose");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (res, w, h) in RESOLUTIONS {
        for name in GRIDS {
            let Some(layout) = lib.get(name) else {
                continue;
            };
            let frames = inputs(layout.capacity());
            let id = |mode: &str| BenchmarkId::new(mode, format!("{name}@{res}"));
            group.bench_function(id("cold"), |b| {
                b.iter_batched(
                    || Compositor::new(w, h),
                    |mut compositor| {
                        black_box(compositor.compose(layout, &sources(&frames, 0), None));
                        compositor
                    },
                    BatchSize::LargeInput,
                )
            });
            let mut compositor = Compositor::new(w, h);
            let mut generation = 0u64;
            group.bench_function(id("changing"), |b| {
                b.iter(|| {
                    generation += 1;
                    black_box(compositor.compose(layout, &sources(&frames, generation), None))
                })
            });
            group.bench_function(id("unchanged"), |b| {
                b.iter(|| {
                    black_box(compositor.compose(layout, &sources(&frames, generation), None))
                })
            });
        }
    }
    group.finish();
}

fn scale_plane(c: &mut Criterion) {
    let src = vec![128u8; 1280 * 720];
    // 426x240: a 3x3 grid's tile (3x to within a pixel: 3x3 block means when on); 320x180: a
    // 4x4 grid's (exactly 4x: the 2x2 halvings when on); 256x144: a 5x5 grid's (5x5 means).
    for (w, h) in [(426u32, 240u32), (320, 180), (256, 144)] {
        let mut dst = vec![0u8; (w * h) as usize];
        let mut group = c.benchmark_group(format!("scale_plane_1280x720_to_{w}x{h}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (label, quality, exact) in [
            ("bilinear", ScaleQuality::Bilinear, true),
            ("bilinear_convolution_only", ScaleQuality::Bilinear, false),
            ("nearest", ScaleQuality::Nearest, false),
        ] {
            let mut scaler = Scaler::new(quality);
            scaler.set_exact_shrinks(exact);
            group.bench_function(label, |b| {
                b.iter(|| scaler.scale_plane(black_box(&src), (1280, 720), &mut dst, (w, h)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, compose, scale_plane);
criterion_main!(benches);
