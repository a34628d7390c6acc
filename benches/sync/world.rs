//! One benchmark world: the sandbox, three private repositories, a rules file, a state folder,
//! and bulk seeding of N finished escalations (tickets in Zendesk, issues on GitHub, mappings).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, LinkState, TicketId};
use ticket_sync_sandbox::{NewTicket, Sandbox, Visibility};
use ticket_sync_store::Store;

use crate::measure::{run_measured, Counts, Run};

pub const REPOS: [&str; 3] = ["acme/web", "acme/api", "acme/billing"];
/// The tag that routes a ticket to `REPOS[i]`; the last repository is the fallback route.
const ROUTE_TAGS: [&str; 3] = ["team-web", "team-api", "billing"];
/// Seeded history: one escalation every this many seconds, ending a day ago.
const HISTORY_STEP_SECS: i64 = 10;

pub struct World {
    pub sb: Sandbox,
    pub dir: tempfile::TempDir,
    pub rules_path: PathBuf,
    requester: u64,
    /// The state database (under `dir`, unless moved with `state_in`).
    db: PathBuf,
    /// Keeps a state folder elsewhere alive.
    _state_dir: Option<tempfile::TempDir>,
    /// Seeded links: (ticket id, repository index, issue number).
    pub links: Vec<(u64, usize, u64)>,
    runs: usize,
    attachments: bool,
    /// `[linking] field_id`, once `with_linking` registered the field (off by default).
    linking: Option<u64>,
}

impl World {
    pub async fn new(attachments: bool) -> World {
        let sb = Sandbox::start().await.expect("sandbox starts");
        for repo in REPOS {
            sb.github.add_repo(repo, Visibility::Private, true);
        }
        // The export limit (10 a minute) is lifted: priming reads up to 100 pages at once.
        sb.zendesk.set_export_limit_per_minute(None);
        let org = sb.zendesk.add_organization("Globex Corp");
        let requester = sb.zendesk.add_user("Jane Customer", "jane@globex.example", Some(org));
        let dir = tempfile::tempdir().expect("temp dir");
        let rules_path = dir.path().join("sync-rules.toml");
        let db = dir.path().join("state/bench.db");
        let mut world = World {
            sb,
            dir,
            rules_path,
            requester,
            db,
            _state_dir: None,
            links: Vec::new(),
            runs: 0,
            attachments,
            linking: None,
        };
        world.write_rules(attachments);
        world
    }

    /// Moves the (not yet created) database into a fresh folder under `parent`, e.g. a tmpfs.
    pub fn state_in(&mut self, parent: &std::path::Path) {
        let dir = tempfile::tempdir_in(parent).expect("state folder");
        self.db = dir.path().join("bench.db");
        self._state_dir = Some(dir);
        self.write_rules(self.attachments);
    }

    pub fn write_rules(&mut self, attachments: bool) {
        self.attachments = attachments;
        let mut routes = String::new();
        for (i, repo) in REPOS.iter().enumerate() {
            routes.push_str("\n[[route]]\n");
            if i + 1 < REPOS.len() {
                routes.push_str(&format!("when = {{ tags_any = [\"{}\"] }}\n", ROUTE_TAGS[i]));
            }
            routes.push_str(&format!("repo = \"{repo}\"\nlabels = [\"support\"]\n"));
        }
        if let Some(field) = self.linking {
            routes.push_str(&format!("\n[linking]\nfield_id = {field}\nstate_tags = true\n"));
        }
        // The sandbox's own rules (pacing off), plus the attachment setting under test.
        let start = "start = \"2020-01-01T00:00:00Z\"";
        let text = self
            .sb
            .rules_toml(&self.db.display().to_string(), &routes)
            .replace(start, &format!("{start}\nattachments = {attachments}"));
        assert!(text.contains("attachments = "), "the sandbox rules kept their [escalation] start line");
        std::fs::write(&self.rules_path, text).expect("rules written");
    }

    /// Registers a "GitHub issue" text field in the fake Zendesk and turns `[linking]` on
    /// with it (`state_tags = true`); returns the field's id.
    pub fn with_linking(&mut self) -> u64 {
        let field = self.sb.zendesk.add_ticket_field("text", "GitHub issue");
        self.linking = Some(field);
        self.write_rules(self.attachments);
        field
    }

    /// `n` plain (not escalated) tickets, created now, whose `[linking]` field an agent set to
    /// `repo#number`; the export shows them once they settle.
    pub fn field_linked_tickets(&self, n: usize, repo: &str, number: u64) -> Vec<u64> {
        let field = self.linking.expect("with_linking was called");
        let value = format!("{repo}#{number}");
        (0..n)
            .map(|i| {
                let mut t = self.new_ticket(i, &format!("Checkout fails for another customer ({i})"));
                t.tags = vec![ROUTE_TAGS[i % 3].into()];
                let id = self.sb.zendesk.add_ticket(t);
                self.sb.zendesk.set_field(id, field, Some(&value));
                id
            })
            .collect()
    }

    /// The tickets actively linked to `repo#number` in the state database.
    pub fn issue_link_count(&self, repo: &str, number: u64) -> usize {
        let store = Store::open(&self.db_path()).expect("store opens");
        let links = store.issue_links(&repo.parse().unwrap(), IssueNumber(number)).expect("links");
        links.iter().filter(|(m, _)| m.link_state == LinkState::Active).count()
    }

    pub fn db_path(&self) -> PathBuf {
        self.db.clone()
    }

    fn new_ticket(&self, i: usize, subject: &str) -> NewTicket {
        let description = format!(
            "Customer reports: {subject}. Steps: open the dashboard, export the report, wait. \
             Expected a CSV, got an error page. Account on the Enterprise plan, region EU."
        );
        let mut t = NewTicket::new(subject, &description, self.requester);
        t.tags = vec!["escalated".into(), ROUTE_TAGS[i % 3].into()];
        t.status = "open".into();
        t.priority = Some("high".into());
        t
    }

    /// `n` escalated tickets with a history of `HISTORY_STEP_SECS` between them, ending a day ago.
    pub fn seed_tickets(&self, n: usize) -> Vec<(u64, DateTime<Utc>)> {
        let end = self.sb.clock.now() - chrono::Duration::days(1);
        let at = |i: usize| end - chrono::Duration::seconds(HISTORY_STEP_SECS * (n - i) as i64);
        let tickets = (0..n).map(|i| (self.new_ticket(i, &format!("Report export fails ({i})")), at(i))).collect();
        let ids = self.sb.zendesk.seed_tickets(tickets);
        ids.into_iter().enumerate().map(|(i, id)| (id, at(i))).collect()
    }

    /// `n` finished escalations: tickets, their issues (filed by the bot five seconds later,
    /// spread over the three repositories) and the mappings, as a long-running install has them.
    pub fn seed_links(&mut self, n: usize) {
        let tickets = self.seed_tickets(n);
        let mut links = Vec::with_capacity(n);
        for (r, repo) in REPOS.iter().enumerate() {
            let mine: Vec<&(u64, DateTime<Utc>)> =
                tickets.iter().enumerate().filter(|(i, _)| i % 3 == r).map(|(_, t)| t).collect();
            let issues = mine
                .iter()
                .map(|(id, at)| {
                    let body = format!(
                        "Escalated from Zendesk ticket {id}.\n\nCustomer reports: report export fails.\n\n<!-- ticket-sync:zendesk={id} -->"
                    );
                    (format!("Report export fails [Zendesk #{id}]"), body, *at + chrono::Duration::seconds(5))
                })
                .collect();
            let views = self.sb.github.seed_issues(repo, issues, self.sb.github.login());
            for ((id, _), view) in mine.iter().zip(views) {
                let issue = Issue {
                    repo: repo.parse().unwrap(),
                    number: IssueNumber(view.number),
                    id: IssueId(view.id),
                    html_url: view.html_url,
                    state: view.state.into(),
                    state_reason: None,
                    body: None,
                    updated_at: Some(view.updated_at),
                    closed_by: None,
                    is_pull_request: false,
                };
                links.push((TicketId(*id), issue));
                self.links.push((*id, r, view.number));
            }
        }
        let store = Store::open(&self.db_path()).expect("store opens");
        store.import_mappings(&links).expect("mappings imported");
    }

    /// One new escalated ticket (number `i` picks its route), created now; returns its id.
    pub fn new_escalation(&self, i: usize) -> u64 {
        self.sb.zendesk.add_ticket(self.new_ticket(i, &format!("Latency probe {i}")))
    }

    /// Appends `extra` (e.g. `[schedule]`, `[webhooks]`) to the rules file as written.
    pub fn append_rules(&self, extra: &str) {
        let text = std::fs::read_to_string(&self.rules_path).expect("rules read");
        std::fs::write(&self.rules_path, format!("{text}\n{extra}\n")).expect("rules written");
    }

    /// Starts `ticket-sync --config RULES run` (the long-running daemon) directly, output to
    /// `daemon.log` in the world's folder; the caller kills it.
    pub fn spawn_daemon(&self) -> (std::process::Child, PathBuf) {
        let log = self.dir.path().join("daemon.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"))
            .arg("--config")
            .arg(&self.rules_path)
            .arg("run")
            .env("TS_SANDBOX_ZENDESK_TOKEN", ticket_sync_sandbox::ZENDESK_TOKEN)
            .env("TS_SANDBOX_ZENDESK_SECRET", ticket_sync_sandbox::ZENDESK_CLIENT_SECRET)
            .env("TS_SANDBOX_GITHUB_TOKEN", ticket_sync_sandbox::GITHUB_TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("TICKET_SYNC_CRASHPOINT")
            .env_remove("TICKET_SYNC_CONFIG")
            .env_remove("STATE_DIRECTORY")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(out.try_clone().unwrap()))
            .stderr(std::process::Stdio::from(out))
            .spawn()
            .expect("daemon starts");
        (child, log)
    }

    /// `n` new escalated tickets, created now (the next poll sees them once they settle).
    pub fn new_escalations(&self, n: usize) {
        for i in 0..n {
            self.sb.zendesk.add_ticket(self.new_ticket(i, &format!("New failure {i}")));
        }
    }

    /// Closes `n` linked issues, spread evenly over the repositories (34/33/33 for 100).
    pub fn close_issues(&self, n: usize) {
        for (r, repo) in REPOS.iter().enumerate() {
            let share = n / REPOS.len() + usize::from(r < n % REPOS.len());
            for (_, _, number) in self.links.iter().filter(|l| l.1 == r).take(share) {
                self.sb.github.close_issue(repo, *number, "completed", "alice");
            }
        }
    }

    /// Closes `n` linked issues of `REPOS[0]`.
    pub fn close_issues_in_first_repo(&self, n: usize) {
        for (_, _, number) in self.links.iter().filter(|l| l.1 == 0).take(n) {
            self.sb.github.close_issue(REPOS[0], *number, "completed", "alice");
        }
    }

    /// A busy `REPOS[0]`: `events` events (labels, mentions, subscriptions, assignments) on 30
    /// issues that no ticket links to, all made now.
    pub fn unrelated_activity(&self, events: usize) {
        let gh = &self.sb.github;
        for i in 0..30 {
            let n = gh.add_issue(REPOS[0], &format!("Refactor module {i}"), "", "dev-alice");
            gh.seed_events(REPOS[0], n, events / 30, "triage-bot", self.sb.clock.now());
        }
    }

    /// One `ticket-sync sync` of the release binary, with a fresh GitHub hour and Zendesk
    /// minute, recent changes settled; returns its cost and the requests the fakes saw.
    pub async fn sync(&mut self) -> (Run, Counts) {
        self.sb.github.set_rate_limit_remaining(5000);
        self.sb.settle();
        self.sb.github.door.log.clear();
        self.sb.zendesk.door.log.clear();
        let run = self.run_bin("sync").await;
        (run, Counts::from_logs(&self.sb))
    }

    /// Runs `ticket-sync --config RULES <command>` to completion; panics unless it exits 0.
    pub async fn run_bin(&mut self, command: &str) -> Run {
        self.runs += 1;
        let log = self.dir.path().join(format!("run-{}.log", self.runs));
        let args: Vec<String> = vec!["--config".into(), self.rules_path.display().to_string(), command.into()];
        let log2 = log.clone();
        let program = std::path::Path::new(env!("CARGO_BIN_EXE_ticket-sync"));
        let run = tokio::task::spawn_blocking(move || run_measured(program, &args, &log2)).await.unwrap();
        if run.exit_code != 0 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let kept = std::env::temp_dir().join("ticket-sync-bench-failed.log");
            let _ = std::fs::write(&kept, &text);
            let tail: String = text.lines().rev().take(20).collect::<Vec<_>>().join("\n");
            panic!(
                "{command} exited {}; whole log in {}; last lines (newest first):\n{tail}",
                run.exit_code,
                kept.display()
            );
        }
        run
    }

    /// Database bytes as the daemon left them (main file + WAL), then after a checkpoint.
    pub fn db_bytes(&self) -> (u64, u64) {
        let path = self.db_path();
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let before = size(&path) + size(&wal);
        let conn = rusqlite::Connection::open(&path).expect("db opens");
        let _: (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("checkpoint");
        drop(conn);
        (before, size(&path) + size(&wal))
    }

    pub fn mapping_count(&self) -> u64 {
        Store::open(&self.db_path()).expect("store opens").mapping_count().expect("count")
    }

    /// Keeps the fakes' rate limits out of a long backfill: every 50 ms the sandbox clock moves
    /// a minute (a fresh Zendesk minute) and GitHub's hourly budget is topped up.
    pub fn lift_limits(&self) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (clock, github, flag) = (self.sb.clock.clone(), self.sb.github.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                clock.advance(Duration::from_secs(60));
                github.set_rate_limit_remaining(5000);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ticker { stop, handle: Some(handle) }
    }
}

pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
