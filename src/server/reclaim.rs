//! Connection-slot reclamation. A worker serves at most `--worker-connections`
//! connections; when a new client arrives and every slot is taken, the least recently
//! active *idle* connections are asked to close (as nginx reuses connections when
//! `worker_connections are not enough`): a keep-alive connection waiting for its next
//! request, one that has not sent a complete head, an unfinished TLS handshake, an
//! HTTP/2 connection with no open stream (closed with GOAWAY). A connection in the middle
//! of a request or response is never touched, so one client holding idle connections
//! cannot lock others out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::conn::ConnState;

/// Log "worker_connections are not enough" at most once per this many seconds.
const WARN_EVERY_SECS: u64 = 10;

/// The connections of one worker.
#[derive(Debug)]
pub(super) struct Registry {
    slots: Mutex<Slab>,
    born: Instant,
    /// Seconds since `born` (+1) of the last warning; 0 = never.
    warned_at: AtomicU64,
    /// Connections asked to close since the last warning.
    asked: AtomicU64,
}

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<Option<Arc<ConnState>>>,
    free: Vec<usize>,
}

/// A connection's place in the registry, freed when dropped.
pub(super) struct Registered {
    registry: Arc<Registry>,
    index: usize,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut s = self
            .registry
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        s.entries[self.index] = None;
        s.free.push(self.index);
    }
}

impl Registry {
    pub(super) fn new() -> Registry {
        Registry {
            slots: Mutex::new(Slab::default()),
            born: Instant::now(),
            warned_at: AtomicU64::new(0),
            asked: AtomicU64::new(0),
        }
    }

    /// Adds a connection; it leaves the registry when the returned guard drops.
    pub(super) fn register(self: &Arc<Self>, conn: Arc<ConnState>) -> Registered {
        let mut s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let index = match s.free.pop() {
            Some(i) => {
                s.entries[i] = Some(conn);
                i
            }
            None => {
                s.entries.push(Some(conn));
                s.entries.len() - 1
            }
        };
        Registered {
            registry: self.clone(),
            index,
        }
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        let s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        s.entries.len().saturating_sub(s.free.len())
    }

    /// The worker drains: asks every HTTP/1.1 connection waiting for its next request
    /// (one answered before, nothing in flight) to close; returns how many were asked.
    pub(super) fn close_idle_kept_alive(&self) -> usize {
        let s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for c in s.entries.iter().flatten() {
            if c.proto() == super::conn::Proto::Http1 && c.answered_before() && c.is_idle() {
                c.reclaim.notify_one();
                n += 1;
            }
        }
        n
    }

    /// Every slot is taken and a client waits: asks the least recently active idle
    /// connections to close (an eighth of the idle ones, between 1 and 32, as nginx does)
    /// and returns how many were asked. Logs the condition at most once per
    /// [`WARN_EVERY_SECS`].
    pub(super) fn make_room(&self, worker_connections: usize) -> usize {
        let mut idle: Vec<(Instant, Arc<ConnState>)> = {
            let s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            s.entries
                .iter()
                .flatten()
                .filter(|c| c.is_idle())
                .map(|c| (c.last_active(), c.clone()))
                .collect()
        };
        let n = (idle.len() / 8).clamp(1, 32).min(idle.len());
        if n > 0 && n < idle.len() {
            idle.select_nth_unstable_by_key(n - 1, |e| e.0);
        }
        for (_, c) in &idle[..n] {
            c.reclaim.notify_one();
        }
        let asked = self.asked.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let now = self.born.elapsed().as_secs() + 1;
        let last = self.warned_at.load(Ordering::Relaxed);
        if (last == 0 || now >= last + WARN_EVERY_SECS)
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.asked.store(0, Ordering::Relaxed);
            if asked > 0 {
                tracing::warn!(
                    "{worker_connections} worker_connections are not enough, closing idle \
                     connections ({asked} since the last such message)"
                );
            } else {
                tracing::warn!(
                    "{worker_connections} worker_connections are not enough and none is \
                     idle; new clients wait"
                );
            }
        }
        n
    }
}

/// Resolves when the worker asked this connection to close and it is still idle then.
/// An HTTP/2 connection gets the request in its own loop instead (it closes with GOAWAY).
pub(super) async fn reclaimed(state: &ConnState) {
    loop {
        state.reclaim.notified().await;
        if state.proto() == super::conn::Proto::Http2 {
            state.reclaim_h2.notify_one();
        } else if state.is_idle() {
            return;
        }
    }
}
