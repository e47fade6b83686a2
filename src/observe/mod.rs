//! Observability outputs beside the error and access logs: syslog (`--log-syslog*`),
//! StatsD (`--statsd-*`, Gunicorn's metrics) and the Prometheus endpoint
//! (`--metrics-bind`, a runicorn addition).
//!
//! | module     | owns |
//! |------------|------|
//! | `syslog`   | the wire format and the non-blocking sender (targets are `config::target`'s) |
//! | `statsd`   | Gunicorn's metric lines and prefix rule, the datagram sender |
//! | `metrics`  | the Prometheus exposition text of the scoreboard's counters |
//! | `endpoint` | the master's bounded non-blocking HTTP responder for scrapes |
//! | `master`   | the master's side: counters table, totals, restarts, endpoint, gauges |
//!
//! This module holds the process-wide sinks the loggers feed (registered as the error
//! log's and access log's taps by [`install`]) and the per-worker request hook
//! ([`RequestObserver`]). Sinks are built by the master (at start and on HUP) and
//! inherited by workers through fork; none of them starts a thread.

pub(crate) mod endpoint;
mod master;
pub(crate) mod metrics;
pub(crate) mod statsd;
pub(crate) mod syslog;

pub(crate) use master::{MasterObs, ReapReason};

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::{LogLevel, Settings};

/// Reports a failing output once per outage: an outage ends after [`Outage::QUIET`]
/// without failures. (A connected UDP socket alternates refused and accepted sends
/// while its target is down, so "until the next success" would report every other
/// message.)
#[derive(Debug, Default)]
pub(crate) struct Outage(std::sync::atomic::AtomicU64);

impl Outage {
    const QUIET_MS: u64 = 60_000;

    /// Records a failure; true when it starts a new outage (report it).
    pub(crate) fn failed(&self) -> bool {
        // +1: a clock reading of 0 must not look like "never failed".
        let now = crate::scoreboard::monotonic_ms() + 1;
        let prev = self.0.swap(now, Relaxed);
        prev == 0 || now.saturating_sub(prev) > Self::QUIET_MS
    }
}

/// The sinks of this process's loggers.
#[derive(Debug, Default)]
struct Sinks {
    syslog: Option<Arc<syslog::Syslog>>,
    /// Access lines also go to syslog (`--log-syslog` without
    /// `--disable-redirect-access-to-syslog`).
    access_to_syslog: bool,
    statsd: Option<Arc<statsd::Statsd>>,
}

static SINKS: RwLock<Option<Arc<Sinks>>> = RwLock::new(None);

fn sinks() -> Option<Arc<Sinks>> {
    SINKS.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Gunicorn's syslog program name: `--log-syslog-prefix`, else the process name
/// (`--name`, else the app) with `:` turned into `.`.
pub(crate) fn syslog_prefix(s: &Settings) -> String {
    if let Some(p) = s.syslog_prefix.as_deref().filter(|p| !p.is_empty()) {
        return p.to_owned();
    }
    let name = s
        .proc_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(Some(s.default_proc_name.as_str()).filter(|n| !n.is_empty()))
        .unwrap_or("runicorn");
    name.replace(':', ".")
}

/// (Re)builds the sinks from settings; call in the master at start and on HUP, before
/// forking. Problems are logged, never fatal: Gunicorn also carries on without a StatsD
/// socket it could not connect.
pub(crate) fn install(s: &Settings) {
    crate::logging::set_tap(on_error_log);
    crate::access_log::set_tap(on_access_lines);
    let syslog = if s.syslog {
        Some(Arc::new(syslog::Syslog::new(
            &s.syslog_addr,
            s.syslog_facility.code,
            &syslog_prefix(s),
        )))
    } else {
        None
    };
    let statsd = s.statsd_host.as_ref().and_then(|h| {
        statsd::Statsd::new(h, &s.statsd_prefix, &s.dogstatsd_tags)
            .inspect_err(|e| tracing::warn!("statsd {h}: {e}; no metrics will be sent"))
            .ok()
            .map(Arc::new)
    });
    let sinks = Sinks {
        access_to_syslog: syslog.is_some() && !s.disable_redirect_access_to_syslog,
        syslog,
        statsd,
    };
    *SINKS.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sinks));
}

/// Whether access lines are wanted at all: Gunicorn enables its access log when syslog
/// takes access lines even without `--access-logfile`.
pub(crate) fn access_needed(s: &Settings) -> bool {
    s.accesslog.is_some() || (s.syslog && !s.disable_redirect_access_to_syslog)
}

/// Where access lines go besides the access-log file, if anywhere.
pub(crate) fn syslog_for_access() -> Option<Arc<syslog::Syslog>> {
    sinks().filter(|s| s.access_to_syslog)?.syslog.clone()
}

/// Syslog's copy of a batch of access lines (one message per line, as Gunicorn's
/// SysLogHandler on the access logger); the sender never blocks and reports its own
/// outages.
fn on_access_lines(batch: &[u8]) {
    if let Some(sl) = syslog_for_access() {
        for line in batch.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            sl.send(
                syslog::Logger::Access,
                syslog::Severity::Info,
                &String::from_utf8_lossy(line),
            );
        }
    }
}

/// The StatsD sender, if `--statsd-host` is set.
pub(crate) fn statsd() -> Option<Arc<statsd::Statsd>> {
    sinks()?.statsd.clone()
}

/// Called by the error log for every line it writes (`message` without the local
/// timestamp prefix): syslog copy and Gunicorn's `gunicorn.log.*` counters.
pub(crate) fn on_error_log(level: LogLevel, message: &str) {
    let Some(s) = sinks() else { return };
    if let Some(sl) = &s.syslog {
        let sev = match level {
            LogLevel::Critical => syslog::Severity::Critical,
            LogLevel::Error => syslog::Severity::Error,
            LogLevel::Warning => syslog::Severity::Warning,
            LogLevel::Info => syslog::Severity::Info,
            LogLevel::Debug => syslog::Severity::Debug,
        };
        sl.send(syslog::Logger::Error, sev, message);
    }
    if let Some(sd) = &s.statsd {
        // Gunicorn logs a failed request with `log.exception`, which counts
        // `gunicorn.log.exception` instead of `gunicorn.log.error`.
        let name = match level {
            LogLevel::Critical => "gunicorn.log.critical",
            LogLevel::Error if message.starts_with("Error handling request") => {
                "gunicorn.log.exception"
            }
            LogLevel::Error => "gunicorn.log.error",
            LogLevel::Warning => "gunicorn.log.warning",
            _ => return,
        };
        sd.increment(name, 1);
    }
}

/// A worker's per-request hook: StatsD lines and shared-memory counters.
#[derive(Debug)]
pub(crate) struct RequestObserver {
    statsd: Option<Arc<statsd::Statsd>>,
    slot: Option<&'static metrics::Slot>,
}

impl RequestObserver {
    /// The worker's observer, or None when neither StatsD nor metrics are on (the request
    /// path then does no extra work at all).
    pub(crate) fn new(slot: Option<&'static metrics::Slot>) -> Option<Arc<RequestObserver>> {
        let statsd = statsd();
        (statsd.is_some() || slot.is_some()).then(|| Arc::new(RequestObserver { statsd, slot }))
    }

    /// A response ended (body finished or dropped).
    pub(crate) fn request_done(&self, status: u16, elapsed: Duration) {
        if let Some(s) = self.slot {
            s.request(status, elapsed);
        }
        if let Some(sd) = &self.statsd {
            sd.request(status, elapsed);
        }
    }
}
