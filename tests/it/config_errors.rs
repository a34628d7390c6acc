//! Broken rules files: exit code 2, a message naming the key and line, and not one request sent.

use crate::harness::Env;

async fn assert_rejected(env: &Env, text: &str, key: &str, line: usize) {
    std::fs::write(&env.rules_path, text).unwrap();
    for args in [&["sync"][..], &["check"][..]] {
        let out = env.bin(args, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {key}: {stderr}");
        assert!(stderr.contains(&format!("key `{key}`")), "want key {key}: {stderr}");
        assert!(stderr.contains(&format!(":{line}:")), "want line {line}: {stderr}");
    }
    assert_eq!(env.sb.zendesk.door.log.len() + env.sb.github.door.log.len(), 0, "no request may be sent");
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect(needle)].matches('\n').count() + 1
}

#[tokio::test]
async fn each_config_error_names_key_and_line_and_sends_nothing() {
    let env = Env::new().await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            good.replace("tags_any = [\"escalated\"]", "tags_any = [\"escalated\"]\ncolour = \"blue\""),
            "escalation.colour",
            "colour",
        ),
        (
            good.replace("[escalation]", "[schedule]\nescalate = \"every minute\"\n\n[escalation]"),
            "schedule.escalate",
            "escalate = \"every",
        ),
        (good.replace("repo = \"acme/backend\"", ""), "route[1].repo", "[[route]]\n\nlabels"),
        (
            good.replace("repo = \"acme/billing\"", "repo = \"acme-billing\""),
            "route[0].repo",
            "repo = \"acme-billing\"",
        ),
        (good.replace("tags_any = [\"escalated\"]\n", ""), "escalation.tags_any", "[escalation]"),
        (
            good.replacen("export_requests_per_minute = ", "export_request_per_minute = ", 1),
            "zendesk.export_request_per_minute",
            "export_request_per_minute = ",
        ),
        (good.replace("[escalation]", "[escalation\n"), "escalation", "[escalation"),
    ];
    for (text, key, needle) in cases {
        let line = line_of(&text, needle);
        assert_rejected(&env, &text, key, line).await;
    }
}

/// A status Zendesk does not have, in a filter or as a status to set, is refused by `check` and
/// `sync` alike: the message names the key, its line, the value and the statuses allowed there.
#[tokio::test]
async fn an_unknown_status_names_the_key_the_value_and_the_allowed_ones() {
    let env = Env::new().await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let filter = "new, open, pending, hold, solved, closed";
    let settable = "keep, new, open, pending, hold, solved";
    let cases = [
        (
            good.replace(
                "tags_any = [\"escalated\"]",
                "tags_any = [\"escalated\"]\nstatus_in = [\"open\", \"waiting\"]",
            ),
            "escalation.status_in",
            "status_in",
            "`waiting`",
            filter,
        ),
        (
            good.replace(
                "when = { tags_any = [\"billing\"] }",
                "when = { tags_any = [\"billing\"], status_in = [\"Solved\"] }",
            ),
            "route[0].when.status_in",
            "when = {",
            "`Solved`",
            filter,
        ),
        (
            format!("{good}\n[pushback]\nclosed_completed = \"done\"\n"),
            "pushback.closed_completed",
            "closed_completed",
            "`done`",
            settable,
        ),
        (format!("{good}\n[pushback]\nreopened = \"closed\"\n"), "pushback.reopened", "reopened", "`closed`", settable),
    ];
    for (text, key, needle, value, allowed) in cases {
        let line = line_of(&text, needle);
        assert_rejected(&env, &text, key, line).await;
        let out = env.bin(&["check"], &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(value) && stderr.contains(allowed), "{key}: {stderr}");
    }
}

#[tokio::test]
async fn a_bad_ca_file_is_a_config_error_and_sends_nothing() {
    let env = Env::new().await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    std::fs::write(env.dir.path().join("not-pem.pem"), "this is not a certificate\n").unwrap();
    let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    std::fs::write(env.dir.path().join("broken.pem"), broken).unwrap();
    let cases = [
        (good.replacen("[github]\n", "[github]\nca_file = \"missing.pem\"\n", 1), "github.ca_file", "ca_file"),
        (good.replacen("[zendesk]\n", "[zendesk]\nca_file = \"not-pem.pem\"\n", 1), "zendesk.ca_file", "ca_file"),
        (good.replacen("[github]\n", "[github]\nca_file = \"broken.pem\"\n", 1), "github.ca_file", "ca_file"),
        (good.replacen("[github]\n", "[github]\nca_file = \"\"\n", 1), "github.ca_file", "ca_file"),
    ];
    for (text, key, needle) in cases {
        let line = line_of(&text, needle);
        assert_rejected(&env, &text, key, line).await;
    }
}

#[tokio::test]
async fn a_missing_token_is_a_config_error_and_sends_nothing() {
    let env = Env::new().await;
    let out = env.bin(&["sync"], &[("TS_SANDBOX_GITHUB_TOKEN", "")]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TS_SANDBOX_GITHUB_TOKEN"));
    assert_eq!(env.sb.zendesk.door.log.len() + env.sb.github.door.log.len(), 0);
}

#[test]
fn the_sample_rules_file_is_valid() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sync-rules.toml");
    let rules = ticket_sync::config::load(std::path::Path::new(sample)).expect("the sample parses");
    assert_eq!(rules.routes.len(), 2);
    assert_eq!(rules.github.writes_per_minute, 60);
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_allowed() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sync-rules.toml")).unwrap();
    let path = std::path::Path::new("/etc/ticket-sync/sync-rules.toml");
    let insecure = text.replace("https://acme.zendesk.com", "http://acme.zendesk.com");
    let err = ticket_sync::config::parse(path, &insecure).unwrap_err();
    assert_eq!((err.key.as_str(), err.line), ("zendesk.url", Some(line_of(&insecure, "url = \"http://acme"))));
    let allowed =
        insecure.replace("# allow_insecure_http = false                      #", "allow_insecure_http = true #");
    assert!(ticket_sync::config::parse(path, &allowed).is_ok());
}

#[test]
fn a_route_after_the_fallback_is_refused() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sync-rules.toml")).unwrap();
    let text = format!("{text}\n[[route]]\nrepo = \"acme/late\"\n");
    let err = ticket_sync::config::parse(std::path::Path::new("x.toml"), &text).unwrap_err();
    assert_eq!(err.key, "route[2]");
    assert!(err.message.contains("fallback"), "{err}");
}

/// No input may panic the rules parser: thousands of seeded mutations of the sample file
/// (byte flips, deleted and duplicated lines, truncations, spliced garbage) must each give
/// either valid rules or an error that names a key.
#[test]
fn no_mutation_of_the_rules_file_panics_the_parser() {
    use rand::{Rng, SeedableRng};
    let sample = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sync-rules.toml")).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x7e57);
    let garbage =
        ["[", "]]", "=", "\"", "'''", "{", "}", "\u{202e}", "é", "🦀", "\0", "\n[[route]]\n", "= [1, \"a\"]", "#"];
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..4000 {
        let mut lines: Vec<String> = sample.lines().map(str::to_string).collect();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..lines.len());
            match rng.random_range(0..5) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                }
                2 => {
                    let cut = rng.random_range(0..=lines[i].len());
                    let cut = (0..=cut).rev().find(|c| lines[i].is_char_boundary(*c)).unwrap();
                    lines[i].truncate(cut);
                }
                3 => {
                    let at = (0..=rng.random_range(0..=lines[i].len()))
                        .rev()
                        .find(|c| lines[i].is_char_boundary(*c))
                        .unwrap();
                    lines[i].insert_str(at, garbage[rng.random_range(0..garbage.len())]);
                }
                _ => {
                    let j = rng.random_range(0..lines.len());
                    lines.swap(i, j);
                }
            }
        }
        let text = lines.join("\n");
        match ticket_sync::config::parse(std::path::Path::new("fuzz.toml"), &text) {
            Ok(_) => valid += 1,
            Err(e) => {
                assert!(!e.key.is_empty(), "an error without a key: {e}");
                invalid += 1;
            }
        }
    }
    assert!(valid > 100 && invalid > 1000, "the mutations exercise both outcomes ({valid} valid, {invalid} invalid)");
}

/// `check` stopped at the first error: a file with three mistakes took three rounds. Every
/// error is reported in one run, each with its line and key; an unknown table is named once.
#[tokio::test]
async fn every_error_is_reported_in_one_run() {
    let env = Env::new().await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let text = good.replace("tags_any = [\"escalated\"]", "tags_any = [\"escalated\"]\ncolour = \"blue\"")
        + "\n[schedule]\nescalate = \"not a cron\"\n\n[notifications]\nemail = \"ops@example.com\"\n";
    std::fs::write(&env.rules_path, &text).unwrap();
    let out = env.bin(&["check"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for (key, needle) in
        [("escalation.colour", "colour"), ("schedule.escalate", "not a cron"), ("notifications", "[notifications]")]
    {
        let line = line_of(&text, needle);
        assert!(stderr.contains(&format!(":{line}: key `{key}`")), "want {key} at line {line}: {stderr}");
    }
    assert!(!stderr.contains("notifications.notifications"), "{stderr}");
    assert_eq!(stderr.matches("error: ").count(), 3, "{stderr}");
}

/// `check` stopped at an unknown key whose line could not be set aside on its own: one inside an
/// inline table, one before a value going on over several lines, an unknown array of tables
/// holding such values. Each is set aside with its whole value and the file read on, so every
/// error is still reported in one run, each with its line and key.
#[tokio::test]
async fn unknown_keys_inside_multi_line_values_do_not_stop_the_report() {
    let env = Env::new().await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let text = good
        .replace("when = { tags_any = [\"billing\"] }", "when = { tags_any = [\"billing\"], colour = \"red\" }")
        .replace("[escalation]", "[[routes]]\nwhen = { tags_any = [\"x\"] }\nrepo = [\n  \"a/b\",\n]\n\n[escalation]")
        .replace("tags_any = [\"escalated\"]", "tags_any = [\"escalated\"]\nshade = [\n  \"dark\",\n  \"light\",\n]")
        + "\n[schedule]\nescalate = \"not a cron\"\n";
    std::fs::write(&env.rules_path, &text).unwrap();
    let out = env.bin(&["check"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for (key, needle) in [
        ("route[0].when.colour", "colour"),
        ("routes", "[[routes]]"),
        ("escalation.shade", "shade"),
        ("schedule.escalate", "not a cron"),
    ] {
        let line = line_of(&text, needle);
        assert!(stderr.contains(&format!(":{line}: key `{key}`")), "want {key} at line {line}: {stderr}");
    }
    assert_eq!(stderr.matches("error: ").count(), 4, "{stderr}");
}
