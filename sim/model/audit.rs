//! End-of-run consistency checks of the model's own counters: the balancer's view of each replica,
//! ejections and bulkhead permits must agree with the frames and replicas they count. A failure is
//! a bug in the model (release builds do not check integer underflow, so a counter decremented once
//! too often would otherwise go unnoticed); the property tests run it on random configurations.

use super::World;
use std::collections::HashMap;

impl World<'_> {
    /// Panics when a counter disagrees with what it counts.
    pub(super) fn audit(&self) {
        for (index, service) in self.services.iter().enumerate() {
            for (slot, &task) in service.active.iter().enumerate() {
                let replica = &self.replicas[task as usize];
                assert_eq!(replica.slot as usize, slot, "slot of replica {task}");
                assert_eq!(
                    service.outstanding[slot], replica.outstanding,
                    "outstanding calls of replica {task}"
                );
            }
            let ejected = self
                .replicas
                .iter()
                .filter(|r| r.service as usize == index && r.ejected)
                .count();
            assert_eq!(
                service.ejected as usize, ejected,
                "ejected replicas of {index}"
            );
        }
        let mut permits: HashMap<(u32, u32), u32> = HashMap::new();
        for frame in self.frames.iter().filter(|f| f.alive && f.bulkhead_permit) {
            let caller = self.frames[frame.parent as usize].replica;
            let component = self.call_node(frame).component as u32;
            *permits.entry((caller, component)).or_default() += 1;
        }
        for (key, &in_flight) in &self.bulkheads {
            let held = permits.get(key).copied().unwrap_or(0);
            assert_eq!(
                in_flight, held,
                "bulkhead permits of (replica, component) {key:?}"
            );
        }
    }
}
