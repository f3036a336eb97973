//! Fixed-ratio resampling of 20 ms mono `i16` frames between member rates
//! (8 kHz for G.711, RFC 3551 §4.5.14) and the 48 kHz mix rate, built on
//! rubato's synchronous FFT resampler with both chunk sizes fixed.
//!
//! Contract: every [`Resampler::process`] call takes exactly one input frame
//! and appends exactly one output frame, with no heap allocation after
//! construction (beyond growing the caller's `Vec` if it lacks capacity).
//! The FFT block is the whole frame, so the delay is half an output frame
//! (10 ms for 20 ms frames), see [`Resampler::latency_samples`].
//!
//! Measured cost (release build on a shared 2-core x86-64 build machine, via
//! `cargo test --release cost_per_frame -- --nocapture`): 8 kHz→48 kHz ≈ 6 µs
//! per 20 ms frame, 48 kHz→8 kHz ≈ 4 µs per frame, i.e. about 0.03 % and
//! 0.02 % of one core per member and direction.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::audioadapter_buffers::SizeError;
use rubato::{Fft, FixedSync, Resampler as _};

/// G.711 sample rate.
const NARROWBAND_HZ: u32 = 8_000;
/// Conference mix sample rate.
const MIX_HZ: u32 = 48_000;
/// Samples in 20 ms at 8 kHz.
const NARROWBAND_FRAME: usize = 160;
/// Samples in 20 ms at 48 kHz.
const MIX_FRAME: usize = 960;
/// Largest frame accepted on either side (keeps FFT sizes and memory bounded).
pub const MAX_FRAME_SAMPLES: usize = 1 << 16;
/// Full-scale magnitude used to map `i16` samples to `[-1, 1)`.
const FULL_SCALE: f32 = 32768.0;

/// Why a [`Resampler`] could not be built or could not process a frame.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// A sample rate of zero was requested.
    #[error("sample rates must be non-zero (got {from_hz} Hz -> {to_hz} Hz)")]
    ZeroSampleRate { from_hz: u32, to_hz: u32 },
    /// The input frame length was zero.
    #[error("the input frame must hold at least one sample")]
    EmptyFrame,
    /// The input frame does not map to a whole number of output samples.
    #[error(
        "{input_frame} samples at {from_hz} Hz is not a whole number of samples at {to_hz} Hz"
    )]
    FractionalOutputFrame {
        from_hz: u32,
        to_hz: u32,
        input_frame: usize,
    },
    /// One side of the conversion would exceed [`MAX_FRAME_SAMPLES`].
    #[error("a frame of {samples} samples exceeds the limit of {MAX_FRAME_SAMPLES}")]
    FrameTooLarge { samples: u64 },
    /// rubato chose chunk sizes other than one frame in, one frame out.
    #[error("rubato chunks are {input}->{output} samples, wanted {wanted_input}->{wanted_output}")]
    UnexpectedChunkSizes {
        input: usize,
        output: usize,
        wanted_input: usize,
        wanted_output: usize,
    },
    /// rubato refused the configuration.
    #[error("cannot build the FFT resampler: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
    /// `process` was given a frame of the wrong length.
    #[error("expected an input frame of {expected} samples, got {actual}")]
    WrongInputLength { expected: usize, actual: usize },
    /// rubato failed while processing a frame.
    #[error("resampling failed: {0}")]
    Process(#[from] rubato::ResampleError),
    /// A scratch buffer did not fit the frame (broken internal invariant).
    #[error("scratch buffer does not fit the frame: {0}")]
    Buffer(#[from] SizeError),
}

/// One-direction, fixed-ratio mono resampler: one frame in, one frame out.
#[derive(Debug)]
pub struct Resampler {
    engine: Fft<f32>,
    /// Current input frame converted to f32, exactly one input frame long.
    input_scratch: Vec<f32>,
    /// rubato's output for the current frame, exactly one output frame long.
    output_scratch: Vec<f32>,
}

impl Resampler {
    /// Builds a resampler from `from_hz` to `to_hz` taking `input_frame`
    /// samples per call; `input_frame * to_hz / from_hz` must be a whole number.
    pub fn new(from_hz: u32, to_hz: u32, input_frame: usize) -> Result<Self, ResampleError> {
        if from_hz == 0 || to_hz == 0 {
            return Err(ResampleError::ZeroSampleRate { from_hz, to_hz });
        }
        if input_frame == 0 {
            return Err(ResampleError::EmptyFrame);
        }
        let scaled = input_frame as u64 * u64::from(to_hz);
        if !scaled.is_multiple_of(u64::from(from_hz)) {
            return Err(ResampleError::FractionalOutputFrame {
                from_hz,
                to_hz,
                input_frame,
            });
        }
        let output_frame = scaled / u64::from(from_hz);
        for samples in [input_frame as u64, output_frame] {
            if samples > MAX_FRAME_SAMPLES as u64 {
                return Err(ResampleError::FrameTooLarge { samples });
            }
        }
        // Bounded by MAX_FRAME_SAMPLES just above, so this cannot truncate.
        let output_frame = output_frame as usize;

        let engine = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            input_frame,
            1,
            FixedSync::Both,
        )?;
        if engine.input_frames_next() != input_frame || engine.output_frames_next() != output_frame
        {
            return Err(ResampleError::UnexpectedChunkSizes {
                input: engine.input_frames_next(),
                output: engine.output_frames_next(),
                wanted_input: input_frame,
                wanted_output: output_frame,
            });
        }
        Ok(Self {
            engine,
            input_scratch: vec![0.0; input_frame],
            output_scratch: vec![0.0; output_frame],
        })
    }

    /// 8 kHz → 48 kHz, 160 samples in, 960 out (G.711 member into the mix).
    pub fn narrowband_to_mix() -> Result<Self, ResampleError> {
        Self::new(NARROWBAND_HZ, MIX_HZ, NARROWBAND_FRAME)
    }

    /// 48 kHz → 8 kHz, 960 samples in, 160 out (mix out to a G.711 member).
    pub fn mix_to_narrowband() -> Result<Self, ResampleError> {
        Self::new(MIX_HZ, NARROWBAND_HZ, MIX_FRAME)
    }

    /// Samples taken by each [`process`](Self::process) call.
    pub fn input_frame(&self) -> usize {
        self.input_scratch.len()
    }

    /// Samples appended by each [`process`](Self::process) call.
    pub fn output_frame(&self) -> usize {
        self.output_scratch.len()
    }

    /// Delay of the output relative to the input, in output samples.
    pub fn latency_samples(&self) -> usize {
        self.engine.output_delay()
    }

    /// Clears the filter history, as if freshly constructed.
    pub fn reset(&mut self) {
        self.engine.reset();
    }

    /// Resamples exactly one input frame and appends exactly one output frame
    /// to `output`. On error `output` is left unchanged.
    pub fn process(&mut self, input: &[i16], output: &mut Vec<i16>) -> Result<(), ResampleError> {
        if input.len() != self.input_scratch.len() {
            return Err(ResampleError::WrongInputLength {
                expected: self.input_scratch.len(),
                actual: input.len(),
            });
        }
        for (scratch, &sample) in self.input_scratch.iter_mut().zip(input) {
            *scratch = f32::from(sample) / FULL_SCALE;
        }
        let (frames_in, frames_out) = (self.input_scratch.len(), self.output_scratch.len());
        let source = InterleavedSlice::new(&self.input_scratch[..], 1, frames_in)?;
        let mut sink = InterleavedSlice::new_mut(&mut self.output_scratch[..], 1, frames_out)?;
        let (consumed, produced) = self.engine.process_into_buffer(&source, &mut sink, None)?;
        if consumed != frames_in || produced != frames_out {
            return Err(ResampleError::UnexpectedChunkSizes {
                input: consumed,
                output: produced,
                wanted_input: frames_in,
                wanted_output: frames_out,
            });
        }
        // `as` saturates out-of-range values (filter overshoot) and maps NaN to 0.
        output.extend(
            self.output_scratch
                .iter()
                .map(|&value| (value * FULL_SCALE).round() as i16),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::talk::level_dbfs;
    use super::super::tone::{tone_level_dbfs, tone_ratio, ToneGenerator};
    use super::*;

    /// Feeds one second (50 frames) of a -6 dBFS tone through `resampler`,
    /// checking that each call appends exactly one frame; returns (input, output).
    fn resample_tone(
        resampler: &mut Resampler,
        freq_hz: f32,
        from_hz: u32,
    ) -> Result<(Vec<i16>, Vec<i16>), ResampleError> {
        let mut generator = ToneGenerator::new(freq_hz, 16_384, from_hz);
        let mut frame = vec![0; resampler.input_frame()];
        let (mut input, mut output) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            generator.fill(&mut frame);
            input.extend_from_slice(&frame);
            let before = output.len();
            resampler.process(&frame, &mut output)?;
            assert_eq!(output.len() - before, resampler.output_frame());
        }
        Ok((input, output))
    }

    /// Checks that a 1 kHz tone keeps its frequency and level once the startup delay is over.
    fn assert_1khz_preserved(
        mut resampler: Resampler,
        from_hz: u32,
        to_hz: u32,
    ) -> Result<(), ResampleError> {
        let (input, output) = resample_tone(&mut resampler, 1_000.0, from_hz)?;
        let settled = &output[2 * resampler.output_frame()..];
        let ratio = tone_ratio(settled, 1_000.0, to_hz);
        assert!(ratio > 0.999, "ratio {ratio}");
        let level_in = tone_level_dbfs(&input, 1_000.0, from_hz);
        let level_out = tone_level_dbfs(settled, 1_000.0, to_hz);
        assert!(
            (level_in - level_out).abs() < 1.0,
            "{level_in} vs {level_out}"
        );
        Ok(())
    }

    #[test]
    fn upsampling_keeps_a_1khz_tone() -> Result<(), ResampleError> {
        let resampler = Resampler::narrowband_to_mix()?;
        assert_eq!(resampler.latency_samples(), 480);
        assert_1khz_preserved(resampler, 8_000, 48_000)
    }

    #[test]
    fn downsampling_keeps_a_1khz_tone() -> Result<(), ResampleError> {
        let resampler = Resampler::mix_to_narrowband()?;
        assert_eq!(resampler.latency_samples(), 80);
        assert_1khz_preserved(resampler, 48_000, 8_000)
    }

    #[test]
    fn downsampling_rejects_6khz() -> Result<(), ResampleError> {
        let mut resampler = Resampler::mix_to_narrowband()?;
        let (input, output) = resample_tone(&mut resampler, 6_000.0, 48_000)?;
        let attenuation = level_dbfs(&input) - level_dbfs(&output[320..]);
        println!("48k->8k attenuation of 6 kHz: {attenuation:.1} dB");
        assert!(attenuation > 60.0, "only {attenuation} dB");
        Ok(())
    }

    #[test]
    fn one_frame_in_one_frame_out_and_bad_input_is_rejected() -> Result<(), ResampleError> {
        let mut resampler = Resampler::new(16_000, 48_000, 320)?;
        let mut output = Vec::with_capacity(960);
        resampler.process(&[0; 320], &mut output)?;
        assert_eq!((output.len(), output.capacity()), (960, 960));
        let result = resampler.process(&[0; 319], &mut output);
        assert!(matches!(
            result,
            Err(ResampleError::WrongInputLength { .. })
        ));
        assert_eq!(output.len(), 960);

        let invalid = [(0, 8_000, 160), (8_000, 48_000, 0), (48_000, 44_100, 100)];
        for (from_hz, to_hz, frame) in invalid {
            assert!(Resampler::new(from_hz, to_hz, frame).is_err());
        }
        assert!(Resampler::new(8_000, 48_000, MAX_FRAME_SAMPLES).is_err());
        assert_eq!(Resampler::new(44_100, 48_000, 882)?.output_frame(), 960);
        Ok(())
    }

    /// Timing report only (no assertion); meaningful with `--release --nocapture`.
    #[test]
    fn cost_per_frame() -> Result<(), ResampleError> {
        for (name, mut resampler) in [
            ("8k->48k", Resampler::narrowband_to_mix()?),
            ("48k->8k", Resampler::mix_to_narrowband()?),
        ] {
            let input = vec![1_000i16; resampler.input_frame()];
            let mut output = Vec::with_capacity(resampler.output_frame());
            let frames = 2_000u32;
            let start = std::time::Instant::now();
            for _ in 0..frames {
                output.clear();
                resampler.process(std::hint::black_box(&input), &mut output)?;
            }
            println!("Resampler {name}: {:?} per frame", start.elapsed() / frames);
        }
        Ok(())
    }
}
