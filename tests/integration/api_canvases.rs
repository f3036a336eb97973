//! Canvases over the API on real video calls: the snapshot PNG decodes and shows each
//! member's colour where the layout put it; a layout change moves the tiles (in the snapshot
//! and in the frame a member receives); a forced floor holds its member in the big slot while
//! another member talks, and returning it hands the slot to the talker. Banners show the
//! names as the font draws them; a reserved slot holds; canvases are added, resized and
//! removed (watchers move to canvas 1), with their events.

use crate::common;

use common::api::{kind, Api};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tessera::dial::{dial, DialOptions};

const RED: (u8, u8, u8) = (230, 20, 20);
const BLUE: (u8, u8, u8) = (20, 20, 230);
const LIMIT: Duration = Duration::from_secs(30);

/// The tile of `member` on canvas 1, as (x, y, w, h).
fn tile(canvas: &Value, member: u64) -> Option<(i32, i32, u32, u32)> {
    canvas["tiles"]
        .as_array()?
        .iter()
        .find(|t| t["member"] == member)
        .map(|t| {
            (
                t["x"].as_i64().unwrap() as i32,
                t["y"].as_i64().unwrap() as i32,
                t["w"].as_u64().unwrap() as u32,
                t["h"].as_u64().unwrap() as u32,
            )
        })
}

/// The snapshot PNG of canvas 1, decoded.
async fn snapshot(api: &Api, room: &str) -> image::RgbImage {
    api.snapshot(room, 1).await
}

/// A server whose canvas is 320x180 at 15 fps (cheap to encode, big enough for tiles).
async fn small_canvas_server() -> tessera::server::ServerHandle {
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    start(config).await
}

/// A caller into `room` sending 160x90 video of `colour` (and `tone`) for `secs`.
fn coloured(
    server: &tessera::server::ServerHandle,
    room: &str,
    name: &str,
    colour: (u8, u8, u8),
    tone: Option<f32>,
    secs: u64,
) -> DialOptions {
    let mut o = DialOptions::new(uri(server, room));
    o.from = name.to_string();
    o.color = Some(colour);
    o.video_size = (160, 90);
    o.tone_hz = tone;
    o.duration = Duration::from_secs(secs);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layouts_floors_and_snapshots_over_the_api() {
    let server = small_canvas_server().await;
    let api = Api::new(&server);
    let member = |name: &str, colour, tone| coloured(&server, "cv", name, colour, tone, 16);
    let operator = async {
        wait_members(&server, "cv", 2).await;
        let (red, blue) = (
            api.member_id("cv", "red").await,
            api.member_id("cv", "blue").await,
        );
        let canvas = || async { api.get("/v1/rooms/cv/canvases").await.json()[0].clone() };
        let both = eventually(LIMIT, || async {
            canvas().await["members"]
                .as_array()
                .is_some_and(|m| m.len() == 2)
        })
        .await;
        assert!(both, "both on canvas 1");
        // Pictures arrive a moment after the tiles: wait for both colours in the snapshot.
        let shows_both = eventually(LIMIT, || async {
            let c = canvas().await;
            let shot = snapshot(&api, "cv").await;
            image_tile_has(&shot, tile(&c, red).unwrap(), RED)
                && image_tile_has(&shot, tile(&c, blue).unwrap(), BLUE)
        })
        .await;
        assert!(shows_both, "the snapshot shows red and blue in their tiles");

        // A layout with one big floor slot: the floor goes where it says.
        let patched = api
            .patch(
                "/v1/rooms/cv/canvases/1",
                json!({"layout": "1up_top_left+5"}),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.json()["layout"], "1up_top_left+5");
        let forced = api
            .put("/v1/rooms/cv/canvases/1/floor", json!({"member": red}))
            .await;
        assert_eq!(forced.status, 200, "{}", forced.body);
        assert_eq!(forced.json()["floor_forced"], true);
        let big = |t: Option<(i32, i32, u32, u32)>| t.is_some_and(|(_, _, w, _)| w > 150);
        let red_big = eventually(LIMIT, || async { big(tile(&canvas().await, red)) }).await;
        assert!(red_big, "the forced member takes the big slot");
        // Blue talks throughout; past the 2 s floor hold, red still has the slot.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let c = canvas().await;
        assert!(
            big(tile(&c, red)) && !big(tile(&c, blue)),
            "the forced floor holds: {c}"
        );
        assert_eq!(c["floor"], red);
        let shot = snapshot(&api, "cv").await;
        assert!(
            image_tile_has(&shot, tile(&c, red).unwrap(), RED),
            "red is drawn big"
        );

        // Returned to the talkers: blue, the one talking, takes it.
        let auto = api.delete("/v1/rooms/cv/canvases/1/floor").await;
        assert_eq!(auto.json()["floor_forced"], false, "{}", auto.body);
        let blue_big = eventually(LIMIT, || async { big(tile(&canvas().await, blue)) }).await;
        assert!(blue_big, "the talker takes the big slot back");

        // Bad requests.
        let bad = api
            .patch("/v1/rooms/cv/canvases/1", json!({"layout": "nosuch"}))
            .await;
        assert_eq!((bad.status, bad.error_code().as_str()), (422, "invalid"));
        assert_eq!(
            api.patch("/v1/rooms/cv/canvases/5", json!({"layout": "1x1"}))
                .await
                .status,
            404
        );
        assert_eq!(
            api.put("/v1/rooms/cv/canvases/1/floor", json!({"member": 99999}))
                .await
                .status,
            404
        );
        assert_eq!(api.put("/v1/rooms/empty", json!({})).await.status, 201);
        let empty = api.get("/v1/rooms/empty/canvases/1/snapshot.png").await;
        assert_eq!(
            (empty.status, empty.error_code().as_str()),
            (409, "conflict")
        );
        let c = canvas().await;
        (tile(&c, blue).unwrap(), tile(&c, red).unwrap())
    };
    let (red, blue, (blue_tile, red_tile)) = tokio::join!(
        dial(member("red", RED, None)),
        dial(member("blue", BLUE, Some(880.0))),
        operator
    );
    let (red, _blue) = (red.expect("red"), blue.expect("blue"));
    // What a member received at the end shows the new layout: blue big, red small.
    let frame = red.last_frame.as_ref().expect("red received the canvas");
    assert!(blue_tile.2 > 150 && red_tile.2 < 150);
    assert!(
        tile_has(frame, blue_tile, BLUE),
        "blue big in the received frame"
    );
    assert!(
        tile_has(frame, red_tile, RED),
        "red small in the received frame"
    );
    server.shutdown().await;
}

/// Whether `member`'s banner on `tile` shows `text` in `luma`: the rasterizer's inked pixels
/// are much brighter than the ones it leaves dark.
fn shows_banner(
    luma: impl Fn(u32, u32) -> Option<u8>,
    tile: (i32, i32, u32, u32),
    text: &str,
    margin: f64,
) -> bool {
    let (ink, background) = banner_contrast(luma, tile, text);
    ink - background > margin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banners_slots_and_canvases_added_resized_and_removed() {
    let server = small_canvas_server().await;
    let api = Api::new(&server);
    let member = |name: &str, colour, tone| coloured(&server, "cvb", name, colour, tone, 22);
    let mut events = api.events("?room=cvb", None);
    let operator = async {
        wait_members(&server, "cvb", 2).await;
        let (red, blue) = (
            api.member_id("cvb", "red").await,
            api.member_id("cvb", "blue").await,
        );
        let canvas = || async { api.get("/v1/rooms/cvb/canvases").await.json()[0].clone() };
        let placed = eventually(LIMIT, || async {
            let c = canvas().await;
            tile(&c, red).is_some() && tile(&c, blue).is_some()
        })
        .await;
        assert!(placed, "both on canvas 1");
        // Banners on: each tile's strip shows its member's name as the font draws it.
        let on = api
            .patch("/v1/rooms/cvb/canvases/1", json!({"banners": true}))
            .await;
        assert_eq!((on.status, &on.json()["banners"]), (200, &json!(true)));
        let named = eventually(LIMIT, || async {
            let c = canvas().await;
            let shot = snapshot(&api, "cvb").await;
            shows_banner(image_luma(&shot), tile(&c, red).unwrap(), "red", 120.0)
                && shows_banner(image_luma(&shot), tile(&c, blue).unwrap(), "blue", 120.0)
        })
        .await;
        assert!(named, "the names are drawn on the tiles");
        // A member's own banner text replaces its name, and stays when the names go off.
        let guest = api
            .patch(
                &format!("/v1/rooms/cvb/members/{blue}"),
                json!({"banner": "Guest"}),
            )
            .await;
        assert_eq!(guest.json()["banner"], "Guest", "{}", guest.body);
        let off = api
            .patch("/v1/rooms/cvb/canvases/1", json!({"banners": false}))
            .await;
        assert_eq!(off.json()["banners"], false);
        let only_guest = eventually(LIMIT, || async {
            let c = canvas().await;
            let shot = snapshot(&api, "cvb").await;
            !shows_banner(image_luma(&shot), tile(&c, red).unwrap(), "red", 30.0)
                && image_tile_has(&shot, tile(&c, red).unwrap(), RED)
                && shows_banner(image_luma(&shot), tile(&c, blue).unwrap(), "Guest", 120.0)
        })
        .await;
        assert!(
            only_guest,
            "names off: red's strip is gone, blue's own text stays"
        );
        api.patch("/v1/rooms/cvb/canvases/1", json!({"banners": true}))
            .await;

        // A reserved slot holds red in the big slot while blue talks past the floor hold.
        let layout = api
            .patch(
                "/v1/rooms/cvb/canvases/1",
                json!({"layout": "1up_top_left+5"}),
            )
            .await;
        assert_eq!(layout.status, 200, "{}", layout.body);
        let slot = api
            .patch(&format!("/v1/rooms/cvb/members/{red}"), json!({"slot": 1}))
            .await;
        assert_eq!(slot.json()["slot"], 1, "{}", slot.body);
        let big = |t: Option<(i32, i32, u32, u32)>| t.is_some_and(|(_, _, w, _)| w > 150);
        let red_big = eventually(LIMIT, || async { big(tile(&canvas().await, red)) }).await;
        assert!(red_big, "the reserved slot is the big one");
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let c = canvas().await;
        assert!(
            big(tile(&c, red)) && !big(tile(&c, blue)),
            "the reservation holds against the talker: {c}"
        );

        // Canvases added, watched, removed (watchers move to canvas 1) and resized.
        let added = api
            .post(
                "/v1/rooms/cvb/canvases",
                json!({"width": 160, "height": 90, "layout": "1x1"}),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.body);
        assert_eq!(
            (&added.json()["id"], &added.json()["width"]),
            (&json!(2), &json!(160))
        );
        let third = api.post("/v1/rooms/cvb/canvases", json!({})).await;
        assert_eq!(third.json()["id"], 3, "{}", third.body);
        let blue_path = format!("/v1/rooms/cvb/members/{blue}");
        let watch = |n: u64| api.patch(&blue_path, json!({ "watching_canvas": n }));
        assert_eq!(watch(3).await.json()["watching_canvas"], 3);
        assert_eq!(api.delete("/v1/rooms/cvb/canvases/3").await.status, 204);
        let moved = api.get(&format!("/v1/rooms/cvb/members/{blue}")).await;
        assert_eq!(moved.json()["watching_canvas"], 1, "{}", moved.body);
        let listed = api.get("/v1/rooms/cvb/canvases").await.json();
        assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
        assert_eq!(watch(2).await.json()["watching_canvas"], 2);
        let resized = api
            .patch(
                "/v1/rooms/cvb/canvases/2",
                json!({"width": 192, "height": 108}),
            )
            .await;
        assert_eq!(resized.json()["width"], 192, "{}", resized.body);

        // Bad values and conflicts.
        for body in [
            json!({"width": 191}),
            json!({"fps": 0}),
            json!({"bitrate": 1}),
        ] {
            let bad = api.patch("/v1/rooms/cvb/canvases/2", body).await;
            assert_eq!((bad.status, bad.error_code().as_str()), (422, "invalid"));
        }
        let bad = api
            .patch(
                &format!("/v1/rooms/cvb/members/{red}"),
                json!({"volume_in": 13}),
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        let busy = api
            .put("/v1/rooms/cvb", json!({"canvases": [{"layout": "1x1"}]}))
            .await;
        assert_eq!((busy.status, busy.error_code().as_str()), (409, "conflict"));
        let solo = api
            .put(
                "/v1/rooms/solo",
                json!({"canvases": [{"width": 640, "height": 360}, {"layout": "1x1"}]}),
            )
            .await;
        assert_eq!(
            (solo.status, &solo.json()["canvases"]),
            (201, &json!(2)),
            "{}",
            solo.body
        );
        let solo_canvases = api.get("/v1/rooms/solo/canvases").await.json();
        assert_eq!(solo_canvases[0]["width"], 640);
        assert_eq!(solo_canvases[1]["layout"], "1x1");
        assert_eq!(api.delete("/v1/rooms/solo/canvases/1").await.status, 204);
        let last = api.delete("/v1/rooms/solo/canvases/1").await;
        assert_eq!((last.status, last.error_code().as_str()), (409, "conflict"));
        tile(&canvas().await, red).unwrap()
    };
    let (red, blue, red_tile) = tokio::join!(
        dial(member("red", RED, None)),
        dial(member("blue", BLUE, Some(880.0))),
        operator
    );
    let (red, blue) = (red.expect("red"), blue.expect("blue"));
    // What red received at the end: itself big, with its name drawn by the font.
    let frame = red.last_frame.as_ref().expect("red received canvas 1");
    assert!(tile_has(frame, red_tile, RED), "red big in its frame");
    assert!(
        shows_banner(
            |x, y| frame.pixel_yuv(x, y).map(|p| p.0),
            red_tile,
            "red",
            60.0
        ),
        "red's banner in the decoded frame: {:?}",
        banner_contrast(|x, y| frame.pixel_yuv(x, y).map(|p| p.0), red_tile, "red")
    );
    // Blue watched the resized canvas 2.
    let frame = blue.last_frame.as_ref().expect("blue received canvas 2");
    assert_eq!((frame.width, frame.height), (192, 108));
    // The events told it all, in order.
    let seen = events.until(LIMIT, |e| kind(e) == "canvas-removed").await;
    let kinds: Vec<&str> = seen.iter().map(kind).collect();
    assert!(
        seen.iter()
            .any(|e| kind(e) == "floor-changed" && e["member"].as_u64().is_some()),
        "a floor-changed event: {kinds:?}"
    );
    let updated = seen
        .iter()
        .find(|e| kind(e) == "canvas-updated" && e["banners"] == true);
    assert!(updated.is_some(), "banners on in canvas-updated: {kinds:?}");
    let added = kinds.iter().position(|k| *k == "canvas-added");
    let removed = kinds.iter().position(|k| *k == "canvas-removed");
    assert!(added.is_some() && added < removed, "{kinds:?}");
    server.shutdown().await;
}
