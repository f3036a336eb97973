//! The N−1 audio mixer. Per 20 ms tick the talkers' frames are summed once into a 32-bit
//! accumulator; a listener who is not talking hears the whole sum (so all of them can share
//! one encode), a talker hears the sum minus its own frame. Both saturate to 16 bits.
//!
//! Cost is one add per talker sample plus one subtract per talker sample: it grows with
//! talkers, not with members.

use super::codec::FRAME_SAMPLES;

/// Accumulates one tick's talker frames.
#[derive(Debug, Clone)]
pub struct AudioMixer {
    sum: Vec<i32>,
    contributors: usize,
}

impl Default for AudioMixer {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioMixer {
    pub fn new() -> Self {
        Self {
            sum: vec![0; FRAME_SAMPLES],
            contributors: 0,
        }
    }

    /// Starts a new tick.
    pub fn reset(&mut self) {
        if self.contributors > 0 {
            self.sum.iter_mut().for_each(|s| *s = 0);
        }
        self.contributors = 0;
    }

    /// Adds one talker's frame (960 samples; a shorter frame is zero-extended).
    pub fn add(&mut self, frame: &[i16]) {
        for (acc, s) in self.sum.iter_mut().zip(frame) {
            *acc += i32::from(*s);
        }
        self.contributors += 1;
    }

    /// Number of frames added this tick.
    pub fn contributors(&self) -> usize {
        self.contributors
    }

    /// The full mix (what every non-talker hears), saturated.
    pub fn write_full_mix(&self, out: &mut [i16]) {
        for (o, acc) in out.iter_mut().zip(&self.sum) {
            *o = saturate(*acc);
        }
    }

    /// The mix minus `own` (what a talker hears), saturated.
    pub fn write_mix_minus(&self, own: &[i16], out: &mut [i16]) {
        for ((o, acc), s) in out.iter_mut().zip(&self.sum).zip(own) {
            *o = saturate(*acc - i32::from(*s));
        }
    }
}

#[inline]
fn saturate(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Vec<i16> {
        vec![v; FRAME_SAMPLES]
    }

    #[test]
    fn talker_does_not_hear_itself() {
        let mut m = AudioMixer::new();
        m.add(&frame(100));
        m.add(&frame(20));
        let mut out = frame(0);
        m.write_mix_minus(&frame(100), &mut out);
        assert!(out.iter().all(|s| *s == 20));
        m.write_full_mix(&mut out);
        assert!(out.iter().all(|s| *s == 120));
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let mut m = AudioMixer::new();
        m.add(&frame(30_000));
        m.add(&frame(30_000));
        m.add(&frame(-1));
        let mut out = frame(0);
        m.write_full_mix(&mut out);
        assert!(out.iter().all(|s| *s == i16::MAX));
        m.write_mix_minus(&frame(30_000), &mut out);
        assert!(out.iter().all(|s| *s == 29_999));
        let mut neg = AudioMixer::new();
        neg.add(&frame(-30_000));
        neg.add(&frame(-30_000));
        neg.write_full_mix(&mut out);
        assert!(out.iter().all(|s| *s == i16::MIN));
    }

    #[test]
    fn reset_clears_previous_tick() {
        let mut m = AudioMixer::new();
        m.add(&frame(5));
        m.reset();
        assert_eq!(m.contributors(), 0);
        let mut out = frame(1);
        m.write_full_mix(&mut out);
        assert!(out.iter().all(|s| *s == 0));
    }
}
