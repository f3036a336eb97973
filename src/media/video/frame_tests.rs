//! Tests of `frame`: colour conversion, sampling, fills, blits, snapshots.

use super::frame::{rgb_to_yuv, yuv_to_rgb, I420Frame, Rect, BLACK_YUV};

fn close(a: (u8, u8, u8), b: (u8, u8, u8), tolerance: i32) -> bool {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs() <= tolerance;
    d(a.0, b.0) && d(a.1, b.1) && d(a.2, b.2)
}

#[test]
fn bt601_known_values_and_round_trip() {
    assert_eq!(rgb_to_yuv(0, 0, 0), BLACK_YUV);
    assert_eq!(rgb_to_yuv(255, 255, 255), (235, 128, 128));
    let (y, u, v) = rgb_to_yuv(255, 0, 0);
    assert_eq!((y, u, v), (82, 90, 240));
    for rgb in [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 0),
        (12, 200, 99),
    ] {
        let (y, u, v) = rgb_to_yuv(rgb.0, rgb.1, rgb.2);
        assert!(close(yuv_to_rgb(y, u, v), rgb, 3), "{rgb:?}");
    }
}

#[test]
fn constructors_and_sampling() {
    let f = I420Frame::from_rgb(64, 48, (0, 0, 255));
    assert!(f.validate().is_ok());
    assert_eq!(f.u.len(), 32 * 24);
    assert!(close(
        f.pixel_rgb(10, 10).unwrap_or_default(),
        (0, 0, 255),
        3
    ));
    assert_eq!(f.pixel_rgb(64, 0), None);
    assert_eq!(I420Frame::new_black(4, 4).pixel_yuv(3, 3), Some(BLACK_YUV));
}

#[test]
fn odd_and_zero_dimensions_are_handled() {
    let f = I420Frame::new_black(5, 3);
    assert_eq!((f.chroma_width(), f.chroma_height()), (3, 2));
    assert!(f.validate().is_ok());
    assert_eq!(f.pixel_yuv(4, 2), Some(BLACK_YUV));
    let mut z = I420Frame::new_black(0, 0);
    z.fill_rect(Rect::new(0, 0, 10, 10), (1, 2, 3));
    z.blit(&f, 0, 0);
    assert_eq!(z.pixel_rgb(0, 0), None);
    assert_eq!(z.to_rgb_image().dimensions(), (0, 0));
}

#[test]
fn inconsistent_frame_is_rejected_not_panicking() {
    let mut f = I420Frame::new_black(8, 8);
    f.u.to_mut().truncate(3);
    assert!(f.validate().is_err());
    assert_eq!(f.pixel_rgb(0, 0), None);
    f.fill_rect(Rect::new(0, 0, 8, 8), (200, 1, 1));
    assert_eq!(f.y[0], 16);
    let mut canvas = I420Frame::new_black(16, 16);
    canvas.blit(&f, 0, 0);
    assert_eq!(canvas, I420Frame::new_black(16, 16));
}

#[test]
fn fill_rect_is_clipped() {
    let mut f = I420Frame::new_black(16, 16);
    let white = rgb_to_yuv(255, 255, 255);
    f.fill_rect(Rect::new(-4, -4, 8, 8), white);
    f.fill_rect(Rect::new(12, 12, 100, 100), white);
    f.fill_rect(Rect::new(i32::MAX - 1, 0, u32::MAX, 1), white);
    assert_eq!(f.pixel_yuv(0, 0), Some(white));
    assert_eq!(f.pixel_yuv(3, 3), Some(white));
    assert_eq!(f.pixel_yuv(4, 4), Some(BLACK_YUV));
    assert_eq!(f.pixel_yuv(15, 15), Some(white));
}

#[test]
fn blit_copies_clipped_at_even_positions() {
    let red = I420Frame::from_rgb(8, 8, (255, 0, 0));
    let mut canvas = I420Frame::new_black(16, 16);
    canvas.blit(&red, -4, 12);
    assert!(close(
        canvas.pixel_rgb(0, 12).unwrap_or_default(),
        (255, 0, 0),
        3
    ));
    assert!(close(
        canvas.pixel_rgb(3, 15).unwrap_or_default(),
        (255, 0, 0),
        3
    ));
    assert_eq!(canvas.pixel_yuv(4, 12), Some(BLACK_YUV));
    assert_eq!(canvas.pixel_yuv(0, 11), Some(BLACK_YUV));
    canvas.blit(&red, 100, 100);
    canvas.blit(&red, i32::MIN, i32::MAX);
    let odd = I420Frame::from_rgb(5, 5, (0, 255, 0));
    canvas.blit(&odd, 9, 9); // lands at (8, 8)
    assert!(close(
        canvas.pixel_rgb(8, 8).unwrap_or_default(),
        (0, 255, 0),
        3
    ));
    assert!(close(
        canvas.pixel_rgb(12, 12).unwrap_or_default(),
        (0, 255, 0),
        3
    ));
}

#[test]
fn rect_helpers() {
    let r = Rect::new(3, 5, 7, 9).even_aligned();
    assert_eq!(r, Rect::new(2, 4, 8, 10));
    assert_eq!(
        Rect::new(-3, 0, 4, 2).even_aligned(),
        Rect::new(-4, 0, 4, 2)
    );
    assert_eq!(
        Rect::new(0, 0, 4, 4).intersect(&Rect::new(4, 0, 4, 4)),
        None
    );
    assert_eq!(Rect::new(0, 0, 10, 10).center(), (5, 5));
    assert!(Rect::new(0, 0, 2, 2).contains(1, 1));
}

#[test]
fn png_snapshot_round_trips() {
    let mut f = I420Frame::from_rgb(32, 16, (0, 0, 255));
    f.fill_rect(Rect::new(0, 0, 16, 16), rgb_to_yuv(255, 255, 0));
    let path =
        std::env::temp_dir().join(format!("scratch_compose_frame_{}.png", std::process::id()));
    f.write_png(&path).expect("png written");
    let back = image::open(&path).expect("png readable").to_rgb8();
    let _ = std::fs::remove_file(&path);
    assert_eq!(back.dimensions(), (32, 16));
    let px = |x, y| {
        let p = back.get_pixel(x, y).0;
        (p[0], p[1], p[2])
    };
    assert!(close(px(2, 2), (255, 255, 0), 4));
    assert!(close(px(30, 2), (0, 0, 255), 4));
    let bad = f.write_png(std::path::Path::new("/nonexistent-dir/x.png"));
    assert!(bad.is_err());
}

/// Bytes kept alive by a test owner, as libavcodec's picture buffers are by their reference.
struct TestOwner(Vec<u8>);

impl super::plane::PlaneOwner for TestOwner {}

#[test]
fn a_shared_plane_reads_its_owners_bytes_and_copies_them_on_write() {
    use super::frame::Plane;
    use std::sync::Arc;
    let owner = Arc::new(TestOwner(vec![7; 16]));
    let (ptr, len) = (owner.0.as_ptr(), owner.0.len());
    // SAFETY: the test owner's bytes never change and live as long as the Arc.
    let mut plane = unsafe { Plane::shared(owner.clone(), ptr, len) };
    assert!(plane.is_shared());
    assert_eq!(&*plane, &[7; 16][..]);
    assert_eq!(Arc::strong_count(&owner), 2);
    let copy = plane.clone();
    plane[3] = 9;
    assert!(!plane.is_shared() && copy.is_shared());
    assert_eq!((plane[3], copy[3], owner.0[3]), (9, 7, 7));
    drop(copy);
    assert_eq!(
        Arc::strong_count(&owner),
        1,
        "the owned copy holds no reference"
    );
    // Refilling a shared plane drops the reference without copying.
    // SAFETY: as above.
    let mut refilled = unsafe { Plane::shared(owner.clone(), ptr, len) };
    refilled.recycled_vec().extend_from_slice(&[1, 2]);
    assert_eq!((&*refilled, Arc::strong_count(&owner)), (&[1u8, 2][..], 1));
}
