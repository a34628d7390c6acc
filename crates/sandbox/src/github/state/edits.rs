//! The write side of the model: creating issues and pull requests, edits, comments, transfers
//! and deletions, each with GitHub's rules for numbers, labels and `updated_at`.

use chrono::{DateTime, Utc};

use super::{Comment, EventDetail, Fate, Issue, IssueEvent, IssuePatch, Label, Model, NewIssue, CLOSE_REASONS};

impl Model {
    /// Names of the labels to attach, creating the missing ones the way GitHub does on create.
    fn ensure_labels(&mut self, repo: usize, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let existing = self.repos[repo].label(name).map(|l| l.name.clone());
            let name = existing.unwrap_or_else(|| {
                let label = Label { id: self.next_label_id, name: name.clone(), color: "ededed".to_string() };
                self.next_label_id += 1;
                self.repos[repo].labels.push(label);
                name.clone()
            });
            if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                out.push(name);
            }
        }
        out
    }

    /// Stores a new issue or pull request under the repository's next number; `new.labels`
    /// must already name existing labels.
    pub(super) fn insert_issue(
        &mut self,
        repo: usize,
        new: NewIssue,
        user: &str,
        is_pull_request: bool,
        now: DateTime<Utc>,
    ) -> u64 {
        self.register(user);
        new.assignees.iter().for_each(|a| self.register(a));
        let id = self.next_issue_id;
        self.next_issue_id += 1;
        let r = &mut self.repos[repo];
        let number = r.next_number;
        r.next_number += 1;
        let issue = Issue {
            id,
            number,
            title: new.title,
            body: new.body,
            open: true,
            state_reason: None,
            labels: new.labels,
            assignees: new.assignees,
            user: user.to_string(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            closed_by: None,
            comments: 0,
            is_pull_request,
            fate: Fate::Live,
            duplicate_of: None,
        };
        r.issues.insert(number, issue);
        number
    }

    /// Files an issue; labels, assignees and @mentions given at creation are recorded as
    /// events, as GitHub records them.
    pub fn create_issue(&mut self, repo: usize, new: NewIssue, user: &str, now: DateTime<Utc>) -> u64 {
        let new = NewIssue { labels: self.ensure_labels(repo, &new.labels), assignees: dedupe(new.assignees), ..new };
        let (labels, assignees) = (new.labels.clone(), new.assignees.clone());
        let mentions = mentions(new.body.as_deref().unwrap_or(""));
        let text = new.body.clone().unwrap_or_default();
        let number = self.insert_issue(repo, new, user, false, now);
        self.cross_reference(repo, number, &text, user, now);
        for name in &labels {
            self.record_event(repo, number, "labeled", user, self.label_detail(repo, name), now);
        }
        for login in &assignees {
            self.record_event(repo, number, "assigned", user, EventDetail::Assignee { login: login.clone() }, now);
        }
        self.record_mentions(repo, number, &mentions, now);
        number
    }

    /// Pull requests are issues with a flag: they share the number sequence and the lists.
    pub fn create_pull_request(&mut self, repo: usize, title: &str, user: &str, now: DateTime<Utc>) -> u64 {
        let new = NewIssue { title: title.to_string(), ..NewIssue::default() };
        let base = self.repos[repo].git.default_branch.clone();
        self.open_pull(repo, new, user, &base, now)
    }

    /// Applies an update to a live issue; returns whether anything changed. Only a real change
    /// moves `updated_at`, as on GitHub, so pollers are not woken by no-op edits.
    pub fn update_issue(
        &mut self,
        repo: usize,
        number: u64,
        patch: IssuePatch,
        actor: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let labels = patch.labels.map(|l| self.ensure_labels(repo, &l));
        self.register(actor);
        if let Some(a) = &patch.assignees {
            a.iter().for_each(|a| self.register(a));
        }
        let issue = self.repos[repo].issues.get_mut(&number).expect("update of a missing issue");
        let before = (issue.title.clone(), issue.labels.clone(), issue.assignees.clone());
        let mut changed = false;
        let mut duplicate_of = None;
        changed |= set_if_changed(&mut issue.title, patch.title);
        let body_changed = set_if_changed(&mut issue.body, patch.body);
        changed |= body_changed;
        changed |= set_if_changed(&mut issue.labels, labels);
        changed |= set_if_changed(&mut issue.assignees, patch.assignees.map(dedupe));
        let mut event = None;
        match patch.open {
            Some(false) if issue.open => {
                let reason = patch.state_reason.filter(|r| CLOSE_REASONS.contains(&r.as_str()));
                let reason = reason.unwrap_or_else(|| "completed".to_string());
                // `duplicate_issue_id` counts only with the `duplicate` reason (FACTS.md,
                // "Update issue").
                duplicate_of = patch.duplicate_of.filter(|_| reason == "duplicate");
                issue.duplicate_of = duplicate_of;
                issue.open = false;
                issue.state_reason = Some(reason.clone());
                issue.closed_at = Some(now);
                issue.closed_by = Some(actor.to_string());
                changed = true;
                event = Some(("closed", reason));
            }
            Some(true) if !issue.open => {
                issue.open = true;
                issue.state_reason = Some("reopened".to_string());
                issue.closed_at = None;
                issue.closed_by = None;
                changed = true;
                event = Some(("reopened", "reopened".to_string()));
            }
            _ => {}
        }
        if changed {
            issue.updated_at = now;
        }
        let after = (issue.title.clone(), issue.labels.clone(), issue.assignees.clone());
        let new_body = body_changed.then(|| issue.body.clone()).flatten();
        self.record_edit_events(repo, number, actor, before, after, now);
        if let Some((repo_id, of)) = duplicate_of {
            // ASSUMED (docs/research/github-fixes.md §1, §5): the duplicate's own timeline gets
            // `marked_as_duplicate`, just before its `closed`; the survivor gets no event.
            let canonical = EventDetail::Duplicate { repo_id, number: of };
            self.record_event(repo, number, "marked_as_duplicate", actor, canonical, now);
        }
        if let Some((kind, reason)) = event {
            let at = self.record_event(repo, number, kind, actor, EventDetail::None, now);
            self.repos[repo].events[at].state_reason = Some(reason);
        }
        if let Some(text) = new_body {
            self.cross_reference(repo, number, &text, actor, now);
        }
        changed
    }

    /// The `renamed`, `labeled`/`unlabeled` and `assigned`/`unassigned` events of one edit.
    fn record_edit_events(
        &mut self,
        repo: usize,
        number: u64,
        actor: &str,
        (old_title, old_labels, old_assignees): (String, Vec<String>, Vec<String>),
        (title, labels, assignees): (String, Vec<String>, Vec<String>),
        now: DateTime<Utc>,
    ) {
        if old_title != title {
            let detail = EventDetail::Rename { from: old_title, to: title };
            self.record_event(repo, number, "renamed", actor, detail, now);
        }
        for (kind, name) in diff(&old_labels, &labels, "labeled", "unlabeled") {
            self.record_event(repo, number, kind, actor, self.label_detail(repo, &name), now);
        }
        for (kind, login) in diff(&old_assignees, &assignees, "assigned", "unassigned") {
            self.record_event(repo, number, kind, actor, EventDetail::Assignee { login }, now);
        }
    }

    pub(in crate::github) fn label_detail(&self, repo: usize, name: &str) -> EventDetail {
        let color = self.repos[repo].label(name).map_or_else(|| "ededed".to_string(), |l| l.color.clone());
        EventDetail::Label { name: name.to_string(), color }
    }

    /// `mentioned` and `subscribed` for each @login a text names: GitHub records both, with
    /// the mentioned user as the actor.
    pub(super) fn record_mentions(&mut self, repo: usize, number: u64, logins: &[String], now: DateTime<Utc>) {
        for login in logins {
            self.register(login);
            self.record_event(repo, number, "mentioned", login, EventDetail::None, now);
            self.record_event(repo, number, "subscribed", login, EventDetail::None, now);
        }
    }

    /// Appends to the repository's issue event list, as GitHub does on every change it records;
    /// returns the event's position in that list.
    pub(in crate::github) fn record_event(
        &mut self,
        repo: usize,
        number: u64,
        kind: &str,
        actor: &str,
        detail: EventDetail,
        now: DateTime<Utc>,
    ) -> usize {
        let id = self.next_event_id;
        self.next_event_id += 1;
        let seq = self.seq();
        let events = &mut self.repos[repo].events;
        events.push(IssueEvent {
            id,
            issue_number: number,
            event: kind.to_string(),
            actor: actor.to_string(),
            created_at: now + chrono::Duration::seconds(self.event_lag_secs),
            detail,
            seq,
            commit: None,
            state_reason: None,
        });
        events.len() - 1
    }

    /// Adds a comment to a live issue (or pull request) and returns the comment's id; its
    /// @mentions are recorded as events. An invisible comment exists (id, times, the issue's
    /// update) but the lists show it only once `publish_comment` is called.
    pub fn add_comment(
        &mut self,
        repo: usize,
        number: u64,
        user: &str,
        body: &str,
        visible: bool,
        now: DateTime<Utc>,
    ) -> u64 {
        self.register(user);
        let id = self.next_comment_id;
        self.next_comment_id += 1;
        let seq = self.seq();
        let r = &mut self.repos[repo];
        let issue = r.issues.get_mut(&number).expect("comment on a missing issue");
        issue.comments += 1;
        issue.updated_at = now;
        r.comments.push(Comment {
            id,
            issue_number: number,
            body: body.to_string(),
            user: user.to_string(),
            created_at: now,
            updated_at: now,
            visible,
            seq,
        });
        self.record_mentions(repo, number, &mentions(body), now);
        self.cross_reference(repo, number, body, user, now);
        id
    }

    /// Makes a comment visible in the lists; its id and times stay as they were.
    pub fn publish_comment(&mut self, repo: usize, id: u64) {
        let comment = self.repos[repo].comments.iter_mut().find(|c| c.id == id).expect("publish of a missing comment");
        comment.visible = true;
    }

    /// Edits a comment's text: its `updated_at` moves, so it moves to the end of lists sorted
    /// by update. Returns false if the comment does not exist.
    pub fn edit_comment(&mut self, repo: usize, id: u64, body: &str, now: DateTime<Utc>) -> bool {
        let Some(comment) = self.repos[repo].comments.iter_mut().find(|c| c.id == id) else {
            return false;
        };
        if comment.body != body {
            comment.body = body.to_string();
            comment.updated_at = now;
        }
        true
    }

    /// Moves a live issue with its comments to another repository, leaving a tombstone that
    /// redirects. The issue keeps its id; labels survive only where the target has them.
    pub fn transfer(&mut self, from: usize, number: u64, to: usize, now: DateTime<Utc>) -> u64 {
        let to_id = self.repos[to].id;
        let mut issue = self.repos[from].issues[&number].clone();
        let new_number = self.repos[to].next_number;
        self.repos[to].next_number += 1;
        self.repos[from].issues.get_mut(&number).unwrap().fate =
            Fate::Transferred { repo_id: to_id, number: new_number };
        let (moving, staying) =
            std::mem::take(&mut self.repos[from].comments).into_iter().partition(|c| c.issue_number == number);
        self.repos[from].comments = staying;
        let target = &mut self.repos[to];
        issue.number = new_number;
        issue.updated_at = now;
        issue.labels.retain(|l| target.label(l).is_some());
        target.issues.insert(new_number, issue);
        target.comments.extend(moving.into_iter().map(|c| Comment { issue_number: new_number, ..c }));
        new_number
    }

    /// Deletes an issue: its number answers 410 from now on and its comments disappear.
    pub fn delete(&mut self, repo: usize, number: u64) {
        let r = &mut self.repos[repo];
        r.issues.get_mut(&number).expect("delete of a missing issue").fate = Fate::Deleted;
        r.comments.retain(|c| c.issue_number != number);
    }
}

fn set_if_changed<T: PartialEq>(slot: &mut T, value: Option<T>) -> bool {
    match value {
        Some(v) if *slot != v => {
            *slot = v;
            true
        }
        _ => false,
    }
}

/// What was added to and removed from a set of names, as (event kind, name).
fn diff(old: &[String], new: &[String], added: &'static str, removed: &'static str) -> Vec<(&'static str, String)> {
    let has = |set: &[String], name: &str| set.iter().any(|n| n.eq_ignore_ascii_case(name));
    let gone = old.iter().filter(|n| !has(new, n)).map(|n| (removed, n.clone()));
    let came = new.iter().filter(|n| !has(old, n)).map(|n| (added, n.clone()));
    gone.chain(came).collect()
}

/// The distinct `@login`s a text mentions (an `@` inside a word, as in an e-mail address, is
/// not a mention).
pub fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        if c == '@' && !prev.is_alphanumeric() {
            let login: String = text[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if !login.is_empty() && !out.iter().any(|l| l.eq_ignore_ascii_case(&login)) {
                out.push(login);
            }
        }
        prev = c;
    }
    out
}

fn dedupe(mut logins: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    logins.retain(|l| {
        let fresh = !seen.iter().any(|s| s.eq_ignore_ascii_case(l));
        seen.push(l.clone());
        fresh
    });
    logins
}
