//! What a worker's edge cut off or completed, counted in process memory by the layers
//! that see it (the connection adapter, the TLS acceptor) and mirrored into the worker's
//! shared [`Slot`] on each heartbeat tick, so the master's metrics see them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::counters::{REJECT_CODES, Slot};

/// Counters of what the edge cut off (for logs, tests and metrics).
#[derive(Debug, Default)]
pub(crate) struct EdgeStats {
    /// Requests refused by the gate.
    pub rejected: AtomicU64,
    /// Connections closed for an idle or header deadline.
    pub header_timeouts: AtomicU64,
    /// Connections closed for a body deadline or rate (HTTP/2: also streams cut).
    pub body_timeouts: AtomicU64,
    /// Connections closed because the client stopped reading (HTTP/2: also streams
    /// reset because the client kept its window shut).
    pub send_timeouts: AtomicU64,
    /// Idle connections closed to make room for a new client at `--worker-connections`.
    pub reclaimed: AtomicU64,
    /// Connections that ended, for any reason.
    pub ended: AtomicU64,
    /// Times an idle keep-alive connection gave back hyper's state and buffers (it parked).
    pub parked: AtomicU64,
    /// `rejected`, by status code (slots as [`reject_index`](super::counters::reject_index)).
    pub rejected_by_code: [AtomicU64; REJECT_CODES.len() + 1],
}

impl EdgeStats {
    /// `n` requests refused with `status` (by the gate, or an HTTP/2 stream cut for it).
    pub(crate) fn count_rejected(&self, status: u16, n: u64) {
        self.rejected.fetch_add(n, Relaxed);
        self.rejected_by_code[super::counters::reject_index(status)].fetch_add(n, Relaxed);
    }

    /// Connections that ended or parked and HTTP/2 streams cut off, ever: when it grows,
    /// what they held was freed.
    pub(crate) fn freed(&self) -> u64 {
        [
            &self.ended,
            &self.parked,
            &self.body_timeouts,
            &self.send_timeouts,
        ]
        .iter()
        .map(|c| c.load(Relaxed))
        .sum()
    }
}

/// TLS handshakes completed in this process.
pub(crate) static TLS_HANDSHAKES: AtomicU64 = AtomicU64::new(0);
/// TLS handshakes that failed (or timed out) in this process.
pub(crate) static TLS_HANDSHAKE_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Copies a worker's edge counters into its shared slot (heartbeat tick, and at exit).
pub(crate) fn mirror(slot: &Slot, edge: &EdgeStats) {
    let e = &slot.edge;
    for (dst, src) in e.rejected.iter().zip(&edge.rejected_by_code) {
        dst.store(src.load(Relaxed), Relaxed);
    }
    e.header_timeouts
        .store(edge.header_timeouts.load(Relaxed), Relaxed);
    e.body_timeouts
        .store(edge.body_timeouts.load(Relaxed), Relaxed);
    e.send_timeouts
        .store(edge.send_timeouts.load(Relaxed), Relaxed);
    e.reclaimed.store(edge.reclaimed.load(Relaxed), Relaxed);
    e.tls_ok.store(TLS_HANDSHAKES.load(Relaxed), Relaxed);
    e.tls_failed
        .store(TLS_HANDSHAKE_FAILURES.load(Relaxed), Relaxed);
}
