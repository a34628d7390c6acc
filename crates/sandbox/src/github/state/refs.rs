//! Issue references in text (bodies, comments, commit messages): `#N` and `OWNER/REPO#N`, and
//! whether a closing keyword stands right before one.
//!
//! FACT (GH-DOCS `linking-a-pull-request-to-an-issue.md`, docs/research/github-fixes.md §2): the keywords are
//! close, closes, closed, fix, fixes, fixed, resolve, resolves, resolved; `KEYWORD #N` in the
//! same repository, `KEYWORD OWNER/REPO#N` in another; several issues need the full syntax for
//! each (`Resolves #10, resolves #123`), so in "Fixes #1 and #2" only #1 is closed.
//! ASSUMED: a colon after the keyword (`Fixes: #3`) counts, and the keyword is case-blind;
//! full issue URLs are not read as references by the fake.

use std::sync::OnceLock;

use regex::Regex;

/// One reference: another repository's issue (`Some((owner, name))`) or this one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    pub repo: Option<(String, String)>,
    pub number: u64,
    pub closing: bool,
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)(?:\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+)?(?:([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+))?#([0-9]+)\b",
        )
        .expect("a valid pattern")
    })
}

/// The references of `text`, each (repository, number) once; a reference counts as closing
/// if any of its mentions has a keyword.
pub fn issue_refs(text: &str) -> Vec<IssueRef> {
    let mut out: Vec<IssueRef> = Vec::new();
    for caps in pattern().captures_iter(text) {
        let whole = caps.get(0).expect("group 0");
        // `#` glued to a word (`abc#1`) or a path (`x/#1`) is not a reference.
        let glued = text[..whole.start()].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '/');
        if glued {
            continue;
        }
        let Ok(number) = caps[4].parse::<u64>() else {
            continue;
        };
        let repo = caps.get(2).zip(caps.get(3)).map(|(o, r)| (o.as_str().to_string(), r.as_str().to_string()));
        let closing = caps.get(1).is_some();
        match out.iter_mut().find(|r| r.repo == repo && r.number == number) {
            Some(seen) => seen.closing |= closing,
            None => out.push(IssueRef { repo, number, closing }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(repo: Option<(&str, &str)>, number: u64, closing: bool) -> IssueRef {
        IssueRef { repo: repo.map(|(o, n)| (o.to_string(), n.to_string())), number, closing }
    }

    #[test]
    fn keywords_close_only_the_reference_they_stand_before() {
        assert_eq!(issue_refs("Fixes #1 and #2"), [r(None, 1, true), r(None, 2, false)]);
        assert_eq!(
            issue_refs("Resolves #10, resolves acme/other#123. closed: #4"),
            [r(None, 10, true), r(Some(("acme", "other")), 123, true), r(None, 4, true)]
        );
        assert_eq!(issue_refs("see #3, later FIXED #3"), [r(None, 3, true)]);
    }

    #[test]
    fn glued_or_prefixed_words_are_not_references() {
        assert!(issue_refs("abc#1 x/#2 prefix#3").is_empty());
        assert_eq!(issue_refs("prefixes #5"), [r(None, 5, false)], "`prefixes` is not `fixes`");
        assert_eq!(issue_refs("(#6)"), [r(None, 6, false)]);
    }
}
