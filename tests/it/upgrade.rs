//! USR2 binary upgrade: the new master inherits the listeners, serves alongside the old
//! one, takes over the pid file when the old master exits; no request fails.

use std::time::Duration;

use crate::util::*;

#[test]
fn usr2_then_term_of_the_old_master_loses_no_request() {
    let dir = Scratch::new("usr2");
    let pidfile = dir.path("app.pid");
    let pidfile2 = dir.path("app.pid.2");
    let mut m = Master::probe()
        .args(["-w", "2", "-p", pidfile.to_str().unwrap()])
        .spawn();
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let old_pid = m.pid().as_raw();
    let load = Load::start(m.addr(), 4, "/");
    assert!(load.wait_for_more(200, Duration::from_secs(10)));

    let new_pid = usr2_new_master(&m, &pidfile2, 2);
    assert_ne!(new_pid, old_pid);
    // Both generations now accept on the same sockets.
    assert!(load.wait_for_more(200, Duration::from_secs(10)));

    m.signal(Signal::SIGTERM);
    assert_eq!(
        m.wait_exit(Duration::from_secs(15)),
        Some(0),
        "old master exits cleanly"
    );
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&pidfile)
            .is_ok_and(|s| s.trim() == new_pid.to_string())),
        "promoted master owns the pid file"
    );
    assert!(!pidfile2.exists());
    assert!(
        load.wait_for_more(200, Duration::from_secs(10)),
        "the new master serves alone"
    );
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{failed} failed of {}: {errors:?}", ok + failed);
    // The harness kills the whole process group on drop, which includes the new master.
}

#[test]
fn a_second_usr2_is_ignored_while_the_child_runs() {
    let m = Master::probe().args(["-w", "1"]).spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    m.signal(Signal::SIGUSR2);
    assert!(eventually(Duration::from_secs(10), || m.children().len() == 2));
    m.signal(Signal::SIGUSR2);
    m.wait_for_log("USR2 signal ignored. Child exists.", Duration::from_secs(5))
        .expect("second USR2 ignored");
}
