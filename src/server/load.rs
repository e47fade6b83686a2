//! How busy the app behind the edge is, for the accept loop. An app host with a fixed
//! capacity (WSGI app threads, a gevent pool) holds a [`Ticket`] for every request it has
//! taken and not finished; a worker accepts a new connection only while its tickets plus
//! the connections it accepted that have not sent a head yet are below that capacity.
//! Connections it could not start soon stay in the listen backlog, where an idle sibling
//! takes them (Gunicorn's sync workers get the same effect by accepting only when free),
//! instead of queueing in a busy worker while others idle.
//!
//! Hosts without a fixed capacity (a gevent pool of `--worker-connections`, ASGI, Rust
//! services) have room for every client of a burst, and the worker whose edge ran first
//! took most: keep-alive clients connecting at once landed 146/2/2 of 150, or 177/23/0
//! of 200, on three workers, so one app thread did the work of three. [`Spread`] holds a
//! worker back while it has clearly more connections open than a sibling that waits for
//! one, and the backlog hands the connection to that sibling.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::conn::ConnState;
use crate::scoreboard::heartbeat::{Slot, Table};

/// How long a just-accepted connection counts against the capacity while it has not sent
/// a head: on loopback and most networks the request follows the handshake at once; a
/// client that stays silent longer (slowloris) must not keep the worker from accepting.
const FRESH_GRACE: Duration = Duration::from_millis(100);

/// Requests an app host has taken and not finished, against its capacity.
#[derive(Debug)]
pub(crate) struct AppLoad {
    busy: AtomicUsize,
    capacity: usize,
    freed: Notify,
}

// Only app hosts with a fixed capacity (the WSGI host, feature `python`) take tickets.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
impl AppLoad {
    pub(crate) fn new(capacity: usize) -> Arc<AppLoad> {
        Arc::new(AppLoad {
            busy: AtomicUsize::new(0),
            capacity: capacity.max(1),
            freed: Notify::new(),
        })
    }

    /// A request taken by the app; the capacity is freed when the ticket drops (from any
    /// thread: a counter and a wake-up, no lock held, nothing that blocks).
    pub(crate) fn enter(self: &Arc<Self>) -> Ticket {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Ticket(self.clone())
    }

    #[cfg(test)]
    pub(crate) fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }
}

/// One request the app has not finished.
#[derive(Debug)]
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) struct Ticket(Arc<AppLoad>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

/// The accept loop's view: the app's load and the connections it accepted lately.
pub(super) struct Gate {
    load: Arc<AppLoad>,
    fresh: VecDeque<(Instant, Arc<ConnState>)>,
}

impl Gate {
    pub(super) fn new(load: Arc<AppLoad>) -> Gate {
        Gate {
            load,
            fresh: VecDeque::new(),
        }
    }

    /// Notes a connection just accepted.
    pub(super) fn accepted(&mut self, conn: Arc<ConnState>) {
        self.fresh.push_back((Instant::now(), conn));
    }

    /// Connections accepted that have not sent a head, are still open, and are young.
    fn fresh(&mut self) -> usize {
        self.fresh.retain(|(at, c)| {
            at.elapsed() < FRESH_GRACE && !c.begun_any() && Arc::strong_count(c) > 1
        });
        self.fresh.len()
    }

    /// Waits until the app can take one more connection; false when the worker stops
    /// meanwhile.
    pub(super) async fn room(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let load = self.load.clone();
        loop {
            let freed = load.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a ticket dropped in between still wakes us.
            freed.as_mut().enable();
            let fresh = self.fresh();
            if load.busy.load(Ordering::Acquire) + fresh < load.capacity {
                return true;
            }
            // A fresh connection sending its head frees nothing: look again shortly.
            let again = if fresh > 0 {
                Duration::from_millis(2)
            } else {
                Duration::from_millis(100)
            };
            tokio::select! {
                () = &mut freed => {}
                () = tokio::time::sleep(again) => {}
                _ = stop.changed() => return false,
            }
        }
    }
}

/// How long a worker with more than its share leaves a new connection to its siblings
/// before it takes it anyway (a sibling that says it waits but does not take it, e.g. its
/// edge starved of CPU, must not hold up clients).
const SPREAD_WAIT: Duration = Duration::from_millis(4);

/// This worker's place among its siblings, for sharing new connections evenly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    table: Table,
    me: usize,
}

impl Spread {
    pub(crate) fn new(table: Table, me: usize) -> Spread {
        Spread { table, me }
    }

    fn slot(&self) -> &'static Slot {
        self.table.slot(self.me)
    }

    /// Whether a worker with `mine` open connections should leave the next one to a
    /// sibling that waits with `least` open: ahead by more than one connection and an
    /// eighth, so near-equal workers never hold back and a tie costs nothing.
    fn ahead(mine: u32, least: u32) -> bool {
        mine > least + 1 + least / 8
    }

    /// Waits (at most [`SPREAD_WAIT`]) while this worker is ahead of a sibling that waits
    /// for a connection; false when the worker stops meanwhile.
    pub(super) async fn turn(&self, stop: &mut watch::Receiver<bool>) -> bool {
        // Read the clock only once this worker is ahead (almost every accept is not).
        let mut give_up = None;
        loop {
            let mine = self.slot().open.load(Ordering::Relaxed);
            match self.table.fewest_open_elsewhere(self.me) {
                Some(least) if Spread::ahead(mine, least) => {}
                _ => return true,
            }
            let now = tokio::time::Instant::now();
            if now >= *give_up.get_or_insert(now + SPREAD_WAIT) {
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
                _ = stop.changed() => return false,
            }
        }
    }

    /// Marks one accept loop as waiting for a connection until the guard drops.
    pub(super) fn waiting(&self) -> Counted {
        Counted::new(&self.slot().accepting)
    }

    /// Counts a connection as open until the guard drops.
    pub(super) fn opened(&self) -> Counted {
        Counted::new(&self.slot().open)
    }
}

/// One unit of a shared counter, given back on drop.
#[derive(Debug)]
pub(super) struct Counted(&'static AtomicU32);

impl Counted {
    fn new(c: &'static AtomicU32) -> Counted {
        c.fetch_add(1, Ordering::Relaxed);
        Counted(c)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_a_free_ticket() {
        let load = AppLoad::new(1);
        let mut gate = Gate::new(load.clone());
        let (_tx, mut stop) = watch::channel(false);
        assert!(gate.room(&mut stop).await);
        let t = load.enter();
        assert_eq!(load.busy(), 1);
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.room(&mut stop));
        assert!(
            waiting.await.is_err(),
            "no room while the only ticket is held"
        );
        let release = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(t);
        };
        let (room, ()) = tokio::join!(gate.room(&mut stop), release);
        assert!(room);
        // A fresh connection counts until it sends a head or the grace passes.
        let conn = Arc::new(ConnState::new());
        gate.accepted(conn.clone());
        let start = Instant::now();
        assert!(gate.room(&mut stop).await);
        assert!(start.elapsed() >= FRESH_GRACE - Duration::from_millis(5));
    }

    #[test]
    fn a_worker_holds_back_only_when_clearly_ahead() {
        assert!(!Spread::ahead(0, 0));
        assert!(!Spread::ahead(1, 0), "one connection apart is even");
        assert!(Spread::ahead(2, 0));
        assert!(!Spread::ahead(70, 62), "within an eighth");
        assert!(Spread::ahead(72, 62));
    }

    #[tokio::test]
    async fn a_worker_ahead_waits_for_its_sibling_then_gives_up() {
        use crate::scoreboard::heartbeat::state;
        let table = Table::new(crate::sys::shared_zeroed_slice::<Slot>(4).unwrap());
        let (me, sib) = (table.claim().unwrap(), table.claim().unwrap());
        table.slot(sib).set_state(state::READY);
        let mine = Spread::new(table, me);
        let theirs = Spread::new(table, sib);
        let (_tx, mut stop) = watch::channel(false);
        let held: Vec<Counted> = (0..5).map(|_| mine.opened()).collect();
        // The sibling waits for nothing yet: no reason to hold back.
        let start = Instant::now();
        assert!(mine.turn(&mut stop).await);
        assert!(start.elapsed() < SPREAD_WAIT);
        // It waits with none open: this worker leaves it the connection, for a while.
        let waiting = theirs.waiting();
        let start = Instant::now();
        assert!(mine.turn(&mut stop).await);
        assert!(start.elapsed() >= SPREAD_WAIT);
        // The sibling took connections meanwhile: even again, no wait.
        let _theirs: Vec<Counted> = (0..4).map(|_| theirs.opened()).collect();
        let start = Instant::now();
        assert!(mine.turn(&mut stop).await);
        assert!(start.elapsed() < SPREAD_WAIT);
        drop(waiting);
        drop(held);
        assert_eq!(table.slot(me).open.load(Ordering::Relaxed), 0);
        assert_eq!(table.slot(sib).accepting.load(Ordering::Relaxed), 0);
    }
}
