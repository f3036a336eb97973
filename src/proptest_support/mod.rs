//! Shared pieces of the property tests (#14 item 9): the run configuration, the mutations
//! applied to valid wire messages, and the structured generators of SDP offers (used by the
//! SDP and the SIP properties) and SIP messages. Each property module sits next to the code
//! it tests.

pub mod mutate;
pub mod sdp_offer;
pub mod sip_message;

use proptest::test_runner::Config;

/// A run of `default_cases` cases, or `PROPTEST_CASES` when set (for long runs), with no
/// regression files written into the source tree: a failure prints its minimal input.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
