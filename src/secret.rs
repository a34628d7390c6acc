//! API tokens: where they are read from, a wrapper that never prints its value, and the
//! process-wide list of known secrets scrubbed from every remote answer (a proxy or WAF page
//! may reflect the `Authorization` header).

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::Engine as _;

use crate::config::TokenSource;

/// A token. `Debug` and `Display` print `***`, so a token cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A token; its value (and base64 forms) is scrubbed from remote text from now on.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
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

pub(crate) fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(Secret::new)
}

pub(crate) fn from_file(path: &Path) -> std::io::Result<Secret> {
    let text = std::fs::read_to_string(path)?;
    let value = text.trim().to_string();
    if value.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"));
    }
    Ok(Secret::new(value))
}

pub(crate) fn credential_path(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(dir).join(name))
}

/// Secrets known to this process, longest first, each with its base64 forms.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Values shorter than this are not scrubbed: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// Adds `value` and its base64 forms (standard and URL-safe, padded or not) to the secrets
/// scrubbed from remote text. Credentials built from a token (Zendesk's `email/token:TOKEN`)
/// are registered by the client that builds them.
pub fn register(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let forms = [
        value.to_string(),
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE.encode(value),
        URL_SAFE_NO_PAD.encode(value),
    ];
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so a padded form is replaced whole before its unpadded prefix.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every known secret replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

/// `body` with every known secret replaced by `***`; an answer without one is not copied.
pub fn scrub_bytes(body: bytes::Bytes) -> bytes::Bytes {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|s| memchr::memmem::find(&body, s.as_bytes()).is_some()) {
        return body;
    }
    let mut out = body.to_vec();
    for secret in known.iter() {
        let finder = memchr::memmem::Finder::new(secret.as_bytes());
        let mut next = Vec::with_capacity(out.len());
        let mut rest: &[u8] = &out;
        while let Some(at) = finder.find(rest) {
            next.extend_from_slice(&rest[..at]);
            next.extend_from_slice(b"***");
            rest = &rest[at + secret.len()..];
        }
        next.extend_from_slice(rest);
        out = next;
    }
    bytes::Bytes::from(out)
}

/// Reads both tokens the rules name; a missing token is a configuration error.
pub fn load_tokens(rules: &crate::config::Rules) -> Result<(Secret, Secret), TokenError> {
    Ok((load("zendesk", &rules.zendesk.token)?, load("github", &rules.github.token)?))
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
    fn known_secrets_and_their_base64_forms_are_scrubbed() {
        let basic = "bot@example.test/token:zd_scrub_me_0123";
        register(basic);
        let _ = Secret::new("ghp_scrub_me_4567");
        let b64 = base64::engine::general_purpose::STANDARD.encode(basic);
        let text = format!("echo: Bearer ghp_scrub_me_4567 / Basic {b64} / short abc");
        assert_eq!(scrub(&text), "echo: Bearer *** / Basic *** / short abc");
        let mut raw = format!("{{\"e\":\"{b64}\"}}").into_bytes();
        raw.push(0xff);
        let body = bytes::Bytes::from(raw);
        assert_eq!(&scrub_bytes(body)[..], b"{\"e\":\"***\"}\xff");
        assert_eq!(scrub("nothing secret"), "nothing secret");
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
