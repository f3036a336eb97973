//! PIN entry by DTMF on real calls: a caller who dials a PIN room without `*PIN` waits in a
//! lobby, hearing only the prompt beeps and heard by nobody, until it presses the PIN and `#`
//! (RFC 4733 events from `tessera dial --dtmf`); then it hears the room and the room hears
//! it. The API lists it as `awaiting_pin` meanwhile and announces its entry `by: "dtmf"`.

use crate::common;

use common::api::{kind, Api};
use common::*;
use serde_json::json;
use std::time::Duration;
use tessera::conference::member::PROMPT_HZ;
use tessera::dial::{dial, DialOptions};
use tessera::media::audio::tone::tone_ratio;

const RATE: usize = 48_000;

/// The strongest 100 ms of `freq` in `samples`, as a tone ratio.
fn peak_ratio(samples: &[i16], freq: f32) -> f64 {
    samples
        .chunks(RATE / 10)
        .map(|c| tone_ratio(c, freq, RATE as u32))
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_in_the_pin_lobby_enters_with_the_right_dtmf() {
    let server = start(test_config()).await;
    let api = Api::new(&server);
    assert_eq!(
        api.put("/v1/rooms/pin", json!({"pin": "2468"}))
            .await
            .status,
        201
    );
    let mut events = api.events("?room=pin", None);
    let caller = |user: &str, name: &str, tone: f32, secs: u64| {
        let mut o = DialOptions::new(uri(&server, user));
        o.from = name.to_string();
        o.tone_hz = Some(tone);
        o.duration = Duration::from_secs(secs);
        o
    };
    let talker = dial(caller("pin*2468", "talker", 880.0, 12));
    let mut lobby = caller("pin", "lobby", 660.0, 11);
    lobby.dtmf = Some("2468#".to_string());
    lobby.dtmf_at = Duration::from_secs(4);
    let check = async {
        wait_members(&server, "pin", 2).await;
        let members = api.get("/v1/rooms/pin/members").await.json();
        let waiting = members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "lobby")
            .cloned()
            .expect("listed");
        assert_eq!(waiting["awaiting_pin"], true, "{waiting}");
        let entered = events
            .until(Duration::from_secs(30), |e| {
                kind(e) == "member-updated" && e["changes"]["awaiting_pin"] == false
            })
            .await;
        let entered = entered.last().unwrap();
        assert_eq!(entered["by"], "dtmf");
        assert_eq!(entered["member"], waiting["id"]);
    };
    let (talker, lobby, ()) = tokio::join!(talker, dial(lobby), check);
    let (talker, lobby) = (talker.expect("talker"), lobby.expect("lobby"));
    assert!(
        lobby.answered,
        "a caller without the PIN is answered into the lobby"
    );
    let before = window(&lobby, 0.8, 3.8);
    assert!(
        tone_ratio(before, 880.0, RATE as u32) < 0.02,
        "the lobby hears nothing of the room: {:.3}",
        tone_ratio(before, 880.0, RATE as u32)
    );
    assert!(
        peak_ratio(before, PROMPT_HZ) > 0.5,
        "the lobby hears the prompt: {:.3}",
        peak_ratio(before, PROMPT_HZ)
    );
    let room_before = window(&talker, 0.8, 3.8);
    assert!(
        tone_ratio(room_before, 660.0, RATE as u32) < 0.02,
        "the room does not hear the lobby"
    );
    // The PIN goes in from 4 s and takes 1.5 s to type.
    let after = window(&lobby, 7.0, 10.0);
    let inside = steadily_heard(after, 880.0);
    assert!(inside > 0.2, "inside, it hears the room: {inside:.3}");
    let room_after = window(&talker, 7.5, 10.5);
    let heard_inside = steadily_heard(room_after, 660.0);
    assert!(
        heard_inside > 0.2,
        "and the room hears it: {heard_inside:.3}"
    );
    server.shutdown().await;
}
