//! Which talkers a room mixes when more talk at once than `[audio] max_mixed_talkers`: the
//! loudest, with hysteresis so that the set does not flap. A talker mixed on the last tick
//! keeps its place until a newcomer is [`DISPLACE_MARGIN_DB`] louder (levels smoothed over
//! about 100 ms by the members), so two voices of about the same level do not take turns
//! every frame, and a member that gets louder than everyone mixed is heard within a tick.
//!
//! Everyone not chosen hears the shared mix, which they are not in: a noisy room of 500 open
//! microphones costs the chosen talkers' private encodes and one shared encode, not 500.

use std::cmp::Reverse;

/// How much louder (dB) a newcomer must be than the quietest mixed talker to take its place.
pub const DISPLACE_MARGIN_DB: f32 = 6.0;

/// One member that is talking this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Its smoothed level, dBFS.
    pub loudness_dbfs: f32,
    /// It was mixed on the last tick.
    pub was_mixed: bool,
}

/// The selection's working lists, kept between ticks so that a tick allocates nothing.
#[derive(Debug, Default)]
pub struct TalkerSelection {
    incumbents: Vec<usize>,
    newcomers: Vec<usize>,
}

impl TalkerSelection {
    /// Chooses which `candidates` are mixed: all when `max` is 0 or not exceeded, else `max`
    /// of them. Writes their indices (into `candidates`, ascending) to `chosen`.
    pub fn select(&mut self, candidates: &[Candidate], max: usize, chosen: &mut Vec<usize>) {
        chosen.clear();
        if max == 0 || candidates.len() <= max {
            chosen.extend(0..candidates.len());
            return;
        }
        self.incumbents.clear();
        self.newcomers.clear();
        for (i, c) in candidates.iter().enumerate() {
            if c.was_mixed {
                self.incumbents.push(i);
            } else {
                self.newcomers.push(i);
            }
        }
        let loudest_first = |i: &usize| Reverse(OrderedDb(candidates[*i].loudness_dbfs));
        self.incumbents.sort_unstable_by_key(loudest_first);
        self.newcomers.sort_unstable_by_key(loudest_first);
        self.incumbents.truncate(max);
        let free = max - self.incumbents.len();
        chosen.extend(&self.incumbents);
        chosen.extend(self.newcomers.iter().take(free));
        // The loudest of the rest displace the quietest incumbents, margin permitting.
        let mut quietest = self.incumbents.len();
        for &newcomer in self.newcomers.iter().skip(free) {
            if quietest == 0 {
                break;
            }
            let incumbent = chosen[quietest - 1];
            let louder = candidates[newcomer].loudness_dbfs
                > candidates[incumbent].loudness_dbfs + DISPLACE_MARGIN_DB;
            if !louder {
                break;
            }
            chosen[quietest - 1] = newcomer;
            quietest -= 1;
        }
        chosen.sort_unstable();
    }
}

/// A level that sorts (levels are never NaN; `total_cmp` orders them anyway).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedDb(f32);

impl Eq for OrderedDb {}

impl PartialOrd for OrderedDb {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedDb {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(levels: &[(f32, bool)]) -> Vec<Candidate> {
        levels
            .iter()
            .map(|&(loudness_dbfs, was_mixed)| Candidate {
                loudness_dbfs,
                was_mixed,
            })
            .collect()
    }

    fn select(levels: &[(f32, bool)], max: usize) -> Vec<usize> {
        let mut chosen = Vec::new();
        TalkerSelection::default().select(&candidates(levels), max, &mut chosen);
        chosen
    }

    #[test]
    fn everyone_is_mixed_while_the_limit_holds() {
        assert_eq!(select(&[(-30.0, false), (-20.0, false)], 4), vec![0, 1]);
        assert_eq!(select(&[(-30.0, false); 6], 0), (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn the_loudest_newcomers_fill_free_places() {
        let levels = [
            (-40.0, false),
            (-10.0, false),
            (-25.0, false),
            (-12.0, false),
        ];
        assert_eq!(select(&levels, 2), vec![1, 3]);
    }

    #[test]
    fn an_incumbent_keeps_its_place_against_a_newcomer_within_the_margin() {
        // Mixed at -20; a newcomer at -16 (4 dB louder) does not take over.
        let levels = [(-20.0, true), (-16.0, false), (-10.0, true)];
        assert_eq!(select(&levels, 2), vec![0, 2]);
    }

    #[test]
    fn a_much_louder_newcomer_displaces_the_quietest_incumbent() {
        let levels = [(-30.0, true), (-12.0, false), (-20.0, true), (-50.0, false)];
        assert_eq!(select(&levels, 2), vec![1, 2], "-12 beats -30 by 18 dB");
    }

    #[test]
    fn a_noisy_room_mixes_its_loud_talkers_and_the_set_does_not_flap() {
        // 500 open microphones near -24 dBFS (jittering by ±2 dB), three talkers at -12.
        let mut selection = TalkerSelection::default();
        let mut mixed = vec![false; 500];
        let mut chosen = Vec::new();
        let mut changes = 0;
        let mut previous: Vec<usize> = Vec::new();
        for tick in 0..200u32 {
            let list: Vec<Candidate> = (0..500)
                .map(|i| {
                    let jitter = ((i as u32 * 7919 + tick * 104_729) % 400) as f32 / 100.0 - 2.0;
                    let level = if i < 3 { -12.0 } else { -24.0 };
                    Candidate {
                        loudness_dbfs: level + jitter,
                        was_mixed: mixed[i],
                    }
                })
                .collect();
            selection.select(&list, 4, &mut chosen);
            assert_eq!(chosen.len(), 4);
            assert!(chosen.starts_with(&[0, 1, 2]), "tick {tick}: {chosen:?}");
            if tick > 0 && chosen != previous {
                changes += 1;
            }
            mixed.iter_mut().for_each(|m| *m = false);
            for &i in &chosen {
                mixed[i] = true;
            }
            previous.clone_from(&chosen);
        }
        assert_eq!(
            changes, 0,
            "the fourth place stays with one open microphone"
        );
    }
}
