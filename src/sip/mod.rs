//! SIP (RFC 3261): wire helpers over `rsip`, stream framing, the sans-IO transaction layer
//! and the tokio transport driver, and the UAC dialog that `tessera dial`, the load generator
//! and the server's dial-out share. The UAS side of calls lives in `server::engine` and
//! `server::call`.

pub mod digest;
pub mod framing;
pub mod log_limit;
pub mod message;
mod normalize;
pub mod peer;
#[cfg(test)]
mod proptests;
pub mod raw_response;
pub mod timers;
pub mod transaction;
pub mod transport;
pub mod uac_dialog;
