//! `ticket-sync demo`: the real daemon against the built-in sandbox, with a scripted story
//! (tickets escalate, one escalates later, an agent links another, engineering fixes the issue
//! in a pull request, merges it and ships it in a release), then a table.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use ticket_sync_sandbox::{
    MergeMethod, NewTicket, ReleaseSpec, Sandbox, Visibility, ZENDESK_CLIENT_ID, ZENDESK_CLIENT_SECRET,
};
use ticket_sync_store::Store;

/// Polling catches up the seeded backlog every 2 s; everything after it comes by webhook (the
/// push poll runs only every 30 s, and the export hides the live changes for a minute).
const ROUTES: &str = r#"
[schedule]
escalate = "*/2 * * * * *"
push = "*/30 * * * * *"

[pushback]
closed_completed = "solved"
comments = "internal"

[[route]]
when = { tags_any = ["billing"] }
repo = "acme/billing"
labels = ["support", "billing"]

[[route]]
repo = "acme/backend"
labels = ["support"]
"#;

/// Runs the demo; returns the exit code. With `keep`, its rules file and database stay in that
/// folder (which must be new or empty) for `status` to be tried on them.
pub async fn run(keep: Option<std::path::PathBuf>) -> u8 {
    match story(keep).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            1
        }
    }
}

const DEMO_APP_ID: u64 = 1001;
const DEMO_APP_SLUG: &str = "support-sync-demo";

const GITHUB_HOOK_SECRET: &str = "demo-github-webhook-secret";
const ZENDESK_HOOK_SECRET: &str = "demo-zendesk-webhook-secret";

/// The drafted reply the release note carries (an agent's macro sends it).
const REPLY_TEMPLATE: &str =
    "Good news: the fix for '{issue_title}' shipped in {tag}. Please update and tell us how it goes.";

fn write_rules(
    sb: &Sandbox,
    dir: &Path,
    (link_field, version_field): (u64, u64),
    port: u16,
) -> anyhow::Result<std::path::PathBuf> {
    // The demo authenticates to Zendesk as an OAuth client (its secret in a file, as a
    // systemd credential would be) and acts on GitHub as a GitHub App.
    let secret = dir.join("zendesk-client-secret");
    std::fs::write(&secret, ZENDESK_CLIENT_SECRET)?;
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    // The demo acts as a GitHub App (the sandbox's test key; a real one comes from GitHub).
    let key = dir.join("github-app.pem");
    std::fs::write(&key, ticket_sync_sandbox::APP_TEST_KEY_PEM)?;
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    std::fs::write(dir.join("github-webhook-secret"), GITHUB_HOOK_SECRET)?;
    std::fs::write(dir.join("zendesk-webhook-secret"), ZENDESK_HOOK_SECRET)?;
    let routes = format!(
        "{ROUTES}\n[linking]\nfield_id = {link_field}\nstate_tags = true\n\n[fixes]\nversion_field_id = {version_field}\nreply_template = \"{REPLY_TEMPLATE}\"\n\n[webhooks]\nlisten = \"127.0.0.1:{port}\"\ngithub_secret_file = \"github-webhook-secret\"\nzendesk_secret_file = \"zendesk-webhook-secret\"\n"
    );
    let text = sb
        .rules_toml("state/demo.db", &routes)
        .replace(
            &Sandbox::zendesk_auth_toml(ticket_sync_sandbox::zendesk_auth_mode()),
            &format!("client_id = \"{ZENDESK_CLIENT_ID}\"\nclient_secret_file = \"zendesk-client-secret\""),
        )
        .replace(
            "token_env = \"TS_SANDBOX_GITHUB_TOKEN\"",
            &format!("app_id = {DEMO_APP_ID}\nprivate_key_file = \"github-app.pem\""),
        );
    let path = dir.join("sync-rules.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn seed(sb: &Sandbox) -> Vec<u64> {
    let org = sb.zendesk.add_organization("Globex Corp");
    let jane = sb.zendesk.add_user("Jane Customer", "jane@globex.example", Some(org));
    let tickets: [(&str, &str, &[&str], Option<&str>); 6] = [
        (
            "Checkout fails with error 500",
            "Since this morning every checkout fails. Call me at +1 555 010 9999.",
            &["escalated"],
            Some("urgent"),
        ),
        (
            "Invoice shows the wrong VAT",
            "Our March invoice charges 25% VAT instead of 19%. Contact: jane@globex.example",
            &["escalated", "billing"],
            Some("high"),
        ),
        ("Dashboard is slow", "Loading the dashboard takes 40 seconds.", &["performance"], Some("normal")),
        ("How do I reset my password?", "I cannot find the reset link.", &["question"], None),
        ("Export to CSV drops rows", "Exports over 10,000 rows are cut off.", &["escalated"], Some("high")),
        ("Payment page shows error 500", "Our customers cannot pay since 9:00.", &[], Some("urgent")),
    ];
    tickets
        .iter()
        .map(|(subject, description, tags, priority)| {
            let mut t = NewTicket::new(subject, description, jane);
            t.tags = tags.iter().map(|s| s.to_string()).collect();
            t.priority = priority.map(str::to_string);
            t.status = "open".into();
            sb.zendesk.add_ticket(t)
        })
        .collect()
}

async fn story(keep: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let sb = Sandbox::start().await?;
    // Zendesk as it is from 2027-04-30: OAuth only.
    sb.zendesk.switch_off_api_tokens(true);
    sb.github.add_repo("acme/backend", Visibility::Private, true);
    sb.github.add_repo("acme/billing", Visibility::Private, true);
    sb.github.enable_app(DEMO_APP_ID, DEMO_APP_SLUG, ticket_sync_sandbox::APP_TEST_PUBLIC_KEY_PEM);
    let installation = sb.github.add_installation("acme", Some("write"));
    // Following fixes reads pull requests and releases: the App asks for both, read-only.
    sb.github.set_installation_permission(installation, "pull_requests", Some("read"));
    sb.github.set_installation_permission(installation, "contents", Some("read"));
    let link_field = sb.zendesk.add_ticket_field("text", "GitHub issue");
    let version_field = sb.zendesk.add_ticket_field("text", "Fixed in version");
    let dir = match &keep {
        Some(path) => kept_dir(path)?,
        None => tempfile_dir()?,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let rules_path = write_rules(&sb, dir.path(), (link_field, version_field), port)?;
    let ids = seed(&sb);
    sb.settle();
    say!(
        "ticket-sync demo: sandbox Zendesk at {} and GitHub at {}, ticket-sync signed in to Zendesk as the OAuth \
         client {ZENDESK_CLIENT_ID} and acting on GitHub as the GitHub App {}",
        sb.zendesk.base_url(),
        sb.github.base_url(),
        sb.github.app_bot_login()
    );
    say!(
        "seeded {} tickets; {} carry the `escalated` tag. Running the daemon: polling catches up the backlog,\nthen webhooks on 127.0.0.1:{port} carry every change as it happens…\n",
        ids.len(),
        3
    );

    let rules = crate::config::load(&rules_path)?;
    let db = rules.state_path.clone();
    let shutdown = CancellationToken::new();
    let (_reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let daemon = tokio::spawn(crate::daemon::run(rules_path.clone(), rules, shutdown.clone(), reload_rx));
    let listening = until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()).await;
    anyhow::ensure!(listening.is_some(), "the webhook receiver did not start");
    sb.github.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/github"), GITHUB_HOOK_SECRET);
    sb.zendesk.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/zendesk"), ZENDESK_HOOK_SECRET);
    let backlog =
        until(Duration::from_secs(10), || linked(&db, ids[0]).is_some() && linked(&db, ids[4]).is_some()).await;
    let backlog =
        backlog.map_or("not within 10 s".to_string(), |t| format!("{} ms after the daemon started", t.as_millis()));
    say!("        the backlog's escalations are done by polling, {backlog}");

    say!("step 1  support adds `escalated` to ticket {} (\"Dashboard is slow\")", ids[2]);
    sb.zendesk.set_tags(ids[2], &["performance", "escalated"]);
    let t = until(Duration::from_secs(10), || linked(&db, ids[2]).is_some()).await;
    say!("        → issue {} created and the link note written, {}", linked(&db, ids[2]).unwrap_or_default(), took(t));

    if let Some(issue) = linked(&db, ids[0]) {
        say!("step 2  an agent links ticket {} (\"Payment page shows error 500\") to {issue}", ids[5]);
        sb.zendesk.set_field(ids[5], link_field, Some(&issue));
        let t = until(Duration::from_secs(10), || linked(&db, ids[5]).is_some()).await;
        say!("        → ticket {} linked, its note written, {}", ids[5], took(t));

        let (repo, number) = issue.split_once('#').unwrap_or_default();
        let number: u64 = number.parse().unwrap_or_default();
        say!("step 3  engineering comments on {issue} and opens a pull request that fixes it");
        sb.github.add_comment(repo, number, "dev-alice", "Found it: a null VAT rate. Fix coming.");
        let title = "Fix checkout error 500 on a null VAT rate";
        let pr = sb.github.open_pull_request(repo, title, &format!("Fixes #{number}"), "dev-alice");
        let told = |id: u64, key: &str| {
            let marker = format!("[ticket-sync:event {key}");
            sb.zendesk.comments(id).iter().any(|c| c.body.contains(&marker))
        };
        let t = until(Duration::from_secs(10), || told(ids[0], "pr-review-") && told(ids[5], "pr-review-")).await;
        say!("        → both linked tickets have the comment and \"fix in review: pull request #{pr}\", {}", took(t));

        say!("step 4  the pull request is merged, which closes {issue}");
        sb.github.merge_pull_request(repo, pr, MergeMethod::Squash, "dev-bob");
        let solved = |id: u64| sb.zendesk.ticket(id).is_some_and(|t| t.status == "solved");
        let t = until(Duration::from_secs(10), || solved(ids[0]) && solved(ids[5])).await;
        say!("        → both linked tickets: closed, fixed by pull request #{pr}, status solved, {}", took(t));

        say!("step 5  release v2.4.0 is published");
        sb.github.create_release(repo, ReleaseSpec::published("v2.4.0"), "dev-bob");
        let shipped = |id: u64| sb.zendesk.field_value(id, version_field).as_deref() == Some("v2.4.0");
        let t = until(Duration::from_secs(10), || shipped(ids[0]) && shipped(ids[5])).await;
        say!(
            "        → both linked tickets say the fix shipped in v2.4.0: a note with the drafted reply, the tag\n          github_released and the field \"Fixed in version\" for an agent's macro, {}",
            took(t)
        );
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    daemon.await??;
    print_table(&sb, &db, &ids)?;
    if let Some(issue) = linked(&db, ids[0]) {
        print_issue(&sb, &issue);
    }
    match keep {
        Some(_) => {
            let rules = rules_path.display();
            say!("\nThe rules file and database of this run are kept. Try:");
            say!("  ticket-sync --config {rules} status");
            say!("  ticket-sync --config {rules} status --ticket {}", ids[0]);
            say!("  ticket-sync --config {rules} status --json");
            say!("(The sandbox stopped with the demo: `status` reads only the database.)");
            std::mem::forget(dir);
        }
        None => say!(
            "\nThe state database of this run was {} (removed on exit; `ticket-sync demo --keep DIR` keeps it).",
            db.display()
        ),
    }
    Ok(())
}

/// The folder `--keep` names: created, or one that is empty (nothing of the user's is
/// overwritten). Absolute, so the commands printed at the end work from anywhere.
fn kept_dir(path: &Path) -> anyhow::Result<TempDir> {
    std::fs::create_dir_all(path)?;
    let path = std::fs::canonicalize(path)?;
    anyhow::ensure!(
        std::fs::read_dir(&path)?.next().is_none(),
        "--keep {}: the folder is not empty; name a new or empty one",
        path.display()
    );
    Ok(TempDir(path))
}

/// The issue ticket-sync created for the first ticket, as GitHub shows it.
fn print_issue(sb: &Sandbox, issue: &str) {
    let Some((repo, number)) = issue.split_once('#') else { return };
    let Some(i) = number.parse().ok().and_then(|n| sb.github.issue(repo, n)) else { return };
    say!("\nThe issue ticket-sync created for the first ticket, {issue} \"{}\":", i.title);
    for line in i.body.unwrap_or_default().lines() {
        say!("  | {line}");
    }
}

/// Polls `done` every 10 ms for at most `limit`; how long it took, if it came true.
async fn until(limit: Duration, done: impl Fn() -> bool) -> Option<Duration> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn took(t: Option<Duration>) -> String {
    match t {
        Some(t) => format!("{} ms after the change", t.as_millis()),
        None => "not within 10 s (see the log)".to_string(),
    }
}

/// The issue a ticket is linked to, as `owner/repo#n`, once the link note is written.
fn linked(db: &Path, id: u64) -> Option<String> {
    let store = Store::open_read_only(db).ok()?;
    let m = store.mapping(ticket_sync_core::domain::TicketId(id)).ok()??;
    let pending = store.pending_intents().ok()?.iter().any(|i| i.ticket_id.0 == id);
    (!pending && m.link_state == ticket_sync_core::domain::LinkState::Active)
        .then(|| format!("{}#{}", m.repo, m.issue_number))
}

fn tempfile_dir() -> std::io::Result<TempDir> {
    let path = std::env::temp_dir().join(format!("ticket-sync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&path)?;
    Ok(TempDir(path))
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn print_table(sb: &Sandbox, db: &Path, ids: &[u64]) -> anyhow::Result<()> {
    let store = Store::open_read_only(db)?;
    say!("\n{:<7} {:<32} {:<46} {:<16} {:<7} {:<8} notes", "ticket", "subject", "tags", "issue", "issue", "ticket");
    say!("{:<7} {:<32} {:<46} {:<16} {:<7} {:<8} on ticket", "", "", "", "", "state", "status");
    say!("{}", "-".repeat(128));
    for id in ids {
        let t = sb.zendesk.ticket(*id).expect("seeded ticket exists");
        let notes = sb.zendesk.comments(*id).iter().filter(|c| !c.public).count();
        let (issue, state) = match store.mapping(ticket_sync_core::domain::TicketId(*id))? {
            Some(m) => {
                let live = sb.github.issue(&m.repo.to_string(), m.issue_number.0);
                (
                    format!("{}#{}", m.repo, m.issue_number),
                    live.map(|i| i.state).unwrap_or_else(|| m.issue_state.to_string()),
                )
            }
            None => ("-".to_string(), "-".to_string()),
        };
        let subject: String = t.subject.chars().take(31).collect();
        say!("{id:<7} {subject:<32} {:<46} {issue:<16} {state:<7} {:<8} {notes}", t.tags.join(","), t.status);
    }
    say!("\nInternal notes written by ticket-sync, in full:");
    for id in ids {
        for c in sb.zendesk.comments(*id).iter().filter(|c| !c.public) {
            say!("  ticket {id}:");
            for line in c.body.lines() {
                say!("  | {line}");
            }
        }
    }
    Ok(())
}
