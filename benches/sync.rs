//! `cargo bench --bench sync`: what ticket-sync costs, measured on the real release binary
//! against the in-process sandbox. Prints the tables of BENCHMARKS.md.
//!
//! Request counts come from the fakes' request logs and are exact; CPU time and peak RSS come
//! from `wait4` on the child process, so the sandbox's own work is not counted. Set
//! `TICKET_SYNC_BENCH_QUICK=1` for a small run (seconds) that checks the machinery.

#[path = "sync/latency.rs"]
mod latency;
#[path = "sync/measure.rs"]
mod measure;
#[path = "sync/world.rs"]
mod world;

use std::time::Duration;

use measure::{ms, spread, Counts, Run, PUSH_GITHUB};
use world::{World, REPOS};

/// New escalations and closed issues per change scenario.
const CHANGES: usize = 100;
/// The busy-repository case: links seeded, linked issues closed, unrelated events (compared).
const BUSY_LINKS: usize = 300;
const BUSY_CLOSES: usize = 10;
const BUSY_EVENTS: [usize; 2] = [300, 3_000];
/// Tickets an agent links (through the `[linking]` field) to one issue that is then closed.
const FAN_OUT: [usize; 3] = [1, 10, 200];

struct Plan {
    sizes: Vec<usize>,
    idle_rounds: usize,
    backfill: usize,
    backfill_rounds: usize,
    /// Changes of each kind in section 7: with webhooks, and with polling only.
    latency_changes: (usize, usize),
}

fn plan() -> Plan {
    if std::env::var_os("TICKET_SYNC_BENCH_QUICK").is_some() {
        Plan { sizes: vec![300, 3_000], idle_rounds: 3, backfill: 1_000, backfill_rounds: 2, latency_changes: (50, 10) }
    } else {
        Plan {
            sizes: vec![1_000, 10_000, 100_000],
            idle_rounds: 5,
            backfill: 10_000,
            backfill_rounds: 3,
            latency_changes: (50, 50),
        }
    }
}

/// Everything measured at one number of mappings.
struct Scale {
    n: usize,
    prime: Run,
    idle: Counts,
    idle_runs: Vec<Run>,
    check: Vec<Run>,
    db_left: u64,
    db_checkpointed: u64,
    changes: Vec<(&'static str, Counts, Run)>,
}

async fn scale(n: usize, rounds: usize) -> Scale {
    eprintln!("[bench] {n} mappings: seeding");
    let mut w = World::new(true).await;
    w.seed_links(n);
    eprintln!("[bench] {n} mappings: priming");
    // The first pass reads the whole export and every issue once (multi-page lists carry no
    // usable ETag); the second stores single-page ETags. From the third on, a pass is idle.
    let (prime, _) = w.sync().await;
    w.sync().await;
    let (db_left, db_checkpointed) = w.db_bytes();
    eprintln!("[bench] {n} mappings: idle passes");
    let mut idle = None;
    let mut idle_runs = Vec::new();
    for _ in 0..rounds {
        let (run, counts) = w.sync().await;
        if let Some(first) = &idle {
            assert_eq!(first, &counts, "idle request counts are stable");
        }
        idle = Some(counts);
        idle_runs.push(run);
    }
    let mut check = Vec::new();
    for _ in 0..rounds {
        check.push(w.run_bin("check").await);
    }
    eprintln!("[bench] {n} mappings: changes");
    let mut changes = Vec::new();
    w.new_escalations(CHANGES);
    let (run, counts) = w.sync().await;
    changes.push(("100 new escalations, attachments = true", counts, run));
    w.write_rules(false);
    w.new_escalations(CHANGES);
    let (run, counts) = w.sync().await;
    changes.push(("100 new escalations, attachments = false", counts, run));
    w.write_rules(true);
    w.close_issues(CHANGES);
    let (run, counts) = w.sync().await;
    changes.push(("100 closed issues (34/33/33 over 3 repos)", counts, run));
    let (run, counts) = w.sync().await;
    changes.push(("the next pass (idle again)", counts, run));
    Scale { n, prime, idle: idle.unwrap(), idle_runs, check, db_left, db_checkpointed, changes }
}

/// A push pass over a repository busy with events that concern no linked issue.
struct Busy {
    events: usize,
    counts: Counts,
    pushed_ok: bool,
}

async fn busy(events: usize) -> Busy {
    eprintln!("[bench] busy repository: {events} unrelated events");
    let mut w = World::new(true).await;
    w.seed_links(BUSY_LINKS);
    w.sync().await;
    w.sync().await;
    w.unrelated_activity(events);
    w.close_issues_in_first_repo(BUSY_CLOSES);
    let (_, counts) = w.sync().await;
    let pushed_ok = counts.zendesk.get("update").map_or(0, |v| v.0) == BUSY_CLOSES;
    Busy { events, counts, pushed_ok }
}

/// Tickets linked to one issue through the `[linking]` field, then the issue closed.
struct FanOut {
    n: usize,
    /// The passes until every ticket was linked, and their requests together.
    link_passes: usize,
    link: Counts,
    /// Passes after the links until a pass was at the idle minimum.
    settle_passes: usize,
    close: Counts,
    notes_ok: bool,
    idle: Counts,
}

async fn fan_out(n: usize) -> FanOut {
    eprintln!("[bench] fan-out: a close to {n} linked tickets");
    let mut w = World::new(true).await;
    w.with_linking();
    // A primed world with the usual links, and the issue the agents will name (filed by a
    // human, not by an escalation), so the measured passes carry only the links and the close.
    w.seed_links(BUSY_LINKS);
    let number = w.sb.github.add_issue(REPOS[0], "Checkout fails with error 500", "Seen in production.", "dev-alice");
    w.sync().await;
    w.sync().await;
    let (_, before) = w.sync().await;
    assert!(is_idle(&before), "primed before linking: {}", before.describe());
    let tickets = w.field_linked_tickets(n, REPOS[0], number);
    let mut link = Counts::default();
    let mut link_passes = 0;
    while w.issue_link_count(REPOS[0], number) < n {
        assert!(link_passes < 5, "{n} tickets not linked after {link_passes} passes");
        let (_, counts) = w.sync().await;
        link.add(&counts);
        link_passes += 1;
    }
    // The link notes and the issue's linked-tickets comment show up once more in the next
    // listings (the export, the comment list); run until a pass is at the idle minimum.
    let mut settle_passes = 0;
    loop {
        let (_, counts) = w.sync().await;
        settle_passes += 1;
        if is_idle(&counts) {
            break;
        }
        assert!(settle_passes < 5, "not idle after linking: {}", counts.describe());
    }
    w.sb.github.close_issue(REPOS[0], number, "completed", "alice");
    let (_, close) = w.sync().await;
    // One update to every linked ticket, none twice, all answered 200.
    let mut updated: Vec<u64> =
        w.sb.zendesk
            .door
            .log
            .entries()
            .iter()
            .filter(|e| e.method.as_str() == "PUT" && e.status == 200)
            .filter_map(|e| e.path.trim_matches('/').split('/').nth(3)?.trim_end_matches(".json").parse().ok())
            .collect();
    updated.sort_unstable();
    let mut linked = tickets.clone();
    linked.sort_unstable();
    let notes_ok = close.zendesk.get("update").map_or(0, |v| v.0) == n && updated == linked;
    let (_, idle) = w.sync().await;
    FanOut { n, link_passes, link, settle_passes, close, notes_ok, idle }
}

/// The idle minimum: one export poll, and three conditional GitHub lists per repository (its
/// issues, comments and, with `[fixes]` on by default, pull requests), all 304.
fn is_idle(c: &Counts) -> bool {
    c.zendesk_total() == 1 && c.github_total() == 3 * REPOS.len() && c.github_304() == c.github_total()
}

struct Backfill {
    runs: Vec<Run>,
    counts: Counts,
    created: u64,
    db: u64,
}

async fn backfill(n: usize, state_in: Option<&std::path::Path>) -> Backfill {
    let mut w = World::new(true).await;
    if let Some(parent) = state_in {
        w.state_in(parent);
    }
    w.seed_tickets(n);
    let ticker = w.lift_limits();
    let (run, counts) = w.sync().await;
    drop(ticker);
    let created = w.mapping_count();
    let (_, db) = w.db_bytes();
    Backfill { runs: vec![run], counts, created, db }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|l| l.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({}), {:.1} GiB RAM", model.unwrap_or("unknown CPU"), kb / 1024.0 / 1024.0)
}

fn cpu_ms(runs: &[Run]) -> String {
    spread(&mut runs.iter().map(|r| ms(r.cpu())).collect::<Vec<_>>(), 1)
}

fn sys_ms(runs: &[Run]) -> String {
    spread(&mut runs.iter().map(|r| ms(r.system)).collect::<Vec<_>>(), 1)
}

fn rss_mb(runs: &[Run]) -> String {
    spread(&mut runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect::<Vec<_>>(), 1)
}

fn wall_ms(runs: &[Run]) -> String {
    spread(&mut runs.iter().map(|r| ms(r.wall)).collect::<Vec<_>>(), 0)
}

fn print_idle(scales: &[Scale]) {
    println!("\n### 1. Idle cost: one `sync` (escalation pass + push pass), nothing changed\n");
    println!(
        "| mapped tickets (3 repos) | escalation pass: Zendesk | push pass: GitHub | of which 304 | other | target |"
    );
    println!("|---:|---:|---:|---:|---:|---|");
    for s in scales {
        let zd = s.idle.zendesk.get("export").map_or(0, |v| v.0);
        let gh = s.idle.of(&PUSH_GITHUB, &[]);
        let other = s.idle.github_total() + s.idle.zendesk_total() - zd - gh;
        let ok = zd <= 1 && gh <= 3 * REPOS.len() && s.idle.github_304() == s.idle.github_total() && other == 0;
        let verdict = if ok { "met (≤ 1 + 3×3, all 304)" } else { "MISSED" };
        println!("| {} | {zd} | {gh} | {} | {other} | {verdict} |", s.n, s.idle.github_304());
    }
}

fn print_changes(scales: &[Scale]) {
    println!("\n### 2. Cost per change (requests of one `sync`, divided by {CHANGES})\n");
    println!("| scenario | mapped | GitHub | Zendesk | total | per change | push pass only, per change | requests |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for s in scales {
        for (name, c, _) in &s.changes {
            let total = c.github_total() + c.zendesk_total();
            let push = c.of(&PUSH_GITHUB, &["update"]);
            let push = if name.contains("closed") { format!("{:.2}", push as f64 / CHANGES as f64) } else { "".into() };
            let per = if name.contains("idle") { "".into() } else { format!("{:.2}", total as f64 / CHANGES as f64) };
            println!(
                "| {name} | {} | {} | {} | {total} | {per} | {push} | {} |",
                s.n,
                c.github_total(),
                c.zendesk_total(),
                c.describe()
            );
        }
    }
}

fn print_busy(busy: &[Busy]) {
    println!("\n### 5. A busy repository: push pass with {BUSY_CLOSES} linked issues closed in `{}`\n", REPOS[0]);
    println!("| unrelated events since the last pass | notes pushed | push pass: GitHub | requests |");
    println!("|---:|---|---:|---|");
    for b in busy {
        let pushed = if b.pushed_ok { format!("{BUSY_CLOSES} of {BUSY_CLOSES}") } else { "MISSED".into() };
        let gh = b.counts.of(&PUSH_GITHUB, &[]);
        println!("| {} | {pushed} | {gh} | {} |", b.events, b.counts.describe());
    }
}

fn print_fan_out(runs: &[FanOut]) {
    let sizes: Vec<String> = FAN_OUT.iter().map(ToString::to_string).collect();
    let (last, rest) = sizes.split_last().unwrap();
    println!("\n### 6. A close fanned out to {} and {last} linked tickets (`[linking]`, one issue)\n", rest.join(", "));
    println!(
        "| linked tickets | passes to link (+ more until idle) | linking: GitHub / Zendesk (per ticket) | close pass: GitHub / Zendesk (per ticket) | notes pushed | idle pass after | close pass requests |"
    );
    println!("|---:|---:|---:|---:|---|---|---|");
    let per = |c: &Counts, n: usize| {
        let (gh, zd) = (c.github_total(), c.zendesk_total());
        format!("{gh} / {zd} ({:.2} / {:.2})", gh as f64 / n as f64, zd as f64 / n as f64)
    };
    for f in runs {
        let pushed = if f.notes_ok { format!("{} of {}", f.n, f.n) } else { "MISSED".into() };
        let idle = format!(
            "{} + {} ({}×304){}",
            f.idle.zendesk_total(),
            f.idle.github_total(),
            f.idle.github_304(),
            if is_idle(&f.idle) { "" } else { " ABOVE THE MINIMUM" }
        );
        println!(
            "| {} | {} (+{}) | {} | {} | {pushed} | {idle} | {} |",
            f.n,
            f.link_passes,
            f.settle_passes - 1,
            per(&f.link, f.n),
            per(&f.close, f.n),
            f.close.describe()
        );
    }
    println!("\nLinking requests:");
    for f in runs {
        println!("- {} tickets: {}", f.n, f.link.describe());
    }
}

fn print_cpu(scales: &[Scale], bf: &[Backfill], n_backfill: usize, tmpfs: Option<&Backfill>) {
    println!("\n### 3. Daemon CPU (user + system of the `ticket-sync` process, from `wait4`), median (min–max)\n");
    println!("| measurement | CPU | of which system | wall | target |");
    println!("|---|---:|---:|---:|---|");
    let per_ticket: Vec<f64> = bf.iter().map(|b| ms(b.runs[0].cpu()) / b.created.max(1) as f64).collect();
    let runs: Vec<Run> = bf.iter().map(|b| b.runs[0].clone()).collect();
    let mut pt = per_ticket.clone();
    let verdict = if median(&per_ticket) < 1.0 { "< 1 ms: met" } else { "< 1 ms: MISSED" };
    println!(
        "| backfill of {n_backfill} tickets, per synced ticket ({} runs) | {} ms | {} ms | {} ms total | {verdict} |",
        bf.len(),
        spread(&mut pt, 3),
        spread(&mut bf.iter().map(|b| ms(b.runs[0].system) / b.created.max(1) as f64).collect::<Vec<_>>(), 3),
        wall_ms(&runs)
    );
    if let Some(t) = tmpfs {
        let per = |d: Duration| format!("{:.3}", ms(d) / t.created.max(1) as f64);
        println!(
            "| the same backfill with the database on tmpfs (fsync free; 1 run, for comparison) | {} ms | {} ms | {:.0} ms total | |",
            per(t.runs[0].cpu()),
            per(t.runs[0].system),
            ms(t.runs[0].wall)
        );
    }
    for s in scales {
        let cpu: Vec<f64> = s.idle_runs.iter().map(|r| ms(r.cpu())).collect();
        let verdict = if median(&cpu) < 50.0 { "< 50 ms: met" } else { "< 50 ms: MISSED" };
        println!(
            "| idle `sync` at {} mappings, whole process ({} runs) | {} ms | {} ms | {} ms | {verdict} |",
            s.n,
            s.idle_runs.len(),
            cpu_ms(&s.idle_runs),
            sys_ms(&s.idle_runs),
            wall_ms(&s.idle_runs)
        );
    }
    let last = scales.last().unwrap();
    println!(
        "| process start only: `check` (rules, tokens; no requests) ({} runs) | {} ms | {} ms | {} ms | (baseline) |",
        last.check.len(),
        cpu_ms(&last.check),
        sys_ms(&last.check),
        wall_ms(&last.check)
    );
    for s in scales {
        println!(
            "| first (priming) `sync` at {} mappings: whole export and every issue read once | {} ms | {} ms | {} ms | |",
            s.n,
            cpu_ms(std::slice::from_ref(&s.prime)),
            sys_ms(std::slice::from_ref(&s.prime)),
            wall_ms(std::slice::from_ref(&s.prime))
        );
    }
}

fn print_footprint(scales: &[Scale], bf: &[Backfill], binary: u64) {
    println!("\n### 4. Footprint\n");
    println!("| measurement | value | target |");
    println!("|---|---:|---|");
    for s in scales {
        let rss: Vec<f64> = s.idle_runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect();
        let verdict = if median(&rss) < 40.0 { "< 40 MB: met" } else { "< 40 MB: MISSED" };
        println!("| peak RSS, idle `sync` at {} mappings | {} MB | {verdict} |", s.n, rss_mb(&s.idle_runs));
    }
    for s in scales {
        let closing = &s.changes.iter().find(|c| c.0.contains("closed")).unwrap().2;
        println!(
            "| peak RSS at {} mappings: priming pass / pass with 100 closes | {:.1} MB / {:.1} MB | |",
            s.n,
            s.prime.max_rss_kb as f64 / 1024.0,
            closing.max_rss_kb as f64 / 1024.0
        );
    }
    for s in scales {
        println!(
            "| database bytes per mapping at {} (seeded, primed): main + WAL as left / after checkpoint | {:.0} / {:.0} | < 400 |",
            s.n,
            s.db_left as f64 / s.n as f64,
            s.db_checkpointed as f64 / s.n as f64
        );
    }
    let per: Vec<f64> = bf.iter().map(|b| b.db as f64 / b.created.max(1) as f64).collect();
    println!(
        "| database bytes per mapping after the backfill (real escalations, checkpointed) | {} | < 400 |",
        spread(&mut per.clone(), 0)
    );
    println!("| release binary (`target/release/ticket-sync`) | {:.1} MB ({binary} bytes) | |", binary as f64 / 1e6);
}

fn print_latency(runs: &[latency::Latency], burst: Option<&latency::Burst>) {
    use latency::{percentile, Mode};
    println!("\n### 7. Latency from a change to its effect, `ticket-sync run` (changes one at a time)\n");
    println!("| path | change → effect | changes | p50 | p95 | max | timed out | requests per change (GitHub + Zendesk) | target | requests over the series |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    for l in runs {
        let path = match l.mode {
            Mode::Webhooks => "webhooks (schedules never fire)".to_string(),
            Mode::Polling => format!("polling only, both passes every {} s", latency::POLL_EVERY_SECS),
        };
        let kinds = [
            ("escalation: ticket tagged → issue + link note", &l.escalation),
            ("close: issue closed → note on the ticket", &l.close),
        ];
        for (what, s) in kinds {
            let n = s.latencies.len();
            let p95 = percentile(&s.latencies, 95.0);
            let target = match l.mode {
                Mode::Webhooks if p95 < Duration::from_secs(2) && s.timed_out == 0 => "p95 < 2 s: met",
                Mode::Webhooks => "p95 < 2 s: MISSED",
                Mode::Polling => "",
            };
            let (gh, zd) = (s.counts.github_total(), s.counts.zendesk_total());
            println!(
                "| {path} | {what} | {n} | {:.0} ms | {:.0} ms | {:.0} ms | {} | {:.2} ({:.2} + {:.2}) | {target} | {} in {:.0} s: {} |",
                ms(percentile(&s.latencies, 50.0)),
                ms(p95),
                ms(percentile(&s.latencies, 100.0)),
                s.timed_out,
                (gh + zd) as f64 / n as f64,
                gh as f64 / n as f64,
                zd as f64 / n as f64,
                gh + zd,
                s.phase.as_secs_f64(),
                s.counts.describe()
            );
        }
    }
    for l in runs {
        if l.issues_found != l.escalation.latencies.len() {
            println!(
                "\nMISSED: {} of {} escalations have their issue on GitHub.",
                l.issues_found,
                l.escalation.latencies.len()
            );
        }
    }
    if let Some(b) = burst {
        println!(
            "\nBurst: {} signed Zendesk deliveries naming {} tickets, sent at once: all answered in {:.0} ms ({:.0} deliveries/s), {} answered 2xx, {} not; the daemon's last request they caused came {:.0} ms after the first send; requests: {} ({}).",
            latency::BURST_DELIVERIES,
            latency::BURST_TICKETS,
            ms(b.answered),
            latency::BURST_DELIVERIES as f64 / b.answered.as_secs_f64(),
            b.ok,
            b.failed,
            ms(b.drained),
            b.counts.github_total() + b.counts.zendesk_total(),
            b.counts.describe()
        );
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    if std::env::var_os(measure::SPAWNER_ENV).is_some() {
        return measure::serve_spawner();
    }
    let tokens = [
        ("TS_SANDBOX_ZENDESK_TOKEN", ticket_sync_sandbox::ZENDESK_TOKEN),
        ("TS_SANDBOX_ZENDESK_SECRET", ticket_sync_sandbox::ZENDESK_CLIENT_SECRET),
        ("TS_SANDBOX_GITHUB_TOKEN", ticket_sync_sandbox::GITHUB_TOKEN),
    ];
    let unset = ["RUST_LOG", "TICKET_SYNC_CRASHPOINT", "TICKET_SYNC_CONFIG", "STATE_DIRECTORY"];
    measure::start_spawner(&tokens, &unset);
    // `cargo bench` passes `--bench`; there are no other options.
    let plan = plan();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let started = std::time::Instant::now();
    rt.block_on(async {
        let mut bf = Vec::new();
        for round in 0..plan.backfill_rounds {
            eprintln!("[bench] backfill of {} tickets, run {}", plan.backfill, round + 1);
            bf.push(backfill(plan.backfill, None).await);
        }
        // The same on tmpfs, where fsync costs nothing: the difference is the price of durability.
        let shm = std::path::Path::new("/dev/shm");
        let tmpfs = if shm.is_dir() {
            eprintln!("[bench] backfill of {} tickets, database on tmpfs", plan.backfill);
            Some(backfill(plan.backfill, Some(shm)).await)
        } else {
            None
        };
        let mut scales = Vec::new();
        for &n in &plan.sizes {
            scales.push(scale(n, plan.idle_rounds).await);
        }
        let mut busy_runs = Vec::new();
        for events in BUSY_EVENTS {
            busy_runs.push(busy(events).await);
        }
        let mut fan = Vec::new();
        for n in FAN_OUT {
            fan.push(fan_out(n).await);
        }
        let (hooked, burst) = latency::measure(latency::Mode::Webhooks, plan.latency_changes.0).await;
        let (polled, _) = latency::measure(latency::Mode::Polling, plan.latency_changes.1).await;
        let binary = std::fs::metadata(env!("CARGO_BIN_EXE_ticket-sync")).map_or(0, |m| m.len());
        println!("\n## ticket-sync benchmark\n");
        println!("Machine: {}. Binary: {}.", machine(), env!("CARGO_BIN_EXE_ticket-sync"));
        print_idle(&scales);
        print_changes(&scales);
        print_cpu(&scales, &bf, plan.backfill, tmpfs.as_ref());
        print_footprint(&scales, &bf, binary);
        print_busy(&busy_runs);
        print_fan_out(&fan);
        print_latency(&[hooked, polled], burst.as_ref());
        let b = &bf[0];
        println!(
            "\nBackfill requests (run 1): {} for {} issues created = {:.2} per escalation; {}",
            b.counts.github_total() + b.counts.zendesk_total(),
            b.created,
            (b.counts.github_total() + b.counts.zendesk_total()) as f64 / b.created.max(1) as f64,
            b.counts.describe()
        );
        println!("\nTotal benchmark time: {:.0} s", started.elapsed().as_secs_f64());
    });
    // The sandbox's servers live on the runtime; dropping it ends them.
    drop(rt);
}
