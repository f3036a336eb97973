//! Video: the H.264 codec wrapper, the codec threads, each member's inbound pipeline, raw
//! I420 frames (their planes owned or shared with the decoder), scaling, layouts, placeholder
//! cards, text and name banners, the canvas compositor and a synthetic test pattern.

pub mod banner;
pub mod card_cache;
pub mod codec;
pub mod codec_pool;
pub mod compositor;
pub mod frame;
pub mod freeswitch_xml;
pub mod inbound;
pub mod layout;
pub mod layout_library;
pub mod libav_decoder;
pub mod placeholder;
pub mod plane;
pub mod scale;
pub mod scaled_cache;
pub mod test_pattern;
pub mod text;

#[cfg(test)]
mod compositor_tests;
#[cfg(test)]
mod frame_tests;
#[cfg(test)]
mod freeswitch_xml_tests;
#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod placeholder_tests;
#[cfg(test)]
mod scale_tests;
