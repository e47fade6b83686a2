//! The control socket: the unchanged `gunicornc` of the installed Gunicorn 27.0.1 drives
//! runicorn, each command's JSON has the keys and types of Gunicorn's own answer (both
//! servers run side by side with the same flags), the socket file's mode, default path,
//! removal and USR2 hand-over, and abusive clients that must not stall the master.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// The `gunicornc` console script installed with Gunicorn, which must be 27.0.1: the
/// comparison is the point, so a missing one fails instead of skipping.
fn gunicornc() -> &'static str {
    let out = Command::new("gunicornc").arg("--version").output();
    let text = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => panic!(
            "gunicornc is not installed ({e}): run `python3 -m pip install gunicorn==27.0.1`"
        ),
    };
    assert!(
        text.contains("27.0.1"),
        "these tests need Gunicorn 27.0.1's gunicornc, found {text:?}"
    );
    "gunicornc"
}

/// Runs `gunicornc -s SOCK -j -c CMD`; returns (exit code, stdout, stderr).
fn ctl(sock: &Path, cmd: &str) -> (Option<i32>, String, String) {
    let out = Command::new(gunicornc())
        .arg("-s")
        .arg(sock)
        .args(["-j", "-c", cmd])
        .output()
        .expect("run gunicornc");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A successful command's JSON.
fn ctl_json(sock: &Path, cmd: &str) -> Value {
    let (code, out, err) = ctl(sock, cmd);
    assert_eq!(code, Some(0), "gunicornc -c {cmd:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd:?}: not JSON ({e}): {out}"))
}

/// The shape of a JSON value: object keys in order with their shapes, a list's first
/// element, and each scalar's type (an integer and a float differ, as in Python).
fn shape(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(_) => "int".into(),
        Value::String(_) => "str".into(),
        Value::Array(a) => format!("[{}]", a.first().map(shape).unwrap_or_default()),
        Value::Object(o) => {
            let fields: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k}: {}", shape(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// Both servers, same flags, each with its own control socket in `dir`.
fn side_by_side(dir: &Scratch) -> ((Master, PathBuf), (Master, PathBuf)) {
    let start = |b: Builder, name: &str| {
        let sock = dir.path(name);
        let m = b
            .cwd(apps())
            .args(["-w", "2", "--control-socket", sock.to_str().unwrap()])
            .arg("hello:app")
            .spawn();
        m.wait_for_log("Control socket listening at", Duration::from_secs(15))
            .unwrap_or_else(|| panic!("no control socket; log:\n{}", m.log()));
        (m, sock)
    };
    (
        start(Master::program(gunicorn_27()), "g.ctl"),
        start(Master::runicorn(), "r.ctl"),
    )
}

fn two_workers(sock: &Path) -> bool {
    eventually(Duration::from_secs(15), || {
        ctl_json(sock, "show workers")["count"] == 2
    })
}

#[test]
fn gunicornc_answers_have_gunicorns_shapes() {
    let dir = Scratch::new("ctl-shapes");
    let ((g, gsock), (r, rsock)) = side_by_side(&dir);
    assert!(two_workers(&gsock), "gunicorn's workers; log:\n{}", g.log());
    assert!(two_workers(&rsock), "runicorn's workers; log:\n{}", r.log());
    let mut differ = Vec::new();
    for cmd in [
        "show all",
        "show workers",
        "show config",
        "show stats",
        "show listeners",
        "show dirty",
        "help",
        "dirty add",
        "dirty remove 2",
        "worker kill 1",
        "worker add 1",
        "worker remove 1",
        "reopen",
    ] {
        let gv = ctl_json(&gsock, cmd);
        let rv = ctl_json(&rsock, cmd);
        if shape(&gv) != shape(&rv) {
            differ.push(format!(
                "{cmd}:\n  gunicorn {}\n  runicorn {}",
                shape(&gv),
                shape(&rv)
            ));
        }
        // The values that do not depend on the machine are the same too.
        if matches!(
            cmd,
            "help" | "show dirty" | "dirty add" | "dirty remove 2" | "worker kill 1" | "reopen"
        ) || cmd.starts_with("worker ")
        {
            assert_eq!(gv, rv, "{cmd}");
        }
    }
    assert!(differ.is_empty(), "shapes differ:\n{}", differ.join("\n"));
    // Errors: same exit code and message.
    for cmd in [
        "bogus",
        "show",
        "show nothing",
        "worker",
        "worker add x",
        "worker kill",
        "worker fly",
        "dirty",
        "dirty add 1.5",
        "show 'workers",
    ] {
        let (gc, _, ge) = ctl(&gsock, cmd);
        let (rc, _, re) = ctl(&rsock, cmd);
        assert_eq!((gc, ge.trim()), (rc, re.trim()), "{cmd}");
        assert_eq!(rc, Some(1), "{cmd}");
    }
    // shutdown: the answer comes back, then the master goes and takes its socket file.
    let gv = ctl_json(&gsock, "shutdown");
    let rv = ctl_json(&rsock, "shutdown");
    assert_eq!(gv, rv);
    let mut r = r;
    assert_eq!(r.wait_exit(Duration::from_secs(20)), Some(0), "{}", r.log());
    assert!(r.log().contains("Handling signal: term"));
    assert!(!rsock.exists(), "the socket file is removed on exit");
    drop(g);
}

#[test]
fn commands_act_on_the_workers() {
    let dir = Scratch::new("ctl-act");
    let sock = dir.path("r.ctl");
    let m = Master::runicorn()
        .cwd(apps())
        .args(["-w", "1", "--control-socket", sock.to_str().unwrap()])
        .arg("hello:app")
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(15))
        .unwrap();
    let mode = std::fs::symlink_metadata(&sock)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "owner only by default");

    let v = ctl_json(&sock, "worker add 2");
    assert_eq!(
        v,
        serde_json::json!({"added": 2, "previous": 1, "total": 3})
    );
    assert!(
        eventually(Duration::from_secs(15), || m.children().len() == 3),
        "three workers; log:\n{}",
        m.log()
    );
    let stats = ctl_json(&sock, "show stats");
    assert_eq!(stats["pid"], m.pid().as_raw());
    assert_eq!(stats["workers_target"], 3);

    let victim = m.children()[0];
    let v = ctl_json(&sock, &format!("worker kill {victim}"));
    assert_eq!(v, serde_json::json!({"success": true, "killed": victim}));
    assert!(
        eventually(Duration::from_secs(15), || {
            let c = m.children();
            c.len() == 3 && !c.contains(&victim)
        }),
        "the killed worker is replaced; log:\n{}",
        m.log()
    );
    assert_eq!(ctl_json(&sock, "show stats")["workers_killed"], 1);

    let v = ctl_json(&sock, "worker remove 5");
    assert_eq!(
        v,
        serde_json::json!({"removed": 2, "previous": 3, "total": 1})
    );
    assert!(eventually(Duration::from_secs(15), || m.children().len() == 1));

    let v = ctl_json(&sock, "reload");
    assert_eq!(v, serde_json::json!({"status": "reloading"}));
    m.wait_for_log("Handling signal: hup", Duration::from_secs(10))
        .expect("reload is a HUP");
    assert!(eventually(Duration::from_secs(10), || {
        ctl_json(&sock, "show stats")["reloads"] == 1
    }));
    assert_eq!(m.get("/").unwrap().0, 200);

    let v = ctl_json(&sock, "shutdown quick");
    assert_eq!(
        v,
        serde_json::json!({"status": "shutting_down", "mode": "quick"})
    );
    m.wait_for_log("Handling signal: int", Duration::from_secs(10))
        .expect("quick shutdown is an INT");
}

/// A raw client: `frame` bytes written as they are.
fn raw(sock: &Path, bytes: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Whether the server closed `s` within `within` (EOF or reset, no answer).
fn closed_by_server(s: &mut UnixStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_)) && {
        // A timeout is not a close.
        s.set_nonblocking(true).unwrap();
        !matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[test]
fn abusive_clients_do_not_stall_the_master() {
    let dir = Scratch::new("ctl-abuse");
    let sock = dir.path("p.ctl");
    let m = Master::probe()
        .args(["-w", "2", "--control-socket", sock.to_str().unwrap()])
        .spawn();
    m.wait_for_count("Booting worker", 2, Duration::from_secs(15))
        .unwrap();

    // 100 idle connections (more than the master keeps: the oldest are let go).
    let idle: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    // A 20 MB length prefix: closed before anything more is read.
    let mut huge = raw(&sock, &(20u32 << 20).to_be_bytes());
    // A well-framed frame that is not JSON: closed, as Gunicorn does.
    let mut bad = raw(&sock, b"\x00\x00\x00\x05notjs");
    // Half a frame, then silence.
    let mut half = raw(&sock, b"\x00\x00\x01\x00{\"id\": 1, \"comm");
    let started = Instant::now();
    assert!(
        closed_by_server(&mut huge, Duration::from_secs(5)),
        "huge prefix"
    );
    assert!(
        closed_by_server(&mut bad, Duration::from_secs(5)),
        "bad JSON"
    );

    // Meanwhile the master answers, serves and keeps its workers.
    for _ in 0..3 {
        let t = Instant::now();
        let v = ctl_json(&sock, "show workers");
        assert_eq!(v["count"], 2, "{v}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "slow answer: {:?}",
            t.elapsed()
        );
        assert_eq!(m.get("/").unwrap().0, 200);
    }
    // Pipelined frames on one connection are answered in order.
    let mut two = Vec::new();
    for id in [7, 8] {
        let body = format!(r#"{{"id": {id}, "command": "show stats"}}"#);
        two.extend_from_slice(&(body.len() as u32).to_be_bytes());
        two.extend_from_slice(body.as_bytes());
    }
    let mut p = raw(&sock, &two);
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for id in [7, 8] {
        let mut len = [0u8; 4];
        p.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        p.read_exact(&mut body).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (v["id"].as_i64(), v["status"].as_str()),
            (Some(id), Some("ok"))
        );
    }
    // Clients that ask and leave before the answer: the master's write fails, quietly.
    for _ in 0..50 {
        let body = br#"{"id": 1, "command": "help"}"#;
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        drop(raw(&sock, &f));
    }
    assert_eq!(ctl_json(&sock, "show workers")["count"], 2);
    // The half-sent frame is dropped at its deadline (10 s), not kept forever.
    let left = Duration::from_secs(20).saturating_sub(started.elapsed());
    assert!(closed_by_server(&mut half, left), "half frame kept open");
    assert!(!m.log().contains("panicked"), "no panic; log:\n{}", m.log());
    assert_eq!(m.children().len(), 2, "workers untouched");
    drop(idle);
    assert_eq!(ctl_json(&sock, "show workers")["count"], 2);
}

#[test]
fn default_path_mode_and_opting_out() {
    // XDG_RUNTIME_DIR first, as Gunicorn; only the child's environment is set.
    let xdg = Scratch::new("ctl-xdg");
    let m = Master::probe()
        .env("XDG_RUNTIME_DIR", xdg.0.to_str().unwrap())
        .args(["--control-socket-mode", "0660"])
        .spawn();
    let sock = xdg.path("gunicorn.ctl");
    m.wait_for_log("Control socket listening at", Duration::from_secs(10))
        .unwrap();
    let mode = std::fs::symlink_metadata(&sock)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    assert_eq!(ctl_json(&sock, "show stats")["pid"], m.pid().as_raw());
    drop(m);

    // Else $HOME/.gunicorn, created owner-only.
    let home = Scratch::new("ctl-home");
    let m = Master::probe()
        .env("XDG_RUNTIME_DIR", "")
        .env("HOME", home.0.to_str().unwrap())
        .spawn();
    m.wait_for_log("Control socket listening at", Duration::from_secs(10))
        .unwrap();
    let sock = home.path(".gunicorn/gunicorn.ctl");
    assert!(sock.exists(), "log:\n{}", m.log());
    let dmode = std::fs::metadata(home.path(".gunicorn"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o700);
    let fmode = std::fs::symlink_metadata(&sock)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(fmode & 0o777, 0o600);
    drop(m);

    let off = Scratch::new("ctl-off");
    let m = Master::probe()
        .env("XDG_RUNTIME_DIR", off.0.to_str().unwrap())
        .arg("--no-control-socket")
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    assert!(!m.log().contains("Control socket"), "{}", m.log());
    assert!(!off.path("gunicorn.ctl").exists());
}

#[test]
fn usr2_hands_the_socket_to_the_new_master() {
    let dir = Scratch::new("ctl-usr2");
    let sock = dir.path("u.ctl");
    let pidfile2 = dir.path("app.pid.2");
    let mut m = Master::probe()
        .args(["-w", "1", "-p", dir.path("app.pid").to_str().unwrap()])
        .args(["--control-socket", sock.to_str().unwrap()])
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let old = m.pid().as_raw();
    assert_eq!(ctl_json(&sock, "show stats")["pid"], old);
    m.signal(Signal::SIGUSR2);
    assert!(eventually(Duration::from_secs(20), || pidfile2.exists()));
    let new: i32 = std::fs::read_to_string(&pidfile2)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            ctl_json(&sock, "show stats")["pid"] == new
        }),
        "the new master answers on the path"
    );
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        sock.exists(),
        "the old master left the new master's socket file"
    );
    assert_eq!(ctl_json(&sock, "show stats")["pid"], new);
    // The harness's process-group kill ends the new master.
}

#[test]
fn a_failed_upgrade_gives_the_socket_back() {
    let dir = Scratch::new("ctl-rollback");
    let sock = dir.path("u.ctl");
    let pidfile2 = dir.path("app.pid.2");
    let m = Master::probe()
        .args(["-w", "1", "-p", dir.path("app.pid").to_str().unwrap()])
        .args(["--control-socket", sock.to_str().unwrap()])
        .spawn();
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .unwrap();
    let old = m.pid().as_raw();
    m.signal(Signal::SIGUSR2);
    assert!(eventually(Duration::from_secs(20), || pidfile2.exists()));
    let new: i32 = std::fs::read_to_string(&pidfile2)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        ctl_json(&sock, "show stats")["pid"] == new
    }));
    // Roll back: the new master goes (removing its socket file); the old one binds again.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new), Signal::SIGTERM).unwrap();
    m.wait_for_log("this master keeps serving", Duration::from_secs(20))
        .expect("the new master exited");
    assert!(
        eventually(Duration::from_secs(5), || sock.exists()
            && ctl_json(&sock, "show stats")["pid"] == old),
        "the old master answers again; log:\n{}",
        m.log()
    );
}
