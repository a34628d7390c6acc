//! Reading an agent's issue reference from the `[linking]` ticket field, pure.
//!
//! Accepted, with surrounding whitespace: `https://WEB_HOST/OWNER/REPO/issues/N` (a trailing
//! slash, a query or a `#issuecomment-…` fragment are tolerated, as agents paste links to a
//! comment) and `OWNER/REPO#N`. `WEB_HOST` is GitHub's web host for the configured API
//! (`github.com` for `api.github.com`, the server itself for GitHub Enterprise Server).

use url::Url;

use crate::domain::{IssueNumber, RepoName};

/// What the field holds, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// Nothing (empty or whitespace): the ticket is not linked through the field.
    Empty,
    Issue(RepoName, IssueNumber),
    /// Text that names no issue; the reason is shown to the agent.
    Invalid(RefProblem),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefProblem {
    /// Not a reference at all.
    NotAReference,
    /// A link to a pull request, not an issue.
    PullRequest(RepoName, IssueNumber),
    /// A link to another host than the configured GitHub's web host.
    OtherHost(String),
}

/// Longest field text looked at; a longer value is no reference.
const MAX_LEN: usize = 512;

pub fn parse(text: &str, web_base: &Url) -> FieldRef {
    let text = text.trim();
    if text.is_empty() {
        return FieldRef::Empty;
    }
    if text.len() > MAX_LEN || text.chars().any(char::is_whitespace) {
        return FieldRef::Invalid(RefProblem::NotAReference);
    }
    if let Some((repo, number)) = text.split_once('#') {
        if !repo.contains(':') {
            return match (repo.parse::<RepoName>(), number_of(number)) {
                (Ok(repo), Some(n)) => FieldRef::Issue(repo, n),
                _ => FieldRef::Invalid(RefProblem::NotAReference),
            };
        }
    }
    let Ok(url) = Url::parse(text) else { return FieldRef::Invalid(RefProblem::NotAReference) };
    if !matches!(url.scheme(), "http" | "https") {
        return FieldRef::Invalid(RefProblem::NotAReference);
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let same_host = web_base.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host))
        && url.port_or_known_default() == web_base.port_or_known_default();
    if !same_host {
        return FieldRef::Invalid(RefProblem::OtherHost(host));
    }
    // The path below the web base (GitHub Enterprise Server may live under a prefix).
    let prefix = web_base.path().trim_end_matches('/');
    let Some(rest) = url.path().strip_prefix(prefix) else {
        return FieldRef::Invalid(RefProblem::NotAReference);
    };
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let [owner, name, kind, number] = parts[..] else { return FieldRef::Invalid(RefProblem::NotAReference) };
    let (Ok(repo), Some(n)) = (format!("{owner}/{name}").parse::<RepoName>(), number_of(number)) else {
        return FieldRef::Invalid(RefProblem::NotAReference);
    };
    match kind {
        "issues" => FieldRef::Issue(repo, n),
        "pull" => FieldRef::Invalid(RefProblem::PullRequest(repo, n)),
        _ => FieldRef::Invalid(RefProblem::NotAReference),
    }
}

/// A positive issue number of at most ten digits (GitHub's are far smaller).
fn number_of(s: &str) -> Option<IssueNumber> {
    let ok = !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten().filter(|n| *n > 0).map(IssueNumber)
}

/// GitHub's web base as a repository's own page (`html_url`) shows it: the page without its
/// `/{owner}/{name}` (any letter case). `None` when the page does not end with the repository.
pub fn web_base_of(repo_page: &str, repo: &RepoName) -> Option<Url> {
    let mut url = Url::parse(repo_page).ok()?;
    let path = url.path().trim_end_matches('/').to_string();
    let tail = format!("/{}/{}", repo.owner(), repo.name());
    let cut = path.len().checked_sub(tail.len())?;
    if !path.is_char_boundary(cut) || !path[cut..].eq_ignore_ascii_case(&tail) {
        return None;
    }
    let base = &path[..cut];
    url.set_path(if base.is_empty() { "/" } else { base });
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

/// GitHub's web host for an API base URL: `https://github.com` for `api.github.com`, the
/// server without its `/api/v3` for GitHub Enterprise Server, else the API's own origin.
pub fn web_base(api: &Url) -> Url {
    let mut web = api.clone();
    let dotcom = api.host_str().is_some_and(|h| h.eq_ignore_ascii_case("api.github.com"));
    if dotcom {
        let _ = web.set_host(Some("github.com"));
    }
    let path = api.path().trim_end_matches('/');
    let path = if dotcom { "" } else { path.strip_suffix("/api/v3").unwrap_or(path) };
    web.set_path(if path.is_empty() { "/" } else { path });
    web.set_query(None);
    web.set_fragment(None);
    web
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_base_is_read_off_a_repository_page() {
        let repo: RepoName = "acme/backend".parse().unwrap();
        let base = |page: &str| web_base_of(page, &repo).map(|u| u.to_string());
        assert_eq!(base("https://github.com/Acme/Backend"), Some("https://github.com/".into()));
        assert_eq!(base("https://acme.ghe.com/acme/backend/"), Some("https://acme.ghe.com/".into()));
        assert_eq!(base("https://git.example.com/github/acme/backend"), Some("https://git.example.com/github".into()));
        assert_eq!(base("https://github.com/acme/other"), None);
        assert_eq!(base("not a url"), None);
        let parsed = parse("https://acme.ghe.com/ACME/backend/issues/4", &Url::parse("https://acme.ghe.com/").unwrap());
        assert_eq!(parsed, FieldRef::Issue("acme/backend".parse().unwrap(), IssueNumber(4)));
    }

    fn gh() -> Url {
        web_base(&Url::parse("https://api.github.com").unwrap())
    }

    fn issue(repo: &str, n: u64) -> FieldRef {
        FieldRef::Issue(repo.parse().unwrap(), IssueNumber(n))
    }

    #[test]
    fn accepts_urls_and_short_references_with_whitespace() {
        assert_eq!(parse("https://github.com/acme/app/issues/12", &gh()), issue("acme/app", 12));
        assert_eq!(parse("  https://github.com/acme/app/issues/12/ \n", &gh()), issue("acme/app", 12));
        assert_eq!(parse("https://GitHub.com/acme/app/issues/12#issuecomment-5", &gh()), issue("acme/app", 12));
        assert_eq!(parse("acme/app#7", &gh()), issue("acme/app", 7));
        assert_eq!(parse("\tacme/app.js#7 ", &gh()), issue("acme/app.js", 7));
        assert_eq!(parse("   ", &gh()), FieldRef::Empty);
    }

    #[test]
    fn refuses_what_names_no_issue() {
        for text in [
            "see acme/app#7",
            "acme/app#",
            "acme/app#0",
            "acme/app#-1",
            "acme/app#99999999999",
            "#12",
            "acme#12",
            "https://github.com/acme/app",
            "https://github.com/acme/app/issues/12/comments",
            "https://github.com/acme/app/issues/x",
            "ftp://github.com/acme/app/issues/1",
            "javascript:alert(1)#1",
        ] {
            assert_eq!(parse(text, &gh()), FieldRef::Invalid(RefProblem::NotAReference), "{text}");
        }
        assert_eq!(
            parse("https://github.com/acme/app/pull/3", &gh()),
            FieldRef::Invalid(RefProblem::PullRequest("acme/app".parse().unwrap(), IssueNumber(3)))
        );
        assert_eq!(
            parse("https://gitlab.com/acme/app/issues/3", &gh()),
            FieldRef::Invalid(RefProblem::OtherHost("gitlab.com".into()))
        );
        assert_eq!(parse(&"a".repeat(600), &gh()), FieldRef::Invalid(RefProblem::NotAReference));
    }

    #[test]
    fn enterprise_server_links_are_on_the_server_host() {
        let web = web_base(&Url::parse("https://ghe.corp.example/api/v3").unwrap());
        assert_eq!(web.as_str(), "https://ghe.corp.example/");
        assert_eq!(parse("https://ghe.corp.example/acme/app/issues/4", &web), issue("acme/app", 4));
        assert!(matches!(parse("https://github.com/acme/app/issues/4", &web), FieldRef::Invalid(_)));
        let local = web_base(&Url::parse("http://127.0.0.1:9000").unwrap());
        assert_eq!(parse("http://127.0.0.1:9000/acme/app/issues/4", &local), issue("acme/app", 4));
        assert!(matches!(parse("http://127.0.0.1:9001/acme/app/issues/4", &local), FieldRef::Invalid(_)));
    }
}
