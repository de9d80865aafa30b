//! random: a uniformly random node among the candidates left.

use super::uniform_index;
use rand_chacha::ChaCha8Rng;

/// Keeps one candidate, drawn uniformly from `rng` (no draw when one or none is left).
pub(super) fn narrow(rng: &mut ChaCha8Rng, candidates: &mut Vec<usize>) {
    if candidates.len() > 1 {
        let chosen = candidates[uniform_index(rng, candidates.len())];
        candidates.clear();
        candidates.push(chosen);
    }
}
