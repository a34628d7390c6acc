//! How the client proves who it is: a token, or a GitHub App. An App signs a JWT (RS256, its
//! private key) for its own endpoints (`/app…`, `GET /repos/{owner}/{repo}/installation`), and
//! acts on repositories with installation tokens: one per installation (organisation), minted
//! with the JWT, kept until a few minutes before their `expires_at`, and minted again once when
//! GitHub refuses one (401) before the request counts as failed.
//!
//! FACTS (GitHub's documentation, "Authenticating as a GitHub App" and "Generating an
//! installation access token"):
//! - A JWT may live at most 10 minutes (`exp`); GitHub advises an `iat` 60 s in the past for
//!   clock drift; `iss` is the App's id (or client id). The JWT works on the App's endpoints only.
//! - `POST /app/installations/{id}/access_tokens` answers 201 `{token, expires_at, …}`; tokens
//!   last an hour today, but only `expires_at` is relied on, and nothing on the token's length
//!   or form.
//! - `GET /repos/{owner}/{repo}/installation` (JWT) names the installation that covers a
//!   repository; 404 when the App is not installed there. One App is installed at most once per
//!   account, so the owner names the installation.
//! - Installation tokens are refused by `GET /user` (403 "Resource not accessible by
//!   integration"); the App's own identity is `GET /app`: the bot's login is `{slug}[bot]`.
//! - Each installation has its own rate limit (5,000 to 12,500 requests an hour), reported in
//!   the `x-ratelimit-*` headers of the answers made with its token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use reqwest::header::HeaderValue;

use crate::secret::{self, AppKey, GithubCredential, Secret};

/// An installation token is minted again this long before its `expires_at` (GitHub's clock),
/// so no request starts with a token about to lapse.
pub const RENEW_BEFORE_SECS: i64 = 300;
/// A JWT is signed again this long before its `exp`.
const JWT_RENEW_BEFORE_SECS: i64 = 60;

/// A credential ready to go into `Authorization`, and the installation it speaks for.
#[derive(Clone)]
pub(super) struct Credential {
    pub header: HeaderValue,
    pub installation: Option<u64>,
}

pub(super) enum Auth {
    Token(HeaderValue),
    App(Box<AppSession>),
}

impl Auth {
    pub fn new(credential: &GithubCredential) -> Auth {
        match credential {
            GithubCredential::Token(token) => Auth::Token(bearer(token)),
            GithubCredential::App(key) => Auth::App(Box::new(AppSession::new(key.clone()))),
        }
    }
}

/// `Bearer …`, marked sensitive (never printed by the HTTP stack's own debugging).
pub(super) fn bearer(secret: &Secret) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token-characters"));
    value.set_sensitive(true);
    value
}

/// A token GitHub gave for one installation.
struct Minted {
    token: Secret,
    header: HeaderValue,
    /// From here on the token is minted anew: `RENEW_BEFORE_SECS` before `expires_at`, or half
    /// way through its life if GitHub ever gives tokens that short (never one mint a request).
    renew_at: DateTime<Utc>,
}

/// The App's state in one client: its key, the installations found, the tokens minted.
pub(super) struct AppSession {
    pub key: Arc<AppKey>,
    jwt: Mutex<Option<(Secret, DateTime<Utc>)>>,
    /// Account (owner, lower case) → installation id, as `GET /repos/…/installation` said.
    installations: Mutex<HashMap<String, u64>>,
    /// `/repositories/{id}` → account, learned from the `/repos/{owner}/…` requests whose
    /// pagination links and redirects name a repository by id.
    aliases: Mutex<HashMap<u64, String>>,
    tokens: Mutex<HashMap<u64, Minted>>,
    /// One mint at a time: requests that find no token wait for the one being minted.
    pub minting: tokio::sync::Mutex<()>,
    /// One installation lookup at a time: requests for an organisation not yet known wait for
    /// the lookup under way instead of each asking GitHub.
    pub looking_up: tokio::sync::Mutex<()>,
}

impl AppSession {
    fn new(key: Arc<AppKey>) -> AppSession {
        AppSession {
            key,
            jwt: Mutex::new(None),
            installations: Mutex::new(HashMap::new()),
            aliases: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            minting: tokio::sync::Mutex::new(()),
            looking_up: tokio::sync::Mutex::new(()),
        }
    }

    /// A JWT valid for a while yet on GitHub's clock `now`; signed anew when the last is near
    /// its `exp`.
    pub fn jwt(&self, now: DateTime<Utc>) -> Result<HeaderValue, String> {
        let mut held = self.jwt.lock().unwrap();
        if let Some((jwt, exp)) = held.as_ref() {
            if *exp - ChronoDuration::seconds(JWT_RENEW_BEFORE_SECS) > now {
                return Ok(bearer(jwt));
            }
        }
        let (jwt, exp) = self.key.jwt(now)?;
        let header = bearer(&jwt);
        if let Some((old, _)) = held.replace((jwt, exp)) {
            secret::forget(old.expose());
        }
        Ok(header)
    }

    /// Drops the held JWT (GitHub refused it): the next one is signed anew.
    pub fn forget_jwt(&self) {
        if let Some((old, _)) = self.jwt.lock().unwrap().take() {
            secret::forget(old.expose());
        }
    }

    /// The installation of `owner`, when known: the rules' `installation_id`, else the one
    /// found earlier.
    pub fn installation_of(&self, owner: &str) -> Option<u64> {
        self.key.installation_id.or_else(|| self.installations.lock().unwrap().get(&owner.to_lowercase()).copied())
    }

    pub fn remember_installation(&self, owner: &str, id: u64) {
        self.installations.lock().unwrap().insert(owner.to_lowercase(), id);
    }

    /// Forgets installation `id` (GitHub no longer knows it: the App was uninstalled there);
    /// returns the accounts it was found for. Their next request looks the installation up
    /// again, so installing the App anew needs no restart.
    pub fn forget_installation(&self, id: u64) -> Vec<String> {
        let mut installations = self.installations.lock().unwrap();
        let mut owners: Vec<String> = installations.iter().filter(|(_, i)| **i == id).map(|(o, _)| o.clone()).collect();
        installations.retain(|_, i| *i != id);
        owners.sort();
        owners
    }

    /// The account a `/repositories/{id}` path belongs to, as learned.
    pub fn alias(&self, repository_id: u64) -> Option<String> {
        self.aliases.lock().unwrap().get(&repository_id).cloned()
    }

    pub fn remember_alias(&self, repository_id: u64, owner: &str) {
        self.aliases.lock().unwrap().insert(repository_id, owner.to_string());
    }

    /// The installations known so far (the configured one, or those found).
    pub fn known_installations(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.installations.lock().unwrap().values().copied().collect();
        ids.extend(self.key.installation_id);
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The held token of `installation`, unless it is due to be renewed at GitHub's clock `now`.
    pub fn token(&self, installation: u64, now: DateTime<Utc>) -> Option<Credential> {
        let tokens = self.tokens.lock().unwrap();
        let minted = tokens.get(&installation)?;
        (minted.renew_at > now).then(|| Credential { header: minted.header.clone(), installation: Some(installation) })
    }

    /// Keeps a token minted at GitHub's clock `now`.
    pub fn store_token(
        &self,
        installation: u64,
        token: Secret,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Credential {
        let header = bearer(&token);
        let margin = ChronoDuration::seconds(RENEW_BEFORE_SECS).min((expires_at - now) / 2);
        let renew_at = expires_at - margin.max(ChronoDuration::zero());
        let minted = Minted { token, header: header.clone(), renew_at };
        let old = self.tokens.lock().unwrap().insert(installation, minted);
        if let Some(old) = old {
            secret::forget(old.token.expose());
        }
        Credential { header, installation: Some(installation) }
    }

    /// Drops `installation`'s token if it is still the one `refused` (GitHub answered 401 to
    /// it); another request may have minted a new one meanwhile.
    pub fn drop_token(&self, installation: u64, refused: &HeaderValue) {
        let mut tokens = self.tokens.lock().unwrap();
        if tokens.get(&installation).is_some_and(|m| m.header == *refused) {
            if let Some(old) = tokens.remove(&installation) {
                secret::forget(old.token.expose());
            }
        }
    }
}

/// What credential a request to `path` (relative to the API's base) needs in App mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Needs {
    /// The App's own endpoints: a JWT.
    Jwt,
    /// A repository of this account: its installation's token.
    Account(String),
    /// A repository named by id (`/repositories/{id}/…`).
    RepositoryId(u64),
    /// Anything else (`/user`): no installation says; a JWT is refused there, as a token of
    /// no installation would be.
    Unscoped,
}

pub(super) fn needs(path: &str) -> Needs {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["app", ..] => Needs::Jwt,
        ["repos", _, _, "installation"] | ["orgs" | "users", _, "installation"] => Needs::Jwt,
        ["repos", owner, ..] if !owner.is_empty() => Needs::Account(owner.to_string()),
        ["repositories", id, ..] => id.parse().map_or(Needs::Unscoped, Needs::RepositoryId),
        _ => Needs::Unscoped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> AppSession {
        AppSession::new(Arc::new(AppKey::for_tests(1, None)))
    }

    #[test]
    fn a_token_is_renewed_before_it_lapses_and_never_on_every_request() {
        let app = session();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |secs| t0 + ChronoDuration::seconds(secs);
        app.store_token(7, Secret::new("ghs_hour_long_token_A"), at(3600), t0);
        assert!(app.token(7, at(3299)).is_some(), "held until five minutes before expires_at");
        assert!(app.token(7, at(3300)).is_none());
        // A token that lives two minutes is renewed half way, not at once.
        app.store_token(8, Secret::new("ghs_short_token_B"), at(120), t0);
        assert!(app.token(8, at(59)).is_some() && app.token(8, at(60)).is_none());
        // A 401 drops the token only if it is still the one refused.
        let held = app.token(7, t0).unwrap().header;
        app.store_token(7, Secret::new("ghs_newer_token_C"), at(3600), t0);
        app.drop_token(7, &held);
        assert!(app.token(7, t0).is_some(), "a newer token stays");
        let newer = app.token(7, t0).unwrap().header;
        app.drop_token(7, &newer);
        assert!(app.token(7, t0).is_none());
    }

    #[test]
    fn each_path_needs_its_credential() {
        assert_eq!(needs("/app"), Needs::Jwt);
        assert_eq!(needs("/app/installations/5/access_tokens"), Needs::Jwt);
        assert_eq!(needs("/repos/acme/x/installation"), Needs::Jwt);
        assert_eq!(needs("/orgs/acme/installation"), Needs::Jwt);
        assert_eq!(needs("/users/acme/installation"), Needs::Jwt);
        assert_eq!(needs("/repos/acme/x/issues/3"), Needs::Account("acme".into()));
        assert_eq!(needs("/repos/acme/installation/issues"), Needs::Account("acme".into()));
        assert_eq!(needs("/repositories/42/issues"), Needs::RepositoryId(42));
        assert_eq!(needs("/user"), Needs::Unscoped);
        assert_eq!(needs("/repositories/x/issues"), Needs::Unscoped);
    }
}
