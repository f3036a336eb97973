//! Video media sections in offer/answer: which offered video m-lines are
//! usable, how Tessera writes its own (H.264 rtpmap and fmtp of
//! [RFC 6184 §8.2](https://www.rfc-editor.org/rfc/rfc6184#section-8.2),
//! `a=rtcp-fb` of [RFC 4585 §4.2](https://www.rfc-editor.org/rfc/rfc4585#section-4.2)
//! and [RFC 5104 §7.1](https://www.rfc-editor.org/rfc/rfc5104#section-7.1),
//! rtcp-mux, direction), which H.264 format of the peer's it takes, and what
//! it reads back ([`NegotiatedVideo`]).
//!
//! Video is carried over `RTP/AVP` or `RTP/AVPF` (RFC 4585): SIP video
//! phones use either, with `a=rtcp-fb` lines in both cases; an answer keeps
//! the offer's profile. Used by both [`super::answer`] and [`super::offer`].

use super::attributes::{parse_payload_type, RtpMap};
use super::direction::Direction;
use super::feedback::FeedbackSupport;
use super::negotiate::{remote_transport, NegotiatedVideo, NegotiationError};
use super::session::{Attribute, MediaDescription, SessionDescription};
use super::video::{
    h264_formats, H264Params, ProfileLevelId, H264_CLOCK_RATE, H264_ENCODING_NAME,
    H264_MODE0_PAYLOAD_TYPE, H264_MODE1_PAYLOAD_TYPE,
};

/// Transport profile Tessera offers video with (RFC 3551; feedback is still
/// announced, as SIP video phones do).
pub const VIDEO_OFFER_PROTO: &str = "RTP/AVP";
/// Transport profiles Tessera accepts for video: RTP/AVP and RTP/AVPF
/// (RFC 4585 §9).
pub const VIDEO_PROTOS: [&str; 2] = ["RTP/AVP", "RTP/AVPF"];

/// Whether Tessera can take part in `media` as a video stream: video,
/// non-zero port, `RTP/AVP` or `RTP/AVPF`, a single port.
pub(crate) fn is_usable_video(media: &MediaDescription) -> bool {
    media.media.eq_ignore_ascii_case("video")
        && media.port != 0
        && VIDEO_PROTOS
            .iter()
            .any(|proto| media.proto.eq_ignore_ascii_case(proto))
        && matches!(media.num_ports, None | Some(1))
}

/// The `a=rtpmap` of H.264 at payload type `pt`.
fn h264_rtpmap(payload_type: u8) -> RtpMap {
    RtpMap {
        payload_type,
        encoding: H264_ENCODING_NAME.to_owned(),
        clock_rate: H264_CLOCK_RATE,
        channels: None,
    }
}

/// Builds our video media section: per format its rtpmap, fmtp and
/// `feedback` lines, then optional `a=rtcp-mux`, and the direction.
pub(crate) fn video_section(
    port: u16,
    proto: &str,
    formats: &[(u8, H264Params)],
    feedback: FeedbackSupport,
    rtcp_mux: bool,
    direction: Direction,
) -> MediaDescription {
    let numbers = formats.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut media = MediaDescription::new("video", port, proto, numbers);
    let attributes = &mut media.attributes;
    for (pt, params) in formats {
        attributes.push(h264_rtpmap(*pt).to_attribute());
        attributes.push(Attribute::with_value("fmtp", format!("{pt} {params}")));
        attributes.extend(feedback.attributes(*pt));
    }
    if rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    attributes.push(Attribute::flag(direction.attribute_name()));
    media
}

/// Our offer's video section: H.264 Constrained Baseline 3.1 in
/// packetization mode 1 (PT 96) and 0 (PT 97), all feedback.
pub(crate) fn offered_video_section(
    port: u16,
    rtcp_mux: bool,
    direction: Direction,
) -> MediaDescription {
    video_section(
        port,
        VIDEO_OFFER_PROTO,
        &[
            (H264_MODE1_PAYLOAD_TYPE, H264Params::tessera(1)),
            (H264_MODE0_PAYLOAD_TYPE, H264Params::tessera(0)),
        ],
        FeedbackSupport::ALL,
        rtcp_mux,
        direction,
    )
}

/// What Tessera answers for the peer's `offered` H.264 format: the offered
/// profile and packetization mode, which must be kept (RFC 6184 §8.2.2),
/// at our level 3.1, with level asymmetry allowed.
pub(crate) fn answered_params(offered: &H264Params) -> H264Params {
    H264Params {
        profile_level_id: offered
            .profile_level_id
            .with_level_of(ProfileLevelId::CONSTRAINED_BASELINE_3_1),
        ..H264Params::tessera(offered.packetization_mode)
    }
}

/// The limits of what we send: the peer's `theirs`, at the lower of the two
/// levels unless both allow level asymmetry (RFC 6184 §8.2.2).
pub(crate) fn sending_params(theirs: H264Params, ours: &H264Params) -> H264Params {
    if theirs.level_asymmetry_allowed && ours.level_asymmetry_allowed {
        theirs
    } else {
        H264Params {
            profile_level_id: theirs
                .profile_level_id
                .capped_to_level_of(ours.profile_level_id),
            ..theirs
        }
    }
}

/// The H.264 format the peer answered, and ours it corresponds to.
pub(crate) struct AnsweredH264 {
    /// The answer's payload type.
    pub(crate) payload_type: u8,
    /// The answer's parameters for it (ours when it gives no fmtp).
    pub(crate) params: H264Params,
    /// Our offered payload type in the same packetization mode (the same
    /// number unless the peer renumbered it).
    pub(crate) offered_payload_type: u8,
    /// What we offered for it.
    pub(crate) offered: H264Params,
}

/// The H.264 format of the peer's answer `theirs` to our video section
/// `ours`: its first format that is H.264 (by its rtpmap, or by ours when it
/// has none) with an acceptable configuration in a packetization mode we
/// offered.
pub(crate) fn answered_h264(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Option<AnsweredH264> {
    let offered = h264_formats(ours);
    theirs
        .formats
        .iter()
        .filter_map(|f| parse_payload_type(f))
        .find_map(|pt| {
            let same_number = offered.iter().find(|(own, _)| *own == pt);
            let is_h264 = match theirs.rtpmap(pt) {
                Some(map) => {
                    map.encoding.eq_ignore_ascii_case(H264_ENCODING_NAME)
                        && map.clock_rate == H264_CLOCK_RATE
                }
                None => same_number.is_some(),
            };
            if !is_h264 {
                return None;
            }
            let params = match theirs.fmtp(pt) {
                Some(text) => H264Params::parse(text).ok()?,
                None => same_number?.1,
            };
            let same_mode =
                |(_, own): &&(u8, H264Params)| own.packetization_mode == params.packetization_mode;
            let (offered_payload_type, offered) = same_number
                .filter(same_mode)
                .or_else(|| offered.iter().find(same_mode))?;
            params.is_acceptable().then_some(AnsweredH264 {
                payload_type: pt,
                params,
                offered_payload_type: *offered_payload_type,
                offered: *offered,
            })
        })
}

/// What was agreed for one video m-line, before reading the peer's
/// transport.
pub(crate) struct VideoChoice {
    pub(crate) payload_type: u8,
    /// See [`NegotiatedVideo::params`].
    pub(crate) params: H264Params,
    pub(crate) feedback: FeedbackSupport,
    pub(crate) rtcp_mux: bool,
    /// Most we may do: what we offered, or `LocalMedia::direction`.
    pub(crate) local_limit: Direction,
}

/// Completes `choice` with the transport and direction read from media
/// section `index` of the peer's description `remote`.
pub(crate) fn negotiated_video(
    remote: &SessionDescription,
    index: usize,
    choice: VideoChoice,
) -> Result<NegotiatedVideo, NegotiationError> {
    let transport = remote_transport(remote, index, choice.rtcp_mux)?;
    Ok(NegotiatedVideo {
        payload_type: choice.payload_type,
        params: choice.params,
        remote_rtp: transport.rtp,
        remote_rtcp: transport.rtcp,
        rtcp_mux: choice.rtcp_mux,
        direction: transport.our_direction(choice.local_limit),
        nack: choice.feedback.nack,
        pli: choice.feedback.pli,
        fir: choice.feedback.fir,
    })
}
