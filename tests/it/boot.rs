//! Start-up: boot failures halt with Gunicorn's exit codes, slow boots get their own
//! allowance, pid files, and the runicorn binary without an app.

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn worker_boot_failure_halts_the_master_with_code_3() {
    let (code, _, err) = Master::probe()
        .args(["-w", "2"])
        .env("PROBE_BOOT", "fail")
        .run(Duration::from_secs(15));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Reason: Worker failed to boot."), "{err}");
    assert!(err.contains("probe: boot failure requested"), "{err}");
    assert!(
        err.matches("Booting worker").count() <= 2,
        "no respawn loop:\n{err}"
    );
}

#[test]
fn a_crash_loop_is_slowed_down_not_respawned_at_full_speed() {
    // Every worker exits at once with a code that does not halt the master: it keeps
    // respawning, after a delay that grows from the second death (0.25 s, 0.5 s, 1 s...).
    let m = Master::probe()
        .args(["-w", "2"])
        .env("PROBE_BOOT", "crash")
        .spawn();
    m.wait_for_log("deaths in a row, next worker in", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no crash-loop line:\n{}", m.log()));
    std::thread::sleep(Duration::from_secs(3));
    let log = m.log();
    let spawned = log.matches("Booting worker").count();
    // Unguarded, the master forked thousands of workers in this time.
    assert!(
        (3..=12).contains(&spawned),
        "{spawned} workers in ~3 s:\n{log}"
    );
    assert!(log.contains("before it was ready"), "{log}");
}

#[test]
fn app_load_failure_halts_the_master_with_code_4() {
    let (code, _, err) = Master::probe()
        .env("PROBE_BOOT", "load-fail")
        .run(Duration::from_secs(15));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("Reason: App failed to load."), "{err}");
}

#[test]
fn a_slow_booting_app_is_not_killed_by_the_heartbeat_timeout() {
    let m = Master::probe()
        .args(["-w", "1", "-t", "1"])
        .env("PROBE_BOOT", "sleep:2500")
        .spawn();
    let start = Instant::now();
    assert!(eventually(Duration::from_secs(10), || m
        .get("/")
        .is_ok_and(|r| r.0 == 200)));
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(m.count("WORKER TIMEOUT"), 0, "{}", m.log());
}

#[test]
fn boot_timeout_kills_a_worker_that_never_finishes_booting() {
    let m = Master::probe()
        .args(["-w", "1", "--boot-timeout", "1"])
        .env("PROBE_BOOT", "sleep:60000")
        .spawn();
    m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(6))
        .expect("boot timeout enforced");
    m.wait_for_count("Booting worker", 2, Duration::from_secs(5))
        .expect("replacement started");
}

#[test]
fn pidfile_is_written_refused_over_a_live_process_and_removed_at_exit() {
    let dir = Scratch::new("pid");
    let pidfile = dir.path("r.pid");
    let p = pidfile.to_str().unwrap();
    let mut m = Master::probe().args(["-w", "1", "-p", p]).spawn();
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, m.pid().as_raw());

    let (code, _, err) = Master::probe()
        .args(["-w", "1", "-p", p])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("Already running on PID {pid}")),
        "{err}"
    );

    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!pidfile.exists(), "pid file removed at exit");
}

#[test]
fn runicorn_without_an_app_serves_the_welcome_page() {
    // Gunicorn exits 1 here; runicorn says the same and serves examples/welcome, which is
    // embedded in the binary (no file on disk), page and static files.
    let m = Master::runicorn().spawn();
    let page = Conn::open(m.addr()).unwrap().request("/").unwrap();
    assert_eq!(page.status, 200, "{}", m.log());
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("runicorn is serving"), "{html}");
    assert!(html.contains("/static/style.css"), "{html}");
    let css = Conn::open(m.addr())
        .unwrap()
        .request("/static/style.css")
        .unwrap();
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.body,
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/welcome/static/style.css"
        ))
        .unwrap()
    );
    assert_eq!(m.get("/static/missing.css").unwrap().0, 404);
    assert!(
        m.log().contains("No application module specified"),
        "{}",
        m.log()
    );
}

#[test]
fn bind_to_a_port_in_use_fails_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let start = Instant::now();
    let (code, _, err) = Master::probe()
        .no_bind()
        .args(["-b", &addr])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Connection in use") && err.contains(&addr),
        "{err}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "retried before giving up"
    );
}

#[test]
fn raw_env_reaches_the_workers() {
    let m = Master::probe()
        .args(["-w", "1", "-e", "GREETING=hi there", "--env", "OTHER=x=y"])
        .spawn();
    assert!(eventually(Duration::from_secs(10), || m.get("/").is_ok()));
    assert_eq!(m.get("/env?GREETING").unwrap().1, "hi there");
    assert_eq!(m.get("/env?OTHER").unwrap().1, "x=y");
}

#[test]
fn check_config_does_not_start_a_server() {
    let (code, _, err) = Master::probe()
        .args(["--check-config"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("Listening at"), "{err}");
}

#[test]
fn workers_switch_to_the_configured_user_and_group() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let m = Master::probe()
        .args(["-w", "1", "-u", "nobody", "-g", &nobody.gid.to_string()])
        .spawn();
    assert!(eventually(Duration::from_secs(10), || m.children().len() == 1));
    // Once it serves, the worker has finished switching identity.
    assert!(eventually(Duration::from_secs(10), || m
        .get("/")
        .is_ok_and(|r| r.0 == 200)));
    let worker = m.children()[0];
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let gid_line = status.lines().find(|l| l.starts_with("Gid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|u| u == nobody.uid.to_string()),
        "{uid_line}"
    );
    assert!(
        gid_line
            .split_whitespace()
            .skip(1)
            .all(|g| g == nobody.gid.to_string()),
        "{gid_line}"
    );
    // The master keeps its identity (it must be able to bind, signal and reap).
    let master = std::fs::read_to_string(format!("/proc/{}/status", m.pid())).unwrap();
    assert!(
        master
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("\t0\t"))
    );
    assert_eq!(m.get("/").unwrap().0, 200);
}

#[test]
fn process_names_follow_the_proc_name() {
    let m = Master::probe().args(["-w", "1", "-n", "shop"]).spawn();
    assert!(eventually(Duration::from_secs(10), || m.children().len() == 1));
    let comm = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(comm(m.pid().as_raw()), "shop:master");
    // A worker names itself just after the fork: until then it has its master's name.
    let worker = m.children()[0];
    assert!(
        eventually(Duration::from_secs(10), || comm(worker) == "shop:worker"),
        "{}",
        comm(worker)
    );
}

#[test]
fn systemd_notify_socket_gets_ready_and_stopping() {
    let dir = Scratch::new("notify");
    let path = dir.path("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut m = Master::probe()
        .args(["-w", "1"])
        .env("NOTIFY_SOCKET", path.to_str().unwrap())
        .spawn();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("READY=1"));
    m.signal(Signal::SIGTERM);
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn daemon_mode_detaches_and_serves() {
    let dir = Scratch::new("daemon");
    let pidfile = dir.path("d.pid");
    let errlog = dir.path("error.log");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{port}");
    let (code, _, err) = Master::probe()
        .no_bind()
        .args([
            "-D",
            "-w",
            "1",
            "-b",
            &bind,
            "-p",
            pidfile.to_str().unwrap(),
            "--error-logfile",
            errlog.to_str().unwrap(),
        ])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "the launching process exits at once: {err}");
    assert!(eventually(Duration::from_secs(10), || pidfile.exists()));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let addr: std::net::SocketAddr = bind.parse().unwrap();
    assert!(eventually(Duration::from_secs(10), || get(addr, "/")
        .is_ok_and(|r| r.0 == 200)));
    // Detached: its own session, not the test's.
    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid))).unwrap();
    assert_ne!(sid, nix::unistd::getsid(None).unwrap());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || !pidfile.exists()),
        "daemon stopped and removed its pid file"
    );
}

/// Who `--user`/`--group` give a unix socket to in these tests: as root (CI)
/// nobody:nogroup, otherwise ourselves, the only owner an unprivileged chown can give.
fn socket_owner() -> (u32, u32) {
    if nix::unistd::geteuid().is_root() {
        (65534, 65534)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }
}

/// The umask of the process that started the server.
fn umask_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
}

/// `--umask` applies to the unix socket the master binds, not to the workers: under
/// Gunicorn an app's files follow the umask the server was started with (022 in most
/// shells), where runicorn's workers ran with `--umask` (default 0) and every file an app
/// created was world-writable. And the socket belongs to `--user`/`--group`, as Gunicorn
/// chowns it after binding, so workers (and a front end in that group) can reach it.
#[test]
fn a_unix_socket_takes_umask_and_owner_and_the_workers_keep_the_inherited_umask() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = Scratch::new("unix-bind");
    let sock = dir.path("s.sock");
    let (uid, gid) = socket_owner();
    let m = Master::probe()
        .no_bind()
        .wrap_with(&["sh", "-c", "umask 027; exec \"$0\" \"$@\""])
        .args([
            "-b".to_string(),
            format!("unix:{}", sock.display()),
            "-m".into(),
            "007".into(),
            "-u".into(),
            uid.to_string(),
            "-g".into(),
            gid.to_string(),
        ])
        .spawn();
    assert!(
        eventually(Duration::from_secs(15), || m.count("Booting worker") == 1),
        "{}",
        m.log()
    );
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o770, "{}", m.log());
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{}", m.log());
    let worker = *m.children().first().expect("a worker");
    assert!(
        eventually(Duration::from_secs(5), || umask_of(worker) == Some(0o027)),
        "worker umask {:?}",
        umask_of(worker)
    );
    // It serves over the socket.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

/// A regular file where the socket should go is the user's: it is left in place and the
/// start fails at once with what is wrong (before, runicorn retried as if the address
/// were in use, then failed with "Address already in use").
#[test]
fn a_file_in_the_way_of_a_unix_socket_is_left_alone_and_named() {
    let dir = Scratch::new("unix-file");
    let path = dir.path("not.sock");
    std::fs::write(&path, "keep me").unwrap();
    let start = Instant::now();
    let (code, _, err) = Master::probe()
        .no_bind()
        .args(["-b".to_string(), format!("unix:{}", path.display())])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a socket"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "no retries: {err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

/// A HUP that moves the bind binds the new unix socket as the start does: under
/// `--umask`, given to `--user`/`--group` (it was bound under the master's own umask and
/// left to root).
#[test]
fn a_hup_that_moves_a_unix_socket_binds_it_under_umask_and_owner() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = Scratch::new("unix-rebind");
    let (a, b) = (dir.path("a.sock"), dir.path("b.sock"));
    let conf = dir.path("c.toml");
    let (uid, gid) = socket_owner();
    let write = |sock: &std::path::Path| {
        std::fs::write(
            &conf,
            format!(
                "bind = [\"unix:{}\"]\numask = \"007\"\nuser = {uid}\ngroup = {gid}\n",
                sock.display()
            ),
        )
        .unwrap();
    };
    write(&a);
    let m = Master::probe()
        .no_bind()
        .wrap_with(&["sh", "-c", "umask 022; exec \"$0\" \"$@\""])
        .args(["-c", conf.to_str().unwrap()])
        .spawn();
    assert!(
        eventually(Duration::from_secs(15), || m.count("Booting worker") == 1),
        "{}",
        m.log()
    );
    write(&b);
    m.signal(nix::sys::signal::Signal::SIGHUP);
    // Logged once the new listener is bound and chowned.
    let listening = format!("Listening at: unix:{}", b.display());
    assert!(
        m.wait_for_log(&listening, Duration::from_secs(15))
            .is_some(),
        "{}",
        m.log()
    );
    for sock in [&a, &b] {
        let Ok(meta) = std::fs::metadata(sock) else {
            continue; // the old one is gone once the new one listens
        };
        assert_eq!(meta.permissions().mode() & 0o777, 0o770, "{sock:?}");
        assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{sock:?}");
    }
}
