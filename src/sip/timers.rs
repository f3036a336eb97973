//! RFC 3261 timer values (§17.1.1.1, table 4). Injected so tests can shrink them.

use std::time::Duration;

/// Base timer values; every other timer derives from these.
#[derive(Debug, Clone, Copy)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Maximum duration a message stays in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J, L, M.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Next retransmission interval: doubled, capped at T2 when `capped`.
    pub fn backoff(&self, current: Duration, capped: bool) -> Duration {
        let next = current * 2;
        if capped {
            next.min(self.t2)
        } else {
            next
        }
    }
}
