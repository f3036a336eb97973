//! Media processing that runs on the media threads (never on the async executor).

pub mod audio;
pub mod video;
