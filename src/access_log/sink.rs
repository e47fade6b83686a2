//! [`AccessLog`]: renders lines into one reused per-process buffer and gets them to
//! `--access-logfile` (a path, or `-` for stdout) without ever blocking a request on I/O.
//!
//! Data flow: `log()` locks the buffer, renders the line into it and, when the buffer passes
//! [`SHIP_AT`], hands the whole buffer to a writer thread over a bounded channel. The writer
//! thread does the `write(2)`s; it also ships whatever is buffered once a second, so a quiet
//! server's lines show up within a second. When the channel is full (the disk or pipe is
//! slower than the traffic), the batch is dropped and counted instead of blocking: an access
//! log must never take the server down.
//!
//! Multi-process safety: the file is opened `O_APPEND` and only whole lines are written, one
//! `write(2)` per batch for files. For stdout (usually a pipe, where only writes of up to
//! `PIPE_BUF` bytes are atomic) batches are written in chunks of at most 4096 bytes cut at line
//! ends, so lines from several workers never interleave.
//!
//! Threads and `fork()`: [`AccessLog::open`] starts nothing. The writer thread starts on the
//! first [`AccessLog::log`] (or an explicit [`AccessLog::start`]), which happens in a worker,
//! after the fork, so the master stays single-threaded.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::Clock;

/// Where access lines also go (syslog, with `--log-syslog`): set once by the layer that
/// owns that output, which gets each written batch of whole `\n`-ended lines.
static TAP: std::sync::OnceLock<fn(&[u8])> = std::sync::OnceLock::new();

/// Hands every batch of access lines written from now on to `tap` too. The first call
/// wins: the tap reads its own current sinks.
pub fn set_tap(tap: fn(&[u8])) {
    let _ = TAP.set(tap);
}
use super::format::{Format, Needs};
use super::record::Record;
use super::render::Context;

/// Ship the buffer to the writer once it holds this much (the buffer's capacity is twice it,
/// so a typical line never makes it reallocate).
pub const SHIP_AT: usize = 32 * 1024;
/// How many filled buffers may wait for the writer before new ones are dropped.
pub const QUEUE_DEPTH: usize = 16;
/// Largest atomic write to a pipe on Linux (`PIPE_BUF`).
const PIPE_CHUNK: usize = 4096;
/// Buffered lines reach the file at least this often.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// After a failed write, batches are dropped (and counted) for this long instead of retried.
const BACKOFF: Duration = Duration::from_secs(1);

/// Callback for write failures; called once per outage (first failure after a success).
pub type ErrorHandler = Box<dyn Fn(&str, &io::Error) + Send + Sync>;

/// Counters, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines rendered by [`AccessLog::log`].
    pub lines: u64,
    /// Lines lost: queue full, or a failed write.
    pub dropped: u64,
    /// Failed `write(2)` / reopen attempts.
    pub write_errors: u64,
}

/// The access log of one process: a compiled format plus where its lines go.
pub struct AccessLog {
    format: Format,
    shared: Arc<Shared>,
}

/// What the writer thread and the callers share.
struct Shared {
    /// `-` or the path, for messages.
    name: String,
    path: Option<PathBuf>,
    state: Mutex<State>,
    out: Mutex<Output>,
    lines: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    on_error: Mutex<ErrorHandler>,
}

/// The caller side: the line buffer and what rendering needs.
struct State {
    buf: Vec<u8>,
    buf_lines: u64,
    clock: Clock,
    pid: u32,
    writer: Option<Writer>,
}

struct Writer {
    tx: SyncSender<Msg>,
    /// Emptied buffers come back here, so steady state allocates nothing.
    recycled: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

enum Msg {
    Batch(Batch),
    /// Everything sent before has been written when the ack arrives.
    Sync(Sender<()>),
    Stop,
}

struct Batch {
    bytes: Vec<u8>,
    lines: u64,
}

/// The file side, only touched by whoever writes.
struct Output {
    /// None: lines go to syslog only (`--log-syslog` without `--access-logfile`).
    file: Option<File>,
    is_stdout: bool,
    /// Set after a failed write: drop batches until then.
    failing_until: Option<Instant>,
    /// An outage has been reported and not yet recovered from.
    reported: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the buffer half-valid in a way that
    // matters more than losing the log; keep logging.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AccessLog {
    /// Opens `target`: `-` for stdout, anything else a file path (created if missing,
    /// appended to). Starts no thread (see the module docs).
    ///
    /// # Errors
    ///
    /// The file cannot be opened, or stdout cannot be duplicated.
    pub fn open(target: &str, format: Format) -> io::Result<AccessLog> {
        let (file, path, is_stdout) = if target == "-" {
            // A dup of fd 1, written without Rust's line-buffered `Stdout` in between.
            (
                Some(File::from(io::stdout().as_fd().try_clone_to_owned()?)),
                None,
                true,
            )
        } else if target.is_empty() {
            (None, None, false)
        } else {
            (
                Some(open_append(target)?),
                Some(PathBuf::from(target)),
                false,
            )
        };
        let name = target.to_owned();
        let shared = Arc::new(Shared {
            on_error: Mutex::new(Box::new(|name, err| {
                eprintln!(
                    "runicorn: access log {name}: write failed ({err}); dropping lines until it recovers"
                );
            })),
            name,
            path,
            state: Mutex::new(State {
                buf: Vec::with_capacity(2 * SHIP_AT),
                buf_lines: 0,
                clock: Clock::default(),
                pid: 0,
                writer: None,
            }),
            out: Mutex::new(Output {
                file,
                is_stdout,
                failing_until: None,
                reported: false,
            }),
            lines: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        });
        Ok(AccessLog { format, shared })
    }

    /// An access log with no file: its lines only reach syslog (Gunicorn enables its
    /// access logger for `--log-syslog` alone). Starts no thread.
    pub fn syslog_only(format: Format) -> AccessLog {
        Self::open("", format).expect("opening no file cannot fail")
    }

    /// Replaces the write-failure callback (default: one line on stderr per outage).
    pub fn with_error_handler(self, handler: ErrorHandler) -> AccessLog {
        *lock(&self.shared.on_error) = handler;
        self
    }

    /// What each request must capture for this log's format.
    pub fn needs(&self) -> &Needs {
        self.format.needs()
    }

    /// The compiled format.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Starts the writer thread now (otherwise the first [`AccessLog::log`] does). Call it
    /// only in a worker, never in the master before it forks. Idempotent.
    pub fn start(&self) {
        let mut st = lock(&self.shared.state);
        self.start_locked(&mut st);
    }

    fn start_locked(&self, st: &mut State) {
        if st.writer.is_some() {
            return;
        }
        // Taken here, after the fork, so `p` is the worker's pid.
        st.pid = std::process::id();
        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let (rtx, recycled) = mpsc::channel();
        let weak = Arc::downgrade(&self.shared);
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer_loop(&weak, &rx, &rtx))
            .ok();
        // Without a thread (spawn failed) the channel has no reader: batches are written
        // synchronously instead, see `ship`.
        st.writer = Some(Writer {
            tx,
            recycled,
            thread,
        });
    }

    /// Renders one line for `rec` and buffers it. Never blocks on I/O and never fails.
    pub fn log(&self, rec: &Record<'_>) {
        let mut guard = lock(&self.shared.state);
        let st = &mut *guard;
        if st.writer.is_none() {
            self.start_locked(st);
        }
        let needs_time = self.format.needs().time;
        let stamp = if needs_time {
            Some(st.clock.now())
        } else {
            None
        };
        let cx = Context {
            clf_time: stamp.map_or("", |s| s.clf.as_str()),
            iso_time: stamp.map_or("", |s| s.iso.as_str()),
            pid: st.pid,
        };
        self.format.render(rec, &cx, &mut st.buf);
        st.buf.push(b'\n');
        st.buf_lines += 1;
        self.shared.lines.fetch_add(1, Ordering::Relaxed);
        if st.buf.len() >= SHIP_AT {
            self.shared.ship(st);
        }
    }

    /// Writes everything logged so far and waits (up to 5 s) until it is written. For
    /// graceful shutdown; `Drop` does the same.
    pub fn flush(&self) {
        let ack = {
            let mut st = lock(&self.shared.state);
            self.shared.ship(&mut st);
            match &st.writer {
                Some(w) if w.thread.is_some() => {
                    let (atx, arx) = mpsc::channel();
                    // A blocking send: flush is rare and must not skip the queue.
                    w.tx.send(Msg::Sync(atx)).ok().map(|()| arx)
                }
                _ => None,
            }
        };
        if let Some(arx) = ack {
            let _ = arx.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Flushes, then reopens the file at the same path (USR1 / logrotate): lines logged
    /// before the call land in the old file, later ones in the new, none is lost.
    ///
    /// # Errors
    ///
    /// The path cannot be opened; the old file stays in use.
    pub fn reopen(&self) -> io::Result<()> {
        self.flush();
        let Some(path) = &self.shared.path else {
            return Ok(());
        };
        let file = open_append(path).inspect_err(|_| {
            self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
        })?;
        lock(&self.shared.out).file = Some(file);
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            lines: self.shared.lines.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            write_errors: self.shared.write_errors.load(Ordering::Relaxed),
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.flush();
        let writer = lock(&self.shared.state).writer.take();
        if let Some(mut w) = writer {
            let _ = w.tx.send(Msg::Stop);
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("target", &self.shared.name)
            .field("format", &self.format.to_string())
            .finish()
    }
}

fn open_append(path: impl AsRef<std::path::Path>) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

impl Shared {
    /// Hands the current buffer to the writer (or writes it here if there is no writer).
    fn ship(&self, st: &mut State) {
        if st.buf.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut st.buf_lines);
        let fresh = st
            .writer
            .as_ref()
            .and_then(|w| w.recycled.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(2 * SHIP_AT));
        let bytes = std::mem::replace(&mut st.buf, fresh);
        let batch = Batch { bytes, lines };
        match &st.writer {
            Some(w) if w.thread.is_some() => match w.tx.try_send(Msg::Batch(batch)) {
                Ok(()) => {}
                Err(
                    TrySendError::Full(Msg::Batch(b)) | TrySendError::Disconnected(Msg::Batch(b)),
                ) => {
                    self.dropped.fetch_add(b.lines, Ordering::Relaxed);
                }
                Err(_) => {}
            },
            // Not started, or no thread could be spawned: write in the caller.
            _ => {
                let _ = self.write_batch(&batch);
            }
        }
    }

    /// Writes one batch of whole lines; returns the emptied buffer for reuse.
    fn write_batch(&self, batch: &Batch) -> io::Result<()> {
        // Syslog gets one message per line (Gunicorn's SysLogHandler on the access
        // logger); its sender never blocks and reports its own outages.
        if let Some(tap) = TAP.get() {
            tap(&batch.bytes);
        }
        let mut out = lock(&self.out);
        let now = Instant::now();
        if out.file.is_none() {
            return Ok(());
        }
        if out.failing_until.is_some_and(|t| now < t) {
            self.dropped.fetch_add(batch.lines, Ordering::Relaxed);
            return Ok(());
        }
        let is_stdout = out.is_stdout;
        let res = match out.file.as_mut() {
            Some(file) if is_stdout => write_chunked(file, &batch.bytes),
            Some(file) => file.write_all(&batch.bytes),
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                out.failing_until = None;
                out.reported = false;
                Ok(())
            }
            Err(e) => {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                self.dropped.fetch_add(batch.lines, Ordering::Relaxed);
                out.failing_until = Some(now + BACKOFF);
                if !out.reported {
                    out.reported = true;
                    (lock(&self.on_error))(&self.name, &e);
                }
                Err(e)
            }
        }
    }
}

/// Writes `bytes` (whole lines) in `write(2)` calls of at most [`PIPE_CHUNK`] bytes, each
/// ending at a newline; a single longer line is written on its own.
fn write_chunked(w: &mut impl Write, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let cut = if bytes.len() <= PIPE_CHUNK {
            bytes.len()
        } else {
            match bytes[..PIPE_CHUNK].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| i + 1),
            }
        };
        w.write_all(&bytes[..cut])?;
        bytes = &bytes[cut..];
    }
    Ok(())
}

fn writer_loop(shared: &Weak<Shared>, rx: &Receiver<Msg>, recycle: &Sender<Vec<u8>>) {
    let mut next_tick = Instant::now() + FLUSH_INTERVAL;
    loop {
        let msg = rx.recv_timeout(next_tick.saturating_duration_since(Instant::now()));
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match msg {
            Ok(Msg::Batch(mut b)) => {
                let _ = shared.write_batch(&b);
                b.bytes.clear();
                let _ = recycle.send(b.bytes);
            }
            Ok(Msg::Sync(ack)) => {
                let _ = ack.send(());
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + FLUSH_INTERVAL;
                // Take what is buffered (whole lines only) and write it from here.
                let batch = {
                    let mut st = lock(&shared.state);
                    if st.buf.is_empty() {
                        None
                    } else {
                        let lines = std::mem::take(&mut st.buf_lines);
                        let fresh = st
                            .writer
                            .as_ref()
                            .and_then(|w| w.recycled.try_recv().ok())
                            .unwrap_or_default();
                        Some(Batch {
                            bytes: std::mem::replace(&mut st.buf, fresh),
                            lines,
                        })
                    }
                };
                if let Some(mut b) = batch {
                    let _ = shared.write_batch(&b);
                    b.bytes.clear();
                    let _ = recycle.send(b.bytes);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("runicorn-al-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("access.log")
    }

    fn rec(status: u16) -> Record<'static> {
        Record {
            peer: Some("127.0.0.1:1".parse().unwrap()),
            method: Some("GET"),
            target: Some("/"),
            version: Some(http::Version::HTTP_11),
            status,
            body_bytes: Some(0),
            ..Record::default()
        }
    }

    #[test]
    fn lines_reach_the_file_on_flush() {
        let path = tmp("flush");
        let _ = std::fs::remove_file(&path);
        let log = AccessLog::open(
            path.to_str().unwrap(),
            Format::compile("%(s)s %(p)s").unwrap(),
        )
        .unwrap();
        for s in [200, 404] {
            log.log(&rec(s));
        }
        log.flush();
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("200 <{pid}>\n404 <{pid}>\n")
        );
        assert_eq!(
            log.stats(),
            Stats {
                lines: 2,
                dropped: 0,
                write_errors: 0
            }
        );
    }

    #[test]
    fn quiet_logs_are_flushed_within_a_second() {
        let path = tmp("tick");
        let _ = std::fs::remove_file(&path);
        let log =
            AccessLog::open(path.to_str().unwrap(), Format::compile("%(s)s").unwrap()).unwrap();
        log.log(&rec(201));
        let deadline = Instant::now() + Duration::from_secs(3);
        while std::fs::read_to_string(&path).unwrap() != "201\n" {
            assert!(
                Instant::now() < deadline,
                "not flushed by the writer thread"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn reopen_after_rotation_loses_nothing() {
        let path = tmp("rotate");
        let rotated = path.with_extension("log.1");
        let _ = std::fs::remove_file(&path);
        let log =
            AccessLog::open(path.to_str().unwrap(), Format::compile("%(s)s").unwrap()).unwrap();
        log.log(&rec(200));
        std::fs::rename(&path, &rotated).unwrap();
        log.log(&rec(201)); // after the rename, before USR1: belongs to the old file
        log.reopen().unwrap();
        log.log(&rec(202));
        drop(log);
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "200\n201\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "202\n");
    }

    #[test]
    fn big_volumes_are_whole_lines() {
        let path = tmp("volume");
        let _ = std::fs::remove_file(&path);
        let log = AccessLog::open(path.to_str().unwrap(), Format::default()).unwrap();
        let n: u64 = 20_000;
        for _ in 0..n {
            log.log(&rec(200));
        }
        log.flush();
        let stats = log.stats();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let kept = text.lines().count() as u64;
        assert!(text.ends_with('\n'));
        assert!(
            text.lines()
                .all(|l| l.starts_with("127.0.0.1 - - [") && l.ends_with("\"-\" \"-\""))
        );
        // Nothing is lost unless the queue overflowed, and then it is counted.
        assert_eq!(kept + stats.dropped, n);
    }

    #[test]
    fn write_failures_are_counted_and_reported_once() {
        // /dev/full fails every write with ENOSPC.
        let Ok(log) = AccessLog::open("/dev/full", Format::compile("%(s)s").unwrap()) else {
            return;
        };
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let log = log.with_error_handler(Box::new(move |_, _| {
            c.fetch_add(1, Ordering::Relaxed);
        }));
        for _ in 0..3 {
            log.log(&rec(200));
            log.flush();
        }
        let s = log.stats();
        assert_eq!(s.lines, 3);
        assert_eq!(s.dropped, 3);
        assert_eq!(s.write_errors, 1); // later batches fell in the back-off window
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn pipe_chunks_end_at_newlines() {
        let mut line = vec![b'a'; 99];
        line.push(b'\n');
        let data: Vec<u8> = line.iter().copied().cycle().take(100 * 100).collect();
        struct Rec(Vec<usize>, Vec<u8>);
        impl Write for Rec {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.push(b.len());
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Rec(Vec::new(), Vec::new());
        write_chunked(&mut w, &data).unwrap();
        assert_eq!(w.1, data);
        assert!(
            w.0.iter().all(|&n| n <= PIPE_CHUNK && n % 100 == 0),
            "{:?}",
            w.0
        );
    }
}
