//! The `runicorn` binary: thin; everything lives in the library.
fn main() -> std::process::ExitCode { runicorn::run(runicorn::App) }
