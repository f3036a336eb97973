//! Cascades over real SIP, RTP and H.264 between Tessera servers in one process: room 3000 on
//! A joined with room 3000 on B by a leg (`POST /v1/rooms/{room}/cascades`). Each side sees
//! its own people and the far side's, never itself nested in the far picture, and hears the
//! far side but never its own voice back; a chain A–B–C carries sound end to end, and a leg
//! that would close the ring is refused with 482 wherever it is dialled; a malformed
//! `X-Tessera-Cascade` header gets 400; rooms kept only by legs end after the idle grace; a
//! silent far side never holds the floor, a far-side talker takes it, and once it stops both
//! rooms fall silent (no audio circulates); a leg whose peer stops is redialled until it is back;
//! a permanent `[[cascade.leg]]` comes up at start and outlives the idle grace; one roster
//! spans the cascade (far people listed with their node and leg, their talking and mute
//! state), and a mute or kick of a far person takes effect on its home node; two nodes that
//! dial each other at once keep one leg; a leg is sent a view of its own size; with two
//! canvases per side each member sees what its watching canvas promises.

use crate::common;

use common::api::{kind, Api};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tessera::config::Config;
use tessera::dial::{dial, DialOptions, Listener};
use tessera::media::audio::tone::tone_ratio;
use tessera::media::video::frame::I420Frame;
use tessera::server::ServerHandle;

const RED: (u8, u8, u8) = (230, 20, 20);
const BLUE: (u8, u8, u8) = (20, 20, 230);
const LIMIT: Duration = Duration::from_secs(30);

fn node(name: &str) -> Config {
    let mut config = test_config();
    config.node.id = Some(name.to_string());
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    // Legs are sent the canvas's size, not the default 1280x720 (cheap on a loaded machine).
    config.cascade.video_size = "320x180".to_string();
    config
}

fn member(
    server: &ServerHandle,
    name: &str,
    colour: Option<(u8, u8, u8)>,
    hz: Option<f32>,
) -> DialOptions {
    let mut o = DialOptions::new(uri(server, "3000"));
    o.from = name.to_string();
    o.color = colour;
    o.video_size = (160, 90);
    o.tone_hz = hz;
    o.duration = Duration::from_secs(12);
    o
}

/// Starts a leg from `from`'s room 3000 to `to`'s; answers the leg's id.
async fn cascade(from: &ServerHandle, to: &ServerHandle) -> String {
    let answer = Api::new(from)
        .post(
            "/v1/rooms/3000/cascades",
            json!({"uri": format!("sip:3000@{}", to.sip_addr())}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.json()["state"], "connecting");
    answer.json()["id"].as_str().expect("an id").to_string()
}

/// Waits until leg `id` of `server`'s room 3000 is in `state`; answers it.
async fn leg_reaches(server: &ServerHandle, id: &str, state: &str) -> Value {
    let api = Api::new(server);
    let leg = || async {
        let legs = api.get("/v1/rooms/3000/cascades").await.json();
        legs.as_array()
            .and_then(|l| l.iter().find(|leg| leg["id"] == id).cloned())
            .unwrap_or(Value::Null)
    };
    let reached = eventually(LIMIT, || async { leg().await["state"] == state }).await;
    let last = leg().await;
    assert!(reached, "leg {id} never {state}: {last}");
    last
}

/// Share of the tile's pixels close to `colour`.
fn share(frame: &I420Frame, tile: (i32, i32, u32, u32), colour: (u8, u8, u8)) -> f64 {
    share_by(|x, y| frame.pixel_rgb(x, y), tile, colour)
}

/// [`share`] on a decoded snapshot.
fn image_share(image: &image::RgbImage, tile: (i32, i32, u32, u32), colour: (u8, u8, u8)) -> f64 {
    share_by(image_rgb(image), tile, colour)
}

fn share_by(
    pixel: impl Fn(u32, u32) -> Option<(u8, u8, u8)>,
    tile: (i32, i32, u32, u32),
    colour: (u8, u8, u8),
) -> f64 {
    let (x0, y0, w, h) = tile;
    let mut hits = 0;
    for y in (y0.max(0) as u32..(y0 as u32 + h)).step_by(2) {
        for x in (x0.max(0) as u32..(x0 as u32 + w)).step_by(2) {
            if pixel(x, y).is_some_and(|p| close(p, colour)) {
                hits += 1;
            }
        }
    }
    f64::from(hits) / f64::from((w / 2).max(1) * (h / 2).max(1))
}

/// `who`'s recording holds the far side's tone steadily and no trace of its own.
fn hears_but_not_itself(recording: &[i16], who: &str, far_hz: f32, own_hz: f32) {
    let (far, own) = (
        steadily_heard(recording, far_hz),
        tone_ratio(recording, own_hz, 48_000),
    );
    assert!(
        far > 0.2,
        "{who} hears the far side's {far_hz} Hz: {far:.3}"
    );
    assert!(
        own < 0.02,
        "{who} never hears its own {own_hz} Hz come back: {own:.3}"
    );
}

/// The tile of member `id` on canvas 1 of `server`'s room 3000.
async fn tile_of(server: &ServerHandle, id: u64) -> (i32, i32, u32, u32) {
    tile_on(server, 1, id).await
}

/// The tile of member `id` on canvas `n` (1-based) of `server`'s room 3000.
async fn tile_on(server: &ServerHandle, n: usize, id: u64) -> (i32, i32, u32, u32) {
    let canvas = Api::new(server).get("/v1/rooms/3000/canvases").await.json()[n - 1].clone();
    let t = canvas["tiles"]
        .as_array()
        .and_then(|tiles| tiles.iter().find(|t| t["member"] == id).cloned())
        .unwrap_or_else(|| panic!("member {id} has no tile: {canvas}"));
    let n = |k: &str| t[k].as_i64().unwrap();
    (n("x") as i32, n("y") as i32, n("w") as u32, n("h") as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_see_and_hear_each_other_but_never_themselves() {
    let _turn = several_servers().await;
    let a = start(node("node-a")).await;
    let b = start(node("node-b")).await;
    let red = dial(member(&a, "red", Some(RED), Some(440.0)));
    let blue = dial(member(&b, "blue", Some(BLUE), Some(880.0)));
    let operator = async {
        wait_members(&a, "3000", 1).await;
        wait_members(&b, "3000", 1).await;
        let id = cascade(&a, &b).await;
        let up = leg_reaches(&a, &id, "up").await;
        assert_eq!(up["direction"], "out");
        assert_eq!(up["remote_node"], "node-b", "{up}");
        let far = Api::new(&b).get("/v1/rooms/3000/cascades").await.json();
        assert_eq!(far[0]["direction"], "in", "{far}");
        assert_eq!(far[0]["remote_node"], "node-a", "{far}");
        let room = Api::new(&a).get("/v1/rooms/3000").await.json();
        assert_eq!(room["members"], 1, "a leg is not a person: {room}");
        let leg_member = up["member"].as_u64().expect("the leg's member");
        let listed = Api::new(&a)
            .get(&format!("/v1/rooms/3000/members/{leg_member}"))
            .await
            .json();
        assert_eq!(listed["kind"], "cascade", "{listed}");
        let health = Api::new(&a).get("/healthz").await.json();
        assert_eq!(
            (&health["node"], &health["members"]),
            (&json!("node-a"), &json!(1))
        );
        let red_id = Api::new(&a).member_id("3000", "red").await;
        // Both tiles exist once the far picture arrives.
        let placed = eventually(LIMIT, || async {
            let c = Api::new(&a).get("/v1/rooms/3000/canvases").await.json()[0].clone();
            c["tiles"].as_array().is_some_and(|t| t.len() == 2)
        })
        .await;
        assert!(placed, "red and the leg on A's canvas");
        (tile_of(&a, red_id).await, tile_of(&a, leg_member).await)
    };
    let (red, blue, (red_tile, leg_tile)) = tokio::join!(red, blue, operator);
    let (red, blue) = (red.expect("red"), blue.expect("blue"));
    let frame = red.last_frame.as_ref().expect("red received A's canvas");
    let red_in_own = share(frame, red_tile, RED);
    assert!(
        red_in_own > 0.5,
        "red sees itself in its own tile: {red_in_own:.3}"
    );
    let (blue_in_leg, red_in_leg) = (share(frame, leg_tile, BLUE), share(frame, leg_tile, RED));
    assert!(
        blue_in_leg > 0.1,
        "the far room shows blue: {blue_in_leg:.3}"
    );
    assert!(
        red_in_leg < 0.01,
        "no red nested in the far picture: {red_in_leg:.3} of the leg's tile"
    );
    hears_but_not_itself(window(&red, 5.0, 11.0), "red", 880.0, 440.0);
    hears_but_not_itself(window(&blue, 5.0, 11.0), "blue", 440.0, 880.0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_carries_sound_end_to_end_and_refuses_the_ring() {
    let _turn = several_servers().await;
    let (a, b, c) = (
        start(node("node-a")).await,
        start(node("node-b")).await,
        start(node("node-c")).await,
    );
    let listener = dial(member(&a, "on-a", None, None));
    let talker = dial(member(&c, "on-c", None, Some(880.0)));
    let (mut a_events, mut c_events) = (
        Api::new(&a).events("?room=3000", None),
        Api::new(&c).events("?room=3000", None),
    );
    let operator = async {
        wait_members(&a, "3000", 1).await;
        wait_members(&c, "3000", 1).await;
        let ab = cascade(&a, &b).await;
        leg_reaches(&a, &ab, "up").await;
        let bc = cascade(&b, &c).await;
        leg_reaches(&b, &bc, "up").await;
        // One roster along the chain: A lists C's person, reached over its leg to B.
        let far = listed(&a, "on-c", |m| m["kind"] == "remote").await;
        assert_eq!(
            (far["node"].clone(), far["via"].clone()),
            (json!("node-c"), json!(ab))
        );
        // C→A and A→C would close the ring: refused with 482 by whoever receives them.
        let ca = cascade(&c, &a).await;
        let refused = leg_reaches(&c, &ca, "down").await;
        assert_eq!(refused["status"], 482, "{refused}");
        let ac = cascade(&a, &c).await;
        let refused = leg_reaches(&a, &ac, "down").await;
        assert_eq!(refused["status"], 482, "{refused}");
        // A cascade INVITE with a malformed header is a 400.
        let mut bad = DialOptions::new(uri(&a, "3000"));
        bad.headers
            .push(("X-Tessera-Cascade".into(), "node=x;tree=y".into()));
        bad.duration = Duration::from_millis(100);
        let report = dial(bad).await.expect("dials");
        assert_eq!(report.status, 400, "{report:?}");
    };
    let (listener, talker, ()) = tokio::join!(listener, talker, operator);
    let (listener, _talker) = (listener.expect("listener"), talker.expect("talker"));
    let through_b = steadily_heard(window(&listener, 8.0, 11.0), 880.0);
    assert!(through_b > 0.2, "A hears C through B: {through_b:.3}");
    // B ending its legs (it stops, BYE on both) is a cascade-down on A and on C (the refused
    // rings were theirs too, with status 482).
    b.shutdown().await;
    for events in [&mut a_events, &mut c_events] {
        events
            .until(LIMIT, |e| {
                kind(e) == "cascade-down" && e["status"].is_null()
            })
            .await;
    }
    for server in [a, c] {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_kept_only_by_legs_end_after_the_grace() {
    let _turn = several_servers().await;
    let configs = ["node-a", "node-b"].map(|n| {
        let mut c = node(n);
        c.cascade.idle_grace_secs = 2;
        c
    });
    let [a, b] = configs;
    let (a, b) = (start(a).await, start(b).await);
    let mut events = Api::new(&a).events("?room=3000", None);
    let mut b_events = Api::new(&b).events("?room=3000", None);
    let mut short = member(&a, "red", None, Some(440.0));
    short.duration = Duration::from_secs(4);
    let red = dial(short);
    let mut short = member(&b, "blue", None, Some(880.0));
    short.duration = Duration::from_secs(4);
    let blue = dial(short);
    let operator = async {
        wait_members(&a, "3000", 1).await;
        wait_members(&b, "3000", 1).await;
        let id = cascade(&a, &b).await;
        leg_reaches(&a, &id, "up").await["member"]
            .as_u64()
            .expect("member")
    };
    let (red, blue, leg_member) = tokio::join!(red, blue, operator);
    let up = events.until(LIMIT, |e| kind(e) == "cascade-up").await;
    assert_eq!(
        up.last().map(|e| e["remote_node"].clone()),
        Some(json!("node-b"))
    );
    let (_red, _blue) = (red.expect("red"), blue.expect("blue"));
    // Everybody left: each room holds only its leg, which ends after the grace; the rooms go.
    let gone = |server: &ServerHandle| {
        let api = Api::new(server);
        async move { api.get("/v1/rooms/3000").await.status == 404 }
    };
    assert!(eventually(LIMIT, || gone(&a)).await, "A's room ended");
    assert!(eventually(LIMIT, || gone(&b)).await, "B's room ended");
    // Whichever side's grace ran out first ended the leg as idle; the other saw its BYE.
    let on_a = events
        .until(LIMIT, |e| {
            kind(e) == "member-left" && e["member"] == leg_member
        })
        .await;
    let on_b = b_events.until(LIMIT, |e| kind(e) == "room-destroyed").await;
    let reasons: Vec<Value> = on_a
        .iter()
        .chain(&on_b)
        .filter(|e| kind(e) == "member-left")
        .map(|e| e["reason"].clone())
        .collect();
    assert!(reasons.contains(&json!("idle")), "{reasons:?}");
    assert!(
        on_b.iter().any(|e| kind(e) == "cascade-down"),
        "B reports its leg down"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_follows_far_side_talkers_not_the_leg() {
    let _turn = several_servers().await;
    let (a, b) = (start(node("node-a")).await, start(node("node-b")).await);
    let listener = |server: &ServerHandle, name: &str| {
        let mut o = member(server, name, None, None);
        o.duration = Duration::from_secs(15);
        o
    };
    let quiet_a = dial(listener(&a, "quiet-a"));
    let quiet_b = dial(listener(&b, "quiet-b"));
    let operator = async {
        wait_members(&a, "3000", 1).await;
        wait_members(&b, "3000", 1).await;
        let id = cascade(&a, &b).await;
        let leg = leg_reaches(&a, &id, "up").await["member"]
            .as_u64()
            .expect("member");
        // A silent far side: the leg never takes A's floor.
        let floor = || async { Api::new(&a).get("/v1/rooms/3000").await.json()["floor"].clone() };
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(floor().await, Value::Null, "nobody talks: no floor");
        }
        // Someone talks on the far side: the leg carries them and takes the floor.
        let mut talker = member(&b, "talker-b", None, Some(880.0));
        talker.duration = Duration::from_secs(5);
        let watch = async { eventually(LIMIT, || async { floor().await == json!(leg) }).await };
        let (talked, leg_has_floor) = tokio::join!(dial(talker), watch);
        talked.expect("talker");
        assert!(
            leg_has_floor,
            "a far-side talker takes the floor through the leg"
        );
    };
    let (quiet_a, quiet_b, ()) = tokio::join!(quiet_a, quiet_b, operator);
    // The talk lasted 5 s and ended at least 2 s before these calls: nothing circulates
    // between the rooms, both mixes are silent again.
    for report in [quiet_a.expect("quiet-a"), quiet_b.expect("quiet-b")] {
        let rec = &report.recording;
        let tail = &rec[rec.len().saturating_sub(2 * 48_000)..];
        let rms = (tail.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>()
            / tail.len().max(1) as f64)
            .sqrt();
        assert!(rms < 30.0, "silence after the talker left: rms {rms:.1}");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leg_redials_when_its_peer_comes_back() {
    let _turn = several_servers().await;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let mut b_config = node("node-b");
    b_config.sip.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let mut a_config = node("node-a");
    a_config.cascade.redial_first_secs = 1;
    a_config.cascade.redial_max_secs = 2;
    let a = start(a_config).await;
    let mut red = member(&a, "red", None, Some(440.0));
    red.duration = Duration::from_secs(25);
    let red = dial(red);
    let operator = async {
        wait_members(&a, "3000", 1).await;
        let b = start(b_config.clone()).await;
        let answer = Api::new(&a)
            .post(
                "/v1/rooms/3000/cascades",
                json!({"uri": format!("sip:3000@127.0.0.1:{port}"), "timeout_s": 2}),
            )
            .await;
        let id = answer.json()["id"].as_str().expect("id").to_string();
        leg_reaches(&a, &id, "up").await;
        // B stops (its BYE ends the leg); A keeps its room and redials until B is back.
        b.shutdown().await;
        leg_reaches(&a, &id, "down").await;
        let b = start(b_config).await;
        let again = leg_reaches(&a, &id, "up").await;
        assert_eq!(again["remote_node"], "node-b", "{again}");
        // Media and roster flow again: a caller on the new B hears A's red, and A lists it.
        let mut blue = member(&b, "blue", None, None);
        blue.duration = Duration::from_secs(6);
        let blue = dial(blue);
        let far_blue = async {
            let blue = listed(&a, "blue", |m| m["kind"] == "remote").await;
            assert_eq!(blue["node"], "node-b", "{blue}");
        };
        let (blue, ()) = tokio::join!(blue, far_blue);
        let blue = blue.expect("blue");
        b.shutdown().await;
        blue
    };
    let (red, blue) = tokio::join!(red, operator);
    red.expect("red");
    let redialled = steadily_heard(window(&blue, 2.0, 5.0), 440.0);
    assert!(
        redialled > 0.2,
        "blue hears red over the redialled leg: {redialled:.3}"
    );
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_permanent_leg_comes_up_at_start_and_outlives_the_idle_grace() {
    let _turn = several_servers().await;
    let mut b_config = node("node-b");
    b_config.cascade.idle_grace_secs = 1;
    let b = start(b_config).await;
    let mut a_config = node("node-a");
    a_config.cascade.idle_grace_secs = 1;
    a_config.cascade.leg = vec![tessera::config::ConfiguredLeg {
        room: "3000".to_string(),
        peer: format!("sip:3000@{}", b.sip_addr()),
        canvas: None,
        watching_canvas: None,
        permanent: true,
        video_size: None,
        bitrate: None,
    }];
    let a = start(a_config).await;
    let legs = Api::new(&a).get("/v1/rooms/3000/cascades").await.json();
    let id = legs[0]["id"]
        .as_str()
        .expect("the configured leg")
        .to_string();
    let up = leg_reaches(&a, &id, "up").await;
    assert_eq!(up["permanent"], true, "{up}");
    let far = Api::new(&b).get("/v1/rooms/3000/cascades").await.json();
    assert_eq!(far[0]["permanent"], true, "B knows from the header: {far}");
    // Nobody in either room, past A's 1 s grace: the permanent leg stays up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = leg_reaches(&a, &id, "up").await;
    assert_eq!(still["member"], up["member"], "the same call: {still}");
    // A bad configured peer stops the server that would have started.
    let mut bad = node("node-c");
    bad.cascade.leg = vec![tessera::config::ConfiguredLeg {
        room: "3000".to_string(),
        peer: "sip:3000@example.com".to_string(),
        canvas: None,
        watching_canvas: None,
        permanent: false,
        video_size: None,
        bitrate: None,
    }];
    let refused = tessera::server::ServerHandle::start(bad).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("cascade.leg")),
        "{:?}",
        refused.err()
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// The member of `server`'s room 3000 called `name`, once it is listed.
async fn listed(server: &ServerHandle, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let api = Api::new(server);
    let find = || async {
        let members = api.get("/v1/rooms/3000/members").await.json();
        members
            .as_array()
            .and_then(|list| list.iter().find(|m| m["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let reached = eventually(LIMIT, || async { done(&find().await) }).await;
    let last = find().await;
    assert!(reached, "{name} never listed as awaited: {last}");
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_roster_spans_the_cascade_and_mutes_and_kicks_reach_home() {
    let _turn = several_servers().await;
    let (a, b) = (start(node("node-a")).await, start(node("node-b")).await);
    let mut alice = member(&a, "alice", None, Some(440.0));
    alice.duration = Duration::from_secs(20);
    let alice = dial(alice);
    let mut bob = member(&b, "bob", None, None);
    bob.duration = Duration::from_secs(20);
    let bob = dial(bob);
    let operator = async {
        wait_members(&a, "3000", 1).await;
        wait_members(&b, "3000", 1).await;
        let mut a_events = Api::new(&a).events("?room=3000", None);
        let ab = cascade(&a, &b).await;
        leg_reaches(&a, &ab, "up").await;
        // Each side lists the other's person: kind remote, its home node, the leg it is
        // reached by; alice's tone makes her talking on B too.
        let b_legs = Api::new(&b).get("/v1/rooms/3000/cascades").await.json();
        let ba = b_legs[0]["id"].as_str().expect("B's leg").to_string();
        let far_alice = listed(&b, "alice", |m| m["talking"] == true).await;
        assert_eq!(far_alice["kind"], "remote", "{far_alice}");
        assert_eq!(far_alice["node"], "node-a", "{far_alice}");
        assert_eq!(far_alice["via"], ba.as_str(), "{far_alice}");
        let far_bob = listed(&a, "bob", |m| m["kind"] == "remote").await;
        assert_eq!(
            (far_bob["node"].clone(), far_bob["via"].clone()),
            (json!("node-b"), json!(ab))
        );
        let joined = a_events
            .until(LIMIT, |e| {
                kind(e) == "member-joined" && e["member"]["name"] == "bob"
            })
            .await
            .pop()
            .expect("bob's join");
        assert_eq!(
            joined["node"], "node-b",
            "the event says where bob is: {joined}"
        );
        assert_eq!(joined["member"]["via"], ab.as_str(), "{joined}");
        // Legs are listed as cascade members, never as people.
        let rooms = Api::new(&a).get("/v1/rooms/3000").await.json();
        assert_eq!(rooms["members"], 1, "{rooms}");
        // Only a far person's own controls cross a leg.
        // Eve, on B for three seconds, hears her over the leg before she is muted.
        listed(&b, "node-a", |m| m["talking"] == true).await;
        let mut eve = member(&b, "eve", None, None);
        eve.duration = Duration::from_secs(3);
        let eve = dial(eve).await.expect("eve");
        let eve_hears = heard(&eve, 440.0);
        assert!(eve_hears > 0.2, "eve hears alice: {eve_hears:.3}");
        let alias = far_alice["id"].as_u64().expect("alias");
        let path = format!("/v1/rooms/3000/members/{alias}");
        let canvas = Api::new(&b).patch(&path, json!({"canvas": 1})).await;
        assert_eq!(canvas.status, 422, "{}", canvas.body);
        // Muting alice through B takes effect on A, her home, and comes back in the roster.
        let muted = Api::new(&b).patch(&path, json!({"muted": true})).await;
        assert_eq!(muted.status, 200, "{}", muted.body);
        listed(&a, "alice", |m| m["muted"] == true).await;
        listed(&b, "alice", |m| m["muted"] == true && m["talking"] == false).await;
        // Somebody joining B now never hears her.
        let mut dave = member(&b, "dave", None, None);
        dave.duration = Duration::from_secs(4);
        let dave = dial(dave).await.expect("dave");
        // Kicking bob through A ends his call on B; A hears of it with bob's node.
        let bob_alias = far_bob["id"].as_u64().expect("alias");
        let kicked = Api::new(&a)
            .delete(&format!("/v1/rooms/3000/members/{bob_alias}"))
            .await;
        assert_eq!(kicked.status, 204, "{}", kicked.body);
        let left = a_events
            .until(LIMIT, |e| {
                kind(e) == "member-left" && e["member"] == bob_alias
            })
            .await
            .pop()
            .expect("bob's departure");
        assert_eq!(
            (left["node"].clone(), left["via"].clone()),
            (json!("node-b"), json!(ab))
        );
        // Once the leg is gone, B no longer lists alice (still in A's room).
        let deleted = Api::new(&a)
            .delete(&format!("/v1/rooms/3000/cascades/{ab}"))
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.body);
        listed(&b, "alice", Value::is_null).await;
        listed(&a, "alice", |m| m["kind"] == "member").await;
        dave
    };
    let (alice, bob, dave) = tokio::join!(alice, bob, operator);
    alice.expect("alice");
    let bob = bob.expect("bob");
    assert_eq!(
        bob.ended_by.as_deref(),
        Some("remote BYE"),
        "bob was kicked: {bob:?}"
    );
    assert!(
        bob.duration_s < 19.0,
        "before his call's end: {}",
        bob.duration_s
    );
    let dave_hears = tone_ratio(&dave.recording, 440.0, 48_000);
    assert!(
        dave_hears < 0.02,
        "muted alice is silent on B: {dave_hears:.3}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_dialling_each_other_at_once_keep_one_leg() {
    let _turn = several_servers().await;
    let (a, b) = (start(node("node-a")).await, start(node("node-b")).await);
    let (ab, ba) = tokio::join!(cascade(&a, &b), cascade(&b, &a));
    // When both INVITEs cross, the lower node id keeps its outgoing leg: A's to B.
    let up_legs = |server: &ServerHandle| {
        let api = Api::new(server);
        async move {
            let legs = api.get("/v1/rooms/3000/cascades").await.json();
            legs.as_array()
                .map(|l| {
                    l.iter()
                        .filter(|leg| leg["state"] == "up")
                        .cloned()
                        .collect()
                })
                .unwrap_or_else(Vec::new)
        }
    };
    // Exactly one call stays, seen from both ends; the other leg is down with 482 (dropped
    // as a duplicate, or refused as a ring when one dial came up before the other arrived).
    let settled = eventually(LIMIT, || async {
        let (on_a, on_b) = (up_legs(&a).await, up_legs(&b).await);
        let (a_out, b_out) = (leg_state(&a, &ab).await, leg_state(&b, &ba).await);
        on_a.len() == 1
            && on_b.len() == 1
            && on_a[0]["direction"] != on_b[0]["direction"]
            && [a_out.as_str(), b_out.as_str()].contains(&"down")
    })
    .await;
    let (on_a, on_b) = (up_legs(&a).await, up_legs(&b).await);
    assert!(settled, "one leg: A has {on_a:?}, B has {on_b:?}");
    let (server, dropped) = if on_a[0]["id"] == ab.as_str() {
        (&b, &ba)
    } else {
        (&a, &ab)
    };
    let dropped = leg_reaches(server, dropped, "down").await;
    assert_eq!(dropped["status"], 482, "the other leg: {dropped}");
    assert_eq!(on_a[0]["remote_node"], "node-b");
    assert_eq!(on_b[0]["remote_node"], "node-a");
    a.shutdown().await;
    b.shutdown().await;
}

/// The state of leg `id` of `server`'s room 3000 (`""` when not listed).
async fn leg_state(server: &ServerHandle, id: &str) -> String {
    let legs = Api::new(server).get("/v1/rooms/3000/cascades").await.json();
    legs.as_array()
        .and_then(|l| l.iter().find(|leg| leg["id"] == id))
        .and_then(|leg| leg["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leg_is_sent_a_view_of_its_own_size() {
    let _turn = several_servers().await;
    let a = start(node("node-a")).await;
    // A plain SIP peer (our dialler answering) stands in for the far conference.
    let mut far = DialOptions::new(String::new());
    far.color = Some(BLUE);
    far.video_size = (160, 90);
    far.duration = Duration::from_secs(5);
    let far = Listener::bind(far, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let far_at = far.local_addr();
    let mut red = member(&a, "red", Some(RED), None);
    red.duration = Duration::from_secs(8);
    let operator = async {
        wait_members(&a, "3000", 1).await;
        let api = Api::new(&a);
        for bad in [json!({"video_size": "wide"}), json!({"bitrate": 1})] {
            let mut body = bad.clone();
            body["uri"] = json!(format!("sip:3000@{far_at}"));
            let refused = api.post("/v1/rooms/3000/cascades", body).await;
            assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
        }
        let body = json!({"uri": format!("sip:3000@{far_at}"), "video_size": "480x270", "bitrate": 500000});
        let started = api.post("/v1/rooms/3000/cascades", body).await;
        assert_eq!(started.status, 201, "{}", started.body);
    };
    let (far, red, ()) = tokio::join!(far.answer(), dial(red), operator);
    red.expect("red");
    let far = far.expect("the far peer");
    assert_eq!(
        (far.video_width, far.video_height),
        (480, 270),
        "the leg's own size, not the canvas's 320x180"
    );
    let frame = far.last_frame.expect("a picture");
    assert!(
        share(&frame, (0, 0, 480, 270), RED) > 0.05,
        "it shows the room (red)"
    );
    a.shutdown().await;
}

const GREEN: (u8, u8, u8) = (20, 200, 20);
const YELLOW: (u8, u8, u8) = (230, 220, 20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_canvases_per_side_show_what_each_watching_canvas_promises() {
    let _turn = several_servers().await;
    let two = |name: &str| {
        let mut c = node(name);
        c.video.canvases = 2;
        c
    };
    let (a, b) = (start(two("node-a")).await, start(two("node-b")).await);
    // On each side one member on (and watching) canvas 1, one on canvas 2.
    let on = |server: &ServerHandle, name: &str, colour, canvas: usize| {
        let mut o = member(server, name, Some(colour), None);
        o.duration = Duration::from_secs(10);
        // Before anyone hangs up: the end of the call changes the layouts (that is not
        // what this test is about).
        o.capture_frame_at = Some(Duration::from_secs(7));
        o.headers = vec![
            ("X-Tessera-Canvas".into(), canvas.to_string()),
            ("X-Tessera-Watching-Canvas".into(), canvas.to_string()),
        ];
        o
    };
    let (a1, a2) = (on(&a, "a1", RED, 1), on(&a, "a2", GREEN, 2));
    let (b1, b2) = (on(&b, "b1", BLUE, 1), on(&b, "b2", YELLOW, 2));
    let operator = async {
        wait_members(&a, "3000", 2).await;
        wait_members(&b, "3000", 2).await;
        // A's canvas 2 goes to B (on B's canvas 1); B's canvas 1 comes back onto A's canvas 2.
        let body =
            json!({"uri": format!("sip:3000@{}", b.sip_addr()), "canvas": 2, "watching_canvas": 2});
        let started = Api::new(&a).post("/v1/rooms/3000/cascades", body).await;
        assert_eq!(started.status, 201, "{}", started.body);
        let id = started.json()["id"].as_str().expect("id").to_string();
        let up = leg_reaches(&a, &id, "up").await;
        let on_a = up["member"].as_u64().expect("leg member on A");
        let far = Api::new(&b).get("/v1/rooms/3000/cascades").await.json();
        let on_b = far[0]["member"].as_u64().expect("leg member on B");
        let tiles_on = |server: &'static str, n: usize, count: usize| {
            let server = if server == "a" { &a } else { &b };
            async move {
                eventually(LIMIT, || async {
                    let c =
                        Api::new(server).get("/v1/rooms/3000/canvases").await.json()[n - 1].clone();
                    c["tiles"].as_array().is_some_and(|t| t.len() == count)
                })
                .await
            }
        };
        assert!(tiles_on("a", 2, 2).await, "a2 and the leg on A's canvas 2");
        assert!(tiles_on("b", 1, 2).await, "b1 and the leg on B's canvas 1");
        let (leg_on_a, leg_on_b) = (tile_on(&a, 2, on_a).await, tile_on(&b, 1, on_b).await);
        // A's canvas 2 shows the far room (b1, blue) in the leg's tile; B's canvas 1 shows a2.
        let shows = |server: &'static str, n: usize, tile, colour| {
            let server = if server == "a" { &a } else { &b };
            async move {
                eventually(LIMIT, || async {
                    image_tile_has(&Api::new(server).snapshot("3000", n).await, tile, colour)
                })
                .await
            }
        };
        assert!(
            shows("a", 2, leg_on_a, BLUE).await,
            "A's canvas 2 holds b1 over the leg"
        );
        assert!(
            shows("b", 1, leg_on_b, GREEN).await,
            "B's canvas 1 holds a2 over the leg"
        );
        // While the call lasts, the far picture never holds the near member (an echo back
        // through the other server): ten samples of each server's own canvas over 3 s.
        let mut every = tokio::time::interval(Duration::from_millis(300));
        for sample in 0..10 {
            every.tick().await;
            let on_a = Api::new(&a).snapshot("3000", 2).await;
            let nested = image_share(&on_a, leg_on_a, GREEN);
            assert!(
                nested < 0.01,
                "sample {sample}: a2 nested on A ({nested:.3})"
            );
            let on_b = Api::new(&b).snapshot("3000", 1).await;
            let nested = image_share(&on_b, leg_on_b, BLUE);
            assert!(
                nested < 0.01,
                "sample {sample}: b1 nested on B ({nested:.3})"
            );
        }
        (leg_on_a, leg_on_b)
    };
    let (a1, a2, b1, b2, (leg_on_a, leg_on_b)) =
        tokio::join!(dial(a1), dial(a2), dial(b1), dial(b2), operator);
    let frame = |r: Result<tessera::dial::DialReport, _>, who: &str| {
        let report = r.unwrap_or_else(|e: tessera::dial::DialError| panic!("{who}: {e}"));
        let decoded = (report.video_rx_frames, report.video_pli_sent);
        let frame = report
            .last_frame
            .unwrap_or_else(|| panic!("{who} received a picture"));
        (frame, decoded)
    };
    let (a1, a2, b1, b2) = (
        frame(a1, "a1"),
        frame(a2, "a2"),
        frame(b1, "b1"),
        frame(b2, "b2"),
    );
    // (frames decoded, PLIs sent): a client that stopped decoding keeps an old picture.
    let (a2, a2_decoded) = a2;
    let (b1, b1_decoded) = b1;
    let (a1, b2) = (a1.0, b2.0);
    let whole = (0, 0, 320, 180);
    // Canvas 1 of A and canvas 2 of B never had the far room.
    assert!(share(&a1, whole, RED) > 0.1, "a1 sees itself");
    for (colour, name) in [(BLUE, "blue"), (GREEN, "green"), (YELLOW, "yellow")] {
        assert!(share(&a1, whole, colour) < 0.01, "a1 sees no {name}");
    }
    assert!(share(&b2, whole, YELLOW) > 0.1, "b2 sees itself");
    for (colour, name) in [(RED, "red"), (GREEN, "green"), (BLUE, "blue")] {
        assert!(share(&b2, whole, colour) < 0.01, "b2 sees no {name}");
    }
    // What a2 and b1 received: themselves, and never themselves nested in the far picture.
    assert!(share(&a2, whole, GREEN) > 0.1, "a2 sees itself");
    assert!(share(&b1, whole, BLUE) > 0.1, "b1 sees itself");
    let nested = share(&a2, leg_on_a, GREEN);
    assert!(
        nested < 0.01,
        "a2 nested in the far picture ({nested:.3}; decoded, PLIs: {a2_decoded:?})"
    );
    let nested = share(&b1, leg_on_b, BLUE);
    assert!(
        nested < 0.01,
        "b1 nested in the far picture ({nested:.3}; decoded, PLIs: {b1_decoded:?})"
    );
    a.shutdown().await;
    b.shutdown().await;
}
