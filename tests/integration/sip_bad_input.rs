//! Bad SIP input over real sockets: every rule answers with the right status (or silence)
//! and the server keeps serving.

use crate::common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;
use tessera::server::ServerHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(700);

async fn options_still_answered(probe: &SipProbe, ruri: &str, call_id: &str) {
    probe
        .send(&request(
            "OPTIONS",
            ruri,
            probe.local(),
            call_id,
            call_id,
            1,
            None,
            "",
            "",
        ))
        .await;
    let resp = probe
        .response_to("OPTIONS", "200", WAIT)
        .await
        .expect("OPTIONS answered");
    assert!(header(&resp, "Allow").is_some_and(|a| a.contains("INVITE") && a.contains("BYE")));
    assert!(header(&resp, "Accept").is_some_and(|a| a.contains("application/sdp")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_udp_gets_400_when_possible_and_silence_otherwise() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:3000@{}", server.sip_addr());
    // Pure garbage: no response can be formed.
    probe
        .send("\u{1}\u{2}garbage that is not SIP at all\r\n\r\n")
        .await;
    assert!(probe.recv(QUIET).await.is_none(), "garbage gets silence");
    // A request whose CSeq is broken but which carries the headers a response needs.
    let broken = request(
        "INVITE",
        &ruri,
        probe.local(),
        "bad-1",
        "bad1",
        1,
        None,
        "",
        "",
    )
    .replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    probe.send(&broken).await;
    let resp = probe.final_response(WAIT).await.expect("a response");
    assert_eq!(status(&resp), 400, "{resp}");
    // Missing Call-ID: still answerable? No Call-ID means no response can be formed.
    let no_call_id = request(
        "OPTIONS",
        &ruri,
        probe.local(),
        "x",
        "nocid",
        1,
        None,
        "",
        "",
    )
    .replace("Call-ID: x\r\n", "");
    probe.send(&no_call_id).await;
    assert!(probe.recv(QUIET).await.is_none(), "no Call-ID: silence");
    // Body shorter than Content-Length.
    let truncated = request(
        "OPTIONS",
        &ruri,
        probe.local(),
        "trunc-1",
        "trunc",
        1,
        None,
        "",
        "",
    )
    .replace("Content-Length: 0", "Content-Length: 500");
    probe.send(&truncated).await;
    let resp = probe.final_response(WAIT).await.expect("a response");
    assert_eq!(status(&resp), 400);
    options_still_answered(&probe, &ruri, "opt-after-garbage").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sdp_gets_400_and_no_common_codec_gets_488() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:3000@{}", server.sip_addr());
    let sdp_type = "Content-Type: application/sdp\r\n";
    probe
        .send(&request(
            "INVITE",
            &ruri,
            probe.local(),
            "sdp-1",
            "sdp1",
            1,
            None,
            sdp_type,
            "this is not sdp\r\n",
        ))
        .await;
    let resp = probe.final_response(WAIT).await.expect("a response");
    assert_eq!(status(&resp), 400, "{resp}");
    let g722 = "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n";
    probe
        .send(&request(
            "INVITE",
            &ruri,
            probe.local(),
            "sdp-2",
            "sdp2",
            1,
            None,
            sdp_type,
            g722,
        ))
        .await;
    let resp = probe.final_response(WAIT).await.expect("a response");
    assert_eq!(status(&resp), 488, "{resp}");
    assert_eq!(
        server.rtp_port_pairs_in_use(),
        0,
        "rejected offers hold no ports"
    );
    assert!(
        server.control().room_ids().await.is_empty(),
        "no room for rejected calls"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dialog_unsupported_method_and_bad_room() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let ruri = format!("sip:3000@{}", server.sip_addr());
    probe
        .send(&request(
            "BYE",
            &ruri,
            probe.local(),
            "nobody",
            "bye1",
            2,
            Some("nosuchtag"),
            "",
            "",
        ))
        .await;
    assert_eq!(
        probe.final_response(WAIT).await.map(|r| status(&r)),
        Some(481)
    );
    probe
        .send(&request(
            "SUBSCRIBE",
            &ruri,
            probe.local(),
            "sub-1",
            "sub1",
            1,
            None,
            "Event: presence\r\n",
            "",
        ))
        .await;
    let resp = probe.final_response(WAIT).await.expect("a response");
    assert_eq!(status(&resp), 405);
    assert!(
        header(&resp, "Allow").is_some_and(|a| a.contains("INVITE")),
        "405 carries Allow"
    );
    let long_room = format!("sip:{}@{}", "9".repeat(65), server.sip_addr());
    probe
        .send(&request(
            "INVITE",
            &long_room,
            probe.local(),
            "room-1",
            "room1",
            1,
            None,
            "Content-Type: application/sdp\r\n",
            &sdp_offer("127.0.0.1:9".parse().unwrap()),
        ))
        .await;
    assert_eq!(
        probe.final_response(WAIT).await.map(|r| status(&r)),
        Some(404)
    );
    server.shutdown().await;
}

async fn expect_disconnect(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "server closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_abusers_are_disconnected_without_harming_calls() {
    let server = start(test_config()).await;
    let call = dial_tone(
        &server,
        "safe",
        Some(600.0),
        4.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let listener = dial_tone(
        &server,
        "safe",
        None,
        4.0,
        AudioCodec::Opus,
        DialTransport::Tcp,
    );
    let abuse = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut garbage = TcpStream::connect(server.sip_addr()).await.unwrap();
        garbage
            .write_all(b"\x16\x03\x01 this is TLS or noise\r\n\r\n")
            .await
            .unwrap();
        expect_disconnect(garbage).await;
        let mut big = TcpStream::connect(server.sip_addr()).await.unwrap();
        let mut line =
            format!("INVITE sip:safe@{} SIP/2.0\r\nX-Huge: ", server.sip_addr()).into_bytes();
        line.extend(std::iter::repeat_n(b'a', 64 * 1024));
        let _ = big.write_all(&line).await; // the server may close while we write
        expect_disconnect(big).await;
    };
    let (talker, listener, ()) = tokio::join!(call, listener, abuse);
    assert!(talker.answered && listener.answered);
    assert!(
        heard(&listener, 600.0) > 0.5,
        "TCP call kept its audio: {:.3}",
        heard(&listener, 600.0)
    );
    let probe = SipProbe::new(server.sip_addr()).await;
    options_still_answered(
        &probe,
        &format!("sip:3000@{}", server.sip_addr()),
        "opt-after-tcp",
    )
    .await;
    server.shutdown().await;
}

/// Sends `text` over a fresh TCP connection and returns the first response's status (0 when
/// the server closed without answering).
async fn tcp_status(server: &ServerHandle, text: &str) -> u16 {
    let mut stream = TcpStream::connect(server.sip_addr()).await.unwrap();
    stream
        .write_all(text.replace("SIP/2.0/UDP", "SIP/2.0/TCP").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = vec![0u8; 8192];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            // Skip provisional responses; stop at the first final one.
            let finals = text
                .split("SIP/2.0 ")
                .skip(1)
                .find(|r| !r.starts_with('1') && r.contains("\r\n\r\n"));
            if let Some(resp) = finals {
                return status(&format!("SIP/2.0 {resp}"));
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.unwrap_or(0)
}

/// Turns a valid request into a malformed one.
type Mangle = Box<dyn Fn(String) -> String>;

/// An INVITE with a valid audio offer, for the malformed variants below.
fn invite(server: &ServerHandle, probe: SocketAddr, call_id: &str) -> String {
    request(
        "INVITE",
        &format!("sip:4000@{}", server.sip_addr()),
        probe,
        call_id,
        call_id,
        1,
        None,
        "Content-Type: application/sdp\r\n",
        &sdp_offer("127.0.0.1:9".parse().unwrap()),
    )
}

/// Malformed INVITEs once answered 200: each now gets a 4xx over UDP and over TCP and
/// creates no call, no room and holds no port (RFC 3261 §8.1.1.5, §18.3, §20.14, §25.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_invites_are_refused_over_udp_and_tcp() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let many_media: String = (0..1000)
        .map(|i| format!("m=audio {} RTP/AVP 0\r\n", 4000 + 2 * i))
        .collect();
    let cases: Vec<(&str, Mangle, bool)> = vec![
        (
            "CSeq method differs",
            Box::new(|m| m.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS")),
            true,
        ),
        (
            "Content-Length larger than the body",
            Box::new(|m| {
                let len = body_of(&m).len();
                m.replace(
                    &format!("Content-Length: {len}"),
                    &format!("Content-Length: {}", len + 40),
                )
            }),
            false, // on a stream that only means "wait for more"
        ),
        (
            "negative Content-Length",
            Box::new(|m| {
                let len = body_of(&m).len();
                m.replace(&format!("Content-Length: {len}"), "Content-Length: -5")
            }),
            true,
        ),
        (
            "non-numeric Content-Length",
            Box::new(|m| {
                let len = body_of(&m).len();
                m.replace(&format!("Content-Length: {len}"), "Content-Length: 12abc")
            }),
            true,
        ),
        (
            "NUL in a header value",
            Box::new(|m| m.replace("From: <sip:probe@", "From: \"a\0b\" <sip:probe@")),
            true,
        ),
        (
            "1000 media sections",
            Box::new(move |m| {
                let body = body_of(&m).to_string();
                let huge = format!("{body}{many_media}");
                m.replace(
                    &format!("Content-Length: {}\r\n\r\n{body}", body.len()),
                    &format!("Content-Length: {}\r\n\r\n{huge}", huge.len()),
                )
            }),
            true,
        ),
    ];
    for (i, (what, mangle, over_tcp)) in cases.iter().enumerate() {
        let udp = mangle(invite(&server, probe.local(), &format!("mal-udp-{i}")));
        probe.send(&udp).await;
        let resp = probe.final_response(WAIT).await.expect("a response");
        let code = status(&resp);
        assert!((400..500).contains(&code), "UDP, {what}: {resp}");
        if *over_tcp {
            let tcp = mangle(invite(&server, probe.local(), &format!("mal-tcp-{i}")));
            let code = tcp_status(&server, &tcp).await;
            assert!((400..500).contains(&code), "TCP, {what}: status {code}");
        }
    }
    assert_eq!(server.control().call_count().await, 0, "no call created");
    assert!(
        server.control().room_ids().await.is_empty(),
        "no room created"
    );
    assert_eq!(server.rtp_port_pairs_in_use(), 0, "no port held");
    // A body over the stream limit is refused with 413 before it is read.
    let big = invite(&server, probe.local(), "mal-big").replace(
        &format!(
            "Content-Length: {}",
            body_of(&invite(&server, probe.local(), "x")).len()
        ),
        "Content-Length: 100000",
    );
    assert_eq!(tcp_status(&server, &big).await, 413);
    options_still_answered(
        &probe,
        &format!("sip:3000@{}", server.sip_addr()),
        "opt-after-malformed",
    )
    .await;
    server.shutdown().await;
}

/// A TCP peer that pipelines requests and never reads its responses once froze the whole SIP
/// core (the core awaited the connection's full send queue): now its connection is closed and
/// everyone else is answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_peer_that_stops_reading_cannot_stall_signalling() {
    let server = start(test_config()).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window: the server's responses back up after a few hundred.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.sip_addr()).await.unwrap();
    let ruri = format!("sip:3000@{}", server.sip_addr());
    let probe = SipProbe::new(server.sip_addr()).await;
    // More response bytes than the kernel's largest send buffer (4 MiB) plus the queue.
    let padding = "x".repeat(200);
    let flood: String = (0..16_000)
        .map(|i| {
            request(
                "OPTIONS",
                &ruri,
                probe.local(),
                &format!("flood-{i}-{padding}"),
                &format!("flood{i}"),
                1,
                None,
                "",
                "",
            )
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        })
        .collect();
    // Write without ever reading; the server may close the connection while we write. Once
    // it is all written, the server has taken every request in.
    let writer = tokio::spawn(async move {
        let _ = stalled.write_all(flood.as_bytes()).await;
        stalled
    });
    let _stalled = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the server keeps reading (written or refused)");
    for i in 0..5 {
        let started = std::time::Instant::now();
        options_still_answered(&probe, &ruri, &format!("while-stalled-{i}")).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "an unrelated OPTIONS took {:?}",
            started.elapsed()
        );
    }
    tokio::time::timeout(Duration::from_secs(20), server.shutdown())
        .await
        .expect("shutdown does not hang on the stalled peer");
}

/// Whether the server answers an OPTIONS on `stream` (so it holds the connection open).
async fn answers_on(stream: &mut TcpStream, server: &ServerHandle, call_id: &str) -> bool {
    let text = request(
        "OPTIONS",
        &format!("sip:3000@{}", server.sip_addr()),
        stream.local_addr().unwrap(),
        call_id,
        call_id,
        1,
        None,
        "",
        "",
    )
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    if stream.write_all(text.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    matches!(
        tokio::time::timeout(WAIT, stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0 && String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200")
    )
}

/// #14 item 1: TCP connections are capped per source IP (one over is closed at once), and
/// one that carries no call is closed when idle, while a call's connection stays open past
/// the idle timeout and its call completes. (Before, any number stayed open for ever.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_are_capped_per_ip_and_idle_ones_closed() {
    let mut config = test_config();
    config.limits.tcp_connections_per_ip = 3;
    config.limits.tcp_idle_secs = 1;
    let server = start(config).await;
    let call = dial_tone(
        &server,
        "capped",
        Some(600.0),
        4.0,
        AudioCodec::Opus,
        DialTransport::Tcp,
    );
    let limits = async {
        wait_members(&server, "capped", 1).await;
        // The call holds one of the three; two more fit.
        let mut held = Vec::new();
        for i in 0..2 {
            let mut stream = TcpStream::connect(server.sip_addr()).await.unwrap();
            assert!(answers_on(&mut stream, &server, &format!("cap-{i}")).await);
            held.push(stream);
        }
        let mut over = TcpStream::connect(server.sip_addr()).await.unwrap();
        assert!(
            !answers_on(&mut over, &server, "cap-over").await,
            "a fourth connection from the IP is refused"
        );
        // Idle (no call, nothing sent for a second): closed.
        for stream in held {
            expect_disconnect(stream).await;
        }
        let mut again = TcpStream::connect(server.sip_addr()).await.unwrap();
        assert!(
            answers_on(&mut again, &server, "cap-again").await,
            "room again once the idle ones went"
        );
    };
    let (report, ()) = tokio::join!(call, limits);
    assert!(report.answered);
    assert!(
        report.ended_by.is_none() && report.duration_s >= 3.5 && report.rx_packets > 100,
        "the TCP call ran its course past the idle timeout: {report:?}"
    );
    server.shutdown().await;
}
