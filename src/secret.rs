//! API tokens: where they are read from, and a wrapper that never prints its value.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::TokenSource;

/// A token. `Debug` and `Display` print `***`, so a token cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building an `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a token could not be read; says which key or variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{service} token: {reason}")]
pub struct TokenError {
    pub service: &'static str,
    pub reason: String,
}

/// Reads a token from its source. A file's trailing newline is dropped.
pub fn load(service: &'static str, source: &TokenSource) -> Result<Secret, TokenError> {
    let fail = |reason: String| TokenError { service, reason };
    match source {
        TokenSource::Env(var) => from_env(var).ok_or_else(|| {
            fail(format!("environment variable {var} (named by {service}.token_env) is not set or empty"))
        }),
        TokenSource::File(path) => from_file(path)
            .map_err(|e| fail(format!("cannot read {} (named by {service}.token_file): {e}", path.display()))),
        TokenSource::Default { env, credential } => {
            if let Some(s) = from_env(env) {
                return Ok(s);
            }
            if let Some(path) = credential_path(credential) {
                if path.exists() {
                    return from_file(&path)
                        .map_err(|e| fail(format!("cannot read systemd credential {}: {e}", path.display())));
                }
            }
            Err(fail(format!(
                "no token found: set {env}, or set {service}.token_env / {service}.token_file in the rules file, \
                 or pass a systemd credential named {credential} (LoadCredential={credential}:...)"
            )))
        }
    }
}

fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(Secret)
}

fn from_file(path: &Path) -> std::io::Result<Secret> {
    let text = std::fs::read_to_string(path)?;
    let value = text.trim().to_string();
    if value.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"));
    }
    Ok(Secret(value))
}

fn credential_path(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(dir).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("ghp_verysecret");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }

    #[test]
    fn token_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(load("github", &TokenSource::File(p.clone())).unwrap().expose(), "abc");
        std::fs::write(&p, "\n").unwrap();
        let err = load("github", &TokenSource::File(p)).unwrap_err().to_string();
        assert!(err.contains("github.token_file"), "{err}");
    }
}
