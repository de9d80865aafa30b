//! Seeded, named random streams. Sequential streams are ChaCha8 (portable across platforms and rand
//! versions); per-entity draws use a keyed SplitMix64 generator so that the i-th request's draws do not
//! depend on the order in which the model asks for them (common random numbers).

use rand_chacha::ChaCha8Rng;
use rand_core::{Infallible, SeedableRng, TryRng};

/// FNV-1a over the bytes of a stream name: stable across platforms, compilers and runs.
pub fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer with full avalanche.
#[inline]
pub fn mix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Combines a key with one more component, order-sensitively.
#[inline]
pub fn combine(key: u64, component: u64) -> u64 {
    mix64(key ^ mix64(component.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// The key of a named stream of one replication: every draw of the run derives from one of these.
pub fn stream_key(seed: u64, replication: u32, name: &str) -> u64 {
    combine(
        combine(mix64(seed), u64::from(replication)),
        name_hash(name),
    )
}

/// A sequential ChaCha8 stream for `(seed, replication, name)`, e.g. `stream(7, 0, "arrivals")`.
pub fn stream(seed: u64, replication: u32, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(combine(mix64(seed), u64::from(replication)));
    rng.set_stream(name_hash(name));
    rng
}

/// A small generator positioned by a key: `KeyedRng::new(combine(stream_key, entity))`.
///
/// Cheap to create (no buffer), so the model makes one per draw site — e.g. per (request, call node)
/// — and the values drawn there are the same whatever else the simulation did before.
#[derive(Debug, Clone)]
pub struct KeyedRng {
    state: u64,
}

impl KeyedRng {
    /// A generator whose output depends only on `key`.
    #[inline]
    pub fn new(key: u64) -> Self {
        KeyedRng { state: mix64(key) }
    }

    /// A uniform draw in [0, 1) with 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.step() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    fn step(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }
}

impl TryRng for KeyedRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.step() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.step())
    }

    fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), Infallible> {
        for chunk in destination.chunks_mut(8) {
            let bytes = self.step().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let first: Vec<u64> = (0..4)
            .map(|_| stream(7, 0, "arrivals").next_u64())
            .collect();
        assert!(first.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            stream(7, 0, "arrivals").next_u64(),
            stream(7, 0, "classes").next_u64()
        );
        assert_ne!(
            stream(7, 0, "arrivals").next_u64(),
            stream(7, 1, "arrivals").next_u64()
        );
        assert_ne!(
            stream(7, 0, "arrivals").next_u64(),
            stream(8, 0, "arrivals").next_u64()
        );
    }

    const GOLDEN_NAME_HASH: u64 = 12_757_503_866_409_569_363;
    const GOLDEN_STREAM_DRAW: u64 = 4_104_093_377_659_794_551;
    const GOLDEN_KEYED_DRAW: u64 = 14_887_127_932_648_049_450;

    #[test]
    fn golden_values_do_not_drift() {
        // Pinned so that an upgrade of rand_chacha or a change of derivation is noticed:
        // changing these changes every published result.
        assert_eq!(name_hash("arrivals"), GOLDEN_NAME_HASH);
        assert_eq!(stream(1, 0, "arrivals").next_u64(), GOLDEN_STREAM_DRAW);
        let mut keyed = KeyedRng::new(combine(stream_key(1, 0, "demand"), 42));
        assert_eq!(keyed.next_u64(), GOLDEN_KEYED_DRAW);
    }

    #[test]
    fn keyed_uniform_is_in_unit_interval_with_mean_one_half() {
        let count = 100_000;
        let mut sum = 0.0;
        for entity in 0..count {
            let value = KeyedRng::new(combine(99, entity)).uniform();
            assert!((0.0..1.0).contains(&value));
            sum += value;
        }
        let mean = sum / count as f64;
        // Standard error of a uniform mean is sqrt(1/12 / n).
        let standard_error = (1.0 / 12.0 / count as f64).sqrt();
        assert!((mean - 0.5).abs() < 4.0 * standard_error, "mean {mean}");
    }
}
