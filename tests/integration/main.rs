//! All integration tests in one binary: one link instead of one per file, and the tests of
//! every file share the test threads (CI time). Each module is named for the behaviour it checks.

mod common;

mod api_canvases;
mod api_http;
mod baresip_interop;
mod call_lifecycle;
mod cascade;
mod churn;
mod ctl;
mod dial_cli;
mod dial_out;
mod dtmf_pin;
mod ffmpeg_hears_room;
mod ffmpeg_records_canvas;
mod hears_others_not_self;
mod impaired_network;
mod loadgen;
mod media_bad_input;
mod media_consent;
mod member_controls;
mod rtp_timing;
mod shared_encoders;
mod sip_bad_input;
mod sipp_malformed;
mod video_bad_input;
mod video_canvas;
mod video_hold_and_placement;
mod video_reordering;
