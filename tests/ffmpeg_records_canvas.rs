//! A third-party decoder that honours RTP timing records a room: `ffmpeg` reads an SDP for
//! the canvas stream (as a user recording or monitoring a room would), decodes five seconds of
//! stream time in about five seconds of real time, and its last frame shows the members'
//! colours. Video timestamps that ran away once made it stop after the first frame.

mod common;

use common::media_peer::*;
use common::*;
use std::net::UdpSocket as StdUdpSocket;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

const RED: (u8, u8, u8) = (230, 20, 20);
const BLUE: (u8, u8, u8) = (20, 20, 230);
/// Stream time ffmpeg records.
const RECORD_SECS: f64 = 5.0;
const FPS: f64 = 15.0;

fn coloured(server: &ServerHandle, name: &str, colour: (u8, u8, u8)) -> DialOptions {
    let mut o = DialOptions::new(uri(server, "rec"));
    o.from = name.to_string();
    o.color = Some(colour);
    o.video_size = (160, 90);
    o.duration = Duration::from_secs(14);
    o
}

/// An even port whose odd neighbour is free too (ffmpeg binds both: RTP and RTCP).
fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let probe = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        if port < 1024 || port == u16::MAX - 1 {
            continue;
        }
        let rtp = StdUdpSocket::bind(("127.0.0.1", port));
        let rtcp = StdUdpSocket::bind(("127.0.0.1", port + 1));
        if rtp.is_ok() && rtcp.is_ok() {
            return port;
        }
    }
    panic!("no free UDP port pair on loopback");
}

fn ffmpeg_available() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What ffmpeg made of the stream.
struct Recording {
    /// Presentation times (seconds) of the frames it decoded.
    pts: Vec<f64>,
    /// How long it ran once the call was answered.
    took: Duration,
    last_frame: image::RgbImage,
    log: String,
}

/// Starts ffmpeg on `port`, places a watch-only call whose video goes there, and waits for
/// ffmpeg to finish its [`RECORD_SECS`] of stream time.
async fn record_with_ffmpeg(server: &ServerHandle) -> Recording {
    let port = free_port_pair();
    let dir = std::env::temp_dir().join(format!("tessera-ffmpeg-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sdp = dir.join("canvas.sdp");
    let png: PathBuf = dir.join("last.png");
    std::fs::write(
        &sdp,
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=canvas\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=video {port} RTP/AVP {H264_PT}\r\na=rtpmap:{H264_PT} H264/90000\r\n\
a=fmtp:{H264_PT} packetization-mode=1;profile-level-id=42e01f\r\n"
        ),
    )
    .expect("write sdp");
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-y", "-loglevel", "info"])
        .args(["-protocol_whitelist", "file,udp,rtp", "-t"])
        .arg(RECORD_SECS.to_string())
        .arg("-i")
        .arg(&sdp)
        .args([
            "-an",
            "-vf",
            "showinfo",
            "-fps_mode",
            "passthrough",
            "-update",
            "1",
        ])
        .arg(&png)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg starts");
    // ffmpeg is ready once it holds the port.
    let bound = eventually(Duration::from_secs(20), || async {
        StdUdpSocket::bind(("127.0.0.1", port)).is_err()
    })
    .await;
    assert!(bound, "ffmpeg bound its RTP port");
    let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let video = format!("127.0.0.1:{port}").parse().unwrap();
    let call = ProbeCall::place(
        server.sip_addr(),
        &uri(server, "rec"),
        "ffmpeg-recorder",
        "X-Tessera-Canvas: 0\r\n",
        &av_offer(audio.local_addr().unwrap(), video, 1, "recvonly", false),
    )
    .await;
    let answered = Instant::now();
    let mut stderr = ffmpeg.stderr.take().expect("stderr");
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let status = tokio::time::timeout(Duration::from_secs(60), ffmpeg.wait())
        .await
        .expect("ffmpeg finishes within 60 s")
        .expect("ffmpeg ran");
    let took = answered.elapsed();
    call.hang_up().await;
    let log = log.await.unwrap();
    assert!(status.success(), "ffmpeg failed: {log}");
    let pts = log
        .lines()
        .filter(|l| l.contains("Parsed_showinfo") && l.contains(" n:"))
        .filter_map(|l| {
            l.split("pts_time:")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let last_frame = image::open(&png)
        .unwrap_or_else(|e| panic!("ffmpeg wrote its last frame: {e}\n{log}"))
        .to_rgb8();
    let _ = std::fs::remove_dir_all(&dir);
    Recording {
        pts,
        took,
        last_frame,
        log,
    }
}

fn share_of(frame: &image::RgbImage, colour: (u8, u8, u8)) -> f64 {
    let close = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() < 70;
    let hits = frame
        .pixels()
        .filter(|p| close(p[0], colour.0) && close(p[1], colour.1) && close(p[2], colour.2))
        .count();
    hits as f64 / f64::from(frame.width() * frame.height())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_records_seconds_of_the_canvas_with_every_colour() {
    assert!(
        ffmpeg_available(),
        "this test needs ffmpeg (scripts/install-deps --test installs it)"
    );
    let mut config = test_config();
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = FPS as f32;
    let server = start(config).await;
    let recorder = async {
        let joined = eventually(Duration::from_secs(20), || async {
            server
                .control()
                .room("rec")
                .await
                .is_some_and(|r| r.members.len() >= 2)
        })
        .await;
        assert!(joined, "both coloured members joined");
        record_with_ffmpeg(&server).await
    };
    let (red, blue, rec): (DialReport, DialReport, Recording) = tokio::join!(
        async { dial(coloured(&server, "red", RED)).await.expect("dial") },
        async { dial(coloured(&server, "blue", BLUE)).await.expect("dial") },
        recorder
    );
    assert!(red.answered && blue.answered);
    let frames = rec.pts.len();
    let last_pts = rec.pts.iter().copied().fold(0.0, f64::max);
    assert!(
        frames as f64 >= RECORD_SECS * FPS * 0.5,
        "ffmpeg decoded {frames} frames in {RECORD_SECS} s of stream time\n{}",
        rec.log
    );
    assert!(
        last_pts > RECORD_SECS - 1.0 && last_pts <= RECORD_SECS + 0.5,
        "last frame at {last_pts:.3} s of stream time"
    );
    assert!(
        rec.took >= Duration::from_secs_f64(RECORD_SECS - 1.0),
        "{RECORD_SECS} s of stream time took {:?} of real time",
        rec.took
    );
    let gaps = rec.pts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(gaps < 0.5, "largest gap between frames {gaps:.3} s");
    let (red_share, blue_share) = (
        share_of(&rec.last_frame, RED),
        share_of(&rec.last_frame, BLUE),
    );
    assert!(
        red_share > 0.1 && blue_share > 0.1,
        "both members on the recorded canvas: red {red_share:.2}, blue {blue_share:.2}"
    );
    server.shutdown().await;
}
