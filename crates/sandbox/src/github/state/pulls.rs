//! The write side of pull requests and commits: opening, pushing, merging and closing pull
//! requests, linking them to issues by hand, pushing commits, and the issue events these
//! leave (`cross-referenced`, `referenced`, `connected`, `merged`, `closed` with a commit).
//!
//! What each rests on (docs/research/github-fixes.md is `/work/docs/research/github-fixes.md.md`, which gives every source):
//! - FACT (docs/research/github-fixes.md §2, GH-DOCS linking-a-pull-request-to-an-issue.md): closing keywords in
//!   a pull request's body act only when its base is the default branch; on any other base
//!   they are ignored and merging closes nothing. Keywords in a commit message close the issue
//!   when the commit reaches the default branch. A manual link (`connected`) closes its issue
//!   when the pull request is merged into the default branch.
//! - FACT (docs/research/github-fixes.md §1, GH-DOCS issue-event-types.md): a `closed` event's `commit_id` names
//!   the commit that closed the issue with "closes / fixes" syntax; `referenced` names the
//!   commit whose message mentioned the issue; a pull request's `merged` event names the head
//!   commit that was merged and its own `closed` event has no commit.
//! - ASSUMED (docs/research/github-fixes.md §1; no recording shows it): a merged pull request closes its issues
//!   with `commit_id` = its `merge_commit_sha` (the merge, squash or last rebased commit on the
//!   default branch), and for a pull request in another repository `commit_url` points at the
//!   pull request's repository. The merger is the `closed` event's actor.
//! - FACT (docs/research/github-fixes.md §1, python-github-backup#528): a cross-reference does not change the
//!   referenced issue's `updated_at`. ASSUMED: neither do `referenced` and `connected`.
//! - ASSUMED: one `cross-referenced` item per (source, target), however often the source
//!   mentions the target again; a pull request's own number is never cross-referenced.
//! - FACT (docs/research/github-fixes.md §1, GH-MD pulls/get.md): before a merge `merge_commit_sha` is a test
//!   merge commit, which is on no branch; after it, the commit on the base branch.

use chrono::{DateTime, Utc};

use super::git::CommitIdx;
use super::refs::issue_refs;
use super::{CommitRef, EventDetail, Fate, Issue, Model, NewIssue};

/// How a pull request is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit with two parents; the pull request's commits land on the base as they are.
    Merge,
    /// One new commit on the base with the pull request's changes.
    Squash,
    /// The pull request's commits copied onto the base, one new commit each.
    Rebase,
}

/// The pull-request side of an issue that is a pull request.
#[derive(Debug, Clone)]
pub struct Pull {
    pub id: u64,
    pub number: u64,
    pub base_ref: String,
    pub head_ref: String,
    pub head: CommitIdx,
    /// The pull request's own commits, oldest first.
    pub commits: Vec<CommitIdx>,
    /// Before the merge, the test merge commit; after it, the commit on the base branch.
    pub merge_commit: CommitIdx,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<String>,
    pub method: Option<MergeMethod>,
    /// Issues linked by hand in the Development sidebar: (repository id, number).
    pub linked: Vec<(u64, u64)>,
}

/// Issues a change closed: (repository index, the issue as it was before).
pub type Closed = Vec<(usize, Issue)>;

impl Model {
    /// Opens a pull request from a new branch with one commit (titled like the pull request)
    /// onto `base_ref`; its body's references are recorded. Returns its number.
    pub fn open_pull(&mut self, repo: usize, new: NewIssue, user: &str, base_ref: &str, now: DateTime<Utc>) -> u64 {
        let (title, body) = (new.title.clone(), new.body.clone().unwrap_or_default());
        let number = self.insert_issue(repo, new, user, true, now);
        let id = self.next_pull_id;
        self.next_pull_id += 1;
        let head_ref = format!("{user}-patch-{number}");
        let git = &mut self.repos[repo].git;
        let base = *git.branches.get(base_ref).unwrap_or_else(|| panic!("no branch {base_ref:?}"));
        git.branches.insert(head_ref.clone(), base);
        let files = vec![format!("src/change_{number}.rs")];
        let head = git.commit_on(&head_ref, &title, user, now, files);
        let merge_commit = test_merge(git, base, head, base_ref, now);
        let pull = Pull {
            id,
            number,
            base_ref: base_ref.to_string(),
            head_ref,
            head,
            commits: vec![head],
            merge_commit,
            merged_at: None,
            merged_by: None,
            method: None,
            linked: Vec::new(),
        };
        self.repos[repo].pulls.insert(number, pull);
        self.record_mentions(repo, number, &super::edits::mentions(&body), now);
        self.cross_reference(repo, number, &body, user, now);
        self.commit_references(repo, head, user, now);
        number
    }

    /// Pushes a commit onto `branch` (a pull request's head branch moves the pull request).
    /// Its message's references become `referenced` events; on the default branch its closing
    /// keywords close their issues. Returns the commit and the issues it closed.
    pub fn push_commit(
        &mut self,
        repo: usize,
        branch: &str,
        message: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> (CommitIdx, Closed) {
        self.register(user);
        let git = &mut self.repos[repo].git;
        let n = git.commits.len();
        let idx = git.commit_on(branch, message, user, now, vec![format!("src/commit_{n}.rs")]);
        let on_default = branch == git.default_branch;
        // ASSUMED: only an open pull request follows its branch; a closed one keeps its head.
        let r = &self.repos[repo];
        let open = |n: &u64| r.issues.get(n).is_some_and(|i| i.open);
        let pull = r.pulls.values().find(|p| p.head_ref == branch && open(&p.number)).map(|p| p.number);
        if let Some(number) = pull {
            let r = &mut self.repos[repo];
            let p = r.pulls.get_mut(&number).expect("found above");
            let base = r.git.branches[&p.base_ref];
            p.head = idx;
            p.commits.push(idx);
            p.merge_commit = test_merge(&mut r.git, base, idx, &p.base_ref, now);
        }
        self.commit_references(repo, idx, user, now);
        let closed = if on_default { self.close_by_keywords(repo, message, repo, idx, user, now) } else { Vec::new() };
        (idx, closed)
    }

    /// Merges an open pull request; returns the commit on the base branch and the issues it
    /// closed (only when the base is the default branch).
    pub fn merge_pull(
        &mut self,
        repo: usize,
        number: u64,
        method: MergeMethod,
        user: &str,
        now: DateTime<Utc>,
    ) -> (CommitIdx, Closed) {
        self.register(user);
        let r = &mut self.repos[repo];
        let issue = r.issues.get(&number).filter(|i| i.open && i.fate == Fate::Live);
        let (title, body) =
            issue.map(|i| (i.title.clone(), i.body.clone().unwrap_or_default())).expect("an open pull request");
        let pull = r.pulls.get(&number).expect("a pull request").clone();
        let git = &mut r.git;
        let base = git.branches[&pull.base_ref];
        let landed = match method {
            MergeMethod::Merge => {
                let message = format!("Merge pull request #{number} from {}\n\n{title}", pull.head_ref);
                git.add_commit(vec![base, pull.head], &message, user, now, Vec::new())
            }
            MergeMethod::Squash => {
                let files = git.files_of(&pull.commits);
                git.add_commit(vec![base], &format!("{title} (#{number})"), user, now, files)
            }
            MergeMethod::Rebase => pull.commits.iter().fold(base, |parent, c| {
                let (message, author, files) =
                    (git.commit(*c).message.clone(), git.commit(*c).author.clone(), git.commit(*c).files.clone());
                git.add_commit(vec![parent], &message, &author, now, files)
            }),
        };
        git.branches.insert(pull.base_ref.clone(), landed);
        let to_default = pull.base_ref == git.default_branch;
        let p = r.pulls.get_mut(&number).expect("a pull request");
        (p.merge_commit, p.merged_at, p.merged_by, p.method) =
            (landed, Some(now), Some(user.to_string()), Some(method));
        let issue = r.issues.get_mut(&number).expect("the pull request's issue");
        (issue.open, issue.closed_at, issue.closed_by, issue.updated_at) =
            (false, Some(now), Some(user.to_string()), now);
        let repo_id = r.id;
        let head_sha = r.git.sha(pull.head).to_string();
        let merged = self.record_event(repo, number, "merged", user, EventDetail::None, now);
        self.repos[repo].events[merged].commit = Some(CommitRef { repo_id, sha: head_sha });
        self.record_event(repo, number, "closed", user, EventDetail::None, now);
        if !to_default {
            return (landed, Vec::new());
        }
        let mut closed = self.close_by_keywords(repo, &body, repo, landed, user, now);
        for (issue_repo_id, issue_number) in pull.linked {
            let Some(issue_repo) = self.repo_by_id(issue_repo_id) else { continue };
            if let Some(before) = self.close_by_commit(issue_repo, issue_number, repo, landed, user, now) {
                closed.push((issue_repo, before));
            }
        }
        (landed, closed)
    }

    /// Closes an open pull request without merging it.
    pub fn close_pull(&mut self, repo: usize, number: u64, user: &str, now: DateTime<Utc>) {
        self.register(user);
        let issue = self.repos[repo].issues.get_mut(&number).filter(|i| i.open).expect("an open pull request");
        (issue.open, issue.closed_at, issue.closed_by, issue.updated_at) =
            (false, Some(now), Some(user.to_string()), now);
        self.record_event(repo, number, "closed", user, EventDetail::None, now);
    }

    /// Replaces a pull request's (or an issue's) body; new references are cross-referenced.
    pub fn edit_body(&mut self, repo: usize, number: u64, body: &str, user: &str, now: DateTime<Utc>) -> bool {
        let issue = self.repos[repo].issues.get_mut(&number).expect("a live issue or pull request");
        if issue.body.as_deref() == Some(body) {
            return false;
        }
        (issue.body, issue.updated_at) = (Some(body.to_string()), now);
        self.cross_reference(repo, number, body, user, now);
        true
    }

    /// Links (or unlinks) pull request `pr` of `pr_repo` to issue `number` of `repo` by hand:
    /// `connected` / `disconnected` on both, naming neither (docs/research/github-fixes.md §1).
    pub fn connect(
        &mut self,
        (repo, number): (usize, u64),
        (pr_repo, pr): (usize, u64),
        linked: bool,
        user: &str,
        now: DateTime<Utc>,
    ) {
        self.register(user);
        let key = (self.repos[repo].id, number);
        let pull = self.repos[pr_repo].pulls.get_mut(&pr).expect("a pull request");
        let already = pull.linked.contains(&key);
        if linked == already {
            return;
        }
        if linked {
            // FACT (docs/research/github-fixes.md §2): a pull request links at most 10 issues by hand.
            assert!(pull.linked.len() < 10, "a pull request links at most 10 issues by hand");
            pull.linked.push(key);
        } else {
            pull.linked.retain(|k| *k != key);
        }
        let kind = if linked { "connected" } else { "disconnected" };
        self.record_event(repo, number, kind, user, EventDetail::None, now);
        self.record_event(pr_repo, pr, kind, user, EventDetail::None, now);
    }

    /// Closes an open plain issue as `completed` by `commit` of repository `commit_repo`: its
    /// `closed` event names the commit. Returns the issue as it was, if it closed.
    fn close_by_commit(
        &mut self,
        repo: usize,
        number: u64,
        commit_repo: usize,
        commit: CommitIdx,
        user: &str,
        now: DateTime<Utc>,
    ) -> Option<Issue> {
        let issue = self.repos[repo].issues.get_mut(&number)?;
        if !issue.open || issue.is_pull_request || issue.fate != Fate::Live {
            return None;
        }
        let before = issue.clone();
        issue.open = false;
        issue.state_reason = Some("completed".to_string());
        (issue.closed_at, issue.closed_by, issue.updated_at) = (Some(now), Some(user.to_string()), now);
        let sha = self.repos[commit_repo].git.sha(commit).to_string();
        let repo_id = self.repos[commit_repo].id;
        let at = self.record_event(repo, number, "closed", user, EventDetail::None, now);
        let event = &mut self.repos[repo].events[at];
        event.commit = Some(CommitRef { repo_id, sha });
        event.state_reason = Some("completed".to_string());
        Some(before)
    }

    /// Closes the issues `text` names with a closing keyword (this repository's or others').
    fn close_by_keywords(
        &mut self,
        repo: usize,
        text: &str,
        commit_repo: usize,
        commit: CommitIdx,
        user: &str,
        now: DateTime<Utc>,
    ) -> Closed {
        let mut closed = Vec::new();
        for reference in issue_refs(text).into_iter().filter(|r| r.closing) {
            let Some(target) = self.ref_repo(repo, &reference.repo) else { continue };
            if let Some(before) = self.close_by_commit(target, reference.number, commit_repo, commit, user, now) {
                closed.push((target, before));
            }
        }
        closed
    }

    /// The issues pull request `number` of `repo` may close, as GraphQL's
    /// `PullRequest.closingIssuesReferences` lists them (`graphql_routes`): those its body names
    /// with a closing keyword when its base is the default branch, then those linked by hand
    /// whatever its base, each once, as (repository index, number, linked by hand) where the
    /// issue lives now. `None` when `number` is not a pull request.
    ///
    /// FACTS (docs/research/github-fixes.md, "GraphQL: which issues a pull request closes"):
    /// keywords on another base create no reference; a hand link is listed. ASSUMED: the list
    /// stays as it is once the pull request is merged or closed, closed issues stay on it, a
    /// transferred issue is listed where it lives now, and pull requests, deleted issues and
    /// references to nothing are left out.
    pub fn closing_references(&self, repo: usize, number: u64) -> Option<Vec<(usize, u64, bool)>> {
        let r = &self.repos[repo];
        let pull = r.pulls.get(&number)?;
        let issue = r.live(number).filter(|i| i.is_pull_request)?;
        let mut named: Vec<(usize, u64, bool)> = Vec::new();
        if pull.base_ref == r.git.default_branch {
            let body = issue.body.as_deref().unwrap_or_default();
            for reference in issue_refs(body).into_iter().filter(|r| r.closing) {
                if let Some(target) = self.ref_repo(repo, &reference.repo) {
                    named.push((target, reference.number, false));
                }
            }
        }
        for (repo_id, n) in &pull.linked {
            if let Some(target) = self.repo_by_id(*repo_id) {
                named.push((target, *n, true));
            }
        }
        let mut out: Vec<(usize, u64, bool)> = Vec::new();
        for (target, n, by_hand) in named {
            let (at, n) = match self.locate(target, n) {
                super::Located::Live => (target, n),
                super::Located::Moved { repo, number } => (repo, number),
                super::Located::Deleted | super::Located::Missing => continue,
            };
            if self.repos[at].live(n).is_none_or(|i| i.is_pull_request) {
                continue;
            }
            match out.iter_mut().find(|(r, m, _)| (*r, *m) == (at, n)) {
                Some(seen) => seen.2 |= by_hand,
                None => out.push((at, n, by_hand)),
            }
        }
        Some(out)
    }

    /// The repository a reference names: `repo` itself, or another by `owner/name`.
    fn ref_repo(&self, repo: usize, named: &Option<(String, String)>) -> Option<usize> {
        match named {
            None => Some(repo),
            Some((owner, name)) => self.repo_by_name(owner, name),
        }
    }

    /// `referenced` on each live issue or pull request a commit's message mentions.
    fn commit_references(&mut self, repo: usize, commit: CommitIdx, user: &str, now: DateTime<Utc>) {
        let message = self.repos[repo].git.commit(commit).message.clone();
        let sha = self.repos[repo].git.sha(commit).to_string();
        let repo_id = self.repos[repo].id;
        for reference in issue_refs(&message) {
            let Some(target) = self.ref_repo(repo, &reference.repo) else { continue };
            if self.repos[target].live(reference.number).is_none() {
                continue;
            }
            let at = self.record_event(target, reference.number, "referenced", user, EventDetail::None, now);
            self.repos[target].events[at].commit = Some(CommitRef { repo_id, sha: sha.clone() });
        }
    }

    /// `cross-referenced` on each live issue or pull request `text` (in issue or pull request
    /// `number` of `repo`) mentions, once per source.
    pub(in crate::github) fn cross_reference(
        &mut self,
        repo: usize,
        number: u64,
        text: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) {
        let source = EventDetail::CrossReference { repo_id: self.repos[repo].id, number };
        for reference in issue_refs(text) {
            let Some(target) = self.ref_repo(repo, &reference.repo) else { continue };
            let n = reference.number;
            let seen = self.repos[target].events.iter().any(|e| e.issue_number == n && e.detail == source);
            if (target == repo && n == number) || seen || self.repos[target].live(n).is_none() {
                continue;
            }
            self.record_event(target, n, "cross-referenced", actor, source.clone(), now);
        }
    }
}

/// The test merge commit GitHub computes for an open pull request (on no branch).
fn test_merge(
    git: &mut super::git::Git,
    base: CommitIdx,
    head: CommitIdx,
    base_ref: &str,
    now: DateTime<Utc>,
) -> CommitIdx {
    let message = format!("Merge {} into {}", &git.sha(head)[..7], base_ref);
    git.add_commit(vec![base, head], &message, "GitHub", now, Vec::new())
}
