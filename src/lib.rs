//! Tessera: a SIP conference MCU.
//!
//! Signalling and packets run on tokio; decoding, mixing and encoding run on a pool of media
//! threads, each owning whole rooms. See `docs/ARCHITECTURE.md` for the data flow.

pub mod api;
pub mod cascade;
pub mod conference;
pub mod config;
pub mod ctl;
pub mod dial;
pub mod loadgen;
pub mod media;
pub mod metrics;
#[cfg(test)]
mod proptest_support;
pub mod rtp;
pub mod sdp;
pub mod server;
pub mod sip;
