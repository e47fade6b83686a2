//! What the per-connection service wrapper and the edge adapter share about one
//! connection: requests in flight, responses done (and when), the PROXY-announced peer,
//! and hyper's read waker to wake when a response ends.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

/// What the service and the adapter share about one connection.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Requests handed to the app whose response body has not ended.
    pub(super) in_flight: AtomicU32,
    /// Responses whose body ended, ever (the edge compares it with the requests it
    /// passed to hyper to know hyper is idle).
    pub(super) done: AtomicU64,
    /// When the last response ended (milliseconds since `born`).
    pub(super) last_done_ms: AtomicU64,
    pub(super) born: Instant,
    /// hyper's read waker, woken when a response ends (deadlines change then).
    pub(super) read_waker: Mutex<Option<Waker>>,
    /// The client address from a PROXY header, replacing the socket peer (set once, before
    /// the first request reaches the app).
    pub(super) proxied: std::sync::OnceLock<SocketAddr>,
}

impl ConnState {
    pub(in crate::server) fn new() -> ConnState {
        ConnState {
            in_flight: AtomicU32::new(0),
            done: AtomicU64::new(0),
            last_done_ms: AtomicU64::new(0),
            born: Instant::now(),
            read_waker: Mutex::new(None),
            proxied: std::sync::OnceLock::new(),
        }
    }

    /// A request was handed to the app.
    pub(in crate::server) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// A response body ended (or was dropped).
    pub(in crate::server) fn response_done(&self) {
        self.last_done_ms
            .store(self.born.elapsed().as_millis() as u64, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.done.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = self
            .read_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            w.wake();
        }
    }

    /// The edge answered a request itself (its deadlines restart as after any response).
    pub(in crate::server) fn edge_response_done(&self) {
        self.last_done_ms
            .store(self.born.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// The client address a PROXY header announced, if any.
    pub(in crate::server) fn proxied_peer(&self) -> Option<SocketAddr> {
        self.proxied.get().copied()
    }

    pub(in crate::server) fn last_done(&self) -> Instant {
        self.born + Duration::from_millis(self.last_done_ms.load(Ordering::Acquire))
    }
}
