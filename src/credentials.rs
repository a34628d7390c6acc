//! Reading credentials from where the rules say they are: an environment variable, a file, or
//! a systemd credential (`$CREDENTIALS_DIRECTORY`), and the GitHub App's private key file.
//! The values become the clients' `Secret`, `GithubCredential` and `ZendeskCredential`; every
//! message says which rules key, variable or file to fix, and never holds the value.

use std::path::{Path, PathBuf};

use ticket_sync_clients::secret::{AppKey, GithubCredential, Secret, ZendeskCredential};
use ticket_sync_core::rules::{AppRules, GithubAuth, KeySource, OAuthRules, TokenSource, ZendeskAuth};

/// Why a token could not be read; says which key or variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{service} {what}: {reason}")]
pub struct TokenError {
    pub service: &'static str,
    /// `token`, or `App key`.
    pub what: &'static str,
    pub reason: String,
}

/// Reads a token from its source. The whitespace around it (a file's trailing newline, CRLF)
/// and a leading byte-order mark are dropped.
fn load(service: &'static str, source: &TokenSource) -> Result<Secret, TokenError> {
    let keys = (format!("{service}.token_env"), format!("{service}.token_file"));
    load_named(service, "token", source, (&keys.0, &keys.1))
}

/// Reads a secret from its source; messages name `keys` (the `_env` and `_file` keys).
fn load_named(
    service: &'static str,
    what: &'static str,
    source: &TokenSource,
    keys: (&str, &str),
) -> Result<Secret, TokenError> {
    read_required(source, keys).map_err(|reason| TokenError { service, what, reason })
}

/// A secret that must be found: `read_source`, with a default that finds nothing an error that
/// says every way to give it.
pub fn read_required(source: &TokenSource, keys: (&str, &str)) -> Result<Secret, String> {
    match read_source(source, keys)? {
        Some(secret) => Ok(secret),
        None => {
            let TokenSource::Default { env, credential } = source else { unreachable!("only a default finds nothing") };
            Err(format!(
                "none found: set {env}, or set {} / {} in the rules file, or pass a systemd credential named \
                 {credential} (LoadCredential={credential}:...)",
                keys.0, keys.1
            ))
        }
    }
}

/// A secret from its source: the variable or file the rules name (which must be readable), or
/// the default variable and then the systemd credential; `None` when the default finds
/// neither. The error says what to fix, naming `keys` (the `_env` and `_file` keys).
fn read_source(source: &TokenSource, keys: (&str, &str)) -> Result<Option<Secret>, String> {
    match source {
        TokenSource::Env { var, credential } => from_env(var).map(Some).ok_or_else(|| {
            format!(
                "environment variable {var} (named by {}) is not set or empty; to use the systemd credential \
                 {credential} instead (LoadCredential={credential}:...), remove {} from the rules file",
                keys.0, keys.0
            )
        }),
        TokenSource::File(path) => {
            from_file(path).map(Some).map_err(|e| format!("cannot read {} (named by {}): {e}", path.display(), keys.1))
        }
        TokenSource::Default { env, credential } => {
            if let Some(s) = from_env(env) {
                return Ok(Some(s));
            }
            match credential_path(credential) {
                Some(path) if path.exists() => from_file(&path)
                    .map(Some)
                    .map_err(|e| format!("cannot read systemd credential {}: {e}", path.display())),
                _ => Ok(None),
            }
        }
    }
}

/// Where a secret was read from, for messages that must say which one to fix (never the value).
fn describe_source(source: &TokenSource, keys: (&str, &str)) -> String {
    match source {
        TokenSource::Env { var, .. } => format!("environment variable {var} ({})", keys.0),
        TokenSource::File(path) => format!("file {} ({})", path.display(), keys.1),
        TokenSource::Default { env, credential } => match from_env(env) {
            Some(_) => format!("environment variable {env}"),
            None => format!("systemd credential {credential}"),
        },
    }
}

fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var).ok().map(|v| bare(&v).to_string()).filter(|v| !v.is_empty()).map(Secret::new)
}

/// A secret as written, without the whitespace around it or the byte-order mark an editor
/// may put first (Windows Notepad does): `str::trim` keeps U+FEFF, which is no whitespace.
fn bare(text: &str) -> &str {
    text.trim().trim_start_matches('\u{feff}').trim()
}

fn from_file(path: &Path) -> std::io::Result<Secret> {
    // A token or secret is a line; a far larger file is not one, and is not read whole.
    let Some(raw) = read_at_most(path, MAX_SECRET_BYTES)? else {
        let what = format!("it is larger than {MAX_SECRET_BYTES} bytes: not a token or secret");
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, what));
    };
    let text = String::from_utf8(raw)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text (UTF-8)"))?;
    let value = bare(&text).to_string();
    if value.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"));
    }
    Ok(Secret::new(value))
}

/// The bytes of the regular file `path` when it holds at most `max`; `None` when it holds more
/// (it is not read whole). A FIFO or a device is refused before it is opened: reading it would
/// block `check` and the start for ever.
fn read_at_most(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    regular_file(path)?;
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, max + 1), &mut raw)?;
    Ok((raw.len() as u64 <= max).then_some(raw))
}

/// The most of a token or secret file read (a JWT-style access token is a few KiB).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// `Ok` when `path` (followed through symlinks, as a systemd credential is one) is a regular
/// file; a directory, FIFO, socket or device is refused before it is opened.
fn regular_file(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() { "a directory" } else { "not a regular file (a FIFO, socket or device)" };
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {kind}")))
}

fn credential_path(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(dir).join(name))
}

/// The most of a key file read (a PEM RSA key of 16384 bits is under 13 KB).
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Reads and checks the App's private key: present, readable by this user only (not by every
/// user of the host), an RSA key in PEM form, and able to sign. Nothing is sent anywhere.
fn load_app_key(rules: &AppRules) -> Result<AppKey, TokenError> {
    let fail = |reason: String| TokenError { service: "github", what: "App key", reason };
    let (path, named) = match &rules.key {
        KeySource::File(path) => (path.clone(), "named by github.private_key_file".to_string()),
        KeySource::Credential(name) => match credential_path(name).filter(|p| p.exists()) {
            Some(path) => (path, format!("the systemd credential {name}")),
            None => {
                return Err(fail(format!(
                    "no GitHub App private key found: set github.private_key_file in the rules file, or pass a \
                     systemd credential named {name} (LoadCredential={name}:/etc/ticket-sync/github-app.pem)"
                )))
            }
        },
    };
    let shown = path.display();
    let meta = std::fs::metadata(&path).map_err(|e| fail(format!("cannot read {shown} ({named}): {e}")))?;
    if meta.is_dir() {
        return Err(fail(format!("{shown} ({named}) is a directory, not a file: name the App's .pem file itself")));
    }
    if !meta.is_file() {
        // A FIFO would block the read below (and `check`, and the start) for ever.
        return Err(fail(format!(
            "{shown} ({named}) is not a regular file (a FIFO, socket or device): name the App's .pem file itself"
        )));
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            return Err(fail(format!(
                "{shown} ({named}) can be read by every user of this host (mode {mode:03o}): it is the App's private \
                 key; run `chmod 600 {shown}` and give it to the service's user, or pass it as a systemd credential"
            )));
        }
    }
    // A 4096-bit key's PEM is about 3 KB: a far larger file is not one, and is not read whole.
    let pem = read_at_most(&path, MAX_KEY_BYTES)
        .map_err(|e| fail(format!("cannot read {shown} ({named}): {e}")))?
        .ok_or_else(|| {
            fail(format!(
                "{shown} ({named}) is too large for a private key (over {MAX_KEY_BYTES} bytes): name the .pem \
                 file GitHub lets you download"
            ))
        })?;
    let not_rsa = || {
        fail(format!(
            "{shown} ({named}) is not an RSA private key in PEM form: use the .pem file GitHub lets you download \
             under the App's settings, Private keys (it begins with -----BEGIN RSA PRIVATE KEY-----)"
        ))
    };
    AppKey::from_pem(rules.app_id, rules.installation_id, &pem).ok_or_else(not_rsa)
}

/// Reads the GitHub credential the rules name.
pub fn load_github(auth: &GithubAuth) -> Result<GithubCredential, TokenError> {
    match auth {
        GithubAuth::Token(source) => Ok(GithubCredential::Token(load("github", source)?)),
        GithubAuth::App(app) => Ok(GithubCredential::App(std::sync::Arc::new(load_app_key(app)?))),
    }
}

/// What `check` and the daemon's start say once when Zendesk is reached with an API token.
pub const API_TOKEN_SUNSET: &str = "API tokens stop working on 2027-04-30 (Zendesk retires them; none can be created \
     since 2026-10-27): switch to an OAuth client — create one in Admin Center → Apps and integrations → APIs → \
     OAuth clients (kind confidential), then set zendesk.client_id and give its secret (ZENDESK_CLIENT_SECRET, \
     client_secret_file, or the systemd credential zendesk-client-secret) in place of email and the token; \
     docs/zendesk.md shows each step";

/// Reads the Zendesk credential the rules name.
pub fn load_zendesk(auth: &ZendeskAuth) -> Result<ZendeskCredential, TokenError> {
    match auth {
        ZendeskAuth::ApiToken { email, token } => Ok(ZendeskCredential::api_token(email, load("zendesk", token)?)),
        ZendeskAuth::OAuth(OAuthRules { client_id, secret, scopes }) => {
            let keys = ("zendesk.client_secret_env", "zendesk.client_secret_file");
            let value = load_named("zendesk", "OAuth client secret", secret, keys)?;
            Ok(ZendeskCredential::oauth(client_id, value, scopes.clone(), &describe_source(secret, keys)))
        }
    }
}

/// Reads both services' credentials the rules name; a missing one is a configuration error.
pub fn load_tokens(
    rules: &ticket_sync_core::rules::Rules,
) -> Result<(ZendeskCredential, GithubCredential), TokenError> {
    Ok((load_zendesk(&rules.zendesk.auth)?, load_github(&rules.github.auth)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(load("github", &TokenSource::File(p.clone())).unwrap().expose(), "abc");
        // Saved by Windows Notepad: a byte-order mark, CRLF, trailing spaces.
        std::fs::write(&p, "\u{feff}zd-client-secret \r\n\r\n").unwrap();
        assert_eq!(load("zendesk", &TokenSource::File(p.clone())).unwrap().expose(), "zd-client-secret");
        std::fs::write(&p, "\u{feff}\r\n").unwrap();
        assert!(load("zendesk", &TokenSource::File(p.clone())).unwrap_err().to_string().contains("empty"));
        std::fs::write(&p, "\n").unwrap();
        let err = load("github", &TokenSource::File(p.clone())).unwrap_err().to_string();
        assert!(err.contains("github.token_file"), "{err}");
        std::fs::write(&p, "x".repeat(100_000)).unwrap();
        let err = load("github", &TokenSource::File(p)).unwrap_err().to_string();
        assert!(err.contains("larger than 65536 bytes"), "{err}");
        let none = TokenSource::Default { env: "TS_UNSET_SECRET_VAR".into(), credential: "no-such".into() };
        let keys = ("zendesk.client_secret_env", "zendesk.client_secret_file");
        let err = load_named("zendesk", "OAuth client secret", &none, keys).unwrap_err().to_string();
        assert!(err.starts_with("zendesk OAuth client secret: none found: set TS_UNSET_SECRET_VAR"), "{err}");
        assert!(err.contains("zendesk.client_secret_env / zendesk.client_secret_file"), "{err}");
        assert!(err.contains("LoadCredential=no-such:"), "{err}");
    }

    const KEY: &str = include_str!("../crates/sandbox/src/keys/app-test-key.pem");
    const KEY_PKCS8: &str = include_str!("../crates/sandbox/src/keys/app-test-key.pkcs8.pem");
    const EC_KEY: &str = include_str!("../crates/sandbox/src/keys/ec-key.pem");

    fn key_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn app(path: PathBuf) -> AppRules {
        AppRules { app_id: 4242, key: KeySource::File(path), installation_id: None }
    }

    #[test]
    fn an_app_key_file_loads_in_either_pem_form() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [("pkcs1.pem", KEY), ("pkcs8.pem", KEY_PKCS8)] {
            let key = load_app_key(&app(key_file(dir.path(), name, pem, 0o600))).unwrap();
            assert_eq!(key.app_id, 4242, "{name}");
            assert!(!format!("{key:?}").contains("BEGIN"), "Debug shows no key");
        }
    }

    #[test]
    fn a_bad_app_key_is_a_clear_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases: Vec<(AppRules, &str)> = vec![
            (app(d.join("missing.pem")), "cannot read"),
            (app(key_file(d, "open.pem", KEY, 0o644)), "can be read by every user"),
            (app(key_file(d, "ec.pem", EC_KEY, 0o600)), "not an RSA private key"),
            (app(key_file(d, "junk.pem", "not a key at all\n", 0o600)), "not an RSA private key"),
            (app(key_file(d, "token.pem", "ghp_0123456789abcdef\n", 0o600)), "not an RSA private key"),
            (
                AppRules { key: KeySource::Credential("no-such-credential".into()), ..app(d.join("x")) },
                "LoadCredential=",
            ),
        ];
        for (rules, says) in cases {
            let err = load_app_key(&rules).unwrap_err().to_string();
            assert!(err.contains(says), "{rules:?}: {err}");
            assert!(err.starts_with("github App key: "), "{err}");
            assert!(!err.contains("MII"), "no key material in {err}");
        }
        // A directory, an empty file, a huge file, a symlink to the key: each a clear answer,
        // and a huge file is not read whole.
        let dir = d.join("keys.d");
        std::fs::create_dir(&dir).unwrap();
        for mode in [0o700, 0o755] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_app_key(&app(dir.clone())).unwrap_err().to_string();
            assert!(err.contains("is a directory, not a file"), "{mode:o}: {err}");
        }
        let err = load_app_key(&app(key_file(d, "empty.pem", "", 0o600))).unwrap_err().to_string();
        assert!(err.contains("not an RSA private key"), "{err}");
        let huge = key_file(d, "huge.pem", &format!("{KEY}{}", "x".repeat(2 << 20)), 0o600);
        let err = load_app_key(&app(huge)).unwrap_err().to_string();
        assert!(err.contains("too large for a private key"), "{err}");
        // Saved on Windows (CRLF), or with a byte-order mark and blank lines around it.
        let crlf = key_file(d, "crlf.pem", &KEY.replace('\n', "\r\n"), 0o600);
        assert!(load_app_key(&app(crlf)).is_ok(), "a key with CRLF line ends");
        let bom = key_file(d, "bom.pem", &format!("\u{feff}\n\n{KEY}\n\n"), 0o600);
        assert!(load_app_key(&app(bom)).is_ok(), "a key with a byte-order mark and blank lines");
        // A FIFO (or any non-regular file) is refused before it is opened: opening it would block.
        let fifo = d.join("fifo.pem");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
        if made {
            let err = load_app_key(&app(fifo.clone())).unwrap_err().to_string();
            assert!(err.contains("not a regular file"), "{err}");
            let err = load("github", &TokenSource::File(fifo)).unwrap_err().to_string();
            assert!(err.contains("not a regular file"), "{err}");
        }
        let link = d.join("link.pem");
        std::os::unix::fs::symlink(key_file(d, "target.pem", KEY, 0o600), &link).unwrap();
        assert!(load_app_key(&app(link)).is_ok(), "a symlink to a good key (a systemd credential is one)");
        // Root reads any file whatever its mode; an unreadable file is tested where it can be.
        let unreadable = key_file(d, "locked.pem", KEY, 0o000);
        if std::fs::read(&unreadable).is_err() {
            assert!(load_app_key(&app(unreadable)).unwrap_err().to_string().contains("cannot read"));
        }
    }
}
