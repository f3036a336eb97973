//! `answer_offer` with video: H.264 choice, feedback, ports, rejections.

use std::net::SocketAddr;

use super::super::{
    answer_offer, AudioCodec, Direction, H264Params, LocalMedia, NegotiatedSession,
    NegotiatedVideo, NegotiationError, ProfileLevelId, SessionDescription,
};
use super::samples::{self, crlf};

/// Audio on 20000, video on 20002.
fn local() -> LocalMedia {
    let mut local = LocalMedia::new("192.0.2.50".parse().unwrap(), 42, 20000);
    local.video_port = Some(20002);
    local
}

fn sdp(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap()
}

/// An offer from 198.51.100.9 with the given media sections.
fn offer(media: &str) -> SessionDescription {
    sdp(&format!(
        "v=0\no=peer 1 1 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\n{media}"
    ))
}

fn negotiate(offer: &SessionDescription) -> (SessionDescription, NegotiatedSession) {
    let (answer, negotiated) = answer_offer(offer, &local()).unwrap();
    // Whatever we answer must itself parse back to the same description.
    assert_eq!(sdp(&answer.to_string()), answer);
    (answer, negotiated)
}

fn video(offer: &SessionDescription) -> (SessionDescription, NegotiatedVideo) {
    let (answer, negotiated) = negotiate(offer);
    (answer, negotiated.video.unwrap())
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn h264(mode: u8, profile: &str) -> String {
    format!(
        "a=rtpmap:96 H264/90000\na=fmtp:96 profile-level-id={profile};packetization-mode={mode}\n"
    )
}

#[test]
fn linphone_h264_next_to_vp8_over_avp() {
    let (answer, negotiated) = negotiate(&sdp(samples::LINPHONE));
    let audio = negotiated.audio.unwrap();
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Opus, 96));
    let video = negotiated.video.unwrap();
    assert_eq!(video.payload_type, 97);
    assert_eq!(video.params.packetization_mode, 0);
    assert_eq!(video.params.profile_level_id.to_string(), "42801f");
    assert!(!video.nack && video.pli && !video.fir);
    assert!(!video.rtcp_mux);
    assert_eq!(video.remote_rtp, addr("10.0.0.20:9078"));
    assert_eq!(video.remote_rtcp, addr("10.0.0.20:9079"));
    assert_eq!(video.direction, Direction::SendRecv);
    // The profile is echoed (RFC 6184 §8.2.2), the level is ours, and only
    // offered feedback is answered (RFC 4585 §4.2).
    let expected = "m=video 20002 RTP/AVP 97
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801f;packetization-mode=0;level-asymmetry-allowed=1
a=rtcp-fb:97 nack pli
a=sendrecv
";
    assert_eq!(answer.media[1].to_string(), crlf(expected));
    assert_eq!(answer.media[0].port, 20000);
}

#[test]
fn baresip_mode_1_preferred_over_earlier_mode_0() {
    let (answer, negotiated) = negotiate(&sdp(samples::BARESIP_VIDEO));
    assert_eq!(
        negotiated.audio.unwrap().remote_rtp,
        addr("192.168.1.10:10634")
    );
    let video = negotiated.video.unwrap();
    assert_eq!(video.payload_type, 98);
    assert_eq!(video.params.packetization_mode, 1);
    assert!(video.nack && video.pli && video.fir, "wildcard feedback");
    assert!(video.rtcp_mux);
    assert_eq!(video.remote_rtp, addr("192.168.1.10:10636"));
    assert_eq!(video.remote_rtcp, video.remote_rtp);
    let expected = "m=video 20002 RTP/AVP 98
a=rtpmap:98 H264/90000
a=fmtp:98 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1
a=rtcp-fb:98 nack
a=rtcp-fb:98 nack pli
a=rtcp-fb:98 ccm fir
a=rtcp-mux
a=sendrecv
";
    assert_eq!(answer.media[1].to_string(), crlf(expected));
}

#[test]
fn baresip_mode_0_alone_is_accepted() {
    let only_mode_0 = offer(&format!("m=video 4000 RTP/AVP 96\n{}", h264(0, "42e01f")));
    let (answer, video) = video(&only_mode_0);
    assert_eq!(
        (video.payload_type, video.params.packetization_mode),
        (96, 0)
    );
    assert!(!(video.nack || video.pli || video.fir));
    assert!(!answer.media[0].has_attribute("rtcp-fb"));
    assert_eq!(
        answer.media[0].fmtp(96),
        Some("profile-level-id=42e01f;packetization-mode=0;level-asymmetry-allowed=1")
    );
}

#[test]
fn desk_phone_baseline_42801f_with_limits() {
    let (answer, negotiated) = negotiate(&sdp(samples::DESK_PHONE));
    assert_eq!(negotiated.audio.unwrap().codec, AudioCodec::Pcmu);
    let video = negotiated.video.unwrap();
    assert_eq!(video.payload_type, 99);
    assert_eq!(
        video.params,
        H264Params {
            profile_level_id: ProfileLevelId::parse("42801f").unwrap(),
            packetization_mode: 1,
            level_asymmetry_allowed: false,
            max_fs: Some(3600),
            max_mbps: Some(108000),
        }
    );
    assert!(!video.nack && !video.pli && video.fir);
    assert_eq!(video.remote_rtcp, addr("10.1.1.50:11783"));
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [20000, 20002]);
    assert_eq!(
        answer.media[1]
            .attributes_named("rtcp-fb")
            .collect::<Vec<_>>(),
        ["99 ccm fir"]
    );
}

#[test]
fn webrtc_ish_avpf_offer_answered_with_avpf() {
    let (answer, negotiated) = negotiate(&sdp(samples::WEBRTC_AVPF));
    assert_eq!(negotiated.audio.unwrap().payload_type, 111);
    let video = negotiated.video.unwrap();
    // 125 is High profile: skipped for the first Baseline mode-1 format.
    assert_eq!(video.payload_type, 102);
    assert_eq!(video.params.profile_level_id.to_string(), "42001f");
    assert!(video.params.level_asymmetry_allowed);
    assert!(video.nack && video.pli && video.fir && video.rtcp_mux);
    assert_eq!(video.remote_rtp, addr("203.0.113.20:50002"));
    let m = &answer.media[1];
    assert_eq!((m.proto.as_str(), m.port), ("RTP/AVPF", 20002));
    assert_eq!(m.formats, ["102"]);
    assert!(!m.has_attribute("rtcp-rsize"));
    assert_eq!(m.attributes_named("rtcp-fb").count(), 3);
}

#[test]
fn audio_and_video_both_accepted_with_their_ports() {
    let (answer, negotiated) = negotiate(&sdp(samples::AUDIO_VIDEO));
    let (audio, video) = (negotiated.audio.unwrap(), negotiated.video.unwrap());
    assert_eq!(audio.remote_rtp, addr("198.51.100.7:40000"));
    assert_eq!(video.remote_rtp, addr("198.51.100.7:40002"));
    assert_eq!(video.remote_rtcp, addr("198.51.100.7:40003"));
    assert_eq!(video.payload_type, 96);
    let lines: Vec<String> = answer
        .media
        .iter()
        .map(|m| format!("{} {}", m.media, m.port))
        .collect();
    assert_eq!(lines, ["audio 20000", "video 20002"]);
}

#[test]
fn video_only_offer_is_accepted() {
    let (answer, negotiated) = negotiate(&offer(&format!(
        "m=video 4000 RTP/AVP 96\n{}",
        h264(1, "42e01f")
    )));
    assert_eq!(negotiated.audio, None);
    assert_eq!(
        negotiated.video.unwrap().remote_rtp,
        addr("198.51.100.9:4000")
    );
    assert_eq!(answer.media.len(), 1);
    assert_eq!(answer.media[0].port, 20002);
}

#[test]
fn video_without_acceptable_h264_is_rejected() {
    let audio = "m=audio 4000 RTP/AVP 0\n";
    let cases = [
        "m=video 4002 RTP/AVP 96\na=rtpmap:96 VP8/90000\n".to_owned(),
        format!("m=video 4002 RTP/AVP 96\n{}", h264(1, "4d001f")),
        format!("m=video 4002 RTP/AVP 96\n{}", h264(1, "640c1f")),
        format!("m=video 4002 RTP/AVP 96\n{}", h264(2, "42e01f")),
        format!("m=video 4002 RTP/AVP 96\n{}", h264(1, "42e0zz")),
        "m=video 4002 RTP/AVP 96\na=fmtp:96 profile-level-id=42e01f\n".to_owned(),
        "m=video 4002 RTP/AVP 96\na=rtpmap:96 H264/8000\n".to_owned(),
        format!("m=video 4002 RTP/SAVP 96\n{}", h264(1, "42e01f")),
        format!("m=video 4002/2 RTP/AVP 96\n{}", h264(1, "42e01f")),
    ];
    for video in &cases {
        let (answer, negotiated) = negotiate(&offer(&format!("{audio}{video}")));
        assert!(negotiated.audio.is_some(), "{video}");
        assert_eq!(negotiated.video, None, "{video}");
        assert_eq!(answer.media[1].port, 0, "{video}");
        assert!(answer.media[1].attributes.is_empty(), "{video}");
        // Alone, with nothing else acceptable, it is a 488.
        let err = answer_offer(&offer(video), &local()).unwrap_err();
        assert_eq!(err.sip_status(), 488, "{video}");
    }
    let vp8_only = offer("m=video 4002 RTP/AVP 96\na=rtpmap:96 VP8/90000\n");
    assert_eq!(
        answer_offer(&vp8_only, &local()).unwrap_err(),
        NegotiationError::NoCommonCodec
    );
}

#[test]
fn no_video_port_means_video_is_rejected() {
    let mut audio_only = local();
    audio_only.video_port = None;
    let (answer, negotiated) = answer_offer(&sdp(samples::BARESIP_VIDEO), &audio_only).unwrap();
    assert!(negotiated.audio.is_some() && negotiated.video.is_none());
    assert_eq!(answer.media[1].port, 0);
    let video_only = offer(&format!("m=video 4000 RTP/AVP 96\n{}", h264(1, "42e01f")));
    let err = answer_offer(&video_only, &audio_only).unwrap_err();
    assert_eq!(err, NegotiationError::NoAcceptableMedia);
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn malformed_format_skipped_for_a_later_one_and_only_first_video_taken() {
    let media = "m=video 4000 RTP/AVP 96 98
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=one
a=rtpmap:98 h264/90000
a=fmtp:98 profile-level-id=42C01E;packetization-mode=1
m=video 4004 RTP/AVP 96
a=rtpmap:96 H264/90000
";
    let (answer, video) = video(&offer(media));
    assert_eq!(video.payload_type, 98);
    assert_eq!(
        answer.media[0].fmtp(98),
        Some("profile-level-id=42c01f;packetization-mode=1;level-asymmetry-allowed=1")
    );
    assert_eq!(answer.media[1].port, 0);
}

#[test]
fn level_is_capped_unless_both_allow_asymmetry() {
    let low = offer(&format!("m=video 4000 RTP/AVP 96\n{}", h264(1, "42e00d")));
    assert_eq!(video(&low).1.params.profile_level_id.level_idc, 0x0d);
    let high = offer(&format!("m=video 4000 RTP/AVP 96\n{}", h264(1, "42e028")));
    assert_eq!(video(&high).1.params.profile_level_id.level_idc, 0x1f);
    let asymmetric = offer(
        "m=video 4000 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 profile-level-id=42e028;packetization-mode=1;level-asymmetry-allowed=1\n",
    );
    assert_eq!(video(&asymmetric).1.params.profile_level_id.level_idc, 0x28);
    let level_1b = offer(&format!("m=video 4000 RTP/AVP 96\n{}", h264(1, "42f00b")));
    let (answer, _) = video(&level_1b);
    assert_eq!(
        answer.media[0].fmtp(96),
        Some("profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1")
    );
}

#[test]
fn video_direction_and_hold() {
    let held = offer(&format!(
        "m=video 4000 RTP/AVP 96\n{}a=sendonly\n",
        h264(1, "42e01f")
    ));
    let (answer, v) = video(&held);
    assert_eq!(v.direction, Direction::RecvOnly);
    assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    let mut holding = local();
    holding.direction = Direction::SendOnly;
    let (_, negotiated) = answer_offer(&sdp(samples::BARESIP_VIDEO), &holding).unwrap();
    assert_eq!(negotiated.video.unwrap().direction, Direction::SendOnly);
    assert_eq!(negotiated.audio.unwrap().direction, Direction::SendOnly);
}

#[test]
fn video_transport_errors() {
    let no_rtcp = offer(&format!("m=video 65535 RTP/AVP 96\n{}", h264(1, "42e01f")));
    let err = answer_offer(&no_rtcp, &local()).unwrap_err();
    assert_eq!(
        err,
        NegotiationError::NoRtcpPort {
            index: 0,
            port: 65535
        }
    );
    let no_c = sdp(&format!(
        "v=0\no=- 1 1 IN IP4 198.51.100.9\ns=-\nt=0 0\nm=video 4000 RTP/AVP 96\n{}",
        h264(1, "42e01f")
    ));
    let err = answer_offer(&no_c, &local()).unwrap_err();
    assert_eq!(err, NegotiationError::MissingConnection { index: 0 });
}
