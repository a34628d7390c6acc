//! Attacks on ticket-sync as a GitHub App: an organisation that uninstalls the App mid-run, one
//! organisation's spent budget or write cap, and a mint answer whose `expires_at` is already past.
//! Each must touch only what it is about: the other organisations' repositories go on.

use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule};
use tokio_util::sync::CancellationToken;

use crate::github_app::{app_env, engine, escalate, two_orgs};
use crate::harness::Env;

#[tokio::test]
async fn an_organisation_that_uninstalls_the_app_mid_run_fails_only_its_own_repositories() {
    let (env, acme, globex) = two_orgs("").await;
    let engine = engine(&env);
    env.ticket("Globex first", &["escalated", "globex"]);
    env.ticket("Acme first", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");

    // Globex removes the App: its token stops working and minting for it answers 404.
    env.sb.github.remove_installation(globex);
    let g = env.ticket("Globex again", &["escalated", "globex"]);
    let a = env.ticket("Acme again", &["escalated"]);
    let report = engine.escalate(&CancellationToken::new()).await.expect("one organisation does not stop the pass");
    assert_eq!((report.created, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", a).len(), 1, "Acme's ticket goes on");
    assert!(env.issues_for("globex/app", g).is_empty());
    let failures = engine.store.failures_of(TicketId(g)).unwrap();
    let failure = failures.first().expect("Globex's ticket is recorded, not lost");
    assert!(failure.error.contains("globex"), "the failure names the organisation: {failure:?}");
    assert_eq!(env.sb.github.tokens_minted(acme), 1);

    // Globex installs the App again (a new installation): the next try finds it, no restart.
    let again = env.sb.github.add_installation("globex", Some("write"));
    assert!(engine.store.retry_now(TicketId(g)).unwrap());
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for("globex/app", g).len(), 1);
    assert_eq!(env.sb.github.tokens_minted(again), 1);
}

#[tokio::test]
async fn a_suspended_installation_fails_only_its_own_repositories() {
    let (env, _, globex) = two_orgs("").await;
    let engine = engine(&env);
    env.ticket("Globex first", &["escalated", "globex"]);
    env.ticket("Acme first", &["escalated"]);
    assert_eq!(escalate(&engine).await.created, 2);
    // Suspended: its tokens are refused and minting answers 403.
    env.sb.github.revoke_installation_tokens();
    let mint = format!("/app/installations/{globex}/access_tokens");
    env.sb.github.door.faults.push(FaultRule::new(None, &mint, Fault::Status(403)).times(100));
    let g = env.ticket("Globex again", &["escalated", "globex"]);
    let a = env.ticket("Acme again", &["escalated"]);
    let report = engine.escalate(&CancellationToken::new()).await.expect("one organisation does not stop the pass");
    assert_eq!((report.created, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", a).len(), 1);
    assert!(!engine.store.failures_of(TicketId(g)).unwrap().is_empty(), "recorded, not lost");
}

#[tokio::test]
async fn one_installations_hourly_write_cap_waits_only_its_own_repositories() {
    let (env, _, _) = two_orgs("").await;
    let rules = std::fs::read_to_string(&env.rules_path).unwrap();
    assert!(rules.contains("writes_per_hour = 0\n"));
    std::fs::write(&env.rules_path, rules.replace("writes_per_hour = 0\n", "writes_per_hour = 1\n")).unwrap();
    let engine = engine(&env);
    // Globex's one write this hour goes to its first ticket; its second waits. Acme's
    // installation has a cap of its own, untouched.
    let g1 = env.ticket("Globex one", &["escalated", "globex"]);
    let g2 = env.ticket("Globex two", &["escalated", "globex"]);
    let a = env.ticket("Acme one", &["escalated"]);
    let report =
        engine.escalate(&CancellationToken::new()).await.expect("one installation's cap does not stop the pass");
    assert_eq!((report.created, report.failed), (2, 1), "{report:?}");
    assert_eq!(env.issues_for("globex/app", g1).len(), 1);
    assert!(env.issues_for("globex/app", g2).is_empty());
    assert_eq!(env.issues_for("acme/backend", a).len(), 1, "Acme's ticket is not held back by Globex's cap");
    let failures = engine.store.failures_of(TicketId(g2)).unwrap();
    assert_eq!(failures.first().expect("recorded").class.as_str(), "limited", "{failures:?}");
}

#[tokio::test]
async fn one_installations_low_budget_defers_only_its_own_new_issues() {
    let (env, _, globex) = two_orgs("").await;
    let engine = engine(&env);
    env.ticket("Globex first", &["escalated", "globex"]);
    env.ticket("Acme first", &["escalated"]);
    assert_eq!(escalate(&engine).await.created, 2);
    // Globex's budget runs low (new issues wait for its reset); Acme's is full.
    env.sb.github.set_installation_rate_limit_remaining(globex, 50);
    let g = env.ticket("Globex low", &["escalated", "globex"]);
    let a = env.ticket("Acme full", &["escalated"]);
    let g2 = env.ticket("Globex low again", &["escalated", "globex"]);
    let report =
        engine.escalate(&CancellationToken::new()).await.expect("one installation's budget does not stop the pass");
    assert_eq!(
        env.issues_for("acme/backend", a).len(),
        1,
        "Acme's new issue does not wait for Globex's budget: {report:?}"
    );
    assert!(env.issues_for("globex/app", g2).is_empty(), "Globex's new issues wait: {report:?}");
    let _ = g;
}

#[tokio::test]
async fn a_switch_back_from_the_app_to_the_token_keeps_the_bots_comments_its_own() {
    use crate::github_app::{app_rules, key_file, push, APP_ID, BOT, SLUG};
    use crate::harness::{FORWARD, PUSHBACK, ROUTES};
    use ticket_sync_sandbox::{APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM};
    let extra = format!("{PUSHBACK}\n{FORWARD}");
    let env = Env::with_routes(ROUTES, &extra).await;
    let token_rules = std::fs::read_to_string(&env.rules_path).unwrap();
    // As a token: one ticket escalated.
    let (id, n) = env.linked("Token, App, token").await;
    assert_eq!(env.push().await.failed, 0);

    // As the App: a customer's reply is forwarded by the bot.
    env.sb.clock.advance(std::time::Duration::from_secs(60));
    env.sb.github.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    env.sb.github.add_installation("acme", Some("write"));
    let key = key_file(&env, "github-app.pem", APP_TEST_KEY_PEM, 0o600);
    std::fs::write(&env.rules_path, app_rules(&env, ROUTES, &extra, &key)).unwrap();
    let app = engine(&env);
    assert_eq!(push(&app).await.failed, 0);
    env.sb.clock.advance(std::time::Duration::from_secs(60));
    env.sb.zendesk.add_public_comment(id, env.requester, "Forwarded by the bot.");
    env.sb.settle();
    assert_eq!(push(&app).await.forwarded, 1);
    assert!(env.sb.github.comments("acme/backend", n).iter().any(|c| c.user_login == BOT));

    // Back to the token: the bot's forwarded reply is ticket-sync's own, never mirrored back.
    env.sb.clock.advance(std::time::Duration::from_secs(60));
    env.sb.github.disable_app();
    std::fs::write(&env.rules_path, token_rules).unwrap();
    env.sb.settle();
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (0, 0), "the bot's comment is not pushed back: {report:?}");
    assert!(env.push_notes(id).is_empty(), "{:?}", env.push_notes(id));
}

#[tokio::test]
async fn a_jwt_or_token_echoed_by_the_app_endpoints_reaches_no_failure_nor_status() {
    let (env, _, globex) = two_orgs("").await;
    let engine = engine(&env);
    env.ticket("Globex first", &["escalated", "globex"]);
    assert_eq!(escalate(&engine).await.created, 1);
    // The held token is refused, and the mint answer (a proxy page) reflects the JWT.
    env.sb.github.revoke_installation_tokens();
    let mint = format!("/app/installations/{globex}/access_tokens");
    env.sb.github.door.faults.push(FaultRule::new(None, &mint, Fault::EchoAuthorization(403)).times(100));
    let g = env.ticket("Globex echoed", &["escalated", "globex"]);
    let report = engine.escalate(&CancellationToken::new()).await.expect("pass runs");
    assert_eq!(report.failed, 1, "{report:?}");
    let failures = engine.store.failures_of(TicketId(g)).unwrap();
    let failure = failures.first().expect("recorded");
    assert!(!failure.error.contains("eyJ") && failure.error.contains("***"), "{failure:?}");
    let out = env.bin(&["status", "--json"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("eyJ") && !text.contains("ghs_"), "{text}");
}

#[tokio::test]
async fn check_online_says_when_the_pinned_installation_id_is_not_the_repositorys() {
    use crate::github_app::APP_ID;
    let (env, acme) = app_env(crate::harness::ROUTES, "").await;
    let globex = env.sb.github.add_installation("globex", Some("write"));
    let rules = std::fs::read_to_string(&env.rules_path).unwrap();
    let pin = |id: u64| {
        rules.replace(&format!("app_id = {APP_ID}\n"), &format!("app_id = {APP_ID}\ninstallation_id = {id}\n"))
    };
    // Pinned to another organisation's installation, then to one that does not exist.
    for wrong in [globex, 999] {
        std::fs::write(&env.rules_path, pin(wrong)).unwrap();
        let out = env.bin(&["check", "--online"], &[]).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("ok    acme/")), "no repository is said to be ok: {text}");
        let line = text.lines().find(|l| l.contains("acme/backend")).unwrap_or_default();
        assert!(line.starts_with("FAIL") && line.contains("installation_id"), "{text}");
    }
    // The right one: ok.
    std::fs::write(&env.rules_path, pin(acme)).unwrap();
    let out = env.bin(&["check", "--online"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn the_webhook_daemon_as_an_app_takes_the_bots_deliveries_as_echoes() {
    use crate::github_app::{key_file, APP_ID, BOT, SLUG};
    use crate::webhooks::{fresh_ticket, hooked, start, until};
    use ticket_sync_sandbox::{APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM};
    let (env, port) = hooked("").await;
    env.sb.github.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    env.sb.github.add_installation("acme", Some("write"));
    let key = key_file(&env, "github-app.pem", APP_TEST_KEY_PEM, 0o600);
    let rules = std::fs::read_to_string(&env.rules_path).unwrap();
    let app = format!("app_id = {APP_ID}\nprivate_key_file = \"{}\"\n", key.display());
    std::fs::write(&env.rules_path, rules.replace("token_env = \"TS_SANDBOX_GITHUB_TOKEN\"\n", &app)).unwrap();
    let daemon = start(&env, port).await;
    let id = fresh_ticket(&env, "Delivered to the App", &["escalated"]);
    until("the issue", || env.issues_for("acme/backend", id).len() == 1 && env.link_notes(id).len() == 1).await;
    let n = env.issues_for("acme/backend", id)[0];
    assert_eq!(env.sb.github.issue("acme/backend", n).unwrap().user_login, BOT);
    // The bot's own issue came back as a delivery with the bot as sender: an echo, no push-back.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let reads = |env: &Env| {
        env.sb.github.door.log.count(|r| r.method == reqwest::Method::GET && r.path.contains(&format!("/issues/{n}")))
    };
    assert_eq!(reads(&env), 0, "the echo read nothing: {}", daemon.log_text());
    // A person's close is no echo: answered.
    env.sb.github.close_issue("acme/backend", n, "completed", "alice");
    until("the close note", || env.push_notes(id).len() == 1).await;
    assert!(reads(&env) > 0);
    let log = daemon.kill();
    assert!(!log.contains("ghs_") && !log.contains("eyJ"), "{log}");
}

#[tokio::test]
async fn a_transferred_issue_is_followed_as_an_app_with_several_installations_known() {
    use crate::harness::FORWARD;
    let (env, _, _) = two_orgs(FORWARD).await;
    let engine = engine(&env);
    env.ticket("Globex", &["escalated", "globex"]);
    let id = env.ticket("Acme wrong team", &["escalated"]);
    assert_eq!(escalate(&engine).await.created, 2);
    let n = env.issues_for("acme/backend", id)[0];
    // Moved to another repository of the same organisation: GitHub names it by id.
    let moved = env.sb.github.transfer_issue("acme/backend", n, "acme/billing");
    env.sb.zendesk.add_public_comment(id, env.requester, "any news?");
    env.sb.settle();
    let report = crate::github_app::push(&engine).await;
    assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    let m = engine.store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!((m.repo.to_string(), m.issue_number.0), ("acme/billing".to_string(), moved));
}

#[tokio::test]
async fn concurrent_requests_of_one_organisation_mint_one_token_and_look_it_up_once() {
    let (env, installation) = app_env(crate::harness::ROUTES, "").await;
    let engine = engine(&env);
    let repo: ticket_sync_core::domain::RepoName = "acme/backend".parse().unwrap();
    env.sb.github.door.log.clear();
    let calls = (0..12).map(|_| {
        let (github, repo) = (engine.github.clone(), repo.clone());
        tokio::spawn(async move { github.get_repo(&repo).await.map(|_| ()) })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().expect("every request succeeds");
    }
    assert_eq!(env.sb.github.tokens_minted(installation), 1, "one mint for all");
    let lookups = env.sb.github.door.log.count(|r| r.path.ends_with("/installation"));
    assert_eq!(lookups, 1, "one installation lookup for all");
}

#[tokio::test]
async fn a_refused_jwt_is_explained_in_app_terms_not_as_a_token() {
    use crate::github_app::APP_ID;
    let (env, _) = app_env(crate::harness::ROUTES, "").await;
    // An app_id GitHub does not know for this key (a typo).
    let rules = std::fs::read_to_string(&env.rules_path).unwrap();
    std::fs::write(&env.rules_path, rules.replace(&format!("app_id = {APP_ID}\n"), "app_id = 4243\n")).unwrap();
    let out = env.bin(&["check", "--online"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let line = text.lines().find(|l| l.starts_with("FAIL  github:")).unwrap_or_default();
    assert!(line.contains("app_id") && line.contains("private_key_file"), "{text}");
    assert!(!line.contains("check the token"), "{text}");
}

/// A mint answer whose `expires_at` is missing, unreadable, or already past (a year 19xx):
/// one token serves the pass, never a mint a request.
#[tokio::test]
async fn a_mint_answer_without_a_usable_expires_at_serves_the_pass_with_one_token() {
    let rewrites = [
        ("\"expires_at\"", "\"expires_xx\""),
        ("\"expires_at\":\"20", "\"expires_at\":\"soon, 20"),
        ("\"expires_at\":\"20", "\"expires_at\":\"19"),
    ];
    for (from, to) in rewrites {
        let (env, installation) = app_env(crate::harness::ROUTES, "").await;
        let fault = Fault::Rewrite { from: from.into(), to: to.as_bytes().to_vec() };
        env.sb.github.door.faults.push(FaultRule::new(None, "/access_tokens", fault).times(100));
        let engine = engine(&env);
        let a = env.ticket("One", &["escalated"]);
        let b = env.ticket("Two", &["escalated"]);
        let report = escalate(&engine).await;
        assert_eq!((report.created, report.failed), (2, 0), "{to}: {report:?}");
        assert_eq!((env.issues_for("acme/backend", a).len(), env.issues_for("acme/backend", b).len()), (1, 1));
        assert_eq!(env.sb.github.tokens_minted(installation), 1, "{to}: one mint serves the pass");
    }
}

#[tokio::test]
async fn a_renamed_repository_named_by_id_is_served_by_its_own_organisations_installation() {
    use crate::harness::{FORWARD, PUSHBACK};
    let (env, acme, globex) = two_orgs(&format!("{PUSHBACK}\n{FORWARD}")).await;
    let engine = engine(&env);
    let g = env.ticket("Globex", &["escalated", "globex"]);
    let a = env.ticket("Acme", &["escalated"]);
    assert_eq!(escalate(&engine).await.created, 2);
    let n = env.issues_for("acme/backend", a)[0];
    // Acme renames its repository: every request by the old name is redirected by id.
    env.sb.github.rename_repo("acme/backend", "backend-renamed");
    for i in 0..3 {
        env.sb.github.add_comment("acme/backend-renamed", n, "alice", &format!("Comment {i}"));
    }
    let gn = env.issues_for("globex/app", g)[0];
    env.sb.github.add_comment("globex/app", gn, "bob", "Globex comment");
    env.sb.settle();
    let report = crate::github_app::push(&engine).await;
    assert_eq!((report.pushed, report.failed), (4, 0), "{report:?}");
    let a2 = env.ticket("Acme after the rename", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend-renamed", a2).len(), 1);
    assert_eq!((env.sb.github.tokens_minted(acme), env.sb.github.tokens_minted(globex)), (1, 1));
    assert!(env.sb.github.door.log.count(|r| r.path.contains("/repositories/")) > 0, "requests went by id");
}

#[tokio::test]
async fn a_repository_renamed_before_the_app_first_looks_is_still_found_by_its_organisation() {
    let (env, acme) = app_env(crate::harness::ROUTES, "").await;
    // Renamed before ticket-sync ever asked as the App; the routes still name the old name,
    // which a token follows.
    env.sb.github.rename_repo("acme/backend", "backend-renamed");
    let engine = engine(&env);
    let id = env.ticket("Renamed first", &["escalated"]);
    let report = escalate(&engine).await;
    let paths: Vec<String> =
        env.sb.github.door.log.entries().iter().map(|r| format!("{} {} {}", r.method, r.path, r.status)).collect();
    assert_eq!((report.created, report.failed), (1, 0), "{report:?} {paths:?}");
    assert_eq!(env.issues_for("acme/backend-renamed", id).len(), 1);
    assert_eq!(env.sb.github.tokens_minted(acme), 1);
}

#[tokio::test]
async fn an_issue_whose_answer_was_lost_is_adopted_as_the_bots_not_created_twice() {
    let (env, _) = app_env(crate::harness::ROUTES, "").await;
    let engine = engine(&env);
    let id = env.ticket("Lost answer as the App", &["escalated"]);
    let faults = &env.sb.github.door.faults;
    faults.push(FaultRule::new(Some(reqwest::Method::POST), "/repos/acme/backend/issues", Fault::LoseResponse));
    let report = escalate(&engine).await;
    assert_eq!(env.issues_for("acme/backend", id).len(), 1, "GitHub created it: {report:?}");
    env.sb.settle();
    if report.failed > 0 {
        assert!(engine.store.retry_now(TicketId(id)).unwrap());
        let report = escalate(&engine).await;
        assert_eq!(report.failed, 0, "{report:?}");
    }
    assert_eq!(env.issues_for("acme/backend", id).len(), 1, "never a second issue");
    assert_eq!(env.link_notes(id).len(), 1);
}

/// A ticket linked to an issue as the App; then the held token is refused and every mint
/// answers `status` (a proxy in the way): (env, engine, ticket, issue number).
async fn linked_then_mint_answers(status: u16, extra: &str) -> (Env, ticket_sync::sync::Engine, u64, u64) {
    let (env, installation) = app_env(crate::harness::ROUTES, extra).await;
    let engine = engine(&env);
    let id = env.ticket("Linked", &["escalated"]);
    assert_eq!(escalate(&engine).await.created, 1);
    let n = env.issues_for("acme/backend", id)[0];
    env.sb.github.revoke_installation_tokens();
    let mint = format!("/app/installations/{installation}/access_tokens");
    env.sb.github.door.faults.push(FaultRule::new(None, &mint, Fault::Status(status)).times(100));
    (env, engine, id, n)
}

#[tokio::test]
async fn a_mint_answered_gone_or_moved_is_not_taken_as_the_issues_own_answer() {
    use crate::harness::FORWARD;
    use ticket_sync_core::domain::LinkState;
    for status in [410, 301] {
        let (env, engine, id, n) = linked_then_mint_answers(status, FORWARD).await;
        env.sb.zendesk.add_public_comment(id, env.requester, "any news?");
        env.sb.settle();
        let _ = engine.push(&CancellationToken::new()).await;
        let m = engine.store.mapping(TicketId(id)).unwrap().unwrap();
        assert_eq!(
            (m.repo.to_string(), m.issue_number.0, m.link_state),
            ("acme/backend".to_string(), n, LinkState::Active),
            "{status}: the link stays"
        );
        let gone = env.sb.zendesk.comments(id).into_iter().filter(|c| c.body.contains("issue-gone]")).count();
        assert_eq!(gone, 0, "{status}: no 'issue gone' note");
        // The mint recovers: the reply is forwarded, once.
        env.sb.github.door.faults.clear();
        env.sb.settle();
        let _ = engine.store.retry_now(TicketId(id));
        let report = engine.push(&CancellationToken::new()).await.expect("pass runs");
        assert_eq!(report.failed, 0, "{status}: {report:?}");
        let forwarded =
            env.sb.github.comments("acme/backend", n).into_iter().filter(|c| c.body.contains("any news?")).count();
        assert_eq!(forwarded, 1, "{status}");
    }
}

#[tokio::test]
async fn the_audit_does_not_end_a_link_because_a_mint_answered_gone_or_moved() {
    use ticket_sync_core::domain::LinkState;
    for status in [410, 301] {
        let (env, engine, id, n) = linked_then_mint_answers(status, "").await;
        let _ = engine.audit(&CancellationToken::new()).await;
        let m = engine.store.mapping(TicketId(id)).unwrap().unwrap();
        assert_eq!((m.issue_number.0, m.link_state), (n, LinkState::Active), "{status}: the link stays");
        let gone = env.sb.zendesk.comments(id).into_iter().filter(|c| c.body.contains("issue-gone]")).count();
        assert_eq!(gone, 0, "{status}: no 'issue gone' note");
    }
}

#[tokio::test]
async fn check_online_finds_the_installation_of_a_renamed_repository() {
    let (env, acme) = app_env(crate::harness::ROUTES, "").await;
    env.sb.github.rename_repo("acme/backend", "backend-renamed");
    let out = env.bin(&["check", "--online"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("ok    acme/backend: GitHub App installation {acme} may write issues")), "{text}");
}

/// A repository's list read in pages: GitHub's next page names the repository by id
/// (`/repositories/{id}/…`). With two installations known, that page still goes with the
/// repository's own organisation's token.
#[tokio::test]
async fn a_next_page_by_repository_id_goes_with_its_organisations_token() {
    use crate::harness::PUSHBACK;
    let (env, _, globex) = two_orgs(PUSHBACK).await;
    let engine = engine(&env);
    env.ticket("Acme", &["escalated"]);
    let g = env.ticket("Globex", &["escalated", "globex"]);
    assert_eq!(escalate(&engine).await.created, 2);
    let n = env.issues_for("globex/app", g)[0];
    // 150 comments on another issue: the comment list takes two pages.
    let other = env.sb.github.add_issue("globex/app", "Unrelated", "busy thread", "alice");
    for i in 0..150 {
        env.sb.github.add_comment("globex/app", other, "alice", &format!("comment {i}"));
    }
    env.sb.github.close_issue("globex/app", n, "completed", "alice");
    env.sb.settle();
    env.sb.github.door.log.clear();
    let report = engine.push(&CancellationToken::new()).await.expect("pass runs");
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let by_id = env.sb.github.door.log.count(|r| r.path.starts_with("/repositories/") && r.status == 200);
    assert!(by_id >= 1, "a page was read by id: {:?}", env.sb.github.door.log.entries());
    assert_eq!(env.sb.github.tokens_minted(globex), 1);
}
