//! Call life cycle over real SIP: join/leave, room destruction and port return, CANCEL,
//! retransmissions, unacknowledged answers, RTP timeout, re-INVITE and graceful shutdown.

use crate::common;

use common::*;
use std::time::Duration;
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bye_removes_member_and_last_bye_destroys_room_and_returns_ports() {
    let server = start(test_config()).await;
    let short = dial_tone(
        &server,
        "life",
        Some(440.0),
        2.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let long = dial_tone(
        &server,
        "life",
        Some(880.0),
        5.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let observer = async {
        let ctl = server.control();
        assert!(
            eventually(WAIT, || async {
                ctl.room("life").await.is_some_and(|r| r.members.len() == 2)
            })
            .await
        );
        assert_eq!(server.rtp_port_pairs_in_use(), 2);
        // The short call hangs up first: one member stays, the room lives on.
        assert!(
            eventually(WAIT, || async {
                ctl.room("life").await.is_some_and(|r| r.members.len() == 1)
            })
            .await
        );
        assert_eq!(server.rtp_port_pairs_in_use(), 1);
    };
    let (a, b, ()) = tokio::join!(short, long, observer);
    assert!(a.answered && b.answered);
    let ctl = server.control();
    assert!(
        eventually(WAIT, || async { ctl.room_ids().await.is_empty() }).await,
        "room destroyed"
    );
    assert!(ports_returned(&server).await, "ports returned");
    assert_eq!(ctl.call_count().await, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_answer_gets_487_and_frees_everything() {
    let mut config = test_config();
    config.sip.answer_delay_ms = 5_000;
    let server = start(config).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:4000@{}", server.sip_addr());
    assert!(probe.ring(&ruri, "cancel-1").await, "ringing");
    assert_eq!(server.rtp_port_pairs_in_use(), 1);
    let (got_cancel_ok, got_487) = probe.cancel(&ruri, "cancel-1").await;
    assert!(got_cancel_ok, "CANCEL answered 200");
    assert!(got_487, "INVITE answered 487");
    assert!(ports_returned(&server).await);
    assert!(server.control().room_ids().await.is_empty());
    server.shutdown().await;
}

/// Sends an INVITE (optionally several times with the same branch) and returns the 200.
async fn invite_and_answer(
    probe: &SipProbe,
    ruri: &str,
    call_id: &str,
    copies: usize,
    body: &str,
) -> String {
    let extra = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let invite = request(
        "INVITE",
        ruri,
        probe.local(),
        call_id,
        call_id,
        1,
        None,
        extra,
        body,
    );
    for _ in 0..copies {
        probe.send(&invite).await;
    }
    probe.response_with("200", WAIT).await.expect("200 OK")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmitted_invite_creates_one_member() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5000@{}", server.sip_addr());
    let ok = invite_and_answer(
        &probe,
        &ruri,
        "retx-1",
        3,
        &sdp_offer("127.0.0.1:9".parse().unwrap()),
    )
    .await;
    let tag = to_tag_of(&ok);
    probe
        .in_dialog("ACK", &ruri, "retx-1", "ack1", 1, &tag)
        .await;
    let ctl = server.control();
    assert!(eventually(WAIT, || async { ctl.room("5000").await.is_some() }).await);
    assert_eq!(ctl.room("5000").await.map(|r| r.members.len()), Some(1));
    assert_eq!(ctl.call_count().await, 1);
    assert_eq!(server.rtp_port_pairs_in_use(), 1);
    probe
        .in_dialog("BYE", &ruri, "retx-1", "bye1", 2, &tag)
        .await;
    probe
        .response_to("BYE", "200", WAIT)
        .await
        .expect("BYE answered");
    assert!(eventually(WAIT, || async { ctl.room_ids().await.is_empty() }).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_answer_is_retransmitted_then_hung_up() {
    let mut config = test_config();
    config.sip.t1_ms = 20; // 64·T1 = 1.28 s
    let server = start(config).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5100@{}", server.sip_addr());
    invite_and_answer(
        &probe,
        &ruri,
        "noack-1",
        1,
        &sdp_offer("127.0.0.1:9".parse().unwrap()),
    )
    .await;
    assert!(
        probe.response_with("200", WAIT).await.is_some(),
        "200 retransmitted while no ACK"
    );
    let bye = probe.request("BYE", WAIT).await.expect("server hangs up");
    assert!(bye.contains("noack-1"));
    let ctl = server.control();
    assert!(eventually(WAIT, || async { ctl.room_ids().await.is_empty() }).await);
    assert!(ports_returned(&server).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_call_is_ended_with_bye_after_rtp_timeout() {
    let mut config = test_config();
    config.rtp.timeout_secs = 2;
    let server = start(config).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5200@{}", server.sip_addr());
    let ok = invite_and_answer(
        &probe,
        &ruri,
        "silent-1",
        1,
        &sdp_offer("127.0.0.1:9".parse().unwrap()),
    )
    .await;
    let tag = to_tag_of(&ok);
    probe
        .in_dialog("ACK", &ruri, "silent-1", "ack1", 1, &tag)
        .await;
    let bye = probe
        .request("BYE", Duration::from_secs(15))
        .await
        .expect("BYE after RTP timeout");
    assert!(bye.contains("silent-1"));
    let ctl = server.control();
    assert!(eventually(WAIT, || async { ctl.room_ids().await.is_empty() }).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvite_puts_on_hold_and_resumes() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5300@{}", server.sip_addr());
    let rtp = "127.0.0.1:9".parse().unwrap();
    let ok = invite_and_answer(&probe, &ruri, "hold-1", 1, &sdp_offer(rtp)).await;
    let tag = to_tag_of(&ok);
    assert!(body_of(&ok).contains("a=sendrecv"));
    probe
        .in_dialog("ACK", &ruri, "hold-1", "ack1", 1, &tag)
        .await;
    let hold = sdp_offer(rtp)
        .replace("a=sendrecv", "a=sendonly")
        .replace("o=probe 1 1", "o=probe 1 2");
    let reinvite = request(
        "INVITE",
        &ruri,
        probe.local(),
        "hold-1",
        "reinv2",
        2,
        Some(&tag),
        "Content-Type: application/sdp\r\n",
        &hold,
    );
    probe.send(&reinvite).await;
    let answer = probe
        .response_with("200", WAIT)
        .await
        .expect("re-INVITE answered");
    assert!(
        body_of(&answer).contains("a=recvonly"),
        "hold answered recvonly: {answer}"
    );
    probe
        .in_dialog("ACK", &ruri, "hold-1", "ack2", 2, &tag)
        .await;
    let resume = sdp_offer(rtp).replace("o=probe 1 1", "o=probe 1 3");
    probe
        .send(&request(
            "INVITE",
            &ruri,
            probe.local(),
            "hold-1",
            "reinv3",
            3,
            Some(&tag),
            "Content-Type: application/sdp\r\n",
            &resume,
        ))
        .await;
    let answer = probe
        .response_with("200", WAIT)
        .await
        .expect("resume answered");
    assert!(body_of(&answer).contains("a=sendrecv"));
    probe
        .in_dialog("ACK", &ruri, "hold-1", "ack3", 3, &tag)
        .await;
    probe
        .in_dialog("BYE", &ruri, "hold-1", "bye4", 4, &tag)
        .await;
    assert!(probe.response_to("BYE", "200", WAIT).await.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_without_sdp_gets_offer_and_answer_comes_in_ack() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5400@{}", server.sip_addr());
    let ok = invite_and_answer(&probe, &ruri, "late-1", 1, "").await;
    let offer = body_of(&ok);
    assert!(
        offer.contains("m=audio") && offer.contains("PCMU/8000"),
        "offer in 200: {offer}"
    );
    let tag = to_tag_of(&ok);
    let answer = "v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";
    probe
        .send(&request(
            "ACK",
            &ruri,
            probe.local(),
            "late-1",
            "ack1",
            1,
            Some(&tag),
            "Content-Type: application/sdp\r\n",
            answer,
        ))
        .await;
    let ctl = server.control();
    assert!(
        eventually(WAIT, || async {
            ctl.room("5400")
                .await
                .is_some_and(|r| r.members.first().is_some_and(|m| m.codec == "PCMU"))
        })
        .await,
        "member joined with the codec from the ACK's answer"
    );
    probe
        .in_dialog("BYE", &ruri, "late-1", "bye2", 2, &tag)
        .await;
    assert!(probe.response_to("BYE", "200", WAIT).await.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_call_with_bye() {
    let server = start(test_config()).await;
    let call = dial_tone(
        &server,
        "6000",
        Some(440.0),
        20.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let stopper = async {
        let ctl = server.control();
        assert!(
            eventually(WAIT, || async {
                ctl.room("6000")
                    .await
                    .is_some_and(|r| !r.members.is_empty())
            })
            .await
        );
    };
    let (report, ()) = tokio::join!(call, stopper_then(&server, stopper));
    assert!(report.answered);
    assert_eq!(report.ended_by.as_deref(), Some("remote BYE"));
    assert!(
        report.duration_s < 15.0,
        "ended by the server, not by the 20 s timer"
    );
    assert!(ports_returned(&server).await);
    server.shutdown().await;
}

/// Waits for `ready`, then asks the server to shut down (the handle stays usable for checks).
async fn stopper_then(
    server: &tessera::server::ServerHandle,
    ready: impl std::future::Future<Output = ()>,
) {
    ready.await;
    server.request_shutdown();
    server.wait_stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_ip_is_advertised_in_sdp_and_contact() {
    let mut config = test_config();
    config.sip.public_ip = Some("192.0.2.10".parse().unwrap());
    let server = start(config).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5500@{}", server.sip_addr());
    let ok = invite_and_answer(
        &probe,
        &ruri,
        "pub-1",
        1,
        &sdp_offer("127.0.0.1:9".parse().unwrap()),
    )
    .await;
    assert!(body_of(&ok).contains("c=IN IP4 192.0.2.10"), "{ok}");
    let port = m_line_port(&ok, "audio").expect("audio m-line");
    let ctl = server.control();
    assert!(eventually(WAIT, || async { ctl.room("5500").await.is_some() }).await);
    let room = ctl.room("5500").await.expect("room");
    assert_eq!(
        room.members[0].rtp_port, port,
        "SDP advertises the bound RTP port"
    );
    assert!(
        header(&ok, "Contact").is_some_and(|c| c.contains("192.0.2.10")),
        "{ok}"
    );
    let tag = to_tag_of(&ok);
    probe
        .in_dialog("ACK", &ruri, "pub-1", "ack1", 1, &tag)
        .await;
    probe
        .in_dialog("BYE", &ruri, "pub-1", "bye2", 2, &tag)
        .await;
    assert!(probe.response_to("BYE", "200", WAIT).await.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bye_while_ringing_ends_the_invite_with_487() {
    let mut config = test_config();
    config.sip.answer_delay_ms = 5_000;
    let server = start(config).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:5600@{}", server.sip_addr());
    probe
        .send(&request(
            "INVITE",
            &ruri,
            probe.local(),
            "ring-bye",
            "inv1",
            1,
            None,
            "Content-Type: application/sdp\r\n",
            &sdp_offer("127.0.0.1:9".parse().unwrap()),
        ))
        .await;
    let ringing = probe.response_with("180", WAIT).await.expect("ringing");
    let tag = to_tag_of(&ringing);
    probe
        .in_dialog("BYE", &ruri, "ring-bye", "bye1", 2, &tag)
        .await;
    assert!(probe.response_to("BYE", "200", WAIT).await.is_some());
    assert!(probe.response_to("INVITE", "487", WAIT).await.is_some());
    assert!(ports_returned(&server).await);
    server.shutdown().await;
}

#[tokio::test]
async fn a_timer_that_would_overflow_the_clock_stops_the_start_with_its_name() {
    let mut config = test_config();
    config.sip.t1_ms = u64::MAX;
    let refused = tessera::server::ServerHandle::start(config).await;
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("[sip] t1_ms"),
        "refused, naming the key: {error:?}"
    );
}
