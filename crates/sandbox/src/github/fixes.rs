//! The helpers tests and the demo use to act as developers on GitHub for issue 22's path from
//! "fix in review" to "shipped in TAG": pull requests (open, push, merge, close, link by
//! hand), commits and tags, duplicates, releases and their assets. Each acts as a person
//! would in the web UI or with git, records the events GitHub records and sends the webhook
//! deliveries GitHub sends (see `state::pulls`, `state::releases` and `deliver` for what each
//! rests on).
//!
//! Like the other helpers they are test fixtures: naming a repository, issue, branch or
//! release that does not exist panics.

use serde_json::json;

use super::state::{Issue, MergeMethod, NewIssue, ReleaseSpec};
use super::{live_index, repo_index, FakeGithub};

/// A pull request as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullView {
    pub number: u64,
    pub id: u64,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    /// Before the merge the test merge commit (on no branch); after it, the commit on the base.
    pub merge_commit_sha: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    pub html_url: String,
}

impl FakeGithub {
    /// A person opens a pull request onto the default branch, from a new branch with one
    /// commit; references in `body` are cross-referenced (closing keywords act on merge).
    /// Returns its number (shared with issues).
    pub fn open_pull_request(&self, repo: &str, title: &str, body: &str, by_login: &str) -> u64 {
        let base = self.default_branch(repo);
        self.open_pull_request_onto(repo, &base, title, body, by_login)
    }

    /// Like `open_pull_request`, onto branch `base` (closing keywords act only on the default
    /// branch).
    pub fn open_pull_request_onto(&self, repo: &str, base: &str, title: &str, body: &str, by_login: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let new = NewIssue { title: title.to_string(), body: Some(body.to_string()), ..NewIssue::default() };
        let number = model.open_pull(idx, new, by_login, base, now);
        self.shared.deliver_pull(&model, idx, number, "opened", json!({}), by_login);
        number
    }

    /// Pushes one more commit to an open pull request's branch; returns its sha.
    pub fn push_to_pull_request(&self, repo: &str, number: u64, message: &str, by_login: &str) -> String {
        let branch = self.with_pull(repo, number, |p| p.head_ref.clone());
        self.push_commit(repo, &branch, message, by_login)
    }

    /// A person merges an open pull request. Onto the default branch, the issues its body
    /// names with a closing keyword, and those linked by hand, close with a `closed` event
    /// whose `commit_id` is the returned sha (the merge, squash or last rebased commit).
    pub fn merge_pull_request(&self, repo: &str, number: u64, method: MergeMethod, by_login: &str) -> String {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let (landed, closed) = model.merge_pull(idx, number, method, by_login, now);
        self.shared.deliver_pull(&model, idx, number, "closed", json!({}), by_login);
        self.deliver_closed(&model, closed, by_login);
        model.repos[idx].git.sha(landed).to_string()
    }

    /// A person closes an open pull request without merging it.
    pub fn close_pull_request(&self, repo: &str, number: u64, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        model.close_pull(idx, number, by_login, now);
        self.shared.deliver_pull(&model, idx, number, "closed", json!({}), by_login);
    }

    /// A person edits a pull request's description; new references are cross-referenced.
    pub fn edit_pull_request_body(&self, repo: &str, number: u64, body: &str, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let old = model.repos[idx].issues[&number].body.clone();
        if model.edit_body(idx, number, body, by_login, now) {
            let changes = json!({"changes": {"body": {"from": old}}});
            self.shared.deliver_pull(&model, idx, number, "edited", changes, by_login);
        }
    }

    /// A person links pull request `pr` of `pr_repo` to issue `issue` of `repo` in the
    /// Development sidebar: `connected` on both (naming neither); merging it onto its default
    /// branch closes the issue.
    pub fn link_pull_request(&self, repo: &str, issue: u64, pr_repo: &str, pr: u64, by_login: &str) {
        self.connect(repo, issue, pr_repo, pr, true, by_login);
    }

    /// Undoes `link_pull_request`: `disconnected` on both.
    pub fn unlink_pull_request(&self, repo: &str, issue: u64, pr_repo: &str, pr: u64, by_login: &str) {
        self.connect(repo, issue, pr_repo, pr, false, by_login);
    }

    fn connect(&self, repo: &str, issue: u64, pr_repo: &str, pr: u64, linked: bool, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let (idx, pr_idx) = (live_index(&model, repo, issue), live_index(&model, pr_repo, pr));
        model.connect((idx, issue), (pr_idx, pr), linked, by_login, now);
    }

    pub fn pull_request(&self, repo: &str, number: u64) -> Option<PullView> {
        let model = self.shared.model.lock().unwrap();
        let r = &model.repos[model.repo_by_full_name(repo)?];
        let (issue, pull) = (r.live(number)?, r.pulls.get(&number)?);
        let wire = self.wire(&model);
        Some(PullView {
            number,
            id: pull.id,
            state: if issue.open { "open" } else { "closed" }.to_string(),
            merged: pull.merged_at.is_some(),
            merge_commit_sha: r.git.sha(pull.merge_commit).to_string(),
            head_sha: r.git.sha(pull.head).to_string(),
            head_ref: pull.head_ref.clone(),
            base_ref: pull.base_ref.clone(),
            html_url: wire.issue_html_url(r, issue),
        })
    }

    fn with_pull<T>(&self, repo: &str, number: u64, f: impl FnOnce(&super::state::Pull) -> T) -> T {
        let model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        f(model.repos[idx].pulls.get(&number).unwrap_or_else(|| panic!("{repo}#{number} is not a pull request")))
    }

    /// `issues` `closed` deliveries for the issues a merge or a push closed.
    fn deliver_closed(&self, model: &super::state::Model, closed: Vec<(usize, Issue)>, by_login: &str) {
        for (idx, before) in closed {
            self.shared.deliver_issue_update(model, idx, &before, by_login);
        }
    }
}

/// Commits, branches and tags.
impl FakeGithub {
    /// A person pushes a commit with `message` onto `branch`; returns its sha. Issues the
    /// message mentions get `referenced`; on the default branch its closing keywords
    /// (`Fixes #3`) close their issues with that commit (no pull request involved).
    pub fn push_commit(&self, repo: &str, branch: &str, message: &str, by_login: &str) -> String {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let (commit, closed) = model.push_commit(idx, branch, message, by_login, now);
        self.deliver_closed(&model, closed, by_login);
        model.repos[idx].git.sha(commit).to_string()
    }

    /// A person closes issue `number` from a commit on the default branch ("Fix crash, fixes
    /// #N"), without a pull request; returns the commit's sha.
    pub fn close_issue_by_commit(&self, repo: &str, number: u64, by_login: &str) -> String {
        let branch = self.default_branch(repo);
        self.push_commit(repo, &branch, &format!("Fix crash, fixes #{number}"), by_login)
    }

    pub fn default_branch(&self, repo: &str) -> String {
        let model = self.shared.model.lock().unwrap();
        model.repos[repo_index(&model, repo)].git.default_branch.clone()
    }

    /// The sha `name` (a branch, a tag or a sha) resolves to, if any.
    pub fn resolve_ref(&self, repo: &str, name: &str) -> Option<String> {
        let model = self.shared.model.lock().unwrap();
        let git = &model.repos[repo_index(&model, repo)].git;
        git.resolve(name).map(|c| git.sha(c).to_string())
    }

    /// The date of commit `sha` (a release of it has this `created_at`).
    pub fn commit_date(&self, repo: &str, sha: &str) -> chrono::DateTime<chrono::Utc> {
        let model = self.shared.model.lock().unwrap();
        let git = &model.repos[repo_index(&model, repo)].git;
        git.commit(git.by_sha(sha).unwrap_or_else(|| panic!("no commit {sha}"))).date
    }

    /// Whether the commit `sha` is reachable from `name` (a tag or branch contains it).
    pub fn ref_contains(&self, repo: &str, name: &str, sha: &str) -> bool {
        let model = self.shared.model.lock().unwrap();
        let git = &model.repos[repo_index(&model, repo)].git;
        git.resolve(name).zip(git.by_sha(sha)).is_some_and(|(from, c)| git.contains(from, c))
    }

    /// Creates branch `name` at `from` (a branch, tag or sha): a maintenance branch to
    /// backport on, or history that diverges.
    pub fn create_branch(&self, repo: &str, name: &str, from: &str) {
        self.with_git(repo, |git| {
            let at = git.resolve(from).unwrap_or_else(|| panic!("{from:?} names no commit"));
            git.branches.insert(name.to_string(), at);
        });
    }

    /// Creates branch `name` with one commit that shares no history with the rest (an
    /// unrelated history, as after a force-push that rewrote everything); returns its sha.
    pub fn create_orphan_branch(&self, repo: &str, name: &str, message: &str, by_login: &str) -> String {
        let now = self.shared.now();
        self.with_git(repo, |git| {
            let c = git.add_commit(Vec::new(), message, by_login, now, vec!["ORPHAN.md".to_string()]);
            git.branches.insert(name.to_string(), c);
            git.sha(c).to_string()
        })
    }

    /// Points tag `tag` at `target` (a branch, tag or sha), creating or moving it; returns the
    /// tagged sha.
    pub fn create_tag(&self, repo: &str, tag: &str, target: &str) -> String {
        self.with_git(repo, |git| {
            let at = git.resolve(target).unwrap_or_else(|| panic!("{target:?} names no commit"));
            git.tags.insert(tag.to_string(), at);
            git.sha(at).to_string()
        })
    }

    /// Deletes tag `tag` (a release of it stays; compare against it answers 404).
    pub fn delete_tag(&self, repo: &str, tag: &str) {
        self.with_git(repo, |git| {
            git.tags.remove(tag).unwrap_or_else(|| panic!("no tag {tag:?}"));
        });
    }

    /// While on, a compare whose diff has changed files answers 500 "this diff is taking too
    /// long to generate" (a huge diff); one whose head is contained in its base (no files)
    /// still answers. A single 500 for any request: `door.faults` with a `FaultRule`.
    pub fn set_slow_diffs(&self, repo: &str, on: bool) {
        self.with_repo(repo, |r| r.slow_diffs = on);
    }

    fn with_git<T>(&self, repo: &str, f: impl FnOnce(&mut super::state::git::Git) -> T) -> T {
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        f(&mut model.repos[idx].git)
    }
}

/// Duplicates.
impl FakeGithub {
    /// A person closes issue `number` as a duplicate of `of_repo#of_number` (the web UI's
    /// "Close as duplicate"): `marked_as_duplicate`, then `closed` with the reason
    /// `duplicate`, and an `issues` `closed` delivery. Nothing the REST API shows names the
    /// survivor; GraphQL's `MarkedAsDuplicateEvent.canonical` does (`graphql_routes`), and
    /// `duplicate_of` for tests.
    pub fn close_as_duplicate(&self, repo: &str, number: u64, of_repo: &str, of_number: u64, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let of = live_index(&model, of_repo, of_number);
        let patch = super::state::IssuePatch {
            open: Some(false),
            state_reason: Some("duplicate".to_string()),
            duplicate_of: Some((model.repos[of].id, of_number)),
            ..Default::default()
        };
        let before = model.repos[idx].issues[&number].clone();
        model.update_issue(idx, number, patch, by_login, now);
        self.shared.deliver_issue_update(&model, idx, &before, by_login);
    }

    /// A person unmarks a duplicate: `unmarked_as_duplicate` (the issue stays closed; GraphQL
    /// then names no survivor).
    pub fn unmark_duplicate(&self, repo: &str, number: u64, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let issue = model.repos[idx].issues.get_mut(&number).expect("live");
        if let Some((repo_id, of)) = issue.duplicate_of.take() {
            // The event names the issue it was a duplicate of (GraphQL's
            // `UnmarkedAsDuplicateEvent.canonical`); REST shows the common properties only.
            let canonical = super::state::EventDetail::Duplicate { repo_id, number: of };
            model.record_event(idx, number, "unmarked_as_duplicate", by_login, canonical, now);
        }
    }

    /// The issue `repo#number` was closed as a duplicate of, as (`owner/name`, number).
    pub fn duplicate_of(&self, repo: &str, number: u64) -> Option<(String, u64)> {
        let model = self.shared.model.lock().unwrap();
        let r = &model.repos[model.repo_by_full_name(repo)?];
        let (repo_id, of) = r.live(number)?.duplicate_of?;
        model.repo_by_id(repo_id).map(|i| (model.repos[i].full_name(), of))
    }
}

/// Releases.
impl FakeGithub {
    /// A person creates a release (a draft, or published at once); returns its id. A
    /// published release tags `spec.target` if the tag does not exist yet; its `created_at`
    /// is the tagged commit's date.
    pub fn create_release(&self, repo: &str, spec: ReleaseSpec, by_login: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let (draft, prerelease) = (spec.draft, spec.prerelease);
        let id = model.create_release(idx, spec, by_login, now);
        let actions: &[&str] = match (draft, prerelease) {
            (true, _) => &["created"],
            (false, false) => &["created", "published", "released"],
            (false, true) => &["created", "published", "prereleased"],
        };
        self.deliver_release(&model, idx, id, actions, None, by_login);
        id
    }

    /// A person publishes draft `id` (tagging its target now if the tag does not exist).
    pub fn publish_release(&self, repo: &str, id: u64, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        model.publish_release(idx, id, now);
        let actions: &[&str] =
            if model.release_mut(idx, id).prerelease { &["published"] } else { &["published", "released"] };
        self.deliver_release(&model, idx, id, actions, None, by_login);
    }

    /// A person ticks or unticks "Set as a pre-release" on release `id`.
    pub fn set_prerelease(&self, repo: &str, id: u64, prerelease: bool, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let release = model.release_mut(idx, id);
        if release.prerelease == prerelease {
            return;
        }
        (release.prerelease, release.updated_at) = (prerelease, now);
        let draft = release.draft;
        let actions: &[&str] = if prerelease || draft { &["edited"] } else { &["edited", "released"] };
        self.deliver_release(&model, idx, id, actions, None, by_login);
    }

    /// A person edits release `id`'s name or notes.
    pub fn edit_release(&self, repo: &str, id: u64, name: Option<&str>, body: Option<&str>, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let release = model.release_mut(idx, id);
        let mut changes = serde_json::Map::new();
        if let Some(name) = name.filter(|n| release.name.as_deref() != Some(n)) {
            changes.insert("name".into(), json!({"from": release.name}));
            release.name = Some(name.to_string());
        }
        if let Some(body) = body.filter(|b| release.body.as_deref() != Some(b)) {
            changes.insert("body".into(), json!({"from": release.body}));
            release.body = Some(body.to_string());
        }
        if changes.is_empty() {
            return;
        }
        release.updated_at = now;
        self.deliver_release(&model, idx, id, &["edited"], Some(serde_json::Value::Object(changes)), by_login);
    }

    /// A person deletes release `id` (its tag stays).
    pub fn delete_release(&self, repo: &str, id: u64, by_login: &str) {
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let gone = model.delete_release(idx, id);
        self.shared.deliver_release(&model, idx, &gone, &["deleted"], None, by_login);
    }

    /// Uploads an asset to release `id`; returns the asset's id.
    pub fn add_release_asset(&self, repo: &str, id: u64, name: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        model.add_asset(idx, id, name, now)
    }

    /// People download each asset of release `id` `times` more times: the release list's
    /// body, and so its ETag, changes (docs/research/github-fixes.md §3), its `updated_at` does not.
    pub fn bump_download_counts(&self, repo: &str, id: u64, times: u64) {
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        model.release_mut(idx, id).assets.iter_mut().for_each(|a| a.download_count += times);
    }

    /// Whether the personal token has push access to `repo` (true by default): without it
    /// draft releases are not listed and the repository's `permissions.push` is false.
    pub fn set_push_access(&self, repo: &str, push: bool) {
        self.with_repo(repo, |r| r.push_access = push);
    }

    fn deliver_release(
        &self,
        model: &super::state::Model,
        idx: usize,
        id: u64,
        actions: &[&str],
        changes: Option<serde_json::Value>,
        by_login: &str,
    ) {
        let release = model.repos[idx].releases.iter().find(|r| r.id == id).expect("a release");
        self.shared.deliver_release(model, idx, release, actions, changes, by_login);
    }
}
