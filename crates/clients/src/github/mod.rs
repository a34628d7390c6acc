//! The GitHub client: repositories, issues, comments, conditional listing with `Link` pagination, and write pacing;
//! GraphQL queries (`graphql.rs`) go through the same request path (`Route::Graphql`).

mod auth;
mod events;
mod fixes;
mod graphql;
mod lists;
mod wire;

pub use lists::{parse_next_link, Updates};

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use tracing::{debug, warn};
use url::Url;

use crate::http::{self, ApiError, ApiStats, ForbiddenScope};

use crate::limits::Target;
use crate::ratelimit::{RollingWindow, Spacer};
use crate::secret::GithubCredential;
use auth::{Auth, Credential, Needs};
use ticket_sync_core::domain::Service;
use ticket_sync_core::domain::{Endpoint, Scope};
use ticket_sync_core::domain::{GithubClock, GithubTime};
use ticket_sync_core::domain::{InstallationId, IssueComment, IssueCommentId, IssueEvent, ListedIssue};
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, IssueState, RepoName, StateReason};

const SVC: Service = Service::Github;

/// What `GET /repos/{owner}/{repo}` says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub id: u64,
    pub visibility: String,
    pub has_issues: bool,
    pub archived: bool,
    /// The repository's page (`html_url`): where GitHub's web pages are, as GitHub says.
    pub html_url: Option<String>,
}

/// The answer to a conditional list: unchanged (304, free), or every page of the new content.
#[derive(Debug, Clone)]
pub enum Listing<T> {
    NotModified,
    Changed { items: Vec<T>, etag: Option<String> },
}

/// Spaces content-creating requests so GitHub's secondary limits are never reached. Its
/// spacing and hourly window live in the shared `ApiStats`, so a new client (a reload) keeps
/// counting where the last one stopped, under the limits the new rules set.
#[derive(Debug)]
struct Pacer {
    /// What a write that must wait is limited by: the token's writes, or one installation's
    /// (which leaves the other installations' repositories to go on).
    scope: Scope,
    spacing: Option<Arc<Spacer>>,
    /// GitHub allows 500 content creations an hour; a long backfill stops here, not at a 403.
    hourly: Option<Arc<RollingWindow>>,
}

/// GitHub requests kept back from new issues for push-back when the budget runs low.
const NEW_ISSUE_RESERVE: u64 = 100;

impl Pacer {
    /// The pace of one identity: the token's, or one App installation's (each installation has
    /// its own limits, so each has its own pace).
    fn new(
        writes_per_minute: u32,
        writes_per_hour: u32,
        stats: &ApiStats,
        installation: Option<InstallationId>,
    ) -> Self {
        let whose = installation.map(|id| format!(" of installation {id}")).unwrap_or_default();
        let spacing = (writes_per_minute > 0).then(|| {
            let interval = Duration::from_millis(60_000 / writes_per_minute as u64);
            stats.limits.spacer(&format!("github writes{whose}"), interval)
        });
        let hourly = (writes_per_hour > 0).then(|| {
            stats.limits.window(&format!("github writes per hour{whose}"), writes_per_hour, Duration::from_secs(3600))
        });
        let scope = installation.map_or_else(|| Scope::Endpoint(Endpoint::ContentCreation), Scope::Installation);
        Pacer { scope, spacing, hourly }
    }

    /// Waits for the write's turn; a turn further off than `MAX_INLINE_WAIT` (both paces
    /// together) stops the pass. The spacing goes first: a turn it gives and the hourly window
    /// then refuses only delays the next write, while an hourly slot taken for nothing would
    /// be lost for an hour.
    async fn wait(&self) -> Result<(), ApiError> {
        let limited = |wait| ApiError::limited(SVC, self.scope.clone(), wait);
        let start = tokio::time::Instant::now();
        if let Some(spacing) = &self.spacing {
            spacing.acquire(http::MAX_INLINE_WAIT).await.map_err(limited)?;
        }
        if let Some(hourly) = &self.hourly {
            let allowed = http::MAX_INLINE_WAIT.saturating_sub(start.elapsed());
            hourly.acquire(allowed).await.map_err(limited)?;
        }
        Ok(())
    }
}

/// The paces of the identities one client writes as, made when first needed.
#[derive(Debug)]
struct Pacers {
    writes_per_minute: u32,
    writes_per_hour: u32,
    by_installation: std::sync::Mutex<std::collections::HashMap<Option<InstallationId>, Arc<Pacer>>>,
}

impl Pacers {
    fn get(&self, stats: &ApiStats, installation: Option<InstallationId>) -> Arc<Pacer> {
        let mut pacers = self.by_installation.lock().unwrap();
        let make = || Arc::new(Pacer::new(self.writes_per_minute, self.writes_per_hour, stats, installation));
        pacers.entry(installation).or_insert_with(make).clone()
    }
}

/// How a request goes to GitHub, as far as its credential, pace and budget care.
#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    /// A REST request: its path picks the credential (in App mode), a write waits for its pace,
    /// its answers report the REST budget.
    Rest,
    /// A GraphQL query about one repository: the credential covering that repository, no pace
    /// (a query reads), GraphQL's own points (`Target::graphql`), and a spent budget that
    /// answers 200 with an error read as the limit it is.
    Graphql(&'a RepoName),
}

#[derive(Clone)]
pub struct GithubClient {
    base: Url,
    auth: Arc<Auth>,
    http: reqwest::Client,
    stats: Arc<ApiStats>,
    pacers: Arc<Pacers>,
}

/// How far back a host time is moved when GitHub's clock is not known yet (no answer read).
const UNKNOWN_CLOCK_MARGIN_HOURS: i64 = 24;

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl GithubClient {
    /// A client whose content-creating requests are spaced to `writes_per_minute` and capped at
    /// `writes_per_hour` in any rolling hour (0 switches either off), counting what earlier
    /// clients sharing `stats` sent.
    pub fn new(
        base: Url,
        credential: &GithubCredential,
        writes_per_minute: u32,
        writes_per_hour: u32,
        http: reqwest::Client,
        stats: Arc<ApiStats>,
    ) -> Self {
        let auth = Arc::new(Auth::new(credential));
        let pacers = Arc::new(Pacers { writes_per_minute, writes_per_hour, by_installation: Default::default() });
        GithubClient { base, auth, http, stats, pacers }
    }

    /// Whether the client acts as a GitHub App.
    pub fn is_app(&self) -> bool {
        matches!(*self.auth, Auth::App(_))
    }

    /// Holds a new issue in `repo` back (`RateLimited` for a minute) while the budget it would
    /// spend is nearly gone, so push-back of status changes, which is never held back, keeps
    /// working through a large backfill. As a GitHub App the budget is the installation's
    /// covering `repo`: another organisation's low budget holds back only its own new issues.
    pub fn hold_new_issue(&self, repo: &RepoName) -> Result<(), ApiError> {
        let installation = match &*self.auth {
            Auth::App(app) => app.installation_of(repo.owner()),
            Auth::Token(_) => None,
        };
        let (left, scope) = match installation {
            Some(installation) => {
                let scope = Scope::Installation(installation);
                (self.stats.limits.remaining(SVC, &scope), scope)
            }
            None => {
                let left = self.stats.snapshot().budgets.get(&SVC).and_then(|b| b.remaining);
                (left, Scope::Endpoint(Endpoint::ContentCreation))
            }
        };
        match left {
            Some(left) if left < NEW_ISSUE_RESERVE => {
                warn!(github_rate_left = left, %scope, "GitHub budget is low: new issues wait for the reset, push-back goes on");
                Err(ApiError::limited(SVC, scope, Duration::from_secs(60)))
            }
            _ => Ok(()),
        }
    }

    /// `url`'s path below the configured base (GitHub Enterprise Server's `/api/v3`).
    fn relative_path(&self, url: &Url) -> String {
        let prefix = self.base.path().trim_end_matches('/');
        url.path().strip_prefix(prefix).filter(|p| p.starts_with('/')).unwrap_or(url.path()).to_string()
    }

    /// Now on GitHub's clock when it is known (JWT times and token expiries are GitHub's), else
    /// this host's.
    fn github_now(&self) -> chrono::DateTime<chrono::Utc> {
        // Before GitHub's first answer, the host's time: a JWT is backdated a minute and lives
        // nine, and a token's expiry is renewed five minutes early, which absorbs usual skew;
        // GitHub's answer then gives its clock.
        self.stats.service_now::<GithubClock>().utc()
    }

    /// The credential a request to `url` goes with: the token, or in App mode a JWT for the
    /// App's own endpoints and the covering installation's token for a repository.
    ///
    /// An answer of the App's endpoints that would read as news about the resource itself (a
    /// redirect, 404 or 410 the callers take as a moved, missing or deleted issue) is a passing
    /// failure of getting the credential instead: it never ends a link.
    async fn credential(&self, url: &Url, route: Route<'_>) -> Result<Credential, ApiError> {
        let path = match route {
            Route::Rest => self.relative_path(url),
            Route::Graphql(repo) => format!("/repos/{repo}"),
        };
        self.credential_for(&path).await.map_err(|e| match e {
            ApiError::Moved { .. } | ApiError::Gone { .. } | ApiError::NotFound { .. } => ApiError::Transient {
                service: SVC,
                detail: format!("the GitHub App's credentials for this request could not be had: {e}"),
            },
            e => e,
        })
    }

    /// The credential for a request to `path` (below the configured base).
    async fn credential_for(&self, path: &str) -> Result<Credential, ApiError> {
        let app = match &*self.auth {
            Auth::Token(header) => return Ok(Credential { header: header.clone(), installation: None }),
            Auth::App(app) => app,
        };
        let owner = match auth::needs(path) {
            Needs::Jwt | Needs::Unscoped => return self.jwt_credential(app),
            Needs::Account(owner) => owner,
            Needs::RepositoryId(id) => match app.alias(id) {
                Some(owner) => owner,
                None => {
                    // Only reached through a link or redirect GitHub gave for a repository
                    // request, which names it: with one installation, that is the one.
                    let known = app.known_installations();
                    let [only] = known.as_slice() else {
                        return Err(ApiError::Forbidden {
                            service: SVC,
                            scope: ForbiddenScope::Repository,
                            detail: format!("cannot tell which GitHub App installation covers repository id {id}"),
                        });
                    };
                    return self.installation_credential(app, *only).await;
                }
            },
        };
        let installation = match app.installation_of(&owner) {
            Some(id) => id,
            None => {
                let _one_at_a_time = app.looking_up.lock().await;
                match app.installation_of(&owner) {
                    Some(id) => id,
                    None => self.find_installation(app, &owner, path).await?,
                }
            }
        };
        self.installation_credential(app, installation).await
    }

    fn jwt_credential(&self, app: &auth::AppSession) -> Result<Credential, ApiError> {
        let header = app.jwt(self.github_now()).map_err(|detail| ApiError::Unauthorized {
            service: SVC,
            status: 0,
            detail: Some(detail),
        })?;
        Ok(Credential { header, installation: None })
    }

    /// `installation`'s token: the one held, or a new one (one mint at a time).
    async fn installation_credential(
        &self,
        app: &auth::AppSession,
        installation: InstallationId,
    ) -> Result<Credential, ApiError> {
        if let Some(held) = app.token(installation, self.github_now()) {
            return Ok(held);
        }
        let _one_at_a_time = app.minting.lock().await;
        if let Some(held) = app.token(installation, self.github_now()) {
            return Ok(held);
        }
        let path = format!("/app/installations/{installation}/access_tokens");
        let bytes = self.app_request(app, Method::POST, &path).await.map_err(|e| match e {
            // The configured installation: every repository goes through it, so the rules are wrong.
            ApiError::NotFound { .. } if app.key.installation_id == Some(installation) => ApiError::Unauthorized {
                service: SVC,
                status: 404,
                detail: Some(format!(
                    "GitHub App installation {installation} does not exist or is not this App's (check installation_id)"
                )),
            },
            // One found for an organisation that has since uninstalled the App: only its
            // repositories fail, and the next request looks for its installation again.
            ApiError::NotFound { .. } => {
                let owners = app.forget_installation(installation).join(", ");
                ApiError::Forbidden {
                    service: SVC,
                    scope: ForbiddenScope::Repository,
                    detail: format!(
                        "GitHub App installation {installation} (on {owners}) no longer exists: the App was uninstalled \
                         there; install it again with Issues read and write"
                    ),
                }
            }
            e => e,
        })?;
        let minted: wire::WireAccessToken = http::decode(SVC, &bytes)?;
        // Only `expires_at` says how long a token lasts; without one (or with one that is not
        // ahead of GitHub's clock, which would mean a mint a request), it is used briefly.
        let now = self.github_now();
        let expires_at = parse_time(minted.expires_at.as_deref())
            .filter(|at| *at > now)
            .unwrap_or_else(|| now + chrono::Duration::seconds(auth::RENEW_BEFORE_SECS + 300));
        debug!(installation = installation.0, %expires_at, "minted an installation token");
        Ok(app.store_token(installation, crate::secret::Secret::new(minted.token), expires_at, self.github_now()))
    }

    /// The installation covering `owner`'s repository that `path` names, remembered for the
    /// account.
    async fn find_installation(
        &self,
        app: &auth::AppSession,
        owner: &str,
        path: &str,
    ) -> Result<InstallationId, ApiError> {
        // The repository by name when the path names it (`/repos/{owner}/{repo}…`); a path by
        // id (`/repositories/{id}…`, its account learned) is looked up by account.
        let by_name = match path.trim_start_matches('/').split('/').collect::<Vec<_>>().as_slice() {
            ["repos", owner_seg, name, ..] => Some(format!("{owner_seg}/{name}")),
            _ => None,
        };
        Ok(InstallationId(self.lookup_installation(app, owner, by_name.as_deref()).await?.id))
    }

    /// The installation covering `repo` (`GET /repos/{repo}/installation`), or with no
    /// repository or a renamed or transferred one (its lookup redirects by id: that redirect is
    /// the lookup's, not the request's), the installation on `owner`'s account: one App is
    /// installed once per account. Remembered for the account; none is a repository's refusal.
    async fn lookup_installation(
        &self,
        app: &auth::AppSession,
        owner: &str,
        repo: Option<&str>,
    ) -> Result<wire::WireInstallation, ApiError> {
        let repo_lookup = match repo {
            Some(repo) => self.app_request(app, Method::GET, &format!("/repos/{repo}/installation")).await,
            None => Err(ApiError::Moved { service: SVC, location: None }),
        };
        let bytes = match repo_lookup {
            Err(ApiError::Moved { .. }) => self.account_installation(app, owner).await,
            other => other,
        };
        let name = repo.unwrap_or(owner);
        let bytes = bytes.map_err(|e| match e {
            ApiError::NotFound { .. } => ApiError::Forbidden {
                service: SVC,
                scope: ForbiddenScope::Repository,
                detail: format!(
                    "the GitHub App is not installed on {owner} (or not for {name}): install it there with Issues read and write"
                ),
            },
            e => e,
        })?;
        let found: wire::WireInstallation = http::decode(SVC, &bytes)?;
        app.remember_installation(owner, InstallationId(found.id));
        Ok(found)
    }

    /// The installation on `owner`'s account: an organisation's, else a user's.
    async fn account_installation(&self, app: &auth::AppSession, owner: &str) -> Result<bytes::Bytes, ApiError> {
        match self.app_request(app, Method::GET, &format!("/orgs/{owner}/installation")).await {
            Err(ApiError::NotFound { .. }) => {
                self.app_request(app, Method::GET, &format!("/users/{owner}/installation")).await
            }
            other => other,
        }
    }

    /// A request to the App's own endpoints, signed with a JWT; a 401 is tried once more with
    /// a JWT signed anew (the first may have been signed before GitHub's clock was known).
    async fn app_request(&self, app: &auth::AppSession, method: Method, path: &str) -> Result<bytes::Bytes, ApiError> {
        let url = self.url(path);
        let mut retried = false;
        loop {
            let cred = self.jwt_credential(app)?;
            match self.send(&cred, Route::Rest, method.clone(), url.clone(), None, None).await {
                Err(ApiError::Unauthorized { .. }) if !retried => {
                    app.forget_jwt();
                    retried = true;
                }
                // A JWT refused twice: the App's id or key is not what GitHub knows.
                Err(ApiError::Unauthorized { service, status, detail: None }) => {
                    let detail = format!(
                        "GitHub refused the GitHub App's JWT: check that app_id ({}) is the App's ID and that \
                         private_key_file is one of that App's private keys (not revoked)",
                        app.key.app_id
                    );
                    return Err(ApiError::Unauthorized { service, status, detail: Some(detail) });
                }
                other => return other.map(|(_, _, bytes)| bytes),
            }
        }
    }

    /// The installation covering `repo` and its permissions (App mode; `None` with a token),
    /// for `check --online`.
    pub async fn installation_permissions(
        &self,
        repo: &RepoName,
    ) -> Result<Option<(InstallationId, Vec<(String, String)>)>, ApiError> {
        let Auth::App(app) = &*self.auth else { return Ok(None) };
        let found = self.lookup_installation(app, repo.owner(), Some(&repo.to_string())).await?;
        Ok(Some((InstallationId(found.id), found.permissions.into_iter().collect())))
    }

    fn url(&self, path: &str) -> Url {
        http::join_path(&self.base, path)
    }

    /// Sends one request; returns status, headers and body, or the typed error for a failure
    /// status. A renamed repository answers every request under its old name with a redirect
    /// to `/repositories/{id}/…`: that is followed once (same origin only). A redirect of one
    /// issue (a transfer) is not: the caller gets `Moved` and moves the link.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        let answer = self.call_once(method.clone(), url.clone(), body, etag).await;
        if let (Err(ApiError::Moved { location: Some(location), .. }), Auth::App(app)) = (&answer, &*self.auth) {
            // A renamed repository, or a transferred issue (transfers stay within one account):
            // its new home by id is covered by the same installation.
            self.learn_alias(app, &url, self.same_origin(location));
        }
        match answer {
            Err(ApiError::Moved { location: Some(location), .. }) if !tells_a_transfer(&method, url.path()) => {
                let to = self
                    .same_origin(&location)
                    .ok_or_else(|| ApiError::Moved { service: SVC, location: Some(location.clone()) })?;
                debug!(from = url.path(), to = to.path(), "the repository was renamed or moved; following");
                self.call_once(method, to, body, etag).await
            }
            other => other,
        }
    }

    /// `location` as a URL of the configured API (the token never goes elsewhere).
    fn same_origin(&self, location: &str) -> Option<Url> {
        within_api(&self.base, location)
    }

    async fn call_once(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        self.call_via(Route::Rest, method, url, body, etag).await
    }

    /// One request by `route`: its credential, its pace (REST writes), and one more try with a
    /// new installation token when GitHub refused the one held.
    async fn call_via(
        &self,
        route: Route<'_>,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        let cred = self.credential(&url, route).await?;
        if method != Method::GET && matches!(route, Route::Rest) {
            self.pacers.get(&self.stats, cred.installation).wait().await?;
        }
        let answer = self.send(&cred, route, method.clone(), url.clone(), body, etag).await;
        let answer = match (answer, &*self.auth, cred.installation) {
            // An installation token GitHub no longer takes (revoked, or lapsed early): minted
            // anew once before the request counts as failed. A 401 carried nothing out, so a
            // write is safe to send again.
            (Err(ApiError::Unauthorized { .. }), Auth::App(app), Some(installation)) => {
                app.drop_token(installation, &cred.header);
                debug!(installation = installation.0, "GitHub refused the installation token; minting a new one");
                let cred = self.credential(&url, route).await?;
                self.send(&cred, route, method, url.clone(), body, etag).await
            }
            (answer, _, _) => answer,
        };
        if let (Ok((_, headers, _)), Auth::App(app), Route::Rest) = (&answer, &*self.auth, route) {
            // Pagination goes on by id: only the next page is ever followed.
            self.learn_alias(app, &url, self.link(headers, "next"));
        }
        answer
    }

    /// Sends one request with `cred`; returns status, headers and body, or the typed error.
    async fn send(
        &self,
        cred: &Credential,
        route: Route<'_>,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        debug!(%method, path = url.path(), "github request");
        let mut req = self
            .http
            .request(method, url.clone())
            .header(AUTHORIZATION, cred.header.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let path = url.path().to_string();
        let target = match route {
            Route::Rest => Target::installation(SVC, cred.installation),
            Route::Graphql(_) => Target::graphql(SVC, cred.installation),
        };
        let (status, headers, bytes) = http::execute(&self.stats, &target, req).await?;
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            let e = refuse_scope(http::status_error(SVC, status, &headers, &bytes), &path, &bytes);
            return Err(self.explain_refusal(e, &bytes));
        }
        if matches!(route, Route::Graphql(_)) && graphql::says_rate_limited(&bytes) {
            // GraphQL answers a spent budget with 200 and an error (its headers then say 0 left).
            let (scope, wait) = self.stats.limits.limited(&target, status, &headers);
            warn!(scope = %scope, wait_seconds = wait.as_secs(), "GitHub's GraphQL budget is spent; nothing is sent to this scope until the wait is over");
            return Err(ApiError::limited(SVC, scope, wait));
        }
        Ok((status, headers, bytes))
    }

    /// A refused credential in App mode says what GitHub said (a JWT's claim, an unknown App)
    /// and what to check: a token's advice would mislead. The body has been scrubbed of every
    /// known secret.
    fn explain_refusal(&self, e: ApiError, body: &[u8]) -> ApiError {
        match (e, &*self.auth) {
            (ApiError::Unauthorized { service, status, detail: None }, Auth::App(_)) => {
                let said = http::decode::<wire::WireError>(SVC, body).ok().and_then(|b| b.message);
                let said = said
                    .map(|m| format!("GitHub says \"{}\"; ", m.chars().take(200).collect::<String>()))
                    .unwrap_or_default();
                let detail = format!(
                    "{said}check [github] app_id, that private_key_file is a current key of that App, and this host's clock"
                );
                ApiError::Unauthorized { service, status, detail: Some(detail) }
            }
            (e, _) => e,
        }
    }

    /// Remembers which account a `/repositories/{id}` path belongs to, from a request that
    /// named the repository as `/repos/{owner}/…` and was sent on by id (`to`: its next page,
    /// or a redirect).
    fn learn_alias(&self, app: &auth::AppSession, asked: &Url, to: Option<Url>) {
        let Needs::Account(owner) = auth::needs(&self.relative_path(asked)) else { return };
        if let Some(Needs::RepositoryId(id)) = to.map(|to| auth::needs(&self.relative_path(&to))) {
            app.remember_alias(id, &owner);
        }
    }

    /// A moment of this host's clock on GitHub's clock, for comparing with GitHub's
    /// timestamps (`since`): a host that runs fast must not skip what GitHub stamped
    /// earlier. Before GitHub's clock is known, the moment is moved a day back instead.
    pub fn github_time(&self, host_time: chrono::DateTime<chrono::Utc>) -> GithubTime {
        (self.stats.service_time::<GithubClock>(host_time))
            .unwrap_or_else(|| GithubTime::assume_host(host_time - chrono::Duration::hours(UNKNOWN_CLOCK_MARGIN_HOURS)))
    }

    pub async fn get_repo(&self, repo: &RepoName) -> Result<RepoInfo, ApiError> {
        let (_, _, bytes) = self.call(Method::GET, self.url(&format!("/repos/{repo}")), None, None).await?;
        let r: wire::WireRepo = http::decode(SVC, &bytes)?;
        let visibility = r.visibility.unwrap_or_else(|| if r.private { "private".into() } else { "public".into() });
        Ok(RepoInfo { id: r.id, visibility, has_issues: r.has_issues, archived: r.archived, html_url: r.html_url })
    }

    /// The login ticket-sync writes as (checks the credentials): the token's user
    /// (`GET /user`), or a GitHub App's bot, `{slug}[bot]` (`GET /app` with the JWT; `GET /user`
    /// refuses installation tokens).
    pub async fn whoami(&self) -> Result<String, ApiError> {
        if let Auth::App(app) = &*self.auth {
            let bytes = self.app_request(app, Method::GET, "/app").await?;
            let a: wire::WireApp = http::decode(SVC, &bytes)?;
            return Ok(format!("{}[bot]", a.slug));
        }
        let (_, _, bytes) = self.call(Method::GET, self.url("/user"), None, None).await?;
        let u: wire::WireUser = http::decode(SVC, &bytes)?;
        Ok(u.login)
    }

    pub async fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, ApiError> {
        let payload = serde_json::to_value(wire::CreateIssue { title, body, labels }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues"));
        let (_, _, bytes) = self.call(Method::POST, url, Some(&payload), None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(to_issue(repo, w))
    }

    /// Looks for ticket-sync's own issue carrying `marker` among issues created since `since`,
    /// newest first, through the list endpoint (it reads the primary store; search lags behind
    /// writes). Own: opened by `login` (the token's user), with the body ending in the marker
    /// as ticket-sync writes it, so neither a stranger's issue nor quoted text is adopted.
    pub async fn find_issue_with_marker(
        &self,
        repo: &RepoName,
        marker: &str,
        since: GithubTime,
        logins: &[&str],
    ) -> Result<Option<Issue>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues"));
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("since", &since.utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireIssue>(url, None).await? else {
            return Ok(None);
        };
        Ok(items.into_iter().find(|i| is_own_issue(i, logins, marker)).map(|w| to_issue(repo, w)))
    }

    /// The issue `number` if it is ticket-sync's own issue carrying `marker` (see
    /// `find_issue_with_marker`); `None` when it is someone else's, deleted or moved away.
    pub async fn own_issue(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        marker: &str,
        logins: &[&str],
    ) -> Result<Option<Issue>, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let bytes = match self.call(Method::GET, url, None, None).await {
            Ok((_, _, bytes)) => bytes,
            // Transferred (or its repository renamed): judge it where it is now.
            Err(ApiError::Moved { location: Some(location), .. }) => {
                let Some((moved_to, w)) = self.read_moved(&location).await? else { return Ok(None) };
                let repo = moved_to.unwrap_or_else(|| repo.clone());
                return Ok(is_own_issue(&w, logins, marker).then(|| to_issue(&repo, w)));
            }
            Err(e) => return Err(e),
        };
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(is_own_issue(&w, logins, marker).then(|| to_issue(repo, w)))
    }

    /// Where a transferred issue went, from the `Location` of its redirect. `None` when the
    /// location is elsewhere, names no issue, or the issue's repository cannot be told.
    pub async fn locate_moved(&self, location: &str) -> Result<Option<Issue>, ApiError> {
        let Some((repo, w)) = self.read_moved(location).await? else { return Ok(None) };
        let repo = repo.or_else(|| repo_from_html_url(&w.html_url));
        Ok(repo.map(|repo| to_issue(&repo, w)))
    }

    /// Reads the issue a redirect's `Location` names. GitHub names the new repository by id
    /// (`/repositories/{id}/issues/{n}`), so the repository comes from the issue's
    /// `repository_url`. Same origin only; a sub-resource's redirect (`…/issues/{n}/comments`)
    /// names its issue too.
    async fn read_moved(&self, location: &str) -> Result<Option<(Option<RepoName>, wire::WireIssue)>, ApiError> {
        let Some(mut url) = self.same_origin(location) else { return Ok(None) };
        let Some(path) = issue_path(url.path()) else { return Ok(None) };
        url.set_path(&path);
        url.set_query(None);
        let (_, _, bytes) = self.call_once(Method::GET, url, None, None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(Some((w.repository_url.as_deref().and_then(repo_from_api_url), w)))
    }

    /// One issue; a transferred one answers `Moved`, a deleted one `Gone`.
    /// Reads an issue unless it is unchanged since `etag` (then `None`, a 304 that costs no budget).
    pub async fn get_issue_if_changed(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        etag: Option<&str>,
    ) -> Result<Option<(Issue, Option<String>)>, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let (status, headers, bytes) = self.call(Method::GET, url, None, etag).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let new_etag = headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(Some((to_issue(repo, w), new_etag)))
    }

    pub async fn get_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<Issue, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let (_, _, bytes) = self.call(Method::GET, url, None, None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(to_issue(repo, w))
    }

    /// The id of ticket-sync's own comment on the issue carrying `marker` (written by `login`,
    /// the marker ending its body), among comments since `since`.
    pub async fn find_comment_with_marker(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        marker: &str,
        since: GithubTime,
        logins: &[&str],
    ) -> Result<Option<IssueCommentId>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues/{number}/comments"));
        url.query_pairs_mut()
            .append_pair("since", &since.utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireComment>(url, None).await? else {
            return Ok(None);
        };
        let own = |c: &wire::WireComment| {
            c.user.as_ref().is_some_and(|u| is_one_of(&u.login, logins))
                && ends_with_marker(c.body.as_deref().unwrap_or(""), marker)
        };
        Ok(items.into_iter().find(own).map(|c| IssueCommentId(c.id)))
    }

    /// Adds a comment to an issue; returns the new comment's id.
    /// Reopens an issue. Reopening an open issue changes nothing, so a retry is harmless.
    pub async fn reopen_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<(), ApiError> {
        let payload = serde_json::json!({ "state": "open", "state_reason": "reopened" });
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        self.call(Method::PATCH, url, Some(&payload), None).await?;
        Ok(())
    }

    /// Replaces a comment's body. Setting the same body again changes nothing, so a retry is
    /// harmless; an edit notifies nobody.
    pub async fn update_comment(
        &self,
        repo: &RepoName,
        comment_id: IssueCommentId,
        body: &str,
    ) -> Result<(), ApiError> {
        let payload = serde_json::to_value(wire::CreateComment { body }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues/comments/{comment_id}"));
        self.call(Method::PATCH, url, Some(&payload), None).await?;
        Ok(())
    }

    pub async fn create_comment(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        body: &str,
    ) -> Result<IssueCommentId, ApiError> {
        let payload = serde_json::to_value(wire::CreateComment { body }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues/{number}/comments"));
        let (_, _, bytes) = self.call(Method::POST, url, Some(&payload), None).await?;
        let w: wire::WireComment = http::decode(SVC, &bytes)?;
        Ok(IssueCommentId(w.id))
    }
}

/// `location` if it is a URL of the API at `base`: the same origin and, for a base with a path
/// (GitHub Enterprise Server's `https://HOST/api/v3`), under that path. The rest of such a
/// host is its web site, where neither a redirect nor a `Link` of the API leads and where the
/// token has no business.
// FACT: GHES's REST endpoints are all prefixed with `http(s)://HOSTNAME/api/v3`, not
// configurable (docs.github.com/en/enterprise-server@3.10/rest/enterprise-admin, "Endpoint
// URLs"; github.com/orgs/community/discussions/24365); its `Link` and `Location` URLs are
// absolute URLs under that prefix.
fn within_api(base: &Url, location: &str) -> Option<Url> {
    let url = Url::parse(location).ok()?;
    let prefix = base.path().trim_end_matches('/');
    let under = url.path() == prefix || url.path().strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    (url.origin() == base.origin() && under).then_some(url)
}

/// Narrows a 403 that is not a rate limit (`http` has told those apart) to what it is about.
/// GitHub refuses per resource: an archived repository ("Repository was archived so is
/// read-only"), a token or App without write access to one repository ("Resource not
/// accessible by …"), a locked issue ("Unable to create comment because issue is locked").
/// Only a refusal outside any repository (`/user`) is about the credentials themselves.
fn refuse_scope(e: ApiError, path: &str, body: &[u8]) -> ApiError {
    let ApiError::Forbidden { service, detail, .. } = e else { return e };
    let message = http::decode::<wire::WireError>(SVC, body).ok().and_then(|b| b.message).unwrap_or_default();
    let in_repo = path.contains("/repos/") || path.contains("/repositories/");
    let scope = if !in_repo {
        ForbiddenScope::Account
    } else if message.to_ascii_lowercase().contains("locked") {
        ForbiddenScope::Issue
    } else {
        ForbiddenScope::Repository
    };
    ApiError::Forbidden { service, scope, detail: if message.is_empty() { detail } else { message } }
}

/// Whether a redirect of this request is news the caller acts on (the issue was transferred:
/// the link moves) rather than a renamed repository to follow: reading the issue itself, or
/// writing to it or under it.
fn tells_a_transfer(method: &Method, path: &str) -> bool {
    match issue_path(path) {
        Some(issue) => *method != Method::GET || issue == path.trim_end_matches('/'),
        None => false,
    }
}

/// The path up to and including `issues/{n}`, if the path names one issue.
fn issue_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments
        .windows(2)
        .position(|w| w[0] == "issues" && !w[1].is_empty() && w[1].bytes().all(|b| b.is_ascii_digit()))?;
    Some(segments[..at + 2].join("/"))
}

/// `owner/name` from `…/repos/{owner}/{name}`.
fn repo_from_api_url(url: &str) -> Option<RepoName> {
    let path = Url::parse(url).ok()?.path().to_string();
    let rest = &path[path.find("/repos/")? + "/repos/".len()..];
    rest.trim_end_matches('/').parse().ok()
}

/// `owner/name` from an issue's web URL `…/{owner}/{name}/issues/{n}` (any host: GitHub
/// Enterprise Server too).
fn repo_from_html_url(url: &str) -> Option<RepoName> {
    let path = Url::parse(url).ok()?.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let at = segments.iter().rposition(|s| *s == "issues")?;
    (at >= 2).then(|| format!("{}/{}", segments[at - 2], segments[at - 1]).parse().ok()).flatten()
}

/// The repository and number an issue page's URL names (`…/{owner}/{repo}/issues/{n}`), as
/// the link note writes it.
pub fn parse_issue_html_url(url: &str) -> Option<(RepoName, IssueNumber)> {
    let path = Url::parse(url).ok()?.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let at = segments.iter().rposition(|s| *s == "issues")?;
    let number = segments.get(at + 1)?.parse().ok()?;
    (at >= 2 && at + 2 == segments.len()).then_some(())?;
    Some((repo_from_html_url(url)?, IssueNumber(number)))
}

/// The repository and number an issue API URL names (`…/repos/{owner}/{repo}/issues/{n}`),
/// as a transfer's `Location` gives them.
pub fn parse_issue_url(url: &str) -> Option<(RepoName, IssueNumber)> {
    let path = Url::parse(url).ok()?.path().to_string();
    let rest = &path[path.find("/repos/")? + "/repos/".len()..];
    let mut parts = rest.split('/');
    let (owner, name, kind, number) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if kind != "issues" {
        return None;
    }
    Some((format!("{owner}/{name}").parse().ok()?, IssueNumber(number.parse().ok()?)))
}

fn parse_time(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|d| d.to_utc())
}

fn to_issue(repo: &RepoName, w: wire::WireIssue) -> Issue {
    Issue {
        repo: repo.clone(),
        number: IssueNumber(w.number),
        id: IssueId(w.id),
        html_url: w.html_url,
        state: IssueState::parse(&w.state),
        state_reason: w.state_reason.map(StateReason::from),
        body: w.body,
        updated_at: parse_time(w.updated_at.as_deref()),
        closed_by: w.closed_by.map(|u| u.login),
        is_pull_request: w.pull_request.is_some(),
    }
}

/// Opened by `login` (GitHub logins compare without case), not a pull request, and the body
/// ends with `marker` on its own line, where `body::issue_body` puts it.
fn is_own_issue(w: &wire::WireIssue, logins: &[&str], marker: &str) -> bool {
    let by = w.user.as_ref().is_some_and(|u| is_one_of(&u.login, logins));
    by && w.pull_request.is_none() && ends_with_marker(w.body.as_deref().unwrap_or(""), marker)
}

/// Whether `login` is one of `logins` (GitHub logins compare without case).
fn is_one_of(login: &str, logins: &[&str]) -> bool {
    logins.iter().any(|l| l.eq_ignore_ascii_case(login))
}

/// Whether `body` ends with `marker` on a line of its own (trailing blank space aside), the
/// only place ticket-sync writes a marker.
pub fn ends_with_marker(body: &str, marker: &str) -> bool {
    body.trim_end().strip_suffix(marker).is_some_and(|rest| rest.is_empty() || rest.ends_with('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_installation_has_its_own_write_pace_and_the_same_one_across_clients() {
        let stats = ApiStats::new();
        // One write an hour: a second write of the same identity waits, another's does not.
        let pacers = || Pacers { writes_per_minute: 0, writes_per_hour: 1, by_installation: Default::default() };
        let (first, second) = (pacers(), pacers());
        assert!(first.get(&stats, Some(InstallationId(1))).wait().await.is_ok());
        assert!(
            first.get(&stats, Some(InstallationId(2))).wait().await.is_ok(),
            "another installation's hour is its own"
        );
        assert!(first.get(&stats, None).wait().await.is_ok(), "the token's too");
        let refused = first.get(&stats, Some(InstallationId(1))).wait().await;
        assert!(matches!(refused, Err(ApiError::RateLimited { .. })), "{refused:?}");
        let refused = second.get(&stats, Some(InstallationId(1))).wait().await;
        assert!(matches!(refused, Err(ApiError::RateLimited { .. })), "a new client (a reload) counts on: {refused:?}");
    }

    #[test]
    fn a_transfer_location_names_the_new_repository_and_number() {
        let (repo, number) = parse_issue_url("https://api.github.com/repos/acme/other/issues/12").unwrap();
        assert_eq!((repo.to_string(), number), ("acme/other".to_string(), IssueNumber(12)));
        assert!(parse_issue_url("https://api.github.com/repositories/5/issues/12").is_none());
    }

    #[test]
    fn redirect_shapes_are_told_apart() {
        assert!(tells_a_transfer(&Method::GET, "/repositories/5/issues/12"));
        assert!(tells_a_transfer(&Method::POST, "/repos/a/b/issues/12/comments"));
        assert!(
            !tells_a_transfer(&Method::GET, "/repos/a/b/issues/12/events"),
            "a renamed repository's reads are followed"
        );
        assert!(!tells_a_transfer(&Method::POST, "/repos/a/b/issues"));
        assert!(!tells_a_transfer(&Method::GET, "/repos/a/b/issues/comments"));
        assert!(!tells_a_transfer(&Method::GET, "/repos/a/b"));
        assert_eq!(issue_path("/repositories/5/issues/12/comments").as_deref(), Some("/repositories/5/issues/12"));
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        assert_eq!(repo_from_api_url("https://api.github.com/repos/acme/new-name"), Some(repo("acme/new-name")));
        assert_eq!(repo_from_html_url("https://ghe.example/acme/x/issues/3"), Some(repo("acme/x")));
    }

    #[test]
    fn api_urls_stay_under_an_enterprise_servers_prefix() {
        let base = Url::parse("https://ghe.corp.example/api/v3").unwrap();
        let within = |l: &str| within_api(&base, l).map(|u| u.to_string());
        let renamed = "https://ghe.corp.example/api/v3/repositories/5/issues?page=2";
        assert_eq!(within(renamed).as_deref(), Some(renamed));
        assert!(within("https://ghe.corp.example/login?return_to=%2Frepos").is_none(), "the web site");
        assert!(within("https://ghe.corp.example/acme/x/issues/3").is_none(), "an issue page");
        assert!(within("https://ghe.corp.example/api/v30/repos/acme/x").is_none(), "a longer segment");
        assert!(within("https://other.example/api/v3/repos/acme/x").is_none(), "another host");
        assert!(within("http://ghe.corp.example/api/v3/repos/acme/x").is_none(), "another scheme");
        let trailing = Url::parse("https://ghe.corp.example/api/v3/").unwrap();
        assert!(within_api(&trailing, "https://ghe.corp.example/api/v3/repos/acme/x").is_some());
        let dotcom = Url::parse("https://api.github.com").unwrap();
        assert!(within_api(&dotcom, "https://api.github.com/repositories/5/issues/1").is_some());
    }

    #[test]
    fn enterprise_server_urls_keep_the_prefix_and_name_the_issue() {
        let base = Url::parse("https://ghe.corp.example/api/v3").unwrap();
        let url = http::join_path(&base, "/repos/acme/x/issues/3");
        assert_eq!(url.as_str(), "https://ghe.corp.example/api/v3/repos/acme/x/issues/3");
        let trailing = Url::parse("https://ghe.corp.example/api/v3/").unwrap();
        assert_eq!(http::join_path(&trailing, "/user").as_str(), "https://ghe.corp.example/api/v3/user");
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        assert_eq!(parse_issue_url(url.as_str()), Some((repo("acme/x"), IssueNumber(3))));
        let moved = "/api/v3/repositories/5/issues/12/comments";
        assert_eq!(issue_path(moved).as_deref(), Some("/api/v3/repositories/5/issues/12"));
        assert!(tells_a_transfer(&Method::GET, "/api/v3/repositories/5/issues/12"));
        assert!(!tells_a_transfer(&Method::GET, "/api/v3/repos/a/b/issues/12/events"));
        let api = "https://ghe.corp.example/api/v3/repos/acme/new-name";
        assert_eq!(repo_from_api_url(api), Some(repo("acme/new-name")));
        let page = parse_issue_html_url("https://ghe.corp.example/acme/x/issues/3");
        assert_eq!(page, Some((repo("acme/x"), IssueNumber(3))));
        let forbidden = |path: &str| {
            let e = ApiError::Forbidden {
                service: ticket_sync_core::domain::Service::Github,
                scope: ForbiddenScope::Account,
                detail: String::new(),
            };
            match refuse_scope(e, path, br#"{"message":"Resource not accessible by integration"}"#) {
                ApiError::Forbidden { scope, .. } => scope,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(forbidden("/api/v3/repos/acme/x/issues"), ForbiddenScope::Repository);
        assert_eq!(forbidden("/api/v3/user"), ForbiddenScope::Account);
    }

    #[test]
    fn a_link_notes_issue_url_names_repository_and_number() {
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        let parsed = parse_issue_html_url("https://github.com/acme/x/issues/3");
        assert_eq!(parsed, Some((repo("acme/x"), IssueNumber(3))));
        assert!(parse_issue_html_url("https://github.com/acme/x/issues/3/more").is_none());
        assert!(parse_issue_html_url("https://github.com/acme/x/pull/3").is_none());
        assert!(parse_issue_html_url("Escalated to engineering: GitHub issue acme/x#3").is_none());
        assert!(ends_with_marker("text\n\n<!-- m -->\n", "<!-- m -->"));
        assert!(!ends_with_marker("text <!-- m -->", "<!-- m -->"));
    }
}
