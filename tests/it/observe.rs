//! Syslog, StatsD and the Prometheus endpoint end to end: real datagrams received on
//! local sockets, real scrapes of `--metrics-bind`, and targets that are down.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::util::*;

/// Receives datagrams until `done(&all_so_far)` or the timeout; returns them as text.
fn collect(
    rx: &dyn Fn(&mut [u8]) -> std::io::Result<usize>,
    timeout: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !done(&got) {
        if let Ok(n) = rx(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

fn udp_receiver() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let a = s.local_addr().unwrap();
    (s, a)
}

/// A UDP port nothing listens on (bound, then released).
fn dead_udp_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn count_matching(got: &[String], f: impl Fn(&str) -> bool) -> usize {
    got.iter().filter(|s| f(s)).count()
}

#[test]
fn statsd_sends_gunicorns_metrics_for_requests_and_the_worker_gauge() {
    let (rx, addr) = udp_receiver();
    let m = Master::probe()
        .args(["-w", "2", "--statsd-host", &addr.to_string()])
        .args([
            "--statsd-prefix",
            "myp",
            "--dogstatsd-tags",
            "env:test,team:x",
        ])
        .spawn();
    let recv = |b: &mut [u8]| rx.recv(b);
    let gauge = "myp.gunicorn.workers:2|g|#env:test,team:x";
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter().any(|s| s == gauge)
    });
    assert!(got.iter().any(|s| s == gauge), "no workers gauge: {got:?}");
    for _ in 0..3 {
        assert_eq!(m.get("/").unwrap().0, 200);
    }
    let got = collect(&recv, Duration::from_secs(10), |g| {
        count_matching(g, |s| s.starts_with("myp.gunicorn.request.status.")) >= 3
    });
    let tags = "|#env:test,team:x";
    assert_eq!(
        count_matching(&got, |s| s
            == format!("myp.gunicorn.requests:1|c|@1.0{tags}")),
        3,
        "{got:?}"
    );
    assert_eq!(
        count_matching(&got, |s| s
            == format!("myp.gunicorn.request.status.200:1|c|@1.0{tags}")),
        3,
        "{got:?}"
    );
    let durations: Vec<f64> = got
        .iter()
        .filter_map(|s| s.strip_prefix("myp.gunicorn.request.duration:"))
        .map(|rest| {
            let (v, kind) = rest.split_once('|').unwrap();
            assert_eq!(kind, format!("ms{tags}"), "timer type and tags: {rest}");
            assert!(v.contains('.'), "Python float spelling: {v}");
            v.parse().unwrap()
        })
        .collect();
    assert_eq!(durations.len(), 3, "{got:?}");
    assert!(durations.iter().all(|&d| (0.0..10_000.0).contains(&d)));
    // The duration timer comes first, as Gunicorn sends it.
    let first = got
        .iter()
        .position(|s| s.contains("gunicorn.request"))
        .unwrap();
    assert!(got[first].contains("request.duration"), "{got:?}");

    // A refused request is a warning in the error log: gunicorn.log.warning.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter().any(|s| s.starts_with("myp.gunicorn.log.warning:"))
    });
    assert!(
        got.iter()
            .any(|s| s == &format!("myp.gunicorn.log.warning:1|c|@1.0{tags}")),
        "{got:?}"
    );
    // Fewer workers: the master sends the changed gauge.
    m.signal(Signal::SIGTTOU);
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter().any(|s| s.starts_with("myp.gunicorn.workers:1|g"))
    });
    assert!(
        got.iter()
            .any(|s| s == &format!("myp.gunicorn.workers:1|g{tags}")),
        "{got:?}"
    );
}

#[cfg(feature = "python")]
#[test]
fn statsd_counts_status_codes_and_exceptions_of_a_wsgi_app() {
    let (rx, addr) = udp_receiver();
    let apps = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps");
    let m = Master::runicorn()
        .args(["--chdir", apps.to_str().unwrap()])
        .args(["--statsd-host", &addr.to_string(), "errors_app:app"])
        .spawn();
    assert_eq!(m.get("/ok").unwrap().0, 200);
    assert_eq!(m.get("/before").unwrap().0, 500);
    let recv = |b: &mut [u8]| rx.recv(b);
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter()
            .any(|s| s.starts_with("gunicorn.request.status.500"))
            && g.iter().any(|s| s.starts_with("gunicorn.log.exception"))
    });
    // No prefix, no tags: the bare Gunicorn names.
    for want in [
        "gunicorn.request.status.200:1|c|@1.0",
        "gunicorn.request.status.500:1|c|@1.0",
        "gunicorn.log.exception:1|c|@1.0",
    ] {
        assert!(got.iter().any(|s| s == want), "{want} missing: {got:?}");
    }
    assert!(
        !got.iter().any(|s| s.starts_with("gunicorn.log.error")),
        "an app exception counts as exception, not error: {got:?}"
    );
}

#[test]
fn syslog_receives_error_and_access_lines_in_gunicorns_format() {
    let (rx, addr) = udp_receiver();
    let m = Master::probe()
        .args(["--log-syslog", "--log-syslog-to", &format!("udp://{addr}")])
        .args([
            "--log-syslog-facility",
            "local3",
            "--log-syslog-prefix",
            "tst",
        ])
        .spawn();
    let master = m.pid().as_raw();
    let recv = |b: &mut [u8]| rx.recv(b);
    let (status, worker_pid) = m.get("/pid").unwrap();
    assert_eq!(status, 200);
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter().any(|s| s.contains(".access: "))
    });
    // <PRI> = local3 (19) * 8 + INFO (6) = 158; a trailing NUL, as Python's handler adds.
    let starting = format!("<158>gunicorn.tst.error: [{master}] Starting runicorn ");
    assert!(
        got.iter()
            .any(|s| s.starts_with(&starting) && s.ends_with('\0')),
        "{got:?}"
    );
    let booting =
        format!("<158>gunicorn.tst.error: [{worker_pid}] Booting worker with pid: {worker_pid}\0");
    assert!(got.contains(&booting), "{got:?}");
    let access = got
        .iter()
        .find(|s| s.contains(".access: "))
        .expect("an access line");
    let prefix = format!("<158>gunicorn.tst.access: [{worker_pid}] 127.0.0.1 - - [");
    assert!(access.starts_with(&prefix), "{access:?}");
    assert!(
        access.ends_with("\"GET /pid HTTP/1.1\" 200 ")
            || access.contains("\"GET /pid HTTP/1.1\" 200 "),
        "{access:?}"
    );
    assert!(
        access.ends_with('\0') && !access.contains('\n'),
        "{access:?}"
    );
    // Warnings carry severity 4: 19 * 8 + 4 = 156.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let got = collect(&recv, Duration::from_secs(10), |g| {
        g.iter().any(|s| s.contains("Invalid request from"))
    });
    assert!(
        got.iter()
            .any(|s| s.starts_with("<156>gunicorn.tst.error: [")
                && s.contains("Invalid request from ip=127.0.0.1")),
        "{got:?}"
    );
}

#[test]
fn syslog_over_a_unix_datagram_socket_without_access_lines() {
    let dir = Scratch::new("syslog-unix");
    let path = dir.path("log.sock");
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let m = Master::probe()
        .args(["--log-syslog", "--log-syslog-to"])
        .arg(format!("unix://{}#dgram", path.display()))
        .args(["--log-syslog-facility", "daemon", "--name", "web:app"])
        .arg("--disable-redirect-access-to-syslog")
        .spawn();
    let master = m.pid().as_raw();
    assert_eq!(m.get("/").unwrap().0, 200);
    let recv = |b: &mut [u8]| rx.recv(b);
    let got = collect(&recv, Duration::from_secs(3), |_| false);
    // daemon (3) * 8 + INFO (6) = 30; the prefix is --name with ':' turned into '.'.
    let want = format!("<30>gunicorn.web.app.error: [{master}] Listening at: ");
    assert!(got.iter().any(|s| s.starts_with(&want)), "{got:?}");
    assert!(
        !got.iter().any(|s| s.contains(".access: ")),
        "access lines must stay out of syslog: {got:?}"
    );
}

#[test]
fn unreachable_syslog_and_statsd_never_fail_requests() {
    let dead = dead_udp_port();
    let m = Master::probe()
        .args(["-w", "2", "--statsd-host", &dead.to_string()])
        .args(["--log-syslog", "--log-syslog-to"])
        .arg(format!("tcp://127.0.0.1:{}", dead.port()))
        .spawn();
    let start = Instant::now();
    for i in 0..40 {
        let (status, _) = m.get("/").unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(status, 200);
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "requests were held up: {:?}",
        start.elapsed()
    );
    // Reported, but once per process and outage, not once per message.
    assert!(
        m.wait_for_log("syslog tcp://", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    let reports = m.count("syslog messages are dropped");
    assert!(
        (1..=3).contains(&reports),
        "{reports} reports:\n{}",
        m.log()
    );
    let statsd_reports = m.count("metrics are dropped");
    assert!(
        (1..=3).contains(&statsd_reports),
        "{statsd_reports} reports:\n{}",
        m.log()
    );
}

// ===== Prometheus =====

/// A parsed exposition: samples by `name{labels}`, and the declared TYPE of each family.
#[derive(Debug, Default)]
struct Scrape {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                s.types.insert(name.into(), kind.into());
            } else if line.starts_with('#') || line.is_empty() {
                continue;
            } else {
                let (key, value) = line.rsplit_once(' ').expect("sample value");
                let family = key.split('{').next().unwrap();
                let base = family
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count");
                assert!(
                    s.types.contains_key(family) || s.types.contains_key(base),
                    "sample before its TYPE: {line}"
                );
                s.samples
                    .insert(key.into(), value.parse().expect("numeric value"));
            }
        }
        s
    }

    fn get(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn scrape(addr: SocketAddr) -> Scrape {
    let (status, body) = get(addr, "/metrics").expect("scrape");
    assert_eq!(status, 200, "{body}");
    Scrape::parse(&body)
}

pub(crate) fn metrics_addr(m: &Master) -> SocketAddr {
    let line = m
        .wait_for_log("Metrics at: http://", Duration::from_secs(10))
        .expect("metrics endpoint announced");
    line.split("Metrics at: http://")
        .nth(1)
        .unwrap()
        .trim_end_matches("/metrics")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn prometheus_endpoint_sums_workers_counts_refusals_and_survives_a_killed_worker() {
    let m = Master::probe()
        .args([
            "-w",
            "2",
            "--metrics-bind",
            "127.0.0.1:0",
            "--header-timeout",
            "1",
        ])
        .spawn();
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let maddr = metrics_addr(&m);
    // A client that connects to the endpoint and says nothing must not hold it up.
    let _idle = TcpStream::connect(maddr).unwrap();

    let first = scrape(maddr);
    for (family, kind) in [
        ("runicorn_requests_total", "counter"),
        ("runicorn_request_duration_seconds", "histogram"),
        ("runicorn_responses_total", "counter"),
        ("runicorn_rejected_requests_total", "counter"),
        ("runicorn_slow_client_timeouts_total", "counter"),
        ("runicorn_tls_handshakes_total", "counter"),
        ("runicorn_workers", "gauge"),
        ("runicorn_worker_restarts_total", "counter"),
    ] {
        assert_eq!(
            first.types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    assert!(eventually(Duration::from_secs(10), || scrape(maddr)
        .get("runicorn_workers")
        == 2.0));

    // N requests on fresh connections, made to land on both workers: while one worker
    // is wedged on /wedge (its runtime thread blocked, so it accepts nothing), the
    // other takes every request. Both slots then hold counts, and only their sum is
    // right.
    const N: usize = 41;
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let (status, pid) = m.get("/pid").unwrap();
        assert_eq!(status, 200);
        pids.insert(pid);
    }
    let addr = m.addr();
    let wedge = std::thread::spawn(move || get(addr, "/wedge?ms=1500").map(|r| r.0));
    std::thread::sleep(Duration::from_millis(300));
    let mut during = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let (status, pid) = m.get("/pid").unwrap();
        assert_eq!(status, 200);
        during.insert(pid);
    }
    assert_eq!(wedge.join().unwrap().unwrap(), 200);
    assert_eq!(
        during.len(),
        1,
        "one worker served while the other was wedged"
    );
    pids.extend(during);
    // A refused request line and a head that never completes.
    let mut bad = TcpStream::connect(m.addr()).unwrap();
    bad.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let _ = bad.read_to_end(&mut Vec::new());
    let mut slow = TcpStream::connect(m.addr()).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = slow.read_to_end(&mut Vec::new());

    let settled = |s: &Scrape| {
        s.get("runicorn_requests_total") == N as f64
            && s.get("runicorn_rejected_requests_total{code=\"400\"}") == 1.0
            && s.get("runicorn_slow_client_timeouts_total{kind=\"header\"}") == 1.0
    };
    let mut last = Scrape::default();
    assert!(
        eventually(Duration::from_secs(10), || {
            last = scrape(maddr);
            settled(&last)
        }),
        "counts after {N} requests from {} worker(s): {:#?}",
        pids.len(),
        last.samples
    );
    assert_eq!(last.get("runicorn_responses_total{code=\"200\"}"), N as f64);
    assert_eq!(
        last.get("runicorn_request_duration_seconds_count"),
        N as f64
    );
    assert_eq!(
        last.get("runicorn_request_duration_seconds_bucket{le=\"+Inf\"}"),
        N as f64
    );
    let buckets: Vec<f64> = last
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("runicorn_request_duration_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() >= 2);

    // Kill both workers: their counts must stay in the totals.
    let workers = m.children();
    assert_eq!(workers.len(), 2);
    for &pid in &workers {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    }
    let killed = workers.len() as f64;
    assert!(
        eventually(Duration::from_secs(15), || {
            last = scrape(maddr);
            last.get("runicorn_worker_restarts_total{reason=\"crashed\"}") == killed
                && last.get("runicorn_workers") == 2.0
        }),
        "restarts after killing {killed}: {:#?}\n{}",
        last.samples,
        m.log()
    );
    assert!(
        settled(&last),
        "counts lost with the killed workers: {:#?}",
        last.samples
    );
    // New workers add to the kept totals.
    assert_eq!(m.get("/").unwrap().0, 200);
    assert!(eventually(Duration::from_secs(10), || {
        scrape(maddr).get("runicorn_requests_total") == (N + 1) as f64
    }));

    // Other paths and methods get small error answers; the endpoint keeps serving.
    assert_eq!(get(maddr, "/nope").unwrap().0, 404);
    let mut post = TcpStream::connect(maddr).unwrap();
    post.write_all(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    post.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert_eq!(scrape(maddr).get("runicorn_workers"), 2.0);
}

#[test]
fn a_bad_metrics_bind_is_a_startup_error_naming_the_setting() {
    let (code, _, err) = Master::probe()
        .args(["--metrics-bind", "nonsense"])
        .run(Duration::from_secs(10));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("metrics_bind") && err.contains("nonsense"),
        "{err}"
    );
}

#[test]
fn prometheus_counts_survive_a_hup_and_name_the_retirement() {
    let m = Master::probe()
        .args(["-w", "1", "--metrics-bind", "127.0.0.1:0"])
        .spawn();
    let maddr = metrics_addr(&m);
    for _ in 0..5 {
        assert_eq!(m.get("/").unwrap().0, 200);
    }
    assert!(eventually(Duration::from_secs(10), || {
        scrape(maddr).get("runicorn_requests_total") == 5.0
    }));
    m.signal(Signal::SIGHUP);
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .expect("new generation");
    m.wait_for_log("Worker exiting", Duration::from_secs(10))
        .expect("old worker retired");
    let mut last = Scrape::default();
    assert!(
        eventually(Duration::from_secs(10), || {
            last = scrape(maddr);
            last.get("runicorn_worker_restarts_total{reason=\"retired\"}") == 1.0
        }),
        "{:#?}",
        last.samples
    );
    assert_eq!(
        last.get("runicorn_requests_total"),
        5.0,
        "{:#?}",
        last.samples
    );
    assert_eq!(last.get("runicorn_workers"), 1.0);
}

#[test]
fn after_usr2_the_new_master_takes_over_the_metrics_port_once_the_old_one_exits() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut m = Master::probe()
        .args(["-w", "1", "--metrics-bind", &bind])
        .spawn();
    let maddr: SocketAddr = bind.parse().unwrap();
    assert_eq!(metrics_addr(&m), maddr);
    m.signal(Signal::SIGUSR2);
    m.wait_for_log(
        "retrying until the old master frees it",
        Duration::from_secs(15),
    )
    .unwrap_or_else(|| panic!("the new master waits for the port:\n{}", m.log()));
    m.wait_for_count("Booting worker", 2, Duration::from_secs(15))
        .expect("the new master's worker");
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        m.wait_for_count("Metrics at: http://", 2, Duration::from_secs(10))
            .is_some(),
        "the new master bound the port:\n{}",
        m.log()
    );
    assert!(eventually(Duration::from_secs(10), || {
        get(maddr, "/metrics")
            .is_ok_and(|(s, body)| s == 200 && Scrape::parse(&body).get("runicorn_workers") == 1.0)
    }));
}
