//! The per-worker request and edge counters behind `--metrics-bind`: one [`Slot`] of
//! lock-free atomics per worker in a shared anonymous mapping (indexed like the heartbeat
//! table), and [`Totals`], the plain sums the master folds reaped workers' slots into.
//!
//! Writers: a worker adds to its own slot on the request path (one relaxed `fetch_add`
//! per counter, no lock, no syscall) and mirrors its edge counters (refusals, slow-client
//! cut-offs, TLS handshakes) into the slot on every heartbeat tick and once on exit; the
//! master is the only reader, and folds a slot into its totals after the owner was reaped
//! (the owner is dead then, so nothing races the read), then zeroes it for reuse. The
//! exposition text is `observe::metrics`'.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the request-duration histogram buckets; `+Inf` follows.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub(crate) const NB: usize = BUCKETS.len() + 1;
/// Status codes counted one by one: 100..=599 (anything else counts as 599's neighbour
/// "other" bucket, index 500).
pub(crate) const NSTATUS: usize = 501;
/// Refusal codes the edge can answer with, by `code` label; others go to "other".
pub(crate) const REJECT_CODES: [u16; 10] = [400, 403, 404, 408, 413, 414, 417, 431, 501, 505];
pub(crate) const NREJ: usize = REJECT_CODES.len() + 1;

/// Edge counters, mirrored from the worker's own counters (cumulative values: the
/// worker is the only writer and stores, so a lost tick loses nothing but freshness).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Edge {
    pub rejected: [AtomicU64; NREJ],
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub send_timeouts: AtomicU64,
    pub reclaimed: AtomicU64,
    pub tls_ok: AtomicU64,
    pub tls_failed: AtomicU64,
}

/// One worker's counters in shared memory.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Slot {
    pub requests: AtomicU64,
    /// Sum of request durations in microseconds.
    pub duration_us: AtomicU64,
    /// Non-cumulative bucket counts (the exposition accumulates).
    pub buckets: [AtomicU64; NB],
    pub status: [AtomicU64; NSTATUS],
    pub edge: Edge,
}

/// Index of a refusal code in [`Edge::rejected`].
pub(crate) fn reject_index(code: u16) -> usize {
    REJECT_CODES
        .iter()
        .position(|&c| c == code)
        .unwrap_or(REJECT_CODES.len())
}

impl Slot {
    /// Counts one finished request.
    pub(crate) fn request(&self, status: u16, elapsed: Duration) {
        self.requests.fetch_add(1, Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.duration_us.fetch_add(us, Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS.iter().position(|&le| secs <= le).unwrap_or(NB - 1);
        self.buckets[b].fetch_add(1, Relaxed);
        let s = usize::from(status)
            .checked_sub(100)
            .filter(|&i| i < NSTATUS - 1)
            .unwrap_or(NSTATUS - 1);
        self.status[s].fetch_add(1, Relaxed);
    }

    fn zero(&self) {
        self.requests.store(0, Relaxed);
        self.duration_us.store(0, Relaxed);
        let e = &self.edge;
        for a in self
            .buckets
            .iter()
            .chain(&self.status)
            .chain(&e.rejected)
            .chain([
                &e.header_timeouts,
                &e.body_timeouts,
                &e.send_timeouts,
                &e.reclaimed,
                &e.tls_ok,
                &e.tls_failed,
            ])
        {
            a.store(0, Relaxed);
        }
    }
}

/// Plain sums of slots (the master's side).
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    pub requests: u64,
    pub duration_us: u64,
    pub buckets: [u64; NB],
    pub status: [u64; NSTATUS],
    pub rejected: [u64; NREJ],
    pub header_timeouts: u64,
    pub body_timeouts: u64,
    pub send_timeouts: u64,
    pub reclaimed: u64,
    pub tls_ok: u64,
    pub tls_failed: u64,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            requests: 0,
            duration_us: 0,
            buckets: [0; NB],
            status: [0; NSTATUS],
            rejected: [0; NREJ],
            header_timeouts: 0,
            body_timeouts: 0,
            send_timeouts: 0,
            reclaimed: 0,
            tls_ok: 0,
            tls_failed: 0,
        }
    }
}

impl Totals {
    /// Adds a slot's current values.
    pub(crate) fn add(&mut self, s: &Slot) {
        self.requests += s.requests.load(Relaxed);
        self.duration_us = self.duration_us.saturating_add(s.duration_us.load(Relaxed));
        for (t, a) in self.buckets.iter_mut().zip(&s.buckets) {
            *t += a.load(Relaxed);
        }
        for (t, a) in self.status.iter_mut().zip(&s.status) {
            *t += a.load(Relaxed);
        }
        let e = &s.edge;
        for (t, a) in self.rejected.iter_mut().zip(&e.rejected) {
            *t += a.load(Relaxed);
        }
        self.header_timeouts += e.header_timeouts.load(Relaxed);
        self.body_timeouts += e.body_timeouts.load(Relaxed);
        self.send_timeouts += e.send_timeouts.load(Relaxed);
        self.reclaimed += e.reclaimed.load(Relaxed);
        self.tls_ok += e.tls_ok.load(Relaxed);
        self.tls_failed += e.tls_failed.load(Relaxed);
    }
}

/// The shared table, mapped by the master before the first fork.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    slots: &'static [Slot],
}

impl Table {
    /// Wraps [`MAX_SLOTS`](super::heartbeat::MAX_SLOTS) zeroed slots mapped shared before the first fork (the master
    /// maps them with `sys::shared_zeroed_slice`; untouched pages cost no memory).
    pub(crate) fn new(slots: &'static [Slot]) -> Table {
        Table { slots }
    }

    /// Slot `nr` (the worker's heartbeat slot number).
    pub(crate) fn slot(&self, nr: usize) -> &'static Slot {
        &self.slots[nr]
    }

    /// Folds a reaped worker's slot into `totals` and clears it for the next owner.
    pub(crate) fn fold(&self, nr: usize, totals: &mut Totals) {
        let s = &self.slots[nr];
        totals.add(s);
        s.zero();
    }
}
