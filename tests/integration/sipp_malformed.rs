//! The malformed-request rules checked by a third-party SIP stack: SIPp (`sip-tester`) plays a
//! scenario of INVITEs that were once answered 200 — an offer with 1000 media sections, a
//! non-numeric Content-Length — over UDP and over TCP, and expects a 400 for each (with a
//! plain OPTIONS answered 200 in between: the server serves on). SIPp's exit status says
//! whether every expected response came. (A CSeq method that differs from the request's is
//! left to `sip_bad_input.rs`: SIPp itself refuses a response whose CSeq, copied from such a
//! request as RFC 3261 §8.2.6.2 demands, does not name the method it sent.)

use crate::common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

const HEADERS: &str = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70";

const SDP: &str = "v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

/// One `<send>` of an INVITE with `cseq`, `content_length` and `body`, then a 400 expected.
fn refused_invite(cseq: &str, content_length: &str, body: &str) -> String {
    format!(
        "<send><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{HEADERS}
CSeq: {cseq}
Content-Type: application/sdp
Content-Length: {content_length}

{body}]]></send>
<recv response=\"100\" optional=\"true\"/>
<recv response=\"400\"/>
"
    )
}

fn scenario() -> String {
    let many_media: String = (0..1000)
        .map(|i| format!("m=audio {} RTP/AVP 0\n", 30000 + 2 * i))
        .collect();
    let options = format!(
        "<send><![CDATA[
OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{HEADERS}
CSeq: 10 OPTIONS
Content-Length: 0

]]></send>
<recv response=\"200\"/>
"
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>
<scenario name=\"malformed INVITEs are refused\">
{}{}{}</scenario>
",
        refused_invite("2 INVITE", "[len]", &format!("{SDP}{many_media}")),
        options,
        // Last: over TCP the server closes the connection after this one.
        refused_invite("3 INVITE", "12abc", SDP),
    )
}

/// A port free for both UDP and TCP on loopback (SIPp's own; its default is 5060).
fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn run_sipp(server: &tessera::server::ServerHandle, transport: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("tessera-sipp-{}-{transport}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("malformed.xml");
    std::fs::write(&file, scenario()).expect("scenario");
    let child = tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&file)
        .args(["-m", "1", "-l", "1", "-s", "4000", "-i", "127.0.0.1", "-p"])
        .arg(free_port().to_string())
        .args([
            "-t",
            transport,
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
        ])
        .arg(server.sip_addr().to_string())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp starts");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("sipp ends by itself")
        .expect("sipp ran");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    (output.status.success(), log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_sees_every_malformed_invite_refused_over_udp_and_tcp() {
    assert!(
        tool_available("sipp", "-v"),
        "this test needs SIPp (scripts/install-deps --test installs sip-tester)"
    );
    let server = start(test_config()).await;
    for transport in ["u1", "t1"] {
        let (passed, log) = run_sipp(&server, transport).await;
        assert!(passed, "SIPp over {transport}: {log}");
    }
    assert_eq!(server.control().call_count().await, 0, "no call created");
    assert!(
        server.control().room_ids().await.is_empty(),
        "no room created"
    );
    assert_eq!(server.rtp_port_pairs_in_use(), 0);
    server.shutdown().await;
}
