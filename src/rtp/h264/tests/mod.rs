//! Tests for the H.264 RTP module (RFC 6184): shared helpers.

mod loss;
mod malformed;
mod nal;
mod packetize;
mod proptests;
mod roundtrip;

use super::{AccessUnit, H264Depacketizer, H264Packetizer, RtpPayloads};

/// One RTP packet as the caller would hand it to the depacketizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Packet {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// A NAL unit of `len` bytes with the given header byte. Body bytes are never
/// zero (no start-code emulation) and the first one has its MSB set, i.e. a
/// slice with `first_mb_in_slice == 0`.
pub(super) fn nal(header: u8, len: usize) -> Vec<u8> {
    let mut unit = vec![header];
    unit.extend((1..len).map(|i| if i == 1 { 0x88 } else { (i % 251 + 1) as u8 }));
    unit
}

pub(super) fn sps() -> Vec<u8> {
    nal(0x67, 12)
}

pub(super) fn pps() -> Vec<u8> {
    nal(0x68, 5)
}

pub(super) fn idr(len: usize) -> Vec<u8> {
    nal(0x65, len)
}

pub(super) fn slice(len: usize) -> Vec<u8> {
    nal(0x41, len)
}

/// Packetizes access units into numbered RTP packets.
pub(super) struct Sender {
    pub packetizer: H264Packetizer,
    pub seq: u16,
    payloads: RtpPayloads,
}

impl Sender {
    pub fn new(packetizer: H264Packetizer) -> Self {
        Self {
            packetizer,
            seq: 1000,
            payloads: RtpPayloads::new(),
        }
    }

    pub fn send(&mut self, timestamp: u32, nals: &[Vec<u8>]) -> Vec<Packet> {
        self.packetizer
            .packetize(nals, &mut self.payloads)
            .expect("packetize");
        self.payloads
            .iter_with_marker()
            .map(|(payload, marker)| {
                let packet = Packet {
                    seq: self.seq,
                    timestamp,
                    marker,
                    payload: payload.to_vec(),
                };
                self.seq = self.seq.wrapping_add(1);
                packet
            })
            .collect()
    }
}

/// Feeds packets, collecting every access unit; errors fail the test.
pub(super) fn feed(depacketizer: &mut H264Depacketizer, packets: &[Packet]) -> Vec<AccessUnit> {
    let mut units = Vec::new();
    for packet in packets {
        let result = depacketizer
            .push(packet.seq, packet.timestamp, packet.marker, &packet.payload)
            .expect("push");
        units.extend(result);
        units.extend(std::iter::from_fn(|| depacketizer.pop_ready()));
    }
    units
}

/// The NAL units of an access unit as owned vectors.
pub(super) fn nals_of(unit: &AccessUnit) -> Vec<Vec<u8>> {
    unit.nals().map(<[u8]>::to_vec).collect()
}
