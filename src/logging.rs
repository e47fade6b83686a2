//! The error log: Gunicorn's line format (`[2026-11-24 21:15:51 +0000] [13245] [INFO] msg`)
//! behind `tracing`, written to stderr or a file that USR1/HUP reopen.
//!
//! Lines are written synchronously under a mutex. The master must not start threads
//! before it forks, which rules out tracing-appender's background writer there, and error
//! lines are rare enough that a direct write(2) per line costs nothing measurable. The
//! sink and level live in statics so a HUP can change them without re-installing the
//! global subscriber (tracing allows that only once per process).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::config::LogLevel;

/// Target that marks an `error!` event as Gunicorn's CRITICAL level.
pub(crate) const CRITICAL: &str = "critical";

/// Logs at Gunicorn's CRITICAL level (`WORKER TIMEOUT`).
#[macro_export]
macro_rules! critical {
    ($($arg:tt)*) => { ::tracing::error!(target: $crate::logging::CRITICAL, $($arg)*) };
}

enum Sink {
    Stderr,
    File { path: PathBuf, file: File },
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Where each error line also goes (syslog, StatsD's `gunicorn.log.*` counters): set
/// once by the layer that owns those outputs, so this module needs nothing above it.
static TAP: std::sync::OnceLock<fn(LogLevel, &str)> = std::sync::OnceLock::new();

/// Sends every error line written from now on (its message, without the local timestamp
/// prefix) to `tap` too. The first call wins: the tap reads its own current sinks.
pub(crate) fn set_tap(tap: fn(LogLevel, &str)) {
    let _ = TAP.set(tap);
}
/// Minimum level, as `LogLevel as u8`.
static MIN_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

fn level_of(meta: &Metadata<'_>) -> LogLevel {
    // h2 warns once per abusive connection (a rapid-reset flood, too many locally reset
    // streams) without saying which peer; one client could fill the error log with them.
    // The server logs those connections itself, with the peer and rate-limited.
    let target = meta.target();
    if target.starts_with("h2::") || target.starts_with("hyper::") {
        return LogLevel::Debug;
    }
    match *meta.level() {
        Level::ERROR if meta.target() == CRITICAL => LogLevel::Critical,
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// Whether events at `level` are written (for callers that would do work to build one).
pub(crate) fn enabled(level: LogLevel) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

struct GunicornFormat;

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for GunicornFormat {
    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // Dependencies (hyper, h2) log at debug/trace through tracing; keep them out of
        // the error log unless asked for at debug level.
        enabled(level_of(meta))
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = level_of(event.metadata());
        let mut line = String::with_capacity(128);
        let _ = write!(
            line,
            "{} [{}] [{}] ",
            chrono::Local::now().format("[%Y-%m-%d %H:%M:%S %z]"),
            std::process::id(),
            level.as_str()
        );
        let message_at = line.len();
        event.record(&mut Message(&mut line));
        line.push('\n');
        write_line(line.as_bytes());
        // Syslog and StatsD's `gunicorn.log.*` counters see the same message, without
        // the local timestamp prefix (syslog adds its own header).
        if let Some(tap) = TAP.get() {
            tap(level, &line[message_at..line.len() - 1]);
        }
    }
}

fn local_line(level: LogLevel, message: &str) -> String {
    format!(
        "{} [{}] [{}] {message}\n",
        chrono::Local::now().format("[%Y-%m-%d %H:%M:%S %z]"),
        std::process::id(),
        level.as_str()
    )
}

/// Writes a line to the local error log only, bypassing `tracing` and the syslog/StatsD
/// hooks: for reporting that those outputs are failing (going through them would recurse)
/// and regardless of `--log-level`.
pub(crate) fn write_local(level: LogLevel, message: &str) {
    write_line(local_line(level, message).as_bytes());
}

fn write_line(bytes: &[u8]) {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    // A failing error log has nowhere better to report to; dropping the line is the only
    // choice that never takes the server down.
    let _ = match sink.as_mut() {
        Some(Sink::File { file, .. }) => file.write_all(bytes),
        Some(Sink::Stderr) | None => io::stderr().write_all(bytes),
    };
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Installs the global subscriber (once per process) and points it at `errorlog`
/// (`-` = stderr) with minimum `level`. Calling it again (HUP) switches sink and level.
pub(crate) fn init(errorlog: &str, level: LogLevel) -> io::Result<()> {
    let sink = if errorlog == "-" {
        Sink::Stderr
    } else {
        let path = PathBuf::from(errorlog);
        let file = open_append(&path)?;
        Sink::File { path, file }
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
    let subscriber = tracing_subscriber::registry().with(GunicornFormat);
    // Fails only when already installed, which is the HUP case: nothing to do.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// Reopens the error-log file (USR1, logrotate). A failure keeps the old handle.
pub(crate) fn reopen() -> io::Result<()> {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Sink::File { path, file }) = sink.as_mut() {
        *file = open_append(path)?;
    }
    Ok(())
}

/// The error-log file, when it is not stderr (for `--capture-output`).
pub(crate) fn file_path() -> Option<PathBuf> {
    match SINK.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(Sink::File { path, .. }) => Some(path.clone()),
        _ => None,
    }
}

/// `--capture-output`: points the process's stdout and stderr at the error-log file, so
/// prints from the app land in the log. A no-op when the error log is stderr.
pub(crate) fn capture_output() -> io::Result<()> {
    if let Some(path) = file_path() {
        let file = open_append(&path)?;
        nix::unistd::dup2_stdout(&file)?;
        nix::unistd::dup2_stderr(&file)?;
    }
    Ok(())
}
