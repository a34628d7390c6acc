//! Zendesk OAuth: against a Zendesk that takes only Bearer tokens which expire, everything
//! syncs; a refused client stops the pass with a message that says what to fix; a database
//! used with an API token keeps that token's notes as ticket-sync's own after the switch.

use axum::http::Method;
use ticket_sync_sandbox::{self as sandbox, Sandbox, ZendeskAuthMode};

use crate::harness::{Env, FORWARD, PUSHBACK, ROUTES};
use crate::linking::{field_notes, set_field};

const REPO: &str = "acme/backend";

/// Zendesk requests sent with Basic credentials (an API token).
fn basic_requests(env: &Env) -> usize {
    env.sb.zendesk.door.log.count(|e| e.auth_scheme.as_deref() == Some("Basic"))
}

/// Requests Zendesk refused as unauthenticated (an expired or revoked token).
fn refused(env: &Env) -> usize {
    env.sb.zendesk.door.log.count(|e| e.status == 401)
}

/// Rules for this sandbox with `mode`'s `[zendesk]` credentials and `extra` tables.
pub(crate) fn rules_in(env: &Env, mode: ZendeskAuthMode, extra: &str) {
    env.rewrite_rules(ROUTES, extra);
    let text = std::fs::read_to_string(&env.rules_path).unwrap();
    let text =
        text.replace(&Sandbox::zendesk_auth_toml(sandbox::zendesk_auth_mode()), &Sandbox::zendesk_auth_toml(mode));
    std::fs::write(&env.rules_path, text).unwrap();
}

#[tokio::test]
async fn everything_syncs_while_tokens_expire_in_the_middle_of_every_pass() {
    let env = Env::with_routes(ROUTES, &format!("{PUSHBACK}\n{FORWARD}")).await;
    let field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    rules_in(&env, ZendeskAuthMode::OAuth, &format!("{PUSHBACK}\n{FORWARD}\n[linking]\nfield_id = {field}\n"));
    env.sb.zendesk.switch_off_api_tokens(true);
    // Each access token is refused after three requests, whatever its `expires_in` said.
    env.sb.zendesk.set_token_uses(3);
    let tickets: Vec<u64> = (0..4).map(|i| env.ticket(&format!("Expiring {i}"), &["escalated"])).collect();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (4, 0), "{report:?}");
    let issues: Vec<u64> = tickets.iter().map(|t| env.issues_for(REPO, *t)[0]).collect();
    // Linking: an agent links a plain ticket to the first issue.
    let linked = env.ticket("Same bug", &[]);
    let url = env.sb.github.issue(REPO, issues[0]).unwrap().html_url;
    set_field(&env, field, linked, Some(&url));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(field_notes(&env, linked).len(), 1);
    // Push-back and forwarding.
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, issues[0], "completed", "alice");
    env.sb.github.add_comment(REPO, issues[1], "bob", "Found the cause");
    env.sb.zendesk.add_public_comment(tickets[2], env.requester, "Any news?");
    env.sb.settle();
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for t in &tickets {
        assert_eq!(env.link_notes(*t).len(), 1, "ticket {t}: one link note");
    }
    assert_eq!(env.sb.zendesk.ticket(tickets[0]).unwrap().status, "solved");
    assert_eq!(env.sb.zendesk.ticket(linked).unwrap().status, "solved", "the linked ticket follows the close");
    assert_eq!(env.push_notes(tickets[1]).len(), 1);
    assert_eq!(env.forwarded(REPO, issues[2]).len(), 1);
    // Not one request with an API token; each refused token cost one refusal and one mint.
    assert_eq!(basic_requests(&env), 0);
    let mints = env.sb.zendesk.tokens_minted() as usize;
    assert!(refused(&env) >= 3, "tokens did expire mid-pass ({} refusals)", refused(&env));
    assert!(refused(&env) <= mints, "{} refusals for {mints} tokens", refused(&env));
    // A write refused with a 401 carried nothing out and was sent again: the notes above are
    // each there once, and every write that went through is one of them.
    let written = env.sb.zendesk.door.log.count(|e| e.method == Method::PUT && e.status == 200);
    let notes: usize = tickets.iter().chain([&linked]).map(|t| env.sb.zendesk.comments(*t).len()).sum();
    let customer_comments = tickets.len() + 2; // each description, the linked one's, and the reply
    assert_eq!(written, notes - customer_comments, "one update per note");
}

#[tokio::test]
async fn the_daemon_keeps_syncing_with_tokens_that_live_two_seconds() {
    let every_second = "[schedule]\nescalate = \"* * * * * *\"\npush = \"* * * * * *\"\n";
    let env = Env::with_routes(ROUTES, &format!("{PUSHBACK}\n{every_second}")).await;
    rules_in(&env, ZendeskAuthMode::OAuth, &format!("{PUSHBACK}\n{every_second}"));
    env.sb.zendesk.switch_off_api_tokens(true);
    env.sb.zendesk.set_token_life(2);
    let first = env.ticket("Before", &["escalated"]);
    let daemon = crate::daemon::Daemon::start(&env, &[]);
    let wait = |what: &'static str, cond: Box<dyn Fn() -> bool>| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let e = &env;
    wait("the first issue", Box::new(move || e.issues_for(REPO, first).len() == 1)).await;
    // Long enough for tokens to expire and be renewed a few times.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let second = env.ticket("After", &["escalated"]);
    wait("the second issue", Box::new(move || e.issues_for(REPO, second).len() == 1)).await;
    let n = env.issues_for(REPO, first)[0];
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    wait("the close", Box::new(move || e.sb.zendesk.ticket(first).unwrap().status == "solved")).await;
    let log = daemon.kill();
    assert_eq!(basic_requests(&env), 0);
    let mints = env.sb.zendesk.tokens_minted() as usize;
    assert!(mints >= 2, "tokens were renewed ({mints} minted)\n{log}");
    assert!(refused(&env) <= mints, "{} refusals for {mints} tokens\n{log}", refused(&env));
    assert_eq!((env.link_notes(first).len(), env.link_notes(second).len()), (1, 1));
}

#[tokio::test]
async fn a_wrong_client_secret_stops_the_pass_naming_client_id_and_the_secret_source() {
    let env = Env::new().await;
    rules_in(&env, ZendeskAuthMode::OAuth, "");
    env.ticket("Never escalated", &["escalated"]);
    let wrong = "not-the-client-secret-42";
    let out = env.bin(&["sync"], &[("TS_SANDBOX_ZENDESK_SECRET", wrong)]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused the OAuth client `ticket_sync_sandbox` (invalid_client"), "{stderr}");
    assert!(stderr.contains("environment variable TS_SANDBOX_ZENDESK_SECRET"), "{stderr}");
    assert!(!stderr.contains(wrong), "the secret is not shown: {stderr}");
    let mints = env.sb.zendesk.door.log.count(|e| e.path == "/oauth/tokens");
    assert_eq!(mints, 1, "one refused mint, then the run stops");
    assert_eq!(env.sb.github.door.log.len(), 0, "nothing reaches GitHub");
    let check = env.bin(&["check", "--online"], &[("TS_SANDBOX_ZENDESK_SECRET", wrong)]).await;
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("FAIL  zendesk: zendesk refused the credentials (401)"), "{stdout}");
    assert!(stdout.contains("zendesk.client_id"), "{stdout}");
}

#[tokio::test]
async fn check_online_shows_the_granted_scopes_and_fails_naming_a_missing_one() {
    let env = Env::new().await;
    rules_in(&env, ZendeskAuthMode::OAuth, "");
    let out = env.bin(&["check", "--online"], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let user = env.sb.zendesk.oauth_user_id();
    assert!(
        stdout.contains(&format!("authenticated with an OAuth access token as user {user} (role admin)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    zendesk: OAuth token granted scopes read tickets:write (expires in 120 s)"),
        "{stdout}"
    );
    let narrow = std::fs::read_to_string(&env.rules_path)
        .unwrap()
        .replace("client_secret_env", "scopes = [\"read\"]\nclient_secret_env");
    std::fs::write(&env.rules_path, narrow).unwrap();
    let out = env.bin(&["check", "--online"], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("FAIL  zendesk: the OAuth token lacks the scope(s) tickets:write (granted: read)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_api_token_is_warned_about_once_by_check_and_the_daemon() {
    let env = Env::new().await;
    rules_in(&env, ZendeskAuthMode::ApiToken, "");
    env.sb.zendesk.switch_off_api_tokens(false);
    let out = env.bin(&["check"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("API tokens stop working on 2027-04-30").count(), 1, "{stderr}");
    assert!(stderr.contains("zendesk.client_id"), "says how to switch: {stderr}");
    let status = env.bin(&["sync"], &[]).await;
    assert_eq!(status.status.code(), Some(0));
    let json = env.bin(&["status", "--json"], &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["zendesk_auth"]["mode"], "api_token");
    assert_eq!(v["zendesk_auth"]["ends"], "2027-04-30");
    assert_eq!(v["zendesk_auth"]["users"], serde_json::json!([env.sb.zendesk.bot_user_id()]));
    let daemon = crate::daemon::Daemon::start(&env, &[]);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let log = daemon.kill();
    assert_eq!(log.matches("API tokens stop working on 2027-04-30").count(), 1, "{log}");
}

/// A token run that wrote a link note and died before it could record anything else, then a
/// switch to OAuth (another Zendesk user): the note is found as ticket-sync's own (the token's
/// user was recorded before the write), not written twice; push-back goes on as the new user.
#[tokio::test]
async fn a_switch_from_an_api_token_to_oauth_keeps_the_tokens_notes_its_own() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    rules_in(&env, ZendeskAuthMode::ApiToken, PUSHBACK);
    env.sb.zendesk.switch_off_api_tokens(false);
    let crashed = env.ticket("Crashed after its note", &["escalated"]);
    let out = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", "after_link_note")]).await;
    assert_ne!(out.status.code(), Some(0), "the crash point was reached");
    assert_eq!(env.link_notes(crashed).len(), 1);
    // The switch: OAuth only, as Zendesk will be.
    rules_in(&env, ZendeskAuthMode::OAuth, PUSHBACK);
    env.sb.zendesk.switch_off_api_tokens(true);
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    assert_eq!(env.link_notes(crashed).len(), 1, "the token's note is ticket-sync's own");
    assert_eq!(env.issues_for(REPO, crashed).len(), 1);
    // Push-back goes on as the OAuth client's user.
    let n = env.issues_for(REPO, crashed)[0];
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let closes = env.sb.zendesk.comments(crashed).into_iter().filter(|c| c.body.contains(" was closed ")).count();
    assert_eq!(closes, 1);
    let last = env.sb.zendesk.comments(crashed).pop().unwrap();
    assert_eq!(last.author_id, env.sb.zendesk.oauth_user_id());
    let again = env.escalate().await;
    assert_eq!((again.created, again.notes), (0, 0), "{again:?}");
    let store = env.engine().store;
    let status = ticket_sync::status::collect(&ticket_sync::config::load(&env.rules_path).unwrap(), &store).unwrap();
    let mut users = vec![env.sb.zendesk.bot_user_id(), env.sb.zendesk.oauth_user_id()];
    users.sort_unstable();
    assert_eq!(status.zendesk_auth.users.iter().map(|u| u.0).collect::<Vec<_>>(), users);
    assert_eq!(status.zendesk_auth.mode, "oauth");
}

/// The GitHub side of the same rule (part 12's first finding): a token `sync` killed right
/// after its create went through, then a switch to the GitHub App. The interrupted create is
/// found as the token's own issue, not made a second time by the bot.
#[tokio::test]
async fn a_create_interrupted_before_a_switch_to_the_app_is_adopted_not_repeated() {
    use crate::github_app::{app_rules, key_file, APP_ID, SLUG};
    let env = Env::new().await;
    let id = env.ticket("Killed after the create", &["escalated"]);
    let out = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", "after_issue_create")]).await;
    assert_ne!(out.status.code(), Some(0), "the crash point was reached");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    env.sb.github.enable_app(APP_ID, SLUG, sandbox::APP_TEST_PUBLIC_KEY_PEM);
    env.sb.github.add_installation("acme", Some("write"));
    let key = key_file(&env, "github-app.pem", sandbox::APP_TEST_KEY_PEM, 0o600);
    std::fs::write(&env.rules_path, app_rules(&env, ROUTES, "", &key)).unwrap();
    env.sb.settle();
    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.issues_for(REPO, id).len(), 1, "one issue, not a second by the bot");
    assert_eq!(env.link_notes(id).len(), 1);
}

/// A 403 that says the role or plan forbids it is every ticket's: the pass stops once with a
/// message naming the cause (not one failure per ticket), and the next pass after the role is
/// given back syncs by itself. A 403 about one ticket still fails only that ticket.
#[tokio::test]
async fn a_role_or_plan_refusal_stops_the_pass_and_a_tickets_own_403_fails_only_it() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let env = Env::new().await;
    let user = env.zendesk_user();
    for i in 0..3 {
        env.ticket(&format!("Demoted {i}"), &["escalated"]);
    }
    env.sb.zendesk.set_user_role(user, "agent");
    let result = env.engine().escalate(&tokio_util::sync::CancellationToken::new()).await;
    let err = result.expect_err("the pass stops").to_string();
    assert!(err.contains("must be an admin") && err.contains("contact the account owner"), "{err}");
    assert_eq!(env.sb.github.issues(REPO).len(), 0);
    let store = env.engine().store;
    assert!(store.failures().unwrap().is_empty(), "no ticket was failed for it");
    env.sb.zendesk.set_user_role(user, "admin");
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (3, 0), "{report:?}");

    let a = env.ticket("Forbidden one", &["escalated"]);
    let b = env.ticket("Fine one", &["escalated"]);
    let put = format!("/api/v2/tickets/{a}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &put, Fault::Status(403)).times(10));
    let report = env.escalate().await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(env.link_notes(b).len(), 1, "the other ticket goes on");
}

/// An OAuth token without the scope a write needs: the pass stops naming the scope.
#[tokio::test]
async fn a_token_without_a_needed_scope_stops_the_pass_naming_the_scope() {
    let env = Env::new().await;
    rules_in(&env, ZendeskAuthMode::OAuth, "");
    let narrow = std::fs::read_to_string(&env.rules_path)
        .unwrap()
        .replace("client_secret_env", "scopes = [\"read\"]\nclient_secret_env");
    std::fs::write(&env.rules_path, narrow).unwrap();
    env.ticket("Read only", &["escalated"]);
    let out = env.bin(&["sync"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the OAuth token lacks the scope(s) write"), "{stderr}");
}
