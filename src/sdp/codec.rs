//! Audio codecs the MCU negotiates, and how they appear in SDP.
//!
//! - Opus: RFC 7587 §7 (`opus/48000/2`, always 2 in the rtpmap), §6.1 fmtp.
//! - PCMU / PCMA: static payload types 0 and 8 of RFC 3551 §6, usable
//!   without any `a=rtpmap` line.
//! - DTMF `telephone-event` (RFC 4733 §7.1.1), at 8000 or 48000 Hz.
//!
//! Encoding names match ASCII case-insensitively (RFC 4855 §3).

use super::attributes::{parse_payload_type, RtpMap};
use super::format_index::FormatIndex;
use super::session::MediaDescription;

/// An audio codec Tessera can encode and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// Opus (RFC 6716, RTP mapping RFC 7587).
    Opus,
    /// G.711 µ-law (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law (RFC 3551 §4.5.14).
    Pcma,
}

impl AudioCodec {
    /// Every supported codec, in Tessera's default preference order.
    pub const ALL: [AudioCodec; 3] = [AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma];

    /// Encoding name as written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Opus => "opus",
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz (Opus is always 48000, RFC 7587 §4.1).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            AudioCodec::Opus => 48_000,
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
        }
    }

    /// Channel count written in the rtpmap: `Some(2)` for Opus whatever is
    /// actually sent (RFC 7587 §7), `None` (= 1) for G.711.
    pub fn channels_in_rtpmap(self) -> Option<u16> {
        match self {
            AudioCodec::Opus => Some(2),
            AudioCodec::Pcmu | AudioCodec::Pcma => None,
        }
    }

    /// Static payload type of RFC 3551 §6, if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioCodec::Opus => None,
            AudioCodec::Pcmu => Some(0),
            AudioCodec::Pcma => Some(8),
        }
    }

    /// Payload type Tessera uses in its own offers: the static one, or 111
    /// for Opus (the value most WebRTC and SIP stacks use).
    pub fn default_payload_type(self) -> u8 {
        self.static_payload_type()
            .unwrap_or(OPUS_DEFAULT_PAYLOAD_TYPE)
    }

    /// RTP timestamp increment of a 20 ms packet (960 for Opus, 160 for G.711).
    pub fn samples_per_20ms_at_rtp_clock(self) -> u32 {
        self.rtp_clock_rate() / 50
    }

    /// The `a=rtpmap` describing this codec at payload type `pt`.
    pub fn rtpmap(self, payload_type: u8) -> RtpMap {
        RtpMap {
            payload_type,
            encoding: self.encoding_name().to_owned(),
            clock_rate: self.rtp_clock_rate(),
            channels: self.channels_in_rtpmap(),
        }
    }

    /// Whether `map` describes this codec: same name (case-insensitive) and
    /// clock rate. The channel count is not checked for Opus, tolerating
    /// peers that write `opus/48000` or `/1` contrary to RFC 7587 §7; G.711
    /// must be mono.
    pub fn matches_rtpmap(self, map: &RtpMap) -> bool {
        let channels_ok = match self {
            AudioCodec::Opus => true,
            AudioCodec::Pcmu | AudioCodec::Pcma => matches!(map.channels, None | Some(1)),
        };
        map.encoding.eq_ignore_ascii_case(self.encoding_name())
            && map.clock_rate == self.rtp_clock_rate()
            && channels_ok
    }

    /// The codec an rtpmap describes, if supported.
    pub fn from_rtpmap(map: &RtpMap) -> Option<AudioCodec> {
        AudioCodec::ALL.into_iter().find(|c| c.matches_rtpmap(map))
    }

    /// The codec statically assigned to `pt` by RFC 3551 §6, if supported.
    pub fn from_static_payload_type(pt: u8) -> Option<AudioCodec> {
        AudioCodec::ALL
            .into_iter()
            .find(|c| c.static_payload_type() == Some(pt))
    }

    /// The codec payload type `pt` means in `media`: its `a=rtpmap` if
    /// present, else the RFC 3551 static assignment.
    pub fn for_payload_type(media: &MediaDescription, pt: u8) -> Option<AudioCodec> {
        AudioCodec::for_indexed_payload_type(&FormatIndex::of(media), pt)
    }

    /// [`AudioCodec::for_payload_type`] with the section's formats already indexed.
    pub fn for_indexed_payload_type(index: &FormatIndex<'_>, pt: u8) -> Option<AudioCodec> {
        match index.rtpmap(pt) {
            Some(map) => AudioCodec::from_rtpmap(map),
            None => AudioCodec::from_static_payload_type(pt),
        }
    }

    /// The first payload type among `media`'s formats that carries this
    /// codec, if any (linear in the section: its formats are indexed once).
    pub fn payload_type_in(self, media: &MediaDescription) -> Option<u8> {
        let index = FormatIndex::of(media);
        media
            .formats
            .iter()
            .filter_map(|f| parse_payload_type(f))
            .find(|pt| AudioCodec::for_indexed_payload_type(&index, *pt) == Some(self))
    }
}

/// Payload type Tessera offers Opus at.
pub const OPUS_DEFAULT_PAYLOAD_TYPE: u8 = 111;

/// A negotiated or offered RFC 4733 `telephone-event` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Its RTP payload type.
    pub payload_type: u8,
    /// Its RTP clock rate (8000 or 48000).
    pub clock_rate: u32,
}

impl TelephoneEvent {
    /// Encoding name of RFC 4733 §7.1.1.
    pub const ENCODING_NAME: &'static str = "telephone-event";
    /// Clock rates recognised for DTMF events.
    pub const CLOCK_RATES: [u32; 2] = [8_000, 48_000];
    /// fmtp Tessera offers: DTMF digits 0-15 and flash, 16 (RFC 4733 §3.2).
    pub const DEFAULT_FMTP: &'static str = "0-16";

    /// Payload type Tessera offers for a given clock rate (101 at 48 kHz,
    /// 100 at 8 kHz).
    pub fn default_payload_type(clock_rate: u32) -> u8 {
        if clock_rate == 48_000 {
            101
        } else {
            100
        }
    }

    /// Recognises a `telephone-event/8000` or `/48000` rtpmap.
    pub fn from_rtpmap(map: &RtpMap) -> Option<TelephoneEvent> {
        (map.encoding.eq_ignore_ascii_case(Self::ENCODING_NAME)
            && Self::CLOCK_RATES.contains(&map.clock_rate))
        .then_some(TelephoneEvent {
            payload_type: map.payload_type,
            clock_rate: map.clock_rate,
        })
    }

    /// Every telephone-event format listed in `media`, in format order.
    pub fn offered_in(media: &MediaDescription) -> Vec<TelephoneEvent> {
        let index = FormatIndex::of(media);
        media
            .formats
            .iter()
            .filter_map(|f| parse_payload_type(f))
            .filter_map(|pt| index.rtpmap(pt))
            .filter_map(TelephoneEvent::from_rtpmap)
            .collect()
    }

    /// The telephone-event in `media` to pair with an audio codec running at
    /// `clock_rate`: the one with the same clock rate (RFC 4733 §2.1 recommends the audio
    /// codec's rate), else
    /// the first one listed.
    pub fn choose(media: &MediaDescription, clock_rate: u32) -> Option<TelephoneEvent> {
        let offered = TelephoneEvent::offered_in(media);
        offered
            .iter()
            .find(|te| te.clock_rate == clock_rate)
            .or_else(|| offered.first())
            .copied()
    }

    /// The `a=rtpmap` for this format.
    pub fn rtpmap(self) -> RtpMap {
        RtpMap {
            payload_type: self.payload_type,
            encoding: Self::ENCODING_NAME.to_owned(),
            clock_rate: self.clock_rate,
            channels: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::session::Attribute;
    use super::*;

    fn media(formats: &[&str], rtpmaps: &[&str]) -> MediaDescription {
        let mut m = MediaDescription::new(
            "audio",
            4000,
            "RTP/AVP",
            formats.iter().map(|f| f.to_string()).collect(),
        );
        for r in rtpmaps {
            m.attributes.push(Attribute::with_value("rtpmap", *r));
        }
        m
    }

    #[test]
    fn codec_constants() {
        use AudioCodec::*;
        assert_eq!(
            [Opus, Pcmu, Pcma].map(AudioCodec::encoding_name),
            ["opus", "PCMU", "PCMA"]
        );
        assert_eq!(
            [Opus, Pcmu, Pcma].map(AudioCodec::rtp_clock_rate),
            [48000, 8000, 8000]
        );
        assert_eq!(Opus.channels_in_rtpmap(), Some(2));
        assert_eq!(Pcmu.channels_in_rtpmap(), None);
        assert_eq!(
            [Opus, Pcmu, Pcma].map(AudioCodec::static_payload_type),
            [None, Some(0), Some(8)]
        );
        assert_eq!(
            [Opus, Pcmu, Pcma].map(AudioCodec::default_payload_type),
            [111, 0, 8]
        );
        assert_eq!(
            [Opus, Pcmu, Pcma].map(AudioCodec::samples_per_20ms_at_rtp_clock),
            [960, 160, 160]
        );
        assert_eq!(Opus.rtpmap(111).to_string(), "111 opus/48000/2");
        assert_eq!(Pcma.rtpmap(8).to_string(), "8 PCMA/8000");
    }

    #[test]
    fn rtpmap_names_match_case_insensitively() {
        let m = media(&["96", "97"], &["96 OPUS/48000/2", "97 pcmu/8000"]);
        assert_eq!(AudioCodec::Opus.payload_type_in(&m), Some(96));
        assert_eq!(AudioCodec::Pcmu.payload_type_in(&m), Some(97));
        assert_eq!(AudioCodec::Pcma.payload_type_in(&m), None);
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let m = media(&["8", "0"], &[]);
        assert_eq!(AudioCodec::Pcmu.payload_type_in(&m), Some(0));
        assert_eq!(AudioCodec::Pcma.payload_type_in(&m), Some(8));
        assert_eq!(AudioCodec::Opus.payload_type_in(&m), None);
    }

    #[test]
    fn rtpmap_overrides_static_assignment_and_clock_must_match() {
        let m = media(&["0", "96"], &["0 G722/8000", "96 opus/16000/2"]);
        assert_eq!(AudioCodec::Pcmu.payload_type_in(&m), None);
        assert_eq!(AudioCodec::Opus.payload_type_in(&m), None);
    }

    #[test]
    fn telephone_event_prefers_matching_clock() {
        let m = media(
            &["111", "101", "100", "102"],
            &[
                "111 opus/48000/2",
                "100 telephone-event/8000",
                "101 Telephone-Event/48000",
                "102 telephone-event/16000",
            ],
        );
        let all = TelephoneEvent::offered_in(&m);
        assert_eq!(all.len(), 2);
        assert_eq!(
            TelephoneEvent::choose(&m, 48000).map(|t| t.payload_type),
            Some(101)
        );
        assert_eq!(
            TelephoneEvent::choose(&m, 8000).map(|t| t.payload_type),
            Some(100)
        );
        let only_8k = media(&["0", "101"], &["101 telephone-event/8000"]);
        assert_eq!(
            TelephoneEvent::choose(&only_8k, 48000),
            Some(TelephoneEvent {
                payload_type: 101,
                clock_rate: 8000
            })
        );
    }
}
