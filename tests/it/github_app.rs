//! ticket-sync as a GitHub App (`[github] app_id`): escalation, push-back and forwarding with
//! installation tokens, several organisations, tokens that lapse or are refused, echo
//! protection as `slug[bot]`, a switch from a token on an existing database, bad keys, and
//! secrets kept out of the logs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ticket_sync::sync::{Engine, PassReport};
use ticket_sync_sandbox::{self as sandbox, Fault, FaultRule, Visibility, APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM};
use ticket_sync_store::Store;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, FORWARD, PUSHBACK, ROUTES};

pub(crate) const APP_ID: u64 = 424242;
pub(crate) const SLUG: &str = "acme-support-sync";
pub(crate) const BOT: &str = "acme-support-sync[bot]";

/// Writes `pem` next to the rules with `mode`; returns its path.
pub(crate) fn key_file(env: &Env, name: &str, pem: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The rules of `env` with the token lines replaced by the App's.
pub(crate) fn app_rules(env: &Env, routes: &str, extra: &str, key: &std::path::Path) -> String {
    let text = format!("{}\n{extra}", env.sb.rules_toml("state/test.db", routes));
    let app = format!("app_id = {APP_ID}\nprivate_key_file = \"{}\"\n", key.display());
    text.replace("token_env = \"TS_SANDBOX_GITHUB_TOKEN\"\n", &app)
}

/// A sandbox whose GitHub knows the App, installed on `acme` with issues: write, and rules that
/// authenticate as it.
pub(crate) async fn app_env(routes: &str, extra: &str) -> (Env, u64) {
    let env = Env::with_routes(routes, extra).await;
    env.sb.github.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    let installation = env.sb.github.add_installation("acme", Some("write"));
    let key = key_file(&env, "github-app.pem", APP_TEST_KEY_PEM, 0o600);
    std::fs::write(&env.rules_path, app_rules(&env, routes, extra, &key)).unwrap();
    (env, installation)
}

const TWO_ORGS: &str = r#"
[[route]]
when = { tags_any = ["globex"] }
repo = "globex/app"
labels = ["support"]

[[route]]
repo = "acme/backend"
labels = ["support"]
"#;

/// The App installed on `acme` and `globex` (tickets tagged `globex` go there), both with
/// issues: write: (env, acme's installation, globex's).
pub(crate) async fn two_orgs(extra: &str) -> (Env, u64, u64) {
    let (env, acme) = app_env(TWO_ORGS, extra).await;
    env.sb.github.add_repo("globex/app", Visibility::Private, true);
    let globex = env.sb.github.add_installation("globex", Some("write"));
    (env, acme, globex)
}

/// One engine for several passes (its installation tokens live as long as it does).
pub(crate) fn engine(env: &Env) -> Engine {
    let rules = ticket_sync::config::load(&env.rules_path).expect("rules valid");
    let store = Arc::new(Store::open(&rules.state_path).expect("store opens"));
    let github = crate::harness::github_credential(&rules);
    let zendesk = crate::harness::sandbox_zendesk_credential(&rules);
    Engine::new(Arc::new(rules), store, &zendesk, &github, false)
}

pub(crate) async fn escalate(engine: &Engine) -> PassReport {
    engine.escalate(&CancellationToken::new()).await.expect("pass runs")
}

pub(crate) async fn push(engine: &Engine) -> PassReport {
    engine.push(&CancellationToken::new()).await.expect("pass runs")
}

#[tokio::test]
async fn escalation_push_back_and_forwarding_work_as_the_apps_bot() {
    let (env, installation) = app_env(ROUTES, &format!("{PUSHBACK}\n{FORWARD}")).await;
    let engine = engine(&env);
    let id = env.ticket("Checkout fails", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    let n = env.issues_for("acme/backend", id)[0];
    let issue = env.sb.github.issue("acme/backend", n).unwrap();
    assert_eq!(issue.user_login, BOT, "the issue is the App's, not a person's");

    // A customer replies on the ticket: forwarded as the bot.
    env.sb.zendesk.add_public_comment(id, env.requester, "Thanks, waiting for it.");
    env.sb.settle();
    let report = push(&engine).await;
    assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    // A person comments and closes: both told to the ticket.
    env.sb.github.add_comment("acme/backend", n, "alice", "Fixed in the next release.");
    env.sb.github.close_issue("acme/backend", n, "completed", "alice");
    env.sb.settle();
    let report = push(&engine).await;
    assert_eq!((report.pushed, report.failed), (2, 0), "{report:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 2, "one note for the comment, one for the close: {notes:?}");
    assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
    let forwarded: Vec<_> =
        env.sb.github.comments("acme/backend", n).into_iter().filter(|c| c.user_login == BOT).collect();
    assert!(forwarded.iter().any(|c| c.body.contains("waiting for it")), "{forwarded:?}");

    // The bot's own comments (the link-back and the forwarded reply) are never mirrored back.
    env.sb.settle();
    let again = push(&engine).await;
    assert_eq!((again.pushed, again.forwarded, again.failed), (0, 0, 0), "{again:?}");
    assert_eq!(env.push_notes(id).len(), 2);

    assert_eq!(
        env.sb.github.door.log.count(|r| r.path.ends_with("/user")),
        0,
        "GET /user refuses installation tokens: never asked"
    );
    assert_eq!(env.sb.github.tokens_minted(installation), 1, "one token served every request");
    let lookups = env.sb.github.door.log.count(|r| r.path.ends_with("/installation"));
    assert_eq!(lookups, 1, "the installation is looked up once per organisation");
}

#[tokio::test]
async fn each_organisation_is_served_by_its_own_installation() {
    let (env, acme, globex) = two_orgs("").await;
    let engine = engine(&env);
    let a = env.ticket("Acme thing", &["escalated"]);
    let g = env.ticket("Globex thing", &["escalated", "globex"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", a).len(), 1);
    assert_eq!(env.issues_for("globex/app", g).len(), 1);
    assert_eq!((env.sb.github.tokens_minted(acme), env.sb.github.tokens_minted(globex)), (1, 1));

    // Globex's budget is spent: only its repository waits; Acme's tickets go on.
    env.sb.github.set_installation_rate_limit_remaining(globex, 0);
    let a2 = env.ticket("Acme again", &["escalated"]);
    let g2 = env.ticket("Globex again", &["escalated", "globex"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", a2).len(), 1);
    assert!(env.issues_for("globex/app", g2).is_empty());
    let failures = engine.store.failures_of(ticket_sync_core::domain::TicketId(g2)).unwrap();
    let failure = failures.first().expect("recorded");
    assert_eq!(failure.class.as_str(), "limited", "{failure:?}");

    // `status` shows each installation's budget: Globex's spent, Acme's not.
    let out = env.bin(&["status", "--json"], &[]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    let remaining = |id: u64| status["rate_limits"][format!("github installation {id}")]["remaining"].as_u64();
    assert_eq!(remaining(globex), Some(0), "{}", status["rate_limits"]);
    assert!(remaining(acme).is_some_and(|r| r > 4000), "{}", status["rate_limits"]);
    let blocks = status["blocks"].as_array().unwrap();
    assert!(blocks.iter().any(|b| b["scope"] == format!("installation:{globex}")), "{blocks:?}");
}

#[tokio::test]
async fn a_token_that_lapses_during_a_run_is_renewed_and_nothing_fails() {
    let (env, installation) = app_env(ROUTES, "").await;
    env.sb.github.set_installation_token_ttl(Duration::from_secs(3600));
    let engine = engine(&env);
    env.ticket("First", &["escalated"]);
    assert_eq!(escalate(&engine).await.failed, 0);
    assert_eq!(env.sb.github.tokens_minted(installation), 1);

    // Far past the token's expires_at on GitHub's clock: the next request mints a new one.
    env.sb.clock.advance(Duration::from_secs(2 * 3600));
    let id = env.ticket("Second", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
    assert_eq!(env.sb.github.tokens_minted(installation), 2);

    // Now GitHub's clock is known: 56 minutes on, the token is renewed before it is used.
    env.sb.clock.advance(Duration::from_secs(56 * 60));
    env.sb.github.door.log.clear();
    let id = env.ticket("Third", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
    assert_eq!(env.sb.github.tokens_minted(installation), 3, "renewed five minutes before expires_at");
    assert_eq!(env.sb.github.door.log.count(|r| r.status == 401), 0, "no request went out with a lapsing token");
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_a_refusal_that_persists_fails_the_item() {
    let (env, installation) = app_env(ROUTES, "").await;
    let engine = engine(&env);
    env.ticket("First", &["escalated"]);
    assert_eq!(escalate(&engine).await.failed, 0);

    // GitHub stops taking the held token before its expires_at: one 401, a new token, done.
    env.sb.github.revoke_installation_tokens();
    let id = env.ticket("Second", &["escalated"]);
    let report = escalate(&engine).await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1, "created once");
    assert_eq!(env.sb.github.tokens_minted(installation), 2);

    // A 401 that a new token does not cure (echoing the token, as a proxy page might) is
    // tried once more, not for ever: the credentials are refused, which stops the pass, and the
    // echoed token reaches neither the error nor `status`.
    env.sb.github.door.faults.push(FaultRule::new(None, "/repos/acme/", Fault::EchoAuthorization(401)).times(10));
    env.sb.github.door.log.clear();
    let id = env.ticket("Third", &["escalated"]);
    let err = engine.escalate(&CancellationToken::new()).await.expect_err("refused credentials stop the pass");
    let err = err.to_string();
    assert!(err.contains("refused the credentials") && !err.contains("ghs_"), "{err}");
    assert!(env.issues_for("acme/backend", id).is_empty());
    let refused = env.sb.github.door.log.count(|r| r.status == 401);
    assert_eq!(refused, 2, "the request and its one retry with a new token");
    assert_eq!(env.sb.github.tokens_minted(installation), 3);
    let status = env.bin(&["status", "--json"], &[]).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("ghs_") && !text.contains("Bearer"), "{text}");
}

#[tokio::test]
async fn a_switch_from_a_token_keeps_what_the_token_wrote_its_own() {
    let env = Env::with_routes(ROUTES, &format!("{PUSHBACK}\n{FORWARD}")).await;
    // As a token: one ticket escalated and a reply forwarded by the token's user.
    let (id, n) = env.linked("Before the switch").await;
    env.sb.zendesk.add_public_comment(id, env.requester, "Forwarded by the token.");
    env.sb.settle();
    assert_eq!(env.push().await.forwarded, 1);
    // An escalation whose issue was created but whose answer was lost, and whose look for it
    // failed too, still as the token: its intent waits for the next pass.
    let lost = env.ticket("Lost answer", &["escalated"]);
    let faults = &env.sb.github.door.faults;
    faults.push(FaultRule::new(Some(reqwest::Method::POST), "/repos/acme/backend/issues", Fault::LoseResponse));
    faults.push(FaultRule::new(Some(reqwest::Method::GET), "/repos/acme/backend/issues", Fault::Status(503)).times(20));
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 1), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", lost).len(), 1, "GitHub created it");
    faults.clear();

    // The organisation moves to the App.
    env.sb.settle();
    env.sb.github.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    env.sb.github.add_installation("acme", Some("write"));
    let key = key_file(&env, "github-app.pem", APP_TEST_KEY_PEM, 0o600);
    std::fs::write(&env.rules_path, app_rules(&env, ROUTES, &format!("{PUSHBACK}\n{FORWARD}"), &key)).unwrap();
    let engine = engine(&env);
    assert!(engine.store.retry_now(ticket_sync_core::domain::TicketId(lost)).unwrap(), "the failure is due now");
    let report = escalate(&engine).await;
    assert_eq!((report.recovered, report.created, report.failed), (1, 0, 0), "{report:?}");
    assert_eq!(env.issues_for("acme/backend", lost).len(), 1, "the token's issue is adopted, not created again");
    let report = push(&engine).await;
    assert_eq!((report.pushed, report.failed), (0, 0), "the token's forwarded reply is not mirrored back: {report:?}");

    // After the switch, the person behind the old token is a person again.
    let old_login = env.sb.github.login().to_string();
    env.sb.github.add_comment("acme/backend", n, &old_login, "I am a person now.");
    env.sb.settle();
    let report = push(&engine).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(env.push_notes(id).iter().any(|note| note.contains("I am a person now.")), "{:?}", env.push_notes(id));

    // `status` names both identities, and no secret.
    let out = env.bin(&["status", "--json"], &[]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    let auth = &status["github_auth"];
    assert_eq!((auth["mode"].as_str(), auth["app_id"].as_u64()), (Some("app"), Some(APP_ID)), "{auth}");
    let logins: Vec<&str> = auth["logins"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    assert_eq!(logins, vec![BOT, old_login.as_str()], "{auth}");
}

#[tokio::test]
async fn bad_keys_and_mixed_credentials_fail_check_with_exit_2_and_send_nothing() {
    let (env, _) = app_env(ROUTES, "").await;
    let ec = key_file(&env, "ec.pem", include_str!("../../crates/sandbox/src/keys/ec-key.pem"), 0o600);
    let open = key_file(&env, "open.pem", APP_TEST_KEY_PEM, 0o644);
    let missing = env.dir.path().join("nowhere.pem");
    let cases: Vec<(String, &str)> = vec![
        (app_rules(&env, ROUTES, "", &missing), "cannot read"),
        (app_rules(&env, ROUTES, "", &open), "can be read by every user"),
        (app_rules(&env, ROUTES, "", &ec), "not an RSA private key"),
        (app_rules(&env, ROUTES, "", &missing).replace("[github]\n", "[github]\ntoken_env = \"X\"\n"), "not both"),
    ];
    env.sb.github.door.log.clear();
    for (rules, says) in cases {
        std::fs::write(&env.rules_path, rules).unwrap();
        for args in [&["check"][..], &["check", "--online"], &["sync"]] {
            let out = env.bin(args, &[]).await;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} {says}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
    assert_eq!(env.sb.github.door.log.len(), 0, "no request sent: {:?}", env.sb.github.door.log.entries());
}

#[tokio::test]
async fn check_online_names_each_repository_without_an_installation_or_permission() {
    let routes = r#"
[[route]]
when = { tags_any = ["globex"] }
repo = "globex/app"

[[route]]
when = { tags_any = ["initech"] }
repo = "initech/tps"

[[route]]
repo = "acme/backend"
"#;
    let (env, _) = app_env(routes, "").await;
    env.sb.github.add_repo("globex/app", Visibility::Private, true);
    env.sb.github.add_repo("initech/tps", Visibility::Private, true);
    env.sb.github.add_installation("globex", Some("read"));
    let out = env.bin(&["check", "--online"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("ok    github: authenticated as {BOT}")), "{text}");
    assert!(text.contains("ok    acme/backend: GitHub App installation"), "{text}");
    let line = |repo: &str| text.lines().find(|l| l.contains(repo)).unwrap_or_default().to_string();
    assert!(line("globex/app").starts_with("FAIL") && line("globex/app").contains("issues: write"), "{text}");
    assert!(line("initech/tps").starts_with("FAIL") && line("initech/tps").contains("not installed"), "{text}");

    // A key GitHub does not know for this App: GET /app refuses the JWT.
    let other = key_file(&env, "other.pem", sandbox::OTHER_RSA_KEY_PEM, 0o600);
    std::fs::write(&env.rules_path, app_rules(&env, routes, "", &other)).unwrap();
    let out = env.bin(&["check", "--online"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let refused = text.lines().find(|l| l.starts_with("FAIL  github:")).unwrap_or_default();
    assert!(refused.contains("A JSON web token could not be decoded") && refused.contains("app_id"), "{text}");
}

#[tokio::test]
async fn the_key_jwts_and_installation_tokens_never_reach_the_trace_log() {
    let (env, _) = app_env(ROUTES, &format!("{PUSHBACK}\n{FORWARD}")).await;
    let id = env.ticket("Trace me", &["escalated"]);
    let out = env.bin(&["sync"], &[("RUST_LOG", "trace")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.len() > 1000, "the trace log was written");
    let key_body: Vec<&str> = APP_TEST_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    for line in key_body {
        assert!(!log.contains(line), "a line of the key is in the log");
    }
    assert!(!log.contains("eyJ"), "a JWT (base64 JSON header) is in the log");
    assert!(!log.contains("ghs_"), "an installation token is in the log");
    for token in env.sb.github.minted_tokens() {
        assert!(!log.contains(&token), "an installation token is in the log");
    }
}

/// GitHub's clock three hours ahead of this host's (a JWT on the host's clock has expired) or
/// behind it (its `exp` is far beyond GitHub's ten minutes): the first JWT is refused, the
/// answer's `Date` teaches GitHub's clock, and the JWT signed on it is taken.
#[tokio::test]
async fn a_host_clock_far_from_githubs_costs_one_refused_jwt_then_signs_on_githubs_clock() {
    let skew = Duration::from_secs(3 * 3600);
    for ahead in [true, false] {
        let (env, installation) = app_env(ROUTES, "").await;
        if ahead {
            env.sb.clock.advance(skew);
        } else {
            env.sb.clock.rewind(skew);
        }
        let engine = engine(&env);
        let id = env.ticket("Clock skew", &["escalated"]);
        let report = escalate(&engine).await;
        assert_eq!((report.created, report.failed), (1, 0), "GitHub ahead {ahead}: {report:?}");
        assert_eq!(env.issues_for("acme/backend", id).len(), 1);
        assert_eq!(env.sb.github.tokens_minted(installation), 1);
        let refused = env.sb.github.door.log.count(|r| r.status == 401);
        assert!(refused <= 1, "GitHub ahead {ahead}: at most the first JWT is refused, not {refused}");
    }
}
