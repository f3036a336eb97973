//! Cross-file tests of the SDP module: samples, round trips, parser errors,
//! fuzzing, and offer/answer.

mod answering;
mod fuzz;
mod h264;
mod offering;
mod parsing;
mod roundtrip;
mod samples;
mod video_answering;
mod video_offering;
