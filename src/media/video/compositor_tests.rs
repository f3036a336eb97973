//! Tests of `compositor`: colours land in their tiles, floor placement,
//! placeholders, overflow, cache reuse, robustness.

use super::compositor::{assign_slots, Compositor, TileSource};
use super::frame::{I420Frame, Rect, BLACK_YUV};
use super::layout::LayoutLibrary;

const RED: (u8, u8, u8) = (255, 0, 0);
const GREEN: (u8, u8, u8) = (0, 255, 0);
const BLUE: (u8, u8, u8) = (0, 0, 255);
const YELLOW: (u8, u8, u8) = (255, 255, 0);

fn near(actual: Option<(u8, u8, u8)>, rgb: (u8, u8, u8)) -> bool {
    let Some(p) = actual else {
        return false;
    };
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= 8;
    d(p.0, rgb.0) && d(p.1, rgb.1) && d(p.2, rgb.2)
}

fn centre_rgb(canvas: &I420Frame, rect: Rect) -> Option<(u8, u8, u8)> {
    let (x, y) = rect.center();
    canvas.pixel_rgb(x as u32, y as u32)
}

fn frames(colours: &[(u8, u8, u8)]) -> Vec<I420Frame> {
    colours
        .iter()
        .map(|c| I420Frame::from_rgb(640, 360, *c))
        .collect()
}

fn sources(frames: &[I420Frame]) -> Vec<TileSource<'_>> {
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| TileSource::Frame {
            member: i as u64 + 1,
            frame,
            generation: 1,
        })
        .collect()
}

#[test]
fn four_colours_on_2x2() {
    let lib = LayoutLibrary::builtin();
    let layout = lib.get("2x2").expect("2x2");
    let inputs = frames(&[RED, GREEN, BLUE, YELLOW]);
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(layout, &sources(&inputs), None);
    assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    for ((_, rect), colour) in placed.iter().zip([RED, GREEN, BLUE, YELLOW]) {
        assert!(
            near(centre_rgb(compositor.canvas(), *rect), colour),
            "{rect:?}"
        );
    }
    assert_eq!(placed[3].1, Rect::new(640, 360, 640, 360));
}

#[test]
fn floor_member_goes_to_the_floor_slot() {
    let lib = LayoutLibrary::builtin();
    let layout = lib.get("1up_top_left+5").expect("shipped");
    let inputs = frames(&[RED, GREEN, BLUE, YELLOW]);
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(layout, &sources(&inputs), Some(3));
    let floor_rect = layout.tile_rects(1280, 720)[layout.floor_slot().unwrap_or_default()];
    assert_eq!(placed[0], (3, floor_rect));
    assert!(near(centre_rgb(compositor.canvas(), floor_rect), BLUE));
    assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 1, 2, 4]);
    // Unknown floor member: plain order.
    let placed = compositor.compose(layout, &sources(&inputs), Some(99));
    assert_eq!(placed[0].0, 1);
    // A grid without floor slot ignores the floor.
    let grid = lib.get("2x2").expect("2x2");
    assert_eq!(
        assign_slots(grid, &sources(&inputs), Some(3)),
        [Some(0), Some(1), Some(2), Some(3)]
    );
}

#[test]
fn placeholder_for_member_without_frame() {
    let lib = LayoutLibrary::builtin();
    let layout = lib.get("1x2").expect("1x2");
    let red = I420Frame::from_rgb(640, 360, RED);
    let list = [
        TileSource::Frame {
            member: 1,
            frame: &red,
            generation: 0,
        },
        TileSource::Placeholder {
            member: 2,
            name: "No Video",
        },
    ];
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(layout, &list, None);
    assert_eq!(placed.len(), 2);
    let card_rect = placed[1].1;
    let corner = compositor
        .canvas()
        .pixel_yuv(card_rect.x as u32 + 2, card_rect.y as u32 + 2);
    assert!(corner.is_some() && corner != Some(BLACK_YUV));
    assert_ne!(
        centre_rgb(compositor.canvas(), card_rect),
        centre_rgb(compositor.canvas(), placed[0].1)
    );
    assert_eq!(compositor.placeholder_renders(), 1);
    compositor.compose(layout, &list, None);
    assert_eq!(compositor.placeholder_renders(), 1, "card cached");
}

#[test]
fn more_members_than_slots_hides_the_extras() {
    let lib = LayoutLibrary::builtin();
    let layout = lib.get("2x2").expect("2x2");
    let inputs = frames(&[RED, GREEN, BLUE, YELLOW, RED, GREEN]);
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(layout, &sources(&inputs), Some(6));
    assert_eq!(placed.len(), 4);
    assert_eq!(compositor.stats().hidden_last, 2);
    let picked = lib.pick("grid", 30).expect("largest");
    let many: Vec<I420Frame> = (0..30)
        .map(|_| I420Frame::from_rgb(64, 36, GREEN))
        .collect();
    assert_eq!(compositor.compose(picked, &sources(&many), None).len(), 25);
}

#[test]
fn unchanged_inputs_are_not_rescaled() {
    let lib = LayoutLibrary::builtin();
    let layout = lib.get("2x2").expect("2x2");
    let inputs = frames(&[RED, GREEN, BLUE, YELLOW]);
    let mut compositor = Compositor::new(1280, 720);
    compositor.compose(layout, &sources(&inputs), None);
    assert_eq!(compositor.scaled_stats().scales, 4);
    compositor.compose(layout, &sources(&inputs), None);
    assert_eq!(
        (
            compositor.scaled_stats().scales,
            compositor.scaled_stats().hits
        ),
        (4, 4)
    );
    let mut changed = sources(&inputs);
    if let Some(TileSource::Frame { generation, .. }) = changed.get_mut(0) {
        *generation = 2;
    }
    compositor.compose(layout, &changed, None);
    assert_eq!(compositor.scaled_stats().scales, 5);
    // Layout change → new tile sizes → rescale, old tiles evicted.
    compositor.compose(lib.get("3x3").expect("3x3"), &changed, None);
    assert_eq!(compositor.scaled_stats().scales, 9);
    assert_eq!(compositor.scaled_stats().evictions, 4);
}

#[test]
fn broken_inputs_and_odd_canvases_do_not_panic() {
    let lib = LayoutLibrary::builtin();
    let mut broken = I420Frame::from_rgb(640, 360, RED);
    broken.u.to_mut().clear();
    let empty = I420Frame::new_black(0, 0);
    let tiny = I420Frame::from_rgb(1, 1, BLUE);
    let list = [
        TileSource::Frame {
            member: 1,
            frame: &broken,
            generation: 1,
        },
        TileSource::Empty,
        TileSource::Frame {
            member: 3,
            frame: &empty,
            generation: 1,
        },
        TileSource::Frame {
            member: 4,
            frame: &tiny,
            generation: 1,
        },
    ];
    for (w, h) in [(1280, 720), (0, 0), (2, 2), (641, 359), (u32::MAX, 4)] {
        let mut compositor = Compositor::new(w, h);
        for name in lib.layout_names() {
            let layout = lib.get(name).expect("listed");
            compositor.compose(layout, &list, Some(4));
        }
    }
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(lib.get("2x2").expect("2x2"), &list, None);
    assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 3, 4]);
    assert_eq!(compositor.stats().fallbacks, 2);
    assert_eq!(
        compositor.canvas().pixel_yuv(960, 180),
        Some(BLACK_YUV),
        "Empty slot stays black"
    );
}

#[test]
fn crop_slot_fills_its_tile() {
    let mut lib = LayoutLibrary::default();
    let xml = "<layout name=\"tall\"><image x=\"0\" y=\"0\" scale=\"120\" hscale=\"360\" zoom=\"true\"/></layout>";
    lib.add_freeswitch_xml(xml).expect("valid");
    let layout = lib.get("tall").expect("imported");
    let red = I420Frame::from_rgb(640, 360, RED);
    let mut compositor = Compositor::new(1280, 720);
    let placed = compositor.compose(
        layout,
        &[TileSource::Frame {
            member: 9,
            frame: &red,
            generation: 0,
        }],
        None,
    );
    let r = placed[0].1;
    let canvas = compositor.canvas();
    assert!(near(canvas.pixel_rgb(r.x as u32 + 1, r.y as u32 + 1), RED));
    assert!(near(
        canvas.pixel_rgb(r.x as u32 + 1, (r.bottom() - 1) as u32),
        RED
    ));
}
