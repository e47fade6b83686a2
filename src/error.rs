//! Exit codes shared by the master and workers, named once and matching Gunicorn's.

/// A worker failed before it finished booting; the master halts instead of respawning.
pub const WORKER_BOOT_ERROR: i32 = 3;
/// The application could not be loaded; the master halts instead of respawning.
pub const APP_LOAD_ERROR: i32 = 4;
/// A worker's Rust code panicked (distinct from a boot failure: it is respawned).
pub const WORKER_PANIC: i32 = 70;
