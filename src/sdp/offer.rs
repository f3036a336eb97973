//! Making an SDP offer and accepting the peer's answer.
//!
//! Used by the UAC (offer in INVITE, answer in 200 OK) and by the UAS when an
//! INVITE arrived without SDP (offer in 200 OK, answer in ACK), per
//! RFC 3264 §5 (generating the offer) and §7 (receiving the answer).

use super::attributes::parse_payload_type;
use super::codec::{AudioCodec, TelephoneEvent};
use super::negotiate::{
    audio_section, is_usable_audio, negotiated_audio, AudioChoice, EventFormat, LocalMedia,
    NegotiatedSession, NegotiationError,
};
use super::session::{MediaDescription, SessionDescription};

/// Builds our offer: one `RTP/AVP` audio m-line listing `local.audio_codecs`
/// in preference order (Opus at PT 111, PCMU 0, PCMA 8), then
/// `telephone-event/48000` at PT 101 if Opus is listed and
/// `telephone-event/8000` at PT 100 if a G.711 codec is, each with fmtp
/// `0-16`; `a=ptime:20`; `a=rtcp-mux` if `local.offer_rtcp_mux`; and
/// `local.direction` (RFC 3264 §5.1).
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
    offer
}

/// Reads the peer's `answer` to our `offer_sent` (RFC 3264 §7).
///
/// Takes the first audio m-line the answer accepts (non-zero port) and, in
/// it, the first format that is one of the codecs we offered; rtcp-mux only
/// if both descriptions have it. Payload types are the answer's (they are
/// what the peer expects to receive); a dynamic PT without an rtpmap in the
/// answer is read with our offer's mapping.
pub fn accept_answer(
    offer_sent: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedSession, NegotiationError> {
    if offer_sent.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offered: offer_sent.media.len(),
            answered: answer.media.len(),
        });
    }
    let mut audio_accepted_by_peer = false;
    for (index, (ours, theirs)) in offer_sent.media.iter().zip(&answer.media).enumerate() {
        if !is_usable_audio(ours) || !theirs.media.eq_ignore_ascii_case("audio") || theirs.port == 0
        {
            continue;
        }
        audio_accepted_by_peer = true;
        let Some((codec, payload_type)) = first_offered_codec(ours, theirs) else {
            continue;
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
        return Ok(NegotiatedSession { audio: Some(audio) });
    }
    Err(if audio_accepted_by_peer {
        NegotiationError::NoCommonCodec
    } else {
        NegotiationError::NoAudio
    })
}

/// The first format of `theirs` that carries a codec we listed in `ours`.
fn first_offered_codec(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Option<(AudioCodec, u8)> {
    theirs
        .formats
        .iter()
        .filter_map(|f| parse_payload_type(f))
        .find_map(|pt| {
            let codec = match theirs.rtpmap(pt) {
                Some(map) => AudioCodec::from_rtpmap(&map),
                None => AudioCodec::for_payload_type(ours, pt),
            }?;
            codec.payload_type_in(ours).map(|_| (codec, pt))
        })
}
