//! HTTP answers of the fake GitHub: one `Reply` type for success and failure, and the exact
//! error bodies (`basic-error`, `validation-error`, redirects) the real API sends.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Documentation links GitHub puts in its error bodies, one per operation.
pub mod docs {
    pub const GENERIC: &str = "https://docs.github.com/rest";
    /// What GitHub's GraphQL endpoint puts in its HTTP-level refusals (`Bad credentials`).
    pub const GRAPHQL: &str = "https://docs.github.com/graphql";
    pub const GET_USER: &str = "https://docs.github.com/rest/users/users#get-the-authenticated-user";
    pub const GET_APP: &str = "https://docs.github.com/rest/apps/apps#get-the-authenticated-app";
    pub const GET_INSTALLATION: &str =
        "https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app";
    pub const CREATE_TOKEN: &str =
        "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
    pub const REPO_INSTALLATION: &str =
        "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app";
    pub const ORG_INSTALLATION: &str =
        "https://docs.github.com/rest/apps/apps#get-an-organization-installation-for-the-authenticated-app";
    pub const USER_INSTALLATION: &str =
        "https://docs.github.com/rest/apps/apps#get-a-user-installation-for-the-authenticated-app";
    pub const GET_REPO: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
    pub const LIST_ISSUES: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
    pub const CREATE_ISSUE: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
    pub const GET_ISSUE: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
    pub const UPDATE_ISSUE: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";
    pub const LIST_COMMENTS: &str = "https://docs.github.com/rest/issues/comments#list-issue-comments";
    pub const CREATE_COMMENT: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
    pub const GET_COMMENT: &str = "https://docs.github.com/rest/issues/comments#get-an-issue-comment";
    pub const UPDATE_COMMENT: &str = "https://docs.github.com/rest/issues/comments#update-an-issue-comment";
    pub const REPO_COMMENTS: &str = "https://docs.github.com/rest/issues/comments#list-issue-comments-for-a-repository";
    pub const REPO_EVENTS: &str = "https://docs.github.com/rest/issues/events#list-issue-events-for-a-repository";
    pub const ISSUE_EVENTS: &str = "https://docs.github.com/rest/issues/events#list-issue-events";
    pub const TIMELINE: &str = "https://docs.github.com/rest/issues/timeline#list-timeline-events-for-an-issue";
    pub const LIST_PULLS: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
    pub const GET_PULL: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";
    pub const COMMIT_PULLS: &str =
        "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit";
    pub const COMPARE: &str = "https://docs.github.com/rest/commits/commits#compare-two-commits";
    pub const LIST_RELEASES: &str = "https://docs.github.com/rest/releases/releases#list-releases";
    pub const GET_RELEASE: &str = "https://docs.github.com/rest/releases/releases#get-a-release";
    pub const LATEST_RELEASE: &str = "https://docs.github.com/rest/releases/releases#get-the-latest-release";
    pub const RELEASE_BY_TAG: &str = "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name";
    pub const PAGINATION: &str = "https://docs.github.com/v3/#pagination";
    pub const REDIRECTS: &str = "https://docs.github.com/v3/#http-redirects";
    pub const USER_AGENT: &str =
        "https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required";
    pub const RATE_LIMIT: &str = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting";
    pub const SECONDARY_LIMIT: &str =
        "https://docs.github.com/en/free-pro-team@latest/rest/overview/resources-in-the-rest-api#secondary-rate-limits";
}

/// A finished answer: status, optional JSON body, extra headers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub headers: Vec<(HeaderName, String)>,
}

/// Handlers return `Err(reply)` for refusals so `?` can short-circuit validation steps.
pub type Answer = Result<Reply, Reply>;

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Self {
        Reply { status, body: Some(body), headers: Vec::new() }
    }

    pub fn ok(body: Value) -> Self {
        Reply::json(StatusCode::OK, body)
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `basic-error`: `status` is a string, as GitHub sends it.
    pub fn error(status: StatusCode, message: &str, doc: &str) -> Self {
        let body = json!({
            "message": message,
            "documentation_url": doc,
            "status": status.as_u16().to_string(),
        });
        Reply::json(status, body)
    }

    pub fn not_found(doc: &str) -> Self {
        Reply::error(StatusCode::NOT_FOUND, "Not Found", doc)
    }

    pub fn issue_deleted(doc: &str) -> Self {
        Reply::error(StatusCode::GONE, "This issue was deleted", doc)
    }

    /// GitHub's per-resource 403s (no rate-limit headers): archived repositories, tokens
    /// without write access to one repository, locked issues.
    pub fn forbidden(message: &str, doc: &str) -> Self {
        Reply::error(StatusCode::FORBIDDEN, message, doc)
    }

    pub fn issues_disabled(doc: &str) -> Self {
        Reply::error(StatusCode::GONE, "Issues are disabled for this repo", doc)
    }

    pub fn bad_json(doc: &str) -> Self {
        Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc)
    }

    /// A page deeper than a list serves (see `query::paginate_limited`); the body has no
    /// `status` field, as GitHub sends it.
    pub fn pagination_limited() -> Self {
        let body = json!({
            "message": "In order to keep the API fast for everyone, pagination is limited for this resource. \
                        Check the rel=last link relation in the Link response header to see how far back you can traverse.",
            "documentation_url": docs::PAGINATION,
        });
        Reply::json(StatusCode::UNPROCESSABLE_ENTITY, body)
    }

    /// The redirect GitHub gives for a transferred issue; the body names the new location too.
    pub fn moved(api_url: &str) -> Self {
        let body = json!({
            "message": "Moved Permanently",
            "url": api_url,
            "documentation_url": docs::REDIRECTS,
        });
        Reply::json(StatusCode::MOVED_PERMANENTLY, body).header(header::LOCATION, api_url)
    }

    /// `validation-error` with the given `errors` entries.
    pub fn validation(doc: &str, errors: Vec<Value>) -> Self {
        let body = json!({
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": doc,
            "status": "422",
        });
        Reply::json(StatusCode::UNPROCESSABLE_ENTITY, body)
    }

    pub fn missing_field(doc: &str, resource: &str, field: &str) -> Self {
        let error = json!({"resource": resource, "code": "missing_field", "field": field});
        Reply::validation(doc, vec![error])
    }

    pub fn invalid_value(doc: &str, resource: &str, field: &str, value: &str) -> Self {
        let error = json!({"resource": resource, "code": "invalid", "field": field, "value": value});
        Reply::validation(doc, vec![error])
    }

    pub fn too_long(doc: &str, resource: &str, field: &str, max: usize) -> Self {
        let error = json!({
            "resource": resource,
            "code": "custom",
            "field": field,
            "message": format!("{field} is too long (maximum is {max} characters)"),
        });
        Reply::validation(doc, vec![error])
    }

    /// What the commit endpoints answer for a sha (or ref) the repository does not have.
    /// FACT (docs/research/github-fixes.md §4, zizmorcore/zizmor#972): a 422 for an unknown ref; the message is
    /// "No commit found for SHA: …".
    pub fn no_commit(doc: &str, sha: &str) -> Self {
        Reply::error(StatusCode::UNPROCESSABLE_ENTITY, &format!("No commit found for SHA: {sha}"), doc)
    }

    /// FACT (docs/research/github-fixes.md §4: github-changelog-generator#695, fork-cleaner#31, gh4a#544):
    /// compare of two histories that share no commit is a 404 with this message.
    pub fn no_common_ancestor(doc: &str, base: &str, head: &str) -> Self {
        Reply::error(StatusCode::NOT_FOUND, &format!("No common ancestor between {base} and {head}."), doc)
    }

    /// FACT (docs/research/github-fixes.md §4, github-changelog-generator#920): a diff GitHub gives up on is a
    /// 500 "Server Error: Sorry, this diff is taking too long to generate.".
    /// ASSUMED: the body is the usual `basic-error` with that message (the report quotes the
    /// status and message only).
    pub fn diff_too_slow(doc: &str) -> Self {
        let message = "Server Error: Sorry, this diff is taking too long to generate.";
        Reply::error(StatusCode::INTERNAL_SERVER_ERROR, message, doc)
    }

    /// An empty 304 (a conditional request the handler itself answers).
    pub fn not_modified() -> Self {
        Reply { status: StatusCode::NOT_MODIFIED, body: None, headers: Vec::new() }
    }

    /// The schema check GitHub runs before its own validation, e.g. a title that is an array.
    pub fn wrong_type(doc: &str, field: &str, value: &Value, expected: &str) -> Self {
        let message = format!("Invalid request.\n\nFor 'properties/{field}', {value} is not {expected}.");
        Reply::error(StatusCode::UNPROCESSABLE_ENTITY, &message, doc)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match &self.body {
            Some(value) => Body::from(serde_json::to_vec(value).expect("JSON values serialise")),
            None => Body::empty(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.body.is_some() {
            let json = HeaderValue::from_static("application/json; charset=utf-8");
            headers.insert(header::CONTENT_TYPE, json);
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}
