//! The write side of the model: creating issues and pull requests, edits, comments, transfers
//! and deletions, each with GitHub's rules for numbers, labels and `updated_at`.

use chrono::{DateTime, Utc};

use super::{Comment, Fate, Issue, IssueEvent, IssuePatch, Label, Model, NewIssue, CLOSE_REASONS};

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
    fn insert_issue(
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
        };
        r.issues.insert(number, issue);
        number
    }

    pub fn create_issue(&mut self, repo: usize, new: NewIssue, user: &str, now: DateTime<Utc>) -> u64 {
        let new = NewIssue { labels: self.ensure_labels(repo, &new.labels), assignees: dedupe(new.assignees), ..new };
        self.insert_issue(repo, new, user, false, now)
    }

    /// Pull requests are issues with a flag: they share the number sequence and the lists.
    pub fn create_pull_request(&mut self, repo: usize, title: &str, user: &str, now: DateTime<Utc>) -> u64 {
        let new = NewIssue { title: title.to_string(), ..NewIssue::default() };
        self.insert_issue(repo, new, user, true, now)
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
        let mut changed = false;
        changed |= set_if_changed(&mut issue.title, patch.title);
        changed |= set_if_changed(&mut issue.body, patch.body);
        changed |= set_if_changed(&mut issue.labels, labels);
        changed |= set_if_changed(&mut issue.assignees, patch.assignees.map(dedupe));
        let mut event = None;
        match patch.open {
            Some(false) if issue.open => {
                let reason = patch.state_reason.filter(|r| CLOSE_REASONS.contains(&r.as_str()));
                issue.open = false;
                issue.state_reason = Some(reason.unwrap_or_else(|| "completed".to_string()));
                issue.closed_at = Some(now);
                issue.closed_by = Some(actor.to_string());
                changed = true;
                event = Some(("closed", issue.state_reason.clone()));
            }
            Some(true) if !issue.open => {
                issue.open = true;
                issue.state_reason = Some("reopened".to_string());
                issue.closed_at = None;
                issue.closed_by = None;
                changed = true;
                event = Some(("reopened", None));
            }
            _ => {}
        }
        if changed {
            issue.updated_at = now;
        }
        if let Some((kind, state_reason)) = event {
            self.record_event(repo, number, kind, actor, state_reason, now);
        }
        changed
    }

    /// Appends to the repository's issue event list, as GitHub does on every close and reopen.
    fn record_event(
        &mut self,
        repo: usize,
        number: u64,
        kind: &str,
        actor: &str,
        state_reason: Option<String>,
        now: DateTime<Utc>,
    ) {
        let id = self.next_event_id;
        self.next_event_id += 1;
        self.repos[repo].events.push(IssueEvent {
            id,
            issue_number: number,
            event: kind.to_string(),
            actor: actor.to_string(),
            state_reason,
            created_at: now,
        });
    }

    /// Adds a comment to a live issue (or pull request) and returns the comment's id.
    pub fn add_comment(&mut self, repo: usize, number: u64, user: &str, body: &str, now: DateTime<Utc>) -> u64 {
        self.register(user);
        let id = self.next_comment_id;
        self.next_comment_id += 1;
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
        });
        id
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

fn dedupe(mut logins: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    logins.retain(|l| {
        let fresh = !seen.iter().any(|s| s.eq_ignore_ascii_case(l));
        seen.push(l.clone());
        fresh
    });
    logins
}
