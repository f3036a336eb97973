//! RFC 4733 telephone events (DTMF over RTP): the 4-byte payload, a receiver that reports
//! each key press once (an event is many packets sharing one RTP timestamp, its end packet
//! sent three times), and the packets a sender emits for one digit.

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, d0, d1, ..] = *payload else {
            return None;
        };
        Some(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    pub fn encode(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d0,
            d1,
        ]
    }
}

/// The DTMF digit of event code `event` (0–9, `*`, `#`, A–D).
pub fn digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The event code of DTMF digit `c`.
pub fn event_code(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// Turns a member's telephone-event packets into digits, one per key press.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    /// RTP timestamp of the last event reported.
    last_reported: Option<u32>,
}

impl DtmfReceiver {
    /// A packet with RTP timestamp `timestamp`; the digit when it starts a new key press.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload)?;
        let digit = digit(event.event)?;
        if self.last_reported == Some(timestamp) {
            return None; // the same press again (updates, repeated end packets)
        }
        self.last_reported = Some(timestamp);
        Some(digit)
    }
}

/// Payloads for one key press of `duration_ticks` (at the event's clock), sent every
/// `step_ticks`: updates, then the end packet three times (RFC 4733 §2.5.1.4).
pub fn digit_payloads(code: u8, duration_ticks: u16, step_ticks: u16) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut at = step_ticks;
    while at < duration_ticks {
        out.push(
            TelephoneEvent {
                event: code,
                end: false,
                volume: 10,
                duration: at,
            }
            .encode(),
        );
        at = at.saturating_add(step_ticks);
    }
    let end = TelephoneEvent {
        event: code,
        end: true,
        volume: 10,
        duration: duration_ticks,
    }
    .encode();
    out.extend([end; 3]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_name_their_digits() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(TelephoneEvent::parse(&e.encode()), Some(e));
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
        let all: String = (0..16).filter_map(digit).collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert!(all
            .chars()
            .all(|c| event_code(c).and_then(digit) == Some(c)));
        assert_eq!(digit(16), None, "flash and beyond are not digits");
    }

    #[test]
    fn one_press_is_one_digit_whatever_the_packets() {
        let mut rx = DtmfReceiver::default();
        let press = digit_payloads(event_code('7').unwrap(), 1600, 160);
        assert_eq!(press.len(), 9 + 3);
        let digits: Vec<char> = press.iter().filter_map(|p| rx.on_packet(5000, p)).collect();
        assert_eq!(digits, vec!['7']);
        let again: Vec<char> = digit_payloads(7, 800, 160)
            .iter()
            .filter_map(|p| rx.on_packet(9000, p))
            .collect();
        assert_eq!(again, vec!['7'], "a second press of the same key counts");
        assert_eq!(rx.on_packet(9500, &[99, 0, 0, 10]), None, "not a digit");
    }
}
