//! Audio media sections in offer/answer: which offered audio m-lines are
//! usable, how Tessera writes its own (rtpmap, Opus fmtp of
//! [RFC 7587 §6.1](https://www.rfc-editor.org/rfc/rfc7587#section-6.1),
//! telephone-events of [RFC 4733](https://www.rfc-editor.org/rfc/rfc4733),
//! `a=ptime`, rtcp-mux of [RFC 5761](https://www.rfc-editor.org/rfc/rfc5761),
//! direction), and what it reads back from the peer's ([`NegotiatedAudio`]).
//!
//! Used by both [`super::answer`] and [`super::offer`]; the transport part is
//! shared with video in [`super::negotiate`].

use super::attributes::fmtp_parameter;
use super::codec::{AudioCodec, TelephoneEvent};
use super::direction::Direction;
use super::negotiate::{
    remote_transport, NegotiatedAudio, NegotiationError, AUDIO_PROTO, OPUS_FMTP, PTIME_MS,
};
use super::session::{Attribute, MediaDescription, SessionDescription};

/// Whether Tessera can take part in `media` as an audio stream: audio,
/// non-zero port, plain `RTP/AVP`, a single port.
pub(crate) fn is_usable_audio(media: &MediaDescription) -> bool {
    media.media.eq_ignore_ascii_case("audio")
        && media.port != 0
        && media.proto.eq_ignore_ascii_case(AUDIO_PROTO)
        && matches!(media.num_ports, None | Some(1))
}

/// A telephone-event to list in an audio section, with its fmtp.
pub(crate) struct EventFormat {
    pub(crate) event: TelephoneEvent,
    pub(crate) fmtp: Option<String>,
}

/// Builds our audio media section: rtpmap (and Opus fmtp) per codec, the
/// telephone-events, `a=ptime`, optional `a=rtcp-mux`, and the direction.
pub(crate) fn audio_section(
    port: u16,
    codecs: &[(AudioCodec, u8)],
    events: &[EventFormat],
    rtcp_mux: bool,
    direction: Direction,
) -> MediaDescription {
    let formats = codecs
        .iter()
        .map(|(_, pt)| *pt)
        .chain(events.iter().map(|e| e.event.payload_type))
        .map(|pt| pt.to_string())
        .collect();
    let mut media = MediaDescription::new("audio", port, AUDIO_PROTO, formats);
    let attributes = &mut media.attributes;
    for (codec, pt) in codecs {
        attributes.push(codec.rtpmap(*pt).to_attribute());
        if *codec == AudioCodec::Opus {
            attributes.push(Attribute::with_value("fmtp", format!("{pt} {OPUS_FMTP}")));
        }
    }
    for EventFormat { event, fmtp } in events {
        attributes.push(event.rtpmap().to_attribute());
        if let Some(params) = fmtp {
            let pt = event.payload_type;
            attributes.push(Attribute::with_value("fmtp", format!("{pt} {params}")));
        }
    }
    attributes.push(Attribute::with_value("ptime", PTIME_MS.to_string()));
    if rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    attributes.push(Attribute::flag(direction.attribute_name()));
    media
}

/// What was agreed for one audio m-line, before reading the peer's transport.
pub(crate) struct AudioChoice {
    pub(crate) codec: AudioCodec,
    pub(crate) payload_type: u8,
    pub(crate) telephone_event: Option<TelephoneEvent>,
    pub(crate) rtcp_mux: bool,
    /// Most we may do: what we offered, or `LocalMedia::direction`.
    pub(crate) local_limit: Direction,
}

/// Completes `choice` with the transport, direction, ptime and FEC read from
/// media section `index` of the peer's description `remote`.
pub(crate) fn negotiated_audio(
    remote: &SessionDescription,
    index: usize,
    choice: AudioChoice,
) -> Result<NegotiatedAudio, NegotiationError> {
    let transport = remote_transport(remote, index, choice.rtcp_mux)?;
    let media = remote
        .media
        .get(index)
        .ok_or(NegotiationError::MissingConnection { index })?;
    let opus_inband_fec = choice.codec == AudioCodec::Opus
        && media
            .fmtp(choice.payload_type)
            .and_then(|params| fmtp_parameter(params, "useinbandfec"))
            == Some("1");
    Ok(NegotiatedAudio {
        codec: choice.codec,
        payload_type: choice.payload_type,
        telephone_event: choice.telephone_event,
        remote_rtp: transport.rtp,
        remote_rtcp: transport.rtcp,
        rtcp_mux: choice.rtcp_mux,
        direction: transport.our_direction(choice.local_limit),
        ptime_ms: media.ptime(),
        opus_inband_fec,
    })
}
