//! The heartbeat table: one slot per worker in a shared anonymous mapping created by the
//! master before it forks anything. Workers beat their slot from their event loop; the
//! master reads the slots to find workers that stopped beating.
//!
//! Gunicorn uses the mtime of an unlinked temp file, which blocks on slow disks (the
//! `--worker-tmp-dir /dev/shm` advice). Shared atomics cost a store and never block.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::monotonic_ms;

/// Slot states (`Slot::state`).
pub(crate) mod state {
    /// Unused.
    pub(crate) const FREE: u32 = 0;
    /// Forked, still building its runtime or loading the app.
    pub(crate) const BOOTING: u32 = 1;
    /// Serving.
    pub(crate) const READY: u32 = 2;
    /// Reached `max_requests`: asks the master for a replacement, keeps serving until
    /// the replacement is ready and the master sends TERM.
    pub(crate) const RETIRE: u32 = 3;
}

/// One worker's shared record.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Slot {
    /// Pid of the worker owning the slot (0 when free).
    pub pid: AtomicU32,
    /// One of [`state`].
    pub state: AtomicU32,
    /// Last beat, in milliseconds of CLOCK_MONOTONIC (shared by all processes).
    pub beat_ms: AtomicU64,
    /// Requests served by this worker (for logs and tests).
    pub requests: AtomicU64,
    /// 1 once the worker's `--reload` watcher saw a watched file change: a request for a
    /// new generation, which the master takes (and clears) on its next tick.
    pub reload: AtomicU32,
    /// Connections the worker has open (its siblings read it to share new ones evenly).
    pub open: AtomicU32,
    /// The worker's accept loops that wait for a connection now (0: it takes none, e.g.
    /// every app thread is busy while a sibling has room, or it drains).
    pub accepting: AtomicU32,
    /// Those of `accepting` whose app has room for the connection they wait for (the
    /// others wait although their app is full, because no sibling has room either).
    pub with_room: AtomicU32,
    /// The worker's accept loops that wait for room in its app (a sibling had room), and
    /// so may take connections again any moment.
    pub full: AtomicU32,
    /// 1 once the slot was ever claimed. [`Table::claim`] takes the first free slot, so
    /// the slots ever used are a prefix of the table and a scan can stop at the first
    /// slot that never was.
    pub used: AtomicU32,
}

/// Gunicorn's sync-worker semantics for app hosts that run requests off the runtime
/// (the WSGI host with `-k sync`): the monotonic ms at which the request in progress
/// started, 0 when idle. While it is set, beats record that instant instead of now, so a
/// request running past `timeout` looks exactly like a wedged worker to the master (a sync
/// worker only notifies between requests) and takes the usual WORKER TIMEOUT path.
pub(crate) static BUSY_SINCE_MS: AtomicU64 = AtomicU64::new(0);

/// Gunicorn's gevent-worker semantics for an app host that runs an event loop of its own
/// (the WSGI host with `-k gevent`): the monotonic ms at which that loop last beat, 0 while
/// no such loop runs. Beats record it instead of now, so a loop blocked by one greenlet
/// (a CPU-bound request, an unpatched C call) stops the heartbeat exactly as it stops a
/// Gunicorn gevent worker's `notify()`, while a long cooperative request never does.
pub(crate) static LOOP_BEAT_MS: AtomicU64 = AtomicU64::new(0);

impl Slot {
    /// Records that the owner is alive now (or, while a sync request runs, since when; or,
    /// with an app event loop, when that loop last beat).
    pub(crate) fn beat(&self) {
        let now = monotonic_ms();
        let busy = BUSY_SINCE_MS.load(Ordering::Relaxed);
        let looped = LOOP_BEAT_MS.load(Ordering::Relaxed);
        let mut at = now;
        for since in [busy, looped] {
            if since != 0 {
                at = at.min(since);
            }
        }
        self.beat_ms.store(at, Ordering::Relaxed);
    }

    /// Milliseconds since the last beat.
    pub(crate) fn silence_ms(&self) -> u64 {
        monotonic_ms().saturating_sub(self.beat_ms.load(Ordering::Relaxed))
    }

    /// The slot's current state.
    pub(crate) fn state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }

    /// Sets the slot's state.
    pub(crate) fn set_state(&self, s: u32) {
        self.state.store(s, Ordering::Release);
    }

    /// Asks the master for a new generation; true when this is the first ask since the
    /// master last took it (so the worker logs one line per change, not per event).
    pub(crate) fn request_reload(&self) -> bool {
        self.reload.swap(1, Ordering::AcqRel) == 0
    }

    /// Takes (and clears) the worker's request for a new generation.
    pub(crate) fn take_reload(&self) -> bool {
        self.reload.swap(0, Ordering::AcqRel) != 0
    }
}

/// The table, sized once: workers beyond `len()` cannot be spawned (TTIN stops there).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    slots: &'static [Slot],
}

/// Slots in the table. HUP briefly runs two generations, so this bounds 2 × workers.
pub(crate) const MAX_SLOTS: usize = 2048;

impl Table {
    /// Wraps [`MAX_SLOTS`] zeroed slots that the master mapped shared
    /// (`sys::shared_zeroed_slice`) before the first fork.
    pub(crate) fn new(slots: &'static [Slot]) -> Table {
        Table { slots }
    }

    /// Claims a free slot for a worker about to be forked.
    pub(crate) fn claim(&self) -> Option<usize> {
        let nr = self
            .slots
            .iter()
            .position(|s| s.state() == state::FREE && s.pid.load(Ordering::Relaxed) == 0)?;
        let slot = &self.slots[nr];
        slot.requests.store(0, Ordering::Relaxed);
        slot.reload.store(0, Ordering::Relaxed);
        slot.open.store(0, Ordering::Relaxed);
        slot.accepting.store(0, Ordering::Relaxed);
        slot.with_room.store(0, Ordering::Relaxed);
        slot.full.store(0, Ordering::Relaxed);
        slot.used.store(1, Ordering::Relaxed);
        slot.beat();
        slot.set_state(state::BOOTING);
        slot.pid.store(u32::MAX, Ordering::Relaxed); // reserved until the pid is known
        Some(nr)
    }

    /// The slot numbered `nr`.
    pub(crate) fn slot(&self, nr: usize) -> &'static Slot {
        &self.slots[nr]
    }

    /// Frees a slot after its worker was reaped.
    pub(crate) fn release(&self, nr: usize) {
        let slot = &self.slots[nr];
        // A killed worker could not count its connections down.
        slot.accepting.store(0, Ordering::Relaxed);
        slot.with_room.store(0, Ordering::Relaxed);
        slot.full.store(0, Ordering::Relaxed);
        slot.open.store(0, Ordering::Relaxed);
        slot.pid.store(0, Ordering::Relaxed);
        slot.set_state(state::FREE);
    }

    /// The other workers that serve now (a retiring one still does; a booting one does
    /// not yet). The master claims the first free slot, so the scan stops at the first
    /// slot never used.
    fn siblings(&self, me: usize) -> impl Iterator<Item = &'static Slot> {
        self.slots
            .iter()
            .enumerate()
            .take_while(|(_, s)| s.used.load(Ordering::Relaxed) != 0)
            .filter(move |(nr, s)| *nr != me && matches!(s.state(), state::READY | state::RETIRE))
            .map(|(_, s)| s)
    }

    /// The fewest connections open in another serving worker that waits for one now with
    /// room for it in its app; None when no other worker does.
    pub(crate) fn fewest_open_with_room(&self, me: usize) -> Option<u32> {
        self.siblings(me)
            .filter(|s| s.with_room.load(Ordering::Relaxed) != 0)
            .map(|s| s.open.load(Ordering::Relaxed))
            .min()
    }

    /// The fewest connections open in another serving worker whose accept loop runs
    /// (waiting for a connection, or for room in its app) and that has beaten within
    /// `fresh_ms` (its app moves: no sync request and no blocked hub holds it); None when
    /// no other worker does.
    pub(crate) fn fewest_open_moving(&self, me: usize, fresh_ms: u64) -> Option<u32> {
        self.siblings(me)
            .filter(|s| {
                (s.accepting.load(Ordering::Relaxed) != 0 || s.full.load(Ordering::Relaxed) != 0)
                    && s.silence_ms() < fresh_ms
            })
            .map(|s| s.open.load(Ordering::Relaxed))
            .min()
    }

    /// Whether another serving worker waits for a connection with room for it in its app.
    pub(crate) fn room_elsewhere(&self, me: usize) -> bool {
        self.fewest_open_with_room(me).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_release_and_beat() {
        let t = Table::new(crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS).unwrap());
        let a = t.claim().unwrap();
        let b = t.claim().unwrap();
        assert_ne!(a, b);
        assert_eq!(t.slot(a).state(), state::BOOTING);
        assert!(t.slot(a).silence_ms() < 1000);
        t.release(a);
        assert_eq!(t.claim(), Some(a));
    }

    #[test]
    fn fewest_open_counts_only_other_workers_that_take_connections_now() {
        let t = Table::new(crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS).unwrap());
        let (a, b, c) = (t.claim().unwrap(), t.claim().unwrap(), t.claim().unwrap());
        assert_eq!(t.fewest_open_with_room(a), None, "nobody is ready yet");
        for (nr, open) in [(a, 9), (b, 7), (c, 2)] {
            t.slot(nr).set_state(state::READY);
            t.slot(nr).open.store(open, Ordering::Relaxed);
            t.slot(nr).accepting.store(1, Ordering::Relaxed);
            t.slot(nr).with_room.store(1, Ordering::Relaxed);
        }
        assert_eq!(t.fewest_open_with_room(a), Some(2));
        assert_eq!(
            t.fewest_open_with_room(c),
            Some(7),
            "its own count is not a sibling's"
        );
        // c's app fills up: it waits for room, or takes connections without.
        t.slot(c).with_room.store(0, Ordering::Relaxed);
        assert_eq!(t.fewest_open_with_room(a), Some(7));
        assert_eq!(t.fewest_open_moving(a, 2000), Some(2));
        t.slot(c).accepting.store(0, Ordering::Relaxed);
        assert_eq!(t.fewest_open_moving(a, 2000), Some(7), "c takes nothing");
        t.slot(c).full.store(1, Ordering::Relaxed);
        assert_eq!(t.fewest_open_moving(a, 2000), Some(2), "c waits for room");
        // ... but its app has not beaten for 3 s (a sync request that long, a blocked hub).
        t.slot(c)
            .beat_ms
            .store(monotonic_ms().saturating_sub(3000), Ordering::Relaxed);
        assert_eq!(t.fewest_open_moving(a, 2000), Some(7));
        // A retiring worker still serves; a booting one does not yet.
        t.slot(b).set_state(state::RETIRE);
        assert_eq!(t.fewest_open_with_room(a), Some(7));
        t.slot(b).set_state(state::BOOTING);
        assert_eq!(t.fewest_open_with_room(a), None);
        assert_eq!(t.fewest_open_moving(a, 2000), None);
        // A reaped worker's counts do not linger in its slot.
        t.release(b);
        let again = t.claim().unwrap();
        assert_eq!(again, b);
        assert_eq!(t.slot(again).open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn room_elsewhere_asks_other_serving_workers_only() {
        let t = Table::new(crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS).unwrap());
        let (a, b) = (t.claim().unwrap(), t.claim().unwrap());
        t.slot(a).with_room.store(1, Ordering::Relaxed);
        assert!(!t.room_elsewhere(a), "b waits for nothing");
        t.slot(b).with_room.store(1, Ordering::Relaxed);
        assert!(!t.room_elsewhere(a), "b still boots");
        t.slot(b).set_state(state::READY);
        assert!(t.room_elsewhere(a));
        assert!(!t.room_elsewhere(b), "a still boots");
        t.slot(a).set_state(state::READY);
        assert!(t.room_elsewhere(b));
        // b's app fills up: it may still wait for a connection, but without room.
        t.slot(b).with_room.store(0, Ordering::Relaxed);
        t.slot(b).accepting.store(1, Ordering::Relaxed);
        assert!(!t.room_elsewhere(a));
        // A reaped worker's counts do not linger in its slot.
        t.slot(b).with_room.store(1, Ordering::Relaxed);
        t.slot(b).full.store(1, Ordering::Relaxed);
        t.release(b);
        assert_eq!(t.claim().unwrap(), b);
        assert_eq!(t.slot(b).with_room.load(Ordering::Relaxed), 0);
        assert_eq!(t.slot(b).full.load(Ordering::Relaxed), 0);
    }
}
