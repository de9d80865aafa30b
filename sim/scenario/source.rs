//! Where things are in a scenario file: key paths → line and column, `--set` overrides, and diagnostics
//! that name the file, line, column and key.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// A problem with a scenario, located by its key path (e.g. `app.components[1].workers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path with array indices, e.g. `app.classes[0].calls[1].to`; empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What would be right, if we can say.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `path` with a message and no help.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }

    /// Adds what would be right.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A located, printable scenario error: file, line, column, key, message, help and the source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The scenario file (or the `--set` flag) the problem is in.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key path, empty when the problem is with the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub help: Option<String>,
    /// The offending source line and a caret under the spot, if known.
    pub snippet: Option<(String, usize, usize)>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "key `{}`: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some((text, start, width)) = &self.snippet {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            write!(
                f,
                "\n{pad} |\n{gutter} | {text}\n{pad} | {}{}",
                " ".repeat(*start),
                "^".repeat((*width).max(1))
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// Turns key paths into positions in the original text.
#[derive(Debug)]
pub struct SourceMap {
    origin: String,
    text: String,
    /// Where each key's value (or, for tables, its key) is: what problems with a value point at.
    spans: BTreeMap<String, Range<usize>>,
    /// Where each key itself is written: what unknown-key problems point at.
    key_spans: BTreeMap<String, Range<usize>>,
    overrides: Vec<(String, String)>,
}

impl SourceMap {
    /// Indexes every key and array element of `text` (which must already parse).
    pub fn new(origin: &Path, text: &str) -> Self {
        let mut spans = BTreeMap::new();
        let mut key_spans = BTreeMap::new();
        if let Ok(root) = DeTable::parse(text) {
            index_table(root.get_ref(), "", &mut spans, &mut key_spans);
        }
        SourceMap {
            origin: origin.display().to_string(),
            text: text.to_string(),
            spans,
            key_spans,
            overrides: Vec::new(),
        }
    }

    /// Records that `canonical_path` was set on the command line by `flag` (`key=value`).
    pub fn add_override(&mut self, canonical_path: String, flag: String) {
        self.overrides.push((canonical_path, flag));
    }

    /// The file name used in messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Locates a problem: at its key if present, else at the nearest enclosing key, else line 1.
    ///
    /// A problem inside a value set by `--set`, or at a key that only a `--set` created, is located at
    /// that flag instead of the file.
    pub fn locate(&self, problem: &Problem) -> Diagnostic {
        if let Some((index, (_, flag))) =
            self.overrides
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (path, _))| {
                    is_within(&problem.path, path)
                        || (is_within(path, &problem.path)
                            && !self.spans.contains_key(&problem.path))
                })
        {
            let value_column = flag.find('=').map_or(1, |at| at + 2);
            return Diagnostic {
                origin: format!("--set #{} (command line)", index + 1),
                line: 1,
                column: value_column,
                path: problem.path.clone(),
                message: problem.message.clone(),
                help: problem.help.clone(),
                snippet: Some((
                    flag.clone(),
                    value_column - 1,
                    flag.len() + 1 - value_column,
                )),
            };
        }
        let mut path = problem.path.as_str();
        let span = loop {
            if let Some(span) = self.spans.get(path) {
                break Some(span.clone());
            }
            match parent_path(path) {
                Some(parent) => path = parent,
                None => break None,
            }
        };
        self.at_span(span.unwrap_or(0..0), problem)
    }

    /// Locates a problem with a key itself (an unknown key): at the key as written, not at its value.
    pub fn locate_key(&self, problem: &Problem) -> Diagnostic {
        let from_flag = self
            .overrides
            .iter()
            .any(|(path, _)| is_within(&problem.path, path) || is_within(path, &problem.path));
        match self.key_spans.get(&problem.path) {
            Some(span) if !from_flag => self.at_span(span.clone(), problem),
            _ => self.locate(problem),
        }
    }

    /// Locates a problem at a byte range of the text.
    pub fn at_span(&self, span: Range<usize>, problem: &Problem) -> Diagnostic {
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |at| at + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |at| start + at);
        let line = self.text[..start].matches('\n').count() + 1;
        let line_text = self.text[line_start..line_end].trim_end_matches('\r');
        let column_chars = self.text[line_start..start].chars().count();
        let width = self.text[start..span.end.clamp(start, line_end)]
            .chars()
            .count();
        Diagnostic {
            origin: self.origin.clone(),
            line,
            column: column_chars + 1,
            path: problem.path.clone(),
            message: problem.message.clone(),
            help: problem.help.clone(),
            snippet: Some(snippet_window(line_text, column_chars, width)),
        }
    }
}

/// Longest source line shown in a snippet, in characters; longer lines are cut around the caret.
const SNIPPET_CHARS: usize = 100;

/// Cuts a long source line to a window around the marked range (`start`, `width`, in characters),
/// marking the cuts with `…`; returns the text and the range's position within it.
fn snippet_window(line: &str, start: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SNIPPET_CHARS {
        return (line.to_string(), start, width);
    }
    let start = start.min(chars.len());
    let width = width.min(SNIPPET_CHARS / 2);
    let context = (SNIPPET_CHARS - width) / 2;
    let from = start.saturating_sub(context);
    let to = (start + width + context).min(chars.len());
    let mut text = String::new();
    let mut shown_start = start - from;
    if from > 0 {
        text.push('…');
        shown_start += 1;
    }
    text.extend(&chars[from..to]);
    if to < chars.len() {
        text.push('…');
    }
    (text, shown_start, width)
}

/// True when `path` is `prefix` or lies inside it (`a.b[1].c` is within `a.b` and `a.b[1]`).
fn is_within(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && matches!(path.as_bytes().get(prefix.len()), Some(b'.') | Some(b'[')))
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → `` → None.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(match path.rfind(['.', '[']) {
        Some(at) => &path[..at],
        None => "",
    })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

type Spans = BTreeMap<String, Range<usize>>;

fn index_table(table: &DeTable<'_>, prefix: &str, spans: &mut Spans, key_spans: &mut Spans) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        let span = match value.get_ref() {
            // Point at the key of a table header or inline table, at the value otherwise.
            DeValue::Table(_) => key.span(),
            _ => value.span(),
        };
        spans.insert(path.clone(), span);
        key_spans.insert(path.clone(), key.span());
        index_value(value.get_ref(), &path, spans, key_spans);
    }
}

fn index_value(value: &DeValue<'_>, path: &str, spans: &mut Spans, key_spans: &mut Spans) {
    match value {
        DeValue::Table(table) => index_table(table, path, spans, key_spans),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                spans.insert(item_path.clone(), item.span());
                index_value(item.get_ref(), &item_path, spans, key_spans);
            }
        }
        _ => {}
    }
}

/// Applies one `--set key.path=value` to a parsed document; returns the canonical path it set.
///
/// Path segments are keys, array indices (`components[2]` or `components.2`) or, inside an array of
/// tables, the `name` of an element (`app.components.cart.workers=16`). The value is read as TOML
/// (`5`, `0.5`, `true`, `"250ms"`, `[1, 2]`); anything that is not valid TOML is taken as a string, so
/// `--set app.deployment.mode=monolith` needs no quotes.
pub fn apply_override(root: &mut toml::Table, flag: &str) -> Result<String, Problem> {
    let (key_path, raw_value) = flag.split_once('=').ok_or_else(|| {
        Problem::new("", format!("`--set {flag}` has no `=`"))
            .with_help("write --set key.path=value, e.g. --set run.duration=10m")
    })?;
    let value = parse_override_value(raw_value.trim());
    let segments = split_segments(key_path.trim()).ok_or_else(|| {
        Problem::new("", format!("`{key_path}` is not a key path")).with_help(
            "write dotted keys, e.g. app.components.cart.workers or app.classes[0].share",
        )
    })?;
    let mut canonical = String::new();
    let mut current: &mut toml::Value = {
        // Work on the root as a value so tables and arrays are handled alike.
        let (first, rest) = segments
            .split_first()
            .expect("split_segments returns at least one");
        canonical.push_str(first);
        if rest.is_empty() {
            root.insert(first.clone(), value);
            return Ok(canonical);
        }
        root.entry(first.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    };
    for (position, segment) in segments.iter().enumerate().skip(1) {
        let last = position + 1 == segments.len();
        match current {
            toml::Value::Table(table) => {
                canonical.push('.');
                canonical.push_str(segment);
                if last {
                    table.insert(segment.clone(), value);
                    return Ok(canonical);
                }
                current = table
                    .entry(segment.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            }
            toml::Value::Array(items) => {
                let index = match segment.parse::<usize>() {
                    Ok(index) if index < items.len() => index,
                    Ok(index) => {
                        return Err(Problem::new(
                            canonical.clone(),
                            format!(
                                "`--set {flag}`: index {index} is past the end ({} elements)",
                                items.len()
                            ),
                        ));
                    }
                    Err(_) => items
                        .iter()
                        .position(|item| {
                            item.get("name").and_then(|n| n.as_str()) == Some(segment.as_str())
                        })
                        .ok_or_else(|| {
                            let names: Vec<&str> = items
                                .iter()
                                .filter_map(|item| item.get("name").and_then(|n| n.as_str()))
                                .collect();
                            Problem::new(
                                canonical.clone(),
                                format!("`--set {flag}`: no element named `{segment}`"),
                            )
                            .with_help(format!("valid names: {}", names.join(", ")))
                        })?,
                };
                canonical.push_str(&format!("[{index}]"));
                if last {
                    items[index] = value;
                    return Ok(canonical);
                }
                current = &mut items[index];
            }
            _ => {
                return Err(Problem::new(
                    canonical.clone(),
                    format!(
                        "`--set {flag}`: `{canonical}` is a plain value, it has no key `{segment}`"
                    ),
                ));
            }
        }
    }
    unreachable!("the loop returns at the last segment")
}

fn parse_override_value(raw: &str) -> toml::Value {
    let document = format!("value = {raw}");
    match document.parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("value")
            .unwrap_or(toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// `a.b[2].c` and `a.b.2.c` → ["a", "b", "2", "c"].
fn split_segments(path: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, indices) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segments.push(key.to_string());
        } else if indices.is_empty() {
            return None;
        }
        let mut rest = indices;
        while let Some(stripped) = rest.strip_prefix('[') {
            let close = stripped.find(']')?;
            segments.push(stripped[..close].to_string());
            rest = &stripped[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    if segments.is_empty() {
        None
    } else {
        Some(segments)
    }
}

/// The file a scenario came from, for messages and for resolving relative paths (trace files).
pub fn scenario_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b_chars: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b_chars.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b_chars.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (candidate.len().max(word.len()) / 3).max(1) + 1
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// "unknown X `foo`" help text: the closest valid name first, then all of them.
pub fn did_you_mean(word: &str, valid: &[&str]) -> String {
    match closest(word, valid.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? valid: {}", valid.join(", ")),
        None => format!("valid: {}", valid.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "[run]\nduration = \"10m\"\n\n[[app.components]]\nname = \"a\"\nworkers = 4\n";

    #[test]
    fn locates_keys_and_falls_back_to_parents() {
        let map = SourceMap::new(Path::new("x.toml"), TEXT);
        let found = map.locate(&Problem::new("run.duration", "bad"));
        assert_eq!((found.line, found.column), (2, 12));
        let missing = map.locate(&Problem::new("app.components[0].service_time", "missing"));
        assert_eq!(missing.line, 4, "{missing}");
        let whole = map.locate(&Problem::new("", "empty"));
        assert_eq!(whole.line, 1);
    }

    #[test]
    fn overrides_by_index_and_by_name() {
        let mut table: toml::Table = TEXT.parse().unwrap();
        assert_eq!(
            apply_override(&mut table, "app.components.a.workers=8").unwrap(),
            "app.components[0].workers"
        );
        assert_eq!(
            table["app"]["components"][0]["workers"].as_integer(),
            Some(8)
        );
        assert_eq!(
            apply_override(&mut table, "app.components[0].name=b").unwrap(),
            "app.components[0].name"
        );
        assert_eq!(table["app"]["components"][0]["name"].as_str(), Some("b"));
        assert_eq!(
            apply_override(&mut table, "run.seed=7").unwrap(),
            "run.seed"
        );
        assert!(apply_override(&mut table, "app.components.zzz.workers=1").is_err());
        assert!(apply_override(&mut table, "novalue").is_err());
        assert!(apply_override(&mut table, "run.duration.x=1").is_err());
    }

    #[test]
    fn override_errors_point_at_the_flag() {
        let mut map = SourceMap::new(Path::new("x.toml"), TEXT);
        map.add_override("run.duration".into(), "run.duration=forever".into());
        let located = map.locate(&Problem::new("run.duration", "bad"));
        assert!(located.origin.contains("--set"));
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let map = SourceMap::new(Path::new("x.toml"), "[run]\ndurration = \"10m\"\n");
        let found = map.locate_key(&Problem::new("run.durration", "unknown"));
        assert_eq!((found.line, found.column), (2, 1));
    }

    #[test]
    fn keys_created_by_overrides_point_at_the_flag() {
        let mut map = SourceMap::new(Path::new("x.toml"), TEXT);
        map.add_override(
            "app.deployment.services.x.workers".into(),
            "app.deployment.services.x.workers=3".into(),
        );
        let located = map.locate(&Problem::new("app.deployment.services.x", "no service"));
        assert!(located.origin.contains("--set"), "{located}");
        // A key that is in the file stays located in the file.
        let located = map.locate(&Problem::new("app.components[0].workers", "bad"));
        assert_eq!(located.origin, "x.toml");
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let line = format!("x = [{}]", "1, ".repeat(500));
        let (text, start, width) = snippet_window(&line, 900, 1);
        assert!(text.chars().count() <= SNIPPET_CHARS + 2, "{text}");
        assert!(text.starts_with('…') && text.ends_with('…'));
        assert_eq!(
            text.chars().nth(start),
            line.chars().nth(900),
            "the caret still marks the same character"
        );
        assert_eq!(width, 1);
        assert_eq!(snippet_window("short", 1, 2), ("short".to_string(), 1, 2));
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("duraton", ["duration", "warmup"]), Some("duration"));
        assert_eq!(closest("zzzzzz", ["duration", "warmup"]), None);
    }
}
