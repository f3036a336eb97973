//! Video follows the negotiation: a re-INVITE that holds video (sendonly, inactive, or the
//! m-line rejected with port 0) stops the server's video; resuming restarts it with a
//! keyframe. A video-only call times out like any
//! other. An audio-only member sits on the canvas its `X-Tessera-Canvas` names (0 = none).

use crate::common;

use common::media_peer::*;
use common::*;
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions};
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(10);

/// RTP packets of payload type `pt` that arrive on `socket` between `settle` and `window`
/// from now.
async fn rtp_count(socket: &UdpSocket, pt: u8, settle: Duration, window: Duration) -> usize {
    let start = Instant::now();
    let received = record(socket, start + window).await;
    received
        .rtp()
        .iter()
        .filter(|p| p.payload_type == pt && p.at >= start + settle)
        .count()
}

/// Whether a keyframe (an IDR slice, or SPS before it) arrives on `socket` within `limit`.
async fn keyframe_arrives(socket: &UdpSocket, limit: Duration) -> bool {
    let received = record(socket, Instant::now() + limit).await;
    received.datagrams.iter().any(|d| {
        let Ok(rtp) = rtp_rs::RtpReader::new(&d.data) else {
            return false;
        };
        let payload = rtp.payload();
        match payload.first().map(|b| b & 0x1f) {
            Some(5) | Some(7) => true,
            // STAP-A: the first aggregated unit's header follows the 2-byte size.
            Some(24) => payload.get(3).is_some_and(|b| matches!(b & 0x1f, 5 | 7)),
            // FU-A start of an IDR.
            Some(28) => payload
                .get(1)
                .is_some_and(|b| b & 0x80 != 0 && b & 0x1f == 5),
            _ => false,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_video_stops_it_both_ways_and_resuming_restarts_it() {
    let server = start(small_video(test_config())).await;
    let mut red = DialOptions::new(uri(&server, "hold"));
    red.from = "red".into();
    red.color = Some((230, 20, 20));
    red.video_size = (160, 90);
    red.duration = Duration::from_secs(14);
    let scenario = async {
        let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let video = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut offer = AvOffer {
            video_direction: "sendrecv",
            ..AvOffer::watching(audio.local_addr().unwrap(), video.local_addr().unwrap())
        };
        let mut call = ProbeCall::place(
            server.sip_addr(),
            &uri(&server, "hold"),
            "hold-1",
            "",
            &offer.sdp(),
        )
        .await;
        send_consent(&video, &call.answer, "video").await;
        let flowing = rtp_count(&video, H264_PT, Duration::ZERO, Duration::from_secs(1)).await;
        assert!(flowing > 5, "video flows before hold: {flowing}");
        for (version, hold) in [(2, "sendonly"), (4, "inactive")] {
            offer.version = version;
            offer.video_direction = hold;
            let answer = call.reinvite(&offer.sdp()).await;
            assert_ne!(
                sdp_port(&answer, "video"),
                Some(0),
                "{hold}: video kept, on hold"
            );
            let held = rtp_count(
                &video,
                H264_PT,
                Duration::from_millis(400),
                Duration::from_millis(1500),
            )
            .await;
            assert_eq!(held, 0, "no video while the peer holds it ({hold})");
            offer.version = version + 1;
            offer.video_direction = "sendrecv";
            call.reinvite(&offer.sdp()).await;
            assert!(
                keyframe_arrives(&video, Duration::from_secs(3)).await,
                "resuming after {hold} starts with a keyframe"
            );
        }
        // A re-offer that rejects video (port 0) stops it too.
        let rejected = offer.sdp().replace(
            &format!("m=video {} ", video.local_addr().unwrap().port()),
            "m=video 0 ",
        );
        let rejected = rejected.replace("o=peer 1 5 ", "o=peer 1 6 ");
        call.reinvite(&rejected).await;
        let stopped = rtp_count(
            &video,
            H264_PT,
            Duration::from_millis(400),
            Duration::from_millis(1500),
        )
        .await;
        assert_eq!(stopped, 0, "no video after the peer rejected it");
        call.hang_up().await;
    };
    let (report, ()) = tokio::join!(async { dial(red).await.expect("dial") }, scenario);
    assert!(report.answered);
    server.shutdown().await;
}

/// Places a call whose peer never sends RTP or RTCP, with the offer `shape` makes of a
/// sendrecv audio+video offer, and checks that the server hangs up after the RTP timeout and
/// frees the ports.
async fn silent_call_is_hung_up(name: &str, shape: impl Fn(&str) -> String) {
    let mut config = test_config();
    config.rtp.timeout_secs = 2;
    let server = start(config).await;
    let video = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = AvOffer {
        video_direction: "sendrecv",
        ..AvOffer::watching(audio.local_addr().unwrap(), video.local_addr().unwrap())
    }
    .sdp();
    let call = ProbeCall::place(
        server.sip_addr(),
        &uri(&server, name),
        &format!("{name}-1"),
        "",
        &shape(&offer),
    )
    .await;
    assert_ne!(sdp_port(&call.answer, "video"), Some(0), "video accepted");
    let bye = call.probe.request("BYE", WAIT).await;
    assert!(bye.is_some(), "the server hung up the silent call ({name})");
    assert!(ports_returned(&server).await, "its ports went back");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_video_only_call_is_ended_after_the_rtp_timeout() {
    silent_call_is_hung_up("vonly", |offer| {
        // Keep only the session part and the video section.
        let (session, rest) = offer.split_once("m=audio").expect("audio section");
        let video_section = &rest[rest.find("m=video").expect("video section")..];
        format!("{session}{video_section}")
    })
    .await;
}

/// #14: a call with every stream inactive used to be exempt from the RTP timeout, so one
/// spoofed INVITE held its ports and encoders until restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_every_stream_inactive_is_ended_after_the_rtp_timeout() {
    silent_call_is_hung_up("inactive", |offer| {
        let offer = offer.replace("a=sendrecv", "a=inactive");
        assert!(!offer.contains("a=sendrecv") && offer.matches("a=inactive").count() >= 2);
        offer
    })
    .await;
}

/// The tiles of canvas `canvas` (1-based) once `members` joined and somebody watches it.
async fn tiles_on(server: &ServerHandle, room: &str, canvas: usize, members: usize) -> Vec<u64> {
    let end = Instant::now() + WAIT;
    loop {
        if let Some(snapshot) = server.control().room(room).await {
            let tiles: Vec<u64> = snapshot.canvases[canvas - 1]
                .tiles
                .iter()
                .map(|t| t.member)
                .collect();
            let placed = snapshot
                .canvases
                .iter()
                .map(|c| c.tiles.len())
                .sum::<usize>();
            if snapshot.members.len() >= members && placed >= members - 1 && !tiles.is_empty() {
                return tiles;
            }
        }
        assert!(
            Instant::now() < end,
            "canvas {canvas} of {room} composed with everyone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_only_members_sit_on_the_canvas_their_header_names() {
    let mut config = small_video(test_config());
    config.video.canvases = 2;
    let server = start(config).await;
    let member = |name: &str, headers: &[(&str, &str)], video: bool| {
        let mut o = DialOptions::new(uri(&server, "place"));
        o.from = name.to_string();
        o.duration = Duration::from_secs(6);
        o.video_size = (160, 90);
        if video {
            o.color = Some((20, 200, 20));
        }
        o.headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        o
    };
    // Watchers of both canvases, each on canvas 1; audio-only members on 2 and on none.
    let watcher1 = member("w1", &[("X-Tessera-Canvas", "1")], true);
    let watcher2 = member(
        "w2",
        &[
            ("X-Tessera-Canvas", "1"),
            ("X-Tessera-Watching-Canvas", "2"),
        ],
        true,
    );
    let on_two = member("audio2", &[("X-Tessera-Canvas", "2")], false);
    let on_none = member("audio0", &[("X-Tessera-Canvas", "0")], false);
    let check = async {
        let one = tiles_on(&server, "place", 1, 4).await;
        let two = tiles_on(&server, "place", 2, 4).await;
        let room = server.control().room("place").await.expect("room");
        let id_of = |name: &str| {
            room.members
                .iter()
                .find(|m| m.name.trim_matches('"') == name)
                .map(|m| m.id)
                .unwrap_or_else(|| panic!("{name} joined"))
        };
        assert_eq!(
            two,
            vec![id_of("audio2")],
            "canvas 2 holds only the audio-only member"
        );
        assert!(!one.contains(&id_of("audio2")), "audio2 is not on canvas 1");
        assert!(
            !one.contains(&id_of("audio0")) && !two.contains(&id_of("audio0")),
            "X-Tessera-Canvas: 0 puts a member on no canvas"
        );
        assert_eq!(one.len(), 2, "canvas 1 holds the two video members");
    };
    let (a, b, c, d, ()) = tokio::join!(
        async { dial(watcher1).await.expect("dial") },
        async { dial(watcher2).await.expect("dial") },
        async { dial(on_two).await.expect("dial") },
        async { dial(on_none).await.expect("dial") },
        check
    );
    assert!(a.answered && b.answered && c.answered && d.answered);
    server.shutdown().await;
}
