//! The process harness: `Master` spawns a server in its own process group, captures its
//! error log, finds its address, and SIGKILLs the whole group on drop; `Scratch` is a
//! temporary directory removed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::client::get;

/// Path of a binary or example built by cargo for this test run.
///
/// `RUNICORN_BIN`, when set, names the `runicorn` command to test instead of the cargo-built
/// one: .ci/run points it at a `pip install`ed `runicorn` (a venv's console script) to run
/// the WSGI and Python-config tests against the Python package.
pub(crate) fn binary(name: &str) -> PathBuf {
    if name == "runicorn" {
        return pip_installed().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_runicorn")));
    }
    // tests run from target/<profile>/deps; examples live in target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let p = profile_dir.join("examples").join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo test` (it builds the examples)",
        p.display()
    );
    p
}

/// The `runicorn` command under test when it is not the cargo-built binary (`RUNICORN_BIN`,
/// read only: tests never change the process environment).
pub(crate) fn pip_installed() -> Option<PathBuf> {
    std::env::var_os("RUNICORN_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A unique scratch directory under the system temp dir (removed on drop).
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "runicorn-it-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) struct Builder {
    /// A command the server runs under (e.g. `prlimit --fsize=N --`).
    wrapper: Vec<String>,
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, std::ffi::OsString)>,
    bind: bool,
    /// The child's working directory (the test process's own never changes).
    cwd: Option<PathBuf>,
}

impl Builder {
    pub(crate) fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub(crate) fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    /// Sets a variable in the child's environment only.
    pub(crate) fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// A variable whose value need not be UTF-8.
    pub(crate) fn env_os(mut self, k: &str, v: std::ffi::OsString) -> Self {
        self.env.push((k.into(), v));
        self
    }

    /// Do not add `-b 127.0.0.1:0`.
    pub(crate) fn no_bind(mut self) -> Self {
        self.bind = false;
        self
    }

    /// Runs the server under `wrapper` (its last element ends the wrapper's own options).
    pub(crate) fn wrap_with(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    pub(crate) fn command(&self) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        if self.bind {
            cmd.args(["-b", "127.0.0.1:0"]);
        }
        cmd.args(&self.args);
        // The test runner's own environment must not leak configuration into the child.
        for k in [
            "GUNICORN_CMD_ARGS",
            "RUNICORN_CMD_ARGS",
            "WEB_CONCURRENCY",
            "PORT",
            "FORWARDED_ALLOW_IPS",
            "SENDFILE",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs to completion; returns (exit code, stdout, stderr).
    pub(crate) fn run(&self, timeout: Duration) -> (Option<i32>, String, String) {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().expect("spawn");
        let pgid = Pid::from_raw(child.id() as i32);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(_status) = child.try_wait().unwrap() {
                break;
            }
            if Instant::now() > deadline {
                let _ = killpg(pgid, Signal::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let _ = killpg(pgid, Signal::SIGKILL);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the server without reading its address (for logs sent to a file).
    pub(crate) fn spawn_no_wait(self) -> Master {
        let mut cmd = self.command();
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .process_group(0);
        let child = cmd.spawn().expect("spawn");
        Master {
            child,
            log: Arc::new(Mutex::new(String::new())),
            addr: None,
        }
    }

    /// Starts a server whose bind comes from its configuration and waits until it listens.
    pub(crate) fn spawn_listening(mut self) -> Master {
        self.bind = true;
        let mut args = std::mem::take(&mut self.args);
        let mut m = {
            let mut b = self;
            b.bind = false;
            b.args.append(&mut args);
            b.spawn()
        };
        let line = m
            .wait_for_log("Listening at: ", Duration::from_secs(15))
            .unwrap_or_else(|| panic!("server did not start; log:\n{}", m.log()));
        let url = line
            .split("Listening at: ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        m.addr = Some(
            url.trim_start_matches("https://")
                .trim_start_matches("http://")
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap(),
        );
        m
    }

    /// Starts the server and waits until it listens.
    pub(crate) fn spawn(self) -> Master {
        let mut cmd = self.command();
        cmd.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().expect("spawn");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut m = Master {
            child,
            log,
            addr: None,
        };
        if self.bind {
            let line = m
                .wait_for_log("Listening at: ", Duration::from_secs(15))
                .unwrap_or_else(|| panic!("server did not start; log:\n{}", m.log()));
            let url = line
                .split("Listening at: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            let addr = url
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split(',')
                .next()
                .unwrap();
            m.addr = Some(addr.parse().unwrap());
        }
        m
    }
}

/// A running server process group.
pub(crate) struct Master {
    pub child: Child,
    log: Arc<Mutex<String>>,
    addr: Option<SocketAddr>,
}

impl Master {
    pub(crate) fn probe() -> Builder {
        Builder {
            wrapper: vec![],
            bin: binary("probe"),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    /// Any example binary.
    pub(crate) fn example(name: &str) -> Builder {
        Builder {
            wrapper: vec![],
            bin: binary(name),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    /// Any program (another server to compare with, found on PATH or by path).
    pub(crate) fn program(bin: impl Into<PathBuf>) -> Builder {
        Builder {
            wrapper: vec![],
            bin: bin.into(),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    pub(crate) fn runicorn() -> Builder {
        Builder {
            wrapper: vec![],
            bin: binary("runicorn"),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr.expect("no address")
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub(crate) fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).unwrap();
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits for a log line containing `needle`; returns the first such line.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_for_count(needle, 1, timeout)
    }

    /// Waits until `needle` appears at least `n` times; returns the last matching line.
    pub(crate) fn wait_for_count(
        &self,
        needle: &str,
        n: usize,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
            if lines.len() >= n {
                return lines.last().map(|s| s.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Direct children of the master (its workers, plus a USR2 child master if any).
    pub(crate) fn children(&self) -> Vec<i32> {
        children_of(self.pid().as_raw())
    }

    /// Waits for the master to exit; returns its exit code.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request on a fresh connection; returns (status, body).
    pub(crate) fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        get(self.addr(), path)
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A process's resident memory in KiB (0 once it is gone).
pub(crate) fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Polls `f` until it returns true or `timeout` passes.
pub(crate) fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Sends USR2 to `m` (started with `-p PIDFILE`) and waits for the new master: its pid
/// file `pidfile2` (`PIDFILE.2`) and its `workers` workers; returns its pid. Panics with
/// the log when either does not come.
pub(crate) fn usr2_new_master(m: &Master, pidfile2: &std::path::Path, workers: usize) -> i32 {
    m.signal(Signal::SIGUSR2);
    assert!(
        eventually(Duration::from_secs(30), || pidfile2.exists()),
        "no new master wrote {}; log:\n{}",
        pidfile2.display(),
        m.log()
    );
    let new_pid: i32 = std::fs::read_to_string(pidfile2)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(new_pid, m.pid().as_raw());
    assert!(
        eventually(Duration::from_secs(20), || children_of(new_pid).len()
            == workers),
        "the new master's {workers} workers; log:\n{}",
        m.log()
    );
    new_pid
}

/// Gunicorn 27.0.1, the peer the side-by-side tests compare with, as a [`Builder`] (no
/// control socket: parallel tests would share `$HOME/.gunicorn/gunicorn.ctl`). Panics with
/// how to install it when it is missing or another version.
pub(crate) fn gunicorn_peer() -> Builder {
    Master::program(gunicorn_27()).arg("--no-control-socket")
}

/// The `gunicorn` command, once checked to be Gunicorn 27.0.1 (panics with how to install
/// it otherwise).
pub(crate) fn gunicorn_27() -> &'static str {
    let out = Command::new("gunicorn").arg("--version").output();
    let version = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => panic!(
            "gunicorn is not installed ({e}): run `python3 -m pip install gunicorn==27.0.1` \
             (as .ci/run does)"
        ),
    };
    assert!(
        version.contains("27.0.1"),
        "these tests compare with Gunicorn 27.0.1, found {version:?}"
    );
    "gunicorn"
}
