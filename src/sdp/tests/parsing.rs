//! What the parser extracts, what it rejects, and the attribute accessors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::{Direction, RtpMap, SdpError, SessionDescription};
use super::samples;

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap()
}

fn error(text: &str) -> SdpError {
    SessionDescription::parse(text).unwrap_err()
}

const HEAD: &str = "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n";

#[test]
fn baresip_fields() {
    let sdp = parse(samples::BARESIP);
    assert_eq!(sdp.version, 0);
    assert_eq!(sdp.origin.username, "-");
    assert_eq!(sdp.origin.session_id, 1462218466);
    assert_eq!(sdp.origin.session_version, 2846251329);
    assert_eq!(sdp.origin.addr_type, "IP4");
    assert_eq!(
        sdp.connection.map(|c| c.address),
        Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)))
    );
    let audio = &sdp.media[0];
    assert_eq!((audio.media.as_str(), audio.port), ("audio", 10634));
    assert_eq!(audio.formats, ["96", "0", "8", "101"]);
    assert_eq!(audio.bandwidths[0].bwtype, "AS");
    assert_eq!(audio.bandwidths[0].bandwidth, 96);
    assert_eq!(
        audio.rtpmaps()[0],
        RtpMap {
            payload_type: 96,
            encoding: "opus".into(),
            clock_rate: 48000,
            channels: Some(2)
        }
    );
    assert_eq!(audio.rtpmaps().len(), 4);
    assert_eq!(audio.fmtp(101), Some("0-15"));
    assert_eq!(audio.fmtp(0), None);
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert!(audio.rtcp_mux());
    assert_eq!(audio.rtcp(), None);
    assert_eq!(audio.ptime(), None);
    assert_eq!(audio.attribute("label"), Some("1"));
    assert_eq!(audio.attribute("rtcp-mux"), Some(""));
    assert!(audio.has_attribute("SSRC"));
    assert!(!audio.has_attribute("rtcp"));
}

#[test]
fn freeswitch_rtcp_and_ptime() {
    let audio = &parse(samples::FREESWITCH).media[0];
    assert_eq!(
        audio.rtcp(),
        Some((16385, Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)))))
    );
    assert!(!audio.rtcp_mux());
    assert_eq!(audio.ptime(), Some(20));
    assert_eq!(audio.rtpmaps().len(), 1);
}

#[test]
fn rtcp_without_address_and_fractional_ptime() {
    let sdp = parse(&format!(
        "{HEAD}m=audio 5000 RTP/AVP 0\na=rtcp:5009\na=ptime:30.0\n"
    ));
    assert_eq!(sdp.media[0].rtcp(), Some((5009, None)));
    assert_eq!(sdp.media[0].ptime(), Some(30));
}

#[test]
fn ipv6_connection() {
    let sdp = parse(samples::IPV6);
    let expected: Ipv6Addr = "2001:db8::2".parse().unwrap();
    assert_eq!(
        sdp.connection.map(|c| c.address),
        Some(IpAddr::V6(expected))
    );
    assert_eq!(
        sdp.media_connection(0).map(|c| c.address),
        Some(IpAddr::V6(expected))
    );
}

#[test]
fn media_level_connection_overrides_session_level() {
    let sdp = parse(samples::RFC8866_EXAMPLE);
    let session: IpAddr = "198.51.100.1".parse().unwrap();
    let video: IpAddr = "2001:db8::2".parse().unwrap();
    assert_eq!(sdp.media_connection(0).map(|c| c.address), Some(session));
    assert_eq!(sdp.media_connection(2).map(|c| c.address), Some(video));
    assert_eq!(sdp.media_connection(3), None);
    assert_eq!(sdp.media[2].title.as_deref(), Some("Main camera"));
    assert_eq!(sdp.media[2].other_lines[0].kind, 'k');
    let kinds: String = sdp.other_lines.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, "iueprzk");
}

#[test]
fn direction_falls_back_to_session_level_then_sendrecv() {
    let multicast = parse(samples::MULTICAST);
    assert_eq!(multicast.media[0].direction(), None);
    assert_eq!(multicast.media_direction(0), Some(Direction::RecvOnly));
    assert_eq!(multicast.media_direction(1), None);
    assert_eq!(multicast.media[0].num_ports, Some(2));
    let ipv6 = parse(samples::IPV6);
    assert_eq!(ipv6.media_direction(0), Some(Direction::SendRecv));
    let webrtc = parse(samples::WEBRTC);
    assert_eq!(webrtc.attribute("group"), Some("BUNDLE 0 1 2"));
    assert!(webrtc.has_attribute("extmap-allow-mixed"));
}

#[test]
fn missing_mandatory_lines() {
    assert_eq!(error(""), SdpError::Empty);
    assert_eq!(error("\r\n\n"), SdpError::Empty);
    assert_eq!(
        error("o=- 1 2 IN IP4 192.0.2.1\ns=-\n"),
        SdpError::VersionNotFirst { line: 1 }
    );
    assert_eq!(
        error("v=0\ns=-\nt=0 0\n"),
        SdpError::MissingLine { kind: 'o' }
    );
    assert_eq!(
        error("v=0\no=- 1 2 IN IP4 192.0.2.1\nt=0 0\n"),
        SdpError::MissingLine { kind: 's' }
    );
    // s= after the first m= belongs to the media section, where it is illegal.
    assert_eq!(
        error("v=0\no=- 1 2 IN IP4 192.0.2.1\nm=audio 1 RTP/AVP 0\ns=-\n"),
        SdpError::Misplaced { line: 4, kind: 's' }
    );
}

#[test]
fn media_sections_and_lines_are_bounded() {
    use super::super::parse::{MAX_LINES, MAX_MEDIA_SECTIONS};
    let sections = |n: usize| -> String {
        let mut text = HEAD.to_string();
        for i in 0..n {
            text.push_str(&format!("m=audio {} RTP/AVP 0\n", 4000 + 2 * i));
        }
        text
    };
    assert_eq!(
        parse(&sections(MAX_MEDIA_SECTIONS)).media.len(),
        MAX_MEDIA_SECTIONS
    );
    assert_eq!(
        error(&sections(1000)),
        SdpError::TooMany {
            what: "media sections",
            limit: MAX_MEDIA_SECTIONS
        }
    );
    let mut long = format!("{HEAD}m=audio 4000 RTP/AVP 0\n");
    let lines_so_far = long.lines().count();
    for _ in lines_so_far..MAX_LINES {
        long.push_str("a=x\n");
    }
    assert_eq!(
        parse(&long).media[0].attributes.len(),
        MAX_LINES - lines_so_far
    );
    long.push_str("a=x\n");
    assert!(matches!(
        error(&long),
        SdpError::TooMany { what: "lines", .. }
    ));
}

#[test]
fn bad_media_lines() {
    let bad_port = error(&format!("{HEAD}m=audio 70000 RTP/AVP 0\n"));
    assert!(
        matches!(
            bad_port,
            SdpError::InvalidValue {
                line: 6,
                kind: 'm',
                ..
            }
        ),
        "{bad_port:?}"
    );
    assert!(bad_port
        .to_string()
        .starts_with("line 6: invalid `m=` line (port"));
    let not_number = error(&format!("{HEAD}m=audio x RTP/AVP 0\n"));
    assert!(matches!(not_number, SdpError::InvalidValue { line: 6, .. }));
    assert_eq!(
        error(&format!("{HEAD}m=audio 5000 RTP/AVP\n")),
        SdpError::NoFormats { line: 6 }
    );
    assert!(matches!(
        error(&format!("{HEAD}m=audio\n")),
        SdpError::InvalidValue { line: 6, .. }
    ));
}

#[test]
fn bad_connection_addresses() {
    for c in [
        "IN IP4 pbx.example.com",
        "IN IP4 2001:db8::1",
        "IN IP6 192.0.2.1",
        "ATM NSAP 47.0005",
        "IN IP4",
        "IN IP4 300.1.1.1",
    ] {
        let text = format!("v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nc={c}\nt=0 0\n");
        let err = error(&text);
        assert!(
            matches!(
                err,
                SdpError::InvalidValue {
                    line: 4,
                    kind: 'c',
                    ..
                }
            ),
            "{c}: {err:?}"
        );
    }
}

#[test]
fn lines_that_are_not_type_equals_value() {
    for line in ["hello", "a:foo", "A=foo", "=x", "ab=c", " a=x", "é=1"] {
        let err = error(&format!("{HEAD}{line}\n"));
        assert!(
            matches!(err, SdpError::NotATypeValueLine { line: 6, .. }),
            "{line}: {err:?}"
        );
        assert!(err.to_string().starts_with("line 6:"));
    }
}

#[test]
fn other_invalid_lines() {
    let cases = [
        ("o=- 1 IN IP4 192.0.2.1", 'o'),
        ("o=- x 1 IN IP4 192.0.2.1", 'o'),
        ("o=- 1 99999999999999999999 IN IP4 192.0.2.1", 'o'),
        ("b=AS", 'b'),
        ("b=AS:lots", 'b'),
        ("t=0", 't'),
        ("a=", 'a'),
        ("a=:value", 'a'),
    ];
    for (line, kind) in cases {
        let text = format!("v=0\n{line}\n");
        let err = error(&text);
        assert!(
            matches!(err, SdpError::InvalidValue { line: 2, kind: k, .. } if k == kind),
            "{line}: {err:?}"
        );
    }
    assert!(matches!(
        error("v=zero\n"),
        SdpError::InvalidValue { line: 1, .. }
    ));
}

#[test]
fn duplicates_are_rejected() {
    assert_eq!(
        error(&format!("{HEAD}o=- 1 2 IN IP4 192.0.2.1\n")),
        SdpError::Duplicate { line: 6, kind: 'o' }
    );
    assert_eq!(
        error(&format!("{HEAD}c=IN IP4 192.0.2.2\n")),
        SdpError::Duplicate { line: 6, kind: 'c' }
    );
    assert_eq!(
        error(&format!("{HEAD}v=0\n")),
        SdpError::Duplicate { line: 6, kind: 'v' }
    );
}

#[test]
fn tolerates_blank_lines_trailing_whitespace_and_unknown_letters() {
    let text = "v=0 \r\n\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\ny=0100000001\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly \t\r\nf=v/2/4\r\n";
    let sdp = parse(text);
    assert_eq!(sdp.other_lines[0].value, "0100000001");
    assert_eq!(sdp.media[0].other_lines[0].kind, 'f');
    assert_eq!(sdp.media[0].direction(), Some(Direction::SendOnly));
}

#[test]
fn error_excerpts_are_bounded() {
    let long = "x".repeat(10_000);
    let err = error(&format!("{HEAD}{long}\n"));
    assert!(err.to_string().len() < 200);
}
