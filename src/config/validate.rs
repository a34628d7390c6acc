//! Turns the raw rules into `Rules`: defaults, value checks and path resolution, each error with its key and line.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use regex::Regex;
use url::Url;

use std::net::SocketAddr;

use ticket_sync_core::cron::CronSchedule;
use ticket_sync_core::domain::{FieldId, InstallationId, RepoName, TicketStatus};
use ticket_sync_core::rules::*;

use super::raw::{self, RawMatch, S};
use super::*;

/// The statuses a filter's `status_in` may name: Zendesk's six (FACTS.md, "Ticket status"), in
/// lower case as Zendesk writes them. `deleted` is only the export's word for a deleted ticket,
/// which is never escalated. A ticket with a custom status has its category in `status`, so a
/// filter names categories.
const FILTER_STATUSES: [TicketStatus; 6] = [
    TicketStatus::New,
    TicketStatus::Open,
    TicketStatus::Pending,
    TicketStatus::Hold,
    TicketStatus::Solved,
    TicketStatus::Closed,
];
/// The statuses `[pushback]` may set: not `closed`, which Zendesk sets itself on a solved ticket
/// (and a closed ticket takes no more notes).
const SETTABLE_STATUSES: [TicketStatus; 5] =
    [TicketStatus::New, TicketStatus::Open, TicketStatus::Pending, TicketStatus::Hold, TicketStatus::Solved];
const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, key: &str, msg: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError::at(self.path, self.text, span, key, msg))
    }
}

pub fn validate(path: &Path, text: &str, raw: raw::RawRules) -> Result<Rules, ConfigError> {
    let cx = Ctx { path, text };
    // Each table is checked even when an earlier one failed, so one run reports them all.
    let mut errors = Vec::new();
    let zendesk = keep(&mut errors, zendesk(&cx, &raw.zendesk));
    let github = keep(&mut errors, github(&cx, raw.github.as_ref()));
    let schedule = keep(&mut errors, schedule(&cx, raw.schedule.as_ref()));
    let escalation = keep(&mut errors, escalation(&cx, &raw.escalation));
    let routes = keep(&mut errors, routes(&cx, &raw.route));
    let pushback = keep(&mut errors, pushback(&cx, raw.pushback.as_ref()));
    let forward = keep(&mut errors, forward(&cx, raw.forward.as_ref()));
    let linking = keep(&mut errors, linking(&cx, raw.linking.as_ref()));
    let fixes = keep(&mut errors, fixes(&cx, raw.fixes.as_ref()));
    let redact = keep(&mut errors, redaction(&cx, raw.redact.as_ref()));
    let daemon = keep(&mut errors, daemon(&cx, raw.daemon.as_ref()));
    let webhooks = keep(&mut errors, webhooks(&cx, raw.webhooks.as_ref()));
    let max_attempts = keep(
        &mut errors,
        match raw.retry.as_ref().and_then(|r| r.max_attempts.as_ref()) {
            None => Ok(8),
            Some(v) if (1..=1000).contains(v.get_ref()) => Ok(*v.get_ref() as u32),
            Some(v) => cx.err(v.span(), "retry.max_attempts", "must be between 1 and 1000"),
        },
    );
    let first_delay_secs = keep(
        &mut errors,
        match raw.retry.as_ref().and_then(|r| r.backoff_seconds.as_ref()) {
            None => Ok(60),
            Some(v) if (1..=86_400).contains(v.get_ref()) => Ok(*v.get_ref() as u64),
            Some(v) => cx.err(v.span(), "retry.backoff_seconds", "must be between 1 and 86400"),
        },
    );
    let all = (zendesk, github, schedule, escalation, routes, pushback, forward, redact, daemon, linking);
    let (
        Some(webhooks),
        Some(fixes),
        (
            Some(zendesk),
            Some(github),
            Some(schedule),
            Some(escalation),
            Some(routes),
            Some(pushback),
            Some(forward),
            Some(redact),
            Some(daemon),
            Some(linking),
        ),
        Some(max_attempts),
        Some(first_delay_secs),
    ) = (webhooks, fixes, all, max_attempts, first_delay_secs)
    else {
        return Err(ConfigError::all(errors).expect("a table failed, so an error was kept"));
    };
    let (mut routes, mut linking) = (routes, linking);
    one_spelling_per_repository(&mut routes, linking.as_mut());
    Ok(Rules {
        source: path.to_path_buf(),
        zendesk,
        github,
        state_path: state_path(path, raw.state.as_ref()),
        schedule,
        escalation,
        routes,
        pushback,
        forward,
        linking,
        fixes,
        redact,
        daemon,
        retry: RetryPolicy { max_attempts, first_delay_secs },
        webhooks,
        fingerprint: fingerprint(text),
    })
}

/// The value of a table that checked out; otherwise its error joins `errors`.
fn keep<T>(errors: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// A short digest of the rules text: a changed file gives a different value.
fn fingerprint(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn base_url(cx: &Ctx, value: &S<String>, key: &str, allow_insecure: bool) -> Result<Url, ConfigError> {
    let url = match Url::parse(value.get_ref()) {
        Ok(u) => u,
        Err(e) => return cx.err(value.span(), key, format!("`{}` is not a URL: {e}", value.get_ref())),
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure => {}
        "http" => {
            return cx.err(
                value.span(),
                key,
                "plain http:// is refused for hosts other than loopback: use https://, or set allow_insecure_http = true in this table",
            )
        }
        s => return cx.err(value.span(), key, format!("scheme `{s}` is not supported; use https://")),
    }
    if url.host_str().is_none() || url.query().is_some() || !url.username().is_empty() {
        return cx.err(value.span(), key, "must be a base URL with a host and no query or credentials");
    }
    Ok(url)
}

fn token_source(
    cx: &Ctx,
    table: &str,
    env: Option<&S<String>>,
    file: Option<&S<String>>,
    default_env: &str,
    credential: &str,
) -> Result<TokenSource, ConfigError> {
    let keys = (format!("{table}.token_env"), format!("{table}.token_file"));
    secret_source(cx, (&keys.0, &keys.1), env, file, default_env, credential)
}

/// Where a secret comes from: the `_env` key, the `_file` key (never both), else the default
/// variable and then the systemd credential. `keys` are the full keys, for messages.
fn secret_source(
    cx: &Ctx,
    keys: (&str, &str),
    env: Option<&S<String>>,
    file: Option<&S<String>>,
    default_env: &str,
    credential: &str,
) -> Result<TokenSource, ConfigError> {
    let short = |key: &str| key.rsplit('.').next().unwrap_or(key).to_string();
    match (env, file) {
        (Some(_), Some(f)) => {
            cx.err(f.span(), keys.1, format!("give either {} or {}, not both", short(keys.0), short(keys.1)))
        }
        (Some(e), None) if e.get_ref().trim().is_empty() => {
            cx.err(e.span(), keys.0, "must name an environment variable")
        }
        (Some(e), None) => Ok(TokenSource::Env { var: e.get_ref().clone(), credential: credential.into() }),
        (None, Some(f)) if f.get_ref().trim().is_empty() => cx.err(f.span(), keys.1, "must name a file"),
        (None, Some(f)) => Ok(TokenSource::File(resolve_relative(cx.path, f.get_ref()))),
        (None, None) => Ok(TokenSource::Default { env: default_env.into(), credential: credential.into() }),
    }
}

fn zendesk(cx: &Ctx, z: &S<raw::RawZendesk>) -> Result<ZendeskRules, ConfigError> {
    let url = base_url(cx, &z.get_ref().url, "zendesk.url", z.get_ref().allow_insecure_http)?;
    let r = z.get_ref();
    let auth = zendesk_auth(cx, z)?;
    let export_requests_per_minute = match &r.export_requests_per_minute {
        None => 10,
        Some(v) if (1..=1000).contains(v.get_ref()) => *v.get_ref() as u32,
        Some(v) => return cx.err(v.span(), "zendesk.export_requests_per_minute", "must be between 1 and 1000"),
    };
    let settle_secs = settle(cx, z.get_ref().settle_seconds.as_ref(), "zendesk.settle_seconds", ZENDESK_SETTLE_SECS)?;
    let ca_file = ca_file(cx, r.ca_file.as_ref(), "zendesk.ca_file")?;
    Ok(ZendeskRules { url, auth, export_requests_per_minute, settle_secs, ca_file })
}

/// An OAuth client (`client_id` with its secret and scopes) or an API token (`email` with
/// `token_env` / `token_file`), never both.
fn zendesk_auth(cx: &Ctx, z: &S<raw::RawZendesk>) -> Result<ZendeskAuth, ConfigError> {
    let r = z.get_ref();
    let Some(client_id) = &r.client_id else {
        let oauth_only = [
            (r.client_secret_env.as_ref().map(|v| v.span()), "zendesk.client_secret_env"),
            (r.client_secret_file.as_ref().map(|v| v.span()), "zendesk.client_secret_file"),
            (r.scopes.as_ref().map(|v| v.span()), "zendesk.scopes"),
        ];
        if let Some((Some(span), key)) = oauth_only.into_iter().find(|(s, _)| s.is_some()) {
            return cx.err(span, key, "is for an OAuth client: set client_id too, or remove it to use an API token");
        }
        let email =
            match &r.email {
                Some(e) if e.get_ref().contains('@') => e.get_ref().clone(),
                Some(e) => return cx.err(e.span(), "zendesk.email", "must be the e-mail address of the API user"),
                None => return cx.err(
                    z.span(),
                    "zendesk.client_id",
                    "missing: set client_id to the Identifier of the OAuth client ticket-sync uses (Admin Center → \
                     Apps and integrations → APIs → OAuth clients); an API token (email with token_env / token_file) \
                     still works until Zendesk switches API tokens off on 2027-04-30",
                ),
            };
        let token = token_source(
            cx,
            "zendesk",
            r.token_env.as_ref(),
            r.token_file.as_ref(),
            "ZENDESK_API_TOKEN",
            "zendesk-token",
        )?;
        return Ok(ZendeskAuth::ApiToken { email, token });
    };
    let token_keys =
        [(&r.email, "zendesk.email"), (&r.token_env, "zendesk.token_env"), (&r.token_file, "zendesk.token_file")];
    if let Some((Some(v), key)) = token_keys.into_iter().find(|(v, _)| v.is_some()) {
        return cx.err(
            v.span(),
            key,
            "give either an OAuth client (client_id, client_secret_env / client_secret_file) or an API token \
             (email, token_env / token_file), not both",
        );
    }
    let id = client_id.get_ref().trim();
    // Zendesk's identifiers are the unique name an admin gives the client: letters, digits,
    // `_` and `-`; nothing that would need escaping in a form.
    let valid = !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid {
        return cx.err(
            client_id.span(),
            "zendesk.client_id",
            "must be the OAuth client's Identifier as Admin Center shows it (letters, digits, `_`, `-`)",
        );
    }
    let secret = secret_source(
        cx,
        ("zendesk.client_secret_env", "zendesk.client_secret_file"),
        r.client_secret_env.as_ref(),
        r.client_secret_file.as_ref(),
        "ZENDESK_CLIENT_SECRET",
        "zendesk-client-secret",
    )?;
    let scopes = match &r.scopes {
        None => DEFAULT_ZENDESK_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            if list.get_ref().is_empty() {
                return cx.err(
                    list.span(),
                    "zendesk.scopes",
                    "must name at least one scope (or be left out for the default)",
                );
            }
            if let Some(bad) = list.get_ref().iter().find(|s| !is_zendesk_scope(s)) {
                return cx.err(
                    list.span(),
                    "zendesk.scopes",
                    format!(
                        "`{bad}` is not a Zendesk OAuth scope: use read, write, or RESOURCE:read / RESOURCE:write \
                         (tickets, users, ...); leave scopes out for the default ({})",
                        DEFAULT_ZENDESK_SCOPES.join(" ")
                    ),
                );
            }
            let mut scopes: Vec<String> = list.get_ref().iter().map(|s| s.trim().to_string()).collect();
            scopes.dedup();
            scopes
        }
    };
    Ok(ZendeskAuth::OAuth(OAuthRules { client_id: id.to_string(), secret, scopes }))
}

/// Zendesk's scope grammar: `read`, `write`, `impersonate`, or `RESOURCE:read|write`.
fn is_zendesk_scope(s: &str) -> bool {
    match s.trim().split_once(':') {
        None => matches!(s.trim(), "read" | "write" | "impersonate"),
        Some((resource, access)) => {
            !resource.is_empty()
                && resource.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && matches!(access, "read" | "write")
        }
    }
}

fn github(cx: &Ctx, g: Option<&S<raw::RawGithub>>) -> Result<GithubRules, ConfigError> {
    let default_url = Url::parse("https://api.github.com").expect("static URL");
    let Some(g) = g.map(|g| g.get_ref()) else {
        return Ok(GithubRules {
            url: default_url,
            auth: GithubAuth::Token(TokenSource::Default {
                env: "GITHUB_TOKEN".into(),
                credential: "github-token".into(),
            }),
            allow_public_repos: false,
            writes_per_minute: 60,
            writes_per_hour: 450,
            settle_secs: GITHUB_SETTLE_SECS,
            ca_file: None,
        });
    };
    let url = match &g.url {
        Some(u) => base_url(cx, u, "github.url", g.allow_insecure_http)?,
        None => default_url,
    };
    let auth = github_auth(cx, g)?;
    let writes_per_minute = match &g.writes_per_minute {
        None => 60,
        Some(v) if (0..=1000).contains(v.get_ref()) => *v.get_ref() as u32,
        Some(v) => return cx.err(v.span(), "github.writes_per_minute", "must be between 0 (no pacing) and 1000"),
    };
    let writes_per_hour = match &g.writes_per_hour {
        None => 450,
        Some(v) if (0..=100_000).contains(v.get_ref()) => *v.get_ref() as u32,
        Some(v) => return cx.err(v.span(), "github.writes_per_hour", "must be between 0 (no cap) and 100000"),
    };
    let settle_secs = settle(cx, g.settle_seconds.as_ref(), "github.settle_seconds", GITHUB_SETTLE_SECS)?;
    let ca_file = ca_file(cx, g.ca_file.as_ref(), "github.ca_file")?;
    Ok(GithubRules {
        url,
        auth,
        allow_public_repos: g.allow_public_repos,
        writes_per_minute,
        writes_per_hour,
        settle_secs,
        ca_file,
    })
}

/// A token (`token_env` / `token_file` / the defaults) or a GitHub App (`app_id` with
/// `private_key_file` or the `github-app-key` credential), never both.
fn github_auth(cx: &Ctx, g: &raw::RawGithub) -> Result<GithubAuth, ConfigError> {
    let Some(app_id) = &g.app_id else {
        if let Some(v) = &g.private_key_file {
            return cx.err(
                v.span(),
                "github.private_key_file",
                "is for a GitHub App: set app_id too, or remove it to use a token",
            );
        }
        if let Some(v) = &g.installation_id {
            return cx.err(
                v.span(),
                "github.installation_id",
                "is for a GitHub App: set app_id too, or remove it to use a token",
            );
        }
        let token =
            token_source(cx, "github", g.token_env.as_ref(), g.token_file.as_ref(), "GITHUB_TOKEN", "github-token")?;
        return Ok(GithubAuth::Token(token));
    };
    for (v, key) in [(&g.token_env, "github.token_env"), (&g.token_file, "github.token_file")] {
        if let Some(v) = v {
            return cx.err(
                v.span(),
                key,
                "give either a token (token_env / token_file) or a GitHub App (app_id, private_key_file), not both",
            );
        }
    }
    let positive = |v: &S<i64>, key: &str| -> Result<u64, ConfigError> {
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => Ok(n),
            _ => cx.err(v.span(), key, "must be a positive whole number (the id GitHub shows)"),
        }
    };
    let app_id = positive(app_id, "github.app_id")?;
    let installation_id =
        g.installation_id.as_ref().map(|v| positive(v, "github.installation_id").map(InstallationId)).transpose()?;
    let key = match &g.private_key_file {
        Some(f) if f.get_ref().trim().is_empty() => {
            return cx.err(f.span(), "github.private_key_file", "must name the App's private key file (PEM)")
        }
        Some(f) => KeySource::File(resolve_relative(cx.path, f.get_ref())),
        None => KeySource::Credential("github-app-key".into()),
    };
    Ok(GithubAuth::App(AppRules { app_id, key, installation_id }))
}

/// `ca_file`, resolved against the rules file's folder, read and checked now: a missing,
/// unreadable or non-PEM file is an error of the rules, before any request.
fn ca_file(cx: &Ctx, v: Option<&S<String>>, key: &str) -> Result<Option<CaFile>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    if v.get_ref().trim().is_empty() {
        return cx.err(v.span(), key, "must name a PEM file of CA certificates");
    }
    let path = resolve_relative(cx.path, v.get_ref());
    match ticket_sync_clients::http::read_ca_file(&path) {
        Ok(pem) => Ok(Some(CaFile { path, pem })),
        Err(msg) => cx.err(v.span(), key, msg),
    }
}

/// How long after it was sent a write with an unknown outcome may still be carried out, by
/// default, with a margin. FACTS (docs.github.com, "Troubleshooting the REST API" → "Timeouts"):
/// GitHub ends a request that takes more than 10 s, and "reserves the right to change the
/// timeout window". ASSUMED: Zendesk ends one after about 60 s; searched Zendesk's developer
/// docs and help centre for a request timeout: none is stated.
const GITHUB_SETTLE_SECS: u64 = 30;
const ZENDESK_SETTLE_SECS: u64 = 75;

fn settle(cx: &Ctx, v: Option<&S<i64>>, key: &str, default: u64) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(v) if (0..=3_600).contains(v.get_ref()) => Ok(*v.get_ref() as u64),
        Some(v) => cx.err(v.span(), key, "must be between 0 (trust a look at once) and 3600"),
    }
}

fn resolve_relative(rules_file: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    rules_file.parent().unwrap_or(Path::new(".")).join(p)
}

/// `[state] path` wins; without it systemd's `$STATE_DIRECTORY`; else `state/` next to the rules file.
fn state_path(rules_file: &Path, state: Option<&raw::RawState>) -> PathBuf {
    if let Some(p) = state.and_then(|s| s.path.as_ref()) {
        return resolve_relative(rules_file, p.get_ref());
    }
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several directories separated by colons; the first is ours.
        Some(dir) if !dir.is_empty() => {
            let first = dir.to_string_lossy().split(':').next().unwrap_or_default().to_string();
            PathBuf::from(first).join("ticket-sync.db")
        }
        _ => resolve_relative(rules_file, "state/ticket-sync.db"),
    }
}

fn cron(cx: &Ctx, value: Option<&S<String>>, key: &str, default: &str) -> Result<CronSchedule, ConfigError> {
    match value {
        None => Ok(CronSchedule::parse(default).expect("default schedule is valid")),
        Some(v) => CronSchedule::parse(v.get_ref())
            .or_else(|e| cx.err(v.span(), key, format!("invalid cron expression `{}`: {e}", v.get_ref()))),
    }
}

fn schedule(cx: &Ctx, s: Option<&raw::RawSchedule>) -> Result<Schedules, ConfigError> {
    Ok(Schedules {
        escalate: cron(cx, s.and_then(|s| s.escalate.as_ref()), "schedule.escalate", "* * * * *")?,
        push: cron(cx, s.and_then(|s| s.push.as_ref()), "schedule.push", "*/5 * * * *")?,
        audit: cron(cx, s.and_then(|s| s.audit.as_ref()), "schedule.audit", "30 3 * * *")?,
    })
}

fn word_list(
    cx: &Ctx,
    v: Option<&S<Vec<String>>>,
    key: &str,
    allowed: Option<&[&str]>,
) -> Result<Vec<String>, ConfigError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.get_ref().is_empty() {
        return cx.err(v.span(), key, "must not be an empty list (leave the key out instead)");
    }
    for item in v.get_ref() {
        if item.trim().is_empty() {
            return cx.err(v.span(), key, "contains an empty string");
        }
        if let Some(allowed) = allowed {
            if !allowed.contains(&item.as_str()) {
                return cx.err(v.span(), key, format!("`{item}` is not one of {}", allowed.join(", ")));
            }
        }
    }
    Ok(v.get_ref().iter().map(|s| s.trim().to_lowercase()).collect())
}

/// A filter's `status_in`: each one of `FILTER_STATUSES`, exactly as Zendesk writes it.
fn status_list(cx: &Ctx, v: Option<&S<Vec<String>>>, key: &str) -> Result<Vec<TicketStatus>, ConfigError> {
    let names: Vec<&str> = FILTER_STATUSES.iter().map(TicketStatus::as_str).collect();
    let words = word_list(cx, v, key, Some(&names))?;
    Ok(words.iter().map(|w| TicketStatus::from(w.as_str())).collect())
}

fn filter(cx: &Ctx, m: &RawMatch, prefix: &str) -> Result<Match, ConfigError> {
    Ok(Match {
        tags_any: word_list(cx, m.tags_any.as_ref(), &format!("{prefix}.tags_any"), None)?,
        status_in: status_list(cx, m.status_in.as_ref(), &format!("{prefix}.status_in"))?,
        priority_in: word_list(cx, m.priority_in.as_ref(), &format!("{prefix}.priority_in"), Some(&PRIORITIES))?,
    })
}

fn escalation(cx: &Ctx, e: &S<raw::RawEscalation>) -> Result<Escalation, ConfigError> {
    let r = e.get_ref();
    if r.tags_any.is_none() {
        return cx.err(
            e.span(),
            "escalation.tags_any",
            "missing: list the tags that mark a ticket as escalated, e.g. [\"escalated\"]",
        );
    }
    let as_match =
        RawMatch { tags_any: r.tags_any.clone(), status_in: r.status_in.clone(), priority_in: r.priority_in.clone() };
    let filter = filter(cx, &as_match, "escalation")?;
    let start = match &r.start {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s.get_ref()) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(e) => {
                return cx.err(
                    s.span(),
                    "escalation.start",
                    format!("`{}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z: {e}", s.get_ref()),
                )
            }
        },
    };
    Ok(Escalation { filter, start, attachments: r.attachments.unwrap_or(true) })
}

/// GitHub's names match whatever their letter case: a repository the rules name twice in two
/// spellings (`acme/x` in one route, `ACME/x` in another or in `[linking] repos`) is one
/// repository, and everything ticket-sync stores about it is under one spelling, the first.
fn one_spelling_per_repository(routes: &mut [Route], linking: Option<&mut Linking>) {
    let mut first: Vec<RepoName> = Vec::new();
    let mut settle = |repo: &mut RepoName| match first.iter().find(|r| *r == repo) {
        Some(known) => *repo = known.clone(),
        None => first.push(repo.clone()),
    };
    routes.iter_mut().for_each(|r| settle(&mut r.repo));
    if let Some(l) = linking {
        l.repos.iter_mut().for_each(&mut settle);
    }
}

fn routes(cx: &Ctx, raw: &[S<raw::RawRoute>]) -> Result<Vec<Route>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            cx.path,
            None,
            "route",
            "no [[route]] table: add at least one, with `repo = \"owner/name\"`",
        ));
    }
    let mut routes: Vec<Route> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("route[{i}]");
        if let Some(fallback) = routes.iter().position(|r| r.when.is_none()) {
            return cx.err(r.span(), &key, format!("can never match: route[{fallback}] has no `when` and already matches every ticket; move the fallback last"));
        }
        let repo = match &r.get_ref().repo {
            None => {
                return cx.err(r.span(), &format!("{key}.repo"), "missing: every route needs `repo = \"owner/name\"`")
            }
            Some(v) => v.get_ref().parse().or_else(|e: String| cx.err(v.span(), &format!("{key}.repo"), e))?,
        };
        let when = match &r.get_ref().when {
            None => None,
            Some(w) => {
                let m = filter(cx, w.get_ref(), &format!("{key}.when"))?;
                if m == Match::default() {
                    return cx.err(
                        w.span(),
                        &format!("{key}.when"),
                        "is empty: give tags_any, status_in or priority_in, or leave `when` out for a fallback",
                    );
                }
                Some(m)
            }
        };
        routes.push(Route { when, repo, labels: r.get_ref().labels.clone() });
    }
    Ok(routes)
}

fn status_action(
    cx: &Ctx,
    v: Option<&S<String>>,
    key: &str,
    default: StatusAction,
) -> Result<StatusAction, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    let s = v.get_ref().as_str();
    if s == "keep" {
        return Ok(StatusAction::Keep);
    }
    if let Some(status) = SETTABLE_STATUSES.iter().find(|status| status.as_str() == s) {
        return Ok(StatusAction::Set(status.clone()));
    }
    let names: Vec<&str> = SETTABLE_STATUSES.iter().map(TicketStatus::as_str).collect();
    let why = if s == "closed" { " (Zendesk closes a solved ticket itself: use solved)" } else { "" };
    cx.err(v.span(), key, format!("`{s}` is not one of keep, {}{why}", names.join(", ")))
}

fn pushback(cx: &Ctx, p: Option<&raw::RawPushback>) -> Result<Pushback, ConfigError> {
    let open = || StatusAction::Set(TicketStatus::Open);
    let not_planned =
        status_action(cx, p.and_then(|p| p.closed_not_planned.as_ref()), "pushback.closed_not_planned", open())?;
    Ok(Pushback {
        closed_completed: status_action(
            cx,
            p.and_then(|p| p.closed_completed.as_ref()),
            "pushback.closed_completed",
            open(),
        )?,
        closed_duplicate: status_action(
            cx,
            p.and_then(|p| p.closed_duplicate.as_ref()),
            "pushback.closed_duplicate",
            not_planned.clone(),
        )?,
        closed_not_planned: not_planned,
        reopened: status_action(cx, p.and_then(|p| p.reopened.as_ref()), "pushback.reopened", StatusAction::Keep)?,
        comments: match p.and_then(|p| p.comments.as_ref()) {
            None => CommentsMode::Internal,
            Some(v) => match v.get_ref().as_str() {
                "off" => CommentsMode::Off,
                "internal" => CommentsMode::Internal,
                s => return cx.err(v.span(), "pushback.comments", format!("`{s}` is not one of off, internal")),
            },
        },
    })
}

fn forward(cx: &Ctx, f: Option<&raw::RawForward>) -> Result<Forward, ConfigError> {
    let comments = match f.and_then(|f| f.comments.as_ref()) {
        None => ForwardMode::Off,
        Some(v) => match v.get_ref().as_str() {
            "off" => ForwardMode::Off,
            "public" => ForwardMode::Public,
            s => return cx.err(v.span(), "forward.comments", format!("`{s}` is not one of off, public")),
        },
    };
    Ok(Forward { comments })
}

fn linking(cx: &Ctx, l: Option<&raw::S<raw::RawLinking>>) -> Result<Option<Linking>, ConfigError> {
    let Some(l) = l else { return Ok(None) };
    let field_id = match l.get_ref().field_id.as_ref() {
        None => {
            return cx.err(
                l.span(),
                "linking.field_id",
                "is required: the id of the Zendesk ticket field (text or regexp) that holds the linked issue",
            )
        }
        Some(v) if *v.get_ref() > 0 => *v.get_ref() as u64,
        Some(v) => return cx.err(v.span(), "linking.field_id", "must be a positive Zendesk ticket field id"),
    };
    let mut repos = Vec::new();
    for r in &l.get_ref().repos {
        match r.get_ref().parse::<RepoName>() {
            Ok(repo) => repos.push(repo),
            Err(e) => return cx.err(r.span(), "linking.repos", format!("`{}` is not OWNER/REPO: {e}", r.get_ref())),
        }
    }
    Ok(Some(Linking { field_id: FieldId(field_id), repos, state_tags: l.get_ref().state_tags }))
}

fn fixes(cx: &Ctx, f: Option<&raw::RawFixes>) -> Result<Fixes, ConfigError> {
    let Some(f) = f else { return Ok(Fixes::default()) };
    let version_field_id = match f.version_field_id.as_ref() {
        None => None,
        Some(v) if *v.get_ref() > 0 => Some(FieldId(*v.get_ref() as u64)),
        Some(v) => return cx.err(v.span(), "fixes.version_field_id", "must be a positive Zendesk ticket field id"),
    };
    let reply_template = match f.reply_template.as_ref() {
        None => None,
        Some(t) if t.get_ref().trim().is_empty() => {
            return cx.err(t.span(), "fixes.reply_template", "is empty: write the reply, or leave the key out")
        }
        Some(t) => match unknown_placeholders(t.get_ref()).first() {
            Some(name) => {
                let known = REPLY_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ");
                return cx.err(t.span(), "fixes.reply_template", format!("`{{{name}}}` is not one of {known}"));
            }
            None => Some(t.get_ref().clone()),
        },
    };
    let public_reply = match f.public_reply.as_ref() {
        Some(v) if *v.get_ref() && reply_template.is_none() => {
            return cx.err(
                v.span(),
                "fixes.public_reply",
                "needs fixes.reply_template: the text the customer reads when the fix ships",
            )
        }
        v => v.is_some_and(|v| *v.get_ref()),
    };
    Ok(Fixes {
        track: f.track.unwrap_or(true),
        prereleases: f.prereleases.unwrap_or(false),
        version_field_id,
        reply_template,
        public_reply,
    })
}

fn redaction(cx: &Ctx, r: Option<&raw::RawRedact>) -> Result<Redaction, ConfigError> {
    let Some(r) = r else {
        return Ok(Redaction { emails: true, phones: true, patterns: Vec::new() });
    };
    let mut patterns = Vec::new();
    for p in &r.patterns {
        match Regex::new(p.get_ref()) {
            Ok(re) if re.is_match("") => {
                return cx.err(
                    p.span(),
                    "redact.patterns",
                    format!("`{}` matches the empty string and would redact nothing useful", p.get_ref()),
                )
            }
            Ok(re) => patterns.push(re),
            Err(e) => return cx.err(p.span(), "redact.patterns", format!("invalid regular expression: {e}")),
        }
    }
    Ok(Redaction { emails: r.emails, phones: r.phones, patterns })
}

fn daemon(cx: &Ctx, d: Option<&raw::RawDaemon>) -> Result<DaemonRules, ConfigError> {
    let listen = match d.and_then(|d| d.listen.as_ref()) {
        None => None,
        Some(v) => match v.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                return cx.err(
                    v.span(),
                    "daemon.listen",
                    format!("`{}` is not an address such as 127.0.0.1:9464", v.get_ref()),
                )
            }
        },
    };
    let pass_deadline_secs = match d.and_then(|d| d.pass_deadline_seconds.as_ref()) {
        None => 1800,
        Some(v) if (10..=86_400).contains(v.get_ref()) => *v.get_ref() as u64,
        Some(v) => return cx.err(v.span(), "daemon.pass_deadline_seconds", "must be between 10 and 86400"),
    };
    Ok(DaemonRules { listen, pass_deadline_secs })
}

/// `[webhooks]`: off when the table is absent; `listen` defaults to 127.0.0.1:9465.
fn webhooks(cx: &Ctx, w: Option<&S<raw::RawWebhooks>>) -> Result<Option<WebhookRules>, ConfigError> {
    let Some(w) = w.map(|w| w.get_ref()) else { return Ok(None) };
    let listen = match w.listen.as_ref() {
        None => SocketAddr::from(([127, 0, 0, 1], 9465)),
        Some(v) => match v.get_ref().parse() {
            Ok(a) => a,
            Err(_) => {
                return cx.err(
                    v.span(),
                    "webhooks.listen",
                    format!("`{}` is not an address such as 127.0.0.1:9465", v.get_ref()),
                )
            }
        },
    };
    // Each source is on unless the rules turn it off; one that is on needs its secret (without
    // it every delivery would be refused, and nothing would say so until one was missed).
    let source = |name: &str, on: Option<&S<bool>>, env: Option<&S<String>>, file: Option<&S<String>>| {
        let (env_key, file_key) = (format!("webhooks.{name}_secret_env"), format!("webhooks.{name}_secret_file"));
        if on.is_some_and(|o| !*o.get_ref()) {
            if let Some(named) = env.or(file) {
                let key = if env.is_some() { &env_key } else { &file_key };
                return cx.err(
                    named.span(),
                    key,
                    format!("names a secret for a source turned off by `{name} = false`"),
                );
            }
            return Ok(None);
        }
        let upper = name.to_uppercase();
        let default_env = format!("{upper}_WEBHOOK_SECRET");
        let credential = format!("{name}-webhook-secret");
        secret_source(cx, (&env_key, &file_key), env, file, &default_env, &credential).map(Some)
    };
    let github_secret =
        source("github", w.github.as_ref(), w.github_secret_env.as_ref(), w.github_secret_file.as_ref())?;
    let zendesk_secret =
        source("zendesk", w.zendesk.as_ref(), w.zendesk_secret_env.as_ref(), w.zendesk_secret_file.as_ref())?;
    if github_secret.is_none() && zendesk_secret.is_none() {
        let at = w.github.as_ref().map_or_else(|| 0..0, |g| g.span());
        return cx.err(at, "webhooks", "turns both sources off: remove the [webhooks] table instead");
    }
    Ok(Some(WebhookRules { listen, github_secret, zendesk_secret }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[zendesk]\nurl = \"https://acme.zendesk.com\"\nemail = \"bot@acme.com\"\n\
                        [escalation]\ntags_any = [\"escalated\"]\n[[route]]\nrepo = \"acme/backend\"\n";

    fn parse(extra: &str) -> Result<Rules, ConfigError> {
        super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &format!("{BASE}{extra}"))
    }

    /// BASE with a route whose `when` is `when` (on line 7) before its fallback.
    fn parse_with_route(when: &str) -> Result<Rules, ConfigError> {
        let routed = format!("[[route]]\nwhen = {when}\nrepo = \"a/b\"\n[[route]]\nrepo = \"acme/backend\"\n");
        let text = BASE.replace("[[route]]\nrepo = \"acme/backend\"\n", &routed);
        super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &text)
    }

    #[test]
    fn a_github_app_is_read_with_its_defaults_and_never_beside_a_token() {
        let app = |extra: &str| parse(&format!("[github]\n{extra}"));
        let GithubAuth::App(a) = app("app_id = 123456\n").unwrap().github.auth else { panic!("App mode") };
        assert_eq!(
            a,
            AppRules { app_id: 123456, key: KeySource::Credential("github-app-key".into()), installation_id: None }
        );
        let r = app("app_id = 7\nprivate_key_file = \"keys/app.pem\"\ninstallation_id = 789\n").unwrap();
        let GithubAuth::App(a) = r.github.auth else { panic!("App mode") };
        assert_eq!(a.key, KeySource::File("/etc/ticket-sync/keys/app.pem".into()));
        assert_eq!(a.installation_id, Some(InstallationId(789)));
        // BASE has 7 lines; [github] is line 8.
        type Case<'a> = (&'a str, &'a str, usize, &'a str);
        let cases: Vec<Case> = vec![
            ("app_id = 1\ntoken_env = \"GH\"\n", "github.token_env", 10, "not both"),
            ("token_file = \"t\"\napp_id = 1\n", "github.token_file", 9, "not both"),
            ("private_key_file = \"k.pem\"\n", "github.private_key_file", 9, "set app_id too"),
            ("installation_id = 5\n", "github.installation_id", 9, "set app_id too"),
            ("app_id = 0\n", "github.app_id", 9, "positive"),
            ("app_id = 1\ninstallation_id = -3\n", "github.installation_id", 10, "positive"),
            ("app_id = 1\nprivate_key_file = \" \"\n", "github.private_key_file", 10, "must name"),
        ];
        for (extra, key, line, says) in cases {
            let err = app(extra).unwrap_err();
            assert_eq!((err.key.as_str(), err.line), (key, Some(line)), "{extra}");
            assert!(err.to_string().contains(says), "{extra}: {err}");
        }
    }

    #[test]
    fn a_zendesk_oauth_client_is_read_with_its_defaults_and_never_beside_an_api_token() {
        let zd = |keys: &str| {
            let text = format!(
                "[zendesk]\nurl = \"https://acme.zendesk.com\"\n{keys}[escalation]\ntags_any = [\"e\"]\n[[route]]\nrepo = \"a/b\"\n"
            );
            super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &text)
        };
        let ZendeskAuth::OAuth(o) = zd("client_id = \"ticket_sync\"\n").unwrap().zendesk.auth else { panic!("OAuth") };
        let default_secret =
            TokenSource::Default { env: "ZENDESK_CLIENT_SECRET".into(), credential: "zendesk-client-secret".into() };
        assert_eq!(
            o,
            OAuthRules {
                client_id: "ticket_sync".into(),
                secret: default_secret,
                scopes: vec!["read".into(), "tickets:write".into()]
            }
        );
        let ZendeskAuth::OAuth(o) =
            zd("client_id = \"ts\"\nclient_secret_file = \"zd.secret\"\nscopes = [\"read\", \"write\"]\n")
                .unwrap()
                .zendesk
                .auth
        else {
            panic!("OAuth")
        };
        assert_eq!(o.secret, TokenSource::File("/etc/ticket-sync/zd.secret".into()));
        assert_eq!(o.scopes, ["read", "write"]);
        let ZendeskAuth::ApiToken { email, token } =
            zd("email = \"bot@acme.com\"\ntoken_env = \"ZD\"\n").unwrap().zendesk.auth
        else {
            panic!("API token")
        };
        assert_eq!(
            (email.as_str(), token),
            ("bot@acme.com", TokenSource::Env { var: "ZD".into(), credential: "zendesk-token".into() })
        );
        // [zendesk] is line 1, url line 2: the keys start on line 3.
        type Case<'a> = (&'a str, &'a str, usize, &'a str);
        let cases: Vec<Case> = vec![
            ("client_id = \"ts\"\nemail = \"bot@acme.com\"\n", "zendesk.email", 4, "not both"),
            ("client_id = \"ts\"\ntoken_env = \"ZD\"\n", "zendesk.token_env", 4, "not both"),
            ("token_file = \"t\"\nclient_id = \"ts\"\n", "zendesk.token_file", 3, "not both"),
            ("client_secret_env = \"X\"\nemail = \"b@a.com\"\n", "zendesk.client_secret_env", 3, "set client_id too"),
            ("scopes = [\"read\"]\n", "zendesk.scopes", 3, "set client_id too"),
            ("client_id = \"ts\"\nscopes = []\n", "zendesk.scopes", 4, "at least one scope"),
            (
                "client_id = \"ts\"\nscopes = [\"read\", \"tickets:delete\"]\n",
                "zendesk.scopes",
                4,
                "`tickets:delete` is not",
            ),
            ("client_id = \"two words\"\n", "zendesk.client_id", 3, "Identifier"),
            ("client_id = \"\"\n", "zendesk.client_id", 3, "Identifier"),
            (
                "client_id = \"ts\"\nclient_secret_env = \"X\"\nclient_secret_file = \"f\"\n",
                "zendesk.client_secret_file",
                5,
                "not both",
            ),
            ("", "zendesk.client_id", 1, "2027-04-30"),
        ];
        for (keys, key, line, says) in cases {
            let err = zd(keys).unwrap_err();
            assert_eq!((err.key.as_str(), err.line), (key, Some(line)), "{keys}: {err}");
            assert!(err.to_string().contains(says), "{keys}: {err}");
        }
    }

    #[test]
    fn statuses_are_read_as_ticket_statuses() {
        let r =
            parse("[pushback]\nclosed_completed = \"solved\"\nclosed_not_planned = \"pending\"\nreopened = \"keep\"\n")
                .unwrap();
        let routed = parse_with_route("{ status_in = [\"hold\"] }").unwrap();
        assert_eq!(routed.routes[0].when.as_ref().unwrap().status_in, [TicketStatus::Hold]);
        assert_eq!(r.pushback.closed_completed, StatusAction::Set(TicketStatus::Solved));
        assert_eq!(r.pushback.closed_not_planned, StatusAction::Set(TicketStatus::Pending));
        assert_eq!(r.pushback.closed_duplicate, StatusAction::Set(TicketStatus::Pending), "as closed_not_planned");
        assert_eq!(r.pushback.reopened, StatusAction::Keep);
        let all = "[escalation]\ntags_any = [\"e\"]\nstatus_in = [\"new\", \"open\", \"pending\", \"hold\", \"solved\", \"closed\"]\n";
        let text = format!("{}{all}[[route]]\nrepo = \"a/b\"\n", &BASE[..BASE.find("[escalation]").unwrap()]);
        let r = super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &text).unwrap();
        assert_eq!(r.escalation.filter.status_in, FILTER_STATUSES);
        assert!(r.escalation.filter.status_in.iter().all(|s| !matches!(s, TicketStatus::Other(_))));
        let defaults = parse("").unwrap().pushback;
        assert_eq!(defaults.closed_completed, StatusAction::Set(TicketStatus::Open));
        assert_eq!(defaults.closed_not_planned, StatusAction::Set(TicketStatus::Open));
        assert_eq!(defaults.closed_duplicate, StatusAction::Set(TicketStatus::Open));
        assert_eq!(defaults.reopened, StatusAction::Keep);
    }

    /// A status Zendesk does not have is refused where it is written: the key, its line, the
    /// value and the statuses allowed there. What was refused before statuses were typed
    /// (another letter case, `deleted`, `closed` as a status to set) is still refused.
    #[test]
    fn fixes_are_tracked_by_default_and_their_keys_are_checked() {
        let none = parse("").unwrap();
        assert_eq!(none.fixes, Fixes::default());
        assert!(none.fixes.track && !none.fixes.public_reply && !none.fixes.prereleases);
        let all = parse(
            "[fixes]\ntrack = true\nprereleases = true\nversion_field_id = 360000111222\n\
             reply_template = \"Fixed in {tag}: {release_url} ({issue_title}, {issue_url}); {not a placeholder}\"\n\
             public_reply = true\n",
        )
        .unwrap();
        assert_eq!(all.fixes.version_field_id, Some(FieldId(360000111222)));
        assert!(all.fixes.prereleases && all.fixes.public_reply);
        assert!(!parse("[fixes]\ntrack = false\n").unwrap().fixes.track);
        // BASE has 7 lines: what is added starts on line 8, the table's keys on line 9.
        let cases = [
            ("[fixes]\nversion_field_id = 0\n", "fixes.version_field_id", "positive"),
            (
                "[fixes]\nreply_template = \"Shipped in {version}\"\n",
                "fixes.reply_template",
                "`{version}` is not one of {tag}, {release_url}, {issue_title}, {issue_url}",
            ),
            ("[fixes]\nreply_template = \"  \"\n", "fixes.reply_template", "is empty"),
            ("[fixes]\npublic_reply = true\n", "fixes.public_reply", "needs fixes.reply_template"),
            ("[fixes]\ntrak = true\n", "fixes", "unknown field"),
        ];
        for (extra, key, says) in cases {
            let err = parse(extra).unwrap_err();
            let text = err.to_string();
            assert!(err.key.starts_with(key) && text.contains(says), "{extra}: {} {text}", err.key);
            assert_eq!(err.line, Some(9), "{extra}: {text}");
        }
    }

    #[test]
    fn an_unknown_status_is_an_error_naming_the_key_the_value_and_the_allowed_ones() {
        let filter = "new, open, pending, hold, solved, closed";
        let settable = "keep, new, open, pending, hold, solved";
        // A route's `when` is on line 7.
        for (when, value) in
            [("[\"open\", \"waiting\"]", "`waiting`"), ("[\"Open\"]", "`Open`"), ("[\"deleted\"]", "`deleted`")]
        {
            let err = parse_with_route(&format!("{{ status_in = {when} }}")).unwrap_err();
            assert_eq!((err.key.as_str(), err.line), ("route[0].when.status_in", Some(7)), "{when}: {err}");
            let text = err.to_string();
            assert!(text.contains(value) && text.contains(filter), "{when}: {text}");
        }
        // BASE has 7 lines: what is added starts on line 8.
        type Case<'a> = (&'a str, &'a str, usize, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            ("[pushback]\nclosed_completed = \"done\"\n", "pushback.closed_completed", 9, "`done`", settable),
            ("[pushback]\nclosed_not_planned = \"Solved\"\n", "pushback.closed_not_planned", 9, "`Solved`", settable),
            ("[pushback]\nclosed_duplicate = \"deleted\"\n", "pushback.closed_duplicate", 9, "`deleted`", settable),
            ("[pushback]\nreopened = \"closed\"\n", "pushback.reopened", 9, "use solved", settable),
        ];
        for (extra, key, line, value, allowed) in cases {
            let err = parse(extra).unwrap_err();
            assert_eq!((err.key.as_str(), err.line), (key, Some(line)), "{extra}: {err}");
            let text = err.to_string();
            assert!(text.contains(value) && text.contains(allowed), "{extra}: {text}");
        }
        let text = BASE.replace("tags_any = [\"escalated\"]", "tags_any = [\"escalated\"]\nstatus_in = [\"urgent\"]");
        let err = super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &text).unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("escalation.status_in", Some(6)));
        assert!(err.message.contains("`urgent` is not one of") && err.message.contains(filter), "{err}");
    }

    /// The sample rules file's status examples, uncommented, are valid; and the statuses the
    /// sample and docs/configuration.md list are the ones the validator allows.
    #[test]
    fn the_sample_and_the_docs_list_the_statuses_the_validator_allows() {
        let sample = include_str!("../../sync-rules.toml")
            .replace("# status_in = ", "status_in = ")
            .replace("# closed_duplicate = ", "closed_duplicate = ");
        let rules = super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &sample).unwrap();
        let want = [TicketStatus::New, TicketStatus::Open, TicketStatus::Pending, TicketStatus::Hold];
        assert_eq!(rules.escalation.filter.status_in, want);
        assert_eq!(rules.pushback.closed_duplicate, StatusAction::Set(TicketStatus::Open));
        let names = |list: &[TicketStatus]| list.iter().map(TicketStatus::as_str).collect::<Vec<_>>().join(", ");
        assert!(sample.contains(&format!("# {}\n", names(&FILTER_STATUSES))), "the sample's status_in comment");
        assert!(sample.contains(&format!("# One of {}, or \"keep\"", names(&SETTABLE_STATUSES))));
        let docs = include_str!("../../docs/configuration.md");
        let ticked = |list: &[TicketStatus]| list.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        assert!(docs.contains(&format!("statuses ({})", ticked(&FILTER_STATUSES))), "escalation.status_in's row");
        assert!(docs.contains(&format!("A status is one of {}, or `keep`", ticked(&SETTABLE_STATUSES))));
    }

    #[test]
    fn webhooks_are_off_without_the_table() {
        assert!(parse("").unwrap().webhooks.is_none());
    }

    #[test]
    fn webhook_defaults_are_the_documented_address_variables_and_credentials() {
        let w = parse("[webhooks]\n").unwrap().webhooks.unwrap();
        assert_eq!(w.listen, "127.0.0.1:9465".parse().unwrap());
        assert_eq!(
            w.github_secret,
            Some(TokenSource::Default {
                env: "GITHUB_WEBHOOK_SECRET".into(),
                credential: "github-webhook-secret".into()
            })
        );
        assert_eq!(
            w.zendesk_secret,
            Some(TokenSource::Default {
                env: "ZENDESK_WEBHOOK_SECRET".into(),
                credential: "zendesk-webhook-secret".into()
            })
        );
    }

    #[test]
    fn webhook_secrets_come_from_the_named_variable_or_file() {
        let w = parse("[webhooks]\nlisten = \"0.0.0.0:8080\"\ngithub_secret_env = \"GH_HOOK\"\nzendesk_secret_file = \"zd-hook\"\n")
            .unwrap()
            .webhooks
            .unwrap();
        assert_eq!(w.listen, "0.0.0.0:8080".parse().unwrap());
        let env = TokenSource::Env { var: "GH_HOOK".into(), credential: "github-webhook-secret".into() };
        assert_eq!(w.github_secret, Some(env));
        assert_eq!(w.zendesk_secret, Some(TokenSource::File(PathBuf::from("/etc/ticket-sync/zd-hook"))));
    }

    #[test]
    fn a_repository_named_in_two_spellings_keeps_the_first() {
        let text = "[zendesk]\nurl = \"https://acme.zendesk.com\"\nemail = \"bot@acme.com\"\n\
                    [escalation]\ntags_any = [\"escalated\"]\n\
                    [[route]]\nwhen = { tags_any = [\"x\"] }\nrepo = \"Acme/Billing\"\n\
                    [[route]]\nrepo = \"ACME/BILLING\"\n\
                    [linking]\nfield_id = 1\nrepos = [\"acme/billing\", \"acme/other\"]\n";
        let r = super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), text).unwrap();
        let spelled: Vec<String> = r.routes.iter().map(|r| r.repo.to_string()).collect();
        assert_eq!(spelled, ["Acme/Billing", "Acme/Billing"]);
        let linked: Vec<String> = r.linking.unwrap().repos.iter().map(ToString::to_string).collect();
        assert_eq!(linked, ["Acme/Billing", "acme/other"]);
    }

    #[test]
    fn a_webhook_source_is_on_unless_the_rules_turn_it_off() {
        let w = parse("[webhooks]\nzendesk = false\ngithub = true\n").unwrap().webhooks.unwrap();
        assert!(w.github_secret.is_some() && w.zendesk_secret.is_none());
        let err = parse("[webhooks]\ngithub = false\ngithub_secret_env = \"X\"\n").unwrap_err().to_string();
        assert!(err.contains("webhooks.github_secret_env") && err.contains("github = false"), "{err}");
        let err = parse("[webhooks]\ngithub = false\nzendesk = false\n").unwrap_err().to_string();
        assert!(err.contains("remove the [webhooks] table"), "{err}");
        assert!(parse("[webhooks]\ngithub = \"no\"\n").is_err());
    }

    #[test]
    fn both_env_and_file_for_one_source_is_an_error_with_key_and_line() {
        for source in ["github", "zendesk"] {
            let extra = format!("[webhooks]\n{source}_secret_env = \"X\"\n{source}_secret_file = \"/x\"\n");
            let err = parse(&extra).unwrap_err().to_string();
            assert!(err.contains(&format!("webhooks.{source}_secret_file")), "{err}");
            assert!(err.contains(":10:"), "{err}");
            assert!(err.contains("not both"), "{err}");
        }
    }

    #[test]
    fn the_sample_webhooks_example_is_valid_when_uncommented() {
        let sample = include_str!("../../sync-rules.toml")
            .replace("# [webhooks]", "[webhooks]")
            .replace("# listen = \"127.0.0.1:9465\"", "listen = \"127.0.0.1:9465\"")
            .replace("# github_secret_env", "github_secret_env")
            .replace("# zendesk_secret_file", "zendesk_secret_file");
        let rules = super::super::parse(Path::new("/etc/ticket-sync/sync-rules.toml"), &sample).unwrap();
        let w = rules.webhooks.unwrap();
        assert_eq!(w.listen, "127.0.0.1:9465".parse().unwrap());
        let env = TokenSource::Env { var: "GITHUB_WEBHOOK_SECRET".into(), credential: "github-webhook-secret".into() };
        assert_eq!(w.github_secret, Some(env));
        assert_eq!(w.zendesk_secret, Some(TokenSource::File("/etc/ticket-sync/zendesk-webhook-secret".into())));
    }

    #[test]
    fn a_bad_listen_address_or_unknown_webhook_key_is_an_error_with_key() {
        let err = parse("[webhooks]\nlisten = \"localhost\"\n").unwrap_err().to_string();
        assert!(err.contains("webhooks.listen"), "{err}");
        let err = parse("[webhooks]\nsecret = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("webhooks.secret"), "{err}");
    }

    #[test]
    fn ca_file_is_resolved_next_to_the_rules_and_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("sync-rules.toml");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.internal".to_string()]).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
        let load = |extra: &str| super::super::parse(&rules, &format!("{BASE}{extra}"));

        let r = load("[github]\nca_file = \"ca.pem\"\n").unwrap();
        let ca_file = r.github.ca_file.unwrap();
        let certs = reqwest::Certificate::from_pem_bundle(&ca_file.pem).unwrap().len();
        assert_eq!((ca_file.path, certs), (dir.path().join("ca.pem"), 1));
        assert!(r.zendesk.ca_file.is_none());

        let err = load("[github]\nca_file = \"gone.pem\"\n").unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("github.ca_file", Some(9)));
        assert!(err.message.contains("cannot read") && err.message.contains("gone.pem"), "{err}");
        let err = super::super::parse(&rules, &BASE.replace("[escalation]", "ca_file = \"junk.pem\"\n[escalation]"))
            .unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("zendesk.ca_file", Some(4)));
        assert!(err.message.contains("holds no PEM certificate"), "{err}");
    }
}
