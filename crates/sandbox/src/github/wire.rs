//! JSON rendering of the fake's objects in GitHub's REST shapes (user, label, issue, comment,
//! repository). API URL fields hang off the fake's API base so clients can follow them; web
//! pages (`html_url`) hang off its web base, which for GitHub Enterprise Server is the
//! server's host without the API's `/api/v3` prefix.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::state::{AppInfo, Comment, CommitRef, EventDetail, Issue, IssueEvent, Label, Model, Repo};
use super::Visibility;

/// GitHub's timestamp format: whole seconds, UTC, `Z` suffix.
pub fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn opt_ts(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| Value::String(ts(t)))
}

/// A legacy-style global node id (`base64("05:Issue123")`), the shape the recordings carry.
pub fn node_id(kind: &str, id: u64) -> String {
    let raw = format!("0{}:{}{}", kind.len(), kind, id);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Renders objects for one request: knows the base URLs and can look users up.
pub struct Wire<'a> {
    /// Where the REST API answers (`http://HOST` or `http://HOST/api/v3`).
    pub base: &'a str,
    /// Where the web pages are (`http://HOST` in both layouts).
    pub web: &'a str,
    pub model: &'a Model,
}

impl Wire<'_> {
    pub fn repo_api_url(&self, repo: &Repo) -> String {
        format!("{}/repos/{}/{}", self.base, repo.owner, repo.name)
    }

    pub fn issue_api_url(&self, repo: &Repo, number: u64) -> String {
        format!("{}/issues/{number}", self.repo_api_url(repo))
    }

    /// `…/repos/{o}/{r}/commits/{sha}` of the repository the commit is in.
    pub fn commit_api_url(&self, commit: &CommitRef) -> String {
        let repo = self.model.repo_by_id(commit.repo_id).map(|i| &self.model.repos[i]);
        repo.map_or_else(String::new, |r| format!("{}/commits/{}", self.repo_api_url(r), commit.sha))
    }

    pub fn comment_api_url(&self, repo: &Repo, id: u64) -> String {
        format!("{}/issues/comments/{id}", self.repo_api_url(repo))
    }

    pub fn html_repo_url(&self, repo: &Repo) -> String {
        format!("{}/{}/{}", self.web, repo.owner, repo.name)
    }

    pub fn issue_html_url(&self, repo: &Repo, issue: &Issue) -> String {
        let kind = if issue.is_pull_request { "pull" } else { "issues" };
        format!("{}/{kind}/{}", self.html_repo_url(repo), issue.number)
    }

    pub fn comment_html_url(&self, repo: &Repo, comment: &Comment) -> String {
        let issue = format!("{}/issues/{}", self.html_repo_url(repo), comment.issue_number);
        format!("{issue}#issuecomment-{}", comment.id)
    }

    /// The simple-user object embedded everywhere a person appears.
    pub fn user(&self, login: &str) -> Value {
        let id = self.model.user_id(login);
        let api = format!("{}/users/{login}", self.base);
        let is_org = self.model.repos.iter().any(|r| r.owner == login) && id != 1;
        // A GitHub App acts as `{slug}[bot]`; logins cannot otherwise contain brackets.
        if let Some(slug) = login.strip_suffix("[bot]") {
            return json!({
                "login": login,
                "id": id,
                "node_id": node_id("Bot", id),
                "avatar_url": format!("{}/avatars/in/{id}?v=4", self.web),
                "gravatar_id": "",
                "url": api,
                "html_url": format!("{}/apps/{slug}", self.web),
                "repos_url": format!("{api}/repos"),
                "type": "Bot",
                "site_admin": false,
            });
        }
        json!({
            "login": login,
            "id": id,
            "node_id": node_id("User", id),
            "avatar_url": format!("{}/avatars/u/{id}?v=4", self.web),
            "gravatar_id": "",
            "url": api,
            "html_url": format!("{}/{login}", self.web),
            "repos_url": format!("{api}/repos"),
            "type": if is_org { "Organization" } else { "User" },
            "site_admin": false,
        })
    }

    /// `GET /user`: the simple user plus the profile fields of the authenticated user.
    pub fn authenticated_user(&self, login: &str, created_at: DateTime<Utc>) -> Value {
        let mut user = self.user(login);
        let extra = json!({
            "name": null, "company": null, "blog": "", "location": null, "email": null,
            "hireable": null, "bio": null, "twitter_username": null,
            "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": ts(created_at), "updated_at": ts(created_at),
        });
        merge(&mut user, extra);
        user
    }

    /// The App object (`GET /app` adds `installations_count`). Its owner is a fixed sandbox
    /// organisation.
    pub fn app(&self, app: &AppInfo) -> Value {
        let owner = "ticket-sync-sandbox";
        let owner_id = 9_000_001;
        json!({
            "id": app.id,
            "slug": app.slug,
            "client_id": format!("Iv1.{:016x}", app.id),
            "node_id": node_id("App", app.id),
            "owner": {
                "login": owner,
                "id": owner_id,
                "node_id": node_id("Organization", owner_id),
                "url": format!("{}/users/{owner}", self.base),
                "html_url": format!("{}/{owner}", self.web),
                "type": "Organization",
                "site_admin": false,
            },
            "name": app.slug,
            "description": "The sandbox's GitHub App",
            "external_url": format!("{}/{owner}", self.web),
            "html_url": format!("{}/apps/{}", self.web, app.slug),
            "created_at": ts(app.created_at),
            "updated_at": ts(app.created_at),
            "permissions": {"issues": "write", "metadata": "read"},
            "events": ["issues", "issue_comment"],
        })
    }

    /// `performed_via_github_app` of what `login` made: the App when it is the App's bot (FACTS
    /// for issues and comments, ASSUMED for events: see `app`).
    pub fn via_app(&self, login: &str) -> Value {
        match &self.model.app {
            Some(app) if app.bot_login().eq_ignore_ascii_case(login) => self.app(app),
            _ => Value::Null,
        }
    }

    pub fn label(&self, repo: &Repo, label: &Label) -> Value {
        json!({
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": format!("{}/labels/{}", self.repo_api_url(repo), label.name),
            "name": label.name,
            "color": label.color,
            "default": false,
            "description": null,
        })
    }

    /// Who the author is relative to the repository, as GitHub reports it.
    pub fn association(&self, repo: &Repo, login: &str) -> &'static str {
        if login.eq_ignore_ascii_case(&repo.owner) {
            "OWNER"
        } else if self.model.user_id(login) == 1 {
            "COLLABORATOR"
        } else {
            "NONE"
        }
    }

    pub fn issue(&self, repo: &Repo, issue: &Issue) -> Value {
        let url = self.issue_api_url(repo, issue.number);
        let labels: Vec<Value> =
            (issue.labels.iter()).filter_map(|name| repo.label(name)).map(|l| self.label(repo, l)).collect();
        let assignees: Vec<Value> = issue.assignees.iter().map(|a| self.user(a)).collect();
        let mut body = json!({
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "url": url,
            "repository_url": self.repo_api_url(repo),
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "timeline_url": format!("{url}/timeline"),
            "html_url": self.issue_html_url(repo, issue),
            "number": issue.number,
            "state": if issue.open { "open" } else { "closed" },
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(&issue.user),
            "labels": labels,
            "assignee": assignees.first().cloned().unwrap_or(Value::Null),
            "assignees": assignees,
            "milestone": null,
            "locked": repo.locked.contains(&issue.number),
            "active_lock_reason": null,
            "comments": issue.comments,
            "created_at": ts(issue.created_at),
            "updated_at": ts(issue.updated_at),
            "closed_at": opt_ts(issue.closed_at),
            "closed_by": issue.closed_by.as_deref().map_or(Value::Null, |u| self.user(u)),
            "author_association": self.association(repo, &issue.user),
            "performed_via_github_app": self.via_app(&issue.user),
        });
        // Only pull requests carry this key; clients use its presence to skip them.
        if issue.is_pull_request {
            let html = self.issue_html_url(repo, issue);
            let pr = json!({
                "url": format!("{}/pulls/{}", self.repo_api_url(repo), issue.number),
                "html_url": html,
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "merged_at": opt_ts(repo.pulls.get(&issue.number).and_then(|p| p.merged_at)),
            });
            merge(&mut body, json!({ "pull_request": pr, "draft": false }));
        }
        body
    }

    pub fn comment(&self, repo: &Repo, comment: &Comment) -> Value {
        json!({
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": self.comment_api_url(repo, comment.id),
            "html_url": self.comment_html_url(repo, comment),
            "issue_url": self.issue_api_url(repo, comment.issue_number),
            "body": comment.body,
            "user": self.user(&comment.user),
            "created_at": ts(comment.created_at),
            "updated_at": ts(comment.updated_at),
            "author_association": self.association(repo, &comment.user),
            "performed_via_github_app": self.via_app(&comment.user),
        })
    }

    /// An item of an issue event list. The repository-wide list embeds the issue, the
    /// per-issue list does not (GitHub's `issue-event` and `issue-event-for-issue` shapes).
    ///
    /// `state_reason`: FACTS.md ("Issue events") says the OpenAPI `issue-event` schema has
    /// none, but real 2025 bodies of `closed` and `reopened` events carry the key, `null` on
    /// the events recorded (docs/research/github-fixes.md §1, REC-PyGithub `IssueEvent.setUp.txt`).
    /// ASSUMED: the events API sends the key on `closed` and `reopened` with `null`, so a
    /// client cannot learn why from it: only the issue says why it was last closed (and the
    /// timeline's `closed` item, see `timeline`). Other kinds have no such key.
    /// `commit_id` / `commit_url` name the commit of a `closed` by a commit, a `referenced`
    /// and a `merged`, null otherwise.
    pub fn event(&self, repo: &Repo, event: &IssueEvent, with_issue: bool) -> Value {
        let kind: String = (event.event.split('_'))
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .chain(std::iter::once("Event".to_string()))
            .collect();
        let mut body = json!({
            "id": event.id,
            "node_id": node_id(&kind, event.id),
            "url": format!("{}/issues/events/{}", self.repo_api_url(repo), event.id),
            "actor": self.user(&event.actor),
            "event": event.event,
            "commit_id": event.commit.as_ref().map(|c| c.sha.clone()),
            "commit_url": event.commit.as_ref().map(|c| self.commit_api_url(c)),
            "created_at": ts(event.created_at),
            "performed_via_github_app": self.via_app(&event.actor),
        });
        if event.event == "closed" || event.event == "reopened" {
            merge(&mut body, json!({"state_reason": null}));
        }
        match &event.detail {
            // REST never names a duplicate's survivor (docs/research/github-fixes.md §5).
            EventDetail::None | EventDetail::CrossReference { .. } | EventDetail::Duplicate { .. } => {}
            EventDetail::Label { name, color } => merge(&mut body, json!({"label": {"name": name, "color": color}})),
            EventDetail::Assignee { login } => {
                let extra = json!({"assignee": self.user(login), "assigner": self.user(&event.actor)});
                merge(&mut body, extra)
            }
            EventDetail::Rename { from, to } => merge(&mut body, json!({"rename": {"from": from, "to": to}})),
        }
        if with_issue {
            let issue = (repo.issues.get(&event.issue_number)).map_or(Value::Null, |i| self.issue(repo, i));
            merge(&mut body, json!({ "issue": issue }));
        }
        body
    }

    pub fn repo(&self, repo: &Repo) -> Value {
        let api = self.repo_api_url(repo);
        let html = self.html_repo_url(repo);
        let visibility = match repo.visibility {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Internal => "internal",
        };
        let open = repo.open_issues_count();
        json!({
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name(),
            "private": repo.visibility != Visibility::Public,
            "visibility": visibility,
            "owner": self.user(&repo.owner),
            "html_url": html,
            "description": null,
            "fork": false,
            "url": api,
            "issues_url": format!("{api}/issues{{/number}}"),
            "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
            "labels_url": format!("{api}/labels{{/name}}"),
            "pulls_url": format!("{api}/pulls{{/number}}"),
            "clone_url": format!("{html}.git"),
            "created_at": ts(repo.created_at),
            "updated_at": ts(repo.created_at),
            "pushed_at": ts(repo.created_at),
            "has_issues": repo.has_issues,
            "has_projects": true,
            "has_wiki": true,
            "archived": repo.archived,
            "disabled": false,
            "open_issues_count": open,
            "open_issues": open,
            "default_branch": "main",
            "permissions": {
                "admin": repo.push_access, "maintain": repo.push_access, "push": repo.push_access,
                "triage": true, "pull": true,
            },
        })
    }
}

/// Adds the keys of `extra` (an object) to `target` (an object).
pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}
