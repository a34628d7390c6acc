//! Bulk seeding for benchmarks and large tests: many issues under one lock, each with its own
//! creation time, the way a repository with years of history looks; many events on an issue,
//! the way a busy repository's event list looks.

use chrono::{DateTime, SubsecRound, Utc};

use super::state::{EventDetail, NewIssue};
use super::{issue_view, live_index, repo_index, FakeGithub, IssueView};

impl FakeGithub {
    /// Files one issue per `(title, body, at)` in `repo`, created and last updated at `at`
    /// (whole seconds, as GitHub stores them), by `by_login`. Returns them in the given order.
    pub fn seed_issues(
        &self,
        repo: &str,
        issues: Vec<(String, String, DateTime<Utc>)>,
        by_login: &str,
    ) -> Vec<IssueView> {
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let numbers: Vec<u64> = issues
            .into_iter()
            .map(|(title, body, at)| {
                let new = NewIssue { title, body: Some(body), ..NewIssue::default() };
                model.create_issue(idx, new, by_login, at.trunc_subsecs(0))
            })
            .collect();
        let wire = self.wire(&model);
        let r = &model.repos[idx];
        numbers.iter().map(|n| issue_view(&wire, r, &r.issues[n])).collect()
    }
}

/// The kinds of event a busy repository is full of, none of which changes an issue's state.
const BUSY_KINDS: [&str; 6] = ["labeled", "mentioned", "subscribed", "unlabeled", "assigned", "unassigned"];

impl FakeGithub {
    /// Appends `count` events to the history of `repo#number` under one lock, all at `at`:
    /// labels added and removed, mentions, subscriptions, assignments — the traffic of a busy
    /// repository, none of it a close or reopen. The issue ends with the labels and assignees
    /// the last of them leave, and its `updated_at` moves to `at`, as on GitHub.
    pub fn seed_events(&self, repo: &str, number: u64, count: usize, by_login: &str, at: DateTime<Utc>) {
        let at = at.trunc_subsecs(0);
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let (label, person) = ("triage", "helper-bot");
        for i in 0..count {
            let kind = BUSY_KINDS[i % BUSY_KINDS.len()];
            let (actor, detail) = match kind {
                "labeled" | "unlabeled" => (by_login, model.label_detail(idx, label)),
                "assigned" | "unassigned" => (by_login, EventDetail::Assignee { login: person.to_string() }),
                _ => (person, EventDetail::None),
            };
            model.record_event(idx, number, kind, actor, detail, at);
        }
        let kinds = || (0..count).map(|i| BUSY_KINDS[i % BUSY_KINDS.len()]);
        let labeled = kinds().rfind(|k| k.ends_with("labeled")) == Some("labeled");
        let assigned = kinds().rfind(|k| k.ends_with("assigned")) == Some("assigned");
        let issue = model.repos[idx].issues.get_mut(&number).expect("live issue");
        issue.labels.retain(|l| l != label);
        issue.assignees.retain(|a| a != person);
        if labeled {
            issue.labels.push(label.to_string());
        }
        if assigned {
            issue.assignees.push(person.to_string());
        }
        issue.updated_at = issue.updated_at.max(at);
    }
}
