//! `runicorn._runicorn`: the Rust core of the `runicorn` Python package.
//!
//! `pip install runicorn` gives a `runicorn` command (and `python -m runicorn`) whose
//! Python process hosts the master: `python/runicorn/__main__.py` calls [`run`] with the
//! command line, the master and its forked workers serve the app in that interpreter
//! (the venv's own Python, whatever its minor version), and [`run`] returns the exit
//! code. The server itself is the `runicorn` crate; nothing here but the entry.

use std::ffi::OsString;

use pyo3::prelude::*;

/// Runs runicorn with `args` (`args[0]` is the program name, the rest Gunicorn's command
/// line) and returns its exit code. `exec_argv` is what USR2 re-executes (the
/// interpreter, then what the user ran after it).
///
/// The GIL is released for the whole run: the master's loop never holds it, and each
/// worker's app threads take it as they need it.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<OsString>, exec_argv: Vec<OsString>) -> i32 {
    py.detach(move || runicorn::run_hosted(args, exec_argv))
}

/// The module. `gil_used = true`: the app-thread pool and the hook objects have not been
/// audited for free-threaded CPython, which must keep its GIL on when it imports us.
#[pymodule(gil_used = true)]
fn _runicorn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    Ok(())
}
