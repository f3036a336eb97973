//! `build_offer` and `accept_answer`: our offer, the peer's answer.

use std::net::SocketAddr;

use super::super::{
    accept_answer, answer_offer, build_offer, AudioCodec, Direction, LocalMedia, NegotiatedAudio,
    NegotiationError, SessionDescription,
};
use super::samples::crlf;

fn local() -> LocalMedia {
    LocalMedia::new("192.0.2.50".parse().unwrap(), 42, 20000)
}

fn sdp(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap()
}

/// A peer answer from 198.51.100.9 with the given media sections.
fn peer_answer(media: &str) -> SessionDescription {
    sdp(&format!(
        "v=0\no=peer 7 7 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\n{media}"
    ))
}

fn accept(offer: &SessionDescription, media: &str) -> NegotiatedAudio {
    accept_answer(offer, &peer_answer(media))
        .unwrap()
        .audio
        .unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn default_offer_lists_every_codec_and_both_dtmf_rates() {
    let expected = "v=0
o=tessera 42 42 IN IP4 192.0.2.50
s=tessera
c=IN IP4 192.0.2.50
t=0 0
m=audio 20000 RTP/AVP 111 0 8 101 100
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/48000
a=fmtp:101 0-16
a=rtpmap:100 telephone-event/8000
a=fmtp:100 0-16
a=ptime:20
a=rtcp-mux
a=sendrecv
";
    assert_eq!(build_offer(&local()).to_string(), crlf(expected));
}

#[test]
fn offer_follows_local_settings() {
    let mut local = local();
    local.audio_codecs = vec![AudioCodec::Pcmu, AudioCodec::Pcmu];
    local.offer_rtcp_mux = false;
    local.direction = Direction::SendOnly;
    let offer = build_offer(&local);
    let audio = &offer.media[0];
    assert_eq!(audio.formats, ["0", "100"]);
    assert!(!audio.rtcp_mux());
    assert_eq!(audio.direction(), Some(Direction::SendOnly));
    assert_eq!(audio.ptime(), Some(20));
}

#[test]
fn offer_without_sdp_flow_end_to_end() {
    // INVITE without SDP: we offer in the 200 OK, the peer answers in the ACK.
    let ours = local();
    let offer = build_offer(&ours);
    let offer_on_wire = sdp(&offer.to_string());
    let mut peer = LocalMedia::new("198.51.100.9".parse().unwrap(), 7, 30000);
    peer.audio_codecs = vec![AudioCodec::Pcma, AudioCodec::Opus];
    let (answer, peer_side) = answer_offer(&offer_on_wire, &peer).unwrap();
    let answer_on_wire = sdp(&answer.to_string());
    let our_side = accept_answer(&offer, &answer_on_wire).unwrap();

    let ours_audio = our_side.audio.unwrap();
    let peer_audio = peer_side.audio.unwrap();
    assert_eq!(ours_audio.codec, AudioCodec::Pcma);
    assert_eq!(peer_audio.codec, AudioCodec::Pcma);
    assert_eq!(ours_audio.payload_type, 8);
    assert_eq!(ours_audio.telephone_event_pt(), Some(100));
    assert!(ours_audio.rtcp_mux && peer_audio.rtcp_mux);
    assert_eq!(ours_audio.remote_rtp, addr("198.51.100.9:30000"));
    assert_eq!(ours_audio.remote_rtcp, ours_audio.remote_rtp);
    assert_eq!(peer_audio.remote_rtp, addr("192.0.2.50:20000"));
    assert_eq!(ours_audio.direction, Direction::SendRecv);
    assert_eq!(ours_audio.ptime_ms, Some(20));
}

#[test]
fn first_answered_format_that_we_offered_wins() {
    let offer = build_offer(&local());
    let audio = accept(
        &offer,
        "m=audio 30000 RTP/AVP 9 0 111\na=rtpmap:111 opus/48000/2\n",
    );
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Pcmu, 0));
    assert_eq!(audio.telephone_event, None);
}

#[test]
fn answer_payload_types_are_used_for_sending() {
    let offer = build_offer(&local());
    let renumbered = accept(
        &offer,
        "m=audio 30000 RTP/AVP 96 97\na=rtpmap:96 opus/48000/2\na=fmtp:96 useinbandfec=1\na=rtpmap:97 telephone-event/48000\n",
    );
    assert_eq!(
        (renumbered.codec, renumbered.payload_type),
        (AudioCodec::Opus, 96)
    );
    assert_eq!(renumbered.telephone_event_pt(), Some(97));
    assert!(renumbered.opus_inband_fec);
    // Without an rtpmap in the answer, our offer's mapping applies.
    let bare = accept(&offer, "m=audio 30000 RTP/AVP 111\n");
    assert_eq!((bare.codec, bare.payload_type), (AudioCodec::Opus, 111));
}

#[test]
fn rtcp_mux_needs_both_sides() {
    let mut no_mux = local();
    no_mux.offer_rtcp_mux = false;
    let audio = accept(
        &build_offer(&no_mux),
        "m=audio 30000 RTP/AVP 0\na=rtcp-mux\n",
    );
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.remote_rtcp, addr("198.51.100.9:30001"));
    let audio = accept(&build_offer(&local()), "m=audio 30000 RTP/AVP 0\n");
    assert!(!audio.rtcp_mux);
    let audio = accept(
        &build_offer(&local()),
        "m=audio 30000 RTP/AVP 0\na=rtcp:30011 IN IP4 198.51.100.10\n",
    );
    assert_eq!(audio.remote_rtcp, addr("198.51.100.10:30011"));
}

#[test]
fn rejected_or_foreign_answers() {
    let offer = build_offer(&local());
    let err = accept_answer(&offer, &peer_answer("m=audio 0 RTP/AVP 0\n")).unwrap_err();
    assert_eq!(err, NegotiationError::NoAcceptableMedia);
    let err = accept_answer(&offer, &peer_answer("m=audio 30000 RTP/AVP 9\n")).unwrap_err();
    assert_eq!(err, NegotiationError::NoCommonCodec);
    let two = peer_answer("m=audio 30000 RTP/AVP 0\nm=video 0 RTP/AVP 96\n");
    let err = accept_answer(&offer, &two).unwrap_err();
    assert_eq!(
        err,
        NegotiationError::MediaCountMismatch {
            offered: 1,
            answered: 2
        }
    );
    let no_c = sdp("v=0\no=- 1 1 IN IP4 198.51.100.9\ns=-\nt=0 0\nm=audio 30000 RTP/AVP 0\n");
    let err = accept_answer(&offer, &no_c).unwrap_err();
    assert_eq!(err, NegotiationError::MissingConnection { index: 0 });
}

#[test]
fn answered_direction_and_hold() {
    let offer = build_offer(&local());
    let cases = [
        ("c=IN IP4 198.51.100.9\na=recvonly\n", Direction::SendOnly),
        ("c=IN IP4 198.51.100.9\na=sendonly\n", Direction::RecvOnly),
        ("c=IN IP4 198.51.100.9\na=inactive\n", Direction::Inactive),
        ("c=IN IP4 0.0.0.0\n", Direction::RecvOnly),
    ];
    for (lines, ours) in cases {
        let audio = accept(&offer, &format!("m=audio 30000 RTP/AVP 0\n{lines}"));
        assert_eq!(audio.direction, ours, "{lines}");
    }
    // Our own hold offer caps what a sloppy sendrecv answer can give us.
    let mut holding = local();
    holding.direction = Direction::SendOnly;
    let audio = accept(
        &build_offer(&holding),
        "m=audio 30000 RTP/AVP 0\na=sendrecv\n",
    );
    assert_eq!(audio.direction, Direction::SendOnly);
}

#[test]
fn ipv6_offer_answer() {
    let mut ours = local();
    ours.address = "2001:db8::50".parse().unwrap();
    let offer = build_offer(&ours);
    assert!(offer.to_string().contains("c=IN IP6 2001:db8::50\r\n"));
    let answer = sdp("v=0\no=- 1 1 IN IP6 2001:db8::9\ns=-\nc=IN IP6 2001:db8::9\nt=0 0\nm=audio 30000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\n");
    let audio = accept_answer(&offer, &answer).unwrap().audio.unwrap();
    assert_eq!(audio.remote_rtp, addr("[2001:db8::9]:30000"));
    assert_eq!(audio.remote_rtcp, addr("[2001:db8::9]:30001"));
}

#[test]
fn reoffer_keeps_session_id_and_bumps_version() {
    let mut ours = local();
    let first = build_offer(&ours);
    ours.bump_session_version();
    let second = build_offer(&ours);
    assert_eq!(second.origin.session_id, first.origin.session_id);
    assert_eq!(
        second.origin.session_version,
        first.origin.session_version + 1
    );
}

#[test]
fn an_answer_leaving_out_trailing_streams_rejects_them() {
    let mut with_video = local();
    with_video.video_port = Some(30002);
    let offer = build_offer(&with_video);
    assert_eq!(offer.media.len(), 2);
    let audio_only = peer_answer("m=audio 30000 RTP/AVP 0\n");
    let negotiated = accept_answer(&offer, &audio_only).expect("audio accepted");
    assert!(negotiated.audio.is_some());
    assert!(negotiated.video.is_none(), "the left-out video is rejected");
}
