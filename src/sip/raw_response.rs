//! Stateless answers to requests that could not be parsed (RFC 3261 §8.2.6.2, §21): built
//! from the raw text by copying Via, From, To, Call-ID and CSeq, with the status that says
//! why ([`RawRejection`]). Responses, ACKs and bytes that do not look like a request get no
//! answer.

use super::message::{ParseError, ALLOWED_METHODS, PRODUCT};
use super::normalize::long_name;

/// The statuses a request can be refused with before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawRejection {
    /// 400: malformed.
    BadRequest,
    /// 413: larger than this server accepts (RFC 3261 §21.4.11).
    TooLarge,
    /// 501: a method this server does not know (RFC 3261 §21.5.2, RFC 4475 §3.1.1.2), with
    /// `Allow`.
    NotImplemented,
    /// 505: a SIP version other than 2.0 (RFC 3261 §21.5.6, RFC 4475 §3.1.2.16).
    VersionNotSupported,
}

impl RawRejection {
    fn status_line(self) -> &'static str {
        match self {
            RawRejection::BadRequest => "SIP/2.0 400 Bad Request",
            RawRejection::TooLarge => "SIP/2.0 413 Request Entity Too Large",
            RawRejection::NotImplemented => "SIP/2.0 501 Not Implemented",
            RawRejection::VersionNotSupported => "SIP/2.0 505 Version Not Supported",
        }
    }

    /// The status for bytes that [`parse_message`](super::message::parse_message) refused.
    pub fn for_error(error: &ParseError) -> Self {
        match error {
            ParseError::UnknownMethod(_) => RawRejection::NotImplemented,
            ParseError::UnsupportedVersion(_) => RawRejection::VersionNotSupported,
            _ => RawRejection::BadRequest,
        }
    }
}

/// What the transport sends back for bytes `parse_message` refused with `error`, or `None`
/// when no response can be formed (then the message is dropped).
pub fn answer_unparsable(bytes: &[u8], error: &ParseError) -> Option<Vec<u8>> {
    raw_error_response(bytes, RawRejection::for_error(error), &error.to_string())
}

/// For a request `rsip` could not parse: if the raw text still looks like a request and carries
/// the headers a response needs, builds a `400 Bad Request` by copying them (RFC 3261 §8.2.6.2).
/// Returns `None` when no response can be formed (then the message is dropped silently).
pub fn raw_bad_request(bytes: &[u8], reason: &str) -> Option<Vec<u8>> {
    raw_error_response(bytes, RawRejection::BadRequest, reason)
}

/// [`raw_bad_request`] with the status chosen by `rejection`.
pub fn raw_error_response(bytes: &[u8], rejection: RawRejection, reason: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    if !looks_like_request_line(lines.next()?) {
        return None;
    }
    let wanted = ["via", "from", "to", "call-id", "cseq"];
    let mut copied = Vec::new();
    let mut seen = [false; 5];
    for line in lines {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let long = long_name(name.trim()).to_ascii_lowercase();
        if let Some(i) = wanted.iter().position(|w| *w == long) {
            seen[i] = true;
            copied.push(line);
        }
    }
    if !seen.iter().all(|s| *s) {
        return None;
    }
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    let mut out = format!("{}\r\n", rejection.status_line());
    for line in copied {
        out.push_str(line);
        out.push_str("\r\n");
    }
    if rejection == RawRejection::NotImplemented {
        out.push_str(&format!("Allow: {ALLOWED_METHODS}\r\n"));
    }
    out.push_str(&format!(
        "Server: {PRODUCT}\r\nWarning: 399 tessera \"{}\"\r\nContent-Length: 0\r\n\r\n",
        reason.replace('"', "'")
    ));
    Some(out.into_bytes())
}

/// A start line that is a request, if a malformed one: a method token (not ACK, which is
/// never answered), then at least one more word, and `SIP/` at the end. Its spacing is not
/// checked, so a request line with extra SP (RFC 4475 §3.1.2.8–10) is still answered.
fn looks_like_request_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    match words[..] {
        [method, _, .., version] => {
            is_token(method) && method != "ACK" && version.starts_with("SIP/")
        }
        _ => false,
    }
}

/// `token` of RFC 3261 §25.1: alphanumerics and `-.!%*_+`'~`.
pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bad_request_needs_headers() {
        let garbage = "INVITE sip:3000@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:3000@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContact: <<<<\r\n\r\n";
        let resp = raw_bad_request(garbage.as_bytes(), "bad Contact").unwrap();
        assert!(String::from_utf8(resp).unwrap().starts_with("SIP/2.0 400"));
        assert!(raw_bad_request(b"\x00\x01garbage", "x").is_none());
        assert!(raw_bad_request(b"INVITE sip:x SIP/2.0\r\nVia: a\r\n\r\n", "x").is_none());
    }

    #[test]
    fn responses_and_acks_are_never_answered() {
        let headers = "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n\
                       To: <sip:c@d>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        for start in [
            "SIP/2.0 200 OK",
            "SIP/2.0 4294967301 big",
            "ACK sip:c@d SIP/2.0",
        ] {
            let text = format!("{start}\r\n{headers}");
            assert_eq!(raw_bad_request(text.as_bytes(), "x"), None, "{start}");
        }
        let text = format!("NEWMETHOD sip:c@d SIP/2.0\r\n{headers}");
        let resp = raw_error_response(text.as_bytes(), RawRejection::NotImplemented, "x");
        let resp = String::from_utf8(resp.expect("501")).expect("utf-8");
        assert!(
            resp.starts_with("SIP/2.0 501 Not Implemented\r\n"),
            "{resp}"
        );
        assert!(
            resp.contains(&format!("\r\nAllow: {ALLOWED_METHODS}\r\n")),
            "{resp}"
        );
    }
}
