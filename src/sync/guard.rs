//! The repository guard, on every write path that carries customer text to GitHub (new issues,
//! forwarded comments): public repositories are refused unless `allow_public_repos`, as are
//! repositories with issues disabled, archived ones, and ones the token cannot see.
//!
//! A repository's visibility can change at any time (made public, or a linked issue
//! transferred into a public one), so the verdict is read from GitHub once per pass in which
//! something is written there, never trusted from an earlier pass.

use tracing::warn;

use super::{Engine, ItemError};
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::domain::RepoName;

/// What one pass found of a repository, kept for the rest of the pass.
#[derive(Debug, Clone)]
pub(super) enum Verdict {
    /// Customer text may be written there.
    Writable,
    /// It may not; why, for the operator.
    Refused(String),
}

impl Verdict {
    fn into_result(self) -> Result<(), ItemError> {
        match self {
            Verdict::Writable => Ok(()),
            Verdict::Refused(why) => Err(ItemError::Refused(why)),
        }
    }
}

/// Keeps a refusal met on a write (GitHub refused it): the repository's other writes fail at
/// once for the rest of the pass, without asking again.
pub(super) fn remember_refusal(engine: &Engine, repo: &RepoName, why: &str) {
    engine.repo_checks.lock().unwrap().insert(repo.clone(), Verdict::Refused(why.to_string()));
}

/// Refuses writing customer text into `repo` when the rules or the repository forbid it.
pub(super) async fn check_repo(engine: &Engine, repo: &RepoName) -> Result<(), ItemError> {
    if let Some(verdict) = engine.repo_checks.lock().unwrap().get(repo).cloned() {
        return verdict.into_result();
    }
    let info = engine.github.get_repo(repo).await.map_err(|e| match e {
        ApiError::NotFound { .. } => ItemError::Refused(format!(
            "repository {repo} does not exist or the token cannot see it; fix the route's `repo` or the token's access"
        )),
        other => other.into(),
    })?;
    engine.learn_web_base(repo, info.html_url.as_deref());
    let has_issues = info.has_issues && !info.archived;
    if !engine.dry_run {
        engine.store.save_repo_record(repo, info.id, &info.visibility, has_issues)?;
    }
    let verdict = if info.visibility == "public" && !engine.rules.github.allow_public_repos {
        Verdict::Refused(format!(
            "refused: repository {repo} is public and would expose customer data; set github.allow_public_repos = true to allow it"
        ))
    } else if !has_issues {
        Verdict::Refused(format!("refused: repository {repo} has issues disabled or is archived"))
    } else {
        Verdict::Writable
    };
    if let Verdict::Refused(why) = &verdict {
        warn!(%repo, "{why}");
    }
    engine.repo_checks.lock().unwrap().insert(repo.clone(), verdict.clone());
    verdict.into_result()
}
