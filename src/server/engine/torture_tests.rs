//! The RFC 4475 §3.1 torture corpus (`tests/data/rfc4475/`, byte-exact from the RFC's archive)
//! through the path a UDP datagram takes: `parse_message`, then the engine on synthetic time,
//! or, for what does not parse, the stateless answer the transport sends
//! ([`answer_unparsable`]). Each message is checked against what
//! [RFC 4475](https://www.rfc-editor.org/rfc/rfc4475) §3.1 says a receiving element does,
//! as an endpoint: the status of its final answer, or no answer at all.

use crate::server::build_engine;
use crate::sip::message::{answer_unparsable, parse_message};
use crate::sip::peer::Peer;
use std::net::SocketAddr;
use std::time::Instant;

const SERVER: &str = "127.0.0.1:5060";

/// What the server sends back for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// One final response with this status (a `100 Trying` may come first).
    Status(u16),
    /// The RFC allows both: rejecting the message, or a liberal receiver's answer.
    Either(u16, u16),
    /// Nothing: a response is never answered, and an unusable one is dropped.
    Silent,
}

/// One torture message: its file, the expected outcome, and the RFC's words for it.
struct Case {
    name: &'static str,
    bytes: &'static [u8],
    expect: Expect,
    /// RFC 4475's own expectation, quoted.
    why: &'static str,
}

macro_rules! case {
    ($name:literal, $expect:expr, $why:literal) => {
        Case {
            name: $name,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/rfc4475/",
                $name,
                ".sip"
            )),
            expect: $expect,
            why: $why,
        }
    };
}

use Expect::{Either, Silent, Status};

/// The corpus and, per message, what RFC 4475 expects of an endpoint. The Request-URIs name
/// rooms: `user` is one, `vivekg@chair-dnrc…` too; `sips%3Auser…` is not a valid room id.
fn corpus() -> Vec<Case> {
    vec![
        // 3.1.1: valid messages.
        case!(
            "3.1.1.1-wsinv",
            Status(481),
            "All elements should treat this as a well-formed request. (Its To carries a tag: \
             a re-INVITE of a dialog we do not have, RFC 3261 §12.2.2.)"
        ),
        case!(
            "3.1.1.2-intmeth",
            Status(501),
            "Endpoints will generate a 501 listing the methods they understand in an Allow \
             header field."
        ),
        case!(
            "3.1.1.3-esc01",
            Status(404),
            "A parser must accept this as a well-formed message. (Its user part, \
             `sips:user@example.com` unescaped, is no room id.)"
        ),
        case!(
            "3.1.1.4-escnull",
            Status(405),
            "The message is well formed - parsers must accept this message. (REGISTER is \
             known and not served here: 405 with Allow, RFC 3261 §8.2.1.)"
        ),
        case!(
            "3.1.1.5-esc02",
            Status(501),
            "The request method is unknown. It is NOT equivalent to REGISTER. ... An endpoint \
             would reject this message with a 501."
        ),
        case!(
            "3.1.1.6-lwsdisp",
            Status(200),
            "Elements should accept this request as well formed."
        ),
        case!(
            "3.1.1.7-longreq",
            Status(200),
            "This well-formed request contains header fields with many values and values that \
             are very long. (Its top Via has no branch: an RFC 2543 transaction.)"
        ),
        case!(
            "3.1.1.8-dblreq",
            Status(405),
            "A SIP element receiving this datagram would handle the REGISTER request normally \
             and ignore the extra bits that look like an INVITE request."
        ),
        case!(
            "3.1.1.9-semiuri",
            Status(200),
            "Receiving elements will accept this as a well-formed message."
        ),
        case!(
            "3.1.1.10-transports",
            Status(200),
            "Parsers must accept this message as well formed."
        ),
        case!(
            "3.1.1.11-mpart01",
            Status(405),
            "Parsers must accept this message as well formed, even if the application above \
             the parser does not support multipart/signed. (MESSAGE is not served here.)"
        ),
        case!(
            "3.1.1.12-unreason",
            Silent,
            "This response is well formed. A parser must accept this message. (It matches no \
             transaction of ours: dropped, RFC 3261 §17.1.3.)"
        ),
        case!(
            "3.1.1.13-noreason",
            Silent,
            "This well-formed response contains no reason phrase. A parser must accept this \
             message."
        ),
        // 3.1.2: invalid messages.
        case!(
            "3.1.2.1-badinv01",
            Status(400),
            "An element receiving this request should respond with a 400 Bad Request error."
        ),
        case!(
            "3.1.2.2-clerr",
            Status(400),
            "When sent over UDP (as this message ostensibly was), the receiving element should \
             respond with a 400 Bad Request error."
        ),
        case!(
            "3.1.2.3-ncl",
            Status(400),
            "An element receiving this message should respond with an error."
        ),
        case!(
            "3.1.2.4-scalar02",
            Status(400),
            "An element receiving this request should respond with a 400 Bad Request due to \
             the CSeq error."
        ),
        case!(
            "3.1.2.5-scalarlg",
            Silent,
            "An element receiving this response will simply discard it."
        ),
        case!(
            "3.1.2.6-quotbal",
            Status(400),
            "An element receiving this request should return a 400 Bad Request error."
        ),
        case!(
            "3.1.2.7-ltgtruri",
            Status(400),
            "It is reasonable always to reject a request with this error with a 400 Bad \
             Request."
        ),
        case!(
            "3.1.2.8-lwsruri",
            Status(400),
            "An element receiving this request should respond with a 400 Bad Request."
        ),
        case!(
            "3.1.2.9-lwsstart",
            Either(400, 200),
            "It is acceptable to reject this request as malformed. An element that is liberal \
             in what it accepts may ignore these extra SP characters."
        ),
        case!(
            "3.1.2.10-trws",
            Either(400, 200),
            "It is acceptable to reject this request as malformed. An element that is liberal \
             in what it accepts may ignore these extra SP characters."
        ),
        case!(
            "3.1.2.11-escruri",
            Either(400, 200),
            "It is acceptable for an element to reject this request with a 400 Bad Request. An \
             element could choose to be liberal in what it accepts and ignore the escaped \
             headers."
        ),
        case!(
            "3.1.2.12-baddate",
            Status(200),
            "It is acceptable to reject this request as malformed (though an element shouldn't \
             do that unless the contents of the Date header field were actually important to \
             its processing). (We never read Date.)"
        ),
        case!(
            "3.1.2.13-regbadct",
            Either(400, 405),
            "It is reasonable for an element receiving this request to respond with a 400 Bad \
             Request. (A server that does not register never reads that Contact: 405.)"
        ),
        case!(
            "3.1.2.14-badaspec",
            Either(400, 200),
            "It is reasonable to reject this request with a 400 Bad Request response. Elements \
             attempting to be liberal may ignore the spaces."
        ),
        case!(
            "3.1.2.15-baddn",
            Either(400, 200),
            "It is reasonable always to reject this kind of error with a 400 Bad Request \
             response. An element may attempt to be liberal in what it receives and infer the \
             missing quotes."
        ),
        case!(
            "3.1.2.16-badvers",
            Status(505),
            "The element should respond to the request with a 505 Version Not Supported \
             error."
        ),
        case!(
            "3.1.2.17-mismatch01",
            Status(400),
            "Any element receiving this request will respond with a 400 Bad Request."
        ),
        case!(
            "3.1.2.18-mismatch02",
            Either(501, 400),
            "Any element receiving this response should respond with a 501 Not Implemented. A \
             400 Bad Request is also acceptable."
        ),
        case!(
            "3.1.2.19-bigcode",
            Silent,
            "An element receiving this response should simply drop it."
        ),
    ]
}

/// The first Call-ID line of a message's text (long or compact form).
fn call_id_line(text: &str) -> Option<&str> {
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim())
    })
}

/// The status of a response's text.
fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Feeds `bytes` from `peer` as the UDP transport would, returning what was sent back.
fn answers(engine: &mut super::CallEngine, now: Instant, bytes: &[u8], peer: Peer) -> Vec<String> {
    match parse_message(bytes) {
        Ok(message) => engine.handle_message(now, message, peer, SERVER.parse().expect("addr")),
        Err(error) => {
            return answer_unparsable(bytes, &error)
                .map(|data| String::from_utf8_lossy(&data).into_owned())
                .into_iter()
                .collect();
        }
    }
    std::iter::from_fn(|| engine.poll_transmit())
        .map(|(_, data)| String::from_utf8_lossy(&data).into_owned())
        .collect()
}

/// What went wrong with one case, if anything.
fn check(case: &Case, sent: &[String]) -> Option<String> {
    let finals: Vec<u16> = sent
        .iter()
        .filter_map(|m| status_of(m))
        .filter(|s| *s >= 200)
        .collect();
    let matches = match (case.expect, finals.as_slice()) {
        (Silent, []) => true,
        (Status(want), [got]) => *got == want,
        (Either(a, b), [got]) => *got == a || *got == b,
        _ => false,
    };
    if !matches {
        return Some(format!("expected {:?}, sent {finals:?}", case.expect));
    }
    let text = String::from_utf8_lossy(case.bytes);
    let call_id = call_id_line(&text);
    let foreign = sent.iter().find(|m| call_id_line(m) != call_id);
    foreign.map(|m| format!("answered another Call-ID: {m:?}"))
}

#[test]
fn each_rfc4475_message_is_answered_as_the_rfc_expects() {
    let parts = build_engine(
        super::tests::config(),
        SERVER.parse().expect("addr"),
        Default::default(),
    )
    .expect("engine");
    let mut engine = parts.engine;
    let now = Instant::now();
    let mut failures = Vec::new();
    for (i, case) in corpus().iter().enumerate() {
        // A source per message: the INVITE rate limit is per source.
        let from: SocketAddr = format!("127.0.0.1:{}", 6000 + i).parse().expect("addr");
        let sent = answers(&mut engine, now, case.bytes, Peer::udp(from));
        if let Some(problem) = check(case, &sent) {
            failures.push(format!(
                "{}: {problem}\n  RFC 4475: {}",
                case.name, case.why
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
