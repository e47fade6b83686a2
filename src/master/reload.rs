//! `--reload` in the master: turns a worker's "a watched file changed" (a flag in its
//! heartbeat slot, set by the worker's watcher) into a HUP-style reload, and keeps the
//! old generation serving when the new one cannot load the app.
//!
//! The master watches nothing itself: it must stay free of threads (it forks), and only
//! the workers know which modules the app imported. Reading the flags on its tick costs a
//! load per worker and no descriptor.

use super::Arbiter;
use crate::scoreboard::heartbeat::state;

impl Arbiter {
    /// Starts a new generation (as HUP does: config re-read, new workers first, the old
    /// ones retired once the new ones are ready) when a current worker saw a change.
    /// Requests from workers already being replaced are stale and dropped.
    pub(super) fn reload_on_change(&mut self) {
        if !self.settings.reload {
            return;
        }
        let mut asked = false;
        for w in self.workers.values() {
            // Every flag is taken, so one save seen by N workers reloads once.
            let taken = self.table.slot(w.nr).take_reload();
            asked |= taken && !w.terminating && w.generation == self.generation;
        }
        if asked {
            self.handle_hup();
        }
    }

    /// A worker of `generation` exited because it could not boot or load the app. With
    /// `--reload`, when older workers are still serving, they stay (relabelled as the
    /// current generation) and the failed generation is dropped: the developer's syntax
    /// error is logged by the worker, requests keep being answered by the old code, and
    /// the next change to a watched file tries again. Returns false when the master must
    /// halt as Gunicorn does (no reload, or nothing older to fall back on).
    pub(super) fn keep_serving_after_failed_load(&mut self, pid: i32, generation: u64) -> bool {
        if !self.settings.reload {
            return false;
        }
        if generation != self.generation {
            // Another worker of a generation already dropped.
            tracing::debug!("Worker (pid:{pid}) of a dropped generation failed to load");
            return true;
        }
        let old: Vec<i32> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.terminating && w.generation < generation)
            .filter(|(_, w)| self.table.slot(w.nr).state() == state::READY)
            .map(|(&pid, _)| pid)
            .collect();
        if old.is_empty() {
            return false;
        }
        // A fresh number, so leftovers of the failed generation are never current again.
        self.generation += 1;
        for pid in &old {
            if let Some(w) = self.workers.get_mut(pid) {
                w.generation = self.generation;
                // Events seen while being replaced are stale; the next edit asks anew.
                self.table.slot(w.nr).take_reload();
            }
        }
        tracing::error!(
            "Worker (pid:{pid}) failed to load the app: the previous {} worker(s) keep \
             serving the old code until a watched file changes again",
            old.len()
        );
        true
    }
}
