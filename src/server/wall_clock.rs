//! Wall-clock times for operators (`joined_at`, `created_at`, event `time`), derived from the
//! engine's monotonic `Instant`s: the engine reads no clock, so it is given one pairing of an
//! `Instant` with a `SystemTime` and maps every later instant through it.

use serde::{Serialize, Serializer};
use std::time::{Instant, SystemTime};

/// A point in wall-clock time, serialized as RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

/// Maps monotonic instants to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    wall: SystemTime,
}

impl WallClock {
    /// `instant` happened at `wall`.
    pub fn new(instant: Instant, wall: SystemTime) -> Self {
        Self { instant, wall }
    }

    /// The wall-clock time of `at`.
    pub fn at(&self, at: Instant) -> Timestamp {
        Timestamp(match at.checked_duration_since(self.instant) {
            Some(after) => self.wall + after,
            None => self.wall - self.instant.duration_since(at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_map_through_the_pairing_and_print_as_rfc3339() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let clock = WallClock::new(t0, SystemTime::UNIX_EPOCH + Duration::from_secs(86_400));
        let later = clock.at(t0 + Duration::from_millis(1500));
        assert_eq!(
            serde_json::to_string(&later).unwrap(),
            "\"1970-01-02T00:00:01.500Z\""
        );
        let earlier = clock.at(t0 - Duration::from_secs(1));
        assert_eq!(
            earlier.0,
            SystemTime::UNIX_EPOCH + Duration::from_secs(86_399)
        );
    }
}
