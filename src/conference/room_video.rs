//! The video half of a room tick: drain every member's video, keep the floor, compose each
//! watched canvas when a frame is due, encode each distinct view once (on a codec thread in
//! the server) and send the shared payloads of the frames that finished to its subscribers.
//! Canvases nobody watches cost nothing; views nobody subscribes to are dropped with their
//! encoder.

use super::canvas::Canvas;
use super::canvas::CanvasConfig;
use super::canvas_control::{changes_encoding, CanvasControl};
use super::member::{Member, MemberId, TickTime};
use super::member_video::MemberVideo;
use super::room::{CanvasSnapshot, RoomSettings, TileSnapshot};
use super::view::{View, ViewKey};
use crate::media::video::codec::EncoderConfig;
use crate::media::video::codec_pool::VideoCodecPool;
use crate::media::video::compositor::{Placement, TileSource};
use crate::media::video::frame::I420Frame;
use crate::media::video::layout_library::LayoutLibrary;
use crate::metrics::Metrics;
use crate::rtp::h264::DEFAULT_MTU;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The floor changes hands at most this often (no flapping between two talkers).
pub const FLOOR_HOLD: Duration = Duration::from_secs(2);

/// Canvases, views and floor of one room.
pub struct RoomVideo {
    canvases: Vec<Canvas>,
    views: BTreeMap<ViewKey, View>,
    layouts: Arc<LayoutLibrary>,
    floor: Option<MemberId>,
    floor_since: Option<Instant>,
    /// The floor changed hands since the last [`Self::take_floor_change`].
    floor_changed: bool,
    dropped_keyframes: u64,
    /// Codec threads encoding the views (inline on the media thread when `None`).
    codecs: Option<Arc<VideoCodecPool>>,
    metrics: Arc<Metrics>,
    /// Per canvas: the member an operator holds in the floor slot.
    forced_floor: Vec<Option<MemberId>>,
}

impl RoomVideo {
    pub fn new(settings: &RoomSettings) -> Self {
        Self {
            canvases: settings.canvases.iter().cloned().map(Canvas::new).collect(),
            views: BTreeMap::new(),
            layouts: settings.layouts.clone(),
            floor: None,
            floor_since: None,
            floor_changed: false,
            dropped_keyframes: 0,
            codecs: settings.video_codecs.clone(),
            metrics: settings.metrics.clone(),
            forced_floor: vec![None; settings.canvases.len()],
        }
    }

    /// Number of canvases of the room.
    pub fn canvas_count(&self) -> usize {
        self.canvases.len()
    }

    /// Distinct views being encoded (= video encoders).
    pub fn encoders(&self) -> usize {
        self.views.len()
    }

    /// Keyframes sent over all views (and the views already dropped).
    pub fn keyframes(&self) -> u64 {
        self.dropped_keyframes + self.views.values().map(|v| v.keyframes_sent).sum::<u64>()
    }

    pub fn floor(&self) -> Option<MemberId> {
        self.floor
    }

    /// The floor's new holder if it changed hands since the last call.
    pub fn take_floor_change(&mut self) -> Option<Option<MemberId>> {
        std::mem::take(&mut self.floor_changed).then_some(self.floor)
    }

    /// The floor of canvas `index`: the forced member while it is in the room, else the
    /// loudest talker's.
    fn floor_of(&self, index: usize, members: &[Member]) -> Option<MemberId> {
        self.forced_floor
            .get(index)
            .copied()
            .flatten()
            .filter(|f| members.iter().any(|m| m.id == *f))
            .or(self.floor)
    }

    /// Applies an operator's change to canvas `index`; false when there is no such canvas.
    pub fn control_canvas(&mut self, index: usize, change: CanvasControl) -> bool {
        let Some(canvas) = self.canvases.get_mut(index) else {
            return false;
        };
        if !change.settings.is_empty() {
            let mut config = canvas.config.clone();
            change.settings.apply(&mut config);
            info!(canvas = index + 1, layout = %config.layout, width = config.width,
                  height = config.height, fps = config.fps, bitrate = config.bitrate_bps,
                  banners = config.banners, "canvas settings changed");
            if changes_encoding(&canvas.config, &config) {
                *canvas = Canvas::new(config);
                self.drop_views_of(index);
            } else {
                canvas.config = config;
            }
        }
        if let (Some(floor), Some(slot)) = (change.floor, self.forced_floor.get_mut(index)) {
            info!(canvas = index + 1, floor = ?floor, "canvas floor set");
            *slot = floor;
        }
        true
    }

    /// Drops the views of canvas `index` (their encoders); the next frame makes new ones.
    fn drop_views_of(&mut self, index: usize) {
        let dropped = &mut self.dropped_keyframes;
        self.views.retain(|key, view| {
            let keep = key.canvas != index;
            if !keep {
                *dropped += view.keyframes_sent;
            }
            keep
        });
    }

    /// Adds a canvas after the others.
    pub fn add_canvas(&mut self, config: CanvasConfig) {
        info!(
            canvas = self.canvases.len() + 1,
            width = config.width,
            height = config.height,
            "canvas added"
        );
        self.canvases.push(Canvas::new(config));
        self.forced_floor.push(None);
    }

    /// Removes canvas `index` (never the last one left): its members and watchers move to the
    /// first canvas, and the canvases after it move down one number.
    pub fn remove_canvas(&mut self, index: usize, members: &mut [Member]) -> bool {
        if index >= self.canvases.len() || self.canvases.len() == 1 {
            return false;
        }
        self.canvases.remove(index);
        self.forced_floor.remove(index);
        let renumber = |c: usize| match c.cmp(&index) {
            std::cmp::Ordering::Less => c,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => c - 1,
        };
        for m in members.iter_mut() {
            m.initial_canvas = m.initial_canvas.map(renumber);
            if let Some(v) = m.video.as_mut() {
                let watching = renumber(v.watching_canvas);
                v.watch(watching);
            }
        }
        // Views are keyed by canvas number: let them all restart.
        let dropped: u64 = self.views.values().map(|v| v.keyframes_sent).sum();
        self.dropped_keyframes += dropped;
        self.views.clear();
        info!(
            canvas = index + 1,
            canvases = self.canvases.len(),
            "canvas removed"
        );
        true
    }

    /// Canvas `index` composed now from the members' latest pictures (also when nobody
    /// watches it), for a snapshot.
    pub fn compose_now(
        &mut self,
        index: usize,
        members: &[Member],
        now: Instant,
    ) -> Option<I420Frame> {
        let floor = self.floor_of(index, members);
        let canvas = self.canvases.get_mut(index)?;
        let sources: Vec<TileSource<'_>> = members
            .iter()
            .filter_map(|m| tile_source(m, index, now))
            .collect();
        let marks = TileMarks::of(members, index, canvas.config.banners);
        let placement = marks.placement(floor);
        Some(
            canvas
                .compose(&self.layouts, &sources, &placement, true)
                .clone(),
        )
    }

    /// A new member: nothing to build here (its view is created on its first frame), but
    /// logging the placement helps operators.
    pub fn member_joined(&mut self, member: &Member) {
        let initial_canvas = member.initial_canvas.map(|c| c + 1);
        match &member.video {
            Some(v) => info!(member = member.id, initial_canvas = ?initial_canvas,
                             watching_canvas = v.watching_canvas + 1, "member video joined"),
            None => info!(member = member.id, initial_canvas = ?initial_canvas,
                          "audio-only member placed"),
        }
    }

    /// A member left: a floor held for it returns to the talkers.
    pub fn member_left(&mut self, member: MemberId) {
        for held in &mut self.forced_floor {
            if *held == Some(member) {
                *held = None;
            }
        }
    }

    /// One tick of video work.
    pub fn tick(&mut self, t: TickTime, members: &mut [Member]) {
        let now = t.now;
        for m in members.iter_mut() {
            if let Some(v) = m.video.as_mut() {
                v.receive(now);
            }
        }
        self.update_floor(now, members);
        // The views watched this tick: one per (canvas, exclusions) among the watchers.
        let wanted: BTreeSet<ViewKey> = members
            .iter()
            .filter_map(|m| {
                m.video
                    .as_ref()
                    .filter(|v| v.direction.sends())
                    .map(|v| view_of(m, v))
            })
            .filter(|key| key.canvas < self.canvases.len())
            .collect();
        for m in members.iter_mut() {
            let Some(key) = m.video.as_ref().map(|v| view_of(m, v)) else {
                continue;
            };
            let Some(v) = m.video.as_mut() else { continue };
            if let Some(reason) = v.wants_keyframe.take() {
                if let Some(view) = self.views.get_mut(&key) {
                    view.request_keyframe(reason);
                }
            }
        }
        let floors: Vec<Option<MemberId>> = (0..self.canvases.len())
            .map(|i| self.floor_of(i, members))
            .collect();
        for (index, canvas) in self.canvases.iter_mut().enumerate() {
            let keys: Vec<&ViewKey> = wanted.iter().filter(|k| k.canvas == index).collect();
            if keys.is_empty() || !canvas.frame_due(now) {
                continue;
            }
            let marks = TileMarks::of(members, index, canvas.config.banners);
            let placement = marks.placement(floors[index]);
            for key in keys {
                let config = encoder_config(canvas, key);
                let sources: Vec<TileSource<'_>> = members
                    .iter()
                    .filter(|m| !key.excluded.contains(&m.id))
                    .filter_map(|m| tile_source(m, index, now))
                    .collect();
                let started = Instant::now(); // instrumentation only
                let picture =
                    canvas.compose(&self.layouts, &sources, &placement, key.excluded.is_empty());
                Metrics::observe(&self.metrics.compose, started.elapsed());
                if !self.views.contains_key(key) {
                    let view = match &self.codecs {
                        Some(pool) => View::pooled(pool, config),
                        None => View::new(config),
                    };
                    match view {
                        Ok(view) => {
                            info!(
                                canvas = index + 1,
                                excluded = key.excluded.len(),
                                views = self.views.len() + 1,
                                "video view created"
                            );
                            self.views.insert(key.clone(), view);
                        }
                        Err(e) => {
                            warn!(canvas = index + 1, error = %e, "cannot create video encoder");
                            continue;
                        }
                    }
                }
                let Some(view) = self.views.get_mut(key) else {
                    continue;
                };
                if let Err(e) = view.encode(now, picture) {
                    warn!(canvas = index + 1, error = %e, "canvas encode failed");
                }
            }
        }
        // Frames finished since the last tick (pooled) or just now (inline), in order.
        for view in self.views.values_mut() {
            view.collect();
        }
        for m in members.iter_mut() {
            let Some(key) = m.video.as_ref().map(|v| view_of(m, v)) else {
                continue;
            };
            let Some(v) = m.video.as_mut() else { continue };
            if let Some(view) = self.views.get(&key) {
                for frame in &view.finished {
                    v.send_frame(frame.captured_at, &frame.payloads, frame.keyframe);
                }
            }
            v.maybe_send_rtcp(t);
        }
        for view in self.views.values_mut() {
            view.clear_finished();
        }
        let before = self.views.len();
        let dropped = &mut self.dropped_keyframes;
        self.views.retain(|key, view| {
            let keep = wanted.contains(key);
            if !keep {
                *dropped += view.keyframes_sent;
            }
            keep
        });
        if self.views.len() != before {
            info!(views = self.views.len(), "video view dropped (no watchers)");
        }
    }

    /// The loudest talker takes the floor, holding it at least [`FLOOR_HOLD`].
    fn update_floor(&mut self, now: Instant, members: &[Member]) {
        if self
            .floor
            .is_some_and(|f| !members.iter().any(|m| m.id == f))
        {
            self.floor = None;
            self.floor_changed = true;
        }
        let loudest = members
            .iter()
            .filter(|m| m.talking)
            .max_by(|a, b| a.level_dbfs.total_cmp(&b.level_dbfs))
            .map(|m| m.id);
        let Some(candidate) = loudest else { return };
        if Some(candidate) == self.floor {
            return;
        }
        let held_long_enough = self
            .floor_since
            .is_none_or(|since| now.duration_since(since) >= FLOOR_HOLD);
        if self.floor.is_none() || held_long_enough {
            self.floor = Some(candidate);
            self.floor_since = Some(now);
            self.floor_changed = true;
        }
    }

    /// Tile placements of every canvas (for snapshots, tests and the control API).
    pub fn canvas_snapshots(&self) -> Vec<CanvasSnapshot> {
        self.canvases
            .iter()
            .enumerate()
            .map(|(i, c)| CanvasSnapshot {
                canvas: i + 1,
                width: c.config.width,
                height: c.config.height,
                layout: c.config.layout.clone(),
                floor: self.forced_floor.get(i).copied().flatten().or(self.floor),
                floor_forced: self.forced_floor.get(i).is_some_and(Option::is_some),
                tiles: c
                    .placements
                    .iter()
                    .map(|(member, r)| TileSnapshot {
                        member: *member,
                        x: r.x,
                        y: r.y,
                        w: r.w,
                        h: r.h,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The view member `m` (with video `v`) subscribes to: its watching canvas, minus its own tile
/// when it asked to hide itself and is on that canvas.
fn view_of(m: &Member, v: &MemberVideo) -> ViewKey {
    let mut excluded = BTreeSet::new();
    if v.hide_self && m.initial_canvas == Some(v.watching_canvas) {
        excluded.insert(m.id);
    }
    ViewKey {
        canvas: v.watching_canvas,
        excluded,
        single_nal_units: v.single_nal_units,
        format: v.view_format,
    }
}

/// The encoder of view `key` on `canvas`: the view's own format or the canvas's, slices of at
/// most one MTU for single-NAL views.
fn encoder_config(canvas: &Canvas, key: &ViewKey) -> EncoderConfig {
    let (width, height, bitrate_bps) = match key.format {
        Some(f) => (f.width, f.height, f.bitrate_bps),
        None => (
            canvas.config.width,
            canvas.config.height,
            canvas.config.bitrate_bps,
        ),
    };
    EncoderConfig {
        width,
        height,
        fps: canvas.config.fps,
        bitrate_bps,
        max_keyframe_interval: None,
        max_nal_bytes: key.single_nal_units.then_some(DEFAULT_MTU as u32),
    }
}

/// What `m` shows on canvas `index`: its picture, a placeholder (no picture yet, video muted,
/// or an audio-only member), or nothing (not placed there).
fn tile_source(m: &Member, index: usize, now: Instant) -> Option<TileSource<'_>> {
    if m.initial_canvas != Some(index) {
        return None;
    }
    let picture = m
        .video
        .as_ref()
        .filter(|_| !m.controls.video_muted)
        .and_then(|v| v.inbound.picture(now));
    Some(match picture {
        Some((frame, generation)) => TileSource::Frame {
            member: m.id,
            frame,
            generation,
        },
        None => TileSource::Placeholder {
            member: m.id,
            name: &m.name,
        },
    })
}

/// The reserved slots and banner texts of the members on one canvas.
struct TileMarks<'a> {
    reserved: Vec<(MemberId, usize)>,
    banners: Vec<(MemberId, &'a str)>,
}

impl<'a> TileMarks<'a> {
    /// The marks of canvas `index`: every reservation, and a banner for each member with banner
    /// text, or with its name when the canvas shows `names`.
    fn of(members: &'a [Member], index: usize, names: bool) -> Self {
        let on_canvas = || members.iter().filter(|m| m.initial_canvas == Some(index));
        Self {
            reserved: on_canvas()
                .filter_map(|m| m.controls.slot.map(|slot| (m.id, slot)))
                .collect(),
            banners: on_canvas()
                .filter_map(|m| match &m.controls.banner {
                    Some(text) => Some((m.id, text.as_str())),
                    None => names.then_some((m.id, m.name.as_str())),
                })
                .collect(),
        }
    }

    fn placement(&self, floor: Option<MemberId>) -> Placement<'_> {
        Placement {
            floor,
            reserved: &self.reserved,
            banners: &self.banners,
        }
    }
}
