//! #14 items 2 and 4 with real calls on loopback: media goes only to an address that has
//! shown consent (a forged `c=` cannot aim the room at a victim), and a second socket on a
//! member's IP can neither take its stream nor speak RTCP for it.

use crate::common;

use common::media_peer::*;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::dial::DialTransport;
use tessera::sdp::AudioCodec;
use tokio::net::UdpSocket;

/// One RTP packet of Opus payload type 111 (a tiny frame; what it decodes to does not matter).
fn opus_packet(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, OPUS_PT];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xf8, 0xff, 0xfe]);
    p
}

/// A forged INVITE names a victim in `c=`: the victim never asked for media and never sends
/// any. It gets at most a few audio packets and no video; once it sends a receiver report (it wants
/// the media), the room flows to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_waits_for_consent_from_the_address_it_goes_to() {
    let server = start(small_video(test_config())).await;
    let talker = {
        let mut o = tessera::dial::DialOptions::new(uri(&server, "consent"));
        o.from = "talker".into();
        o.tone_hz = Some(600.0);
        o.color = Some((230, 20, 20));
        o.video_size = (160, 90);
        o.duration = Duration::from_secs(12);
        tessera::dial::dial(o)
    };
    let scenario = async {
        wait_members(&server, "consent", 1).await;
        let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let video = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let offer = AvOffer::watching(audio.local_addr().unwrap(), video.local_addr().unwrap());
        let call = ProbeCall::place(
            server.sip_addr(),
            &uri(&server, "consent"),
            "consent-victim",
            "",
            &offer.sdp(),
        )
        .await;
        let window = Duration::from_secs(4);
        let (audio_rx, video_rx) = tokio::join!(
            record(&audio, Instant::now() + window),
            record(&video, Instant::now() + window)
        );
        let bytes: usize = audio_rx
            .datagrams
            .iter()
            .chain(&video_rx.datagrams)
            .map(|d| d.data.len())
            .sum();
        eprintln!(
            "to an address that never consented, in {window:?}: {} audio and {} video RTP packets, {bytes} bytes",
            audio_rx.rtp().len(),
            video_rx.rtp().len()
        );
        assert!(
            audio_rx.rtp().len() <= 5 && video_rx.rtp().is_empty(),
            "at most a few audio packets and no video before consent: {} audio, {} video",
            audio_rx.rtp().len(),
            video_rx.rtp().len()
        );
        // Consent: the peer's own reports, from the addresses the media goes to.
        send_consent(&audio, &call.answer, "audio").await;
        send_consent(&video, &call.answer, "video").await;
        let (audio_rx, video_rx) = tokio::join!(
            record(&audio, Instant::now() + Duration::from_secs(2)),
            record(&video, Instant::now() + Duration::from_secs(2))
        );
        assert!(
            audio_rx.rtp().len() > 50,
            "audio flows after consent: {}",
            audio_rx.rtp().len()
        );
        assert!(
            video_rx.rtp().len() > 10,
            "video flows after consent: {}",
            video_rx.rtp().len()
        );
        call.hang_up().await;
    };
    let (report, ()) = tokio::join!(talker, scenario);
    assert!(report.expect("talker dials").answered);
    server.shutdown().await;
}

/// A member sends its audio from one socket; a second socket on the same IP sends the same
/// SSRC (and RTCP) the whole time. The stream stays with its owner: the mix keeps going to
/// the owner, none to the intruder, and the intruder's RTCP is refused. (Before #14, three
/// packets took the stream, and RTCP came in from any port of the IP.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_socket_on_the_members_ip_cannot_take_its_stream() {
    let server = start(test_config()).await;
    let talker = dial_tone(
        &server,
        "hijack",
        Some(750.0),
        10.0,
        AudioCodec::Opus,
        DialTransport::Udp,
    );
    let scenario = async {
        wait_members(&server, "hijack", 1).await;
        let owner = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let unused_video = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let offer = AvOffer::watching(
            owner.local_addr().unwrap(),
            unused_video.local_addr().unwrap(),
        )
        .sdp();
        let audio_only = offer[..offer.find("m=video").expect("video section")].to_string();
        let call = ProbeCall::place(
            server.sip_addr(),
            &uri(&server, "hijack"),
            "hijack-owner",
            "",
            &audio_only,
        )
        .await;
        let port = sdp_port(&call.answer, "audio").expect("audio answered");
        const SSRC: u32 = 0x0a0a_0a0a;
        let owner_sends = tokio::spawn({
            let owner = owner.clone();
            async move {
                for seq in 0..300u16 {
                    let _ = owner
                        .send_to(&opus_packet(SSRC, seq), ("127.0.0.1", port))
                        .await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let attack_end = Instant::now() + Duration::from_secs(4);
        let (owner_rx, intruder_rx, ()) = tokio::join!(
            record(&owner, attack_end),
            record(&intruder, attack_end),
            async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let mut report = Vec::new();
                tessera::rtp::rtcp::write_compound(
                    &[tessera::rtp::rtcp::RtcpPacket::ReceiverReport {
                        ssrc: SSRC,
                        reports: Vec::new(),
                    }],
                    &mut report,
                );
                // Bursts of three: enough consecutive packets to have taken the stream.
                for seq in (1000..1450u16).step_by(3) {
                    for s in seq..seq + 3 {
                        let _ = intruder
                            .send_to(&opus_packet(SSRC, s), ("127.0.0.1", port))
                            .await;
                    }
                    if seq % 30 == 1 {
                        let _ = intruder.send_to(&report, ("127.0.0.1", port)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        );
        owner_sends.abort();
        let late = owner_rx
            .rtp()
            .iter()
            .filter(|p| p.at + Duration::from_millis(1500) >= attack_end)
            .count();
        eprintln!(
            "during the attack: the owner got {} mix packets ({late} in its last 1.5 s), the intruder {}",
            owner_rx.rtp().len(),
            intruder_rx.rtp().len()
        );
        assert!(
            late > 40,
            "the owner still gets the mix at the end of the attack: {late} packets in its last 1.5 s"
        );
        assert_eq!(intruder_rx.rtp().len(), 0, "nothing goes to the intruder");
        let room = server.control().room("hijack").await.expect("room");
        let counters = room
            .members
            .iter()
            .find(|m| m.call_id == "hijack-owner")
            .expect("the owner")
            .counters;
        assert!(
            counters.unvalidated >= 100,
            "the intruder's RTP was refused: {counters:?}"
        );
        assert!(
            counters.foreign >= 10,
            "the intruder's RTCP was refused: {counters:?}"
        );
        call.hang_up().await;
    };
    let (report, ()) = tokio::join!(talker, scenario);
    assert!(report.answered);
    server.shutdown().await;
}
