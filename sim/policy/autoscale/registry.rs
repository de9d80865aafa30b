//! The registry: builds an `AutoscalerSpec` into a fresh autoscaler, custom autoscalers by the name
//! they were registered under.

use super::{AutoscalerSpec, Hpa, ServiceAutoscaler, StepScaling, TargetTracking};
use crate::policy::named::{Factory, NamedFactories};

/// Makes a fresh autoscaler (each service in each run gets its own, with empty memory).
pub type AutoscalerFactory = Factory<dyn ServiceAutoscaler>;

/// Named autoscaler factories, and the builder for every built-in spec.
#[derive(Debug)]
pub struct Registry {
    named: NamedFactories<dyn ServiceAutoscaler>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_builtins()
    }
}

impl Registry {
    /// A registry without any named autoscaler (built-in specs still build).
    pub fn empty() -> Self {
        Registry {
            named: NamedFactories::default(),
        }
    }

    /// The built-ins: `target_tracking`, `step_scaling` and `hpa` specs build from their parameters,
    /// so no name is registered up front; register custom autoscalers with [`Registry::register`].
    pub fn with_builtins() -> Self {
        Registry::empty()
    }

    /// Registers (or replaces) the autoscaler made by `factory` under `name`.
    pub fn register<F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        F: Fn() -> Box<dyn ServiceAutoscaler> + Send + Sync + 'static,
    {
        self.named.register(name, Box::new(factory));
        self
    }

    /// Every registered name, sorted (for "valid names" messages).
    pub fn names(&self) -> Vec<String> {
        self.named.names()
    }

    /// True when a custom autoscaler is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.named.contains(name)
    }

    /// A fresh autoscaler for `spec`; an error for invalid parameters or an unknown custom name.
    pub fn build(&self, spec: &AutoscalerSpec) -> Result<Box<dyn ServiceAutoscaler>, String> {
        Ok(match spec {
            AutoscalerSpec::TargetTracking(_) => Box::new(TargetTracking::from_spec(spec)?),
            AutoscalerSpec::StepScaling(_) => Box::new(StepScaling::from_spec(spec)?),
            AutoscalerSpec::Hpa(_) => Box::new(Hpa::from_spec(spec)?),
            AutoscalerSpec::Custom { name } => match self.named.build(name) {
                Some(autoscaler) => autoscaler,
                None if self.named.is_empty() => {
                    return Err(format!(
                        "unknown autoscaler '{name}': no custom autoscaler is registered; \
                         built-in kinds: target_tracking, step_scaling, hpa"
                    ));
                }
                None => {
                    return Err(format!(
                        "unknown autoscaler '{name}'; registered names: {}",
                        self.names().join(", ")
                    ));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{secs, view};
    use super::super::{ScaleDecision, ScalingMetric, ScalingView};
    use super::*;
    use crate::time::{SimDuration, SimTime};

    // A custom autoscaler, as a user writes one: a schedule, 10 tasks during business hours, else 2.
    #[derive(Debug)]
    struct BusinessHours {
        from: SimTime,
        until: SimTime,
    }

    impl ServiceAutoscaler for BusinessHours {
        fn metric(&self) -> ScalingMetric {
            ScalingMetric::RequestsPerTarget
        }
        fn metric_period(&self) -> SimDuration {
            SimDuration::from_secs(60)
        }
        fn evaluation_interval(&self) -> SimDuration {
            SimDuration::from_secs(60)
        }
        fn evaluate(&mut self, view: &ScalingView<'_>) -> Option<ScaleDecision> {
            let desired = if (self.from..self.until).contains(&view.now) {
                10
            } else {
                2
            };
            (desired != view.desired).then(|| ScaleDecision {
                desired,
                reason: format!("schedule: {desired} tasks"),
            })
        }
    }

    /// (time s, desired before, expected) for the schedule 9:00–17:00, built by name.
    #[test]
    fn custom_autoscaler_by_name() {
        let mut registry = Registry::with_builtins();
        registry.register("business_hours", || {
            Box::new(BusinessHours {
                from: secs(9 * 3600),
                until: secs(17 * 3600),
            })
        });
        assert_eq!(registry.names(), ["business_hours"]);
        let mut autoscaler = registry
            .build(&AutoscalerSpec::custom("business_hours"))
            .unwrap();
        let table = [
            (8 * 3600, 2, None),
            (9 * 3600, 2, Some(10)),
            (12 * 3600, 10, None),
            (17 * 3600, 10, Some(2)),
        ];
        for (time, desired, expected) in table {
            let decision = autoscaler.evaluate(&view(secs(time), &[], desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "at {time} s");
        }
        let error = registry
            .build(&AutoscalerSpec::custom("nightly"))
            .unwrap_err();
        assert!(
            error.contains("'nightly'") && error.contains("business_hours"),
            "{error}"
        );
    }

    /// Every built-in kind builds with its defaults and reports its periods; invalid specs and
    /// unknown names are errors, not panics.
    #[test]
    fn builtins_build_from_specs() {
        let registry = Registry::default();
        let cpu = ScalingMetric::CpuUtilization;
        let table = [
            (
                AutoscalerSpec::target_tracking_default(cpu, 0.7, 1, 10),
                60,
                60,
            ),
            (AutoscalerSpec::hpa_default(cpu, 0.5, 1, 10), 15, 15),
        ];
        for (spec, period, interval) in table {
            let autoscaler = registry.build(&spec).unwrap();
            assert_eq!(autoscaler.metric(), cpu);
            assert_eq!(autoscaler.metric_period(), SimDuration::from_secs(period));
            assert_eq!(
                autoscaler.evaluation_interval(),
                SimDuration::from_secs(interval)
            );
        }
        let error = registry
            .build(&AutoscalerSpec::target_tracking_default(cpu, 70.0, 1, 10))
            .unwrap_err();
        assert!(error.starts_with("target: "), "{error}");
        let error = registry
            .build(&AutoscalerSpec::custom("nightly"))
            .unwrap_err();
        assert!(
            error.contains("no custom autoscaler is registered"),
            "{error}"
        );
    }
}
