//! Bulk seeding for benchmarks and large tests: many tickets under one lock, each with its own
//! creation time, so the incremental export sees a history instead of one busy second.

use chrono::{DateTime, Utc};

use super::{FakeZendesk, NewTicket};

impl FakeZendesk {
    /// Adds each ticket as created (and last changed) at its time; returns their ids in order.
    pub fn seed_tickets(&self, tickets: Vec<(NewTicket, DateTime<Utc>)>) -> Vec<u64> {
        let mut store = self.store();
        tickets.into_iter().map(|(t, at)| store.add_ticket(t, at)).collect()
    }
}
