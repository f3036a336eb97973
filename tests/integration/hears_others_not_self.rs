//! N−1 mixing over real calls: every member hears the others' tones and never its own.

use crate::common;

use common::*;
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_hear_the_other_two_tones_and_not_their_own() {
    let server = start(test_config()).await;
    let tones = [440.0f32, 880.0, 1320.0];
    let call = |hz| {
        dial_tone(
            &server,
            "3000",
            Some(hz),
            5.0,
            AudioCodec::Opus,
            DialTransport::Udp,
        )
    };
    let (a, b, c) = tokio::join!(call(tones[0]), call(tones[1]), call(tones[2]));
    let reports = [a, b, c];
    for (i, report) in reports.iter().enumerate() {
        assert!(report.answered, "member {i} answered");
        assert!(
            report.rx_packets > 150,
            "member {i} received media: {}",
            report.rx_packets
        );
        for (j, hz) in tones.iter().enumerate() {
            // Not heard: any trace in the whole call counts. Heard: most 100 ms chunks (a
            // late packet on a loaded machine breaks a whole-call tone's phase).
            let ratio = if i == j {
                heard(report, *hz)
            } else {
                heard_steadily(report, *hz)
            };
            if i == j {
                assert!(
                    ratio < 0.02,
                    "member {i} hears its own {hz} Hz tone (ratio {ratio:.3})"
                );
            } else {
                assert!(
                    ratio > 0.15,
                    "member {i} does not hear {hz} Hz (ratio {ratio:.3})"
                );
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_and_pcmu_members_hear_each_other() {
    let server = start(test_config()).await;
    let opus = dial_tone(
        &server,
        "mixed",
        Some(500.0),
        4.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let pcmu = dial_tone(
        &server,
        "mixed",
        Some(1000.0),
        4.0,
        AudioCodec::Pcmu,
        DialTransport::Udp,
    );
    let (opus, pcmu) = tokio::join!(opus, pcmu);
    assert_eq!(pcmu.codec, "PCMU");
    assert!(
        heard(&opus, 1000.0) > 0.5,
        "Opus member hears the PCMU tone: {:.3}",
        heard(&opus, 1000.0)
    );
    assert!(
        heard(&pcmu, 500.0) > 0.5,
        "PCMU member hears the Opus tone: {:.3}",
        heard(&pcmu, 500.0)
    );
    assert!(heard(&opus, 500.0) < 0.02);
    assert!(heard(&pcmu, 1000.0) < 0.02);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_member_and_udp_member_hear_each_other() {
    let server = start(test_config()).await;
    let tcp = dial_tone(
        &server,
        "tcp-room",
        Some(700.0),
        4.0,
        AudioCodec::Opus,
        DialTransport::Tcp,
    );
    let udp = dial_tone(
        &server,
        "tcp-room",
        Some(1100.0),
        4.0,
        AudioCodec::Pcma,
        DialTransport::Udp,
    );
    let (tcp, udp) = tokio::join!(tcp, udp);
    assert!(tcp.answered && udp.answered);
    assert!(heard(&tcp, 1100.0) > 0.5, "TCP member hears UDP member");
    assert!(heard(&udp, 700.0) > 0.5, "UDP member hears TCP member");
    server.shutdown().await;
}

/// A room big enough that its tick splits receive and send over threads (≥ 128 members with
/// two cores): 140 silent load-generator members, then two tone members who must still hear
/// each other and not themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_big_room_split_over_threads_members_hear_others_not_self() {
    use std::time::Duration;
    use tessera::loadgen::{run, LoadOptions};
    let mut config = test_config();
    // A range of its own, large enough for 142 members (the shared test ranges hold 30).
    config.rtp.ports = tessera::config::PortRange {
        low: 30000,
        high: 30599,
    };
    // The crowd is one source joining at 200 calls a second.
    config.limits.invites_per_sec_per_ip = 1000.0;
    config.limits.calls_per_ip = 1000;
    let server = start(config).await;
    let mut crowd = LoadOptions::new(uri(&server, "big"), 140);
    crowd.talkers = 0;
    crowd.latency_probes = 0;
    crowd.ramp_per_sec = 200.0;
    crowd.duration = Duration::from_secs(14);
    let crowd = tokio::spawn(run(crowd));
    let ctl = server.control();
    assert!(
        eventually(Duration::from_secs(20), || async {
            ctl.room("big")
                .await
                .is_some_and(|r| r.members.len() >= 140)
        })
        .await,
        "the crowd joined"
    );
    let call = |hz| {
        dial_tone(
            &server,
            "big",
            Some(hz),
            4.0,
            AudioCodec::Opus,
            DialTransport::Udp,
        )
    };
    let (a, b) = tokio::join!(call(440.0), call(1320.0));
    for (report, own, other) in [(&a, 440.0, 1320.0), (&b, 1320.0, 440.0)] {
        assert!(report.rx_packets > 100, "{report:?}");
        assert!(
            heard(report, other) > 0.15,
            "hears {other} Hz: {:.3}",
            heard(report, other)
        );
        assert!(
            heard(report, own) < 0.02,
            "own {own} Hz: {:.3}",
            heard(report, own)
        );
    }
    let crowd = crowd.await.expect("joins").expect("load runs");
    assert_eq!(crowd.joined, 140, "{crowd:?}");
    assert_eq!(
        crowd.silent_members, 0,
        "every crowd member received audio: {crowd:?}"
    );
    server.shutdown().await;
}
