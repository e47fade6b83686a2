//! How busy the app behind the edge is, for the accept loop. An app host with a fixed
//! capacity (WSGI app threads, a gevent pool) holds a [`Ticket`] for every request it has
//! taken and not finished; a worker accepts a new connection only while its tickets plus
//! the connections it accepted that have not sent a head yet are below that capacity.
//! Connections it could not start soon stay in the listen backlog, where an idle sibling
//! takes them (Gunicorn's sync workers get the same effect by accepting only when free),
//! instead of queueing in a busy worker while others idle. When no sibling has room
//! either (or there is none), a full worker takes them all the same ([`Admit::Queue`]):
//! its own keep-alive clients' next requests never leave it, so a client in the backlog
//! got in only when they all paused at once, and waited seconds.
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

    /// Whether the app has room for one more request beside `pending` connections that
    /// will bring one soon.
    fn has_room(&self, pending: usize) -> bool {
        self.busy.load(Ordering::Acquire) + pending < self.capacity
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

/// How often a worker whose app is full looks whether its siblings still have room (they
/// tell nobody when they fill up or free: the table is only read). Well under
/// [`SPREAD_WAIT`]: when the last sibling with room fills up in a burst, one that holds
/// back for this worker must see it take connections before it gives up waiting.
const SIBLINGS_EVERY: Duration = Duration::from_millis(1);

/// A worker whose own beat is this old (a sync request running that long, a gevent hub
/// blocked by one greenlet; beats come at least every second) queues no connection while a
/// sibling that waits for one still beats: a full worker's queue moves only as fast as its
/// app, and this one's is not moving.
const STUCK_MS: u64 = 2000;

/// Why the accept loop may take the next connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// The app has room for it.
    Room,
    /// The app is full, and so is every sibling's (or there is no sibling). The listen
    /// backlog would hand the connection to nobody sooner, and only when every keep-alive
    /// client this worker has paused at once: 64 keep-alive clients on one sync worker
    /// running a Flask view left 36 of them in the backlog after 1 s (p99 0.9 s, 17 of
    /// them timed out at 2 s). Taken, its request queues behind the ones the app already
    /// has, first come first served.
    Queue,
}

/// The accept loop's view: the app's load, the connections it accepted lately, and (in a
/// worker) whether its siblings have room.
pub(super) struct Gate {
    load: Arc<AppLoad>,
    fresh: VecDeque<(Instant, Arc<ConnState>)>,
    /// None outside a worker: with no siblings known, a full app only waits.
    spread: Option<Spread>,
}

impl Gate {
    pub(super) fn new(load: Arc<AppLoad>, spread: Option<Spread>) -> Gate {
        Gate {
            load,
            fresh: VecDeque::new(),
            spread,
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

    /// Whether a sibling waits for a connection with room for it (no siblings known: as
    /// if one did, so a full app waits).
    fn room_elsewhere(&self) -> bool {
        self.spread
            .as_ref()
            .is_none_or(|sp| sp.table.room_elsewhere(sp.me))
    }

    /// Whether this worker's app is stuck on something while a sibling's moves: it then
    /// leaves connections to that sibling even when every app is full.
    fn stuck_while_others_move(&self) -> bool {
        self.spread.as_ref().is_some_and(|sp| {
            sp.slot().silence_ms() >= STUCK_MS
                && sp.table.fewest_open_moving(sp.me, STUCK_MS).is_some()
        })
    }

    /// Whether a connection taken now (with the app full) should queue here.
    fn queue_here(&self) -> bool {
        !self.room_elsewhere() && !self.stuck_while_others_move()
    }

    /// Waits until this worker may take one more connection: its app has room, or no
    /// sibling has (and this app is not the one stuck); None when the worker stops
    /// meanwhile.
    pub(super) async fn room(&mut self, stop: &mut watch::Receiver<bool>) -> Option<Admit> {
        let load = self.load.clone();
        // Once full, siblings count this worker among those that take connections again
        // soon (see [`Spread::turn`]), until this returns.
        let mut full = None;
        loop {
            let freed = load.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a ticket dropped in between still wakes us.
            freed.as_mut().enable();
            let fresh = self.fresh();
            if load.has_room(fresh) {
                return Some(Admit::Room);
            }
            if self.queue_here() {
                return Some(Admit::Queue);
            }
            if full.is_none() {
                full = self.spread.as_ref().map(|sp| Counted::new(&sp.slot().full));
            }
            // A fresh connection sending its head frees nothing: look again shortly.
            let again = if fresh > 0 {
                Duration::from_millis(2)
            } else if self.spread.is_some() {
                SIBLINGS_EVERY
            } else {
                Duration::from_millis(100)
            };
            tokio::select! {
                () = &mut freed => {}
                () = tokio::time::sleep(again) => {}
                _ = stop.changed() => return None,
            }
        }
    }

    /// Resolves once a connection taken now would be better left to a sibling, or waited
    /// for with room: taking connections as [`Admit::Queue`] ends when a sibling's app, or
    /// this worker's own, has room again, or this app is stuck while a sibling's moves.
    /// Never resolves for [`Admit::Room`].
    pub(super) async fn outdated(&self, admit: Admit) {
        if admit == Admit::Room {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(SIBLINGS_EVERY).await;
            // Room counted without the fresh connections: the accept loop's next
            // `room` counts them before it takes another.
            if !self.queue_here() || self.load.has_room(0) {
                return;
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

    /// Waits (at most [`SPREAD_WAIT`]) while this worker is ahead of a sibling that takes
    /// the same kind of connection: with room, a sibling that waits for one with room;
    /// queueing ([`Admit::Queue`]), any sibling whose app moves and that takes connections
    /// now or will once it sees no sibling has room. False when the worker stops
    /// meanwhile.
    pub(super) async fn turn(&self, admit: Admit, stop: &mut watch::Receiver<bool>) -> bool {
        // Read the clock only once this worker is ahead (almost every accept is not).
        let mut give_up = None;
        loop {
            let mine = self.slot().open.load(Ordering::Relaxed);
            let least = match admit {
                Admit::Room => self.table.fewest_open_with_room(self.me),
                Admit::Queue => self.table.fewest_open_moving(self.me, STUCK_MS),
            };
            match least {
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

    /// Marks one accept loop as waiting for a connection until the guard drops (and, with
    /// [`Admit::Room`], as one with room for it).
    pub(super) fn waiting(&self, admit: Admit) -> (Counted, Option<Counted>) {
        let slot = self.slot();
        let room = (admit == Admit::Room).then(|| Counted::new(&slot.with_room));
        (Counted::new(&slot.accepting), room)
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
        let mut gate = Gate::new(load.clone(), None);
        let (_tx, mut stop) = watch::channel(false);
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Room));
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
        assert_eq!(room, Some(Admit::Room));
        // A fresh connection counts until it sends a head or the grace passes.
        let conn = Arc::new(ConnState::new());
        gate.accepted(conn.clone());
        let start = Instant::now();
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Room));
        assert!(start.elapsed() >= FRESH_GRACE - Duration::from_millis(5));
    }

    #[tokio::test]
    async fn a_full_worker_queues_connections_only_while_no_sibling_has_room() {
        use crate::scoreboard::heartbeat::state;
        let table = Table::new(crate::sys::shared_zeroed_slice::<Slot>(4).unwrap());
        let (me, sib) = (table.claim().unwrap(), table.claim().unwrap());
        table.slot(me).set_state(state::READY);
        let load = AppLoad::new(1);
        let mut gate = Gate::new(load.clone(), Some(Spread::new(table, me)));
        let theirs = Spread::new(table, sib);
        let (_tx, mut stop) = watch::channel(false);
        let _t = load.enter();
        // Full, and the sibling still boots: nobody else would take the connection.
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Queue));
        // The sibling is up and waits with room: leave the connection to it.
        table.slot(sib).set_state(state::READY);
        let sibling_waits = theirs.waiting(Admit::Room);
        let outdated = tokio::time::timeout(Duration::from_millis(50), gate.outdated(Admit::Queue));
        assert!(
            outdated.await.is_ok(),
            "queueing ends once a sibling has room"
        );
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.room(&mut stop));
        assert!(
            waiting.await.is_err(),
            "no taking while the sibling has room"
        );
        // The sibling fills up too (it still waits, without room): queue here again.
        drop(sibling_waits);
        let _sibling_full = theirs.waiting(Admit::Queue);
        let start = Instant::now();
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Queue));
        assert!(start.elapsed() < Duration::from_millis(50));
        let outdated = tokio::time::timeout(Duration::from_millis(50), gate.outdated(Admit::Queue));
        assert!(outdated.await.is_err(), "still nobody with room");
        let room_never_outdates =
            tokio::time::timeout(Duration::from_millis(20), gate.outdated(Admit::Room));
        assert!(room_never_outdates.await.is_err());
    }

    #[tokio::test]
    async fn a_stuck_worker_leaves_its_queue_to_a_sibling_that_moves() {
        use crate::scoreboard::heartbeat::state;
        use crate::scoreboard::monotonic_ms;
        let table = Table::new(crate::sys::shared_zeroed_slice::<Slot>(4).unwrap());
        let (me, sib) = (table.claim().unwrap(), table.claim().unwrap());
        for nr in [me, sib] {
            table.slot(nr).set_state(state::READY);
        }
        let load = AppLoad::new(1);
        let mut gate = Gate::new(load.clone(), Some(Spread::new(table, me)));
        let (_tx, mut stop) = watch::channel(false);
        let _t = load.enter();
        // Both apps are full and both move: queue here.
        let sibling_full = Spread::new(table, sib).waiting(Admit::Queue);
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Queue));
        // This app has run one request for 3 s: the sibling's queue moves, this one's not.
        let stuck = monotonic_ms().saturating_sub(3000);
        table.slot(me).beat_ms.store(stuck, Ordering::Relaxed);
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.room(&mut stop));
        assert!(waiting.await.is_err(), "a stuck app queues nothing");
        let outdated = tokio::time::timeout(Duration::from_millis(50), gate.outdated(Admit::Queue));
        assert!(
            outdated.await.is_ok(),
            "queueing ends once this app is stuck"
        );
        // The sibling is stuck too: queueing here is as good as anywhere.
        table.slot(sib).beat_ms.store(stuck, Ordering::Relaxed);
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Queue));
        // The sibling waits for nothing: the same.
        table
            .slot(sib)
            .beat_ms
            .store(monotonic_ms(), Ordering::Relaxed);
        drop(sibling_full);
        assert_eq!(gate.room(&mut stop).await, Some(Admit::Queue));
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
        assert!(mine.turn(Admit::Room, &mut stop).await);
        assert!(start.elapsed() < SPREAD_WAIT);
        // It waits with none open: this worker leaves it the connection, for a while.
        let waiting = theirs.waiting(Admit::Room);
        let start = Instant::now();
        assert!(mine.turn(Admit::Room, &mut stop).await);
        assert!(start.elapsed() >= SPREAD_WAIT);
        // The sibling took connections meanwhile: even again, no wait.
        let _theirs: Vec<Counted> = (0..4).map(|_| theirs.opened()).collect();
        let start = Instant::now();
        assert!(mine.turn(Admit::Room, &mut stop).await);
        assert!(start.elapsed() < SPREAD_WAIT);
        drop(waiting);
        drop(_theirs);
        // The sibling's app is full and it waits for room, with none open.
        let full = Counted::new(&table.slot(sib).full);
        let beat = crate::scoreboard::monotonic_ms();
        table.slot(sib).beat_ms.store(beat, Ordering::Relaxed);
        let start = Instant::now();
        assert!(mine.turn(Admit::Room, &mut stop).await);
        assert!(
            start.elapsed() < SPREAD_WAIT,
            "with room, no holding back for a full sibling"
        );
        let start = Instant::now();
        assert!(mine.turn(Admit::Queue, &mut stop).await);
        assert!(
            start.elapsed() >= SPREAD_WAIT,
            "queueing, the full sibling queues as soon as it sees nobody has room"
        );
        drop(full);
        drop(held);
        assert_eq!(table.slot(me).open.load(Ordering::Relaxed), 0);
        assert_eq!(table.slot(sib).accepting.load(Ordering::Relaxed), 0);
    }
}
