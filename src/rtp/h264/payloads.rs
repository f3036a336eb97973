//! Reusable storage for the RTP payloads of one packetized access unit.
//!
//! Owns [`RtpPayloads`]: all payloads live back to back in one byte arena with
//! an end offset per payload, so packetizing an access unit allocates nothing
//! once the arena has grown to the working size (the caller keeps one
//! `RtpPayloads` per outgoing stream and passes it to every
//! [`H264Packetizer::packetize`](super::H264Packetizer::packetize) call).
//! The payload formats themselves are RFC 6184 §5.6–§5.8
//! (<https://www.rfc-editor.org/rfc/rfc6184#section-5.6>).

/// The RTP payloads produced for one access unit, in sending order. The last
/// one must carry the RTP marker bit (RFC 6184 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtpPayloads {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl RtpPayloads {
    /// An empty payload list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes all payloads, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// Number of payloads.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no payloads.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The payload at `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(previous) => *self.ends.get(previous)?,
            None => 0,
        };
        self.bytes.get(start..end)
    }

    /// The payloads in sending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|index| self.get(index).unwrap_or_default())
    }

    /// The payloads with the marker bit each one's RTP packet must carry
    /// (true only for the last).
    pub fn iter_with_marker(&self) -> impl ExactSizeIterator<Item = (&[u8], bool)> + '_ {
        let last = self.len().saturating_sub(1);
        self.iter()
            .enumerate()
            .map(move |(index, payload)| (payload, index == last))
    }

    /// Total bytes of all payloads.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Appends bytes to the payload being written.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Appends one byte to the payload being written.
    pub(super) fn push_byte(&mut self, byte: u8) {
        self.bytes.push(byte);
    }

    /// Length of the payload being written so far.
    pub(super) fn open_len(&self) -> usize {
        self.bytes
            .len()
            .saturating_sub(self.ends.last().copied().unwrap_or(0))
    }

    /// A byte of the payload being written (`offset` from its start).
    pub(super) fn open_byte(&self, offset: usize) -> Option<u8> {
        let start = self.ends.last().copied().unwrap_or(0);
        self.bytes.get(start + offset).copied()
    }

    /// Overwrites a byte of the payload being written (`offset` from its start).
    pub(super) fn set_open_byte(&mut self, offset: usize, byte: u8) {
        let start = self.ends.last().copied().unwrap_or(0);
        if let Some(slot) = self.bytes.get_mut(start + offset) {
            *slot = byte;
        }
    }

    /// Closes the payload being written.
    pub(super) fn finish_payload(&mut self) {
        self.ends.push(self.bytes.len());
    }
}
