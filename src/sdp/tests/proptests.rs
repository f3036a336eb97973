//! Properties of the SDP parser and the offer/answer (#14 item 9), over structured offers
//! ([`sdp_offer`]) and mutations of them and of the real-world samples. Replaces the
//! random-bytes fuzzing, whose random lines almost never parsed.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::super::attributes::parse_payload_type;
use super::super::{accept_answer, answer_offer, build_offer, LocalMedia, SessionDescription};
use super::samples;
use crate::proptest_support::{config, mutate, sdp_offer};

fn local() -> LocalMedia {
    let mut local = LocalMedia::new("192.0.2.50".parse().expect("ip"), 42, 20000);
    local.video_port = Some(20002);
    local
}

/// Every answered m-line lists only payload types its offered m-line had (RFC 3264 §6.1;
/// compared as numbers, `00` is 0), one answered m-line per offered one, and the answer
/// parses as it prints.
fn assert_answer_fits(offer: &SessionDescription, answer: &SessionDescription) {
    assert_eq!(answer.media.len(), offer.media.len());
    for (offered, answered) in offer.media.iter().zip(&answer.media) {
        for format in &answered.formats {
            let same = |f: &String| match (parse_payload_type(f), parse_payload_type(format)) {
                (Some(a), Some(b)) => a == b,
                _ => f == format,
            };
            assert!(
                offered.formats.iter().any(same),
                "{format} was not offered in {offered:?}"
            );
        }
    }
    let printed = answer.to_string();
    assert_eq!(SessionDescription::parse(&printed).as_ref(), Ok(answer));
}

/// Parses `text` and, when it parses, checks the round trip and answers it (also as an
/// answer to our offer); none of it may panic.
fn exercise(text: &str) {
    let Ok(parsed) = SessionDescription::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    assert_eq!(
        SessionDescription::parse(&printed).as_ref(),
        Ok(&parsed),
        "{printed}"
    );
    if let Ok((answer, negotiated)) = answer_offer(&parsed, &local()) {
        assert!(!negotiated.is_empty());
        assert_answer_fits(&parsed, &answer);
    }
    let _ = accept_answer(&build_offer(&local()), &parsed);
}

/// `text` mutated, as text (SDP is UTF-8; a broken byte becomes U+FFFD).
fn mutated_text(text: String) -> impl Strategy<Value = String> {
    mutate::mutated(text.into_bytes()).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_offers_parse_and_print_back(offer in sdp_offer::offer()) {
        let text = offer.to_text();
        let parsed = SessionDescription::parse(&text).expect("a generated offer parses");
        prop_assert_eq!(parsed.media.len(), offer.sections.len());
        prop_assert_eq!(SessionDescription::parse(&parsed.to_string()), Ok(parsed));
    }

    #[test]
    fn an_offer_with_opus_or_g711_is_answered_with_the_preferred_one(offer in sdp_offer::offer()) {
        let parsed = SessionDescription::parse(&offer.to_text()).expect("parses");
        let result = answer_offer(&parsed, &local());
        match offer.expected_audio() {
            Some((codec, payload_type)) => {
                let (answer, negotiated) = result.expect("an offer with a codec in common");
                let audio = negotiated.audio.expect("audio negotiated");
                prop_assert_eq!((audio.codec, audio.payload_type), (codec, payload_type));
                assert_answer_fits(&parsed, &answer);
            }
            None => {
                if let Ok((answer, negotiated)) = result {
                    prop_assert!(negotiated.audio.is_none() && negotiated.video.is_some());
                    assert_answer_fits(&parsed, &answer);
                }
            }
        }
    }

    #[test]
    fn mutated_offers_never_panic(
        text in sdp_offer::offer().prop_flat_map(|o| mutated_text(o.to_text()))
    ) {
        exercise(&text);
    }

    #[test]
    fn mutated_real_world_samples_never_panic(
        text in proptest::sample::select(&samples::ALL[..])
            .prop_flat_map(|(_, sample)| mutated_text(samples::crlf(sample)))
    ) {
        exercise(&text);
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A few hundred formats, each with its rtpmap: the codec is still found, and quickly
    /// (the search is formats × attributes, bounded by the 1024-line limit).
    #[test]
    fn an_offer_of_hundreds_of_formats_is_negotiated_quickly(
        (text, codec) in sdp_offer::big_offer_text(100..=300)
    ) {
        let parsed = SessionDescription::parse(&text).expect("parses");
        let started = Instant::now();
        let (answer, negotiated) = answer_offer(&parsed, &local()).expect("answered");
        let took = started.elapsed();
        prop_assert_eq!(negotiated.audio.map(|a| a.codec), Some(codec));
        assert_answer_fits(&parsed, &answer);
        prop_assert!(took < Duration::from_millis(250), "negotiation took {:?}", took);
    }
}
