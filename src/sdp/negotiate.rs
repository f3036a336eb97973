//! Offer/answer data model shared by the answering and offering sides.
//!
//! Owns what we bring to a negotiation ([`LocalMedia`]), what comes out of it
//! ([`NegotiatedSession`], [`NegotiatedAudio`], [`NegotiatedVideo`]), the
//! error with its SIP status ([`NegotiationError`]), and the helpers shared
//! by all media kinds: rejecting an m-line and reading the peer's transport
//! ([RFC 3264](https://www.rfc-editor.org/rfc/rfc3264) §5, §6, §8;
//! [RFC 3605](https://www.rfc-editor.org/rfc/rfc3605);
//! [RFC 5761](https://www.rfc-editor.org/rfc/rfc5761)).
//!
//! The procedures live in [`super::answer`] (UAS receiving an offer) and
//! [`super::offer`] (we offer, the peer answers); per-kind section builders
//! and readers live in the private `audio_media` and `video_media` modules.
//! Each media kind is handled by its own functions and stored in its own
//! `Option` field.

use std::net::{IpAddr, SocketAddr};

use super::codec::{AudioCodec, TelephoneEvent};
use super::direction::Direction;
use super::parse::SdpError;
use super::session::{Connection, MediaDescription, Origin, SessionDescription};
use super::video::H264Params;

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
    /// Local RTP port for H.264 video, RTCP on `video_port + 1` unless
    /// rtcp-mux is negotiated; `None` (the default) when this leg does no
    /// video: offers then have no video m-line and answers reject video.
    pub video_port: Option<u16>,
    /// Whether our offers include `a=rtcp-mux` (RFC 5761 §5.1.1), for every
    /// media section.
    pub offer_rtcp_mux: bool,
    /// The most we are willing to do, for audio and video alike: `SendRecv`
    /// normally, `SendOnly` to put the peer on hold, `Inactive` to stop
    /// media (RFC 3264 §8.4). Offers print it as is; answers narrow the
    /// RFC 3264 §6.1 answer to it.
    pub direction: Direction,
}

impl LocalMedia {
    /// An audio-only leg with every supported codec, rtcp-mux offered,
    /// `sendrecv`, and `session_version == session_id` (the RFC 8866 §5.2
    /// suggestion of using one NTP timestamp for both). Set `video_port` to
    /// add video.
    pub fn new(address: IpAddr, session_id: u64, audio_port: u16) -> Self {
        LocalMedia {
            address,
            session_id,
            session_version: session_id,
            audio_port,
            audio_codecs: AudioCodec::ALL.to_vec(),
            video_port: None,
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

/// The negotiated H.264 video stream of a call leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedVideo {
    /// RTP payload type of H.264, as numbered by the peer's description.
    pub payload_type: u8,
    /// The peer's parameters for `payload_type`, i.e. the limits of what we
    /// send: its profile, its level (capped to ours unless both sides allow
    /// level asymmetry, RFC 6184 §8.2.2), max-fs and max-mbps. The
    /// packetization mode is the agreed one, used in both directions.
    pub params: H264Params,
    /// Where to send RTP (may be the `0.0.0.0` hold address, see audio).
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP, as for audio.
    pub remote_rtcp: SocketAddr,
    /// RTP and RTCP share `video_port` on both sides (RFC 5761).
    pub rtcp_mux: bool,
    /// OUR direction for video.
    pub direction: Direction,
    /// Generic NACK (RFC 4585 §6.2.1) agreed by both sides.
    pub nack: bool,
    /// Picture Loss Indication (RFC 4585 §6.3.1) agreed by both sides.
    pub pli: bool,
    /// Full Intra Request (RFC 5104 §3.5.1) agreed by both sides.
    pub fir: bool,
}

/// Everything negotiated for a call leg; one field per media kind. A
/// successful negotiation has at least one of them. Not `Copy`, for the
/// same reason as [`NegotiatedAudio`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedSession {
    /// The audio stream, if one was accepted.
    pub audio: Option<NegotiatedAudio>,
    /// The video stream, if one was accepted (only when
    /// [`LocalMedia::video_port`] is set).
    pub video: Option<NegotiatedVideo>,
}

impl NegotiatedSession {
    /// Whether no media at all was agreed.
    pub fn is_empty(&self) -> bool {
        self.audio.is_none() && self.video.is_none()
    }
}

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No usable media section at all: no `RTP/AVP` audio, nor (when we do
    /// video) `RTP/AVP` or `RTP/AVPF` video, with a non-zero port.
    #[error("no acceptable media section")]
    NoAcceptableMedia,
    /// Usable audio or video was offered (or answered), but none with a
    /// codec or H.264 configuration we support.
    #[error("no codec in common")]
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
            NegotiationError::NoAcceptableMedia
            | NegotiationError::NoCommonCodec
            | NegotiationError::NoRtcpPort { .. } => 488,
            NegotiationError::MissingConnection { .. }
            | NegotiationError::MediaCountMismatch { .. }
            | NegotiationError::Sdp(_) => 400,
        }
    }
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

/// The peer's side of one media section.
pub(crate) struct RemoteTransport {
    pub(crate) rtp: SocketAddr,
    pub(crate) rtcp: SocketAddr,
    /// The peer's direction, narrowed when c= is the hold address: it then
    /// does not want to receive anything (RFC 3264 §8.4).
    pub(crate) peer_direction: Direction,
}

impl RemoteTransport {
    /// OUR direction: the RFC 3264 §6.1 mirror of the peer's, narrowed to
    /// `local_limit`.
    pub(crate) fn our_direction(&self, local_limit: Direction) -> Direction {
        Direction::answer_to(self.peer_direction).restricted_to(local_limit)
    }
}

/// Reads where media section `index` of `remote` receives RTP and RTCP, and
/// its direction.
pub(crate) fn remote_transport(
    remote: &SessionDescription,
    index: usize,
    rtcp_mux: bool,
) -> Result<RemoteTransport, NegotiationError> {
    let missing = NegotiationError::MissingConnection { index };
    let media = remote.media.get(index).ok_or(missing.clone())?;
    let address = remote.media_connection(index).ok_or(missing)?.address;
    let rtp = SocketAddr::new(address, media.port);
    let rtcp = if rtcp_mux {
        rtp
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
    let mut peer_direction = remote.media_direction(index).unwrap_or_default();
    if is_hold_address(address) {
        peer_direction = peer_direction.without_receiving();
    }
    Ok(RemoteTransport {
        rtp,
        rtcp,
        peer_direction,
    })
}
