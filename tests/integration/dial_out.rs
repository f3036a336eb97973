//! Dial-out over real SIP and RTP: server A calls a room on server B into its own room
//! (`POST /v1/rooms/{room}/dial`), with `dial-progress` events in order (trying, ringing,
//! answered); each room then hears the other's talker through the leg, the callee is listed
//! as a `dialout` member, and kicking it ends B's side with a BYE. A callee that keeps ringing
//! is CANCELled (on timeout and on `DELETE /v1/dials/{id}`) and B sees the CANCEL; an
//! unreachable URI fails with 408; SIPp as a third-party callee, and as a cascade peer (a plain
//! SIP peer without X-Tessera-Cascade), gets a proper ACK and BYE.

use crate::common;

use common::api::{kind, Api, Events};
use common::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tessera::dial::{dial, DialOptions, Listener};
use tessera::server::ServerHandle;

const LIMIT: Duration = Duration::from_secs(30);

fn talker(server: &ServerHandle, room: &str, name: &str, hz: f32, secs: u64) -> DialOptions {
    let mut o = DialOptions::new(uri(server, room));
    o.from = name.to_string();
    o.tone_hz = Some(hz);
    o.duration = Duration::from_secs(secs);
    o
}

/// The `dial-progress` events of `dial_id` up to its `answered` or `failed`.
async fn progress(events: &mut Events, dial_id: &str) -> Vec<Value> {
    events
        .until(LIMIT, |e| {
            kind(e) == "dial-progress"
                && e["dial_id"] == dial_id
                && matches!(e["state"].as_str(), Some("answered" | "failed"))
        })
        .await
        .into_iter()
        .filter(|e| kind(e) == "dial-progress" && e["dial_id"] == dial_id)
        .collect()
}

fn states(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_dialled_out_to_another_server_hears_it_both_ways() {
    let a = start(test_config()).await;
    let mut b_config = test_config();
    b_config.sip.answer_delay_ms = 300; // rings first
    let b = start(b_config).await;
    let api = Api::new(&a);
    let mut events = api.events("?room=near", None);
    let near = dial(talker(&a, "near", "a880", 880.0, 10));
    let far = dial(talker(&b, "far", "b440", 440.0, 10));
    let operator = async {
        wait_members(&a, "near", 1).await;
        wait_members(&b, "far", 1).await;
        let started = api
            .post(
                "/v1/rooms/near/dial",
                json!({"uri": format!("sip:far@{}", b.sip_addr()), "name": "far-room"}),
            )
            .await;
        assert_eq!(started.status, 202, "{}", started.body);
        let dial_id = started.json()["dial_id"].as_str().unwrap().to_string();
        let steps = progress(&mut events, &dial_id).await;
        assert_eq!(
            states(&steps),
            ["trying", "ringing", "answered"],
            "{steps:?}"
        );
        let member = steps[2]["member"].as_u64().expect("the member it became");
        let listed = api
            .get(&format!("/v1/rooms/near/members/{member}"))
            .await
            .json();
        assert_eq!(listed["kind"], "dialout", "{listed}");
        assert_eq!(listed["name"], "far-room");
        let b_members = Api::new(&b).get("/v1/rooms/far/members").await.json();
        assert!(
            b_members
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "near"),
            "B sees A's room as a caller: {b_members}"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            api.delete(&format!("/v1/rooms/near/members/{member}"))
                .await
                .status,
            204
        );
        let leg_gone = eventually(LIMIT, || async {
            b.control()
                .room("far")
                .await
                .is_some_and(|r| r.members.len() == 1)
        })
        .await;
        assert!(leg_gone, "the kick's BYE reached B");
    };
    let (near, far, ()) = tokio::join!(near, far, operator);
    let (near, far) = (near.expect("near"), far.expect("far"));
    let heard_far = steadily_heard(window(&near, 4.0, 6.0), 440.0);
    let heard_near = steadily_heard(window(&far, 4.0, 6.0), 880.0);
    assert!(
        heard_far > 0.2,
        "A's talker hears B's 440 through the leg: {heard_far:.3}"
    );
    assert!(
        heard_near > 0.2,
        "B's talker hears A's 880 through the leg: {heard_near:.3}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_dials_are_cancelled_and_bad_ones_refused() {
    let a = start(test_config()).await;
    let mut b_config = test_config();
    b_config.sip.answer_delay_ms = 60_000; // never answers within the test
    let b = start(b_config).await;
    let api = Api::new(&a);
    let mut events = api.events("", None);
    let target = format!("sip:ring@{}", b.sip_addr());
    // Times out: CANCEL, B answers the INVITE 487.
    let timed = api
        .post("/v1/rooms/out/dial", json!({"uri": target, "timeout_s": 2}))
        .await;
    assert_eq!(timed.status, 202, "{}", timed.body);
    let id = timed.json()["dial_id"].as_str().unwrap().to_string();
    let steps = progress(&mut events, &id).await;
    assert_eq!(states(&steps), ["trying", "ringing", "failed"], "{steps:?}");
    assert_eq!(steps[2]["status"], 487, "{steps:?}");
    // Cancelled by the operator.
    let asked = api.post("/v1/rooms/out/dial", json!({"uri": target})).await;
    let id = asked.json()["dial_id"].as_str().unwrap().to_string();
    events
        .until(LIMIT, |e| e["dial_id"] == id && e["state"] == "ringing")
        .await;
    assert_eq!(api.delete(&format!("/v1/dials/{id}")).await.status, 202);
    let steps = progress(&mut events, &id).await;
    assert_eq!(steps.last().unwrap()["status"], 487, "{steps:?}");
    assert_eq!(
        api.delete(&format!("/v1/dials/{id}")).await.status,
        404,
        "gone"
    );
    let b_idle = eventually(LIMIT, || async { b.control().call_count().await == 0 }).await;
    assert!(b_idle, "B saw both CANCELs and forgot the calls");
    // Nobody there: no answer to the INVITE or the CANCEL.
    let nowhere = api
        .post(
            "/v1/rooms/out/dial",
            json!({"uri": "sip:x@127.0.0.1:9", "timeout_s": 1}),
        )
        .await;
    let id = nowhere.json()["dial_id"].as_str().unwrap().to_string();
    let steps = progress(&mut events, &id).await;
    assert_eq!(steps.last().unwrap()["status"], 408, "{steps:?}");
    for bad in [
        json!({"uri": "sip:x@example.com"}),
        json!({"uri": "not a uri"}),
        json!({"uri": "sip:x@127.0.0.1", "timeout_s": 0}),
        json!({"uri": "sip:x@127.0.0.1;transport=tcp"}),
    ] {
        let refused = api.post("/v1/rooms/out/dial", bad.clone()).await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
    }
    assert_eq!(api.post("/v1/rooms/out/dial", json!({})).await.status, 400);
    assert_eq!(a.rtp_port_pairs_in_use(), 0, "failed dials hold no ports");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_as_the_callee_and_as_a_cascade_peer_gets_an_ack_and_a_bye() {
    assert!(
        tool_available("sipp", "-v"),
        "this test needs SIPp (scripts/install-deps --test installs sip-tester)"
    );
    let a = start(test_config()).await;
    let api = Api::new(&a);
    let port = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("port");
        socket.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("tessera-sipp-uas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // The built-in UAS: 180, 200 with SDP, waits for the ACK, then for a BYE it answers 200;
    // two calls: a dial-out, then a cascade leg (a plain SIP peer: no X-Tessera-Cascade).
    let sipp = tokio::process::Command::new("sipp")
        .args(["-sn", "uas", "-m", "2", "-i", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-nostdin", "-timeout", "40s", "-timeout_error"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp starts");
    let mut events = api.events("?room=sipp", None);
    let mut member = None;
    for _ in 0..20 {
        // SIPp may take a moment to listen: a dial that gets no answer is retried.
        let started = api
            .post(
                "/v1/rooms/sipp/dial",
                json!({"uri": format!("sip:service@127.0.0.1:{port}"), "timeout_s": 3}),
            )
            .await;
        let id = started.json()["dial_id"].as_str().unwrap().to_string();
        let steps = progress(&mut events, &id).await;
        if let Some(answered) = steps.iter().find(|e| e["state"] == "answered") {
            member = answered["member"].as_u64();
            break;
        }
    }
    let member = member.expect("SIPp answered");
    assert_eq!(
        api.delete(&format!("/v1/rooms/sipp/members/{member}"))
            .await
            .status,
        204
    );
    let leg = api
        .post(
            "/v1/rooms/sipp/cascades",
            json!({"uri": format!("sip:3000@127.0.0.1:{port}")}),
        )
        .await;
    assert_eq!(leg.status, 201, "{}", leg.body);
    let id = leg.json()["id"].as_str().unwrap().to_string();
    let up = eventually(LIMIT, || async {
        let legs = api.get("/v1/rooms/sipp/cascades").await.json();
        legs.as_array()
            .is_some_and(|l| l.iter().any(|g| g["id"] == id && g["state"] == "up"))
    })
    .await;
    assert!(up, "SIPp answered the leg");
    let legs = api.get("/v1/rooms/sipp/cascades").await.json();
    assert_eq!(
        legs[0]["remote_node"],
        Value::Null,
        "a plain peer names no node"
    );
    let leg_member = legs[0]["member"].as_u64().expect("the leg is a member");
    let listed = api
        .get(&format!("/v1/rooms/sipp/members/{leg_member}"))
        .await;
    assert_eq!(listed.json()["kind"], "cascade", "{}", listed.body);
    assert_eq!(
        api.delete(&format!("/v1/rooms/sipp/cascades/{id}"))
            .await
            .status,
        204
    );
    let output = tokio::time::timeout(Duration::from_secs(60), sipp.wait_with_output())
        .await
        .expect("sipp ends by itself")
        .expect("sipp ran");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "SIPp saw a complete call: {log}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_tessera_dial_answers_a_dial_out_and_hears_the_room() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    let mut events = api.events("?room=lst", None);
    let mut callee = DialOptions::new(String::new());
    callee.tone_hz = Some(440.0);
    callee.duration = Duration::from_secs(6);
    let listener = Listener::bind(callee, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("binds");
    let callee_at = listener.local_addr();
    let room = dial(talker(&server, "lst", "a880", 880.0, 12));
    let operator = async {
        wait_members(&server, "lst", 1).await;
        let started = api
            .post(
                "/v1/rooms/lst/dial",
                json!({"uri": format!("sip:callee@{callee_at}")}),
            )
            .await;
        assert_eq!(started.status, 202, "{}", started.body);
        let dial_id = started.json()["dial_id"].as_str().unwrap().to_string();
        let steps = progress(&mut events, &dial_id).await;
        assert_eq!(states(&steps), ["trying", "answered"], "{steps:?}");
        let member = steps[1]["member"].as_u64().expect("a member");
        // The callee hangs up after its 6 s: the server hears its BYE.
        let left = events
            .until(LIMIT, |e| kind(e) == "member-left" && e["member"] == member)
            .await;
        assert_eq!(left.last().map(|e| e["reason"].clone()), Some(json!("bye")));
    };
    let (callee, room, ()) = tokio::join!(listener.answer(), room, operator);
    let (callee, room) = (callee.expect("callee"), room.expect("room"));
    assert!(callee.answered, "{callee:?}");
    assert_eq!(callee.ended_by, None, "the callee ended the call itself");
    let callee_hears = steadily_heard(window(&callee, 2.0, 5.0), 880.0);
    assert!(
        callee_hears > 0.2,
        "the callee hears the room's 880: {callee_hears:.3}"
    );
    let room_hears = steadily_heard(window(&room, 2.0, 5.0), 440.0);
    assert!(
        room_hears > 0.2,
        "the room hears the callee's 440: {room_hears:.3}"
    );
    server.shutdown().await;
}
