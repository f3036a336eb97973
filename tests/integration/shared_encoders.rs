//! How a room makes its mixes, on real calls: the encoders follow what listeners must hear,
//! not members. A lone talker hears ready-made silence and its listeners are sent its own
//! packets (no encoder at all), except in another codec (one shared encode for them); three
//! talkers cost three mix-minus encodes and one shared mix; past `[audio] max_mixed_talkers`
//! only the loudest are mixed. Every check decodes what the members received.

use crate::common;

use common::api::Api;
use common::*;
use serde_json::json;
use std::time::Duration;
use tessera::dial::{dial, DialOptions, DialTransport};
use tessera::media::audio::tone::tone_ratio;
use tessera::sdp::AudioCodec;

/// Waits until `room` shows `members`, `talkers` and `encoders`; panics with what it saw.
async fn steady(
    server: &tessera::server::ServerHandle,
    room: &str,
    members: usize,
    talkers: usize,
    encoders: usize,
) {
    let ctl = server.control();
    let seen = eventually(Duration::from_secs(15), || async {
        ctl.room(room).await.is_some_and(|r| {
            r.members.len() == members && r.talkers == talkers && r.audio_encoders == encoders
        })
    })
    .await;
    let room = ctl.room(room).await;
    assert!(
        seen,
        "expected {members} members, {talkers} talkers, {encoders} encoders; got {:?}",
        room.map(|r| (r.members.len(), r.talkers, r.audio_encoders))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_talker_costs_no_encoder_but_for_listeners_of_another_codec() {
    let server = start(test_config()).await;
    let mut calls = Vec::new();
    for i in 0..10 {
        let tone = (i == 0).then_some(440.0);
        let codec = if i == 9 {
            AudioCodec::Pcmu
        } else {
            AudioCodec::Opus
        };
        calls.push(dial_tone(
            &server,
            "ten",
            tone,
            5.0,
            codec,
            DialTransport::Udp,
        ));
    }
    // The talker hears silence (no encoder), eight Opus listeners its own packets (no
    // encoder), the μ-law listener one shared encode.
    let (reports, ()) = tokio::join!(
        futures::future::join_all(calls),
        steady(&server, "ten", 10, 1, 1)
    );
    for (i, r) in reports.iter().enumerate().skip(1) {
        assert!(
            heard(r, 440.0) > 0.5,
            "listener {i} hears the talker: {:.3}",
            heard(r, 440.0)
        );
    }
    assert!(
        heard(&reports[0], 440.0) < 0.02,
        "the talker does not hear itself"
    );
    let metrics = Api::new(&server).get("/metrics").await.body;
    for how in ["forwarded", "silence", "encoded"] {
        let needle = format!("tessera_audio_mixes_total{{how=\"{how}\"}}");
        assert!(metrics.contains(&needle), "{needle} counted:\n{metrics}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_talkers_cost_three_mix_minus_encodes_and_one_shared_mix() {
    let server = start(test_config()).await;
    let tones = [440.0, 660.0, 880.0];
    let mut calls = Vec::new();
    for i in 0..6 {
        let tone = tones.get(i).copied();
        calls.push(dial_tone(
            &server,
            "three",
            tone,
            5.0,
            AudioCodec::Opus,
            DialTransport::Udp,
        ));
    }
    let (reports, ()) = tokio::join!(
        futures::future::join_all(calls),
        steady(&server, "three", 6, 3, 4)
    );
    for (i, own) in tones.iter().enumerate() {
        let r = &reports[i];
        assert!(heard(r, *own) < 0.02, "talker {own} does not hear itself");
        for other in tones.iter().filter(|t| *t != own) {
            let share = heard(r, *other);
            assert!(share > 0.2, "talker {own} hears {other}: {share:.3}");
        }
    }
    for r in &reports[3..] {
        for hz in tones {
            assert!(
                heard(r, hz) > 0.2,
                "a listener hears {hz}: {:.3}",
                heard(r, hz)
            );
        }
    }
    server.shutdown().await;
}

fn caller(server: &tessera::server::ServerHandle, name: &str, tone: Option<f32>) -> DialOptions {
    let mut o = DialOptions::new(uri(server, "loud"));
    o.from = name.to_string();
    o.tone_hz = tone;
    o.duration = Duration::from_secs(8);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_limit_only_the_loudest_talkers_are_mixed() {
    let mut config = test_config();
    config.audio.max_mixed_talkers = 2;
    let server = start(config).await;
    let calls = [
        dial(caller(&server, "a440", Some(440.0))),
        dial(caller(&server, "b660", Some(660.0))),
        dial(caller(&server, "c880", Some(880.0))),
        dial(caller(&server, "listener", None)),
    ];
    let operator = async {
        wait_members(&server, "loud", 4).await;
        let api = Api::new(&server);
        let members = api.get("/v1/rooms/loud/members").await.json();
        let a = members
            .as_array()
            .and_then(|list| list.iter().find(|m| m["name"] == "a440"))
            .and_then(|m| m["id"].as_u64())
            .expect("a440 listed");
        // A at -12 dB is quieter than B and C by twice the hysteresis margin.
        let answer = api
            .patch(
                &format!("/v1/rooms/loud/members/{a}"),
                json!({"volume_in": -12}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let settled = eventually(Duration::from_secs(10), || async {
            let list = api.get("/v1/rooms/loud/members").await.json();
            let mixed = |name: &str| {
                list.as_array()
                    .and_then(|l| l.iter().find(|m| m["name"] == name))
                    .is_some_and(|m| m["mixed"] == true)
            };
            !mixed("a440") && mixed("b660") && mixed("c880")
        })
        .await;
        assert!(settled, "B and C mixed, A not");
    };
    let (reports, ()) = tokio::join!(futures::future::join_all(calls), operator);
    let listener = reports
        .into_iter()
        .nth(3)
        .expect("four calls")
        .expect("the listener's call");
    // The selection settles within a second of the change; the last 4 s are checked.
    let late = window(&listener, 3.5, 7.5);
    assert!(
        tone_ratio(late, 440.0, 48_000) < 0.02,
        "the quietest talker is left out: {:.3}",
        tone_ratio(late, 440.0, 48_000)
    );
    for hz in [660.0, 880.0] {
        assert!(
            steadily_heard(late, hz) > 0.2,
            "{hz} heard: {:.3}",
            steadily_heard(late, hz)
        );
    }
    server.shutdown().await;
}
