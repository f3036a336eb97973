//! The `tessera dial` command as users run it: JSON line, WAV file, exit codes.

use crate::common;

use common::*;
use std::process::Stdio;
use tokio::process::Command;

fn tessera() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_prints_json_and_records_wav() {
    let server = start(test_config()).await;
    let dir = std::env::temp_dir().join(format!("tessera-dial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("rx.wav");
    let talker = tessera()
        .args([
            "dial",
            &uri(&server, "cli"),
            "--tone",
            "660",
            "--duration",
            "4",
            "--from",
            "talker",
        ])
        .output();
    let listener = tessera()
        .args([
            "dial",
            &uri(&server, "cli"),
            "--duration",
            "4",
            "--codec",
            "pcma",
            "--transport",
            "tcp",
            "--header",
            "X-Tessera-Canvas: 1",
            "--record-wav",
        ])
        .arg(&wav)
        .output();
    let (talker, listener) = tokio::join!(talker, listener);
    let (talker, listener) = (talker.unwrap(), listener.unwrap());
    assert!(
        talker.status.success(),
        "{}",
        String::from_utf8_lossy(&talker.stderr)
    );
    assert!(
        listener.status.success(),
        "{}",
        String::from_utf8_lossy(&listener.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&listener.stdout).expect("one JSON line");
    assert_eq!(line["answered"], true);
    assert_eq!(line["status"], 200);
    assert_eq!(line["codec"], "PCMA");
    assert!(line["rx_packets"].as_u64().unwrap() > 100);
    assert!(line["tx_packets"].as_u64().unwrap() > 100);
    assert!(line["duration_s"].as_f64().unwrap() >= 3.9);
    let mut reader = hound::WavReader::open(&wav).expect("WAV written");
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (48_000, 1, 16)
    );
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let ratio = tessera::media::audio::tone::tone_ratio(
        &samples[48_000..samples.len() - 24_000],
        660.0,
        48_000,
    );
    assert!(ratio > 0.5, "recorded the talker's tone: {ratio:.3}");
    let _ = std::fs::remove_dir_all(&dir);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_exits_non_zero_when_not_answered() {
    let server = start(test_config()).await;
    let bad_room = "x".repeat(65);
    let out = tessera()
        .args(["dial", &uri(&server, &bad_room), "--duration", "1"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON line");
    assert_eq!(line["answered"], false);
    assert_eq!(line["status"], 404);
    let bad_target = tessera()
        .args(["dial", "not a uri"])
        .output()
        .await
        .unwrap();
    assert!(!bad_target.status.success());
    server.shutdown().await;
}
