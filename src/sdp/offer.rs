//! Making an SDP offer and accepting the peer's answer.
//!
//! Used by the UAC (offer in INVITE, answer in 200 OK) and by the UAS when an
//! INVITE arrived without SDP (offer in 200 OK, answer in ACK), per
//! [RFC 3264](https://www.rfc-editor.org/rfc/rfc3264) §5 (generating the
//! offer) and §7 (receiving the answer); video per
//! [RFC 6184 §8.2.2](https://www.rfc-editor.org/rfc/rfc6184#section-8.2.2)
//! and [RFC 4585 §4.2](https://www.rfc-editor.org/rfc/rfc4585#section-4.2).

use super::attributes::parse_payload_type;
use super::audio_media::{
    audio_section, is_usable_audio, negotiated_audio, AudioChoice, EventFormat,
};
use super::codec::{AudioCodec, TelephoneEvent};
use super::feedback::FeedbackSupport;
use super::format_index::FormatIndex;
use super::negotiate::{LocalMedia, NegotiatedAudio, NegotiatedSession, NegotiationError};
use super::session::{MediaDescription, SessionDescription};
use super::video_media::{
    answered_h264, is_usable_video, negotiated_video, offered_video_section, sending_params,
    VideoChoice,
};

/// Builds our offer: one `RTP/AVP` audio m-line listing `local.audio_codecs`
/// in preference order (Opus at PT 111, PCMU 0, PCMA 8), then
/// `telephone-event/48000` at PT 101 if Opus is listed and
/// `telephone-event/8000` at PT 100 if a G.711 codec is, each with fmtp
/// `0-16`; `a=ptime:20`; `a=rtcp-mux` if `local.offer_rtcp_mux`; and
/// `local.direction` (RFC 3264 §5.1). When `local.video_port` is set, an
/// `RTP/AVP` video m-line follows: H.264 `profile-level-id=42e01f` with
/// `level-asymmetry-allowed=1` in packetization mode 1 at PT 96 and mode 0
/// at PT 97, each with `nack`, `nack pli` and `ccm fir` feedback, then
/// rtcp-mux and direction as for audio.
pub fn build_offer(local: &LocalMedia) -> SessionDescription {
    let mut codecs: Vec<(AudioCodec, u8)> = Vec::new();
    for codec in &local.audio_codecs {
        if !codecs.iter().any(|(c, _)| c == codec) {
            codecs.push((*codec, codec.default_payload_type()));
        }
    }
    let mut events: Vec<EventFormat> = Vec::new();
    for clock_rate in TelephoneEvent::CLOCK_RATES.into_iter().rev() {
        if codecs.iter().any(|(c, _)| c.rtp_clock_rate() == clock_rate) {
            events.push(EventFormat {
                event: TelephoneEvent {
                    payload_type: TelephoneEvent::default_payload_type(clock_rate),
                    clock_rate,
                },
                fmtp: Some(TelephoneEvent::DEFAULT_FMTP.to_owned()),
            });
        }
    }
    let mut offer = local.session_skeleton();
    offer.media.push(audio_section(
        local.audio_port,
        &codecs,
        &events,
        local.offer_rtcp_mux,
        local.direction,
    ));
    if let Some(port) = local.video_port {
        offer.media.push(offered_video_section(
            port,
            local.offer_rtcp_mux,
            local.direction,
        ));
    }
    offer
}

/// Reads the peer's `answer` to our `offer_sent` (RFC 3264 §7).
///
/// Takes the first audio m-line the answer accepts (non-zero port) and, in
/// it, the first format that is one of the codecs we offered; likewise the
/// first accepted video m-line and, in it, the first acceptable H.264 format
/// in a packetization mode we offered, with the feedback both sides listed.
/// rtcp-mux only if both descriptions have it. Payload types are the
/// answer's (they are what the peer expects to receive); a dynamic PT
/// without an rtpmap (or, for H.264, an fmtp) in the answer is read with our
/// offer's. Succeeds when audio, video or both were agreed.
pub fn accept_answer(
    offer_sent: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedSession, NegotiationError> {
    // RFC 3264 §6 wants one answer m-line per offered one; some peers (SIPp's built-in UAS
    // among them) leave out streams they do not support, which reads as rejecting them.
    if answer.media.len() > offer_sent.media.len() || answer.media.is_empty() {
        return Err(NegotiationError::MediaCountMismatch {
            offered: offer_sent.media.len(),
            answered: answer.media.len(),
        });
    }
    let mut negotiated = NegotiatedSession::default();
    let mut accepted_by_peer = false;
    for (index, (ours, theirs)) in offer_sent.media.iter().zip(&answer.media).enumerate() {
        if theirs.port == 0 || !theirs.media.eq_ignore_ascii_case(&ours.media) {
            continue;
        }
        if negotiated.audio.is_none() && is_usable_audio(ours) {
            accepted_by_peer = true;
            negotiated.audio = answered_audio(offer_sent, answer, index)?;
        } else if negotiated.video.is_none() && is_usable_video(ours) {
            accepted_by_peer = true;
            let Some(h264) = answered_h264(ours, theirs) else {
                continue;
            };
            let feedback = FeedbackSupport::for_format(theirs, h264.payload_type)
                .intersection(FeedbackSupport::for_format(ours, h264.offered_payload_type));
            negotiated.video = Some(negotiated_video(
                answer,
                index,
                VideoChoice {
                    payload_type: h264.payload_type,
                    params: sending_params(h264.params, &h264.offered),
                    feedback,
                    rtcp_mux: ours.rtcp_mux() && theirs.rtcp_mux(),
                    local_limit: offer_sent.media_direction(index).unwrap_or_default(),
                },
            )?);
        }
    }
    if !negotiated.is_empty() {
        Ok(negotiated)
    } else if accepted_by_peer {
        Err(NegotiationError::NoCommonCodec)
    } else {
        Err(NegotiationError::NoAcceptableMedia)
    }
}

/// Reads the accepted audio m-line `index` of the peer's `answer`; `None`
/// if it has no codec we offered.
fn answered_audio(
    offer_sent: &SessionDescription,
    answer: &SessionDescription,
    index: usize,
) -> Result<Option<NegotiatedAudio>, NegotiationError> {
    let (Some(ours), Some(theirs)) = (offer_sent.media.get(index), answer.media.get(index)) else {
        return Ok(None);
    };
    let Some((codec, payload_type)) = first_offered_codec(ours, theirs) else {
        return Ok(None);
    };
    let offered_event_rates: Vec<u32> = TelephoneEvent::offered_in(ours)
        .iter()
        .map(|te| te.clock_rate)
        .collect();
    let telephone_event = TelephoneEvent::choose(theirs, codec.rtp_clock_rate())
        .filter(|te| offered_event_rates.contains(&te.clock_rate));
    let audio = negotiated_audio(
        answer,
        index,
        AudioChoice {
            codec,
            payload_type,
            telephone_event,
            rtcp_mux: ours.rtcp_mux() && theirs.rtcp_mux(),
            local_limit: offer_sent.media_direction(index).unwrap_or_default(),
        },
    )?;
    Ok(Some(audio))
}

/// The first format of `theirs` that carries a codec we listed in `ours`.
fn first_offered_codec(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Option<(AudioCodec, u8)> {
    let index = FormatIndex::of(theirs);
    theirs
        .formats
        .iter()
        .filter_map(|f| parse_payload_type(f))
        .find_map(|pt| {
            let codec = match index.rtpmap(pt) {
                Some(map) => AudioCodec::from_rtpmap(map),
                None => AudioCodec::for_payload_type(ours, pt),
            }?;
            codec.payload_type_in(ours).map(|_| (codec, pt))
        })
}
