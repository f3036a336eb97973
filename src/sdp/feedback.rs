//! RTCP feedback capabilities: `a=rtcp-fb`.
//!
//! - the attribute grammar of
//!   [RFC 4585 §4.2](https://www.rfc-editor.org/rfc/rfc4585#section-4.2):
//!   `a=rtcp-fb:<pt|*> <type> [<parameters>]`, kept as [`RtcpFeedback`];
//! - the three messages Tessera uses for video: Generic NACK (`nack`,
//!   RFC 4585 §6.2.1), Picture Loss Indication (`nack pli`, RFC 4585 §6.3.1)
//!   and Full Intra Request (`ccm fir`,
//!   [RFC 5104 §7.1](https://www.rfc-editor.org/rfc/rfc5104#section-7.1)),
//!   summarised as [`FeedbackSupport`].
//!
//! In an answer the feedback lines are a subset of the offered ones: an
//! answerer "MUST NOT add feedback parameters" (RFC 4585 §4.2).
//! Malformed `a=rtcp-fb` lines are skipped, like the other accessors do.

use std::fmt;

use super::attributes::parse_payload_type;
use super::session::{Attribute, MediaDescription};

/// One `a=rtcp-fb` value (RFC 4585 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtcpFeedback {
    /// The payload type it applies to; `None` for `*` (every format).
    pub payload_type: Option<u8>,
    /// The feedback type: `nack`, `ack`, `ccm`, `trr-int`, `goog-remb`...
    pub kind: String,
    /// What follows the type, blanks collapsed: `pli`, `fir`, `1000`,
    /// `tmmbr smaxpr=120`...; `None` if nothing does.
    pub parameter: Option<String>,
}

impl RtcpFeedback {
    /// Parses the value of an `a=rtcp-fb` attribute.
    pub fn parse(value: &str) -> Option<RtcpFeedback> {
        let mut fields = value.split_ascii_whitespace();
        let payload_type = match fields.next()? {
            "*" => None,
            pt => Some(parse_payload_type(pt)?),
        };
        let kind = fields.next()?.to_owned();
        let rest: Vec<&str> = fields.collect();
        Some(RtcpFeedback {
            payload_type,
            kind,
            parameter: (!rest.is_empty()).then(|| rest.join(" ")),
        })
    }

    /// A feedback line for payload type `pt`.
    pub fn new(payload_type: u8, kind: &str, parameter: Option<&str>) -> RtcpFeedback {
        RtcpFeedback {
            payload_type: Some(payload_type),
            kind: kind.to_owned(),
            parameter: parameter.map(str::to_owned),
        }
    }

    /// Whether it applies to payload type `pt` (its own number or `*`).
    pub fn applies_to(&self, pt: u8) -> bool {
        self.payload_type.is_none_or(|own| own == pt)
    }

    /// Whether it is `<kind> [<parameter>]`, ASCII case-insensitively.
    pub fn is(&self, kind: &str, parameter: Option<&str>) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
            && match (self.parameter.as_deref(), parameter) {
                (None, None) => true,
                (Some(own), Some(wanted)) => own.eq_ignore_ascii_case(wanted),
                _ => false,
            }
    }

    /// The `a=rtcp-fb:...` attribute.
    pub fn to_attribute(&self) -> Attribute {
        Attribute::with_value("rtcp-fb", self.to_string())
    }
}

impl fmt::Display for RtcpFeedback {
    /// Prints the attribute value, e.g. `96 nack pli` or `* ccm fir`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.payload_type {
            Some(pt) => write!(f, "{pt} {}", self.kind)?,
            None => write!(f, "* {}", self.kind)?,
        }
        if let Some(parameter) = &self.parameter {
            write!(f, " {parameter}")?;
        }
        Ok(())
    }
}

impl MediaDescription {
    /// All well-formed `a=rtcp-fb` lines, in order.
    pub fn rtcp_feedback(&self) -> Vec<RtcpFeedback> {
        self.attributes_named("rtcp-fb")
            .filter_map(RtcpFeedback::parse)
            .collect()
    }
}

/// Which of the feedback messages Tessera uses are available for a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeedbackSupport {
    /// Generic NACK, `nack` (RFC 4585 §6.2.1).
    pub nack: bool,
    /// Picture Loss Indication, `nack pli` (RFC 4585 §6.3.1).
    pub pli: bool,
    /// Full Intra Request, `ccm fir` (RFC 5104 §3.5.1).
    pub fir: bool,
}

impl FeedbackSupport {
    /// Everything Tessera supports.
    pub const ALL: FeedbackSupport = FeedbackSupport {
        nack: true,
        pli: true,
        fir: true,
    };

    /// What `media` announces for payload type `pt`, `*` lines included.
    pub fn for_format(media: &MediaDescription, pt: u8) -> FeedbackSupport {
        let lines: Vec<RtcpFeedback> = media
            .rtcp_feedback()
            .into_iter()
            .filter(|fb| fb.applies_to(pt))
            .collect();
        let has =
            |kind: &str, parameter: Option<&str>| lines.iter().any(|fb| fb.is(kind, parameter));
        FeedbackSupport {
            nack: has("nack", None),
            pli: has("nack", Some("pli")),
            fir: has("ccm", Some("fir")),
        }
    }

    /// What both `self` and `other` support.
    pub fn intersection(self, other: FeedbackSupport) -> FeedbackSupport {
        FeedbackSupport {
            nack: self.nack && other.nack,
            pli: self.pli && other.pli,
            fir: self.fir && other.fir,
        }
    }

    /// The `a=rtcp-fb` lines announcing these messages for payload type
    /// `pt`, in the order `nack`, `nack pli`, `ccm fir`.
    pub fn attributes(self, pt: u8) -> Vec<Attribute> {
        [
            (self.nack, "nack", None),
            (self.pli, "nack", Some("pli")),
            (self.fir, "ccm", Some("fir")),
        ]
        .into_iter()
        .filter(|(wanted, _, _)| *wanted)
        .map(|(_, kind, parameter)| RtcpFeedback::new(pt, kind, parameter).to_attribute())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(lines: &[&str]) -> MediaDescription {
        let mut m =
            MediaDescription::new("video", 4000, "RTP/AVPF", vec!["96".into(), "97".into()]);
        for line in lines {
            m.attributes.push(Attribute::with_value("rtcp-fb", *line));
        }
        m
    }

    #[test]
    fn parse_and_print() {
        let fb = RtcpFeedback::parse("96 nack pli").unwrap();
        assert_eq!(fb, RtcpFeedback::new(96, "nack", Some("pli")));
        assert_eq!(fb.to_string(), "96 nack pli");
        let any = RtcpFeedback::parse(" *  ccm   tmmbr smaxpr=120 ").unwrap();
        assert_eq!(any.payload_type, None);
        assert_eq!(any.parameter.as_deref(), Some("tmmbr smaxpr=120"));
        assert_eq!(any.to_string(), "* ccm tmmbr smaxpr=120");
        assert_eq!(
            RtcpFeedback::parse("97 nack").unwrap().to_string(),
            "97 nack"
        );
        for bad in ["", "96", "*", "128 nack", "x nack", "-1 nack"] {
            assert_eq!(RtcpFeedback::parse(bad), None, "{bad:?}");
        }
        for text in [
            "96 nack pli",
            "* trr-int 1000",
            "100 goog-remb",
            "* ccm fir",
        ] {
            let parsed = RtcpFeedback::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(RtcpFeedback::parse(&parsed.to_string()), Some(parsed));
        }
    }

    #[test]
    fn support_per_format_with_wildcards() {
        let m = media(&[
            "* ccm fir",
            "96 nack",
            "96 NACK PLI",
            "97 nack pli",
            "bogus",
            "* ccm tmmbr",
        ]);
        assert_eq!(m.rtcp_feedback().len(), 5);
        assert_eq!(FeedbackSupport::for_format(&m, 96), FeedbackSupport::ALL);
        assert_eq!(
            FeedbackSupport::for_format(&m, 97),
            FeedbackSupport {
                nack: false,
                pli: true,
                fir: true
            }
        );
        assert_eq!(
            FeedbackSupport::for_format(&m, 98),
            FeedbackSupport {
                fir: true,
                ..FeedbackSupport::default()
            }
        );
        assert_eq!(
            FeedbackSupport::for_format(&media(&[]), 96),
            FeedbackSupport::default()
        );
    }

    #[test]
    fn intersection_and_attributes() {
        let peer = FeedbackSupport {
            nack: true,
            pli: false,
            fir: true,
        };
        assert_eq!(FeedbackSupport::ALL.intersection(peer), peer);
        let printed: Vec<String> = FeedbackSupport::ALL
            .attributes(96)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            printed,
            [
                "rtcp-fb:96 nack",
                "rtcp-fb:96 nack pli",
                "rtcp-fb:96 ccm fir"
            ]
        );
        assert_eq!(peer.attributes(100).len(), 2);
        assert!(FeedbackSupport::default().attributes(96).is_empty());
    }
}
