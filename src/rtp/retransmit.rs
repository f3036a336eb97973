//! A short history of the RTP packets a stream sent, so a generic NACK (RFC 4585 §6.2.1) is
//! answered by sending the lost packets again as they were (plain retransmission, no RTX
//! stream). Slots are indexed by sequence number; a packet older than `max_age` is not
//! resent (its frame is long played out, and a PLI repairs better).

use std::time::{Duration, Instant};

/// How many packets are kept (a second of 720p at 2 Mbit/s is about 200).
pub const HISTORY_PACKETS: usize = 512;
/// How old a packet may be and still be resent.
pub const HISTORY_AGE: Duration = Duration::from_millis(1000);

struct Slot {
    seq: u16,
    sent_at: Instant,
    packet: Vec<u8>,
}

/// The last packets sent on one stream.
pub struct RetransmitHistory {
    slots: Vec<Option<Slot>>,
    max_age: Duration,
}

impl Default for RetransmitHistory {
    fn default() -> Self {
        Self::new(HISTORY_PACKETS, HISTORY_AGE)
    }
}

impl RetransmitHistory {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            slots: (0..capacity.max(1)).map(|_| None).collect(),
            max_age,
        }
    }

    /// Keeps `packet` (a whole RTP packet) sent at `now`; a packet of too short a header is
    /// ignored.
    pub fn remember(&mut self, packet: &[u8], now: Instant) {
        let Some(seq) = sequence_of(packet) else {
            return;
        };
        let index = usize::from(seq) % self.slots.len();
        match &mut self.slots[index] {
            Some(slot) => {
                slot.seq = seq;
                slot.sent_at = now;
                slot.packet.clear();
                slot.packet.extend_from_slice(packet);
            }
            empty => {
                *empty = Some(Slot {
                    seq,
                    sent_at: now,
                    packet: packet.to_vec(),
                })
            }
        }
    }

    /// The packet sent with `seq`, if it is still kept and young enough at `now`.
    pub fn get(&self, seq: u16, now: Instant) -> Option<&[u8]> {
        let slot = self.slots[usize::from(seq) % self.slots.len()].as_ref()?;
        (slot.seq == seq && now.saturating_duration_since(slot.sent_at) <= self.max_age)
            .then_some(slot.packet.as_slice())
    }
}

/// The sequence number of an RTP packet (bytes 2–3).
fn sequence_of(packet: &[u8]) -> Option<u16> {
    (packet.len() >= 12).then(|| u16::from_be_bytes([packet[2], packet[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, fill: u8) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[fill; 20]);
        p
    }

    #[test]
    fn a_lost_packet_is_found_as_it_was_sent_while_young_and_not_overwritten() {
        let t0 = Instant::now();
        let mut history = RetransmitHistory::new(4, Duration::from_millis(100));
        for seq in 65_534..=65_535u16 {
            history.remember(&packet(seq, seq as u8), t0);
        }
        history.remember(&packet(0, 7), t0);
        assert_eq!(
            history.get(65_535, t0),
            Some(packet(65_535, 255).as_slice())
        );
        assert_eq!(
            history.get(0, t0),
            Some(packet(0, 7).as_slice()),
            "across the wrap"
        );
        assert_eq!(history.get(1, t0), None, "never sent");
        // Four slots: seq 2 takes seq 65534's slot.
        history.remember(&packet(2, 2), t0);
        assert_eq!(history.get(65_534, t0), None, "overwritten");
        assert_eq!(
            history.get(2, t0 + Duration::from_millis(100)),
            Some(packet(2, 2).as_slice())
        );
        assert_eq!(
            history.get(2, t0 + Duration::from_millis(101)),
            None,
            "too old"
        );
        history.remember(&[0x80, 96, 0], t0);
    }
}
