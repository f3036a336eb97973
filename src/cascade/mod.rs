//! Cascades: rooms of several Tessera nodes (or other SIP conference servers) joined by
//! ordinary SIP calls, the *legs*. A leg is a member of each room whose view leaves out what
//! came over it, so nobody sees or hears themselves come back; the legs keep the cascade a
//! tree by exchanging the node sets of their sides (`X-Tessera-Cascade`, then the
//! [roster](roster) messages), and between Tessera nodes they share one roster.

pub mod header;
pub mod keepalive;
pub mod legs;
pub mod node_id;
pub mod roster;

pub use header::{CascadeHeader, CASCADE_HEADER};
pub use legs::{backoff, CascadeLeg, CascadeLegs, LegDirection, LegRequest, LegState, Redial};
pub use node_id::NodeId;
