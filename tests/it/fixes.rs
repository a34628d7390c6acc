//! Part 15, `[fixes]`: every ticket linked to an issue follows its fix — the pull request in
//! review, the close that names what fixed it, the release that shipped it (note, tag, version
//! field, optional public reply) — each exactly once, against the sandbox.

use ticket_sync_sandbox::{MergeMethod, ReleaseSpec};

use crate::harness::{Env, PUSHBACK, ROUTES};
use crate::linking::{plain, set_field};

const REPO: &str = "acme/backend";

/// `[linking]` with state tags, a version field, and `extra` in `[fixes]`.
pub(crate) async fn env(fixes: &str) -> (Env, u64, u64) {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let link_field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    let version_field = env.sb.zendesk.add_ticket_field("text", "Fixed in version");
    env.rewrite_rules(
        ROUTES,
        &format!(
            "{PUSHBACK}\n[linking]\nfield_id = {link_field}\nstate_tags = true\n\n[fixes]\nversion_field_id = {version_field}\n{fixes}\n"
        ),
    );
    (env, link_field, version_field)
}

/// Two tickets on one issue: one escalated, one linked by an agent through the field.
async fn two_tickets(env: &Env, link_field: u64) -> (u64, u64, u64) {
    let (first, n) = env.linked("Login fails").await;
    let second = plain(env, "Login fails for us too");
    set_field(env, link_field, second, Some(&format!("{REPO}#{n}")));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    (first, second, n)
}

/// Notes on `ticket` that carry `marker_part` in their event marker.
pub(crate) fn notes_with(env: &Env, ticket: u64, marker_part: &str) -> Vec<String> {
    env.push_notes(ticket).into_iter().filter(|n| n.contains(&format!("[ticket-sync:event {marker_part}"))).collect()
}

/// The notes of the issue's close events (not the note of a move to a duplicate's survivor).
pub(crate) fn close_notes(env: &Env, ticket: u64) -> Vec<String> {
    let notes = env.push_notes(ticket).into_iter();
    notes.filter(|n| n.contains(" was closed ") && n.contains("[ticket-sync:event gh-")).collect()
}

fn tags(env: &Env, ticket: u64) -> Vec<String> {
    env.sb.zendesk.ticket(ticket).unwrap().tags
}

/// `status --ticket ID`'s fix line, and its `fix.stage` in JSON.
async fn stage(env: &Env, ticket: u64) -> (String, String) {
    let id = ticket.to_string();
    let text = env.bin(&["status", "--ticket", &id], &[]).await;
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    let line = text.lines().find_map(|l| l.trim().strip_prefix("fix: ")).unwrap_or("").to_string();
    let json = env.bin(&["status", "--json", "--ticket", &id], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status --json");
    (line, json["fix"]["stage"].as_str().unwrap_or("").to_string())
}

/// Compares asked of the fake GitHub so far.
pub(crate) fn compares(env: &Env) -> usize {
    env.sb.github.door.log.count(|e| e.path.contains("/compare/"))
}

pub(crate) fn tick(env: &Env) {
    env.sb.clock.advance(std::time::Duration::from_secs(2));
    env.sb.settle();
}

#[tokio::test]
async fn a_pull_request_that_closes_a_shared_issue_is_told_in_review_fixed_and_shipped_once_per_ticket() {
    let (env, link_field, version_field) = env("").await;
    let (first, second, n) = two_tickets(&env, link_field).await;
    let older = env.sb.github.create_release(REPO, ReleaseSpec::published("v2.3.0"), "alice");
    assert!(older > 0);

    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix the login", &format!("This fixes #{n}."), "bob");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [first, second] {
        let review = notes_with(&env, id, "pr-review-");
        assert_eq!(review.len(), 1, "ticket {id}: {review:?}");
        assert!(review[0].contains(&format!("pull request {REPO}#{pr} \"Fix the login\" by bob")), "{}", review[0]);
        assert!(review[0].contains(&format!("/{REPO}/pull/{pr}")), "{}", review[0]);
    }
    let (line, name) = stage(&env, first).await;
    assert_eq!(
        (line.as_str(), name.as_str()),
        (format!("in review: pull request {REPO}#{pr} \"Fix the login\"").as_str(), "in_review")
    );

    tick(&env);
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Squash, "carol");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [first, second] {
        let closes = close_notes(&env, id);
        assert_eq!(closes.len(), 1, "ticket {id}: {closes:?}");
        assert!(closes[0].contains(&format!("Fixed by pull request {REPO}#{pr} \"Fix the login\"")), "{}", closes[0]);
        assert!(notes_with(&env, id, "shipped-").is_empty(), "v2.3.0 is older than the fix");
    }
    let (line, name) = stage(&env, second).await;
    assert!(line.starts_with(&format!("fixed by pull request {REPO}#{pr}")) && name == "fixed", "{line}");

    // A release that does not contain the fix says nothing; one that does ships it.
    tick(&env);
    let branch_point = env.sb.github.resolve_ref(REPO, "v2.3.0").unwrap();
    env.sb.github.create_branch(REPO, "release-2.3", &branch_point);
    env.sb.github.create_release(
        REPO,
        ReleaseSpec { target: "release-2.3".into(), ..ReleaseSpec::published("v2.3.1") },
        "alice",
    );
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [first, second] {
        assert!(notes_with(&env, id, "shipped-").is_empty(), "v2.3.1 lacks the fix");
    }

    tick(&env);
    let release = env.sb.github.create_release(REPO, ReleaseSpec::published("v2.4.0"), "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [first, second] {
        let shipped = notes_with(&env, id, "shipped-");
        assert_eq!(shipped.len(), 1, "ticket {id}: {shipped:?}");
        assert!(shipped[0].contains(&format!("GitHub issue {REPO}#{n} shipped in v2.4.0")), "{}", shipped[0]);
        assert!(shipped[0].contains(&format!("/{REPO}/releases/tag/v2.4.0")), "{}", shipped[0]);
        assert!(shipped[0].contains(&format!("shipped-{REPO}-{release}")));
        assert_eq!(env.sb.zendesk.field_value(id, version_field).as_deref(), Some("v2.4.0"), "ticket {id}");
        assert!(tags(&env, id).contains(&"github_released".to_string()), "ticket {id}: {:?}", tags(&env, id));
        assert!(!env.sb.zendesk.comments(id).iter().any(|c| c.public && c.body.contains("v2.4.0")), "no public reply");
    }

    let (line, name) = stage(&env, first).await;
    assert!(line.starts_with("shipped in v2.4.0 (") && name == "shipped", "{line}");

    // A later release containing the same fix, and reruns, write nothing more.
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.5.0"), "alice");
    let writes = (env.github_writes(), env.zendesk_writes());
    env.push().await;
    env.push().await;
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes);
    for id in [first, second] {
        assert_eq!(notes_with(&env, id, "pr-review-").len(), 1);
        assert_eq!(close_notes(&env, id).len(), 1);
        assert_eq!(notes_with(&env, id, "shipped-").len(), 1);
    }
}

#[tokio::test]
async fn a_prerelease_ships_only_when_the_rules_say_so() {
    for (prereleases, told) in [(false, 0), (true, 1)] {
        let (env, _, _) = env(&format!("prereleases = {prereleases}")).await;
        let (id, n) = env.linked("Crash on save").await;
        tick(&env);
        let pr = env.sb.github.open_pull_request(REPO, "Fix crash", &format!("Closes #{n}"), "bob");
        env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
        env.push().await;
        assert_eq!(close_notes(&env, id).len(), 1);
        tick(&env);
        let spec = ReleaseSpec { prerelease: true, ..ReleaseSpec::published("v3.0.0-rc.1") };
        env.sb.github.create_release(REPO, spec, "alice");
        let draft = ReleaseSpec { draft: true, ..ReleaseSpec::published("v3.0.0") };
        env.sb.github.create_release(REPO, draft, "alice");
        let report = env.push().await;
        assert_eq!(report.failed, 0, "{report:?}");
        assert_eq!(notes_with(&env, id, "shipped-").len(), told, "prereleases = {prereleases}");
    }
}

#[tokio::test]
async fn a_close_by_hand_names_no_fix_and_no_release_follows() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Typo").await;
    tick(&env);
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1);
    assert!(!closes[0].contains("Fixed by"), "{}", closes[0]);
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v9.0.0"), "alice");
    let before = env.sb.github.door.log.count(|e| e.path.contains("/compare/"));
    env.push().await;
    assert!(notes_with(&env, id, "shipped-").is_empty());
    assert_eq!(env.sb.github.door.log.count(|e| e.path.contains("/compare/")), before, "nothing pending: no compare");
}

#[tokio::test]
async fn a_close_by_a_pushed_commit_names_the_commit_and_ships_with_it() {
    let (env, _, version_field) = env("").await;
    let (id, n) = env.linked("Wrong total").await;
    tick(&env);
    let sha = env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1);
    assert!(closes[0].contains(&format!("Fixed by commit {} in {REPO}", &sha[..7])), "{}", closes[0]);
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.2.0"), "alice");
    env.push().await;
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1);
    assert_eq!(env.sb.zendesk.field_value(id, version_field).as_deref(), Some("v1.2.0"));
}

#[tokio::test]
async fn with_fixes_off_an_idle_pass_costs_two_requests_per_repo() {
    for (track, idle) in [(true, 3), (false, 2)] {
        let (env, _, _) = env(&format!("track = {track}")).await;
        let (id, n) = env.linked("Slow page").await;
        tick(&env);
        let pr = env.sb.github.open_pull_request(REPO, "Speed up", &format!("Fixes #{n}"), "bob");
        env.push().await;
        env.push().await;
        assert_eq!(notes_with(&env, id, "pr-review-").len(), usize::from(track), "track = {track}");
        tick(&env);
        env.sb.github.door.log.clear();
        env.push().await;
        let requests = env.sb.github.door.log.entries();
        assert_eq!(requests.len(), idle, "track = {track}: {requests:?}");
        assert!(requests.iter().all(|e| e.status == 304), "{requests:?}");
        let pulls = requests.iter().filter(|e| e.path.contains("/pulls")).count();
        assert_eq!(pulls, usize::from(track), "{requests:?}");
        assert!(pr > 0);
    }
}

#[tokio::test]
async fn with_webhooks_each_step_reaches_the_ticket_from_its_delivery() {
    use crate::webhooks::{fresh_ticket, hooked, start, until};
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    let id = fresh_ticket(&env, "Delivered fix", &["escalated"]);
    until("the issue", || env.issues_for(REPO, id).len() == 1 && env.link_notes(id).len() == 1).await;
    let n = env.issues_for(REPO, id)[0];
    let pr = env.sb.github.open_pull_request(REPO, "Fix it", &format!("Resolves #{n}"), "bob");
    until("the in-review note", || notes_with(&env, id, "pr-review-").len() == 1).await;
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Rebase, "carol");
    until("the close note naming the pull request", || {
        close_notes(&env, id).iter().any(|n| n.contains(&format!("Fixed by pull request {REPO}#{pr}")))
    })
    .await;
    env.sb.github.create_release(REPO, ReleaseSpec::published("v7.1.0"), "alice");
    until("the shipped note", || notes_with(&env, id, "shipped-").len() == 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1);
    assert_eq!(close_notes(&env, id).len(), 1);
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1);
    drop(daemon);
}

#[tokio::test]
async fn a_public_reply_is_posted_once_per_ticket_across_a_kill_in_the_fan_out() {
    let template = "reply_template = \"Good news: {issue_title} is fixed in {tag}.\"\npublic_reply = true";
    // Two tickets, a shipped note and a public reply each: four writes; a kill before and
    // after each of them.
    for point in ["before_push_note", "after_push_note"] {
        for nth in 1..=4 {
            let (env, link_field, _) = env(template).await;
            let n = env.sb.github.add_issue(REPO, "Crash for jane@globex.example", "body", "alice");
            let (first, second) = (plain(&env, "Crash"), plain(&env, "Crash here too"));
            for id in [first, second] {
                set_field(&env, link_field, id, Some(&format!("{REPO}#{n}")));
            }
            env.escalate().await;
            tick(&env);
            let pr = env.sb.github.open_pull_request(REPO, "Fix crash", &format!("Fixes #{n}"), "bob");
            env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
            env.push().await;
            tick(&env);
            env.sb.github.create_release(REPO, ReleaseSpec::published("v2.4.0"), "alice");
            let crash = format!("{point}:{nth}");
            let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", crash.as_str())]).await;
            assert!(!crashed.status.success(), "{crash}: the process must have aborted");
            env.sb.settle();
            let again = env.bin(&["sync"], &[]).await;
            assert!(again.status.success(), "{crash}: {}", String::from_utf8_lossy(&again.stderr));
            env.push().await;
            for id in [first, second] {
                let replies: Vec<String> = (env.sb.zendesk.comments(id).into_iter())
                    .filter(|c| c.public && c.body.contains("Good news"))
                    .map(|c| c.body)
                    .collect();
                assert_eq!(replies.len(), 1, "{crash}: ticket {id}: {replies:?}");
                assert_eq!(replies[0], "Good news: Crash for [redacted email] is fixed in v2.4.0.", "{crash}");
                let shipped = notes_with(&env, id, "shipped-");
                assert_eq!(shipped.len(), 1, "{crash}: ticket {id}");
                assert!(shipped[0].contains("Drafted reply to the customer:"), "{}", shipped[0]);
            }
            let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
            assert!(store.pending_intents().unwrap().is_empty(), "{crash}");
        }
    }
}

/// ticket-sync's linked-tickets comments on an issue.
pub(crate) fn impact(env: &Env, number: u64) -> Vec<String> {
    let comments = env.sb.github.comments(REPO, number).into_iter();
    comments.filter(|c| c.body.contains("<!-- ticket-sync:impact -->")).map(|c| c.body).collect()
}

#[tokio::test]
async fn a_duplicate_close_moves_both_tickets_to_the_survivor_and_its_impact_counts_them() {
    let (env, link_field, _) = env("").await;
    let (first, second, dup) = two_tickets(&env, link_field).await;
    let (third, survivor) = env.linked("Cannot sign in").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, dup, REPO, survivor, "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [first, second] {
        let moved = notes_with(&env, id, "survivor-");
        assert_eq!(moved.len(), 1, "ticket {id}: {:?}", env.push_notes(id));
        assert!(
            moved[0].contains(&format!("{REPO}#{dup} was closed as a duplicate of {REPO}#{survivor}")),
            "{}",
            moved[0]
        );
        assert!(close_notes(&env, id).is_empty(), "moved, not told 'closed': {:?}", env.push_notes(id));
        let m = env.engine().store.mapping(ticket_sync_core::domain::TicketId(id)).unwrap().unwrap();
        assert_eq!(m.issue_number.0, survivor, "ticket {id} follows the survivor");
        let (line, _) = stage(&env, id).await;
        assert_eq!(line, "", "the survivor has no fix under way yet");
    }
    env.escalate().await;
    let comments = impact(&env, survivor);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("3 Zendesk tickets are linked"), "{}", comments[0]);

    // The survivor's close reaches all three, once; reruns write nothing.
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix sign-in", &format!("Fixes #{survivor}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    for id in [first, second, third] {
        assert_eq!(close_notes(&env, id).len(), 1, "ticket {id}");
        assert_eq!(notes_with(&env, id, "survivor-").len(), usize::from(id != third));
    }
    let writes = (env.github_writes(), env.zendesk_writes());
    env.push().await;
    env.escalate().await;
    env.push().await;
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes);
}

#[tokio::test]
async fn a_duplicate_of_an_issue_outside_the_routes_is_a_close_that_names_it() {
    let (env, _, _) = env("").await;
    env.sb.github.add_repo("acme/elsewhere", ticket_sync_sandbox::Visibility::Private, true);
    let other = env.sb.github.add_issue("acme/elsewhere", "The same bug", "body", "alice");
    let (id, n) = env.linked("Crash on start").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, n, "acme/elsewhere", other, "alice");
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1, "{:?}", env.push_notes(id));
    assert!(
        closes[0].contains(&format!("Closed as a duplicate of acme/elsewhere#{other}, which is not in a repository")),
        "{}",
        closes[0]
    );
    assert!(notes_with(&env, id, "survivor-").is_empty());
    let (line, name) = stage(&env, id).await;
    assert_eq!((line, name), (format!("duplicate of acme/elsewhere#{other}"), "duplicate".to_string()));
}

#[tokio::test]
async fn a_shipped_note_never_overtakes_a_close_note_waiting_out_a_failure() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Flaky ticket").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.sb.github.create_release(REPO, ReleaseSpec::published("v4.0.0"), "alice");
    let rule = FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(50);
    env.sb.zendesk.door.faults.push(rule);
    let report = env.push().await;
    assert!(report.failed >= 1, "{report:?}");
    assert!(env.push_notes(id).is_empty());

    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(ticket_sync_core::domain::TicketId(id)).unwrap();
    env.push().await;
    env.push().await;
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains(" was closed ") && notes[1].contains("shipped in v4.0.0"), "in order: {notes:?}");
}

/// A GitHub App without read access to pull requests and contents: `check --online` warns
/// (and passes: issues still sync), and a push pass follows no fix there, failing nothing.
#[tokio::test]
async fn an_app_that_cannot_read_pull_requests_is_warned_of_and_fails_nothing() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    env.sb.github.enable_app(1001, "sync-app", ticket_sync_sandbox::APP_TEST_PUBLIC_KEY_PEM);
    let installation = env.sb.github.add_installation("acme", Some("write"));
    let key = env.dir.path().join("app.pem");
    std::fs::write(&key, ticket_sync_sandbox::APP_TEST_KEY_PEM).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let rules = std::fs::read_to_string(&env.rules_path).unwrap().replacen(
        "token_env = \"TS_SANDBOX_GITHUB_TOKEN\"",
        &format!("app_id = 1001\nprivate_key_file = \"{}\"", key.display()),
        1,
    );
    std::fs::write(&env.rules_path, rules).unwrap();
    let out = env.bin(&["check", "--online"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let warning =
        format!("warn  acme/backend: GitHub App installation {installation} cannot read pull_requests or contents");
    assert!(text.contains(&warning), "{text}");

    let (id, n) = env.linked("No permission").await;
    tick(&env);
    env.sb.github.open_pull_request(REPO, "Fix", &format!("Fixes #{n}"), "bob");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(notes_with(&env, id, "pr-review-").is_empty());

    env.sb.github.set_installation_permission(installation, "pull_requests", Some("read"));
    env.sb.github.set_installation_permission(installation, "contents", Some("read"));
    let out = env.bin(&["check", "--online"], &[]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("warn  acme/backend"));
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "granted: followed from the next pass");
}

/// A pull request linked to the issue in GitHub's sidebar (no keyword in its description):
/// GitHub's GraphQL names the link, and the tickets are told it is in review.
#[tokio::test]
async fn a_pull_request_linked_in_githubs_sidebar_is_told_in_review() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Timeout on upload").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Raise the upload timeout", "No keyword here.", "bob");
    env.sb.github.link_pull_request(REPO, n, REPO, pr, "bob");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let review = notes_with(&env, id, "pr-review-");
    assert_eq!(review.len(), 1, "{:?}", env.push_notes(id));
    assert!(review[0].contains(&format!("pull request {REPO}#{pr} \"Raise the upload timeout\"")), "{}", review[0]);
    let (line, _) = stage(&env, id).await;
    assert!(line.starts_with("in review: "), "{line}");
}
