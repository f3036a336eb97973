//! RTP sequence-number arithmetic.
//!
//! Owns the modulo-2^16 comparisons used everywhere a sequence number is
//! compared (serial-number arithmetic, <https://www.rfc-editor.org/rfc/rfc1982>)
//! and the extension of 16-bit sequence numbers to 64-bit values that keep
//! increasing across wrap-arounds, in the spirit of RFC 3550 Appendix A.1
//! (<https://www.rfc-editor.org/rfc/rfc3550#appendix-A.1>).

/// Signed distance from `from` to `to` in the 16-bit sequence space.
///
/// Positive when `to` is newer than `from`, negative when older. The result is
/// always in `-32768..=32767`; a distance of exactly half the space is
/// reported as `-32768` (older).
pub fn seq_distance(from: u16, to: u16) -> i32 {
    i32::from(to.wrapping_sub(from) as i16)
}

/// True when `a` is strictly newer than `b` (serial-number arithmetic).
pub fn seq_newer(a: u16, b: u16) -> bool {
    seq_distance(b, a) > 0
}

/// Turns 16-bit RTP sequence numbers into 64-bit extended sequence numbers.
///
/// The first sequence number seen is extended to itself (cycle 0), matching
/// the "extended highest sequence number" of RFC 3550 §6.4.1. Every later
/// value is placed at the extension closest to the highest one seen so far, so
/// packets reordered across the 65535 → 0 wrap get the right cycle.
#[derive(Debug, Clone, Default)]
pub struct SeqExtender {
    highest: Option<u64>,
}

impl SeqExtender {
    /// Creates an extender that has not seen any packet yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extended value `seq` would get, without recording it.
    ///
    /// `None` only for a packet older than the very first one seen whose
    /// extended value would be negative (reordered before the stream start
    /// across a wrap); such a packet cannot be represented.
    pub fn peek(&self, seq: u16) -> Option<u64> {
        match self.highest {
            None => Some(u64::from(seq)),
            Some(highest) => {
                let distance = seq_distance(highest as u16, seq);
                highest.checked_add_signed(i64::from(distance))
            }
        }
    }

    /// Extends `seq` and records it (the highest value only moves forward).
    ///
    /// See [`SeqExtender::peek`] for when this returns `None`.
    pub fn extend(&mut self, seq: u16) -> Option<u64> {
        let extended = self.peek(seq)?;
        if self.highest.is_none_or(|highest| extended > highest) {
            self.highest = Some(extended);
        }
        Some(extended)
    }

    /// Highest extended sequence number recorded so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Forgets all history (e.g. on an SSRC change).
    pub fn reset(&mut self) {
        self.highest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_newer_across_wrap() {
        assert_eq!(seq_distance(65535, 0), 1);
        assert_eq!(seq_distance(0, 65535), -1);
        assert_eq!(seq_distance(10, 20), 10);
        assert_eq!(seq_distance(0, 32768), -32768);
        assert!(seq_newer(0, 65535));
        assert!(seq_newer(5, 65530));
        assert!(!seq_newer(65535, 0));
        assert!(!seq_newer(7, 7));
    }

    #[test]
    fn extends_monotonically_across_wrap() {
        let mut ext = SeqExtender::new();
        let extended: Vec<u64> = [65533u16, 65534, 65535, 0, 1, 2]
            .iter()
            .map(|&seq| ext.extend(seq).unwrap())
            .collect();
        assert_eq!(extended, vec![65533, 65534, 65535, 65536, 65537, 65538]);
        assert_eq!(ext.highest(), Some(65538));
    }

    #[test]
    fn reordering_across_wrap_gets_previous_cycle() {
        let mut ext = SeqExtender::new();
        assert_eq!(ext.extend(65534), Some(65534));
        assert_eq!(ext.extend(0), Some(65536));
        assert_eq!(ext.extend(65535), Some(65535));
        assert_eq!(ext.extend(1), Some(65537));
        assert_eq!(ext.highest(), Some(65537));
        // Several cycles later the cycle count keeps growing.
        for seq in (2..=65535u16).chain(0..=10) {
            ext.extend(seq).unwrap();
        }
        assert_eq!(ext.highest(), Some(2 * 65536 + 10));
    }

    #[test]
    fn packet_before_stream_start_is_unrepresentable() {
        let mut ext = SeqExtender::new();
        assert_eq!(ext.extend(2), Some(2));
        assert_eq!(ext.peek(65535), None);
        assert_eq!(ext.extend(1), Some(1));
        ext.reset();
        assert_eq!(ext.extend(65535), Some(65535));
    }
}
