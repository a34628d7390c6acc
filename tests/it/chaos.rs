//! The chaos suite: the real binary (`run`) against the sandbox with faults switched on on both
//! sides (10% 5xx, 5% dropped connections, lost write answers, 429 bursts), SIGKILLed during the
//! backfill and during push-back, then left to converge. Afterwards every ticket must have
//! exactly one issue, one link note and one mapping, and every status change and comment must
//! have reached its ticket exactly once, with the final status right.
//!
//! The faults come from a seeded generator (`CHAOS_SEED`, default 20261124) and the kill
//! moments from counts, so a run is reproducible up to thread scheduling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ticket_sync_sandbox::{Fault, FaultRule, RandomFaults};

use crate::daemon::Daemon;
use crate::harness::{Env, ROUTES};

const TICKETS: u64 = 240;
const CHAOS_RULES: &str = r#"
[schedule]
escalate = "* * * * * *"
push = "* * * * * *"

[pushback]
closed_completed = "solved"
closed_not_planned = "hold"
reopened = "open"
comments = "internal"

[retry]
max_attempts = 1000
backoff_seconds = 1
"#;

fn seed() -> u64 {
    std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_124)
}

/// What one ticket's issue went through in phase 2, and what the ticket should show for it.
#[derive(Default, Debug)]
struct Story {
    notes: usize,
    status: Option<&'static str>,
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "did not converge: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_converges_to_exactly_once() {
    let started = Instant::now();
    let seed = seed();
    let env = Env::with_routes(ROUTES, CHAOS_RULES).await;
    // The real export allows 10 polls a minute; a daemon polling every second would spend its
    // time waiting on that, which other tests cover. Here the faults are the point.
    env.sb.zendesk.set_export_limit_per_minute(None);
    let ids: Vec<u64> = (0..TICKETS)
        .map(|i| {
            let tags: &[&str] = if i % 7 == 0 { &["escalated", "billing"] } else { &["escalated"] };
            env.ticket(&format!("Chaos {i}"), tags)
        })
        .collect();
    let faults = |s: u64| RandomFaults { seed: s, error_rate: 0.10, drop_rate: 0.05, lose_response_rate: 0.05 };
    env.sb.zendesk.door.faults.set_random(Some(faults(seed)));
    env.sb.github.door.faults.set_random(Some(faults(seed ^ 0x9e37)));
    env.sb
        .github
        .door
        .faults
        .push(FaultRule::new(None, "/issues", Fault::RateLimited { retry_after_secs: 1 }).times(3));
    env.sb
        .zendesk
        .door
        .faults
        .push(FaultRule::new(None, "/tickets/", Fault::RateLimited { retry_after_secs: 1 }).times(3));

    let issue_count = || env.sb.github.issues("acme/backend").len() + env.sb.github.issues("acme/billing").len();
    let mut logs = Vec::new();
    let mut kills = 0;
    // Phase 1: the backfill, SIGKILLed three times at different depths.
    for threshold in [TICKETS as usize / 5, TICKETS as usize / 2, TICKETS as usize * 4 / 5] {
        let daemon = Daemon::start(&env, &[("RUST_LOG", "info")]);
        wait_for("backfill progress", Duration::from_secs(60), || issue_count() >= threshold).await;
        logs.push(daemon.kill());
        kills += 1;
    }
    let mut daemon = Daemon::start(&env, &[("RUST_LOG", "info")]);
    let linked = |id: &u64| {
        let repo = if env.sb.zendesk.ticket(*id).unwrap().tags.contains(&"billing".to_string()) {
            "acme/billing"
        } else {
            "acme/backend"
        };
        env.issues_for(repo, *id).len() == 1 && env.link_notes(*id).len() == 1
    };
    wait_for("every ticket linked", Duration::from_secs(60), || ids.iter().all(linked)).await;

    // Phase 2: engineering works on 60 issues: closes, comments, reopens, closes again.
    let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
    let mappings: Vec<_> = ids
        .iter()
        .take(60)
        .map(|id| store.mapping(ticket_sync_core::domain::TicketId(*id)).unwrap().unwrap())
        .collect();
    drop(store);
    let gh = &env.sb.github;
    let mut stories: BTreeMap<u64, Story> = BTreeMap::new();
    for (i, m) in mappings.iter().enumerate() {
        let reason = if i % 3 == 0 { "not_planned" } else { "completed" };
        gh.close_issue(&m.repo.to_string(), m.issue_number.0, reason, "alice");
        let story = stories.entry(m.ticket_id.0).or_default();
        story.notes += 1;
        story.status = Some(if reason == "completed" { "solved" } else { "hold" });
    }
    env.sb.clock.advance(Duration::from_secs(1));
    for m in mappings.iter().step_by(2) {
        gh.add_comment(&m.repo.to_string(), m.issue_number.0, "bob", "Looking into it again.");
        stories.get_mut(&m.ticket_id.0).unwrap().notes += 1;
    }
    wait_for("some push-back", Duration::from_secs(30), || {
        mappings.iter().any(|m| !env.push_notes(m.ticket_id.0).is_empty())
    })
    .await;
    logs.push(daemon.kill());
    kills += 1;
    env.sb.clock.advance(Duration::from_secs(1));
    for m in mappings.iter().step_by(3) {
        gh.reopen_issue(&m.repo.to_string(), m.issue_number.0, "carol");
        let story = stories.get_mut(&m.ticket_id.0).unwrap();
        story.notes += 1;
        story.status = Some("open");
    }
    env.sb.clock.advance(Duration::from_secs(1));
    for m in mappings.iter().step_by(6) {
        gh.close_issue(&m.repo.to_string(), m.issue_number.0, "completed", "carol");
        let story = stories.get_mut(&m.ticket_id.0).unwrap();
        story.notes += 1;
        story.status = Some("solved");
    }
    daemon = Daemon::start(&env, &[("RUST_LOG", "info")]);
    let converged = |(id, s): (&u64, &Story)| {
        env.push_notes(*id).len() >= s.notes
            && s.status.is_none_or(|st| env.sb.zendesk.ticket(*id).unwrap().status == st)
    };
    wait_for("every change pushed", Duration::from_secs(60), || stories.iter().all(converged)).await;

    // Let one more pass run without faults, then stop cleanly and check every invariant.
    env.sb.zendesk.door.faults.clear();
    env.sb.github.door.faults.clear();
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
    logs.push(daemon.log_text());

    let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
    assert_eq!(store.mapping_count().unwrap(), TICKETS, "one mapping per ticket");
    assert!(store.pending_intents().unwrap().is_empty(), "no unfinished write");
    for id in &ids {
        assert!(linked(id), "ticket {id}: exactly one issue and one link note");
    }
    for (id, story) in &stories {
        assert_eq!(env.push_notes(*id).len(), story.notes, "ticket {id}: every change pushed exactly once");
        if let Some(st) = story.status {
            assert_eq!(env.sb.zendesk.ticket(*id).unwrap().status, st, "ticket {id}: final status");
        }
    }
    for id in ids.iter().skip(60) {
        assert_eq!(env.push_notes(*id).len(), 0, "ticket {id} had no change");
    }

    let all = logs.join("\n");
    let sum = |field: &str| -> u64 {
        all.lines()
            .filter(|l| l.contains("pass complete"))
            .filter_map(|l| l.split(&format!("{field}=")).nth(1)?.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    };
    let requests = env.sb.zendesk.door.log.len() + env.sb.github.door.log.len();
    let injected =
        env.sb.zendesk.door.log.count(|e| e.fault.is_some()) + env.sb.github.door.log.count(|e| e.fault.is_some());
    let r429 = env.sb.zendesk.door.log.count(|e| e.status == 429) + env.sb.github.door.log.count(|e| e.status == 429);
    let limit_waits = all.lines().filter(|l| l.contains("rate limited; nothing is sent")).count();
    let passes = all.lines().filter(|l| l.contains("pass complete") || l.contains("pass failed")).count();
    println!(
        "chaos figures (seed {seed}): {TICKETS} tickets, {kills} SIGKILLs, {requests} requests received, {injected} faults injected, \
         {r429} 429s sent, {limit_waits} rate-limit waits and {} retries logged by the daemon, {passes} passes to converge, {:.1} s",
        sum("retries"),
        started.elapsed().as_secs_f64()
    );
}
