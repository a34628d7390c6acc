//! Rate-limit blocks: which scope of which service may not be called before when, kept so a
//! new process (a cron-driven `sync`, a restart) honours a wait the previous one was told.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{Block, Scope, Service};

impl Store {
    /// Keeps `block`, replacing the scope's earlier one; forgets blocks that are over.
    pub fn save_block(&self, block: &Block) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM limit_blocks WHERE until <= ?1", [ts(clock::now())])?;
        conn.execute(
            "INSERT OR REPLACE INTO limit_blocks (service, scope, until, reason, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![block.service.as_str(), block.scope.key(), ts(block.until), block.reason, ts(clock::now())],
        )?;
        Ok(())
    }

    /// Blocks still in force at `now`, by service and scope.
    pub fn active_blocks(&self, now: DateTime<Utc>) -> Result<Vec<Block>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT service, scope, until, reason FROM limit_blocks WHERE until > ?1 ORDER BY service, scope",
        )?;
        let rows = stmt
            .query_map([ts(now)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // A row this build cannot read (a scope from a newer one) is skipped, not an error.
        Ok(rows
            .into_iter()
            .filter_map(|(service, scope, until, reason)| {
                Some(Block {
                    service: Service::from_name(&service)?,
                    scope: Scope::from_key(&scope)?,
                    until: parse_ts(&until)?,
                    reason,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticket_sync_core::domain::{Endpoint, TicketId};

    #[test]
    fn blocks_are_kept_per_scope_until_they_end() {
        let store = Store::open_in_memory().unwrap();
        let now = Utc::now();
        let block = |scope: Scope, secs: i64| Block {
            service: Service::Zendesk,
            scope,
            until: now + chrono::Duration::seconds(secs),
            reason: "429".into(),
        };
        store.save_block(&block(Scope::Service, 30)).unwrap();
        store.save_block(&block(Scope::Service, 60)).unwrap();
        store.save_block(&block(Scope::Ticket(TicketId(7)), 600)).unwrap();
        store.save_block(&block(Scope::Endpoint(Endpoint::IncrementalExports), -1)).unwrap();
        let active = store.active_blocks(now).unwrap();
        let scopes: Vec<String> = active.iter().map(|b| b.scope.key()).collect();
        assert_eq!(scopes, ["service", "ticket:7"], "one per scope, the latest; none that ended");
        assert_eq!(active[0].until.timestamp_millis(), (now + chrono::Duration::seconds(60)).timestamp_millis());
        assert!(store.active_blocks(now + chrono::Duration::seconds(61)).unwrap().len() == 1);
    }

    /// A block row this build cannot read (an endpoint it does not gate, such as an older
    /// release's `endpoint:incremental-export`, or a kind of scope from a newer one) is skipped:
    /// start-up and `status` read the others as usual.
    #[test]
    fn a_stored_block_of_an_unknown_kind_of_scope_is_skipped() {
        let store = Store::open_in_memory().unwrap();
        let until = ts(Utc::now() + chrono::Duration::minutes(10));
        for scope in
            ["endpoint:incremental-export", "endpoint:tickets-index", "repository:acme/x", "endpoint:tickets-update"]
        {
            store
                .conn()
                .execute(
                    "INSERT INTO limit_blocks (service, scope, until, reason, set_at) VALUES ('zendesk', ?1, ?2, '429', ?2)",
                    params![scope, until],
                )
                .unwrap();
        }
        let active = store.active_blocks(Utc::now()).unwrap();
        let scopes: Vec<Scope> = active.into_iter().map(|b| b.scope).collect();
        let old = |name: &str| Scope::Endpoint(Endpoint::Other(name.into()));
        assert_eq!(
            scopes,
            [old("incremental-export"), old("tickets-index"), Scope::Endpoint(Endpoint::TicketsUpdate)],
            "every endpoint's block reads back, whatever its name; a repository scope is no kind this build knows"
        );
    }
}
