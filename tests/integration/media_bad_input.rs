//! Bad media input: malformed RTP/RTCP and packets from foreign addresses are counted and
//! dropped; the call and its audio carry on.

use crate::common;

use common::*;
use std::time::Duration;
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rtp_and_rtcp_are_counted_and_dropped() {
    let server = start(test_config()).await;
    let talker = dial_tone(
        &server,
        "noisy",
        Some(750.0),
        5.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let listener = dial_tone(
        &server,
        "noisy",
        None,
        5.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let attack = async {
        let ctl = server.control();
        assert!(
            eventually(Duration::from_secs(10), || async {
                ctl.room("noisy")
                    .await
                    .is_some_and(|r| r.members.len() == 2)
            })
            .await
        );
        let room = ctl.room("noisy").await.expect("room");
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for member in &room.members {
            let port = member.rtp_port;
            for i in 0..50u8 {
                let target = ("127.0.0.1", port);
                // Not RTP: version bits 0.
                socket
                    .send_to(&[0x00, 0x11, i, 0x22], target)
                    .await
                    .unwrap();
                // Truncated RTP header.
                socket.send_to(&[0x80, 0x6f, 0x00], target).await.unwrap();
                // Looks like RTCP (PT 200) but the length field lies.
                socket
                    .send_to(&[0x80, 200, 0x7f, 0xff, 1, 2, 3, 4], target)
                    .await
                    .unwrap();
                // RTCP port: garbage.
                socket
                    .send_to(&[0xde, 0xad, 0xbe, 0xef, i], ("127.0.0.1", port + 1))
                    .await
                    .unwrap();
            }
        }
        // Well-formed RTP, but from an address the call is not entitled to (not its SDP or
        // signalling IP): dropped as foreign, never mixed.
        let stranger = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let mut rtp = vec![0x80, 111, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        rtp.extend_from_slice(&[0x78; 40]);
        for member in &room.members {
            for _ in 0..20 {
                stranger
                    .send_to(&rtp, ("127.0.0.1", member.rtp_port))
                    .await
                    .unwrap();
            }
        }
        assert!(
            eventually(Duration::from_secs(10), || async {
                ctl.room("noisy").await.is_some_and(|r| {
                    r.members
                        .iter()
                        .all(|m| m.counters.malformed >= 100 && m.counters.foreign >= 20)
                })
            })
            .await,
            "malformed and foreign packets counted"
        );
    };
    let (talker, listener, ()) = tokio::join!(talker, listener, attack);
    assert!(talker.answered && listener.answered);
    assert!(
        heard(&listener, 750.0) > 0.5,
        "audio unharmed: {:.3}",
        heard(&listener, 750.0)
    );
    server.shutdown().await;
}
