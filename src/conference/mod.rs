//! Conferences: rooms, their members, the media thread pool that ticks them, and the registry
//! that creates rooms on first join and destroys them when the last member leaves.

pub mod canvas;
pub mod canvas_control;
pub mod events;
pub mod fork_join;
pub mod member;
pub mod member_control;
pub mod member_video;
pub mod registry;
pub mod room;
pub mod room_video;
pub mod talker_selection;
pub mod tick_stats;
pub mod view;
pub mod worker;
