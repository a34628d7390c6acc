//! Measuring one run of the real binary from outside: CPU (user + system) and peak RSS from
//! `wait4`'s rusage of that child alone, wall time, and the requests the fakes logged.
//!
//! Children are started by a small helper process (this benchmark binary re-executed before
//! the sandbox grows): a child's `ru_maxrss` also covers the process image it was forked
//! from before `exec`, and forked from the benchmark itself it would report the sandbox's
//! hundreds of megabytes instead of the daemon's own peak.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ticket_sync_sandbox::common::LoggedRequest;
use ticket_sync_sandbox::Sandbox;

/// What one child process cost.
#[derive(Debug, Clone)]
pub struct Run {
    pub exit_code: i32,
    pub user: Duration,
    pub system: Duration,
    pub max_rss_kb: u64,
    pub wall: Duration,
}

impl Run {
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

/// Set in the helper's environment; `main` then serves requests instead of benchmarking.
pub const SPAWNER_ENV: &str = "TICKET_SYNC_BENCH_SPAWNER";

struct Spawner {
    _process: Child,
    requests: ChildStdin,
    answers: BufReader<ChildStdout>,
}

static SPAWNER: OnceLock<Mutex<Spawner>> = OnceLock::new();

/// Starts the helper; call first thing in `main`, while this process is still small. `env`
/// is set (and `env_remove` removed) for every child.
pub fn start_spawner(env: &[(&str, &str)], env_remove: &[&str]) {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.env(SPAWNER_ENV, "1").stdin(Stdio::piped()).stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in env_remove {
        cmd.env_remove(k);
    }
    let mut process = cmd.spawn().expect("helper starts");
    let requests = process.stdin.take().unwrap();
    let answers = BufReader::new(process.stdout.take().unwrap());
    let _ = SPAWNER.set(Mutex::new(Spawner { _process: process, requests, answers }));
}

/// The helper's loop: one request per line (`log<TAB>program<TAB>arg…`), one answer per line
/// (`exit user_us system_us maxrss_kb wall_us`). Ends when the benchmark closes the pipe.
pub fn serve_spawner() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.expect("request");
        let mut fields = line.split('\t');
        let log = fields.next().expect("log path").to_string();
        let mut cmd = Command::new(fields.next().expect("program"));
        cmd.args(fields).env_remove(SPAWNER_ENV);
        let r = run_child(cmd, Path::new(&log));
        let us = |d: Duration| d.as_micros();
        writeln!(out, "{} {} {} {} {}", r.exit_code, us(r.user), us(r.system), r.max_rss_kb, us(r.wall)).unwrap();
        out.flush().unwrap();
    }
}

/// Runs `program args…` through the helper (blocking), output to `log`.
pub fn run_measured(program: &Path, args: &[String], log: &Path) -> Run {
    let mut spawner = SPAWNER.get().expect("start_spawner was called").lock().unwrap();
    let mut request = format!("{}\t{}", log.display(), program.display());
    for a in args {
        request.push('\t');
        request.push_str(a);
    }
    writeln!(spawner.requests, "{request}").expect("helper alive");
    spawner.requests.flush().unwrap();
    let mut answer = String::new();
    spawner.answers.read_line(&mut answer).expect("helper answers");
    let v: Vec<i64> = answer.split_whitespace().map(|f| f.parse().expect("number")).collect();
    let us = |x: i64| Duration::from_micros(x as u64);
    Run { exit_code: v[0] as i32, user: us(v[1]), system: us(v[2]), max_rss_kb: v[3] as u64, wall: us(v[4]) }
}

/// Spawns `cmd` (stdout and stderr to `log`), waits for it with `wait4` and returns its cost.
fn run_child(mut cmd: Command, log: &Path) -> Run {
    let out = std::fs::File::create(log).expect("log file");
    cmd.stdout(Stdio::from(out.try_clone().unwrap())).stderr(Stdio::from(out)).stdin(Stdio::null());
    let started = Instant::now();
    let child = cmd.spawn().expect("binary starts");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned and reaps it, so
    // `child` is dropped without being waited on again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let exit_code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Run { exit_code, user: tv(usage.ru_utime), system: tv(usage.ru_stime), max_rss_kb: usage.ru_maxrss as u64, wall }
}

/// Requests by endpoint kind, and how many of them were answered 304.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub github: BTreeMap<&'static str, (usize, usize)>,
    pub zendesk: BTreeMap<&'static str, (usize, usize)>,
}

impl Counts {
    pub fn from_logs(sb: &Sandbox) -> Counts {
        let mut c = Counts::default();
        for e in sb.github.door.log.entries() {
            add(&mut c.github, github_kind(&e), e.status);
        }
        for e in sb.zendesk.door.log.entries() {
            add(&mut c.zendesk, zendesk_kind(&e), e.status);
        }
        c
    }

    /// Adds another pass's requests to these.
    pub fn add(&mut self, other: &Counts) {
        for (mine, theirs) in [(&mut self.github, &other.github), (&mut self.zendesk, &other.zendesk)] {
            for (k, (n, n304)) in theirs {
                let e = mine.entry(k).or_default();
                e.0 += n;
                e.1 += n304;
            }
        }
    }

    pub fn github_total(&self) -> usize {
        self.github.values().map(|v| v.0).sum()
    }

    pub fn github_304(&self) -> usize {
        self.github.values().map(|v| v.1).sum()
    }

    /// Zendesk requests of the pass. The OAuth access token a `sync` process mints first
    /// (`token`; a daemon mints one an hour) is no cost of the pass and is counted apart.
    pub fn zendesk_total(&self) -> usize {
        self.zendesk.iter().filter(|(k, _)| **k != "token").map(|(_, v)| v.0).sum()
    }

    /// Requests of the push-back pass: GitHub's lists and login, and Zendesk updates when the
    /// scenario pushes (the escalation pass's export poll is counted apart).
    pub fn of(&self, github: &[&str], zendesk: &[&str]) -> usize {
        let pick = |m: &BTreeMap<&str, (usize, usize)>, kinds: &[&str]| {
            m.iter().filter(|(k, _)| kinds.contains(k)).map(|(_, v)| v.0).sum::<usize>()
        };
        pick(&self.github, github) + pick(&self.zendesk, zendesk)
    }

    /// "create issue 100, repo check 3, …" with the 304s named.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, m) in [("GH", &self.github), ("ZD", &self.zendesk)] {
            for (k, (n, n304)) in m {
                parts.push(match n304 {
                    0 => format!("{name} {k} {n}"),
                    _ => format!("{name} {k} {n} ({n304}×304)"),
                });
            }
        }
        parts.join(", ")
    }
}

fn add(m: &mut BTreeMap<&'static str, (usize, usize)>, kind: &'static str, status: u16) {
    let e = m.entry(kind).or_default();
    e.0 += 1;
    e.1 += usize::from(status == 304);
}

/// The push-back pass's GitHub endpoints.
pub const PUSH_GITHUB: [&str; 5] = ["issue list", "comment list", "event list", "issue events", "login"];

fn github_kind(e: &LoggedRequest) -> &'static str {
    let mut segments: Vec<&str> = e.path.trim_matches('/').split('/').collect();
    // Pagination links name the repository by id (`/repositories/ID/…`); count them alike.
    if segments.first() == Some(&"repositories") {
        segments.splice(0..2, ["repos", "owner", "name"]);
    }
    match (e.method.as_str(), segments.as_slice()) {
        ("GET", ["user"]) => "login",
        ("GET", ["repos", _, _]) => "repo check",
        ("GET", ["repos", _, _, "issues"]) if e.query.contains("sort=updated") => "issue list",
        ("GET", ["repos", _, _, "issues"]) => "marker lookup",
        ("GET", ["repos", _, _, "issues", "comments"]) => "comment list",
        ("GET", ["repos", _, _, "issues", "events"]) => "event list",
        ("GET", ["repos", _, _, "issues", _]) => "get issue",
        ("GET", ["repos", _, _, "issues", _, "events"]) => "issue events",
        ("POST", ["repos", _, _, "issues"]) => "create issue",
        ("PATCH", ["repos", _, _, "issues", _]) => "edit issue",
        ("POST", ["repos", _, _, "issues", _, "comments"]) => "create comment",
        ("PATCH", ["repos", _, _, "issues", "comments", _]) => "edit comment",
        _ => "other",
    }
}

fn zendesk_kind(e: &LoggedRequest) -> &'static str {
    let segments: Vec<&str> = e.path.trim_matches('/').split('/').collect();
    match (e.method.as_str(), segments.as_slice()) {
        (_, ["oauth", "tokens"]) => "token",
        (_, ["api", "v2", "incremental", ..]) => "export",
        (_, ["api", "v2", "tickets", _, t]) if t.starts_with("tags") => "tags",
        ("GET", ["api", "v2", "tickets", _, c]) if c.starts_with("comments") => "comments",
        ("PUT", ["api", "v2", "tickets", _]) => "update",
        ("GET", ["api", "v2", "tickets", _]) => "ticket read",
        ("GET", ["api", "v2", "users", ..]) => "users",
        _ => "other",
    }
}

/// Median and range of a few timings, as "12.3 (11.9–13.0)".
pub fn spread(values: &mut [f64], digits: usize) -> String {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    format!("{median:.digits$} ({:.digits$}–{:.digits$})", values[0], values[n - 1])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
