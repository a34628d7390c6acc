//! The audit pass (`[schedule] audit`, daily by default): finds linked issues that were
//! transferred or deleted on GitHub, which vanish from the repository listings the push pass
//! reads. One conditional GET per linked issue, open or closed; an unchanged issue answers 304, which
//! GitHub does not count against the rate limit. A repository that answers 404 itself (deleted,
//! or out of the token's sight) or refuses its reads fails once for the pass: its other issues
//! are not read.

use std::collections::{BTreeMap, BTreeSet};

use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::notes::{issue_gone, issue_not_found, Missing};
use super::{stops_pass, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::http::{ApiError, ForbiddenScope};
use ticket_sync_core::domain::{IssueNumber, RepoName};
use ticket_sync_core::domain::{LinkState, Mapping};
use ticket_sync_core::notetext::Gone;

pub(super) async fn run(engine: &Engine, cancel: &CancellationToken) -> Result<PassReport, PassError> {
    let mut report = PassReport::new(ticket_sync_core::domain::PassKind::Audit);
    // Closed issues too: a closed issue can be transferred or deleted (and reopened later
    // where the push pass no longer looks). Unchanged ones answer a free 304. An issue several
    // tickets share is read once.
    let mut issues: BTreeMap<(RepoName, IssueNumber), Vec<Mapping>> = BTreeMap::new();
    for m in engine.store.mappings()?.into_iter().filter(|m| m.link_state == LinkState::Active) {
        issues.entry((m.repo.clone(), m.issue_number)).or_default().push(m);
    }
    // Repositories that answered 404 themselves, or refused a read, in this pass: every other
    // issue of theirs would answer the same, so none is read (a request or two and a failure per
    // link, every audit, for as long as the repository is away). The next audit asks again: a
    // deleted repository can be restored, and access granted again.
    let mut out_of_sight: BTreeSet<RepoName> = BTreeSet::new();
    for ((repo, number), links) in issues {
        if cancel.is_cancelled() {
            break;
        }
        engine.beat();
        report.seen += links.len() as u64;
        if out_of_sight.contains(&repo) {
            continue;
        }
        let span = info_span!("issue", repo = %repo, issue_number = number.0, tickets = links.len());
        match check(engine, &links, &mut report).instrument(span).await {
            Ok(Checked::Read) => {}
            Ok(Checked::RepoRefused(why)) => {
                report.failed += 1;
                warn!(%repo, error = %why, "the repository's issues cannot be read; its links are kept, and the next audit looks again");
                out_of_sight.insert(repo);
            }
            Err(ItemError::Store(e)) => return Err(e.into()),
            Err(ItemError::Api(e)) if stops_pass(&e) => return Err(e.into()),
            Err(e) => {
                // The next audit looks again; nothing was written.
                report.failed += 1;
                for m in &links {
                    report.failures.push((m.ticket_id, e.to_string()));
                }
                warn!(%repo, issue_number = number.0, error = %e, "audit could not read the issue");
            }
        }
    }
    Ok(report)
}

/// What reading one linked issue showed.
enum Checked {
    /// The issue was read (or found gone or moved), and its links follow what it said.
    Read,
    /// The repository itself answers 404, or refuses its reads (why): nothing was ended.
    RepoRefused(String),
}

/// Reads one linked issue (with the first link's ETag) and applies what it says to every
/// ticket linked to it.
async fn check(engine: &Engine, links: &[Mapping], report: &mut PassReport) -> Result<Checked, ItemError> {
    let first = &links[0];
    let etag = engine.store.issue_etag(first.ticket_id)?;
    match engine.github.get_issue_if_changed(&first.repo, first.issue_number, etag.as_deref()).await {
        Ok(None) => Ok(Checked::Read),
        Ok(Some((_, etag))) if !engine.dry_run => {
            for m in links {
                engine.store.set_issue_etag(m.ticket_id, etag.as_deref())?;
            }
            Ok(Checked::Read)
        }
        Ok(Some(_)) => Ok(Checked::Read),
        Err(ApiError::Moved { location, .. }) => {
            if engine.dry_run {
                report
                    .planned
                    .push(format!("follow or end the links of {}#{} (issue moved)", first.repo, first.issue_number));
                return Ok(Checked::Read);
            }
            let found = match location.as_deref() {
                Some(l) => engine.github.locate_moved(l).await?,
                None => None,
            };
            let Some(issue) = found else {
                for m in links {
                    issue_gone(engine, m, Gone::MovedOutOfReach, report).await?;
                }
                return Ok(Checked::Read);
            };
            info!(to = %format!("{}#{}", issue.repo, issue.number), "the issue was transferred; the links follow it");
            for m in links {
                engine.store.move_mapping(
                    m.ticket_id,
                    &engine.as_configured(&issue.repo),
                    issue.number,
                    &issue.html_url,
                )?;
                engine.store.set_issue_etag(m.ticket_id, None)?;
            }
            Ok(Checked::Read)
        }
        Err(ApiError::Gone { .. }) if !engine.dry_run => {
            for m in links {
                issue_gone(engine, m, Gone::Deleted, report).await?;
            }
            Ok(Checked::Read)
        }
        Err(ApiError::NotFound { .. }) if !engine.dry_run => match issue_not_found(engine, links, report).await? {
            Missing::RepoOutOfSight => Ok(Checked::RepoRefused(format!(
                "repository {} answers 404 (deleted, token access removed, or its SSO authorisation lapsed?)",
                first.repo
            ))),
            Missing::Ended | Missing::Back => Ok(Checked::Read),
        },
        // A read refused is the repository's refusal (the GitHub App uninstalled there, an SSO
        // authorisation lapsed): its other issues would be refused alike.
        Err(e @ ApiError::Forbidden { scope: ForbiddenScope::Repository, .. }) => {
            Ok(Checked::RepoRefused(e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
