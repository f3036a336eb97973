//! The sending side of one RTP stream: our SSRC, sequence numbers and timestamps
//! (RFC 3550 §5.1), and the counters an SR needs (§6.4.1). Payloads shared between
//! subscribers are stamped here with each subscriber's own header.

use rtp_rs::{RtpPacketBuilder, Seq};

/// Per-stream RTP header state.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    payload_type: u8,
    next_seq: u16,
    /// The random initial timestamp; it never changes.
    initial_timestamp: u32,
    /// The timestamp [`packetize`](Self::packetize) stamps next.
    timestamp: u32,
    first: bool,
    packets: u32,
    octets: u32,
    last_timestamp: u32,
}

impl RtpSender {
    /// A stream with random initial sequence number and timestamp (RFC 3550 §5.1).
    pub fn new(payload_type: u8) -> Self {
        let initial_timestamp = rand::random();
        Self {
            ssrc: rand::random(),
            payload_type,
            next_seq: rand::random(),
            initial_timestamp,
            timestamp: initial_timestamp,
            first: true,
            packets: 0,
            octets: 0,
            last_timestamp: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn set_payload_type(&mut self, pt: u8) {
        self.payload_type = pt;
    }

    /// Writes one packet carrying `payload` into `out` and advances the timestamp by `ticks`:
    /// for senders that send every frame on time (test clients); the server's streams stamp
    /// their clock's time with [`packetize_at`](Self::packetize_at) instead.
    pub fn packetize(&mut self, payload: &[u8], ticks: u32, out: &mut Vec<u8>) {
        let timestamp = self.timestamp;
        self.write(self.payload_type, payload, timestamp, self.first, out);
        self.first = false;
        self.last_timestamp = timestamp;
        self.timestamp = timestamp.wrapping_add(ticks);
    }

    /// Writes one packet with an explicit timestamp (from a [`MediaClock`]) and marker (video:
    /// every packet of a frame shares the frame's timestamp; the marker flags its last packet,
    /// RFC 6184 §5.1).
    ///
    /// [`MediaClock`]: super::clock::MediaClock
    pub fn packetize_at(
        &mut self,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
        out: &mut Vec<u8>,
    ) {
        self.write(self.payload_type, payload, timestamp, marker, out);
        self.first = false;
        self.last_timestamp = timestamp;
        self.timestamp = timestamp;
    }

    /// Writes one RFC 4733 event packet into the stream (its own payload type, the stream's
    /// SSRC and sequence, the event's `timestamp`), leaving the media timestamps as they are.
    pub fn packetize_event(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
        out: &mut Vec<u8>,
    ) {
        self.write(payload_type, payload, timestamp, marker, out);
    }

    /// Writes one packet of the stream (its SSRC, next sequence number) and counts it.
    fn write(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        out.resize(12 + payload.len(), 0);
        let builder = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.next_seq))
            .timestamp(timestamp)
            .marked(marker)
            .payload(payload);
        let n = builder.build_into_unchecked(out);
        out.truncate(n);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
    }

    /// The initial (random) timestamp: a fixed base for streams that count frames themselves.
    pub fn initial_timestamp(&self) -> u32 {
        self.initial_timestamp
    }

    /// Packets and payload octets sent (for the SR sender info).
    pub fn counts(&self) -> (u32, u32) {
        (self.packets, self.octets)
    }

    /// RTP timestamp of the last packet sent.
    pub fn last_timestamp(&self) -> u32 {
        self.last_timestamp
    }

    /// True once something was sent.
    pub fn has_sent(&self) -> bool {
        !self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    #[test]
    fn consecutive_packets_advance_seq_and_timestamp() {
        let mut s = RtpSender::new(111);
        let mut a = Vec::new();
        let mut b = Vec::new();
        s.packetize(&[1, 2, 3], 960, &mut a);
        s.packetize(&[4], 960, &mut b);
        let (ra, rb) = (RtpReader::new(&a).unwrap(), RtpReader::new(&b).unwrap());
        assert_eq!(ra.payload(), &[1, 2, 3]);
        assert!(ra.mark() && !rb.mark());
        assert_eq!(
            u16::from(rb.sequence_number()),
            u16::from(ra.sequence_number()).wrapping_add(1)
        );
        assert_eq!(rb.timestamp(), ra.timestamp().wrapping_add(960));
        assert_eq!(ra.ssrc(), rb.ssrc());
        assert_eq!(s.counts(), (2, 4));
    }

    #[test]
    fn explicit_timestamps_leave_the_initial_timestamp_alone() {
        let mut s = RtpSender::new(96);
        let base = s.initial_timestamp();
        let mut out = Vec::new();
        s.packetize_at(&[1], base.wrapping_add(3000), true, &mut out);
        s.packetize_at(&[2], base.wrapping_add(6000), true, &mut out);
        assert_eq!(
            s.initial_timestamp(),
            base,
            "a base that moved made timestamps run away"
        );
        assert_eq!(s.last_timestamp(), base.wrapping_add(6000));
    }
}
