//! Tests of `placeholder`: visible, deterministic, distinguishable, cached.

use super::frame::BLACK_YUV;
use super::placeholder::{initials, member_accent_rgb, render_placeholder, PlaceholderCache};

#[test]
fn card_is_not_black_and_has_a_mark() {
    let card = render_placeholder(42, "Ada Lovelace", 320, 180);
    assert!(card.validate().is_ok());
    assert_ne!(card.pixel_yuv(2, 2), Some(BLACK_YUV));
    let corner = card.pixel_yuv(2, 2);
    let centre_ring = card.pixel_yuv(160, 180 / 2 - 50);
    assert_ne!(corner, centre_ring, "accent disc visible");
    let distinct: std::collections::HashSet<u8> = card.y.iter().copied().collect();
    assert!(
        distinct.len() >= 3,
        "background, disc and glyph: {distinct:?}"
    );
}

#[test]
fn rendering_is_deterministic_and_per_member() {
    assert_eq!(
        render_placeholder(7, "Bob", 160, 90),
        render_placeholder(7, "Bob", 160, 90)
    );
    assert_ne!(
        render_placeholder(7, "Bob", 160, 90),
        render_placeholder(8, "Bob", 160, 90)
    );
    assert_ne!(
        render_placeholder(7, "Bob", 160, 90),
        render_placeholder(7, "Al", 160, 90)
    );
    let accents: std::collections::HashSet<_> = (0..16).map(member_accent_rgb).collect();
    assert!(accents.len() >= 12, "{accents:?}");
    for (r, g, b) in accents {
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        assert!(max <= 140 && max - min <= 70, "muted: {r},{g},{b}");
    }
}

#[test]
fn initials_from_names() {
    assert_eq!(initials("Ada Lovelace", 1), "AL");
    assert_eq!(initials("bob", 1), "B");
    assert_eq!(initials("  jean-luc picard ", 1), "JL");
    assert_eq!(initials("1001", 1), "1");
    assert_eq!(initials("", 1234), "34");
    assert_eq!(initials("Émile Zola", 1), "ÉZ");
    assert_eq!(initials("ñandú 李", 5), "Ñ李");
    assert_eq!(initials("???", 7), "7");
}

#[test]
fn any_size_renders_without_panicking() {
    for (w, h) in [
        (0, 0),
        (1, 1),
        (3, 7),
        (15, 15),
        (16, 16),
        (17, 33),
        (1920, 1080),
        (40, 2000),
    ] {
        let card = render_placeholder(u64::MAX, "Zed Zero", w, h);
        assert!(card.validate().is_ok(), "{w}x{h}");
        assert_eq!((card.width, card.height), (w, h));
    }
}

#[test]
fn cache_renders_once_per_member_and_size() {
    let mut cache = PlaceholderCache::new();
    let first = cache.get(1, "Ann", 320, 180).clone();
    assert_eq!(cache.get(1, "Ann", 320, 180), &first);
    assert_eq!(cache.renders(), 1);
    cache.get(1, "Ann", 160, 90);
    cache.get(1, "Anna Bell", 160, 90);
    assert_eq!((cache.renders(), cache.len()), (3, 2));
    cache.end_tick();
    cache.get(1, "Ann", 320, 180);
    cache.end_tick();
    assert_eq!(cache.len(), 1);
    assert!(!cache.is_empty());
}
