//! The Zendesk client: the incremental ticket export, ticket comments, and ticket updates (notes and status).

mod auth;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;

pub use auth::Grant;
use auth::{Auth, OAuthSession};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method;
use tracing::debug;
use url::Url;

use crate::http::{self, ApiError, ApiStats};

use crate::limits::Target;
use crate::ratelimit::RollingWindow;
use crate::secret::{Secret, ZendeskCredential};
use ticket_sync_core::clock;
use ticket_sync_core::domain::Service;
use ticket_sync_core::domain::UserId;
use ticket_sync_core::domain::ZendeskClock;
use ticket_sync_core::domain::{Attachment, FieldId, Ticket, TicketCommentId, TicketId, TicketStatus, TicketUpdate};
use ticket_sync_core::domain::{Endpoint, Scope};

const SVC: Service = Service::Zendesk;
const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
/// Comments per page (Zendesk's most for cursor pages).
const PAGE: usize = 100;

/// Where an export read starts: a time for the very first poll, the stored cursor afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFrom {
    StartTime(i64),
    Cursor(String),
}

/// One page of the incremental export, in domain terms.
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub tickets: Vec<Ticket>,
    /// Tickets on the page that could not be understood, with the reason; they fail alone.
    pub rejected: Vec<(Option<TicketId>, String)>,
    pub after_cursor: Option<String>,
    pub end_of_stream: bool,
}

/// A comment on a ticket, as pushback and forwarding need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketComment {
    pub id: TicketCommentId,
    pub author_id: Option<UserId>,
    /// The author's name, when the comments were read with their authors.
    pub author_name: Option<String>,
    pub body: String,
    pub public: bool,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A place in a ticket's comments where one comment was skipped: over the body cap even alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The id of the readable comment just older than the skipped one; `None` when it was the oldest.
    pub older: Option<TicketCommentId>,
}

/// What one read of a ticket's comments returned.
struct CommentRead {
    comments: Vec<wire::WireComment>,
    /// Authors' names by user id, when read with `include_users`.
    names: HashMap<u64, String>,
    gaps: Vec<Gap>,
    /// The read reached its stop mark or the end of the comments; false when it stopped at
    /// its page limit first (more comments than it reads at once lie between).
    complete: bool,
}

/// A ticket's comments newer than a mark, as forwarding reads them.
#[derive(Debug, Clone, Default)]
pub struct NewComments {
    /// Oldest first, with their authors' names.
    pub comments: Vec<TicketComment>,
    /// Where a comment too large to read was stepped over.
    pub gaps: Vec<Gap>,
    /// False when more comments came since the mark than one read takes: the oldest of them
    /// were not read.
    pub complete: bool,
}

/// A ticket's comments as a new escalation reads them (`ZendeskClient::attachments`).
#[derive(Debug, Clone, Default)]
pub struct CommentScan {
    pub attachments: Vec<Attachment>,
    /// Internal notes, oldest first.
    pub internal_notes: Vec<TicketComment>,
    /// Every page read was full: the ticket has more comments than were read.
    pub read_all_pages: bool,
    /// Comments skipped because each alone is over the body cap.
    pub unreadable: usize,
}

#[derive(Clone)]
pub struct ZendeskClient {
    base: Url,
    auth: Arc<Auth>,
    http: reqwest::Client,
    stats: Arc<ApiStats>,
    /// Zendesk's export allows 10 requests a minute (30 with High Volume); its answers name
    /// that budget (`zendesk-ratelimit-incremental-exports`), and this pace keeps ticket-sync
    /// under it before any refusal. The window lives in `stats`, so a new client (a reload)
    /// keeps its history.
    export_window: Arc<RollingWindow>,
}

impl ZendeskClient {
    /// A client that paces the incremental export to `export_per_minute` requests in any
    /// rolling minute (Zendesk's limit is 10, or 30 with the High Volume add-on), counting what
    /// earlier clients sharing `stats` sent.
    pub fn new(
        base: Url,
        credential: &ZendeskCredential,
        export_per_minute: u32,
        http: reqwest::Client,
        stats: Arc<ApiStats>,
    ) -> Self {
        ZendeskClient {
            base,
            auth: Arc::new(Auth::new(credential)),
            http,
            export_window: stats.limits.window("zendesk incremental export", export_per_minute, MINUTE),
            stats,
        }
    }

    fn url(&self, path: &str) -> Url {
        http::join_path(&self.base, path)
    }

    /// Zendesk's clock now, as its last `Date` header tells (the host's until one was read).
    fn zendesk_now(&self) -> chrono::DateTime<chrono::Utc> {
        // Before Zendesk's first answer, the host's time: a token is renewed five minutes
        // before its expiry, which absorbs usual skew, and the token's own answer gives
        // Zendesk's clock.
        self.stats.service_now::<ZendeskClock>().utc()
    }

    /// `oauth` or `api_token`.
    pub fn auth_mode(&self) -> &'static str {
        match &*self.auth {
            Auth::Basic(_) => "api_token",
            Auth::OAuth(_) => "oauth",
        }
    }

    /// What the last OAuth token granted (`None` with an API token or before the first mint).
    pub fn oauth_grant(&self) -> Option<Grant> {
        match &*self.auth {
            Auth::OAuth(session) => session.granted(),
            Auth::Basic(_) => None,
        }
    }

    /// The `Authorization` value for the next request: the API token, or an access token held
    /// or minted now (one mint at a time; the others wait for it).
    async fn authorization(&self) -> Result<HeaderValue, ApiError> {
        let session = match &*self.auth {
            Auth::Basic(header) => return Ok(header.clone()),
            Auth::OAuth(session) => session,
        };
        if let Some(held) = session.token(self.zendesk_now()) {
            return Ok(held);
        }
        let _one_at_a_time = session.minting.lock().await;
        if let Some(held) = session.token(self.zendesk_now()) {
            return Ok(held);
        }
        session.drop_due(self.zendesk_now());
        self.mint(session).await
    }

    /// `POST /oauth/tokens` (client credentials). A refused client is a credentials error that
    /// names `client_id` and where the secret came from; anything else is classified as usual.
    async fn mint(&self, session: &OAuthSession) -> Result<HeaderValue, ApiError> {
        let client = &session.client;
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret.expose(),
            "scope": client.scopes.join(" "),
            "expires_in": auth::ASKED_LIFE_SECS,
        });
        debug!(client_id = %client.client_id, "minting a Zendesk OAuth access token");
        // Zendesk's clock as the API's answers told it so far: a token is timed on the clock
        // its requests are checked on. A token endpoint whose `Date` is hours off the API's
        // (another host, a proxy) would otherwise make every token look lapsed to the next
        // request. Before any answer, the token endpoint's own `Date` is all there is.
        let host_before = clock::now();
        let known_offset = self.stats.service_time::<ZendeskClock>(host_before).map(|t| t.utc() - host_before);
        let req = self.http.post(self.url("/oauth/tokens")).json(&body);
        let (status, headers, bytes) = match http::execute(&self.stats, &Target::service(SVC), req).await {
            // An answer too large to read (past the body cap) holds no token either: the next
            // mint would meet the same, so it stops the pass like any unusable answer.
            Err(e @ (ApiError::Decode { .. } | ApiError::TooLarge { .. })) => {
                return Err(unusable_answer(200, &format!("its answer could not be read: {e}")))
            }
            other => other?,
        };
        if !status.is_success() {
            let refusal = http::decode::<wire::OAuthError>(SVC, &bytes).ok().and_then(|e| e.refusal());
            return Err(match refusal {
                Some((code, description)) => ApiError::Unauthorized {
                    service: SVC,
                    status: status.as_u16(),
                    detail: Some(refused_client(client, &code, description.as_deref())),
                },
                None if status.as_u16() == 401 => ApiError::Unauthorized {
                    service: SVC,
                    status: 401,
                    detail: Some(refused_client(client, "401", None)),
                },
                None => match http::status_error(SVC, status, &headers, &bytes) {
                    // A passing failure, a limit, or the account's refusal (an IP allowlist):
                    // each is what it says.
                    e @ (ApiError::Transient { .. } | ApiError::RateLimited { .. } | ApiError::Forbidden { .. }) => e,
                    // A redirect (a sign-in page, a moved account), a 404 or 405, a 400 that is
                    // no OAuth refusal: this is not answering as a token endpoint, and every
                    // mint would meet the same.
                    other => unusable_answer(status.as_u16(), &other.to_string()),
                },
            });
        }
        let unusable = |why: &str| unusable_answer(status.as_u16(), why);
        let Ok(answer) = http::decode::<wire::TokenAnswer>(SVC, &bytes) else {
            return Err(unusable("its body is not a token answer"));
        };
        let token = match answer.access_token.as_ref().map(|t| t.as_str().map(str::trim)) {
            None | Some(Some("")) => return Err(unusable("no access_token")),
            Some(None) => return Err(unusable("its access_token is not a string")),
            Some(Some(token)) => token,
        };
        if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(unusable("its access_token holds characters no header may carry"));
        }
        let token = Secret::new(token);
        let expires_in = answer.expires_in.filter(|s| *s > 0);
        debug!(?expires_in, scope = answer.scope.as_deref().unwrap_or(""), "minted a Zendesk access token");
        let now = known_offset.map_or_else(|| self.zendesk_now(), |offset| clock::now() + offset);
        Ok(session.store(token, expires_in, answer.scope.as_deref(), now))
    }

    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        target: &Target,
    ) -> Result<bytes::Bytes, ApiError> {
        debug!(%method, path = url.path(), "zendesk request");
        let about_a_ticket = url.path().contains("/api/v2/tickets/");
        let mut renewed = false;
        loop {
            let authorization = self.authorization().await?;
            let mut req = self.http.request(method.clone(), url.clone()).header(AUTHORIZATION, authorization.clone());
            if let Some(b) = body {
                req = req.json(b);
            }
            let (status, headers, bytes) = http::execute(&self.stats, target, req).await?;
            if let (401, Auth::OAuth(session), false) = (status.as_u16(), &*self.auth, renewed) {
                // An access token Zendesk no longer takes (expired early, revoked): minted anew
                // once before the request counts as failed. A 401 carried nothing out.
                debug!("Zendesk refused the access token; minting a new one");
                session.drop_token(&authorization);
                renewed = true;
                continue;
            }
            if !status.is_success() {
                let e = classify(http::status_error(SVC, status, &headers, &bytes), &bytes, about_a_ticket);
                return Err(self.confirm_role_refusal(e, &bytes, about_a_ticket).await);
            }
            return Ok(bytes);
        }
    }

    /// A 403 about one ticket in the words of Zendesk's role-or-plan refusal is the account's
    /// only if the account says so: those words are the only 403 body ever captured, so a
    /// ticket the user may not see (another brand, a restricted group) may well get them too,
    /// and one such ticket must not stop every pass at it. `users/me` naming an admin means the
    /// refusal was that ticket's; a user no longer an admin (or no answer) keeps it the
    /// account's. A refusal for missing scopes is the token's, whatever it was about.
    async fn confirm_role_refusal(&self, e: ApiError, body: &[u8], about_a_ticket: bool) -> ApiError {
        let ApiError::Forbidden { service, scope: http::ForbiddenScope::Account, detail } = e else { return e };
        let Some(AccountRefusal::RoleOrPlan(said)) = account_refusal(body).filter(|_| about_a_ticket) else {
            return ApiError::Forbidden { service, scope: http::ForbiddenScope::Account, detail };
        };
        if self.still_an_admin().await {
            let detail = format!("Zendesk refused this ticket to ticket-sync's user, an admin ({said})");
            return ApiError::Forbidden { service, scope: http::ForbiddenScope::Ticket, detail };
        }
        ApiError::Forbidden { service, scope: http::ForbiddenScope::Account, detail }
    }

    /// Whether `users/me` answers with an admin (one request, no retry on a 401).
    async fn still_an_admin(&self) -> bool {
        let Ok(authorization) = self.authorization().await else { return false };
        let req = self.http.get(self.url("/api/v2/users/me.json")).header(AUTHORIZATION, authorization);
        match http::execute(&self.stats, &Target::service(SVC), req).await {
            Ok((status, _, bytes)) if status.is_success() => http::decode::<wire::UserEnvelope>(SVC, &bytes)
                .is_ok_and(|me| me.user.id.is_some_and(|id| id != 0) && me.user.role.as_deref() == Some("admin")),
            _ => false,
        }
    }

    /// Reads one page of the cursor-based incremental ticket export, with organisations side-loaded.
    pub async fn export_page(&self, from: &ExportFrom) -> Result<ExportPage, ApiError> {
        self.export_window
            .acquire(http::MAX_INLINE_WAIT)
            .await
            .map_err(|wait| ApiError::limited(SVC, Scope::Endpoint(Endpoint::IncrementalExports), wait))?;
        let mut url = self.url("/api/v2/incremental/tickets/cursor.json");
        {
            let mut q = url.query_pairs_mut();
            match from {
                ExportFrom::StartTime(t) => q.append_pair("start_time", &t.to_string()),
                ExportFrom::Cursor(c) => q.append_pair("cursor", c),
            };
            q.append_pair("include", "organizations");
        }
        let bytes =
            self.call(Method::GET, url, None, &Target::silent_endpoint(SVC, Endpoint::IncrementalExports)).await?;
        let page: wire::ExportPage = http::decode(SVC, &bytes)?;
        Ok(to_domain_page(page))
    }

    /// One ticket as it is now, with its organisation side-loaded: what a webhook delivery
    /// names is read directly, because the export shows a change only a minute later.
    pub async fn show_ticket(&self, id: TicketId) -> Result<Ticket, ApiError> {
        let mut url = self.url(&format!("/api/v2/tickets/{id}.json"));
        url.query_pairs_mut().append_pair("include", "organizations");
        let bytes = self.call(Method::GET, url, None, &Target::ticket_read(SVC, Endpoint::TicketsShow, id)).await?;
        let shown: wire::ShowTicket = http::decode(SVC, &bytes)?;
        // Read exactly as an export page's ticket is, side-loaded organisation included.
        let page = wire::ExportPage {
            tickets: vec![shown.ticket],
            after_cursor: None,
            end_of_stream: true,
            organizations: shown.organizations,
        };
        let mut page = to_domain_page(page);
        match (page.tickets.pop(), page.rejected.pop()) {
            (Some(ticket), _) => Ok(ticket),
            (None, rejected) => Err(ApiError::Decode {
                service: SVC,
                detail: rejected.map_or_else(|| format!("ticket {id} could not be read"), |(_, why)| why),
            }),
        }
    }

    /// What a new escalation needs from the ticket's comments, in one read: links to the
    /// attached files (the description's first) and the internal notes, where a link note an
    /// earlier escalation wrote would be (a lost or restored database).
    pub async fn attachments(&self, id: TicketId) -> Result<CommentScan, ApiError> {
        const PAGES: usize = 3;
        let mut scan = CommentScan::default();
        let read = self.comments_raw(id, false, false, PAGES, None).await?;
        scan.read_all_pages = read.comments.len() >= PAGES * 100;
        scan.unreadable = read.gaps.len();
        for mut comment in read.comments {
            for a in std::mem::take(&mut comment.attachments) {
                if let (Some(name), Some(url)) = (a.file_name, a.content_url) {
                    scan.attachments.push(Attachment { file_name: name, url });
                }
            }
            if !comment.public {
                scan.internal_notes.push(to_comment(comment, &HashMap::new()));
            }
        }
        Ok(scan)
    }

    /// The ticket's comments, newest first, up to `max_pages` pages of 100.
    pub async fn recent_comments(&self, id: TicketId, max_pages: usize) -> Result<Vec<TicketComment>, ApiError> {
        let read = self.comments_raw(id, true, false, max_pages, None).await?;
        Ok(read.comments.into_iter().map(|c| to_comment(c, &HashMap::new())).collect())
    }

    /// The ticket's comments newer than `after` (all of the newest pages when `None`), oldest
    /// first, with their authors' names, and where a comment too large to read was skipped.
    /// Read newest first, so a ticket with thousands of comments costs the pages of its new
    /// ones, not of its history.
    pub async fn comments_with_authors(
        &self,
        id: TicketId,
        after: Option<TicketCommentId>,
        max_pages: usize,
    ) -> Result<NewComments, ApiError> {
        let read = self.comments_raw(id, true, true, max_pages, after).await?;
        let mut out: Vec<TicketComment> = read.comments.into_iter().map(|c| to_comment(c, &read.names)).collect();
        out.sort_by_key(|c| c.id);
        Ok(NewComments { comments: out, gaps: read.gaps, complete: read.complete })
    }

    /// Comments and, with `include_users`, the names of their authors by user id.
    ///
    /// Up to `max_pages` pages' worth of comments. A page over the body cap (comments made huge
    /// by their HTML, say) is read again from the same place in pages of 10, then of 1, for the
    /// next 100 comments, then back to 100. A comment over the cap even alone is skipped: the
    /// rest is read with offset pages from the next position (cursors are opaque, so only an
    /// offset can step over a record never read), and the place is reported as a `Gap`. One
    /// huge comment never makes its ticket unreadable for good.
    async fn comments_raw(
        &self,
        id: TicketId,
        newest_first: bool,
        include_users: bool,
        max_pages: usize,
        stop_at: Option<TicketCommentId>,
    ) -> Result<CommentRead, ApiError> {
        let limit = max_pages * PAGE;
        let mut out: Vec<wire::WireComment> = Vec::new();
        let mut names = HashMap::new();
        // Where the next page starts: a cursor, or (after a skipped comment) a record position.
        let mut after: Option<String> = None;
        let mut offset: Option<usize> = None;
        // Records passed in the requested order from the first: read, and skipped.
        let mut position = 0;
        // Where in `out` a comment was skipped.
        let mut skipped_at: Vec<usize> = Vec::new();
        let mut size = PAGE;
        let mut small_left = 0;
        let mut requests = 0;
        let mut complete = false;
        while out.len() < limit && requests < max_pages * (PAGE + 1) {
            requests += 1;
            let mut url = self.url(&format!("/api/v2/tickets/{id}/comments.json"));
            {
                let mut q = url.query_pairs_mut();
                match offset {
                    None => {
                        q.append_pair("page[size]", &size.to_string());
                        if newest_first {
                            q.append_pair("sort", "-created_at");
                        }
                        if let Some(a) = &after {
                            q.append_pair("page[after]", a);
                        }
                    }
                    Some(at) => {
                        q.append_pair("page", &(at / size + 1).to_string());
                        q.append_pair("per_page", &size.to_string());
                        if newest_first {
                            q.append_pair("sort_order", "desc");
                        }
                    }
                }
                if include_users {
                    q.append_pair("include", "users");
                }
            }
            let bytes = match self.call(Method::GET, url, None, &Target::service(SVC)).await {
                Err(ApiError::TooLarge { .. }) if size > 1 => {
                    size = if size > 10 { 10 } else { 1 };
                    small_left = PAGE;
                    debug!(ticket_id = id.0, size, "a comments page is over the body cap; reading smaller pages");
                    continue;
                }
                Err(ApiError::TooLarge { cap, .. }) => {
                    tracing::warn!(
                        ticket_id = id.0,
                        position,
                        cap,
                        "a comment is over the body cap even on its own; it is skipped"
                    );
                    skipped_at.push(out.len());
                    position += 1;
                    offset = Some(position);
                    continue;
                }
                other => other?,
            };
            let page: wire::CommentsPage = http::decode(SVC, &bytes)?;
            // An offset page starting before `position` (a larger page than the step) repeats
            // records already passed; they are dropped.
            let repeated = offset.map_or(0, |at| at % size);
            let read = page.comments.len().saturating_sub(repeated);
            let fresh = page.comments.into_iter().skip(repeated);
            let reached = {
                let fresh: Vec<_> = fresh.collect();
                let reached = stop_at.is_some_and(|s| fresh.iter().any(|c| c.id <= s.0));
                out.extend(fresh);
                reached
            };
            position += read;
            // The page holding the stop mark also names the authors of its new comments.
            names.extend(page.users.into_iter().filter_map(|u| Some((u.id, u.name?))));
            if reached {
                complete = true;
                break;
            }
            if size < PAGE {
                small_left = small_left.saturating_sub(read.max(1));
                if small_left == 0 {
                    size = PAGE;
                }
            }
            let more = match (&offset, page.meta) {
                (Some(_), _) => page.next_page.is_some() && read > 0,
                (None, Some(m)) if m.has_more && m.after_cursor.is_some() => {
                    after = m.after_cursor;
                    true
                }
                (None, _) => false,
            };
            if !more {
                complete = true;
                break;
            }
            if offset.is_some() {
                offset = Some(position);
            }
        }
        // The comment older than each skipped one, by id (offset pages may repeat a comment
        // when one is added meanwhile, which the dedup below also removes).
        let gaps = skipped_at
            .iter()
            .map(|&at| Gap {
                older: if newest_first { out.get(at) } else { at.checked_sub(1).and_then(|i| out.get(i)) }
                    .map(|c| TicketCommentId(c.id)),
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.id));
        Ok(CommentRead { comments: out, names, gaps, complete })
    }

    /// Adds one comment (an internal note unless `public`) with what changes along with it
    /// (status, a custom field), in one update.
    /// Returns the new comment's id when the audit reports it.
    pub async fn update_ticket(
        &self,
        id: TicketId,
        update: &TicketUpdate<'_>,
    ) -> Result<Option<TicketCommentId>, ApiError> {
        let mut ticket = serde_json::json!({ "comment": { "body": update.note, "public": update.public } });
        if let Some(s) = update.status {
            ticket["status"] = serde_json::Value::String(s.to_string());
        }
        if let Some((field, value)) = update.field {
            ticket["custom_fields"] = serde_json::json!([{ "id": field.0, "value": value }]);
        }
        // Tags are never sent here: on a single ticket's update `tags` replaces the whole list
        // and `additional_tags` / `remove_tags` are dropped (they work only on bulk updates);
        // `change_tags` adds and removes them through the Tags endpoints.
        let body = serde_json::json!({ "ticket": ticket });
        let url = self.url(&format!("/api/v2/tickets/{id}.json"));
        let bytes = self.call(Method::PUT, url, Some(&body), &Target::ticket(SVC, Endpoint::TicketsUpdate, id)).await?;
        let resp: wire::UpdateResponse = http::decode(SVC, &bytes)?;
        let comment_id = resp
            .audit
            .into_iter()
            .flat_map(|a| a.events)
            .find(|e| e.kind.as_deref() == Some("Comment"))
            .and_then(|e| e.id)
            .map(TicketCommentId);
        debug!(ticket_id = resp.ticket.id, status = ?resp.ticket.status, "ticket updated");
        Ok(comment_id)
    }

    /// Adds `add` and removes `remove` from the ticket's tags, leaving every other tag as it is
    /// (an agent's tags set meanwhile included): `PUT /api/v2/tickets/{id}/tags` adds, `DELETE`
    /// with the same body removes. Both are deltas, so sending one again changes nothing, and
    /// no `safe_update` is needed: there is no list to collide with.
    ///
    /// FACTS (Zendesk OpenAPI, PutTagsTicket / DeleteTagsTicket; "Adding tags to tickets
    /// without overwriting existing tags"): `PUT` answers 200 `{tags}`, `DELETE` 204; neither
    /// works on a closed ticket. ASSUMED: both count as updates of the ticket (its per-ticket
    /// limit). How they refuse a closed ticket is not captured: the update's words are
    /// `TicketClosed` at once, and any other 422 is checked against the ticket (one read).
    pub async fn change_tags(&self, id: TicketId, add: &[&str], remove: &[&str]) -> Result<(), ApiError> {
        match self.change_tags_once(id, add, remove).await {
            // The Tags endpoints' refusal of a closed ticket is documented, its body is not:
            // a 422 in other words than the update's is checked against the ticket itself.
            Err(ApiError::Api { status: 422, service, body }) => match self.show_ticket(id).await {
                Ok(ticket) if ticket.status == TicketStatus::Closed => Err(ApiError::TicketClosed { service }),
                Err(ApiError::TicketDeleted { service }) => Err(ApiError::TicketDeleted { service }),
                _ => Err(ApiError::Api { status: 422, service, body }),
            },
            other => other,
        }
    }

    async fn change_tags_once(&self, id: TicketId, add: &[&str], remove: &[&str]) -> Result<(), ApiError> {
        let url = self.url(&format!("/api/v2/tickets/{id}/tags.json"));
        let target = Target::ticket(SVC, Endpoint::TicketsUpdate, id);
        if !add.is_empty() {
            let body = serde_json::json!({ "tags": add });
            self.call(Method::PUT, url.clone(), Some(&body), &target).await?;
        }
        if !remove.is_empty() {
            // The docs' curl sends the list in a JSON body; a newer route table names a `tags`
            // query; a proxy may strip a `DELETE`'s body. Both carry the same list (Zendesk
            // tags hold no commas), so either form removes exactly these tags.
            let body = serde_json::json!({ "tags": remove });
            let mut url = url;
            url.query_pairs_mut().append_pair("tags", &remove.join(","));
            self.call(Method::DELETE, url, Some(&body), &target).await?;
        }
        Ok(())
    }

    /// Checks the credentials; returns the API user's id and role.
    pub async fn whoami(&self) -> Result<(UserId, Option<String>), ApiError> {
        let bytes = self.call(Method::GET, self.url("/api/v2/users/me.json"), None, &Target::service(SVC)).await?;
        let env: wire::UserEnvelope = http::decode(SVC, &bytes)?;
        // An unauthenticated call to users/me answers 200 with an anonymous user: `id: null`
        // (FACTS), and no e-mail.
        match env.user.id.filter(|id| *id != 0) {
            Some(id) if env.user.email.is_some() => Ok((UserId(id), env.user.role)),
            _ => Err(ApiError::Unauthorized {
                service: SVC,
                status: 200,
                detail: Some("Zendesk answered as an anonymous user: the credentials were not accepted".into()),
            }),
        }
    }

    /// One ticket field's type and title (`check --online` for `[linking] field_id`); `None`
    /// when the account has no such field.
    pub async fn ticket_field(&self, id: FieldId) -> Result<Option<TicketField>, ApiError> {
        let url = self.url(&format!("/api/v2/ticket_fields/{id}.json"));
        match self.call(Method::GET, url, None, &Target::service(SVC)).await {
            Ok(bytes) => {
                let f: wire::TicketFieldResponse = http::decode(SVC, &bytes)?;
                Ok(Some(TicketField {
                    id: FieldId(f.ticket_field.id),
                    kind: f.ticket_field.kind.unwrap_or_default(),
                    title: f.ticket_field.title.unwrap_or_default(),
                    active: f.ticket_field.active.unwrap_or(true),
                }))
            }
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A token endpoint's answer (with `status`) without a token Zendesk's API would take. It is
/// every request's problem, not one ticket's: it stops the pass (as a refusal does) instead of
/// failing each ticket with a mint of its own, and the next pass asks again.
fn unusable_answer(status: u16, why: &str) -> ApiError {
    ApiError::Unauthorized {
        service: SVC,
        status,
        detail: Some(format!(
            "Zendesk's token endpoint answered without a usable access token ({why}); check that zendesk.url is \
             the account's https://SUBDOMAIN.zendesk.com — the next pass asks again"
        )),
    }
}

/// What to tell the operator when Zendesk refuses the OAuth client: what the refusal says is
/// wrong (the scopes, the client's kind, or its id and secret), never a hunt for the others.
fn refused_client(client: &crate::secret::OAuthClient, code: &str, description: Option<&str>) -> String {
    let said = description.map(|d| format!(": {}", crate::secret::scrub(d))).unwrap_or_default();
    let id = &client.client_id;
    match code {
        "invalid_scope" => format!(
            "Zendesk refused the scopes `{}` for the OAuth client `{id}` ({code}{said}); allow them on the client \
             (Admin Center → Apps and integrations → APIs → OAuth clients, Allowed scopes), or set zendesk.scopes to \
             scopes it allows (leave it out for the default, {})",
            client.scopes.join(" "),
            ticket_sync_core::rules::DEFAULT_ZENDESK_SCOPES.join(" ")
        ),
        "unauthorized_client" | "unsupported_grant_type" => format!(
            "Zendesk does not let the OAuth client `{id}` use client credentials ({code}{said}); it must be of kind \
             confidential (Admin Center → Apps and integrations → APIs → OAuth clients): create a confidential client \
             and set zendesk.client_id to its Identifier"
        ),
        _ => format!(
            "Zendesk refused the OAuth client `{id}` ({code}{said}); check zendesk.client_id (the client's Identifier \
             in Admin Center → Apps and integrations → APIs → OAuth clients, of kind confidential) and the client \
             secret from the {}",
            client.secret_source
        ),
    }
}

/// A Zendesk ticket field, as `check --online` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketField {
    pub id: FieldId,
    /// Zendesk's type name: `text`, `regexp`, `tagger`, …
    pub kind: String,
    pub title: String,
    pub active: bool,
}

/// Narrows a generic error by what Zendesk's body says (FACTS.md, "Error bodies", "Ticket
/// status"): a 403 is the ticket's unless its body says the role, the plan or the token's
/// scopes forbid it (then it is the account's: every ticket would meet it); a 409 is a passing
/// collision; a closed ticket refuses any update; a status can be refused when the account
/// requires fields before solving (`details.base[… "is required when solving a ticket"]`).
fn classify(e: ApiError, body: &[u8], about_a_ticket: bool) -> ApiError {
    match e {
        // A deleted ticket answers `404 {"error":"RecordNotFound"}` on every ticket endpoint
        // (FACTS.md, "Error bodies"); any other 404 (a wrong URL) is left as it is.
        ApiError::NotFound { service, detail } => {
            let record_not_found = http::decode::<wire::ErrorBody>(SVC, body)
                .ok()
                .and_then(|b| b.error)
                .is_some_and(|e| e == "RecordNotFound");
            if about_a_ticket && record_not_found {
                ApiError::TicketDeleted { service }
            } else {
                ApiError::NotFound { service, detail }
            }
        }
        ApiError::Forbidden { service, detail, .. } => match account_refusal(body) {
            Some(why) => ApiError::Forbidden { service, scope: http::ForbiddenScope::Account, detail: why.explained() },
            None => ApiError::Forbidden { service, scope: http::ForbiddenScope::Ticket, detail },
        },
        // `409 {"error":"DatabaseConflict","description":"Database collision"}` answers an
        // update that collided with another (FACTS, api-facts.md "another real 409"): sent
        // again, it goes through. ticket-sync sends no `safe_update`, so no 409 is a stale
        // stamp; a write it may have made is looked for before it is sent again.
        ApiError::Api { status: 409, service, body: text } => {
            ApiError::Transient { service, detail: format!("409 Conflict: {text}") }
        }
        ApiError::Api { status: 422, service, body: text } => {
            let Some(err) = http::decode::<wire::ErrorBody>(SVC, body).ok() else {
                return ApiError::Api { status: 422, service, body: text };
            };
            let details = err.details.unwrap_or_default();
            let said = |field: &str| -> Vec<String> {
                details.get(field).into_iter().flatten().filter_map(|d| d.description.clone()).collect()
            };
            if said("status").iter().any(|d| d.contains("closed prevents ticket update")) {
                return ApiError::TicketClosed { service };
            }
            let required: Vec<String> =
                said("base").into_iter().filter(|d| d.contains("is required when solving")).collect();
            if !required.is_empty() {
                return ApiError::StatusRefused { service, fields: required };
            }
            ApiError::Api { status: 422, service, body: text }
        }
        other => other,
    }
}

/// An account-wide 403, by what Zendesk says forbids it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AccountRefusal {
    /// The token lacks these scopes (space-separated as Zendesk lists them).
    Scopes(String),
    /// The role of ticket-sync's user or the plan: Zendesk's own message.
    RoleOrPlan(String),
}

impl AccountRefusal {
    /// In words for the operator.
    fn explained(&self) -> String {
        match self {
            AccountRefusal::Scopes(scopes) => format!(
                "the OAuth token lacks the scope(s) {scopes}: add them to zendesk.scopes (or leave scopes out for the \
                 default) and allow them on the OAuth client"
            ),
            AccountRefusal::RoleOrPlan(message) => format!(
                "Zendesk says the role of ticket-sync's user or the account's plan does not allow this ({message}); \
                 the user that owns the credentials (the OAuth client's creator) must be an admin"
            ),
        }
    }
}

/// What an account-wide 403 says; `None` for any other 403.
///
/// FACTS (real bodies): a role or plan that may not use an endpoint answers
/// `{"error":{"title":"Forbidden","message":"You do not have access to this page. Please contact
/// the account owner of this help desk for further help."}}` (zenpy#336, tap-zendesk); a token
/// without a scope `{"error":"Forbidden","description":"You are missing the following required
/// scopes: read"}`. A plain-text form of the first is also seen. ASSUMED: an admin (which
/// ticket-sync's user must be) meets the first only when its role or the plan changed, not for
/// one ticket; no capture of a 403 about a single ticket was found, so a ticket's 403 in these
/// words is confirmed with `users/me` before it stops a pass (`confirm_role_refusal`).
fn account_refusal(body: &[u8]) -> Option<AccountRefusal> {
    let text = String::from_utf8_lossy(body);
    let value = http::decode::<serde_json::Value>(SVC, body).ok();
    let description = value.as_ref().and_then(|v| v.get("description")).and_then(|d| d.as_str()).unwrap_or("");
    if let Some(scopes) = description.strip_prefix("You are missing the following required scopes:") {
        return Some(AccountRefusal::Scopes(scopes.trim().to_string()));
    }
    let envelope = value.as_ref().and_then(|v| v.get("error")).is_some_and(|e| e.is_object());
    if envelope || text.contains("contact the account owner") {
        let message = value
            .as_ref()
            .and_then(|v| v.pointer("/error/message"))
            .and_then(|m| m.as_str())
            .map_or_else(|| text.trim().chars().take(200).collect::<String>(), str::to_string);
        return Some(AccountRefusal::RoleOrPlan(message));
    }
    None
}

fn to_comment(c: wire::WireComment, names: &HashMap<u64, String>) -> TicketComment {
    TicketComment {
        id: TicketCommentId(c.id),
        author_id: c.author_id.map(UserId),
        author_name: c.author_id.and_then(|a| names.get(&a).cloned()),
        body: c.body.unwrap_or_default(),
        public: c.public,
        created_at: c.created_at.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok()).map(|d| d.to_utc()),
    }
}

fn to_domain_page(page: wire::ExportPage) -> ExportPage {
    let orgs: HashMap<u64, String> = page.organizations.into_iter().filter_map(|o| Some((o.id, o.name?))).collect();
    let mut tickets = Vec::new();
    let mut rejected = Vec::new();
    for value in page.tickets {
        let raw_id = value.get("id").and_then(|v| v.as_u64()).map(TicketId);
        let parsed = serde_json::from_value::<wire::WireTicket>(value)
            .map_err(|e| (raw_id, format!("ticket could not be read: {e}")))
            .and_then(|t| to_ticket(t, &orgs).map_err(|(id, why)| (Some(id), why)));
        match parsed {
            Ok(t) => tickets.push(t),
            Err((id, why)) => rejected.push((id, why)),
        }
    }
    ExportPage { tickets, rejected, after_cursor: page.after_cursor, end_of_stream: page.end_of_stream }
}

fn to_ticket(t: wire::WireTicket, orgs: &HashMap<u64, String>) -> Result<Ticket, (TicketId, String)> {
    let id = TicketId(t.id);
    let status = t.status.unwrap_or_default();
    if status.is_empty() {
        return Err((id, "ticket has no status".into()));
    }
    Ok(Ticket {
        id,
        subject: t.subject.or(t.raw_subject).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "(no subject)".into()),
        description: t.description.unwrap_or_default(),
        status: TicketStatus::from(status),
        priority: t.priority,
        tags: t.tags.unwrap_or_default().into_iter().map(|s| s.to_lowercase()).collect(),
        organization: t.organization_id.and_then(|o| orgs.get(&o).cloned()),
        updated_at: t.updated_at.and_then(|u| chrono::DateTime::parse_from_rfc3339(&u).ok()).map(|d| d.to_utc()),
        fields: t.custom_fields.into_iter().map(|f| (FieldId(f.id), field_text(&f.value))).collect(),
    })
}

/// A custom field's value as text: strings as they are, numbers and booleans written out;
/// lists and empty values are no text.
fn field_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_broken_tickets_fail_alone() {
        let page = serde_json::json!({
            "tickets": [
                { "id": 1, "subject": null, "raw_subject": null, "description": null, "status": "open",
                  "priority": null, "tags": null, "organization_id": null, "updated_at": null, "extra": {"x": [1]} },
                { "id": 2, "status": null },
                { "id": "three", "status": "open" },
                { "status": "open" },
                { "id": 33144692244499u64, "subject": "Big id", "status": "new", "tags": ["Esc:Alated/1"],
                  "organization_id": 7, "updated_at": "2026-01-01T00:00:00Z" }
            ],
            "organizations": [{ "id": 7, "name": "Globex" }, { "id": 8, "name": null }],
            "after_cursor": "abc", "end_of_stream": true, "unknown_field": 1
        });
        let wire: wire::ExportPage = serde_json::from_value(page).unwrap();
        let page = to_domain_page(wire);
        let ids: Vec<u64> = page.tickets.iter().map(|t| t.id.0).collect();
        assert_eq!(ids, [1, 33_144_692_244_499]);
        assert_eq!(page.tickets[0].subject, "(no subject)");
        assert_eq!(page.tickets[1].organization.as_deref(), Some("Globex"));
        assert_eq!(page.tickets[1].tags, ["esc:alated/1"]);
        let rejected: Vec<Option<u64>> = page.rejected.iter().map(|(id, _)| id.map(|i| i.0)).collect();
        assert_eq!(rejected, [Some(2), None, None], "{:?}", page.rejected);
        assert!(page.end_of_stream && page.after_cursor.as_deref() == Some("abc"));
    }

    /// An error body that echoes broken text (a lone surrogate, bytes that are not UTF-8) is
    /// still classified by what it says: read strictly, a closed ticket or a refused status
    /// became a plain 422, retried as if it might pass.
    #[test]
    fn error_bodies_with_broken_text_are_still_classified() {
        let api = |body: &[u8]| ApiError::Api { status: 422, service: SVC, body: String::from_utf8_lossy(body).into() };
        let closed = br#"{"error":"RecordInvalid","description":"Record validation errors \ud800",
            "details":{"status":[{"description":"Status: closed prevents ticket update"}]}}"#;
        assert!(matches!(classify(api(closed), closed, true), ApiError::TicketClosed { .. }));
        let mut required = br#"{"error":"RecordInvalid","details":{"base":[{"description":"Root cause "#.to_vec();
        required.extend_from_slice(b"\xff is required when solving a ticket\"}]}}");
        let got = classify(api(&required), &required, true);
        assert!(matches!(&got, ApiError::StatusRefused { fields, .. } if fields.len() == 1), "{got:?}");
        let gone = br#"{"error":"RecordNotFound","description":"Not found \udfff"}"#;
        let not_found =
            ApiError::NotFound { service: ticket_sync_core::domain::Service::Zendesk, detail: String::new() };
        assert!(matches!(classify(not_found, gone, true), ApiError::TicketDeleted { .. }));
    }
}
