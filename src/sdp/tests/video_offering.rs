//! `build_offer` and `accept_answer` with video.

use std::net::SocketAddr;

use super::super::{
    accept_answer, answer_offer, build_offer, Direction, LocalMedia, NegotiatedVideo,
    NegotiationError, SessionDescription,
};
use super::samples::crlf;

/// Audio on 20000, video on 20002.
fn local() -> LocalMedia {
    let mut local = LocalMedia::new("192.0.2.50".parse().unwrap(), 42, 20000);
    local.video_port = Some(20002);
    local
}

fn sdp(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap()
}

/// A peer answer from 198.51.100.9: accepted PCMU audio, then `video`.
fn peer_answer(video: &str) -> SessionDescription {
    sdp(&format!(
        "v=0\no=peer 7 7 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\nm=audio 30000 RTP/AVP 0\n{video}"
    ))
}

fn accept_video(video: &str) -> Option<NegotiatedVideo> {
    accept_answer(&build_offer(&local()), &peer_answer(video))
        .unwrap()
        .video
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn offer_with_video_section() {
    let offer = build_offer(&local());
    let expected = "m=video 20002 RTP/AVP 96 97
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 ccm fir
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42e01f;packetization-mode=0;level-asymmetry-allowed=1
a=rtcp-fb:97 nack
a=rtcp-fb:97 nack pli
a=rtcp-fb:97 ccm fir
a=rtcp-mux
a=sendrecv
";
    assert_eq!(offer.media.len(), 2);
    assert_eq!(offer.media[0].media, "audio");
    assert_eq!(offer.media[1].to_string(), crlf(expected));
    assert_eq!(sdp(&offer.to_string()), offer);

    let mut plain = local();
    plain.offer_rtcp_mux = false;
    plain.direction = Direction::SendOnly;
    let video = &build_offer(&plain).media[1];
    assert!(!video.rtcp_mux());
    assert_eq!(video.direction(), Some(Direction::SendOnly));
    plain.video_port = None;
    assert_eq!(build_offer(&plain).media.len(), 1);
}

#[test]
fn build_offer_answer_accept_round_trip_with_video() {
    let offer = build_offer(&local());
    let offer_on_wire = sdp(&offer.to_string());
    let mut peer = LocalMedia::new("198.51.100.9".parse().unwrap(), 7, 30000);
    peer.video_port = Some(30002);
    let (answer, peer_side) = answer_offer(&offer_on_wire, &peer).unwrap();
    let our_side = accept_answer(&offer, &sdp(&answer.to_string())).unwrap();

    let ours = our_side.video.unwrap();
    let theirs = peer_side.video.unwrap();
    assert_eq!((ours.payload_type, theirs.payload_type), (96, 96));
    assert_eq!(ours.params.packetization_mode, 1);
    assert_eq!(ours.params.profile_level_id.to_string(), "42e01f");
    assert!(ours.nack && ours.pli && ours.fir);
    assert!(ours.rtcp_mux && theirs.rtcp_mux);
    assert_eq!(ours.remote_rtp, addr("198.51.100.9:30002"));
    assert_eq!(ours.remote_rtcp, ours.remote_rtp);
    assert_eq!(theirs.remote_rtp, addr("192.0.2.50:20002"));
    assert_eq!(ours.direction, Direction::SendRecv);
    assert_eq!(
        our_side.audio.unwrap().remote_rtp,
        addr("198.51.100.9:30000")
    );
}

#[test]
fn renumbered_or_bare_answers_use_the_offer_where_needed() {
    let renumbered = accept_video(
        "m=video 30002 RTP/AVP 100\na=rtpmap:100 H264/90000\na=fmtp:100 profile-level-id=42e01e;packetization-mode=0\na=rtcp-fb:100 nack pli\n",
    )
    .unwrap();
    assert_eq!(renumbered.payload_type, 100);
    assert_eq!(renumbered.params.packetization_mode, 0);
    assert_eq!(renumbered.params.profile_level_id.level_idc, 0x1e);
    assert!(!renumbered.nack && renumbered.pli && !renumbered.fir);
    assert!(!renumbered.rtcp_mux);
    assert_eq!(renumbered.remote_rtcp, addr("198.51.100.9:30003"));
    // Neither rtpmap nor fmtp: our offer's PT 97 (mode 0) applies.
    let bare = accept_video("m=video 30002 RTP/AVP 97\n").unwrap();
    assert_eq!((bare.payload_type, bare.params.packetization_mode), (97, 0));
    assert!(bare.params.level_asymmetry_allowed);
}

#[test]
fn unusable_video_answers() {
    for video in [
        "m=video 0 RTP/AVP 96\n",
        "m=video 30002 RTP/AVP 98\na=rtpmap:98 VP8/90000\n",
        "m=video 30002 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 profile-level-id=640c1f;packetization-mode=1\n",
        "m=video 30002 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n",
        "m=audio 30002 RTP/AVP 0\n",
    ] {
        assert_eq!(accept_video(video), None, "{video}");
    }
}

#[test]
fn video_alone_is_enough_and_errors_otherwise() {
    let offer = build_offer(&local());
    let answer = |audio: &str, video: &str| {
        sdp(&format!(
            "v=0\no=p 1 1 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\n{audio}{video}"
        ))
    };
    let h264 = "m=video 30002 RTP/AVP 96\na=sendonly\n";
    let only_video = accept_answer(&offer, &answer("m=audio 0 RTP/AVP 0\n", h264)).unwrap();
    assert_eq!(only_video.audio, None);
    assert_eq!(only_video.video.unwrap().direction, Direction::RecvOnly);
    let vp8 = "m=video 30002 RTP/AVP 98\na=rtpmap:98 VP8/90000\n";
    let err = accept_answer(&offer, &answer("m=audio 0 RTP/AVP 0\n", vp8)).unwrap_err();
    assert_eq!(err, NegotiationError::NoCommonCodec);
    let err = accept_answer(
        &offer,
        &answer("m=audio 0 RTP/AVP 0\n", "m=video 0 RTP/AVP 96\n"),
    )
    .unwrap_err();
    assert_eq!(err, NegotiationError::NoAcceptableMedia);
}
