//! Per-packet and per-frame hot paths other than mixing and composition: Opus encode/decode
//! of one 20 ms frame, talk detection, RTP H.264 packetize/depacketize of a 720p-sized access
//! unit, and SIP INVITE parse + response build.
//!
//! Run: `cargo bench --bench hot_paths`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera::media::audio::codec::{AudioDecoder, AudioEncoder, EncoderSettings, FRAME_SAMPLES};
use tessera::media::audio::talk::TalkDetector;
use tessera::media::audio::tone::ToneGenerator;
use tessera::media::video::codec::{EncoderConfig, VideoEncoder};
use tessera::media::video::frame::I420Frame;
use tessera::rtp::h264::{H264Depacketizer, H264Packetizer, RtpPayloads};
use tessera::sdp::AudioCodec;
use tessera::sip::message::{parse_message, response_to, set_to_tag};

fn tone_frame() -> Vec<i16> {
    let mut frame = vec![0i16; FRAME_SAMPLES];
    ToneGenerator::new(440.0, 8000, 48_000).fill(&mut frame);
    frame
}

fn audio(c: &mut Criterion) {
    let frame = tone_frame();
    let mut encoder =
        AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default()).expect("encoder");
    let mut payload = Vec::new();
    c.bench_function("opus/encode_20ms", |b| {
        b.iter(|| {
            encoder
                .encode(black_box(&frame), &mut payload)
                .expect("encode")
        })
    });
    // The cost of `[audio] opus_complexity` (quality: the codec's unit test prints it).
    for complexity in [0, 5, 7, 8, 10] {
        let settings = EncoderSettings {
            opus_complexity: complexity,
            ..EncoderSettings::default()
        };
        let mut encoder = AudioEncoder::new(AudioCodec::Opus, settings).expect("encoder");
        c.bench_function(&format!("opus/encode_20ms_complexity/{complexity}"), |b| {
            b.iter(|| {
                encoder
                    .encode(black_box(&frame), &mut payload)
                    .expect("encode")
            })
        });
    }
    encoder.encode(&frame, &mut payload).expect("encode");
    let mut decoder = AudioDecoder::new(AudioCodec::Opus).expect("decoder");
    let mut out = Vec::with_capacity(6 * FRAME_SAMPLES);
    c.bench_function("opus/decode_20ms", |b| {
        b.iter(|| {
            out.clear();
            decoder
                .decode(black_box(&payload), &mut out)
                .expect("decode")
        })
    });
    let mut talk = TalkDetector::default();
    c.bench_function("talk_detection/20ms", |b| {
        b.iter(|| talk.update(black_box(&frame)))
    });
}

fn h264_rtp(c: &mut Criterion) {
    // A real 720p keyframe (SPS, PPS, IDR) from the encoder, as the server packetizes it.
    let mut enc = VideoEncoder::new(EncoderConfig {
        width: 1280,
        height: 720,
        fps: 30.0,
        bitrate_bps: 2_000_000,
        max_keyframe_interval: None,
        max_nal_bytes: None,
    })
    .expect("encoder");
    let mut picture = I420Frame::from_rgb(1280, 720, (40, 90, 200));
    for (i, px) in picture.y.iter_mut().enumerate() {
        *px = (i % 251) as u8; // texture, so the IDR is realistically large
    }
    let mut au = Vec::new();
    enc.encode(&picture, true, &mut au).expect("encode");
    let mut packetizer = H264Packetizer::default();
    let mut payloads = RtpPayloads::new();
    c.bench_function("h264_rtp/packetize_720p_idr", |b| {
        b.iter(|| {
            packetizer
                .packetize_annex_b(black_box(&au), &mut payloads)
                .expect("packetize")
        })
    });
    packetizer
        .packetize_annex_b(&au, &mut payloads)
        .expect("packetize");
    let packets: Vec<(Vec<u8>, bool)> = payloads
        .iter_with_marker()
        .map(|(p, m)| (p.to_vec(), m))
        .collect();
    let mut depacketizer = H264Depacketizer::new();
    let mut seq = 0u16;
    let mut ts = 0u32;
    c.bench_function("h264_rtp/depacketize_720p_idr", |b| {
        b.iter(|| {
            ts = ts.wrapping_add(3000);
            for (p, marker) in &packets {
                seq = seq.wrapping_add(1);
                if let Ok(Some(unit)) = depacketizer.push(seq, ts, *marker, p) {
                    depacketizer.recycle(unit);
                }
            }
        })
    });
}

const INVITE: &str = "INVITE sip:3000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\nMax-Forwards: 70\r\n\
To: <sip:3000@127.0.0.1>\r\nFrom: \"Alice\" <sip:alice@127.0.0.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@127.0.0.1\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\nContent-Length: 142\r\n\r\n\
v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n";

fn sip(c: &mut Criterion) {
    c.bench_function("sip/parse_invite", |b| {
        b.iter(|| parse_message(black_box(INVITE.as_bytes())).expect("parse"))
    });
    let rsip::SipMessage::Request(req) = parse_message(INVITE.as_bytes()).expect("parse") else {
        return;
    };
    c.bench_function("sip/build_200_response", |b| {
        b.iter(|| {
            let mut resp = response_to(black_box(&req), 200);
            set_to_tag(&mut resp, "srvtag");
            resp.to_string()
        })
    });
}

criterion_group!(benches, audio, h264_rtp, sip);
criterion_main!(benches);
