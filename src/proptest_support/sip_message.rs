//! Valid SIP messages (RFC 3261 §7, §8.1.1, §20), generated with the key fields a property
//! checks afterwards: requests (INVITE with an SDP offer, ACK, BYE, OPTIONS, CANCEL, INFO) and
//! responses, with the headers in any order, compact and long names in any case, the optional
//! whitespace of HCOLON, a folded Via, display names, unknown headers, and a `Content-Length`
//! that is right (or, for bodiless messages, absent).

use std::fmt::Write as _;

use proptest::prelude::*;

use super::sdp_offer;

/// The fields a parsed message must give back.
#[derive(Debug, Clone)]
pub struct Message {
    /// The whole message.
    pub text: String,
    /// The request method, or the CSeq method of a response.
    pub method: &'static str,
    /// `Some` for a response.
    pub status: Option<u16>,
    pub call_id: String,
    pub cseq: u32,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub body: Vec<u8>,
}

const METHODS: &[&str] = &["INVITE", "ACK", "BYE", "OPTIONS", "CANCEL", "INFO"];

/// RFC 3261 `word` characters (Call-ID) and `token` characters (tags, branches).
const WORD: &str = "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,40}";
const TOKEN: &str = "[a-zA-Z0-9.!%*_+`'~-]{1,24}";

/// A header as written: its long name, compact name (if any) and value.
struct Header {
    long: &'static str,
    compact: Option<&'static str>,
    value: String,
}

/// How a header line is spelled.
#[derive(Debug, Clone, Copy)]
struct Spelling {
    compact: bool,
    case: u8,
    /// Whitespace between the name and the colon, and after it.
    before_colon: &'static str,
    after_colon: &'static str,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        any::<bool>(),
        0..3u8,
        prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t ")],
        prop_oneof![4 => Just(" "), 1 => Just(""), 1 => Just("   ")],
    )
        .prop_map(|(compact, case, before_colon, after_colon)| Spelling {
            compact,
            case,
            before_colon,
            after_colon,
        })
}

fn write_header(text: &mut String, header: &Header, spelling: Spelling) {
    let name = match (spelling.compact, header.compact) {
        (true, Some(short)) => short.to_string(),
        _ => match spelling.case {
            0 => header.long.to_string(),
            1 => header.long.to_ascii_lowercase(),
            _ => header.long.to_ascii_uppercase(),
        },
    };
    let _ = write!(
        text,
        "{name}{}:{}{}\r\n",
        spelling.before_colon, spelling.after_colon, header.value
    );
}

/// The parts every message has, before it is put together.
#[derive(Debug, Clone)]
struct Common {
    call_id: String,
    cseq: u32,
    from_tag: String,
    to_tag: Option<String>,
    branch: String,
    host: String,
    port: u16,
    display_name: Option<String>,
    folded_via: bool,
    extra: Vec<(String, String)>,
}

fn common() -> impl Strategy<Value = Common> {
    (
        WORD,
        0..=u32::MAX / 2,
        TOKEN,
        proptest::option::of(TOKEN),
        "[a-zA-Z0-9]{1,20}",
        prop_oneof![
            Just("192.0.2.7".to_string()),
            Just("[2001:db8::7]".to_string()),
            "[a-z]{1,10}\\.example\\.com"
        ],
        1024..=65535u16,
        proptest::option::of("[a-zA-Z ]{1,20}"),
        any::<bool>(),
        proptest::collection::vec(("X-[A-Za-z]{1,10}", "[ -~]{0,30}"), 0..3),
    )
        .prop_map(
            |(
                call_id,
                cseq,
                from_tag,
                to_tag,
                branch,
                host,
                port,
                display_name,
                folded_via,
                extra,
            )| {
                Common {
                    call_id,
                    cseq,
                    from_tag,
                    to_tag,
                    branch: format!("z9hG4bK{branch}"),
                    host,
                    port,
                    display_name,
                    folded_via,
                    extra,
                }
            },
        )
}

fn headers(common: &Common, method: &str, body: &[u8], content_type: Option<&str>) -> Vec<Header> {
    let via_separator = if common.folded_via { "\r\n  " } else { "" };
    let from = match &common.display_name {
        Some(name) => format!(
            "\"{}\" <sip:alice@{}>;tag={}",
            name.trim(),
            common.host,
            common.from_tag
        ),
        None => format!("<sip:alice@{}>;tag={}", common.host, common.from_tag),
    };
    let to = match &common.to_tag {
        Some(tag) => format!("<sip:3000@192.0.2.1>;tag={tag}"),
        None => "<sip:3000@192.0.2.1>".to_string(),
    };
    let mut headers = vec![
        Header {
            long: "Via",
            compact: Some("v"),
            value: format!(
                "SIP/2.0/UDP {}:{}{via_separator};branch={};rport",
                common.host, common.port, common.branch
            ),
        },
        Header {
            long: "Max-Forwards",
            compact: None,
            value: "70".into(),
        },
        Header {
            long: "From",
            compact: Some("f"),
            value: from,
        },
        Header {
            long: "To",
            compact: Some("t"),
            value: to,
        },
        Header {
            long: "Call-ID",
            compact: Some("i"),
            value: common.call_id.clone(),
        },
        Header {
            long: "CSeq",
            compact: None,
            value: format!("{} {method}", common.cseq),
        },
        Header {
            long: "Contact",
            compact: Some("m"),
            value: format!("<sip:alice@{}:{}>", common.host, common.port),
        },
        Header {
            long: "User-Agent",
            compact: None,
            value: "proptest/1.0".into(),
        },
    ];
    if let Some(content_type) = content_type {
        headers.push(Header {
            long: "Content-Type",
            compact: Some("c"),
            value: content_type.into(),
        });
    }
    headers.push(Header {
        long: "Content-Length",
        compact: Some("l"),
        value: body.len().to_string(),
    });
    headers
}

/// Puts a message together: the start line, `headers` in the order of `order` and spelled as
/// `spellings` say, the extension headers, the blank line and the body.
fn assemble(
    start: &str,
    headers: &[Header],
    common: &Common,
    order: &[usize],
    spellings: &[Spelling],
    body: &[u8],
) -> String {
    let mut text = format!("{start}\r\n");
    for (n, i) in order.iter().enumerate() {
        if let Some(header) = headers.get(*i) {
            write_header(&mut text, header, spellings[n % spellings.len()]);
        }
    }
    for (name, value) in &common.extra {
        let _ = write!(text, "{name}: {}\r\n", value.trim());
    }
    text.push_str("\r\n");
    text.push_str(&String::from_utf8_lossy(body));
    text
}

fn order() -> impl Strategy<Value = Vec<usize>> {
    Just((0..10).collect::<Vec<usize>>()).prop_shuffle()
}

/// A valid request of one of [`METHODS`]; an INVITE carries an SDP offer.
pub fn request() -> impl Strategy<Value = Message> {
    (
        proptest::sample::select(METHODS),
        common(),
        sdp_offer::offer(),
        order(),
        proptest::collection::vec(spelling(), 10),
    )
        .prop_map(|(method, common, offer, order, spellings)| {
            let (body, content_type) = match method {
                "INVITE" => (offer.to_text().into_bytes(), Some("application/sdp")),
                "INFO" => (
                    b"Signal=5\r\nDuration=160\r\n".to_vec(),
                    Some("application/dtmf-relay"),
                ),
                _ => (Vec::new(), None),
            };
            let headers = headers(&common, method, &body, content_type);
            let start = format!("{method} sip:3000@192.0.2.1:5060 SIP/2.0");
            Message {
                text: assemble(&start, &headers, &common, &order, &spellings, &body),
                method,
                status: None,
                call_id: common.call_id.clone(),
                cseq: common.cseq,
                from_tag: common.from_tag.clone(),
                to_tag: common.to_tag.clone(),
                body,
            }
        })
}

/// A valid response (100–699) to one of [`METHODS`] but ACK.
pub fn response() -> impl Strategy<Value = Message> {
    (
        proptest::sample::select(METHODS).prop_filter("ACK has no response", |m| *m != "ACK"),
        100..=699u16,
        "[a-zA-Z ]{0,20}",
        common(),
        order(),
        proptest::collection::vec(spelling(), 10),
    )
        .prop_map(|(method, status, reason, common, order, spellings)| {
            let headers = headers(&common, method, &[], None);
            let start = format!("SIP/2.0 {status} {}", reason.trim());
            Message {
                text: assemble(&start, &headers, &common, &order, &spellings, &[]),
                method,
                status: Some(status),
                call_id: common.call_id.clone(),
                cseq: common.cseq,
                from_tag: common.from_tag.clone(),
                to_tag: common.to_tag.clone(),
                body: Vec::new(),
            }
        })
}

/// Any valid message.
pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![3 => request(), 1 => response()]
}
