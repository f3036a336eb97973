//! Media stream direction attributes.
//!
//! Owns `a=sendrecv|sendonly|recvonly|inactive` (RFC 8866 §6.7) and the
//! offer/answer rule that maps an offered direction to the answer's
//! (RFC 3264 §6.1).

use std::fmt;

/// Direction of a media stream, always from the point of view of the party
/// whose description carries it (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv`; the default when no direction attribute is present
    /// (RFC 3264 §5.1).
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// All four directions.
    pub const ALL: [Direction; 4] = [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ];

    /// The direction an answerer that wants everything it may have puts in
    /// its answer to `offered` (RFC 3264 §6.1): sendonly → recvonly,
    /// recvonly → sendonly, sendrecv → sendrecv, inactive → inactive.
    ///
    /// It is also how a party turns the peer's direction into its own: the
    /// peer's send is our receive and vice versa.
    pub fn answer_to(offered: Direction) -> Direction {
        Direction::from_flags(offered.receives(), offered.sends())
    }

    /// Builds a direction from whether media is sent and received.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether media is sent in this direction.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether media is received in this direction.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The most permissive direction allowed by both `self` and `limit`
    /// (RFC 3264 §6.1 lets an answerer narrow the direction).
    pub fn restricted_to(self, limit: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && limit.sends(),
            self.receives() && limit.receives(),
        )
    }

    /// Same direction without sending (e.g. the peer asked not to receive).
    pub fn without_sending(self) -> Direction {
        Direction::from_flags(false, self.receives())
    }

    /// Same direction without receiving.
    pub fn without_receiving(self) -> Direction {
        Direction::from_flags(self.sends(), false)
    }

    /// The SDP attribute name, e.g. `"sendonly"`.
    pub fn attribute_name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name (ASCII case-insensitive); `None` if it is not
    /// a direction attribute.
    pub fn from_attribute_name(name: &str) -> Option<Direction> {
        Direction::ALL
            .into_iter()
            .find(|d| d.attribute_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute_name())
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::{self, *};

    #[test]
    fn answer_follows_rfc3264_section_6_1() {
        assert_eq!(Direction::answer_to(SendOnly), RecvOnly);
        assert_eq!(Direction::answer_to(RecvOnly), SendOnly);
        assert_eq!(Direction::answer_to(Inactive), Inactive);
        assert_eq!(Direction::answer_to(SendRecv), SendRecv);
    }

    #[test]
    fn flags_and_restriction() {
        assert!(SendRecv.sends() && SendRecv.receives());
        assert!(SendOnly.sends() && !SendOnly.receives());
        assert!(!RecvOnly.sends() && RecvOnly.receives());
        assert!(!Inactive.sends() && !Inactive.receives());
        assert_eq!(SendRecv.restricted_to(SendOnly), SendOnly);
        assert_eq!(RecvOnly.restricted_to(SendOnly), Inactive);
        assert_eq!(SendRecv.without_sending(), RecvOnly);
        assert_eq!(SendOnly.without_receiving(), SendOnly);
        assert_eq!(Direction::default(), SendRecv);
    }

    #[test]
    fn attribute_names_round_trip() {
        for d in Direction::ALL {
            assert_eq!(Direction::from_attribute_name(d.attribute_name()), Some(d));
            assert_eq!(d.to_string(), d.attribute_name());
        }
        assert_eq!(Direction::from_attribute_name("SendOnly"), Some(SendOnly));
        assert_eq!(Direction::from_attribute_name("rtcp-mux"), None);
    }
}
