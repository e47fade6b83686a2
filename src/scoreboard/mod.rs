//! The scoreboard: what every worker records for the master to read, in memory shared
//! across fork, plus the clock all processes compare against.
//!
//! | module      | owns |
//! |-------------|------|
//! | `heartbeat` | one slot per worker: pid, state, last beat, requests served |
//! | `counters`  | one slot per worker of request/edge counters, and the master's totals |
//! | `edge`      | a worker's in-process edge counters and their mirroring into its slot |
//!
//! The tables are plain records: the master maps them (`sys::shared_zeroed_slice`, whose
//! safety contract the record types meet) and hands them in, so this module needs
//! nothing from the layers around it.

pub(crate) mod counters;
pub(crate) mod edge;
pub(crate) mod heartbeat;

/// Milliseconds of CLOCK_MONOTONIC, comparable across processes on one machine.
pub(crate) fn monotonic_ms() -> u64 {
    clock_ms(nix::time::ClockId::CLOCK_MONOTONIC)
}

/// The same clock, coarse: read from the vDSO without a system call or a TSC read, in
/// steps of a scheduler tick (for a check on a per-request path that needs no finer).
#[cfg(feature = "python")]
pub(crate) fn monotonic_coarse_ms() -> u64 {
    clock_ms(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
}

fn clock_ms(clock: nix::time::ClockId) -> u64 {
    match nix::time::clock_gettime(clock) {
        Ok(ts) => ts.tv_sec() as u64 * 1000 + ts.tv_nsec() as u64 / 1_000_000,
        Err(_) => 0,
    }
}
