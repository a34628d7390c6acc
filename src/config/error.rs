//! Rules-file errors that name the file, the line and the key, so an operator can fix them at once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem with the rules file. `check` prints it and exits 2; `run` refuses to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Dotted key path, e.g. `schedule.escalate` or `route[2].repo`.
    pub key: String,
    pub message: String,
    /// Further errors found in the same file: `check` reports them all in one run.
    pub more: Vec<ConfigError>,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: ", self.file.display())?,
            None => write!(f, "{}: ", self.file.display())?,
        }
        if self.key.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "key `{}`: {}", self.key, self.message)?;
        }
        // Callers print "error: " before the first; each further one gets its own line.
        for e in &self.more {
            write!(f, "\nerror: {e}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub fn new(file: &Path, line: Option<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), line, key: key.into(), message: message.into(), more: Vec::new() }
    }

    /// One error carrying all of `errors` (in file order), or `None` when there are none.
    pub fn all(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        let mut iter = errors.into_iter();
        let mut first = iter.next()?;
        first.more.extend(iter);
        Some(first)
    }

    /// An error about a value whose span is known.
    pub fn at(file: &Path, text: &str, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(file, Some(line_of(text, span.start)), key, message)
    }

    /// The rules file cannot be read: named by its absolute path, with the working directory
    /// a relative one was taken from, and where a missing one is looked for.
    pub fn unreadable(file: &Path, err: &std::io::Error) -> Self {
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let cwd = std::env::current_dir().map_or_else(|_| "an unknown directory".into(), |d| d.display().to_string());
        let message = if err.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no rules file here (working directory {cwd}). Name one with --config PATH or the \
                 TICKET_SYNC_CONFIG variable (default ./sync-rules.toml); start from the commented sample \
                 sync-rules.toml in ticket-sync's source tree, and see docs/configuration.md"
            )
        } else {
            format!("cannot read the rules file (working directory {cwd}): {err}")
        };
        Self::new(&absolute, None, "", message)
    }

    /// Turns a TOML or serde error into one naming the key: unknown keys, missing keys,
    /// wrong types and syntax errors all come through here.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        let field = backticked(&message);
        let Some(span) = err.span() else {
            let key = field.map(|f| format!("[{f}]")).unwrap_or_else(|| "(document)".into());
            return Self::new(file, None, key, message);
        };
        let mut section = section_at(text, span.start);
        let line_key = key_on_line(text, span.start);
        let key = match (field, message.starts_with("missing field")) {
            (Some(f), true) if section.is_empty() => format!("[{f}]"),
            // An unknown table is named once, as written (`notifications`, `routes`, `a.b`).
            (Some(_), _) if message.starts_with("unknown field") && !header_name(text, span.start).is_empty() => {
                header_name(text, span.start)
            }
            (Some(f), _) if message.starts_with("unknown field") || message.starts_with("missing field") => {
                if let Some(k) = line_key.filter(|k| *k != f && !is_header_line(text, span.start)) {
                    // A dotted key (`when.size = 3`) already ends with the field.
                    section = join(&section, k.strip_suffix(&format!(".{f}")).unwrap_or(&k));
                }
                join(&section, &f)
            }
            _ => match line_key {
                Some(k) => join(&section, &k),
                None if section.is_empty() => "(document)".into(),
                None => section,
            },
        };
        let message = if message.starts_with("unknown field") {
            format!("{message} (unknown key; check its spelling and the table it is in)")
        } else {
            message
        };
        Self::new(file, Some(line_of(text, span.start)), key, message)
    }
}

fn join(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

/// The largest char boundary at or below `offset` (spans from a parser may point mid-character).
fn boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..boundary(text, offset)].matches('\n').count() + 1
}

fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

fn line_at(text: &str, offset: usize) -> &str {
    let offset = boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    &text[start..end]
}

/// The table name a header line at `offset` names (`a.b` for `[a.b]`, `route` for `[[route]]`).
fn header_name(text: &str, offset: usize) -> String {
    let line = line_at(text, offset).trim();
    if !line.starts_with('[') {
        return String::new();
    }
    line.trim_start_matches('[').split(']').next().unwrap_or_default().trim().to_string()
}

fn is_header_line(text: &str, offset: usize) -> bool {
    line_at(text, offset).trim_start().starts_with('[')
}

/// The bare key at the start of the line holding `offset` (`repo` in `repo = "x"`).
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let line = line_at(text, offset).trim_start();
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[') && !key.starts_with('#')).then(|| key.to_string())
}

/// The text with the key at `offset` set aside: its whole `key = value` (a value may go on over
/// several lines: arrays, inline tables, multi-line strings), or, at a table header, the whole
/// table up to the next header that is not one of its own sub-tables. Every byte offset and
/// line number stays put, so parsing can go on past one bad key and report the next. `None`
/// when nothing can be set aside.
pub fn without_key_at(text: &str, offset: usize) -> Option<String> {
    let offset = boundary(text, offset);
    let range =
        if is_header_line(text, offset) { table_extent(text, offset)? } else { key_value_extent(text, offset)? };
    if text[range.clone()].trim().is_empty() {
        return None;
    }
    // Every character becomes as many spaces as it has bytes; line breaks stay.
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| if c == '\n' { "\n".to_string() } else { " ".repeat(c.len_utf8()) })
        .collect();
    Some(format!("{}{}{}", &text[..range.start], blanked, &text[range.end..]))
}

/// The `key = value` whose key (or last dotted part of it) starts at `offset`, with the comma
/// after it when it sits in an inline table (TOML 1.1 allows the one that may be left before `}`).
fn key_value_extent(text: &str, offset: usize) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let start = dotted_key_start(b, offset);
    let before = text[..start].trim_end_matches([' ', '\t']);
    if !(before.is_empty() || before.ends_with(['\n', '{', ','])) {
        return None;
    }
    let mut end = statement_end(b, start)?;
    let after = end + text[end..].len() - text[end..].trim_start_matches([' ', '\t']).len();
    if b.get(after) == Some(&b',') {
        end = after + 1;
    }
    Some(start..end)
}

/// The table whose header is on the line holding `offset`, with all its keys and sub-tables.
fn table_extent(text: &str, offset: usize) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let name = header_name(text, offset);
    let mut end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    loop {
        let next = skip_blank(b, end);
        if next >= b.len() {
            return Some(start..end);
        }
        if b[next] == b'[' {
            let sub = header_name(text, next);
            if name.is_empty() || !sub.starts_with(&format!("{name}.")) {
                return Some(start..end);
            }
            end = text[next..].find('\n').map_or(text.len(), |i| next + i);
        } else {
            end = statement_end(b, next)?;
        }
    }
}

/// Past spaces, line breaks and comments.
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = line_end(b, i),
            _ => break,
        }
    }
    i
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n)
}

/// Back from the last part of a dotted key (`colour` in `when.colour`) to its first.
fn dotted_key_start(b: &[u8], mut start: usize) -> usize {
    let spaces = |mut j: usize| {
        while j > 0 && matches!(b[j - 1], b' ' | b'\t') {
            j -= 1;
        }
        j
    };
    loop {
        let j = spaces(start);
        if j == 0 || b[j - 1] != b'.' {
            return start;
        }
        let mut j = spaces(j - 1);
        match b.get(j.wrapping_sub(1)) {
            Some(&q @ (b'"' | b'\'')) => {
                j -= 1;
                while j > 0 && b[j - 1] != q && b[j - 1] != b'\n' {
                    j -= 1;
                }
                if j == 0 || b[j - 1] != q {
                    return start;
                }
                j -= 1;
            }
            _ => {
                let part = j;
                while j > 0 && (b[j - 1].is_ascii_alphanumeric() || matches!(b[j - 1], b'_' | b'-')) {
                    j -= 1;
                }
                if j == part {
                    return start;
                }
            }
        }
        start = j;
    }
}

/// The end of the `key = value` starting at `start` (trailing spaces and comment not included);
/// `None` when there is no `=` on the key's line.
fn statement_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < b.len() && b[i] != b'=' {
        match b[i] {
            b'\n' => return None,
            b'"' | b'\'' => i = string_end(b, i),
            _ => i += 1,
        }
    }
    if i >= b.len() {
        return None;
    }
    let mut depth = 0usize;
    i += 1;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                i = string_end(b, i);
                continue;
            }
            b'#' if depth > 0 => {
                i = line_end(b, i);
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' if depth > 0 => depth -= 1,
            b']' | b'}' | b',' | b'\n' | b'#' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    while i > start && b[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    Some(i)
}

/// Just past the string opening at `i`: basic or literal, on one line or several.
fn string_end(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let triple = b.len() >= i + 3 && b[i + 1] == q && b[i + 2] == q;
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < b.len() {
        if q == b'"' && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if !triple && b[j] == b'\n' {
            return j;
        }
        if b[j] == q && (!triple || (b.len() >= j + 3 && b[j + 1] == q && b[j + 2] == q)) {
            let close = j + if triple { 3 } else { 1 };
            // A closing `"""` may have up to two quotes of the string's own before it.
            let extra = if triple { b[close..].iter().take(2).take_while(|&&c| c == q).count() } else { 0 };
            return close + extra;
        }
        j += 1;
    }
    b.len()
}

/// The table a byte offset belongs to: `zendesk`, or `route[1]` for the second `[[route]]`.
pub fn section_at(text: &str, offset: usize) -> String {
    let mut section = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            section = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            section = name.trim().to_string();
        }
        pos += line.len();
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_count_array_tables() {
        let text = "[zendesk]\nurl = 1\n[[route]]\nrepo = 'a/b'\n[[route]]\nrepo = 2\n";
        assert_eq!(section_at(text, 12), "zendesk");
        assert_eq!(section_at(text, text.find("repo = 2").unwrap()), "route[1]");
        assert_eq!(line_of(text, text.find("repo = 2").unwrap()), 6);
    }

    #[test]
    fn a_key_is_set_aside_with_its_whole_value() {
        let text = "[a]\nx = [\n  \"]#\", # ]\n  [1],\n]\ny = 2\nw = { k = 1, bad = \"}\", z = 3 }\n";
        let out = without_key_at(text, text.find("x =").unwrap()).unwrap();
        assert_eq!((out.len(), out.lines().count()), (text.len(), text.lines().count()));
        assert_eq!(out.split_whitespace().collect::<Vec<_>>()[..4], ["[a]", "y", "=", "2"]);
        let out = without_key_at(text, text.find("bad").unwrap()).unwrap();
        assert!(out.ends_with(&format!("w = {{ k = 1,{}z = 3 }}\n", " ".repeat(12))), "{out}");
        let dotted = "[a]\nb.c = 1\n";
        assert_eq!(without_key_at(dotted, dotted.find('c').unwrap()).unwrap().trim(), "[a]");
    }
}
