//! The crash-loop guard: a worker that exits on its own right after it was forked, again
//! and again (an app that calls `os._exit` at import, an interpreter that aborts in the
//! child, a missing shared library), is respawned after a growing delay instead of at
//! once, so a broken deployment costs a few forks a second at first and one every
//! [`MAX_DELAY`] at worst, never a core spent forking.
//!
//! Gunicorn halts the master on boot failures it can recognise (exit codes 3 and 4, as
//! runicorn does); anything else it respawns at once. runicorn keeps respawning, as a
//! worker may die for a passing reason, but slows down while the deaths keep coming, and
//! says so in the error log.

use std::time::{Duration, Instant};

/// A worker that exits on its own within this long of its fork, or before it ever
/// became ready, counts as a quick death; one that has served this long ends the streak.
pub(super) const QUICK: Duration = Duration::from_secs(2);

/// The longest wait between two spawns during a crash loop.
pub(super) const MAX_DELAY: Duration = Duration::from_secs(30);

/// The first delay (after the second quick death in a row); it doubles with each one.
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// Quick deaths in a row and when the next spawn may happen.
#[derive(Debug, Default)]
pub(super) struct CrashLoop {
    /// Workers that died quickly since one last served for [`QUICK`].
    streak: u32,
    /// No spawn before this instant.
    not_before: Option<Instant>,
}

impl CrashLoop {
    /// Records a worker that exited without being asked to, `lived` after its fork,
    /// `was_ready` if it had finished booting. Returns the streak and the delay before
    /// the next spawn when this death is part of a crash loop (then the caller logs it).
    pub(super) fn died(
        &mut self,
        lived: Duration,
        was_ready: bool,
        now: Instant,
    ) -> Option<(u32, Duration)> {
        if lived >= QUICK && was_ready {
            return None;
        }
        self.streak = self.streak.saturating_add(1);
        let delay = delay(self.streak);
        if delay.is_zero() {
            return None;
        }
        self.not_before = Some(now + delay);
        Some((self.streak, delay))
    }

    /// A worker has been up for [`QUICK`] and is ready: whatever broke is fixed.
    pub(super) fn served(&mut self) {
        self.streak = 0;
        self.not_before = None;
    }

    /// Whether workers may be spawned now, and how many at most (`None`: no limit).
    pub(super) fn allowance(&self, now: Instant) -> Option<usize> {
        match self.not_before {
            Some(t) if now < t => Some(0),
            // While in a loop, one worker at a time: the next death delays the others.
            _ if self.streak >= 2 => Some(1),
            _ => None,
        }
    }

    pub(super) fn in_loop(&self) -> bool {
        self.streak > 0
    }
}

/// No delay for a single death (a worker may die for a passing reason), then
/// [`FIRST_DELAY`] doubling up to [`MAX_DELAY`].
fn delay(streak: u32) -> Duration {
    match streak {
        0 | 1 => Duration::ZERO,
        n => FIRST_DELAY
            .saturating_mul(1u32.checked_shl(n - 2).unwrap_or(u32::MAX))
            .min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_from_the_second_quick_death_and_are_capped() {
        let ms = |n| delay(n).as_millis();
        assert_eq!(
            (1..=9).map(ms).collect::<Vec<_>>(),
            [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000]
        );
        assert_eq!(delay(200), MAX_DELAY);
    }

    #[test]
    fn a_loop_holds_spawns_back_until_a_worker_serves() {
        let t0 = Instant::now();
        let mut c = CrashLoop::default();
        assert_eq!(c.allowance(t0), None);
        // One death: respawned at once, no limit.
        assert_eq!(c.died(Duration::from_millis(10), false, t0), None);
        assert_eq!(c.allowance(t0), None);
        // The second: a delay, then one worker at a time.
        assert_eq!(
            c.died(Duration::from_millis(10), false, t0),
            Some((2, Duration::from_millis(250)))
        );
        assert_eq!(c.allowance(t0), Some(0));
        assert_eq!(c.allowance(t0 + Duration::from_millis(250)), Some(1));
        // A worker that never became ready counts even if it lived long.
        assert_eq!(
            c.died(Duration::from_secs(60), false, t0),
            Some((3, Duration::from_millis(500)))
        );
        // One that served a while, then died, does not.
        assert_eq!(c.died(Duration::from_secs(60), true, t0), None);
        assert!(c.in_loop());
        c.served();
        assert!(!c.in_loop());
        assert_eq!(c.allowance(t0), None);
    }
}
