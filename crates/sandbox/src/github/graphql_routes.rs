//! `POST /graphql` (on GitHub Enterprise Server `POST /api/graphql`): the two queries
//! ticket-sync sends. The fake does not parse GraphQL; it tells them apart by the names in them.
//! - The survivor ("canonical") of an issue closed as a duplicate, which the REST API never
//!   names: a query naming `MarkedAsDuplicateEvent` and `canonical`. Its repository and issue
//!   come from `variables` (`owner`, `name`, `number`), and the answer is read off the model
//!   (the `marked_as_duplicate` and `unmarked_as_duplicate` events `close_as_duplicate` and
//!   `unmark_duplicate` record).
//! - The issues pull requests may close, by keyword or by a hand link in the Development
//!   sidebar, which REST does not show: a query naming `closingIssuesReferences`, with one
//!   `ALIAS: pullRequest(number: $VAR)` a pull request (the repository from `owner` and
//!   `name`). Each alias is answered from the model (`Model::closing_references`: the body's
//!   closing keywords when the base is the default branch, and `link_pull_request`'s links); an
//!   unknown number is that alias `null` with a NOT_FOUND error naming its path, the others
//!   are answered. See "Closing references" below.
//!
//! What it rests on (docs/research/github-fixes.md, "GraphQL: a duplicate's survivor", gives
//! every source):
//! - FACTS (GitHub's public schema, octokit/graphql-schema): `Repository.issue(number: Int!):
//!   Issue`; `Issue.timelineItems(itemTypes: [IssueTimelineItemsItemType!], first, last, …)`
//!   with `MARKED_AS_DUPLICATE_EVENT` and `UNMARKED_AS_DUPLICATE_EVENT`; both events carry
//!   `canonical: IssueOrPullRequest` (`union IssueOrPullRequest = Issue | PullRequest`),
//!   `duplicate`, `createdAt`; `Repository.nameWithOwner`. `repository(followRenames = true)`
//!   follows renames.
//! - FACTS (GitHub's own timeline components in a public copy of its web UI): the marked event
//!   is shown on the duplicate's timeline as "marked this as a duplicate of #canonical", with an
//!   Undo that unmarks (`unmarkIssueAsDuplicate(duplicateId, canonicalId)`); the unmarked event
//!   names the canonical too. So the last of the two on a duplicate's timeline says whether it
//!   is still a duplicate, and of what.
//! - FACTS (berenddeboer/ready-for-agent#1038, gitkraken/vscode-gitlens#5568; cli/cli#436,
//!   cli/cli#157): what cannot be found answers HTTP 200 with `data.repository: null` and
//!   `errors: [{type: "NOT_FOUND", path: ["repository"], message: "Could not resolve to a
//!   Repository with the name 'OWNER/NAME'."}]`; an issue number that is not there, `"Could not
//!   resolve to an Issue with the number of N."` (path `["repository", "issue"]`).
//! - FACTS (ocurrent/ocurrent#395, magit/forge#259): a query GitHub cannot parse answers 200
//!   `{"errors": [{"message": "Parse error on … at [L, C]", "locations": [{"line", "column"}]}]}`
//!   without `data`. FACT (fpicalausa/remove-stale-branches#49): an installation refused a field
//!   gets `{"type": "FORBIDDEN", "path": […], "message": "Resource not accessible by
//!   integration"}`.
//! - FACT (f/graphql.js#21): a body that is not JSON answers 400 `Problems parsing JSON`; FACT
//!   (XAMPPRocky/octocrab#401): JSON that is not an object, `Body should be a JSON object` with
//!   `documentation_url` `https://docs.github.com/graphql`.
//! - ASSUMED: the 400s carry GraphQL's documentation link and no `status` field (as its 401
//!   does); a missing `query` answers `A query attribute must be specified and must be a
//!   string.`; a missing or mistyped variable answers `Variable $X of type T! was provided
//!   invalid value` (graphql-ruby's wording); `timelineItems` without `first`/`last` answers
//!   `MISSING_PAGINATION_BOUNDARIES`, one above 100 `EXCESSIVE_PAGINATION`; a pull request's
//!   number, a transferred issue's old number and a deleted issue are not an `Issue`
//!   (NOT_FOUND); a canonical the caller cannot see (deleted, in a hidden or deleted
//!   repository, outside an installation's account) is `null`; an installation needs `issues:
//!   read` for the issue (else FORBIDDEN) and sees only its own account's repositories (else
//!   NOT_FOUND, as REST's 404). Any other query gets a parse error: the fake models no other.
//!
//! Closing references (docs/research/github-fixes.md, "GraphQL: which issues a pull request
//! closes", gives every source):
//! - FACTS (octokit/graphql-schema): `Repository.pullRequest(number: Int!): PullRequest`
//!   (nullable); `PullRequest.closingIssuesReferences(after, before, first, last, orderBy:
//!   IssueOrder, userLinkedOnly: Boolean = false): IssueConnection`, "List of issues that may be
//!   closed by this pull request"; `IssueConnection { nodes: [Issue], totalCount, pageInfo }`.
//! - FACTS (GitHub's docs and reports of real answers): keywords in the body of a pull request
//!   into another branch than the default one are ignored and its connection is empty, while a
//!   hand link is listed; an unknown number answers `Could not resolve to a PullRequest with the
//!   number of N.`; `first`/`last` are 1 to 100.
//! - ASSUMED: a merged or closed pull request keeps its list, and closed issues stay on it (tools
//!   read it after the merge); `userLinkedOnly: true` lists the hand links alone; `orderBy` is
//!   not modelled (keyword references in the body's order, then hand links in linking order);
//!   an issue's number is NOT_FOUND like a missing one (a number beyond GraphQL's 32-bit `Int`
//!   is a bad variable, as for `issue`); an issue the caller cannot see is left out; an installation needs `pull_requests: read`
//!   (else FORBIDDEN on each alias); the whole query costs one point (the documented formula:
//!   50 connections of 50 are 50 requests, under 100, and a query costs at least one).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

use super::app::Credential;
use super::reply::{docs, Reply};
use super::state::{EventDetail, IssueEvent, Located, Model, Repo};
use super::wire::ts;
use super::Shared;

/// The most items a connection gives in one page.
const MAX_PAGE: i64 = 100;

/// The connection of the issues a pull request may close.
const CLOSING: &str = "closingIssuesReferences";

/// The GraphQL endpoint's router: `/graphql` (under `/api` in GitHub Enterprise Server's layout).
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/graphql", post(answer)).method_not_allowed_fallback(not_found).with_state(shared)
}

/// ASSUMED: other methods answer like an unknown REST path.
async fn not_found() -> Reply {
    Reply::not_found(docs::GRAPHQL)
}

async fn answer(State(s): State<Arc<Shared>>, Extension(credential): Extension<Credential>, body: Bytes) -> Reply {
    let (text, variables) = match read_request(&body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let query = Query::new(&text);
    if query.is_closing_query() {
        return closing_answer(&s, credential, &query, &variables);
    }
    if !query.is_duplicate_query() {
        return errors(None, vec![query.parse_error()]);
    }
    let (owner, name, number) = match query.arguments(&variables) {
        Ok(arguments) => arguments,
        Err(problems) => return errors(None, problems),
    };
    let access = Access::of(&s, credential);
    let model = s.model.lock().unwrap();
    let found = model.repo_by_name(&owner, &name).or_else(|| model.repo_by_former_name(&owner, &name));
    let Some(repo) = found.map(|i| &model.repos[i]).filter(|r| access.sees(r)) else {
        let message = format!("Could not resolve to a Repository with the name '{owner}/{name}'.");
        let error = query.error("NOT_FOUND", &["repository"], &message);
        return errors(Some(json!({"repository": null})), vec![error]);
    };
    let no_issue = |error| errors(Some(json!({"repository": {"issue": null}})), vec![error]);
    if !access.reads_issues {
        return no_issue(query.error("FORBIDDEN", &["repository", "issue"], "Resource not accessible by integration"));
    }
    let Some(issue) = repo.live(number).filter(|i| !i.is_pull_request) else {
        let message = format!("Could not resolve to an Issue with the number of {number}.");
        return no_issue(query.error("NOT_FOUND", &["repository", "issue"], &message));
    };
    let page = match query.page(&variables, "timelineItems", &["repository", "issue", "timelineItems"]) {
        Ok(page) => page,
        Err(error) => return no_issue(error),
    };
    let kinds = query.item_kinds();
    let events: Vec<&IssueEvent> =
        repo.events.iter().filter(|e| e.issue_number == issue.number && kinds.contains(&e.event.as_str())).collect();
    let chosen = match page {
        Page::First(n) => &events[..n.min(events.len())],
        Page::Last(n) => &events[events.len().saturating_sub(n)..],
    };
    let nodes: Vec<Value> = chosen.iter().map(|e| node(&model, &access, &query, e)).collect();
    let data = json!({"repository": {"issue": {"timelineItems": {"nodes": nodes}}}});
    Reply::ok(json!({ "data": data }))
}

/// The closing-references query: each `ALIAS: pullRequest(number: $VAR)` answered from the
/// model; an unknown number is that alias `null` with a NOT_FOUND error naming its path, and the
/// others are answered all the same.
fn closing_answer(s: &Shared, credential: Credential, query: &Query, variables: &Map<String, Value>) -> Reply {
    let aliases = match query.pull_aliases(variables) {
        Ok(aliases) if aliases.is_empty() => return errors(None, vec![query.parse_error()]),
        Ok(aliases) => aliases,
        Err(problems) => return errors(None, problems),
    };
    let (owner, name) = match query.repository_arguments(variables) {
        Ok(arguments) => arguments,
        Err(problems) => return errors(None, problems),
    };
    let path = ["repository", aliases[0].0.as_str(), CLOSING];
    let page = match query.page(variables, CLOSING, &path) {
        Ok(page) => page,
        Err(error) => return errors(None, vec![error]),
    };
    let hand_links_only = query.flag(CLOSING, "userLinkedOnly", variables);
    let access = Access::of(s, credential);
    let model = s.model.lock().unwrap();
    let found = model.repo_by_name(&owner, &name).or_else(|| model.repo_by_former_name(&owner, &name));
    let Some(index) = found.filter(|i| access.sees(&model.repos[*i])) else {
        let message = format!("Could not resolve to a Repository with the name '{owner}/{name}'.");
        let error = query.error("NOT_FOUND", &["repository"], &message);
        return errors(Some(json!({"repository": null})), vec![error]);
    };
    let mut answers = Map::new();
    let mut problems = Vec::new();
    for (alias, number) in &aliases {
        if !access.reads_pulls {
            answers.insert(alias.clone(), Value::Null);
            problems.push(query.alias_error("FORBIDDEN", alias, "Resource not accessible by integration"));
            continue;
        }
        let Some(references) = model.closing_references(index, *number) else {
            let message = format!("Could not resolve to a PullRequest with the number of {number}.");
            answers.insert(alias.clone(), Value::Null);
            problems.push(query.alias_error("NOT_FOUND", alias, &message));
            continue;
        };
        let seen: Vec<Value> = references
            .iter()
            .filter(|(_, _, by_hand)| *by_hand || !hand_links_only)
            .filter(|(at, _, _)| access.sees(&model.repos[*at]))
            .map(|(at, n, _)| json!({"number": n, "repository": {"nameWithOwner": model.repos[*at].full_name()}}))
            .collect();
        let total = seen.len();
        let nodes = match page {
            Page::First(n) => seen.into_iter().take(n).collect::<Vec<_>>(),
            Page::Last(n) => seen.into_iter().skip(total.saturating_sub(n)).collect(),
        };
        let mut connection = json!({ "nodes": nodes });
        if query.names("totalCount") {
            connection["totalCount"] = json!(total);
        }
        answers.insert(alias.clone(), json!({ CLOSING: connection }));
    }
    let data = json!({ "repository": answers });
    if problems.is_empty() {
        Reply::ok(json!({ "data": data }))
    } else {
        errors(Some(data), problems)
    }
}

/// The query text and its variables, or GitHub's refusal of the body.
fn read_request(body: &[u8]) -> Result<(String, Map<String, Value>), Reply> {
    let refuse = |message: &str| {
        Reply::json(StatusCode::BAD_REQUEST, json!({"message": message, "documentation_url": docs::GRAPHQL}))
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| refuse("Problems parsing JSON"))?;
    let Value::Object(mut request) = value else {
        return Err(refuse("Body should be a JSON object"));
    };
    let query = match request.remove("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q,
        _ => {
            let error = json!({"message": "A query attribute must be specified and must be a string."});
            return Err(errors(None, vec![error]));
        }
    };
    let variables = match request.remove("variables") {
        Some(Value::Object(variables)) => variables,
        _ => Map::new(),
    };
    Ok((query, variables))
}

/// A 200 with GraphQL's `errors` (and `data` when execution began).
fn errors(data: Option<Value>, errors: Vec<Value>) -> Reply {
    let mut body = json!({ "errors": errors });
    if let Some(data) = data {
        body["data"] = data;
    }
    Reply::ok(body)
}

/// What the caller may see: every repository the token sees, or an installation's account
/// with its `issues` permission.
struct Access {
    /// The installation's account; `None` for the personal token.
    account: Option<String>,
    reads_issues: bool,
    reads_pulls: bool,
}

impl Access {
    fn of(shared: &Shared, credential: Credential) -> Access {
        let Credential::Installation(id) = credential else {
            return Access { account: None, reads_issues: true, reads_pulls: true };
        };
        let state = shared.app.lock().unwrap();
        match state.installation(id) {
            Some(i) => Access {
                account: Some(i.account.clone()),
                reads_issues: i.issues.is_some(),
                reads_pulls: i.pull_requests.is_some(),
            },
            None => Access { account: Some(String::new()), reads_issues: false, reads_pulls: false },
        }
    }

    fn sees(&self, repo: &Repo) -> bool {
        let in_account = self.account.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(&repo.owner));
        in_account && !repo.hidden && !repo.deleted
    }
}

/// One timeline item: its type, the survivor it names, and `createdAt` when asked.
fn node(model: &Model, access: &Access, query: &Query, event: &IssueEvent) -> Value {
    let typename =
        if event.event == "marked_as_duplicate" { "MarkedAsDuplicateEvent" } else { "UnmarkedAsDuplicateEvent" };
    let canonical = match &event.detail {
        EventDetail::Duplicate { repo_id, number } => canonical(model, access, *repo_id, *number),
        _ => Value::Null,
    };
    let mut node = json!({"__typename": typename, "canonical": canonical});
    if query.names("createdAt") {
        node["createdAt"] = json!(ts(event.created_at));
    }
    node
}

/// The survivor as an `IssueOrPullRequest` where it lives now, or null when the caller cannot
/// see it.
fn canonical(model: &Model, access: &Access, repo_id: u64, number: u64) -> Value {
    let Some(index) = model.repo_by_id(repo_id) else { return Value::Null };
    let (index, number) = match model.locate(index, number) {
        Located::Live => (index, number),
        Located::Moved { repo, number } => (repo, number),
        Located::Deleted | Located::Missing => return Value::Null,
    };
    let repo = &model.repos[index];
    let Some(issue) = repo.live(number).filter(|_| access.sees(repo)) else { return Value::Null };
    let typename = if issue.is_pull_request { "PullRequest" } else { "Issue" };
    json!({"__typename": typename, "number": number, "repository": {"nameWithOwner": repo.full_name()}})
}

/// How many items of the connection, from which end.
enum Page {
    First(usize),
    Last(usize),
}

/// The query text and the names in it (the fake reads no further into GraphQL).
struct Query<'a> {
    text: &'a str,
    names: BTreeSet<&'a str>,
}

impl<'a> Query<'a> {
    fn new(text: &'a str) -> Query<'a> {
        let names = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|n| !n.is_empty()).collect();
        Query { text, names }
    }

    fn names(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    fn is_duplicate_query(&self) -> bool {
        self.names("MarkedAsDuplicateEvent") && self.names("canonical")
    }

    fn is_closing_query(&self) -> bool {
        self.names(CLOSING)
    }

    /// Each `ALIAS: pullRequest(number: …)` (the field's own name when it has no alias) with
    /// its number, a literal or a variable; or GitHub's complaint for each variable that is
    /// missing or not a 32-bit `Int`.
    fn pull_aliases(&self, variables: &Map<String, Value>) -> Result<Vec<(String, u64)>, Vec<Value>> {
        let pattern = regex::Regex::new(r"(?:\b(\w+)\s*:\s*)?\bpullRequest\s*\(\s*number\s*:\s*(\$?\w+)\s*\)")
            .expect("a valid pattern");
        let mut aliases = Vec::new();
        let mut problems = Vec::new();
        for found in pattern.captures_iter(self.text) {
            let alias = found.get(1).map_or("pullRequest", |a| a.as_str()).to_string();
            let given = &found[2];
            let number = match given.strip_prefix('$') {
                Some(variable) => variables.get(variable).and_then(Value::as_i64),
                None => given.parse::<i64>().ok(),
            };
            match number.filter(|n| i32::try_from(*n).is_ok()) {
                // Numbers start at 1: 0 or less finds nothing, as a missing one.
                Some(n) => aliases.push((alias, u64::try_from(n).unwrap_or(0))),
                None => {
                    let variable = given.trim_start_matches('$');
                    problems.push(self.invalid_variable(variable, "Int", variables.get(variable)));
                }
            }
        }
        if problems.is_empty() {
            Ok(aliases)
        } else {
            Err(problems)
        }
    }

    /// Whether boolean argument `argument` of `field` is `true` (a literal or a variable).
    fn flag(&self, field: &str, argument: &str, variables: &Map<String, Value>) -> bool {
        let arguments = self.arguments_of(field).unwrap_or_default();
        let pattern = format!(r"\b{}\s*:\s*(\$?\w+)", regex::escape(argument));
        let pattern = regex::Regex::new(&pattern).expect("a valid pattern");
        let Some(found) = pattern.captures(arguments) else { return false };
        match found[1].strip_prefix('$') {
            Some(variable) => variables.get(variable).and_then(Value::as_bool) == Some(true),
            None => &found[1] == "true",
        }
    }

    /// The timeline items asked for (`itemTypes`); both kinds when it names neither.
    fn item_kinds(&self) -> Vec<&'static str> {
        let asked = [
            ("MARKED_AS_DUPLICATE_EVENT", "marked_as_duplicate"),
            ("UNMARKED_AS_DUPLICATE_EVENT", "unmarked_as_duplicate"),
        ];
        let named: Vec<&str> = asked.iter().filter(|(t, _)| self.names(t)).map(|(_, kind)| *kind).collect();
        if named.is_empty() {
            asked.iter().map(|(_, kind)| *kind).collect()
        } else {
            named
        }
    }

    /// `owner`, `name` and `number` from the variables, or GitHub's complaint for each that is
    /// missing or of the wrong type.
    fn arguments(&self, variables: &Map<String, Value>) -> Result<(String, String, u64), Vec<Value>> {
        let repository = self.repository_arguments(variables);
        // GraphQL's `Int` is 32 bits; issue numbers start at 1 (0 or less finds nothing).
        let number = variables.get("number").and_then(Value::as_i64).filter(|n| i32::try_from(*n).is_ok());
        match (repository, number) {
            (Ok((owner, name)), Some(number)) => Ok((owner, name, u64::try_from(number).unwrap_or(0))),
            (repository, number) => {
                let mut problems = repository.err().unwrap_or_default();
                if number.is_none() {
                    problems.push(self.invalid_variable("number", "Int", variables.get("number")));
                }
                Err(problems)
            }
        }
    }

    /// `owner` and `name` from the variables, or GitHub's complaint for each that is missing or
    /// not a string.
    fn repository_arguments(&self, variables: &Map<String, Value>) -> Result<(String, String), Vec<Value>> {
        let text = |key: &str| variables.get(key).and_then(Value::as_str).map(str::to_string);
        match (text("owner"), text("name")) {
            (Some(owner), Some(name)) => Ok((owner, name)),
            (owner, name) => {
                let missing = [("owner", owner.is_none()), ("name", name.is_none())];
                let problems = missing.iter().filter(|(_, missing)| *missing);
                Err(problems.map(|(key, _)| self.invalid_variable(key, "String", variables.get(*key))).collect())
            }
        }
    }

    fn invalid_variable(&self, key: &str, kind: &str, given: Option<&Value>) -> Value {
        let given = given.cloned().unwrap_or(Value::Null);
        let explanation = match &given {
            Value::Null => "Expected value to not be null".to_string(),
            other => format!("Could not coerce value {other} to {kind}"),
        };
        json!({
            "extensions": {"value": given, "problems": [{"path": [], "explanation": explanation}]},
            "locations": self.locations(&format!("${key}")),
            "message": format!("Variable ${key} of type {kind}! was provided invalid value"),
        })
    }

    /// The `first` or `last` of `connection` (a number or a variable), or GitHub's error
    /// naming `path`.
    fn page(&self, variables: &Map<String, Value>, connection: &str, path: &[&str]) -> Result<Page, Value> {
        let arguments = self.arguments_of(connection).unwrap_or_default();
        let pattern = regex::Regex::new(r"\b(first|last)\s*:\s*(\$?\w+)").expect("a valid pattern");
        let Some(found) = pattern.captures(arguments) else {
            let message = format!(
                "You must provide a `first` or `last` value to properly paginate the `{connection}` connection."
            );
            return Err(self.error("MISSING_PAGINATION_BOUNDARIES", path, &message));
        };
        let value = &found[2];
        let count = match value.strip_prefix('$') {
            Some(variable) => variables.get(variable).and_then(Value::as_i64),
            None => value.parse::<i64>().ok(),
        };
        match count {
            Some(n) if (1..=MAX_PAGE).contains(&n) => {
                let n = n as usize;
                Ok(if &found[1] == "first" { Page::First(n) } else { Page::Last(n) })
            }
            _ => {
                let argument = &found[1];
                let message = format!(
                    "Requesting {value} records on the `{connection}` connection exceeds the `{argument}` limit of \
                     {MAX_PAGE} records."
                );
                Err(self.error("EXCESSIVE_PAGINATION", path, &message))
            }
        }
    }

    /// The text between the parentheses after `field`, if the field has arguments.
    fn arguments_of(&self, field: &str) -> Option<&'a str> {
        let start = self.text.find(field)? + field.len();
        let rest = self.text[start..].trim_start().strip_prefix('(')?;
        rest.find(')').map(|end| &rest[..end])
    }

    /// An error of GraphQL's execution: its type, the field path, where the field is in the
    /// query, the message.
    fn error(&self, kind: &str, path: &[&str], message: &str) -> Value {
        let field = path.last().copied().unwrap_or_default();
        json!({"type": kind, "path": path, "locations": self.locations(field), "message": message})
    }

    /// An error about aliased field `alias` of the repository: its path and where the alias is
    /// in the query.
    fn alias_error(&self, kind: &str, alias: &str, message: &str) -> Value {
        let at = regex::Regex::new(&format!(r"\b{}\s*:", regex::escape(alias)))
            .ok()
            .and_then(|p| p.find(self.text))
            .map_or_else(|| self.locations(alias), |m| self.locations(m.as_str()));
        json!({"type": kind, "path": ["repository", alias], "locations": at, "message": message})
    }

    /// What GitHub answers a query it cannot parse; the fake says it of any other query.
    fn parse_error(&self) -> Value {
        let first = self.text.split_whitespace().next().unwrap_or_default();
        let first: String = first.chars().take(40).collect();
        let at = self.text.find(first.as_str()).unwrap_or(0);
        let (line, column) = line_and_column(self.text, at);
        json!({
            "message": format!("Parse error on {first:?} (IDENTIFIER) at [{line}, {column}]"),
            "locations": [{"line": line, "column": column}],
        })
    }

    /// `[{line, column}]` of the first `needle` in the query (1-based), or none.
    fn locations(&self, needle: &str) -> Value {
        match self.text.find(needle) {
            Some(at) => {
                let (line, column) = line_and_column(self.text, at);
                json!([{"line": line, "column": column}])
            }
            None => json!([]),
        }
    }
}

/// The 1-based line and column of byte `at` of `text` (columns count characters).
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}
