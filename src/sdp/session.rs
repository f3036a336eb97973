//! SDP wire types and their canonical printing.
//!
//! Owns the in-memory model of a session description (RFC 8866 §5, which
//! obsoletes RFC 4566) and the `Display` impl that prints it back as
//! CRLF-terminated lines in the order of the RFC 8866 §5 grammar:
//! `v o s [i u e p] [c] b* t* [r z k] a* m*`, and inside each media
//! section `m [i] [c] b* [k] a*`.
//!
//! Parsing lives in [`super::parse`]; attribute helpers (rtpmap, fmtp,
//! direction, rtcp, ...) live in [`super::attributes`].
//!
//! Lines this model does not interpret (`i= u= e= p= k= r= z=` at session
//! level, `k=` at media level, and any unknown lowercase type letter) are kept
//! verbatim in `other_lines` and printed back at their canonical position, so
//! they round-trip. Limitation: `r=` lines are printed after *all* `t=` lines,
//! so with several `t=` lines their association to a particular `t=` is lost.

use std::fmt;
use std::net::IpAddr;

/// A complete SDP session description (RFC 8866 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `v=` protocol version (RFC 8866 §5.1); always 0 in practice.
    pub version: u32,
    /// `o=` originator and session identifier (RFC 8866 §5.2).
    pub origin: Origin,
    /// `s=` session name (RFC 8866 §5.3); may be empty (printed as `s= `).
    pub session_name: String,
    /// Session-level `c=` (RFC 8866 §5.7); media-level `c=` overrides it.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines (RFC 8866 §5.8).
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` start/stop times (RFC 8866 §5.9). The parser stores `(0, 0)` when
    /// the line is missing, and printing emits `t=0 0` when this is empty.
    pub times: Vec<(u64, u64)>,
    /// Session-level `a=` lines, in order (RFC 8866 §5.13).
    pub attributes: Vec<Attribute>,
    /// Session-level lines not modelled above (`i u e p r z k` and unknown
    /// letters), sorted into canonical order by the parser.
    pub other_lines: Vec<OtherLine>,
    /// Media descriptions, one per `m=` line, in order (RFC 8866 §5.14).
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`
/// (RFC 8866 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name on the originating host, `-` when none.
    pub username: String,
    /// Globally unique session id; stays stable across re-offers (RFC 3264 §8).
    pub session_id: u64,
    /// Incremented on every change of the description (RFC 3264 §8).
    pub session_version: u64,
    /// Network type, `IN` for the Internet.
    pub net_type: String,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// Unicast address or FQDN of the originating host (not interpreted).
    pub address: String,
}

/// `c=IN IP4|IP6 <address>[/<ttl>[/<count>]]` (RFC 8866 §5.7).
///
/// A multicast `/<ttl>` or `/<count>` suffix is accepted by the parser and
/// dropped: this MCU only does unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The connection address. `0.0.0.0` / `::` is the legacy "hold" marker
    /// of RFC 3264 §8.4.
    pub address: IpAddr,
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// Bandwidth type, e.g. `AS`, `CT`, `TIAS`.
    pub bwtype: String,
    /// Value, in kbit/s for `AS`/`CT` and bit/s for `TIAS` (RFC 3890).
    pub bandwidth: u64,
}

/// `a=<name>[:<value>]` (RFC 8866 §5.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name (the part before the first `:`).
    pub name: String,
    /// Value after the first `:`; `None` for property attributes such as
    /// `a=sendrecv`.
    pub value: Option<String>,
}

/// A line kept verbatim because this model does not interpret it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    /// The type letter (`i`, `u`, `k`, ...).
    pub kind: char,
    /// Everything after `<kind>=`.
    pub value: String,
}

/// One media section: an `m=` line and the lines after it (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `application`, ...
    pub media: String,
    /// Transport port; 0 means the stream is rejected/disabled (RFC 3264 §5.1).
    pub port: u16,
    /// The optional `/<number of ports>` suffix.
    pub num_ports: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// Media formats; RTP payload type numbers for RTP protos. Never empty
    /// when parsed.
    pub formats: Vec<String>,
    /// Media-level `i=` title.
    pub title: Option<String>,
    /// Media-level `c=`, overriding the session-level one.
    pub connection: Option<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// Media-level lines not modelled above (`k=` and unknown letters).
    pub other_lines: Vec<OtherLine>,
}

impl Attribute {
    /// A property attribute with no value, e.g. `a=rtcp-mux`.
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A value attribute, e.g. `a=ptime:20`.
    pub fn with_value(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

impl MediaDescription {
    /// A media section with no optional lines.
    pub fn new(media: &str, port: u16, proto: &str, formats: Vec<String>) -> Self {
        MediaDescription {
            media: media.to_owned(),
            port,
            num_ports: None,
            proto: proto.to_owned(),
            formats,
            title: None,
            connection: None,
            bandwidths: Vec::new(),
            attributes: Vec::new(),
            other_lines: Vec::new(),
        }
    }
}

impl SessionDescription {
    /// The connection that applies to media section `index`: its own `c=`,
    /// else the session-level one (RFC 8866 §5.7). `None` if neither exists
    /// or `index` is out of range.
    pub fn media_connection(&self, index: usize) -> Option<Connection> {
        let media = self.media.get(index)?;
        media.connection.or(self.connection)
    }
}

/// Canonical rank of a type letter inside the session-level part, used to
/// sort and print [`OtherLine`]s (RFC 8866 §5 grammar order).
pub(crate) fn session_line_rank(kind: char) -> u8 {
    match kind {
        'i' => 0,
        'u' => 1,
        'e' => 2,
        'p' => 3,
        // c, b, t come here.
        'r' => 4,
        'z' => 5,
        'k' => 6,
        _ => 7,
    }
}

/// Ranks printed before `c=`; the others are printed after the `t=` lines.
const LAST_RANK_BEFORE_CONNECTION: u8 = 3;

fn write_line(f: &mut fmt::Formatter<'_>, kind: char, value: &dyn fmt::Display) -> fmt::Result {
    write!(f, "{kind}={value}\r\n")
}

fn write_others<'a>(
    f: &mut fmt::Formatter<'_>,
    lines: impl Iterator<Item = &'a OtherLine>,
) -> fmt::Result {
    for line in lines {
        write_line(f, line.kind, &line.value)?;
    }
    Ok(())
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            IpAddr::V4(a) => write!(f, "IN IP4 {a}"),
            IpAddr::V6(a) => write!(f, "IN IP6 {a}"),
        }
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.bandwidth)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}:{}", self.name, value),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.num_ports {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        if let Some(title) = &self.title {
            write_line(f, 'i', title)?;
        }
        if let Some(c) = &self.connection {
            write_line(f, 'c', c)?;
        }
        for b in &self.bandwidths {
            write_line(f, 'b', b)?;
        }
        write_others(f, self.other_lines.iter())?;
        for a in &self.attributes {
            write_line(f, 'a', a)?;
        }
        Ok(())
    }
}

impl fmt::Display for SessionDescription {
    /// Prints CRLF-terminated lines in RFC 8866 §5 order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_line(f, 'v', &self.version)?;
        write_line(f, 'o', &self.origin)?;
        // RFC 8866 §5.3: an empty session name is written as a single space.
        let name = if self.session_name.is_empty() {
            " "
        } else {
            self.session_name.as_str()
        };
        write_line(f, 's', &name)?;
        let mut before: Vec<&OtherLine> = Vec::new();
        let mut after: Vec<&OtherLine> = Vec::new();
        for line in &self.other_lines {
            if session_line_rank(line.kind) <= LAST_RANK_BEFORE_CONNECTION {
                before.push(line);
            } else {
                after.push(line);
            }
        }
        before.sort_by_key(|l| session_line_rank(l.kind));
        after.sort_by_key(|l| session_line_rank(l.kind));
        write_others(f, before.into_iter())?;
        if let Some(c) = &self.connection {
            write_line(f, 'c', c)?;
        }
        for b in &self.bandwidths {
            write_line(f, 'b', b)?;
        }
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for (start, stop) in &self.times {
            write!(f, "t={start} {stop}\r\n")?;
        }
        write_others(f, after.into_iter())?;
        for a in &self.attributes {
            write_line(f, 'a', a)?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}
