//! Placement constraints: `distinctInstance` and `memberOf(expression)`. Unlike strategies they are
//! binding: a task that no node with room satisfies stays pending.

use super::expression::Expression;
use super::service_counts;
use crate::cluster::state::ClusterState;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A binding ECS placement constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// No other task of the same service on the node.
    DistinctInstance,
    /// Only nodes whose attributes satisfy the cluster query language expression.
    MemberOf(Expression),
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::DistinctInstance => write!(f, "distinctInstance"),
            Constraint::MemberOf(expression) => write!(f, "memberOf({expression})"),
        }
    }
}

/// Parses `distinctInstance` or `memberOf(EXPRESSION)`; expression errors give the column in `text`.
pub fn parse_constraint(text: &str) -> Result<Constraint, String> {
    let trimmed = text.trim();
    if trimmed == "distinctInstance" {
        return Ok(Constraint::DistinctInstance);
    }
    if let Some(rest) = trimmed.strip_prefix("memberOf") {
        let leading = text.chars().count() - text.trim_start().chars().count();
        let inner = rest.trim_start();
        let skipped = leading + "memberOf".len() + (rest.chars().count() - inner.chars().count());
        let Some(body) = inner
            .strip_prefix('(')
            .and_then(|body| body.strip_suffix(')'))
        else {
            return Err("memberOf needs an expression in parentheses: \
                 memberOf(attribute:ecs.instance-type =~ t3.*)"
                .to_string());
        };
        return Expression::parse_at(body, skipped + 1).map(Constraint::MemberOf);
    }
    Err(format!(
        "unknown placement constraint '{trimmed}': expected distinctInstance or memberOf(EXPRESSION)"
    ))
}

impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_constraint(&text).map_err(serde::de::Error::custom)
    }
}

impl Constraint {
    /// Keeps the candidates (ascending indexes) that satisfy the constraint for a task of `service`.
    /// `counts` is scratch space.
    pub(super) fn retain(
        &self,
        service: usize,
        cluster: &ClusterState,
        candidates: &mut Vec<usize>,
        counts: &mut Vec<u32>,
    ) {
        match self {
            Constraint::DistinctInstance => {
                service_counts(cluster, service, candidates, counts);
                let mut position = 0;
                candidates.retain(|_| {
                    position += 1;
                    counts[position - 1] == 0
                });
            }
            Constraint::MemberOf(expression) => {
                let nodes = cluster.nodes();
                candidates.retain(|&node| expression.matches(&nodes[node].attributes));
            }
        }
    }

    /// True when `node` satisfies the constraint for a task of `service`.
    pub fn allows(&self, node: usize, service: usize, cluster: &ClusterState) -> bool {
        match self {
            Constraint::DistinctInstance => cluster.tasks_on(service, node) == 0,
            Constraint::MemberOf(expression) => {
                expression.matches(&cluster.nodes()[node].attributes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_parse_and_print_back() {
        for text in [
            "distinctInstance",
            "memberOf(attribute:ecs.instance-type =~ t3.*)",
            "memberOf(attribute:a in [x, y] and not attribute:b exists)",
        ] {
            let constraint = parse_constraint(text).unwrap();
            assert_eq!(constraint.to_string(), text);
            assert_eq!(
                parse_constraint(&constraint.to_string()).unwrap(),
                constraint
            );
        }
        assert_eq!(
            parse_constraint("  memberOf (attribute:a == b) ").unwrap(),
            parse_constraint("memberOf(attribute:a == b)").unwrap()
        );
    }

    /// (text, expected error fragment): expression columns count from the start of the constraint.
    #[test]
    fn constraint_errors() {
        let table: &[(&str, &str)] = &[
            ("distinct", "unknown placement constraint 'distinct'"),
            ("memberOf", "memberOf needs an expression in parentheses"),
            (
                "memberOf(attribute:a ==)",
                "column 24: expected a value after '=='",
            ),
            (
                " memberOf (attribute:a ==)",
                "column 26: expected a value after '=='",
            ),
            ("memberOf()", "column 10: expected attribute:NAME"),
        ];
        for &(text, fragment) in table {
            let error = parse_constraint(text).expect_err(text);
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }
}
