//! SIP (RFC 3261): wire helpers over `rsip`, stream framing, the sans-IO transaction layer
//! and the tokio transport driver. Dialog and call handling live with their users
//! (`server::engine` and `server::call` for the UAS, `dial` for the UAC).

pub mod framing;
pub mod message;
pub mod peer;
pub mod timers;
pub mod transaction;
pub mod transport;
