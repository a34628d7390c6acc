//! GitHub App mode of the fake GitHub: the App, its installations and the installation tokens
//! it mints, and the per-request decision of who is calling (personal token, App JWT or
//! installation token) and what that credential may reach.
//!
//! What each behaviour rests on (sources are public threads and GitHub's documentation, read
//! while writing this; nothing is copied from them):
//!
//! JWTs
//! - FACT: a JWT is RS256-signed with the App's key and carries `iat`, `exp` and `iss` (the App
//!   id); `exp` must be "no more than 10 minutes into the future"; GitHub recommends setting
//!   `iat` 60 s in the past against clock drift (docs.github.com, "Generating a JSON Web Token
//!   (JWT) for a GitHub App").
//! - FACT: `exp` beyond that answers 401 `'Expiration time' claim ('exp') is too far in the
//!   future`, documentation_url `https://docs.github.com/rest`; clients asking for exactly 10
//!   minutes hit it when their clock is slightly ahead, so GitHub allows no leeway
//!   (octokit/auth-app.js#698, rocq-prover/bot#204, googleapis/repo-automation-bots#5948). The
//!   fake allows none: `exp > now + 600` is refused.
//! - FACT: an expired JWT answers 401 `'Expiration time' claim ('exp') must be a numeric value
//!   representing the future time at which the assertion expires` (sigmavirus24/github3.py#1050,
//!   KnpLabs/php-github-api#1039).
//! - FACT: an `iat` in GitHub's future is refused with 401 (microsoft/AL-Go#2289: a runner about
//!   10 s ahead failed with a 10 s backdate, so the leeway is under 10 s). The fake allows none.
//!   FACTS (lcobucci/jwt#582's body, probot/probot#967, tibdex/github-app-token#102; octokit's
//!   auth-app matches the text to retry with GitHub's clock): the message is `'Issued at' claim
//!   ('iat') must be an Integer representing the time that the assertion was issued`.
//! - FACT: a JWT signed with a key that is not the App's answers 401 `A JSON web token could not
//!   be decoded` (actions/create-github-app-token#153: GitHub staff reproduced it with an App id
//!   and a private key that do not match; octokit/auth-app.js#375). The fake gives the same for
//!   anything that does not decode or verify (garbage, wrong algorithm, wrong key).
//! - FACT: a non-integer `iss` answers `'Issuer' claim ('iss') must be an Integer`
//!   (actions/create-github-app-token#386). FACTS (docs.github.com, "Generating a JSON Web Token
//!   (JWT) for a GitHub App": its Ruby example sends `iss: "YOUR_APP_ID"`, its Python one the id
//!   as read from input): a numeric string is accepted. GitHub now also accepts the client id
//!   there (same page); not modelled.
//! - FACT: an `iss` naming no App answers `Integration not found` (octokit/rest.js#218,
//!   octokit/authentication-strategies.js#165). ASSUMED: with status 401; searched octokit's and
//!   actions/create-github-app-token's trackers and code for a capture with its status: none
//!   (one third-party runbook calls it a 401).
//! - FACT: a JWT works only on the App's own endpoints (`/app…`, `GET /repos/{o}/{r}/installation`);
//!   on a repository endpoint GitHub answers 401 `Bad credentials`
//!   (platform.github.community "How to call API v3 endpoints as a Github application";
//!   github.community "Bad Credentials when creating a check run").
//!
//! Installation tokens
//! - FACT: `POST /app/installations/{id}/access_tokens` answers 201 `{token, expires_at,
//!   permissions, repository_selection}`; tokens expire one hour after creation and an expired
//!   one answers 401 (docs.github.com, "Create an installation access token for an app").
//! - FACT: tokens start `ghs_`; since 2026 GitHub rolls out a longer stateless format and warns
//!   against assuming 40 characters (docs.github.com, "Generating an installation access token
//!   for a GitHub App"). The fake's tokens are `ghs_` plus 36 to 72 letters and digits.
//! - FACT: an installation token on `/app/installations` answers 401 `A JSON web token could
//!   not be decoded` (urcomputeringpal/kubevalidator#48).
//! - FACT: an installation token on `GET /user` answers 403 `Resource not accessible by
//!   integration`, documentation_url `…/rest/users/users#get-the-authenticated-user`, status
//!   "403" (actions/create-github-app-token#258).
//! - FACT: a write the installation has no permission for answers 403 `Resource not accessible
//!   by integration` and GitHub names the permission it wanted in `X-Accepted-GitHub-Permissions`
//!   (gm3dmo/the-power#450 shows the header).
//! - FACTS (actions/create-github-app-token#72, trstringer/manual-approval#42): an expired
//!   installation token answers 401 `Bad credentials`. ASSUMED: a revoked one (or one GitHub
//!   stopped accepting early) answers the same; no capture of a revoked token's answer found.
//! - FACTS (docs.github.com, "Troubleshooting the REST API" → "404 Not Found for an existing
//!   resource"): GitHub answers 404, not 403, for what a credential may not see, and an
//!   installation token reaches only the accounts the App is installed on; so repositories of
//!   other accounts answer 404. Reading issues needs `issues: read` (write implies read).
//! - FACT: `GET /repos/{o}/{r}/installation` answers 404 when the App is not installed there
//!   (palantir/go-githubapp#61 and bazel-contrib/publish-to-bcr#40 branch on the 404).
//!
//! Rate limits
//! - FACT: installations have 5,000 requests an hour, plus 50 per repository and per user above
//!   20, capped at 12,500 (shared/api-reference/FACTS.md). The fake gives each installation a
//!   flat 5,000 (the increments are not modelled), counted apart from the personal token's and
//!   from other installations'. ASSUMED: JWT requests have a budget of their own (5,000 here);
//!   searched GitHub's rate-limit docs and octokit's trackers: the JWT's budget is not stated.
//! - FACTS (bobheadxi/deployments#67, dawidd6/action-download-artifact#163, github/codeql#5106):
//!   the spent-budget message names the installation: `API rate limit exceeded for installation
//!   ID N.`
//!
//! Users and webhooks
//! - FACT: the App acts as the user `{slug}[bot]`, `type: "Bot"` (GitHub's bot accounts; the
//!   client's `author_is_bot` reads `type`). GitHub logins cannot contain `[`, so the suffix
//!   alone marks a bot in the fake.
//! - FACT: deliveries to an App carry `installation: {id, node_id}` (shared/api-reference/FACTS.md,
//!   `issues` payload). FACTS (recorded App deliveries in public test fixtures, e.g. a `ping`
//!   with `hook.type: "App"`; github/docs#41739 asks for the values): the App's hook names itself
//!   with `X-GitHub-Hook-Installation-Target-Type: integration` and the App id in
//!   `X-GitHub-Hook-Installation-Target-ID`.
//! - FACTS (a captured issue an App created, and `github-actions`' comments carrying
//!   `{id: 15368, slug: "github-actions"}`): issues and comments an App made carry it in
//!   `performed_via_github_app` (null otherwise). ASSUMED: its issue events too (the field is in
//!   the `issue-event` schema; no capture of an App's event found).
//!
//! Not modelled: narrowing a token to some repositories or permissions in the mint request
//! (the body is ignored), installations on selected repositories only, suspended installations,
//! the client id as `iss`, JWT budgets' exact size, the per-repository and per-user increments
//! of an installation's budget, `GET /installation/repositories`, user-to-server tokens.

use std::collections::HashMap;

use axum::http::{HeaderName, Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use rand::distr::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};

use super::gate::Limits;
use super::reply::{docs, Reply};
use super::state::AppInfo;
use super::{FakeGithub, Shared};

/// The sandbox App's private key (PKCS#1, as GitHub hands it out), its public half, and an
/// unrelated RSA key. Test-only keys: see `crates/sandbox/src/keys/README.md`.
pub const APP_TEST_KEY_PEM: &str = include_str!("../keys/app-test-key.pem");
pub const APP_TEST_PUBLIC_KEY_PEM: &str = include_str!("../keys/app-test-key.pub.pem");
pub const OTHER_RSA_KEY_PEM: &str = include_str!("../keys/other-rsa-key.pem");

const FIRST_INSTALLATION_ID: u64 = 5_000_001;
/// The longest a JWT may live from now.
const JWT_MAX_SECS: i64 = 600;

/// Who made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    Personal,
    Jwt,
    Installation(u64),
}

/// The identity a handler acts as: authors, closers and webhook senders.
#[derive(Debug, Clone)]
pub struct Actor {
    pub login: String,
}

pub struct App {
    pub id: u64,
    pub slug: String,
    key: DecodingKey,
}

pub struct Installation {
    pub id: u64,
    pub account: String,
    /// `write`, `read` or none.
    pub issues: Option<String>,
    /// `contents` (releases, compare, commits): `write`, `read` or none (the default).
    pub contents: Option<String>,
    /// `pull_requests`: `write`, `read` or none (the default).
    pub pull_requests: Option<String>,
    pub created_at: DateTime<Utc>,
    pub minted: u64,
    pub limits: Limits,
}

impl Installation {
    /// The installation's permissions as GitHub lists them.
    pub fn permissions(&self) -> Value {
        let mut permissions = json!({"metadata": "read"});
        let levels = [("issues", &self.issues), ("contents", &self.contents), ("pull_requests", &self.pull_requests)];
        for (name, level) in levels {
            if let Some(level) = level {
                permissions[name] = json!(level);
            }
        }
        permissions
    }
}

struct Minted {
    installation: u64,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

/// The App side of the fake; `app` is `None` until `enable_app` (token mode).
pub struct AppState {
    pub app: Option<App>,
    pub installations: Vec<Installation>,
    tokens: HashMap<String, Minted>,
    ttl: Duration,
    jwt_requests: u64,
    pub jwt_limits: Limits,
    /// Installations removed so far: ids are never given twice.
    removed: u64,
}

impl Default for AppState {
    fn default() -> Self {
        AppState {
            app: None,
            installations: Vec::new(),
            tokens: HashMap::new(),
            ttl: Duration::hours(1),
            jwt_requests: 0,
            jwt_limits: Limits::default(),
            removed: 0,
        }
    }
}

impl AppState {
    pub fn installation(&self, id: u64) -> Option<&Installation> {
        self.installations.iter().find(|i| i.id == id)
    }

    pub fn installation_mut(&mut self, id: u64) -> Option<&mut Installation> {
        self.installations.iter_mut().find(|i| i.id == id)
    }

    pub fn installation_for(&self, account: &str) -> Option<&Installation> {
        self.installations.iter().find(|i| i.account.eq_ignore_ascii_case(account))
    }

    pub fn bot_login(&self) -> Option<String> {
        self.app.as_ref().map(|a| format!("{}[bot]", a.slug))
    }

    /// Mints a token for installation `id`: (token, expires_at).
    pub fn mint(&mut self, id: u64, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let mut rng = rand::rng();
        let len = rng.random_range(36..=72);
        let random: String = (&mut rng).sample_iter(&Alphanumeric).take(len).map(char::from).collect();
        let token = format!("ghs_{random}");
        let expires_at = now + self.ttl;
        self.tokens.insert(token.clone(), Minted { installation: id, expires_at, revoked: false });
        if let Some(installation) = self.installation_mut(id) {
            installation.minted += 1;
        }
        (token, expires_at)
    }
}

impl FakeGithub {
    /// Switches App mode on: JWTs verified with `public_key_pem` (and `iss` = `app_id`) and the
    /// installation tokens they mint are accepted; the personal token is refused from now on,
    /// as in an organisation that only lets the App in.
    pub fn enable_app(&self, app_id: u64, slug: &str, public_key_pem: &str) {
        let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).expect("an RSA public key in PEM");
        let created_at = self.shared.now();
        let info = AppInfo { id: app_id, slug: slug.to_string(), created_at };
        self.shared.model.lock().unwrap().app = Some(info);
        let app = App { id: app_id, slug: slug.to_string(), key };
        self.shared.app.lock().unwrap().app = Some(app);
    }

    /// Switches App mode off again (the organisation goes back to a person's token): the
    /// personal token is accepted once more; what the App's bot wrote stays its.
    pub fn disable_app(&self) {
        self.shared.app.lock().unwrap().app = None;
        self.shared.model.lock().unwrap().app = None;
    }

    /// Installs the App on every repository of `account`; `issues_permission` is `Some("write")`,
    /// `Some("read")` or `None`. Returns the installation id.
    pub fn add_installation(&self, account: &str, issues_permission: Option<&str>) -> u64 {
        assert!(matches!(issues_permission, None | Some("read") | Some("write")), "issues: read | write | None");
        let created_at = self.shared.now();
        let mut state = self.shared.app.lock().unwrap();
        let id = FIRST_INSTALLATION_ID + state.installations.len() as u64 + state.removed;
        state.installations.push(Installation {
            id,
            account: account.to_string(),
            issues: issues_permission.map(str::to_string),
            contents: None,
            pull_requests: None,
            created_at,
            minted: 0,
            limits: Limits::default(),
        });
        id
    }

    /// Sets one of installation `id`'s repository permissions: `permission` is `issues`,
    /// `contents` (releases, compare, commits; `write` also shows draft releases) or
    /// `pull_requests`; `level` is `Some("read")`, `Some("write")` or `None`. A new
    /// installation has only the `issues` level `add_installation` gave it.
    pub fn set_installation_permission(&self, id: u64, permission: &str, level: Option<&str>) {
        assert!(matches!(level, None | Some("read") | Some("write")), "read | write | None");
        let mut state = self.shared.app.lock().unwrap();
        let installation = state.installation_mut(id).expect("known installation");
        let slot = match permission {
            "issues" => &mut installation.issues,
            "contents" => &mut installation.contents,
            "pull_requests" => &mut installation.pull_requests,
            other => panic!("the fake models issues, contents and pull_requests, not {other:?}"),
        };
        *slot = level.map(str::to_string);
    }

    /// Uninstalls installation `id` (its organisation removed the App): its tokens stop working
    /// at once, minting for it answers 404, and its account's repositories have no installation.
    pub fn remove_installation(&self, id: u64) {
        let mut state = self.shared.app.lock().unwrap();
        let before = state.installations.len();
        state.installations.retain(|i| i.id != id);
        state.removed += (before - state.installations.len()) as u64;
        state.tokens.retain(|_, t| t.installation != id);
    }

    /// `{slug}[bot]`, the login the App's changes are authored by.
    pub fn app_bot_login(&self) -> String {
        self.shared.app.lock().unwrap().bot_login().expect("App mode is on (enable_app)")
    }

    /// How long tokens minted from now live, on the sandbox clock (one hour by default).
    pub fn set_installation_token_ttl(&self, ttl: std::time::Duration) {
        self.shared.app.lock().unwrap().ttl = Duration::from_std(ttl).expect("a sane duration");
    }

    /// Every token minted so far answers 401 `Bad credentials` from now on.
    pub fn revoke_installation_tokens(&self) {
        let mut state = self.shared.app.lock().unwrap();
        state.tokens.values_mut().for_each(|t| t.revoked = true);
    }

    /// Every installation token minted so far (tests look for them where they must not be).
    pub fn minted_tokens(&self) -> Vec<String> {
        self.shared.app.lock().unwrap().tokens.keys().cloned().collect()
    }

    pub fn tokens_minted(&self, installation_id: u64) -> u64 {
        self.shared.app.lock().unwrap().installation(installation_id).map_or(0, |i| i.minted)
    }

    /// Sets what is left of one installation's primary budget in its current hour window.
    pub fn set_installation_rate_limit_remaining(&self, installation_id: u64, remaining: u32) {
        let now = self.shared.clock.now();
        let mut state = self.shared.app.lock().unwrap();
        let installation = state.installation_mut(installation_id).expect("known installation");
        installation.limits.set_remaining(now, remaining);
    }

    /// Requests authenticated by a valid JWT so far.
    pub fn jwt_requests(&self) -> u64 {
        self.shared.app.lock().unwrap().jwt_requests
    }
}

/// Who is calling, from `Authorization: token X` / `Bearer X`, or the 401 GitHub gives.
/// `given` is the credential as `gate::given_credential` read it.
pub fn identify(shared: &Shared, given: Option<&str>) -> Result<Credential, Reply> {
    let now = shared.clock.now();
    let mut state = shared.app.lock().unwrap();
    let Some(app) = &state.app else {
        // Token mode: exactly the fake's one personal token.
        return if given == Some(shared.token.as_str()) { Ok(Credential::Personal) } else { Err(bad_credentials()) };
    };
    let Some(given) = given else {
        return Err(bad_credentials());
    };
    if looks_like_jwt(given) {
        verify_jwt(app, given, now.timestamp())?;
        state.jwt_requests += 1;
        return Ok(Credential::Jwt);
    }
    match state.tokens.get(given) {
        Some(t) if !t.revoked && now < t.expires_at => Ok(Credential::Installation(t.installation)),
        _ => Err(bad_credentials()),
    }
}

/// The acting user of a credential.
pub fn actor(shared: &Shared, credential: Credential) -> Actor {
    let bot = match credential {
        Credential::Installation(_) => shared.app.lock().unwrap().bot_login(),
        _ => None,
    };
    Actor { login: bot.unwrap_or_else(|| shared.login.clone()) }
}

/// Whether `credential` may make this request at all (before rate limits and handlers).
pub fn admit(shared: &Shared, credential: Credential, method: &Method, path: &str) -> Result<(), Reply> {
    let app_endpoint = is_app_path(path) || is_repo_installation_path(path) || is_account_installation_path(path);
    match credential {
        Credential::Personal => Ok(()),
        Credential::Jwt if app_endpoint => Ok(()),
        Credential::Jwt => Err(bad_credentials()),
        Credential::Installation(_) if app_endpoint => Err(jwt_error("A JSON web token could not be decoded")),
        Credential::Installation(_) if path == "/user" => {
            Err(Reply::forbidden("Resource not accessible by integration", docs::GET_USER))
        }
        Credential::Installation(id) => admit_installation(shared, id, method, path),
    }
}

/// An installation reaches the repositories of its account only, and issues as its
/// permission allows.
fn admit_installation(shared: &Shared, id: u64, method: &Method, path: &str) -> Result<(), Reply> {
    let Some(owner) = repo_owner(shared, path) else {
        // Not a known repository: the handler gives its own 404.
        return Ok(());
    };
    let state = shared.app.lock().unwrap();
    let installation = state.installation(id).expect("tokens belong to installations");
    if !owner.eq_ignore_ascii_case(&installation.account) {
        return Err(Reply::not_found(docs::GENERIC));
    }
    let write = *method == Method::POST || *method == Method::PATCH;
    let needed = needed_permissions(path);
    let level = |name: &str| match name {
        "issues" => installation.issues.as_deref(),
        "contents" => installation.contents.as_deref(),
        _ => installation.pull_requests.as_deref(),
    };
    let allows = |name: &&str| match level(name) {
        Some("write") => true,
        Some("read") => !write,
        _ => false,
    };
    if needed.is_empty() || needed.iter().any(allows) {
        return Ok(());
    }
    let access = if write { "write" } else { "read" };
    let wanted: Vec<String> = needed.iter().map(|name| format!("{name}={access}")).collect();
    let reply = Reply::forbidden("Resource not accessible by integration", operation_doc(method, path));
    Err(reply.header(HeaderName::from_static("x-accepted-github-permissions"), wanted.join("; ")))
}

/// The repository permissions of which any one lets an installation make a request to `path`.
///
/// FACT (docs/research/github-fixes.md §1, GitHub's timeline docs): the timeline takes "Issues" (read) or "Pull
/// requests" (read). FACT (docs/research/github-fixes.md §3, GH-REST-DATA releases.json): releases take
/// "Contents" (read). ASSUMED: compare and the commit endpoints take "Contents" too, the pull
/// request endpoints (and a commit's pull requests) "Pull requests", and several accepted
/// permissions are listed in `X-Accepted-GitHub-Permissions` separated by `; `.
fn needed_permissions(path: &str) -> Vec<&'static str> {
    // Past `/repos/{o}/{r}` or `/repositories/{id}`: a repository may be named `issues`.
    let skip = if path.starts_with("/repos/") { 4 } else { 3 };
    let segments: Vec<&str> = path.split('/').skip(skip).collect();
    let has = |s: &str| segments.contains(&s);
    if has("timeline") {
        vec!["issues", "pull_requests"]
    } else if has("pulls") {
        vec!["pull_requests"]
    } else if has("issues") {
        vec!["issues"]
    } else if has("releases") || has("compare") || has("commits") {
        vec!["contents"]
    } else {
        Vec::new()
    }
}

/// The owner of the repository a `/repos/{o}/{r}…` or `/repositories/{id}…` path names.
fn repo_owner(shared: &Shared, path: &str) -> Option<String> {
    let model = shared.model.lock().unwrap();
    let index = if let Some(rest) = path.strip_prefix("/repos/") {
        let mut parts = rest.splitn(3, '/');
        let (owner, name) = (parts.next()?, parts.next()?);
        model.repo_by_name(owner, name).or_else(|| model.repo_by_former_name(owner, name))
    } else if let Some(rest) = path.strip_prefix("/repositories/") {
        rest.split('/').next()?.parse().ok().and_then(|id| model.repo_by_id(id))
    } else {
        None
    }?;
    Some(model.repos[index].owner.clone())
}

/// The documentation link of the write a path names (what GitHub's 403 bodies carry).
fn operation_doc(method: &Method, path: &str) -> &'static str {
    let comment_edit = path.contains("/issues/comments/");
    match (method.as_str(), path.ends_with("/comments"), path.ends_with("/issues")) {
        ("POST", true, _) => docs::CREATE_COMMENT,
        ("POST", _, true) => docs::CREATE_ISSUE,
        ("PATCH", _, _) if comment_edit => docs::UPDATE_COMMENT,
        ("PATCH", _, _) => docs::UPDATE_ISSUE,
        _ => docs::GENERIC,
    }
}

fn is_app_path(path: &str) -> bool {
    path == "/app" || path.starts_with("/app/")
}

/// `/repos/{owner}/{repo}/installation`.
fn is_repo_installation_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    parts.len() == 4 && parts[0] == "repos" && parts[3] == "installation"
}

/// `/orgs/{org}/installation` or `/users/{username}/installation`.
fn is_account_installation_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    parts.len() == 3 && (parts[0] == "orgs" || parts[0] == "users") && parts[2] == "installation"
}

/// Three non-empty base64url parts: what GitHub treats as a JWT rather than an opaque token.
fn looks_like_jwt(given: &str) -> bool {
    let parts: Vec<&str> = given.split('.').collect();
    let base64url = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    parts.len() == 3 && parts.iter().all(base64url)
}

/// GitHub's checks of an App JWT, in the order its answers suggest: `iss` names the App (whose
/// key is then used), the signature, then `exp` and `iat` against the sandbox clock.
fn verify_jwt(app: &App, jwt: &str, now: i64) -> Result<(), Reply> {
    let undecodable = || jwt_error("A JSON web token could not be decoded");
    let mut unverified = relaxed();
    unverified.insecure_disable_signature_validation();
    let claims = decode::<Value>(jwt, &DecodingKey::from_secret(&[]), &unverified).map_err(|_| undecodable())?.claims;
    let iss = match &claims["iss"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let iss = iss.ok_or_else(|| jwt_error("'Issuer' claim ('iss') must be an Integer"))?;
    if iss != app.id {
        return Err(jwt_error("Integration not found"));
    }
    decode::<Value>(jwt, &app.key, &relaxed()).map_err(|_| undecodable())?;
    // `exp` may be any number (the message says "numeric"); `iat` must be an integer.
    let exp = claims["exp"].as_f64().filter(|exp| *exp > now as f64).ok_or_else(|| {
        jwt_error(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the \
             assertion expires",
        )
    })?;
    if exp > (now + JWT_MAX_SECS) as f64 {
        return Err(jwt_error("'Expiration time' claim ('exp') is too far in the future"));
    }
    if claims["iat"].as_i64().is_none_or(|iat| iat > now) {
        return Err(jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    Ok(())
}

/// RS256 only, and no claim checks by the library: the fake checks them on the sandbox clock.
fn relaxed() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation
}

/// ASSUMED: JWT refusals carry `status` like every error body since 2024 (`Bad credentials` is
/// captured with `"status":"401"`); searched for a JWT refusal's body with it: the captures
/// found (2019–2022) predate the field.
fn jwt_error(message: &str) -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, message, docs::GENERIC)
}

pub fn bad_credentials() -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials", docs::GENERIC)
}

/// The spent-budget message of an installation (the personal token's names the user).
pub fn rate_limit_subject(credential: Credential) -> String {
    match credential {
        Credential::Installation(id) => format!("installation ID {id}"),
        _ => "user ID 1".to_string(),
    }
}
