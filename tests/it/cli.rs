//! The binary's commands: sync, dry runs and status output.

use crate::harness::Env;

#[tokio::test]
async fn dry_run_writes_nothing_anywhere() {
    let env = Env::new().await;
    env.ticket("Would escalate", &["escalated"]);
    let out = env.bin(&["sync", "--dry-run"], &[]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("would create an issue in acme/backend"), "{stdout}");
    assert_eq!((env.github_writes(), env.zendesk_writes()), (0, 0));
    assert!(!env.db_path().exists(), "no database may be created by a dry run");
}

#[tokio::test]
async fn sync_exits_zero_and_status_json_lists_the_mapping() {
    let env = Env::new().await;
    let id = env.ticket("Status check", &["escalated"]);
    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let status = env.bin(&["status", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let m = &json["mappings"][0];
    assert_eq!(m["ticket_id"], id);
    assert_eq!(m["repo"], "acme/backend");
    assert_eq!(m["issue_state"], "open");
    assert!(m["issue_url"].as_str().unwrap().ends_with(&format!("/issues/{}", m["issue_number"])));
    assert!(json["last_pass"]["escalate"].is_object(), "{json}");
    assert_eq!(json["failures"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn sync_exits_one_when_an_item_fails() {
    let env = Env::new().await;
    env.sb.github.add_repo("acme/backend", ticket_sync_sandbox::Visibility::Public, true);
    env.ticket("Refused", &["escalated"]);
    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn tokens_never_reach_the_output_even_at_trace_level() {
    use base64::Engine as _;
    use ticket_sync_sandbox::{GITHUB_TOKEN, ZENDESK_EMAIL, ZENDESK_TOKEN};
    let env = Env::new().await;
    env.ticket("Trace me", &["escalated"]);
    let mut outputs = Vec::new();
    for args in [&["sync"][..], &["status"][..], &["status", "--json"][..], &["check", "--online"][..]] {
        let out = env.bin(args, &[("RUST_LOG", "trace")]).await;
        outputs.push(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    }
    let all = outputs.join("\n");
    assert!(all.contains("issue created"), "trace output was produced: {}", &all[..all.len().min(2000)]);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}"));
    // `zdsbx` begins every access token the sandbox's OAuth client is given.
    let client_secret = ticket_sync_sandbox::ZENDESK_CLIENT_SECRET;
    for secret in [ZENDESK_TOKEN, GITHUB_TOKEN, basic.as_str(), client_secret, "zdsbx"] {
        assert!(!all.contains(secret), "secret {secret} leaked");
    }
}

#[tokio::test]
async fn check_online_verifies_tokens_and_every_routed_repo() {
    let env = Env::new().await;
    let ok = env.bin(&["check", "--online"], &[]).await;
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok    acme/billing: exists, issues enabled, private"), "{stdout}");

    env.sb.github.add_repo("acme/billing", ticket_sync_sandbox::Visibility::Public, true);
    let public = env.bin(&["check", "--online"], &[]).await;
    assert_eq!(public.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&public.stdout).contains("FAIL  acme/billing: public repository"));

    let bad_token = env.bin(&["check", "--online"], &[("TS_SANDBOX_GITHUB_TOKEN", "wrong")]).await;
    assert_eq!(bad_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_token.stdout).contains("FAIL  github"));
    assert_eq!(env.sb.zendesk.door.log.writes() + env.sb.github.door.log.writes(), 0, "check never writes");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_ticket_fields() {
    let env = Env::new().await;
    let id = env.ticket("Logged", &["escalated"]);
    let out = env.bin(&["--log-format", "json", "sync"], &[]).await;
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let created = lines.iter().find(|l| l["message"] == "issue created").expect("an `issue created` line");
    assert_eq!(created["span"]["ticket_id"], serde_json::json!(id), "a number, as every id in the logs: {created}");
    assert_eq!(created["span"]["repo"], "acme/backend", "{created}");
    assert!(lines.iter().any(|l| l["message"] == "pass complete" || l["message"].as_str().is_some()));
}

#[tokio::test]
async fn text_logs_carry_ticket_id_and_drop_timestamps_under_journald() {
    let env = Env::new().await;
    let id = env.ticket("Journald", &["escalated"]);
    let out = env.bin(&["sync"], &[("JOURNAL_STREAM", "8:12345")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("issue created")).expect("an `issue created` line");
    assert!(line.contains(&format!("ticket_id={id}")), "{line}");
    assert!(line.starts_with(" INFO") || line.starts_with("INFO"), "no timestamp under journald: {line}");
}

#[tokio::test]
async fn status_tells_one_tickets_history() {
    let env = Env::new().await;
    let id = env.ticket("History", &["escalated"]);
    env.bin(&["sync"], &[]).await;
    let out = env.bin(&["status", "--ticket", &id.to_string()], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("ticket {id} → acme/backend#")), "{text}");
    assert!(text.contains("issue_created") && text.contains("link_note"), "{text}");
    let json = env.bin(&["status", "--json", "--ticket", &id.to_string()], &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let events: Vec<&str> = v["ledger"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["issue_created", "link_note"]);
    let summary = env.bin(&["status"], &[]).await;
    let text = String::from_utf8_lossy(&summary.stdout);
    for needle in ["mappings: 1", "escalate", "failures: 0", "zendesk_export", "rate limits"] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
}

#[tokio::test]
async fn the_state_database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new().await;
    env.ticket("Private", &["escalated"]);
    assert!(env.bin(&["sync"], &[]).await.status.success());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(env.db_path().parent().unwrap()), 0o700, "state folder");
    assert_eq!(mode(&env.db_path()), 0o600, "database file");
}

/// An operator's first week: `status` pointed at a database that is not there (a wrong path,
/// or a user who cannot see it) printed an empty status and exited 0.
#[tokio::test]
async fn status_without_a_database_says_so_and_fails() {
    let env = Env::new().await;
    let out = env.bin(&["status"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no state database"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `retry ID` in a folder without a database silently created an empty one (and said there
/// was nothing to retry, as if the ticket had not failed); a missing rules file was reported as
/// "key `(file)`" with a relative path and no hint.
#[tokio::test]
async fn retry_never_creates_a_database_and_a_missing_rules_file_says_where_it_looked() {
    let env = Env::new().await;
    let out = env.bin(&["retry", "42"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no state database"), "{stderr}");
    assert!(!env.db_path().exists(), "a database was created");

    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"))
                .arg("check")
                .current_dir(&dir)
                .env_remove("TICKET_SYNC_CONFIG")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let absolute = dir.path().join("sync-rules.toml");
    assert!(stderr.contains(&absolute.display().to_string()), "{stderr}");
    assert!(stderr.contains("--config") && stderr.contains("TICKET_SYNC_CONFIG"), "{stderr}");
    assert!(!stderr.contains("(file)"), "{stderr}");
}

/// `check` without `--online` passed with a missing token.
#[tokio::test]
async fn check_fails_on_a_missing_token_without_going_online() {
    let env = Env::new().await;
    let mut cmd = env.command(&["check"], &[]);
    cmd.env_remove("TS_SANDBOX_GITHUB_TOKEN");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TS_SANDBOX_GITHUB_TOKEN"), "{stderr}");
    assert_eq!(env.sb.zendesk.door.log.len() + env.sb.github.door.log.len(), 0, "no request was sent");
}

/// `check` reported one missing credential per run (the rules errors all at once): an operator
/// fixed one, ran it again, and met the next. Every credential is now reported in one run, and
/// "valid" is never printed beside an error.
#[tokio::test]
async fn check_reports_every_missing_credential_in_one_run() {
    let env = Env::new().await;
    let hooks = "[webhooks]\nlisten = \"127.0.0.1:0\"\ngithub_secret_env = \"TS_UNSET_GH_HOOK\"\n";
    env.rewrite_rules(crate::harness::ROUTES, hooks);
    let mut cmd = env.command(&["check"], &[("ZENDESK_WEBHOOK_SECRET", "")]);
    cmd.env_remove("TS_SANDBOX_GITHUB_TOKEN").env_remove("TS_SANDBOX_ZENDESK_SECRET").env_remove("TS_UNSET_GH_HOOK");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for missing in
        ["TS_SANDBOX_GITHUB_TOKEN", "TS_SANDBOX_ZENDESK_SECRET", "TS_UNSET_GH_HOOK", "zendesk-webhook-secret"]
    {
        assert!(stderr.contains(missing), "`{missing}` not reported: {stderr}");
    }
    assert!(stderr.contains("4 credential problem(s)"), "{stderr}");
    assert!(stderr.contains("remove webhooks.github_secret_env"), "says how to use the credential: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("valid"), "valid and errors in one run");
}

/// Two first-time `sync`s raced in the schema migration and the loser exited 2 ("configuration
/// error"); the lock is now taken before the database is created.
#[tokio::test]
async fn two_first_syncs_at_once_never_report_a_configuration_error() {
    let env = Env::new().await;
    let id = env.ticket("Raced", &["escalated"]);
    let (a, b) = tokio::join!(env.bin(&["sync"], &[]), env.bin(&["sync"], &[]));
    for out in [&a, &b] {
        assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    }
    env.bin(&["sync"], &[]).await;
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

/// An operator's first week: `sync` run once as root in the service's state folder left a
/// root-owned lock file, and the service then failed "Permission denied" in a loop.
#[tokio::test]
async fn root_is_refused_in_a_state_folder_that_belongs_to_the_service() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        return; // only meaningful (and only possible to set up) as root
    }
    let env = Env::new().await;
    let state = env.db_path().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&state).unwrap();
    std::process::Command::new("chown").arg("4242").arg(&state).status().unwrap();
    let out = env.bin(&["sync"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("runs as root"), "{stderr}");
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0, "nothing was created there");
}

/// The README's first command works as written: the demo runs the daemon against the sandbox
/// (as a GitHub App, with webhooks) and every step completes.
#[tokio::test]
async fn the_demo_runs_every_step_to_its_end() {
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"))
            .arg("demo")
            .env_remove("RUST_LOG")
            .env_remove("TICKET_SYNC_CONFIG")
            .output()
            .expect("binary runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("acting on GitHub as the GitHub App support-sync-demo[bot]"), "{text}");
    assert!(text.contains("signed in to Zendesk as the OAuth client ticket_sync_sandbox"), "{text}");
    let steps = [
        "issue acme/backend#3 created",
        "ticket 6 linked",
        "both linked tickets have the comment and \"fix in review",
        "fixed by pull request",
        "say the fix shipped in v2.4.0",
        "The fix for GitHub issue acme/backend#1 shipped in v2.4.0",
        "Drafted reply to the customer:",
    ];
    for step in steps {
        assert!(text.contains(step), "missing `{step}`:\n{text}");
    }
    assert!(!text.contains("not within"), "a step timed out:\n{text}");
}

/// A key or secret file that is a FIFO would block `check` (and the start) for ever: it is
/// refused before it is opened, with exit 2.
#[tokio::test]
async fn a_fifo_as_a_key_or_secret_file_is_refused_not_waited_on() {
    let env = Env::new().await;
    let fifo = env.dir.path().join("secret.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    assert!(made, "mkfifo works here");
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let as_key = good.replacen(
        "token_env = \"TS_SANDBOX_GITHUB_TOKEN\"",
        &format!("app_id = 1\nprivate_key_file = \"{}\"", fifo.display()),
        1,
    );
    let as_secret = format!("{good}\n[webhooks]\ngithub_secret_file = \"{}\"\n", fifo.display());
    for rules in [as_key, as_secret] {
        std::fs::write(&env.rules_path, &rules).unwrap();
        let out = tokio::time::timeout(std::time::Duration::from_secs(30), env.bin(&["check"], &[]))
            .await
            .expect("check does not block on a FIFO");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}

fn bare(args: &[&str], dir: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"));
    cmd.args(args).env_remove("RUST_LOG").env_remove("TICKET_SYNC_CONFIG");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.output().expect("binary runs")
}

/// Part 13's CLI contract: completions for the common shells and the two manual pages come
/// from the command-line definition; `--version` names the commit; `--help` ends with the exit
/// codes, the environment and examples.
#[test]
fn completions_manual_pages_version_and_help_explain_the_cli() {
    for (shell, needle) in
        [("bash", "complete -F"), ("zsh", "#compdef ticket-sync"), ("fish", "complete -c ticket-sync")]
    {
        let out = bare(&["completions", shell], None);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(needle), "{shell}: {text}");
        assert!(text.contains("dry-run") && text.contains("status"), "{shell}: subcommands and flags");
    }
    let out = bare(&["man"], None);
    let page = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
    assert!(out.status.success() && page.contains(".TH ticket-sync 1"), "{page}");
    assert!(page.contains("EXIT STATUS") && page.contains("TICKET_SYNC_CONFIG"));
    let out = bare(&["man", "rules"], None);
    let page = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
    assert!(out.status.success() && page.contains(".TH SYNC-RULES.TOML 5") && page.contains("client_id"));
    let version = String::from_utf8_lossy(&bare(&["--version"], None).stdout).to_string();
    assert!(version.starts_with("ticket-sync ") && version.contains("(commit "), "{version}");
    let help = String::from_utf8_lossy(&bare(&["--help"], None).stdout).to_string();
    for needle in ["Exit codes:", "Environment:", "Examples:", "CREDENTIALS_DIRECTORY", "ticket-sync demo"] {
        assert!(help.contains(needle), "`{needle}` missing from --help:\n{help}");
    }
    let run = String::from_utf8_lossy(&bare(&["run", "--help"], None).stdout).to_string();
    assert!(run.contains("Three schedules") && !run.contains("both schedules"), "{run}");
}

/// `demo | head -1` panicked on the closed pipe (exit 101); `demo` accepted `--config` and
/// ignored it; its database could not be kept to try `status` on.
#[test]
fn the_demo_ends_quietly_into_head_refuses_config_and_keeps_its_database_when_asked() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader takes one line and goes away, as `head -1` does.
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("ticket-sync demo:"), "{first}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");

    let out = bare(&["--config", "/etc/nowhere.toml", "demo"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config is not used"));

    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("kept");
    let out = bare(&["demo", "--keep", keep.to_str().unwrap()], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Internal notes written by ticket-sync, in full") && text.contains("<!-- ticket-sync:zendesk=")
    );
    let rules = keep.join("sync-rules.toml");
    let out = bare(&["--config", rules.to_str().unwrap(), "status", "--json"], Some(dir.path()));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json on the kept database");
    assert_eq!(json["mappings"].as_array().map(Vec::len), Some(5), "{json}");
    let again = bare(&["demo", "--keep", keep.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(1), "a folder that is not empty is refused");
}

/// `check --online | true` panicked on the closed pipe ("failed printing to stdout"): it
/// opens connections, so it keeps SIGPIPE ignored, and prints through `say!`, which ends
/// quietly when the reader has gone.
#[tokio::test]
async fn check_online_into_a_closed_pipe_ends_quietly() {
    let env = Env::new().await;
    let mut cmd = env.command(&["check", "--online"], &[]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take()); // the reader goes away before anything is printed
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
