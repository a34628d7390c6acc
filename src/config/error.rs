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
        write!(f, "key `{}`: {}", self.key, self.message)?;
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

    pub fn unreadable(file: &Path, err: &std::io::Error) -> Self {
        Self::new(file, None, "(file)", format!("cannot read the rules file: {err}"))
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
                    section = join(&section, &k);
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

/// The text with the line at `offset` blanked (and, for a table header, the whole table up to
/// the next header), keeping every byte offset and line number: so parsing can go on past one
/// bad key and report the next. `None` when nothing can be blanked.
pub fn without_line_at(text: &str, offset: usize) -> Option<String> {
    let offset = boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    if line.trim_start().starts_with('[') {
        // An unknown table: set aside with its lines, if every one is plain (up to the next header).
        let mut pos = end;
        while pos < text.len() {
            let next = pos + 1;
            let next_end = text[next..].find('\n').map_or(text.len(), |i| next + i);
            let l = &text[next..next_end];
            if l.trim_start().starts_with('[') {
                break;
            }
            let t = l.trim();
            if !(t.is_empty() || t.starts_with('#') || plain_line(l)) {
                return None;
            }
            pos = next_end;
        }
        end = pos;
    } else if !plain_line(line) {
        return None;
    }
    if text[start..end].trim().is_empty() {
        return None;
    }
    // Every character becomes as many spaces as it has bytes, so offsets and lines stay put.
    let blanked: String =
        text[start..end].chars().map(|c| if c == '\n' { "\n".to_string() } else { " ".repeat(c.len_utf8()) }).collect();
    Some(format!("{}{}{}", &text[..start], blanked, &text[end..]))
}

/// A `key = value` line complete on its own: no inline table, no value going on over several
/// lines. Only such lines are set aside (anything else could leave false errors behind).
fn plain_line(line: &str) -> bool {
    let balanced = |open: char, close: char| line.matches(open).count() == line.matches(close).count();
    line.contains('=')
        && !line.trim_start().starts_with('[')
        && !line.contains('{')
        && balanced('[', ']')
        && !line.contains("\"\"\"")
        && !line.contains("'''")
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
}
