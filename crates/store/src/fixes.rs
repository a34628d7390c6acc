//! Following a linked issue's fix (part 15, `[fixes]`): how far each repository's pull requests
//! and releases were read (their ETags), the pull requests that close linked issues, each
//! linked issue's fix (what closed it, and where it shipped), the releases seen, and which
//! release was compared with which fix commit. Every value is GitHub's, never local time.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::domain::{CommitSha, GithubTime, IssueNumber, RepoName, TicketId};
use ticket_sync_core::fixplan::{Closer, PullRequest, PullState, Release};

/// How far a repository's pull requests and releases were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixWatermark {
    /// The newest pull-request update read (GitHub's clock).
    pub pulls_since: Option<DateTime<Utc>>,
    pub pulls_etag: Option<String>,
    pub releases_etag: Option<String>,
}

/// A pull request that closes linked issues by keyword, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPull {
    pub number: IssueNumber,
    pub title: String,
    pub url: String,
    pub state: PullState,
}

/// An open pull request that closes a linked issue whose ticket has not been told (nor has it
/// queued) that it is in review: a ticket linked after the pull request was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntoldReview {
    pub ticket: TicketId,
    pub issue_number: IssueNumber,
    pub number: IssueNumber,
    pub title: String,
    pub url: String,
    pub author: String,
}

/// A linked issue's fix: what closed it last, and the release that shipped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub repo: RepoName,
    pub issue_number: IssueNumber,
    pub closed_at: Option<DateTime<Utc>>,
    pub closer: Closer,
    /// Reopened since that close: nothing is pending.
    pub reopened: bool,
    pub shipped: Option<Shipped>,
    /// Closed as a duplicate of this issue (`repo#number`).
    pub duplicate_of: Option<String>,
}

/// Where a fix shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    pub release_id: u64,
    pub tag: String,
    pub url: String,
}

/// A recorded fix whose commit no release has been seen to contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFix {
    /// The issue's repository (a pull request in another repository can fix it).
    pub issue_repo: RepoName,
    pub issue_number: IssueNumber,
    pub commit: CommitSha,
    pub closed_at: Option<DateTime<Utc>>,
}

fn pull_state(state: &str, merge: Option<String>) -> PullState {
    match state {
        "merged" => PullState::Merged { commit: merge.as_deref().and_then(CommitSha::parse) },
        "closed" => PullState::ClosedUnmerged,
        _ => PullState::Open,
    }
}

fn state_name(state: &PullState) -> (&'static str, Option<String>) {
    match state {
        PullState::Open => ("open", None),
        PullState::Merged { commit } => ("merged", commit.as_ref().map(|c| c.to_string())),
        PullState::ClosedUnmerged => ("closed", None),
    }
}

const FIX_COLUMNS: &str = "repo, issue_number, closed_at, kind, commit_sha, commit_repo, pr_number, pr_title, pr_url,
     reopened, release_id, release_tag, release_url, duplicate_of";

fn fix_from_row(r: &Row) -> rusqlite::Result<Fix> {
    let repo: String = r.get(0)?;
    let repo: RepoName = repo.parse().map_err(|_| rusqlite::Error::InvalidColumnName("repo".into()))?;
    let kind: String = r.get(3)?;
    let sha = r.get::<_, Option<String>>(4)?.as_deref().and_then(CommitSha::parse);
    let commit_repo =
        r.get::<_, Option<String>>(5)?.and_then(|s| s.parse::<RepoName>().ok()).unwrap_or_else(|| repo.clone());
    let closer = match (kind.as_str(), sha) {
        ("pull", commit) => Closer::PullRequest {
            repo: commit_repo,
            number: IssueNumber(r.get::<_, Option<i64>>(6)?.unwrap_or_default() as u64),
            title: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            url: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            commit,
        },
        ("commit", Some(sha)) => Closer::Commit { repo: commit_repo, sha },
        _ => Closer::Hand,
    };
    let shipped = match (r.get::<_, Option<i64>>(10)?, r.get::<_, Option<String>>(11)?) {
        (Some(id), Some(tag)) => {
            Some(Shipped { release_id: id as u64, tag, url: r.get::<_, Option<String>>(12)?.unwrap_or_default() })
        }
        _ => None,
    };
    Ok(Fix {
        repo,
        issue_number: IssueNumber(r.get::<_, i64>(1)? as u64),
        closed_at: r.get::<_, Option<String>>(2)?.as_deref().and_then(parse_ts),
        closer,
        reopened: r.get::<_, i64>(9)? != 0,
        shipped,
        duplicate_of: r.get(13)?,
    })
}

impl Store {
    pub fn fix_watermark(&self, repo: &RepoName) -> Result<FixWatermark> {
        let row = self
            .conn()
            .query_row(
                "SELECT pulls_since, pulls_etag, releases_etag FROM fix_watermarks WHERE repo = ?1",
                [repo.to_string()],
                |r| {
                    Ok(FixWatermark {
                        pulls_since: r.get::<_, Option<String>>(0)?.as_deref().and_then(parse_ts),
                        pulls_etag: r.get(1)?,
                        releases_etag: r.get(2)?,
                    })
                },
            )
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    pub fn set_fix_watermark(&self, repo: &RepoName, w: &FixWatermark) -> Result<()> {
        self.conn().execute(
            "INSERT INTO fix_watermarks (repo, pulls_since, pulls_etag, releases_etag) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (repo) DO UPDATE SET pulls_since = excluded.pulls_since, pulls_etag = excluded.pulls_etag,
                 releases_etag = excluded.releases_etag",
            params![repo.to_string(), w.pulls_since.map(ts), w.pulls_etag, w.releases_etag],
        )?;
        Ok(())
    }

    /// Remembers a pull request that closes `closes` (linked issues of its repository) by keyword.
    pub fn record_pull(&self, pr: &PullRequest, closes: &[IssueNumber]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (state, merge) = state_name(&pr.state);
        tx.execute(
            "INSERT INTO fix_pulls (repo, number, title, url, author, state, merge_sha) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (repo, number) DO UPDATE SET title = excluded.title, url = excluded.url,
                 author = excluded.author, state = excluded.state, merge_sha = excluded.merge_sha",
            params![pr.repo.to_string(), pr.number.0 as i64, pr.title, pr.url, pr.author, state, merge],
        )?;
        tx.execute(
            "DELETE FROM fix_pull_issues WHERE repo = ?1 AND number = ?2",
            params![pr.repo.to_string(), pr.number.0 as i64],
        )?;
        for n in closes {
            tx.execute(
                "INSERT OR IGNORE INTO fix_pull_issues (repo, number, issue_number) VALUES (?1, ?2, ?3)",
                params![pr.repo.to_string(), pr.number.0 as i64, n.0 as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The merged pull request of `repo` whose commit on the default branch is `sha`, if one
    /// was read.
    pub fn pull_by_merge_commit(&self, repo: &RepoName, sha: &CommitSha) -> Result<Option<KnownPull>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT number, title, url, state, merge_sha FROM fix_pulls
                 WHERE repo = ?1 AND merge_sha = ?2 AND state = 'merged'",
                params![repo.to_string(), sha.as_str()],
                |r| {
                    Ok(KnownPull {
                        number: IssueNumber(r.get::<_, i64>(0)? as u64),
                        title: r.get(1)?,
                        url: r.get(2)?,
                        state: pull_state(&r.get::<_, String>(3)?, r.get(4)?),
                    })
                },
            )
            .optional()?)
    }

    /// The open pull requests of `repo` that close an issue of its with an active link whose
    /// ticket has neither been told nor queued that it is in review.
    pub fn untold_reviews(&self, repo: &RepoName) -> Result<Vec<UntoldReview>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT m.ticket_id, m.issue_number, p.number, p.title, p.url, p.author FROM mappings m
             JOIN fix_pull_issues i ON i.repo = m.repo AND i.issue_number = m.issue_number
             JOIN fix_pulls p ON p.repo = i.repo AND p.number = i.number
             WHERE m.repo = ?1 AND m.link_state = 'active' AND p.state = 'open'
               AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.ticket_id = m.ticket_id
                               AND l.detail = 'pr-review-' || p.repo || '-' || p.number)
               AND NOT EXISTS (SELECT 1 FROM intents t WHERE t.ticket_id = m.ticket_id
                               AND t.key = 'push_note:' || m.ticket_id || ':pr-review-' || p.repo || '-' || p.number)
             ORDER BY m.ticket_id, p.number",
        )?;
        let rows = st.query_map([repo.to_string()], |r| {
            Ok(UntoldReview {
                ticket: TicketId(r.get::<_, i64>(0)? as u64),
                issue_number: IssueNumber(r.get::<_, i64>(1)? as u64),
                number: IssueNumber(r.get::<_, i64>(2)? as u64),
                title: r.get(3)?,
                url: r.get(4)?,
                author: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The pull requests known to close `repo#number` by keyword, newest first.
    pub fn pulls_closing(&self, repo: &RepoName, number: IssueNumber) -> Result<Vec<KnownPull>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT p.number, p.title, p.url, p.state, p.merge_sha FROM fix_pulls p
             JOIN fix_pull_issues i ON i.repo = p.repo AND i.number = p.number
             WHERE i.repo = ?1 AND i.issue_number = ?2 ORDER BY p.number DESC",
        )?;
        let rows = st.query_map(params![repo.to_string(), number.0 as i64], |r| {
            Ok(KnownPull {
                number: IssueNumber(r.get::<_, i64>(0)? as u64),
                title: r.get(1)?,
                url: r.get(2)?,
                state: pull_state(&r.get::<_, String>(3)?, r.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records what closed `repo#number` (its latest close): a new fix, pending until a release
    /// contains its commit. The same close recorded again changes nothing (its shipping stays).
    pub fn record_close(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        closed_at: Option<DateTime<Utc>>,
        closer: &Closer,
    ) -> Result<()> {
        let (kind, sha, commit_repo, pr_number, pr_title, pr_url) = match closer {
            Closer::PullRequest { repo, number, title, url, commit } => (
                "pull",
                commit.as_ref().map(|c| c.to_string()),
                Some(repo.to_string()),
                Some(number.0 as i64),
                Some(title.as_str()),
                Some(url.as_str()),
            ),
            Closer::Commit { repo, sha } => ("commit", Some(sha.to_string()), Some(repo.to_string()), None, None, None),
            Closer::Hand => ("hand", None, None, None, None, None),
        };
        self.conn().execute(
            "INSERT INTO fix_issues (repo, issue_number, closed_at, kind, commit_sha, commit_repo, pr_number, pr_title, pr_url, reopened)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)
             ON CONFLICT (repo, issue_number) DO UPDATE SET
                 release_id = CASE WHEN fix_issues.commit_sha IS excluded.commit_sha THEN fix_issues.release_id END,
                 release_tag = CASE WHEN fix_issues.commit_sha IS excluded.commit_sha THEN fix_issues.release_tag END,
                 release_url = CASE WHEN fix_issues.commit_sha IS excluded.commit_sha THEN fix_issues.release_url END,
                 closed_at = excluded.closed_at, kind = excluded.kind, commit_sha = excluded.commit_sha,
                 commit_repo = excluded.commit_repo, pr_number = excluded.pr_number, pr_title = excluded.pr_title,
                 pr_url = excluded.pr_url, reopened = 0, duplicate_of = NULL, awaiting_event = NULL, awaiting_actor = NULL",
            params![repo.to_string(), number.0 as i64, closed_at.map(ts), kind, sha, commit_repo, pr_number, pr_title, pr_url],
        )?;
        Ok(())
    }

    /// `repo#number` was reopened: its fix is no longer pending (a release of the old commit
    /// did not fix it). What it shipped in before stays known.
    pub fn record_fix_reopened(&self, repo: &RepoName, number: IssueNumber) -> Result<()> {
        self.conn().execute(
            "UPDATE fix_issues SET reopened = 1, awaiting_event = NULL, awaiting_actor = NULL, duplicate_of = NULL
             WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64],
        )?;
        Ok(())
    }

    /// `repo#number` was closed as a duplicate of `of` (`repo#number`).
    pub fn record_duplicate(&self, repo: &RepoName, number: IssueNumber, of: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO fix_issues (repo, issue_number, kind, duplicate_of) VALUES (?1, ?2, 'hand', ?3)
             ON CONFLICT (repo, issue_number) DO UPDATE SET duplicate_of = excluded.duplicate_of",
            params![repo.to_string(), number.0 as i64, of],
        )?;
        Ok(())
    }

    /// `repo#number` was closed as a duplicate (its close event `event`, by `actor`) and GitHub
    /// could not say of which issue: its tickets' note of the close waits for the answer.
    pub fn record_awaiting_survivor(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        event: u64,
        actor: &str,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO fix_issues (repo, issue_number, kind, awaiting_event, awaiting_actor) VALUES (?1, ?2, 'hand', ?3, ?4)
             ON CONFLICT (repo, issue_number) DO UPDATE SET awaiting_event = excluded.awaiting_event,
                 awaiting_actor = excluded.awaiting_actor",
            params![repo.to_string(), number.0 as i64, event as i64, actor],
        )?;
        Ok(())
    }

    /// The duplicates of `repo` whose survivor is still to be read: (issue, close event, actor).
    pub fn awaiting_survivors(&self, repo: &RepoName) -> Result<Vec<(IssueNumber, u64, String)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT issue_number, awaiting_event, COALESCE(awaiting_actor, '') FROM fix_issues
             WHERE repo = ?1 AND awaiting_event IS NOT NULL ORDER BY issue_number",
        )?;
        let rows = st.query_map([repo.to_string()], |r| {
            Ok((IssueNumber(r.get::<_, i64>(0)? as u64), r.get::<_, i64>(1)? as u64, r.get::<_, String>(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The survivor of `repo#number` was read (or the wait ended): nothing awaits it any more.
    pub fn clear_awaiting_survivor(&self, repo: &RepoName, number: IssueNumber) -> Result<()> {
        self.conn().execute(
            "UPDATE fix_issues SET awaiting_event = NULL, awaiting_actor = NULL WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64],
        )?;
        Ok(())
    }

    pub fn fix(&self, repo: &RepoName, number: IssueNumber) -> Result<Option<Fix>> {
        let sql = format!("SELECT {FIX_COLUMNS} FROM fix_issues WHERE repo = ?1 AND issue_number = ?2");
        Ok(self.conn().query_row(&sql, params![repo.to_string(), number.0 as i64], fix_from_row).optional()?)
    }

    /// The fixes whose commit is in `repo` (the issue's own repository's or another's) and
    /// that no release has been seen to contain, oldest close first; only of issues with an
    /// active link (others are nobody's concern).
    pub fn pending_fixes(&self, repo: &RepoName) -> Result<Vec<PendingFix>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT f.repo, f.issue_number, f.commit_sha, f.closed_at FROM fix_issues f
             WHERE COALESCE(f.commit_repo, f.repo) = ?1 COLLATE NOCASE
               AND f.commit_sha IS NOT NULL AND f.release_id IS NULL AND f.reopened = 0
               AND EXISTS (SELECT 1 FROM mappings m WHERE m.repo = f.repo AND m.issue_number = f.issue_number
                           AND m.link_state = 'active')
             ORDER BY f.closed_at, f.repo, f.issue_number",
        )?;
        let rows = st.query_map([repo.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (issue_repo, n, sha, at) = row?;
            if let (Ok(issue_repo), Some(commit)) = (issue_repo.parse(), CommitSha::parse(&sha)) {
                out.push(PendingFix {
                    issue_repo,
                    issue_number: IssueNumber(n as u64),
                    commit,
                    closed_at: at.as_deref().and_then(parse_ts),
                });
            }
        }
        Ok(out)
    }

    /// Records that `repo#number`'s fix shipped in `release`.
    pub fn record_shipped(&self, repo: &RepoName, number: IssueNumber, release: &Release) -> Result<()> {
        self.conn().execute(
            "UPDATE fix_issues SET release_id = ?3, release_tag = ?4, release_url = ?5
             WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64, release.id as i64, release.tag, release.url],
        )?;
        Ok(())
    }

    /// Remembers a published release (a draft or one GitHub is still making is not kept).
    pub fn record_release(&self, r: &Release) -> Result<()> {
        let Some(published) = r.published_at else { return Ok(()) };
        self.conn().execute(
            "INSERT INTO fix_releases (repo, id, tag, url, prerelease, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (repo, id) DO UPDATE SET tag = excluded.tag, url = excluded.url,
                 prerelease = excluded.prerelease, published_at = excluded.published_at",
            params![r.repo.to_string(), r.id as i64, r.tag, r.url, r.prerelease, ts(published.utc())],
        )?;
        Ok(())
    }

    /// Keeps the releases a fresh read of the list shows, and forgets the kept ones it no
    /// longer shows within the span it covers (deleted, or made a draft again): their tags
    /// would answer the compare with a 404 on every pass.
    pub fn replace_releases(&self, repo: &RepoName, listed: &[Release]) -> Result<()> {
        for r in listed.iter().filter(|r| !r.draft) {
            self.record_release(r)?;
        }
        // A full page may leave out a release published in its span (the list is ordered by the
        // tagged commit's date): only a shorter one shows every release there is.
        if listed.len() >= 100 {
            return Ok(());
        }
        let Some(oldest) = listed.iter().filter_map(|r| r.published_at).min() else { return Ok(()) };
        let ids: Vec<String> =
            listed.iter().filter(|r| !r.draft && r.published_at.is_some()).map(|r| r.id.to_string()).collect();
        self.conn().execute(
            &format!(
                "DELETE FROM fix_releases WHERE repo = ?1 AND published_at >= ?2 AND id NOT IN ({})",
                if ids.is_empty() { "-1".to_string() } else { ids.join(",") }
            ),
            params![repo.to_string(), ts(oldest.utc())],
        )?;
        Ok(())
    }

    /// Releases a repository published at or after `from` (all when `None`), oldest first.
    pub fn releases_since(&self, repo: &RepoName, from: Option<DateTime<Utc>>) -> Result<Vec<Release>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id, tag, url, prerelease, published_at FROM fix_releases
             WHERE repo = ?1 AND (?2 IS NULL OR published_at >= ?2) ORDER BY published_at, id",
        )?;
        let rows = st.query_map(params![repo.to_string(), from.map(ts)], |r| {
            Ok(Release {
                repo: repo.clone(),
                id: r.get::<_, i64>(0)? as u64,
                tag: r.get(1)?,
                url: r.get(2)?,
                draft: false,
                prerelease: r.get(3)?,
                published_at: r.get::<_, String>(4).ok().as_deref().and_then(parse_ts).map(GithubTime::stamped),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What comparing `release`'s tag with `commit` answered before, if it was asked.
    pub fn release_check(&self, repo: &RepoName, release: u64, commit: &CommitSha) -> Result<Option<bool>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT contained FROM fix_checks WHERE repo = ?1 AND release_id = ?2 AND commit_sha = ?3",
                params![repo.to_string(), release as i64, commit.as_str()],
                |r| r.get::<_, Option<bool>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Counts a compare of `release` with `commit` that got no answer; returns how many did.
    pub fn record_release_check_failure(&self, repo: &RepoName, release: u64, commit: &CommitSha) -> Result<u32> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO fix_checks (repo, release_id, commit_sha, contained, failures) VALUES (?1, ?2, ?3, NULL, 1)
             ON CONFLICT (repo, release_id, commit_sha) DO UPDATE SET failures = failures + 1",
            params![repo.to_string(), release as i64, commit.as_str()],
        )?;
        let n: i64 = conn.query_row(
            "SELECT failures FROM fix_checks WHERE repo = ?1 AND release_id = ?2 AND commit_sha = ?3",
            params![repo.to_string(), release as i64, commit.as_str()],
            |r| r.get(0),
        )?;
        Ok(n as u32)
    }

    pub fn record_release_check(
        &self,
        repo: &RepoName,
        release: u64,
        commit: &CommitSha,
        contained: bool,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO fix_checks (repo, release_id, commit_sha, contained) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (repo, release_id, commit_sha) DO UPDATE SET contained = excluded.contained",
            params![repo.to_string(), release as i64, commit.as_str(), contained],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn repo() -> RepoName {
        "acme/backend".parse().unwrap()
    }

    fn sha(c: char) -> CommitSha {
        CommitSha::parse(&c.to_string().repeat(40)).unwrap()
    }

    fn release(id: u64, day: u32) -> Release {
        Release {
            repo: repo(),
            id,
            tag: format!("v{id}"),
            url: format!("https://github.com/acme/backend/releases/tag/v{id}"),
            draft: false,
            prerelease: false,
            published_at: Some(GithubTime::stamped(Utc.with_ymd_and_hms(2026, 12, day, 10, 0, 0).unwrap())),
        }
    }

    #[test]
    fn a_fix_is_pending_until_shipped_and_a_reopen_or_another_close_changes_it() {
        let store = Store::open_in_memory().unwrap();
        let issue = ticket_sync_core::domain::Issue {
            repo: repo(),
            number: IssueNumber(7),
            id: ticket_sync_core::domain::IssueId(70),
            html_url: "https://github.com/acme/backend/issues/7".into(),
            state: ticket_sync_core::domain::IssueState::Open,
            state_reason: None,
            body: None,
            updated_at: None,
            closed_by: None,
            is_pull_request: false,
        };
        store.insert_mapping(ticket_sync_core::domain::TicketId(1), &issue).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let by_pr = Closer::PullRequest {
            repo: repo(),
            number: IssueNumber(45),
            title: "Fix".into(),
            url: "https://github.com/acme/backend/pull/45".into(),
            commit: Some(sha('a')),
        };
        store.record_close(&repo(), IssueNumber(7), Some(at), &by_pr).unwrap();
        assert_eq!(store.pending_fixes(&repo()).unwrap().len(), 1);
        assert_eq!(store.fix(&repo(), IssueNumber(7)).unwrap().unwrap().closer, by_pr);
        store.record_shipped(&repo(), IssueNumber(7), &release(3, 2)).unwrap();
        assert!(store.pending_fixes(&repo()).unwrap().is_empty());
        // The same close read again keeps where it shipped.
        store.record_close(&repo(), IssueNumber(7), Some(at), &by_pr).unwrap();
        assert_eq!(store.fix(&repo(), IssueNumber(7)).unwrap().unwrap().shipped.unwrap().tag, "v3");
        // Reopened: nothing pending; closed again by another commit: pending again, not shipped.
        store.record_fix_reopened(&repo(), IssueNumber(7)).unwrap();
        assert!(store.pending_fixes(&repo()).unwrap().is_empty());
        store.record_close(&repo(), IssueNumber(7), Some(at), &Closer::Commit { repo: repo(), sha: sha('b') }).unwrap();
        let fix = store.fix(&repo(), IssueNumber(7)).unwrap().unwrap();
        assert_eq!((fix.shipped, fix.reopened), (None, false));
        assert_eq!(store.pending_fixes(&repo()).unwrap()[0].commit, sha('b'));
        // Closed by hand: nothing to ship.
        store.record_close(&repo(), IssueNumber(7), Some(at), &Closer::Hand).unwrap();
        assert!(store.pending_fixes(&repo()).unwrap().is_empty());
    }

    #[test]
    fn releases_and_checks_are_kept_and_read_in_publication_order() {
        let store = Store::open_in_memory().unwrap();
        store.record_release(&release(5, 4)).unwrap();
        store.record_release(&release(4, 2)).unwrap();
        store.record_release(&Release { published_at: None, ..release(6, 5) }).unwrap();
        let ids: Vec<u64> = store.releases_since(&repo(), None).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, [4, 5]);
        let from = Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap();
        assert_eq!(store.releases_since(&repo(), Some(from)).unwrap().len(), 1);
        assert_eq!(store.release_check(&repo(), 4, &sha('a')).unwrap(), None);
        assert_eq!(store.record_release_check_failure(&repo(), 4, &sha('a')).unwrap(), 1);
        assert_eq!(store.record_release_check_failure(&repo(), 4, &sha('a')).unwrap(), 2);
        assert_eq!(store.release_check(&repo(), 4, &sha('a')).unwrap(), None, "failures are no answer");
        store.record_release_check(&repo(), 4, &sha('a'), false).unwrap();
        assert_eq!(store.release_check(&repo(), 4, &sha('a')).unwrap(), Some(false));
    }

    #[test]
    fn pull_requests_are_found_by_merge_commit_and_by_the_issues_they_close() {
        let store = Store::open_in_memory().unwrap();
        let pr = PullRequest {
            repo: repo(),
            number: IssueNumber(45),
            title: "Fix".into(),
            author: "alice".into(),
            url: "u".into(),
            body: "Fixes #7".into(),
            into_default_branch: true,
            state: PullState::Open,
            updated_at: None,
        };
        store.record_pull(&pr, &[IssueNumber(7)]).unwrap();
        assert_eq!(store.pulls_closing(&repo(), IssueNumber(7)).unwrap()[0].state, PullState::Open);
        assert_eq!(store.pull_by_merge_commit(&repo(), &sha('c')).unwrap(), None);
        let merged = PullRequest { state: PullState::Merged { commit: Some(sha('c')) }, ..pr };
        store.record_pull(&merged, &[IssueNumber(7)]).unwrap();
        assert_eq!(store.pull_by_merge_commit(&repo(), &sha('c')).unwrap().unwrap().number, IssueNumber(45));
        assert_eq!(
            store.fix_watermark(&repo()).unwrap(),
            FixWatermark::default(),
            "a repository never read has no watermark"
        );
    }
}
