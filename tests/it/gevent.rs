//! The gevent worker end to end, and what every WSGI worker class owes departed clients:
//! the field guide's command line on a Flask app that waits on `time.sleep`, sockets and
//! `requests` (1,000 concurrent slow requests on one worker, greenlet-local
//! `threading.local`), a CPU-bound greenlet replaced after `--timeout`, gevent missing,
//! `--preload`, worker replacement under load, requests whose clients left never run,
//! three sync workers sharing a saturating load, a new client not starved by busy workers'
//! keep-alive clients nor queued behind a worker stuck in a long request, and a streamed head that reaches its client
//! while its greenlet waits (heads leave the hub in batches).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::*;

fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// The Gunicorn field guide's gevent command line (one worker unless `workers` says).
fn field_guide(workers: &str, extra: &[&str]) -> Master {
    Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", workers, "-k", "gevent", "--timeout", "300"])
        .args(["--worker-connections", "1000", "--max-requests", "1000000"])
        .args(["--limit-request-line", "8190"])
        .args(extra.iter().copied())
        .arg("gevent_app:app")
        .spawn()
}

/// One `Connection: close` exchange: status and body (status 0 when the exchange failed).
fn fetch(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, "connect failed".into());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, "send failed".into());
    }
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// `n` requests at once (all sent before any answer is read); their results.
fn concurrently(addr: SocketAddr, path: &str, n: usize) -> Vec<(u16, String)> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let path = path.to_string();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || fetch(addr, &path))
                .unwrap()
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// A local upstream that answers every connection after 200 ms, each on its own thread.
fn slow_upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
                let _ = s.write_all(
                    b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupstream",
                );
            });
        }
    });
    port
}

#[test]
fn a_thousand_slow_requests_run_at_once_on_one_gevent_worker() {
    let m = field_guide("1", &[]);
    assert!(m.log().contains("Using worker: gevent"), "{}", m.log());
    let start = Instant::now();
    let results = concurrently(m.addr(), "/sleep?s=1", 1000);
    let took = start.elapsed();
    let ok = results
        .iter()
        .filter(|r| r.0 == 200 && r.1 == "slept")
        .count();
    assert_eq!(ok, 1000, "{:?}", results.iter().find(|r| r.0 != 200));
    // One at a time this is 1,000 s; a thread per request is what gthread would need.
    assert!(took < Duration::from_secs(20), "1,000 x 1 s took {took:?}");
    assert_eq!(
        m.get("/env").unwrap().1,
        "multithread=True multiprocess=False import_patched=True"
    );
}

#[test]
fn requests_taken_together_still_wait_side_by_side() {
    // A greenlet runs the requests taken with its own back to back; one that waits must
    // hand the rest to other greenlets, or they would wait in a row behind it.
    let m = field_guide("1", &[]);
    let addr = m.addr();
    let busy = std::thread::spawn(move || fetch(addr, "/busy?s=0.6"));
    std::thread::sleep(Duration::from_millis(150));
    // 20 x 0.5 s queue while the hub is held, and are taken in one batch when it frees.
    let start = Instant::now();
    let results = concurrently(m.addr(), "/sleep?s=0.5", 20);
    let took = start.elapsed();
    assert_eq!(busy.join().unwrap(), (200, "busy".to_string()));
    assert!(
        results.iter().all(|r| r.0 == 200 && r.1 == "slept"),
        "{results:?}"
    );
    // Side by side: about 0.45 s of hub held plus 0.5 s; in a row it is 10 s.
    assert!(took < Duration::from_secs(4), "20 x 0.5 s took {took:?}");
}

#[test]
fn sockets_requests_and_threading_local_cooperate() {
    let m = field_guide("1", &[]);
    let port = slow_upstream();
    // 50 x 200 ms upstream waits: 10 s in a row, well under that when they overlap.
    for path in ["/upstream", "/socket"] {
        let start = Instant::now();
        let results = concurrently(m.addr(), &format!("{path}?port={port}"), 50);
        assert!(
            results.iter().all(|r| r.0 == 200 && r.1 == "upstream"),
            "{path}: {:?}",
            results.iter().find(|r| r.0 != 200 || r.1 != "upstream")
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path}: {:?}",
            start.elapsed()
        );
    }
    // threading.local is per greenlet once patched: 100 interleaved requests on the hub
    // thread each keep their own value.
    let results = concurrently(m.addr(), "/local", 100);
    assert!(results.iter().all(|r| r.1 == "same"), "{results:?}");
    // A streamed response (4 MiB, chunked) arrives whole.
    let (status, body) = fetch(m.addr(), "/stream?n=64");
    assert_eq!((status, body.matches('x').count()), (200, 64 * 65536));
}

#[test]
fn greenlets_serve_many_requests_and_survive_what_a_request_leaves_behind() {
    let m = field_guide("1", &[]);
    // Each request leaves a gevent.Timeout that fires 200 ms later into the greenlet that
    // ran it, parked by then and waiting for its next request.
    let left = concurrently(m.addr(), "/leave-timeout", 50);
    assert!(left.iter().all(|r| r.0 == 200), "{left:?}");
    std::thread::sleep(Duration::from_millis(600));
    for _ in 0..3 {
        let results = concurrently(m.addr(), "/hello", 100);
        let bad: Vec<u16> = results
            .iter()
            .filter(|r| r.1 != "Hello, World!")
            .map(|r| r.0)
            .collect();
        assert!(bad.is_empty(), "{} of 100 failed: {bad:?}", bad.len());
        let local = concurrently(m.addr(), "/local", 50);
        assert!(local.iter().all(|r| r.1 == "same"), "{local:?}");
    }
    assert!(!m.log().contains("Traceback"), "{}", m.log());
}

/// On one core, a greenlet that finishes a request with nothing left to start yields to
/// the edge, and takes the request the edge read meanwhile: a pipelining client's next
/// one, each time. After BATCH requests in a row that greenlet parks; the request it took
/// last must still run (nothing else would wake the hub for it: the client waits).
#[test]
fn requests_a_greenlet_takes_after_its_batch_still_run() {
    let m = Master::runicorn()
        .wrap_with(&["taskset", "-c", "0"])
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", "1", "-k", "gevent", "--worker-connections", "1000"])
        .arg("gevent_app:app")
        .spawn();
    for round in 0..5 {
        let mut s = TcpStream::connect(m.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let n = 100;
        s.write_all(
            "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                .repeat(n)
                .as_bytes(),
        )
        .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while got.windows(13).filter(|w| w == b"Hello, World!").count() < n {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => got.extend_from_slice(&buf[..k]),
            }
        }
        let answered = got.windows(13).filter(|w| w == b"Hello, World!").count();
        assert_eq!(
            answered, n,
            "round {round}: {answered} of {n} pipelined requests answered"
        );
    }
}

#[test]
fn a_cpu_bound_greenlet_gets_the_worker_replaced_and_a_cooperative_one_never() {
    let m = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", "1", "-k", "gevent", "--timeout", "2"])
        .arg("gevent_app:app")
        .spawn();
    // Longer than --timeout, but it yields: the hub keeps beating.
    assert_eq!(fetch(m.addr(), "/sleep?s=3"), (200, "slept".to_string()));
    assert_eq!(m.count("WORKER TIMEOUT"), 0, "{}", m.log());
    let addr = m.addr();
    let spinning = std::thread::spawn(move || fetch(addr, "/spin"));
    m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(15))
        .expect("the spinning worker is killed");
    assert_ne!(spinning.join().unwrap().0, 200);
    assert!(
        eventually(Duration::from_secs(15), || {
            fetch(m.addr(), "/hello") == (200, "Hello, World!".to_string())
        }),
        "the replacement serves\n{}",
        m.log()
    );
}

#[test]
fn gevent_missing_is_a_startup_error() {
    // A `gevent` that fails to import, first on the child's PYTHONPATH (the test
    // process's own environment is not touched).
    let s = Scratch::new("no-gevent");
    std::fs::write(
        s.path("gevent.py"),
        "raise ImportError('No module named gevent (stub)')\n",
    )
    .unwrap();
    for preload in [false, true] {
        let mut b = Master::runicorn()
            .env("PYTHONPATH", s.0.to_str().unwrap())
            .args(["--chdir", apps().to_str().unwrap(), "-k", "gevent"]);
        if preload {
            b = b.arg("--preload");
        }
        let (code, _, err) = b.arg("hello:app").run(Duration::from_secs(20));
        assert!(matches!(code, Some(c) if c != 0), "{code:?} {err}");
        assert!(
            err.contains("class uri 'gevent' invalid or not found")
                && err.contains("gevent worker requires gevent 24.10.1 or higher")
                && err.contains("No module named gevent (stub)"),
            "{err}"
        );
        assert!(!err.contains("runs as gthread"), "{err}");
    }
}

#[test]
fn a_hub_that_cannot_start_fails_the_boot_with_its_reason_once() {
    // gevent refuses an unknown event-loop backend when the hub is created, after the
    // patching: the worker fails to boot and the master halts, as under Gunicorn, and the
    // reason is logged once (the child's environment only).
    let (code, _, err) = Master::runicorn()
        .env("GEVENT_BACKEND", "no_such_backend")
        .args([
            "--chdir",
            apps().to_str().unwrap(),
            "-w",
            "1",
            "-k",
            "gevent",
        ])
        .arg("hello:app")
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Reason: Worker failed to boot."), "{err}");
    assert_eq!(
        err.matches("Invalid backend or flag: 'no_such_backend'")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("Exception in worker process"), "{err}");
}

#[test]
fn a_hub_whose_loop_ends_while_serving_says_why_and_is_replaced() {
    let m = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", "1", "-k", "gevent"])
        .arg("gevent_app:app")
        .spawn();
    assert_eq!(fetch(m.addr(), "/hello").0, 200);
    let first = m.children();
    // The request itself gets no answer from a hub that is gone (or a 500).
    assert_ne!(fetch(m.addr(), "/break-loop").0, 200);
    m.wait_for_log("the gevent hub stopped", Duration::from_secs(15))
        .expect("the worker says why it stops");
    assert!(
        eventually(Duration::from_secs(15), || {
            m.children() != first && fetch(m.addr(), "/hello").0 == 200
        }),
        "a replacement serves\n{}",
        m.log()
    );
    assert_eq!(
        m.count("the dispatcher loop was broken on purpose"),
        1,
        "{}",
        m.log()
    );
    // It stopped on its own, at once: not killed for a silent heartbeat (--timeout 30),
    // nor by a crash reading the traceback.
    assert_eq!(m.count("WORKER TIMEOUT"), 0, "{}", m.log());
    assert_eq!(m.count("SIGSEGV"), 0, "{}", m.log());
}

#[test]
fn preload_patches_before_the_app_import() {
    let m = field_guide("2", &["--preload"]);
    assert_eq!(
        m.get("/env").unwrap().1,
        "multithread=True multiprocess=True import_patched=True"
    );
    let results = concurrently(m.addr(), "/sleep?s=0.5", 200);
    assert!(results.iter().all(|r| r.0 == 200), "{results:?}");
}

#[test]
fn gevent_workers_are_replaced_under_load_without_failed_requests() {
    let m = field_guide("2", &["--max-requests", "300"]);
    m.wait_for_count("Booting worker", 2, Duration::from_secs(15))
        .unwrap();
    let load = Load::start(m.addr(), 8, "/hello");
    assert!(load.wait_for_more(300, Duration::from_secs(20)));
    m.signal(Signal::SIGHUP);
    m.wait_for_count("Booting worker", 4, Duration::from_secs(20))
        .expect("HUP: a new generation");
    assert!(load.wait_for_more(300, Duration::from_secs(20)));
    m.signal(Signal::SIGTTIN);
    assert!(eventually(Duration::from_secs(15), || m.children().len() == 3));
    assert!(load.wait_for_more(300, Duration::from_secs(20)));
    m.signal(Signal::SIGTTOU);
    assert!(eventually(Duration::from_secs(15), || m.children().len() == 2));
    // --max-requests 300 (the last option wins) has recycled workers by now.
    assert!(load.wait_for_more(1500, Duration::from_secs(60)));
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{failed} failed of {}: {errors:?}", ok + failed);
    assert!(m.count("Autorestarting worker") > 0, "{}", m.log());
}

/// Sends a request and closes at once, as a client that gave up.
fn depart(addr: SocketAddr, path: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
}

/// The worker classes whose one worker runs one request at a time.
const ONE_SLOT: [&[&str]; 2] = [
    &["-k", "sync"],
    &["-k", "gevent", "--worker-connections", "1"],
];

/// One worker of `class` serving tests/apps/departed.py, its access log in `access`.
fn departed_one(class: &[&str], access: &std::path::Path) -> Master {
    Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap(), "-w", "1"])
        .args(class.iter().copied())
        .args(["--access-logfile", access.to_str().unwrap()])
        .arg("departed:app")
        .spawn()
}

#[test]
fn requests_whose_clients_left_are_not_run() {
    for class in ONE_SLOT {
        let s = Scratch::new("departed");
        let access = s.path("access.log");
        let mut m = departed_one(class, &access);
        // Occupies the worker's only slot; everything after it waits.
        let addr = m.addr();
        let busy = std::thread::spawn(move || fetch(addr, "/?1.5"));
        std::thread::sleep(Duration::from_millis(300));
        for _ in 0..200 {
            depart(m.addr(), "/?0.2");
        }
        assert_eq!(busy.join().unwrap().0, 200);
        assert!(
            eventually(Duration::from_secs(10), || {
                std::fs::read_to_string(&access)
                    .unwrap_or_default()
                    .matches("\" 499 ")
                    .count()
                    == 200
            }),
            "{class:?}: 200 lines with 499\n{}",
            std::fs::read_to_string(&access).unwrap_or_default()
        );
        // The app ran the request that held the worker, and this one.
        assert_eq!(
            fetch(m.addr(), "/count"),
            (200, "1".to_string()),
            "{class:?}"
        );
        // Nothing in flight: TERM returns at once.
        let start = Instant::now();
        m.signal(Signal::SIGTERM);
        assert!(m.wait_exit(Duration::from_secs(10)).is_some());
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{class:?}: TERM took {:?}",
            start.elapsed()
        );
    }
}

/// A client that only half-closes (shutdown of its sending side, still reading) after its
/// request counts as gone, as behind nginx; its request is not run and the access log has
/// nginx's 499. That status is for the log: it used to go out on the wire too, as
/// `HTTP/1.1 499 <none>`. Now the client reads the connection's end and nothing else.
#[test]
fn a_client_that_half_closes_reads_no_499() {
    for class in ONE_SLOT {
        let s = Scratch::new("halfclosed");
        let access = s.path("access.log");
        let m = departed_one(class, &access);
        // Each request is seen to have left when the app would start it (the first
        // request of a connection is always asked), or, if the app was quicker than the
        // client's FIN, answered with a 200.
        for _ in 0..10 {
            let mut c = TcpStream::connect(m.addr()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(b"GET /?0 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            let text = String::from_utf8_lossy(&got);
            assert!(
                got.is_empty() || text.starts_with("HTTP/1.1 200 OK\r\n"),
                "{class:?}: {text:?}"
            );
        }
        assert!(
            eventually(Duration::from_secs(10), || {
                std::fs::read_to_string(&access)
                    .unwrap_or_default()
                    .contains("\" 499 ")
            }),
            "{class:?}: no request was seen to have left\n{}",
            std::fs::read_to_string(&access).unwrap_or_default()
        );
    }
}

/// `workers` sync workers serving tests/apps/departed.py, booted.
fn departed_sync(workers: usize) -> Master {
    let m = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", &workers.to_string()])
        .arg("departed:app")
        .spawn();
    m.wait_for_count("Booting worker", workers, Duration::from_secs(15))
        .unwrap();
    m
}

#[test]
fn three_sync_workers_share_a_saturating_slow_load() {
    let m = departed_sync(3);
    // 12 clients for 3 one-at-a-time workers, each request 50 ms on a new connection.
    let addr = m.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut pids = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, body) = fetch(addr, "/?0.05");
                    assert_eq!(status, 200, "{body}");
                    pids.push(body);
                }
                pids
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut per_worker = std::collections::HashMap::<String, usize>::new();
    for c in clients {
        for pid in c.join().unwrap() {
            *per_worker.entry(pid).or_default() += 1;
        }
    }
    let total: usize = per_worker.values().sum();
    assert_eq!(per_worker.len(), 3, "{per_worker:?}");
    for (pid, n) in &per_worker {
        let share = *n as f64 / total as f64;
        assert!(
            (share - 1.0 / 3.0).abs() <= 0.3 / 3.0,
            "worker {pid} served {n} of {total}: {per_worker:?}"
        );
    }
}

/// Keep-alive clients sending `path` back to back until `stop`: each returns how many
/// answers it got and which workers (pids) gave them.
fn back_to_back(
    addr: SocketAddr,
    clients: usize,
    path: &'static str,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<(usize, std::collections::HashSet<String>)>> {
    (0..clients)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(addr).unwrap();
                let (mut served, mut pids) = (0, std::collections::HashSet::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = c.request(path).unwrap();
                    assert_eq!(r.status, 200);
                    served += 1;
                    pids.insert(String::from_utf8_lossy(&r.body).into_owned());
                }
                (served, pids)
            })
        })
        .collect()
}

/// A new client's `fetch` of `path` on a thread of its own, with how long it took; None
/// when it got no answer within `wait` (the caller's load goes on meanwhile).
fn fetch_within(
    addr: SocketAddr,
    path: &'static str,
    wait: Duration,
) -> Option<((u16, String), Duration)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let got = fetch(addr, path);
        let _ = tx.send((got, start.elapsed()));
    });
    rx.recv_timeout(wait).ok()
}

#[test]
fn a_new_client_is_not_starved_by_busy_workers_keep_alive_clients() {
    // Every worker's one app thread is kept busy by keep-alive clients that send their
    // next request as soon as the last is answered. A worker used to take a new
    // connection only when its app had room, which those clients never left it: the new
    // client waited in the listen backlog until the load stopped (wrk's 64 clients on one
    // sync worker: p99 0.9 s, 17 timed out at 2 s). It now queues behind about six
    // requests of 20 ms.
    for workers in [1usize, 2] {
        let m = departed_sync(workers);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = back_to_back(m.addr(), 6 * workers, "/?0.02", &stop);
        std::thread::sleep(Duration::from_millis(800));
        let answered = fetch_within(m.addr(), "/?0", Duration::from_secs(4));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let served: usize = load.into_iter().map(|c| c.join().unwrap().0).sum();
        let ((status, _), took) = answered.unwrap_or_else(|| {
            panic!("-w {workers}: a new client got no answer in 4 s while the load ran")
        });
        assert_eq!(status, 200, "-w {workers}");
        assert!(
            took < Duration::from_secs(2),
            "-w {workers}: the new client waited {took:?} ({served} keep-alive requests served)"
        );
        assert!(served > 0);
    }
}

#[test]
fn a_sync_worker_stuck_in_a_long_request_leaves_new_clients_to_its_sibling() {
    // Both sync workers are full: one runs a 6 s request, the other is kept busy by
    // keep-alive clients. New clients queue behind the worker whose requests move (about
    // six of 20 ms), not behind the 6 s one, although that worker has fewer connections.
    let m = departed_sync(2);
    let addr = m.addr();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 && Instant::now() < deadline {
        seen.insert(fetch(addr, "/?0").1);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    let slow = std::thread::spawn(move || fetch(addr, "/?6"));
    // Past the 2 s after which a worker whose beat stands still counts as stuck.
    std::thread::sleep(Duration::from_millis(2600));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = back_to_back(addr, 6, "/?0.02", &stop);
    std::thread::sleep(Duration::from_millis(600));
    let answered = fetch_within(addr, "/?0", Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let load_pids: std::collections::HashSet<String> =
        load.into_iter().flat_map(|c| c.join().unwrap().1).collect();
    let (status, slow_pid) = slow.join().unwrap();
    assert_eq!(status, 200);
    let ((status, pid), took) =
        answered.expect("the new client got no answer in 2 s while the slow request ran");
    assert_eq!(status, 200);
    assert_ne!(pid, slow_pid, "queued behind the 6 s request ({took:?})");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(
        !load_pids.contains(&slow_pid),
        "a keep-alive client waited for the 6 s request: {load_pids:?}"
    );
}

/// Each answer's body (a worker's pid) on `conns`, one request each, tallied per worker.
fn pids_per_worker(conns: &mut [Conn]) -> std::collections::HashMap<String, usize> {
    let mut per_worker = std::collections::HashMap::<String, usize>::new();
    for c in conns.iter_mut() {
        c.stream_mut()
            .write_all(b"GET /?0 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    for c in conns.iter_mut() {
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200);
        *per_worker
            .entry(String::from_utf8_lossy(&r.body).into_owned())
            .or_default() += 1;
    }
    per_worker
}

#[test]
fn a_burst_of_keep_alive_clients_is_shared_by_the_gevent_workers() {
    // 150 clients connect at once (a load balancer filling its pool, wrk starting). Any one
    // worker has room for all of them (--worker-connections 1000); the one whose edge ran
    // first used to take nearly all (2/2/146), leaving one app thread to do the work of
    // three for as long as the clients stayed.
    let m = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", "3", "-k", "gevent", "--worker-connections", "1000"])
        .arg("departed:app")
        .spawn();
    m.wait_for_count("Booting worker", 3, Duration::from_secs(15))
        .unwrap();
    // Every worker answers before the burst (each is ready and waits for connections).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 3 && Instant::now() < deadline {
        seen.insert(fetch(m.addr(), "/?0").1);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // Two bursts; the first one's clients stay connected through the second, which lands
    // on workers that already hold about 50 each. (Closing them instead would leave each
    // worker's count high until its edge read their EOF, and the second burst would be
    // shared by stale counts.)
    let mut kept = Vec::new();
    for round in 0..2 {
        let mut conns: Vec<Conn> = (0..150).map(|_| Conn::open(m.addr()).unwrap()).collect();
        let per_worker = pids_per_worker(&mut conns);
        let total: usize = per_worker.values().sum();
        assert_eq!(total, 150);
        assert_eq!(per_worker.len(), 3, "round {round}: {per_worker:?}");
        // Between a sixth and a half each: tests run side by side on two cores here, and
        // a worker whose edge gets no CPU for 4 ms loses connections to siblings that
        // stopped holding back (59/31/60 was seen); the first worker to wake used to take
        // nearly the whole burst (143/3/4, 2/2/146).
        for (pid, n) in &per_worker {
            assert!(
                (25..=75).contains(n),
                "round {round}: worker {pid} took {n} of {total} connections: {per_worker:?}"
            );
        }
        // The connections stay open (keep-alive) and keep their worker.
        assert_eq!(pids_per_worker(&mut conns), per_worker, "round {round}");
        kept.push(conns);
    }
}

#[test]
fn term_drains_in_flight_greenlets_and_request_timeout_answers_504() {
    let s = Scratch::new("gevent-drain");
    let access = s.path("access.log");
    let mut m = field_guide(
        "1",
        &[
            "--graceful-timeout",
            "10",
            "--request-timeout",
            "1",
            "--access-logfile",
            access.to_str().unwrap(),
        ],
    );
    // The app is still asleep after --request-timeout: 504 from the edge.
    assert_eq!(fetch(m.addr(), "/sleep?s=3").0, 504);
    let addr = m.addr();
    let in_flight: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || fetch(addr, "/sleep?s=0.8")))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    m.signal(Signal::SIGTERM);
    for t in in_flight {
        assert_eq!(t.join().unwrap(), (200, "slept".to_string()));
    }
    assert!(m.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "TERM took {:?}",
        start.elapsed()
    );
    let log = std::fs::read_to_string(&access).unwrap();
    assert_eq!(log.matches("\" 200 ").count(), 50, "{log}");
    assert_eq!(log.matches("\" 504 ").count(), 1, "{log}");
}

#[test]
fn server_hooks_run_in_a_gevent_worker() {
    let s = Scratch::new("gevent-hooks");
    let hooks = s.path("hooks.log");
    let mut m = Master::runicorn()
        .env("HOOK_LOG", hooks.to_str().unwrap())
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-c", apps().join("hooks_conf.py").to_str().unwrap()])
        .args(["-k", "gevent"])
        .arg("hello:app")
        .spawn();
    assert_eq!(fetch(m.addr(), "/x").0, 200);
    m.signal(Signal::SIGTERM);
    assert!(m.wait_exit(Duration::from_secs(10)).is_some());
    let log = std::fs::read_to_string(&hooks).unwrap();
    let worker: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, h)| h))
        .filter(|h| {
            [
                "post_fork",
                "post_worker_init",
                "pre_request",
                "post_request",
                "worker_exit",
            ]
            .iter()
            .any(|n| h.starts_with(n))
        })
        .collect();
    assert_eq!(
        worker,
        [
            "post_fork",
            "post_worker_init",
            "pre_request GET /x",
            "post_request GET /x 200",
            "worker_exit"
        ],
        "{log}"
    );
}

#[test]
fn file_wrapper_streaming_statsd_and_usr2_hold_under_gevent() {
    let dir = Scratch::new("gevent-usr2");
    let pidfile = dir.path("app.pid");
    let pidfile2 = dir.path("app.pid.2");
    let statsd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    statsd
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut m = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-w", "2", "-k", "gevent", "-p", pidfile.to_str().unwrap()])
        .args(["--statsd-host", &statsd.local_addr().unwrap().to_string()])
        .arg("stream_app:app")
        .spawn();
    m.wait_for_count("Booting worker", 2, Duration::from_secs(15))
        .unwrap();

    // wsgi.file_wrapper: the whole file, a partly read file cut by Content-Length, and a
    // file-like object without a descriptor.
    let source = std::fs::read(apps().join("stream_app.py")).unwrap();
    let body = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20"])
            .arg(format!("http://{}{path}", m.addr()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{path}: {out:?}");
        out.stdout
    };
    let whole = body("/file");
    assert!(
        whole == source,
        "/file: {} bytes of {}",
        whole.len(),
        source.len()
    );
    assert!(body("/file-tail") == source[10..110], "/file-tail");
    assert_eq!(body("/file-bytesio"), b"in memory");
    // A generator's chunks reach the client as they are produced, not at the end: the
    // first arrives while the app still sleeps before the next.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("chunk0") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the first chunk");
        got.extend_from_slice(&buf[..n]);
    }
    let first_after = started.elapsed();
    s.read_to_end(&mut got).unwrap();
    let all = String::from_utf8_lossy(&got);
    assert!(all.contains("chunk2"), "{all}");
    assert!(
        started.elapsed() > first_after + Duration::from_millis(900),
        "the first chunk came only with the last: {first_after:?} of {:?}",
        started.elapsed()
    );

    // StatsD counts gevent requests as any other.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !seen
            .iter()
            .any(|l: &String| l.starts_with("gunicorn.request.status.200:1|c"))
    {
        if let Ok(n) = statsd.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(
        seen.iter().any(|l| l == "gunicorn.requests:1|c|@1.0"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("gunicorn.request.status.200:1|c")),
        "{seen:?}"
    );

    // USR2 under load, then TERM to the old master: no request fails.
    let load = Load::start(m.addr(), 4, "/closed");
    assert!(load.wait_for_more(200, Duration::from_secs(20)));
    usr2_new_master(&m, &pidfile2, 2);
    assert!(load.wait_for_more(200, Duration::from_secs(20)));
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(30)), Some(0), "{}", m.log());
    assert!(
        load.wait_for_more(200, Duration::from_secs(20)),
        "the new master serves alone"
    );
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{failed} failed of {}: {errors:?}", ok + failed);
}

/// Response heads leave the hub in batches, one per turn of its loop; a greenlet that
/// sent its head and a first chunk and then waits ends that turn, so the client has the
/// start of the response long before the rest (and a burst of hellos keeps working).
#[test]
fn a_streamed_head_reaches_the_client_while_its_greenlet_waits() {
    let m = field_guide("1", &[]);
    let addr = m.addr();
    let hellos = concurrently(addr, "/hello", 100);
    assert!(
        hellos
            .iter()
            .all(|(s, b)| *s == 200 && b == "Hello, World!"),
        "{hellos:?}"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /first-then-wait?s=8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let asked = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("first;") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before the first chunk: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let first_after = asked.elapsed();
    assert!(
        first_after < Duration::from_secs(6),
        "the first chunk came only after {first_after:?}, with the greenlet's 8 s wait"
    );
    assert!(!String::from_utf8_lossy(&got).contains("last"));
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("last"), "{text}");
}
