//! Encode/decode throughput of the H.264 wrapper at conferencing resolutions.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera::media::video::codec::{EncoderConfig, VideoDecoder, VideoEncoder};
use tessera::media::video::frame::I420Frame;

/// Number of distinct input frames cycled through (marker positions).
const CYCLE: u32 = 16;

/// Untimed P-frames encoded before each timed forced keyframe.
const PFRAMES_BETWEEN_KEYS: usize = 9;

const SIZES: [(&str, u32, u32, u32); 3] = [
    ("360p", 640, 360, 800_000),
    ("720p", 1280, 720, 2_000_000),
    ("1080p", 1920, 1080, 4_000_000),
];

/// Diagonal luma/chroma gradient with a 48x48 marker that moves every frame.
fn frame(w: u32, h: u32, t: u32) -> I420Frame {
    let (wu, hu) = (w as usize, h as usize);
    let mut f = I420Frame::new_filled(w, h, (0, 0, 0));
    for y in 0..hu {
        for x in 0..wu {
            f.y[y * wu + x] = (16 + (x + y) * 200 / (wu + hu)) as u8;
        }
    }
    for y in 0..hu / 2 {
        for x in 0..wu / 2 {
            f.u[y * wu / 2 + x] = (64 + x * 128 / (wu / 2)) as u8;
            f.v[y * wu / 2 + x] = (64 + y * 128 / (hu / 2)) as u8;
        }
    }
    let x0 = (t as usize * 12) % (wu - 48);
    let y0 = (t as usize * 7) % (hu - 48);
    for y in y0..y0 + 48 {
        for x in x0..x0 + 48 {
            f.y[y * wu + x] = 235 - ((x + y) % 32) as u8;
        }
    }
    f
}

fn config(w: u32, h: u32, bitrate_bps: u32) -> EncoderConfig {
    EncoderConfig {
        width: w,
        height: h,
        fps: 30.0,
        bitrate_bps,
        max_keyframe_interval: None,
        max_nal_bytes: None,
    }
}

/// Times P-frames of `frames` (cycled) with an encoder built from `config`.
fn bench_p_frames(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    name: &str,
    config: EncoderConfig,
    frames: &[I420Frame],
    out: &mut Vec<u8>,
) {
    let mut enc = VideoEncoder::new(config).expect("encoder");
    let mut t = 0usize;
    let (mut coded, mut skipped, mut bytes) = (0u64, 0u64, 0usize);
    // Prime with the initial IDR so only P-frames are measured.
    enc.encode(&frames[0], false, out).expect("encode");
    group.bench_function(BenchmarkId::new(id, name), |b| {
        b.iter(|| {
            t += 1;
            let info = enc
                .encode(&frames[t % frames.len()], false, out)
                .expect("encode");
            if info.bytes == 0 {
                skipped += 1;
            } else {
                coded += 1;
                bytes += info.bytes;
            }
            black_box(info)
        })
    });
    let mean = bytes / coded.max(1) as usize;
    eprintln!(
        "encode/{id}/{name}: {coded} coded (mean {mean} B), {skipped} skipped by rate control"
    );
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, w, h, bps) in SIZES {
        let frames: Vec<I420Frame> = (0..CYCLE).map(|t| frame(w, h, t)).collect();
        let mut out = Vec::with_capacity(1 << 20);

        bench_p_frames(
            &mut group,
            "p_frame",
            name,
            config(w, h, bps),
            &frames,
            &mut out,
        );
        // Size-limited slices (NALs of at most one MTU), as a packetization-mode=0 view
        // encodes: the price of serving a mode-0 watcher.
        let sliced = EncoderConfig {
            max_nal_bytes: Some(1200),
            ..config(w, h, bps)
        };
        bench_p_frames(
            &mut group,
            "p_frame_sliced",
            name,
            sliced,
            &frames,
            &mut out,
        );
        let mut t = 0usize;

        // Forced IDRs, each after a few untimed P-frames so that the rate
        // control has budget and codes (rather than skips) the keyframe.
        let mut enc = VideoEncoder::new(config(w, h, bps)).expect("encoder");
        let (mut coded, mut skipped, mut key_bytes) = (0u64, 0u64, 0usize);
        group.bench_function(BenchmarkId::new("keyframe", name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..PFRAMES_BETWEEN_KEYS {
                        t += 1;
                        enc.encode(&frames[t % frames.len()], false, &mut out)
                            .expect("encode");
                    }
                    t += 1;
                    let start = Instant::now();
                    let info = enc
                        .encode(&frames[t % frames.len()], true, &mut out)
                        .expect("encode");
                    total += start.elapsed();
                    if info.keyframe {
                        coded += 1;
                        key_bytes = info.bytes;
                    } else {
                        skipped += 1;
                    }
                    black_box(info);
                }
                total
            })
        });
        eprintln!(
            "encode/keyframe/{name}: {coded} IDRs (last {key_bytes} B), {skipped} skipped by rate control"
        );
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, w, h, bps) in &SIZES[..2] {
        // One IDR followed by 59 P-frames, decoded in order, cyclically.
        let mut enc = VideoEncoder::new(config(*w, *h, *bps)).expect("encoder");
        let stream: Vec<Vec<u8>> = (0..60)
            .map(|t| {
                let mut out = Vec::new();
                enc.encode(&frame(*w, *h, t % CYCLE), false, &mut out)
                    .expect("encode");
                out
            })
            .collect();
        let mut dec = VideoDecoder::new().expect("decoder");
        let mut dst = I420Frame::default();
        // Decode the IDR outside the loop; P-frames 1..60 are measured and
        // the sequence restarts at frame 1 after re-feeding the IDR.
        dec.decode_into(&stream[0], &mut dst).expect("decode");
        let mut i = 0usize;
        // The next P-frame in order, the IDR fed again (unmeasured) when the stream wraps.
        let mut next_p_frame = |dec: &mut VideoDecoder, dst: &mut I420Frame| {
            i += 1;
            if i == stream.len() {
                dec.decode_into(&stream[0], dst).expect("decode");
                i = 1;
            }
            dec.decode_into(&stream[i], dst).expect("decode")
        };
        group.bench_function(BenchmarkId::new("p_frame", name), |b| {
            b.iter(|| black_box(next_p_frame(&mut dec, &mut dst)))
        });

        // The same, plus the copy out of libavcodec's buffer that the server made before its
        // pictures were shared by reference (the bytes `store_picture` copies).
        let mut owned = I420Frame::default();
        group.bench_function(BenchmarkId::new("p_frame_copied", name), |b| {
            b.iter(|| {
                let decoded = next_p_frame(&mut dec, &mut dst);
                owned.copy_from(&dst);
                black_box((decoded, owned.y.len()))
            })
        });

        let mut dec = VideoDecoder::new().expect("decoder");
        group.bench_function(BenchmarkId::new("keyframe", name), |b| {
            b.iter(|| black_box(dec.decode_into(&stream[0], &mut dst).expect("decode")))
        });
    }
    group.finish();
}

fn construction(c: &mut Criterion) {
    let mut group = c.benchmark_group("construct");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let f720 = frame(1280, 720, 0);
    let mut out = Vec::new();
    group.bench_function("encoder_new_plus_first_idr/720p", |b| {
        b.iter(|| {
            let mut enc = VideoEncoder::new(config(1280, 720, 2_000_000)).expect("encoder");
            black_box(enc.encode(&f720, false, &mut out).expect("encode"))
        })
    });
    group.bench_function("encoder_new/720p", |b| {
        b.iter(|| black_box(VideoEncoder::new(config(1280, 720, 2_000_000)).expect("encoder")))
    });
    group.bench_function("decoder_new", |b| {
        b.iter(|| black_box(VideoDecoder::new().expect("decoder")))
    });
    group.finish();
}

criterion_group!(benches, encode, decode, construction);
criterion_main!(benches);
