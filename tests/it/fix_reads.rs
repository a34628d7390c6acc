//! Part 15's reads through the GitHub client against the fake GitHub (which models the real
//! answers, docs/research/github-fixes.md): pull requests by update, the pull request of a commit,
//! releases, and whether a tag contains a commit. The passes that act on them come next.

use ticket_sync_clients::github::Listing;
use ticket_sync_core::domain::CommitSha;
use ticket_sync_core::domain::{IssueNumber, RepoName};
use ticket_sync_core::fixplan::{self, PullState};
use ticket_sync_core::rules::Fixes;
use ticket_sync_sandbox::{MergeMethod, ReleaseSpec};

use crate::harness::Env;

const REPO: &str = "acme/backend";

fn repo() -> RepoName {
    REPO.parse().unwrap()
}

fn changed<T>(listing: Listing<T>) -> (Vec<T>, Option<String>) {
    match listing {
        Listing::Changed { items, etag } => (items, etag),
        Listing::NotModified => panic!("expected a changed list"),
    }
}

#[tokio::test]
async fn a_pull_request_reads_in_review_then_merged_with_the_commit_that_closed_the_issue() {
    let env = Env::new().await;
    let github = env.engine().github;
    let issue = env.sb.github.add_issue(REPO, "Login fails", "body", "alice");
    let pr = env.sb.github.open_pull_request(REPO, "Fix login", &format!("Fixes #{issue}"), "bob");

    let (pulls, etag) = changed(github.pulls_updated_since(&repo(), None, None).await.unwrap());
    let read = pulls.iter().find(|p| p.number == IssueNumber(pr)).expect("the pull request is listed");
    assert_eq!((read.state.clone(), read.into_default_branch, read.author.as_str()), (PullState::Open, true, "bob"));
    assert!(read.updated_at.is_some());
    let again = github.pulls_updated_since(&repo(), None, etag.as_deref()).await.unwrap();
    assert!(matches!(again, Listing::NotModified), "unchanged: a free 304");

    let sha = env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Squash, "carol");
    let sha = CommitSha::parse(&sha).expect("a commit id");
    let since = read.updated_at.map(|t| t.utc());
    let (pulls, _) = changed(github.pulls_updated_since(&repo(), since, etag.as_deref()).await.unwrap());
    let merged = pulls.iter().find(|p| p.number == IssueNumber(pr)).expect("its update is listed");
    assert_eq!(merged.state, PullState::Merged { commit: Some(sha.clone()) });
    let of_commit = github.pull_of_commit(&repo(), &sha).await.unwrap().expect("GitHub names the pull request");
    assert_eq!(of_commit.number, IssueNumber(pr));
    let closed = env.sb.github.issue(REPO, issue).unwrap();
    assert_eq!(closed.state, "closed", "the keyword closed the issue on merge");
}

#[tokio::test]
async fn a_release_ships_a_fix_only_once_its_tag_contains_the_commit() {
    let env = Env::new().await;
    let github = env.engine().github;
    let rules = Fixes::default();
    let before = env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    let issue = env.sb.github.add_issue(REPO, "Crash", "body", "alice");
    let pr = env.sb.github.open_pull_request(REPO, "Fix crash", &format!("Closes #{issue}"), "bob");
    let sha = CommitSha::parse(&env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol")).unwrap();
    let pre = ReleaseSpec { prerelease: true, ..ReleaseSpec::published("v1.1.0-rc.1") };
    env.sb.github.create_release(REPO, pre, "alice");
    let draft = ReleaseSpec { draft: true, ..ReleaseSpec::published("v1.1.0") };
    env.sb.github.create_release(REPO, draft, "alice");

    let (releases, etag) = changed(github.releases(&repo(), None).await.unwrap());
    let tags: Vec<&str> = releases.iter().map(|r| r.tag.as_str()).collect();
    assert!(tags.contains(&"v1.0.0") && tags.contains(&"v1.1.0-rc.1"), "{tags:?}");
    let shipping: Vec<&str> = releases.iter().filter(|r| fixplan::ships(r, &rules)).map(|r| r.tag.as_str()).collect();
    assert_eq!(shipping, ["v1.0.0"], "a prerelease and a draft ship nothing by default");
    assert!(matches!(github.releases(&repo(), etag.as_deref()).await.unwrap(), Listing::NotModified));

    assert!(!github.tag_contains(&repo(), "v1.0.0", &sha).await.unwrap(), "the older release lacks the fix");
    assert!(github.tag_contains(&repo(), "v1.1.0-rc.1", &sha).await.unwrap(), "the prerelease has it");
    let after = env.sb.github.create_release(REPO, ReleaseSpec::published("v1.1.0-final"), "alice");
    assert!(after > before);
    assert!(github.tag_contains(&repo(), "v1.1.0-final", &sha).await.unwrap());
    let gone = github.tag_contains(&repo(), "v9.9.9", &sha).await;
    assert!(gone.is_err(), "an unknown tag is an error to ask again, never 'not contained': {gone:?}");
}
