//! `answer_offer`: every RFC 3264 §6 rule the UAS side relies on.

use std::net::SocketAddr;

use super::super::{
    answer_offer, AudioCodec, Direction, LocalMedia, NegotiatedAudio, NegotiationError,
    SessionDescription, TelephoneEvent,
};
use super::samples::{self, crlf};

fn local() -> LocalMedia {
    LocalMedia::new("192.0.2.50".parse().unwrap(), 42, 20000)
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

fn answer(offer: &SessionDescription) -> (SessionDescription, NegotiatedAudio) {
    let (answer, negotiated) = answer_offer(offer, &local()).unwrap();
    (answer, negotiated.audio.unwrap())
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn opus_preferred_with_the_offerers_payload_type() {
    let (answer, audio) = answer(&sdp(samples::BARESIP));
    assert_eq!(audio.codec, AudioCodec::Opus);
    assert_eq!(audio.payload_type, 96);
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            payload_type: 101,
            clock_rate: 8000
        })
    );
    assert_eq!(audio.telephone_event_pt(), Some(101));
    assert!(audio.rtcp_mux);
    assert_eq!(audio.remote_rtp, addr("192.168.1.10:10634"));
    assert_eq!(audio.remote_rtcp, audio.remote_rtp);
    assert_eq!(audio.direction, Direction::SendRecv);
    assert!(audio.opus_inband_fec);
    let expected = "v=0
o=tessera 42 42 IN IP4 192.0.2.50
s=tessera
c=IN IP4 192.0.2.50
t=0 0
m=audio 20000 RTP/AVP 96 101
a=rtpmap:96 opus/48000/2
a=fmtp:96 minptime=10;useinbandfec=1
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=rtcp-mux
a=sendrecv
";
    assert_eq!(answer.to_string(), crlf(expected));
}

#[test]
fn pcmu_fallback_when_only_pcmu_offered() {
    let (answer, audio) = answer(&offer("m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"));
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Pcmu, 0));
    assert_eq!(audio.telephone_event, None);
    assert!(!audio.opus_inband_fec);
    assert_eq!(answer.media[0].formats, ["0"]);
    assert!(!answer.media[0].has_attribute("fmtp"));
}

#[test]
fn static_payload_type_without_rtpmap_and_explicit_rtcp() {
    let (answer, audio) = answer(&sdp(samples::FREESWITCH));
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Pcmu, 0));
    assert_eq!(audio.telephone_event_pt(), Some(101));
    assert_eq!(answer.media[0].fmtp(101), Some("0-16"));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.remote_rtcp, addr("203.0.113.5:16385"));
    assert_eq!(audio.ptime_ms, Some(20));
    assert!(!answer.media[0].rtcp_mux());
}

#[test]
fn our_preference_order_wins_over_the_offer_order() {
    let mut local = local();
    local.audio_codecs = vec![AudioCodec::Pcma, AudioCodec::Pcmu];
    let (_, negotiated) = answer_offer(&sdp(samples::BARESIP), &local).unwrap();
    assert_eq!(negotiated.audio.unwrap().codec, AudioCodec::Pcma);
}

#[test]
fn no_common_codec_is_488() {
    let offer = offer("m=audio 4000 RTP/AVP 9 18\na=rtpmap:9 G722/8000\n");
    let err = answer_offer(&offer, &local()).unwrap_err();
    assert_eq!(err, NegotiationError::NoCommonCodec);
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn no_usable_audio_is_488() {
    for media in [
        "m=video 4000 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
        "m=audio 0 RTP/AVP 0\n",
        "m=audio 4000 RTP/SAVP 0\n",
        "m=audio 4000/2 RTP/AVP 0\n",
    ] {
        let err = answer_offer(&offer(media), &local()).unwrap_err();
        assert_eq!(err, NegotiationError::NoAcceptableMedia, "{media}");
        assert_eq!(err.sip_status(), 488);
    }
    let err = answer_offer(&sdp(samples::WEBRTC), &local()).unwrap_err();
    assert_eq!(err, NegotiationError::NoAcceptableMedia);
}

#[test]
fn video_rejected_with_port_zero_while_audio_accepted() {
    let offer = sdp(samples::AUDIO_VIDEO);
    let (answer, audio) = answer(&offer);
    assert_eq!(answer.media.len(), 2);
    assert_eq!(answer.media[0].port, 20000);
    let video = &answer.media[1];
    assert_eq!(video.to_string(), "m=video 0 RTP/AVP 96\r\n");
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Opus, 111));
    assert_eq!(audio.telephone_event_pt(), Some(101));
    assert_eq!(audio.remote_rtp, addr("198.51.100.7:40000"));
    assert_eq!(audio.remote_rtcp, addr("198.51.100.7:40001"));
}

#[test]
fn only_the_first_acceptable_audio_is_taken() {
    let (answer, _) = answer(&sdp(samples::RFC8866_EXAMPLE));
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [20000, 0, 0]);
    let kinds: Vec<&str> = answer.media.iter().map(|m| m.media.as_str()).collect();
    assert_eq!(kinds, ["audio", "audio", "video"]);
}

#[test]
fn audio_without_common_codec_is_skipped_for_a_later_one() {
    let offer = offer("m=audio 4000 RTP/AVP 9\nm=audio 4002 RTP/AVP 8\n");
    let (answer, audio) = answer(&offer);
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[1].port, 20000);
    assert_eq!(audio.codec, AudioCodec::Pcma);
    assert_eq!(audio.remote_rtp, addr("198.51.100.9:4002"));
}

#[test]
fn linphone_opus_with_matching_telephone_event_clock() {
    let (answer, audio) = answer(&sdp(samples::LINPHONE));
    assert_eq!((audio.codec, audio.payload_type), (AudioCodec::Opus, 96));
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            payload_type: 101,
            clock_rate: 48000
        })
    );
    assert_eq!(answer.media[1].port, 0);
    assert_eq!(answer.media[1].formats, ["96", "97"]);
}

#[test]
fn rtcp_mux_only_when_offered() {
    let local = local();
    assert!(local.offer_rtcp_mux);
    let (answer, audio) = answer(&offer("m=audio 4000 RTP/AVP 0\n"));
    assert!(!audio.rtcp_mux && !answer.media[0].rtcp_mux());
    assert_eq!(audio.remote_rtcp, addr("198.51.100.9:4001"));
}

#[test]
fn rtp_port_65535_without_mux_has_no_rtcp_port() {
    let err = answer_offer(&offer("m=audio 65535 RTP/AVP 0\n"), &local()).unwrap_err();
    assert!(matches!(
        err,
        NegotiationError::NoRtcpPort {
            index: 0,
            port: 65535
        }
    ));
    let (_, audio) = answer(&offer("m=audio 65535 RTP/AVP 0\na=rtcp-mux\n"));
    assert_eq!(audio.remote_rtcp, addr("198.51.100.9:65535"));
}

#[test]
fn ipv6_offer_and_ipv6_local_address() {
    let mut local = local();
    local.address = "2001:db8::1".parse().unwrap();
    let (answer, negotiated) = answer_offer(&sdp(samples::IPV6), &local).unwrap();
    let audio = negotiated.audio.unwrap();
    assert_eq!(audio.codec, AudioCodec::Pcmu);
    assert_eq!(audio.remote_rtp, addr("[2001:db8::2]:49172"));
    assert_eq!(audio.remote_rtcp, addr("[2001:db8::2]:49173"));
    let text = answer.to_string();
    assert!(text.contains("o=tessera 42 42 IN IP6 2001:db8::1\r\n"));
    assert!(text.contains("c=IN IP6 2001:db8::1\r\n"));
}

#[test]
fn hold_via_direction_attributes() {
    let cases = [
        ("a=sendonly\n", Direction::RecvOnly),
        ("a=recvonly\n", Direction::SendOnly),
        ("a=inactive\n", Direction::Inactive),
        ("a=sendrecv\n", Direction::SendRecv),
        ("", Direction::SendRecv),
    ];
    for (attribute, ours) in cases {
        let (answer, audio) = answer(&offer(&format!("m=audio 4000 RTP/AVP 0\n{attribute}")));
        assert_eq!(audio.direction, ours, "{attribute}");
        assert_eq!(answer.media[0].direction(), Some(ours), "answer prints it");
    }
}

#[test]
fn session_level_direction_applies_to_media() {
    let offer = sdp("v=0\no=- 1 1 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\na=sendonly\nm=audio 4000 RTP/AVP 0\n");
    assert_eq!(answer(&offer).1.direction, Direction::RecvOnly);
}

#[test]
fn legacy_hold_with_unspecified_address() {
    let cases = [
        ("", Direction::RecvOnly),
        ("a=sendonly\n", Direction::RecvOnly),
        ("a=recvonly\n", Direction::Inactive),
    ];
    for (attribute, ours) in cases {
        let held = sdp(&format!(
            "v=0\no=- 1 2 IN IP4 198.51.100.9\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\n{attribute}"
        ));
        let (answer, audio) = answer(&held);
        assert_eq!(audio.direction, ours, "{attribute}");
        assert!(!audio.direction.sends());
        assert_eq!(audio.remote_rtp, addr("0.0.0.0:4000"));
        assert_eq!(answer.media[0].direction(), Some(ours));
    }
    let v6 = sdp("v=0\no=- 1 2 IN IP6 ::1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\nc=IN IP6 ::\n");
    assert_eq!(answer(&v6).1.direction, Direction::RecvOnly);
}

#[test]
fn we_hold_the_peer_with_local_direction() {
    let mut local = local();
    local.direction = Direction::SendOnly;
    let (answer, negotiated) = answer_offer(&sdp(samples::BARESIP), &local).unwrap();
    assert_eq!(negotiated.audio.unwrap().direction, Direction::SendOnly);
    assert_eq!(answer.media[0].direction(), Some(Direction::SendOnly));
    let sendonly_offer = offer("m=audio 4000 RTP/AVP 0\na=sendonly\n");
    let (_, negotiated) = answer_offer(&sendonly_offer, &local).unwrap();
    assert_eq!(negotiated.audio.unwrap().direction, Direction::Inactive);
}

#[test]
fn missing_connection_is_400() {
    let offer = sdp("v=0\no=- 1 1 IN IP4 198.51.100.9\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n");
    let err = answer_offer(&offer, &local()).unwrap_err();
    assert_eq!(err, NegotiationError::MissingConnection { index: 0 });
    assert_eq!(err.sip_status(), 400);
}

#[test]
fn reinvite_answer_keeps_session_id_and_bumps_version() {
    let mut local = local();
    let (first, _) = answer_offer(&sdp(samples::BARESIP), &local).unwrap();
    local.bump_session_version();
    local.direction = Direction::SendOnly;
    let (second, _) = answer_offer(&sdp(samples::BARESIP), &local).unwrap();
    assert_eq!(first.origin.session_id, second.origin.session_id);
    assert_eq!(
        second.origin.session_version,
        first.origin.session_version + 1
    );
}

#[test]
fn opus_fec_only_when_the_peer_asks() {
    let plain =
        offer("m=audio 4000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10\n");
    assert!(!answer(&plain).1.opus_inband_fec);
    let fec = offer("m=audio 4000 RTP/AVP 111\na=rtpmap:111 OPUS/48000/2\na=fmtp:111 UseInbandFec=1; stereo=0\n");
    assert!(answer(&fec).1.opus_inband_fec);
}

#[test]
fn sdp_errors_convert_and_map_to_400() {
    let err: NegotiationError = SessionDescription::parse("nonsense").unwrap_err().into();
    assert_eq!(err.sip_status(), 400);
    let mismatch = NegotiationError::MediaCountMismatch {
        offered: 1,
        answered: 2,
    };
    assert_eq!(mismatch.sip_status(), 400);
    assert_eq!(
        NegotiationError::NoRtcpPort { index: 0, port: 1 }.sip_status(),
        488
    );
}
