//! Hostile review of part 15 (`[fixes]`): a hostile GitHub user (forged markers, edited pull
//! requests, hundreds of closing keywords), a hostile or flaky GitHub (compare, releases,
//! pulls and GraphQL failing), an unlucky operator (a version field that refuses the tag), and
//! the odd paths developers take (reopen, close by hand, duplicates of duplicates). Each test
//! asserts what a demanding user expects: every ticket told each step exactly once, nothing
//! lost, one bad thing failing one item (not a repository, not the pass), a bounded cost.

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule, MergeMethod, ReleaseSpec};

use crate::fixes::{close_notes, compares, env, notes_with, tick};
use crate::harness::{Env, PUSHBACK, ROUTES};
use crate::linking::{plain, set_field};

const REPO: &str = "acme/backend";
const BILLING: &str = "acme/billing";

fn write_rules(env: &Env, link_field: u64, version_field: u64, fixes: &str) {
    env.rewrite_rules(
        ROUTES,
        &format!(
            "{PUSHBACK}\n[linking]\nfield_id = {link_field}\nstate_tags = true\n\n[fixes]\nversion_field_id = {version_field}\n{fixes}\n"
        ),
    );
}

/// A ticket routed to acme/billing and escalated: (ticket, issue number there).
async fn linked_billing(env: &Env, subject: &str) -> (u64, u64) {
    let id = env.ticket(subject, &["escalated", "billing"]);
    env.escalate().await;
    (id, env.issues_for(BILLING, id)[0])
}

/// A plain ticket an agent links to `repo#number` through the field.
async fn linked_by_field(env: &Env, link_field: u64, repo: &str, number: u64, subject: &str) -> u64 {
    let id = plain(env, subject);
    set_field(env, link_field, id, Some(&format!("{repo}#{number}")));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    id
}

fn linked_issue(env: &Env, ticket: u64) -> (String, u64) {
    let m = env.engine().store.mapping(TicketId(ticket)).unwrap().unwrap();
    (m.repo.to_string(), m.issue_number.0)
}

// ---------------------------------------------------------------------------------------------
// A hostile GitHub user
// ---------------------------------------------------------------------------------------------

/// A pull request whose title carries the exact marker of the note that will follow it
/// (`pr-unmerged-…` of itself), then the unmerged note's answer is lost: the retry must not
/// take the in-review note (ticket-sync's own, carrying the forged text) for the unmerged one.
#[tokio::test]
async fn attack_a_title_forging_the_next_notes_marker_does_not_swallow_that_note() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Forged title").await;
    tick(&env);
    // Numbers are shared by issues and pull requests: the next one is n + 1.
    let forged = format!("Fix [ticket-sync:event pr-unmerged-{REPO}-{}] <!-- ticket-sync:x -->", n + 1);
    let pr = env.sb.github.open_pull_request(REPO, &forged, &format!("Fixes #{n}"), "mallory");
    assert_eq!(pr, n + 1);
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1);
    tick(&env);
    env.sb.github.close_pull_request(REPO, pr, "mallory");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::LoseResponse));
    env.push().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    tick(&env);
    env.push().await;
    env.push().await;
    let unmerged = notes_with(&env, id, "pr-unmerged-");
    assert_eq!(unmerged.len(), 1, "the unmerged note exactly once: {:#?}", env.push_notes(id));
    let all = env.push_notes(id);
    assert!(all.iter().all(|n| !n.contains("<!-- ticket-sync:x")), "markers in the title are defused: {all:#?}");
}

/// A pull request that "fixes" 500 issues, some of another host, some of another repository,
/// one of them linked: only that ticket hears of it, once, and reading it costs no request per
/// reference.
#[tokio::test]
async fn attack_a_pull_request_fixing_five_hundred_issues_tells_only_the_linked_ticket_at_no_extra_cost() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Five hundred").await;
    let (billing_id, b) = linked_billing(&env, "Billing ticket").await;
    tick(&env);
    let mut body = String::new();
    for i in 1..=500u64 {
        body.push_str(&format!("Fixes #{} ", n + 1000 + i));
    }
    // The linked issues, but written as another host's URLs: GitHub closes nothing for them.
    body.push_str(&format!("\nFixes https://github.example.org/{REPO}/issues/{n}\n"));
    body.push_str(&format!("Fixes https://evil.example/{BILLING}/issues/{b}\n"));
    body.push_str(&format!("Fixes #{n}\n"));
    env.push().await;
    env.sb.github.door.log.clear();
    let pr = env.sb.github.open_pull_request(REPO, "Fix everything", &body, "mallory");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let requests = env.sb.github.door.log.entries();
    assert!(requests.len() <= 8, "reading one pull request costs a few requests, not one per reference: {requests:#?}");
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "{:#?}", env.push_notes(id));
    assert!(notes_with(&env, billing_id, "pr-review-").is_empty(), "another host's URL closes nothing");
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1);
    assert!(pr > 0);
}

/// A merged pull request is edited afterwards to "fix" another linked issue (GitHub closes
/// nothing on an edit). That issue is later closed by hand as not planned: its ticket must not
/// be told it was fixed by that pull request, nor that the fix shipped.
#[tokio::test]
async fn attack_a_merged_pull_request_edited_to_name_another_issue_does_not_claim_its_hand_close() {
    let (env, _, _) = env("").await;
    let (first, n1) = env.linked("Fixed for real").await;
    let (second, n2) = env.linked("Never fixed").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix one", &format!("Fixes #{n1}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Squash, "carol");
    env.push().await;
    assert_eq!(close_notes(&env, first).len(), 1);
    tick(&env);
    env.sb.github.edit_pull_request_body(REPO, pr, &format!("Fixes #{n1}\nFixes #{n2}"), "mallory");
    env.push().await;
    tick(&env);
    env.sb.github.close_issue(REPO, n2, "not_planned", "alice");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, first, "shipped-").len(), 1);
    let closes = close_notes(&env, second);
    assert_eq!(closes.len(), 1, "{closes:#?}");
    assert!(!closes[0].contains("Fixed by"), "closed by hand as not planned, yet: {}", closes[0]);
    assert!(
        notes_with(&env, second, "shipped-").is_empty(),
        "a not-planned issue was told its fix shipped: {:#?}",
        env.push_notes(second)
    );
}

// ---------------------------------------------------------------------------------------------
// Developers' odd paths
// ---------------------------------------------------------------------------------------------

/// Closed by a pull request, reopened (the fix did not hold), then closed by hand as not
/// planned: the last close names no fix and no release note follows (issue 22: "A close
/// without a fix commit (closed by hand) gets no release note").
#[tokio::test]
async fn attack_reopened_then_closed_by_hand_names_no_fix_and_ships_nothing() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Did not hold").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Attempt", &format!("Fixes #{n}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    env.push().await;
    tick(&env);
    env.sb.github.close_issue(REPO, n, "not_planned", "alice");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.1.0"), "alice");
    env.push().await;
    env.push().await;
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 2, "{closes:#?}");
    assert!(closes[0].contains("Fixed by pull request"), "{}", closes[0]);
    assert!(!closes[1].contains("Fixed by"), "a close by hand after a reopen names the old fix: {}", closes[1]);
    assert!(
        notes_with(&env, id, "shipped-").is_empty(),
        "the reopen said the fix did not hold; a not-planned close then shipped it: {:#?}",
        env.push_notes(id)
    );
}

/// Shipped in v1, reopened, fixed again by another pull request, shipped in v2: told each
/// release once, the field shows v2.
#[tokio::test]
async fn attack_reopened_after_shipping_and_fixed_again_is_told_the_new_release_once() {
    let (env, _, version_field) = env("").await;
    let (id, n) = env.linked("Regression").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix", &format!("Fixes #{n}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    env.push().await;
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    env.push().await;
    tick(&env);
    let again = env.sb.github.open_pull_request(REPO, "Fix for real", &format!("Fixes #{n}"), "bob");
    env.sb.github.merge_pull_request(REPO, again, MergeMethod::Squash, "carol");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.0.0"), "alice");
    env.push().await;
    env.push().await;
    let shipped = notes_with(&env, id, "shipped-");
    assert_eq!(shipped.len(), 2, "{:#?}", env.push_notes(id));
    assert!(shipped[0].contains("shipped in v1.0.0") && shipped[1].contains("shipped in v2.0.0"), "{shipped:#?}");
    assert_eq!(env.sb.zendesk.field_value(id, version_field).as_deref(), Some("v2.0.0"));
}

/// A pull request closed unmerged, reopened, closed again: "in review" once and "closed
/// without merging" once; merged at last: the close note names it.
#[tokio::test]
async fn attack_a_pull_request_closed_reopened_and_closed_again_is_told_once_each() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Flip flop").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Maybe", &format!("Closes #{n}"), "bob");
    env.push().await;
    for _ in 0..2 {
        tick(&env);
        env.sb.github.close_pull_request(REPO, pr, "bob");
        env.push().await;
        tick(&env);
        env.sb.github.reopen_issue(REPO, pr, "bob");
        env.push().await;
    }
    tick(&env);
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "{:#?}", env.push_notes(id));
    assert_eq!(notes_with(&env, id, "pr-unmerged-").len(), 1, "{:#?}", env.push_notes(id));
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1, "{closes:#?}");
    assert!(closes[0].contains(&format!("Fixed by pull request {REPO}#{pr}")), "{}", closes[0]);
}

/// A ticket linked by an agent while a pull request that fixes its issue is open (the pull
/// request was read before, when no ticket was linked): the ticket is told it is in review.
#[tokio::test]
async fn attack_a_ticket_linked_while_the_fix_is_in_review_is_told_so() {
    let (env, link_field, _) = env("").await;
    let _ = env.linked("Keeps the repository followed").await;
    let n = env.sb.github.add_issue(REPO, "Known bug", "found by engineering", "alice");
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix the known bug", &format!("Fixes #{n}"), "bob");
    env.push().await;
    let id = linked_by_field(&env, link_field, REPO, n, "Customer hits the known bug").await;
    tick(&env);
    env.push().await;
    env.push().await;
    assert_eq!(
        notes_with(&env, id, "pr-review-").len(),
        1,
        "linked while {REPO}#{pr} is open: never told it is in review: {:#?}",
        env.push_notes(id)
    );
}

/// A pull request in acme/backend fixes an issue of acme/billing (both routed): the close
/// note names the pull request ticket-sync already told the ticket about, and the fix ships
/// with acme/backend's release (design: "a fix in another repository's pull request ships in
/// that repository's releases, which are read only when it is routed" — it is routed).
#[tokio::test]
async fn attack_a_fix_from_another_routed_repository_is_named_and_ships_there() {
    let (env, _, version_field) = env("").await;
    let (id, b) = linked_billing(&env, "Invoice wrong").await;
    let _ = env.linked("Keeps acme/backend followed").await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix invoices", &format!("Fixes {BILLING}#{b}"), "bob");
    env.push().await;
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "{:#?}", env.push_notes(id));
    tick(&env);
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Squash, "carol");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(!env.sb.github.issue(BILLING, b).unwrap().state.eq("open"), "GitHub closed it across repositories");
    tick(&env);
    env.sb.github.create_release(BILLING, ReleaseSpec::published("billing-v1"), "alice");
    env.sb.github.create_release(REPO, ReleaseSpec::published("v3.0.0"), "alice");
    env.push().await;
    let before = compares(&env);
    for _ in 0..3 {
        tick(&env);
        env.push().await;
    }
    let closes = close_notes(&env, id);
    assert_eq!(closes.len(), 1, "{closes:#?}");
    let shipped = notes_with(&env, id, "shipped-");
    let idle_compares = compares(&env) - before;
    assert!(
        closes[0].contains(&format!("Fixed by pull request {REPO}#{pr}")) && shipped.len() == 1 && idle_compares == 0,
        "close note: {}\nshipped notes: {shipped:#?}\nversion field: {:?}\ncompares in 3 idle passes: {idle_compares}",
        closes[0],
        env.sb.zendesk.field_value(id, version_field)
    );
}

// ---------------------------------------------------------------------------------------------
// Duplicates
// ---------------------------------------------------------------------------------------------

/// Issue A is closed as a duplicate of B, and B is closed by a fix in the same minute (one
/// pass reads both): A's tickets move to B and must hear that B is closed, like B's own.
#[tokio::test]
async fn attack_tickets_moved_to_a_survivor_closed_in_the_same_pass_hear_of_the_close() {
    let (env, _, _) = env("").await;
    let (moved, a) = env.linked("Sign-in broken").await;
    let (own, b) = env.linked("Cannot sign in").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
    env.sb.github.close_issue_by_commit(REPO, b, "dev");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    env.push().await;
    assert_eq!(linked_issue(&env, moved), (REPO.to_string(), b));
    assert_eq!(notes_with(&env, moved, "survivor-").len(), 1);
    assert_eq!(close_notes(&env, own).len(), 1);
    let status = env.sb.zendesk.ticket(moved).unwrap().status;
    assert!(
        !close_notes(&env, moved).is_empty() || status == "solved",
        "the moved ticket never hears its new issue closed (status {status}): {:#?}",
        env.push_notes(moved)
    );
}

/// Issue A is closed as a duplicate of B, which was fixed and closed last week: A's tickets
/// move to a closed issue, and must be told so (not left open waiting for a close that was).
#[tokio::test]
async fn attack_tickets_moved_to_an_already_closed_survivor_are_told_it_is_closed() {
    let (env, _, _) = env("").await;
    let (own, b) = env.linked("Old bug").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, b, "dev");
    env.push().await;
    assert_eq!(close_notes(&env, own).len(), 1);
    let (moved, a) = env.linked("Old bug again").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
    env.push().await;
    env.push().await;
    assert_eq!(linked_issue(&env, moved), (REPO.to_string(), b));
    let notes = env.push_notes(moved);
    let status = env.sb.zendesk.ticket(moved).unwrap().status;
    let told =
        notes.iter().any(|n| n.contains(&format!("{REPO}#{b}")) && n.contains("closed") && !n.contains("duplicate"));
    assert!(
        told || status == "solved",
        "moved to closed {REPO}#{b}, the ticket is neither told it is closed nor solved (status {status}): {notes:#?}"
    );
}

/// B was closed as a duplicate of C (B's tickets went to C); then A is closed as a duplicate
/// of B: A's tickets must end on C, the issue that will be fixed, not on the closed B.
#[tokio::test]
async fn attack_a_duplicate_of_a_duplicate_follows_the_chain_to_the_live_issue() {
    let (env, _, _) = env("").await;
    let (on_b, b) = env.linked("Middle").await;
    let (on_c, c) = env.linked("Canonical").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, b, REPO, c, "alice");
    env.push().await;
    assert_eq!(linked_issue(&env, on_b).1, c);
    let (on_a, a) = env.linked("First report").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
    env.push().await;
    tick(&env);
    let pr = env.sb.github.open_pull_request(REPO, "Fix it", &format!("Fixes #{c}"), "bob");
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v5.0.0"), "alice");
    env.push().await;
    for id in [on_b, on_c] {
        assert_eq!(notes_with(&env, id, "shipped-").len(), 1, "ticket {id}");
    }
    assert_eq!(
        (linked_issue(&env, on_a).1, notes_with(&env, on_a, "shipped-").len()),
        (c, 1),
        "A's ticket is stuck on closed duplicate #{b} and never hears of #{c}'s fix: {:#?}",
        env.push_notes(on_a)
    );
}

/// A duplicate of an issue in another routed repository: the tickets move there, and that
/// issue's fix (and release) reach them once.
#[tokio::test]
async fn attack_a_duplicate_of_an_issue_in_another_routed_repository_follows_it_there() {
    let (env, _, _) = env("").await;
    let (moved, a) = env.linked("Charged twice").await;
    let (own, b) = linked_billing(&env, "Charged twice (billing)").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, a, BILLING, b, "alice");
    env.push().await;
    assert_eq!(linked_issue(&env, moved), (BILLING.to_string(), b));
    tick(&env);
    env.sb.github.close_issue_by_commit(BILLING, b, "dev");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(BILLING, ReleaseSpec::published("b2.0"), "alice");
    env.push().await;
    env.push().await;
    for id in [moved, own] {
        assert_eq!(close_notes(&env, id).len(), 1, "ticket {id}: {:#?}", env.push_notes(id));
        assert_eq!(notes_with(&env, id, "shipped-").len(), 1, "ticket {id}");
    }
    assert_eq!(notes_with(&env, moved, "survivor-").len(), 1);
}

/// GitHub's GraphQL API fails (502) for a while: the duplicate waits, but the close note of
/// another issue of the same repository is not held back; once GraphQL answers, the
/// duplicate's tickets move once.
#[tokio::test]
async fn attack_a_graphql_outage_holds_back_only_the_duplicate() {
    let (env, _, _) = env("").await;
    let (dup_ticket, a) = env.linked("Dup").await;
    let (_, b) = env.linked("Survivor").await;
    let (other, x) = env.linked("Unrelated").await;
    tick(&env);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/graphql", Fault::Status(502)).times(10_000));
    env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
    env.sb.github.close_issue(REPO, x, "completed", "alice");
    let report = env.push().await;
    tick(&env);
    env.push().await;
    let other_told = close_notes(&env, other).len();
    env.sb.github.door.faults.clear();
    tick(&env);
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, dup_ticket, "survivor-").len(), 1, "{:#?}", env.push_notes(dup_ticket));
    assert_eq!(close_notes(&env, other).len(), 1);
    assert_eq!(
        other_told, 1,
        "an unrelated issue's close note waited for GraphQL, which it does not need (first pass: {report:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// A flaky GitHub
// ---------------------------------------------------------------------------------------------

/// A pending fix closed by commit, and a release that contains it.
async fn shipped_setup(env: &Env) -> (u64, u64) {
    let (id, n) = env.linked("Needs shipping").await;
    tick(env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.push().await;
    assert_eq!(close_notes(env, id).len(), 1);
    (id, n)
}

/// Compare answers 500 for a while, then 200: shipped once, and each failing pass costs a
/// bounded number of compares.
#[tokio::test]
async fn attack_compare_failing_for_a_while_then_answering_ships_once() {
    let (env, _, _) = env("").await;
    let (id, _) = shipped_setup(&env).await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/compare/", Fault::Status(500)).times(12));
    let mut per_pass = Vec::new();
    for _ in 0..3 {
        let before = compares(&env);
        let report = env.push().await;
        per_pass.push((compares(&env) - before, report.failed));
        tick(&env);
    }
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1, "{per_pass:?}");
    assert!(per_pass.iter().all(|(c, _)| *c <= 4), "compares per pass: {per_pass:?}");
}

/// A release that does not contain a pending fix (a maintenance branch) whose compare keeps
/// answering 500 (a huge diff), or whose tag was deleted (404): the idle pass must not pay a
/// compare (and its retries) every time, forever.
#[tokio::test]
async fn attack_an_unanswerable_compare_is_not_paid_on_every_idle_pass() {
    let mut seen = Vec::new();
    for scenario in ["slow diff", "deleted tag"] {
        let (env, _, _) = env("").await;
        let old = env.sb.github.resolve_ref(REPO, "main").unwrap();
        let (id, _) = shipped_setup(&env).await;
        tick(&env);
        env.sb.github.create_branch(REPO, "release-1", &old);
        env.sb.github.push_commit(REPO, "release-1", "Backport something else", "dev");
        let spec = ReleaseSpec { target: "release-1".into(), ..ReleaseSpec::published("v1.0.1") };
        env.sb.github.create_release(REPO, spec, "alice");
        match scenario {
            "slow diff" => env.sb.github.set_slow_diffs(REPO, true),
            _ => env.sb.github.delete_tag(REPO, "v1.0.1"),
        }
        env.push().await;
        let mut per_pass = Vec::new();
        for _ in 0..8 {
            tick(&env);
            let before = env.sb.github.door.log.len();
            let c = compares(&env);
            env.push().await;
            per_pass.push((env.sb.github.door.log.len() - before, compares(&env) - c));
        }
        assert!(notes_with(&env, id, "shipped-").is_empty());
        seen.push((scenario, per_pass));
    }
    // An unanswered compare is asked again on a few later passes (a 500 can pass; a later
    // release is never named before an earlier one answers), then given up: the last passes
    // ask nothing, and the whole cost is bounded (a 404 twice, a 500 five times, each call with
    // the client's own retries of a 5xx).
    for (scenario, per_pass) in &seen {
        let compares: Vec<usize> = per_pass.iter().map(|(_, c)| *c).collect();
        assert!(
            compares[5..].iter().all(|c| *c == 0) && compares.iter().sum::<usize>() <= 16,
            "{scenario}: compares per idle pass {compares:?} — the same unanswerable compare is asked on and on: {seen:?}"
        );
    }
}

/// The releases list answers 500 in one repository: the other repository's fix ships in the
/// same pass, the pass goes on, and the first repository ships once it answers.
#[tokio::test]
async fn attack_a_releases_outage_in_one_repository_fails_only_that_repository() {
    let (env, _, _) = env("").await;
    let (id, _) = shipped_setup(&env).await;
    let (billing_id, b) = linked_billing(&env, "Billing bug").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(BILLING, b, "dev");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.0.0"), "alice");
    env.sb.github.create_release(BILLING, ReleaseSpec::published("b2.0.0"), "alice");
    let rule = FaultRule::new(Some(Method::GET), &format!("/repos/{REPO}/releases"), Fault::Status(500)).times(10_000);
    env.sb.github.door.faults.push(rule);
    let report = env.push().await;
    assert!(report.failed >= 1, "the repository's failure is counted: {report:?}");
    assert_eq!(notes_with(&env, billing_id, "shipped-").len(), 1);
    assert!(notes_with(&env, id, "shipped-").is_empty());
    env.sb.github.door.faults.clear();
    tick(&env);
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1);
    assert_eq!(notes_with(&env, billing_id, "shipped-").len(), 1);
}

/// A GitHub App (or fine-grained token) that may read contents but not pull requests: the pull
/// requests answer 403. Shipping needs no pull request: a fix closed by a commit still ships.
#[tokio::test]
async fn attack_without_pull_request_access_a_fix_closed_by_commit_still_ships() {
    let (env, _, _) = env("").await;
    let refusal = Fault::Reply {
        status: 403,
        headers: Vec::new(),
        body: r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/pulls/pulls#list-pull-requests","status":"403"}"#.into(),
    };
    let rule = FaultRule::new(Some(Method::GET), &format!("/repos/{REPO}/pulls"), refusal).times(10_000);
    env.sb.github.door.faults.push(rule);
    let (id, _) = shipped_setup(&env).await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.0.0"), "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    env.push().await;
    assert_eq!(
        notes_with(&env, id, "shipped-").len(),
        1,
        "the release (contents) is readable, yet the pull requests' 403 stops shipping: {:#?}",
        env.push_notes(id)
    );
}

/// A prerelease containing the fix (ignored with `prereleases = false`) is promoted to a full
/// release later: that promotion ships it, once.
#[tokio::test]
async fn attack_a_prerelease_promoted_later_ships_once() {
    let (env, _, version_field) = env("").await;
    let (id, _) = shipped_setup(&env).await;
    tick(&env);
    let rc = env.sb.github.create_release(
        REPO,
        ReleaseSpec { prerelease: true, ..ReleaseSpec::published("v4.0.0") },
        "alice",
    );
    env.push().await;
    assert!(notes_with(&env, id, "shipped-").is_empty());
    tick(&env);
    env.sb.github.set_prerelease(REPO, rc, false, "alice");
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1, "{:#?}", env.push_notes(id));
    assert_eq!(env.sb.zendesk.field_value(id, version_field).as_deref(), Some("v4.0.0"));
}

/// A draft created before the fix was merged and published after it: it ships once.
#[tokio::test]
async fn attack_a_draft_published_later_ships_once() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Draft").await;
    tick(&env);
    let draft =
        env.sb.github.create_release(REPO, ReleaseSpec { draft: true, ..ReleaseSpec::published("v6.0.0") }, "alice");
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.push().await;
    assert!(notes_with(&env, id, "shipped-").is_empty());
    tick(&env);
    env.sb.github.publish_release(REPO, draft, "alice");
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, id, "shipped-").len(), 1, "{:#?}", env.push_notes(id));
}

/// A release deleted after being seen (and compared: it did not contain the fix) and one
/// whose downloads keep counting up: nothing is said of the deleted one, and the idle pass
/// pays at most the releases list's 200, never a compare.
#[tokio::test]
async fn attack_download_churn_and_a_deleted_release_keep_the_idle_pass_cheap() {
    let (env, _, _) = env("").await;
    let old = env.sb.github.resolve_ref(REPO, "main").unwrap();
    let (id, _) = shipped_setup(&env).await;
    env.sb.github.create_branch(REPO, "release-1", &old);
    tick(&env);
    let spec = ReleaseSpec { target: "release-1".into(), ..ReleaseSpec::published("v1.0.1") };
    let maint = env.sb.github.create_release(REPO, spec, "alice");
    env.sb.github.add_release_asset(REPO, maint, "app.tar.gz");
    let gone = env.sb.github.create_release(
        REPO,
        ReleaseSpec { target: "release-1".into(), ..ReleaseSpec::published("v1.0.2") },
        "alice",
    );
    env.push().await;
    env.sb.github.delete_release(REPO, gone, "alice");
    let mut per_pass = Vec::new();
    for i in 0..5 {
        tick(&env);
        env.sb.github.bump_download_counts(REPO, maint, 10 + i);
        env.sb.github.door.log.clear();
        env.push().await;
        let log = env.sb.github.door.log.entries();
        let full = log.iter().filter(|e| e.status != 304).count();
        per_pass.push((log.len(), full, compares(&env)));
    }
    assert!(notes_with(&env, id, "shipped-").is_empty());
    assert!(per_pass.iter().all(|(_, full, c)| *full <= 1 && *c == 0), "(requests, non-304, compares): {per_pass:?}");
}

/// Two releases both contain the fix and appear in the same read: the ticket is told the
/// first one only.
#[tokio::test]
async fn attack_two_releases_in_one_read_ship_once_naming_the_first() {
    let (env, _, version_field) = env("").await;
    let (id, _) = shipped_setup(&env).await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v7.0.0"), "alice");
    tick(&env);
    env.sb.github.push_commit(REPO, "main", "More work", "dev");
    env.sb.github.create_release(REPO, ReleaseSpec::published("v7.0.1"), "alice");
    env.push().await;
    env.push().await;
    let shipped = notes_with(&env, id, "shipped-");
    assert_eq!(shipped.len(), 1, "{shipped:#?}");
    assert!(shipped[0].contains("shipped in v7.0.0"), "{}", shipped[0]);
    assert_eq!(env.sb.zendesk.field_value(id, version_field).as_deref(), Some("v7.0.0"));
}

/// One release of the list does not read (a hostile proxy turned its tag into a number): the
/// others are still read and ship the fix.
#[tokio::test]
async fn attack_one_unreadable_release_does_not_hide_the_others() {
    let (env, _, _) = env("").await;
    let (id, _) = shipped_setup(&env).await;
    tick(&env);
    env.sb.github.create_release(
        REPO,
        ReleaseSpec { target: "main".into(), ..ReleaseSpec::published("broken-1") },
        "alice",
    );
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v8.0.0"), "alice");
    let fault = Fault::Rewrite { from: "\"tag_name\":\"broken-1\"".into(), to: b"\"tag_name\":17".to_vec() };
    env.sb
        .github
        .door
        .faults
        .push(FaultRule::new(Some(Method::GET), &format!("/repos/{REPO}/releases"), fault).times(100));
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let shipped = notes_with(&env, id, "shipped-");
    assert_eq!(shipped.len(), 1, "{:#?}", env.push_notes(id));
    assert!(shipped[0].contains("v8.0.0"), "{}", shipped[0]);
    let kept = env.engine().store.releases_since(&REPO.parse().unwrap(), None).unwrap();
    assert!(kept.iter().all(|r| r.tag != "broken-1"), "the rewrite made that release unreadable: {kept:?}");
}

// ---------------------------------------------------------------------------------------------
// The Zendesk side, and the operator
// ---------------------------------------------------------------------------------------------

/// A pull request is opened (the in-review note fails: Zendesk answers 500 to that ticket for
/// a while) and closed unmerged before the note got through: once Zendesk answers, the ticket
/// gets both notes, in order, each once.
#[tokio::test]
async fn attack_the_unmerged_note_is_not_lost_while_the_review_note_waits_out_a_failure() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Flaky Zendesk").await;
    tick(&env);
    let rule = FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(10_000);
    env.sb.zendesk.door.faults.push(rule);
    let pr = env.sb.github.open_pull_request(REPO, "Try", &format!("Fixes #{n}"), "bob");
    env.push().await;
    tick(&env);
    env.sb.github.close_pull_request(REPO, pr, "bob");
    env.push().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    tick(&env);
    env.push().await;
    env.push().await;
    let notes = env.push_notes(id);
    assert_eq!(notes_with(&env, id, "pr-review-").len(), 1, "{notes:#?}");
    assert_eq!(notes_with(&env, id, "pr-unmerged-").len(), 1, "the 'closed without merging' note was lost: {notes:#?}");
}

/// The operator's version field validates its value (a regexp field for `1.2.3`, while the
/// tags are `v1.2.3`): Zendesk refuses the update with 422. The customer's ticket must still
/// get the shipped note, and later notes must not queue behind it forever.
#[tokio::test]
async fn attack_a_version_field_that_refuses_the_tag_does_not_block_the_ticket() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let link_field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    let version_field = env.sb.zendesk.add_regexp_field("Fixed in version", r"^\d+\.\d+\.\d+$");
    write_rules(&env, link_field, version_field, "");
    let (id, n) = shipped_setup(&env).await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.4.0"), "alice");
    env.push().await;
    for _ in 0..3 {
        env.engine().store.retry_now(TicketId(id)).unwrap();
        tick(&env);
        env.push().await;
    }
    tick(&env);
    env.sb.github.reopen_issue(REPO, n, "alice");
    env.push().await;
    env.engine().store.retry_now(TicketId(id)).unwrap();
    tick(&env);
    env.push().await;
    let notes = env.push_notes(id);
    let reopened = notes.iter().filter(|n| n.contains(" was reopened ")).count();
    let refused = env.sb.zendesk.door.log.count(|e| e.status == 422);
    assert!(
        notes_with(&env, id, "shipped-").len() == 1 && reopened == 1,
        "a field Zendesk refuses ({refused} answers 422) holds the ticket's notes back (shipped and the later reopen): {notes:#?}"
    );
}

/// Of two tickets on a shipped issue, one was closed in Zendesk meanwhile (422 on any update):
/// the other is told, the closed one's link ends, the pass fails nothing, and nothing repeats.
#[tokio::test]
async fn attack_a_ticket_closed_in_zendesk_before_the_release_ends_quietly() {
    let (env, link_field, version_field) = env("").await;
    let (open, n) = shipped_setup(&env).await;
    let closed = linked_by_field(&env, link_field, REPO, n, "Also affected").await;
    env.sb.zendesk.set_status(closed, "closed");
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v3.1.0"), "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let writes = env.zendesk_writes();
    env.push().await;
    env.push().await;
    assert_eq!(notes_with(&env, open, "shipped-").len(), 1);
    assert_eq!(env.sb.zendesk.field_value(open, version_field).as_deref(), Some("v3.1.0"));
    assert!(notes_with(&env, closed, "shipped-").is_empty());
    assert_eq!(env.zendesk_writes(), writes, "nothing retried against the closed ticket");
}

/// Zendesk's rate limit (429) in the middle of the fan-out to three tickets: every ticket gets
/// its shipped note and its public reply exactly once once the limit lifts.
#[tokio::test]
async fn attack_a_zendesk_rate_limit_mid_fan_out_loses_and_doubles_nothing() {
    let (env, link_field, _) = env("reply_template = \"Fixed in {tag}.\"\npublic_reply = true").await;
    let (first, n) = shipped_setup(&env).await;
    let second = linked_by_field(&env, link_field, REPO, n, "Second").await;
    let third = linked_by_field(&env, link_field, REPO, n, "Third").await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v9.9.0"), "alice");
    let limit = Fault::RateLimited { retry_after_secs: 1 };
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &format!("/tickets/{second}"), limit));
    let _ = env.engine().push(&Default::default()).await;
    // The ticket's Retry-After is kept on the host's clock.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    env.sb.clock.advance(std::time::Duration::from_secs(120));
    for id in [first, second, third] {
        env.engine().store.retry_now(TicketId(id)).unwrap();
    }
    env.push().await;
    env.push().await;
    for id in [first, second, third] {
        let replies =
            env.sb.zendesk.comments(id).into_iter().filter(|c| c.public && c.body == "Fixed in v9.9.0.").count();
        assert_eq!(
            (notes_with(&env, id, "shipped-").len(), replies),
            (1, 1),
            "ticket {id}: {:#?}",
            env.sb.zendesk.comments(id)
        );
    }
    let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
    assert!(store.pending_intents().unwrap().is_empty());
}

/// Two fixes pending; the older one's issue was deleted on GitHub since (its link is ended
/// only by the daily audit). With a template naming `{issue_title}`, reading that title fails:
/// the other issue's fix, in the same release, must still ship in this pass.
#[tokio::test]
async fn attack_one_fix_whose_issue_vanished_does_not_hold_back_the_repositorys_other_fixes() {
    let (env, _, _) = env("reply_template = \"{issue_title} is fixed in {tag}.\"").await;
    let (gone_ticket, gone) = shipped_setup(&env).await;
    let (id, n) = env.linked("Still here").await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.push().await;
    tick(&env);
    env.sb.github.delete_issue(REPO, gone);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v2.2.0"), "alice");
    let report = env.push().await;
    env.push().await;
    assert!(notes_with(&env, gone_ticket, "shipped-").len() <= 1);
    assert_eq!(
        notes_with(&env, id, "shipped-").len(),
        1,
        "a fix of another issue waits behind the vanished one (report {report:?}): {:#?}",
        env.push_notes(id)
    );
}

/// `commits/{sha}/pulls` (which names the pull request behind a close by commit) fails for one
/// commit for a long while: that issue's close note may wait, but another issue's close note
/// in the same repository must not.
#[tokio::test]
async fn attack_a_failing_pull_lookup_for_one_commit_holds_back_only_that_close() {
    let (env, _, _) = env("").await;
    let (stuck, a) = env.linked("Closed by a commit").await;
    let (other, x) = env.linked("Closed by hand").await;
    tick(&env);
    let sha = env.sb.github.close_issue_by_commit(REPO, a, "dev");
    env.sb.github.close_issue(REPO, x, "completed", "alice");
    let rule = FaultRule::new(Some(Method::GET), &format!("/commits/{sha}/pulls"), Fault::Status(502)).times(10_000);
    env.sb.github.door.faults.push(rule);
    let report = env.push().await;
    tick(&env);
    env.push().await;
    let other_told = close_notes(&env, other).len();
    env.sb.github.door.faults.clear();
    tick(&env);
    env.push().await;
    assert_eq!(close_notes(&env, stuck).len(), 1);
    assert_eq!(close_notes(&env, other).len(), 1);
    assert_eq!(
        other_told, 1,
        "a close by hand waited for another commit's pull-request lookup (first pass: {report:?})"
    );
}

/// The customer writes the ticket's subject, which becomes the issue's title; the operator's
/// public template names `{issue_title}` but deliberately not `{issue_url}` (the repository is
/// private). A subject reading `{issue_url}` must not make the public reply carry it.
#[tokio::test]
async fn attack_a_subject_with_a_placeholder_cannot_pull_the_issue_url_into_the_public_reply() {
    let template = "reply_template = \"Your report ({issue_title}) is fixed in {tag}.\"\npublic_reply = true";
    let (env, _, _) = env(template).await;
    let id = env.ticket("Crash {issue_url} {release_url}", &["escalated"]);
    env.escalate().await;
    let n = env.issues_for(REPO, id)[0];
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, n, "dev");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v1.4.0"), "alice");
    env.push().await;
    let issue_url = env.sb.github.issue(REPO, n).unwrap().html_url;
    let replies: Vec<String> = env
        .sb
        .zendesk
        .comments(id)
        .into_iter()
        .filter(|c| c.public && c.body.contains("is fixed in"))
        .map(|c| c.body)
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(!replies[0].contains(&issue_url), "the private issue URL reached the customer: {}", replies[0]);
}

/// A pull request into another branch than the default one says "Fixes #N": GitHub closes
/// nothing, and the ticket is told nothing (neither in review nor fixed).
#[tokio::test]
async fn attack_a_pull_request_into_another_branch_tells_nothing() {
    let (env, _, _) = env("").await;
    let (id, n) = env.linked("Not on main").await;
    env.sb.github.create_branch(REPO, "develop", "main");
    tick(&env);
    let pr = env.sb.github.open_pull_request_onto(REPO, "develop", "Fix on develop", &format!("Fixes #{n}"), "bob");
    env.push().await;
    tick(&env);
    env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "carol");
    env.push().await;
    assert!(env.push_notes(id).is_empty(), "{:#?}", env.push_notes(id));
    assert_eq!(env.sb.github.issue(REPO, n).unwrap().state, "open");
}

/// Two tickets move to a duplicate's survivor; the daemon is killed before and after each
/// moved note: each ticket ends on the survivor with one moved note and no close note.
#[tokio::test]
async fn attack_a_kill_in_the_middle_of_a_duplicate_move_moves_each_ticket_once() {
    for point in ["before_push_note", "after_push_note"] {
        for nth in 1..=2 {
            let (env, link_field, _) = env("").await;
            let (first, a) = env.linked("Dup report").await;
            let second = linked_by_field(&env, link_field, REPO, a, "Dup report too").await;
            let (_, b) = env.linked("Canonical report").await;
            tick(&env);
            env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
            let crash = format!("{point}:{nth}");
            let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", crash.as_str())]).await;
            assert!(!crashed.status.success(), "{crash}: the process must have aborted");
            env.sb.settle();
            let again = env.bin(&["sync"], &[]).await;
            assert!(again.status.success(), "{crash}: {}", String::from_utf8_lossy(&again.stderr));
            env.push().await;
            for id in [first, second] {
                assert_eq!(linked_issue(&env, id).1, b, "{crash}: ticket {id}");
                assert_eq!(
                    notes_with(&env, id, "survivor-").len(),
                    1,
                    "{crash}: ticket {id}: {:#?}",
                    env.push_notes(id)
                );
                assert!(close_notes(&env, id).is_empty(), "{crash}: ticket {id}: {:#?}", env.push_notes(id));
            }
            let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
            assert!(store.pending_intents().unwrap().is_empty(), "{crash}");
        }
    }
}

/// Closed as a duplicate (the ticket moved to the survivor), then the mark is undone and the
/// issue reopened: it was not a duplicate after all. When the survivor's fix ships, the
/// ticket (whose own bug is open again) must not be told its fix shipped.
#[tokio::test]
async fn attack_an_unmarked_and_reopened_duplicate_is_not_told_the_other_issues_fix_shipped() {
    let (env, _, _) = env("").await;
    let (id, a) = env.linked("Looks the same").await;
    let (_, b) = env.linked("Other bug").await;
    tick(&env);
    env.sb.github.close_as_duplicate(REPO, a, REPO, b, "alice");
    env.push().await;
    assert_eq!(linked_issue(&env, id).1, b);
    tick(&env);
    env.sb.github.unmark_duplicate(REPO, a, "alice");
    env.sb.github.reopen_issue(REPO, a, "alice");
    env.push().await;
    tick(&env);
    env.sb.github.close_issue_by_commit(REPO, b, "dev");
    env.push().await;
    tick(&env);
    env.sb.github.create_release(REPO, ReleaseSpec::published("v3.3.0"), "alice");
    env.push().await;
    assert!(
        notes_with(&env, id, "shipped-").is_empty() || linked_issue(&env, id).1 == a,
        "#{a} is open again (not a duplicate), yet its ticket stays on #{b} and is told #{b}'s fix shipped: {:#?}",
        env.push_notes(id)
    );
}
