//! SDP for Tessera: the wire format and the offer/answer model.
//!
//! - [`session`] — session description types and canonical printing
//!   (RFC 8866 §5, formerly RFC 4566);
//! - [`parse`] — the parser and [`SdpError`];
//! - [`attributes`] — rtpmap, fmtp, direction, ptime, `a=rtcp` (RFC 3605)
//!   and rtcp-mux (RFC 5761) accessors;
//! - [`direction`] — `sendrecv`/`sendonly`/`recvonly`/`inactive`
//!   (RFC 3264 §6.1);
//! - [`codec`] — Opus (RFC 7587), PCMU/PCMA (RFC 3551), telephone-event
//!   (RFC 4733);
//! - [`video`] — H.264 fmtp parameters and profiles
//!   ([RFC 6184](https://www.rfc-editor.org/rfc/rfc6184) §8.1, §8.2.2);
//! - [`feedback`] — `a=rtcp-fb` ([RFC 4585](https://www.rfc-editor.org/rfc/rfc4585)
//!   §4.2, [RFC 5104](https://www.rfc-editor.org/rfc/rfc5104) §7.1);
//! - [`negotiate`], [`answer`], [`offer`] — offer/answer (RFC 3264), with the
//!   per-kind section helpers in `audio_media` and `video_media`.

pub mod answer;
pub mod attributes;
mod audio_media;
pub mod codec;
pub mod direction;
pub mod feedback;
pub mod format_index;
pub mod negotiate;
pub mod offer;
pub mod parse;
pub mod session;
pub mod video;
mod video_media;

#[cfg(test)]
mod tests;

pub use answer::answer_offer;
pub use attributes::{fmtp_parameter, RtpMap};
pub use codec::{AudioCodec, TelephoneEvent};
pub use direction::Direction;
pub use feedback::{FeedbackSupport, RtcpFeedback};
pub use negotiate::{
    LocalMedia, NegotiatedAudio, NegotiatedSession, NegotiatedVideo, NegotiationError,
};
pub use offer::{accept_answer, build_offer};
pub use parse::SdpError;
pub use session::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, OtherLine, SessionDescription,
};
pub use video::{H264Params, H264ParamsError, ProfileLevelId};
