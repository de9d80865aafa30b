//! The registry: resolves a `PlacementSpec` to a policy, custom policies by the name they were
//! registered under.

use super::{
    BestFit, EcsChain, FirstFit, KubernetesScoring, PlacementPolicy, PlacementSpec, WorstFit,
};
use crate::policy::named::{Factory, NamedFactories};

/// Makes a fresh policy (each simulation run gets its own).
pub type PolicyFactory = Factory<dyn PlacementPolicy>;

/// Named policy factories, and the builder for every built-in spec.
#[derive(Debug)]
pub struct Registry {
    named: NamedFactories<dyn PlacementPolicy>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_builtins()
    }
}

impl Registry {
    /// A registry without any named policy (specs other than `Custom` still build).
    pub fn empty() -> Self {
        Registry {
            named: NamedFactories::default(),
        }
    }

    /// The built-ins under their names: `first_fit`, `best_fit`, `worst_fit`, `ecs` (ECS's default,
    /// spread over zones) and `kubernetes` (kube-scheduler's default scoring).
    pub fn with_builtins() -> Self {
        let mut registry = Registry::empty();
        registry.register("first_fit", || Box::new(FirstFit));
        registry.register("best_fit", || Box::new(BestFit));
        registry.register("worst_fit", || Box::new(WorstFit));
        for (name, spec) in [
            ("ecs", PlacementSpec::ecs_default()),
            ("kubernetes", PlacementSpec::kubernetes_default()),
        ] {
            registry.register(name, move || {
                builtin(&spec).expect("the built-in defaults are valid")
            });
        }
        registry
    }

    /// Registers (or replaces) the policy made by `factory` under `name`.
    pub fn register<F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        F: Fn() -> Box<dyn PlacementPolicy> + Send + Sync + 'static,
    {
        self.named.register(name, Box::new(factory));
        self
    }

    /// Every registered name, sorted (for "valid names" messages).
    pub fn names(&self) -> Vec<String> {
        self.named.names()
    }

    /// A fresh policy for `spec`; an error for invalid parameters or an unknown custom name.
    pub fn build(&self, spec: &PlacementSpec) -> Result<Box<dyn PlacementPolicy>, String> {
        match spec {
            PlacementSpec::Custom { name } => match self.named.build(name) {
                Some(policy) => Ok(policy),
                None => Err(format!(
                    "unknown placement policy '{name}'; valid names: {}",
                    self.names().join(", ")
                )),
            },
            other => builtin(other),
        }
    }
}

/// The policy for a built-in spec (not `Custom`).
fn builtin(spec: &PlacementSpec) -> Result<Box<dyn PlacementPolicy>, String> {
    Ok(match spec {
        PlacementSpec::Ecs {
            strategies,
            constraints,
        } => Box::new(EcsChain::new(strategies.clone(), constraints.clone())),
        PlacementSpec::Kubernetes {
            least_allocated,
            most_allocated,
            balanced_allocation,
            topology_spread,
        } => Box::new(KubernetesScoring::new(
            *least_allocated,
            *most_allocated,
            *balanced_allocation,
            topology_spread.clone(),
        )?),
        PlacementSpec::FirstFit => Box::new(FirstFit),
        PlacementSpec::BestFit => Box::new(BestFit),
        PlacementSpec::WorstFit => Box::new(WorstFit),
        PlacementSpec::Custom { name } => {
            return Err(format!("custom placement policy '{name}' needs a registry"));
        }
    })
}
