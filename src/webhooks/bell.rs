//! The doorbell queue between the receiver and the daemon: bounded, coalescing, drained in
//! first-rung order. A doorbell says which ticket or repository to look at now, nothing more.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use ticket_sync_core::domain::{RepoName, TicketId};

/// Default bound of the queue: more distinct items than this wait for the next poll.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Something to look at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doorbell {
    /// A Zendesk ticket changed.
    Ticket(TicketId),
    /// An issue or a comment changed in this repository. `senders` are the GitHub logins of
    /// the coalesced deliveries, so the daemon can skip a doorbell rung only by its own writes.
    Repo { repo: RepoName, senders: BTreeSet<String> },
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Ticket(TicketId),
    Repo(RepoName),
}

impl Doorbell {
    fn key(&self) -> Key {
        match self {
            Doorbell::Ticket(id) => Key::Ticket(*id),
            Doorbell::Repo { repo, .. } => Key::Repo(repo.clone()),
        }
    }
}

#[derive(Default)]
struct Queue {
    items: Vec<Doorbell>,
    /// Where each queued item sits in `items`.
    index: HashMap<Key, usize>,
}

/// A bounded queue of doorbells. A ring for an item already queued joins it instead of
/// queueing it twice.
pub struct Bell {
    queue: Mutex<Queue>,
    notify: Notify,
    capacity: usize,
}

impl Bell {
    pub fn new(capacity: usize) -> Arc<Bell> {
        Arc::new(Bell { queue: Mutex::new(Queue::default()), notify: Notify::new(), capacity })
    }

    /// Queues `d`, or joins it to the same item already queued. False when the queue is full
    /// (the item is left to the next poll).
    pub fn ring(&self, d: Doorbell) -> bool {
        let mut q = self.lock();
        let key = d.key();
        if let Some(&at) = q.index.get(&key) {
            if let (Doorbell::Repo { senders, .. }, Doorbell::Repo { senders: more, .. }) = (&mut q.items[at], d) {
                senders.extend(more);
            }
            return true;
        }
        if q.items.len() >= self.capacity {
            return false;
        }
        let at = q.items.len();
        q.items.push(d);
        q.index.insert(key, at);
        drop(q);
        self.notify.notify_waiters();
        true
    }

    /// Waits until at least one doorbell is queued. Cancel-safe: dropping the future loses
    /// nothing, the doorbells stay queued for `take`.
    pub async fn rung(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a ring between the check and the wait wakes it.
            notified.as_mut().enable();
            if !self.lock().items.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Every queued doorbell, in first-rung order; the queue is empty afterwards.
    pub fn take(&self) -> Vec<Doorbell> {
        let mut q = self.lock();
        q.index.clear();
        std::mem::take(&mut q.items)
    }

    /// Doorbells queued now.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, sender: &str) -> Doorbell {
        Doorbell::Repo { repo: name.parse().unwrap(), senders: BTreeSet::from([sender.to_string()]) }
    }

    #[test]
    fn same_item_coalesces_and_order_is_first_rung() {
        let bell = Bell::new(10);
        assert!(bell.ring(Doorbell::Ticket(TicketId(7))));
        assert!(bell.ring(repo("acme/backend", "ticket-sync-bot")));
        assert!(bell.ring(Doorbell::Ticket(TicketId(8))));
        assert!(bell.ring(Doorbell::Ticket(TicketId(7))));
        assert!(bell.ring(repo("acme/backend", "alice")));
        assert!(bell.ring(repo("acme/backend", "ticket-sync-bot")));
        let taken = bell.take();
        let senders = BTreeSet::from(["alice".to_string(), "ticket-sync-bot".to_string()]);
        assert_eq!(
            taken,
            vec![
                Doorbell::Ticket(TicketId(7)),
                Doorbell::Repo { repo: "acme/backend".parse().unwrap(), senders },
                Doorbell::Ticket(TicketId(8)),
            ]
        );
        assert!(bell.is_empty());
        // Once taken, the same item queues again.
        assert!(bell.ring(Doorbell::Ticket(TicketId(7))));
        assert_eq!(bell.take(), vec![Doorbell::Ticket(TicketId(7))]);
    }

    #[test]
    fn a_full_queue_refuses_new_items_but_still_coalesces_queued_ones() {
        let bell = Bell::new(2);
        assert!(bell.ring(Doorbell::Ticket(TicketId(1))));
        assert!(bell.ring(Doorbell::Ticket(TicketId(2))));
        assert!(!bell.ring(Doorbell::Ticket(TicketId(3))));
        assert!(bell.ring(Doorbell::Ticket(TicketId(1))));
        assert_eq!(bell.take().len(), 2);
    }

    #[tokio::test]
    async fn rung_waits_for_a_ring_and_is_cancel_safe() {
        let bell = Bell::new(10);
        // Nothing queued: a wait that is given up loses nothing.
        let waited = tokio::time::timeout(std::time::Duration::from_millis(20), bell.rung()).await;
        assert!(waited.is_err());
        let waiter = {
            let bell = bell.clone();
            tokio::spawn(async move {
                bell.rung().await;
                bell.take()
            })
        };
        tokio::task::yield_now().await;
        bell.ring(Doorbell::Ticket(TicketId(5)));
        assert_eq!(waiter.await.unwrap(), vec![Doorbell::Ticket(TicketId(5))]);
        // Already queued: returns at once.
        bell.ring(Doorbell::Ticket(TicketId(6)));
        bell.rung().await;
        assert_eq!(bell.take().len(), 1);
    }
}
