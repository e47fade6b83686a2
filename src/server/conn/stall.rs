//! `--send-timeout` for writes that wait on the client: when a wait began, and whether a
//! client that made the wait last that long is still reading.
//!
//! The kernel wakes a blocked writer only once a third of the socket's send buffer is
//! free. Autotuning grows that buffer to 4 MiB, so a client reading a large response
//! steadily at 40 KB/s leaves the writer blocked for over 30 s between wake-ups, and a
//! plain "blocked for --send-timeout" rule cut it (Gunicorn's default timeout is 30 s).
//! So when a wait reaches the timeout, the kernel's count of bytes the client has
//! acknowledged decides: at least [`MIN_DRAIN`] more than when the wait began, and the
//! client is reading, slowly; the wait starts over from now. Less, and it is dropped as
//! before: a client that stopped reading, or reads too slowly to matter (under 64 KiB per
//! `--send-timeout`, about 2 KiB/s at the default), is still the slow-read attack the
//! timeout exists for. Unix sockets have no such count and keep the plain rule.

use std::time::Instant;

use super::ConnState;

/// What a client must read while a write waits `--send-timeout` for it to keep going.
pub(in crate::server) const MIN_DRAIN: u64 = 64 * 1024;

/// The write wait of one connection (HTTP/1 and HTTP/2 each keep one).
#[derive(Default)]
pub(in crate::server) struct Stall {
    /// When the current wait began (None: the last write went through).
    since: Option<Instant>,
    /// What the client had acknowledged then (None: not known, the plain rule applies).
    acked: Option<u64>,
}

impl Stall {
    /// A write would block: when this wait began (now, for a new one).
    pub(in crate::server) fn begin(&mut self, state: &ConnState) -> Instant {
        if let Some(since) = self.since {
            return since;
        }
        self.acked = acked(state);
        *self.since.insert(Instant::now())
    }

    /// A write is waiting on the client.
    pub(in crate::server) fn waiting(&self) -> bool {
        self.since.is_some()
    }

    /// A write went through: the wait is over.
    pub(in crate::server) fn end(&mut self) {
        self.since = None;
    }

    /// The wait reached `--send-timeout`. Some(now) when the client read at least
    /// [`MIN_DRAIN`] meanwhile (the wait starts over from now); None when it must go.
    pub(in crate::server) fn still_reading(&mut self, state: &ConnState) -> Option<Instant> {
        let (Some(before), Some(now)) = (self.acked, acked(state)) else {
            return None;
        };
        if now.saturating_sub(before) < MIN_DRAIN {
            return None;
        }
        self.acked = Some(now);
        Some(*self.since.insert(Instant::now()))
    }
}

fn acked(state: &ConnState) -> Option<u64> {
    state
        .socket
        .get()
        .and_then(|fd| crate::sys::tcp_bytes_acked(*fd))
}
