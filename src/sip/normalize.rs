//! The header section as `rsip` can read it, and the raw checks made before it is read.
//!
//! `rsip` reads one header per line, the name followed at once by its colon, and structured
//! values without optional whitespace. RFC 3261 allows more, and RFC 4475 §3.1.1.1 sends all
//! of it; [`normalize`] rewrites the header section into the form `rsip` reads, without
//! changing what it means:
//! - folded lines are unfolded: a line break followed by whitespace is one SP (§7.3.1);
//! - whitespace before a header's colon is dropped (HCOLON, §25.1);
//! - compact names become their long forms (§7.3.3);
//! - in the structured headers read typed (Via, From, To, Contact, CSeq), the optional
//!   whitespace around `/ ; = ,` (SLASH, SEMI, EQUAL, COMMA: `SWS x SWS`, §25.1) is dropped
//!   and other runs of whitespace become one SP. Quoted strings are kept as they are;
//! - `;` and `?` in the user part of a SIP Request-URI (RFC 4475 §3.1.1.9) are escaped:
//!   `rsip` would take them for the start of the URI's parameters and fail.
//!
//! It refuses what `rsip` would read wrongly: a structured header with an empty element
//! (`;;`, `,,`, a trailing `;`: RFC 4475 §3.1.2.1) or a quoted string left open (§3.1.2.6).
//! [`forbidden_control`] is the check for control characters (#14 item 7).

use super::framing::find_subslice;
use super::message::ParseError;

/// Compact header names (RFC 3261 §7.3.3) and their long forms.
pub(super) const COMPACT_FORMS: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
];

/// Headers whose optional whitespace is dropped: the ones parsed typed.
const STRUCTURED: &[&str] = &["Via", "From", "To", "Contact", "CSeq"];

/// The long name of a header (`name` itself when it has no compact form).
pub(super) fn long_name(name: &str) -> &str {
    COMPACT_FORMS
        .iter()
        .find(|(short, _)| name.eq_ignore_ascii_case(short))
        .map_or(name, |(_, long)| long)
}

/// Rewrites the header section of `bytes` as described in the module header; the body is
/// copied as it is.
pub(super) fn normalize(bytes: &[u8]) -> Result<Vec<u8>, ParseError> {
    let split = find_subslice(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let (head, body) = bytes.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for (i, line) in unfolded_lines(&head).iter().enumerate() {
        if i == 0 {
            out.extend_from_slice(escaped_request_user(line).as_bytes());
            continue;
        }
        out.extend_from_slice(b"\r\n");
        let Some((name, value)) = line.split_once(':') else {
            out.extend_from_slice(line.as_bytes());
            continue;
        };
        let name = long_name(name.trim_end_matches([' ', '\t']));
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        match STRUCTURED.iter().find(|s| s.eq_ignore_ascii_case(name)) {
            Some(structured) => {
                let value = tighten(value).ok_or(ParseError::BadHeader(structured))?;
                out.push(b' ');
                out.extend_from_slice(value.as_bytes());
            }
            None => out.extend_from_slice(value.as_bytes()),
        }
    }
    out.extend_from_slice(body);
    Ok(out)
}

/// A request line with `;` and `?` escaped in the user part of its SIP or SIPS URI (RFC 3261
/// §25.1 allows them there, unescaped); any other start line as it is.
fn escaped_request_user(line: &str) -> std::borrow::Cow<'_, str> {
    let mut parts = line.splitn(3, ' ');
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return line.into();
    };
    let scheme_end = ["sip:", "sips:"]
        .iter()
        .find(|scheme| {
            uri.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        })
        .map(|scheme| scheme.len());
    let (Some(start), Some(at)) = (scheme_end, uri.find('@')) else {
        return line.into();
    };
    let user = uri.get(start..at).unwrap_or_default();
    if !user.contains([';', '?']) {
        return line.into();
    }
    let user = user.replace(';', "%3B").replace('?', "%3F");
    format!("{method} {}{user}{} {version}", &uri[..start], &uri[at..]).into()
}

/// The lines of a header section with continuation lines joined to the header they continue
/// by one SP. A continuation of the start line is left alone (it is malformed).
fn unfolded_lines(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        let continues = line.starts_with([' ', '\t']) && lines.len() > 1;
        match lines.last_mut() {
            Some(last) if continues => {
                last.push(' ');
                last.push_str(line.trim_start_matches([' ', '\t']));
            }
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

/// A structured header value without the optional whitespace of §25.1, quoted strings kept;
/// `None` when it has an empty element (two separators in a row, or one at an end) or a
/// quoted string that is not closed.
fn tighten(value: &str) -> Option<String> {
    const SEPARATORS: &[char] = &['/', ';', '=', ','];
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    let mut quoted = false;
    let mut escaped = false;
    for c in value.trim_matches([' ', '\t']).chars() {
        if quoted {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        let after_separator = out.is_empty() || out.ends_with(SEPARATORS);
        if SEPARATORS.contains(&c) && after_separator {
            return None;
        }
        if pending_space && !SEPARATORS.contains(&c) && !after_separator {
            out.push(' ');
        }
        pending_space = false;
        quoted = c == '"';
        out.push(c);
    }
    let open_end = out.ends_with(SEPARATORS);
    (!quoted && !open_end).then_some(out)
}

/// Whether the header section has a control character (all but HT, and DEL) where RFC 3261
/// allows none: anywhere but escaped in a quoted string (`quoted-pair`, §25.1, which
/// excludes CR and LF; RFC 4475 §3.1.1.2 sends a quoted NUL). A quoted string ends with its
/// line. Line breaks are checked apart (a bare CR or LF is never allowed).
pub(super) fn forbidden_control(head: &[u8]) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for &b in head {
        let control = (b < 0x20 && b != b'\t') || b == 0x7f;
        if escaped {
            escaped = false;
            if matches!(b, b'\r' | b'\n') {
                quoted = false;
            }
            continue;
        }
        match b {
            b'\r' | b'\n' => quoted = false,
            b'"' => quoted = !quoted,
            b'\\' if quoted => escaped = true,
            _ if control => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_spaced_and_compact_headers_become_what_rsip_reads() {
        let text = "INVITE sip:a@b SIP/2.0\r\nv:  SIP  / 2.0  / TCP  h.example.com ;\r\n  \
                    branch  =   z9hG4bK9 ,\r\n SIP/2.0/UDP h2\r\nTO :\r\n sip:x@y ;   tag = 1\r\n\
                    f: \"A  ; B\"  <sip:a@b> ; tag=2\r\nSubject :  a  ;  b\r\n\r\nbody  ;  x";
        let normalized = normalize(text.as_bytes()).expect("valid");
        let normalized = String::from_utf8(normalized).expect("utf-8");
        assert_eq!(
            normalized,
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h.example.com;branch=z9hG4bK9,\
             SIP/2.0/UDP h2\r\nTO: sip:x@y;tag=1\r\nFrom: \"A  ; B\" <sip:a@b>;tag=2\r\n\
             Subject:  a  ;  b\r\n\r\nbody  ;  x"
        );
    }

    #[test]
    fn empty_elements_and_open_quotes_are_refused() {
        for bad in [
            "Via: SIP/2.0/UDP 192.0.2.15;;,;,,",
            "Contact: \"Joe\" <sip:joe@example.org>;;;;",
            "To: \"Mr. J. User <sip:j.user@example.com>",
            "From: <sip:a@b>;tag=",
        ] {
            let text = format!("OPTIONS sip:a@b SIP/2.0\r\n{bad}\r\n\r\n");
            assert!(normalize(text.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_semicolon_in_the_request_user_is_escaped() {
        let text = "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\n\r\n";
        let normalized = normalize(text.as_bytes()).expect("valid");
        assert!(normalized.starts_with(b"OPTIONS sip:user%3Bpar=u%40example.net@example.com "));
    }

    #[test]
    fn control_characters_pass_only_as_quoted_pairs() {
        assert!(!forbidden_control(
            b"To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:a@b>\r\n"
        ));
        assert!(forbidden_control(b"To: \"NUL:\x00\" <sip:a@b>\r\n"));
        assert!(forbidden_control(b"To: \\\x00 <sip:a@b>\r\n"));
        // A quote left open does not carry over to the next line.
        assert!(forbidden_control(b"To: \"open\r\nX: \\\x00\r\n"));
        assert!(!forbidden_control(b"Call-ID: a\tb\r\n"));
    }
}
