//! A repository's commit graph, as small as compare, releases and "which pull request brought
//! this commit" need: commits with their parents (a merge has two), branches and tags naming
//! commits, and the reachability questions git answers (`git log BASE..HEAD`, merge base).
//!
//! Commits are stored in creation order and a commit's parents always exist before it, so the
//! position of a commit in `commits` is a topological order; the merge base of two commits is
//! their common ancestor with the highest position.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Position of a commit in `Git::commits`.
pub type CommitIdx = usize;

#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub parents: Vec<CommitIdx>,
    pub message: String,
    pub author: String,
    pub date: DateTime<Utc>,
    /// Paths the commit changes (a merge commit changes none of its own).
    pub files: Vec<String>,
}

/// What `compare` found between two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub base: CommitIdx,
    pub head: CommitIdx,
    pub merge_base: CommitIdx,
    /// Commits reachable from head and not from base, oldest first (`git log BASE..HEAD`,
    /// in chronological order).
    pub ahead: Vec<CommitIdx>,
    pub behind_by: usize,
}

impl Comparison {
    /// GitHub's `status`: `identical`, `ahead`, `behind` or `diverged`.
    pub fn status(&self) -> &'static str {
        match (self.ahead.is_empty(), self.behind_by == 0) {
            (true, true) => "identical",
            (false, true) => "ahead",
            (true, false) => "behind",
            (false, false) => "diverged",
        }
    }
}

#[derive(Debug)]
pub struct Git {
    pub commits: Vec<Commit>,
    by_sha: HashMap<String, CommitIdx>,
    pub branches: BTreeMap<String, CommitIdx>,
    pub tags: BTreeMap<String, CommitIdx>,
    pub default_branch: String,
    /// Salt for commit shas, so two repositories never share one.
    salt: u64,
}

impl Git {
    /// A repository with one commit on its default branch, `main`.
    pub fn new(salt: u64, author: &str, now: DateTime<Utc>) -> Self {
        let mut git = Git {
            commits: Vec::new(),
            by_sha: HashMap::new(),
            branches: BTreeMap::new(),
            tags: BTreeMap::new(),
            default_branch: "main".to_string(),
            salt,
        };
        let root = git.add_commit(Vec::new(), "Initial commit", author, now, vec!["README.md".to_string()]);
        git.branches.insert("main".to_string(), root);
        git
    }

    pub fn commit(&self, idx: CommitIdx) -> &Commit {
        &self.commits[idx]
    }

    pub fn sha(&self, idx: CommitIdx) -> &str {
        &self.commits[idx].sha
    }

    pub fn by_sha(&self, sha: &str) -> Option<CommitIdx> {
        self.by_sha.get(sha).copied()
    }

    pub fn default_head(&self) -> CommitIdx {
        self.branches[&self.default_branch]
    }

    /// Stores a commit (not on any branch yet) and returns it.
    pub fn add_commit(
        &mut self,
        parents: Vec<CommitIdx>,
        message: &str,
        author: &str,
        date: DateTime<Utc>,
        files: Vec<String>,
    ) -> CommitIdx {
        let idx = self.commits.len();
        let digest = Sha256::digest(format!("{}:{idx}:{message}:{author}:{date}", self.salt));
        let sha: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        self.by_sha.insert(sha.clone(), idx);
        self.commits.push(Commit {
            sha,
            parents,
            message: message.to_string(),
            author: author.to_string(),
            date,
            files,
        });
        idx
    }

    /// Adds a commit on top of `branch` and moves the branch to it.
    pub fn commit_on(
        &mut self,
        branch: &str,
        message: &str,
        author: &str,
        date: DateTime<Utc>,
        files: Vec<String>,
    ) -> CommitIdx {
        let parent = *self.branches.get(branch).unwrap_or_else(|| panic!("no branch {branch:?}"));
        let idx = self.add_commit(vec![parent], message, author, date, files);
        self.branches.insert(branch.to_string(), idx);
        idx
    }

    /// What a ref names, as git reads it: a full sha, then a tag, then a branch (`refs/tags/…`
    /// and `refs/heads/…` spelled out too), then an unambiguous abbreviated sha (7+ hex digits).
    pub fn resolve(&self, name: &str) -> Option<CommitIdx> {
        if let Some(idx) = self.by_sha(name) {
            return Some(idx);
        }
        if let Some(tag) = name.strip_prefix("refs/tags/") {
            return self.tags.get(tag).copied();
        }
        if let Some(branch) = name.strip_prefix("refs/heads/") {
            return self.branches.get(branch).copied();
        }
        if let Some(idx) = self.tags.get(name).or_else(|| self.branches.get(name)) {
            return Some(*idx);
        }
        let hex = name.len() >= 7 && name.len() < 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        let mut found = self.commits.iter().enumerate().filter(|(_, c)| c.sha.starts_with(&lower));
        match (found.next(), found.next()) {
            (Some((idx, _)), None) => Some(idx),
            _ => None,
        }
    }

    /// Every commit reachable from `idx`, itself included.
    pub fn ancestors(&self, idx: CommitIdx) -> BTreeSet<CommitIdx> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![idx];
        while let Some(c) = todo.pop() {
            if seen.insert(c) {
                todo.extend(self.commits[c].parents.iter().copied());
            }
        }
        seen
    }

    /// Whether `commit` is reachable from `from` (a branch or tag "contains" it).
    pub fn contains(&self, from: CommitIdx, commit: CommitIdx) -> bool {
        self.ancestors(from).contains(&commit)
    }

    /// `git log base..head` and `git log head..base`, and their merge base; `None` when the
    /// two share no history.
    pub fn compare(&self, base: CommitIdx, head: CommitIdx) -> Option<Comparison> {
        let from_base = self.ancestors(base);
        let from_head = self.ancestors(head);
        let merge_base = *from_base.intersection(&from_head).max()?;
        let mut ahead: Vec<CommitIdx> = from_head.difference(&from_base).copied().collect();
        ahead.sort_by_key(|c| (self.commits[*c].date, *c));
        let behind_by = from_base.difference(&from_head).count();
        Some(Comparison { base, head, merge_base, ahead, behind_by })
    }

    /// Paths changed between `from` and `to` (the commits in `ahead`), each once, in order.
    pub fn files_of(&self, commits: &[CommitIdx]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in commits {
            for f in &self.commits[*c].files {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn file(name: &str) -> Vec<String> {
        vec![name.to_string()]
    }

    #[test]
    fn statuses_follow_reachability_both_ways() {
        let mut git = Git::new(1, "octo", at(0));
        let root = git.default_head();
        let a = git.commit_on("main", "a", "octo", at(1), file("a"));
        git.branches.insert("old".to_string(), root);
        let b = git.commit_on("old", "b", "octo", at(2), file("b"));
        let cmp = |x, y| git.compare(x, y).unwrap();
        assert_eq!(cmp(root, a).status(), "ahead");
        assert_eq!(cmp(a, root).status(), "behind");
        assert_eq!(cmp(a, a).status(), "identical");
        let diverged = cmp(a, b);
        assert_eq!((diverged.status(), diverged.ahead.clone(), diverged.behind_by), ("diverged", vec![b], 1));
        assert_eq!(diverged.merge_base, root);
    }

    #[test]
    fn a_merge_brings_the_branch_commits_into_main() {
        let mut git = Git::new(1, "octo", at(0));
        let root = git.default_head();
        git.branches.insert("topic".to_string(), root);
        let t = git.commit_on("topic", "t", "octo", at(1), file("t"));
        let m = git.add_commit(vec![git.default_head(), t], "merge", "octo", at(2), Vec::new());
        git.branches.insert("main".to_string(), m);
        assert!(git.contains(m, t));
        assert_eq!(git.compare(m, t).unwrap().status(), "behind");
        assert_eq!(git.compare(root, m).unwrap().ahead, [t, m]);
        assert_eq!(git.files_of(&[t, m]), ["t"]);
    }

    #[test]
    fn refs_resolve_like_git_and_unrelated_histories_have_no_merge_base() {
        let mut git = Git::new(7, "octo", at(0));
        let root = git.default_head();
        git.tags.insert("v1".to_string(), root);
        let sha = git.sha(root).to_string();
        assert_eq!(git.resolve("v1"), Some(root));
        assert_eq!(git.resolve("refs/tags/v1"), Some(root));
        assert_eq!(git.resolve("main"), Some(root));
        assert_eq!(git.resolve(&sha[..7]), Some(root));
        assert_eq!(git.resolve(&sha[..6]), None, "too short to be a sha");
        assert_eq!(git.resolve("nope"), None);
        let orphan = git.add_commit(Vec::new(), "orphan", "octo", at(1), file("o"));
        assert_eq!(git.compare(root, orphan), None);
    }
}
