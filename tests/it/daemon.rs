//! The daemon as systemd runs it: notifications, signals, reloads, the instance lock, metrics.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Env, ROUTES};

const EVERY_SECOND: &str = "[schedule]\nescalate = \"* * * * * *\"\npush = \"* * * * * *\"\n";

/// A running `ticket-sync run` whose stderr is collected line by line.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Daemon {
    /// A test that fails (or ends) with its daemon running leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    pub fn start(env: &Env, extra_env: &[(&str, &str)]) -> Daemon {
        Self::spawn(env.command(&["run"], extra_env))
    }

    /// `cmd` (a `run`) started, its stderr collected.
    pub fn spawn(mut cmd: std::process::Command) -> Daemon {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().expect("daemon starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded, so a broken daemon fails the test instead of hanging it) for a log line.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line with {needle:?}; log:\n{}", self.log.lock().unwrap().join("\n"));
    }

    /// SIGKILL: no chance to finish anything. Returns what the daemon logged.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().unwrap();
        // Let the reader thread drain what was written before the kill.
        std::thread::sleep(Duration::from_millis(50));
        self.log_text()
    }

    pub(crate) fn count_log(&self, needle: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (bounded) until `needle` has been logged at least `n` times.
    pub(crate) async fn wait_for_count(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count_log(needle) < n {
            assert!(Instant::now() < deadline, "fewer than {n} lines with {needle:?}; log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit, at most `limit`; returns its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        panic!("the daemon did not exit within {limit:?}; log:\n{}", self.log.lock().unwrap().join("\n"));
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn run_reports_ready_status_watchdog_and_stopping_to_systemd() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    let socket_path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut daemon =
        Daemon::start(&env, &[("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "1000000")]);
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(seen.contains("READY=1") && seen.contains("STATUS=") && seen.contains("WATCHDOG=1")) {
        assert!(Instant::now() < deadline, "notifications so far: {seen}\nlog:\n{}", daemon.log_text());
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
    }
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
    while let Ok(n) = socket.recv(&mut buf) {
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("STOPPING=1"), "{seen}");
    assert!(seen.contains("STATUS=idle, next escalation pass"), "{seen}");
}

#[tokio::test]
async fn sigterm_during_a_pass_exits_zero_and_leaves_a_consistent_database() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    let text =
        std::fs::read_to_string(&env.rules_path).unwrap().replace("writes_per_minute = 0", "writes_per_minute = 600");
    std::fs::write(&env.rules_path, text).unwrap();
    let ids: Vec<u64> = (0..60).map(|i| env.ticket(&format!("Backfill {i}"), &["escalated"])).collect();
    let mut daemon = Daemon::start(&env, &[]);
    wait_until("the first issues", || env.sb.github.issues("acme/backend").len() >= 3).await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0), "{}", daemon.log_text());
    let created = env.sb.github.issues("acme/backend").len();
    assert!(created < ids.len(), "the pass was interrupted ({created} of {})", ids.len());
    let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
    assert_eq!(store.mapping_count().unwrap() as usize, created, "every created issue has its mapping");
    assert!(store.pending_intents().unwrap().is_empty(), "the item in flight was finished");
    drop(store);
    let rerun = env.bin(&["sync"], &[]).await;
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    for id in ids {
        assert_eq!(env.issues_for("acme/backend", id).len(), 1, "ticket {id}");
        assert_eq!(env.link_notes(id).len(), 1, "ticket {id}");
    }
}

#[tokio::test]
async fn sighup_with_a_broken_file_keeps_the_old_rules() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    let mut daemon = Daemon::start(&env, &[]);
    daemon.wait_for_log("ticket-sync started").await;
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    std::fs::write(&env.rules_path, good.replace("[escalation]", "[escalation]\nbogus = 1")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("rules file rejected on reload").await;
    assert!(daemon.log_text().contains("escalation.bogus"), "{}", daemon.log_text());
    let id = env.ticket("After the broken reload", &["escalated"]);
    wait_until("the ticket to escalate under the old rules", || env.issues_for("acme/backend", id).len() == 1).await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn sighup_with_a_new_route_routes_the_next_ticket_there() {
    let fallback_only = "[[route]]\nrepo = \"acme/backend\"\n";
    let env = Env::with_routes(fallback_only, EVERY_SECOND).await;
    let mut daemon = Daemon::start(&env, &[]);
    daemon.wait_for_log("ticket-sync started").await;
    env.rewrite_rules(ROUTES, EVERY_SECOND);
    // Part 13: the daemon says when its schedules next fire, at start and after passes.
    daemon.wait_for_count("next passes scheduled", 2).await;
    let line = daemon.log_text().lines().find(|l| l.contains("next passes scheduled")).unwrap().to_string();
    assert!(line.contains("escalate=") && line.contains("push=") && line.contains("audit="), "{line}");
    daemon.signal("HUP");
    daemon.wait_for_log("rules reloaded").await;
    let id = env.ticket("Wrong invoice", &["escalated", "billing"]);
    wait_until("the billing ticket in acme/billing", || env.issues_for("acme/billing", id).len() == 1).await;
    assert!(env.issues_for("acme/backend", id).is_empty());
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn a_second_instance_on_the_same_database_is_refused() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    let mut first = Daemon::start(&env, &[]);
    first.wait_for_log("ticket-sync started").await;
    let second = env.bin(&["run"], &[]).await;
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another ticket-sync is already working"), "{stderr}");
    let sync = env.bin(&["sync"], &[]).await;
    assert!(String::from_utf8_lossy(&sync.stderr).contains("another ticket-sync"));
    assert_eq!(first.count_log("ticket-sync started"), 1);
    first.signal("TERM");
    assert_eq!(first.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn metrics_and_healthz_are_served_when_listen_is_set() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let extra = format!("{EVERY_SECOND}\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n");
    let env = Env::with_routes(ROUTES, &extra).await;
    env.ticket("Measured", &["escalated"]);
    let mut daemon = Daemon::start(&env, &[]);
    daemon.wait_for_log("pass complete").await;
    let base = format!("http://127.0.0.1:{port}");
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    for name in [
        "ticket_sync_passes_total",
        "ticket_sync_items_synced_total",
        "ticket_sync_api_requests_total{service=\"github\",status=\"201\"}",
        "ticket_sync_rate_limit_remaining{service=\"github\"}",
        "ticket_sync_pass_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    let mode = match ticket_sync_sandbox::zendesk_auth_mode() {
        ticket_sync_sandbox::ZendeskAuthMode::OAuth => "oauth",
        ticket_sync_sandbox::ZendeskAuthMode::ApiToken => "api_token",
    };
    let auth = format!("ticket_sync_auth_mode{{service=\"zendesk\",mode=\"{mode}\"}} 1");
    assert!(metrics.contains(&auth), "missing {auth} in\n{metrics}");
    assert!(metrics.contains("ticket_sync_auth_mode{service=\"github\",mode=\"token\"} 1"), "{metrics}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
}

/// Rewrites the rules with one `[github]`/`[zendesk]` pacing key changed.
fn set_pacing(env: &Env, key: &str, value: u32) {
    env.rewrite_rules(ROUTES, EVERY_SECOND);
    let text = std::fs::read_to_string(&env.rules_path).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).expect("the sandbox rules set the key").to_string();
    std::fs::write(&env.rules_path, text.replace(&line, &format!("{key} = {value}"))).unwrap();
}

#[tokio::test]
async fn sighup_keeps_the_hourly_write_cap_and_applies_a_changed_one() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    env.sb.zendesk.set_export_limit_per_minute(None);
    set_pacing(&env, "writes_per_hour", 2);
    for i in 0..5 {
        env.ticket(&format!("Backfill {i}"), &["escalated"]);
    }
    let issues = || env.sb.github.issues("acme/backend").len();
    let mut daemon = Daemon::start(&env, &[]);
    daemon.wait_for_count("pass failed", 1).await;
    assert_eq!(issues(), 2, "the cap stopped the pass");
    daemon.signal("HUP");
    daemon.wait_for_count("rules reloaded", 1).await;
    let failed = daemon.count_log("pass failed");
    daemon.wait_for_count("pass failed", failed + 2).await;
    assert_eq!(issues(), 2, "a reload does not reset the hourly cap");

    set_pacing(&env, "writes_per_hour", 3);
    daemon.signal("HUP");
    daemon.wait_for_count("rules reloaded", 2).await;
    let failed = daemon.count_log("pass failed");
    daemon.wait_for_count("pass failed", failed + 2).await;
    assert_eq!(issues(), 3, "a raised cap takes effect at once, counting the writes already made");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn sighup_keeps_the_export_pace() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    env.sb.zendesk.set_export_limit_per_minute(None);
    set_pacing(&env, "export_requests_per_minute", 1);
    let exports = || env.sb.zendesk.door.log.count(|e| e.path.contains("/incremental/"));
    let mut daemon = Daemon::start(&env, &[]);
    // Self-pacing is normal operation: an INFO line, never "pass failed".
    let paced = "the export's pace is reached";
    daemon.wait_for_count(paced, 1).await;
    assert_eq!(exports(), 1, "one export read a minute");
    daemon.signal("HUP");
    daemon.wait_for_count("rules reloaded", 1).await;
    let before = daemon.count_log(paced);
    daemon.wait_for_count(paced, before + 2).await;
    assert_eq!(exports(), 1, "a reload does not reset the export pace");
    assert_eq!(daemon.count_log("pass failed"), 0, "{}", daemon.log_text());
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
}

/// A notify socket whose messages are read and dropped, so the daemon never blocks on a full queue.
fn notify_socket(env: &Env, name: &str) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    let path = env.dir.path().join(name);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = stop.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = socket.recv(&mut buf);
        }
    });
    (path.to_str().unwrap().to_string(), stop)
}

#[tokio::test]
async fn a_watchdog_shorter_than_one_request_is_reported_at_start() {
    let env = Env::with_routes(ROUTES, EVERY_SECOND).await;
    for (watchdog_usec, warned) in [("60000000", true), ("120000000", false)] {
        let (socket, stop) = notify_socket(&env, &format!("notify-{watchdog_usec}.sock"));
        let mut daemon = Daemon::start(&env, &[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", watchdog_usec)]);
        daemon.wait_for_log("pass complete").await;
        daemon.signal("TERM");
        assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let log = daemon.log_text();
        assert_eq!(
            log.contains("longer than half the watchdog interval"),
            warned,
            "WATCHDOG_USEC={watchdog_usec}:\n{log}"
        );
    }
}
