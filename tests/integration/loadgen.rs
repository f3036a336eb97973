//! `tessera loadgen` against an in-process server: every member joins and receives media (as
//! many packets as the clock says it is owed), talkers are heard by probes timed at arrival,
//! `--rooms` spreads members over numbered rooms, `--listener-sound` reaches the server at its
//! level, video senders' pictures reach the watchers as a composed canvas (watchers take no tile), and non-loopback
//! targets are refused before any packet.

use crate::common;

use common::*;
use std::time::Duration;
use tessera::loadgen::{run, ListenerSound, LoadError, LoadOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_join_and_receive_media() {
    let server = start(test_config()).await;
    let mut options = LoadOptions::new(uri(&server, "load"), 5);
    options.talkers = 1;
    options.duration = Duration::from_secs(4);
    options.ramp_per_sec = 20.0;
    let report = run(options).await.expect("load runs");
    assert_eq!(report.joined, 5, "{report:?}");
    assert_eq!(report.failed, 0);
    assert_eq!(
        report.silent_members, 0,
        "every member received RTP: {report:?}"
    );
    assert!(report.rx_packets > 5 * 100, "{report:?}");
    assert!(report.loss_pct < 1.0, "{report:?}");
    assert!(
        report.latency_samples >= 1,
        "probes heard the talker's bursts: {report:?}"
    );
    assert!(
        report.latency_ms_p50 > 0.0 && report.latency_ms_p50 < 500.0,
        "{report:?}"
    );
    assert!(
        report.latency_ms_p99 >= report.latency_ms_p50 && report.latency_ms_p99 < 500.0,
        "{report:?}"
    );
    assert_eq!(report.latency_resolution_ms, 1.0);
    // The clock owes each member about 50 packets a second of its call (the run is 4 s, the
    // calls join over the first 0.25 s); a server that keeps up leaves few missing.
    assert!(
        report.expected_by_clock > 5 * 150 && report.expected_by_clock <= 5 * 200,
        "{report:?}"
    );
    assert!(
        report.missing_pct < 10.0 && report.missing_per_member_max_pct < 20.0,
        "{report:?}"
    );
    assert!(report.missing_pct <= report.missing_per_member_max_pct);
    assert_eq!(report.listener_sound, "silence");
    let ctl = server.control();
    assert!(
        eventually(Duration::from_secs(10), || async {
            ctl.room_ids().await.is_empty()
        })
        .await
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_spread_over_numbered_rooms_with_a_talker_in_each() {
    let server = start(test_config()).await;
    let mut options = LoadOptions::new(uri(&server, "7100"), 9);
    options.rooms = 3;
    options.talkers = 1;
    options.latency_probes = 6;
    options.duration = Duration::from_secs(4);
    options.ramp_per_sec = 30.0;
    let observe = async {
        let ctl = server.control();
        let spread = eventually(Duration::from_secs(10), || async {
            let mut rooms = Vec::new();
            for id in ["7100", "7101", "7102"] {
                rooms.push(ctl.room(id).await.map(|r| r.members.len()));
            }
            rooms == [Some(3), Some(3), Some(3)]
        })
        .await;
        (spread, ctl.room_ids().await.len())
    };
    let (report, (spread, rooms)) = tokio::join!(run(options), observe);
    let report = report.expect("load runs");
    assert!(spread, "three members in each of 7100, 7101, 7102");
    assert_eq!(rooms, 3, "and no other room");
    assert_eq!((report.joined, report.rooms), (9, 3), "{report:?}");
    assert_eq!(report.silent_members, 0, "{report:?}");
    // Each room's talker is heard by the probes in that room.
    assert!(report.latency_samples >= 3, "{report:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_noise_reaches_the_server_at_its_level() {
    let server = start(test_config()).await;
    let mut options = LoadOptions::new(uri(&server, "loadnoise"), 4);
    options.talkers = 1;
    options.listener_sound = ListenerSound::Noise { level_dbfs: -24.0 };
    options.duration = Duration::from_secs(4);
    options.ramp_per_sec = 20.0;
    let observe = async {
        let ctl = server.control();
        let end = std::time::Instant::now() + Duration::from_secs(4);
        let mut levels = Vec::new();
        while std::time::Instant::now() < end {
            if let Some(room) = ctl.room("loadnoise").await {
                // Every listener (all but load0, the talker) at about -24 dBFS as the server
                // decodes it (Opus carries white noise up to its bandwidth: ~2 dB less).
                levels = room
                    .members
                    .iter()
                    .filter(|m| m.name != "load0")
                    .map(|m| m.level_dbov)
                    .collect::<Vec<f32>>();
                if levels.len() == 3 && levels.iter().all(|l| (-32.0..=-18.0).contains(l)) {
                    return (true, levels);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (false, levels)
    };
    let (report, (heard, levels)) = tokio::join!(run(options), observe);
    let report = report.expect("load runs");
    assert!(
        heard,
        "listeners' levels as the server hears them: {levels:?}"
    );
    assert_eq!(report.joined, 4, "{report:?}");
    assert_eq!(report.listener_sound, "noise -24");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_senders_reach_watchers_through_one_canvas() {
    let server = start(test_config()).await;
    let mut options = LoadOptions::new(uri(&server, "loadvideo"), 4);
    options.talkers = 1;
    options.video_members = 2;
    options.video_watchers = 1;
    options.video_send_only = true;
    options.video_size = (320, 180);
    options.video_fps = 15.0;
    options.duration = Duration::from_secs(6);
    options.ramp_per_sec = 20.0;
    let load = tokio::spawn(run(options));
    // The watcher asked for no tile: the canvas shows the two senders and the audio-only
    // member's card, never the watcher (load2).
    let tiles = || async {
        let room = server.control().room("loadvideo").await?;
        let name = |id| {
            room.members
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.name.clone())
        };
        let mut tiles: Vec<String> = room.canvases[0]
            .tiles
            .iter()
            .filter_map(|t| name(t.member))
            .collect();
        tiles.sort();
        (room.members.len() == 4).then_some(tiles)
    };
    let placed = eventually(Duration::from_secs(20), || async {
        tiles().await.is_some_and(|t| t.len() == 3)
    })
    .await;
    let tiles = tiles().await;
    assert!(placed, "three tiles for four members: {tiles:?}");
    assert_eq!(tiles.unwrap_or_default(), ["load0", "load1", "load3"]);
    let report = load.await.expect("load task").expect("load runs");
    assert_eq!(report.joined, 4, "{report:?}");
    assert_eq!(
        report.video_joined, 3,
        "senders and watcher negotiated video: {report:?}"
    );
    assert!(report.video_tx_frames >= 2 * 30, "{report:?}");
    assert_eq!(report.video_blind_watchers, 0, "{report:?}");
    // The watcher receives the canvas (starting with a keyframe) at a steady rate.
    assert!(report.video_rx_frames >= 20, "{report:?}");
    assert!(report.video_rx_keyframes >= 1, "{report:?}");
    assert!(report.video_rx_fps > 5.0, "{report:?}");
    // Its wait for the first picture it can decode is measured (a loaded CI machine may
    // take seconds; the goal, < 300 ms, is a benchmark's).
    assert!(
        report.video_first_keyframe_ms_p50 > 0.0
            && report.video_first_keyframe_ms_max >= report.video_first_keyframe_ms_p50
            && report.video_first_keyframe_ms_max < 10_000.0,
        "{report:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn non_loopback_targets_and_unbounded_runs_are_refused() {
    let far = LoadOptions::new("sip:3000@192.0.2.1:5060", 5);
    assert!(matches!(run(far).await, Err(LoadError::NotLoopback(_))));
    let mut huge = LoadOptions::new("sip:3000@127.0.0.1:5060", 100_000);
    assert!(matches!(run(huge.clone()).await, Err(LoadError::Limits(_))));
    huge.members = 1;
    huge.duration = Duration::from_secs(100_000);
    assert!(matches!(run(huge).await, Err(LoadError::Limits(_))));
}
