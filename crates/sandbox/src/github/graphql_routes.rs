//! `POST /graphql` (on GitHub Enterprise Server `POST /api/graphql`): the one query ticket-sync
//! sends, the survivor ("canonical") of an issue closed as a duplicate, which the REST API never
//! names. The fake does not parse GraphQL: a body whose query names `MarkedAsDuplicateEvent` and
//! `canonical` is that query, its repository and issue come from `variables` (`owner`, `name`,
//! `number`), and the answer is read off the model (the `marked_as_duplicate` and
//! `unmarked_as_duplicate` events `close_as_duplicate` and `unmark_duplicate` record).
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
    let page = match query.page(&variables) {
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
}

impl Access {
    fn of(shared: &Shared, credential: Credential) -> Access {
        let Credential::Installation(id) = credential else {
            return Access { account: None, reads_issues: true };
        };
        let state = shared.app.lock().unwrap();
        match state.installation(id) {
            Some(i) => Access { account: Some(i.account.clone()), reads_issues: i.issues.is_some() },
            None => Access { account: Some(String::new()), reads_issues: false },
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
        let text = |key: &str| variables.get(key).and_then(Value::as_str).map(str::to_string);
        let (owner, name) = (text("owner"), text("name"));
        // GraphQL's `Int` is 32 bits; issue numbers start at 1 (0 or less finds nothing).
        let number = variables.get("number").and_then(Value::as_i64).filter(|n| i32::try_from(*n).is_ok());
        let mut problems = Vec::new();
        for (key, kind, ok) in [
            ("owner", "String", owner.is_some()),
            ("name", "String", name.is_some()),
            ("number", "Int", number.is_some()),
        ] {
            if !ok {
                problems.push(self.invalid_variable(key, kind, variables.get(key)));
            }
        }
        match (owner, name, number) {
            (Some(owner), Some(name), Some(number)) if problems.is_empty() => {
                Ok((owner, name, u64::try_from(number).unwrap_or(0)))
            }
            _ => Err(problems),
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

    /// `timelineItems`' `first` or `last` (a number or a variable), or GitHub's error.
    fn page(&self, variables: &Map<String, Value>) -> Result<Page, Value> {
        let path = ["repository", "issue", "timelineItems"];
        let arguments = self.arguments_of("timelineItems").unwrap_or_default();
        let pattern = regex::Regex::new(r"\b(first|last)\s*:\s*(\$?\w+)").expect("a valid pattern");
        let Some(found) = pattern.captures(arguments) else {
            let message =
                "You must provide a `first` or `last` value to properly paginate the `timelineItems` connection.";
            return Err(self.error("MISSING_PAGINATION_BOUNDARIES", &path, message));
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
                let (argument, connection) = (&found[1], "timelineItems");
                let message = format!(
                    "Requesting {value} records on the `{connection}` connection exceeds the `{argument}` limit of \
                     {MAX_PAGE} records."
                );
                Err(self.error("EXCESSIVE_PAGINATION", &path, &message))
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
