//! Round robin: each replica in turn.

use super::Balancer;
use rand_chacha::ChaCha8Rng;

/// Sends each call to the next replica in order.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl Balancer for RoundRobin {
    fn pick(&mut self, outstanding: &[u32], _rng: &mut ChaCha8Rng) -> usize {
        let choice = self.next % outstanding.len();
        self.next = choice + 1;
        choice
    }
}
