//! Malformed H.264 over RTP (truncated FU-A, forbidden and reserved NAL types, STAP-A lengths
//! running past the end) is counted and dropped; nothing panics and the server serves on.

use crate::common;

use common::*;
use std::time::Duration;
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(10);

fn rtp(seq: u16, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, if marker { 0x80 | 96 } else { 96 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_h264_payloads_are_dropped_without_harm() {
    let server = start(test_config()).await;
    let probe = SipProbe::new(server.sip_addr()).await;
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let video_port = media.local_addr().unwrap().port();
    let sdp = format!(
        "{}m=video {video_port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\na=rtcp-fb:96 nack pli\r\na=sendrecv\r\n",
        sdp_offer("127.0.0.1:9".parse().unwrap())
    );
    let ruri = format!("sip:vbad@{}", server.sip_addr());
    probe
        .send(&request(
            "INVITE",
            &ruri,
            probe.local(),
            "vbad-1",
            "vbad1",
            1,
            None,
            "Content-Type: application/sdp\r\n",
            &sdp,
        ))
        .await;
    let ok = probe
        .response_to("INVITE", "200", WAIT)
        .await
        .expect("answered");
    let server_video = m_line_port(&ok, "video").expect("video m-line");
    assert_ne!(server_video, 0, "video m-line accepted: {ok}");
    let tag = to_tag_of(&ok);
    probe
        .in_dialog("ACK", &ruri, "vbad-1", "ack1", 1, &tag)
        .await;
    let garbage: [&[u8]; 8] = [
        &[0x7c],                   // FU-A with no FU header
        &[0x7c, 0x05, 0xaa],       // FU-A continuation without a start
        &[0x7c, 0x45, 0xaa],       // FU-A end without a start
        &[0x00, 0x01, 0x02],       // NAL type 0 (unspecified)
        &[0x1e, 0xff],             // NAL type 30
        &[0x9f, 0x00],             // forbidden bit set
        &[0x18, 0xff, 0xff, 0x67], // STAP-A length past the end
        &[],                       // empty payload
    ];
    let target = ("127.0.0.1", server_video);
    for round in 0..20u16 {
        for (i, payload) in garbage.iter().enumerate() {
            let seq = round * 10 + i as u16;
            media
                .send_to(&rtp(seq, i % 2 == 0, payload), target)
                .await
                .unwrap();
        }
    }
    let ctl = server.control();
    assert!(
        eventually(WAIT, || async {
            ctl.room("vbad").await.is_some_and(|r| {
                r.members
                    .first()
                    .and_then(|m| m.video.as_ref())
                    .is_some_and(|v| v.inbound.malformed_payloads >= 20)
            })
        })
        .await,
        "malformed payloads counted: {:?}",
        ctl.room("vbad")
            .await
            .and_then(|r| r.members.first().and_then(|m| m.video.clone()))
    );
    probe
        .send(&request(
            "OPTIONS",
            &ruri,
            probe.local(),
            "vbad-opt",
            "opt1",
            1,
            None,
            "",
            "",
        ))
        .await;
    assert!(
        probe.response_to("OPTIONS", "200", WAIT).await.is_some(),
        "server still answers"
    );
    probe
        .in_dialog("BYE", &ruri, "vbad-1", "bye2", 2, &tag)
        .await;
    assert!(probe.response_to("BYE", "200", WAIT).await.is_some());
    assert!(eventually(WAIT, || async { ctl.room_ids().await.is_empty() }).await);
    assert!(
        ports_returned(&server).await,
        "audio and video ports returned"
    );
    server.shutdown().await;
}
