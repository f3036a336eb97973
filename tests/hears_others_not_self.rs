//! N−1 mixing over real calls: every member hears the others' tones and never its own.

mod common;

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
            let ratio = heard(report, *hz);
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
