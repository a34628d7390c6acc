//! JSON rendering of what issue 22 reads besides issues: pull requests (the full object and
//! the list's `pull-request-simple`), commits, comparisons, releases and release assets, in
//! GitHub's REST shapes (docs/research/github-fixes.md §1–§4 name the fields and their sources).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::state::git::{CommitIdx, Comparison};
use super::state::{Asset, Issue, Pull, Release, Repo};
use super::wire::{merge, node_id, opt_ts, ts, Wire};

/// A stable 40-hex stand-in for a git object the fake does not model (trees, blobs).
fn object_sha(seed: &str) -> String {
    Sha256::digest(seed).iter().take(20).map(|b| format!("{b:02x}")).collect()
}

impl Wire<'_> {
    fn pull_api_url(&self, repo: &Repo, number: u64) -> String {
        format!("{}/pulls/{number}", self.repo_api_url(repo))
    }

    /// A branch end of a pull request (`head`, `base`).
    fn pull_end(&self, repo: &Repo, branch: &str, sha: &str) -> Value {
        json!({
            "label": format!("{}:{branch}", repo.owner),
            "ref": branch,
            "sha": sha,
            "user": self.user(&repo.owner),
            "repo": self.repo(repo),
        })
    }

    /// `pull-request-simple` (lists); `full` adds what `GET …/pulls/{n}` has beyond it.
    pub fn pull(&self, repo: &Repo, issue: &Issue, pull: &Pull, full: bool) -> Value {
        let api = self.pull_api_url(repo, pull.number);
        let issue_api = self.issue_api_url(repo, pull.number);
        let html = self.issue_html_url(repo, issue);
        let head_sha = repo.git.sha(pull.head);
        let base_sha = repo.git.branches.get(&pull.base_ref).map_or("", |c| repo.git.sha(*c));
        let labels: Vec<Value> =
            (issue.labels.iter()).filter_map(|name| repo.label(name)).map(|l| self.label(repo, l)).collect();
        let assignees: Vec<Value> = issue.assignees.iter().map(|a| self.user(a)).collect();
        let statuses = format!("{}/statuses/{head_sha}", self.repo_api_url(repo));
        let href = |url: &str| json!({ "href": url });
        let mut body = json!({
            "url": api,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "issue_url": issue_api,
            "commits_url": format!("{api}/commits"),
            "review_comments_url": format!("{api}/comments"),
            "review_comment_url": format!("{}/pulls/comments{{/number}}", self.repo_api_url(repo)),
            "comments_url": format!("{issue_api}/comments"),
            "statuses_url": statuses,
            "number": pull.number,
            "state": if issue.open { "open" } else { "closed" },
            "locked": repo.locked.contains(&issue.number),
            "title": issue.title,
            "user": self.user(&issue.user),
            "body": issue.body,
            "labels": labels,
            "milestone": null,
            "active_lock_reason": null,
            "created_at": ts(issue.created_at),
            "updated_at": ts(issue.updated_at),
            "closed_at": opt_ts(issue.closed_at),
            "merged_at": opt_ts(pull.merged_at),
            "merge_commit_sha": repo.git.sha(pull.merge_commit),
            "assignee": assignees.first().cloned().unwrap_or(Value::Null),
            "assignees": assignees,
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self.pull_end(repo, &pull.head_ref, head_sha),
            "base": self.pull_end(repo, &pull.base_ref, base_sha),
            "_links": {
                "self": href(&api),
                "html": href(&html),
                "issue": href(&issue_api),
                "comments": href(&format!("{issue_api}/comments")),
                "review_comments": href(&format!("{api}/comments")),
                "commits": href(&format!("{api}/commits")),
                "statuses": href(&statuses),
            },
            "author_association": self.association(repo, &issue.user),
            "auto_merge": null,
            "draft": false,
        });
        if full {
            let merged = pull.merged_at.is_some();
            let files = repo.git.files_of(&pull.commits).len();
            merge(
                &mut body,
                json!({
                    "merged": merged,
                    "mergeable": if issue.open { json!(true) } else { Value::Null },
                    "rebaseable": if issue.open { json!(true) } else { Value::Null },
                    "mergeable_state": if issue.open { "clean" } else { "unknown" },
                    "merged_by": pull.merged_by.as_deref().map_or(Value::Null, |u| self.user(u)),
                    "comments": issue.comments,
                    "review_comments": 0,
                    "maintainer_can_modify": false,
                    "commits": pull.commits.len(),
                    "additions": files * 10,
                    "deletions": 0,
                    "changed_files": files,
                }),
            );
        }
        body
    }

    /// A commit as the commits and compare endpoints show it.
    pub fn commit(&self, repo: &Repo, idx: CommitIdx) -> Value {
        let c = repo.git.commit(idx);
        let api = format!("{}/commits/{}", self.repo_api_url(repo), c.sha);
        let html = format!("{}/commit/{}", self.html_repo_url(repo), c.sha);
        let person = json!({
            "name": c.author,
            "email": format!("{}+{}@users.noreply.github.com", self.model.user_id(&c.author), c.author),
            "date": ts(c.date),
        });
        let tree = object_sha(&format!("tree:{}", c.sha));
        let user = if self.model.user_id(&c.author) == 0 { Value::Null } else { self.user(&c.author) };
        let parents: Vec<Value> = (c.parents.iter())
            .map(|p| {
                let sha = repo.git.sha(*p);
                json!({
                    "sha": sha,
                    "url": format!("{}/commits/{sha}", self.repo_api_url(repo)),
                    "html_url": format!("{}/commit/{sha}", self.html_repo_url(repo)),
                })
            })
            .collect();
        json!({
            "sha": c.sha,
            "node_id": node_id("Commit", idx as u64 + repo.id * 1_000_000),
            "commit": {
                "author": person,
                "committer": person,
                "message": c.message,
                "tree": {"sha": tree, "url": format!("{}/git/trees/{tree}", self.repo_api_url(repo))},
                "url": format!("{}/git/commits/{}", self.repo_api_url(repo), c.sha),
                "comment_count": 0,
                "verification": {
                    "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null,
                },
            },
            "url": api,
            "html_url": html,
            "comments_url": format!("{api}/comments"),
            "author": user,
            "committer": user,
            "parents": parents,
        })
    }

    /// A changed file of a comparison.
    fn file(&self, repo: &Repo, head_sha: &str, path: &str) -> Value {
        let blob = object_sha(&format!("blob:{head_sha}:{path}"));
        json!({
            "sha": blob,
            "filename": path,
            "status": "modified",
            "additions": 10,
            "deletions": 0,
            "changes": 10,
            "blob_url": format!("{}/blob/{head_sha}/{path}", self.html_repo_url(repo)),
            "raw_url": format!("{}/raw/{head_sha}/{path}", self.html_repo_url(repo)),
            "contents_url": format!("{}/contents/{path}?ref={head_sha}", self.repo_api_url(repo)),
            "patch": "@@ -1,0 +1,10 @@\n+fixed\n",
        })
    }

    /// A comparison as `GET …/compare/{basehead}` answers it: `commits` are the page's,
    /// `files` (when `Some`) the whole comparison's changed paths.
    pub fn comparison(
        &self,
        repo: &Repo,
        basehead: &str,
        cmp: &Comparison,
        commits: &[CommitIdx],
        files: Option<&[String]>,
    ) -> Value {
        let (base_sha, head_sha) = (repo.git.sha(cmp.base), repo.git.sha(cmp.head));
        let html = format!("{}/compare/{basehead}", self.html_repo_url(repo));
        let permalink = format!(
            "{}/compare/{owner}:{}...{owner}:{}",
            self.html_repo_url(repo),
            &base_sha[..7],
            &head_sha[..7],
            owner = repo.owner
        );
        let mut body = json!({
            "url": format!("{}/compare/{basehead}", self.repo_api_url(repo)),
            "html_url": html,
            "permalink_url": permalink,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "base_commit": self.commit(repo, cmp.base),
            "merge_base_commit": self.commit(repo, cmp.merge_base),
            "status": cmp.status(),
            "ahead_by": cmp.ahead.len(),
            "behind_by": cmp.behind_by,
            "total_commits": cmp.ahead.len(),
            "commits": commits.iter().map(|c| self.commit(repo, *c)).collect::<Vec<_>>(),
        });
        if let Some(files) = files {
            let files: Vec<Value> = files.iter().map(|f| self.file(repo, head_sha, f)).collect();
            merge(&mut body, json!({ "files": files }));
        }
        body
    }

    fn asset(&self, repo: &Repo, release: &Release, asset: &Asset) -> Value {
        let api = format!("{}/releases/assets/{}", self.repo_api_url(repo), asset.id);
        json!({
            "url": api,
            "browser_download_url": format!("{}/releases/download/{}/{}", self.html_repo_url(repo), release.tag, asset.name),
            "id": asset.id,
            "node_id": node_id("ReleaseAsset", asset.id),
            "name": asset.name,
            "label": null,
            "state": "uploaded",
            "content_type": "application/octet-stream",
            "size": asset.size,
            "download_count": asset.download_count,
            "created_at": ts(asset.created_at),
            "updated_at": ts(asset.created_at),
            "uploader": self.user(&asset.uploader),
        })
    }

    /// A release. FACTS (docs/research/github-fixes.md §3, REC-PyGithub; GH-REST-DATA releases.json): `html_url`
    /// is `…/releases/tag/{tag}`; `published_at` is null for a draft.
    /// ASSUMED: a draft's `html_url` names an `untagged-…` tag and its tarball and zipball
    /// URLs are null (what GitHub shows for drafts in its web pages; no recording read).
    pub fn release(&self, repo: &Repo, release: &Release) -> Value {
        let api = format!("{}/releases/{}", self.repo_api_url(repo), release.id);
        let shown_tag = if release.draft { format!("untagged-{:020x}", release.id) } else { release.tag.clone() };
        let archive =
            |kind: &str| (!release.draft).then(|| format!("{}/{kind}/{}", self.repo_api_url(repo), release.tag));
        let assets: Vec<Value> = release.assets.iter().map(|a| self.asset(repo, release, a)).collect();
        json!({
            "url": api,
            "assets_url": format!("{api}/assets"),
            "upload_url": format!("{}/uploads/repos/{}/releases/{}/assets{{?name,label}}", self.web, repo.full_name(), release.id),
            "html_url": format!("{}/releases/tag/{shown_tag}", self.html_repo_url(repo)),
            "id": release.id,
            "node_id": node_id("Release", release.id),
            "author": self.user(&release.author),
            "tag_name": release.tag,
            "target_commitish": release.target,
            "name": release.name,
            "draft": release.draft,
            "immutable": false,
            "prerelease": release.prerelease,
            "created_at": ts(release.created_at),
            "updated_at": ts(release.updated_at),
            "published_at": opt_ts(release.published_at),
            "assets": assets,
            "tarball_url": archive("tarball"),
            "zipball_url": archive("zipball"),
            "body": release.body,
        })
    }
}
