//! The daemon's open ports against a sender that holds connections, sends large unsigned
//! bodies, or opens connections faster than they close: it keeps syncing, closes what it does
//! not need within seconds, and neither its memory, its descriptors nor its log grow with the
//! number of connections (part 12, items 2 and 3; issue 19 item 9).

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::daemon::Daemon;
use crate::harness::{Env, ROUTES};

const REPO: &str = "acme/backend";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The daemon's `run` with its descriptors limited to `limit` (systemd's default soft limit).
fn daemon_with_fd_limit(env: &Env, limit: u64) -> Daemon {
    let mut cmd = env.command(&["run"], &[("GITHUB_WEBHOOK_SECRET", "open-port-test-secret")]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Daemon::spawn(cmd)
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Whether the server has closed `s` (a read ends, or fails as reset).
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A daemon polling every second, with the webhook receiver (GitHub only) and the `/healthz`
/// listener on free ports, under 1,024 descriptors; returns it with both ports.
async fn polling_daemon_with_both_listeners() -> (Env, Daemon, u16, u16) {
    let (hooks, health) = (free_port(), free_port());
    let extra = format!(
        "[schedule]\nescalate = \"* * * * * *\"\npush = \"* * * * * *\"\n\n[daemon]\nlisten = \"127.0.0.1:{health}\"\n\n\
         [webhooks]\nlisten = \"127.0.0.1:{hooks}\"\ngithub_secret_env = \"GITHUB_WEBHOOK_SECRET\"\nzendesk = false\n"
    );
    let env = Env::with_routes(ROUTES, &extra).await;
    let daemon = daemon_with_fd_limit(&env, 1024);
    daemon.wait_for_log("webhook receiver listening").await;
    (env, daemon, hooks, health)
}

#[tokio::test]
async fn the_daemon_keeps_syncing_while_1100_idle_connections_hold_its_receiver_under_1024_descriptors() {
    let (env, daemon, hooks, health) = polling_daemon_with_both_listeners().await;
    // 1,100 connections that send nothing, held open by this test.
    let held: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        (0..1100)
            .filter_map(|_| TcpStream::connect_timeout(&([127, 0, 0, 1], hooks).into(), Duration::from_secs(2)).ok())
            .collect()
    })
    .await
    .unwrap();
    assert!(held.len() >= 1000, "{} connections opened", held.len());
    let pid = daemon.pid();
    let mut most = open_descriptors(pid);
    // The daemon keeps escalating by polling, and /healthz answers, while they are held.
    let id = env.ticket("While the port is held", &["escalated"]);
    let e = &env;
    wait_until("the issue", Duration::from_secs(20), || {
        most = most.max(open_descriptors(pid));
        e.issues_for(REPO, id).len() == 1
    })
    .await;
    let health = reqwest::get(format!("http://127.0.0.1:{health}/healthz")).await.expect("/healthz answers");
    assert!(health.status().is_success() || health.status() == 503, "{}", health.status());
    assert!(most < 512, "the daemon held {most} descriptors at most (limit 1024)");
    // It closes every held connection itself within seconds (headers 10 s, at once when full).
    let mut held = held;
    for s in &held {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    }
    let started = Instant::now();
    let mut open: Vec<&mut TcpStream> = held.iter_mut().collect();
    while !open.is_empty() && started.elapsed() < Duration::from_secs(25) {
        open.retain_mut(|s| !closed_by_server(s));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(open.is_empty(), "{} connections still open after {:?}", open.len(), started.elapsed());
    assert_eq!(env.link_notes(id).len(), 1);
    daemon.kill();
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn twenty_unsigned_20_mb_deliveries_at_once_keep_the_daemon_under_200_mb() {
    let hooks = free_port();
    let extra = format!(
        "[webhooks]\nlisten = \"127.0.0.1:{hooks}\"\ngithub_secret_env = \"GITHUB_WEBHOOK_SECRET\"\nzendesk = false\n"
    );
    let env = Env::with_routes(ROUTES, &extra).await;
    let daemon = daemon_with_fd_limit(&env, 1024);
    daemon.wait_for_log("webhook receiver listening").await;
    let pid = daemon.pid();
    let before = peak_rss_kib(pid);
    let body = bytes::Bytes::from(vec![b'x'; 20 * 1024 * 1024]);
    let client = reqwest::Client::new();
    let sends = (0..20).map(|i| {
        let request = client
            .post(format!("http://127.0.0.1:{hooks}/webhooks/github"))
            .header("x-github-event", "issues")
            .header("x-hub-signature-256", format!("sha256={:064x}", i))
            .body(body.clone());
        async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    });
    let statuses = futures_util::future::join_all(sends).await;
    // Chunked bodies (no declared length) too, written by hand: 20 chunks of 1 MiB each.
    let chunked = (0..20).map(|i| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", hooks)).await else { return 0 };
        let head = format!(
            "POST /webhooks/github HTTP/1.1\r\nhost: x\r\nx-github-event: issues\r\nx-hub-signature-256: sha256={i:064x}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let chunk = vec![b'y'; 1024 * 1024];
        let mut ok = s.write_all(head.as_bytes()).await.is_ok();
        for _ in 0..20 {
            ok = ok
                && s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_ok()
                && s.write_all(&chunk).await.is_ok()
                && s.write_all(b"\r\n").await.is_ok();
        }
        let _ = ok && s.write_all(b"0\r\n\r\n").await.is_ok();
        let mut answer = vec![0u8; 64];
        let n = s.read(&mut answer).await.unwrap_or(0);
        let text = String::from_utf8_lossy(&answer[..n]).to_string();
        text.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok()).unwrap_or(0)
    });
    let chunked_statuses = futures_util::future::join_all(chunked).await;
    let peak = peak_rss_kib(pid);
    eprintln!("peak RSS {before} kB before, {peak} kB after; statuses {statuses:?} {chunked_statuses:?}");
    assert!(peak < 200 * 1024, "peak RSS {peak} kB");
    let refused = statuses.iter().chain(&chunked_statuses).filter(|s| matches!(**s, 401 | 503 | 0)).count();
    assert_eq!(refused, 40, "none was accepted: {statuses:?} {chunked_statuses:?}");
    daemon.kill();
}

/// Closes `s` with a reset instead of a FIN when it is dropped (`SO_LINGER` 0): the way a
/// sender that gives up on its connections leaves them.
fn reset_when_dropped(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a `linger` of the size given.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// One sender of the flood: connections to both ports, opened as fast as it can, until
/// `stop`; in turn each is dropped at once, reset, or abandoned (held without a byte sent,
/// the last 100 kept, older ones dropped). Counts the connections opened.
fn flood(ports: [u16; 2], stop: &AtomicBool, opened: &AtomicUsize, first: usize) {
    let mut abandoned = std::collections::VecDeque::new();
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let addr = ([127, 0, 0, 1], ports[i % 2]).into();
        let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { continue };
        opened.fetch_add(1, Ordering::Relaxed);
        match i % 3 {
            0 => drop(s),
            1 => reset_when_dropped(&s),
            _ => {
                abandoned.push_back(s);
                if abandoned.len() > 100 {
                    abandoned.pop_front();
                }
            }
        }
    }
}

async fn healthz_answers(port: u16) -> bool {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let answer = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    answer.is_ok_and(|a| a.status().is_success() || a.status() == 503)
}

#[tokio::test]
async fn a_flood_of_connections_opened_and_dropped_leaves_the_daemon_syncing_and_its_descriptors_as_they_were() {
    let (env, daemon, hooks, health) = polling_daemon_with_both_listeners().await;
    let pid = daemon.pid();
    // The descriptors of a daemon that has synced once (its API connections are open).
    let before = env.ticket("Before the flood", &["escalated"]);
    let e = &env;
    wait_until("the first issue", Duration::from_secs(20), || e.issues_for(REPO, before).len() == 1).await;
    assert!(healthz_answers(health).await, "/healthz answers before the flood");
    let baseline = open_descriptors(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let flooding = Instant::now();
    let senders: Vec<_> = (0..4)
        .map(|n| {
            let (stop, opened) = (stop.clone(), opened.clone());
            std::thread::spawn(move || flood([hooks, health], &stop, &opened, n))
        })
        .collect();
    let o = opened.clone();
    wait_until("the flood to start", Duration::from_secs(20), || o.load(Ordering::Relaxed) >= 1000).await;
    // The daemon keeps escalating by polling while the flood goes on.
    let during = env.ticket("During the flood", &["escalated"]);
    let mut most = open_descriptors(pid);
    wait_until("the issue during the flood", Duration::from_secs(30), || {
        most = most.max(open_descriptors(pid));
        e.issues_for(REPO, during).len() == 1
    })
    .await;
    let at_issue = opened.load(Ordering::Relaxed);
    // Many thousands in all, and still flooding after the issue.
    wait_until("thousands of connections", Duration::from_secs(60), || {
        most = most.max(open_descriptors(pid));
        o.load(Ordering::Relaxed) >= (at_issue + 1000).max(10_000)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let total = opened.load(Ordering::Relaxed);
    assert!(most < 512, "the daemon held {most} descriptors at most during the flood (limit 1024)");

    // Once the flood stops, /healthz answers, and the daemon's descriptors are back where they were.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthz_answers(health).await {
        assert!(Instant::now() < deadline, "/healthz does not answer after the flood");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_until("the descriptors to come back", Duration::from_secs(30), || open_descriptors(pid) <= baseline + 8).await;
    assert_eq!(env.link_notes(during).len(), 1);
    // Each listener says it is full at most once a minute: the sender's flood is no flood of
    // log lines (a disk filled by the log would stop the syncing).
    let minutes = flooding.elapsed().as_secs() / 60;
    let full = daemon.count_log("too many connections");
    assert!(full as u64 <= 2 * (minutes + 1), "{full} log lines for {total} connections over {minutes} minute(s)");
    daemon.kill();
}
