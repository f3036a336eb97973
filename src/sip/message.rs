//! SIP message helpers on top of `rsip`: parsing with compact-form header expansion and the
//! mandatory-header checks of RFC 3261 §8.1.1, response construction per §8.2.6, identifiers
//! (tags, branches, Call-IDs) and a last-resort `400` for messages `rsip` cannot parse.

use super::framing::declared_content_length;
use rand::Rng;
use rsip::headers::{Header, UntypedHeader};
use rsip::prelude::*;
use rsip::{Method, Request, Response, SipMessage, StatusCode};
use thiserror::Error;

/// RFC 3261 §8.1.1.7: branch IDs of compliant implementations start with this cookie.
pub const BRANCH_COOKIE: &str = "z9hG4bK";
/// Methods this server implements (sent in `Allow`).
pub const ALLOWED_METHODS: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";
/// Product token for `Server` / `User-Agent`.
pub const PRODUCT: &str = concat!("Tessera/", env!("CARGO_PKG_VERSION"));

/// Why an incoming datagram or stream message was rejected.
#[derive(Debug, Error)]
pub enum ParseError {
    #[error("not valid SIP: {0}")]
    Syntax(String),
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    BadHeader(&'static str),
    #[error("body shorter than Content-Length")]
    TruncatedBody,
    #[error("control character in the header section")]
    ControlCharacter,
    #[error("CSeq method {cseq} differs from the request method {request}")]
    CseqMethodMismatch { cseq: String, request: String },
}

/// Parses one SIP message, expanding compact header names (RFC 3261 §7.3.3) first and checking
/// the headers every request and response must carry.
///
/// The raw bytes are checked before `rsip` sees them, since it is lenient where RFC 3261 is
/// not: no control characters but HT in the header section (§25.1: NUL in a value is a
/// classic injection), `Content-Length` as digits only, agreeing when repeated, and not more
/// than the body that arrived (§18.3: a datagram shorter than that is refused); and a
/// request's CSeq method must be the request's method (§8.1.1.5).
pub fn parse_message(bytes: &[u8]) -> Result<SipMessage, ParseError> {
    let head_end = super::framing::find_subslice(bytes, b"\r\n\r\n");
    let head = &bytes[..head_end.unwrap_or(bytes.len())];
    if head
        .iter()
        .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
    {
        return Err(ParseError::ControlCharacter);
    }
    // A CR or LF that does not end a line would carry on into a header value (and from there
    // into a log line or one of our responses).
    let bare_line_break = head.iter().enumerate().any(|(i, &b)| match b {
        b'\r' => head.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || head[i - 1] != b'\r',
        _ => false,
    });
    if bare_line_break {
        return Err(ParseError::ControlCharacter);
    }
    let declared =
        declared_content_length(head).map_err(|_| ParseError::BadHeader("Content-Length"))?;
    let body_len = head_end.map_or(0, |end| bytes.len() - end - 4);
    if declared.is_some_and(|declared| body_len < declared) {
        return Err(ParseError::TruncatedBody);
    }
    let expanded = expand_compact_headers(bytes);
    let msg = SipMessage::try_from(expanded.as_slice())
        .map_err(|e| ParseError::Syntax(truncate(&e.to_string(), 120)))?;
    check_mandatory(&msg)?;
    if let SipMessage::Request(req) = &msg {
        if let Some((_, method)) = cseq(req) {
            if method != req.method {
                return Err(ParseError::CseqMethodMismatch {
                    cseq: method.to_string(),
                    request: req.method.to_string(),
                });
            }
        }
    }
    Ok(msg)
}

fn truncate(s: &str, max: usize) -> String {
    super::log_limit::printable(s, max)
}

fn check_mandatory(msg: &SipMessage) -> Result<(), ParseError> {
    msg.via_header()
        .map_err(|_| ParseError::MissingHeader("Via"))?;
    msg.from_header()
        .map_err(|_| ParseError::MissingHeader("From"))?;
    msg.to_header()
        .map_err(|_| ParseError::MissingHeader("To"))?;
    msg.call_id_header()
        .map_err(|_| ParseError::MissingHeader("Call-ID"))?;
    let cseq = msg
        .cseq_header()
        .map_err(|_| ParseError::MissingHeader("CSeq"))?;
    cseq.typed().map_err(|_| ParseError::BadHeader("CSeq"))?;
    top_branch(msg).ok_or(ParseError::BadHeader("Via"))?;
    Ok(())
}

const COMPACT_FORMS: &[(&str, &str)] = &[
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

/// Rewrites single-letter header names to their long forms so `rsip` recognises them.
fn expand_compact_headers(bytes: &[u8]) -> Vec<u8> {
    let split = super::framing::find_subslice(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let (head, body) = bytes.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let compact = line.split_once(':').and_then(|(name, rest)| {
            let name = name.trim();
            COMPACT_FORMS
                .iter()
                .find(|(short, _)| name.eq_ignore_ascii_case(short))
                .map(|(_, long)| (*long, rest))
        });
        match compact {
            Some((long, rest)) if i > 0 => {
                out.extend_from_slice(long.as_bytes());
                out.push(b':');
                out.extend_from_slice(rest.as_bytes());
            }
            _ => out.extend_from_slice(line.as_bytes()),
        }
    }
    out.extend_from_slice(body);
    out
}

/// The branch parameter of the topmost Via.
pub fn top_branch(msg: &impl HeadersExt) -> Option<String> {
    let via = msg.via_header().ok()?.typed().ok()?;
    via.branch().map(|b| b.to_string())
}

/// The Call-ID value.
pub fn call_id(msg: &impl HeadersExt) -> Option<String> {
    msg.call_id_header().ok().map(|c| c.value().to_string())
}

/// CSeq number and method.
pub fn cseq(msg: &impl HeadersExt) -> Option<(u32, Method)> {
    let c = msg.cseq_header().ok()?.typed().ok()?;
    Some((c.seq, c.method))
}

/// The tag of the From header.
pub fn from_tag(msg: &impl HeadersExt) -> Option<String> {
    msg.from_header().ok()?.tag().ok()?.map(|t| t.to_string())
}

/// The tag of the To header.
pub fn to_tag(msg: &impl HeadersExt) -> Option<String> {
    msg.to_header().ok()?.tag().ok()?.map(|t| t.to_string())
}

/// Value of an extension header (e.g. `X-Tessera-Canvas`), matched case-insensitively.
pub fn other_header<'a>(msg: &'a impl HeadersExt, name: &str) -> Option<&'a str> {
    msg.headers().iter().find_map(|h| match h {
        Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.as_str()),
        _ => None,
    })
}

/// Content-Type value, if any.
pub fn content_type(msg: &impl HeadersExt) -> Option<String> {
    msg.headers().iter().find_map(|h| match h {
        Header::ContentType(c) => Some(c.value().to_string()),
        _ => None,
    })
}

/// A fresh random token of `len` alphanumeric characters.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new dialog tag (RFC 3261 §19.3).
pub fn new_tag() -> String {
    random_token(12)
}

/// A new RFC 3261 branch.
pub fn new_branch() -> String {
    format!("{BRANCH_COOKIE}{}", random_token(16))
}

/// Builds a response to `req` per RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied,
/// `Server` and `Content-Length` added. The caller adds a To tag where a dialog is involved.
pub fn response_to(req: &Request, status: u16) -> Response {
    let mut headers = rsip::Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_)
            | Header::From(_)
            | Header::To(_)
            | Header::CallId(_)
            | Header::CSeq(_) => headers.push(h.clone()),
            _ => {}
        }
    }
    headers.push(Header::Server(rsip::headers::Server::new(PRODUCT)));
    let mut resp = Response {
        status_code: StatusCode::from(status),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    };
    set_content_length(&mut resp);
    resp
}

/// Sets the To tag of a response (the UAS side of a dialog).
pub fn set_to_tag(resp: &mut Response, tag: &str) {
    for h in resp.headers.iter_mut() {
        if let Header::To(to) = h {
            if to.tag().ok().flatten().is_none() {
                if let Ok(tagged) = to.clone().with_tag(rsip::param::Tag::new(tag)) {
                    *to = tagged;
                }
            }
        }
    }
}

/// Replaces the body and fixes Content-Type / Content-Length.
pub fn set_body(headers_and_body: &mut impl BodyCarrier, content_type: &str, body: Vec<u8>) {
    let headers = headers_and_body.headers_mut();
    headers.retain(|h| !matches!(h, Header::ContentType(_)));
    headers.push(Header::ContentType(rsip::headers::ContentType::new(
        content_type,
    )));
    *headers_and_body.body_mut() = body;
    headers_and_body.fix_content_length();
}

/// Messages with headers and a body (requests and responses).
pub trait BodyCarrier {
    fn headers_mut(&mut self) -> &mut rsip::Headers;
    fn body_mut(&mut self) -> &mut Vec<u8>;
    fn fix_content_length(&mut self);
}

impl BodyCarrier for Response {
    fn headers_mut(&mut self) -> &mut rsip::Headers {
        &mut self.headers
    }
    fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
    fn fix_content_length(&mut self) {
        set_content_length(self)
    }
}

impl BodyCarrier for Request {
    fn headers_mut(&mut self) -> &mut rsip::Headers {
        &mut self.headers
    }
    fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
    fn fix_content_length(&mut self) {
        let len = self.body.len();
        self.headers
            .retain(|h| !matches!(h, Header::ContentLength(_)));
        self.headers
            .push(Header::ContentLength(rsip::headers::ContentLength::new(
                len.to_string(),
            )));
    }
}

fn set_content_length(resp: &mut Response) {
    let len = resp.body.len();
    resp.headers
        .retain(|h| !matches!(h, Header::ContentLength(_)));
    resp.headers
        .push(Header::ContentLength(rsip::headers::ContentLength::new(
            len.to_string(),
        )));
}

/// Small extension so `rsip::Headers` can drop headers.
pub trait HeadersRetain {
    fn retain(&mut self, keep: impl FnMut(&Header) -> bool);
}

impl HeadersRetain for rsip::Headers {
    fn retain(&mut self, mut keep: impl FnMut(&Header) -> bool) {
        let kept: Vec<Header> = self.iter().filter(|h| keep(h)).cloned().collect();
        *self = kept.into();
    }
}

/// For a request `rsip` could not parse: if the raw text still looks like a request and carries
/// the headers a response needs, builds a `400 Bad Request` by copying them (RFC 3261 §8.2.6.2).
/// Returns `None` when no response can be formed (then the message is dropped silently).
pub fn raw_bad_request(bytes: &[u8], reason: &str) -> Option<Vec<u8>> {
    raw_error_response(bytes, RawRejection::BadRequest, reason)
}

/// The statuses a request can be refused with before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawRejection {
    /// 400: malformed.
    BadRequest,
    /// 413: larger than this server accepts (RFC 3261 §21.4.11).
    TooLarge,
}

impl RawRejection {
    fn status_line(self) -> &'static str {
        match self {
            RawRejection::BadRequest => "SIP/2.0 400 Bad Request",
            RawRejection::TooLarge => "SIP/2.0 413 Request Entity Too Large",
        }
    }
}

/// [`raw_bad_request`] with the status chosen by `rejection`.
pub fn raw_error_response(bytes: &[u8], rejection: RawRejection, reason: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?;
    let _uri = parts.next()?;
    if parts.next()? != "SIP/2.0" || method.is_empty() || method == "ACK" {
        return None;
    }
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let wanted = ["via", "from", "to", "call-id", "cseq"];
    let mut copied = Vec::new();
    let mut seen = [false; 5];
    for line in lines {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let lname = name.trim().to_ascii_lowercase();
        let long = COMPACT_FORMS
            .iter()
            .find(|(s, _)| *s == lname)
            .map(|(_, l)| l.to_ascii_lowercase())
            .unwrap_or(lname);
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
    out.push_str(&format!(
        "Server: {PRODUCT}\r\nWarning: 399 tessera \"{}\"\r\nContent-Length: 0\r\n\r\n",
        reason.replace('"', "'")
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:3000@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n\
f: <sip:alice@127.0.0.1>;tag=111\r\n\
t: <sip:3000@127.0.0.1>\r\n\
i: call-1@x\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:alice@127.0.0.1:5070>\r\n\
l: 0\r\n\r\n";

    /// #14 item 7: a bare CR or LF in a header value would reach the logs (a forged log line)
    /// or, through a Warning, our own responses.
    #[test]
    fn a_bare_cr_or_lf_in_a_header_is_refused() {
        for forged in [
            "i: call-1@x\rINFO forged\r\n",
            "i: call-1@x\nINFO forged\r\n",
        ] {
            let text = INVITE.replace("i: call-1@x\r\n", forged);
            assert!(
                matches!(
                    parse_message(text.as_bytes()),
                    Err(ParseError::ControlCharacter)
                ),
                "{forged:?}"
            );
        }
        assert!(parse_message(INVITE.as_bytes()).is_ok());
    }

    #[test]
    fn parses_compact_forms() {
        let msg = parse_message(INVITE.as_bytes()).unwrap();
        assert_eq!(call_id(&msg).as_deref(), Some("call-1@x"));
        assert_eq!(from_tag(&msg).as_deref(), Some("111"));
        assert_eq!(top_branch(&msg).as_deref(), Some("z9hG4bKabc"));
    }

    #[test]
    fn response_copies_headers_and_tags_to() {
        let SipMessage::Request(req) = parse_message(INVITE.as_bytes()).unwrap() else {
            panic!("request expected")
        };
        let mut resp = response_to(&req, 200);
        set_to_tag(&mut resp, "srv1");
        let text = resp.to_string();
        assert!(text.starts_with("SIP/2.0 200 OK"));
        assert_eq!(to_tag(&resp).as_deref(), Some("srv1"));
        assert_eq!(call_id(&resp).as_deref(), Some("call-1@x"));
        let again = parse_message(text.as_bytes()).unwrap();
        assert!(again.is_response());
    }

    #[test]
    fn missing_call_id_is_rejected() {
        let bad = INVITE.replace("i: call-1@x\r\n", "");
        assert!(matches!(
            parse_message(bad.as_bytes()),
            Err(ParseError::MissingHeader("Call-ID"))
        ));
    }

    #[test]
    fn raw_bad_request_needs_headers() {
        let garbage = "INVITE sip:3000@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:3000@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContact: <<<<\r\n\r\n";
        let resp = raw_bad_request(garbage.as_bytes(), "bad Contact").unwrap();
        assert!(String::from_utf8(resp).unwrap().starts_with("SIP/2.0 400"));
        assert!(raw_bad_request(b"\x00\x01garbage", "x").is_none());
        assert!(raw_bad_request(b"INVITE sip:x SIP/2.0\r\nVia: a\r\n\r\n", "x").is_none());
    }

    #[test]
    fn never_panics_on_mutations() {
        let base = INVITE.as_bytes().to_vec();
        let mut seed = 0x1234_5678u32;
        for _ in 0..3000 {
            let mut m = base.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % m.len();
                m[i] = (seed >> 8) as u8;
            }
            let _ = parse_message(&m);
            let _ = raw_bad_request(&m, "x");
        }
    }
}
