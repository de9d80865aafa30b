//! Power of two choices: the less loaded of two distinct random replicas.

use super::{Balancer, uniform_index};
use rand_chacha::ChaCha8Rng;

/// Samples two distinct replicas at random and sends the call to the one with fewer outstanding
/// requests (the first sampled on ties).
#[derive(Debug, Default)]
pub struct PowerOfTwoChoices;

impl Balancer for PowerOfTwoChoices {
    fn pick(&mut self, outstanding: &[u32], rng: &mut ChaCha8Rng) -> usize {
        let count = outstanding.len();
        if count == 1 {
            return 0;
        }
        let first = uniform_index(rng, count);
        let second = (first + 1 + uniform_index(rng, count - 1)) % count;
        if outstanding[second] < outstanding[first] {
            second
        } else {
            first
        }
    }
}
