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
    let member_of = trimmed.strip_prefix("memberOf").filter(|rest| {
        rest.is_empty() || rest.starts_with(|c: char| c == '(' || c.is_whitespace())
    });
    if let Some(rest) = member_of {
        let leading = text.chars().count() - text.trim_start().chars().count();
        let inner = rest.trim_start();
        let skipped = leading + "memberOf".len() + (rest.chars().count() - inner.chars().count());
        if !inner.starts_with('(') {
            return Err("memberOf needs an expression in parentheses: \
                 memberOf(attribute:ecs.instance-type =~ t3.*)"
                .to_string());
        }
        let body = match closing_parenthesis(inner) {
            Some(close) if inner[close + 1..].trim().is_empty() => &inner[1..close],
            Some(close) => {
                let tail = inner[close + 1..].trim_start();
                return Err(format!(
                    "memberOf expression, constraint column {}: unexpected '{}' after the closing ')' at \
                     column {}; write each constraint as a string of its own, e.g. \
                     constraints = [\"memberOf(attribute:ecs.os-type == linux)\", \"distinctInstance\"]",
                    skipped + inner.chars().count() - tail.chars().count() + 1,
                    tail.trim_end(),
                    skipped + inner[..close].chars().count() + 1,
                ));
            }
            // Unbalanced: let the expression parser name the inner '(' or quote left open.
            None if inner.len() > 1 && inner.ends_with(')') => &inner[1..inner.len() - 1],
            None => {
                return Err(format!(
                    "memberOf expression, constraint column {}: the '(' after memberOf is never closed; \
                     add ')' at the end",
                    skipped + 1
                ));
            }
        };
        return Expression::parse_at(body, skipped + 1).map(Constraint::MemberOf);
    }
    let name = trimmed.split('(').next().unwrap_or_default().trim();
    let hint = super::suggest(name, &["distinctInstance", "memberOf"])
        .map(|best| format!(" (did you mean {best}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown placement constraint '{trimmed}'{hint}: expected distinctInstance or memberOf(EXPRESSION)"
    ))
}

/// The byte index of the ')' that closes the '(' `text` starts with, skipping quoted values.
fn closing_parenthesis(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), _) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
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
            "memberOf(attribute:a == ')' or attribute:b in ('(', x))",
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
            (
                "memberOf(attribute:a == b",
                "constraint column 9: the '(' after memberOf is never closed",
            ),
            (
                "memberOf(attribute:a == b) and distinctInstance",
                "constraint column 28: unexpected 'and distinctInstance' after the closing ')' at column 26",
            ),
            (
                "memberOf((attribute:a == b)",
                "expected ')' to close the '(' at column 10",
            ),
            ("memberOf(attribute:a == 'b)", "unterminated quoted value"),
            ("memberof(attribute:a == b)", "(did you mean memberOf?)"),
            ("distinctinstance", "(did you mean distinctInstance?)"),
            (
                "memberOfX(attribute:a == b)",
                "unknown placement constraint 'memberOfX(attribute:a == b)'",
            ),
        ];
        for &(text, fragment) in table {
            let error = parse_constraint(text).expect_err(text);
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }
}
