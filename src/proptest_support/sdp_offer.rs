//! Valid SDP offers (RFC 8866 §5, RFC 3264 §5), generated from a description of what they
//! offer, so a property knows what the answer must be. Audio and video sections with Opus,
//! PCMU, PCMA, G.722, telephone-event, H.264 and VP8 at static or shuffled dynamic payload
//! types, `rtpmap` (omitted at times for the static types) and `fmtp`, directions, `c=` at
//! session or media level (IPv4, IPv6, the hold address), `a=rtcp`, `a=rtcp-mux`, `a=ptime`,
//! `b=AS`, disabled (port 0) and unusable (RTP/SAVP, application) sections.

use std::fmt::Write as _;
use std::net::IpAddr;

use proptest::prelude::*;

use crate::sdp::AudioCodec;

/// One media format as offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Opus,
    Pcmu,
    Pcma,
    G722,
    TelephoneEvent(u32),
    H264 {
        mode: u8,
        profile: &'static str,
    },
    Vp8,
    /// A codec nobody knows, at a dynamic payload type.
    Unknown,
}

impl Format {
    fn static_payload_type(self) -> Option<u8> {
        match self {
            Format::Pcmu => Some(0),
            Format::Pcma => Some(8),
            Format::G722 => Some(9),
            _ => None,
        }
    }

    fn rtpmap(self) -> String {
        match self {
            Format::Opus => "opus/48000/2".into(),
            Format::Pcmu => "PCMU/8000".into(),
            Format::Pcma => "PCMA/8000".into(),
            Format::G722 => "G722/8000".into(),
            Format::TelephoneEvent(rate) => format!("telephone-event/{rate}"),
            Format::H264 { .. } => "H264/90000".into(),
            Format::Vp8 => "VP8/90000".into(),
            Format::Unknown => "X-UNKNOWN/8000".into(),
        }
    }

    fn fmtp(self) -> Option<String> {
        match self {
            Format::Opus => Some("minptime=10;useinbandfec=1".into()),
            Format::TelephoneEvent(_) => Some("0-16".into()),
            Format::H264 { mode, profile } => Some(format!(
                "profile-level-id={profile};packetization-mode={mode};level-asymmetry-allowed=1"
            )),
            _ => None,
        }
    }

    /// The audio codec Tessera negotiates for this format, if any.
    pub fn audio_codec(self) -> Option<AudioCodec> {
        match self {
            Format::Opus => Some(AudioCodec::Opus),
            Format::Pcmu => Some(AudioCodec::Pcmu),
            Format::Pcma => Some(AudioCodec::Pcma),
            _ => None,
        }
    }
}

/// What a media section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
    Application,
}

/// One `m=` section.
#[derive(Debug, Clone)]
pub struct Section {
    pub kind: Kind,
    /// 0: disabled.
    pub port: u16,
    pub proto: &'static str,
    /// Payload type and format, in offer order; payload types are unique.
    pub formats: Vec<(u8, Format)>,
    /// Leave out the rtpmap of static payload types (RFC 3551 allows it).
    pub bare_static: bool,
    pub connection: Option<IpAddr>,
    pub direction: Option<&'static str>,
    pub rtcp_port: Option<u16>,
    pub rtcp_mux: bool,
    pub ptime: Option<u32>,
    pub bandwidth: Option<u32>,
}

impl Section {
    /// Whether Tessera may take this section as its audio stream (`audio_media`).
    pub fn usable_audio(&self) -> bool {
        self.kind == Kind::Audio && self.port != 0 && self.proto == "RTP/AVP"
    }
}

/// A whole offer.
#[derive(Debug, Clone)]
pub struct Offer {
    pub session_id: u64,
    pub connection: Option<IpAddr>,
    pub sections: Vec<Section>,
}

impl Offer {
    /// The codec and payload type the answer must use: Tessera's preferred codec (Opus, PCMU,
    /// PCMA) in the first usable audio section that has any of them.
    pub fn expected_audio(&self) -> Option<(AudioCodec, u8)> {
        self.sections
            .iter()
            .filter(|s| s.usable_audio())
            .find_map(|s| {
                AudioCodec::ALL.iter().find_map(|codec| {
                    s.formats
                        .iter()
                        .find(|(_, f)| f.audio_codec() == Some(*codec))
                        .map(|(pt, _)| (*codec, *pt))
                })
            })
    }

    /// The offer as SDP text with CRLF line ends.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "v=0\r\no=- {} 1 IN IP4 192.0.2.10\r\ns=-\r\n",
            self.session_id
        );
        if let Some(address) = self.connection {
            push_connection(&mut text, address);
        }
        text.push_str("t=0 0\r\n");
        for section in &self.sections {
            push_section(&mut text, section);
        }
        text
    }
}

fn push_connection(text: &mut String, address: IpAddr) {
    let kind = if address.is_ipv4() { "IP4" } else { "IP6" };
    let _ = write!(text, "c=IN {kind} {address}\r\n");
}

fn push_section(text: &mut String, s: &Section) {
    let media = match s.kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
        Kind::Application => "application",
    };
    let _ = write!(text, "m={media} {} {}", s.port, s.proto);
    if s.formats.is_empty() {
        text.push_str(" *");
    }
    for (pt, _) in &s.formats {
        let _ = write!(text, " {pt}");
    }
    text.push_str("\r\n");
    if let Some(address) = s.connection {
        push_connection(text, address);
    }
    if let Some(kbps) = s.bandwidth {
        let _ = write!(text, "b=AS:{kbps}\r\n");
    }
    for (pt, format) in &s.formats {
        if !(s.bare_static && format.static_payload_type().is_some()) {
            let _ = write!(text, "a=rtpmap:{pt} {}\r\n", format.rtpmap());
        }
        if let Some(params) = format.fmtp() {
            let _ = write!(text, "a=fmtp:{pt} {params}\r\n");
        }
    }
    if let Some(ms) = s.ptime {
        let _ = write!(text, "a=ptime:{ms}\r\n");
    }
    if let Some(port) = s.rtcp_port {
        let _ = write!(text, "a=rtcp:{port}\r\n");
    }
    if s.rtcp_mux {
        text.push_str("a=rtcp-mux\r\n");
    }
    if let Some(direction) = s.direction {
        let _ = write!(text, "a={direction}\r\n");
    }
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        4 => any::<[u8; 4]>().prop_map(|mut b| {
            b[0] = b[0].clamp(1, 223);
            IpAddr::from(b)
        }),
        1 => any::<[u16; 8]>().prop_map(|mut w| {
            w[0] = 0x2001;
            IpAddr::from(w)
        }),
        1 => Just(IpAddr::from([0, 0, 0, 0])),
    ]
}

fn audio_format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::Opus),
        Just(Format::Pcmu),
        Just(Format::Pcma),
        Just(Format::G722),
        Just(Format::TelephoneEvent(8000)),
        Just(Format::TelephoneEvent(48000)),
        Just(Format::Unknown),
    ]
}

fn video_format() -> impl Strategy<Value = Format> {
    let profile = proptest::sample::select(&["42e01f", "42001f", "4d401f", "64001f"][..]);
    prop_oneof![
        (0..=1u8, profile).prop_map(|(mode, profile)| Format::H264 { mode, profile }),
        Just(Format::Vp8),
        Just(Format::Unknown),
    ]
}

/// Gives each format a payload type: its static one, else the next from `dynamic` (a
/// shuffled 96..=127); a static format offered twice is kept once.
fn numbered(formats: Vec<Format>, dynamic: Vec<u8>) -> Vec<(u8, Format)> {
    let mut dynamic = dynamic.into_iter();
    let mut out: Vec<(u8, Format)> = Vec::new();
    for format in formats {
        let pt = match format.static_payload_type() {
            Some(pt) if out.iter().any(|(used, _)| *used == pt) => continue,
            Some(pt) => pt,
            None => match dynamic.next() {
                Some(pt) => pt,
                None => break,
            },
        };
        out.push((pt, format));
    }
    out
}

fn section(max_formats: usize) -> impl Strategy<Value = Section> {
    let kind =
        prop_oneof![6 => Just(Kind::Audio), 3 => Just(Kind::Video), 1 => Just(Kind::Application)];
    let dynamic = Just((96..=127u8).collect::<Vec<u8>>()).prop_shuffle();
    let port = prop_oneof![9 => (512..=32767u16).prop_map(|p| p * 2), 1 => Just(0u16)];
    let direction = proptest::option::of(proptest::sample::select(
        &["sendrecv", "sendonly", "recvonly", "inactive"][..],
    ));
    (kind, dynamic, port, direction).prop_flat_map(move |(kind, dynamic, port, direction)| {
        let formats = match kind {
            Kind::Audio => proptest::collection::vec(audio_format(), 1..=max_formats).boxed(),
            Kind::Video => proptest::collection::vec(video_format(), 1..=max_formats).boxed(),
            Kind::Application => Just(Vec::new()).boxed(),
        };
        let proto = match kind {
            Kind::Audio => prop_oneof![8 => Just("RTP/AVP"), 1 => Just("RTP/SAVP")].boxed(),
            Kind::Video => prop_oneof![Just("RTP/AVP"), Just("RTP/AVPF")].boxed(),
            Kind::Application => Just("TCP/BFCP").boxed(),
        };
        (
            formats,
            proto,
            any::<bool>(),
            proptest::option::of(address()),
            proptest::option::of(1..=65535u16),
            any::<bool>(),
            proptest::option::of(prop_oneof![Just(10u32), Just(20), Just(40), Just(60)]),
            proptest::option::of(8..=2000u32),
        )
            .prop_map(
                move |(
                    formats,
                    proto,
                    bare_static,
                    connection,
                    rtcp_port,
                    rtcp_mux,
                    ptime,
                    bandwidth,
                )| Section {
                    kind,
                    port,
                    proto,
                    formats: numbered(formats, dynamic.clone()),
                    bare_static,
                    connection,
                    direction,
                    rtcp_port,
                    rtcp_mux,
                    ptime,
                    bandwidth,
                },
            )
    })
}

/// Offers of one to four sections with up to six formats each. Every section has a
/// connection address, its own or the session's.
pub fn offer() -> impl Strategy<Value = Offer> {
    offer_with(1..=4, 6)
}

/// Offers whose sections have up to `max_formats` formats.
pub fn offer_with(
    sections: std::ops::RangeInclusive<usize>,
    max_formats: usize,
) -> impl Strategy<Value = Offer> {
    (
        any::<u64>(),
        proptest::option::of(address()),
        proptest::collection::vec(section(max_formats), sections),
    )
        .prop_map(|(session_id, connection, mut sections)| {
            if connection.is_none() {
                for s in &mut sections {
                    s.connection.get_or_insert(IpAddr::from([192, 0, 2, 1]));
                }
            }
            Offer {
                session_id,
                connection,
                sections,
            }
        })
}

/// A big offer: one audio section of `formats` formats (rtpmap lines of codecs nobody knows,
/// many with payload type numbers reused or out of range) with Opus or PCMU among them.
pub fn big_offer_text(
    formats: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = (String, AudioCodec)> {
    (formats, any::<proptest::sample::Index>(), any::<bool>()).prop_map(|(count, at, opus)| {
        let wanted = at.index(count);
        let (codec, pt, map) = if opus {
            (AudioCodec::Opus, 111u16, "opus/48000/2")
        } else {
            (AudioCodec::Pcmu, 0, "PCMU/8000")
        };
        // The others: out-of-range numbers (formats, but no payload types) and dynamic ones
        // reused many times, never the wanted codec's.
        let other = |i: usize| {
            if i.is_multiple_of(2) {
                128 + i as u16
            } else {
                96 + (i as u16 % 15)
            }
        };
        let numbers: Vec<u16> = (0..count)
            .map(|i| if i == wanted { pt } else { other(i) })
            .collect();
        let mut text = String::from(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP",
        );
        for n in &numbers {
            let _ = write!(text, " {n}");
        }
        text.push_str("\r\n");
        for (i, n) in numbers.iter().enumerate() {
            let name = if i == wanted {
                map.to_string()
            } else {
                format!("X-CODEC{i}/8000")
            };
            let _ = write!(text, "a=rtpmap:{n} {name}\r\n");
        }
        (text, codec)
    })
}
