//! The access log end to end: real requests through real workers into files, in
//! Gunicorn's format, escaped, as JSON, reopened on USR1 without losing a line, never torn
//! between workers; malformed formats refused at start-up.

use std::time::Duration;

use crate::util::*;

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn default_format_matches_gunicorns_rendering() {
    let dir = Scratch::new("acc");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args(["-w", "1", "--access-logfile", log.to_str().unwrap()])
        .spawn();
    let mut c = Conn::open(m.addr()).unwrap();
    let req = "GET /a%20b/c?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: UA \"quoted\"\r\nReferer: http://r/\r\n\
               Authorization: Basic Ym9iOnNlY3JldA==\r\n\r\n";
    std::io::Write::write_all(c.stream_mut(), req.as_bytes()).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    assert!(
        eventually(Duration::from_secs(5), || !lines(&log).is_empty()),
        "line flushed within a second"
    );
    let line = &lines(&log)[0];
    // 127.0.0.1 - bob [24/Nov/2026:21:15:52 +0000] "GET ... HTTP/1.1" 200 13 "http://r/" "UA \"quoted\""
    let (head, rest) = line.split_once(" [").unwrap();
    assert_eq!(head, "127.0.0.1 - bob");
    let (time, rest) = rest.split_once("] ").unwrap();
    assert!(
        chrono::DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z").is_ok(),
        "time {time:?}"
    );
    assert_eq!(
        rest,
        r#""GET /a%20b/c?x=1 HTTP/1.1" 200 13 "http://r/" "UA \"quoted\"""#
    );
}

#[test]
fn decoded_control_bytes_cannot_split_or_forge_lines() {
    let dir = Scratch::new("acc-esc");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "%(U)s|%(a)s",
        ])
        .spawn();
    let mut c = Conn::open(m.addr()).unwrap();
    let req = "GET /x%0A127.0.0.1%20-%20forged HTTP/1.1\r\nHost: t\r\nUser-Agent: café\r\n\r\n";
    std::io::Write::write_all(c.stream_mut(), req.as_bytes()).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    assert!(eventually(Duration::from_secs(5), || !lines(&log).is_empty()));
    let all = lines(&log);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0], r"/x\x0A127.0.0.1 - forged|caf\xC3\xA9");
}

#[test]
fn json_preset_writes_one_valid_object_per_line() {
    let dir = Scratch::new("acc-json");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "@json",
        ])
        .spawn();
    for path in ["/", "/pid", "/x?q=%221", "/%00%ff"] {
        let _ = m.get(path).unwrap();
    }
    assert!(
        eventually(Duration::from_secs(5), || lines(&log).len() == 4),
        "{:?}",
        lines(&log)
    );
    for line in lines(&log) {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["s"], 200, "{line}");
        assert_eq!(v["m"], "GET", "{line}");
        assert!(v["U"].as_str().unwrap().starts_with('/'), "{line}");
    }
}

#[test]
fn skipped_path_prefixes_get_no_line() {
    let dir = Scratch::new("acc-skip");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "%(U)s %(s)s",
        ])
        .args([
            "--access-log-skip",
            "/healthz",
            "--access-log-skip",
            "/metrics",
        ])
        .spawn();
    for path in [
        "/",
        "/healthz",
        "/healthz/deep?x=1",
        "/health",
        "/metrics",
        "/a/healthz",
        "/last",
    ] {
        let _ = m.get(path).unwrap();
    }
    // Lines are written in request order by the one worker: once `/last` is there, every
    // line that was going to be written is.
    assert!(
        eventually(Duration::from_secs(5), || lines(&log)
            .last()
            .is_some_and(|l| l.starts_with("/last"))),
        "{:?}",
        lines(&log)
    );
    assert_eq!(
        lines(&log),
        ["/ 200", "/health 200", "/a/healthz 200", "/last 200"]
    );
}

#[test]
fn a_skip_prefix_must_be_a_path() {
    let (code, _, err) = Master::probe()
        .args(["--access-log-skip", "healthz"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("access_log_skip") && err.contains("must start with `/`"),
        "{err}"
    );
}

#[test]
fn a_malformed_format_is_refused_at_startup_with_its_offset() {
    let (code, _, err) = Master::probe()
        .args(["--access-logformat", "%(h)s %(s)"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("access_log_format") && err.contains("byte"),
        "{err}"
    );
    let (code, _, err) = Master::probe()
        .args(["--access-logformat", "%(h)d"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn no_line_is_lost_or_torn_across_workers_and_usr1_rotation() {
    let dir = Scratch::new("acc-rot");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args([
            "-w",
            "2",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(p)s",
        ])
        .spawn();
    let load = Load::start(m.addr(), 4, "/");
    assert!(load.wait_for_more(500, Duration::from_secs(10)));
    // logrotate's `create` mode: move the file away, then USR1.
    let rotated = dir.path("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    m.signal(Signal::SIGUSR1);
    assert!(
        eventually(Duration::from_secs(5), || log.exists()),
        "reopened at the old path"
    );
    assert!(load.wait_for_more(500, Duration::from_secs(10)));
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{errors:?}");
    let total = || lines(&rotated).len() + lines(&log).len();
    assert!(
        eventually(Duration::from_secs(5), || total() as u64 == ok),
        "{} lines for {ok} requests",
        total()
    );
    for line in lines(&rotated).iter().chain(lines(&log).iter()) {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(
            parts.len() == 4 && parts[0] == "GET" && parts[2] == "200" && parts[3].starts_with('<'),
            "torn line {line:?}"
        );
    }
    assert!(!lines(&log).is_empty(), "new lines go to the reopened file");
}

#[test]
fn requests_the_edge_refuses_get_a_line_too() {
    let dir = Scratch::new("acc-refused");
    let log = dir.path("access.log");
    let m = Master::probe()
        .args(["-w", "1", "--access-logfile", log.to_str().unwrap()])
        .spawn();
    let mut s = std::net::TcpStream::connect(m.addr()).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut raw);
    assert!(raw.starts_with(b"HTTP/1.1 400 "));
    assert!(eventually(Duration::from_secs(5), || !lines(&log).is_empty()));
    let line = &lines(&log)[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("] \"- - -\" 400 "), "{line}");
}

#[test]
fn a_full_disk_for_the_access_log_does_not_take_requests_down() {
    // RLIMIT_FSIZE stands in for a full disk: writes past 64 KiB fail with EFBIG.
    let dir = Scratch::new("acc-full");
    let log = dir.path("access.log");
    let mut b = Master::probe().args(["-w", "1", "--access-logfile", log.to_str().unwrap()]);
    b = b.wrap_with(&["prlimit", "--fsize=65536", "--"]);
    let m = b.spawn();
    let load = Load::start(m.addr(), 4, "/");
    assert!(
        load.wait_for_more(3000, Duration::from_secs(30)),
        "serving while the log is full"
    );
    assert!(eventually(Duration::from_secs(5), || std::fs::metadata(
        &log
    )
    .map(|md| md.len())
    .unwrap_or(0)
        >= 60_000));
    assert!(load.wait_for_more(1000, Duration::from_secs(10)));
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{errors:?}");
    assert!(ok > 4000);
    assert!(std::fs::metadata(&log).unwrap().len() <= 65536);
    m.wait_for_log("access log", Duration::from_secs(5))
        .expect("the write failure is reported in the error log");
    assert!(
        m.count("access log") < 20,
        "reported once per outage, not per line:\n{}",
        m.log()
    );
    assert_eq!(m.children().len(), 1, "the worker survived");
}
