//! A disk that fills in the middle of a pass (issue 19 item 9). No remote write goes out
//! without its intent recorded; a write that went out but could not be recorded is found again
//! by its marker and not repeated; the pass stops with an error that names the disk; nothing is
//! written while the disk stays full; and once there is room the next pass finishes the work,
//! each note exactly once. The disk is made full at an exact point of the pass: right after the
//! fake carried out a given request (`Taps`), through a VFS that answers `SQLITE_FULL` (`disk.rs`).

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_store::{IntentKind, Store};
use tokio_util::sync::CancellationToken;

use crate::disk::Disk;
use crate::harness::{Env, PUSHBACK, ROUTES};
use crate::linking::{self, plain};

const REPO: &str = "acme/backend";
/// Tickets linked to the one issue whose close fans out.
const FAN_OUT: usize = 20;

/// A note written on a ticket (`PUT /api/v2/tickets/{id}`), not a change of its tags.
fn note_put(method: &Method, path: &str) -> bool {
    method == Method::PUT && path.starts_with("/api/v2/tickets/") && !path.contains("/tags")
}

fn note_puts(env: &Env) -> usize {
    env.sb.zendesk.door.log.count(|e| note_put(&e.method, &e.path))
}

/// The notes on a ticket that tell of the issue's close.
fn close_notes(env: &Env, ticket: u64) -> usize {
    env.push_notes(ticket).iter().filter(|n| n.contains(" was closed ")).count()
}

/// One escalated ticket and `FAN_OUT - 1` more linked to its issue through the link field.
async fn fan_out(env: &Env, field: u64) -> (Vec<u64>, u64) {
    let (first, n) = env.linked("Outage").await;
    let mut tickets = vec![first];
    for i in 1..FAN_OUT {
        let id = plain(env, &format!("Outage {i}"));
        env.sb.zendesk.set_field(id, field, Some(&format!("{REPO}#{n}")));
        tickets.push(id);
    }
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    (tickets, n)
}

/// Where a ticket's close note stands in the database.
#[derive(Debug, PartialEq, Eq)]
struct Recorded {
    /// The ledger holds the note (written, or found again) under the key of a GitHub event.
    done: bool,
    /// Its intent waits, counted as attempted: the next pass looks for it before writing.
    attempted: bool,
}

fn recorded(store: &Store, ticket: u64) -> Recorded {
    let id = TicketId(ticket);
    let ledger = store.ledger(id).unwrap();
    let done = ledger
        .iter()
        .any(|e| e.event.starts_with("push_note") && e.detail.as_deref().is_some_and(|d| d.starts_with("gh-")));
    let intents = store.pending_intents().unwrap();
    let attempted = intents.iter().any(|i| i.ticket_id == id && i.kind == IntentKind::PushNote && i.attempts > 0);
    Recorded { done, attempted }
}

/// Every note on Zendesk is in the ledger or has an attempted intent that will find it again;
/// returns how many notes were written.
fn every_note_is_accounted_for(env: &Env, tickets: &[u64]) -> usize {
    let store = Store::open_read_only(&env.db_path()).unwrap();
    let mut written = 0;
    for &t in tickets {
        let notes = close_notes(env, t);
        let r = recorded(&store, t);
        assert!(notes <= 1, "ticket {t}: {notes} close notes");
        if notes == 1 {
            written += 1;
            assert!(r.done || r.attempted, "ticket {t}: a note on Zendesk that nothing records: {r:?}");
        } else {
            assert!(!r.done, "ticket {t}: recorded as written, but there is no note");
        }
    }
    written
}

#[tokio::test]
async fn a_disk_that_fills_in_the_middle_of_a_fan_out_loses_and_doubles_no_note() {
    let (env, field) = linking::env().await;
    let disk = Disk::of(&env.db_path());
    let (tickets, n) = fan_out(&env, field).await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let puts = note_puts(&env);
    // The disk fills once the fifth note is on Zendesk, before ticket-sync can record it.
    env.sb.zendesk.door.taps.after(5, note_put, move || disk.fill());
    let engine = env.engine();
    let cancel = CancellationToken::new();

    let err = engine.push(&cancel).await.expect_err("a full disk stops the pass");
    let text = err.to_string();
    assert!(
        text.contains("disk is full") && text.contains("free space"),
        "the error names the disk and what to do: {text}"
    );
    assert!(disk.refused() > 0, "the disk was full when it mattered");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), 5);
    let store = Store::open_read_only(&env.db_path()).unwrap();
    let done = tickets.iter().filter(|t| recorded(&store, **t).done).count();
    let found_later: Vec<u64> =
        tickets.iter().copied().filter(|t| !recorded(&store, *t).done && close_notes(&env, *t) == 1).collect();
    assert_eq!((done, found_later.len()), (4, 1), "the fifth note could not be recorded");

    // While the disk stays full, passes of the same engine (the daemon's) write nothing.
    let writes = (env.zendesk_writes(), env.github_writes());
    for _ in 0..2 {
        let err = engine.push(&cancel).await.expect_err("still full");
        assert!(err.to_string().contains("disk is full"), "{err}");
        let err = engine.escalate(&cancel).await.expect_err("still full");
        assert!(err.to_string().contains("disk is full"), "{err}");
    }
    assert_eq!((env.zendesk_writes(), env.github_writes()), writes, "nothing is written while nothing can be recorded");
    // `status` reads the database as it is.
    let status = env.bin(&["status"], &[]).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}\n{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.contains("unfinished writes: 1"), "{text}");
    let push = text.lines().find(|l| l.trim_start().starts_with("push ")).unwrap_or_default();
    assert!(push.contains("no end recorded") && push.contains("disk"), "the push pass that met the full disk: {text}");

    // Room again: the same engine finishes the fan-out, each note exactly once.
    disk.free();
    let report = engine.push(&cancel).await.expect("the pass runs once there is room");
    assert_eq!((report.pushed, report.failed), ((FAN_OUT - 5) as u64, 0), "{report:?}");
    assert_eq!(note_puts(&env) - puts, FAN_OUT, "one note update per ticket, none sent twice");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), FAN_OUT);
    let store = Store::open_read_only(&env.db_path()).unwrap();
    for &t in &tickets {
        assert_eq!(recorded(&store, t), Recorded { done: true, attempted: false }, "ticket {t}");
        assert_eq!(env.sb.zendesk.ticket(t).unwrap().status, "solved", "ticket {t}");
    }
    assert!(store.pending_intents().unwrap().is_empty());
    let writes = (env.zendesk_writes(), env.github_writes());
    env.push().await;
    env.escalate().await;
    assert_eq!((env.zendesk_writes(), env.github_writes()), writes, "nothing left to do");
}

#[tokio::test]
async fn a_note_whose_intent_cannot_be_recorded_is_not_written() {
    let (env, field) = linking::env().await;
    let disk = Disk::of(&env.db_path());
    let (tickets, n) = fan_out(&env, field).await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    // The disk fills once the issue's events are read: the pass has planned every note and
    // records its first intent next.
    let events = |m: &Method, p: &str| m == Method::GET && p.ends_with("/events");
    env.sb.github.door.taps.after(1, events, move || disk.fill());
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let writes = env.zendesk_writes();

    let err = engine.push(&cancel).await.expect_err("a full disk stops the pass");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert!(disk.refused() > 0);
    assert_eq!(env.zendesk_writes(), writes, "no note without its intent");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), 0);

    disk.free();
    let report = engine.push(&cancel).await.expect("the pass runs once there is room");
    assert_eq!((report.pushed, report.failed), (FAN_OUT as u64, 0), "{report:?}");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), FAN_OUT);
}

#[tokio::test]
async fn an_issue_created_as_the_disk_fills_is_found_again_not_created_twice() {
    let env = Env::new().await;
    let disk = Disk::of(&env.db_path());
    let id = env.ticket("Created as the disk fills", &["escalated"]);
    let create = |m: &Method, p: &str| m == Method::POST && p.ends_with("/issues");
    env.sb.github.door.taps.after(1, create, move || disk.fill());
    let engine = env.engine();
    let cancel = CancellationToken::new();

    let err = engine.escalate(&cancel).await.expect_err("a full disk stops the pass");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "the issue went out");
    assert!(env.link_notes(id).is_empty(), "its note waits for its record");
    let store = Store::open_read_only(&env.db_path()).unwrap();
    let intent = store.intent(IntentKind::CreateIssue, TicketId(id)).unwrap().expect("the create intent stays");
    assert_eq!(intent.attempts, 1);
    assert!(store.mapping(TicketId(id)).unwrap().is_none());

    let writes = (env.zendesk_writes(), env.github_writes());
    assert!(engine.escalate(&cancel).await.is_err());
    assert_eq!((env.zendesk_writes(), env.github_writes()), writes);

    disk.free();
    let report = engine.escalate(&cancel).await.expect("the pass runs once there is room");
    assert_eq!((report.created, report.recovered, report.failed), (0, 1, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "one issue");
    assert_eq!(env.link_notes(id).len(), 1, "one link note");
}

#[tokio::test]
async fn an_identity_that_cannot_be_recorded_stops_the_pass_before_any_write() {
    let env = Env::new().await;
    let disk = Disk::of(&env.db_path());
    // A database that has polled before (its start time is kept) and meets these credentials
    // for the first time: their identities are read and recorded before anything is written.
    Store::open(&env.db_path()).unwrap().first_start_or_set(1_577_836_800).unwrap();
    let id = env.ticket("Escalated as the disk fills and frees", &["escalated"]);
    // The disk is full as the GitHub login is recorded, and has room again a moment later
    // (another process freed some) as the export is read.
    let whoami = |m: &Method, p: &str| m == Method::GET && p.ends_with("/user");
    env.sb.github.door.taps.after(1, whoami, move || disk.fill());
    let export = |m: &Method, p: &str| m == Method::GET && p.contains("/incremental/");
    env.sb.zendesk.door.taps.after(1, export, move || disk.free());
    let engine = env.engine();
    let cancel = CancellationToken::new();

    let err = engine.escalate(&cancel).await.expect_err("the login could not be recorded");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert!(disk.refused() > 0);
    assert_eq!(env.github_writes(), 0, "nothing is written by an identity the database does not know");

    disk.free();
    let report = engine.escalate(&cancel).await.expect("the pass runs once there is room");
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    let store = Store::open_read_only(&env.db_path()).unwrap();
    assert_eq!(store.github_logins().unwrap().len(), 1, "the login is recorded");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
}

/// The rules for the daemon run in this process: both passes every second, `/healthz` on
/// `health`, and the secrets in files (this process's environment is its neighbours' too).
fn daemon_rules(env: &Env, field: u64, health: u16) -> ticket_sync_core::rules::Rules {
    let extra = format!(
        "{PUSHBACK}\n[linking]\nfield_id = {field}\nstate_tags = true\n\n\
         [schedule]\nescalate = \"* * * * * *\"\npush = \"* * * * * *\"\n\n[daemon]\nlisten = \"127.0.0.1:{health}\"\n"
    );
    env.rewrite_rules(ROUTES, &extra);
    let mut text = std::fs::read_to_string(&env.rules_path).unwrap();
    for (var, secret) in [
        ("TS_SANDBOX_GITHUB_TOKEN", ticket_sync_sandbox::GITHUB_TOKEN),
        ("TS_SANDBOX_ZENDESK_TOKEN", ticket_sync_sandbox::ZENDESK_TOKEN),
        ("TS_SANDBOX_ZENDESK_SECRET", ticket_sync_sandbox::ZENDESK_CLIENT_SECRET),
    ] {
        let file = env.dir.path().join(var.to_lowercase());
        std::fs::write(&file, secret).unwrap();
        text = text.replace(&format!("_env = \"{var}\""), &format!("_file = \"{}\"", file.display()));
    }
    std::fs::write(&env.rules_path, text).unwrap();
    ticket_sync::config::load(&env.rules_path).expect("rules valid")
}

/// `/healthz`: its status and text, or none while it does not answer.
async fn health(port: u16) -> Option<(u16, String)> {
    let answer = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.ok()?;
    Some((answer.status().as_u16(), answer.text().await.unwrap_or_default()))
}

/// Failed push passes so far, as `/metrics` counts them.
async fn failed_pushes(port: u16) -> u64 {
    let Ok(answer) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else { return 0 };
    let text = answer.text().await.unwrap_or_default();
    let line = text.lines().find(|l| {
        l.starts_with("ticket_sync_passes_total{") && l.contains("kind=\"push\"") && l.contains("outcome=\"failed\"")
    });
    line.and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_keeps_running_on_a_full_disk_and_finishes_the_fan_out_once_there_is_room() {
    let (env, field) = linking::env().await;
    let disk = Disk::of(&env.db_path());
    let (tickets, n) = fan_out(&env, field).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rules = daemon_rules(&env, field, port);
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let puts = note_puts(&env);
    env.sb.zendesk.door.taps.after(5, note_put, move || disk.fill());
    let shutdown = CancellationToken::new();
    let (_reload, reload) = tokio::sync::mpsc::unbounded_channel();
    let daemon = tokio::spawn(ticket_sync::daemon::run(env.rules_path.clone(), rules, shutdown.clone(), reload));

    // The pass that met the full disk failed, and /healthz says why.
    wait_until_async("/healthz to name the full disk", || async {
        health(port).await.is_some_and(|(status, text)| status == 503 && text.contains("disk is full"))
    })
    .await;
    // Passes go on failing, and writing nothing, while the disk stays full; the daemon runs on.
    let writes = (env.zendesk_writes(), env.github_writes());
    let failed = failed_pushes(port).await;
    wait_until_async("two more push passes", || async { failed_pushes(port).await >= failed + 2 }).await;
    assert_eq!((env.zendesk_writes(), env.github_writes()), writes, "nothing is written while nothing can be recorded");
    assert!(!daemon.is_finished(), "the daemon runs on");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), 5);

    // Room again: the next passes finish the fan-out, each note once, and /healthz is well.
    disk.free();
    wait_until_async("every ticket's close note", || async {
        let store = Store::open_read_only(&env.db_path()).unwrap();
        tickets.iter().all(|t| recorded(&store, *t).done) && store.pending_intents().unwrap().is_empty()
    })
    .await;
    wait_until_async("/healthz to be well", || async { health(port).await.is_some_and(|(status, _)| status == 200) })
        .await;
    assert_eq!(note_puts(&env) - puts, FAN_OUT, "one note update per ticket, none sent twice");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), FAN_OUT);
    shutdown.cancel();
    daemon.await.unwrap().expect("the daemon stops cleanly");
}

#[tokio::test]
async fn a_disk_short_of_space_now_and_then_loses_and_doubles_nothing() {
    let (env, field) = linking::env().await;
    let disk = Disk::of(&env.db_path());
    let (tickets, n) = fan_out(&env, field).await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let escalated = env.ticket("Escalated while space comes and goes", &["escalated"]);
    let puts = note_puts(&env);
    // About one write in 20 finds no room: a commit here, a WAL frame in the middle of one there.
    disk.short_of_space(20, 19);
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let mut failed_passes = 0;
    for _ in 0..100 {
        let escalate = engine.escalate(&cancel).await;
        let push = engine.push(&cancel).await;
        every_note_is_accounted_for(&env, &tickets);
        assert!(env.issues_for("acme/backend", escalated).len() <= 1);
        assert!(env.link_notes(escalated).len() <= 1);
        for e in [escalate.as_ref().err(), push.as_ref().err()].into_iter().flatten() {
            assert!(e.to_string().contains("disk is full"), "{e}");
            failed_passes += 1;
        }
        let store = Store::open_read_only(&env.db_path()).unwrap();
        let linked = store.mapping(TicketId(escalated)).unwrap().is_some();
        if escalate.is_ok() && push.is_ok() && linked && store.pending_intents().unwrap().is_empty() {
            break;
        }
    }
    assert!(failed_passes > 0 && disk.refused() > 0, "the disk was short of space when it mattered");
    disk.free();
    engine.escalate(&cancel).await.expect("room again");
    engine.push(&cancel).await.expect("room again");
    assert_eq!(every_note_is_accounted_for(&env, &tickets), FAN_OUT);
    assert_eq!(note_puts(&env) - puts, FAN_OUT + 1, "one close note per ticket and one link note, none sent twice");
    assert_eq!(env.issues_for("acme/backend", escalated).len(), 1);
    assert_eq!(env.link_notes(escalated).len(), 1);
}
