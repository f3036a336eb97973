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
//! - [`negotiate`], [`answer`], [`offer`] — offer/answer (RFC 3264).

pub mod answer;
pub mod attributes;
pub mod codec;
pub mod direction;
pub mod negotiate;
pub mod offer;
pub mod parse;
pub mod session;

#[cfg(test)]
mod tests;

pub use answer::answer_offer;
pub use attributes::{fmtp_parameter, RtpMap};
pub use codec::{AudioCodec, TelephoneEvent};
pub use direction::Direction;
pub use negotiate::{LocalMedia, NegotiatedAudio, NegotiatedSession, NegotiationError};
pub use offer::{accept_answer, build_offer};
pub use parse::SdpError;
pub use session::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, OtherLine, SessionDescription,
};
