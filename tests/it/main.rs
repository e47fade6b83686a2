//! The single integration-test binary: spawns the real binaries (the `runicorn` binary
//! and the `probe` example) on port 0, reads `Listening at:` from their error log, and
//! drives them with real sockets and signals.

mod util;

mod abuse;
mod access_log;
#[cfg(feature = "python")]
mod asgi;
mod boot;
mod config;
#[cfg(feature = "python")]
mod control;
mod edge;
#[cfg(feature = "python")]
mod gevent;
mod h2c;
pub(crate) mod observe;
#[cfg(feature = "python")]
mod paste;
#[cfg(feature = "python")]
mod pyconf;
mod recycling;
#[cfg(feature = "python")]
mod reload;
mod resources;
mod shutdown;
mod static_files;
pub(crate) mod tls;
mod upgrade;
mod websocket;
#[cfg(feature = "python")]
mod wsgi;
