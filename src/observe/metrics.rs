//! The Prometheus counters (`--metrics-bind`): one [`Slot`] of lock-free atomics per worker
//! in a shared anonymous mapping (indexed like the heartbeat table), summed by the master
//! together with [`Totals`] folded from the slots of workers already reaped, and rendered
//! in the Prometheus text exposition format (version 0.0.4).
//!
//! Writers: a worker adds to its own slot on the request path (one relaxed `fetch_add`
//! per counter, no lock, no syscall) and mirrors its edge counters (refusals, slow-client
//! cut-offs, TLS handshakes) into the slot on every heartbeat tick and once on exit; the
//! master is the only reader, and folds a slot into its totals after the owner was reaped
//! (the owner is dead then, so nothing races the read), then zeroes it for reuse.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::worker::heartbeat::MAX_SLOTS;

/// Upper bounds (seconds) of the request-duration histogram buckets; `+Inf` follows.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const NB: usize = BUCKETS.len() + 1;
/// Status codes counted one by one: 100..=599 (anything else counts as 599's neighbour
/// "other" bucket, index 500).
const NSTATUS: usize = 501;
/// Refusal codes the edge can answer with, by `code` label; others go to "other".
pub const REJECT_CODES: [u16; 10] = [400, 403, 404, 408, 413, 414, 417, 431, 501, 505];
const NREJ: usize = REJECT_CODES.len() + 1;

/// Edge counters, mirrored from the worker's own counters (cumulative values: the
/// worker is the only writer and stores, so a lost tick loses nothing but freshness).
#[repr(C)]
#[derive(Debug, Default)]
pub struct Edge {
    pub rejected: [AtomicU64; NREJ],
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub send_timeouts: AtomicU64,
    pub tls_ok: AtomicU64,
    pub tls_failed: AtomicU64,
}

/// One worker's counters in shared memory.
#[repr(C)]
#[derive(Debug)]
pub struct Slot {
    pub requests: AtomicU64,
    /// Sum of request durations in microseconds.
    pub duration_us: AtomicU64,
    /// Non-cumulative bucket counts (the exposition accumulates).
    pub buckets: [AtomicU64; NB],
    pub status: [AtomicU64; NSTATUS],
    pub edge: Edge,
}

/// Index of a refusal code in [`Edge::rejected`].
pub fn reject_index(code: u16) -> usize {
    REJECT_CODES
        .iter()
        .position(|&c| c == code)
        .unwrap_or(REJECT_CODES.len())
}

impl Slot {
    /// Counts one finished request.
    pub fn request(&self, status: u16, elapsed: Duration) {
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
pub struct Totals {
    pub requests: u64,
    pub duration_us: u64,
    pub buckets: [u64; NB],
    pub status: [u64; NSTATUS],
    pub rejected: [u64; NREJ],
    pub header_timeouts: u64,
    pub body_timeouts: u64,
    pub send_timeouts: u64,
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
            tls_ok: 0,
            tls_failed: 0,
        }
    }
}

impl Totals {
    /// Adds a slot's current values.
    pub fn add(&mut self, s: &Slot) {
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
        self.tls_ok += e.tls_ok.load(Relaxed);
        self.tls_failed += e.tls_failed.load(Relaxed);
    }
}

/// The shared table, mapped by the master before the first fork.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    slots: &'static [Slot],
}

impl Table {
    /// Maps [`MAX_SLOTS`] zeroed slots (untouched pages cost no memory).
    pub fn new() -> nix::Result<Table> {
        Ok(Table {
            slots: crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS)?,
        })
    }

    /// Slot `nr` (the worker's heartbeat slot number).
    pub fn slot(&self, nr: usize) -> &'static Slot {
        &self.slots[nr]
    }

    /// Folds a reaped worker's slot into `totals` and clears it for the next owner.
    pub fn fold(&self, nr: usize, totals: &mut Totals) {
        let s = &self.slots[nr];
        totals.add(s);
        s.zero();
    }
}

/// What the master knows besides the counters.
#[derive(Debug, Default, Clone)]
pub struct MasterView {
    /// Live workers (not retiring).
    pub workers: u64,
    /// Reaped workers by why they went, `(reason, count)`.
    pub restarts: Vec<(&'static str, u64)>,
    /// The listen queue length (`--enable-backlog-metric`), when known.
    pub backlog: Option<i64>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders the exposition text.
pub fn render(t: &Totals, m: &MasterView) -> String {
    let mut o = String::with_capacity(4096);
    family(
        &mut o,
        "runicorn_requests_total",
        "counter",
        "Requests answered by the application.",
    );
    let _ = writeln!(o, "runicorn_requests_total {}", t.requests);

    let h = "runicorn_request_duration_seconds";
    family(
        &mut o,
        h,
        "histogram",
        "Time from request head to the end of the response body.",
    );
    let mut cum = 0;
    for (i, le) in BUCKETS.iter().enumerate() {
        cum += t.buckets[i];
        let _ = writeln!(o, "{h}_bucket{{le=\"{le}\"}} {cum}");
    }
    cum += t.buckets[NB - 1];
    let _ = writeln!(o, "{h}_bucket{{le=\"+Inf\"}} {cum}");
    let _ = writeln!(o, "{h}_sum {}", t.duration_us as f64 / 1e6);
    let _ = writeln!(o, "{h}_count {cum}");

    family(
        &mut o,
        "runicorn_responses_total",
        "counter",
        "Application responses by status code.",
    );
    for (i, &n) in t.status.iter().enumerate() {
        if n > 0 {
            let code = if i == NSTATUS - 1 {
                "other".to_string()
            } else {
                (i + 100).to_string()
            };
            let _ = writeln!(o, "runicorn_responses_total{{code=\"{code}\"}} {n}");
        }
    }

    family(
        &mut o,
        "runicorn_rejected_requests_total",
        "counter",
        "Requests the HTTP edge refused before the application, by status code.",
    );
    for (i, &n) in t.rejected.iter().enumerate() {
        let code = REJECT_CODES
            .get(i)
            .map_or("other".to_string(), u16::to_string);
        let _ = writeln!(o, "runicorn_rejected_requests_total{{code=\"{code}\"}} {n}");
    }

    family(
        &mut o,
        "runicorn_slow_client_timeouts_total",
        "counter",
        "Connections cut off by the header, body or send deadline.",
    );
    for (kind, n) in [
        ("header", t.header_timeouts),
        ("body", t.body_timeouts),
        ("send", t.send_timeouts),
    ] {
        let _ = writeln!(
            o,
            "runicorn_slow_client_timeouts_total{{kind=\"{kind}\"}} {n}"
        );
    }

    family(
        &mut o,
        "runicorn_tls_handshakes_total",
        "counter",
        "TLS handshakes by result.",
    );
    let _ = writeln!(
        o,
        "runicorn_tls_handshakes_total{{result=\"ok\"}} {}",
        t.tls_ok
    );
    let _ = writeln!(
        o,
        "runicorn_tls_handshakes_total{{result=\"failed\"}} {}",
        t.tls_failed
    );

    family(
        &mut o,
        "runicorn_workers",
        "gauge",
        "Worker processes currently serving or booting.",
    );
    let _ = writeln!(o, "runicorn_workers {}", m.workers);

    family(
        &mut o,
        "runicorn_worker_restarts_total",
        "counter",
        "Workers reaped by the master, by reason.",
    );
    for (reason, n) in &m.restarts {
        let _ = writeln!(
            o,
            "runicorn_worker_restarts_total{{reason=\"{reason}\"}} {n}"
        );
    }

    if let Some(b) = m.backlog {
        family(
            &mut o,
            "runicorn_listen_backlog",
            "gauge",
            "Connections waiting in the listen queues.",
        );
        let _ = writeln!(o, "runicorn_listen_backlog {b}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_keeps_counts_and_clears_the_slot() {
        let table = Table::new().unwrap();
        let s = table.slot(3);
        s.request(200, Duration::from_millis(2));
        s.request(404, Duration::from_secs(30));
        s.edge.rejected[reject_index(431)].store(2, Relaxed);
        let mut t = Totals::default();
        table.fold(3, &mut t);
        assert_eq!(s.requests.load(Relaxed), 0);
        assert_eq!(t.requests, 2);
        assert_eq!(t.buckets[1], 1, "2 ms is in the 5 ms bucket");
        assert_eq!(t.buckets[NB - 1], 1, "30 s is only in +Inf");
        let text = render(&t, &MasterView::default());
        assert!(
            text.contains("runicorn_responses_total{code=\"404\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("runicorn_rejected_requests_total{code=\"431\"} 2\n"));
        assert!(text.contains("runicorn_request_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("runicorn_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(
            text.contains("runicorn_request_duration_seconds_sum 30.002\n"),
            "{text}"
        );
    }

    #[test]
    fn odd_status_codes_do_not_index_out_of_bounds() {
        let table = Table::new().unwrap();
        let s = table.slot(0);
        s.request(0, Duration::ZERO);
        s.request(999, Duration::ZERO);
        s.request(599, Duration::ZERO);
        let mut t = Totals::default();
        t.add(s);
        assert_eq!(t.status[NSTATUS - 1], 2);
        assert_eq!(t.status[499], 1);
    }
}
