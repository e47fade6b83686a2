//! The control socket that Gunicorn 27's `gunicornc` drives (`--control-socket`): the
//! unix socket's life (created with its mode, removed on exit, taken over by a USR2
//! child), its framing (a 4-byte big-endian length, then JSON), and the commands, which
//! answer with Gunicorn's JSON shapes so the unchanged `gunicornc` works.
//!
//! Served from the master's own poll loop, as the metrics endpoint is (Gunicorn runs an
//! asyncio thread; the master here must stay single-threaded to fork soundly), so nothing
//! here may block or grow without bound:
//!
//! * every socket is non-blocking; a pass does what it can and returns;
//! * at most [`MAX_CONNS`] connections; one more evicts the longest-idle one, so a flood
//!   of idle clients cannot lock the operator out;
//! * a frame longer than [`MAX_FRAME`] closes its connection before anything is read
//!   (Gunicorn's own commands are a few dozen bytes);
//! * a frame (or an answer the client does not read) must finish within
//!   [`FRAME_DEADLINE`]; an idle connection lives [`IDLE`] (Gunicorn's 300 s);
//! * one frame is read at a time, and the next only once its answer is written.
//!
//! Malformed input closes the connection, as Gunicorn does; a well-framed request with a
//! bad command gets Gunicorn's `{"status": "error"}` answer.
//!
//! `reload`, `reopen` and `shutdown` signal the master itself (HUP, USR1, TERM/INT), as
//! Gunicorn does, so they take exactly the signal's path; the answer is written first.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Map, Value, json};

use super::Arbiter;
use crate::config::{Env, Settings};
use crate::scoreboard::heartbeat::{self, state};

/// Connections served at once; `gunicornc` uses one.
pub(crate) const MAX_CONNS: usize = 32;
/// Largest request frame (the JSON after the length prefix).
pub(crate) const MAX_FRAME: usize = 64 * 1024;
/// Time to finish sending a frame once it started, or to read an answer.
pub(crate) const FRAME_DEADLINE: Duration = Duration::from_secs(10);
/// Time an idle connection is kept (an interactive `gunicornc` between commands).
pub(crate) const IDLE: Duration = Duration::from_secs(300);
/// Frames answered per connection per pass, so one chatty client cannot hold the loop.
const FRAMES_PER_PASS: usize = 8;

/// Gunicorn's default: `$XDG_RUNTIME_DIR/gunicorn.ctl` when that directory exists, else
/// `$HOME/.gunicorn/gunicorn.ctl`.
pub(crate) fn default_path(env: &dyn Env) -> PathBuf {
    if let Some(x) = env.var("XDG_RUNTIME_DIR")
        && !x.is_empty()
        && Path::new(&x).is_dir()
    {
        return Path::new(&x).join("gunicorn.ctl");
    }
    let home = env
        .var("HOME")
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".gunicorn").join("gunicorn.ctl")
}

/// The path the settings ask for, absolute (a relative one is taken from the cwd now).
fn resolve(s: &Settings, env: &dyn Env) -> PathBuf {
    let p = match s.control_socket.as_deref() {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => default_path(env),
    };
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

struct Conn {
    stream: UnixStream,
    /// The frame being read (length prefix included); never more than one frame.
    inbuf: Vec<u8>,
    /// The answer being written, and how much of it is out.
    out: Vec<u8>,
    out_pos: usize,
    /// Last time a byte moved either way.
    last: Instant,
    /// Since when a frame or an answer has been half done.
    busy_since: Option<Instant>,
}

/// The listening socket and its clients.
pub(crate) struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    mode: u32,
    /// The socket file's (device, inode): whether the path is still ours (a USR2 child
    /// replaces it with its own).
    id: (u64, u64),
    conns: Vec<Conn>,
    /// Gunicorn's `start_time`, for `show stats`' uptime.
    started: Instant,
}

impl std::fmt::Debug for ControlSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlSocket")
            .field("path", &self.path)
            .finish()
    }
}

/// Starts the control socket unless `--no-control-socket`; a failure is a warning, as in
/// Gunicorn (the server runs without it).
pub(crate) fn open(s: &Settings, env: &dyn Env) -> Option<ControlSocket> {
    if s.control_socket_disable {
        tracing::debug!("Control socket disabled");
        return None;
    }
    let path = resolve(s, env);
    match bind(&path, s.control_socket_mode) {
        Ok((listener, id)) => {
            tracing::info!("Control socket listening at {}", path.display());
            Some(ControlSocket {
                listener,
                path,
                mode: s.control_socket_mode,
                id,
                conns: Vec::new(),
                started: Instant::now(),
            })
        }
        Err(e) => {
            tracing::warn!("Failed to start control socket at {}: {e}", path.display());
            None
        }
    }
}

fn bind(path: &Path, mode: u32) -> io::Result<(UnixListener, (u64, u64))> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    // A stale socket (a crashed master's, or the old master's on USR2) is replaced, as
    // Gunicorn does; anything else at the path is not ours to delete.
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        Err(_) => {}
    }
    // Bound under a umask that leaves at most 0600, so the socket is never wider than
    // asked for, not even between bind and chmod. The master has no threads, so the
    // process-wide umask is ours for these two calls.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let mut bound = UnixListener::bind(path);
    // Another master starting at the same moment on the same (default) path bound it
    // between our removal and our bind: the newest takes the path, as with Gunicorn.
    if bound
        .as_ref()
        .is_err_and(|e| e.kind() == io::ErrorKind::AddrInUse)
        && fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
        && fs::remove_file(path).is_ok()
    {
        bound = UnixListener::bind(path);
    }
    nix::sys::stat::umask(old);
    let listener = bound?;
    let ready = fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .and_then(|()| listener.set_nonblocking(true))
        .and_then(|()| fs::symlink_metadata(path));
    match ready {
        Ok(m) => Ok((listener, (m.dev(), m.ino()))),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

impl ControlSocket {
    /// Whether the socket file at our path is still the one we bound.
    fn owns_path(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
    }

    /// The path served (for `show config`).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Our USR2 child exited without taking over: bind the path again if it replaced (or
    /// removed) our socket file, so the control socket survives a failed upgrade.
    pub(crate) fn reclaim(&mut self) {
        if self.owns_path() {
            return;
        }
        match bind(&self.path, self.mode) {
            Ok((listener, id)) => {
                self.listener = listener;
                self.id = id;
                tracing::info!("Control socket listening at {}", self.path.display());
            }
            Err(e) => tracing::warn!("Failed to start control socket: {e}"),
        }
    }

    /// At exit: close, and remove the socket file unless a USR2 child has taken it over.
    pub(crate) fn close(self) {
        if self.owns_path() {
            let _ = fs::remove_file(&self.path);
        }
    }

    /// The descriptors the master's poll waits on.
    pub(crate) fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(1 + self.conns.len());
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        for c in &self.conns {
            let ev = if c.out_pos < c.out.len() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(c.stream.as_fd(), ev));
        }
        fds
    }

    fn accept(&mut self, now: Instant) {
        // Bounded, so a connection flood cannot keep the arbiter in this loop.
        for _ in 0..4 * MAX_CONNS {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.conns.len() >= MAX_CONNS
                        && let Some(i) = (0..self.conns.len()).min_by_key(|&i| self.conns[i].last)
                    {
                        self.conns.swap_remove(i);
                    }
                    self.conns.push(Conn {
                        stream,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        out_pos: 0,
                        last: now,
                        busy_since: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock, or a transient error (EMFILE, ECONNABORTED): next wake.
                Err(_) => break,
            }
        }
    }
}

/// What reading a connection gave.
enum Read1 {
    Frame(Vec<u8>),
    Pending,
    Close,
}

impl Conn {
    /// Reads toward one frame, never past its end (the next frame stays in the kernel).
    fn read_frame(&mut self, now: Instant) -> Read1 {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let need = if self.inbuf.len() < 4 {
                4 - self.inbuf.len()
            } else {
                let len = u32::from_be_bytes([
                    self.inbuf[0],
                    self.inbuf[1],
                    self.inbuf[2],
                    self.inbuf[3],
                ]) as usize;
                if len > MAX_FRAME {
                    return Read1::Close;
                }
                if self.inbuf.len() >= 4 + len {
                    let frame = self.inbuf[4..4 + len].to_vec();
                    self.inbuf.clear();
                    return Read1::Frame(frame);
                }
                4 + len - self.inbuf.len()
            };
            let want = need.min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => return Read1::Close,
                Ok(n) => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    self.last = now;
                    self.busy_since.get_or_insert(now);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read1::Pending,
                Err(_) => return Read1::Close,
            }
        }
    }

    /// Writes what it can of the answer; `false` when the connection is broken.
    fn flush(&mut self, now: Instant) -> bool {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return false,
                Ok(n) => {
                    self.out_pos += n;
                    self.last = now;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        self.out.clear();
        self.out_pos = 0;
        true
    }
}

/// `payload` with its 4-byte big-endian length in front.
fn encode(v: &Value) -> Vec<u8> {
    let payload = serde_json::to_vec(v).unwrap_or_default();
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// A request's command words: Gunicorn's `shlex.split(command)` plus `str(arg)` of each
/// of `args`. `Err` is the text after `Invalid argument: `; `Ok(None)` means the request
/// is malformed and the connection closes (Gunicorn's handler raises and drops it).
fn parse_request(msg: &Value) -> (Value, Result<Option<Vec<String>>, String>) {
    let Some(obj) = msg.as_object() else {
        return (Value::Null, Ok(None));
    };
    let id = obj.get("id").cloned().unwrap_or(json!(0));
    let command = match obj.get("command") {
        None => "",
        Some(Value::String(s)) => s.trim(),
        Some(_) => return (id, Ok(None)),
    };
    if command.is_empty() {
        return (id, Err("Empty command".into()));
    }
    let Some(mut parts) = shlex::split(command) else {
        return (id, Err("Invalid argument: No closing quotation".into()));
    };
    match obj.get("args") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => parts.extend(a.iter().map(py_str)),
        Some(_) => return (id, Ok(None)),
    }
    if parts.is_empty() {
        return (id, Err("Empty command".into()));
    }
    (id, Ok(Some(parts)))
}

/// Python's `str()` of a JSON value, as Gunicorn turns `args` into words.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Python's `int(text)`: surrounding blanks, a sign, digits with single underscores
/// between them. Out-of-range values saturate (they are counts or pids).
fn py_int(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid literal for int() with base 10: '{text}'");
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return Err(bad());
    }
    let mut v: i64 = 0;
    for b in digits.bytes().filter(|b| b.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Ok(if neg { -v } else { v })
}

fn count_arg(args: &[String]) -> Result<i64, String> {
    args.first().map_or(Ok(1), |a| py_int(a))
}

/// Seconds with two decimals, as Gunicorn rounds them.
fn secs2(ms: u64) -> f64 {
    (ms as f64 / 10.0).round() / 100.0
}

fn help() -> Value {
    let commands: Map<String, Value> = [
        (
            "show all",
            "Show all processes (arbiter, web workers, dirty workers)",
        ),
        ("show workers", "List HTTP workers with their status"),
        ("show dirty", "List dirty workers and apps"),
        ("show config", "Show current effective configuration"),
        ("show stats", "Show server statistics"),
        ("show listeners", "Show bound sockets"),
        ("worker add [N]", "Spawn N workers (default 1)"),
        ("worker remove [N]", "Remove N workers (default 1)"),
        ("worker kill <PID>", "Gracefully terminate specific worker"),
        ("dirty add [N]", "Spawn N dirty workers (default 1)"),
        ("dirty remove [N]", "Remove N dirty workers (default 1)"),
        ("reload", "Graceful reload (HUP)"),
        ("reopen", "Reopen log files (USR1)"),
        ("shutdown [graceful|quick]", "Shutdown server (TERM/INT)"),
        ("help", "Show this help message"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::from(v)))
    .collect();
    json!({ "commands": commands })
}

impl Arbiter {
    /// Serves the control socket's clients without blocking: accepts, reads frames,
    /// runs their commands, writes answers, drops finished, broken and expired clients.
    pub(super) fn serve_control(&mut self) {
        let Some(mut ctl) = self.control.take() else {
            return;
        };
        let now = Instant::now();
        ctl.accept(now);
        let mut conns = std::mem::take(&mut ctl.conns);
        conns.retain_mut(|c| self.drive(c, &ctl, now));
        ctl.conns = conns;
        self.control = Some(ctl);
    }

    /// One connection's pass; `false` drops it.
    fn drive(&mut self, c: &mut Conn, ctl: &ControlSocket, now: Instant) -> bool {
        for _ in 0..FRAMES_PER_PASS {
            if !c.flush(now) {
                return false;
            }
            if !c.out.is_empty() {
                break;
            }
            match c.read_frame(now) {
                Read1::Frame(frame) => {
                    let Some(answer) = self.answer(&frame, ctl) else {
                        return false;
                    };
                    c.out = encode(&answer);
                    c.out_pos = 0;
                }
                Read1::Pending => break,
                Read1::Close => return false,
            }
        }
        if c.inbuf.is_empty() && c.out.is_empty() {
            c.busy_since = None;
        } else {
            c.busy_since.get_or_insert(now);
        }
        let late = c
            .busy_since
            .is_some_and(|t| now.duration_since(t) >= FRAME_DEADLINE);
        !late && now.duration_since(c.last) < IDLE
    }

    /// The answer to one frame, or `None` to close the connection.
    fn answer(&mut self, frame: &[u8], ctl: &ControlSocket) -> Option<Value> {
        let msg: Value = serde_json::from_slice(frame).ok()?;
        let (id, parts) = parse_request(&msg);
        let result = match parts {
            Ok(None) => return None,
            Ok(Some(parts)) => {
                tracing::debug!("control command: {}", parts.join(" "));
                self.execute(&parts, ctl)
                    .map_err(|e| format!("Invalid argument: {e}"))
            }
            Err(e) => Err(e),
        };
        Some(match result {
            Ok(data) => json!({ "id": id, "status": "ok", "data": data }),
            Err(e) => json!({ "id": id, "status": "error", "error": e }),
        })
    }

    /// Gunicorn's `_execute_command`; `Err` is a `ValueError`'s text.
    fn execute(&mut self, parts: &[String], ctl: &ControlSocket) -> Result<Value, String> {
        let cmd = parts[0].to_lowercase();
        let rest = &parts[1..];
        let arg = |i: usize| rest.get(i).map(|s| s.to_lowercase());
        match cmd.as_str() {
            "show" => match arg(0).as_deref() {
                None => {
                    Err("Missing show target (all|workers|dirty|config|stats|listeners)".into())
                }
                Some("all") => Ok(self.show_all()),
                Some("workers") => Ok(self.show_workers()),
                Some("dirty") => Ok(json!({
                    "enabled": false, "pid": null, "workers": [], "apps": [],
                })),
                Some("config") => Ok(self.show_config(ctl)),
                Some("stats") => Ok(self.show_stats(ctl)),
                Some("listeners") => Ok(self.show_listeners()),
                Some(t) => Err(format!("Unknown show target: {t}")),
            },
            "worker" => match arg(0).as_deref() {
                None => Err("Missing worker action (add|remove|kill)".into()),
                Some("add") => Ok(self.worker_add(count_arg(&rest[1..])?)),
                Some("remove") => Ok(self.worker_remove(count_arg(&rest[1..])?)),
                Some("kill") => {
                    let pid = rest.get(1).ok_or("Missing PID for worker kill")?;
                    Ok(self.worker_kill(py_int(pid)?))
                }
                Some(a) => Err(format!("Unknown worker action: {a}")),
            },
            // No dirty arbiter runs here: Gunicorn's answers when it is not running.
            "dirty" => match arg(0).as_deref() {
                None => Err("Missing dirty action (add|remove)".into()),
                Some("add" | "remove") => {
                    count_arg(&rest[1..])?;
                    Ok(json!({ "success": false, "error": "Dirty arbiter not running" }))
                }
                Some(a) => Err(format!("Unknown dirty action: {a}")),
            },
            "reload" => {
                signal_self(Signal::SIGHUP);
                Ok(json!({ "status": "reloading" }))
            }
            "reopen" => {
                signal_self(Signal::SIGUSR1);
                Ok(json!({ "status": "reopening" }))
            }
            "shutdown" => {
                let mode = rest.first().map_or("graceful", String::as_str);
                signal_self(if mode == "quick" {
                    Signal::SIGINT
                } else {
                    Signal::SIGTERM
                });
                Ok(json!({ "status": "shutting_down", "mode": mode }))
            }
            "help" => Ok(help()),
            _ => Err(format!("Unknown command: {cmd}")),
        }
    }

    /// Live workers (draining ones included, as in Gunicorn's `WORKERS`), oldest first.
    fn workers_by_age(&self) -> Vec<(i32, &super::WorkerInfo)> {
        let mut ws: Vec<_> = self.workers.iter().map(|(&p, w)| (p, w)).collect();
        ws.sort_by_key(|(_, w)| w.age);
        ws
    }

    fn show_workers(&self) -> Value {
        let workers: Vec<Value> = self
            .workers_by_age()
            .into_iter()
            .map(|(pid, w)| {
                let slot = self.table.slot(w.nr);
                json!({
                    "pid": pid,
                    "age": w.age,
                    "booted": slot.state() != state::BOOTING,
                    "aborted": w.aborted_at.is_some(),
                    "last_heartbeat": secs2(slot.silence_ms()),
                })
            })
            .collect();
        let count = workers.len();
        json!({ "workers": workers, "count": count })
    }

    fn show_all(&self) -> Value {
        let web: Vec<Value> = self
            .workers_by_age()
            .into_iter()
            .map(|(pid, w)| {
                let slot = self.table.slot(w.nr);
                json!({
                    "pid": pid,
                    "type": "web",
                    "age": w.age,
                    "booted": slot.state() != state::BOOTING,
                    "last_heartbeat": secs2(slot.silence_ms()),
                })
            })
            .collect();
        let count = web.len();
        json!({
            "arbiter": { "pid": std::process::id(), "type": "arbiter", "role": "master" },
            "web_workers": web,
            "web_worker_count": count,
            "dirty_arbiter": null,
            "dirty_workers": [],
            "dirty_worker_count": 0,
        })
    }

    fn show_config(&self, ctl: &ControlSocket) -> Value {
        let s = &self.settings;
        let bind: Vec<String> = s.bind.iter().map(ToString::to_string).collect();
        // Gunicorn's proc_name defaults to the app's import string.
        let proc_name = s
            .proc_name
            .clone()
            .or_else(|| s.paste.as_ref().map(|p| p.file.display().to_string()))
            .or_else(|| s.wsgi_app.clone())
            .unwrap_or_else(|| "runicorn".into());
        json!({
            "bind": bind,
            "workers": s.workers,
            "worker_class": s.worker_class.effective_name(s.threads),
            "threads": s.threads,
            "timeout": s.timeout,
            "graceful_timeout": s.graceful_timeout,
            "keepalive": s.keepalive,
            "max_requests": s.max_requests,
            "max_requests_jitter": s.max_requests_jitter,
            "worker_connections": s.worker_connections,
            "preload_app": s.preload_app,
            "daemon": s.daemon,
            "pidfile": s.pidfile.as_ref().map(|p| p.display().to_string()),
            "proc_name": proc_name,
            "reload": s.reload,
            "dirty_workers": s.dirty_workers,
            "dirty_apps": s.dirty_apps,
            "dirty_timeout": s.dirty_timeout,
            "control_socket": ctl.path().display().to_string(),
            "control_socket_disable": s.control_socket_disable,
        })
    }

    fn show_stats(&self, ctl: &ControlSocket) -> Value {
        json!({
            "uptime": secs2(ctl.started.elapsed().as_millis() as u64),
            "pid": std::process::id(),
            "workers_current": self.workers.len(),
            "workers_target": self.num_workers,
            // Every fork is a new age; every HUP a new generation.
            "workers_spawned": self.worker_age,
            "workers_killed": self.killed,
            "reloads": self.generation,
            "dirty_arbiter_pid": null,
        })
    }

    fn show_listeners(&self) -> Value {
        let listeners: Vec<Value> = self
            .listeners
            .iter()
            .map(|l| {
                let address = l.to_string();
                let kind = if address.starts_with("http://[") {
                    "tcp6"
                } else if address.starts_with("http://") {
                    "tcp"
                } else {
                    "unix"
                };
                json!({ "address": address, "fd": l.raw_fd(), "type": kind })
            })
            .collect();
        let count = listeners.len();
        json!({ "listeners": listeners, "count": count })
    }

    fn worker_add(&mut self, count: i64) -> Value {
        let old = self.num_workers;
        // TTIN's ceiling: half the heartbeat slots, so a HUP's new generation still fits.
        let cap = (heartbeat::MAX_SLOTS / 2) as i64;
        let new = (i64::from(old) + count.max(1)).min(cap).max(i64::from(old)) as u32;
        self.set_num_workers(new);
        json!({ "added": new - old, "previous": old, "total": new })
    }

    fn worker_remove(&mut self, count: i64) -> Value {
        let old = self.num_workers;
        let new = (i64::from(old) - count.max(1)).max(1).min(i64::from(old)) as u32;
        self.set_num_workers(new);
        json!({ "removed": old - new, "previous": old, "total": new })
    }

    fn set_num_workers(&mut self, new: u32) {
        let old = self.num_workers;
        if new != old {
            self.num_workers = new;
            crate::hooks::nworkers_changed(new, Some(old));
        }
    }

    fn worker_kill(&mut self, pid: i64) -> Value {
        match i32::try_from(pid) {
            Ok(p) if self.workers.contains_key(&p) => {
                // Marked as draining, so its replacement is forked at once.
                self.terminate(p);
                json!({ "success": true, "killed": pid })
            }
            _ => json!({ "success": false, "error": format!("Worker {pid} not found") }),
        }
    }
}

/// Gunicorn's `os.kill(arbiter.pid, sig)`: the loop handles it as the signal.
fn signal_self(sig: Signal) {
    let _ = kill(Pid::this(), sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(v: Value) -> Result<Option<Vec<String>>, String> {
        parse_request(&v).1
    }

    #[test]
    fn requests_parse_as_gunicorn_does() {
        assert_eq!(
            parts(json!({"id": 1, "command": "worker add 2", "args": []})),
            Ok(Some(vec!["worker".into(), "add".into(), "2".into()]))
        );
        assert_eq!(
            parts(json!({"id": 1, "command": "worker add", "args": [3, true]})),
            Ok(Some(vec![
                "worker".into(),
                "add".into(),
                "3".into(),
                "True".into()
            ]))
        );
        assert_eq!(parse_request(&json!({"command": "help"})).0, json!(0));
        assert_eq!(
            parse_request(&json!({"id": "x", "command": "help"})).0,
            json!("x")
        );
        assert_eq!(parts(json!({"command": "  "})), Err("Empty command".into()));
        assert_eq!(parts(json!({})), Err("Empty command".into()));
        assert!(parts(json!({"command": "show 'workers"})).is_err());
        // Gunicorn's handler raises on these and drops the connection.
        assert_eq!(parts(json!([1, 2])), Ok(None));
        assert_eq!(parts(json!({"command": 5})), Ok(None));
        assert_eq!(
            parts(json!({"command": "help", "args": {"a": 1}})),
            Ok(None)
        );
    }

    #[test]
    fn ints_parse_as_python_does() {
        assert_eq!(py_int(" 2 "), Ok(2));
        assert_eq!(py_int("+1_0"), Ok(10));
        assert_eq!(py_int("-3"), Ok(-3));
        assert_eq!(py_int("99999999999999999999999"), Ok(i64::MAX));
        for bad in ["", "x", "1.5", "_1", "1__0", "1_", "--1", "0x10"] {
            assert_eq!(
                py_int(bad),
                Err(format!("invalid literal for int() with base 10: '{bad}'")),
                "{bad:?}"
            );
        }
        assert_eq!(count_arg(&[]), Ok(1));
    }

    #[test]
    fn frames_are_length_prefixed_json() {
        let out = encode(&json!({"a": 1}));
        assert_eq!(&out[..4], &7u32.to_be_bytes());
        assert_eq!(&out[4..], br#"{"a":1}"#);
        assert_eq!(secs2(1234), 1.23);
        assert_eq!(secs2(0), 0.0);
    }

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, key: &str) -> Option<String> {
            (key == "HOME").then(|| "/home/someone".into())
        }
    }

    #[test]
    fn default_path_is_gunicorns() {
        assert_eq!(
            default_path(&NoEnv),
            PathBuf::from("/home/someone/.gunicorn/gunicorn.ctl")
        );
    }

    #[test]
    fn socket_file_mode_replacement_and_removal() {
        let dir = std::env::temp_dir().join(format!("runicorn-ctl-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("x.ctl");
        let (l, id) = bind(&path, 0o600).unwrap();
        let meta = fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let first = ControlSocket {
            listener: l,
            path: path.clone(),
            mode: 0o600,
            id,
            conns: Vec::new(),
            started: Instant::now(),
        };
        // A second bind (a USR2 child) replaces the file; the first no longer owns it
        // and leaves it in place when it closes.
        let (l2, id2) = bind(&path, 0o660).unwrap();
        assert_eq!(
            fs::symlink_metadata(&path).unwrap().permissions().mode() & 0o777,
            0o660
        );
        assert!(!first.owns_path());
        first.close();
        assert!(path.exists());
        let second = ControlSocket {
            listener: l2,
            path: path.clone(),
            mode: 0o660,
            id: id2,
            conns: Vec::new(),
            started: Instant::now(),
        };
        second.close();
        assert!(!path.exists());
        // A regular file at the path is left alone.
        fs::write(&path, "x").unwrap();
        assert!(bind(&path, 0o600).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
