//! The app `runicorn` serves when it is given no APP_MODULE (and no `--static-map`):
//! examples/welcome, embedded in the binary so it works wherever runicorn is installed
//! (`cargo install`, a pip wheel) with no file on disk.
//!
//! Gunicorn exits with "No application module specified." instead; runicorn logs that
//! line as a warning and serves this page, which says how to serve a real app.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyModule};

/// The APP_MODULE it stands for (the module name is not importable from disk).
pub(crate) const APP: &str = "_runicorn_welcome:app";

const MODULE: &str = "_runicorn_welcome";

const SOURCE: &str = include_str!("../../examples/welcome/welcome.py");

/// examples/welcome/static, served at `/static/NAME`.
const STATIC: &[(&str, &[u8])] = &[
    (
        "style.css",
        include_bytes!("../../examples/welcome/static/style.css"),
    ),
    (
        "runicorn.svg",
        include_bytes!("../../examples/welcome/static/runicorn.svg"),
    ),
];

/// Puts the welcome module in `sys.modules` when `module` names it, so the ordinary
/// loader imports it.
pub(crate) fn install_if_named(py: Python<'_>, module: &str) -> PyResult<()> {
    if module != MODULE || py.import("sys")?.getattr("modules")?.contains(MODULE)? {
        return Ok(());
    }
    let code = std::ffi::CString::new(SOURCE)?;
    let m = PyModule::from_code(
        py,
        &code,
        c"examples/welcome/welcome.py",
        c"_runicorn_welcome",
    )?;
    let files = PyDict::new(py);
    for (name, bytes) in STATIC {
        files.set_item(name, PyBytes::new(py, bytes))?;
    }
    m.setattr("STATIC", files)
}
