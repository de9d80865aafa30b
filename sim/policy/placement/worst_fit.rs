//! Worst fit: the least loaded node that fits, by allocated cpu share, then allocated memory share.

use super::best_fit::{best_by, compare_load};
use super::{Decision, PlacementPolicy};
use crate::cluster::state::{ClusterState, TaskRequest};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

/// Places each task on the fitting node with the lowest allocated cpu share (allocated / capacity,
/// before placement), ties by the lower allocated memory share, then the lowest index.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorstFit;

impl PlacementPolicy for WorstFit {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _rng: &mut ChaCha8Rng,
    ) -> Decision {
        best_by(task, cluster, |node, best| {
            compare_load(node, best) == Ordering::Less
        })
    }
}
