//! The fake Zendesk's in-memory account: users, organizations, tickets and their comments.
//!
//! Pure data and bookkeeping; no HTTP here. Every method takes `now` from the caller so the
//! sandbox clock stays the single source of time.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};

use super::fields::{Fields, TicketField, FIELD_TYPES};
use super::limits::Limits;
use super::NewTicket;

/// Ticket statuses the API accepts (`TicketObject.status`).
pub(super) const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];
/// Ticket priorities the API accepts (`TicketObject.priority`); null is also allowed.
pub(super) const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

/// Zendesk ids are 64-bit; starting users, comments and audits this high catches clients
/// that squeeze ids into 32 bits. Ticket ids stay small, as they are per-account sequences.
const FIRST_RECORD_ID: u64 = 33_144_692_244_499;

pub(super) struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub organization_id: Option<u64>,
    pub role: &'static str,
    pub created_at: DateTime<Utc>,
}

pub(super) struct Organization {
    pub id: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub(super) struct Attachment {
    pub id: u64,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

pub(super) struct Comment {
    pub id: u64,
    pub audit_id: u64,
    pub author_id: u64,
    /// The plain-text body (`body` and `plain_body` on the wire).
    pub body: String,
    pub html_body: String,
    pub public: bool,
    pub created_at: DateTime<Utc>,
    pub attachments: Vec<Attachment>,
    /// `via.channel`: "web" for seeded comments, "api" for comments made through the API.
    pub channel: &'static str,
}

pub(super) struct Ticket {
    pub id: u64,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: Option<String>,
    pub ticket_type: Option<String>,
    pub tags: Vec<String>,
    pub requester_id: u64,
    pub submitter_id: u64,
    pub organization_id: Option<u64>,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub generated_timestamp: i64,
    pub comments: Vec<Comment>,
    /// Custom field values by field id; `None` (or no entry) is an empty field.
    pub custom_fields: BTreeMap<u64, Option<String>>,
}

impl Ticket {
    /// Whether custom field `field_id` holds a non-empty value.
    pub fn has_value(&self, field_id: u64) -> bool {
        self.custom_fields.get(&field_id).is_some_and(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
    }

    /// Record a change: the export matches on `generated_timestamp`, so every change must
    /// move it, or the daemon would never see the ticket again.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = whole_seconds(now);
        self.generated_timestamp = self.updated_at.timestamp();
    }

    /// Position in the incremental export's order.
    pub fn export_key(&self) -> (i64, u64) {
        (self.generated_timestamp, self.id)
    }
}

/// A comment about to be added, already validated.
pub(super) struct CommentInput {
    pub author_id: u64,
    pub body: String,
    pub html_body: String,
    pub public: bool,
    pub attachments: Vec<(String, String)>,
    pub channel: &'static str,
}

pub(super) struct Store {
    next_id: u64,
    next_ticket_id: u64,
    pub bot_user_id: u64,
    pub users: BTreeMap<u64, User>,
    pub organizations: BTreeMap<u64, Organization>,
    pub tickets: BTreeMap<u64, Ticket>,
    pub limits: Limits,
    /// Ticket fields the account requires before a ticket may be solved: (field id, title).
    pub required_to_solve: Vec<(u64, String)>,
    /// The account's custom ticket fields.
    pub fields: Fields,
}

/// Zendesk timestamps have whole-second precision.
pub(super) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

/// Zendesk stores tags lower-cased, splits on whitespace and drops duplicates; a client that
/// matches tags by exact spelling must see the same normalisation here.
pub(super) fn normalize_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.into_iter().flat_map(str::split_whitespace) {
        let tag = tag.to_lowercase();
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

impl Store {
    pub fn new(bot_email: &str, now: DateTime<Utc>) -> Self {
        let mut store = Store {
            next_id: FIRST_RECORD_ID,
            next_ticket_id: 1,
            bot_user_id: 0,
            users: BTreeMap::new(),
            organizations: BTreeMap::new(),
            tickets: BTreeMap::new(),
            limits: Limits::default(),
            required_to_solve: Vec::new(),
            fields: Fields::new(),
        };
        let name = bot_email.split('@').next().unwrap_or("api").to_string();
        store.bot_user_id = store.add_user(&name, bot_email, None, "admin", now);
        store
    }

    /// A fresh id for any record but a ticket (users, comments, audits, events...).
    pub fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn add_organization(&mut self, name: &str, now: DateTime<Utc>) -> u64 {
        let id = self.alloc_id();
        let created_at = whole_seconds(now);
        let org = Organization { id, name: name.to_string(), created_at };
        self.organizations.insert(id, org);
        id
    }

    pub fn add_user(
        &mut self,
        name: &str,
        email: &str,
        organization_id: Option<u64>,
        role: &'static str,
        now: DateTime<Utc>,
    ) -> u64 {
        let id = self.alloc_id();
        let user = User {
            id,
            name: name.to_string(),
            email: email.to_lowercase(),
            organization_id,
            role,
            created_at: whole_seconds(now),
        };
        self.users.insert(id, user);
        id
    }

    /// Registers an active custom ticket field; returns its id.
    pub fn add_field(&mut self, field_type: &str, title: &str, regexp: Option<&str>, now: DateTime<Utc>) -> u64 {
        assert!(FIELD_TYPES.contains(&field_type), "sandbox: unknown Zendesk field type {field_type:?}");
        if let Some(pattern) = regexp {
            assert!(regex::Regex::new(pattern).is_ok(), "sandbox: invalid regexp_for_validation {pattern:?}");
        }
        let id = self.alloc_id();
        let field = TicketField {
            id,
            field_type: field_type.to_string(),
            title: title.to_string(),
            regexp: regexp.map(str::to_string),
            active: true,
            position: 9999 + self.fields.len() as u64,
            created_at: whole_seconds(now),
        };
        self.fields.insert(id, field);
        id
    }

    /// Create a ticket whose description is its first public comment, by the requester.
    pub fn add_ticket(&mut self, t: NewTicket, now: DateTime<Utc>) -> u64 {
        let id = t.id.unwrap_or(self.next_ticket_id);
        assert!(id > 0, "sandbox: Zendesk ticket ids start at 1");
        assert!(!self.tickets.contains_key(&id), "sandbox: ticket {id} already exists");
        self.next_ticket_id = self.next_ticket_id.max(id + 1);
        let stamp = whole_seconds(now);
        let organization_id = self.users.get(&t.requester_id).and_then(|u| u.organization_id);
        let ticket = Ticket {
            id,
            subject: t.subject,
            description: t.description.clone(),
            status: t.status,
            priority: t.priority,
            ticket_type: None,
            tags: normalize_tags(t.tags.iter().map(String::as_str)),
            requester_id: t.requester_id,
            submitter_id: t.requester_id,
            organization_id,
            external_id: None,
            created_at: stamp,
            updated_at: stamp,
            generated_timestamp: stamp.timestamp(),
            comments: Vec::new(),
            custom_fields: BTreeMap::new(),
        };
        self.tickets.insert(id, ticket);
        let first = CommentInput {
            author_id: t.requester_id,
            html_body: super::wire::text_to_html(&t.description),
            body: t.description,
            public: true,
            attachments: t.attachments,
            channel: "web",
        };
        let audit_id = self.alloc_id();
        self.push_comment(id, audit_id, first, now);
        id
    }

    /// Append a comment to an existing ticket and touch it. Returns the comment id.
    pub fn push_comment(&mut self, ticket_id: u64, audit_id: u64, input: CommentInput, now: DateTime<Utc>) -> u64 {
        let id = self.alloc_id();
        let attachments = input
            .attachments
            .into_iter()
            .map(|(file_name, content_type)| Attachment {
                id: self.alloc_id(),
                // A stable made-up size: the sandbox stores no file content.
                size: 1024 + 17 * file_name.len() as u64,
                file_name,
                content_type,
            })
            .collect();
        let comment = Comment {
            id,
            audit_id,
            author_id: input.author_id,
            body: input.body,
            html_body: input.html_body,
            public: input.public,
            created_at: whole_seconds(now),
            attachments,
            channel: input.channel,
        };
        let ticket = self.ticket_mut(ticket_id);
        ticket.comments.push(comment);
        ticket.touch(now);
        id
    }

    /// The ticket, for seeding helpers; an unknown id is a bug in the calling test.
    /// A ticket that was not deleted: deleted ones answer 404 everywhere but in the export,
    /// which shows them once more with the status `deleted`.
    pub fn live_ticket(&self, id: u64) -> Option<&Ticket> {
        self.tickets.get(&id).filter(|t| t.status != "deleted")
    }

    pub fn ticket_mut(&mut self, id: u64) -> &mut Ticket {
        self.tickets.get_mut(&id).unwrap_or_else(|| panic!("sandbox: no Zendesk ticket {id}"))
    }

    pub fn set_tags(&mut self, id: u64, tags: &[&str], now: DateTime<Utc>) {
        let ticket = self.ticket_mut(id);
        ticket.tags = normalize_tags(tags.iter().copied());
        ticket.touch(now);
    }

    pub fn set_status(&mut self, id: u64, status: &str, now: DateTime<Utc>) {
        assert!(STATUSES.contains(&status), "sandbox: invalid Zendesk status {status:?}");
        let ticket = self.ticket_mut(id);
        ticket.status = status.to_string();
        ticket.touch(now);
    }

    /// A public comment by `author_id` (for example a customer reply), made in the web UI.
    pub fn add_public_comment(&mut self, id: u64, author_id: u64, body: &str, now: DateTime<Utc>) -> u64 {
        let input = CommentInput {
            author_id,
            body: body.to_string(),
            html_body: super::wire::text_to_html(body),
            public: true,
            attachments: Vec::new(),
            channel: "web",
        };
        let audit_id = self.alloc_id();
        self.push_comment(id, audit_id, input, now)
    }

    /// Merges ticket `source` into `target`, as an agent does in the web UI: each gets an
    /// internal note saying so, and the source is closed (so it takes no more updates).
    pub fn merge(&mut self, source: u64, target: u64, agent_id: u64, now: DateTime<Utc>) {
        for (ticket, text) in [
            (target, format!("Request #{source} was closed and merged into this request.")),
            (source, format!("This request was closed and merged into request #{target}.")),
        ] {
            let input = CommentInput {
                author_id: agent_id,
                html_body: super::wire::text_to_html(&text),
                body: text,
                public: false,
                attachments: Vec::new(),
                channel: "web",
            };
            let audit_id = self.alloc_id();
            self.push_comment(ticket, audit_id, input, now);
        }
        self.set_status(source, "closed", now);
    }
}
