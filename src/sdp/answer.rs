//! Answering an SDP offer (the UAS receiving an INVITE or re-INVITE with SDP).
//!
//! Implements [RFC 3264](https://www.rfc-editor.org/rfc/rfc3264) §6 and
//! §6.1: one answer m-line per offered m-line, in order; the first usable
//! audio m-line is accepted with our preferred common codec under the
//! offerer's payload type numbers; when we do video, the first usable video
//! m-line with an acceptable H.264 format is accepted (RFC 6184 §8.2.2,
//! RFC 4585 §4.2); every other m-line is rejected with port 0. Holds
//! (RFC 3264 §8.4), `a=rtcp` (RFC 3605) and rtcp-mux (RFC 5761 §5.1.1) are
//! honoured.

use super::audio_media::{
    audio_section, is_usable_audio, negotiated_audio, AudioChoice, EventFormat,
};
use super::codec::{AudioCodec, TelephoneEvent};
use super::feedback::FeedbackSupport;
use super::negotiate::{
    rejected, LocalMedia, NegotiatedAudio, NegotiatedSession, NegotiatedVideo, NegotiationError,
};
use super::session::{MediaDescription, SessionDescription};
use super::video::preferred_h264;
use super::video_media::{
    answered_params, is_usable_video, negotiated_video, sending_params, video_section, VideoChoice,
};

/// Answers `offer` for the leg described by `local`.
///
/// Returns the answer to send and what was agreed: audio, video, or both,
/// never neither. Errors carry the SIP status to reject the offer with
/// ([`NegotiationError::sip_status`]). For a re-INVITE, call it again with
/// the same `session_id` and a bumped `session_version` (RFC 3264 §8).
pub fn answer_offer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, NegotiatedSession), NegotiationError> {
    let mut answer = local.session_skeleton();
    let mut negotiated = NegotiatedSession::default();
    let mut usable_offered = false;
    for (index, offered) in offer.media.iter().enumerate() {
        let mut section = None;
        if negotiated.audio.is_none() && is_usable_audio(offered) {
            usable_offered = true;
            if let Some((accepted, audio)) = accept_audio(offer, index, local)? {
                negotiated.audio = Some(audio);
                section = Some(accepted);
            }
        } else if negotiated.video.is_none() && is_usable_video(offered) {
            if let Some(port) = local.video_port {
                usable_offered = true;
                if let Some((accepted, video)) = accept_video(offer, index, local, port)? {
                    negotiated.video = Some(video);
                    section = Some(accepted);
                }
            }
        }
        answer
            .media
            .push(section.unwrap_or_else(|| rejected(offered)));
    }
    if !negotiated.is_empty() {
        Ok((answer, negotiated))
    } else if usable_offered {
        Err(NegotiationError::NoCommonCodec)
    } else {
        Err(NegotiationError::NoAcceptableMedia)
    }
}

/// Accepts audio m-line `index` of `offer` if it has a codec in common with
/// `local`; `Ok(None)` if it has none, so that a later one may be tried.
fn accept_audio(
    offer: &SessionDescription,
    index: usize,
    local: &LocalMedia,
) -> Result<Option<(MediaDescription, NegotiatedAudio)>, NegotiationError> {
    let Some(offered) = offer.media.get(index) else {
        return Ok(None);
    };
    let Some((codec, payload_type)) = preferred_common_codec(offered, &local.audio_codecs) else {
        return Ok(None);
    };
    let telephone_event = TelephoneEvent::choose(offered, codec.rtp_clock_rate());
    // RFC 5761 §5.1.1: the answerer includes a=rtcp-mux only if offered.
    let rtcp_mux = offered.rtcp_mux();
    let audio = negotiated_audio(
        offer,
        index,
        AudioChoice {
            codec,
            payload_type,
            telephone_event,
            rtcp_mux,
            local_limit: local.direction,
        },
    )?;
    // Echo the offerer's telephone-event PT and fmtp (RFC 3264 §6.1). An fmtp without
    // parameters is not echoed: `a=fmtp:101 ` is no valid line (RFC 8866 §6.15 wants at
    // least one byte of parameters) and did not parse back as it was printed.
    let events: Vec<EventFormat> = telephone_event
        .map(|event| EventFormat {
            event,
            fmtp: offered
                .fmtp(event.payload_type)
                .filter(|params| !params.is_empty())
                .map(str::to_owned),
        })
        .into_iter()
        .collect();
    let section = audio_section(
        local.audio_port,
        &[(codec, payload_type)],
        &events,
        rtcp_mux,
        audio.direction,
    );
    Ok(Some((section, audio)))
}

/// Accepts video m-line `index` of `offer` on our `port` if it has an
/// acceptable H.264 format (packetization mode 1 preferred); `Ok(None)` if it
/// has none. The answer keeps the offer's proto, payload type, profile and
/// mode, and lists the offered feedback among nack, pli and fir.
fn accept_video(
    offer: &SessionDescription,
    index: usize,
    local: &LocalMedia,
    port: u16,
) -> Result<Option<(MediaDescription, NegotiatedVideo)>, NegotiationError> {
    let Some(offered) = offer.media.get(index) else {
        return Ok(None);
    };
    let Some((payload_type, theirs)) = preferred_h264(offered) else {
        return Ok(None);
    };
    let ours = answered_params(&theirs);
    let feedback = FeedbackSupport::for_format(offered, payload_type);
    let rtcp_mux = offered.rtcp_mux();
    let video = negotiated_video(
        offer,
        index,
        VideoChoice {
            payload_type,
            params: sending_params(theirs, &ours),
            feedback,
            rtcp_mux,
            local_limit: local.direction,
        },
    )?;
    let section = video_section(
        port,
        &offered.proto,
        &[(payload_type, ours)],
        feedback,
        rtcp_mux,
        video.direction,
    );
    Ok(Some((section, video)))
}

/// Our most preferred codec among those offered, with the offer's payload
/// type for it.
fn preferred_common_codec(
    offered: &MediaDescription,
    preference: &[AudioCodec],
) -> Option<(AudioCodec, u8)> {
    preference
        .iter()
        .find_map(|codec| codec.payload_type_in(offered).map(|pt| (*codec, pt)))
}
