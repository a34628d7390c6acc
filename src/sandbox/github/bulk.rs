//! Bulk seeding for benchmarks and large tests: many issues under one lock, each with its own
//! creation time, the way a repository with years of history looks.

use chrono::{DateTime, SubsecRound, Utc};

use super::state::NewIssue;
use super::{issue_view, repo_index, FakeGithub, IssueView};

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
