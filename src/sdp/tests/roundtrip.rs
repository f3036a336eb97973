//! parse → print → parse round trips on real-world-shaped SDPs.

use super::super::SessionDescription;
use super::samples::{self, crlf};

#[test]
fn every_sample_round_trips_structurally() {
    for (name, text) in samples::ALL {
        let parsed = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = parsed.to_string();
        let reparsed = SessionDescription::parse(&printed).unwrap();
        assert_eq!(parsed, reparsed, "{name}");
        assert_eq!(
            printed,
            reparsed.to_string(),
            "{name}: printing is a fixpoint"
        );
    }
}

#[test]
fn canonical_samples_print_back_byte_for_byte_with_crlf() {
    for (name, text) in samples::ALL {
        if name == "multicast" {
            continue; // TTL suffix is dropped on purpose.
        }
        let printed = SessionDescription::parse(text).unwrap().to_string();
        assert_eq!(printed, crlf(text), "{name}");
    }
}

#[test]
fn crlf_and_lf_parse_identically() {
    for (name, text) in samples::ALL {
        let lf = SessionDescription::parse(text).unwrap();
        let crlf = SessionDescription::parse(&crlf(text)).unwrap();
        assert_eq!(lf, crlf, "{name}");
    }
}

#[test]
fn multicast_ttl_is_dropped_and_everything_else_kept() {
    let parsed = SessionDescription::parse(samples::MULTICAST).unwrap();
    let printed = parsed.to_string();
    assert!(printed.contains("c=IN IP4 233.252.0.1\r\n"));
    assert!(printed.contains("m=audio 49170/2 RTP/AVP 0\r\n"));
    assert!(printed.contains("t=3724394400 3724398000\r\n"));
}

#[test]
fn unmodelled_lines_are_reordered_canonically() {
    let text = "v=0\nk=prompt\no=- 1 1 IN IP4 192.0.2.1\ns=x\nz=0 0\np=+1\nc=IN IP4 192.0.2.1\ni=info\nt=0 0\na=x\nm=audio 1 RTP/AVP 0\n";
    let parsed = SessionDescription::parse(text).unwrap();
    let expected = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=x\ni=info\np=+1\nc=IN IP4 192.0.2.1\nt=0 0\nz=0 0\nk=prompt\na=x\nm=audio 1 RTP/AVP 0\n";
    assert_eq!(parsed.to_string(), crlf(expected));
    assert_eq!(SessionDescription::parse(expected).unwrap(), parsed);
}

#[test]
fn missing_timing_and_empty_session_name_print_valid_sdp() {
    let parsed = SessionDescription::parse("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=\n").unwrap();
    assert_eq!(parsed.times, vec![(0, 0)]);
    assert_eq!(parsed.session_name, "");
    assert_eq!(
        parsed.to_string(),
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns= \r\nt=0 0\r\n"
    );
    assert_eq!(
        SessionDescription::parse(&parsed.to_string()).unwrap(),
        parsed
    );
}
