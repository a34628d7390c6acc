//! Bulk import of existing links: many mappings in one transaction (benchmarks, tests, imports).
//!
//! Each row is what a finished escalation leaves behind: the mapping and its two ledger lines
//! (`issue_created`, `link_note`), so a database seeded this way has the size of a real one.

use rusqlite::params;

use super::{ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{Issue, TicketId};

impl Store {
    /// Inserts a mapping (and the ledger lines of its escalation) for each `(ticket, issue)`,
    /// all in one transaction: 100,000 rows take about a second instead of 100,000 commits.
    pub fn import_mappings(&self, links: &[(TicketId, Issue)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = ts(clock::now());
        for (ticket, issue) in links {
            super::mappings::insert_row(&tx, *ticket, issue, &now, None)?;
            let remote = format!("{}#{}", issue.repo, issue.number);
            let mut ledger = tx.prepare_cached(
                "INSERT INTO ledger (ticket_id, at, event, side, remote_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            ledger.execute(params![ticket.0 as i64, now, "issue_created", "github", remote])?;
            ledger.execute(params![ticket.0 as i64, now, "link_note", "zendesk", None::<String>])?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use ticket_sync_core::domain::{IssueId, IssueNumber};

    #[test]
    fn imported_links_read_back_as_mappings() {
        let store = Store::open_in_memory().unwrap();
        let links: Vec<(TicketId, Issue)> = (1..=3u64)
            .map(|n| {
                let issue = Issue {
                    repo: "acme/backend".parse().unwrap(),
                    number: IssueNumber(n),
                    id: IssueId(100 + n),
                    html_url: format!("https://github.example/acme/backend/issues/{n}"),
                    state: ticket_sync_core::domain::IssueState::Open,
                    state_reason: None,
                    body: None,
                    updated_at: Some(Utc::now()),
                    closed_by: None,
                    is_pull_request: false,
                };
                (TicketId(10 + n), issue)
            })
            .collect();
        store.import_mappings(&links).unwrap();
        assert_eq!(store.mapping_count().unwrap(), 3);
        let m = store.mapping(TicketId(12)).unwrap().unwrap();
        assert_eq!((m.issue_number, m.issue_id), (IssueNumber(2), IssueId(102)));
        assert_eq!(store.mapped_repos().unwrap().len(), 1);
    }
}
