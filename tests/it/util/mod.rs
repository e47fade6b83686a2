//! Test harness: `Master` spawns a server in its own process group, captures its error
//! log, finds its address, and SIGKILLs the whole group on drop. `Load` runs keep-alive
//! HTTP/1.1 clients in threads and counts every failure.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

/// Path of a binary or example built by cargo for this test run.
///
/// `RUNICORN_BIN`, when set, names the `runicorn` command to test instead of the cargo-built
/// one: .ci/run points it at a `pip install`ed `runicorn` (a venv's console script) to run
/// the WSGI and Python-config tests against the Python package.
pub fn binary(name: &str) -> PathBuf {
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
pub fn pip_installed() -> Option<PathBuf> {
    std::env::var_os("RUNICORN_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A unique scratch directory under the system temp dir (removed on drop).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Builder {
    /// A command the server runs under (e.g. `prlimit --fsize=N --`).
    wrapper: Vec<String>,
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    bind: bool,
    /// The child's working directory (the test process's own never changes).
    cwd: Option<PathBuf>,
}

impl Builder {
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    /// Sets a variable in the child's environment only.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Do not add `-b 127.0.0.1:0`.
    pub fn no_bind(mut self) -> Self {
        self.bind = false;
        self
    }

    /// Runs the server under `wrapper` (its last element ends the wrapper's own options).
    pub fn wrap_with(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn command(&self) -> Command {
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
    pub fn run(&self, timeout: Duration) -> (Option<i32>, String, String) {
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
    pub fn spawn_no_wait(self) -> Master {
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
    pub fn spawn_listening(mut self) -> Master {
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
    pub fn spawn(self) -> Master {
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
pub struct Master {
    pub child: Child,
    log: Arc<Mutex<String>>,
    addr: Option<SocketAddr>,
}

impl Master {
    pub fn probe() -> Builder {
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
    pub fn example(name: &str) -> Builder {
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
    pub fn program(bin: impl Into<PathBuf>) -> Builder {
        Builder {
            wrapper: vec![],
            bin: bin.into(),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    pub fn runicorn() -> Builder {
        Builder {
            wrapper: vec![],
            bin: binary("runicorn"),
            args: vec![],
            env: vec![],
            bind: true,
            cwd: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("no address")
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).unwrap();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits for a log line containing `needle`; returns the first such line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_for_count(needle, 1, timeout)
    }

    /// Waits until `needle` appears at least `n` times; returns the last matching line.
    pub fn wait_for_count(&self, needle: &str, n: usize, timeout: Duration) -> Option<String> {
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
    pub fn children(&self) -> Vec<i32> {
        children_of(self.pid().as_raw())
    }

    /// Waits for the master to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
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
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        get(self.addr(), path)
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

pub fn children_of(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
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

/// A minimal HTTP/1.1 client connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl Conn {
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Wraps an already-connected socket.
    pub fn from_stream(s: TcpStream) -> Conn {
        Conn {
            stream: BufReader::new(s),
        }
    }

    /// The underlying socket, for writing raw bytes.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        self.stream.get_mut()
    }

    pub fn request(&mut self, path: &str) -> std::io::Result<Resp> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream.get_mut().write_all(req.as_bytes())?;
        self.read_response()
    }

    /// Reads the next final response, skipping interim 1xx ones.
    pub fn read_response(&mut self) -> std::io::Result<Resp> {
        read_response_from(&mut self.stream)
    }
}

/// Anything that can send a GET and read the response (plain or TLS connections), for
/// `Load`.
pub trait Requester: Send + 'static {
    fn request(&mut self, path: &str) -> std::io::Result<Resp>;
}

impl Requester for Conn {
    fn request(&mut self, path: &str) -> std::io::Result<Resp> {
        Conn::request(self, path)
    }
}

/// Reads the next final HTTP/1.1 response (Content-Length framing) from any buffered
/// reader, skipping interim 1xx responses.
pub fn read_response_from(stream: &mut impl BufRead) -> std::io::Result<Resp> {
    loop {
        let r = read_one_response(stream)?;
        if !(100..200).contains(&r.status) {
            return Ok(r);
        }
    }
}

fn read_one_response(stream: &mut impl BufRead) -> std::io::Result<Resp> {
    {
        let eof = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a full response",
            )
        };
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(eof());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(eof)?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if stream.read_line(&mut h)? == 0 {
                return Err(eof());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        stream.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}

/// One request on a fresh connection; returns (status, body).
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let r = Conn::open(addr)?.request(path)?;
    Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

/// Continuous keep-alive load: `clients` threads, each sending requests back to back on
/// one connection, reconnecting only when a response says `Connection: close`. Every
/// other outcome (refused connect, reset, EOF before a full response, non-200) counts as
/// a failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    pub ok: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(addr: SocketAddr, clients: usize, path: &'static str) -> Load {
        Load::start_with(clients, path, move || Conn::open(addr))
    }

    /// `start` with any kind of connection (e.g. TLS): `open` makes a fresh one.
    pub fn start_with<R: Requester>(
        clients: usize,
        path: &'static str,
        open: impl Fn() -> std::io::Result<R> + Send + Sync + Clone + 'static,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failed, errors) =
                    (stop.clone(), ok.clone(), failed.clone(), errors.clone());
                let open = open.clone();
                std::thread::spawn(move || {
                    let mut conn: Option<R> = None;
                    while !stop.load(Ordering::Relaxed) {
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => match open() {
                                Ok(c) => conn.insert(c),
                                Err(e) => {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                    errors.lock().unwrap().push(format!("connect: {e}"));
                                    std::thread::sleep(Duration::from_millis(10));
                                    continue;
                                }
                            },
                        };
                        match c.request(path) {
                            Ok(r) if r.status == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                if r.closes() {
                                    conn = None;
                                }
                            }
                            Ok(r) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!("status {}", r.status));
                                conn = None;
                            }
                            Err(e) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(format!("request: {e}"));
                                conn = None;
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            errors,
            threads,
        }
    }

    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` more requests succeeded (proves the server still serves).
    pub fn wait_for_more(&self, n: u64, timeout: Duration) -> bool {
        let start = self.ok();
        eventually(timeout, || self.ok() >= start + n)
    }

    /// Stops the clients; returns (ok, failed, first errors).
    pub fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let errors = self
            .errors
            .lock()
            .unwrap()
            .iter()
            .take(10)
            .cloned()
            .collect();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            errors,
        )
    }
}
