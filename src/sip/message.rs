//! SIP message helpers on top of `rsip`: parsing (the raw checks, the header section
//! normalised for `rsip` by [`super::normalize`], the mandatory-header checks of RFC 3261
//! §8.1.1), transaction ids (§17.2.3), response construction per §8.2.6 and identifiers (tags,
//! branches, Call-IDs). Stateless answers to what does not parse are in
//! [`super::raw_response`].

use super::framing::declared_content_length;
use super::normalize::{forbidden_control, normalize};
use super::raw_response::is_token;
pub use super::raw_response::{
    answer_unparsable, raw_bad_request, raw_error_response, RawRejection,
};
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
    #[error("malformed request line")]
    BadRequestLine,
    #[error("unknown method {0}")]
    UnknownMethod(String),
    #[error("unsupported version {0}")]
    UnsupportedVersion(String),
}

/// Parses one SIP message: checks the raw bytes, normalises the header section for `rsip`
/// ([`normalize`]) and checks the headers every request and response must carry.
///
/// The raw bytes are checked before `rsip` sees them, since it is lenient where RFC 3261 is
/// not: no control characters but HT in the header section, except escaped in a quoted
/// string (§25.1: NUL in a value is a classic injection), and no bare CR or LF; a request line
/// of exactly `Method SP Request-URI SP SIP/2.0` (§7.1: other versions are
/// [`ParseError::UnsupportedVersion`], methods `rsip` does not know, case-sensitively,
/// [`ParseError::UnknownMethod`]); `Content-Length` as digits only, agreeing when repeated,
/// and not more than the body that arrived (§18.3: a datagram shorter than that is refused);
/// and a request's CSeq method must be the request's method (§8.1.1.5).
pub fn parse_message(bytes: &[u8]) -> Result<SipMessage, ParseError> {
    let head_end = super::framing::find_subslice(bytes, b"\r\n\r\n");
    let head = &bytes[..head_end.unwrap_or(bytes.len())];
    if forbidden_control(head) {
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
    let start_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    if !start_line.starts_with(b"SIP/") {
        check_request_line(start_line)?;
    }
    let declared =
        declared_content_length(head).map_err(|_| ParseError::BadHeader("Content-Length"))?;
    let body_len = head_end.map_or(0, |end| bytes.len() - end - 4);
    if declared.is_some_and(|declared| body_len < declared) {
        return Err(ParseError::TruncatedBody);
    }
    // §18.3: octets past the declared body are not part of the message (RFC 4475 §3.1.1.8);
    // they were handed on as body.
    let bytes = match (head_end, declared) {
        (Some(end), Some(declared)) => &bytes[..end + 4 + declared],
        _ => bytes,
    };
    let normalized = normalize(bytes)?;
    let mut msg = SipMessage::try_from(normalized.as_slice())
        .map_err(|e| ParseError::Syntax(truncate(&e.to_string(), 120)))?;
    check_mandatory(&msg)?;
    if let SipMessage::Request(req) = &mut msg {
        repair_dotted_user(&mut req.uri);
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

/// rsip 0.4 ends a URI's user part at its first `.`, so `sip:team.a@host` comes out as the
/// host `team.a@host` with no user, though RFC 3261 §25.1 allows dots in a user (and room ids
/// have them). Moves such a user back out of the host.
fn repair_dotted_user(uri: &mut rsip::Uri) {
    let rsip::Host::Domain(domain) = &uri.host_with_port.host else {
        return;
    };
    if uri.auth.is_some() {
        return;
    }
    let text = domain.to_string();
    let Some((user, host)) = text.split_once('@') else {
        return;
    };
    if user.is_empty() || host.is_empty() {
        return;
    }
    uri.auth = Some(rsip::Auth {
        user: user.to_string(),
        password: None,
    });
    uri.host_with_port.host = rsip::Host::from(host);
}

/// `Method SP Request-URI SP SIP-Version` with one SP each (RFC 3261 §7.1, RFC 4475
/// §3.1.2.7–10: a Request-URI in `<>`, with LWS, or extra SP is a 400), version 2.0 and a
/// method `rsip` can represent (it matches them case-insensitively; RFC 3261 §7.1 does not).
fn check_request_line(line: &[u8]) -> Result<(), ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::BadRequestLine)?;
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(ParseError::BadRequestLine);
    };
    // Not in any URI (RFC 3986 §2): the brackets and quote of a name-addr, and whitespace.
    let uri_ok = !uri.is_empty() && !uri.contains(['<', '>', '"', '\t']);
    if !is_token(method) || !uri_ok {
        return Err(ParseError::BadRequestLine);
    }
    if version != "SIP/2.0" {
        let numbered = version.strip_prefix("SIP/").and_then(|v| v.split_once('.'));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        return Err(match numbered {
            Some((major, minor)) if digits(major) && digits(minor) => {
                ParseError::UnsupportedVersion(truncate(version, 20))
            }
            _ => ParseError::BadRequestLine,
        });
    }
    if !Method::all()
        .iter()
        .any(|known| known.to_string() == method)
    {
        return Err(ParseError::UnknownMethod(truncate(method, 40)));
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    super::log_limit::printable(s, max)
}

fn check_mandatory(msg: &SipMessage) -> Result<(), ParseError> {
    msg.via_header()
        .map_err(|_| ParseError::MissingHeader("Via"))?;
    // Not read typed here: `rsip` cannot read an IPv6 host in a From or To URI. A quote
    // left open, which it would read, is refused by `normalize`.
    msg.from_header()
        .map_err(|_| ParseError::MissingHeader("From"))?;
    msg.to_header()
        .map_err(|_| ParseError::MissingHeader("To"))?;
    let call_id = msg
        .call_id_header()
        .map_err(|_| ParseError::MissingHeader("Call-ID"))?;
    // A `word` (§25.1): none of the quoted-pair control characters the raw check let pass.
    if call_id.value().chars().any(char::is_control) {
        return Err(ParseError::BadHeader("Call-ID"));
    }
    let cseq = msg
        .cseq_header()
        .map_err(|_| ParseError::MissingHeader("CSeq"))?;
    cseq.typed().map_err(|_| ParseError::BadHeader("CSeq"))?;
    transaction_id(msg).ok_or(ParseError::BadHeader("Via"))?;
    Ok(())
}

/// The branch parameter of the topmost Via.
pub fn top_branch(msg: &impl HeadersExt) -> Option<String> {
    top_via(msg)?.branch
}

/// What the transactions need of the topmost Via.
struct TopVia {
    /// The whole first Via value.
    text: String,
    /// `host[:port]`, lowercase.
    sent_by: String,
    branch: Option<String>,
}

/// Reads the topmost Via value: `SIP/2.0/<transport> <sent-by> *(;param)` (RFC 3261 §20.42,
/// §25.1), its optional whitespace already dropped by [`normalize`]. Read here: `rsip` cannot
/// read an IPv6 sent-by (`[2001:db8::7]:5060`), and refused every request from an IPv6 peer.
fn top_via(msg: &impl HeadersExt) -> Option<TopVia> {
    let header = msg.via_header().ok()?;
    let value = header.value().split(',').next()?.trim();
    let (protocol, rest) = value.split_once(' ')?;
    let mut protocol = protocol.split('/');
    let sip = protocol
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP"));
    let version = protocol.next() == Some("2.0");
    let transport = protocol.next().is_some_and(is_token) && protocol.next().is_none();
    let mut params = rest.split(';');
    let sent_by = params.next()?.trim();
    if !(sip && version && transport && is_sent_by(sent_by)) {
        return None;
    }
    let mut branch = None;
    for param in params {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if !is_token(name.trim()) {
            return None;
        }
        if name.trim().eq_ignore_ascii_case("branch") {
            branch = Some(value.trim().to_string()).filter(|b| !b.is_empty());
        }
    }
    Some(TopVia {
        text: value.to_string(),
        sent_by: sent_by.to_ascii_lowercase(),
        branch,
    })
}

/// `host [":" port]` with a host name, an IPv4 address or a bracketed IPv6 reference.
fn is_sent_by(text: &str) -> bool {
    let (host_ok, port) = match text.strip_prefix('[') {
        Some(v6) => {
            let Some((address, rest)) = v6.split_once(']') else {
                return false;
            };
            let port = match rest.strip_prefix(':') {
                Some(port) => Some(port),
                None if rest.is_empty() => None,
                None => return false,
            };
            (address.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            };
            let name = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
            (!host.is_empty() && host.bytes().all(name), port)
        }
    };
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

/// What identifies the transaction a message belongs to (RFC 3261 §17.2.3, with the method):
/// the top Via's branch and sent-by. For a branch without the magic cookie, or none (an
/// RFC 2543 peer, RFC 4475 §3.1.1.7), the top Via with the Call-ID, the From tag and the
/// CSeq number, which the request, its retransmissions, its CANCEL and the ACK of a failure
/// response share. `None` when the top Via is malformed.
pub fn transaction_id(msg: &impl HeadersExt) -> Option<String> {
    let via = top_via(msg)?;
    match via.branch {
        Some(branch) if branch.starts_with(BRANCH_COOKIE) => {
            Some(format!("{branch} {}", via.sent_by))
        }
        _ => {
            let (seq, _) = cseq(msg)?;
            let from_tag = from_tag(msg).unwrap_or_default();
            let top = via.text;
            Some(format!("rfc2543 {top} {} {from_tag} {seq}", call_id(msg)?))
        }
    }
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
    header_tag(msg.from_header().ok()?.value())
}

/// The tag of the To header.
pub fn to_tag(msg: &impl HeadersExt) -> Option<String> {
    header_tag(msg.to_header().ok()?.value())
}

/// The `tag` parameter of a From or To value (RFC 3261 §20.20, §20.39): among the header
/// parameters after the `>` of a name-addr, or after the first `;` of an addr-spec (which
/// can have no URI parameters there, §20.10). Read here: `rsip` cannot read an IPv6 host
/// in the URI, and lost the tags of every IPv6 caller's dialog.
fn header_tag(value: &str) -> Option<String> {
    let params = match value.rfind('>') {
        Some(end) => value.get(end + 1..)?,
        None => value.split_once(';').map_or("", |(_, params)| params),
    };
    params.split(';').find_map(|param| {
        let (name, tag) = param.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("tag") && !tag.trim().is_empty())
            .then(|| tag.trim().to_string())
    })
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
            if header_tag(to.value()).is_none() {
                // Appended to the text, not through `rsip`'s typed To (no IPv6 host there).
                *to = rsip::headers::To::new(format!("{};tag={tag}", to.value().trim()));
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

    /// RFC 3261 §17.2.3: two peers may pick the same branch (RFC 4475's messages all use
    /// `z9hG4bKkdjuw`); the sent-by tells their transactions apart, and one peer's OPTIONS was
    /// answered with another's 200. An RFC 2543 INVITE without a branch shares its id with its
    /// ACK and CANCEL.
    #[test]
    fn transaction_ids_follow_the_branch_and_sent_by_or_the_rfc2543_fields() {
        let id = |text: String| transaction_id(&parse_message(text.as_bytes()).expect("valid"));
        let with_via = |method: &str, via: &str| {
            INVITE
                .replace("INVITE sip:", &format!("{method} sip:"))
                .replace("CSeq: 1 INVITE", &format!("CSeq: 1 {method}"))
                .replace("v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc", via)
        };
        let a = id(with_via(
            "OPTIONS",
            "v: SIP/2.0/UDP a.example.com;branch=z9hG4bKkdjuw",
        ));
        let b = id(with_via(
            "OPTIONS",
            "v: SIP/2.0/UDP b.example.com;branch=z9hG4bKkdjuw",
        ));
        assert_ne!(a, b);
        let v6 = id(with_via(
            "OPTIONS",
            "v: SIP/2.0/UDP [2001:db8::7]:5060;branch=z9hG4bKx",
        ));
        assert_eq!(v6.as_deref(), Some("z9hG4bKx [2001:db8::7]:5060"));
        let old = "Via: SIP/2.0/UDP 192.0.2.5";
        let invite = id(with_via("INVITE", old));
        assert!(invite.is_some());
        assert_eq!(id(with_via("ACK", old)), invite);
        assert_eq!(id(with_via("CANCEL", old)), invite);
    }

    /// rsip alone reads `sip:team.a@127.0.0.1:5070` as the host `team.a@127.0.0.1`.
    #[test]
    fn a_request_uri_user_with_dots_is_the_user() {
        for (uri, user, host) in [
            ("sip:team.a@127.0.0.1:5070", "team.a", "127.0.0.1"),
            ("sip:a.b.c@conf.example.com", "a.b.c", "conf.example.com"),
            ("sip:3000@127.0.0.1", "3000", "127.0.0.1"),
        ] {
            let text = INVITE.replace("INVITE sip:3000@127.0.0.1 ", &format!("INVITE {uri} "));
            let Ok(SipMessage::Request(req)) = parse_message(text.as_bytes()) else {
                panic!("{uri} parses");
            };
            assert_eq!(req.uri.user(), Some(user), "{uri}");
            assert_eq!(req.uri.host_with_port.host.to_string(), host, "{uri}");
        }
        // A host with no user stays a host.
        let text = INVITE.replace("sip:3000@127.0.0.1 ", "sip:conf.example.com ");
        let Ok(SipMessage::Request(req)) = parse_message(text.as_bytes()) else {
            panic!("a user-less URI parses");
        };
        assert_eq!(req.uri.user(), None);
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
}
