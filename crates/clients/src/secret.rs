//! API tokens: where they are read from, a wrapper that never prints its value, and the
//! process-wide list of known secrets scrubbed from every remote answer (a proxy or WAF page
//! may reflect the `Authorization` header).

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

use base64::Engine as _;

use ticket_sync_core::clock;
use ticket_sync_core::domain::InstallationId;

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

/// Secrets known to this process, longest first, each with its base64 forms.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Values shorter than this are not scrubbed: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// `value` and its base64 forms (standard and URL-safe, padded or not): how a secret may come
/// back in a remote answer.
fn forms(value: &str) -> [String; 5] {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [
        value.to_string(),
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE.encode(value),
        URL_SAFE_NO_PAD.encode(value),
    ]
}

/// Adds `value` and its base64 forms (standard and URL-safe, padded or not) to the secrets
/// scrubbed from remote text. Credentials built from a token (Zendesk's `email/token:TOKEN`)
/// are registered by the client that builds them.
pub fn register(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for form in forms(value) {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so a padded form is replaced whole before its unpadded prefix.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Stops scrubbing `value` (and its forms): a short-lived token that has been replaced. Without
/// this, a daemon minting a token an hour would scrub a list that grows for ever.
pub fn forget(value: &str) {
    let forms = forms(value);
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    known.retain(|k| !forms.contains(k));
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

/// How ticket-sync proves who it is to GitHub.
#[derive(Clone)]
pub enum GithubCredential {
    Token(Secret),
    App(std::sync::Arc<AppKey>),
}

impl fmt::Debug for GithubCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GithubCredential::Token(_) => f.write_str("GithubCredential::Token(***)"),
            GithubCredential::App(key) => write!(f, "GithubCredential::App(app_id {})", key.app_id),
        }
    }
}

impl GithubCredential {
    /// Names the identity without revealing a secret: a token's hash, or the App's id (every
    /// key of one App acts as the same `slug[bot]`).
    pub fn identity_id(&self) -> String {
        use sha2::Digest;
        let named = match self {
            GithubCredential::Token(t) => t.expose().to_string(),
            GithubCredential::App(key) => format!("github-app:{}", key.app_id),
        };
        let digest = sha2::Sha256::digest(named.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// A GitHub App's id and private key, checked when read. `Debug` never shows the key.
pub struct AppKey {
    pub app_id: u64,
    /// `installation_id` from the rules: the one installation to use.
    pub installation_id: Option<InstallationId>,
    key: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

/// How far back a JWT's `iat` is put, for clocks that disagree (GitHub's advice).
const JWT_BACKDATE_SECS: i64 = 60;
/// A JWT's life from `iat`: GitHub refuses an `exp` more than 10 minutes ahead of its clock,
/// so `exp` is 9 minutes after `now` (10 after the backdated `iat`).
const JWT_LIFE_SECS: i64 = 600;

impl AppKey {
    /// A JWT (RS256) for the App's own endpoints, valid from a minute before `now` for ten
    /// minutes. `now` should be GitHub's clock where it is known. Returns it with its `exp`.
    pub fn jwt(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(Secret, chrono::DateTime<chrono::Utc>), String> {
        #[derive(serde::Serialize)]
        struct Claims {
            iat: i64,
            exp: i64,
            iss: String,
        }
        let iat = now.timestamp() - JWT_BACKDATE_SECS;
        let exp = iat + JWT_LIFE_SECS;
        let claims = Claims { iat, exp, iss: self.app_id.to_string() };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        // The error says what failed, never the key.
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("the App's key could not sign a JWT ({:?})", e.kind()))?;
        let exp = chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now);
        Ok((Secret::new(jwt), exp))
    }
}

impl AppKey {
    /// The App's key from its PEM text, checked by signing once (nothing is sent anywhere);
    /// `None` when the text is not an RSA private key that can sign. Reading the file, and
    /// saying which file to fix, is the product's (`credentials.rs`).
    pub fn from_pem(app_id: u64, installation_id: Option<InstallationId>, pem: &[u8]) -> Option<AppKey> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem).ok()?;
        let key = AppKey { app_id, installation_id, key };
        // The PEM parser checks the form; signing once checks the key itself.
        let (probe, _) = key.jwt(clock::now()).ok()?;
        forget(probe.expose());
        Some(key)
    }

    /// The sandbox's test key (`crates/sandbox/src/keys/`), for unit tests of what holds a key.
    #[cfg(test)]
    pub fn for_tests(app_id: u64, installation_id: Option<InstallationId>) -> AppKey {
        let pem = include_bytes!("../../sandbox/src/keys/app-test-key.pem");
        AppKey::from_pem(app_id, installation_id, pem).expect("test key")
    }
}

/// How ticket-sync proves who it is to Zendesk.
#[derive(Clone)]
pub enum ZendeskCredential {
    /// An OAuth client: access tokens come from `POST /oauth/tokens` (client credentials).
    OAuth(std::sync::Arc<OAuthClient>),
    /// An API token of the agent `email` (Basic auth; ends on 2027-04-30).
    ApiToken { email: String, token: Secret },
}

/// An OAuth client's id, secret and scopes. `Debug` never shows the secret.
pub struct OAuthClient {
    pub client_id: String,
    pub secret: Secret,
    pub scopes: Vec<String>,
    /// Where the secret was read from (`environment variable …`, `systemd credential …`), for
    /// the message that says which one to fix when Zendesk refuses the client.
    pub secret_source: String,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.client_id).field("scopes", &self.scopes).finish()
    }
}

impl fmt::Debug for ZendeskCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZendeskCredential::OAuth(c) => write!(f, "ZendeskCredential::OAuth(client_id {})", c.client_id),
            ZendeskCredential::ApiToken { email, .. } => write!(f, "ZendeskCredential::ApiToken({email}, ***)"),
        }
    }
}

impl ZendeskCredential {
    /// An API token for `email` (the sandbox and older set-ups).
    pub fn api_token(email: &str, token: Secret) -> ZendeskCredential {
        // Zendesk's Basic credential is `email/token:TOKEN`: that whole text is a secret too.
        register(&format!("{email}/token:{}", token.expose()));
        ZendeskCredential::ApiToken { email: email.to_string(), token }
    }

    /// An OAuth client (its secret is registered for scrubbing by `Secret::new`).
    pub fn oauth(client_id: &str, secret: Secret, scopes: Vec<String>, secret_source: &str) -> ZendeskCredential {
        let client =
            OAuthClient { client_id: client_id.to_string(), secret, scopes, secret_source: secret_source.to_string() };
        ZendeskCredential::OAuth(std::sync::Arc::new(client))
    }

    /// Names the identity without revealing a secret (a digest): an API token acts as the
    /// agent `email` names; an OAuth client as the user its tokens belong to, which only a new
    /// client or secret can change.
    pub fn identity_id(&self) -> String {
        use sha2::Digest;
        let named = match self {
            ZendeskCredential::ApiToken { email, token } => format!("{email}/token:{}", token.expose()),
            ZendeskCredential::OAuth(c) => format!("oauth:{}:{}", c.client_id, c.secret.expose()),
        };
        let digest = sha2::Sha256::digest(named.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// `oauth` or `api_token`: the mode `status` and `/metrics` show.
    pub fn mode(&self) -> &'static str {
        match self {
            ZendeskCredential::OAuth(_) => "oauth",
            ZendeskCredential::ApiToken { .. } => "api_token",
        }
    }
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

    const KEY: &str = include_str!("../../sandbox/src/keys/app-test-key.pem");
    const KEY_PKCS8: &str = include_str!("../../sandbox/src/keys/app-test-key.pkcs8.pem");
    const PUBLIC: &str = include_str!("../../sandbox/src/keys/app-test-key.pub.pem");

    #[test]
    fn an_app_key_signs_jwts_github_accepts_the_form_of() {
        for (name, pem) in [("pkcs1.pem", KEY), ("pkcs8.pem", KEY_PKCS8)] {
            let key = AppKey::from_pem(4242, None, pem.as_bytes()).unwrap();
            let now = chrono::Utc::now();
            let (jwt, exp) = key.jwt(now).unwrap();
            let mut check = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            check.set_required_spec_claims(&["exp", "iat", "iss"]);
            check.set_issuer(&["4242"]);
            let public = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
            let claims = jsonwebtoken::decode::<serde_json::Value>(jwt.expose(), &public, &check).unwrap().claims;
            let (iat, exp_claim) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
            assert_eq!(iat, now.timestamp() - 60, "{name}: iat a minute back, for drift");
            assert_eq!(exp_claim - now.timestamp(), 540, "{name}: exp under GitHub's 10-minute limit");
            assert_eq!(exp.timestamp(), exp_claim);
            assert!(!format!("{key:?}").contains("BEGIN"), "Debug shows no key");
        }
    }

    #[test]
    fn text_that_is_no_rsa_key_makes_no_app_key() {
        let ec = include_str!("../../sandbox/src/keys/ec-key.pem");
        for pem in ["", "not a key", "ghp_0123456789abcdef", ec] {
            assert!(AppKey::from_pem(1, None, pem.as_bytes()).is_none(), "{pem:.20}");
        }
    }

    #[test]
    fn a_forgotten_secret_is_no_longer_scrubbed() {
        register("ghs_short_lived_token_1");
        assert_eq!(scrub("x ghs_short_lived_token_1"), "x ***");
        forget("ghs_short_lived_token_1");
        assert_eq!(scrub("x ghs_short_lived_token_1"), "x ghs_short_lived_token_1");
    }
}
