//! The fake Zendesk Support API: a stateful HTTP server on loopback plus the seeding and
//! inspection API that tests and the demo drive it with.
//!
//! It imitates the parts of Zendesk the daemon uses (incremental cursor export, ticket show
//! and update, comments, users, organizations) and rejects what the real API rejects, so a
//! client that passes against the sandbox has met the real contracts.

mod bulk;
mod comments;
mod deliver;
mod export;
mod fields;
mod limits;
mod oauth;
mod routes;
mod state;
mod tags;
mod update;
mod wire;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::common::{Clock, Frontdoor, Service};
use crate::hooks::{DeliveryView, Outbox};
pub use deliver::ZendeskHookBody;
use routes::Shared;
use state::{Comment, Store, Ticket};

/// A running fake Zendesk. Dropping it stops the server.
pub struct FakeZendesk {
    /// Fault injection and the request log for this server.
    pub door: Arc<Frontdoor>,
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

/// A ticket to seed; the description becomes its first public comment.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: Option<u64>,
    pub subject: String,
    pub description: String,
    pub requester_id: u64,
    pub priority: Option<String>,
    pub status: String,
    pub tags: Vec<String>,
    /// `(file_name, content_type)` of files attached to the first comment.
    pub attachments: Vec<(String, String)>,
}

impl NewTicket {
    pub fn new(subject: &str, description: &str, requester_id: u64) -> Self {
        NewTicket {
            id: None,
            subject: subject.to_string(),
            description: description.to_string(),
            requester_id,
            priority: None,
            status: "new".to_string(),
            tags: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// A ticket as the fake holds it, for assertions.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub id: u64,
    pub subject: String,
    pub status: String,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    pub organization_id: Option<u64>,
    pub updated_at: DateTime<Utc>,
    pub generated_timestamp: i64,
}

/// A comment as the fake holds it, for assertions.
#[derive(Debug, Clone)]
pub struct CommentView {
    pub id: u64,
    pub author_id: u64,
    pub body: String,
    pub public: bool,
    pub created_at: DateTime<Utc>,
    /// File names of the attachments.
    pub attachments: Vec<String>,
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        TicketView {
            id: t.id,
            subject: t.subject.clone(),
            status: t.status.clone(),
            priority: t.priority.clone(),
            tags: t.tags.clone(),
            organization_id: t.organization_id,
            updated_at: t.updated_at,
            generated_timestamp: t.generated_timestamp,
        }
    }
}

impl From<&Comment> for CommentView {
    fn from(c: &Comment) -> Self {
        CommentView {
            id: c.id,
            author_id: c.author_id,
            body: c.body.clone(),
            public: c.public,
            created_at: c.created_at,
            attachments: c.attachments.iter().map(|a| a.file_name.clone()).collect(),
        }
    }
}

impl FakeZendesk {
    /// Bind 127.0.0.1:0 and serve on the current tokio runtime. `email`/`token` are the only
    /// API-token credentials accepted (the bot user, the API caller, is created with that
    /// email); the one OAuth client is `crate::ZENDESK_CLIENT_ID` with its secret,
    /// created by a second admin ("Integration User") whose tokens act as that user.
    pub async fn start(email: &str, token: &str, clock: Arc<Clock>) -> std::io::Result<Arc<FakeZendesk>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let mut store = Store::new(email, clock.now());
        let integration = store.add_user("Integration User", "integration@sandbox.example", None, "admin", clock.now());
        let shared = Arc::new(Shared {
            oauth: oauth::OAuth::new(crate::ZENDESK_CLIENT_ID, crate::ZENDESK_CLIENT_SECRET, integration),
            store: Mutex::new(store),
            clock,
            base_url: format!("http://{addr}"),
            email: email.to_string(),
            token: token.to_string(),
            outbox: Outbox::new(),
            hook_body: Mutex::new(ZendeskHookBody::default()),
        });
        let door = Frontdoor::new(Service::Zendesk);
        let app = routes::router(shared.clone(), door.clone());
        let server = tokio::spawn(async move {
            // The server only ends when its task is aborted; an I/O error here has no caller.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Arc::new(FakeZendesk { door, shared, addr, server }))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap()
    }

    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The user the API token acts as.
    pub fn bot_user_id(&self) -> u64 {
        self.store().bot_user_id
    }

    /// Changes a user's role (`admin`, `agent`, `end-user`), as an account owner would: an
    /// agent may not read the incremental export.
    pub fn set_user_role(&self, user_id: u64, role: &'static str) {
        if let Some(u) = self.store().users.get_mut(&user_id) {
            u.role = role;
        }
    }

    /// The admin who created the OAuth client: its tokens act as this user.
    pub fn oauth_user_id(&self) -> u64 {
        self.shared.oauth.user_id
    }

    /// From now on, Basic API-token credentials are refused (Zendesk's 2027-04-30), or accepted again.
    pub fn switch_off_api_tokens(&self, off: bool) {
        self.shared.oauth.api_tokens_off.store(off, std::sync::atomic::Ordering::SeqCst);
    }

    /// Access tokens minted from now on live at most `secs` sandbox seconds, whatever was asked.
    pub fn set_token_life(&self, secs: u64) {
        self.shared.oauth.max_life_secs.store(secs.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// Every access token is refused after `requests` requests (0: never): a token that
    /// expires in the middle of a pass.
    pub fn set_token_uses(&self, requests: u64) {
        self.shared.oauth.uses_per_token.store(requests, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on a mint while a token of the same scopes lives gives that token again (an
    /// OAuth server set to reuse access tokens), or always a new one.
    pub fn reuse_live_tokens(&self, reuse: bool) {
        self.shared.oauth.reuse_live_tokens.store(reuse, std::sync::atomic::Ordering::SeqCst);
    }

    /// The OAuth client's Allowed scopes (`None`: any scope): a token asked for others is refused.
    pub fn set_allowed_scopes(&self, scopes: Option<&[&str]>) {
        *self.shared.oauth.allowed_scopes.lock().unwrap() = scopes.map(|s| s.iter().map(|s| s.to_string()).collect());
    }

    /// How many access tokens were minted.
    pub fn tokens_minted(&self) -> u64 {
        self.shared.oauth.minted()
    }

    /// Every access token given so far stops working (an admin revoked them).
    pub fn revoke_tokens(&self) {
        self.shared.oauth.revoke_all();
    }

    pub fn add_organization(&self, name: &str) -> u64 {
        let now = self.now();
        self.store().add_organization(name, now)
    }

    /// An end user (a customer), optionally in an organization.
    pub fn add_user(&self, name: &str, email: &str, organization_id: Option<u64>) -> u64 {
        let now = self.now();
        self.store().add_user(name, email, organization_id, "end-user", now)
    }

    /// The description becomes the first public comment, by the requester. The ticket's
    /// organization is the requester's.
    pub fn add_ticket(&self, t: NewTicket) -> u64 {
        let now = self.now();
        let requester = t.requester_id;
        let mut store = self.store();
        let id = store.add_ticket(t, now);
        self.shared.deliver_created(&store, id, requester);
        id
    }

    /// Replace the tags, as an agent would in the web UI. Panics on an unknown ticket.
    pub fn set_tags(&self, id: u64, tags: &[&str]) {
        let now = self.now();
        let mut store = self.store();
        let before = self.shared.watch(&store, id);
        store.set_tags(id, tags, now);
        let agent = store.bot_user_id;
        self.shared.deliver_update(&store, id, before, agent);
    }

    /// Set the status, as an agent would in the web UI (closed tickets included).
    pub fn set_status(&self, id: u64, status: &str) {
        let now = self.now();
        let mut store = self.store();
        let before = self.shared.watch(&store, id);
        store.set_status(id, status, now);
        let agent = store.bot_user_id;
        self.shared.deliver_update(&store, id, before, agent);
    }

    /// A public comment by `author_id`, e.g. a customer reply. Returns the comment id.
    pub fn add_public_comment(&self, id: u64, author_id: u64, body: &str) -> u64 {
        let now = self.now();
        let mut store = self.store();
        let before = self.shared.watch(&store, id);
        let comment = store.add_public_comment(id, author_id, body, now);
        self.shared.deliver_update(&store, id, before, author_id);
        comment
    }

    pub fn ticket(&self, id: u64) -> Option<TicketView> {
        self.store().tickets.get(&id).map(TicketView::from)
    }

    /// The ticket's comments, oldest first; empty for an unknown ticket.
    pub fn comments(&self, id: u64) -> Vec<CommentView> {
        let store = self.store();
        let comments = store.tickets.get(&id).map(|t| t.comments.as_slice()).unwrap_or_default();
        comments.iter().map(CommentView::from).collect()
    }

    /// The account requires ticket field `field_id` (titled `title`) before solving: an update
    /// to `solved` of a ticket without it is refused with Zendesk's 422.
    pub fn require_field_to_solve(&self, field_id: u64, title: &str) {
        self.store().required_to_solve.push((field_id, title.to_string()));
    }

    /// Deletes a ticket, as an agent would (or a merge that removes it): from now on it answers
    /// 404, and the export shows it once more with the status `deleted`.
    pub fn delete_ticket(&self, id: u64) {
        let now = self.now();
        let mut store = self.store();
        let before = self.shared.watch(&store, id);
        let ticket = store.ticket_mut(id);
        ticket.status = "deleted".to_string();
        ticket.touch(now);
        let agent = store.bot_user_id;
        self.shared.deliver_update(&store, id, before, agent);
    }

    /// An agent merges ticket `source` into `target`: the source is closed with a note.
    pub fn merge_tickets(&self, source: u64, target: u64) {
        let now = self.now();
        let mut store = self.store();
        let agent = store.bot_user_id;
        let (before_source, before_target) = (self.shared.watch(&store, source), self.shared.watch(&store, target));
        store.merge(source, target, agent, now);
        self.shared.deliver_update(&store, target, before_target, agent);
        self.shared.deliver_update(&store, source, before_source, agent);
    }

    /// An agent fills in a custom field on a ticket: an empty field gets a placeholder value
    /// ("filled"), a filled one keeps its value. The ticket is not touched (use `set_field`
    /// for an edit the export should show).
    pub fn fill_field(&self, ticket: u64, field_id: u64) {
        let mut store = self.store();
        let ticket = store.ticket_mut(ticket);
        if !ticket.has_value(field_id) {
            ticket.custom_fields.insert(field_id, Some("filled".to_string()));
        }
    }

    /// Registers an active custom ticket field of Zendesk type `field_type` ("text",
    /// "textarea", "regexp", "tagger", "checkbox", "integer", …); returns its id. Every
    /// ticket then renders it in `custom_fields` (null until set).
    pub fn add_ticket_field(&self, field_type: &str, title: &str) -> u64 {
        let now = self.now();
        self.store().add_field(field_type, title, None, now)
    }

    /// Registers an active `regexp` field whose values must match `regexp`
    /// (`regexp_for_validation`); an update with a non-matching value is refused with 422.
    pub fn add_regexp_field(&self, title: &str, regexp: &str) -> u64 {
        let now = self.now();
        self.store().add_field("regexp", title, Some(regexp), now)
    }

    /// An agent edits custom field `field_id` of a ticket in the web UI (`None` or "" clears
    /// it): the value changes and the ticket is touched, so the export shows it again.
    /// Panics on an unknown ticket.
    pub fn set_field(&self, ticket: u64, field_id: u64, value: Option<&str>) {
        let now = self.now();
        let mut store = self.store();
        let before = self.shared.watch(&store, ticket);
        let id = ticket;
        let ticket = store.ticket_mut(id);
        let value = value.filter(|v| !v.is_empty()).map(str::to_string);
        ticket.custom_fields.insert(field_id, value);
        ticket.touch(now);
        let agent = store.bot_user_id;
        self.shared.deliver_update(&store, id, before, agent);
    }

    /// Models a trigger ("Ticket is Created" or "Ticket is Updated", "Notify webhook") or a
    /// ticket event webhook: every later ticket change, through the API or a helper, sends a
    /// delivery to `url` signed with `secret` (the body as `set_webhook_body_style` says).
    pub fn set_webhook(&self, url: &str, secret: &str) {
        self.shared.outbox.set(url, secret, &deliver::webhook_id());
    }

    /// Removes the webhook: later changes send nothing.
    pub fn clear_webhook(&self) {
        self.shared.outbox.clear();
    }

    /// The body of later deliveries (default: a trigger's `{"ticket_id": "<id>"}`).
    pub fn set_webhook_body_style(&self, style: ZendeskHookBody) {
        *self.shared.hook_body.lock().unwrap() = style;
    }

    /// While paused, deliveries are built and logged as lost (status `None`) but not sent.
    pub fn set_webhook_paused(&self, paused: bool) {
        self.shared.outbox.set_paused(paused);
    }

    /// Every ended delivery attempt, in the order they ended (a delivery is logged once its
    /// answer came or failed; poll until the count you expect is there).
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.shared.outbox.deliveries()
    }

    /// The ticket's value of custom field `field_id`; `None` when empty or the ticket is unknown.
    pub fn field_value(&self, ticket: u64, field_id: u64) -> Option<String> {
        self.store().tickets.get(&ticket).and_then(|t| t.custom_fields.get(&field_id).cloned().flatten())
    }

    /// The ticket's tags as stored (lower-cased, deduplicated), the same list as
    /// `ticket(id).tags`; empty for an unknown ticket.
    pub fn tags(&self, ticket: u64) -> Vec<String> {
        self.ticket(ticket).map(|t| t.tags).unwrap_or_default()
    }

    /// Counts `n` updates of ticket `id` against its per-ticket budget (30 per 10 minutes), as
    /// another integration or a busy agent would; the ticket itself does not change.
    pub fn use_ticket_updates(&self, id: u64, n: u32) {
        let now = self.now();
        let mut store = self.store();
        for _ in 0..n {
            let _ = store.limits.take_ticket_update(id, now);
        }
    }

    /// Counts `n` requests against the account's budget of this sandbox-clock minute (700), as
    /// other integrations of the account would.
    pub fn use_account_requests(&self, n: u32) {
        let now = self.now();
        let mut store = self.store();
        for _ in 0..n {
            let _ = store.limits.take_account(now);
        }
    }

    /// Counts `n` export calls against the account's export budget of this sandbox-clock
    /// minute, as another integration reading the export would.
    pub fn use_export_requests(&self, n: u32) {
        let now = self.now();
        let mut store = self.store();
        for _ in 0..n {
            let _ = store.limits.take_export(now);
        }
    }

    /// Incremental-export calls allowed per sandbox-clock minute; `None` lifts the limit.
    pub fn set_export_limit_per_minute(&self, limit: Option<u32>) {
        self.store().limits.export_limit = limit;
    }
}

impl Drop for FakeZendesk {
    fn drop(&mut self) {
        self.server.abort();
    }
}
