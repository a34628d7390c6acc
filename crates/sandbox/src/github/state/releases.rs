//! Releases of a repository and their assets: creating (as a draft or published, a
//! prerelease or not), publishing a draft, flipping the prerelease flag, editing, deleting,
//! and the download counts that change a list's ETag.
//!
//! What each rests on (docs/research/github-fixes.md §3, which gives every source):
//! - FACT (GH-MD releases/latest/get.md): `created_at` is the date of the commit used for the
//!   release, not when it was drafted or published; `published_at` is null for drafts.
//! - FACT (GH-REST-DATA releases.json): `target_commitish` is unused when the tag already
//!   exists, so it never names the release's commit.
//! - ASSUMED (docs/research/github-fixes.md §3 "Drafts and tags"): a draft whose tag does not exist yet creates
//!   no tag until it is published; publishing tags the target's commit as it is then, and the
//!   release's `created_at` becomes that commit's date.
//! - ASSUMED: deleting a release leaves its tag; download counts do not move `updated_at`.

use chrono::{DateTime, Utc};

use super::git::CommitIdx;
use super::Model;

/// What a test asks for when it creates a release.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub tag: String,
    pub name: Option<String>,
    /// A branch name or a sha: where the tag is created if it does not exist yet.
    pub target: String,
    pub draft: bool,
    pub prerelease: bool,
    pub body: Option<String>,
}

impl ReleaseSpec {
    /// A published full release of `tag` on the default branch's head, named like the tag.
    pub fn published(tag: &str) -> Self {
        ReleaseSpec {
            tag: tag.to_string(),
            name: Some(tag.to_string()),
            target: "main".to_string(),
            draft: false,
            prerelease: false,
            body: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub download_count: u64,
    pub created_at: DateTime<Utc>,
    pub uploader: String,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    pub target: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    /// The date of the release's commit.
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub author: String,
    pub assets: Vec<Asset>,
}

impl Model {
    /// Creates a release; a published one tags its target if the tag does not exist yet.
    pub fn create_release(&mut self, repo: usize, spec: ReleaseSpec, user: &str, now: DateTime<Utc>) -> u64 {
        self.register(user);
        let id = self.next_release_id;
        self.next_release_id += 1;
        let commit = self.release_commit(repo, &spec.tag, &spec.target);
        let git = &mut self.repos[repo].git;
        if !spec.draft {
            git.tags.entry(spec.tag.clone()).or_insert(commit);
        }
        let created_at = git.commit(commit).date;
        self.repos[repo].releases.push(Release {
            id,
            tag: spec.tag,
            target: spec.target,
            name: spec.name,
            body: spec.body,
            draft: spec.draft,
            prerelease: spec.prerelease,
            created_at,
            published_at: (!spec.draft).then_some(now),
            updated_at: now,
            author: user.to_string(),
            assets: Vec::new(),
        });
        id
    }

    /// The commit a release of `tag` stands for: the tag's, else the target's.
    fn release_commit(&self, repo: usize, tag: &str, target: &str) -> CommitIdx {
        let git = &self.repos[repo].git;
        (git.tags.get(tag).copied().or_else(|| git.resolve(target)))
            .unwrap_or_else(|| panic!("neither tag {tag:?} nor target {target:?} names a commit"))
    }

    pub fn release_mut(&mut self, repo: usize, id: u64) -> &mut Release {
        (self.repos[repo].releases.iter_mut()).find(|r| r.id == id).unwrap_or_else(|| panic!("no release {id}"))
    }

    /// Publishes a draft (tagging its target now if the tag does not exist).
    pub fn publish_release(&mut self, repo: usize, id: u64, now: DateTime<Utc>) {
        let (tag, target) = {
            let r = self.release_mut(repo, id);
            assert!(r.draft, "release {id} is not a draft");
            (r.tag.clone(), r.target.clone())
        };
        let commit = self.release_commit(repo, &tag, &target);
        self.repos[repo].git.tags.entry(tag).or_insert(commit);
        let created_at = self.repos[repo].git.commit(commit).date;
        let r = self.release_mut(repo, id);
        (r.draft, r.published_at, r.created_at, r.updated_at) = (false, Some(now), created_at, now);
    }

    pub fn add_asset(&mut self, repo: usize, id: u64, name: &str, now: DateTime<Utc>) -> u64 {
        let asset_id = self.next_asset_id;
        self.next_asset_id += 1;
        let release = self.release_mut(repo, id);
        let uploader = release.author.clone();
        let asset =
            Asset { id: asset_id, name: name.to_string(), size: 1024, download_count: 0, created_at: now, uploader };
        release.assets.push(asset);
        asset_id
    }

    pub fn delete_release(&mut self, repo: usize, id: u64) -> Release {
        let releases = &mut self.repos[repo].releases;
        let at = releases.iter().position(|r| r.id == id).unwrap_or_else(|| panic!("no release {id}"));
        releases.remove(at)
    }
}

impl super::Repo {
    /// The releases a caller sees, in the list's order: by `created_at` (the commit's date)
    /// newest first, drafts only with push access.
    /// ASSUMED (docs/research/github-fixes.md §3: the order is undocumented, observed "sorted by creation date"):
    /// ties go to the newer release.
    pub fn visible_releases(&self, with_drafts: bool) -> Vec<&Release> {
        let mut out: Vec<&Release> = self.releases.iter().filter(|r| with_drafts || !r.draft).collect();
        out.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        out
    }

    /// FACT (GH-MD releases/latest/get.md): "the most recent non-prerelease, non-draft
    /// release, sorted by the `created_at` attribute".
    pub fn latest_release(&self) -> Option<&Release> {
        self.visible_releases(false).into_iter().find(|r| !r.prerelease)
    }
}
