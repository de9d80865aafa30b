//! First fit: the lowest-index node that fits.

use super::{Decision, PlacementPolicy, nothing_fits};
use crate::cluster::state::{ClusterState, TaskRequest};
use rand_chacha::ChaCha8Rng;

/// Places each task on the lowest-index node that fits it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstFit;

impl PlacementPolicy for FirstFit {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _rng: &mut ChaCha8Rng,
    ) -> Decision {
        match (0..cluster.nodes().len()).find(|&node| cluster.fits(node, task)) {
            Some(node) => Decision::Place(node),
            None => nothing_fits(task, cluster),
        }
    }
}
