//! Typed accessors for the SDP attributes a media server cares about.
//!
//! - `a=rtpmap` (RFC 8866 §6.6) → [`RtpMap`]
//! - `a=fmtp` (RFC 8866 §6.15) and its `key=value;...` parameters
//! - direction attributes (RFC 8866 §6.7), with the session-level fallback
//! - `a=ptime` (RFC 8866 §6.4)
//! - `a=rtcp` (RFC 3605 §2.1) and `a=rtcp-mux` (RFC 5761 §5.1.1)
//!
//! Attribute names are matched ASCII case-insensitively. Malformed values
//! are ignored (the accessor returns `None` / skips them) rather than
//! rejecting the description.

use std::fmt;
use std::net::IpAddr;

use super::direction::Direction;
use super::session::{Attribute, MediaDescription, SessionDescription};

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`
/// (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// RTP payload type number (0..=127).
    pub payload_type: u8,
    /// Encoding name as written, e.g. `opus`, `PCMU`, `telephone-event`.
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters; the channel count for audio.
    pub channels: Option<u16>,
}

/// Highest RTP payload type number (7-bit field, RFC 3550 §5.1).
pub const MAX_PAYLOAD_TYPE: u8 = 127;

/// Parses an RTP payload type number (0..=127) from a format or attribute.
pub fn parse_payload_type(text: &str) -> Option<u8> {
    text.parse::<u8>().ok().filter(|pt| *pt <= MAX_PAYLOAD_TYPE)
}

impl RtpMap {
    /// Parses the value of an `a=rtpmap` attribute.
    pub fn parse(value: &str) -> Option<RtpMap> {
        let (pt, rest) = value.trim().split_once(|c: char| c.is_ascii_whitespace())?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?;
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            payload_type: parse_payload_type(pt)?,
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        })
    }

    /// The `a=rtpmap:...` attribute for this mapping.
    pub fn to_attribute(&self) -> Attribute {
        Attribute::with_value("rtpmap", self.to_string())
    }
}

impl fmt::Display for RtpMap {
    /// Prints the attribute value, e.g. `111 opus/48000/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

/// Looks up `key` in fmtp parameters of the common `k1=v1;k2=v2` form
/// (e.g. RFC 7587 §6.1 for Opus). Keys match case-insensitively; a key
/// present without `=` yields `Some("")`.
pub fn fmtp_parameter<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

/// The payload type and parameters of an `a=fmtp` value (`<pt> <params>`).
pub fn fmtp_entry(value: &str) -> Option<(u8, &str)> {
    let value = value.trim_start();
    let (format, params) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    Some((parse_payload_type(format)?, params.trim()))
}

fn first_value<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.value.as_deref().unwrap_or(""))
}

fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .find_map(|a| Direction::from_attribute_name(&a.name))
}

impl MediaDescription {
    /// Value of the first attribute called `name`; `Some("")` for a property
    /// attribute without value; `None` if absent.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        first_value(&self.attributes, name)
    }

    /// Values of every attribute called `name`, in order.
    pub fn attributes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// Whether an attribute called `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// All well-formed `a=rtpmap` lines, in order.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attributes_named("rtpmap")
            .filter_map(RtpMap::parse)
            .collect()
    }

    /// The `a=rtpmap` for payload type `pt`, if any.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.attributes_named("rtpmap")
            .filter_map(RtpMap::parse)
            .find(|m| m.payload_type == pt)
    }

    /// Format parameters of `a=fmtp:<pt> <params>` (RFC 8866 §6.15);
    /// `Some("")` if the line has no parameters.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes_named("fmtp")
            .filter_map(fmtp_entry)
            .find_map(|(format, params)| (format == pt).then_some(params))
    }

    /// The media-level direction attribute, if any (RFC 8866 §6.7). Use
    /// [`SessionDescription::media_direction`] for the effective direction.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// `a=rtcp:<port> [IN IP4|IP6 <address>]` (RFC 3605 §2.1). The address is
    /// `None` when absent or not an IP literal.
    pub fn rtcp(&self) -> Option<(u16, Option<IpAddr>)> {
        let value = self.attribute("rtcp")?;
        let mut fields = value.split_ascii_whitespace();
        let port = fields.next()?.parse().ok()?;
        let address = fields.nth(2).and_then(|a| a.parse().ok());
        Some((port, address))
    }

    /// Whether `a=rtcp-mux` is present (RFC 5761 §5.1.1).
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// `a=ptime` in milliseconds (RFC 8866 §6.4). A fractional value such as
    /// `20.0` is truncated to whole milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        let value = self.attribute("ptime")?.trim();
        let whole = value.split_once('.').map_or(value, |(whole, _)| whole);
        whole.parse().ok().filter(|ms| *ms > 0)
    }
}

impl SessionDescription {
    /// Value of the first session-level attribute called `name`, as
    /// [`MediaDescription::attribute`].
    pub fn attribute(&self, name: &str) -> Option<&str> {
        first_value(&self.attributes, name)
    }

    /// Whether a session-level attribute called `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// Effective direction of media section `index`: its own attribute, else
    /// the session-level one, else `sendrecv` (RFC 3264 §5.1). `None` only
    /// when `index` is out of range.
    pub fn media_direction(&self, index: usize) -> Option<Direction> {
        let media = self.media.get(index)?;
        Some(
            media
                .direction()
                .or_else(|| self.direction())
                .unwrap_or_default(),
        )
    }
}
