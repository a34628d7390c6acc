//! Section 7: how long a change takes to show its effect with the daemon (`ticket-sync run`,
//! the release binary) running as a child of the benchmark, with webhooks and with polling
//! only; and the webhook receiver's throughput on a burst of signed Zendesk deliveries.
//!
//! Changes are made one at a time: the change, then a poll of the fake every 5 ms until its
//! effect is there (an escalation: the link note on the ticket, written after the issue; a
//! close: the push-back note on the ticket), timed with `Instant` from just before the change.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::measure::Counts;
use crate::world::{World, REPOS};

/// Seeded links: the closes take the first ones, the burst names 100 others.
const LINKS: usize = 300;
/// The polling schedule: both passes every this many seconds (6-field cron, with seconds).
pub const POLL_EVERY_SECS: u64 = 5;
/// Schedules that never fire: with webhooks, every effect comes from a delivery.
const NEVER: &str = "[schedule]\nescalate = \"0 0 1 1 *\"\npush = \"0 0 1 1 *\"\naudit = \"0 0 1 1 *\"\n";
const GITHUB_SECRET: &str = "gh-webhook-secret-for-the-benchmark";
const ZENDESK_SECRET: &str = "zd-webhook-secret-for-the-benchmark";
/// Effects polled this often.
const POLL: Duration = Duration::from_millis(5);
/// A change whose effect has not shown after this long is counted as timed out.
const GIVE_UP: Duration = Duration::from_secs(30);
pub const BURST_DELIVERIES: usize = 1_000;
pub const BURST_TICKETS: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Webhooks,
    Polling,
}

/// One kind of change measured `n` times on one path.
pub struct Series {
    pub latencies: Vec<Duration>,
    pub timed_out: usize,
    /// Every request the fakes saw from the first change until a second after the last effect.
    pub counts: Counts,
    pub phase: Duration,
}

pub struct Latency {
    pub mode: Mode,
    pub escalation: Series,
    pub close: Series,
    /// Escalations whose issue was found on GitHub afterwards (with the ticket's marker).
    pub issues_found: usize,
}

pub struct Burst {
    pub answered: Duration,
    pub ok: usize,
    pub failed: usize,
    /// From the first send until the daemon's last request caused by the burst.
    pub drained: Duration,
    pub counts: Counts,
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `done` holds, polling every 5 ms; the time it took, or `None` after `GIVE_UP`.
async fn until(started: Instant, done: impl Fn() -> bool) -> Option<Duration> {
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > GIVE_UP {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The polling case waits a different share of the schedule interval before each change, so
/// changes fall at spread-out points of the cycle instead of right after the pass that showed
/// the previous effect (which would make every wait almost a whole interval).
fn offset(i: usize, n: usize) -> Duration {
    Duration::from_secs(POLL_EVERY_SECS).mul_f64(((i * 37) % n) as f64 / n as f64)
}

fn clear_logs(w: &World) {
    w.sb.github.door.log.clear();
    w.sb.zendesk.door.log.clear();
}

pub async fn measure(mode: Mode, n: usize) -> (Latency, Option<Burst>) {
    let name = if mode == Mode::Webhooks { "webhooks" } else { "polling only" };
    eprintln!("[bench] latency, {name}: seeding and priming");
    let mut w = World::new(true).await;
    w.seed_links(LINKS);
    // Two priming passes (the seeded history is a day old: no need to move the clock).
    w.run_bin("sync").await;
    w.run_bin("sync").await;
    let port = free_port();
    match mode {
        Mode::Webhooks => {
            std::fs::write(w.dir.path().join("gh-secret"), GITHUB_SECRET).unwrap();
            std::fs::write(w.dir.path().join("zd-secret"), ZENDESK_SECRET).unwrap();
            w.append_rules(&format!(
                "{NEVER}\n[webhooks]\nlisten = \"127.0.0.1:{port}\"\ngithub_secret_file = \"gh-secret\"\nzendesk_secret_file = \"zd-secret\"\n"
            ));
            w.sb.github.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/github"), GITHUB_SECRET);
            w.sb.zendesk.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/zendesk"), ZENDESK_SECRET);
        }
        Mode::Polling => {
            let every = format!("\"*/{POLL_EVERY_SECS} * * * * *\"");
            w.append_rules(&format!("[schedule]\nescalate = {every}\npush = {every}\naudit = \"0 0 1 1 *\"\n"));
        }
    }
    let (child, log) = w.spawn_daemon();
    let daemon = Daemon { child, log };
    let ready = until(Instant::now(), || match mode {
        Mode::Webhooks => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        Mode::Polling => std::fs::read_to_string(&daemon.log).unwrap_or_default().contains("ticket-sync started"),
    })
    .await;
    assert!(ready.is_some(), "the daemon did not start; log:\n{}", daemon.tail());

    eprintln!("[bench] latency, {name}: {n} escalations");
    let mut ids = Vec::new();
    let escalation = series(&w, mode, n, |w, i| {
        let id = w.new_escalation(i);
        ids.push(id);
        if mode == Mode::Polling {
            // The export hides the last minute (of the sandbox clock): move the clock past it,
            // as if the real minute were over. The daemon itself runs in real time.
            w.sb.clock.advance(Duration::from_secs(61));
        }
        let marker = format!("[ticket-sync:link zendesk={id}]");
        let zd = w.sb.zendesk.clone();
        Box::new(move || zd.comments(id).iter().any(|c| c.body.contains(&marker)))
    })
    .await;
    if escalation.timed_out > 0 {
        eprintln!("[bench] {} escalations timed out; daemon log tail:\n{}", escalation.timed_out, daemon.tail());
    }
    let mut issues_found = 0;
    for repo in REPOS {
        let issues = w.sb.github.issues(repo);
        let bodies: Vec<&str> = issues.iter().map(|i| i.body.as_deref().unwrap_or("")).collect();
        let marker = |id: &u64| format!("<!-- ticket-sync:zendesk={id} -->");
        issues_found += ids.iter().filter(|id| bodies.iter().any(|b| b.contains(&marker(id)))).count();
    }

    eprintln!("[bench] latency, {name}: {n} closes");
    let links = w.links.clone();
    let close = series(&w, mode, n, |w, i| {
        let (ticket, r, number) = links[i];
        w.sb.github.close_issue(REPOS[r], number, "completed", "alice");
        let zd = w.sb.zendesk.clone();
        Box::new(move || zd.comments(ticket).iter().any(|c| c.body.contains("[ticket-sync:event ")))
    })
    .await;
    if close.timed_out > 0 {
        eprintln!("[bench] {} closes timed out; daemon log tail:\n{}", close.timed_out, daemon.tail());
    }

    let burst = if mode == Mode::Webhooks {
        eprintln!("[bench] latency, {name}: a burst of {BURST_DELIVERIES} deliveries");
        let tickets: Vec<u64> = links[LINKS - BURST_TICKETS..].iter().map(|l| l.0).collect();
        Some(burst(&w, port, &tickets).await)
    } else {
        None
    };
    let tail = daemon.tail();
    drop(daemon);
    if tail.contains("panicked") {
        eprintln!("[bench] the daemon panicked; log tail:\n{tail}");
    }
    (Latency { mode, escalation, close, issues_found }, burst)
}

type Effect = Box<dyn Fn() -> bool>;

/// `n` changes, one at a time: `change` makes change `i` and returns the test for its effect.
async fn series(w: &World, mode: Mode, n: usize, mut change: impl FnMut(&World, usize) -> Effect) -> Series {
    clear_logs(w);
    let phase = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    let mut timed_out = 0;
    for i in 0..n {
        if mode == Mode::Polling {
            tokio::time::sleep(offset(i, n)).await;
        }
        let started = Instant::now();
        let done = change(w, i);
        match until(started, done).await {
            Some(d) => latencies.push(d),
            None => {
                timed_out += 1;
                latencies.push(GIVE_UP);
            }
        }
    }
    // Echoes of the daemon's own writes (deliveries about them, and what they cause) land
    // within this second; they are counted with the changes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let phase = phase.elapsed();
    Series { latencies, timed_out, counts: Counts::from_logs(&w.sb), phase }
}

/// `BURST_DELIVERIES` signed Zendesk deliveries naming `tickets` in turn, all sent at once.
async fn burst(w: &World, port: u16, tickets: &[u64]) -> Burst {
    // Let the close phase's last echoes pass first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    clear_logs(w);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks/zendesk");
    let started = Instant::now();
    let sends = (0..BURST_DELIVERIES).map(|i| {
        let body = format!(r#"{{"ticket_id": "{}"}}"#, tickets[i % tickets.len()]);
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let sig = ticket_sync_sandbox::hooks::zendesk_signature(ZENDESK_SECRET, &stamp, body.as_bytes());
        client
            .post(&url)
            .header("content-type", "application/json")
            .header("X-Zendesk-Webhook-Signature-Timestamp", stamp)
            .header("X-Zendesk-Webhook-Signature", sig)
            .body(body)
            .send()
    });
    let answers = futures_util::future::join_all(sends).await;
    let answered = started.elapsed();
    let ok = answers.iter().filter(|r| r.as_ref().is_ok_and(|r| r.status().is_success())).count();
    // The daemon's reads caused by the burst: wait until the logs are quiet for a second.
    let total = || w.sb.github.door.log.len() + w.sb.zendesk.door.log.len();
    let (mut last, mut drained, mut quiet) = (total(), started.elapsed(), Instant::now());
    while quiet.elapsed() < Duration::from_secs(1) && started.elapsed() < GIVE_UP {
        tokio::time::sleep(POLL).await;
        let now = total();
        if now != last {
            (last, drained, quiet) = (now, started.elapsed(), Instant::now());
        }
    }
    Burst { answered, ok, failed: BURST_DELIVERIES - ok, drained, counts: Counts::from_logs(&w.sb) }
}

/// The nearest-rank percentile `p` (0–100) of `v`.
pub fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}
