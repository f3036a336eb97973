//! H.264 over RTP (RFC 6184, <https://www.rfc-editor.org/rfc/rfc6184>).
//!
//! Sans-IO building blocks for the video path of the MCU:
//! - [`nal`]: NAL unit header and Annex-B helpers (RFC 6184 §1.3);
//! - [`H264Depacketizer`]: RTP packets → access units with loss detection and
//!   keyframe-request signalling (§5.6, §5.7.1, §5.8);
//! - [`H264Packetizer`]: access units → RTP payloads within an MTU, with
//!   SPS/PPS re-sent before every IDR (§5.6, §5.7.1, §5.8);
//! - [`RtpPayloads`]: the reusable payload arena the packetizer writes into.
//!
//! Only the non-interleaved packetization modes are supported
//! (packetization-mode 0 and 1, §6.2–§6.3).

mod access_unit;
mod depacketize;
pub mod nal;
mod packetize;
mod payload;
mod payloads;

#[cfg(test)]
mod tests;

pub use access_unit::AccessUnit;
pub use depacketize::{
    DepacketizerConfig, DepacketizerStats, H264Depacketizer, DEFAULT_MAX_ACCESS_UNIT_BYTES,
};
pub use nal::{
    is_keyframe_access_unit, nal_type, split_annex_b, write_annex_b, AnnexBNalUnits, NalType,
};
pub use packetize::{H264Packetizer, PacketizeError, DEFAULT_MTU, MIN_MTU};
pub use payload::{DepacketizeError, FU_A, FU_B, MTAP16, MTAP24, STAP_A, STAP_B};
pub use payloads::RtpPayloads;
