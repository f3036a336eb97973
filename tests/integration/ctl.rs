//! `tessera ctl` (the real binary) driving a real server with a real call in it: tables and
//! `--json` for rooms and members, mute/unmute (one member and `all`), deaf, canvas, lock,
//! PIN, create/delete, kick, the event stream as lines, and clear failures (unknown room,
//! no server, missing token) with a non-zero exit.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tessera::dial::{dial, DialOptions};

/// Runs `tessera ctl ARGS` against `api`; returns (success, stdout, stderr).
fn ctl(api: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("ctl")
        .args(["--api", api])
        .args(args)
        .env_remove("TESSERA_API_TOKEN")
        .output()
        .expect("run tessera ctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(api: &str, args: &[&str]) -> String {
    let (success, stdout, stderr) = ctl(api, args);
    assert!(success, "ctl {args:?} failed: {stderr}");
    stdout
}

fn ok_json(api: &str, args: &[&str]) -> Value {
    let mut with = args.to_vec();
    with.push("--json");
    let text = ok(api, &with);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("ctl {args:?} --json ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_drives_a_real_server() {
    let server = start(test_config()).await;
    let api = format!("http://{}", server.api_addr());
    // Events, followed by a child process for the whole test.
    let mut events = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["ctl", "events", "ctlroom", "--api", &api])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ctl events");
    let lines = BufReader::new(events.stdout.take().expect("stdout"));
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(30), line_rx.recv())
        .await
        .expect("a first line")
        .expect("the stream");
    assert!(
        first.contains("snapshot") && first.contains("0 room(s)"),
        "{first}"
    );
    let mut o = DialOptions::new(uri(&server, "ctlroom"));
    o.from = "carol".to_string();
    o.tone_hz = Some(440.0);
    o.duration = Duration::from_secs(20);
    let call = dial(o);
    let api2 = api.clone();
    let operate = async move {
        wait_members(&server, "ctlroom", 1).await;
        let api = api2.as_str();
        tokio::task::spawn_blocking({
            let api = api.to_string();
            move || drive(&api)
        })
        .await
        .expect("ctl steps");
        server
    };
    let (report, server) = tokio::join!(call, operate);
    let report = report.expect("call");
    assert_eq!(
        report.ended_by.as_deref(),
        Some("remote BYE"),
        "kicked by ctl"
    );
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.iter().any(|l: &String| l.contains("member-left")) {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, line_rx.recv()).await {
            Ok(Some(line)) => seen.push(line),
            _ => break,
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("member-joined") && l.contains("carol")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("member-updated") && l.contains("\"muted\":true")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("member-left") && l.contains("(kicked)")),
        "{seen:?}"
    );
    server.shutdown().await;
    let status = events.wait().expect("ctl events ends with the server");
    assert!(
        status.success(),
        "events exits cleanly when the server stops"
    );
}

/// The blocking half: every subcommand against the running server.
fn drive(api: &str) {
    let rooms = ok(api, &["rooms"]);
    assert!(rooms.starts_with("ROOM"), "a table: {rooms}");
    assert!(rooms.contains("ctlroom"), "{rooms}");
    let listed = ok_json(api, &["--json", "rooms"]);
    assert_eq!(listed[0]["room"], "ctlroom", "--json before the subcommand");
    let room = ok(api, &["room", "ctlroom"]);
    assert!(room.contains("ctlroom"));
    let members = ok(api, &["members", "ctlroom"]);
    assert!(
        members.contains("carol") && members.contains("NAME"),
        "{members}"
    );
    let members = ok_json(api, &["members", "ctlroom"]);
    let id = members[0]["id"].as_u64().expect("id").to_string();
    assert_eq!(ok_json(api, &["mute", "ctlroom", &id])["muted"], true);
    assert_eq!(ok_json(api, &["unmute", "ctlroom", &id])["muted"], false);
    let all = ok(api, &["mute", "ctlroom", "all"]);
    assert!(all.contains("1 member(s) muted"), "{all}");
    assert_eq!(ok_json(api, &["deaf", "ctlroom", &id])["deaf"], true);
    assert_eq!(ok_json(api, &["undeaf", "ctlroom", &id])["deaf"], false);
    assert_eq!(
        ok_json(api, &["banner", "ctlroom", &id, "Front desk"])["banner"],
        "Front desk"
    );
    assert_eq!(
        ok_json(api, &["banner", "ctlroom", &id, "none"])["banner"],
        Value::Null
    );
    let louder = ok_json(api, &["volume", "ctlroom", &id, "--in", "-6", "--out", "3"]);
    assert_eq!(
        (&louder["volume_in"], &louder["volume_out"]),
        (&json!(-6), &json!(3))
    );
    assert_eq!(
        ok_json(api, &["role", "ctlroom", &id, "moderator"])["role"],
        "moderator"
    );
    let spared = ok(api, &["mute", "ctlroom", "all"]);
    assert!(
        spared.contains("0 member(s) muted"),
        "a moderator is spared: {spared}"
    );
    assert_eq!(ok_json(api, &["slot", "ctlroom", &id, "2"])["slot"], 2);
    assert_eq!(
        ok_json(api, &["slot", "ctlroom", &id, "none"])["slot"],
        Value::Null
    );
    let leg = ok_json(api, &["cascade", "ctlroom", "sip:ctlroom@127.0.0.1:9"]);
    assert_eq!(
        (&leg["state"], &leg["direction"]),
        (&json!("connecting"), &json!("out"))
    );
    let legs = ok(api, &["cascades", "ctlroom"]);
    assert!(legs.contains("sip:ctlroom@127.0.0.1:9"), "{legs}");
    let leg_id = leg["id"].as_str().expect("leg id");
    assert!(ok(api, &["uncascade", "ctlroom", leg_id]).contains("ended"));
    let (success, _, stderr) = ctl(api, &["uncascade", "ctlroom", leg_id]);
    assert!(!success && stderr.contains("404"), "{stderr}");
    let moved = ok_json(api, &["canvas", "ctlroom", &id, "--canvas", "0"]);
    assert_eq!(moved["canvas"], Value::Null, "on no canvas");
    assert_eq!(ok_json(api, &["lock", "ctlroom"])["locked"], true);
    assert_eq!(ok_json(api, &["unlock", "ctlroom"])["locked"], false);
    assert_eq!(
        ok_json(api, &["pin", "ctlroom", "4321"])["pin_required"],
        true
    );
    assert_eq!(
        ok_json(api, &["pin", "ctlroom", "none"])["pin_required"],
        false
    );
    assert_eq!(
        ok_json(api, &["create", "later", "--max-members", "3"])["max_members"],
        3
    );
    assert!(ok(api, &["delete", "later"]).contains("deleted"));
    // Failures: the API's message, a non-zero exit.
    let (success, _, stderr) = ctl(api, &["members", "nosuchroom"]);
    assert!(
        !success && stderr.contains("no room nosuchroom") && stderr.contains("404"),
        "{stderr}"
    );
    let (success, _, stderr) = ctl(api, &["mute", "ctlroom", "someone"]);
    assert!(
        !success && stderr.contains("neither a member id nor `all`"),
        "{stderr}"
    );
    let (success, _, stderr) = ctl("http://127.0.0.1:9", &["rooms"]);
    assert!(!success && stderr.contains("cannot reach"), "{stderr}");
    let layout = ok(api, &["layout", "ctlroom", "1", "1x1"]);
    assert!(layout.contains("layout 1x1"), "{layout}");
    let held = ok(api, &["floor", "ctlroom", "1", &id]);
    assert!(held.contains(&format!("floor {id} (held)")), "{held}");
    let auto = ok_json(api, &["floor", "ctlroom", "1", "auto"]);
    assert_eq!(auto["floor_forced"], false);
    let png = std::env::temp_dir().join(format!("tessera-ctl-{}.png", std::process::id()));
    let saved = ok(api, &["snapshot", "ctlroom", "1", png.to_str().unwrap()]);
    assert!(saved.contains("saved"), "{saved}");
    let picture = image::open(&png).expect("a PNG file");
    assert_eq!((picture.width(), picture.height()), (1280, 720));
    let _ = std::fs::remove_file(&png);
    let dialling = ok(
        api,
        &[
            "dial",
            "ctlroom",
            "sip:nobody@127.0.0.1:9",
            "--timeout",
            "1",
        ],
    );
    assert!(dialling.starts_with("dialling: dial-"), "{dialling}");
    let dial_id = dialling.trim().trim_start_matches("dialling: ").to_string();
    assert!(ok(api, &["undial", &dial_id]).contains("cancelled"));
    assert!(ok(api, &["kick", "ctlroom", &id]).contains("kicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_says_when_the_token_is_missing() {
    let mut config = test_config();
    config.api.token = Some("ctl-token".to_string());
    let server = start(config).await;
    let api = format!("http://{}", server.api_addr());
    let (success, _, stderr) = ctl(&api, &["rooms"]);
    assert!(
        !success && stderr.contains("401") && stderr.contains("--token"),
        "{stderr}"
    );
    let out = ok(&api, &["rooms", "--token", "ctl-token"]);
    assert!(out.starts_with("ROOM"), "{out}");
    server.shutdown().await;
}
