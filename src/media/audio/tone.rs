//! Test-signal generation and single-frequency analysis for 16-bit PCM.
//!
//! Owns the sine [`ToneGenerator`] used by `tessera dial`, the integration tests
//! and the load generator, and the Goertzel-based measurements
//! ([`goertzel_power`], [`tone_ratio`], [`tone_level_dbfs`]) used to check that a
//! tone survived the mix, the codecs and the resamplers.
//!
//! Levels are in dBFS relative to a full-scale *peak* of 32768: a sine whose
//! peak is 32768 measures 0 dBFS with [`tone_level_dbfs`] (its RMS level, as
//! reported by `talk::level_dbfs`, is 3.01 dB lower).

use std::f64::consts::TAU;

/// Full-scale magnitude of an `i16` sample.
const FULL_SCALE: f64 = 32768.0;

/// Phase-continuous sine generator producing `i16` samples.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    /// Current phase in cycles, always in `[0, 1)`.
    phase_cycles: f64,
    /// Phase advance per sample, in cycles.
    cycles_per_sample: f64,
    /// Peak amplitude in sample units.
    amplitude: f64,
}

impl ToneGenerator {
    /// Creates a generator for a sine of `freq_hz` with the given `amplitude`
    /// (peak, in sample units) at `sample_rate` Hz, starting at phase zero.
    ///
    /// A zero sample rate or a non-finite frequency yields silence.
    pub fn new(freq_hz: f32, amplitude: i16, sample_rate: u32) -> Self {
        let cycles_per_sample = if sample_rate == 0 || !freq_hz.is_finite() {
            0.0
        } else {
            (f64::from(freq_hz) / f64::from(sample_rate)).rem_euclid(1.0)
        };
        Self {
            phase_cycles: 0.0,
            cycles_per_sample,
            amplitude: f64::from(amplitude),
        }
    }

    /// Overwrites `out` with the next `out.len()` samples of the tone; the phase
    /// carries over to the next call, so consecutive calls form one continuous sine.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out.iter_mut() {
            // `as` saturates, so a peak of 32768 (i16::MIN amplitude) cannot wrap.
            *sample = (self.amplitude * (TAU * self.phase_cycles).sin()).round() as i16;
            self.phase_cycles += self.cycles_per_sample;
            if self.phase_cycles >= 1.0 {
                self.phase_cycles -= 1.0;
            }
        }
    }
}

/// Squared magnitude of the (rectangular-window) DTFT of `samples` at `freq_hz`,
/// computed with the Goertzel recurrence.
///
/// `freq_hz` need not fall on an FFT bin. The value is unnormalised: a full-length
/// sine of peak `A` at exactly `freq_hz` gives about `(A * N / 2)²` for `N` samples.
/// Returns 0.0 for an empty slice or a zero sample rate.
pub fn goertzel_power(samples: &[i16], freq_hz: f32, sample_rate: u32) -> f64 {
    goertzel(samples.iter().map(|&s| f64::from(s)), freq_hz, sample_rate)
}

/// Goertzel recurrence over arbitrary (possibly windowed) samples.
fn goertzel(samples: impl Iterator<Item = f64>, freq_hz: f32, sample_rate: u32) -> f64 {
    if sample_rate == 0 {
        return 0.0;
    }
    let coefficient = 2.0 * (TAU * f64::from(freq_hz) / f64::from(sample_rate)).cos();
    let (mut previous, mut before_previous) = (0.0f64, 0.0f64);
    for sample in samples {
        let current = sample + coefficient * previous - before_previous;
        before_previous = previous;
        previous = current;
    }
    let power = previous * previous + before_previous * before_previous
        - coefficient * previous * before_previous;
    power.max(0.0)
}

/// Hann window weight of sample `index` out of `len`.
fn hann(index: usize, len: usize) -> f64 {
    0.5 - 0.5 * (TAU * index as f64 / len as f64).cos()
}

/// Result of one Hann-windowed pass over a block of samples.
struct WindowedAnalysis {
    /// Estimated peak amplitude (sample units) of the analysed component.
    tone_amplitude: f64,
    /// Mean power of the whole block, corrected for the window's gain.
    signal_power: f64,
}

/// Hann-windows `samples` once, measuring the `freq_hz` component and the total power.
fn analyse_windowed(samples: &[i16], freq_hz: f32, sample_rate: u32) -> WindowedAnalysis {
    let len = samples.len();
    let (mut window_sum, mut window_energy, mut weighted_energy) = (0.0f64, 0.0f64, 0.0f64);
    let windowed = samples.iter().enumerate().map(|(i, &s)| {
        let weight = hann(i, len);
        let value = f64::from(s) * weight;
        window_sum += weight;
        window_energy += weight * weight;
        weighted_energy += value * value;
        value
    });
    let power = goertzel(windowed, freq_hz, sample_rate);
    if window_sum <= 0.0 || window_energy <= 0.0 {
        return WindowedAnalysis {
            tone_amplitude: 0.0,
            signal_power: 0.0,
        };
    }
    WindowedAnalysis {
        tone_amplitude: 2.0 * power.sqrt() / window_sum,
        signal_power: weighted_energy / window_energy,
    }
}

/// Fraction of the signal's energy that lies at `freq_hz`, in `[0, 1]`.
///
/// Uses a Hann window to limit leakage: a pure tone at `freq_hz` gives ≈ 1.0,
/// two equal tones give ≈ 0.5 each, a tone elsewhere or silence ≈ 0.0.
/// The frequency resolution is about `2 * sample_rate / samples.len()` Hz,
/// so analyse at least a few periods (e.g. a 20 ms frame or more).
pub fn tone_ratio(samples: &[i16], freq_hz: f32, sample_rate: u32) -> f64 {
    let analysis = analyse_windowed(samples, freq_hz, sample_rate);
    if analysis.signal_power <= 0.0 {
        return 0.0;
    }
    let tone_power = analysis.tone_amplitude * analysis.tone_amplitude / 2.0;
    (tone_power / analysis.signal_power).clamp(0.0, 1.0)
}

/// Peak amplitude of the `freq_hz` component relative to full scale, in dBFS
/// (Hann-windowed; a full-scale sine is 0 dBFS). Returns -120.0 at most for
/// silence or an empty slice.
pub fn tone_level_dbfs(samples: &[i16], freq_hz: f32, sample_rate: u32) -> f32 {
    const FLOOR_DBFS: f64 = -120.0;
    let amplitude = analyse_windowed(samples, freq_hz, sample_rate).tone_amplitude;
    if amplitude <= 0.0 {
        return FLOOR_DBFS as f32;
    }
    (20.0 * (amplitude / FULL_SCALE).log10()).max(FLOOR_DBFS) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq_hz: f32, amplitude: i16, sample_rate: u32, len: usize) -> Vec<i16> {
        let mut samples = vec![0; len];
        ToneGenerator::new(freq_hz, amplitude, sample_rate).fill(&mut samples);
        samples
    }

    #[test]
    fn pure_tone_ratio_is_one_at_its_frequency_only() {
        for (sample_rate, len) in [(8_000, 160), (48_000, 960), (48_000, 4_800)] {
            let samples = tone(440.0, 10_000, sample_rate, len);
            let at_440 = tone_ratio(&samples, 440.0, sample_rate);
            assert!((at_440 - 1.0).abs() < 0.01, "{sample_rate}/{len}: {at_440}");
            for other in [880.0, 1320.0] {
                let ratio = tone_ratio(&samples, other, sample_rate);
                assert!(ratio < 0.01, "{sample_rate}/{len} at {other}: {ratio}");
            }
        }
    }

    #[test]
    fn two_equal_tones_share_the_energy() {
        let mut samples = tone(440.0, 8_000, 8_000, 800);
        let upper = tone(880.0, 8_000, 8_000, 800);
        samples.iter_mut().zip(&upper).for_each(|(a, b)| *a += b);
        for freq in [440.0, 880.0] {
            let ratio = tone_ratio(&samples, freq, 8_000);
            assert!((ratio - 0.5).abs() < 0.02, "{freq}: {ratio}");
        }
        assert!(tone_ratio(&samples, 1320.0, 8_000) < 0.01);
    }

    #[test]
    fn silence_and_empty_input_are_zero() {
        assert_eq!(tone_ratio(&[0; 160], 440.0, 8_000), 0.0);
        assert_eq!(tone_ratio(&[], 440.0, 8_000), 0.0);
        assert_eq!(tone_level_dbfs(&[0; 160], 440.0, 8_000), -120.0);
        assert_eq!(goertzel_power(&[1, 2, 3], 440.0, 0), 0.0);
        assert_eq!(tone(440.0, 1_000, 0, 10), vec![0; 10]);
    }

    #[test]
    fn level_matches_amplitude() {
        let samples = tone(1_000.0, 3_277, 48_000, 960);
        let level = tone_level_dbfs(&samples, 1_000.0, 48_000);
        assert!((level + 20.0).abs() < 0.05, "{level}");
        let full = tone(1_000.0, i16::MAX, 8_000, 160);
        assert!(tone_level_dbfs(&full, 1_000.0, 8_000).abs() < 0.05);
    }

    #[test]
    fn goertzel_power_of_bin_centred_tone() {
        let samples = tone(1_000.0, 1_000, 8_000, 160);
        let expected = (1_000.0 * 160.0 / 2.0f64).powi(2);
        let power = goertzel_power(&samples, 1_000.0, 8_000);
        assert!(
            (power / expected - 1.0).abs() < 0.01,
            "{power} vs {expected}"
        );
    }

    #[test]
    fn many_small_fills_match_one_big_fill() {
        let whole = tone(997.0, 20_000, 48_000, 48_000);
        let mut generator = ToneGenerator::new(997.0, 20_000, 48_000);
        let mut pieces = Vec::with_capacity(whole.len());
        let mut chunk = [0i16; 7];
        while pieces.len() < whole.len() {
            let take = chunk.len().min(whole.len() - pieces.len());
            generator.fill(&mut chunk[..take]);
            pieces.extend_from_slice(&chunk[..take]);
        }
        assert_eq!(pieces, whole);
        let largest_step = whole.windows(2).map(|w| (w[1] - w[0]).abs()).max();
        // 2π·f/fs·A ≈ 2609 per sample at most for this tone.
        assert!(
            largest_step.is_some_and(|step| step <= 2_610),
            "{largest_step:?}"
        );
    }
}
