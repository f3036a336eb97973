//! End-to-end check of the video path without sockets: encode → packetize (RFC 6184) →
//! depacketize → decode, as the server and the dial client chain them.

use super::codec::{DecoderBackend, EncoderConfig, VideoEncoder};
use super::frame::I420Frame;
use super::inbound::VideoInbound;
use crate::media::video::codec::VideoDecoder;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::time::{Duration, Instant};

/// A 640x360 camera's encoder at 15 fps, 600 kbit/s.
fn encoder_640x360() -> VideoEncoder {
    VideoEncoder::new(EncoderConfig {
        width: 640,
        height: 360,
        fps: 15.0,
        bitrate_bps: 600_000,
        max_keyframe_interval: None,
        max_nal_bytes: None,
    })
    .unwrap()
}

#[test]
fn encoded_frames_survive_packetization_and_decode() {
    let mut enc = encoder_640x360();
    let mut pack = H264Packetizer::default();
    let mut payloads = RtpPayloads::new();
    let mut inbound = VideoInbound::new(VideoDecoder::new().unwrap());
    let frame = I420Frame::from_rgb(640, 360, (255, 0, 0));
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut seq = 0u16;
    for i in 0..10u32 {
        let e = enc.encode(&frame, i == 0, &mut out).unwrap();
        if e.bytes == 0 {
            continue;
        }
        pack.packetize_annex_b(&out, &mut payloads).unwrap();
        for (p, marker) in payloads.iter_with_marker() {
            inbound.push(t0, seq, i * 6000, marker, p);
            seq = seq.wrapping_add(1);
        }
    }
    let (pic, _) = inbound
        .picture(t0 + Duration::from_millis(10))
        .expect("decoded");
    assert_eq!((pic.width, pic.height), (640, 360));
    assert!(inbound.stats().frames_decoded >= 5, "{:?}", inbound.stats());
}

/// Frames 0–7 at 640x360, frame 5 a forced keyframe, as (keyframe, RTP payloads) per frame.
fn frames_with_a_keyframe_at_5() -> Vec<(bool, Vec<Vec<u8>>)> {
    let mut enc = encoder_640x360();
    let mut pack = H264Packetizer::default();
    let mut payloads = RtpPayloads::new();
    let mut out = Vec::new();
    (0..8u32)
        .map(|i| {
            let frame = I420Frame::from_rgb(640, 360, (200, 40 + 20 * i as u8, 0));
            let e = enc.encode(&frame, i == 0 || i == 5, &mut out).unwrap();
            assert!(e.bytes > 0, "frame {i} was skipped by rate control");
            pack.packetize_annex_b(&out, &mut payloads).unwrap();
            (e.keyframe, payloads.iter().map(<[u8]>::to_vec).collect())
        })
        .collect()
}

#[test]
fn after_a_lost_frame_only_the_next_keyframe_is_decoded() {
    let frames = frames_with_a_keyframe_at_5();
    assert!(frames[0].0 && frames[5].0 && !frames[2].0);
    for backend in [DecoderBackend::Libavcodec, DecoderBackend::Openh264] {
        let mut inbound = VideoInbound::new(VideoDecoder::with_backend(backend).unwrap());
        let t0 = Instant::now();
        assert!(inbound.take_keyframe_request(t0), "asked for at the start");
        let mut seq = 0u16;
        for (i, (_, payloads)) in frames.iter().enumerate() {
            let last = payloads.len() - 1;
            for (k, p) in payloads.iter().enumerate() {
                if i != 2 {
                    inbound.push(t0, seq, i as u32 * 6000, k == last, p);
                }
                seq = seq.wrapping_add(1); // frame 2 is lost: a sequence gap
            }
            if i == 4 {
                let stats = inbound.stats();
                assert_eq!(stats.frames_decoded, 2, "{backend:?}: frames 0 and 1");
                assert_eq!(
                    stats.skipped_until_keyframe, 2,
                    "{backend:?}: frames 3 and 4"
                );
                assert_eq!(
                    stats.decode_errors, 0,
                    "{backend:?}: nothing damaged was decoded"
                );
                let later = t0 + Duration::from_secs(1);
                assert!(
                    inbound.take_keyframe_request(later),
                    "{backend:?}: a keyframe is asked for"
                );
            }
        }
        let stats = inbound.stats();
        assert_eq!(
            stats.frames_decoded, 5,
            "{backend:?}: 0, 1, then 5 to 7: {stats:?}"
        );
        let (picture, _) = inbound.picture(t0).expect("a picture");
        let yuv = picture.pixel_yuv(320, 180).expect("inside");
        let expected = super::frame::rgb_to_yuv(200, 40 + 20 * 7, 0);
        assert!(
            yuv.0.abs_diff(expected.0) < 12,
            "{backend:?}: the last frame is shown: {yuv:?}"
        );
    }
}
