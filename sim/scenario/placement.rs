//! Validation of placement settings (`[cluster.placement]`, per-service `placement`) into a
//! `PlacementSpec`, resolved against the policy registry's names.

use super::raw::RawPlacement;
use super::source::{Problem, did_you_mean};
use super::validate::{Checked, in_range, reject_inapplicable};
use crate::policy::placement::{
    PlacementSpec, SpreadField, TopologySpread, Unsatisfiable, parse_constraint,
    parse_spread_field, parse_strategy,
};

/// The built-in policy kinds a scenario may name.
pub const BUILTIN_POLICIES: [&str; 5] = ["ecs", "kubernetes", "first_fit", "best_fit", "worst_fit"];

/// Validates one placement table at `path`; `custom` lists the names of registered custom policies.
pub(super) fn validate_placement(
    raw: &RawPlacement,
    path: &str,
    custom: &[String],
) -> Checked<PlacementSpec> {
    let policy = raw.policy.as_deref().unwrap_or("ecs");
    let mut valid: Vec<&str> = BUILTIN_POLICIES.to_vec();
    valid.extend(custom.iter().map(String::as_str));
    let allowed: &[&str] = match policy {
        "ecs" => &["strategy", "constraints"],
        "kubernetes" => &[
            "least_allocated",
            "most_allocated",
            "balanced_allocation",
            "topology_spread",
        ],
        "first_fit" | "best_fit" | "worst_fit" => &[],
        name if custom.iter().any(|c| c == name) => &[],
        other => {
            let help = match other {
                "binpack" | "spread" | "random" => format!(
                    "`{other}` is a strategy of the ecs policy: write policy = \"ecs\" and \
                     strategy = [\"{}\"]; valid policies: {}",
                    match other {
                        "binpack" => "binpack(memory)",
                        "spread" => "spread(zone)",
                        _ => "random",
                    },
                    valid.join(", ")
                ),
                _ => did_you_mean(other, &valid),
            };
            return Err(Problem::new(
                format!("{path}.policy"),
                format!("unknown placement policy `{other}`"),
            )
            .with_help(help));
        }
    };
    let present = [
        ("strategy", raw.strategy.is_some()),
        ("constraints", raw.constraints.is_some()),
        ("least_allocated", raw.least_allocated.is_some()),
        ("most_allocated", raw.most_allocated.is_some()),
        ("balanced_allocation", raw.balanced_allocation.is_some()),
        ("topology_spread", raw.topology_spread.is_some()),
    ];
    reject_inapplicable(path, &format!("the {policy} policy"), &present, allowed)?;
    Ok(match policy {
        "ecs" => {
            let strategies = match &raw.strategy {
                None => match PlacementSpec::ecs_default() {
                    PlacementSpec::Ecs { strategies, .. } => strategies,
                    _ => unreachable!("ecs_default is an ECS spec"),
                },
                Some(texts) => texts
                    .iter()
                    .enumerate()
                    .map(|(index, text)| {
                        parse_strategy(text)
                            .map_err(|e| Problem::new(format!("{path}.strategy[{index}]"), e))
                    })
                    .collect::<Checked<Vec<_>>>()?,
            };
            let constraints = raw
                .constraints
                .iter()
                .flatten()
                .enumerate()
                .map(|(index, text)| {
                    parse_constraint(text)
                        .map_err(|e| Problem::new(format!("{path}.constraints[{index}]"), e))
                })
                .collect::<Checked<Vec<_>>>()?;
            PlacementSpec::Ecs {
                strategies,
                constraints,
            }
        }
        "kubernetes" => {
            let weight = |value: Option<f64>, key: &str, default: f64| {
                in_range(
                    value.unwrap_or(default),
                    &format!("{path}.{key}"),
                    0.0,
                    100.0,
                    "a weight",
                )
            };
            let PlacementSpec::Kubernetes {
                least_allocated,
                most_allocated,
                balanced_allocation,
                topology_spread,
            } = PlacementSpec::kubernetes_default()
            else {
                unreachable!("kubernetes_default is a Kubernetes spec")
            };
            let topology_spread = match &raw.topology_spread {
                None => topology_spread,
                Some(spread) => {
                    let spread_path = format!("{path}.topology_spread");
                    let topology = match spread.topology.as_deref() {
                        None => SpreadField::Zone,
                        Some(text) => match parse_spread_field(text) {
                            Ok(field @ (SpreadField::Zone | SpreadField::Node)) => field,
                            Ok(_) => {
                                return Err(Problem::new(
                                    format!("{spread_path}.topology"),
                                    format!("`{text}` is not a topology domain: topology spread balances over zones or nodes only"),
                                )
                                .with_help("use \"zone\" or \"node\" (spreading over an attribute is the ECS policy's spread(attribute:NAME))"));
                            }
                            Err(_) => {
                                return Err(Problem::new(
                                    format!("{spread_path}.topology"),
                                    format!("unknown topology `{text}`"),
                                )
                                .with_help(did_you_mean(text, &["zone", "node"])));
                            }
                        },
                    };
                    let max_skew = spread.max_skew.unwrap_or(1);
                    if max_skew == 0 {
                        return Err(Problem::new(
                            format!("{spread_path}.max_skew"),
                            "max_skew = 0 is not allowed: it must be at least 1",
                        )
                        .with_help(
                            "max_skew is the largest allowed difference between the task counts \
                             of two domains; 1 spreads as evenly as possible",
                        ));
                    }
                    let when_unsatisfiable = match spread.when_unsatisfiable.as_deref() {
                        None => Unsatisfiable::DoNotSchedule,
                        Some(text) => Unsatisfiable::from_name(text).ok_or_else(|| {
                            Problem::new(
                                format!("{spread_path}.when_unsatisfiable"),
                                format!("unknown value `{text}`"),
                            )
                            .with_help(did_you_mean(text, &["DoNotSchedule", "ScheduleAnyway"]))
                        })?,
                    };
                    Some(TopologySpread {
                        topology,
                        max_skew,
                        when_unsatisfiable,
                    })
                }
            };
            PlacementSpec::Kubernetes {
                least_allocated: weight(raw.least_allocated, "least_allocated", least_allocated)?,
                most_allocated: weight(raw.most_allocated, "most_allocated", most_allocated)?,
                balanced_allocation: weight(
                    raw.balanced_allocation,
                    "balanced_allocation",
                    balanced_allocation,
                )?,
                topology_spread,
            }
        }
        "first_fit" => PlacementSpec::FirstFit,
        "best_fit" => PlacementSpec::BestFit,
        "worst_fit" => PlacementSpec::WorstFit,
        name => PlacementSpec::Custom {
            name: name.to_string(),
        },
    })
}
