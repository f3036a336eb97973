//! RTP and RTCP (RFC 3550): port pool, per-member endpoint with symmetric-RTP latching, the
//! sending stream state, receive statistics, the adaptive jitter buffer and RTCP wire types.

pub mod clock;
pub mod endpoint;
pub mod h264;
pub mod jitter;
pub mod latch;
pub mod port_pool;
#[cfg(test)]
mod proptests;
pub mod recv_batch;
pub mod reorder;
pub mod retransmit;
pub mod rtcp;
pub mod sender;
pub mod seq;
pub mod stats;
pub mod telephone_event;
