//! Load balancers: which replica of a service receives a call.

mod least_outstanding;
mod power_of_two;
mod random;
mod round_robin;

pub use least_outstanding::LeastOutstanding;
pub use power_of_two::PowerOfTwoChoices;
pub use random::RandomChoice;
pub use round_robin::RoundRobin;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Chooses a replica for one call from the replicas' outstanding requests (busy + queued).
pub trait Balancer: Send + std::fmt::Debug {
    /// Returns an index into `outstanding`, which is never empty.
    fn pick(&mut self, outstanding: &[u32], rng: &mut ChaCha8Rng) -> usize;
}

/// The built-in balancers, by the name a scenario uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancerKind {
    /// Each replica in turn.
    RoundRobin,
    /// A uniformly random replica.
    Random,
    /// The replica with the fewest outstanding requests (lowest index on ties).
    LeastOutstanding,
    /// The less loaded of two distinct random replicas.
    PowerOfTwoChoices,
}

impl BalancerKind {
    /// Every valid name, for messages.
    pub const NAMES: [&'static str; 4] = [
        "round_robin",
        "random",
        "least_outstanding",
        "power_of_two_choices",
    ];

    /// The name a scenario uses.
    pub fn name(self) -> &'static str {
        match self {
            BalancerKind::RoundRobin => "round_robin",
            BalancerKind::Random => "random",
            BalancerKind::LeastOutstanding => "least_outstanding",
            BalancerKind::PowerOfTwoChoices => "power_of_two_choices",
        }
    }

    /// Resolves a name from a scenario file.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "round_robin" => Some(BalancerKind::RoundRobin),
            "random" => Some(BalancerKind::Random),
            "least_outstanding" => Some(BalancerKind::LeastOutstanding),
            "power_of_two_choices" | "p2c" => Some(BalancerKind::PowerOfTwoChoices),
            _ => None,
        }
    }

    /// A fresh balancer of this kind.
    pub fn build(self) -> Box<dyn Balancer> {
        match self {
            BalancerKind::RoundRobin => Box::new(RoundRobin::default()),
            BalancerKind::Random => Box::new(RandomChoice),
            BalancerKind::LeastOutstanding => Box::new(LeastOutstanding),
            BalancerKind::PowerOfTwoChoices => Box::new(PowerOfTwoChoices),
        }
    }
}

/// A uniform index below `bound` (> 0), by Lemire's multiply-shift (one draw, negligible bias).
pub(crate) fn uniform_index(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    use rand_core::Rng;
    ((u128::from(rng.next_u64()) * bound as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> ChaCha8Rng {
        crate::rng::stream(1, 0, "balancer-test")
    }

    /// (balancer, outstanding per replica, expected picks over successive calls)
    #[test]
    fn deterministic_balancers_pick_from_the_table() {
        let table: [(BalancerKind, &[u32], &[usize]); 4] = [
            (BalancerKind::RoundRobin, &[0, 0, 0], &[0, 1, 2, 0]),
            (BalancerKind::RoundRobin, &[9, 0], &[0, 1, 0]),
            (BalancerKind::LeastOutstanding, &[3, 1, 2], &[1, 1]),
            (BalancerKind::LeastOutstanding, &[2, 1, 1], &[1]),
        ];
        for (kind, outstanding, expected) in table {
            let mut balancer = kind.build();
            let mut rng = rng();
            let picks: Vec<usize> = expected
                .iter()
                .map(|_| balancer.pick(outstanding, &mut rng))
                .collect();
            assert_eq!(picks, expected, "{kind:?} over {outstanding:?}");
        }
    }

    #[test]
    fn power_of_two_never_picks_the_most_loaded_of_two_distinct() {
        let mut balancer = BalancerKind::PowerOfTwoChoices.build();
        let mut rng = rng();
        for _ in 0..1000 {
            assert_eq!(balancer.pick(&[0, 5], &mut rng), 0);
        }
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[balancer.pick(&[0, 5, 5], &mut rng)] += 1;
        }
        // Replica 0 is in the pair 2 times out of 3 and then always wins.
        assert!(counts[0] > 1800 && counts[0] < 2200, "{counts:?}");
    }

    #[test]
    fn random_covers_every_replica_evenly() {
        let mut balancer = BalancerKind::Random.build();
        let mut rng = rng();
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[balancer.pick(&[0; 4], &mut rng)] += 1;
        }
        // Binomial(40000, 1/4): standard deviation ≈ 86.6.
        assert!(
            counts
                .iter()
                .all(|&c| (c as f64 - 10_000.0).abs() < 4.0 * 86.6),
            "{counts:?}"
        );
    }

    #[test]
    fn names_resolve() {
        for name in BalancerKind::NAMES {
            assert!(BalancerKind::from_name(name).is_some());
        }
        assert!(BalancerKind::from_name("fastest").is_none());
    }
}
