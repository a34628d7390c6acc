//! The issues a pull request closes by its description, read as GitHub reads it, pure.
//!
//! GitHub (docs, "Linking a pull request to an issue"): a keyword — close, closes, closed, fix,
//! fixes, fixed, resolve, resolves, resolved, in any letter case, optionally followed by a
//! colon — then `#N` for an issue of the pull request's own repository, or `OWNER/REPO#N`, or
//! the issue's URL. Each issue needs its own keyword (`Fixes #1, #2` closes only #1). Keywords
//! count only when the pull request's base is the repository's default branch: that is the
//! caller's to check, as it knows the base. A keyword inside a longer word (`prefixes #3`) is
//! none. See docs/research/github-fixes.md §2.

use std::sync::OnceLock;

use regex::Regex;
use url::Url;

use crate::domain::{IssueNumber, RepoName};

/// Longest description looked at: a description past it is read up to it (GitHub caps a body
/// at 65,536 characters).
const MAX_LEN: usize = 65_536;

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // The keyword as a whole word; then an optional colon and spaces; then the reference:
        // a URL, OWNER/REPO#N, or #N.
        Regex::new(
            r"(?i)(?:^|[^\w])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?[ \t]+(https?://[^\s)\]>]+|[\w.-]+/[\w.-]+#\d+|#\d+)",
        )
        .expect("the pattern is valid")
    })
}

/// The issues `body` closes when the pull request in `repo` is merged into the default
/// branch, in the order written, each once. `web_base` is GitHub's web host (issue links on
/// another host close nothing).
pub fn closed_issues(body: &str, repo: &RepoName, web_base: &Url) -> Vec<(RepoName, IssueNumber)> {
    let mut end = body.len().min(MAX_LEN);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: Vec<(RepoName, IssueNumber)> = Vec::new();
    for caps in pattern().captures_iter(&body[..end]) {
        let Some(reference) = caps.get(1).map(|m| m.as_str()) else { continue };
        let Some(found) = read_reference(reference, repo, web_base) else { continue };
        if !out.contains(&found) {
            out.push(found);
        }
    }
    out
}

fn read_reference(reference: &str, repo: &RepoName, web_base: &Url) -> Option<(RepoName, IssueNumber)> {
    if let Some(number) = reference.strip_prefix('#') {
        return Some((repo.clone(), number_of(number)?));
    }
    if !reference.contains("://") {
        let (other, number) = reference.split_once('#')?;
        return Some((other.parse().ok()?, number_of(number)?));
    }
    let url = Url::parse(reference.trim_end_matches(['.', ',', ';', ':'])).ok()?;
    let same_host = web_base.host_str().is_some_and(|h| url.host_str().is_some_and(|u| u.eq_ignore_ascii_case(h)))
        && url.port_or_known_default() == web_base.port_or_known_default();
    if !same_host {
        return None;
    }
    let base_path = web_base.path().trim_end_matches('/');
    let rest = url.path().strip_prefix(base_path)?.trim_start_matches('/');
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        [owner, name, "issues", number] => Some((format!("{owner}/{name}").parse().ok()?, number_of(number)?)),
        _ => None,
    }
}

fn number_of(text: &str) -> Option<IssueNumber> {
    text.parse::<u64>().ok().filter(|n| *n > 0).map(IssueNumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Vec<String> {
        let repo: RepoName = "acme/backend".parse().unwrap();
        let web = Url::parse("https://github.com/").unwrap();
        closed_issues(body, &repo, &web).into_iter().map(|(r, n)| format!("{r}#{n}")).collect()
    }

    #[test]
    fn each_keyword_closes_the_reference_that_follows_it() {
        let rows: &[(&str, &[&str])] = &[
            ("Fixes #12", &["acme/backend#12"]),
            ("fix #1\ncloses #2\nRESOLVED #3", &["acme/backend#1", "acme/backend#2", "acme/backend#3"]),
            (
                "Close #4. Closed #5; resolve #6, Resolves #7 fixed #8",
                &["acme/backend#4", "acme/backend#5", "acme/backend#6", "acme/backend#7", "acme/backend#8"],
            ),
            ("Closes: #9", &["acme/backend#9"]),
            ("Fixes acme/frontend#10", &["acme/frontend#10"]),
            ("Fixes https://github.com/acme/backend/issues/11.", &["acme/backend#11"]),
            ("(fixes #13)", &["acme/backend#13"]),
            ("Fixes #14 and fixes #14 again", &["acme/backend#14"]),
        ];
        for (body, expected) in rows {
            assert_eq!(read(body), *expected, "{body}");
        }
    }

    #[test]
    fn what_github_does_not_read_as_closing_closes_nothing() {
        let rows: &[&str] = &[
            "Fixes #1, #2",                                    // only #1: each issue needs its keyword
            "prefixes #3 and suffixed #4",                     // the keyword inside a longer word
            "See #5; related to #6",                           // no keyword
            "Fixes https://example.com/acme/backend/issues/7", // another host
            "Fixes https://github.com/acme/backend/pull/8",    // a pull request, not an issue
            "Fixes #0",                                        // no issue number 0
            "Fixes#9",                                         // no space after the keyword
            "Fixes acme#10",                                   // not OWNER/REPO
        ];
        assert_eq!(read(rows[0]), ["acme/backend#1"]);
        for body in &rows[1..] {
            assert!(read(body).is_empty(), "{body}: {:?}", read(body));
        }
    }

    #[test]
    fn any_text_reads_without_panicking() {
        let huge = format!("{}Fixes #1", "é".repeat(40_000));
        assert!(read(&huge).is_empty(), "a reference past the cap is not read");
        for body in ["", "Fixes", "Fixes #", "Fixes #99999999999999999999999", "fixes https://", "\u{0}#1"] {
            let _ = read(body);
        }
    }
}
