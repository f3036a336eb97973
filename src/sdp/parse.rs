//! SDP text parser and its typed error.
//!
//! Turns SDP text (RFC 8866 §5, §9 grammar) into a [`SessionDescription`].
//! Accepts CRLF or bare LF line endings, skips blank lines and trailing
//! whitespace, and never panics: every malformed input yields an [`SdpError`]
//! naming the offending 1-based line.
//!
//! Deliberate leniencies (for interoperability with real endpoints):
//! - unknown lowercase type letters are kept in `other_lines` instead of
//!   rejecting the whole description as RFC 8866 §5 would;
//! - a missing `t=` line is treated as `t=0 0` (RFC 8866 §5.9);
//! - any `v=` number is accepted and stored.
//!
//! Strictness: `v=` must be the first line; `o=` and `s=` must appear once
//! before the first `m=`; `c=` addresses must be IP literals matching their
//! address type; `m=` ports must fit in 16 bits and at least one format is
//! required (RFC 8866 §5.14).

use std::net::IpAddr;
use std::str::FromStr;

use super::session::{
    session_line_rank, Attribute, Bandwidth, Connection, MediaDescription, Origin, OtherLine,
    SessionDescription,
};

/// Why a piece of SDP text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The text contains no SDP lines at all.
    #[error("SDP is empty")]
    Empty,
    /// A line is not of the form `<letter>=<value>` (RFC 8866 §5).
    #[error("line {line}: not a `<type>=<value>` SDP line: {text:?}")]
    NotATypeValueLine {
        /// 1-based line number.
        line: usize,
        /// The start of the offending line.
        text: String,
    },
    /// The first line is not `v=` (RFC 8866 §5).
    #[error("line {line}: SDP must start with a `v=` line")]
    VersionNotFirst {
        /// 1-based line number.
        line: usize,
    },
    /// A mandatory line (`v=`, `o=`, `s=`) is missing.
    #[error("missing mandatory `{kind}=` line")]
    MissingLine {
        /// The missing type letter.
        kind: char,
    },
    /// A line that may appear only once at its level appears again.
    #[error("line {line}: duplicate `{kind}=` line")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The duplicated type letter.
        kind: char,
    },
    /// A session-level-only line appears inside a media section.
    #[error("line {line}: `{kind}=` line is not allowed after the first `m=` line")]
    Misplaced {
        /// 1-based line number.
        line: usize,
        /// The misplaced type letter.
        kind: char,
    },
    /// A known line whose value does not follow its grammar.
    #[error("line {line}: invalid `{kind}=` line ({reason}): {text:?}")]
    InvalidValue {
        /// 1-based line number.
        line: usize,
        /// The type letter of the line.
        kind: char,
        /// What is wrong with it.
        reason: &'static str,
        /// The start of the offending line.
        text: String,
    },
    /// An `m=` line without any media format (RFC 8866 §5.14).
    #[error("line {line}: `m=` line has no media formats")]
    NoFormats {
        /// 1-based line number.
        line: usize,
    },
    /// More media sections, lines or attributes than this server accepts.
    #[error("SDP has more than {limit} {what}")]
    TooMany {
        /// What overflowed ("media sections", "lines").
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

/// Most `m=` sections accepted in one description. A conference call needs two (audio and
/// video); a few more leave room for peers that offer extra streams we reject with port 0.
/// Refusing beyond this keeps an offer from making us answer (and allocate for) hundreds.
pub const MAX_MEDIA_SECTIONS: usize = 16;
/// Most lines accepted in one description (every kind of line counted).
pub const MAX_LINES: usize = 1_024;

/// Longest excerpt of an offending line kept in an error.
const MAX_EXCERPT_CHARS: usize = 80;

fn excerpt(text: &str) -> String {
    text.chars().take(MAX_EXCERPT_CHARS).collect()
}

/// One `<kind>=<value>` line and where it came from.
struct Line<'a> {
    number: usize,
    kind: char,
    value: &'a str,
    raw: &'a str,
}

impl Line<'_> {
    fn invalid(&self, reason: &'static str) -> SdpError {
        SdpError::InvalidValue {
            line: self.number,
            kind: self.kind,
            reason,
            text: excerpt(self.raw),
        }
    }
}

/// Splits `raw` into its type letter and value (RFC 8866 §5: `<type>=<value>`
/// where `<type>` is exactly one letter; lowercase only, as all SDP types are).
fn split_line(number: usize, raw: &str) -> Result<Line<'_>, SdpError> {
    let bytes = raw.as_bytes();
    match (bytes.first(), bytes.get(1)) {
        (Some(&k), Some(&b'=')) if k.is_ascii_lowercase() => Ok(Line {
            number,
            kind: char::from(k),
            // Both leading bytes are ASCII, so index 2 is a char boundary.
            value: raw.get(2..).unwrap_or(""),
            raw,
        }),
        _ => Err(SdpError::NotATypeValueLine {
            line: number,
            text: excerpt(raw),
        }),
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(text: &str) -> Result<Self, SdpError> {
        SessionDescription::parse(text)
    }
}

impl SessionDescription {
    /// Parses SDP text with CRLF or LF line endings (RFC 8866 §5).
    ///
    /// Never panics; see the module docs for what is rejected.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, raw)| (i + 1, raw.trim_end()))
            .filter(|(_, raw)| !raw.is_empty());

        let (number, first) = lines.next().ok_or(SdpError::Empty)?;
        let first = split_line(number, first)?;
        if first.kind != 'v' {
            return Err(SdpError::VersionNotFirst { line: number });
        }
        let version = first
            .value
            .trim()
            .parse::<u32>()
            .map_err(|_| first.invalid("version is not a number"))?;

        let mut builder = Builder::default();
        for (count, (number, raw)) in lines.enumerate() {
            if count + 2 > MAX_LINES {
                return Err(SdpError::TooMany {
                    what: "lines",
                    limit: MAX_LINES,
                });
            }
            let line = split_line(number, raw)?;
            if line.kind == 'm' {
                if builder.media.len() == MAX_MEDIA_SECTIONS {
                    return Err(SdpError::TooMany {
                        what: "media sections",
                        limit: MAX_MEDIA_SECTIONS,
                    });
                }
                builder.media.push(parse_media_line(&line)?);
            } else if let Some(media) = builder.media.last_mut() {
                media_line(media, &line)?;
            } else {
                builder.session_line(&line)?;
            }
        }
        builder.finish(version)
    }
}

#[derive(Default)]
struct Builder {
    origin: Option<Origin>,
    session_name: Option<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    times: Vec<(u64, u64)>,
    attributes: Vec<Attribute>,
    other_lines: Vec<OtherLine>,
    media: Vec<MediaDescription>,
}

impl Builder {
    /// Handles one line before the first `m=`.
    fn session_line(&mut self, line: &Line<'_>) -> Result<(), SdpError> {
        let duplicate = || SdpError::Duplicate {
            line: line.number,
            kind: line.kind,
        };
        match line.kind {
            'v' => return Err(duplicate()),
            'o' if self.origin.is_some() => return Err(duplicate()),
            'o' => self.origin = Some(parse_origin(line)?),
            's' if self.session_name.is_some() => return Err(duplicate()),
            's' => self.session_name = Some(line.value.to_owned()),
            'c' if self.connection.is_some() => return Err(duplicate()),
            'c' => self.connection = Some(parse_connection(line)?),
            'b' => self.bandwidths.push(parse_bandwidth(line)?),
            't' => self.times.push(parse_timing(line)?),
            'a' => self.attributes.push(parse_attribute(line)?),
            kind => self.other_lines.push(OtherLine {
                kind,
                value: line.value.to_owned(),
            }),
        }
        Ok(())
    }

    fn finish(mut self, version: u32) -> Result<SessionDescription, SdpError> {
        let origin = self.origin.ok_or(SdpError::MissingLine { kind: 'o' })?;
        let session_name = self
            .session_name
            .ok_or(SdpError::MissingLine { kind: 's' })?;
        if self.times.is_empty() {
            self.times.push((0, 0));
        }
        // Canonical order, so that parse(print(x)) == x (stable sort).
        self.other_lines.sort_by_key(|l| session_line_rank(l.kind));
        Ok(SessionDescription {
            version,
            origin,
            session_name,
            connection: self.connection,
            bandwidths: self.bandwidths,
            times: self.times,
            attributes: self.attributes,
            other_lines: self.other_lines,
            media: self.media,
        })
    }
}

/// Handles one line inside a media section (RFC 8866 §5.14 grammar).
fn media_line(media: &mut MediaDescription, line: &Line<'_>) -> Result<(), SdpError> {
    let duplicate = || SdpError::Duplicate {
        line: line.number,
        kind: line.kind,
    };
    match line.kind {
        'v' | 'o' | 's' | 't' | 'r' | 'z' | 'u' | 'e' | 'p' => {
            return Err(SdpError::Misplaced {
                line: line.number,
                kind: line.kind,
            })
        }
        'i' if media.title.is_some() => return Err(duplicate()),
        'i' => media.title = Some(line.value.to_owned()),
        'c' if media.connection.is_some() => return Err(duplicate()),
        'c' => media.connection = Some(parse_connection(line)?),
        'b' => media.bandwidths.push(parse_bandwidth(line)?),
        'a' => media.attributes.push(parse_attribute(line)?),
        kind => media.other_lines.push(OtherLine {
            kind,
            value: line.value.to_owned(),
        }),
    }
    Ok(())
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`
/// (RFC 8866 §5.2).
fn parse_origin(line: &Line<'_>) -> Result<Origin, SdpError> {
    let fields: Vec<&str> = line.value.split_ascii_whitespace().collect();
    let [username, id, version, net_type, addr_type, address] = fields[..] else {
        return Err(line.invalid("expected 6 fields"));
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: id
            .parse()
            .map_err(|_| line.invalid("session id is not a 64-bit number"))?,
        session_version: version
            .parse()
            .map_err(|_| line.invalid("session version is not a 64-bit number"))?,
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

/// `c=IN IP4|IP6 <address>[/<ttl>][/<count>]` (RFC 8866 §5.7). Only IP
/// literals are accepted; the multicast suffix is tolerated and dropped.
fn parse_connection(line: &Line<'_>) -> Result<Connection, SdpError> {
    let fields: Vec<&str> = line.value.split_ascii_whitespace().collect();
    let [net_type, addr_type, address] = fields[..] else {
        return Err(line.invalid("expected `IN IP4|IP6 <address>`"));
    };
    if !net_type.eq_ignore_ascii_case("IN") {
        return Err(line.invalid("network type is not IN"));
    }
    let literal = address.split('/').next().unwrap_or(address);
    let address: IpAddr = literal
        .parse()
        .map_err(|_| line.invalid("address is not an IP literal"))?;
    let type_matches = match address {
        IpAddr::V4(_) => addr_type.eq_ignore_ascii_case("IP4"),
        IpAddr::V6(_) => addr_type.eq_ignore_ascii_case("IP6"),
    };
    if !type_matches {
        return Err(line.invalid("address does not match its address type"));
    }
    Ok(Connection { address })
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
fn parse_bandwidth(line: &Line<'_>) -> Result<Bandwidth, SdpError> {
    let (bwtype, value) = line
        .value
        .split_once(':')
        .ok_or_else(|| line.invalid("expected `<type>:<value>`"))?;
    if bwtype.is_empty() {
        return Err(line.invalid("empty bandwidth type"));
    }
    Ok(Bandwidth {
        bwtype: bwtype.to_owned(),
        bandwidth: value
            .trim()
            .parse()
            .map_err(|_| line.invalid("bandwidth is not a number"))?,
    })
}

/// `t=<start-time> <stop-time>` (RFC 8866 §5.9).
fn parse_timing(line: &Line<'_>) -> Result<(u64, u64), SdpError> {
    let fields: Vec<&str> = line.value.split_ascii_whitespace().collect();
    let [start, stop] = fields[..] else {
        return Err(line.invalid("expected `<start> <stop>`"));
    };
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| line.invalid("time is not a number"))
    };
    Ok((number(start)?, number(stop)?))
}

/// `a=<name>[:<value>]` (RFC 8866 §5.13).
fn parse_attribute(line: &Line<'_>) -> Result<Attribute, SdpError> {
    let (name, value) = match line.value.split_once(':') {
        Some((name, value)) => (name, Some(value.to_owned())),
        None => (line.value, None),
    };
    if name.is_empty() {
        return Err(line.invalid("empty attribute name"));
    }
    Ok(Attribute {
        name: name.to_owned(),
        value,
    })
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 §5.14).
fn parse_media_line(line: &Line<'_>) -> Result<MediaDescription, SdpError> {
    let mut fields = line.value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(line.invalid("expected `<media> <port> <proto> <fmt> ...`"));
    };
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(SdpError::NoFormats { line: line.number });
    }
    let (port, num_ports) = match port.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port, None),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| line.invalid("port is not a number in 0..=65535"))?;
    let num_ports = num_ports
        .map(|n| n.parse::<u16>())
        .transpose()
        .map_err(|_| line.invalid("number of ports is not a number in 0..=65535"))?;
    let mut description = MediaDescription::new(media, port, proto, formats);
    description.num_ports = num_ports;
    Ok(description)
}
