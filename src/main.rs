//! The `runicorn` binary: thin; everything lives in the library.
//!
//! With the `python` feature (the default) it serves the WSGI app named by APP_MODULE
//! (or `wsgi_app`) through the embedded CPython host. Built without it, the binary
//! validates configuration (`--check-config`, `--print-config`), serves `--static-map`
//! directories, and refuses an APP_MODULE clearly; Rust programs serve their own services
//! through `runicorn::run` (see examples/hello.rs).

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = runicorn::run_command(std::env::args_os().collect());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
