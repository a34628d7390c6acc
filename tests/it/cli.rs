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
    env.sb.github.add_repo("acme/backend", ticket_sync::sandbox::Visibility::Public, true);
    env.ticket("Refused", &["escalated"]);
    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
}
