//! Start-up: boot failures halt with Gunicorn's exit codes, slow boots get their own
//! allowance, pid files, and the runicorn binary without an app.

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn worker_boot_failure_halts_the_master_with_code_3() {
    let (code, _, err) = Master::probe().args(["-w", "2"]).env("PROBE_BOOT", "fail").run(Duration::from_secs(15));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Reason: Worker failed to boot."), "{err}");
    assert!(err.contains("probe: boot failure requested"), "{err}");
    assert!(err.matches("Booting worker").count() <= 2, "no respawn loop:\n{err}");
}

#[test]
fn app_load_failure_halts_the_master_with_code_4() {
    let (code, _, err) = Master::probe().env("PROBE_BOOT", "load-fail").run(Duration::from_secs(15));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("Reason: App failed to load."), "{err}");
}

#[test]
fn a_slow_booting_app_is_not_killed_by_the_heartbeat_timeout() {
    let m = Master::probe().args(["-w", "1", "-t", "1"]).env("PROBE_BOOT", "sleep:2500").spawn();
    let start = Instant::now();
    assert!(eventually(Duration::from_secs(10), || m.get("/").is_ok_and(|r| r.0 == 200)));
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(m.count("WORKER TIMEOUT"), 0, "{}", m.log());
}

#[test]
fn boot_timeout_kills_a_worker_that_never_finishes_booting() {
    let m = Master::probe().args(["-w", "1", "--boot-timeout", "1"]).env("PROBE_BOOT", "sleep:60000").spawn();
    m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(6)).expect("boot timeout enforced");
    m.wait_for_count("Booting worker", 2, Duration::from_secs(5)).expect("replacement started");
}

#[test]
fn pidfile_is_written_refused_over_a_live_process_and_removed_at_exit() {
    let dir = Scratch::new("pid");
    let pidfile = dir.path("r.pid");
    let p = pidfile.to_str().unwrap();
    let mut m = Master::probe().args(["-w", "1", "-p", p]).spawn();
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert_eq!(pid, m.pid().as_raw());

    let (code, _, err) = Master::probe().args(["-w", "1", "-p", p]).run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("Already running on PID {pid}")), "{err}");

    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!pidfile.exists(), "pid file removed at exit");
}

#[test]
fn runicorn_without_an_app_exits_with_a_clear_message() {
    let (code, _, err) = Master::runicorn().no_bind().run(Duration::from_secs(10));
    assert_eq!(code, Some(1));
    assert!(err.contains("No application module specified."), "{err}");
}

#[test]
fn bind_to_a_port_in_use_fails_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let start = Instant::now();
    let (code, _, err) = Master::probe().no_bind().args(["-b", &addr]).run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("Connection in use") && err.contains(&addr), "{err}");
    assert!(start.elapsed() >= Duration::from_secs(3), "retried before giving up");
}

#[test]
fn raw_env_reaches_the_workers() {
    let m = Master::probe().args(["-w", "1", "-e", "GREETING=hi there", "--env", "OTHER=x=y"]).spawn();
    assert!(eventually(Duration::from_secs(10), || m.get("/").is_ok()));
    assert_eq!(m.get("/env?GREETING").unwrap().1, "hi there");
    assert_eq!(m.get("/env?OTHER").unwrap().1, "x=y");
}

#[test]
fn check_config_does_not_start_a_server() {
    let (code, _, err) = Master::probe().args(["--check-config"]).run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("Listening at"), "{err}");
}
