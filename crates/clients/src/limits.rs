//! Rate limits as both clients meet them, beside `http.rs`: Zendesk's endpoint headers, what a
//! limit answer limits (`Target` → `Scope`), and the state that outlives a client (`Limits`):
//! a gate per service and scope, the paces the rules set, and the blocks kept in the state
//! database so a new process honours a wait the last one was told.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::time::Instant;
use tracing::error;

use crate::ratelimit::{capped, Gate, RollingWindow, Spacer, MAX_WAIT};
use ticket_sync_core::clock;
use ticket_sync_core::domain::TicketId;
use ticket_sync_core::domain::{Endpoint, InstallationId, Scope};
use ticket_sync_core::domain::{RateBudget, Service};

/// A wait as a chrono duration, cut to `MAX_WAIT` so that adding it to a time cannot overflow.
pub(crate) fn chrono_secs(wait: Duration) -> chrono::Duration {
    chrono::Duration::from_std(capped(wait)).unwrap_or(chrono::Duration::hours(1))
}

/// How long until `at`, zero if it is past.
pub(crate) fn until(at: DateTime<Utc>) -> Duration {
    (at - clock::now()).to_std().unwrap_or_default()
}

/// Reads GitHub's `x-ratelimit-*` or any of Zendesk's spellings.
pub fn read_budget(headers: &HeaderMap) -> Option<RateBudget> {
    let num = |names: &[&str]| names.iter().find_map(|n| headers.get(*n)?.to_str().ok()?.trim().parse::<u64>().ok());
    let remaining =
        num(&["x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining"])?;
    let limit = num(&["x-ratelimit-limit", "x-rate-limit", "ratelimit-limit", "rate-limit"]);
    // GitHub sends the reset as epoch seconds, Zendesk as seconds from now. Any value parses
    // without panicking: an epoch out of range reads as none, a huge delay as an hour.
    let reset_at = match num(&["x-ratelimit-reset"]) {
        Some(epoch) => i64::try_from(epoch).ok().and_then(|e| DateTime::from_timestamp(e, 0)),
        None => {
            num(&["ratelimit-reset", "rate-limit-reset"]).map(|s| clock::now() + chrono_secs(Duration::from_secs(s)))
        }
    };
    Some(RateBudget { limit, remaining: Some(remaining), reset_at })
}

/// Whether an answer's budget headers are the REST API's: no `x-ratelimit-resource` (Zendesk,
/// older GitHub answers) or `core`. GitHub's other budgets (`graphql`, `search`, …) report
/// their own points under the same header names.
// FACT (docs.github.com, "Rate limits and query limits for the GraphQL API"): GraphQL answers
// carry `x-ratelimit-*` for its own points budget, `x-ratelimit-resource` "always `graphql`".
pub fn reports_rest_budget(headers: &HeaderMap) -> bool {
    let resource = headers.get("x-ratelimit-resource").and_then(|v| v.to_str().ok());
    resource.is_none_or(|r| r.trim().eq_ignore_ascii_case("core"))
}

/// `Retry-After` in seconds (the only form either service sends), as sent: callers cap it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(v))
}

/// A 429, or the 403 GitHub sends for a spent primary or secondary limit.
pub(crate) fn is_limit_answer(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && is_rate_limited_403(headers, &String::from_utf8_lossy(body)))
}

/// How long a limit answer asks to wait: `retry-after`; else, when the budget is spent, until
/// its reset; else a minute (GitHub's secondary limits answer with budget left, whose reset
/// may be an hour away and says nothing about them; FACTS.md, "Secondary limits").
pub(crate) fn limit_wait(headers: &HeaderMap) -> Duration {
    let spent = read_budget(headers).filter(|b| b.remaining == Some(0));
    let reset = || spent.and_then(|b| b.reset_at).map(until);
    retry_after(headers).or_else(reset).unwrap_or(Duration::from_secs(60))
}

/// GitHub answers a primary or secondary rate limit with 403 as well as 429.
pub(crate) fn is_rate_limited_403(headers: &HeaderMap, body: &str) -> bool {
    let exhausted = headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()) == Some("0");
    exhausted || headers.contains_key("retry-after") || body.contains("rate limit")
}

/// One of Zendesk's endpoint limits as its header reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointBudget {
    pub total: Option<u64>,
    pub remaining: u64,
    pub resets: Duration,
}

/// The limit Zendesk names `per-ticket-updates`: 30 updates of one ticket per 10 minutes.
const PER_TICKET: &str = "per-ticket-updates";

/// Zendesk's endpoint limits, `zendesk-ratelimit-NAME: total=N; remaining=M; resets=S` (older
/// spelling `zendesk-rate-limit-NAME`), by NAME as the service wrote it (any name: which of
/// them ticket-sync gates is `Target::named`'s question). Values that do not parse are skipped.
pub fn endpoint_budgets(headers: &HeaderMap) -> Vec<(String, EndpointBudget)> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let name = name.as_str();
        let Some(endpoint) = name.strip_prefix("zendesk-ratelimit-").or(name.strip_prefix("zendesk-rate-limit-"))
        else {
            continue;
        };
        let Some(value) = value.to_str().ok() else { continue };
        let field = |key: &str| {
            value.split(';').find_map(|part| {
                let (k, v) = part.split_once('=')?;
                (k.trim() == key).then(|| v.trim().parse::<u64>().ok()).flatten()
            })
        };
        if let (Some(remaining), Some(resets)) = (field("remaining"), field("resets")) {
            let budget = EndpointBudget { total: field("total"), remaining, resets: Duration::from_secs(resets) };
            out.push((endpoint.to_string(), budget));
        }
    }
    out
}

/// What a request is, as far as rate limits care: its service, the endpoint whose own limit
/// it counts against, and the ticket it updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: Service,
    pub endpoint: Option<Endpoint>,
    pub ticket: Option<TicketId>,
    /// Whose limit a bare 429 is (one that names no spent budget while the account's is
    /// left): the endpoint's or the ticket's own, when their limit may answer that way;
    /// `None`: the account's.
    pub silent_limit: Option<Scope>,
    /// The GitHub App installation whose token the request carries: its budget is its own.
    pub installation: Option<InstallationId>,
    /// Where the account-wide headers' budget is kept when it is not the account's REST budget:
    /// GitHub's GraphQL points (`Target::graphql`). `None`: the account's.
    pub budget: Option<Scope>,
}

impl Target {
    pub fn service(service: Service) -> Target {
        Target { service, endpoint: None, ticket: None, silent_limit: None, installation: None, budget: None }
    }

    /// A request made with one GitHub App installation's token.
    pub fn installation(service: Service, installation: Option<InstallationId>) -> Target {
        Target { installation, ..Target::service(service) }
    }

    /// A GitHub GraphQL query made with the token or one installation's token. Its answers'
    /// headers report GraphQL's points, a budget apart from REST's (per user, per
    /// installation), kept as the endpoint `graphql` (`graphql-installation-ID`): spent, it holds
    /// back GraphQL alone. Its gates are the account's too: secondary limits are shared with
    /// REST, and a REST block (a refused budget, an hour's wait) holds GraphQL back as well.
    // FACTS (docs.github.com, "Rate limits and query limits for the GraphQL API": "The REST API
    // also has a separate primary rate limit"; installations have their own GraphQL points; the
    // secondary limits are one text for REST and GraphQL).
    pub fn graphql(service: Service, installation: Option<InstallationId>) -> Target {
        let name = installation.map_or_else(|| "graphql".to_string(), |id| format!("graphql-installation-{id}"));
        let budget = Some(Scope::Endpoint(Endpoint::from(name.as_str())));
        Target { budget, ..Target::installation(service, installation) }
    }

    /// Whose limits the account-wide gates hold: the installation's, else the service's.
    fn account(&self) -> Scope {
        self.installation.map_or(Scope::Service, Scope::Installation)
    }

    /// Whose budget the account-wide headers report: GraphQL's own, else the account's.
    fn budget(&self) -> Scope {
        self.budget.clone().unwrap_or_else(|| self.account())
    }

    /// An endpoint with a limit of its own that its 429 may not name.
    pub fn silent_endpoint(service: Service, endpoint: Endpoint) -> Target {
        let silent_limit = Some(Scope::Endpoint(endpoint.clone()));
        Target { service, endpoint: Some(endpoint), silent_limit, ..Target::service(service) }
    }

    /// An update of one ticket (`endpoint` is the account-wide update limit's name). Zendesk's
    /// 429 for the ticket's own limit (30 updates per 10 minutes) may name no budget at all:
    /// its documented example is a plain-text body with `Retry-After` and no header (FACTS.md,
    /// "Ticket-update rate limits"), so a bare 429 holds back this ticket only, never all of
    /// Zendesk; one that says the account's budget is spent is the account's.
    /// FACTS (developer.zendesk.com, "Best practices for avoiding rate limiting": "If you receive a
    /// 429 response, then look for endpoint-specific headers"; the Update Ticket limits name
    /// `Zendesk-RateLimit-tickets-update`): the account-wide update limit names itself when it
    /// refuses. ASSUMED: always (no captured 429 of that limit found); if it ever answered bare,
    /// each ticket would fail alone, one request each.
    pub fn ticket(service: Service, endpoint: Endpoint, ticket: TicketId) -> Target {
        let silent_limit = Some(Scope::Ticket(ticket));
        Target { service, endpoint: Some(endpoint), ticket: Some(ticket), silent_limit, ..Target::service(service) }
    }

    /// A read of one ticket: held back while the ticket's updates are, but it has no limit of
    /// its own, so a bare 429 is the account's.
    pub fn ticket_read(service: Service, endpoint: Endpoint, ticket: TicketId) -> Target {
        Target { silent_limit: None, ..Target::ticket(service, endpoint, ticket) }
    }

    /// The scopes whose gates this request must pass.
    fn scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![self.account()];
        scopes.extend(self.budget.clone());
        scopes.extend(self.endpoint.clone().map(Scope::Endpoint));
        scopes.extend(self.ticket.map(Scope::Ticket));
        scopes
    }

    /// The scope an endpoint header's budget names: the ticket for `per-ticket-updates`, else
    /// the endpoint of that name (one ticket-sync does not send under by name included: its
    /// spent budget is kept and shown, and stops what a service's limit stops).
    fn named(&self, budget: &str) -> Scope {
        match self.ticket {
            Some(id) if budget == PER_TICKET => Scope::Ticket(id),
            _ => Scope::Endpoint(Endpoint::from(budget)),
        }
    }
}

/// What a limit answer to `target` limits, and the wait its headers give beyond `retry-after`:
/// a spent account budget is the service's (GraphQL's points, for a GraphQL query), until its
/// reset; a spent endpoint budget (the
/// per-ticket one included) is that endpoint's or ticket's, until its reset; a bare 429 to a
/// target whose own limit may answer bare (`silent_limit`: the export, a ticket's updates) is
/// that limit's; anything else is the service's (GitHub's secondary limits), with no wait from
/// the headers: the reset of a budget that is not spent says nothing about this limit
/// (`Gate::limited` then waits at least a minute, longer while the limit keeps answering).
pub fn limit_scope(target: &Target, headers: &HeaderMap) -> (Scope, Option<Duration>) {
    let account = read_budget(headers);
    if account.as_ref().and_then(|b| b.remaining) == Some(0) {
        return (target.budget(), account.and_then(|b| b.reset_at).map(until));
    }
    if let Some((name, b)) = endpoint_budgets(headers).into_iter().find(|(_, b)| b.remaining == 0) {
        return (target.named(&name), Some(b.resets));
    }
    (target.silent_limit.clone().unwrap_or_else(|| target.account()), None)
}

use ticket_sync_core::domain::Block;

/// Where blocks are kept across processes (the state database).
pub trait BlockStore: Send + Sync {
    fn save_block(&self, block: &Block);
}

/// The block store, if any (a dry run keeps none).
#[derive(Default)]
struct BlockSink(Option<Arc<dyn BlockStore>>);

impl std::fmt::Debug for BlockSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "BlockSink(store)" } else { "BlockSink(none)" })
    }
}

/// Rate-limit state for the life of a process: gates per service and scope, shared paces, and
/// where new blocks are kept.
#[derive(Debug, Default)]
pub struct Limits {
    gates: Mutex<BTreeMap<(Service, Scope), Gate>>,
    windows: Mutex<BTreeMap<String, Arc<RollingWindow>>>,
    spacers: Mutex<BTreeMap<String, Arc<Spacer>>>,
    sink: Mutex<BlockSink>,
}

impl Limits {
    /// The longest wait any of the target's gates asks for, and whose it is.
    pub fn wait(&self, target: &Target) -> (Duration, Scope) {
        let now = Instant::now();
        let gates = self.gates.lock().unwrap();
        let wait =
            |scope: &Scope| gates.get(&(target.service, scope.clone())).map_or(Duration::ZERO, |g| g.wait_before(now));
        let scopes = target.scopes();
        let longest = scopes.into_iter().map(|s| (wait(&s), s)).max_by_key(|(w, _)| *w);
        longest.unwrap_or((Duration::ZERO, Scope::Service))
    }

    /// What `scope`'s budget had left at its last answer, unless that budget has been reset since.
    pub fn remaining(&self, service: Service, scope: &Scope) -> Option<u64> {
        let gates = self.gates.lock().unwrap();
        gates.get(&(service, scope.clone())).and_then(|g| g.remaining_at(Instant::now()))
    }

    /// Records the budgets an answer reported: the account's (GraphQL's, for a GraphQL query),
    /// and any endpoint's that is spent.
    pub fn observe(&self, target: &Target, headers: &HeaderMap) {
        let budget = read_budget(headers);
        let remaining = budget.as_ref().and_then(|b| b.remaining);
        let reset_in = budget.as_ref().and_then(|b| b.reset_at).map(until);
        let spent = self.gate(target.service, target.budget(), |g, now| g.observe(remaining, reset_in, now));
        if let Some(wait) = spent {
            let asked = budget.and_then(|b| b.reset_at).map(until).unwrap_or(wait);
            self.blocked(target.service, target.budget(), asked, wait, "the budget is spent until its reset");
        }
        for (name, b) in endpoint_budgets(headers).into_iter().filter(|(_, b)| b.remaining == 0) {
            let scope = target.named(&name);
            let wait = capped(b.resets);
            self.gate(target.service, scope.clone(), |g, now| g.block(wait, now));
            self.blocked(
                target.service,
                scope,
                b.resets,
                wait,
                &format!("{name}: the budget is spent until its reset"),
            );
        }
    }

    /// Records a limit answer to `target`; returns what it limits and for how long.
    pub fn limited(&self, target: &Target, status: StatusCode, headers: &HeaderMap) -> (Scope, Duration) {
        let (scope, reset_in) = limit_scope(target, headers);
        let told = retry_after(headers);
        let wait = self.gate(target.service, scope.clone(), |g, now| g.limited(told, reset_in, now));
        let reason = match told {
            Some(t) => format!("{} with retry-after {} s", status.as_u16(), t.as_secs()),
            None => format!("{} without retry-after", status.as_u16()),
        };
        self.blocked(target.service, scope.clone(), told.or(reset_in).unwrap_or(wait), wait, &reason);
        (scope, wait)
    }

    fn gate<T>(&self, service: Service, scope: Scope, f: impl FnOnce(&mut Gate, Instant) -> T) -> T {
        let now = Instant::now();
        let mut gates = self.gates.lock().unwrap();
        // Ticket gates come and go with hot tickets; forget the ones that hold nothing back.
        gates.retain(|(_, s), g| !s.is_ticket() || !g.is_open(now));
        f(gates.entry((service, scope)).or_default(), now)
    }

    /// A new block: said loudly when the service asked for more than `MAX_WAIT`, and kept in
    /// the block store for the next process.
    fn blocked(&self, service: Service, scope: Scope, asked: Duration, wait: Duration, reason: &str) {
        if asked > MAX_WAIT {
            error!(
                service = service.as_str(),
                scope = %scope,
                asked_seconds = asked.as_secs(),
                waiting_seconds = wait.as_secs(),
                "the service asked for a rate-limit wait longer than an hour; waiting an hour instead (a wrong header? check the service's status page)"
            );
        }
        let block = Block { service, scope, until: clock::now() + chrono_secs(wait), reason: reason.to_string() };
        if let Some(store) = &self.sink.lock().unwrap().0 {
            store.save_block(&block);
        }
    }

    /// Keeps every new block in `store` from now on.
    pub fn keep_blocks_in(&self, store: Arc<dyn BlockStore>) {
        self.sink.lock().unwrap().0 = Some(store);
    }

    /// Closes the gates of blocks an earlier process was told about (each at most an hour).
    pub fn restore_blocks(&self, blocks: impl IntoIterator<Item = Block>) {
        for b in blocks {
            let wait = until(b.until);
            if !wait.is_zero() {
                self.gate(b.service, b.scope, |g, now| g.block(wait, now));
            }
        }
    }

    /// The shared pace `name`: at most `limit` requests per `period`, whoever sends them. A
    /// later call with another limit changes it (a reloaded rules file), keeping the history.
    pub fn window(&self, name: &str, limit: u32, period: Duration) -> Arc<RollingWindow> {
        let mut windows = self.windows.lock().unwrap();
        let window = windows.entry(name.to_string()).or_insert_with(|| Arc::new(RollingWindow::new(limit, period)));
        window.set_limit(limit);
        window.clone()
    }

    /// The shared spacing `name`: at least `interval` between two requests.
    pub fn spacer(&self, name: &str, interval: Duration) -> Arc<Spacer> {
        let mut spacers = self.spacers.lock().unwrap();
        let spacer = spacers.entry(name.to_string()).or_insert_with(|| Arc::new(Spacer::new(interval)));
        spacer.set_interval(interval);
        spacer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_headers as headers;
    use crate::http::ApiError;

    #[test]
    fn absurd_rate_limit_headers_parse_without_panicking() {
        let huge = i64::MAX.to_string();
        let h = headers(&[
            ("ratelimit-remaining", "5"),
            ("ratelimit-reset", &huge),
            ("retry-after", "18446744073709551615"),
        ]);
        let reset = read_budget(&h).unwrap().reset_at.unwrap();
        assert!(reset <= Utc::now() + chrono::Duration::hours(1), "cut to an hour: {reset}");
        assert_eq!(limit_wait(&h), Duration::from_secs(u64::MAX), "as sent; the gate caps it");
        let reset = (Utc::now() + chrono::Duration::minutes(50)).timestamp().to_string();
        let secondary = headers(&[("x-ratelimit-remaining", "4000"), ("x-ratelimit-reset", &reset)]);
        assert_eq!(limit_wait(&secondary), Duration::from_secs(60), "not the reset of a budget left");
        let primary = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]);
        assert!(limit_wait(&primary) > Duration::from_secs(49 * 60), "a spent budget waits for its reset");
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &huge)]);
        assert_eq!(read_budget(&h).unwrap().reset_at, None, "an epoch out of range reads as none");
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "18446744073709551615")]);
        assert_eq!(read_budget(&h).unwrap().reset_at, None);
        let e = ApiError::limited(Service::Github, Scope::Service, Duration::MAX);
        assert!(matches!(e, ApiError::RateLimited { until, .. } if until <= Utc::now() + chrono::Duration::hours(1)));
    }

    #[test]
    fn endpoint_headers_in_both_spellings() {
        let h = headers(&[
            ("zendesk-ratelimit-per-ticket-updates", "total=30; remaining=0; resets=468"),
            ("zendesk-rate-limit-tickets-update", "total=20;remaining=19;resets=59"),
            ("zendesk-ratelimit-broken", "total=x; remaining=; resets=1"),
        ]);
        let mut got = endpoint_budgets(&h);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let s = Duration::from_secs;
        assert_eq!(
            got,
            [
                ("per-ticket-updates".to_string(), EndpointBudget { total: Some(30), remaining: 0, resets: s(468) }),
                ("tickets-update".to_string(), EndpointBudget { total: Some(20), remaining: 19, resets: s(59) }),
            ]
        );
    }

    #[test]
    fn a_limit_answer_is_scoped_to_what_it_limits() {
        let zd = Service::Zendesk;
        let update = Target::ticket(zd, Endpoint::TicketsUpdate, TicketId(7));
        let read = Target::ticket_read(zd, Endpoint::TicketsShow, TicketId(7));
        let export = Target::silent_endpoint(zd, Endpoint::IncrementalExports);
        let export_spent = ("zendesk-ratelimit-incremental-exports", "total=10; remaining=0; resets=40");
        let github = Target::service(Service::Github);
        let installed = Target::installation(Service::Github, Some(InstallationId(77)));
        let account_left = ("x-rate-limit-remaining", "650");
        let account_spent = ("ratelimit-remaining", "0");
        let ticket_spent = ("zendesk-ratelimit-per-ticket-updates", "total=30; remaining=0; resets=468");
        let s = Duration::from_secs;
        type Case<'a> = (&'a Target, Vec<(&'static str, &'a str)>, Scope, Option<Duration>);
        let cases: Vec<Case> = vec![
            (&update, vec![account_left, ticket_spent], Scope::Ticket(TicketId(7)), Some(s(468))),
            (&update, vec![account_spent, ticket_spent], Scope::Service, None),
            (&update, vec![account_spent], Scope::Service, None),
            // Zendesk's documented per-ticket 429 names no budget (FACTS.md).
            (&update, vec![account_left], Scope::Ticket(TicketId(7)), None),
            (&update, vec![], Scope::Ticket(TicketId(7)), None),
            (&read, vec![account_left], Scope::Service, None),
            (&read, vec![account_left, ticket_spent], Scope::Ticket(TicketId(7)), Some(s(468))),
            (
                &update,
                vec![("zendesk-rate-limit-tickets-update", "total=100; remaining=0; resets=20")],
                Scope::Endpoint(Endpoint::TicketsUpdate),
                Some(s(20)),
            ),
            (&export, vec![account_left, export_spent], Scope::Endpoint(Endpoint::IncrementalExports), Some(s(40))),
            (&export, vec![account_left], Scope::Endpoint(Endpoint::IncrementalExports), None),
            (&export, vec![], Scope::Endpoint(Endpoint::IncrementalExports), None),
            (&export, vec![account_spent], Scope::Service, None),
            (&github, vec![("x-ratelimit-remaining", "12")], Scope::Service, None),
            (&installed, vec![("x-ratelimit-remaining", "0")], Scope::Installation(InstallationId(77)), None),
            (&installed, vec![("x-ratelimit-remaining", "12")], Scope::Installation(InstallationId(77)), None),
        ];
        for (target, pairs, scope, reset) in cases {
            assert_eq!(limit_scope(target, &headers(&pairs)), (scope, reset), "{target:?} {pairs:?}");
        }
    }

    /// FACTS.md "Secondary limits": no `retry-after` and budget left: at least a minute, more
    /// while it keeps failing; never the primary budget's reset (here 55 minutes away).
    #[tokio::test(start_paused = true)]
    async fn a_secondary_limit_without_retry_after_waits_a_minute_and_more_never_the_primary_reset() {
        let limits = Limits::default();
        let github = Target::service(Service::Github);
        let reset = (Utc::now() + chrono::Duration::minutes(55)).timestamp().to_string();
        let left = headers(&[("x-ratelimit-remaining", "4990"), ("x-ratelimit-reset", &reset)]);
        assert_eq!(limit_scope(&github, &left), (Scope::Service, None));
        let mut waits = Vec::new();
        for _ in 0..4 {
            let (scope, wait) = limits.limited(&github, StatusCode::FORBIDDEN, &left);
            assert_eq!((scope, limits.wait(&github).0), (Scope::Service, wait));
            waits.push(wait.as_secs());
            tokio::time::advance(wait / 2).await;
            limits.observe(&github, &left);
            tokio::time::advance(wait / 2).await;
            assert_eq!(limits.wait(&github).0, Duration::ZERO, "open again once the wait is over");
        }
        assert_eq!(waits, [60, 120, 240, 480], "a read between does not end the streak");
        let spent = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]);
        let (_, primary) = limits.limited(&github, StatusCode::FORBIDDEN, &spent);
        assert!(primary > Duration::from_secs(54 * 60), "a spent budget waits for its reset: {primary:?}");
    }

    /// A budget the service names that ticket-sync does not gate by name (here Zendesk's
    /// list-tickets budget) is no scope of its own: a limit answer naming only it reads as a
    /// bare one, and an answer that merely reports it spent closes no gate and keeps no block.
    #[test]
    fn a_spent_budget_of_a_name_ticket_sync_does_not_send_under_is_its_own_scope() {
        // As when endpoints were names: any budget Zendesk says is spent closes a gate of its
        // name until its reset, is kept for the next process and shown by `status`.
        let zd = Service::Zendesk;
        let update = Target::ticket(zd, Endpoint::TicketsUpdate, TicketId(7));
        let export = Target::silent_endpoint(zd, Endpoint::IncrementalExports);
        let other = ("zendesk-ratelimit-tickets-index", "total=100; remaining=0; resets=30");
        let account_left = ("x-rate-limit-remaining", "650");
        let index = Scope::Endpoint(Endpoint::Other("tickets-index".into()));
        let thirty = Some(Duration::from_secs(30));
        for target in [&update, &export, &Target::service(zd)] {
            assert_eq!(limit_scope(target, &headers(&[account_left, other])), (index.clone(), thirty), "{target:?}");
        }

        #[derive(Default)]
        struct Kept(Mutex<Vec<Block>>);
        impl BlockStore for Kept {
            fn save_block(&self, block: &Block) {
                self.0.lock().unwrap().push(block.clone());
            }
        }
        let kept = Arc::new(Kept::default());
        let limits = Limits::default();
        limits.keep_blocks_in(kept.clone());
        limits.observe(&Target::service(zd), &headers(&[account_left, other]));
        let blocks = kept.0.lock().unwrap().clone();
        assert_eq!(blocks.iter().map(|b| &b.scope).collect::<Vec<_>>(), [&index], "kept");
        assert_eq!(blocks[0].scope.key(), "endpoint:tickets-index");
        assert!(limits.gates.lock().unwrap().keys().any(|(_, s)| *s == index), "a gate of its name");
        for target in [&update, &export, &Target::service(zd)] {
            assert_eq!(limits.wait(target).0, Duration::ZERO, "no request of ticket-sync's is sent under it");
        }
    }

    #[test]
    fn gates_of_one_scope_leave_the_others_open() {
        let limits = Limits::default();
        let zd = Service::Zendesk;
        let hot = Target::ticket(zd, Endpoint::TicketsUpdate, TicketId(7));
        let calm = Target::ticket(zd, Endpoint::TicketsUpdate, TicketId(8));
        let spent = headers(&[("zendesk-ratelimit-per-ticket-updates", "total=30; remaining=0; resets=468")]);
        let (scope, wait) = limits.limited(&hot, StatusCode::TOO_MANY_REQUESTS, &spent);
        assert_eq!((scope.clone(), wait), (Scope::Ticket(TicketId(7)), Duration::from_secs(468)));
        assert_eq!(limits.wait(&hot).1, scope);
        assert!(limits.wait(&hot).0 > Duration::from_secs(460));
        assert_eq!(limits.wait(&calm).0, Duration::ZERO);
        assert_eq!(limits.wait(&Target::service(zd)).0, Duration::ZERO);
        let told = headers(&[("retry-after", "18446744073709551615")]);
        let (scope, wait) = limits.limited(&Target::service(Service::Github), StatusCode::FORBIDDEN, &told);
        assert_eq!((scope, wait), (Scope::Service, MAX_WAIT));
    }

    #[test]
    fn an_installations_spent_budget_holds_back_only_that_installation() {
        let limits = Limits::default();
        let gh = Service::Github;
        let (one, two) =
            (Target::installation(gh, Some(InstallationId(1))), Target::installation(gh, Some(InstallationId(2))));
        let spent = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "9999999999")]);
        let (scope, _) = limits.limited(&one, StatusCode::FORBIDDEN, &spent);
        assert_eq!(scope, Scope::Installation(InstallationId(1)));
        assert!(limits.wait(&one).0 > Duration::from_secs(60));
        assert_eq!(limits.wait(&two).0, Duration::ZERO);
        assert_eq!(limits.wait(&Target::service(gh)).0, Duration::ZERO);
        limits.observe(&two, &spent);
        assert_eq!(limits.wait(&two).1, Scope::Installation(InstallationId(2)));
    }

    #[test]
    fn graphqls_spent_points_hold_back_graphql_alone_and_a_rest_block_holds_it_too() {
        let limits = Limits::default();
        let gh = Service::Github;
        let (rest, graphql) = (Target::service(gh), Target::graphql(gh, None));
        let spent = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "9999999999"),
            ("x-ratelimit-resource", "graphql"),
        ]);
        assert!(!reports_rest_budget(&spent) && reports_rest_budget(&headers(&[("x-ratelimit-resource", "core")])));
        limits.observe(&graphql, &spent);
        let points = Scope::Endpoint(Endpoint::from("graphql"));
        assert_eq!(limits.wait(&graphql).1, points.clone());
        assert!(limits.wait(&graphql).0 > Duration::from_secs(60));
        assert_eq!(limits.wait(&rest).0, Duration::ZERO, "REST's budget is another");
        assert_eq!(limit_scope(&graphql, &spent).0, points);
        let installed = Target::graphql(gh, Some(InstallationId(3)));
        assert_eq!(limits.wait(&installed).0, Duration::ZERO, "each installation has its own points");
        assert_eq!(limit_scope(&installed, &spent).0, Scope::Endpoint(Endpoint::from("graphql-installation-3")));

        let secondary = headers(&[("retry-after", "60"), ("x-ratelimit-remaining", "4000")]);
        let (scope, _) = limits.limited(&installed, StatusCode::FORBIDDEN, &secondary);
        assert_eq!(scope, Scope::Installation(InstallationId(3)), "a secondary limit is the installation's, shared");
        assert!(limits.wait(&Target::installation(gh, Some(InstallationId(3)))).0 > Duration::ZERO);
    }
}
