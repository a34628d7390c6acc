//! How the Zendesk client proves who it is: an OAuth client's access tokens (the default), or
//! an API token (Basic auth, until Zendesk switches API tokens off on 2027-04-30).
//!
//! FACTS (Zendesk developer docs, "OAuth Tokens for Grant Types" and "Migrating from API tokens
//! to OAuth access tokens"; see docs/design.md, "Known assumptions", for what stays unverified):
//! - `POST {url}/oauth/tokens` with `grant_type=client_credentials`, `client_id`,
//!   `client_secret` and `scope` (space-separated) gives an access token for a confidential
//!   client: `{access_token, token_type: "bearer", scope, expires_in?}`. It is sent as
//!   `Authorization: Bearer …`.
//! - `expires_in` may be asked for in the request (more than 300 s, less than 172,800 s); an
//!   answer may omit it (clients with enforced lifetimes, NangoHQ/nango#6775), and the default
//!   life is 30 minutes. Only the answer's `expires_in` is relied on, on Zendesk's clock (its
//!   `Date` header). Client credentials give no refresh token: a token is minted anew.
//! - A client-credentials token acts as the admin who created the OAuth client:
//!   `GET /api/v2/users/me` names that user, and notes written with it are theirs.
//! - An expired or revoked token answers `401 {"error":"invalid_token",…}`.
//! - ASSUMED (no capture found; searched as for the sandbox's `oauth`): a wrong client or secret
//!   answers `401 {"error":"invalid_client","error_description":…}` (RFC 6749 as the rack-oauth2
//!   gem words it); other refusals of the token endpoint `400` with `invalid_scope`,
//!   `unsupported_grant_type`, … Whatever the status, a body with `error` is taken as a refused
//!   client, so the status does not change what the daemon does.
//!
//! Tokens live in memory only (never the database, the logs or `status`), are minted anew a
//! while before they expire (at most one refused token per renewal), and once more on a 401
//! before the request counts as failed: a 401 carried nothing out, so a write is safe to resend.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use reqwest::header::HeaderValue;

use crate::secret::{self, OAuthClient, Secret, ZendeskCredential};

/// A token is minted again this long before it expires (Zendesk's clock), so no request starts
/// with a token about to lapse.
pub const RENEW_BEFORE_SECS: i64 = 300;
/// The life asked for an access token: an hour (Zendesk takes more than 300 s and less than
/// 172,800 s). A token is minted at each start and each reload, so a long life would leave
/// live tokens behind every restart.
pub const ASKED_LIFE_SECS: i64 = 3600;
/// The life taken when an answer gives no `expires_in`: Zendesk's default for clients with
/// enforced lifetimes (30 minutes). FACTS (zendesk/zcli `fetchClientCredentialsToken`, Zendesk's
/// own client: a missing `expires_in` is taken as 1800). A token that would in fact live
/// longer is only minted again sooner than needed.
const DEFAULT_LIFE_SECS: i64 = 1800;
/// The longest life Zendesk gives an access token (48 hours, `expires_in` less than 172,800 s):
/// an answer that says more is not believed (and no date arithmetic overflows on it).
const MAX_LIFE_SECS: i64 = 172_800;

/// `Basic …` or `Bearer …`, marked sensitive (never printed by the HTTP stack's own debugging).
fn sensitive(value: &str) -> HeaderValue {
    let mut header =
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token-characters"));
    header.set_sensitive(true);
    header
}

pub(super) enum Auth {
    /// `Authorization: Basic base64("{email}/token:{token}")`.
    Basic(HeaderValue),
    OAuth(Arc<OAuthSession>),
}

impl Auth {
    pub fn new(credential: &ZendeskCredential) -> Auth {
        match credential {
            ZendeskCredential::ApiToken { email, token } => {
                use base64::Engine as _;
                let raw = format!("{email}/token:{}", token.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                Auth::Basic(sensitive(&format!("Basic {encoded}")))
            }
            ZendeskCredential::OAuth(client) => Auth::OAuth(Arc::new(OAuthSession::new(client.clone()))),
        }
    }
}

/// An access token Zendesk gave, with when to mint the next.
struct Minted {
    token: Secret,
    header: HeaderValue,
    renew_at: DateTime<Utc>,
}

/// What the last mint granted, for `check --online`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub scopes: Vec<String>,
    pub expires_in: Option<i64>,
}

/// The OAuth client's state in one Zendesk client: the token held, one mint at a time.
pub(super) struct OAuthSession {
    pub client: Arc<OAuthClient>,
    held: Mutex<Option<Minted>>,
    granted: Mutex<Option<Grant>>,
    /// Requests that find no usable token wait for the one being minted.
    pub minting: tokio::sync::Mutex<()>,
}

impl OAuthSession {
    fn new(client: Arc<OAuthClient>) -> OAuthSession {
        OAuthSession { client, held: Mutex::new(None), granted: Mutex::new(None), minting: tokio::sync::Mutex::new(()) }
    }

    /// The held token, unless it is due to be renewed at Zendesk's clock `now`.
    pub fn token(&self, now: DateTime<Utc>) -> Option<HeaderValue> {
        let held = self.held.lock().unwrap();
        let minted = held.as_ref()?;
        (minted.renew_at > now).then(|| minted.header.clone())
    }

    /// Keeps a token minted at Zendesk's clock `now` that lives `expires_in` seconds (if said).
    pub fn store(
        &self,
        token: Secret,
        expires_in: Option<i64>,
        scope: Option<&str>,
        now: DateTime<Utc>,
    ) -> HeaderValue {
        let header = sensitive(&format!("Bearer {}", token.expose()));
        let life = expires_in.unwrap_or(DEFAULT_LIFE_SECS).clamp(0, MAX_LIFE_SECS);
        // Renewed five minutes before it lapses, or half way through a shorter life: never a
        // mint a request, never a request with a token about to lapse.
        let renew_at = now + ChronoDuration::seconds(life - RENEW_BEFORE_SECS.min(life / 2));
        let old = self.held.lock().unwrap().replace(Minted { token, header: header.clone(), renew_at });
        // A server may give the same token again: the one kept is never forgotten.
        if let Some(old) = old.filter(|old| old.header != header) {
            secret::forget(old.token.expose());
        }
        let scopes = scope.map_or_else(Vec::new, |s| s.split_whitespace().map(str::to_string).collect());
        *self.granted.lock().unwrap() = Some(Grant { scopes, expires_in });
        header
    }

    /// Drops a held token that is due to be renewed at Zendesk's clock `now`, before the mint
    /// that replaces it, and stops scrubbing it: a server that gives the same token again must
    /// be read as it is, not as the `***` the scrubber would make of a known secret. Nothing
    /// sends a token once it is due.
    pub fn drop_due(&self, now: DateTime<Utc>) {
        let mut held = self.held.lock().unwrap();
        if held.as_ref().is_some_and(|m| m.renew_at <= now) {
            if let Some(old) = held.take() {
                secret::forget(old.token.expose());
            }
        }
    }

    /// Drops the held token if it is still the one `refused` (Zendesk answered 401 to it);
    /// another request may have minted a new one meanwhile.
    pub fn drop_token(&self, refused: &HeaderValue) {
        let mut held = self.held.lock().unwrap();
        if held.as_ref().is_some_and(|m| m.header == *refused) {
            if let Some(old) = held.take() {
                secret::forget(old.token.expose());
            }
        }
    }

    pub fn granted(&self) -> Option<Grant> {
        self.granted.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> OAuthSession {
        let ZendeskCredential::OAuth(client) =
            ZendeskCredential::oauth("ticket_sync", Secret::new("zd_client_secret_x"), vec![], "test")
        else {
            unreachable!()
        };
        OAuthSession::new(client)
    }

    #[test]
    fn a_token_is_renewed_before_it_lapses_and_never_on_every_request() {
        let s = session();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |secs| t0 + ChronoDuration::seconds(secs);
        s.store(Secret::new("zd_access_hour_A"), Some(3600), Some("tickets:read users:read"), t0);
        assert!(s.token(at(3299)).is_some(), "held until five minutes before it expires");
        assert!(s.token(at(3300)).is_none());
        assert_eq!(s.granted().unwrap().scopes, ["tickets:read", "users:read"]);
        // A token that lives twenty seconds is renewed half way, not at once.
        s.store(Secret::new("zd_access_short_B"), Some(20), None, t0);
        assert!(s.token(at(9)).is_some() && s.token(at(10)).is_none());
        // No `expires_in`: Zendesk's default life of 30 minutes, as zcli takes it.
        s.store(Secret::new("zd_access_default_C"), None, None, t0);
        assert!(s.token(at(1499)).is_some() && s.token(at(1500)).is_none());
        // A 401 drops the token only if it is still the one refused.
        let held = s.token(t0).unwrap();
        s.store(Secret::new("zd_access_newer_D"), Some(3600), None, t0);
        s.drop_token(&held);
        assert!(s.token(t0).is_some(), "a newer token stays");
        let newer = s.token(t0).unwrap();
        s.drop_token(&newer);
        assert!(s.token(t0).is_none());
        assert_eq!(secret::scrub("x zd_access_hour_A"), "x zd_access_hour_A", "a replaced token is forgotten");
    }

    #[test]
    fn an_absurd_life_is_cut_to_zendesks_longest_and_panics_nothing() {
        let s = session();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for life in [i64::MAX, 1_000_000_000_000_000, 172_800_000, i64::MIN] {
            s.store(Secret::new("zd_access_absurd_E"), Some(life), None, t0);
            assert!(s.token(t0 + ChronoDuration::seconds(MAX_LIFE_SECS)).is_none(), "{life}: renewed within 48 hours");
        }
    }

    #[test]
    fn a_token_given_again_stays_scrubbed() {
        let s = session();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        s.store(Secret::new("zd_access_reused_F"), Some(3600), None, t0);
        s.store(Secret::new("zd_access_reused_F"), Some(1800), None, t0);
        assert_eq!(secret::scrub("echo zd_access_reused_F"), "echo ***", "the token in use is still scrubbed");
        s.store(Secret::new("zd_access_after_G"), Some(3600), None, t0);
        assert_eq!(secret::scrub("echo zd_access_reused_F"), "echo zd_access_reused_F", "forgotten once replaced");
    }

    #[test]
    fn headers_are_sensitive() {
        let basic = Auth::new(&ZendeskCredential::api_token("a@b.example", Secret::new("zd_api_token_1")));
        let Auth::Basic(h) = basic else { panic!("basic") };
        assert!(h.is_sensitive() && h.to_str().unwrap().starts_with("Basic "));
    }
}
