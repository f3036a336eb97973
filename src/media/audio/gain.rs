//! Fixed-point gain for operator volume controls: a dB step becomes a Q14 factor once, and a
//! frame is scaled with one multiply and shift per sample, saturating to 16 bits. 0 dB is the
//! identity (callers skip it).

/// Q14 fixed point: 1.0 = 16384.
const ONE_Q14: i32 = 1 << 14;

/// A linear gain from a dB value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gain {
    q14: i32,
}

impl Gain {
    /// The gain of `db` decibels (amplitude: 10^(dB/20)).
    pub fn from_db(db: i8) -> Self {
        let linear = 10f64.powf(f64::from(db) / 20.0);
        Self {
            q14: (linear * f64::from(ONE_Q14)).round() as i32,
        }
    }

    pub fn is_unity(self) -> bool {
        self.q14 == ONE_Q14
    }

    /// Scales `samples` in place.
    pub fn apply(self, samples: &mut [i16]) {
        for s in samples {
            *s = self.scale(*s);
        }
    }

    #[inline]
    fn scale(self, s: i16) -> i16 {
        let v = (i32::from(s) * self.q14 + (ONE_Q14 >> 1)) >> 14;
        v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_db_is_the_identity() {
        let gain = Gain::from_db(0);
        assert!(gain.is_unity());
        let mut frame = vec![-32768, -1, 0, 1, 12345, 32767];
        let before = frame.clone();
        gain.apply(&mut frame);
        assert_eq!(frame, before);
    }

    #[test]
    fn six_db_doubles_and_minus_six_halves() {
        let mut loud = vec![1000i16, -1000];
        Gain::from_db(6).apply(&mut loud);
        assert!(loud[0] > 1990 && loud[0] < 2000, "{loud:?}");
        assert_eq!(loud[1], -loud[0]);
        let mut quiet = vec![1000i16];
        Gain::from_db(-6).apply(&mut quiet);
        assert!(quiet[0] > 500 && quiet[0] < 505, "{quiet:?}");
    }

    #[test]
    fn amplification_saturates_instead_of_wrapping() {
        let mut frame = vec![20_000i16, -20_000];
        Gain::from_db(12).apply(&mut frame);
        assert_eq!(frame, vec![i16::MAX, i16::MIN]);
    }
}
