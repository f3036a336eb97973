//! Cross-file tests of the SDP module: samples, round trips, parser errors,
//! property tests, and offer/answer.

mod answering;
mod h264;
mod offering;
mod parsing;
mod proptests;
mod roundtrip;
mod samples;
mod video_answering;
mod video_offering;
