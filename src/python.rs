//! The embedded CPython every Python-facing part shares (the `python` feature): starting
//! the interpreter so it finds the right standard library and virtualenv, and formatting
//! a Python exception for the error log. Repairing the interpreter across fork is
//! `sys::fork`'s job (CPython's fork bracket), so nothing here needs to know about it.

use std::path::PathBuf;

use pyo3::prelude::*;

/// Formats a Python exception with its traceback, as `traceback.print_exc()` would.
pub(crate) fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| {
            tb.call_method1(
                "format_exception",
                (e.get_type(py), e.value(py), e.traceback(py)),
            )
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_string(),
        Err(_) => e.to_string(),
    }
}

/// Initialises the interpreter: a venv's python as the program (so CPython's own
/// `pyvenv.cfg` logic applies), else the build interpreter's home.
pub(crate) fn init_interpreter() -> Result<(), String> {
    // Tests load Python config files from several threads at once; initialise once.
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if crate::sys::python_is_initialized() {
        return Ok(());
    }
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .filter(|v| v.join("bin/python").exists());
    if let (Some(v), Some(built)) = (&venv, option_env!("RUNICORN_PYTHON_VERSION")) {
        // A venv of another Python would pair our libpython with a foreign stdlib.
        let cfg = std::fs::read_to_string(v.join("pyvenv.cfg")).unwrap_or_default();
        let version = cfg.lines().find_map(|l| {
            let (k, val) = l.split_once('=')?;
            (k.trim() == "version" || k.trim() == "version_info").then(|| val.trim().to_string())
        });
        if let Some(version) = version
            && !(version == built || version.starts_with(&format!("{built}.")))
        {
            return Err(format!(
                "VIRTUAL_ENV {} is a Python {version} environment, but this runicorn embeds Python \
                 {built}: rebuild runicorn with that Python (PYO3_PYTHON) or use a {built} venv",
                v.display()
            ));
        }
    }
    let (program, home) = match &venv {
        Some(v) => (
            Some(v.join("bin/python").to_string_lossy().into_owned()),
            None,
        ),
        None => {
            let home =
                option_env!("RUNICORN_PYTHON_HOME").filter(|h| std::path::Path::new(h).is_dir());
            // PYTHONHOME, when set, is the user's choice: CPython reads it itself.
            let home = home.filter(|_| std::env::var_os("PYTHONHOME").is_none());
            (
                option_env!("RUNICORN_PYTHON_EXECUTABLE")
                    .filter(|p| std::path::Path::new(p).exists())
                    .map(String::from),
                home.map(String::from),
            )
        }
    };
    crate::sys::init_python(program.as_deref(), home.as_deref())
}
