//! runicorn: a Gunicorn-compatible pre-fork HTTP server.
//!
//! # Layers
//!
//! Each module imports only from the layers below its own (and, within a layer, without
//! cycles); `python3 benches/imports.py` prints the import graph and any edge that breaks
//! this. A lower layer that must reach a higher one's output is handed a function at run
//! time (the error log's and access log's taps, which `observe` registers).
//!
//! | layer | modules | what they own |
//! |------:|---------|---------------|
//! | 0 | `sys`, `error`, `pidfile`, `scoreboard` | `sys`: the only `unsafe` (fork and CPython's fork bracket, signal handlers, shared memory, descriptors, CPython start-up), private to the crate; `error`: exit codes; `pidfile`; `scoreboard`: what workers record for the master in shared memory (heartbeat slots, request and edge counters) and the clock they share |
//! | 1 | `http`, `access_log`, `python` | pure code: the HTTP/1 validator and PROXY parser, where a request came in; the access-log format compiler, renderer and its file writer; the embedded CPython's start and exception formatting (feature `python`) |
//! | 2 | `config` | every setting declared once, parsed once into its type (targets, ciphers, SNI entries), layers and precedence, CLI, TOML and Python config files |
//! | 3 | `logging`, `observe`, `pyconf`, `hooks` | the error log; syslog, StatsD and the Prometheus endpoint; server hooks and Python `logging` from a Python config file, and the hook calls the master and workers make |
//! | 4 | `tls`, `static_files`, `websocket` | the TLS acceptor (rustls); static files' decisions, cache and edge writer; WebSockets: handshake, framing, permessage-deflate, one task per socket, the worker's registry of open sockets |
//! | 5 | `server` | listeners, connections, the edge's deadlines, the service wrapper every app runs behind, the doorbell that wakes an app host's thread once per pass of the edge |
//! | 6 | `worker` | a forked child: runtime, heartbeat, signals, drain, the `--reload` file watcher; [`worker::Host`], the seam every app host plugs into |
//! | 7 | `master` | the arbiter: binds, forks, reaps, murders and respawns, reloads (on HUP and on `--reload`'s flag); the `gunicornc` control socket |
//! | 8 | `wsgi`, `asgi` | app hosts (feature `python`): the embedded CPython WSGI host; the ASGI host (one event loop per worker), which reuses the WSGI host's app loading and response hand-over and chooses between the two |
//! | 9 | `app` | entry points: [`run`] and friends for Rust services, [`run_command`] for the `runicorn` command |
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
mod hooks;
pub mod http;
mod logging;
mod master;
mod observe;
mod server;
mod static_files;
mod sys;
mod tls;
pub mod websocket;
mod worker;

mod app;
mod pidfile;
#[cfg(feature = "python")]
mod python;
mod scoreboard;

#[cfg(feature = "python")]
mod asgi;
#[cfg(feature = "python")]
mod pyconf;
#[cfg(feature = "python")]
mod wsgi;

#[cfg(feature = "python")]
pub use app::run_hosted;
pub use app::{BootError, run, run_command, run_with, run_with_args, run_with_settings};
pub use server::AppService;
