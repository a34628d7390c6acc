//! The manual pages, in roff: ticket-sync(1) from the command-line definition (the same one
//! `--help` and the completions come from), and sync-rules.toml(5) from the commented sample
//! rules file, which is the reference for every key (a test holds it to the parser).

use clap::CommandFactory;
use clap_mangen::roff::{bold, italic, roman, Roff};

use crate::cli::{Cli, ENVIRONMENT, EXAMPLES, EXIT_CODES, FILES};

/// The sample rules file, every key with its default and meaning.
pub const SAMPLE_RULES: &str = include_str!("../sync-rules.toml");

const MANUAL: &str = "ticket-sync manual";

/// ticket-sync(1).
pub fn cli_page() -> String {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone()).manual(MANUAL);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let usage = sub.clone().bin_name(format!("ticket-sync {}", sub.get_name())).render_usage().to_string();
        roff.control("TP", []).text([bold(format!("ticket-sync {}", sub.get_name()))]);
        let about = sub.get_long_about().or(sub.get_about()).map(ToString::to_string).unwrap_or_default();
        roff.text([roman(about)]);
        roff.control("RS", []);
        roff.text([italic("Usage: "), roman(usage.trim_start_matches("Usage: ").to_string())]);
        for arg in sub.get_arguments().filter(|a| !a.is_global_set() && a.get_id() != "help") {
            let values = arg.get_value_names().filter(|_| arg.get_action().takes_values());
            let name = match (arg.get_long(), values) {
                (Some(long), Some(v)) => format!("--{long} {}", v.join(" ")),
                (Some(long), None) => format!("--{long}"),
                (None, _) => arg.get_id().as_str().to_uppercase(),
            };
            roff.control("TP", []).text([bold(name)]);
            let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let possible: Vec<String> = if !arg.get_action().takes_values() {
                Vec::new()
            } else {
                arg.get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect()
            };
            if !possible.is_empty() {
                help = format!("{help} One of: {}.", possible.join(", ")).trim().to_string();
            }
            roff.text([roman(help)]);
        }
        roff.control("RE", []);
    }
    section(&mut roff, "EXIT STATUS", EXIT_CODES);
    section(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    section(&mut roff, "FILES", FILES);
    roff.control("SH", ["EXAMPLES"]);
    for (command, what) in EXAMPLES {
        roff.text([roman(format!("{what}:"))]);
        roff.control("RS", []).control("nf", []).text([roman(*command)]).control("fi", []).control("RE", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([bold("sync-rules.toml"), roman("(5), "), bold("systemd.exec"), roman("(5), "), bold("systemd-creds")]);
    roff.text([roman("(1); the guides in docs/ of the source tree.")]);
    let _ = man.render_version_section(&mut out);
    String::from_utf8_lossy(&out).into_owned() + &roff.render()
}

fn section(roff: &mut Roff, title: &str, items: &[(&str, &str)]) {
    roff.control("SH", [title]);
    for (name, meaning) in items {
        roff.control("TP", []).text([bold(*name)]).text([roman(*meaning)]);
    }
}

/// sync-rules.toml(5): the sample rules file, each table under its own heading.
pub fn rules_page() -> String {
    let mut roff = Roff::new();
    let version = env!("CARGO_PKG_VERSION");
    roff.control("TH", ["SYNC-RULES.TOML", "5", "", &format!("ticket-sync {version}"), MANUAL]);
    roff.control("SH", ["NAME"]).text([roman("sync-rules.toml - the rules file of ticket-sync")]);
    roff.control("SH", ["DESCRIPTION"]);
    roff.text([
        roman(
            "The rules file says which Zendesk tickets become GitHub issues, in which repository, and what the \
               ticket is told when the issue changes. It is TOML. ",
        ),
        bold("ticket-sync check"),
        roman(" reports every error in it at once, by line and key. "),
        bold("ticket-sync run"),
        roman(" re-reads it on SIGHUP, keeping the old rules when the new ones are invalid."),
    ]);
    roff.control("PP", []);
    roff.text([
        roman(
            "What follows is the commented sample: every key, its default, and what it means. Lines starting \
               with # are comments; a commented key shows its default. Paths are relative to the rules file. \
               Secrets are never written in this file: name an environment variable (",
        ),
        italic("*_env"),
        roman(") or a file ("),
        italic("*_file"),
        roman("), or leave both out to use the default variable and then the systemd credential."),
    ]);
    roff.control("SH", ["KEYS"]);
    let mut block: Vec<&str> = Vec::new();
    let flush = |roff: &mut Roff, block: &mut Vec<&str>| {
        while block.last().is_some_and(|l| l.trim().is_empty()) {
            block.pop();
        }
        if block.iter().any(|l| !l.trim().is_empty()) {
            roff.control("nf", []).text([roman(block.join("\n"))]).control("fi", []);
        }
        block.clear();
    };
    for line in SAMPLE_RULES.lines() {
        if let Some(table) = table_heading(line) {
            flush(&mut roff, &mut block);
            roff.control("SS", [table]);
            continue;
        }
        if !(block.is_empty() && line.trim().is_empty()) {
            block.push(line);
        }
    }
    flush(&mut roff, &mut block);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([bold("ticket-sync"), roman("(1)")]);
    roff.render()
}

/// `[zendesk]`, `# [webhooks]`, `[[route]]`: a table's heading line, commented out or not.
fn table_heading(line: &str) -> Option<&str> {
    let t = line.trim_start_matches('#').trim();
    let inner = t.strip_prefix('[')?.strip_suffix(']')?;
    let name = inner.trim_start_matches('[').trim_end_matches(']');
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
    valid.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_page_has_every_command_and_the_sections_a_manual_needs() {
        // roff writes each "-" as "\\-"; read back as text.
        let page = cli_page().replace("\\-", "-");
        assert!(page.contains(".TH ticket-sync 1"), "{}", &page[..200]);
        for needle in
            ["ticket-sync run", "ticket-sync sync", "ticket-sync check", "ticket-sync status", "ticket-sync demo"]
        {
            assert!(page.contains(needle), "{needle}");
        }
        for needle in ["ticket-sync retry", "ticket-sync completions", "ticket-sync man", "--dry-run"] {
            assert!(page.contains(needle), "{needle}");
        }
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"] {
            assert!(
                page.contains(&format!(".SH \"{section}\"")) || page.contains(&format!(".SH {section}")),
                "{section}"
            );
        }
        assert!(page.contains("TICKET_SYNC_CONFIG") && page.contains("CREDENTIALS_DIRECTORY"));
    }

    #[test]
    fn the_rules_page_heads_each_table_of_the_sample() {
        let page = rules_page().replace("\\-", "-");
        assert!(page.contains(".TH SYNC-RULES.TOML 5"), "{}", &page[..200]);
        for table in ["[zendesk]", "[github]", "[[route]]", "[pushback]", "[webhooks]"] {
            assert!(page.contains(&format!(".SS \"{table}\"")) || page.contains(&format!(".SS {table}")), "{table}");
        }
        assert_eq!(table_heading("# [webhooks]"), Some("[webhooks]"));
        assert_eq!(table_heading("[[route]]"), Some("[[route]]"));
        assert_eq!(table_heading("# [see the README]"), None);
        assert_eq!(table_heading("tags_any = [\"a\"]"), None);
    }
}
