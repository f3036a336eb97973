//! The control API over real HTTP (ureq, curl) against a server taking real SIP calls:
//! the event stream (snapshot first, then a call's life in order, resumable, a stalled client
//! harmless), rooms made ahead of the first dial with a PIN, a capacity and a lock that
//! callers meet as 403/486, moving a member between canvases (the picture it receives
//! changes), Prometheus metrics that move with calls, JSON errors for bad requests, and the
//! bearer token off loopback.

use crate::common;

use common::api::{kind, Api};
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions};
use tessera::server::ServerHandle;

const LIMIT: Duration = Duration::from_secs(30);

fn caller(server: &ServerHandle, user: &str, name: &str, secs: f64) -> DialOptions {
    let mut o = DialOptions::new(uri(server, user));
    o.from = name.to_string();
    o.duration = Duration::from_secs_f64(secs);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_starts_with_a_snapshot_follows_a_call_and_resumes() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let mut events = api.events("?room=ev", None);
    let first = events.next(LIMIT).await.expect("a first event");
    assert_eq!(kind(&first), "snapshot", "{first}");
    assert_eq!(first["rooms"], json!([]), "no room yet");
    let mut talker = caller(&server, "ev", "talker", 3.0);
    talker.tone_hz = Some(440.0);
    let report = dial(talker).await.expect("call");
    assert!(report.answered);
    let life = events.until(LIMIT, |e| kind(e) == "room-destroyed").await;
    let types: Vec<&str> = life.iter().map(kind).collect();
    let order = [
        "room-created",
        "member-joined",
        "talking-started",
        "member-left",
        "room-destroyed",
    ];
    let mut at = 0;
    for t in &types {
        if order.get(at) == Some(t) {
            at += 1;
        }
    }
    assert_eq!(at, order.len(), "in order: {types:?}");
    let joined = life.iter().find(|e| kind(e) == "member-joined").unwrap();
    assert_eq!(joined["member"]["name"], "talker");
    assert_eq!(joined["member"]["kind"], "member");
    assert_eq!(joined["room"], "ev");
    let left = life.iter().find(|e| kind(e) == "member-left").unwrap();
    assert_eq!(left["reason"], "bye");
    assert_eq!(left["member"], joined["member"]["id"]);
    let seqs: Vec<u64> = life.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq increases: {seqs:?}"
    );
    assert!(life.iter().all(|e| e["_id"] == e["seq"]), "id: is the seq");
    assert!(life
        .iter()
        .all(|e| e["time"].as_str().is_some_and(|t| t.ends_with('Z'))));

    // Resuming after member-joined replays exactly what came after it.
    let mut resumed = api.events("?room=ev", joined["seq"].as_u64());
    let replay = resumed.until(LIMIT, |e| kind(e) == "room-destroyed").await;
    let after: Vec<u64> = replay.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = seqs
        .iter()
        .copied()
        .filter(|s| *s > joined["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        after, expected,
        "nothing lost, nothing repeated, no snapshot"
    );
    // An id the server never issued gets a fresh snapshot.
    let mut stale = api.events("", Some(10_000_000));
    assert_eq!(kind(&stale.next(LIMIT).await.expect("event")), "snapshot");
    server.shutdown().await;
}

/// A TCP connection to `addr` whose receive buffer is 4 KiB.
fn small_buffer_connect(addr: std::net::SocketAddr) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("IPv4 API address");
    };
    // SAFETY: plain socket calls on a descriptor we own; the sockaddr is fully initialised.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect");
        std::net::TcpStream::from_raw_fd(fd)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_event_client_neither_slows_the_room_nor_misses_silently() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    // A client that asks for the stream and never reads it (with a small receive buffer, so
    // the kernel does not hold the whole flood for it).
    let mut stalled = small_buffer_connect(server.api_addr());
    write!(stalled, "GET /v1/events HTTP/1.1\r\nHost: tessera\r\n\r\n").expect("request");
    let listener = dial(caller(&server, "stall", "listener", 8.0));
    let third = dial(caller(&server, "stall", "third", 8.0));
    let mut talker = caller(&server, "stall", "talker", 8.0);
    talker.tone_hz = Some(440.0);
    let talker = dial(talker);
    let flood = async {
        wait_members(&server, "stall", 3).await;
        let started = Instant::now();
        // Each mute-all is three member-updated events: far more than the ring holds.
        for i in 0..3000 {
            let body = json!({"muted": i % 2 == 1, "except": []}).to_string();
            let answer = api
                .call("POST", "/v1/rooms/stall/mute-all", Some(body))
                .await;
            assert_eq!(answer.status, 200);
        }
        started.elapsed()
    };
    let (listener, talker, third, flood_time) = tokio::join!(listener, talker, third, flood);
    let (listener, talker) = (listener.expect("listener"), talker.expect("talker"));
    println!("9000 events published in {flood_time:?}");
    assert!(listener.answered && talker.answered && third.expect("third").answered);
    assert!(
        listener.rx_packets > 300,
        "the room kept sending: {} packets in 8 s",
        listener.rx_packets
    );
    // Now read what the stalled client was sent: a snapshot, some events, and, where it fell
    // out of the broadcast, a fresh snapshot rather than a gap.
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut text = Vec::new();
    let mut buf = [0u8; 65536];
    let end = Instant::now() + LIMIT;
    while Instant::now() < end {
        match stalled.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
        let seen = String::from_utf8_lossy(&text);
        if seen.matches("\"type\":\"snapshot\"").count() >= 2 {
            break;
        }
    }
    let seen = String::from_utf8_lossy(&text);
    assert!(
        seen.matches("\"type\":\"snapshot\"").count() >= 2,
        "a client that fell behind gets a new snapshot ({} bytes read)",
        text.len()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_made_by_api_admits_by_pin_capacity_and_lock_and_ends_by_delete() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let made = api
        .put("/v1/rooms/adm", json!({"pin": "1234", "max_members": 1}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["pin_required"], true);
    assert_eq!(made.json()["members"], 0);
    let listed = api.get("/v1/rooms").await.json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["room"] == "adm"));

    let no_pin = dial(caller(&server, "adm", "nopin", 1.0)).await.unwrap();
    let wrong = dial(caller(&server, "adm*9999", "wrong", 1.0))
        .await
        .unwrap();
    assert_eq!(
        (no_pin.status, wrong.status),
        (200, 403),
        "no PIN: the DTMF lobby (tests/dtmf_pin.rs); a wrong one: refused"
    );
    let inside = dial(caller(&server, "adm*1234", "inside", 6.0));
    let checks = async {
        wait_members(&server, "adm", 1).await;
        let full = dial(caller(&server, "adm*1234", "second", 1.0))
            .await
            .unwrap();
        assert_eq!(full.status, 486, "max_members 1");
        let patched = api
            .patch(
                "/v1/rooms/adm",
                json!({"pin": null, "max_members": null, "locked": true}),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.json()["locked"], true);
        assert_eq!(patched.json()["pin_required"], false);
        let locked = dial(caller(&server, "adm", "late", 1.0)).await.unwrap();
        assert_eq!(locked.status, 403, "locked");
        let room = api.get("/v1/rooms/adm").await.json();
        assert_eq!(room["members"], 1, "{room}");
        assert_eq!(api.delete("/v1/rooms/adm").await.status, 204);
    };
    let (inside, ()) = tokio::join!(inside, checks);
    let inside = inside.unwrap();
    assert!(inside.answered);
    assert_eq!(
        inside.ended_by.as_deref(),
        Some("remote BYE"),
        "DELETE ends the calls"
    );
    assert!(
        inside.duration_s < 5.5,
        "ended early: {}",
        inside.duration_s
    );
    assert_eq!(api.get("/v1/rooms/adm").await.status, 404, "gone");

    // A room made by PUT outlives its last member; a dialled one does not.
    assert_eq!(api.put("/v1/rooms/stays", json!({})).await.status, 201);
    assert!(
        dial(caller(&server, "stays", "a", 0.5))
            .await
            .unwrap()
            .answered
    );
    assert!(
        dial(caller(&server, "goes", "b", 0.5))
            .await
            .unwrap()
            .answered
    );
    let left = eventually(LIMIT, || async {
        api.get("/v1/rooms/goes").await.status == 404
    })
    .await;
    assert!(left, "a dialled room ends with its last member");
    let kept = api.get("/v1/rooms/stays").await;
    assert_eq!(
        (kept.status, kept.json()["members"].clone()),
        (200, json!(0))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_member_between_canvases_changes_the_picture_it_receives() {
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    config.video.canvases = 2;
    let server = start(config).await;
    let api = Api::new(&server);
    const RED: (u8, u8, u8) = (230, 20, 20);
    const BLUE: (u8, u8, u8) = (20, 20, 230);
    let coloured = |name: &str, colour, canvas: &str| {
        let mut o = caller(&server, "move", name, 7.0);
        o.color = Some(colour);
        o.video_size = (160, 90);
        o.headers
            .push(("X-Tessera-Canvas".to_string(), canvas.to_string()));
        o
    };
    let mut watcher = caller(&server, "move", "watcher", 7.0);
    watcher.save_frame =
        Some(std::env::temp_dir().join(format!("tessera-move-{}.png", std::process::id())));
    watcher
        .headers
        .push(("X-Tessera-Canvas".into(), "0".into()));
    watcher
        .headers
        .push(("X-Tessera-Watching-Canvas".into(), "1".into()));
    let operator = async {
        wait_members(&server, "move", 3).await;
        let members = api.get("/v1/rooms/move/members").await.json();
        let (red, watcher) = (
            api.member_id("move", "red").await,
            api.member_id("move", "watcher").await,
        );
        assert_eq!(
            members
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == "watcher")
                .unwrap()["watching_canvas"],
            1
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let moved = api
            .patch(
                &format!("/v1/rooms/move/members/{red}"),
                json!({"canvas": 2}),
            )
            .await;
        assert_eq!(moved.json()["canvas"], 2, "{}", moved.body);
        let watching = api
            .patch(
                &format!("/v1/rooms/move/members/{watcher}"),
                json!({"watching_canvas": 2}),
            )
            .await;
        assert_eq!(watching.json()["watching_canvas"], 2, "{}", watching.body);
        let bad = api
            .patch(
                &format!("/v1/rooms/move/members/{watcher}"),
                json!({"watching_canvas": 3}),
            )
            .await;
        assert_eq!((bad.status, bad.error_code().as_str()), (422, "invalid"));
        // The tiles of canvas 2 once both are composed there.
        let placed = eventually(LIMIT, || async {
            let canvases = api.get("/v1/rooms/move/canvases").await.json();
            canvases[1]["members"]
                .as_array()
                .is_some_and(|m| m.len() == 2)
                && canvases[1]["watchers"]
                    .as_array()
                    .is_some_and(|w| w.contains(&json!(watcher)))
        })
        .await;
        assert!(placed, "red and blue on canvas 2, watched by the watcher");
        let room = server.control().room("move").await.expect("room");
        let rect = |member: u64| {
            room.canvases[1]
                .tiles
                .iter()
                .find(|t| t.member == member)
                .map(|t| (t.x, t.y, t.w, t.h))
                .expect("tile")
        };
        (rect(red), rect(api.member_id("move", "blue").await))
    };
    let (_red, _blue, watcher, (red_tile, blue_tile)) = tokio::join!(
        dial(coloured("red", RED, "1")),
        dial(coloured("blue", BLUE, "2")),
        dial(watcher),
        operator
    );
    let watcher = watcher.expect("watcher");
    let frame = watcher.last_frame.as_ref().expect("a frame");
    assert!(tile_has(frame, red_tile, RED), "red moved to canvas 2");
    assert!(tile_has(frame, blue_tile, BLUE), "blue is on canvas 2");
    server.shutdown().await;
}

/// Samples of one metric, by its label set.
fn samples(text: &str, name: &str) -> Vec<(std::collections::HashMap<String, String>, f64)> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text parses");
    scrape
        .samples
        .into_iter()
        .filter(|s| s.metric == name)
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            };
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (labels, value)
        })
        .collect()
}

fn sample(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    samples(text, name)
        .into_iter()
        .filter(|(labels, _)| {
            label.is_none_or(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
        })
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_with_calls() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let before = api.get("/metrics").await;
    assert_eq!(before.status, 200);
    let before = before.body;
    assert_eq!(
        sample(&before, "tessera_calls_total", Some(("result", "answered"))),
        0.0
    );
    let during = async {
        wait_members(&server, "met", 1).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        api.get("/metrics").await.body
    };
    let mut talker = caller(&server, "met", "talker", 3.0);
    talker.tone_hz = Some(440.0);
    let (report, during) = tokio::join!(dial(talker), during);
    assert!(report.unwrap().answered);
    assert_eq!(sample(&during, "tessera_rooms", None), 1.0);
    assert_eq!(sample(&during, "tessera_members", None), 1.0);
    // A lone talker hears nobody: ready-made silence, no encoder.
    assert_eq!(sample(&during, "tessera_audio_encoders", None), 0.0);
    assert!(
        sample(
            &during,
            "tessera_audio_mixes_total",
            Some(("how", "silence"))
        ) >= 25.0
    );
    // A well-formed request URI naming no acceptable room (a space in it would make the
    // request line malformed: a 400 from the parser, which is not a call).
    let rejected = dial(caller(&server, "bad!room", "x", 1.0)).await.unwrap();
    assert_eq!(rejected.status, 404);
    let after = api.get("/metrics").await.body;
    assert_eq!(
        sample(&after, "tessera_calls_total", Some(("result", "answered"))),
        1.0
    );
    assert_eq!(
        sample(&after, "tessera_calls_total", Some(("result", "rejected"))),
        1.0
    );
    assert!(sample(&after, "tessera_sip_responses_total", Some(("code", "200"))) >= 1.0);
    assert!(sample(&after, "tessera_sip_responses_total", Some(("code", "404"))) >= 1.0);
    let rtp_in = sample(
        &after,
        "tessera_rtp_packets_total",
        Some(("direction", "in")),
    );
    let rtp_out = sample(
        &after,
        "tessera_rtp_packets_total",
        Some(("direction", "out")),
    );
    assert!(
        rtp_in > 100.0 && rtp_out > 100.0,
        "3 s of audio each way: in {rtp_in} out {rtp_out}"
    );
    assert!(sample(&after, "tessera_media_tick_seconds_count", None) > 50.0);
    let health = api.get("/healthz").await.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_and_never_a_panic() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let call = dial(caller(&server, "err", "member", 4.0));
    let checks = async {
        wait_members(&server, "err", 1).await;
        let id = api.get("/v1/rooms/err/members").await.json()[0]["id"].clone();
        let member = format!("/v1/rooms/err/members/{id}");
        let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
            ("GET", "/v1/rooms/nosuch".into(), None, 404, "not_found"),
            (
                "GET",
                "/v1/rooms/err/members/77777".into(),
                None,
                404,
                "not_found",
            ),
            (
                "GET",
                "/v1/rooms/err/members/abc".into(),
                None,
                404,
                "not_found",
            ),
            ("GET", "/v1/nothing".into(), None, 404, "not_found"),
            (
                "PATCH",
                member.clone(),
                Some("{\"muted\": tru"),
                400,
                "bad_request",
            ),
            (
                "PATCH",
                member.clone(),
                Some("{\"mutd\": true}"),
                400,
                "bad_request",
            ),
            (
                "PATCH",
                member.clone(),
                Some("{\"muted\": \"yes\"}"),
                400,
                "bad_request",
            ),
            ("PATCH", member.clone(), Some("[1,2]"), 400, "bad_request"),
            (
                "PATCH",
                member.clone(),
                Some("{\"canvas\": 9}"),
                422,
                "invalid",
            ),
            (
                "PATCH",
                member.clone(),
                Some("{\"canvas\": 0}"),
                422,
                "invalid",
            ),
            ("PUT", "/v1/rooms/b%20d".into(), Some("{}"), 422, "invalid"),
            (
                "PUT",
                "/v1/rooms/pins".into(),
                Some("{\"pin\": \"12ab\"}"),
                422,
                "invalid",
            ),
            (
                "PATCH",
                "/v1/rooms/err".into(),
                Some("{\"max_members\": 0}"),
                422,
                "invalid",
            ),
            (
                "POST",
                "/v1/rooms/err/mute-all".into(),
                Some("{}"),
                400,
                "bad_request",
            ),
        ];
        for (method, path, body, status, code) in cases {
            let answer = api.call(method, &path, body.map(str::to_string)).await;
            assert_eq!(
                (answer.status, answer.error_code()),
                (status, code.to_string()),
                "{method} {path} {body:?}: {}",
                answer.body
            );
        }
        let huge = format!("{{\"muted\": true, \"x\": \"{}\"}}", "a".repeat(100_000));
        let answer = api.call("PATCH", &member, Some(huge)).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (413, "payload_too_large")
        );
        // Random bodies: errors, never a 5xx, and the server still answers.
        const ALPHABET: &[u8] = b"{}[]\":,0123456789truefalsenul mdvic_";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 64) as usize;
            let body: String = (0..len)
                .map(|i| ALPHABET[((seed >> (i % 56)) as usize + i) % ALPHABET.len()] as char)
                .collect();
            let answer = api.call("PATCH", &member, Some(body.clone())).await;
            assert!(answer.status < 500, "{body:?} → {}", answer.status);
        }
        // curl, a client of its own, gets the same answers.
        if tool_available("curl", "--version") {
            let out = std::process::Command::new("curl")
                .args(["-s", "-X", "PATCH", "-d", "{\"deaf\": true}"])
                .arg(format!("{}{member}", api.base))
                .output()
                .expect("curl");
            let answered: Value = serde_json::from_slice(&out.stdout).expect("JSON from curl");
            assert_eq!(answered["deaf"], true, "curl -d (form content type) works");
        }
    };
    let (report, ()) = tokio::join!(call, checks);
    assert!(report.unwrap().answered);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_api_needs_a_token() {
    let mut config = test_config();
    config.api.listen = "0.0.0.0:0".parse().unwrap();
    let refused = ServerHandle::start(config.clone()).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("--api-token")),
        "no token, no start"
    );
    config.api.token = Some("s3cret-token".to_string());
    let server = start(config).await;
    let port = server.api_addr().port();
    let api = Api::at(format!("http://127.0.0.1:{port}"));
    let without = api.get("/v1/rooms").await;
    assert_eq!(
        (without.status, without.error_code().as_str()),
        (401, "unauthorized")
    );
    let wrong = api
        .clone()
        .with_token("s3cret-tokeN")
        .get("/v1/rooms")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(api.get("/metrics").await.status, 401);
    let right = api.with_token("s3cret-token").get("/v1/rooms").await;
    assert_eq!(right.status, 200, "{}", right.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_openapi_document_is_served() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let answer = api.get("/v1/openapi.json").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let doc = answer.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{} paths", paths.len());
    // Every documented method of every documented path reaches a handler: never the
    // router's "no such endpoint" 404 nor its 405 (a handler's own 404 names the room).
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{room}", "nosuchroom")
            .replace("{id}", "1")
            .replace("{n}", "1")
            .replace("{dial_id}", "dial-0");
        for method in ["get", "put", "post", "patch", "delete"] {
            if item.get(method).is_none() || concrete == "/v1/events" {
                continue;
            }
            let body = (method != "get" && method != "delete").then(|| "{}".to_string());
            let reply = api.call(&method.to_uppercase(), &concrete, body).await;
            assert_ne!(reply.status, 405, "{method} {path}: {}", reply.body);
            assert!(
                !reply.body.contains("no such endpoint"),
                "{method} {path} is documented but not served"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} operations checked");
    server.shutdown().await;
}
