//! Review of part 15 (`[fixes]`): tests written, failing, for the defects a cold review found,
//! and kept as regression tests once each was fixed. Each doc comment tells the defect as it
//! was found; the test states the promise it holds the code to.

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule, MergeMethod, ReleaseSpec};

use crate::fixes::{close_notes, compares, impact, notes_with, tick};
use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

/// `[linking]` with state tags and `extra` in `[fixes]` (as tests/it/fixes.rs sets it up).
async fn env(fixes: &str) -> Env {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let link_field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    env.rewrite_rules(
        ROUTES,
        &format!("{PUSHBACK}\n[linking]\nfield_id = {link_field}\nstate_tags = true\n\n[fixes]\n{fixes}\n"),
    );
    env
}

/// A comment engineering wrote on an issue just before closing it as a duplicate never reaches
/// the tickets that move to the survivor: `sync_repo` drops the moved tickets from the whole
/// plan (comments included), and the watermarks move past the comment.
#[tokio::test]
async fn a_comment_made_just_before_a_duplicate_close_still_reaches_the_moved_ticket() {
    let env = env("").await;
    let (id, dup) = env.linked("Login fails").await;
    let (_, survivor) = env.linked("Cannot sign in").await;
    tick(&env);
    env.sb.github.add_comment(REPO, dup, "dev", "Root cause: the session cookie expires early.");
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, dup, REPO, survivor, "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    env.push().await;
    let notes = env.push_notes(id);
    assert_eq!(notes_with(&env, id, "survivor-").len(), 1, "moved: {notes:?}");
    assert!(notes.iter().any(|n| n.contains("session cookie expires early")), "the comment is lost: {notes:?}");
}

/// A ticket moved to a survivor that is already closed is never told it is closed: the
/// mapping takes the survivor's state `closed`, so push-back sees no change; the ticket stays
/// open (here `closed_completed = "solved"`) while linked to a closed issue, and nothing more
/// ever comes.
#[tokio::test]
async fn a_ticket_moved_to_a_survivor_that_is_already_closed_is_told_it_is_closed() {
    let env = env("").await;
    let (id, dup) = env.linked("Login fails").await;
    let survivor = env.sb.github.add_issue(REPO, "Sign-in broken", "body", "alice");
    env.sb.github.close_issue(REPO, survivor, "completed", "alice");
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, dup, REPO, survivor, "alice");
    env.push().await;
    tick(&env);
    env.push().await;
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(m.issue_number.0, survivor, "moved to the survivor");
    let status = env.sb.zendesk.ticket(id).unwrap().status;
    let notes = env.push_notes(id);
    assert_eq!(status, "solved", "the ticket follows a closed issue but was never told: {notes:?}");
}

/// An issue fixed by a merged pull request, reopened, then closed by hand as "not planned":
/// the close has no commit, so `closer` falls back to *any* merged pull request ever known to
/// close the issue; the "not planned" close note says "Fixed by pull request …", the old commit
/// becomes a pending fix again, and the next release tells the customer it shipped.
#[tokio::test]
async fn a_close_by_hand_after_a_reopen_names_no_old_pull_request_and_ships_nothing() {
    let env = env("").await;
    let (id, n) = env.linked("Export fails").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix export", &format!("Fixes #{n}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    assert_eq!(close_notes(&env, id).len(), 1);
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    env.push().await;
    tick(&env);
    env.sb.github.close_issue(REPO, n, "not_planned", "alice");
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 2, "{closes:?}");
    assert!(!closes[1].contains("Fixed by"), "a close by hand as not planned names a fix: {}", closes[1]);
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v5.0.0"), "alice");
    env.push().await;
    assert!(notes_with(&env, id, "shipped-").is_empty(), "told it shipped: {:?}", env.push_notes(id));
}

/// A compare that answers 404 (a release on an unrelated history) is asked again on every
/// pass, for every pending fix, for as long as the fix is pending: the cost of an idle pass
/// grows with history (here: one release and one fix cost a compare per pass, forever).
#[tokio::test]
async fn a_release_whose_compare_answers_404_is_not_asked_again_on_every_pass() {
    let env = env("").await;
    let (_, n) = env.linked("Wrong total").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_orphan_branch(REPO, "docs", "Docs site", "alice");
    env.sb.github.create_release(
        REPO,
        ReleaseSpec { target: "docs".into(), ..ReleaseSpec::published("docs-1") },
        "alice",
    );
    env.push().await;
    let after_first = compares(&env);
    assert!(after_first >= 1);
    for _ in 0..5 {
        tick(&env);
        env.push().await;
    }
    let more = compares(&env) - after_first;
    assert!(more <= 1, "{more} more compares over five idle passes, one per pass for ever");
}

/// The compare of the older release fails once (a 500); the newer one contains the fix too,
/// and is taken: the tickets are told the fix shipped in v2.5.0 when v2.4.0 shipped it, and
/// v2.4.0 is never asked again (the fix is no longer pending).
#[tokio::test]
async fn a_failed_compare_of_an_older_release_does_not_name_a_later_release() {
    let env = env("").await;
    let (id, n) = env.linked("Wrong total").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.4.0"), "alice");
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.5.0"), "alice");
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/compare/v2.4.0", Fault::Status(500)).times(20));
    env.push().await;
    env.sb.github.door.faults.clear();
    tick(&env);
    env.push().await;
    let shipped = notes_with(&env, id, "shipped-");
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    assert!(shipped[0].contains("shipped in v2.4.0"), "the first release that contains the fix: {}", shipped[0]);
}

/// A pull request opened and then closed unmerged while the ticket's Zendesk writes fail: the
/// "in review" note waits as an intent, the "closed without merging" note is skipped because
/// the review note is not *done* yet, and the pull-request watermark moves past it. Once
/// Zendesk recovers, the ticket is told the fix is in review, and never that it was dropped.
#[tokio::test]
async fn a_pull_request_closed_unmerged_while_its_review_note_waits_is_told_after_it() {
    let env = env("").await;
    let (id, n) = env.linked("Crash on save").await;
    tick(&env);
    let rule = FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(1000);
    env.sb.zendesk.door.faults.push(rule);
    let pr = env.sb.github.open_pull_request(REPO, "Fix save", &format!("Fixes #{n}"), "bob");
    env.push().await;
    tick(&env);
    env.sb.github.close_pull_request(REPO, pr, "bob");
    env.push().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    tick(&env);
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "{:?}", env.push_notes(id));
    assert_eq!(
        notes_with(&env, id, "pr-unmerged-").len(),
        1,
        "told in review, never told it was dropped: {:?}",
        env.push_notes(id)
    );
}

/// The close note fails (Zendesk 500) and waits as an intent; the same pass then finds a
/// release that contains the fix and writes the "shipped" note at once, before the close note
/// that waits: the ticket reads "shipped" and only later "closed". (Push-back keeps a
/// ticket's order through `blocked`; `fixes::write` ignores it.)
#[tokio::test]
async fn a_shipped_note_does_not_overtake_a_close_note_waiting_out_a_failure() {
    let env = env("").await;
    let (id, n) = env.linked("Flaky ticket").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.sb.github.create_release(REPO, ReleaseSpec::published("v4.0.0"), "alice");
    // Three tries of the close note's PUT within the pass (the client retries a 5xx), then
    // the shipped note's PUT goes through.
    let rule = FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(4);
    env.sb.zendesk.door.faults.push(rule);
    env.push().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.push().await;
    env.push().await;
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains(" was closed ") && notes[1].contains("shipped in v4.0.0"), "out of order: {notes:?}");
}

/// A pull request in another routed repository (acme/billing) closes the linked issue in
/// acme/backend with `Fixes acme/backend#N`. The `closed` event's commit is billing's
/// (`commit_url` names it; docs/research/github-fixes.md §1 says "compare and which release
/// must use repo B"), but `closer` takes it for a commit of the issue's repository: the close
/// note says "by commit … in acme/backend", the fix waits for a backend release that can never
/// contain it, and every backend release then costs a 404 compare on every pass.
#[tokio::test]
async fn a_fix_merged_in_another_repository_is_not_taken_for_a_commit_of_the_issues_repository() {
    let env = env("").await;
    let (id, n) = env.linked("Invoice totals wrong").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request("acme/billing", "Fix totals", &format!("Fixes {REPO}#{n}"), "bob");
    env.sb.github.merge_pull_request("acme/billing", pr, MergeMethod::Merge, "carol");
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1, "{:?}", env.push_notes(id));
    assert!(!closes[0].contains(&format!("in {REPO}.")), "the commit is acme/billing's: {}", closes[0]);
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    env.push().await;
    let first = compares(&env);
    for _ in 0..3 {
        tick(&env);
        env.push().await;
    }
    assert!(compares(&env) - first <= 1, "a compare of backend's tag with billing's commit on every pass");
}

/// One compare answers something other than a 404 or a 500 (here a 422; a proxy's page or a
/// body without `ahead_by` does the same): `releases` returns the error for the whole
/// repository, so every other pending fix of the repository (here ticket B's, in the same
/// release) is never looked at, on this pass or any later one, for as long as that release and
/// fix exist. One bad item stops the repository.
#[tokio::test]
async fn one_compare_that_fails_oddly_does_not_stop_the_other_fixes_of_the_repository() {
    let env = env("").await;
    let (_, a) = env.linked("Export fails").await;
    let (b_ticket, b) = env.linked("Import fails").await;
    tick(&env);
    let sha_a = env.sb.github.close_issue_by_commit(REPO, a, "dave");
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, b, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    let odd = FaultRule::new(Some(Method::GET), &format!("/compare/v1.0.0...{sha_a}"), Fault::Status(422)).times(1000);
    env.sb.github.door.faults.push(odd);
    for _ in 0..3 {
        tick(&env);
        env.push().await;
    }
    let shipped = notes_with(&env, b_ticket, "shipped-");
    assert_eq!(shipped.len(), 1, "B's fix is in v1.0.0 but never told: {:?}", env.push_notes(b_ticket));
}

/// `status --ticket ID`'s fix line, as tests/it/fixes.rs reads it.
async fn stage(env: &Env, ticket: u64) -> String {
    let out = env.bin(&["status", "--ticket", &ticket.to_string()], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines().find_map(|l| l.trim().strip_prefix("fix: ")).unwrap_or("").to_string()
}

/// Shipped in v2.4.0, then reopened (the fix did not fix it) and a new pull request opened:
/// `fix_stage` drops the closer of a reopened fix but not its `shipped`, and `shipped` wins
/// over everything, so `status --ticket` keeps saying "shipped in v2.4.0" for an open issue
/// with a fix in review.
#[tokio::test]
async fn status_of_a_reopened_issue_does_not_say_shipped() {
    let env = env("").await;
    let (id, n) = env.linked("Crash on save").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.4.0"), "alice");
    env.push().await;
    assert!(stage(&env, id).await.starts_with("shipped in v2.4.0"));
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    let pr = env.sb.github.open_pull_request(REPO, "Really fix save", &format!("Fixes #{n}"), "bob");
    env.push().await;
    let line = stage(&env, id).await;
    assert!(line.starts_with(&format!("in review: pull request {REPO}#{pr}")), "{line}");
}

/// The public reply has no marker: a retry recognises an earlier attempt by its whole text,
/// written by ticket-sync's user, anywhere in the ticket's recent comments. With a template
/// that names no release (`{tag}`, `{release_url}`), the reply of a second release (the issue
/// reopened, fixed again, shipped again) reads exactly as the first one; a crash before its
/// PUT makes the retry "find" the first release's reply, and the customer is never told of
/// the second. The search should only count comments made since the intent's first attempt.
#[tokio::test]
async fn an_interrupted_second_public_reply_is_not_taken_for_the_first_ones() {
    let env = env("reply_template = \"Good news: the fix is out. Please update.\"\npublic_reply = true").await;
    let (id, n) = env.linked("Crash on save").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    env.push().await;
    let replies = |env: &Env| {
        env.sb.zendesk.comments(id).into_iter().filter(|c| c.public && c.body.contains("Good news")).count()
    };
    assert_eq!(replies(&env), 1);
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    env.push().await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dave");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.1.0"), "alice");
    // The second release: its shipped note is the first push-note write, its reply the second.
    let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", "before_push_note:2")]).await;
    assert!(!crashed.status.success(), "the process must have aborted");
    env.sb.settle();
    let again = env.bin(&["sync"], &[]).await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(notes_with(&env, id, "shipped-").len(), 2, "{:?}", env.push_notes(id));
    assert_eq!(replies(&env), 2, "the second release's reply was never posted");
}

/// A survivor no ticket was linked to takes the one escalated ticket of its duplicate: the
/// link moves, but `link::refresh` skips the linked-tickets comment for an issue with one
/// active link made by escalation (it assumes the issue's own body names that ticket, which
/// is only true of the issue escalation created: the duplicate). Engineering on the survivor
/// never sees that a customer waits on it.
#[tokio::test]
async fn a_survivor_that_takes_a_single_escalated_ticket_shows_it_in_its_impact_comment() {
    let env = env("").await;
    let (_, dup) = env.linked("Login fails").await;
    let survivor = env.sb.github.add_issue(REPO, "Sign-in broken", "body", "alice");
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, dup, REPO, survivor, "alice");
    env.push().await;
    env.escalate().await;
    env.push().await;
    let comments = impact(&env, survivor);
    assert_eq!(comments.len(), 1, "the survivor names no ticket: {comments:?}");
}

/// fixes.rs's own header says the pull requests are read *before* push-back "so a close note
/// names the merged pull request without asking GitHub"; `pushback::run` calls `follow` after
/// `sync_repo`, so the merge is never known yet when the close is read, and every close by a
/// pull request costs `GET …/commits/{sha}/pulls`.
#[tokio::test]
async fn a_close_by_a_pull_request_ticket_sync_read_costs_no_commit_lookup() {
    let env = env("").await;
    let (_, n) = env.linked("Crash on save").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix save", &format!("Fixes #{n}"), "bob");
    env.push().await;
    tick(&env);
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Squash, "carol");
    env.sb.github.door.log.clear();
    env.push().await;
    let lookups = env.sb.github.door.log.count(|e| e.path.contains("/commits/") && e.path.ends_with("/pulls"));
    assert_eq!(lookups, 0, "the merged pull request was read in the same pass, after the close");
}
