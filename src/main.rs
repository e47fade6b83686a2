//! The `runicorn` binary: thin; everything lives in the library.
//!
//! Until the WSGI host lands, the binary validates configuration (`--check-config`,
//! `--print-config`) and explains what it can serve; Rust programs serve their own
//! services through `runicorn::run` (see examples/hello.rs).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let loaded = match runicorn::prepare(&args) {
        Ok(l) => l,
        Err(code) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
    };
    match loaded.settings.wsgi_app {
        None => {
            eprintln!("Error: No application module specified.");
            ExitCode::from(1)
        }
        Some(app) => {
            tracing::error!(
                "Cannot load {app:?}: this build serves no Python WSGI apps yet (the embedded \
                 CPython host is not implemented); Rust services run through runicorn::run, \
                 see examples/hello.rs"
            );
            tracing::info!("Reason: App failed to load.");
            ExitCode::from(runicorn::error::APP_LOAD_ERROR as u8)
        }
    }
}
