//! Following a linked issue's fix (part 15, `[fixes]`), pure: which pull requests put a linked
//! issue's fix in review, which releases count as shipped, and the notes and replies that say
//! so. The passes gather pull requests, closes and releases and act on what this decides;
//! each note has its own event key, so every linked ticket is told each step once.
//!
//! Facts relied on are in docs/research/github-fixes.md: closing keywords count only for a pull
//! request into the default branch (§2); a release is shipped only when published, not a draft
//! (`published_at` set), and a prerelease only when the rules say so (§3).

use crate::body;
use crate::closeref;
use crate::domain::{CommitSha, GithubTime, IssueNumber, Mapping, RepoName, TicketId, TicketStatus};
use crate::eventkey::EventKey;
use crate::notetext;
use crate::rules::Fixes;

/// Where a pull request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullState {
    Open,
    /// Merged: `commit` is what landed on the base branch (the merge, squash or rebase commit).
    Merged {
        commit: Option<CommitSha>,
    },
    /// Closed without merging.
    ClosedUnmerged,
}

/// A pull request as the fix logic needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub repo: RepoName,
    pub number: IssueNumber,
    pub title: String,
    pub author: String,
    pub url: String,
    pub body: String,
    /// Its base is the repository's default branch (only then do its keywords close issues).
    pub into_default_branch: bool,
    pub state: PullState,
    /// Its last update, on GitHub's clock: where the next read of the list may stop.
    pub updated_at: Option<GithubTime>,
}

/// What closed an issue, as the close note names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closer {
    /// A merged pull request (its commit on the default branch, when known).
    PullRequest { repo: RepoName, number: IssueNumber, title: String, url: String, commit: Option<CommitSha> },
    /// A commit whose message closed it, with no pull request GitHub names.
    Commit { repo: RepoName, sha: CommitSha },
    /// Closed by hand (no commit): no release will ship it.
    Hand,
}

impl Closer {
    /// The commit a release must contain for the fix to have shipped; `None` when closed by hand
    /// (or a merged pull request whose commit is not known).
    pub fn fix_commit(&self) -> Option<(&RepoName, &CommitSha)> {
        match self {
            Closer::PullRequest { repo, commit: Some(sha), .. } | Closer::Commit { repo, sha } => Some((repo, sha)),
            Closer::PullRequest { commit: None, .. } | Closer::Hand => None,
        }
    }

    /// The line the close note adds: `Fixed by pull request acme/x#7 "Fix login" (…).`
    pub fn close_line(&self) -> Option<String> {
        self.words().map(|w| format!("Fixed {w}."))
    }

    /// The words the close note adds after "closed": `by pull request acme/x#7 "Fix login"`.
    pub fn words(&self) -> Option<String> {
        match self {
            Closer::PullRequest { repo, number, title, url, .. } => {
                Some(format!("by pull request {repo}#{number} \"{}\" ({url})", shown(title)))
            }
            Closer::Commit { repo, sha } => Some(format!("by commit {} in {repo}", sha.short())),
            Closer::Hand => None,
        }
    }
}

/// The line the close note of an issue closed as a duplicate adds when its tickets stay
/// where they are: the survivor is not in a routed repository (or could not be named).
pub fn duplicate_line(survivor: Option<(&RepoName, IssueNumber)>) -> String {
    match survivor {
        Some((repo, n)) => format!(
            "Closed as a duplicate of {repo}#{n}, which is not in a repository ticket-sync follows: this ticket stays linked to the closed issue."
        ),
        None => "Closed as a duplicate; GitHub did not name the issue it duplicates.".to_string(),
    }
}

/// The note a ticket gets when its link moves from an issue closed as a duplicate to the
/// surviving issue (`closed`: the survivor is closed already, with the status that sets, if
/// any), ending with its marker (`EventKey::MovedToSurvivor`).
pub fn moved_to_survivor_note(
    from: (&RepoName, IssueNumber),
    to: (&RepoName, IssueNumber),
    to_url: &str,
    closed: Option<Option<&TicketStatus>>,
) -> String {
    let mut text = format!(
        "GitHub issue {}#{} was closed as a duplicate of {}#{}: this ticket now follows {}#{}.\n{to_url}\n",
        from.0, from.1, to.0, to.1, to.0, to.1
    );
    if let Some(status) = closed {
        text.push_str(&format!("{}#{} is closed already.\n", to.0, to.1));
        if let Some(s) = status {
            text.push_str(&format!("{}\n", notetext::status_line(s)));
        }
    }
    let key = EventKey::MovedToSurvivor { repo: to.0.clone(), number: to.1 };
    format!("{text}\n{}", notetext::push_note_marker(&key))
}

/// Where a linked issue's fix stands, as `status --ticket` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixStage {
    /// A pull request that closes the issue is open.
    InReview { repo: RepoName, number: IssueNumber, title: String },
    /// Closed by a pull request or a commit; no release has shipped it yet.
    Fixed(Closer),
    /// A release contains the fix.
    Shipped { tag: String, url: String },
    /// Closed as a duplicate of this issue (`repo#number`), its tickets left here.
    DuplicateOf(String),
}

impl FixStage {
    /// The stage from what is known: the issue's recorded fix (its closer, unless reopened
    /// since; the release that shipped it; the issue it duplicates) and the open pull request
    /// that closes it, if any. `None`: nothing is under way.
    pub fn of(
        closer: Option<&Closer>,
        shipped: Option<(&str, &str)>,
        duplicate_of: Option<&str>,
        open_pull: Option<(&RepoName, IssueNumber, &str)>,
    ) -> Option<FixStage> {
        if let Some(of) = duplicate_of {
            return Some(FixStage::DuplicateOf(of.to_string()));
        }
        if let Some((tag, url)) = shipped {
            return Some(FixStage::Shipped { tag: tag.to_string(), url: url.to_string() });
        }
        match (closer, open_pull) {
            (Some(c), _) if *c != Closer::Hand => Some(FixStage::Fixed(c.clone())),
            (_, Some((repo, number, title))) => {
                Some(FixStage::InReview { repo: repo.clone(), number, title: title.to_string() })
            }
            _ => None,
        }
    }

    /// The stage's stable name, for scripts: `in_review`, `fixed`, `shipped`, `duplicate`.
    pub fn name(&self) -> &'static str {
        match self {
            FixStage::InReview { .. } => "in_review",
            FixStage::Fixed(_) => "fixed",
            FixStage::Shipped { .. } => "shipped",
            FixStage::DuplicateOf(_) => "duplicate",
        }
    }
}

impl std::fmt::Display for FixStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FixStage::InReview { repo, number, title } => {
                write!(f, "in review: pull request {repo}#{number} \"{}\"", shown(title))
            }
            FixStage::Fixed(c) => write!(f, "fixed {}", c.words().unwrap_or_default()),
            FixStage::Shipped { tag, url } => write!(f, "shipped in {} ({url})", shown(tag)),
            FixStage::DuplicateOf(of) => write!(f, "duplicate of {of}"),
        }
    }
}

/// The note a ticket gets when its link goes back to the issue it had left for a survivor:
/// that issue was reopened, and is not a duplicate after all.
pub fn returned_note(to: (&RepoName, IssueNumber), from: (&RepoName, IssueNumber), to_url: &str) -> String {
    let key = EventKey::LinkReturned { repo: to.0.clone(), number: to.1 };
    format!(
        "GitHub issue {}#{} was reopened and is no longer a duplicate of {}#{}: this ticket follows {}#{} again.\n{to_url}\n\n{}",
        to.0,
        to.1,
        from.0,
        from.1,
        to.0,
        to.1,
        notetext::push_note_marker(&key)
    )
}

/// A release as the fix logic needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub repo: RepoName,
    pub id: u64,
    pub tag: String,
    pub url: String,
    pub draft: bool,
    pub prerelease: bool,
    /// When it was published; `None` for a draft or a release GitHub is still making.
    pub published_at: Option<GithubTime>,
}

/// Whether `release` counts as shipping what it contains: published (not a draft, with a
/// publication time), and a prerelease only with `[fixes] prereleases = true`.
pub fn ships(release: &Release, rules: &Fixes) -> bool {
    !release.draft && release.published_at.is_some() && (!release.prerelease || rules.prereleases)
}

/// One note for one ticket; `event_key` is unique per ticket and step, so it is written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixNote {
    pub ticket: TicketId,
    pub event_key: EventKey,
    pub text: String,
}

/// The issues a pull request will close: those its description closes by keyword (only into
/// the default branch, as GitHub reads them) and those linked to it in GitHub's UI (`linked`,
/// as GitHub's GraphQL lists them; any base), each once.
pub fn closes(
    pr: &PullRequest,
    web_base: &url::Url,
    linked: &[(RepoName, IssueNumber)],
) -> Vec<(RepoName, IssueNumber)> {
    let mut out =
        if pr.into_default_branch { closeref::closed_issues(&pr.body, &pr.repo, web_base) } else { Vec::new() };
    for l in linked {
        if !out.contains(l) {
            out.push(l.clone());
        }
    }
    out
}

/// The notes a pull request gives the tickets linked to the issues it closes (`closes`): "in
/// review" while open, "closed without merging" once it is; a merged one gives none (the
/// issue's close note names it). Only active links of the pull request's closed issues count.
pub fn review_notes(pr: &PullRequest, closes: &[(RepoName, IssueNumber)], links: &[Mapping]) -> Vec<FixNote> {
    let (key, says) = match pr.state {
        PullState::Open => (EventKey::PullRequestInReview { repo: pr.repo.clone(), number: pr.number }, "is in review"),
        PullState::ClosedUnmerged => (
            EventKey::PullRequestUnmerged { repo: pr.repo.clone(), number: pr.number },
            "was closed without being merged",
        ),
        PullState::Merged { .. } => return Vec::new(),
    };
    let mut notes = Vec::new();
    for m in links.iter().filter(|m| m.link_state == crate::domain::LinkState::Active) {
        if !closes.iter().any(|(repo, n)| *repo == m.repo && *n == m.issue_number) {
            continue;
        }
        let text = format!(
            "A fix for GitHub issue {}#{} {says}: pull request {}#{} \"{}\" by {}.\n{}\n",
            m.repo,
            m.issue_number,
            pr.repo,
            pr.number,
            shown(&pr.title),
            pr.author,
            pr.url,
        );
        let text = format!("{text}\n{}", notetext::push_note_marker(&key));
        notes.push(FixNote { ticket: m.ticket_id, event_key: key.clone(), text });
    }
    notes
}

/// The note that tells a ticket the fix shipped in `release`, with the drafted reply when the
/// rules have a template (the reply itself is `reply`), ending with its marker (`shipped_key`).
pub fn shipped_note(issue: (&RepoName, IssueNumber), release: &Release, reply: Option<&str>) -> String {
    let (repo, number) = issue;
    let mut text = format!(
        "The fix for GitHub issue {repo}#{number} shipped in {} ({}).\n{}\n",
        shown(&release.tag),
        release.published_at.map(|t| t.utc().format("%Y-%m-%d").to_string()).unwrap_or_default(),
        release.url,
    );
    if let Some(reply) = reply {
        text.push_str(&format!("\nDrafted reply to the customer:\n\n{reply}\n"));
    }
    format!("{text}\n{}", notetext::push_note_marker(&shipped_key(release)))
}

/// The event key of a ticket's "shipped" note: one per release (a later release that contains
/// the same fix says nothing more, as the fix shipped once).
pub fn shipped_key(release: &Release) -> EventKey {
    EventKey::Shipped { repo: release.repo.clone(), release: release.id }
}

/// The customer reply: `template` with its placeholders filled. A reply posted publicly goes
/// through the redactor first (the issue's title may quote what engineers wrote); that is the
/// act step's, as for every text that leaves for a reader outside the team.
pub fn reply(template: &str, release: &Release, issue_title: &str, issue_url: &str) -> String {
    // One pass over the template: a value is never read again, so a title that holds
    // `{issue_url}` (a customer wrote the subject) stays that text.
    let title = shown(issue_title);
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let value = ["{tag}", "{release_url}", "{issue_title}", "{issue_url}"]
            .into_iter()
            .find(|p| after.starts_with(p))
            .map(|p| {
                (
                    p.len(),
                    match p {
                        "{tag}" => release.tag.as_str(),
                        "{release_url}" => release.url.as_str(),
                        "{issue_title}" => title.as_str(),
                        _ => issue_url,
                    },
                )
            });
        match value {
            Some((len, value)) => {
                out.push_str(value);
                rest = &after[len..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text written on GitHub (a title, a tag), as a note shows it: on one line, and with
/// anything that reads as one of ticket-sync's markers defused (`body::defuse_markers`, as
/// every other text from GitHub in a note), since anyone who opens a pull request writes its
/// title.
fn shown(text: &str) -> String {
    body::defuse_markers(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LinkState;

    fn repo() -> RepoName {
        "acme/backend".parse().unwrap()
    }

    fn link(ticket: u64, issue: u64, state: LinkState) -> Mapping {
        Mapping { link_state: state, ..Mapping::for_tests(ticket, "acme/backend", issue) }
    }

    fn pr(body: &str, state: PullState, into_default_branch: bool) -> PullRequest {
        PullRequest {
            repo: repo(),
            number: IssueNumber(45),
            title: "Fix the\nlogin".into(),
            author: "alice".into(),
            url: "https://github.com/acme/backend/pull/45".into(),
            body: body.into(),
            into_default_branch,
            state,
            updated_at: None,
        }
    }

    #[test]
    fn a_pull_request_tells_the_tickets_of_the_issues_it_closes_once_per_state() {
        let web = url::Url::parse("https://github.com/").unwrap();
        let links = [
            link(1, 7, LinkState::Active),
            link(2, 7, LinkState::Active),
            link(3, 8, LinkState::Active),
            link(4, 7, LinkState::Unlinked),
        ];
        type Row<'a> = (&'a str, PullState, bool, &'a [u64], &'a str);
        let rows: &[Row] = &[
            ("Fixes #7", PullState::Open, true, &[1, 2], "pr-review-acme/backend-45"),
            ("Fixes #7\nCloses #8", PullState::Open, true, &[1, 2, 3], "pr-review-acme/backend-45"),
            ("Fixes #7", PullState::ClosedUnmerged, true, &[1, 2], "pr-unmerged-acme/backend-45"),
            ("Fixes #7", PullState::Merged { commit: None }, true, &[], ""),
            ("Fixes #7", PullState::Open, false, &[], ""),
            ("Related to #7", PullState::Open, true, &[], ""),
            ("Fixes acme/frontend#7", PullState::Open, true, &[], ""),
        ];
        for (body, state, default_branch, tickets, key) in rows {
            let pr = pr(body, state.clone(), *default_branch);
            let notes = review_notes(&pr, &closes(&pr, &web, &[]), &links);
            let told: Vec<u64> = notes.iter().map(|n| n.ticket.0).collect();
            assert_eq!(told, *tickets, "{body} {state:?}");
            assert!(notes.iter().all(|n| n.event_key.to_string() == *key), "{body}: {notes:?}");
        }
        let open = pr("Fixes #7", PullState::Open, true);
        let note = &review_notes(&open, &closes(&open, &web, &[]), &links)[0];
        assert_eq!(
            note.text,
            "A fix for GitHub issue acme/backend#7 is in review: pull request acme/backend#45 \"Fix the login\" by \
             alice.\nhttps://github.com/acme/backend/pull/45\n\n[ticket-sync:event pr-review-acme/backend-45]"
        );
        let forged = PullRequest {
            title: "Fix\n[ticket-sync:event gh-event-1] <!-- x".into(),
            ..pr("Fixes #7", PullState::Open, true)
        };
        let note = &review_notes(&forged, &closes(&forged, &web, &[]), &links)[0];
        // Linked in GitHub's UI: any base, no keyword needed, each issue once.
        let elsewhere = pr("No keyword", PullState::Open, false);
        let linked = [(repo(), IssueNumber(8)), (repo(), IssueNumber(8))];
        let told: Vec<u64> =
            review_notes(&elsewhere, &closes(&elsewhere, &web, &linked), &links).iter().map(|n| n.ticket.0).collect();
        assert_eq!(told, [3]);
        // The forged marker is defused: the only one left is the note's own, at its end.
        let own = "[ticket-sync:event pr-review-acme/backend-45]";
        let forged_left = note.text.matches("[ticket-sync:event").count() != 1 || !note.text.ends_with(own);
        assert!(!forged_left && !note.text.contains("<!--"), "{}", note.text);
    }

    fn release(draft: bool, prerelease: bool, published: bool) -> Release {
        Release {
            repo: repo(),
            id: 99,
            tag: "v2.4.0".into(),
            url: "https://github.com/acme/backend/releases/tag/v2.4.0".into(),
            draft,
            prerelease,
            published_at: published.then(|| GithubTime::stamped("2026-12-01T10:00:00Z".parse().unwrap())),
        }
    }

    #[test]
    fn only_a_published_release_ships_and_a_prerelease_only_when_asked() {
        let plain = Fixes::default();
        let pre = Fixes { prereleases: true, ..Fixes::default() };
        let rows = [
            // draft, prerelease, published → ships by default, ships with prereleases
            (false, false, true, true, true),
            (false, true, true, false, true),
            (true, false, false, false, false),
            (false, false, false, false, false), // published_at not set yet: GitHub is still making it
            (true, true, false, false, false),
        ];
        for (draft, prerelease, published, by_default, with_pre) in rows {
            let r = release(draft, prerelease, published);
            assert_eq!((ships(&r, &plain), ships(&r, &pre)), (by_default, with_pre), "{r:?}");
        }
    }

    #[test]
    fn what_closed_an_issue_is_named_and_only_a_commit_can_ship() {
        let sha = CommitSha::parse("ABCDEF1234567890abcdef1234567890abcdef12").unwrap();
        assert_eq!(sha.as_str(), "abcdef1234567890abcdef1234567890abcdef12");
        let by_pr = Closer::PullRequest {
            repo: repo(),
            number: IssueNumber(45),
            title: "Fix login".into(),
            url: "https://github.com/acme/backend/pull/45".into(),
            commit: Some(sha.clone()),
        };
        assert_eq!(
            by_pr.words().unwrap(),
            "by pull request acme/backend#45 \"Fix login\" (https://github.com/acme/backend/pull/45)"
        );
        assert_eq!(by_pr.fix_commit(), Some((&repo(), &sha)));
        let by_commit = Closer::Commit { repo: repo(), sha: sha.clone() };
        assert_eq!(by_commit.words().unwrap(), "by commit abcdef1 in acme/backend");
        assert_eq!(Closer::Hand.words(), None);
        assert_eq!(Closer::Hand.fix_commit(), None);
        for bad in ["", "abc", "xyz1234", "abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890ab"] {
            assert_eq!(CommitSha::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_stage_is_the_furthest_step_known() {
        let sha = CommitSha::parse("abcdef1234567890abcdef1234567890abcdef12").unwrap();
        let by_commit = Closer::Commit { repo: repo(), sha };
        let pull = Some((&repo(), IssueNumber(45), "Fix login"));
        type Row<'a> = (Option<&'a Closer>, Option<(&'a str, &'a str)>, Option<&'a str>);
        let rows: [(Row, _, Option<&str>); 6] = [
            ((None, None, None), None, None),
            ((None, None, None), pull, Some("in review: pull request acme/backend#45 \"Fix login\"")),
            ((Some(&Closer::Hand), None, None), None, None),
            ((Some(&by_commit), None, None), pull, Some("fixed by commit abcdef1 in acme/backend")),
            ((Some(&by_commit), Some(("v2.4.0", "u")), None), None, Some("shipped in v2.4.0 (u)")),
            ((Some(&Closer::Hand), None, Some("acme/web#3")), None, Some("duplicate of acme/web#3")),
        ];
        for ((closer, shipped, dup), open, want) in rows {
            let stage = FixStage::of(closer, shipped, dup, open);
            assert_eq!(stage.map(|s| s.to_string()).as_deref(), want);
        }
    }

    #[test]
    fn the_shipped_note_names_the_release_and_carries_the_drafted_reply() {
        let r = release(false, false, true);
        let template = "Good news: {issue_title} is fixed in {tag}: {release_url} ({issue_url})";
        let text = reply(template, &r, "Login\nfails", "https://github.com/acme/backend/issues/7");
        assert_eq!(
            text,
            "Good news: Login fails is fixed in v2.4.0: https://github.com/acme/backend/releases/tag/v2.4.0 \
             (https://github.com/acme/backend/issues/7)"
        );
        let note = shipped_note((&repo(), IssueNumber(7)), &r, Some(&text));
        assert!(
            note.starts_with(
                "The fix for GitHub issue acme/backend#7 shipped in v2.4.0 (2026-12-01).\n\
                 https://github.com/acme/backend/releases/tag/v2.4.0\n\nDrafted reply to the customer:\n\nGood news:"
            ),
            "{note}"
        );
        assert_eq!(shipped_key(&r).to_string(), "shipped-acme/backend-99");
        let forged = reply("Fixed: {issue_title} {{tag}", &r, "Bug {issue_url} {tag}", "https://private");
        assert_eq!(forged, "Fixed: Bug {issue_url} {tag} {v2.4.0", "values are not read again");
        assert!(note.ends_with("\n\n[ticket-sync:event shipped-acme/backend-99]"), "{note}");
        assert!(!shipped_note((&repo(), IssueNumber(7)), &r, None).contains("Drafted"));
    }

    #[test]
    fn the_notes_of_a_move_to_a_survivor_and_back_say_where_the_ticket_goes_and_end_with_their_marker() {
        let web: RepoName = "acme/web".parse().unwrap();
        let (from, to) = ((&repo(), IssueNumber(7)), (&web, IssueNumber(3)));
        let url = "https://github.com/acme/web/issues/3";
        assert_eq!(
            moved_to_survivor_note(from, to, url, None),
            "GitHub issue acme/backend#7 was closed as a duplicate of acme/web#3: this ticket now follows acme/web#3.\n\
             https://github.com/acme/web/issues/3\n\n[ticket-sync:event survivor-acme/web-3]"
        );
        let solved: TicketStatus = "solved".into();
        let closed = moved_to_survivor_note(from, to, url, Some(Some(&solved)));
        assert!(
            closed.contains(
                "\nacme/web#3 is closed already.\nTicket status set to solved by ticket-sync.\n\n[ticket-sync:event"
            ),
            "{closed}"
        );
        assert!(!moved_to_survivor_note(from, to, url, Some(None)).contains("status set"));
        assert_eq!(
            returned_note(from, to, "https://github.com/acme/backend/issues/7"),
            "GitHub issue acme/backend#7 was reopened and is no longer a duplicate of acme/web#3: this ticket follows \
             acme/backend#7 again.\nhttps://github.com/acme/backend/issues/7\n\n[ticket-sync:event returned-acme/backend-7]"
        );
    }
}
