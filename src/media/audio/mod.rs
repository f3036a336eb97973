//! Audio: codecs, per-member inbound pipeline, the N−1 mixer, operator gains, talk detection, Opus voice
//! activity without decoding, resampling and test tones.

pub mod codec;
pub mod g711;
pub mod gain;
pub mod inbound;
pub mod mixer;
pub mod opus_activity;
pub mod resample;
pub mod silence;
pub mod talk;
pub mod tone;
