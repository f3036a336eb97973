//! Properties of the SIP parsing path (#14 item 9) over structured messages
//! ([`sip_message`]) and mutations of them: valid messages parse and keep their key fields
//! through a print and a second parse; the stream framer gives back what was sent however it
//! is cut, and refuses a header section over its limit; mutated messages never panic the
//! parser, the framer, the stateless error answer (which never outgrows the request) or the
//! engine. Replaces the xorshift mutation loop that was here.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rsip::SipMessage;

use super::framing::{StreamFramer, MAX_BODY_BYTES, MAX_HEADER_BYTES};
use super::message::{answer_unparsable, call_id, cseq, from_tag, parse_message, to_tag};
use super::peer::Peer;
use crate::proptest_support::sip_message::{self, Message};
use crate::proptest_support::{config, mutate};

/// Checks that `parsed` carries what `expected` was generated with.
fn assert_fields(parsed: &SipMessage, expected: &Message) -> Result<(), TestCaseError> {
    let (seq, method) = cseq(parsed).expect("a parsed message has a CSeq");
    prop_assert_eq!(seq, expected.cseq);
    prop_assert_eq!(method.to_string(), expected.method);
    prop_assert_eq!(call_id(parsed), Some(expected.call_id.clone()));
    prop_assert_eq!(from_tag(parsed), Some(expected.from_tag.clone()));
    prop_assert_eq!(to_tag(parsed), expected.to_tag.clone());
    match parsed {
        SipMessage::Request(req) => {
            prop_assert_eq!(expected.status, None);
            prop_assert_eq!(req.method.to_string(), expected.method);
            prop_assert_eq!(&req.body, &expected.body);
        }
        SipMessage::Response(resp) => {
            prop_assert_eq!(Some(resp.status_code.code()), expected.status);
            prop_assert_eq!(&resp.body, &expected.body);
        }
    }
    Ok(())
}

/// Cuts `bytes` at the given fractions into the reads a TCP peer might deliver.
fn chunks<'a>(bytes: &'a [u8], cuts: &[proptest::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// `text` with the value of its Content-Length header (long or compact) set to `length`.
fn with_content_length(text: &str, length: usize) -> String {
    let lines: Vec<String> = text
        .split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _))
                if name.trim().eq_ignore_ascii_case("content-length")
                    || name.trim().eq_ignore_ascii_case("l") =>
            {
                format!("{name}: {length}")
            }
            _ => line.to_string(),
        })
        .collect();
    lines.join("\r\n")
}

/// Whatever `bytes` are, parsing them and answering what does not parse never panics, and
/// the answer is never much larger than the request (no amplification).
fn exercise(bytes: &[u8]) {
    match parse_message(bytes) {
        Ok(SipMessage::Request(req)) => {
            let resp = super::message::response_to(&req, 400);
            let _ = resp.to_string();
        }
        Ok(SipMessage::Response(resp)) => {
            let _ = resp.to_string();
        }
        Err(error) => {
            if let Some(answer) = answer_unparsable(bytes, &error) {
                assert!(answer.len() <= bytes.len() + 400, "{} bytes", answer.len());
                assert!(answer.starts_with(b"SIP/2.0 4") || answer.starts_with(b"SIP/2.0 5"));
            }
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_messages_parse_and_keep_their_key_fields(message in sip_message::message()) {
        let parsed = parse_message(message.text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {}", message.text));
        assert_fields(&parsed, &message)?;
        let printed = parsed.to_string();
        let again = parse_message(printed.as_bytes())
            .unwrap_or_else(|e| panic!("printed: {e}: {printed}"));
        assert_fields(&again, &message)?;
    }

    /// RFC 3261 §18.3: over UDP the body is what Content-Length says; octets after it are
    /// not part of the message (RFC 4475 §3.1.1.8).
    #[test]
    fn octets_past_the_content_length_are_not_the_body(
        message in sip_message::request(),
        trailing in proptest::collection::vec(any::<u8>(), 1..200),
    ) {
        let mut bytes = message.text.clone().into_bytes();
        bytes.extend_from_slice(&trailing);
        let parsed = parse_message(&bytes).expect("trailing octets are ignored");
        assert_fields(&parsed, &message)?;
    }

    #[test]
    fn a_content_length_beyond_the_datagram_is_refused(
        message in sip_message::request(),
        missing in 1..100usize,
    ) {
        let declared = message.body.len() + missing;
        let text = with_content_length(&message.text, declared);
        prop_assert!(matches!(
            parse_message(text.as_bytes()),
            Err(super::message::ParseError::TruncatedBody)
        ));
    }

    #[test]
    fn a_stream_gives_back_its_messages_however_it_is_cut(
        messages in proptest::collection::vec(sip_message::message(), 1..4),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
    ) {
        let mut stream = Vec::new();
        for m in &messages {
            stream.extend_from_slice(b"\r\n\r\n");
            stream.extend_from_slice(m.text.as_bytes());
        }
        let mut framer = StreamFramer::new();
        let mut out = Vec::new();
        for chunk in chunks(&stream, &cuts) {
            framer.push(chunk);
            while let Some(message) = framer.next_message().expect("valid stream") {
                out.push(message);
            }
        }
        let sent: Vec<&[u8]> = messages.iter().map(|m| m.text.as_bytes()).collect();
        prop_assert_eq!(out.iter().map(Vec::as_slice).collect::<Vec<_>>(), sent);
    }

    #[test]
    fn a_header_section_over_the_limit_is_refused_on_a_stream(
        message in sip_message::request(),
        padding in (MAX_HEADER_BYTES - 2000)..(MAX_HEADER_BYTES + 2000),
    ) {
        let pad = format!("\r\nX-Pad: {}\r\n", "a".repeat(padding));
        let text = message.text.replacen("\r\n", &pad, 1);
        let head = text.find("\r\n\r\n").expect("a header section");
        let mut framer = StreamFramer::new();
        framer.push(text.as_bytes());
        let result = framer.next_message();
        if head > MAX_HEADER_BYTES {
            prop_assert!(result.is_err());
        } else {
            prop_assert_eq!(result, Ok(Some(text.into_bytes())));
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        bytes in sip_message::message().prop_flat_map(|m| mutate::mutated(m.text.into_bytes())),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        exercise(&bytes);
        let mut framer = StreamFramer::new();
        for chunk in chunks(&bytes, &cuts) {
            framer.push(chunk);
            while let Ok(Some(message)) = framer.next_message() {
                prop_assert!(message.len() <= MAX_HEADER_BYTES + 4 + MAX_BODY_BYTES);
                exercise(&message);
            }
        }
    }
}

/// One engine for all cases (it runs media threads): mutated requests, and the valid ones
/// they came from, go through the whole request path without a panic.
#[test]
fn mutated_requests_never_panic_the_engine() {
    let mut c = crate::config::Config::default();
    let low = 44000 + (std::process::id() % 20) as u16 * 50;
    c.rtp.ports = crate::config::PortRange {
        low,
        high: low + 49,
    };
    c.rtp.bind_ip = "127.0.0.1".parse().expect("ip");
    c.media.threads = 1;
    c.media.video_threads = 1;
    let server: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
    let parts = crate::server::build_engine(c, server, Default::default()).expect("engine");
    // `TestRunner::run` takes a `Fn`: the engine and the source counter change through cells.
    let engine = RefCell::new(parts.engine);
    let now = Instant::now();
    let source = Cell::new(0u16);
    let strategy = sip_message::request().prop_flat_map(|m| {
        (
            Just(m.text.clone().into_bytes()),
            mutate::mutated(m.text.into_bytes()),
        )
    });
    let mut runner = TestRunner::new(config(64));
    runner
        .run(&strategy, |(valid, mutated)| {
            for bytes in [valid, mutated] {
                source.set(source.get().wrapping_add(1));
                let from = SocketAddr::from(([127, 0, 0, 1], 10_000 + source.get() % 50_000));
                let mut engine = engine.borrow_mut();
                match parse_message(&bytes) {
                    Ok(message) => engine.handle_message(now, message, Peer::udp(from), server),
                    Err(error) => {
                        let _ = answer_unparsable(&bytes, &error);
                    }
                }
                while engine.poll_transmit().is_some() {}
            }
            Ok(())
        })
        .expect("no panic");
    engine.borrow_mut().begin_shutdown(now);
}
