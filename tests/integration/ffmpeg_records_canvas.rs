//! A third-party decoder that honours RTP timing records a room: `ffmpeg` reads an SDP for
//! the canvas stream (as a user recording or monitoring a room would), decodes five seconds of
//! stream time in about five seconds of real time, and its last frame shows the members'
//! colours. Video timestamps that ran away once made it stop after the first frame.
//!
//! The call's video goes to a relay in the test that forwards RTP to ffmpeg and notes each
//! packet's payload structure: a peer that offered only packetization-mode=0 (RFC 6184 §6.2)
//! receives single NAL unit packets within the MTU, never STAP-A or FU-A, and ffmpeg still
//! decodes them.

use crate::common;

use common::ffmpeg_receiver::{FfmpegReceiver, FfmpegRun};
use common::media_peer::*;
use common::*;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

const RED: (u8, u8, u8) = (230, 20, 20);
const BLUE: (u8, u8, u8) = (20, 20, 230);
/// Stream time ffmpeg records.
const RECORD_SECS: f64 = 5.0;
const FPS: f64 = 15.0;

/// What ffmpeg made of the stream, and what the relay saw of it.
struct Recording {
    /// NAL type (first payload byte & 0x1f) and size of every RTP payload relayed.
    payloads: Vec<(u8, usize)>,
    /// Presentation times (seconds) of the frames it decoded.
    pts: Vec<f64>,
    /// How long it ran once the call was answered.
    took: Duration,
    last_frame: image::RgbImage,
    log: String,
}

/// Starts ffmpeg, places a watch-only call (`packetization_mode`) whose video the relay
/// forwards to it, and waits for ffmpeg to finish its [`RECORD_SECS`] of stream time.
async fn record_with_ffmpeg(
    server: &ServerHandle,
    room: &str,
    packetization_mode: u8,
) -> Recording {
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
a=fmtp:{H264_PT} packetization-mode={packetization_mode};profile-level-id=42e01f\r\n"
        ),
    )
    .expect("write sdp");
    let mut ffmpeg = FfmpegReceiver::start(
        &sdp,
        port,
        RECORD_SECS,
        [OsStr::new("-an"), "-vf".as_ref(), "showinfo".as_ref()]
            .into_iter()
            .chain(["-fps_mode", "passthrough", "-update", "1"].map(OsStr::new))
            .chain([png.as_os_str()]),
    )
    .await;
    let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = AvOffer {
        packetization_mode,
        ..AvOffer::watching(audio.local_addr().unwrap(), ffmpeg.relay_addr())
    };
    let call = ffmpeg
        .call(
            server.sip_addr(),
            &uri(server, room),
            &format!("ffmpeg-recorder-{room}"),
            "X-Tessera-Canvas: 0\r\n",
            &offer.sdp(),
            "video",
        )
        .await;
    let answered = Instant::now();
    ffmpeg.wait().await;
    let took = answered.elapsed();
    call.hang_up().await;
    let FfmpegRun {
        status,
        log,
        relayed: payloads,
    } = ffmpeg.finish().await;
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
        payloads,
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

fn coloured(server: &ServerHandle, room: &str, name: &str, colour: (u8, u8, u8)) -> DialOptions {
    let mut o = DialOptions::new(uri(server, room));
    o.from = name.to_string();
    o.color = Some(colour);
    o.video_size = (160, 90);
    o.duration = Duration::from_secs(14);
    o
}

/// Two coloured members in `room` (canvas `width`x`height`) and ffmpeg recording it through a
/// call in `packetization_mode`; asserts the recording's timing and colours.
async fn record_room(width: u32, height: u32, room: &str, packetization_mode: u8) -> Recording {
    assert!(
        tool_available("ffmpeg", "-version"),
        "this test needs ffmpeg (scripts/install-deps --test installs it)"
    );
    let mut config = test_config();
    config.video.canvas.width = width;
    config.video.canvas.height = height;
    config.video.canvas.fps = FPS as f32;
    let server = start(config).await;
    let recorder = async {
        let joined = eventually(Duration::from_secs(20), || async {
            server
                .control()
                .room(room)
                .await
                .is_some_and(|r| r.members.len() >= 2)
        })
        .await;
        assert!(joined, "both coloured members joined");
        record_with_ffmpeg(&server, room, packetization_mode).await
    };
    let (red, blue, rec): (DialReport, DialReport, Recording) = tokio::join!(
        async {
            dial(coloured(&server, room, "red", RED))
                .await
                .expect("dial")
        },
        async {
            dial(coloured(&server, room, "blue", BLUE))
                .await
                .expect("dial")
        },
        recorder
    );
    assert!(red.answered && blue.answered);
    let frames = rec.pts.len();
    let last_pts = rec.pts.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "ffmpeg (mode {packetization_mode}): {frames} frames, last at {last_pts:.3} s of stream \
time, {:.2} s of real time, {} payloads",
        rec.took.as_secs_f64(),
        rec.payloads.len()
    );
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
    assert!(
        !rec.log.contains("non-existing PPS"),
        "the stream starts at a keyframe: no frame before it\n{}",
        rec.log
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
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_records_seconds_of_the_canvas_with_every_colour() {
    let rec = record_room(320, 180, "rec", 1).await;
    assert!(!rec.payloads.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packetization_mode_0_peer_gets_single_nal_units_it_can_decode() {
    // 640x360 keyframes are far larger than one packet: one slice would need FU-A.
    let rec = record_room(640, 360, "mode0", 0).await;
    let aggregated_or_fragmented = rec
        .payloads
        .iter()
        .filter(|(nal_type, _)| !(1..=23).contains(nal_type))
        .count();
    assert_eq!(
        aggregated_or_fragmented, 0,
        "only single NAL unit packets in mode 0"
    );
    let largest = rec.payloads.iter().map(|(_, len)| *len).max().unwrap_or(0);
    assert!(
        largest <= tessera::rtp::h264::DEFAULT_MTU,
        "largest payload {largest}"
    );
    let slices = rec.payloads.iter().filter(|(t, _)| *t == 5).count();
    assert!(
        slices > 1,
        "keyframes were sliced to fit: {slices} IDR slices"
    );
}
