//! Resource checks: many idle keep-alive connections on one worker (memory per
//! connection reported), and no file descriptors leaking across worker recycles.

use std::time::Duration;

use crate::util::*;

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn no_descriptor_leaks_across_100_worker_recycles() {
    const WORKERS: usize = 4;
    let m = Master::probe()
        .args(["-w", "4", "--max-requests", "1"])
        .spawn();
    m.wait_for_count("Booting worker", WORKERS, Duration::from_secs(10))
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || m.children().len() == WORKERS));
    let master_fds = fd_count(m.pid().as_raw());
    let worker_fds = fd_count(m.children()[0]);
    // Each request may exhaust a worker's quota; keep asking until 100 replacements booted.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut recycled = 0;
    while recycled < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {recycled} recycles:\n{}",
            m.log()
        );
        let (status, _) = m
            .get("/")
            .expect("every request is served during recycling");
        assert_eq!(status, 200);
        std::thread::sleep(Duration::from_millis(20));
        recycled = m.count("Booting worker") - WORKERS;
    }
    let exits = m.count("Booting worker") - WORKERS;
    assert!(
        m.wait_for_count("Worker exiting", exits, Duration::from_secs(20))
            .is_some()
    );
    assert!(eventually(Duration::from_secs(10), || m.children().len() == WORKERS));
    eprintln!("{recycled} workers recycled");
    assert_eq!(
        fd_count(m.pid().as_raw()),
        master_fds,
        "master descriptors after {recycled} recycles"
    );
    for w in m.children() {
        assert!(
            fd_count(w) <= worker_fds,
            "worker {w} descriptors: {} vs {worker_fds} at start",
            fd_count(w)
        );
    }
}

#[test]
fn ten_thousand_idle_keepalive_connections_on_one_worker() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const CONNS: usize = 10_000;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // The client and the server each hold CONNS descriptors; the server inherits the
    // limit at spawn.
    let want = CONNS as u64 + 1024;
    assert!(
        hard >= want,
        "RLIMIT_NOFILE hard limit {hard} is below {want}"
    );
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).expect("raise RLIMIT_NOFILE");
    }
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--keep-alive",
            "120",
            "--worker-connections",
            "12000",
            "--backlog",
            "4096",
        ])
        .spawn();
    assert!(eventually(Duration::from_secs(10), || m.get("/").is_ok()));
    let worker = m.children()[0];
    let before = rss_kb(worker);
    let mut conns = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let mut c = Conn::open(m.addr()).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(
            c.request("/")
                .unwrap_or_else(|e| panic!("request on connection {i}: {e}"))
                .status,
            200
        );
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kb(worker);
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / CONNS as f64;
    eprintln!(
        "{CONNS} idle keep-alive connections: worker RSS {before} kB -> {after} kB, {per_conn:.0} bytes per connection"
    );
    // Every connection is still open and usable, and new clients are still served.
    for (i, c) in conns.iter_mut().enumerate().step_by(997) {
        assert_eq!(
            c.request("/pid")
                .unwrap_or_else(|e| panic!("reuse of connection {i}: {e}"))
                .status,
            200
        );
    }
    assert_eq!(m.get("/").unwrap().0, 200);
    assert!(
        per_conn < 64.0 * 1024.0,
        "{per_conn} bytes per idle connection"
    );
}
