//! TERM drains in-flight requests within the graceful timeout (idle keep-alive connections
//! get two seconds, whatever --keep-alive says); INT/QUIT leave at once.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn term_lets_an_in_flight_request_finish_then_exits_zero() {
    let mut m = Master::probe()
        .args(["-w", "1", "--graceful-timeout", "10"])
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let addr = m.addr();
    let slow = std::thread::spawn(move || {
        let mut c = Conn::open(addr).unwrap();
        c.request("/sleep?ms=1500")
    });
    std::thread::sleep(Duration::from_millis(300));
    m.signal(Signal::SIGTERM);
    let resp = slow.join().unwrap().expect("in-flight request completed");
    assert_eq!(resp.status, 200);
    assert_eq!(String::from_utf8_lossy(&resp.body), "slept 1500");
    assert!(
        resp.closes(),
        "a draining worker answers with Connection: close"
    );
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
    // The log reader thread may still be draining the pipe after the exit.
    m.wait_for_log("Shutting down: Master", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{}", m.log()));
    assert!(m.log().contains("Handling signal: term"));
}

#[test]
fn term_stops_accepting_new_connections() {
    let mut m = Master::probe().args(["-w", "1"]).spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let addr = m.addr();
    let slow = std::thread::spawn(move || get(addr, "/sleep?ms=1000"));
    std::thread::sleep(Duration::from_millis(200));
    m.signal(Signal::SIGTERM);
    m.wait_for_log("Handling signal: term", Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(get(addr, "/").is_err(), "listener closed after TERM");
    assert_eq!(slow.join().unwrap().unwrap().0, 200);
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn graceful_timeout_bounds_the_drain() {
    let mut m = Master::probe()
        .args(["-w", "1", "--graceful-timeout", "1"])
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let addr = m.addr();
    let slow = std::thread::spawn(move || get(addr, "/sleep?ms=20000"));
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "exit took {:?}",
        start.elapsed()
    );
    assert!(slow.join().unwrap().is_err());
    // The one connection still open, not --worker-connections (1000), which the line
    // used to report.
    let log = m.log();
    assert!(
        log.contains("Graceful timeout reached with 1 connection(s) still open"),
        "{log}"
    );
}

#[test]
fn int_and_quit_shut_down_quickly() {
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        let mut m = Master::probe()
            .args(["-w", "2", "--graceful-timeout", "30"])
            .spawn();
        m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
            .unwrap();
        let addr = m.addr();
        let slow = std::thread::spawn(move || get(addr, "/sleep?ms=20000"));
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        m.signal(sig);
        assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0), "{sig}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{sig}: exit took {:?}",
            start.elapsed()
        );
        assert!(
            slow.join().unwrap().is_err(),
            "{sig}: in-flight request cut"
        );
    }
}

#[test]
fn usr1_reopens_the_error_log() {
    let dir = Scratch::new("usr1");
    let log = dir.path("error.log");
    let rotated = dir.path("error.log.1");
    let m = Master::probe()
        .args(["-w", "1", "--error-logfile", log.to_str().unwrap()])
        .spawn_no_wait();
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Booting worker")
    }));
    std::fs::rename(&log, &rotated).unwrap();
    nix::sys::signal::kill(m.pid(), Signal::SIGUSR1).unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("Handling signal: usr1")
    }));
    // Whatever the master logs next lands in the reopened file.
    nix::sys::signal::kill(m.pid(), Signal::SIGTTIN).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Handling signal: ttin")),
        "the master writes to the new file after USR1"
    );
    // So does a worker (the TTIN one boots after the reopen; the old one reopened too).
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Booting worker")
    }));
    assert!(
        std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("Booting worker")
    );
}

#[test]
fn a_long_keep_alive_does_not_hold_up_the_drain() {
    // --keep-alive 60 (behind a load balancer): on TERM, a connection that keeps sending
    // is answered with Connection: close, and idle kept-alive ones are closed two seconds
    // into the drain instead of holding the worker until --graceful-timeout.
    let mut m = Master::probe()
        .args(["-w", "1", "--keep-alive", "60", "--graceful-timeout", "30"])
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let mut idle = Conn::open(m.addr()).unwrap();
    assert_eq!(idle.request("/").unwrap().status, 200);
    let mut busy = Conn::open(m.addr()).unwrap();
    assert_eq!(busy.request("/").unwrap().status, 200);
    let start = Instant::now();
    m.signal(Signal::SIGTERM);
    m.wait_for_log("Handling signal: term", Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let last = busy
        .request("/")
        .expect("a request early in the drain is served");
    assert_eq!(last.status, 200);
    assert!(last.closes(), "answered with Connection: close");
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0), "{}", m.log());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "exited {took:?} after TERM; idle connections get 2 s"
    );
    // The idle connection was closed, not answered.
    idle.stream_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(idle.stream_mut().read_to_end(&mut rest).unwrap_or(0), 0);
}
