//! runicorn: a Gunicorn-compatible pre-fork HTTP server.
//!
//! # Layout
//!
//! Data flows top to bottom; each module owns one noun.
//!
//! | module        | owns |
//! |---------------|------|
//! | [`config`]    | the settings registry (every setting declared once), layers and precedence, CLI, `--print-config` |
//! | [`master`]    | the arbiter: a synchronous, single-threaded loop that binds, forks, reaps, murders and respawns |
//! | [`worker`]    | what a forked child runs: its tokio runtime, heartbeat, signals, graceful drain |
//! | [`server`]    | listeners, connections, the hyper glue and the service wrapper every app runs behind |
//! | [`static_files`] | `--static-map`: files served at the edge, in front of the app (validators, ranges, precompressed siblings) |
//! | [`tls`]       | TLS termination with rustls: certificate material, per-worker `ServerConfig`, shared session tickets, SNI, ALPN |
//! | [`http`]      | HTTP/1 request-head validation with Gunicorn's rules and limits, error responses |
//! | [`access_log`]| the `--access-logformat` compiler and per-request line writer |
//! | [`logging`]   | the error log in Gunicorn's format, reopenable on USR1 |
//! | [`sys`]       | the only module allowed `unsafe`: fork, signal handlers, shared memory, privileges, CPython initialisation |
//! | [`hooks`]     | server hooks and Python logging at Gunicorn's lifecycle moments (no-ops without `python`) |
//! | `pyconf`      | (feature `python`) Python config files, the hook objects, Python `logging` set-up |
//! | `wsgi`        | (feature `python`) the embedded CPython WSGI host: app loading, environ, app threads, responses |
//!
//! # Process model
//!
//! ```text
//! master (no tokio, no threads)                     worker (after fork)
//! config::load → bind → pidfile → fork ×N  ───────► tokio runtime → accept → hyper → app
//!      ▲  reap / murder / spawn once a second              │ beats its heartbeat slot
//!      └──── self-pipe ◄── signal handlers                 ▼ every second
//!      └──── heartbeat table (shared memory) ◄─────────────┘
//! ```
//!
//! # Signals (master)
//!
//! | signal | action |
//! |--------|--------|
//! | TERM   | graceful shutdown: stop accepting, finish in-flight requests within `graceful_timeout`, then SIGKILL |
//! | INT, QUIT | quick shutdown |
//! | HUP    | reload the configuration, start a new generation of workers, then retire the old one gracefully |
//! | TTIN / TTOU | one worker more / one fewer (never below one) |
//! | USR1   | reopen log files in the master and every worker |
//! | USR2   | re-execute the binary, handing the listeners over (`GUNICORN_FD`) |
//! | WINCH  | when daemonized: stop all workers, keep the master |
//! | CHLD   | reap exited workers |

pub mod access_log;
pub mod config;
pub mod error;
pub mod hooks;
pub mod http;
pub mod logging;
pub mod master;
pub mod observe;
pub mod server;
pub mod static_files;
mod sys;
pub mod tls;
pub mod worker;

mod app;
mod pidfile;
#[cfg(feature = "python")]
mod python;
mod scoreboard;

#[cfg(feature = "python")]
mod pyconf;
#[cfg(feature = "python")]
pub mod wsgi;

pub use app::{
    BootError, prepare, run, run_with, run_with_args, run_with_settings, serve_static_only,
};
pub use server::AppService;
