//! Answering an SDP offer (the UAS receiving an INVITE or re-INVITE with SDP).
//!
//! Implements RFC 3264 §6 and §6.1: one answer m-line per offered m-line, in
//! order; the first usable audio m-line is accepted with our preferred common
//! codec under the offerer's payload type numbers; every other m-line is
//! rejected with port 0. Holds (RFC 3264 §8.4), `a=rtcp` (RFC 3605) and
//! rtcp-mux (RFC 5761 §5.1.1) are honoured.

use super::codec::{AudioCodec, TelephoneEvent};
use super::negotiate::{
    audio_section, is_usable_audio, negotiated_audio, rejected, AudioChoice, EventFormat,
    LocalMedia, NegotiatedAudio, NegotiatedSession, NegotiationError,
};
use super::session::{MediaDescription, SessionDescription};

/// Answers `offer` for the leg described by `local`.
///
/// Returns the answer to send and what was agreed. Errors carry the SIP
/// status to reject the offer with ([`NegotiationError::sip_status`]). For a
/// re-INVITE, call it again with the same `session_id` and a bumped
/// `session_version` (RFC 3264 §8).
pub fn answer_offer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, NegotiatedSession), NegotiationError> {
    let mut answer = local.session_skeleton();
    let mut negotiated = NegotiatedSession::default();
    let mut audio_offered = false;
    for (index, offered) in offer.media.iter().enumerate() {
        let accepted = if negotiated.audio.is_none() && is_usable_audio(offered) {
            audio_offered = true;
            accept_audio(offer, index, local)?
        } else {
            None
        };
        let section = match accepted {
            Some((section, audio)) => {
                negotiated.audio = Some(audio);
                section
            }
            None => rejected(offered),
        };
        answer.media.push(section);
    }
    match negotiated.audio {
        Some(_) => Ok((answer, negotiated)),
        None if audio_offered => Err(NegotiationError::NoCommonCodec),
        None => Err(NegotiationError::NoAudio),
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
    // Echo the offerer's telephone-event PT and fmtp (RFC 3264 §6.1).
    let events: Vec<EventFormat> = telephone_event
        .map(|event| EventFormat {
            event,
            fmtp: offered.fmtp(event.payload_type).map(str::to_owned),
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
