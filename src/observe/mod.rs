//! Observability outputs beside the error and access logs: syslog (`--log-syslog*`),
//! StatsD (`--statsd-*`, Gunicorn's metrics) and the Prometheus endpoint
//! (`--metrics-bind`, a runicorn addition).
//!
//! | module     | owns |
//! |------------|------|
//! | `syslog`   | address/facility parsing, the wire format, the non-blocking sender |
//! | `statsd`   | address/prefix parsing, Gunicorn's metric lines, the datagram sender |
//! | `metrics`  | per-worker shared-memory counters, the master's totals, the exposition text |
//! | `endpoint` | the master's bounded non-blocking HTTP responder for scrapes |
//!
//! This module holds the process-wide sinks the loggers feed ([`on_error_log`],
//! [`syslog_for_access`]), the per-worker request hook ([`RequestObserver`]) and the
//! master's side ([`MasterObs`]). Sinks are built by the master (at start and on HUP)
//! and inherited by workers through fork; none of them starts a thread.

pub(crate) mod endpoint;
pub(crate) mod metrics;
pub(crate) mod statsd;
pub(crate) mod syslog;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use nix::poll::PollFd;

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

/// Why a worker was reaped (`runicorn_worker_restarts_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReapReason {
    /// Killed after its heartbeat stopped.
    Timeout,
    /// Retired after `--max-requests`.
    MaxRequests,
    /// Replaced by a HUP's new generation, or removed by TTOU / shutdown.
    Retired,
    /// Exited or died without being asked to.
    Crashed,
}

impl ReapReason {
    fn label(self) -> &'static str {
        match self {
            ReapReason::Timeout => "timeout",
            ReapReason::MaxRequests => "max_requests",
            ReapReason::Retired => "retired",
            ReapReason::Crashed => "crashed",
        }
    }
}

/// The master's side: the counters table, folded totals, the endpoint, the workers gauge.
pub(crate) struct MasterObs {
    table: metrics::Table,
    totals: metrics::Totals,
    restarts: BTreeMap<&'static str, u64>,
    endpoint: Option<endpoint::Endpoint>,
    bound_to: Option<String>,
    /// An address still held by the old master during a USR2 upgrade: retried each
    /// second until that master exits and frees it.
    pending_bind: Option<(String, Instant)>,
    last_workers: Option<u64>,
    backlog_metric: bool,
    next_backlog: Instant,
    backlog: Option<i64>,
}

impl std::fmt::Debug for MasterObs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterObs")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl MasterObs {
    /// Maps the counters table and binds `--metrics-bind`; call before the first fork,
    /// after [`install`]. `upgrading`: we are a USR2 child whose parent still holds the
    /// address, so a failed bind is retried instead of fatal.
    pub(crate) fn start(s: &Settings, upgrading: bool) -> Result<MasterObs, String> {
        let table = crate::sys::shared_zeroed_slice::<metrics::Slot>(
            crate::scoreboard::heartbeat::MAX_SLOTS,
        )
        .map(metrics::Table::new)
        .map_err(|e| format!("cannot map the metrics table: {e}"))?;
        let mut m = MasterObs {
            table,
            totals: metrics::Totals::default(),
            restarts: BTreeMap::new(),
            endpoint: None,
            bound_to: None,
            pending_bind: None,
            last_workers: None,
            backlog_metric: s.enable_backlog_metric,
            next_backlog: Instant::now(),
            backlog: None,
        };
        if let Some(addr) = &s.metrics_bind {
            match m.bind(addr) {
                Ok(()) => {}
                Err(e) if upgrading => {
                    tracing::warn!("{e}; retrying until the old master frees it");
                    m.pending_bind = Some((addr.clone(), Instant::now() + Duration::from_secs(1)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(m)
    }

    fn bind(&mut self, addr: &str) -> Result<(), String> {
        let ep = endpoint::Endpoint::bind(addr)
            .map_err(|e| format!("cannot bind --metrics-bind {addr:?}: {e}"))?;
        tracing::info!("Metrics at: http://{}/metrics", ep.local_addr());
        self.endpoint = Some(ep);
        self.bound_to = Some(addr.to_owned());
        Ok(())
    }

    /// HUP: new sinks, and a new endpoint if `--metrics-bind` changed (a failed bind keeps
    /// the old one). Counters carry on.
    pub(crate) fn reconfigure(&mut self, s: &Settings) {
        install(s);
        self.backlog_metric = s.enable_backlog_metric;
        self.pending_bind = None;
        if s.metrics_bind != self.bound_to {
            match &s.metrics_bind {
                None => {
                    self.endpoint = None;
                    self.bound_to = None;
                }
                Some(addr) => {
                    // Free the old port first when the new address is the same port
                    // on another host spelling; on failure rebind nothing.
                    if let Err(e) = self.bind(addr) {
                        tracing::error!("{e}; keeping the previous metrics endpoint");
                    }
                }
            }
        }
    }

    /// The slot a new worker writes to, when metrics are on.
    pub(crate) fn worker_slot(&self, nr: usize) -> Option<&'static metrics::Slot> {
        (self.endpoint.is_some() || self.pending_bind.is_some()).then(|| self.table.slot(nr))
    }

    /// A worker was reaped: keep its counts and why it went.
    pub(crate) fn reaped(&mut self, nr: usize, reason: ReapReason) {
        self.table.fold(nr, &mut self.totals);
        *self.restarts.entry(reason.label()).or_default() += 1;
    }

    /// The worker count after `manage_workers`: Gunicorn's `gunicorn.workers` gauge and
    /// `N workers` debug line, sent when it changes.
    pub(crate) fn workers(&mut self, n: u64) {
        if self.last_workers == Some(n) {
            return;
        }
        self.last_workers = Some(n);
        tracing::debug!("{n} workers");
        if let Some(sd) = statsd() {
            sd.gauge("gunicorn.workers", n as i64);
        }
    }

    /// Once a second at most: `gunicorn.backlog` (`--enable-backlog-metric`), the sum of
    /// the TCP listeners' accept queues, as Gunicorn sends it every arbiter loop.
    pub(crate) fn tick(&mut self, listeners: &[std::os::fd::BorrowedFd<'_>]) {
        let now = Instant::now();
        if let Some((addr, at)) = self.pending_bind.take() {
            if now < at {
                self.pending_bind = Some((addr, at));
            } else if self.bind(&addr).is_err() {
                self.pending_bind = Some((addr, now + Duration::from_secs(1)));
            }
        }
        if !self.backlog_metric {
            return;
        }
        if now < self.next_backlog {
            return;
        }
        self.next_backlog = now + Duration::from_secs(1);
        let queued: Vec<u32> = listeners
            .iter()
            .filter_map(|&l| crate::sys::listen_queue_len(l))
            .collect();
        if queued.is_empty() {
            self.backlog = None;
            return;
        }
        let total: i64 = queued.iter().map(|&q| i64::from(q)).sum();
        self.backlog = Some(total);
        tracing::debug!("socket backlog: {total}");
        if let Some(sd) = statsd() {
            sd.histogram("gunicorn.backlog", total);
        }
    }

    /// What the master's poll should also wait on.
    pub(crate) fn poll_fds(&self) -> Vec<PollFd<'_>> {
        self.endpoint
            .as_ref()
            .map(endpoint::Endpoint::poll_fds)
            .unwrap_or_default()
    }

    /// Serves scrapes; `live` are the slots of workers still running.
    pub(crate) fn service(&mut self, live: &[usize], workers: u64) {
        let MasterObs {
            table,
            totals,
            restarts,
            endpoint,
            backlog,
            ..
        } = self;
        let Some(ep) = endpoint else { return };
        let render = || {
            let mut t = totals.clone();
            for &nr in live {
                t.add(table.slot(nr));
            }
            let view = metrics::MasterView {
                workers,
                restarts: restarts.iter().map(|(k, v)| (*k, *v)).collect(),
                backlog: *backlog,
            };
            metrics::render(&t, &view)
        };
        ep.service(&render);
    }

    /// In a freshly forked worker: drop the master's endpoint sockets.
    pub(crate) fn close_in_child(&mut self) {
        if let Some(ep) = self.endpoint.take() {
            ep.close_in_child();
        }
    }
}
