//! End-to-end check of the video path without sockets: encode → packetize (RFC 6184) →
//! depacketize → decode, as the server and the dial client chain them.

use super::codec::{EncoderConfig, VideoEncoder};
use super::frame::I420Frame;
use super::inbound::VideoInbound;
use crate::media::video::codec::VideoDecoder;
use crate::rtp::h264::{H264Packetizer, RtpPayloads};
use std::time::{Duration, Instant};

#[test]
fn encoded_frames_survive_packetization_and_decode() {
    let mut enc = VideoEncoder::new(EncoderConfig {
        width: 640,
        height: 360,
        fps: 15.0,
        bitrate_bps: 600_000,
        max_keyframe_interval: None,
        max_nal_bytes: None,
    })
    .unwrap();
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
