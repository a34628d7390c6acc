//! The documentation's commands work as written. The README's quick start is read from its
//! marked blocks and run against the sandbox (`check --online`, `sync --dry-run`, `status`),
//! with the credentials it creates, the rules it shows and the unit it installs; the service's
//! credentials (the unit, the docs' drop-ins and their `systemd-run` recipes) are held against
//! the names the rules read. Changing a command in the docs changes what these tests run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use ticket_sync_sandbox as sandbox;

use crate::harness::Env;

const RULES_PATH: &str = "/etc/ticket-sync/sync-rules.toml";
const CREDENTIALS: &str = "/etc/ticket-sync/credentials";
const BINARY: &str = "/usr/local/bin/ticket-sync";
const DROP_INS: &str = "/etc/systemd/system/ticket-sync.service.d/";

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The fenced block between `<!-- NAME -->` and `<!-- /NAME -->`, without its fences.
fn marked_block(doc: &str, name: &str) -> String {
    let (open, close) = (format!("<!-- {name} -->"), format!("<!-- /{name} -->"));
    let start = doc.find(&open).unwrap_or_else(|| panic!("no `{open}` marker")) + open.len();
    let end = start + doc[start..].find(&close).unwrap_or_else(|| panic!("no `{close}` marker"));
    // A block inside a list item is indented; what a reader copies is not.
    let lines: Vec<&str> = doc[start..end].lines().filter(|l| !l.trim().is_empty()).collect();
    let indent = lines.first().map_or(0, |l| l.len() - l.trim_start().len());
    let lines: Vec<&str> = lines.iter().map(|l| l.get(indent..).unwrap_or("")).collect();
    let fenced = lines.len() >= 2 && lines[0].starts_with("```") && lines[lines.len() - 1] == "```";
    assert!(fenced, "{name}: one fenced block");
    lines[1..lines.len() - 1].join("\n") + "\n"
}

/// A line of shell as words: single and double quotes, a backslash at the end of a line joins
/// the next, `# …` after a space is a comment, and `&&` separates commands.
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let mut words: Vec<String> = Vec::new();
        let (mut word, mut in_word, mut quote) = (String::new(), false, None::<char>);
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => (quote, in_word) = (Some(c), true),
                (None, '#') if !in_word => break,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        for command in words.split(|w| w == "&&") {
            if !command.is_empty() {
                commands.push(command.to_vec());
            }
        }
    }
    commands
}

/// Files a script fills with `sudo sh -c 'umask 077; … > DIR/NAME'`, by name.
fn credential_files(script: &str) -> Vec<String> {
    let mut names = Vec::new();
    for command in shell_commands(script) {
        if command.len() == 4 && command[..3] == ["sudo", "sh", "-c"] {
            let inner = &command[3];
            assert!(inner.starts_with("umask 077;"), "a secret is written private: {inner}");
            let target = inner.rsplit_once("> ").map(|(_, t)| t.trim()).expect("a redirect");
            let name = target.strip_prefix(&format!("{CREDENTIALS}/")).unwrap_or_else(|| panic!("{target}"));
            names.push(name.to_string());
        }
    }
    names
}

/// Drop-in files a script writes with `sudo tee DROP_INS/NAME.conf <<'EOF' … EOF`.
fn drop_ins(script: &str) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix("sudo tee ") else { continue };
        let path = rest.split_whitespace().next().unwrap();
        assert!(rest.ends_with("<<'EOF'"), "{line}");
        let name = path.strip_prefix(DROP_INS).unwrap_or_else(|| panic!("a drop-in of the unit: {path}"));
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "EOF").collect();
        files.insert(name.to_string(), body.join("\n"));
    }
    files
}

/// The credentials systemd hands the service (`LoadCredential=` and `LoadCredentialEncrypted=`),
/// by name, after the unit and then each drop-in in name order, as systemd reads them: an empty
/// assignment clears the list built so far.
fn loaded_credentials<'a>(files: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut loaded = BTreeMap::new();
    for text in files {
        for line in text.lines().map(str::trim) {
            let value = line.strip_prefix("LoadCredential=").or_else(|| line.strip_prefix("LoadCredentialEncrypted="));
            match value.map(str::trim) {
                Some("") => loaded.clear(),
                Some(v) => {
                    let (name, source) = v.split_once(':').unwrap_or((v, v));
                    loaded.insert(name.to_string(), source.to_string());
                }
                None => {}
            }
        }
    }
    loaded
}

/// The unit's `Key=value` settings in its active lines (last one wins; lists not needed here).
fn unit_settings(unit: &str) -> BTreeMap<String, String> {
    let lines = unit.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.starts_with('['));
    lines.filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The sandbox's value for each credential name the docs use.
fn secret_for(name: &str) -> String {
    match name {
        "zendesk-client-secret" => sandbox::ZENDESK_CLIENT_SECRET.to_string(),
        "github-token" => sandbox::GITHUB_TOKEN.to_string(),
        "github-webhook-secret" | "zendesk-webhook-secret" => format!("{name}-0123456789abcdef"),
        other => panic!("the docs name a credential this test does not know: {other}"),
    }
}

/// The quick start's rules with the sandbox in place of the placeholders (each must be there).
fn sandbox_rules(env: &Env, state: &Path) -> String {
    let mut rules = marked_block(&repo_file("README.md"), "quickstart-rules");
    let zendesk = env.sb.zendesk.base_url();
    let state = state.display().to_string();
    for (placeholder, value) in [
        ("https://YOUR-SUBDOMAIN.zendesk.com", zendesk.as_str()),
        ("\"ticket_sync\"", &format!("\"{}\"", sandbox::ZENDESK_CLIENT_ID)),
        ("YOUR-ORG/YOUR-REPO", "acme/backend"),
        ("/var/lib/ticket-sync/ticket-sync.db", state.as_str()),
    ] {
        assert!(rules.contains(placeholder), "the quick start's rules show {placeholder}:\n{rules}");
        rules = rules.replace(placeholder, value);
    }
    // The GitHub API is the sandbox's: the only key the quick start leaves to its default.
    format!("{rules}\n[github]\nurl = \"{}\"\n", env.sb.github.base_url())
}

/// Runs the binary as a documented command line runs it: `args` after the binary, with the
/// rules and credentials paths of the docs mapped to the test's.
async fn run(args: &[String], envs: &[(String, String)], rules: &Path, creds: &Path) -> Output {
    let args: Vec<String> =
        args.iter().map(|a| if a == RULES_PATH { rules.display().to_string() } else { a.clone() }).collect();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"));
    cmd.args(&args);
    for var in [
        "GITHUB_TOKEN",
        "ZENDESK_CLIENT_SECRET",
        "ZENDESK_API_TOKEN",
        "GITHUB_WEBHOOK_SECRET",
        "ZENDESK_WEBHOOK_SECRET",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "TICKET_SYNC_CONFIG",
        "TICKET_SYNC_CRASHPOINT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    for (key, value) in envs {
        let value = if key == "CREDENTIALS_DIRECTORY" {
            assert_eq!(value, CREDENTIALS, "the credentials folder the docs fill");
            creds.display().to_string()
        } else {
            value.clone()
        };
        cmd.env(key, value);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs")).await.unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Variables a documented command line sets, in order.
type Vars = Vec<(String, String)>;

/// A documented `sudo [env K=V …] /usr/local/bin/ticket-sync ARGS`: (environment, ARGS).
fn ticket_sync_command(command: &[String]) -> Option<(Vars, Vec<String>)> {
    let at = command.iter().position(|w| w == BINARY)?;
    let with_env = command.get(1).is_some_and(|w| w == "env");
    if !(with_env || at == 1) {
        return None; // the binary as an argument (`install … /usr/local/bin/ticket-sync`)
    }
    assert_eq!(command[0], "sudo", "run with sudo, by its full path: {command:?}");
    let mut envs = Vec::new();
    for word in &command[if with_env { 2 } else { 1 }..at] {
        let (k, v) = word.split_once('=').unwrap_or_else(|| panic!("env K=V: {command:?}"));
        envs.push((k.to_string(), v.to_string()));
    }
    Some((envs, command[at + 1..].to_vec()))
}

/// The README's quick start, command by command, against the sandbox: the secrets it stores
/// are the ones the unit loads, the rules it shows pass `check --online`, the dry run lists
/// the issue the first pass creates, and `status` reads what the service wrote.
#[tokio::test]
async fn the_readme_quick_start_runs_as_written() {
    if sandbox::zendesk_auth_mode() != sandbox::ZendeskAuthMode::OAuth {
        return; // the quick start signs in with an OAuth client, the sandbox's default
    }
    let readme = repo_file("README.md");
    let script = marked_block(&readme, "quickstart");
    let env = Env::new().await;
    let id = env.ticket("Quick start", &["escalated"]);
    let rules = env.dir.path().join("sync-rules.toml");
    let creds = env.dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(&rules, sandbox_rules(&env, &env.dir.path().join("state/ticket-sync.db"))).unwrap();

    let stored = credential_files(&script);
    for name in &stored {
        std::fs::write(creds.join(name), format!("{}\n", secret_for(name))).unwrap();
    }
    let unit = repo_file("systemd/ticket-sync.service");
    let loaded = loaded_credentials([unit.as_str()]);
    for (name, source) in &loaded {
        assert!(stored.contains(name), "the unit loads {name}, which the quick start does not store");
        assert_eq!(source, &format!("{CREDENTIALS}/{name}"), "the unit reads {name} where the quick start puts it");
    }

    let mut ran = Vec::new();
    let mut service_started = false;
    for command in shell_commands(&script) {
        if command.first().is_some_and(|w| w == "sudoedit") {
            assert_eq!(command[1..], [RULES_PATH], "the rules are written where the commands read them");
        }
        if command.len() >= 3 && command[..3] == ["sudo", "systemctl", "enable"] {
            assert!(command.contains(&"--now".to_string()), "{command:?}");
            // What the service's first escalation pass does, with the unit's credentials.
            let args = ["--config", RULES_PATH, "sync"].map(String::from);
            let envs = [("CREDENTIALS_DIRECTORY".to_string(), CREDENTIALS.to_string())];
            let out = run(&args, &envs, &rules, &creds).await;
            assert_eq!(out.status.code(), Some(0), "the service's first pass: {}", text(&out));
            service_started = true;
        }
        let Some((envs, args)) = ticket_sync_command(&command) else { continue };
        assert_eq!(args[..2], ["--config", RULES_PATH], "{command:?}");
        let out = run(&args, &envs, &rules, &creds).await;
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(0), "`{}`:\n{shown}", args.join(" "));
        let what = args[2..].join(" ");
        match what.as_str() {
            "check --online" => assert!(shown.contains("acme/backend: exists"), "{shown}"),
            "sync --dry-run" => {
                assert!(shown.contains("would create an issue in acme/backend"), "{shown}");
                assert_eq!(env.github_writes() + env.zendesk_writes(), 0, "a dry run writes nothing");
            }
            "status" => {
                assert!(service_started, "status runs once the service is on");
                assert!(shown.contains("mappings: 1"), "{shown}");
            }
            other => panic!("a command this test does not know: {other}"),
        }
        ran.push(what);
    }
    assert_eq!(ran, ["check --online", "sync --dry-run", "status"]);
    assert_eq!(env.issues_for("acme/backend", id).len(), 1, "the service's pass created the issue");
}

/// The first High finding of issue 20: the webhook example named `*_secret_env`, which turns
/// the credential fallback off, so the service set-up the docs gave exited 2 at start. The
/// `[webhooks]` rules of docs/webhooks.md, with only the credentials its drop-in loads (and the
/// unit's), pass `check` with a secret for each source.
#[tokio::test]
async fn the_webhook_rules_work_with_the_credentials_the_docs_load() {
    if sandbox::zendesk_auth_mode() != sandbox::ZendeskAuthMode::OAuth {
        return;
    }
    let doc = repo_file("docs/webhooks.md");
    let setup = marked_block(&doc, "webhooks-credentials");
    let unit = repo_file("systemd/ticket-sync.service");
    let dropins = drop_ins(&setup);
    assert!(!dropins.is_empty(), "docs/webhooks.md writes a drop-in");
    let loaded = loaded_credentials(std::iter::once(unit.as_str()).chain(dropins.values().map(String::as_str)));
    for name in ["zendesk-client-secret", "github-token", "github-webhook-secret", "zendesk-webhook-secret"] {
        assert!(loaded.contains_key(name), "the service loads {name}: {loaded:?}");
    }
    let stored = credential_files(&setup);
    for name in ["github-webhook-secret", "zendesk-webhook-secret"] {
        assert!(stored.contains(&name.to_string()), "docs/webhooks.md stores {name}");
        assert_eq!(loaded[name], format!("{CREDENTIALS}/{name}"));
    }

    let env = Env::new().await;
    let rules = env.dir.path().join("sync-rules.toml");
    let creds = env.dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    for name in loaded.keys() {
        std::fs::write(creds.join(name), secret_for(name)).unwrap();
    }
    let webhooks = marked_block(&doc, "webhooks-rules");
    let state = env.dir.path().join("state/ticket-sync.db");
    std::fs::write(&rules, format!("{}\n{webhooks}", sandbox_rules(&env, &state))).unwrap();
    let args = ["--config", RULES_PATH, "check"].map(String::from);
    let envs = [("CREDENTIALS_DIRECTORY".to_string(), CREDENTIALS.to_string())];
    let out = run(&args, &envs, &rules, &creds).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("webhooks on") && !shown.contains("no secret"), "{shown}");
}

/// The App's drop-in clears the unit's credentials to drop `github-token`: it must list every
/// other credential again, and the webhooks' drop-in must still apply after it.
#[test]
fn the_github_app_drop_in_keeps_every_other_credential() {
    let unit = repo_file("systemd/ticket-sync.service");
    let app = drop_ins(&marked_block(&repo_file("docs/github.md"), "github-app-credentials"));
    let hooks = drop_ins(&marked_block(&repo_file("docs/webhooks.md"), "webhooks-credentials"));
    let mut all: BTreeMap<String, String> = app.clone();
    all.extend(hooks.clone());
    for (files, webhooks) in [(app, false), (all, true)] {
        let loaded = loaded_credentials(std::iter::once(unit.as_str()).chain(files.values().map(String::as_str)));
        let names: BTreeSet<&str> = loaded.keys().map(String::as_str).collect();
        let mut want = BTreeSet::from(["zendesk-client-secret", "github-app-key"]);
        if webhooks {
            want.extend(["github-webhook-secret", "zendesk-webhook-secret"]);
        }
        assert_eq!(names, want, "drop-ins {:?}", files.keys().collect::<Vec<_>>());
    }
}

/// One-off commands run as the service runs: the same dynamic user (so the state folder is not
/// handed to another user), state folder, mode, umask, credentials, binary and rules. A
/// `systemd-run` with another user name took the running daemon's folder from it.
#[test]
fn the_systemd_run_recipes_match_the_unit() {
    let unit = repo_file("systemd/ticket-sync.service");
    let settings = unit_settings(&unit);
    let exec: Vec<&str> = settings["ExecStart"].split_whitespace().collect();
    let loaded = loaded_credentials([unit.as_str()]);
    let install = repo_file("docs/install.md");
    let mut seen = Vec::new();
    for (block, credentials) in [("run-as-service-sync", true), ("run-as-service-retry", false)] {
        let commands = shell_commands(&marked_block(&install, block));
        let command = commands.iter().find(|c| c.get(1).is_some_and(|w| w == "systemd-run")).expect("a systemd-run");
        let mut props = BTreeMap::new();
        let mut creds = Vec::new();
        let mut words = command[2..].iter();
        let mut rest = Vec::new();
        while let Some(word) = words.next() {
            if word == "-p" {
                let (k, v) = words.next().unwrap().split_once('=').unwrap();
                if k == "LoadCredential" || k == "LoadCredentialEncrypted" {
                    creds.push(format!("{k}={v}"));
                } else {
                    props.insert(k.to_string(), v.to_string());
                }
            } else if word.starts_with('-') && rest.is_empty() {
                assert!(["--pipe", "--wait", "--collect", "--quiet"].contains(&word.as_str()), "{word}");
            } else {
                rest.push(word.clone());
            }
        }
        assert_eq!(props.get("DynamicUser").map(String::as_str), Some("yes"), "{block}");
        // Without User=, the unit's dynamic user is named after the unit.
        assert_eq!(props.get("User").map(String::as_str), Some("ticket-sync"), "{block}: the unit's user");
        assert!(!settings.contains_key("User"), "the unit's user is its dynamic one");
        for key in ["StateDirectory", "StateDirectoryMode", "UMask"] {
            assert_eq!(props.get(key), settings.get(key), "{block}: {key}");
        }
        let wanted: Vec<String> = if credentials {
            loaded.iter().map(|(name, source)| format!("LoadCredential={name}:{source}")).collect()
        } else {
            Vec::new()
        };
        creds.sort();
        assert_eq!(creds, wanted, "{block}: the unit's credentials");
        assert_eq!(rest[..3], exec[..3], "{block}: the unit's binary and rules");
        seen.push(rest[3..].join(" "));
    }
    assert_eq!(seen, ["sync", "retry 12345"]);
}
