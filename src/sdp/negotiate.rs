//! Offer/answer data model shared by the answering and offering sides.
//!
//! Owns what we bring to a negotiation ([`LocalMedia`]), what comes out of it
//! ([`NegotiatedSession`], [`NegotiatedAudio`]), the error with its SIP status
//! ([`NegotiationError`]), and the helpers both sides use to build an audio
//! media section and to read the peer's transport (RFC 3264 §5, §6, §8;
//! RFC 3605; RFC 5761).
//!
//! The procedures live in [`super::answer`] (UAS receiving an offer) and
//! [`super::offer`] (we offer, the peer answers). Each media kind is handled
//! by its own function and stored in its own `Option` field, so adding video
//! means one more field here and one more arm in the per-m-line dispatch.

use std::net::{IpAddr, SocketAddr};

use super::attributes::fmtp_parameter;
use super::codec::{AudioCodec, TelephoneEvent};
use super::direction::Direction;
use super::parse::SdpError;
use super::session::{Attribute, Connection, MediaDescription, Origin, SessionDescription};

/// Transport profile Tessera accepts for audio (RFC 3551).
pub const AUDIO_PROTO: &str = "RTP/AVP";
/// Packetisation time Tessera sends and asks for, in milliseconds.
pub const PTIME_MS: u32 = 20;
/// Opus fmtp Tessera puts in offers and answers (RFC 7587 §6.1).
pub const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";
/// `o=` user name and `s=` session name in descriptions Tessera builds.
pub const SESSION_NAME: &str = "tessera";

/// What Tessera brings to a negotiation for one call leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address we receive media on; goes into `o=` and `c=`.
    pub address: IpAddr,
    /// `o=` session id; keep it for the whole dialog (RFC 3264 §8).
    pub session_id: u64,
    /// `o=` session version; bump it (see [`LocalMedia::bump_session_version`])
    /// before building any new offer or answer that changes the description
    /// (RFC 3264 §8).
    pub session_version: u64,
    /// Local RTP port for audio. RTCP is received on `audio_port + 1` unless
    /// rtcp-mux is negotiated.
    pub audio_port: u16,
    /// Supported codecs, most preferred first.
    pub audio_codecs: Vec<AudioCodec>,
    /// Whether our offers include `a=rtcp-mux` (RFC 5761 §5.1.1).
    pub offer_rtcp_mux: bool,
    /// The most we are willing to do: `SendRecv` normally, `SendOnly` to put
    /// the peer on hold, `Inactive` to stop media (RFC 3264 §8.4). Offers
    /// print it as is; answers narrow the RFC 3264 §6.1 answer to it.
    pub direction: Direction,
}

impl LocalMedia {
    /// A leg with every supported codec, rtcp-mux offered, `sendrecv`, and
    /// `session_version == session_id` (the RFC 8866 §5.2 suggestion of using
    /// one NTP timestamp for both).
    pub fn new(address: IpAddr, session_id: u64, audio_port: u16) -> Self {
        LocalMedia {
            address,
            session_id,
            session_version: session_id,
            audio_port,
            audio_codecs: AudioCodec::ALL.to_vec(),
            offer_rtcp_mux: true,
            direction: Direction::SendRecv,
        }
    }

    /// Increments `session_version` for a changed re-offer or re-answer,
    /// keeping `session_id` (RFC 3264 §8).
    pub fn bump_session_version(&mut self) {
        self.session_version = self.session_version.wrapping_add(1);
    }

    /// A description with our `o=`, `s=`, `c=`, `t=0 0` and no media.
    pub(crate) fn session_skeleton(&self) -> SessionDescription {
        let addr_type = match self.address {
            IpAddr::V4(_) => "IP4",
            IpAddr::V6(_) => "IP6",
        };
        SessionDescription {
            version: 0,
            origin: Origin {
                username: SESSION_NAME.to_owned(),
                session_id: self.session_id,
                session_version: self.session_version,
                net_type: "IN".to_owned(),
                addr_type: addr_type.to_owned(),
                address: self.address.to_string(),
            },
            session_name: SESSION_NAME.to_owned(),
            connection: Some(Connection {
                address: self.address,
            }),
            bandwidths: Vec::new(),
            times: vec![(0, 0)],
            attributes: Vec::new(),
            other_lines: Vec::new(),
            media: Vec::new(),
        }
    }
}

/// The negotiated audio stream of a call leg. Deliberately not `Copy`, so
/// that codec parameters can be added without breaking callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Codec to send and expect.
    pub codec: AudioCodec,
    /// RTP payload type of `codec`, as numbered by the peer's description
    /// (use it when sending; in an answer we echo the offer's numbers).
    pub payload_type: u8,
    /// RFC 4733 DTMF events, if both sides have them. Its clock rate may
    /// differ from the codec's when the peer only offered the other rate.
    pub telephone_event: Option<TelephoneEvent>,
    /// Where to send RTP. May be `0.0.0.0:port` when the peer holds the call
    /// the RFC 2543 way; `direction` then never sends.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: `remote_rtp` with rtcp-mux, else `a=rtcp`
    /// (RFC 3605), else the RTP port + 1 (RFC 3550 §11).
    pub remote_rtcp: SocketAddr,
    /// RTP and RTCP share `audio_port` on both sides (RFC 5761).
    pub rtcp_mux: bool,
    /// OUR direction: whether we send to and expect media from the peer.
    pub direction: Direction,
    /// The peer's `a=ptime`, if it gave one.
    pub ptime_ms: Option<u32>,
    /// The peer asked for Opus in-band FEC (`useinbandfec=1`, RFC 7587 §6.1).
    pub opus_inband_fec: bool,
}

impl NegotiatedAudio {
    /// Payload type of the negotiated telephone-event, if any.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.telephone_event.map(|te| te.payload_type)
    }
}

/// Everything negotiated for a call leg; one field per media kind (video
/// will be added next to `audio`). Not `Copy`, for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedSession {
    /// The audio stream; `Some` whenever negotiation succeeded (until video
    /// exists, there is nothing else to accept).
    pub audio: Option<NegotiatedAudio>,
}

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No RTP/AVP audio m-line with a non-zero port.
    #[error("no acceptable audio media section")]
    NoAudio,
    /// Audio was offered, but with none of our codecs.
    #[error("no audio codec in common")]
    NoCommonCodec,
    /// The chosen media section has no `c=`, neither media- nor session-level.
    #[error("media section {index} has no connection address (c=)")]
    MissingConnection {
        /// 0-based index of the media section.
        index: usize,
    },
    /// RTCP would go to `port + 1`, which does not exist.
    #[error("media section {index}: RTP port {port} leaves no port for RTCP")]
    NoRtcpPort {
        /// 0-based index of the media section.
        index: usize,
        /// The RTP port.
        port: u16,
    },
    /// The answer does not have one m-line per offered m-line (RFC 3264 §6).
    #[error("answer has {answered} media sections, the offer had {offered}")]
    MediaCountMismatch {
        /// m-lines in the offer.
        offered: usize,
        /// m-lines in the answer.
        answered: usize,
    },
    /// The SDP text itself is malformed.
    #[error(transparent)]
    Sdp(#[from] SdpError),
}

impl NegotiationError {
    /// SIP response status for a UAS rejecting the offer with this error:
    /// 488 Not Acceptable Here (RFC 3261 §21.4.26) for media we cannot do,
    /// 400 Bad Request for a malformed description.
    pub fn sip_status(&self) -> u16 {
        match self {
            NegotiationError::NoAudio
            | NegotiationError::NoCommonCodec
            | NegotiationError::NoRtcpPort { .. } => 488,
            NegotiationError::MissingConnection { .. }
            | NegotiationError::MediaCountMismatch { .. }
            | NegotiationError::Sdp(_) => 400,
        }
    }
}

/// Whether Tessera can take part in `media` as an audio stream: audio,
/// non-zero port, plain `RTP/AVP`, a single port.
pub(crate) fn is_usable_audio(media: &MediaDescription) -> bool {
    media.media.eq_ignore_ascii_case("audio")
        && media.port != 0
        && media.proto.eq_ignore_ascii_case(AUDIO_PROTO)
        && matches!(media.num_ports, None | Some(1))
}

/// Whether `address` is the RFC 2543 hold marker (RFC 3264 §8.4).
pub(crate) fn is_hold_address(address: IpAddr) -> bool {
    address.is_unspecified()
}

/// The copy of an offered m-line that rejects it: port 0, same media, proto
/// and formats, nothing else (RFC 3264 §6).
pub(crate) fn rejected(offered: &MediaDescription) -> MediaDescription {
    MediaDescription::new(&offered.media, 0, &offered.proto, offered.formats.clone())
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
    let missing = NegotiationError::MissingConnection { index };
    let media = remote.media.get(index).ok_or(missing.clone())?;
    let address = remote.media_connection(index).ok_or(missing)?.address;
    let remote_rtp = SocketAddr::new(address, media.port);
    let remote_rtcp = if choice.rtcp_mux {
        remote_rtp
    } else if let Some((port, rtcp_address)) = media.rtcp() {
        SocketAddr::new(rtcp_address.unwrap_or(address), port)
    } else {
        let port = media
            .port
            .checked_add(1)
            .ok_or(NegotiationError::NoRtcpPort {
                index,
                port: media.port,
            })?;
        SocketAddr::new(address, port)
    };
    // The peer's direction, narrowed when c= is the hold address: it then
    // does not want to receive anything (RFC 3264 §8.4).
    let mut peer = remote.media_direction(index).unwrap_or_default();
    if is_hold_address(address) {
        peer = peer.without_receiving();
    }
    let opus_inband_fec = choice.codec == AudioCodec::Opus
        && media
            .fmtp(choice.payload_type)
            .and_then(|params| fmtp_parameter(params, "useinbandfec"))
            == Some("1");
    Ok(NegotiatedAudio {
        codec: choice.codec,
        payload_type: choice.payload_type,
        telephone_event: choice.telephone_event,
        remote_rtp,
        remote_rtcp,
        rtcp_mux: choice.rtcp_mux,
        direction: Direction::answer_to(peer).restricted_to(choice.local_limit),
        ptime_ms: media.ptime(),
        opus_inband_fec,
    })
}
