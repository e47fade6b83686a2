//! The master's side of observability: the shared counters table, the totals folded from
//! reaped workers, worker restarts by reason, the `--metrics-bind` endpoint (retried after
//! a USR2 hand-over), the workers gauge and the backlog metric.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::poll::PollFd;

use super::{endpoint, install, metrics, statsd};
use crate::config::Settings;

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
