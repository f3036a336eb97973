//! The encoder count follows talkers, not members: a room of 10 with one talker runs two
//! Opus encodes per tick (the talker's mix-minus and one shared mix for the other nine).

use crate::common;

use common::*;
use std::time::Duration;
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_members_one_talker_use_two_encoders() {
    let server = start(test_config()).await;
    let mut calls = Vec::new();
    for i in 0..10 {
        let tone = (i == 0).then_some(440.0);
        calls.push(dial_tone(
            &server,
            "ten",
            tone,
            5.0,
            AudioCodec::Opus,
            DialTransport::Udp,
        ));
    }
    let observe = async {
        let ctl = server.control();
        let steady = eventually(Duration::from_secs(15), || async {
            ctl.room("ten")
                .await
                .is_some_and(|r| r.members.len() == 10 && r.talkers == 1 && r.audio_encoders == 2)
        })
        .await;
        let room = ctl.room("ten").await;
        assert!(
            steady,
            "expected 10 members, 1 talker, 2 encoders; got {:?}",
            room.map(|r| (r.members.len(), r.talkers, r.audio_encoders))
        );
    };
    let (reports, ()) = tokio::join!(futures::future::join_all(calls), observe);
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
    server.shutdown().await;
}
