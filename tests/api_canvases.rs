//! Canvases over the API on real video calls: the snapshot PNG decodes and shows each
//! member's colour where the layout put it; a layout change moves the tiles (in the snapshot
//! and in the frame a member receives); a forced floor holds its member in the big slot while
//! another member talks, and returning it hands the slot to the talker.

mod common;

use common::api::Api;
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
    let path = format!("{}/v1/rooms/{room}/canvases/1/snapshot.png", api.base);
    let bytes = tokio::task::spawn_blocking(move || {
        let mut response = ureq::get(&path).call().expect("snapshot");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("image/png")
        );
        response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .expect("body")
    })
    .await
    .expect("thread");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .expect("a PNG")
        .to_rgb8()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layouts_floors_and_snapshots_over_the_api() {
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    let server = start(config).await;
    let api = Api::new(&server);
    let member = |name: &str, colour, tone| {
        let mut o = DialOptions::new(uri(&server, "cv"));
        o.from = name.to_string();
        o.color = Some(colour);
        o.video_size = (160, 90);
        o.tone_hz = tone;
        o.duration = Duration::from_secs(16);
        o
    };
    let operator = async {
        wait_members(&server, "cv", 2).await;
        let members = api.get("/v1/rooms/cv/members").await.json();
        let id = |name: &str| {
            members
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .and_then(|m| m["id"].as_u64())
                .unwrap()
        };
        let (red, blue) = (id("red"), id("blue"));
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
