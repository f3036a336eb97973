//! A third-party Opus decoder listens to a room: `ffmpeg` (its own Opus decoder, not libopus)
//! reads an SDP for the audio a listener is sent, through a relay in the test. The listener is
//! first alone (it is sent ready-made silent frames), then one member talks (it is sent that
//! member's own packets, forwarded): ffmpeg decodes all of it without an error, hears silence
//! first and the talker's tone after.

use crate::common;

use common::api::Api;
use common::ffmpeg_receiver::{FfmpegReceiver, FfmpegRun};
use common::media_peer::*;
use common::*;
use std::ffi::OsStr;
use std::time::Duration;
use tessera::dial::{dial, DialOptions};
use tessera::media::audio::tone::tone_ratio;

/// Stream time ffmpeg records.
const RECORD_SECS: u32 = 7;
const RATE: f64 = 48_000.0;

/// A counter of the server's metrics text.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_decodes_ready_made_silence_and_a_forwarded_voice() {
    assert!(
        tool_available("ffmpeg", "-version"),
        "this test needs ffmpeg (scripts/install-deps --test installs it)"
    );
    let server = start(test_config()).await;
    let port = free_port_pair();
    let dir = std::env::temp_dir().join(format!(
        "tessera-ffmpeg-audio-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sdp = dir.join("audio.sdp");
    let raw = dir.join("heard.raw");
    std::fs::write(
        &sdp,
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=room\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio {port} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        ),
    )
    .expect("write sdp");
    let mut ffmpeg = FfmpegReceiver::start(
        &sdp,
        port,
        f64::from(RECORD_SECS),
        [
            OsStr::new("-ac"),
            "1".as_ref(),
            "-ar".as_ref(),
            "48000".as_ref(),
        ]
        .into_iter()
        .chain([OsStr::new("-f"), "s16le".as_ref(), raw.as_os_str()]),
    )
    .await;
    let call = ffmpeg
        .call(
            server.sip_addr(),
            &uri(&server, "ears"),
            "ffmpeg-listener",
            "",
            &sdp_offer(ffmpeg.relay_addr()),
            "audio",
        )
        .await;
    // Alone for two seconds: silence. Then a talker: its packets, forwarded.
    let mut talker = DialOptions::new(uri(&server, "ears"));
    talker.from = "talker".into();
    talker.tone_hz = Some(440.0);
    talker.duration = Duration::from_secs(6);
    let talking = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        dial(talker).await
    };
    let recorded = async {
        ffmpeg.wait().await;
        Api::new(&server).get("/metrics").await.body
    };
    let (talker, metrics) = tokio::join!(talking, recorded);
    call.hang_up().await;
    let FfmpegRun {
        status,
        log,
        relayed,
    } = ffmpeg.finish().await;
    assert!(talker.expect("dial").answered);
    assert!(status.success(), "ffmpeg failed: {log}");
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("rror") || l.contains("nvalid"))
        .collect();
    assert!(
        complaints.is_empty(),
        "ffmpeg decoded every packet: {complaints:?}"
    );
    let bytes = std::fs::read(&raw).expect("ffmpeg wrote what it heard");
    let _ = std::fs::remove_dir_all(&dir);
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(
        samples.len() as f64 > 0.9 * f64::from(RECORD_SECS) * RATE,
        "{} s recorded of {RECORD_SECS}",
        samples.len() as f64 / RATE
    );
    assert!(relayed.len() > 250, "{} packets relayed", relayed.len());
    let at = |from: f64, to: f64| &samples[(from * RATE) as usize..(to * RATE) as usize];
    let alone = at(0.2, 1.6);
    let peak = alone.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak < 64, "silence while alone (peak {peak})");
    let heard = steadily_heard(at(3.5, 6.5), 440.0);
    assert!(heard > 0.5, "the forwarded talker is heard: {heard:.3}");
    assert!(tone_ratio(alone, 440.0, 48_000) < 0.02);
    assert!(
        counter(&metrics, "tessera_audio_mixes_total{how=\"forwarded\"}") >= 50.0,
        "forwarded mixes counted:\n{metrics}"
    );
    assert!(
        counter(&metrics, "tessera_audio_mixes_total{how=\"silence\"}") >= 50.0,
        "silent mixes counted:\n{metrics}"
    );
    server.shutdown().await;
}
