//! The RTP clock of what the server sends: timestamps of audio and video follow the time that
//! passes (not a sum of steps), through joins, leaves, layout changes, keyframes and
//! re-INVITEs; audio and video SRs of one member map to one wall clock (lip sync); and a
//! third-party decoder that honours RTP timing (`ffmpeg` reading an SDP, as a user recording a
//! room would) decodes the canvas for seconds and finds the members' colours.

use crate::common;

use common::media_peer::*;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::rtp::rtcp::{write_compound, RtcpPacket};
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

const RED: (u8, u8, u8) = (230, 20, 20);
const BLUE: (u8, u8, u8) = (20, 20, 230);
const RECORD: Duration = Duration::from_secs(8);

fn coloured(server: &ServerHandle, name: &str, colour: (u8, u8, u8), secs: f64) -> DialOptions {
    let mut o = DialOptions::new(uri(server, "clock"));
    o.from = name.to_string();
    o.color = Some(colour);
    o.tone_hz = Some(440.0);
    o.video_size = (160, 90);
    o.duration = Duration::from_secs_f64(secs);
    o
}

async fn dial_after(delay: Duration, o: DialOptions) -> DialReport {
    tokio::time::sleep(delay).await;
    dial(o).await.expect("dial runs")
}

/// One packet per distinct timestamp (video: the first packet of each frame).
fn per_timestamp(packets: &[RtpHead]) -> Vec<RtpHead> {
    let mut out: Vec<RtpHead> = Vec::new();
    for p in packets {
        if out.last().is_none_or(|l| l.timestamp != p.timestamp) {
            out.push(*p);
        }
    }
    out
}

/// Asserts that `packets` (one stream) carry timestamps that follow their arrival times at
/// `rate` Hz: one SSRC, the same span as the arrivals within 3 %, and no packet more than
/// 200 ms off the stream's line (no jumps).
fn assert_follows_clock(what: &str, packets: &[RtpHead], rate: f64) {
    assert!(packets.len() > 20, "{what}: only {} packets", packets.len());
    let ssrc = packets[0].ssrc;
    assert!(
        packets.iter().all(|p| p.ssrc == ssrc),
        "{what}: one SSRC throughout"
    );
    let first = packets[0];
    let offsets: Vec<f64> = packets
        .iter()
        .map(|p| {
            let media = f64::from(p.timestamp.wrapping_sub(first.timestamp)) / rate;
            media - (p.at - first.at).as_secs_f64()
        })
        .collect();
    let last = packets[packets.len() - 1];
    let arrival_span = (last.at - first.at).as_secs_f64();
    let media_span = f64::from(last.timestamp.wrapping_sub(first.timestamp)) / rate;
    assert!(
        arrival_span > 5.0,
        "{what}: received for {arrival_span:.2} s"
    );
    let ratio = media_span / arrival_span;
    assert!(
        (ratio - 1.0).abs() < 0.03,
        "{what}: {media_span:.3} s of timestamps over {arrival_span:.3} s of arrivals"
    );
    let mut sorted = offsets.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let spread = sorted[sorted.len() - 1] - sorted[0];
    eprintln!(
        "{what}: {} packets, timestamps/arrivals {ratio:.4}, offsets spread {:.1} ms",
        packets.len(),
        spread * 1000.0
    );
    for (p, offset) in packets.iter().zip(&offsets) {
        assert!(
            (offset - median).abs() < 0.2,
            "{what}: packet at {:.3} s is {:.3} s off the clock (timestamp {})",
            (p.at - first.at).as_secs_f64(),
            offset - median,
            p.timestamp
        );
    }
}

/// Median of (wall-clock time the SR maps a packet's timestamp to − its arrival time).
fn sr_offset(
    packets: &[RtpHead],
    reports: &[(Instant, u32, u64, u32)],
    rate: f64,
    wall: WallClock,
) -> f64 {
    let ssrc = packets[0].ssrc;
    let (_, _, ntp, rtp) = *reports
        .iter()
        .find(|r| r.1 == ssrc)
        .expect("an SR for the stream");
    let sr_unix = ntp_to_unix_secs(ntp);
    let mut offsets: Vec<f64> = packets
        .iter()
        .map(|p| {
            let media = f64::from(p.timestamp.wrapping_sub(rtp) as i32) / rate;
            sr_unix + media - wall.unix_secs(p.at)
        })
        .collect();
    offsets.sort_by(f64::total_cmp);
    offsets[offsets.len() / 2]
}

/// The probe's call while things happen in the room: a member joins and leaves (layout
/// changes), a PLI, a re-INVITE. Returns what the audio and video sockets received.
async fn probe_scenario(server: &ServerHandle) -> (Received, Received, WallClock, DialReport) {
    wait_members(server, "clock", 1).await;
    let audio = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let video = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let offer = |version| {
        AvOffer {
            version,
            ..AvOffer::watching(audio.local_addr().unwrap(), video.local_addr().unwrap())
        }
        .sdp()
    };
    let mut call = ProbeCall::place(
        server.sip_addr(),
        &uri(server, "clock"),
        "clock-probe",
        "",
        &offer(1),
    )
    .await;
    let server_video = sdp_port(&call.answer, "video").expect("video answered");
    assert_ne!(server_video, 0, "video accepted");
    send_consent(&audio, &call.answer, "audio").await;
    send_consent(&video, &call.answer, "video").await;
    let wall = WallClock::now();
    let until = Instant::now() + RECORD;
    let audio_rx = tokio::spawn({
        let s = audio.clone();
        async move { record(&s, until).await }
    });
    let video_rx = tokio::spawn({
        let s = video.clone();
        async move { record(&s, until).await }
    });
    let blue = dial_after(
        Duration::from_millis(1500),
        coloured(server, "blue", BLUE, 3.0),
    );
    let events = async {
        // A keyframe request, from our own RTCP address (rtcp-mux).
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let mut pli = Vec::new();
        write_compound(
            &[RtcpPacket::PictureLossIndication {
                sender_ssrc: 7,
                media_ssrc: 0,
            }],
            &mut pli,
        );
        video
            .send_to(&pli, ("127.0.0.1", server_video))
            .await
            .unwrap();
        // A re-INVITE with the same media.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let reanswer = call.reinvite(&offer(2)).await;
        assert_eq!(
            sdp_port(&reanswer, "video"),
            Some(server_video),
            "video kept"
        );
    };
    let (blue, ()) = tokio::join!(blue, events);
    let audio_rx = audio_rx.await.unwrap();
    let video_rx = video_rx.await.unwrap();
    call.hang_up().await;
    (audio_rx, video_rx, wall, blue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_follow_the_clock_through_joins_keyframes_and_reinvites() {
    let server = start(small_video(test_config())).await;
    let red = dial_after(Duration::ZERO, coloured(&server, "red", RED, 11.0));
    let (red, (audio_rx, video_rx, wall, blue)) = tokio::join!(red, probe_scenario(&server));
    assert!(red.answered && blue.answered);
    let audio_packets: Vec<RtpHead> = audio_rx
        .rtp()
        .into_iter()
        .filter(|p| p.payload_type == OPUS_PT)
        .collect();
    let video_packets: Vec<RtpHead> = video_rx
        .rtp()
        .into_iter()
        .filter(|p| p.payload_type == H264_PT)
        .collect();
    assert_follows_clock("audio", &audio_packets, 48_000.0);
    assert!(
        audio_packets
            .windows(2)
            .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) % 960 == 0
                && w[1].timestamp != w[0].timestamp),
        "audio timestamps advance in whole 20 ms frames"
    );
    let frames = per_timestamp(&video_packets);
    assert_follows_clock("video", &frames, 90_000.0);
    // Lip sync: both SRs put a packet at the same wall-clock time relative to its arrival.
    let audio_offset = sr_offset(&audio_packets, &audio_rx.sender_reports(), 48_000.0, wall);
    let video_offset = sr_offset(&frames, &video_rx.sender_reports(), 90_000.0, wall);
    assert!(
        audio_offset.abs() < 0.2 && video_offset.abs() < 0.2,
        "SRs map packets near their arrival: audio {audio_offset:.3} s, video {video_offset:.3} s"
    );
    assert!(
        (audio_offset - video_offset).abs() < 0.1,
        "audio and video SRs share a wall clock: audio {audio_offset:.3} s, video {video_offset:.3} s"
    );
    server.shutdown().await;
}
