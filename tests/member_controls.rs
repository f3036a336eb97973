//! Operator controls on real calls, through the typed control plane the HTTP API will use:
//! muting a talker takes its tone out of everyone's mix and unmuting brings it back; a deaf
//! member hears silence while the others still hear each other; a kicked member gets a BYE
//! and leaves the room; unknown rooms and members are refused.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tessera::conference::member::MemberId;
use tessera::conference::member_control::MemberControl;
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::media::audio::tone::{tone_level_dbfs, tone_ratio};
use tessera::server::control::ControlError;
use tessera::server::ServerHandle;

const RATE: usize = 48_000;

fn caller(
    server: &ServerHandle,
    room: &str,
    name: &str,
    tone: Option<f32>,
    secs: u64,
) -> DialOptions {
    let mut o = DialOptions::new(uri(server, room));
    o.from = name.to_string();
    o.tone_hz = tone;
    o.duration = Duration::from_secs(secs);
    o
}

/// Waits until `n` members are in `room`; returns when, and their ids by name.
async fn joined(server: &ServerHandle, room: &str, n: usize) -> (Instant, Vec<(String, MemberId)>) {
    wait_members(server, room, n).await;
    let at = Instant::now();
    let room = server.control().room(room).await.expect("room");
    let ids = room
        .members
        .iter()
        .map(|m| (m.name.trim_matches('"').to_string(), m.id))
        .collect();
    (at, ids)
}

fn id_of(ids: &[(String, MemberId)], name: &str) -> MemberId {
    ids.iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| *id)
        .unwrap_or_else(|| panic!("{name} joined"))
}

/// The recording between `from` and `to` seconds after `start` (the recording began a little
/// before `start`, when the call was answered; the windows leave room for that).
fn window(report: &DialReport, from: f64, to: f64) -> &[i16] {
    let rec = &report.recording;
    let a = ((from * RATE as f64) as usize).min(rec.len());
    let b = ((to * RATE as f64) as usize).min(rec.len()).max(a);
    &rec[a..b]
}

fn mute(muted: bool) -> MemberControl {
    MemberControl {
        muted: Some(muted),
        ..MemberControl::default()
    }
}

async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_a_talker_takes_it_out_of_the_mix_and_unmuting_brings_it_back() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "mute", "a440", Some(440.0), 9));
    let b = dial(caller(&server, "mute", "b880", Some(880.0), 9));
    let c = dial(caller(&server, "mute", "listener", None, 9));
    let operator = async {
        let (start, ids) = joined(&server, "mute", 3).await;
        let a = id_of(&ids, "a440");
        let ctl = server.control();
        sleep_until(start + Duration::from_millis(2000)).await;
        ctl.control_member("mute", a, mute(true))
            .await
            .expect("mute");
        let room = ctl.room("mute").await.expect("room");
        assert!(
            room.members.iter().any(|m| m.id == a && m.muted),
            "snapshot says muted"
        );
        sleep_until(start + Duration::from_millis(4500)).await;
        ctl.control_member("mute", a, mute(false))
            .await
            .expect("unmute");
        start
    };
    let (a, b, c, _start) = tokio::join!(a, b, c, operator);
    let (_, _, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    let before = window(&c, 0.8, 2.0);
    let muted = window(&c, 2.6, 4.4);
    let after = window(&c, 5.3, 7.0);
    assert!(
        tone_ratio(before, 440.0, 48_000) > 0.2,
        "440 heard before the mute"
    );
    assert!(
        tone_ratio(muted, 440.0, 48_000) < 0.02,
        "440 gone while muted: {:.3}",
        tone_ratio(muted, 440.0, 48_000)
    );
    assert!(
        tone_ratio(muted, 880.0, 48_000) > 0.5,
        "880 still heard while A is muted"
    );
    assert!(
        tone_ratio(after, 440.0, 48_000) > 0.2,
        "440 back after unmute: {:.3}",
        tone_ratio(after, 440.0, 48_000)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_member_hears_silence_while_the_others_hear_each_other() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "deaf", "a440", Some(440.0), 7));
    let b = dial(caller(&server, "deaf", "b880", Some(880.0), 7));
    let operator = async {
        let (start, ids) = joined(&server, "deaf", 2).await;
        sleep_until(start + Duration::from_millis(2000)).await;
        let b = id_of(&ids, "b880");
        let deaf = MemberControl {
            deaf: Some(true),
            ..MemberControl::default()
        };
        server
            .control()
            .control_member("deaf", b, deaf)
            .await
            .expect("deafen");
    };
    let (a, b, ()) = tokio::join!(a, b, operator);
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert!(
        tone_level_dbfs(window(&b, 0.8, 1.8), 440.0, 48_000) > -30.0,
        "B heard A before"
    );
    let deaf = window(&b, 2.6, 6.0);
    let level = tone_level_dbfs(deaf, 440.0, 48_000);
    assert!(
        level < -60.0,
        "B hears nothing of A while deaf: {level:.1} dBFS"
    );
    let peak = deaf.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak < 300, "silence, peak {peak}");
    assert!(
        b.rx_packets > 250,
        "B kept receiving a stream: {}",
        b.rx_packets
    );
    assert!(
        tone_ratio(window(&a, 2.6, 6.0), 880.0, 48_000) > 0.5,
        "A still hears the deaf member"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_member_gets_bye_and_unknown_targets_are_refused() {
    let server = start(test_config()).await;
    let a = dial(caller(&server, "kick", "victim", Some(440.0), 10));
    let b = dial(caller(&server, "kick", "stays", None, 6));
    let operator = async {
        let (_, ids) = joined(&server, "kick", 2).await;
        let victim = id_of(&ids, "victim");
        let ctl = server.control();
        assert_eq!(
            ctl.kick("nosuchroom", victim).await,
            Err(ControlError::UnknownRoom("nosuchroom".into()))
        );
        assert_eq!(
            ctl.control_member("kick", 999_999, mute(true)).await,
            Err(ControlError::UnknownMember {
                room: "kick".into(),
                member: 999_999
            })
        );
        ctl.kick("kick", victim).await.expect("kick");
        let gone = eventually(Duration::from_secs(10), || async {
            ctl.room("kick")
                .await
                .is_some_and(|r| r.members.iter().all(|m| m.id != victim))
        })
        .await;
        assert!(gone, "the kicked member left the room");
        assert_eq!(
            ctl.kick("kick", victim).await,
            Err(ControlError::UnknownMember {
                room: "kick".into(),
                member: victim
            }),
            "kicked once"
        );
    };
    let (a, b, ()) = tokio::join!(a, b, operator);
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(
        a.ended_by.as_deref(),
        Some("remote BYE"),
        "the victim got a BYE"
    );
    assert!(a.duration_s < 8.0, "ended early: {:.1} s", a.duration_s);
    assert!(
        b.answered && b.ended_by.is_none(),
        "the other member stayed"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_muted_member_shows_its_placeholder_not_its_picture() {
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    let server = start(config).await;
    const RED: (u8, u8, u8) = (230, 20, 20);
    const BLUE: (u8, u8, u8) = (20, 20, 230);
    let coloured = |name: &str, colour| {
        let mut o = caller(&server, "vmute", name, None, 7);
        o.color = Some(colour);
        o.video_size = (160, 90);
        o
    };
    let operator = async {
        let (start, ids) = joined(&server, "vmute", 2).await;
        let red = id_of(&ids, "red");
        sleep_until(start + Duration::from_millis(1500)).await;
        let change = MemberControl {
            video_muted: Some(true),
            ..MemberControl::default()
        };
        server
            .control()
            .control_member("vmute", red, change)
            .await
            .expect("video mute");
        // Tile rectangles of the canvas, once composed with both.
        let end = Instant::now() + Duration::from_secs(10);
        let tiles: Vec<(MemberId, (i32, i32, u32, u32))> = loop {
            let room = server.control().room("vmute").await.expect("room");
            let tiles: Vec<_> = room.canvases[0]
                .tiles
                .iter()
                .map(|t| (t.member, (t.x, t.y, t.w, t.h)))
                .collect();
            if tiles.len() == 2 || Instant::now() > end {
                break tiles;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let placed = tiles.len() == 2;
        assert!(placed, "both on the canvas");
        (ids, tiles)
    };
    let (red, blue, (ids, tiles)) = tokio::join!(
        dial(coloured("red", RED)),
        dial(coloured("blue", BLUE)),
        operator
    );
    let (_red, blue) = (red.expect("red"), blue.expect("blue"));
    let frame = blue.last_frame.as_ref().expect("blue received the canvas");
    let tile_of = |name: &str| {
        let id = id_of(&ids, name);
        tiles
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, r)| *r)
            .expect("tile")
    };
    assert!(
        !tile_has(frame, tile_of("red"), RED),
        "the video-muted member's tile shows no picture"
    );
    assert!(
        tile_has(frame, tile_of("blue"), BLUE),
        "the other tile is untouched"
    );
    server.shutdown().await;
}
