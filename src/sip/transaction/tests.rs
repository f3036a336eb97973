//! Transaction-layer behaviour stepped with synthetic time: no sockets, no sleeping.

use super::*;
use crate::sip::message::{parse_message, response_to};
use rsip::SipMessage;
use std::net::SocketAddr;

fn peer() -> Peer {
    peer_at(1)
}

/// A peer at 127.0.0.`host`.
fn peer_at(host: u8) -> Peer {
    Peer::udp(SocketAddr::from(([127, 0, 0, host], 5070)))
}

fn request(method: &str, branch: &str, seq: u32) -> Request {
    let text = format!(
        "{method} sip:3000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
From: <sip:a@127.0.0.1>;tag=f1\r\nTo: <sip:3000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: {seq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

/// Feeds `request` from `from` to a layer with no output pending and returns the key of the
/// server transaction it started.
fn received(layer: &mut TransactionLayer, now: Instant, request: &Request, from: Peer) -> TxKey {
    layer.handle_request(now, request.clone(), from);
    match drain(layer).remove(0) {
        TxOutput::Request { key, .. } => key,
        other => panic!("{other:?}"),
    }
}

fn drain(layer: &mut TransactionLayer) -> Vec<TxOutput> {
    std::iter::from_fn(|| layer.poll_output()).collect()
}

fn transmits(outputs: &[TxOutput]) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, TxOutput::Transmit { .. }))
        .count()
}

#[test]
fn retransmitted_invite_reaches_tu_once_and_repeats_last_response() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    layer.handle_request(t0, request("INVITE", "z9hG4bK1", 1), peer());
    let out = drain(&mut layer);
    let TxOutput::Request {
        key, request: req, ..
    } = &out[0]
    else {
        panic!("new request expected")
    };
    assert!(layer.respond(t0, key, &response_to(req, 100)));
    drain(&mut layer);
    layer.handle_request(t0, request("INVITE", "z9hG4bK1", 1), peer());
    let out = drain(&mut layer);
    assert_eq!(out.len(), 1, "only the repeated 100 Trying");
    assert_eq!(transmits(&out), 1);
}

#[test]
fn success_is_retransmitted_until_ack() {
    let t0 = Instant::now();
    let timers = TimerConfig::default();
    let mut layer = TransactionLayer::new(timers);
    let invite = request("INVITE", "z9hG4bK2", 1);
    let key = received(&mut layer, t0, &invite, peer());
    layer.respond(t0, &key, &response_to(&invite, 200));
    assert_eq!(transmits(&drain(&mut layer)), 1);
    // T1, 2·T1, 4·T1: three retransmissions by 3.5 s.
    let mut now = t0;
    let mut sent = 0;
    while now < t0 + Duration::from_millis(3600) {
        now += Duration::from_millis(100);
        layer.handle_timeout(now);
        sent += transmits(&drain(&mut layer));
    }
    assert_eq!(sent, 3);
    // ACK (new branch) stops them.
    layer.handle_request(now, request("ACK", "z9hG4bKack", 1), peer());
    assert!(matches!(
        drain(&mut layer).as_slice(),
        [TxOutput::AckForSuccess { .. }]
    ));
    let mut later = 0;
    for _ in 0..100 {
        now += Duration::from_millis(100);
        layer.handle_timeout(now);
        later += transmits(&drain(&mut layer));
    }
    assert_eq!(later, 0);
}

#[test]
fn unacknowledged_success_times_out() {
    let t0 = Instant::now();
    let timers = TimerConfig {
        t1: Duration::from_millis(10),
        ..TimerConfig::default()
    };
    let mut layer = TransactionLayer::new(timers);
    let invite = request("INVITE", "z9hG4bK3", 1);
    let key = received(&mut layer, t0, &invite, peer());
    layer.respond(t0, &key, &response_to(&invite, 200));
    layer.handle_timeout(t0 + Duration::from_secs(1));
    let out = drain(&mut layer);
    assert!(out.iter().any(|o| matches!(
        o,
        TxOutput::Timeout {
            kind: TimeoutKind::SuccessNotAcknowledged,
            ..
        }
    )));
    assert_eq!(layer.server_transactions(), 0);
}

#[test]
fn failure_ack_absorbed_and_timer_i_ends_transaction() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK4", 1);
    let key = received(&mut layer, t0, &invite, peer());
    layer.respond(t0, &key, &response_to(&invite, 486));
    drain(&mut layer);
    layer.handle_request(t0, request("ACK", "z9hG4bK4", 1), peer());
    assert!(
        drain(&mut layer).is_empty(),
        "ACK for a failure stays in the layer"
    );
    layer.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(layer.server_transactions(), 0);
}

#[test]
fn client_invite_retransmits_then_times_out() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    layer.send_request(t0, request("INVITE", "z9hG4bK5", 1), peer());
    assert_eq!(transmits(&drain(&mut layer)), 1);
    let mut now = t0;
    let mut sent = 0;
    let mut timed_out = false;
    while now < t0 + Duration::from_secs(40) {
        now += Duration::from_millis(250);
        layer.handle_timeout(now);
        for o in drain(&mut layer) {
            match o {
                TxOutput::Transmit { .. } => sent += 1,
                TxOutput::Timeout { kind, .. } => {
                    assert_eq!(kind, TimeoutKind::NoResponse);
                    timed_out = true;
                }
                _ => {}
            }
        }
    }
    assert!(timed_out);
    assert_eq!(sent, 6, "Timer A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
}

#[test]
fn client_failure_gets_ack_and_retransmitted_final_is_reacked() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK6", 1);
    layer.send_request(t0, invite.clone(), peer());
    drain(&mut layer);
    let mut busy = response_to(&invite, 486);
    crate::sip::message::set_to_tag(&mut busy, "srv");
    layer.handle_response(t0, busy.clone());
    let out = drain(&mut layer);
    assert_eq!(transmits(&out), 1, "ACK sent");
    assert!(out.iter().any(|o| matches!(o, TxOutput::Response { .. })));
    layer.handle_response(t0, busy);
    let out = drain(&mut layer);
    assert_eq!(transmits(&out), 1, "ACK repeated");
    assert!(!out.iter().any(|o| matches!(o, TxOutput::Response { .. })));
}

#[test]
fn tcp_gets_no_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tcp = Peer {
        addr: "127.0.0.1:5070".parse().unwrap(),
        flow: crate::sip::peer::Flow::Tcp(7),
    };
    let invite = request("INVITE", "z9hG4bK7", 1);
    let key = received(&mut layer, t0, &invite, tcp);
    layer.respond(t0, &key, &response_to(&invite, 200));
    drain(&mut layer);
    layer.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(transmits(&drain(&mut layer)), 0);
}

#[test]
fn an_ack_naming_another_dialog_does_not_stop_the_2xx() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK7", 1);
    let key = received(&mut layer, t0, &invite, peer());
    let mut ok = response_to(&invite, 200);
    crate::sip::message::set_to_tag(&mut ok, "ours");
    layer.respond(t0, &key, &ok);
    drain(&mut layer);
    // Call-ID and CSeq right, but no To tag (one who never saw the 200 cannot know it).
    layer.handle_request(t0, request("ACK", "z9hG4bKforged", 1), peer());
    drain(&mut layer);
    layer.handle_timeout(t0 + Duration::from_millis(600));
    assert_eq!(
        transmits(&drain(&mut layer)),
        1,
        "the 200 is still retransmitted"
    );
    let text = format!("{}", request("ACK", "z9hG4bKack", 1)).replace(
        "To: <sip:3000@127.0.0.1>",
        "To: <sip:3000@127.0.0.1>;tag=ours",
    );
    let ack = match parse_message(text.as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    };
    assert_eq!(to_tag(&ack).as_deref(), Some("ours"));
    layer.handle_request(t0, ack, peer());
    drain(&mut layer);
    layer.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(transmits(&drain(&mut layer)), 0, "the real ACK stops it");
}

#[test]
fn a_failure_response_is_retransmitted_only_a_few_times() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK9", 1);
    let key = received(&mut layer, t0, &invite, peer());
    layer.respond(t0, &key, &response_to(&invite, 503));
    assert_eq!(transmits(&drain(&mut layer)), 1);
    let mut again = 0;
    for step in 1..=100 {
        layer.handle_timeout(t0 + Duration::from_millis(300 * step));
        again += transmits(&drain(&mut layer));
    }
    assert_eq!(
        again, FAILURE_RETRANSMITS as usize,
        "not ten times (Timer G to H)"
    );
    // Before Timer H, a retransmitted INVITE still gets the response again.
    let mut layer = TransactionLayer::new(TimerConfig::default());
    layer.handle_request(t0, invite.clone(), peer());
    drain(&mut layer);
    layer.respond(t0, &key, &response_to(&invite, 503));
    drain(&mut layer);
    layer.handle_timeout(t0 + Duration::from_secs(10));
    drain(&mut layer);
    layer.handle_request(t0 + Duration::from_secs(10), invite, peer());
    assert_eq!(transmits(&drain(&mut layer)), 1);
}

/// Floods `layer` with `count` OPTIONS from 127.0.0.`host` (answering each that reaches
/// the TU); answers how many got a stateless 503.
fn flood(layer: &mut TransactionLayer, now: Instant, host: u8, count: usize) -> usize {
    let mut refused = 0;
    for i in 0..count {
        let options = request("OPTIONS", &format!("z9hG4bKflood{host}x{i}"), 1);
        layer.handle_request(now, options.clone(), peer_at(host));
        for output in drain(layer) {
            match output {
                TxOutput::Request { key, .. } => {
                    layer.respond(now, &key, &response_to(&options, 200));
                }
                TxOutput::Transmit { data, .. } if data.starts_with(b"SIP/2.0 503") => refused += 1,
                _ => {}
            }
        }
    }
    refused
}

/// #14 item 3: the table of server transactions is bounded (an OPTIONS flood over UDP keeps
/// each for 64·T1): past the bound a request gets a stateless 503 and never reaches the TU.
/// Timers are indexed: the ones due fire, in order, without a scan of the rest.
#[test]
fn the_server_table_is_bounded_and_its_timers_indexed() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let sources = (MAX_SERVER_TRANSACTIONS / MAX_SERVER_TRANSACTIONS_PER_SOURCE) as u8;
    let mut refused = 0;
    for host in 1..=sources {
        refused += flood(&mut layer, t0, host, MAX_SERVER_TRANSACTIONS_PER_SOURCE);
    }
    assert_eq!(refused, 0, "each source within its share");
    refused += flood(&mut layer, t0, sources + 1, 10);
    assert_eq!(layer.server_transactions(), MAX_SERVER_TRANSACTIONS);
    assert_eq!(refused, 10, "the excess got a stateless 503");
    // All of them end at Timer J (64·T1), found through the index.
    let end = layer.poll_timeout().expect("a timer");
    assert_eq!(end, t0 + TimerConfig::default().transaction_timeout());
    layer.handle_timeout(end);
    assert_eq!(layer.server_transactions(), 0);
    assert_eq!(layer.poll_timeout(), None);
}

/// #14 item 3: one flooding source cannot fill the table for everyone. Before the per-source
/// share, 8192 OPTIONS from one address made every other caller's request a 503 for 64·T1.
#[test]
fn one_source_holds_at_most_its_share_of_the_table() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let refused = flood(&mut layer, t0, 1, MAX_SERVER_TRANSACTIONS);
    assert_eq!(
        refused,
        MAX_SERVER_TRANSACTIONS - MAX_SERVER_TRANSACTIONS_PER_SOURCE
    );
    assert_eq!(
        layer.server_transactions(),
        MAX_SERVER_TRANSACTIONS_PER_SOURCE
    );
    assert_eq!(flood(&mut layer, t0, 2, 1), 0, "another caller is served");
    // Its share comes back as its transactions end.
    let later = t0 + TimerConfig::default().transaction_timeout();
    layer.handle_timeout(later);
    assert_eq!(flood(&mut layer, later, 1, 1), 0);
}
