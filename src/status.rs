//! `ticket-sync status`: what the state database says, as text for people or JSON for scripts.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::Serialize;

use ticket_sync_core::clock;
use ticket_sync_core::domain::Mapping;
use ticket_sync_core::domain::RateBudget;
use ticket_sync_core::domain::{InstallationId, PassOutcome, TicketId, UserId};
use ticket_sync_core::fixplan::{FixStage, PullState};
use ticket_sync_core::rules::Rules;
use ticket_sync_store::{Failure, LedgerEntry, PassRecord, RepoRecord, Store};

/// The `status --json` object. `mappings`, `last_pass` and `failures` are a contract.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub database: String,
    /// Active links, one entry per linked ticket (several may share an issue).
    pub mappings: Vec<Mapping>,
    /// Links that ended (ticket closed or deleted, issue gone, unlinked); kept in the database.
    pub ended_links: usize,
    pub last_pass: BTreeMap<String, PassView>,
    pub failures: Vec<Failure>,
    pub cursors: BTreeMap<String, CursorView>,
    pub repos: Vec<RepoRecord>,
    pub rate_limits: BTreeMap<String, RateBudget>,
    pub pending_intents: usize,
    /// Rate-limit blocks in force: nothing is sent to that scope of that service before `until`.
    pub blocks: Vec<BlockView>,
    /// Webhook deliveries by source (`github`, `zendesk`), as the daemon last saved them:
    /// received, refused by reason, ignored, dropped, acted on, last delivery.
    pub webhooks: BTreeMap<String, serde_json::Value>,
    /// How the rules authenticate to GitHub, and the logins ticket-sync has written as.
    pub github_auth: GithubAuthView,
    /// How the rules authenticate to Zendesk, and the users ticket-sync has written as.
    pub zendesk_auth: ZendeskAuthView,
}

/// `zendesk_auth` in `status --json`: never a secret, only what names the identity.
#[derive(Debug, Serialize)]
pub struct ZendeskAuthView {
    /// `oauth` or `api_token`.
    pub mode: &'static str,
    pub client_id: Option<String>,
    /// The scopes asked for (OAuth).
    pub scopes: Vec<String>,
    /// Every Zendesk user id ticket-sync has written as, as the database remembers them.
    pub users: Vec<UserId>,
    /// With an API token: the day Zendesk switches API tokens off.
    pub ends: Option<&'static str>,
}

/// `github_auth` in `status --json`: never a secret, only what names the identity.
#[derive(Debug, Serialize)]
pub struct GithubAuthView {
    /// `token` or `app`.
    pub mode: &'static str,
    pub app_id: Option<u64>,
    pub installation_id: Option<InstallationId>,
    /// Every login ticket-sync has written to GitHub as, as the database remembers them.
    pub logins: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BlockView {
    pub service: String,
    /// `service`, `endpoint:NAME`, `ticket:ID` or `installation:ID`.
    pub scope: String,
    pub until: chrono::DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct PassView {
    #[serde(flatten)]
    pub record: PassRecord,
    /// When the schedule fires next (from the current rules).
    pub next_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct CursorView {
    pub value: String,
    pub updated_at: String,
}

pub fn collect(rules: &Rules, store: &Store) -> ticket_sync_store::Result<StatusReport> {
    let now = clock::now();
    let mut last_pass = BTreeMap::new();
    for record in store.passes()? {
        use ticket_sync_core::domain::PassKind;
        // Each scheduled kind has its schedule; webhook passes none.
        let next_at = match record.kind {
            PassKind::Escalate => rules.schedule.escalate.next_after(now),
            PassKind::Push => rules.schedule.push.next_after(now),
            PassKind::Audit => rules.schedule.audit.next_after(now),
            PassKind::Webhook => None,
        };
        last_pass.insert(record.kind.to_string(), PassView { record, next_at });
    }
    let (mappings, ended): (Vec<Mapping>, Vec<Mapping>) =
        store.mappings()?.into_iter().partition(|m| m.link_state == ticket_sync_core::domain::LinkState::Active);
    Ok(StatusReport {
        database: rules.state_path.display().to_string(),
        mappings,
        ended_links: ended.len(),
        last_pass,
        failures: store.failures()?,
        cursors: store
            .cursors()?
            .into_iter()
            .map(|(name, value, updated_at)| (name, CursorView { value, updated_at }))
            .collect(),
        repos: store.repo_records()?,
        rate_limits: store.budgets()?.into_iter().collect(),
        pending_intents: store.pending_intents()?.len(),
        webhooks: store.webhook_stats()?.into_iter().collect(),
        github_auth: {
            let (mode, app_id, installation_id) = match &rules.github.auth {
                ticket_sync_core::rules::GithubAuth::Token(_) => ("token", None, None),
                ticket_sync_core::rules::GithubAuth::App(a) => ("app", Some(a.app_id), a.installation_id),
            };
            let mut logins: Vec<String> = store.github_logins()?.into_iter().map(|(_, login)| login).collect();
            logins.sort();
            logins.dedup();
            GithubAuthView { mode, app_id, installation_id, logins }
        },
        zendesk_auth: {
            let (mode, client_id, scopes, ends) = match &rules.zendesk.auth {
                ticket_sync_core::rules::ZendeskAuth::OAuth(o) => {
                    ("oauth", Some(o.client_id.clone()), o.scopes.clone(), None)
                }
                ticket_sync_core::rules::ZendeskAuth::ApiToken { .. } => {
                    ("api_token", None, Vec::new(), Some("2027-04-30"))
                }
            };
            let mut users: Vec<UserId> = store.zendesk_users()?.into_iter().map(|(_, id)| id).collect();
            users.sort_unstable();
            users.dedup();
            ZendeskAuthView { mode, client_id, scopes, users, ends }
        },
        blocks: store
            .active_blocks(now)?
            .into_iter()
            .map(|b| BlockView {
                service: b.service.as_str().into(),
                scope: b.scope.key(),
                until: b.until,
                reason: b.reason,
            })
            .collect(),
    })
}

/// Prints the status; returns the exit code.
pub fn print(rules: &Rules, json: bool, ticket: Option<TicketId>) -> u8 {
    if !rules.state_path.exists() {
        // An empty status would read as "the daemon did nothing".
        eprintln!(
            "error: no state database at {}: ticket-sync has not run with these rules yet, `[state] path` points \
             elsewhere, or this user cannot read it (the service's folder is readable by root: `sudo ticket-sync … status`)",
            rules.state_path.display()
        );
        return 1;
    }
    let store = match Store::open_read_only(&rules.state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let result = match ticket {
        Some(id) => ticket_history(&store, id, json),
        None => collect(rules, &store).map(|report| {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("status serialises"));
            } else {
                print!("{}", render_text(&report));
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Where the fix of a ticket's linked issue stands (`[fixes]`), from the database alone.
pub fn fix_stage(store: &Store, m: &Mapping) -> ticket_sync_store::Result<Option<FixStage>> {
    let fix = store.fix(&m.repo, m.issue_number)?;
    let pulls = store.pulls_closing(&m.repo, m.issue_number)?;
    let open = pulls.iter().find(|p| p.state == PullState::Open);
    let closer = fix.as_ref().filter(|f| !f.reopened).map(|f| &f.closer);
    // Reopened since: what shipped did not fix it, and the stage starts again.
    let current = fix.as_ref().filter(|f| !f.reopened);
    let shipped = current.and_then(|f| f.shipped.as_ref()).map(|s| (s.tag.as_str(), s.url.as_str()));
    let duplicate = fix.as_ref().filter(|f| !f.reopened).and_then(|f| f.duplicate_of.as_deref());
    Ok(FixStage::of(closer, shipped, duplicate, open.map(|p| (&m.repo, p.number, p.title.as_str()))))
}

fn ticket_history(store: &Store, id: TicketId, json: bool) -> ticket_sync_store::Result<()> {
    let mapping = store.mapping(id)?;
    let ledger: Vec<LedgerEntry> = store.ledger(id)?;
    let failures = store.failures_of(id)?;
    let stage = match &mapping {
        Some(m) => fix_stage(store, m)?,
        None => None,
    };
    if json {
        // `failure` (the first failing stage) is kept for scripts written before `failures`.
        let fix = stage.as_ref().map(|s| serde_json::json!({"stage": s.name(), "text": s.to_string()}));
        let v = serde_json::json!({
            "ticket_id": id, "mapping": mapping, "ledger": ledger,
            "failure": failures.first(), "failures": failures, "fix": fix,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
        return Ok(());
    }
    match &mapping {
        Some(m) => println!(
            "ticket {id} → {}#{} ({}, link {}, linked by {})",
            m.repo,
            m.issue_number,
            m.issue_state,
            m.link_state.as_str(),
            m.linked_by.as_str()
        ),
        None => println!("ticket {id}: not linked"),
    }
    if let Some(stage) = &stage {
        println!("  fix: {stage}");
    }
    for e in &ledger {
        // A link made through the field shows the value the agent wrote.
        let detail = match e.event.as_str() {
            // A note shows the event it told of (`closed-…`, `field-…`, `retagged-…`).
            "linked_by_field"
            | "relinked_by_field"
            | "unlinked_by_field"
            | "link_refused"
            | "push_note"
            | "push_note_recovered" => e.detail.as_deref().map(|d| format!("  ({d})")).unwrap_or_default(),
            _ => String::new(),
        };
        println!(
            "  {}  {:<20} {:<8} {}{detail}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.event,
            e.side,
            e.remote_id.as_deref().unwrap_or("")
        );
    }
    for f in failures {
        let when = if f.parked {
            "parked; run `ticket-sync retry` once fixed".to_string()
        } else {
            format!("next attempt {}", f.next_attempt_at.format("%Y-%m-%d %H:%M:%S"))
        };
        println!("  failing: {} [{}] (attempts {}, {when}): {}", f.stage, f.class.as_str(), f.attempts, f.error);
    }
    Ok(())
}

pub fn render_text(r: &StatusReport) -> String {
    let mut out = format!("database: {}\n", r.database);
    let mut by_repo: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &r.mappings {
        *by_repo.entry((m.repo.to_string(), m.issue_state.to_string())).or_default() += 1;
    }
    out.push_str(&format!("\nmappings: {} active, {} ended\n", r.mappings.len(), r.ended_links));
    for ((repo, state), n) in &by_repo {
        out.push_str(&format!("  {repo:<30} {state:<8} {n}\n"));
    }
    if r.mappings.len() <= 50 {
        for m in &r.mappings {
            let pushed =
                m.last_pushed_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into());
            out.push_str(&format!(
                "  ticket {:<10} {}#{:<6} {:<7} link {:<13} pushed {}\n",
                m.ticket_id,
                m.repo,
                m.issue_number,
                m.issue_state,
                m.link_state.as_str(),
                pushed
            ));
        }
    }
    // Issues that several tickets share, with their tickets.
    let mut shared: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for m in &r.mappings {
        shared.entry((m.repo.to_string(), m.issue_number.0)).or_default().push(m.ticket_id.to_string());
    }
    shared.retain(|_, tickets| tickets.len() > 1);
    if !shared.is_empty() {
        out.push_str("\nissues with several tickets:\n");
        for ((repo, n), tickets) in shared.iter().take(50) {
            out.push_str(&format!("  {repo}#{n:<6} {} tickets: {}\n", tickets.len(), tickets.join(", ")));
        }
    }
    let a = &r.github_auth;
    let how = match a.app_id {
        Some(id) => format!("GitHub App {id}"),
        None => "token".to_string(),
    };
    let logins = if a.logins.is_empty() { "none yet".to_string() } else { a.logins.join(", ") };
    out.push_str(&format!("\ngithub: as {how}; has written as {logins}\n"));
    let z = &r.zendesk_auth;
    let how = match (&z.client_id, z.ends) {
        (Some(id), _) => format!("OAuth client {id} (scopes {})", z.scopes.join(" ")),
        (None, Some(ends)) => format!("API token (Zendesk switches API tokens off on {ends}: move to an OAuth client)"),
        (None, None) => "API token".to_string(),
    };
    let users = if z.users.is_empty() {
        "none yet".to_string()
    } else {
        z.users.iter().map(|u| format!("user {u}")).collect::<Vec<_>>().join(", ")
    };
    out.push_str(&format!("zendesk: as {how}; has written as {users}\n"));
    if !r.webhooks.is_empty() {
        out.push_str("\nwebhooks:\n");
        for (source, v) in &r.webhooks {
            let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            let refused: u64 =
                v.get("refused").and_then(|x| x.as_object()).map_or(0, |m| m.values().filter_map(|x| x.as_u64()).sum());
            let last = v.get("last_delivery").and_then(|x| x.as_str()).unwrap_or("never");
            out.push_str(&format!(
                "  {source:<8} received {}, acted on {}, refused {refused}, dropped {}, last delivery {last}\n",
                n("received"),
                n("acted"),
                n("dropped")
            ));
        }
    }
    out.push_str("\npasses:\n");
    if r.last_pass.is_empty() {
        out.push_str("  none yet\n");
    }
    for (kind, p) in &r.last_pass {
        let fmt = |t: Option<chrono::DateTime<Utc>>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
        };
        // A start later than the last end: the pass runs now, or it stopped before its end
        // could be recorded. The outcome stored is the pass before's, not this one's.
        if p.record.finished_at.is_none_or(|end| end < p.record.started_at) {
            out.push_str(&format!(
                "  {kind:<9} started {}, no end recorded (running now, or it stopped before recording its end: the daemon stopped, or the state database's disk is full), last success {}, next {}\n",
                fmt(Some(p.record.started_at)),
                fmt(p.record.last_success_at),
                fmt(p.next_at)
            ));
            continue;
        }
        out.push_str(&format!(
            "  {kind:<9} last {} ({}), last success {}, next {}\n",
            fmt(p.record.finished_at.or(Some(p.record.started_at))),
            p.record.outcome.map_or("-", PassOutcome::as_str),
            fmt(p.record.last_success_at),
            fmt(p.next_at)
        ));
        if p.record.outcome == Some(PassOutcome::Failed) {
            let why = p.record.summary.as_ref().and_then(|s| s.get("error")).and_then(|e| e.as_str());
            out.push_str(&format!("            failed because: {}\n", why.unwrap_or("unknown")));
        }
    }
    out.push_str(&format!("\nfailures: {}\n", r.failures.len()));
    for f in &r.failures {
        out.push_str(&format!(
            "  ticket {:<10} {:<9} {:<9} attempts {:<3} {} : {}\n",
            f.ticket_id,
            f.stage,
            f.class.as_str(),
            f.attempts,
            if f.parked {
                "PARKED (ticket-sync retry ID)".to_string()
            } else {
                format!("next {}", f.next_attempt_at.format("%H:%M:%S"))
            },
            f.error
        ));
    }
    if r.pending_intents > 0 {
        out.push_str(&format!("\nunfinished writes: {} (completed on the next pass)\n", r.pending_intents));
    }
    out.push_str("\ncursors:\n");
    for (name, c) in &r.cursors {
        out.push_str(&format!("  {name:<20} {} (updated {})\n", c.value, c.updated_at));
    }
    out.push_str("\nrate limits (last seen):\n");
    for (service, b) in &r.rate_limits {
        out.push_str(&format!(
            "  {service:<8} {} of {} left\n",
            b.remaining.map_or("?".into(), |v| v.to_string()),
            b.limit.map_or("?".into(), |v| v.to_string())
        ));
    }
    if !r.blocks.is_empty() {
        out.push_str("\nrate-limit blocks (nothing is sent there before the time shown):\n");
    }
    let now = clock::now();
    for b in &r.blocks {
        let minutes = (b.until - now).num_minutes();
        out.push_str(&format!(
            "  {:<8} {:<26} blocked until {} (in {minutes} min): {}\n",
            b.service,
            b.scope,
            b.until.format("%Y-%m-%d %H:%M:%S UTC"),
            b.reason
        ));
    }
    out
}
