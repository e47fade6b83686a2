//! The `runicorn` binary: thin; everything lives in the library.
//!
//! With the `python` feature (the default) it serves the WSGI app named by APP_MODULE
//! (or `wsgi_app`) through the embedded CPython host (`runicorn::wsgi`). Built without
//! it, the binary validates configuration (`--check-config`, `--print-config`) and
//! refuses an APP_MODULE clearly; Rust programs serve their own services through
//! `runicorn::run` (see examples/hello.rs).

use std::process::ExitCode;

#[cfg(feature = "python")]
fn main() -> ExitCode {
    runicorn::wsgi::main(std::env::args_os().collect())
}

#[cfg(not(feature = "python"))]
fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let loaded = match runicorn::prepare(&args) {
        Ok(l) => l,
        Err(code) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
    };
    match loaded.settings.wsgi_app.clone() {
        None if !loaded.settings.static_map.is_empty() => runicorn::serve_static_only(loaded, args),
        None => {
            eprintln!("Error: No application module specified.");
            ExitCode::from(1)
        }
        Some(app) => {
            tracing::error!(
                "Cannot load {app:?}: this runicorn was built without the `python` feature, so \
                 it serves no Python WSGI apps (rebuild with default features); Rust services \
                 run through runicorn::run, see examples/hello.rs"
            );
            tracing::info!("Reason: App failed to load.");
            ExitCode::from(runicorn::error::APP_LOAD_ERROR as u8)
        }
    }
}
