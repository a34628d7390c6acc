//! The rules file (`sync-rules.toml`): loading, validation, and the validated types the rest of the code uses.
//!
//! Parsing happens in two steps: `raw` turns TOML into spanned serde types, then `validate`
//! turns those into `Rules`, so every error can name the key and the line it sits on.

mod error;
mod raw;
#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod sample;
mod validate;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
use ticket_sync_core::rules::Rules;

/// Which rules file to use: `--config`, then `TICKET_SYNC_CONFIG`, then `./sync-rules.toml`.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("TICKET_SYNC_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("sync-rules.toml"),
    }
}

/// Reads and validates a rules file.
pub fn load(path: &Path) -> Result<Rules, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(path, &e))?;
    parse(path, &text)
}

/// Validates rules-file text; `path` is used for messages and to resolve relative paths.
/// Every error is reported, not only the first (as cargo does): a key the file cannot have
/// (unknown, or of the wrong type) is set aside and the file read again, up to
/// `MAX_REPORTED` errors; then each table's values are checked.
pub fn parse(path: &Path, text: &str) -> Result<Rules, ConfigError> {
    const MAX_REPORTED: usize = 50;
    let mut errors = Vec::new();
    let mut work = text.to_string();
    let raw = loop {
        match toml::from_str::<raw::RawRules>(&work) {
            Ok(raw) => break Some(raw),
            Err(e) => {
                errors.push(ConfigError::from_toml(path, &work, &e));
                // Only an unknown key or table can be set aside, with its whole value however many
                // lines it takes (a missing or mistyped key would leave a false "missing" behind):
                // otherwise stop there.
                let one_key = e.message().starts_with("unknown field");
                let next = e.span().filter(|_| one_key).and_then(|span| error::without_key_at(&work, span.start));
                match next {
                    Some(next) if errors.len() < MAX_REPORTED => work = next,
                    _ => break None,
                }
            }
        }
    };
    match raw {
        Some(raw) if errors.is_empty() => validate::validate(path, text, raw),
        Some(raw) => {
            // Check the rest too; report everything found.
            if let Err(e) = validate::validate(path, text, raw) {
                errors.push(ConfigError { more: Vec::new(), ..e.clone() });
                errors.extend(e.more);
            }
            Err(ConfigError::all(errors).expect("at least one error"))
        }
        None => Err(ConfigError::all(errors).expect("at least one error")),
    }
}
