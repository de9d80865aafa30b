//! Random: a uniformly random replica.

use super::{Balancer, uniform_index};
use rand_chacha::ChaCha8Rng;

/// Sends each call to a uniformly random replica.
#[derive(Debug, Default)]
pub struct RandomChoice;

impl Balancer for RandomChoice {
    fn pick(&mut self, outstanding: &[u32], rng: &mut ChaCha8Rng) -> usize {
        uniform_index(rng, outstanding.len())
    }
}
