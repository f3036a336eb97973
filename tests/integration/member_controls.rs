//! Operator controls on real calls, driven over the HTTP control API: muting a talker takes
//! its tone out of everyone's mix and unmuting brings it back; mute-all leaves the excepted
//! talker audible; a deaf member hears silence while the others still hear each other; a
//! kicked member gets a BYE and leaves the member list; a video-muted member shows its
//! placeholder; volumes scale a voice in the mix and what one member hears; mute-all spares
//! moderators; unknown rooms and members are 404s.

use crate::common;

use common::api::Api;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tessera::conference::member::MemberId;
use tessera::dial::{dial, DialOptions};
use tessera::media::audio::tone::{tone_level_dbfs, tone_ratio};
use tessera::server::ServerHandle;

fn caller(
    server: &ServerHandle,
    room: &str,
    name: &str,
    tone: Option<f32>,
    secs: u64,
) -> DialOptions {
    let mut o = DialOptions::new(uri(server, room));
    o.from = name.to_string();
    o.tone_hz = tone;
    o.duration = Duration::from_secs(secs);
    o
}

/// Waits until `n` members are in `room`; returns when, and their ids by name (as the API
/// lists them).
async fn joined(server: &ServerHandle, room: &str, n: usize) -> (Instant, Vec<(String, MemberId)>) {
    wait_members(server, room, n).await;
    let at = Instant::now();
    let listed = Api::new(server)
        .get(&format!("/v1/rooms/{room}/members"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let ids = listed
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("name").to_string(),
                m["id"].as_u64().expect("id"),
            )
        })
        .collect();
    (at, ids)
}

/// `PATCH`es member `id` of `room` with `body`; returns the member as answered.
async fn patch_member(
    server: &ServerHandle,
    room: &str,
    id: MemberId,
    body: serde_json::Value,
) -> serde_json::Value {
    let answer = Api::new(server)
        .patch(&format!("/v1/rooms/{room}/members/{id}"), body)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

fn id_of(ids: &[(String, MemberId)], name: &str) -> MemberId {
    ids.iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| *id)
        .unwrap_or_else(|| panic!("{name} joined"))
}

async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_a_talker_takes_it_out_of_the_mix_and_unmuting_brings_it_back() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "mute", "a440", Some(440.0), 11));
    let b = dial(caller(&server, "mute", "b880", Some(880.0), 11));
    let c = dial(caller(&server, "mute", "listener", None, 11));
    let operator = async {
        let (start, ids) = joined(&server, "mute", 3).await;
        let (a, b) = (id_of(&ids, "a440"), id_of(&ids, "b880"));
        sleep_until(start + Duration::from_millis(2000)).await;
        let answered = patch_member(&server, "mute", a, json!({"muted": true})).await;
        assert_eq!(answered["muted"], true, "the answer shows the change");
        assert_eq!(answered["talking"], false, "a muted member never talks");
        sleep_until(start + Duration::from_millis(4500)).await;
        patch_member(&server, "mute", a, json!({"muted": false})).await;
        sleep_until(start + Duration::from_millis(7000)).await;
        let all = Api::new(&server)
            .post(
                "/v1/rooms/mute/mute-all",
                json!({"muted": true, "except": [b]}),
            )
            .await;
        assert_eq!(all.status, 200, "{}", all.body);
        let changed = all.json()["changed"].clone();
        assert!(
            changed
                .as_array()
                .is_some_and(|c| c.len() == 2 && !c.contains(&json!(b))),
            "everyone but B: {changed}"
        );
        start
    };
    let (a, b, c, _start) = tokio::join!(a, b, c, operator);
    let (_, _, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    let before = window(&c, 0.8, 2.0);
    let muted = window(&c, 2.6, 4.4);
    let after = window(&c, 5.3, 6.8);
    let all_muted = window(&c, 7.8, 9.5);
    assert!(
        steadily_heard(before, 440.0) > 0.2,
        "440 heard before the mute: {:.3}",
        steadily_heard(before, 440.0)
    );
    assert!(
        tone_ratio(muted, 440.0, 48_000) < 0.02,
        "440 gone while muted: {:.3}",
        tone_ratio(muted, 440.0, 48_000)
    );
    assert!(
        steadily_heard(muted, 880.0) > 0.5,
        "880 still heard while A is muted: {:.3}",
        steadily_heard(muted, 880.0)
    );
    assert!(
        steadily_heard(after, 440.0) > 0.2,
        "440 back after unmute: {:.3}",
        steadily_heard(after, 440.0)
    );
    assert!(
        tone_ratio(all_muted, 440.0, 48_000) < 0.02,
        "440 gone after mute-all: {:.3}",
        tone_ratio(all_muted, 440.0, 48_000)
    );
    assert!(
        steadily_heard(all_muted, 880.0) > 0.5,
        "the excepted 880 still heard after mute-all: {:.3}",
        steadily_heard(all_muted, 880.0)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_scale_what_is_heard_and_mute_all_spares_moderators() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "vol", "a440", Some(440.0), 11));
    let b = dial(caller(&server, "vol", "b880", Some(880.0), 11));
    let c = dial(caller(&server, "vol", "listener", None, 11));
    let operator = async {
        let (start, ids) = joined(&server, "vol", 3).await;
        let (a, b, c) = (
            id_of(&ids, "a440"),
            id_of(&ids, "b880"),
            id_of(&ids, "listener"),
        );
        sleep_until(start + Duration::from_millis(2000)).await;
        let quieter = patch_member(&server, "vol", a, json!({"volume_in": -12})).await;
        assert_eq!(quieter["volume_in"], -12);
        sleep_until(start + Duration::from_millis(4500)).await;
        patch_member(&server, "vol", a, json!({"volume_in": 0})).await;
        let hears_less = patch_member(&server, "vol", c, json!({"volume_out": -6})).await;
        assert_eq!(hears_less["volume_out"], -6);
        sleep_until(start + Duration::from_millis(7000)).await;
        patch_member(&server, "vol", c, json!({"volume_out": 0})).await;
        let moderator = patch_member(&server, "vol", b, json!({"role": "moderator"})).await;
        assert_eq!(moderator["role"], "moderator");
        let all = Api::new(&server)
            .post("/v1/rooms/vol/mute-all", json!({"muted": true}))
            .await;
        let changed = all.json()["changed"].clone();
        assert!(
            changed
                .as_array()
                .is_some_and(|list| list.len() == 2 && !list.contains(&json!(b))),
            "everyone but the moderator: {changed}"
        );
    };
    let (a, b, c, ()) = tokio::join!(a, b, c, operator);
    let (_, _, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    let level = |from, to| tone_level_dbfs(window(&c, from, to), 440.0, 48_000);
    let (normal, quieter, hears_less) = (level(0.8, 2.0), level(2.6, 4.4), level(5.1, 6.9));
    assert!(
        (normal - quieter - 12.0).abs() < 3.0,
        "volume_in -12 dB: {normal:.1} → {quieter:.1} dBFS"
    );
    assert!(
        (normal - hears_less - 6.0).abs() < 3.0,
        "volume_out -6 dB: {normal:.1} → {hears_less:.1} dBFS"
    );
    let all_muted = window(&c, 7.8, 9.5);
    assert!(
        tone_ratio(all_muted, 440.0, 48_000) < 0.02,
        "the participant is muted"
    );
    assert!(
        steadily_heard(all_muted, 880.0) > 0.5,
        "the moderator is still heard: {:.3}",
        steadily_heard(all_muted, 880.0)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_member_hears_silence_while_the_others_hear_each_other() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "deaf", "a440", Some(440.0), 7));
    let b = dial(caller(&server, "deaf", "b880", Some(880.0), 7));
    let operator = async {
        let (start, ids) = joined(&server, "deaf", 2).await;
        sleep_until(start + Duration::from_millis(2000)).await;
        let b = id_of(&ids, "b880");
        let answered = patch_member(&server, "deaf", b, json!({"deaf": true})).await;
        assert_eq!(answered["deaf"], true);
    };
    let (a, b, ()) = tokio::join!(a, b, operator);
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert!(
        tone_level_dbfs(window(&b, 0.8, 1.8), 440.0, 48_000) > -30.0,
        "B heard A before"
    );
    let deaf = window(&b, 2.6, 6.0);
    let level = tone_level_dbfs(deaf, 440.0, 48_000);
    assert!(
        level < -60.0,
        "B hears nothing of A while deaf: {level:.1} dBFS"
    );
    let peak = deaf.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak < 300, "silence, peak {peak}");
    assert!(
        b.rx_packets > 250,
        "B kept receiving a stream: {}",
        b.rx_packets
    );
    assert!(
        steadily_heard(window(&a, 2.6, 6.0), 880.0) > 0.5,
        "A still hears the deaf member: {:.3}",
        steadily_heard(window(&a, 2.6, 6.0), 880.0)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_member_gets_bye_and_unknown_targets_are_refused() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "kick", "victim", Some(440.0), 10));
    let b = dial(caller(&server, "kick", "stays", None, 6));
    let operator = async {
        let (_, ids) = joined(&server, "kick", 2).await;
        let victim = id_of(&ids, "victim");
        let api = Api::new(&server);
        let wrong_room = api
            .delete(&format!("/v1/rooms/nosuchroom/members/{victim}"))
            .await;
        assert_eq!(
            (wrong_room.status, wrong_room.error_code().as_str()),
            (404, "not_found")
        );
        let wrong_member = api
            .patch("/v1/rooms/kick/members/999999", json!({"muted": true}))
            .await;
        assert_eq!(wrong_member.status, 404, "{}", wrong_member.body);
        let path = format!("/v1/rooms/kick/members/{victim}");
        assert_eq!(api.delete(&path).await.status, 204, "kicked");
        let listed = api.get("/v1/rooms/kick/members").await.json();
        assert!(
            listed
                .as_array()
                .is_some_and(|l| l.iter().all(|m| m["id"] != victim)),
            "the kicked member left the list: {listed}"
        );
        assert_eq!(api.get(&path).await.status, 404);
        assert_eq!(api.delete(&path).await.status, 404, "kicked once");
    };
    let (a, b, ()) = tokio::join!(a, b, operator);
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(
        a.ended_by.as_deref(),
        Some("remote BYE"),
        "the victim got a BYE"
    );
    assert!(a.duration_s < 8.0, "ended early: {:.1} s", a.duration_s);
    assert!(
        b.answered && b.ended_by.is_none(),
        "the other member stayed"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_muted_member_shows_its_placeholder_not_its_picture() {
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    let server = start(config).await;
    const RED: (u8, u8, u8) = (230, 20, 20);
    const BLUE: (u8, u8, u8) = (20, 20, 230);
    let coloured = |name: &str, colour| {
        let mut o = caller(&server, "vmute", name, None, 7);
        o.color = Some(colour);
        o.video_size = (160, 90);
        o
    };
    let operator = async {
        let (start, ids) = joined(&server, "vmute", 2).await;
        let red = id_of(&ids, "red");
        sleep_until(start + Duration::from_millis(1500)).await;
        patch_member(&server, "vmute", red, json!({"video_muted": true})).await;
        // Tile rectangles of the canvas, once composed with both.
        let end = Instant::now() + Duration::from_secs(10);
        let tiles: Vec<(MemberId, (i32, i32, u32, u32))> = loop {
            let room = server.control().room("vmute").await.expect("room");
            let tiles: Vec<_> = room.canvases[0]
                .tiles
                .iter()
                .map(|t| (t.member, (t.x, t.y, t.w, t.h)))
                .collect();
            if tiles.len() == 2 || Instant::now() > end {
                break tiles;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let placed = tiles.len() == 2;
        assert!(placed, "both on the canvas");
        (ids, tiles)
    };
    let (red, blue, (ids, tiles)) = tokio::join!(
        dial(coloured("red", RED)),
        dial(coloured("blue", BLUE)),
        operator
    );
    let (_red, blue) = (red.expect("red"), blue.expect("blue"));
    let frame = blue.last_frame.as_ref().expect("blue received the canvas");
    let tile_of = |name: &str| {
        let id = id_of(&ids, name);
        tiles
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, r)| *r)
            .expect("tile")
    };
    assert!(
        !tile_has(frame, tile_of("red"), RED),
        "the video-muted member's tile shows no picture"
    );
    assert!(
        tile_has(frame, tile_of("blue"), BLUE),
        "the other tile is untouched"
    );
    server.shutdown().await;
}
