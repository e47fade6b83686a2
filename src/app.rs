//! What workers serve. BOOTSTRAP PLACEHOLDER.
use std::process::ExitCode;
/// Response body type every app produces.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::io::Error>;
/// Placeholder.
pub struct App;
/// Placeholder.
pub fn run(_app: App) -> ExitCode { ExitCode::FAILURE }
/// Placeholder.
pub fn run_with_args(_app: App, _args: Vec<std::ffi::OsString>) -> ExitCode { ExitCode::FAILURE }
