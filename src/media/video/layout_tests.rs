//! Tests of `layout`: shipped layouts, tile rectangles, groups, errors.

use std::path::PathBuf;

use super::layout::{Layout, LayoutError, LayoutLibrary, Slot};

const SHIPPED: [&str; 10] = [
    "1x1",
    "1x2",
    "2x2",
    "3x3",
    "4x4",
    "5x5",
    "1up_top_left+5",
    "1up_top_left+7",
    "2up_top+8",
    "presenter",
];

fn shipped_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("layouts")
}

fn overlaps(a: &Slot, b: &Slot) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[test]
fn builtin_sources_are_valid_and_match_the_directory() {
    let builtin =
        LayoutLibrary::from_sources(LayoutLibrary::builtin_sources()).expect("builtin valid");
    let from_dir = LayoutLibrary::load_dir(shipped_dir()).expect("layouts/ loads");
    let names: Vec<&str> = builtin.layout_names().collect();
    assert_eq!(names, from_dir.layout_names().collect::<Vec<_>>());
    for name in SHIPPED {
        assert_eq!(builtin.get(name), from_dir.get(name), "{name}");
    }
    assert_eq!(
        LayoutLibrary::builtin().layout_names().count(),
        SHIPPED.len()
    );
    assert_eq!(builtin.group_names().collect::<Vec<_>>(), ["grid"]);
}

#[test]
fn every_shipped_layout_is_sound() {
    let lib = LayoutLibrary::builtin();
    for name in SHIPPED {
        let layout = lib.get(name).unwrap_or_else(|| panic!("{name} missing"));
        layout.validate("test").expect("valid");
        for (i, a) in layout.slots.iter().enumerate() {
            assert!(
                a.x + a.w <= layout.grid && a.y + a.h <= layout.grid,
                "{name} #{i}"
            );
            for b in &layout.slots[i + 1..] {
                assert!(!overlaps(a, b), "{name}: {a:?} overlaps {b:?}");
            }
        }
        for (w, h) in [
            (1280, 720),
            (1920, 1080),
            (640, 360),
            (1366, 768),
            (1279, 719),
        ] {
            let rects = layout.tile_rects(w, h);
            assert_eq!(rects.len(), layout.slots.len());
            for r in rects {
                assert!(r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0, "{name} {r:?}");
                assert!(
                    r.x % 2 == 0 && r.y % 2 == 0 && r.w % 2 == 0 && r.h % 2 == 0,
                    "{name} {r:?}"
                );
                assert!(
                    r.right() <= i64::from(w) && r.bottom() <= i64::from(h),
                    "{name} {r:?}"
                );
            }
        }
    }
}

#[test]
fn floor_slot_is_the_big_tile() {
    let lib = LayoutLibrary::builtin();
    for name in ["1up_top_left+5", "1up_top_left+7", "2up_top+8", "presenter"] {
        let layout = lib.get(name).expect("shipped");
        let floor = layout.floor_slot().expect("has floor");
        let area = |s: &Slot| s.w * s.h;
        let biggest = layout.slots.iter().map(area).max().unwrap_or_default();
        assert_eq!(area(&layout.slots[floor]), biggest, "{name}");
    }
    assert!(lib.get("3x3").and_then(Layout::floor_slot).is_none());
}

#[test]
fn tile_rects_at_720p() {
    let lib = LayoutLibrary::builtin();
    let rects = |n: &str| {
        lib.get(n)
            .map(|l| l.tile_rects(1280, 720))
            .unwrap_or_default()
    };
    let quad: Vec<_> = rects("2x2").iter().map(|r| (r.x, r.y, r.w, r.h)).collect();
    assert_eq!(
        quad,
        [
            (0, 0, 640, 360),
            (640, 0, 640, 360),
            (0, 360, 640, 360),
            (640, 360, 640, 360)
        ]
    );
    let nine = rects("3x3");
    assert_eq!(
        (nine[0].w, nine[1].x, nine[1].w, nine[2].right()),
        (426, 426, 428, 1280)
    );
    assert_eq!(
        (rects("presenter")[0].w, rects("presenter")[0].h),
        (1024, 576)
    );
    assert_eq!(
        (rects("1x2")[1].x, rects("1x2")[1].y, rects("1x2")[1].w),
        (640, 180, 640)
    );
    let zero = Layout {
        name: "z".into(),
        grid: 0,
        slots: vec![Slot {
            x: 0,
            y: 0,
            w: 1,
            h: 1,
            floor: false,
            crop: false,
        }],
    };
    assert!(zero.tile_rects(1280, 720)[0].is_empty());
}

#[test]
fn group_pick_by_member_count() {
    let lib = LayoutLibrary::builtin();
    let pick = |n| lib.pick("grid", n).map(|l| l.name.as_str());
    let expected = [
        (0, "1x1"),
        (1, "1x1"),
        (2, "1x2"),
        (3, "2x2"),
        (4, "2x2"),
        (5, "3x3"),
        (9, "3x3"),
    ];
    for (members, name) in expected {
        assert_eq!(pick(members), Some(name), "{members} members");
    }
    assert_eq!(
        (pick(10), pick(16), pick(17), pick(25)),
        (Some("4x4"), Some("4x4"), Some("5x5"), Some("5x5"))
    );
    assert_eq!(pick(26), Some("5x5"));
    assert_eq!(pick(1000), Some("5x5"));
    assert_eq!(lib.pick("nope", 3), None);
}

fn load(files: &[(&str, &str)]) -> Result<LayoutLibrary, LayoutError> {
    LayoutLibrary::from_sources(files)
}

const ONE: &str =
    "[[layout]]\nname = \"one\"\ngrid = 2\nslots = [{ x = 0, y = 0, w = 2, h = 2 }]\n";

#[test]
fn error_cases_are_typed_and_name_the_file() {
    let bad_slot = |slot: &str| format!("[[layout]]\nname = \"l\"\ngrid = 10\nslots = [{slot}]\n");
    let check = |text: &str, what: fn(&LayoutError) -> bool| {
        let err = load(&[("a.toml", text)]).expect_err(text);
        assert!(what(&err), "{err:?}");
        assert!(err.to_string().contains("a.toml"), "{err}");
    };
    check("[[layout]\n", |e| matches!(e, LayoutError::Parse { .. }));
    check(
        &bad_slot("{ x = 0, y = 0, w = 1, h = 1, colour = 3 }"),
        |e| matches!(e, LayoutError::Parse { .. }),
    );
    check(&bad_slot("{ x = -1, y = 0, w = 1, h = 1 }"), |e| {
        matches!(e, LayoutError::Parse { .. })
    });
    check(&bad_slot("{ x = 5, y = 0, w = 6, h = 1 }"), |e| {
        matches!(
            e,
            LayoutError::SlotOutsideGrid {
                slot: 0,
                grid: 10,
                ..
            }
        )
    });
    check(
        &bad_slot(
            "{ x = 0, y = 0, w = 1, h = 1 }, { x = 0, y = 4294967295, w = 1, h = 4294967295 }",
        ),
        |e| matches!(e, LayoutError::SlotOutsideGrid { slot: 1, .. }),
    );
    check(&bad_slot("{ x = 0, y = 0, w = 0, h = 1 }"), |e| {
        matches!(e, LayoutError::ZeroSizeSlot { .. })
    });
    check(&bad_slot(""), |e| matches!(e, LayoutError::NoSlots { .. }));
    check(
        "[[layout]]\nname = \"g\"\ngrid = 0\nslots = [{ x = 0, y = 0, w = 1, h = 1 }]\n",
        |e| matches!(e, LayoutError::ZeroGrid { .. }),
    );
    check(
        "[[layout]]\nname = \" \"\ngrid = 1\nslots = [{ x = 0, y = 0, w = 1, h = 1 }]\n",
        |e| matches!(e, LayoutError::EmptyName { .. }),
    );
    check(
        "[[group]]\nname = \"g\"\nlayouts = [\"missing\"]\n",
        |e| matches!(e, LayoutError::UnknownLayoutInGroup { layout, .. } if layout == "missing"),
    );
    check("[[group]]\nname = \"g\"\nlayouts = []\n", |e| {
        matches!(e, LayoutError::EmptyGroup { .. })
    });
}

#[test]
fn duplicates_across_files_are_rejected() {
    let err = load(&[("a.toml", ONE), ("b.toml", ONE)]).expect_err("duplicate");
    assert!(
        matches!(&err, LayoutError::DuplicateLayout { file, first, name } if file == "b.toml" && first == "a.toml" && name == "one")
    );
    let group = "[[group]]\nname = \"g\"\nlayouts = [\"one\"]\n";
    let err = load(&[("a.toml", ONE), ("g1.toml", group), ("g2.toml", group)])
        .expect_err("duplicate group");
    assert!(matches!(err, LayoutError::DuplicateGroup { .. }));
    // A group may name a layout from a later file.
    let lib = load(&[("a.toml", group), ("z.toml", ONE)]).expect("forward reference");
    assert_eq!(lib.pick("g", 5).map(|l| l.name.as_str()), Some("one"));
}

#[test]
fn load_dir_reports_io_and_file_errors() {
    let missing = std::env::temp_dir().join("scratch_compose_no_such_dir");
    assert!(matches!(
        LayoutLibrary::load_dir(&missing),
        Err(LayoutError::Io { .. })
    ));
    let dir = std::env::temp_dir().join(format!("scratch_compose_layouts_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("one.toml"), ONE).expect("write");
    std::fs::write(dir.join("notes.txt"), "ignored").expect("write");
    let lib = LayoutLibrary::load_dir(&dir).expect("loads");
    assert_eq!(lib.layout_names().collect::<Vec<_>>(), ["one"]);
    std::fs::write(
        dir.join("two.toml"),
        "[[layout]]\nname = \"two\"\ngrid = 1\nslots = [{ x = 1, y = 0, w = 1, h = 1 }]\n",
    )
    .expect("write");
    let err = LayoutLibrary::load_dir(&dir).expect_err("bad slot");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.to_string().contains("two.toml"), "{err}");
    assert!(matches!(err, LayoutError::SlotOutsideGrid { .. }));
}
