//! Webhook deliveries of the fake GitHub: one `issues` or `issue_comment` delivery per change
//! of an issue or comment, whoever made it (the token through the REST API, or a test helper
//! acting as a person), and `pull_request` and `release` deliveries for what the test helpers
//! do to pull requests and releases, shaped and signed like GitHub's.
//!
//! Each is built while the model lock is held, right after the change, and posted on its own
//! task by the shared `Outbox`; nothing is built while no webhook is set.
//!
//! Assumptions beyond the reference payloads:
//! - ASSUMED: GitHub sends one delivery per action, so a single PATCH that closes an issue and
//!   changes its labels would send `closed` and `labeled` (each action is its own `issues`
//!   event; no capture of one PATCH's deliveries found). The fake sends one per change, the most
//!   telling (closed/reopened, then edited, then labeled/unlabeled, then assigned/unassigned).
//! - FACTS (docs.github.com, "Webhook events and payloads" → delivery headers; recorded
//!   deliveries carry `x-hub-signature: sha1=…` beside the SHA-256 one): GitHub still sends the
//!   legacy `X-Hub-Signature` when a secret is set. The fake leaves it out (the crate has no
//!   SHA-1), which is what a receiver that checks only `X-Hub-Signature-256` must get along with.
//! - The repository object is the REST one without `permissions` (webhook payloads carry no
//!   permissions of the caller).
//! - App mode (see `app`): a change in a repository the App is installed on is delivered as
//!   the App's webhook delivers it (`installation: {id, node_id}` in the payload, hook target
//!   type `integration` with the App id); the hook URL and secret stay the one `set_webhook`
//!   names. Changes the App makes have the bot (`type: "Bot"`) as sender.
//! - `pull_request`: `{action, number, pull_request, repository, sender}` with the full pull
//!   request object, so `closed` says `merged: true|false` (docs/research/github-fixes.md §2: "the
//!   `pull_request` webhook `closed` with `merged:false`"); `edited` carries `changes.body.from`
//!   or `changes.title.from` like the `issues` event's.
//! - `release`: `{action, release, repository, sender}` (docs/research/github-fixes.md §3, OWH release schemas;
//!   `edited` adds `changes: {name?: {from}, body?: {from}}`). Which actions one change sends
//!   follows the actions' official meanings (docs/research/github-fixes.md §3): a release published at once is
//!   `created`, `published`, then `released` (or `prereleased`); a draft saved is `created`; a
//!   draft published is `published` and, unless it is a prerelease, `released` (FACT: "The
//!   `prereleased` type will not trigger for pre-releases published from draft releases");
//!   a prerelease made a full release is `released`; a deletion is `deleted`.
//!   ASSUMED: that order within one change; flipping the prerelease flag also sends `edited`
//!   (with `changes: {}`: the schema has no key for the flag), before `released` when the
//!   flip makes a full release; `unpublished` is never sent (docs/research/github-fixes.md §3: reportedly not
//!   sent since 2023).

use serde_json::{json, Map, Value};

use super::state::{Issue, Model, Release};
use super::wire::node_id;
use super::Shared;
use crate::hooks::{github_signature_256, guid, Delivery};

/// The `User-Agent` GitHub's webhook sender uses (`GitHub-Hookshot/<short commit hex>`).
const USER_AGENT: &str = "GitHub-Hookshot/5c2d8f1";

impl Shared {
    /// Sends an (`event`, `action`) delivery about issue `number` of repository `repo`; `extra` keys (an
    /// object: `comment`, `changes`, `label`, …) join the payload.
    pub(super) fn deliver(
        &self,
        model: &Model,
        repo: usize,
        number: u64,
        (event, action): (&str, &str),
        extra: Value,
        sender: &str,
    ) {
        if self.outbox.target().is_none() {
            return;
        }
        let wire = self.wire(model);
        let r = &model.repos[repo];
        let Some(issue) = r.issues.get(&number) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!(action));
        payload.insert("issue".into(), wire.issue(r, issue));
        if let Value::Object(extra) = extra {
            payload.extend(extra);
        }
        self.deliver_payload(model, repo, (event, action), payload, sender);
    }

    /// Sends an (`event`, `action`) delivery with `payload` (its own keys: `action`, the
    /// object, `changes`…), adding `repository`, `installation` (App mode) and `sender`.
    pub(super) fn deliver_payload(
        &self,
        model: &Model,
        repo: usize,
        (event, action): (&str, &str),
        mut payload: Map<String, Value>,
        sender: &str,
    ) {
        let Some(target) = self.outbox.target() else {
            return;
        };
        let wire = self.wire(model);
        let r = &model.repos[repo];
        let mut repository = wire.repo(r);
        if let Some(object) = repository.as_object_mut() {
            object.remove("permissions");
        }
        payload.insert("repository".into(), repository);
        // In App mode a repository the App is installed on delivers through the App's webhook,
        // naming the installation; other repositories keep their repository webhook.
        let installed = {
            let state = self.app.lock().unwrap();
            let app_id = state.app.as_ref().map(|a| a.id);
            app_id.zip(state.installation_for(&r.owner).map(|i| i.id))
        };
        if let Some((_, id)) = installed {
            payload.insert("installation".into(), json!({"id": id, "node_id": node_id("IntegrationInstallation", id)}));
        }
        payload.insert("sender".into(), wire.user(sender));
        let body = serde_json::to_vec(&Value::Object(payload)).expect("JSON serializes");
        let (target_type, target_id) = match installed {
            Some((app_id, _)) => ("integration", app_id.to_string()),
            None => ("repository", r.id.to_string()),
        };
        let id = guid();
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), USER_AGENT.to_string()),
            ("X-GitHub-Event".to_string(), event.to_string()),
            ("X-GitHub-Delivery".to_string(), id.clone()),
            ("X-GitHub-Hook-ID".to_string(), target.id.clone()),
            ("X-GitHub-Hook-Installation-Target-ID".to_string(), target_id),
            ("X-GitHub-Hook-Installation-Target-Type".to_string(), target_type.to_string()),
            ("X-Hub-Signature-256".to_string(), github_signature_256(&target.secret, &body)),
        ];
        let (event, action) = (event.to_string(), action.to_string());
        self.outbox.dispatch(Delivery { id, event, action, url: target.url, headers, body });
    }

    /// An `issues` delivery for an issue update, if it changed anything (`before` is the
    /// issue as it was).
    pub(super) fn deliver_issue_update(&self, model: &Model, repo: usize, before: &Issue, sender: &str) {
        if self.outbox.target().is_none() {
            return;
        }
        let r = &model.repos[repo];
        let Some(after) = r.issues.get(&before.number) else {
            return;
        };
        let wire = self.wire(model);
        let label = |name: &String| r.label(name).map_or(json!({"name": name}), |l| wire.label(r, l));
        let added_labels: Vec<&String> = after.labels.iter().filter(|l| !before.labels.contains(l)).collect();
        let removed_labels: Vec<&String> = before.labels.iter().filter(|l| !after.labels.contains(l)).collect();
        let added_assignees: Vec<&String> = after.assignees.iter().filter(|a| !before.assignees.contains(a)).collect();
        let removed_assignees: Vec<&String> =
            before.assignees.iter().filter(|a| !after.assignees.contains(a)).collect();
        let (action, extra) = if before.open && !after.open {
            ("closed", json!({}))
        } else if !before.open && after.open {
            ("reopened", json!({}))
        } else if before.title != after.title || before.body != after.body {
            let mut changes = Map::new();
            if before.title != after.title {
                changes.insert("title".into(), json!({"from": before.title}));
            }
            if before.body != after.body {
                changes.insert("body".into(), json!({"from": before.body}));
            }
            ("edited", json!({ "changes": changes }))
        } else if let Some(name) = added_labels.first() {
            ("labeled", json!({ "label": label(name) }))
        } else if let Some(name) = removed_labels.first() {
            ("unlabeled", json!({ "label": label(name) }))
        } else if let Some(login) = added_assignees.first() {
            ("assigned", json!({ "assignee": wire.user(login) }))
        } else if let Some(login) = removed_assignees.first() {
            ("unassigned", json!({ "assignee": wire.user(login) }))
        } else {
            return;
        };
        self.deliver(model, repo, before.number, ("issues", action), extra, sender);
    }

    /// An `issue_comment` delivery about comment `id` (`created`, `edited` with the old body).
    pub(super) fn deliver_comment(
        &self,
        model: &Model,
        repo: usize,
        id: u64,
        action: &str,
        old_body: Option<&str>,
        sender: &str,
    ) {
        if self.outbox.target().is_none() {
            return;
        }
        let r = &model.repos[repo];
        let Some(comment) = r.comments.iter().find(|c| c.id == id) else {
            return;
        };
        let wire = self.wire(model);
        let mut extra = json!({ "comment": wire.comment(r, comment) });
        if let Some(old) = old_body {
            extra["changes"] = json!({"body": {"from": old}});
        }
        self.deliver(model, repo, comment.issue_number, ("issue_comment", action), extra, sender);
    }
}

impl Shared {
    /// A `pull_request` delivery about pull request `number`; `extra` keys (`changes`) join it.
    pub(super) fn deliver_pull(
        &self,
        model: &Model,
        repo: usize,
        number: u64,
        action: &str,
        extra: Value,
        sender: &str,
    ) {
        if self.outbox.target().is_none() {
            return;
        }
        let r = &model.repos[repo];
        let (Some(issue), Some(pull)) = (r.issues.get(&number), r.pulls.get(&number)) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!(action));
        payload.insert("number".into(), json!(number));
        payload.insert("pull_request".into(), self.wire(model).pull(r, issue, pull, true));
        if let Value::Object(extra) = extra {
            payload.extend(extra);
        }
        self.deliver_payload(model, repo, ("pull_request", action), payload, sender);
    }

    /// `release` deliveries, one per action, about `release` (as it is now, or as it was
    /// before it was deleted).
    pub(super) fn deliver_release(
        &self,
        model: &Model,
        repo: usize,
        release: &Release,
        actions: &[&str],
        changes: Option<Value>,
        sender: &str,
    ) {
        if self.outbox.target().is_none() {
            return;
        }
        let r = &model.repos[repo];
        for action in actions {
            let mut payload = Map::new();
            payload.insert("action".into(), json!(action));
            payload.insert("release".into(), self.wire(model).release(r, release));
            if *action == "edited" {
                payload.insert("changes".into(), changes.clone().unwrap_or_else(|| json!({})));
            }
            self.deliver_payload(model, repo, ("release", action), payload, sender);
        }
    }
}
