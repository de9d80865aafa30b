//! The ECS cluster query language, the subset that selects nodes by attribute (for `memberOf`).
//!
//! ```text
//! expression := term (("or" | "||") term)*
//! term       := factor (("and" | "&&") factor)*
//! factor     := ("not" | "!") factor | "(" expression ")" | attribute:NAME test
//! test       := ("==" | "equals") VALUE | ("!=" | "not_equals") VALUE
//!             | ("=~" | "matches") GLOB | ("!~" | "not_matches") GLOB
//!             | "in" LIST | ("not in" | "not_in" | "!in") LIST | "exists"
//! LIST       := "[" VALUE ("," VALUE)* "]"        (parentheses work too)
//! VALUE      := a bare word such as us-east-1a or t2.*, or a quoted 'string' / "string"
//! ```
//!
//! Keywords are case-insensitive. A glob's `*` matches any run of characters and `?` one character.
//! A node without the attribute fails `==`, `=~`, `in` and `exists`, and passes their negations.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed cluster query language expression over node attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    source: String,
    root: Term,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Test { attribute: String, test: Test },
    Not(Box<Term>),
    And(Vec<Term>),
    Or(Vec<Term>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Equals(String),
    NotEquals(String),
    Matches(String),
    NotMatches(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
}

impl Expression {
    /// Parses `text`; errors name the column (1-based) and what was expected there.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::parse_at(text, 0)
    }

    /// Parses `text` that starts `offset` characters into a larger text (columns count from there).
    pub(super) fn parse_at(text: &str, offset: usize) -> Result<Self, String> {
        let tokens = lex(text, offset)?;
        let mut parser = Parser {
            tokens: &tokens,
            next: 0,
        };
        let root = parser.expression()?;
        let last = parser.peek();
        if last.kind != Kind::End {
            return Err(parser.expected("'and', 'or' or the end of the expression", last));
        }
        Ok(Expression {
            source: text.trim().to_string(),
            root,
        })
    }

    /// The expression as written (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when a node with these attributes belongs to the group.
    pub fn matches(&self, attributes: &BTreeMap<String, String>) -> bool {
        self.root.eval(attributes)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Term {
    fn eval(&self, attributes: &BTreeMap<String, String>) -> bool {
        match self {
            Term::Test { attribute, test } => {
                let value = attributes.get(attribute).map(String::as_str);
                match test {
                    Test::Equals(expected) => value == Some(expected.as_str()),
                    Test::NotEquals(expected) => value != Some(expected.as_str()),
                    Test::Matches(pattern) => value.is_some_and(|value| glob(pattern, value)),
                    Test::NotMatches(pattern) => !value.is_some_and(|value| glob(pattern, value)),
                    Test::In(list) => value.is_some_and(|value| list.iter().any(|v| v == value)),
                    Test::NotIn(list) => {
                        !value.is_some_and(|value| list.iter().any(|v| v == value))
                    }
                    Test::Exists => value.is_some(),
                }
            }
            Term::Not(inner) => !inner.eval(attributes),
            Term::And(terms) => terms.iter().all(|term| term.eval(attributes)),
            Term::Or(terms) => terms.iter().any(|term| term.eval(attributes)),
        }
    }
}

/// True when `text` matches `pattern`, where `*` is any run of characters and `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob_slices(pattern.as_bytes(), text.as_bytes(), b'*', b'?')
    } else {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        glob_slices(&pattern, &text, '*', '?')
    }
}

/// Wildcard matching with backtracking to the last `*` only: O(pattern × text) at worst, no
/// allocation.
fn glob_slices<T: Copy + PartialEq>(pattern: &[T], text: &[T], any_run: T, any_one: T) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == any_one || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == any_run {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == any_run)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    NotIn,
    Bang,
    AndAnd,
    OrOr,
    Word(String),
    Quoted(String),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// 1-based column of its first character.
    column: usize,
}

impl Token {
    fn describe(&self) -> String {
        match &self.kind {
            Kind::End => "the end of the expression".to_string(),
            Kind::Word(word) => format!("'{word}'"),
            Kind::Quoted(text) => format!("'{text}' (quoted)"),
            Kind::Open => "'('".into(),
            Kind::Close => "')'".into(),
            Kind::OpenList => "'['".into(),
            Kind::CloseList => "']'".into(),
            Kind::Comma => "','".into(),
            Kind::Equals => "'=='".into(),
            Kind::NotEquals => "'!='".into(),
            Kind::Matches => "'=~'".into(),
            Kind::NotMatches => "'!~'".into(),
            Kind::NotIn => "'!in'".into(),
            Kind::Bang => "'!'".into(),
            Kind::AndAnd => "'&&'".into(),
            Kind::OrOr => "'||'".into(),
        }
    }

    /// True for a bare word equal to `keyword`, ignoring case.
    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, Kind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || "()[],'\"=!&|<>".contains(c)
}

fn lex(text: &str, offset: usize) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |at: usize, message: &str| {
        format!(
            "memberOf expression, constraint column {}: {message}",
            offset + at + 1
        )
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        let kind = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Kind::Open,
            ')' => Kind::Close,
            '[' => Kind::OpenList,
            ']' => Kind::CloseList,
            ',' => Kind::Comma,
            '=' if i > 0 && chars[i - 1] == '~' => {
                return Err(error(
                    i - 1,
                    "'~=' is not an operator: did you mean '=~' (glob match)?",
                ));
            }
            '=' => match next {
                Some('=') if chars.get(i + 2) == Some(&'=') => {
                    return Err(error(i, "'===' is not an operator: use '==' to compare"));
                }
                Some('=') => Kind::Equals,
                Some('~') => Kind::Matches,
                _ => {
                    return Err(error(
                        i,
                        "expected '==' or '=~' after '=' (a single '=' is not an operator)",
                    ));
                }
            },
            '!' => match next {
                Some('=') => Kind::NotEquals,
                Some('~') => Kind::NotMatches,
                Some('i' | 'I')
                    if chars
                        .get(i + 2)
                        .is_some_and(|n| n.eq_ignore_ascii_case(&'n'))
                        && chars.get(i + 3).is_none_or(|&after| ends_word(after)) =>
                {
                    i += 1; // '!in' is three characters; the shared step below adds two.
                    Kind::NotIn
                }
                _ => Kind::Bang,
            },
            '&' if next == Some('&') => Kind::AndAnd,
            '|' if next == Some('|') => Kind::OrOr,
            '&' | '|' => return Err(error(i, &format!("expected '{c}{c}'"))),
            '<' | '>' => {
                return Err(error(
                    i,
                    &format!(
                        "'{c}' is not supported: attribute tests are ==, !=, =~, !~, in, not in, exists"
                    ),
                ));
            }
            '\'' | '"' => {
                let close = chars[i + 1..].iter().position(|&other| other == c);
                let Some(length) = close else {
                    return Err(error(
                        i,
                        &format!("unterminated quoted value (no closing {c})"),
                    ));
                };
                let value: String = chars[i + 1..i + 1 + length].iter().collect();
                i += length + 2;
                tokens.push(Token {
                    kind: Kind::Quoted(value),
                    column: offset + start + 1,
                });
                continue;
            }
            _ => {
                while i < chars.len() && !ends_word(chars[i]) {
                    i += 1;
                }
                tokens.push(Token {
                    kind: Kind::Word(chars[start..i].iter().collect()),
                    column: offset + start + 1,
                });
                continue;
            }
        };
        i += match kind {
            Kind::Equals
            | Kind::NotEquals
            | Kind::Matches
            | Kind::NotMatches
            | Kind::NotIn
            | Kind::AndAnd
            | Kind::OrOr => 2,
            _ => 1,
        };
        tokens.push(Token {
            kind,
            column: offset + start + 1,
        });
    }
    tokens.push(Token {
        kind: Kind::End,
        column: offset + chars.len() + 1,
    });
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    next: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.next]
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.next].clone();
        if token.kind != Kind::End {
            self.next += 1;
        }
        token
    }

    fn expected(&self, what: &str, found: &Token) -> String {
        format!(
            "memberOf expression, constraint column {}: expected {what}, found {}",
            found.column,
            found.describe()
        )
    }

    fn expression(&mut self) -> Result<Term, String> {
        let mut terms = vec![self.term()?];
        while self.peek().kind == Kind::OrOr || self.peek().is_keyword("or") {
            self.advance();
            terms.push(self.term()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Term::Or(terms)
        })
    }

    fn term(&mut self) -> Result<Term, String> {
        let mut factors = vec![self.factor()?];
        while self.peek().kind == Kind::AndAnd || self.peek().is_keyword("and") {
            self.advance();
            factors.push(self.factor()?);
        }
        Ok(if factors.len() == 1 {
            factors.pop().expect("one factor")
        } else {
            Term::And(factors)
        })
    }

    fn factor(&mut self) -> Result<Term, String> {
        let token = self.advance();
        if token.kind == Kind::Bang || token.is_keyword("not") {
            return Ok(Term::Not(Box::new(self.factor()?)));
        }
        if token.kind == Kind::Open {
            let inner = self.expression()?;
            let close = self.advance();
            if close.kind != Kind::Close {
                return Err(self.expected(
                    &format!("')' to close the '(' at column {}", token.column),
                    &close,
                ));
            }
            return Ok(inner);
        }
        let attribute = match &token.kind {
            Kind::Word(word) => word.strip_prefix("attribute:").unwrap_or_default(),
            _ => "",
        };
        if attribute.is_empty() {
            let mut message = self.expected(
                "attribute:NAME, '(' or 'not' (only attribute subjects are supported)",
                &token,
            );
            if let Kind::Word(word) = &token.kind
                && !word.starts_with("attribute:")
                && !["and", "or", "in", "exists"]
                    .iter()
                    .any(|keyword| word.eq_ignore_ascii_case(keyword))
            {
                message.push_str(&format!("; did you mean 'attribute:{word}'?"));
            }
            return Err(message);
        }
        let attribute = attribute.to_string();
        let test = self.test(&attribute)?;
        Ok(Term::Test { attribute, test })
    }

    fn test(&mut self, attribute: &str) -> Result<Test, String> {
        let operator = self.advance();
        let keyword = |name: &str| operator.is_keyword(name);
        Ok(match operator.kind {
            Kind::Equals => Test::Equals(self.value("==")?),
            Kind::NotEquals => Test::NotEquals(self.value("!=")?),
            Kind::Matches => Test::Matches(self.value("=~")?),
            Kind::NotMatches => Test::NotMatches(self.value("!~")?),
            Kind::NotIn => Test::NotIn(self.list("!in")?),
            _ if keyword("equals") => Test::Equals(self.value("equals")?),
            _ if keyword("not_equals") => Test::NotEquals(self.value("not_equals")?),
            _ if keyword("matches") => Test::Matches(self.value("matches")?),
            _ if keyword("not_matches") => Test::NotMatches(self.value("not_matches")?),
            _ if keyword("in") => Test::In(self.list("in")?),
            _ if keyword("not_in") => Test::NotIn(self.list("not_in")?),
            _ if keyword("exists") => Test::Exists,
            _ if keyword("not") && self.peek().is_keyword("in") => {
                self.advance();
                Test::NotIn(self.list("not in")?)
            }
            _ => {
                return Err(self.expected(
                    &format!(
                        "an operator after attribute:{attribute} (==, !=, =~, !~, in, not in, exists)"
                    ),
                    &operator,
                ));
            }
        })
    }

    fn value(&mut self, after: &str) -> Result<String, String> {
        let token = self.advance();
        match token.kind {
            Kind::Word(word) | Kind::Quoted(word) => Ok(word),
            _ => Err(self.expected(&format!("a value after '{after}'"), &token)),
        }
    }

    fn list(&mut self, after: &str) -> Result<Vec<String>, String> {
        let open = self.advance();
        let close = match open.kind {
            Kind::OpenList => Kind::CloseList,
            Kind::Open => Kind::Close,
            _ => {
                return Err(self.expected(&format!("a list such as [a, b] after '{after}'"), &open));
            }
        };
        let mut values = vec![self.value(if close == Kind::CloseList { "[" } else { "(" })?];
        loop {
            let token = self.advance();
            if token.kind == close {
                return Ok(values);
            }
            if token.kind != Kind::Comma {
                let closing = if close == Kind::CloseList {
                    "']'"
                } else {
                    "')'"
                };
                return Err(self.expected(&format!("',' or {closing}"), &token));
            }
            values.push(self.value(",")?);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|&(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    /// (expression, expected on an m5.large in us-east-1a with custom attribute team=web)
    #[test]
    fn expressions_select_from_the_table() {
        let node = attributes(&[
            ("ecs.instance-type", "m5.large"),
            ("ecs.availability-zone", "us-east-1a"),
            ("ecs.os-type", "linux"),
            ("team", "web"),
        ]);
        let table: &[(&str, bool)] = &[
            ("attribute:ecs.instance-type == m5.large", true),
            ("attribute:ecs.instance-type == m5.xlarge", false),
            ("attribute:ecs.instance-type equals m5.large", true),
            ("attribute:ecs.instance-type != m5.large", false),
            ("attribute:ecs.instance-type not_equals t3.medium", true),
            ("attribute:ecs.instance-type =~ m5.*", true),
            ("attribute:ecs.instance-type =~ m?.large", true),
            ("attribute:ecs.instance-type =~ t*", false),
            ("attribute:ecs.instance-type matches *.large", true),
            ("attribute:ecs.instance-type !~ m5.*", false),
            ("attribute:ecs.instance-type not_matches c*", true),
            (
                "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
                true,
            ),
            ("attribute:ecs.availability-zone in [us-east-1c]", false),
            ("attribute:ecs.availability-zone in (us-east-1a)", true),
            ("attribute:ecs.availability-zone not in [us-east-1a]", false),
            ("attribute:ecs.availability-zone not_in [us-east-1b]", true),
            ("attribute:ecs.availability-zone !in [us-east-1b]", true),
            ("attribute:team exists", true),
            ("attribute:gpu exists", false),
            // A missing attribute fails the positive tests and passes their negations.
            ("attribute:gpu == true", false),
            ("attribute:gpu != true", true),
            ("attribute:gpu !~ *", true),
            ("attribute:gpu not in [a]", true),
            ("attribute:team == 'web'", true),
            ("attribute:team == \"web\"", true),
            (
                "attribute:team == web and attribute:ecs.os-type == linux",
                true,
            ),
            (
                "attribute:team == web && attribute:ecs.os-type == windows",
                false,
            ),
            (
                "attribute:team == api or attribute:ecs.os-type == linux",
                true,
            ),
            (
                "attribute:team == api || attribute:ecs.os-type == windows",
                false,
            ),
            ("not attribute:team == api", true),
            ("!attribute:team == web", false),
            ("!(attribute:team == web)", false),
            ("NOT attribute:team == web OR attribute:team == web", true),
            // `and` binds tighter than `or`; parentheses override.
            (
                "attribute:team == web or attribute:team == api and attribute:gpu exists",
                true,
            ),
            (
                "(attribute:team == web or attribute:team == api) and attribute:gpu exists",
                false,
            ),
            (
                "attribute:ecs.instance-type=~m5.*&&attribute:team==web",
                true,
            ),
        ];
        for &(text, expected) in table {
            let expression =
                Expression::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(expression.matches(&node), expected, "{text}");
        }
    }

    /// (text, expected error fragment)
    #[test]
    fn parse_errors_name_the_column_and_what_was_expected() {
        let table: &[(&str, &str)] = &[
            ("", "column 1: expected attribute:NAME, '(' or 'not'"),
            (
                "attribute:a",
                "column 12: expected an operator after attribute:a",
            ),
            (
                "attribute:a ==",
                "column 15: expected a value after '==', found the end",
            ),
            ("attribute:a = b", "column 13: expected '==' or '=~'"),
            ("attribute:a == b and", "column 21: expected attribute:NAME"),
            (
                "attribute:a == b c",
                "column 18: expected 'and', 'or' or the end",
            ),
            (
                "(attribute:a == b",
                "column 18: expected ')' to close the '(' at column 1",
            ),
            (
                "attribute:a in a, b",
                "column 16: expected a list such as [a, b]",
            ),
            ("attribute:a in [a b]", "column 19: expected ',' or ']'"),
            ("attribute:a in []", "column 17: expected a value after '['"),
            ("attribute:a == 'b", "column 16: unterminated quoted value"),
            ("instanceType == a", "column 1: expected attribute:NAME"),
            ("attribute: == a", "column 1: expected attribute:NAME"),
            (
                "attribute:a == b & attribute:c == d",
                "column 18: expected '&&'",
            ),
            ("attribute:a >= 2", "column 13: '>' is not supported"),
            (
                "attribute:a ~= b",
                "column 13: '~=' is not an operator: did you mean '=~'",
            ),
            ("attribute:a === b", "column 13: '===' is not an operator"),
            (
                "ecs.os-type == linux",
                "found 'ecs.os-type'; did you mean 'attribute:ecs.os-type'?",
            ),
        ];
        for &(text, fragment) in table {
            let error = Expression::parse(text).expect_err(text);
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn globs() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c*e", "abcde", true),
            ("a*c*e", "abcdf", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.large", "m5.large", true),
            ("**a", "a", true),
            ("abc", "abcd", false),
            ("é?", "éa", true),
            ("*ü", "grün", false),
            ("*ü*", "grün", true),
        ];
        for &(pattern, text, expected) in table {
            assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
