//! Tests of `freeswitch_xml` on a sample shaped like a real
//! `freeswitch.xml` (stock layouts, both `<image/>` and `<image></image>`
//! forms, comments, unrelated `<group>`s outside `<layout-settings>`).

use super::layout::{import_freeswitch_xml, parse_freeswitch_xml, LayoutError, LayoutLibrary};

const SAMPLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="set" data="domain=example.org"/>
  <section name="configuration" description="Various Configuration">
  <configuration name="conference_layouts.conf" description="Audio Conference">
    <layout-settings>
      <layouts>
        <layout name="1x1">
          <image x="0" y="0" scale="360" floor="true"/>
        </layout>
        <layout name="2x1-zoom" auto-3d-position="true">
          <image x="0" y="0" scale="180" hscale="360" zoom="true"></image>
          <image x="180" y="0" scale="180" hscale="360" zoom="true" reservation_id="presenter"></image>
        </layout>
        <!-- <layout name="commented-out"><image x="0" y="0" scale="999"/></layout> -->
        <layout name="1up_top_left+5" auto-3d-position="true">
          <image x="0" y="0" scale="240" floor="true"></image>
          <image x="240" y="0" scale="120"></image>
          <image x="240" y="120" scale="120"></image>
          <image x="0" y="240" scale="120"></image>
          <image x="120" y="240" scale="120"></image>
          <image x="240" y="240" scale="120"></image>
        </layout>
        <layout name='presenter-overlap-small-top-right'>
          <image x = "0" y="0" scale="360" floor-only="true" />
          <image x="300" y="0" scale="60" overlap="true" reservation_id="presenter"/>
        </layout>
      </layouts>
      <groups>
        <group name="grid">
          <layout>1x1</layout>
          <layout> 2x1-zoom </layout>
        </group>
        <group name="1up_top_left_plus">
          <layout>1up_top_left+5</layout>
        </group>
      </groups>
    </layout-settings>
  </configuration>
  </section>
  <section name="directory" description="User Directory">
    <domain name="$${domain}">
      <groups>
        <group name="default"><users><user id="1000"/></users></group>
      </groups>
    </domain>
  </section>
</document>
"#;

#[test]
fn imports_stock_shaped_layouts() {
    let layouts = import_freeswitch_xml(SAMPLE).expect("imports");
    let names: Vec<&str> = layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "1x1",
            "2x1-zoom",
            "1up_top_left+5",
            "presenter-overlap-small-top-right"
        ]
    );
    assert!(layouts.iter().all(|l| l.grid == 360));
    let zoom = &layouts[1];
    assert_eq!(
        (
            zoom.slots[1].x,
            zoom.slots[1].w,
            zoom.slots[1].h,
            zoom.slots[1].crop
        ),
        (180, 180, 360, true)
    );
    let big = &layouts[2].slots[0];
    assert_eq!((big.w, big.h, big.floor, big.crop), (240, 240, true, false));
    assert_eq!(layouts[2].slots.len(), 6);
    assert!(layouts[3].slots[0].floor && !layouts[3].slots[1].floor);
}

#[test]
fn groups_are_read_and_scoped_to_layout_settings() {
    let parsed = parse_freeswitch_xml(SAMPLE).expect("parses");
    let groups: Vec<(&str, Vec<&str>)> = parsed
        .groups
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                g.layouts.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("grid", vec!["1x1", "2x1-zoom"]),
            ("1up_top_left_plus", vec!["1up_top_left+5"])
        ]
    );
    let mut lib = LayoutLibrary::default();
    lib.add_freeswitch_xml(SAMPLE).expect("library accepts it");
    assert_eq!(
        lib.pick("grid", 2).map(|l| l.name.as_str()),
        Some("2x1-zoom")
    );
    let rects = lib
        .get("2x1-zoom")
        .map(|l| l.tile_rects(1280, 720))
        .unwrap_or_default();
    assert_eq!((rects[1].x, rects[1].w, rects[1].h), (640, 640, 720));
}

#[test]
fn bare_conference_layouts_file_without_wrapper() {
    let xml = "<layouts><layout name=\"a&amp;b\"><image x=\"90\" y=\"90\" scale=\"180\"/></layout></layouts>";
    let layouts = import_freeswitch_xml(xml).expect("imports");
    assert_eq!(layouts[0].name, "a&b");
    assert_eq!(import_freeswitch_xml("").expect("empty ok"), []);
}

#[test]
fn xml_errors_are_typed() {
    let one = |image: &str| format!("<layouts><layout name=\"bad\">{image}</layout></layouts>");
    let xml_err = |xml: &str| match import_freeswitch_xml(xml) {
        Err(LayoutError::Xml { line, message }) => (line, message),
        other => panic!("expected Xml error for {xml}: {other:?}"),
    };
    assert!(xml_err(&one("<image x=\"0\" y=\"0\"/>"))
        .1
        .contains("no scale"));
    assert!(xml_err(&one("<image x=\"-5\" y=\"0\" scale=\"10\"/>"))
        .1
        .contains("x=\"-5\""));
    assert!(xml_err(&one("<image x=\"0\" y=\"0\" scale=\"big\"/>"))
        .1
        .contains("scale"));
    assert_eq!(xml_err("<layouts>\n<layout name=\"x\"\n").0, 2);
    assert!(xml_err("<!-- never closed").1.contains("comment"));
    assert!(xml_err("<image x=\"1/>").1.contains("unterminated"));
    assert!(xml_err("<group name=\"g\"><layout> </layout></group>")
        .1
        .contains("empty"));
    let outside = import_freeswitch_xml(&one("<image x=\"300\" y=\"0\" scale=\"120\"/>"));
    assert!(matches!(
        outside,
        Err(LayoutError::SlotOutsideGrid { grid: 360, .. })
    ));
    assert!(matches!(
        import_freeswitch_xml(&one("")),
        Err(LayoutError::NoSlots { .. })
    ));
    let mut lib = LayoutLibrary::builtin();
    let unknown = "<groups><group name=\"g\"><layout>nope</layout></group></groups>";
    assert!(matches!(
        lib.add_freeswitch_xml(unknown),
        Err(LayoutError::UnknownLayoutInGroup { .. })
    ));
    let duplicate = "<layout name=\"1x1\"><image x=\"0\" y=\"0\" scale=\"360\"/></layout>";
    assert!(matches!(
        lib.add_freeswitch_xml(duplicate),
        Err(LayoutError::DuplicateLayout { .. })
    ));
}
