//! The audit pass (`[schedule] audit`, daily by default): finds linked issues that were
//! transferred or deleted on GitHub, which vanish from the repository listings the push pass
//! reads. One conditional GET per linked issue, open or closed; an unchanged issue answers 304, which
//! GitHub does not count against the rate limit.

use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::notes::{issue_gone, issue_not_found};
use super::{stops_pass, Engine, ItemError, PassError, PassReport};
use crate::http::ApiError;
use crate::store::{LinkState, Mapping};

pub(super) async fn run(engine: &Engine, cancel: &CancellationToken) -> Result<PassReport, PassError> {
    let mut report = PassReport::new("audit");
    let open: Vec<Mapping> = engine
        .store
        .mappings()?
        .into_iter()
        // Closed issues too: a closed issue can be transferred or deleted (and reopened
        // later where the push pass no longer looks). Unchanged ones answer a free 304.
        .filter(|m| m.link_state == LinkState::Active)
        .collect();
    for m in open {
        if cancel.is_cancelled() {
            break;
        }
        engine.beat();
        report.seen += 1;
        let span = info_span!("ticket", ticket_id = m.ticket_id.0, repo = %m.repo, issue_number = m.issue_number.0);
        match check(engine, &m, &mut report).instrument(span).await {
            Ok(()) => {}
            Err(ItemError::Store(e)) => return Err(e.into()),
            Err(ItemError::Api(e)) if stops_pass(&e) => return Err(e.into()),
            Err(e) => {
                // The next audit looks again; nothing was written.
                report.failed += 1;
                report.failures.push((m.ticket_id, e.to_string()));
                warn!(ticket_id = m.ticket_id.0, error = %e, "audit could not read the issue");
            }
        }
    }
    Ok(report)
}

async fn check(engine: &Engine, m: &Mapping, report: &mut PassReport) -> Result<(), ItemError> {
    let etag = engine.store.issue_etag(m.ticket_id)?;
    match engine.github.get_issue_if_changed(&m.repo, m.issue_number, etag.as_deref()).await {
        Ok(None) => Ok(()),
        Ok(Some((_, etag))) if !engine.dry_run => Ok(engine.store.set_issue_etag(m.ticket_id, etag.as_deref())?),
        Ok(Some(_)) => Ok(()),
        Err(ApiError::Moved { location, .. }) => {
            if engine.dry_run {
                report.planned.push(format!("follow or end the link of ticket {} (issue moved)", m.ticket_id));
                return Ok(());
            }
            let found = match location.as_deref() {
                Some(l) => engine.github.locate_moved(l).await?,
                None => None,
            };
            let Some(issue) = found else {
                return issue_gone(engine, m, "was moved where ticket-sync cannot follow it", report).await;
            };
            info!(to = %format!("{}#{}", issue.repo, issue.number), "the issue was transferred; the link follows it");
            engine.store.move_mapping(m.ticket_id, &issue.repo, issue.number, &issue.html_url)?;
            engine.store.set_issue_etag(m.ticket_id, None)?;
            Ok(())
        }
        Err(ApiError::Gone { .. }) if !engine.dry_run => issue_gone(engine, m, "was deleted", report).await,
        Err(ApiError::NotFound { .. }) if !engine.dry_run => issue_not_found(engine, m, report).await,
        Err(e) => Err(e.into()),
    }
}
