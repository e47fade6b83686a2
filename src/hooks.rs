//! The server hooks and Python logging as the master and workers call them: one function
//! per moment of Gunicorn's lifecycle. With the `python` feature they reach `pyconf`;
//! without it (and whenever no hook is installed) they do nothing.

use crate::config::Settings;

/// In the master after every successful configuration load (start, HUP): resolves the
/// hooks and, where the master runs Python (a Python config file), configures Python
/// logging so the hooks' own logging follows it, as Gunicorn does before `on_starting`.
/// An invalid logging configuration, or a hook that cannot be resolved (a dotted path
/// that does not import), is an error: at start the master stops, as Gunicorn's
/// configuration load fails; after a HUP it is logged and the other hooks are installed.
pub(crate) fn install(s: &Settings, num_workers: u32) -> Result<(), String> {
    #[cfg(feature = "python")]
    {
        let installed = crate::pyconf::hooks::install(s, num_workers);
        let from_python_file = installed.from_file;
        // As with --preload (which warns itself): a config file (or a module it imports)
        // that starts a thread leaves the master multi-threaded, and the workers forked
        // from it lack that thread.
        if from_python_file
            && !s.preload_app
            && let Some(n) = crate::sys::thread_count().filter(|&n| n > 1)
        {
            tracing::warn!(
                "the Python config file started {} thread(s) in the master; they will not run \
                 in the workers, and forking with them alive risks deadlocks",
                n - 1
            );
        }
        if crate::sys::python_is_initialized() {
            pyo3::Python::attach(|py| crate::pyconf::logconf::apply(py, s))?;
        }
        if !installed.unusable.is_empty() {
            return Err(installed.unusable.join("\n"));
        }
    }
    let _ = (s, num_workers);
    Ok(())
}

/// A master hook taking `(server)`: on_starting, when_ready, on_reload, pre_exec, on_exit.
pub(crate) fn server(name: &str, num_workers: u32) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::server_hook(name, num_workers);
    let _ = (name, num_workers);
}

/// `nworkers_changed(server, new, old)`; `old` is None the first time, as in Gunicorn.
pub(crate) fn nworkers_changed(new: u32, old: Option<u32>) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::nworkers_changed(new, old);
    let _ = (new, old);
}

/// In the master, before forking the worker with spawn number `age`.
pub(crate) fn pre_fork(age: u64, num_workers: u32) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::pre_fork(age, num_workers);
    let _ = (age, num_workers);
}

/// In the master, after forking worker `age` as `pid`.
pub(crate) fn forked_parent(age: u64, pid: u32) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::forked_parent(age, pid);
    let _ = (age, pid);
}

/// In a freshly forked worker (whose inherited interpreter `sys::fork` already
/// repaired): picks the worker's own `worker` object (pre_fork made it).
pub(crate) fn forked_child(age: u64) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::forked_child(age);
    let _ = age;
}

/// In the worker once `raw_env` is set (so the hook sees it, as under Gunicorn, whose
/// master sets it): `post_fork(server, worker)`.
pub(crate) fn post_fork(raw_env: &[(String, String)]) {
    #[cfg(feature = "python")]
    {
        crate::pyconf::hooks::sync_environ(raw_env);
        crate::pyconf::hooks::post_fork();
    }
    let _ = raw_env;
}

/// In the master after reaping worker `pid`.
pub(crate) fn child_exit(pid: u32, num_workers: u32) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::child_exit(pid, num_workers);
    let _ = (pid, num_workers);
}

/// A worker hook: post_worker_init, worker_int, worker_abort, worker_exit.
pub(crate) fn worker(name: &str) {
    #[cfg(feature = "python")]
    crate::pyconf::hooks::worker_hook(name);
    let _ = name;
}

/// Whether a worker hook (or any hook) is installed in this process.
pub(crate) fn has(name: &str) -> bool {
    #[cfg(feature = "python")]
    return crate::pyconf::hooks::has(name);
    #[cfg(not(feature = "python"))]
    {
        let _ = name;
        false
    }
}
