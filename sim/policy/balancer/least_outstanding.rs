//! Least outstanding requests: the replica with the fewest requests in service or waiting.

use super::Balancer;
use rand_chacha::ChaCha8Rng;

/// Sends each call to the replica with the fewest outstanding requests; the lowest index wins ties.
#[derive(Debug, Default)]
pub struct LeastOutstanding;

impl Balancer for LeastOutstanding {
    fn pick(&mut self, outstanding: &[u32], _rng: &mut ChaCha8Rng) -> usize {
        let mut best = 0;
        for (index, &load) in outstanding.iter().enumerate().skip(1) {
            if load < outstanding[best] {
                best = index;
            }
        }
        best
    }
}
