//! What a forked child runs: signal set-up, privilege drop, its own tokio runtime (built
//! after fork, never inherited), the heartbeat, and the server until TERM/INT/QUIT.

mod reload;

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Settings;
use crate::scoreboard::heartbeat::{Slot, state};
use crate::server::{self, Accepting, AppService, Listener, ServeConfig, Stop};

/// Everything a worker needs from the master, borrowed from the master's memory image
/// (which the child owns a copy of after fork).
pub(crate) struct Context<'a> {
    /// The worker's heartbeat slot.
    pub slot: &'static Slot,
    /// Its place in the heartbeat table, to share new connections with its siblings.
    pub spread: crate::server::Spread,
    /// The listeners to accept on.
    pub listeners: &'a [Listener],
    /// Resolved settings of the generation this worker belongs to.
    pub settings: &'a Settings,
    /// `max_requests` plus this worker's jitter (0 = never).
    pub max_requests: u64,
    /// The access log opened by the master (its writer thread starts in the worker).
    pub access_log: Option<std::sync::Arc<crate::access_log::AccessLog>>,
    /// TLS material validated by the master (None: plaintext). The worker builds its
    /// rustls `ServerConfig` from it once.
    pub tls: Option<std::sync::Arc<crate::tls::Material>>,
    /// This worker's shared-memory counters when `--metrics-bind` is on.
    pub metrics: Option<&'static crate::observe::metrics::Slot>,
}

/// How often at most a worker hands freed memory back to the system once connections
/// ended (`sys::release_free_memory` walks every arena: cheap, but not for every beat).
const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Signals the master handles that a worker must not die from when they are sent to the
/// whole process group (a terminal's ^C goes to everyone; HUP/TTIN/TTOU/USR2/WINCH are
/// meant for the master).
///
/// SIGXFSZ too: a log file hitting RLIMIT_FSIZE must fail the write (EFBIG, counted by the
/// log), not kill the worker (its default action). Python ignores it the same way.
const IGNORED_IN_WORKER: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGXFSZ,
];

/// Why a worker could not start serving.
#[derive(Debug)]
pub enum BootError {
    /// The worker itself failed (exit code 3: the master halts with "Worker failed to boot.").
    Worker(String),
    /// The application failed to load (exit code 4: "App failed to load.").
    App(String),
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootError::Worker(m) | BootError::App(m) => f.write_str(m),
        }
    }
}

/// Which tokio runtime a worker builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimeFlavor {
    /// Rust services: a multi-thread runtime with `threads` workers when `threads > 1`,
    /// else current-thread.
    FromThreads,
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    /// Always current-thread: the WSGI host uses `threads` for its Python app threads,
    /// and one tokio thread is plenty for the I/O in front of them.
    CurrentThread,
}

/// An app host: what a worker serves behind the edge. Every kind of app (a Rust service,
/// static files alone, the WSGI host, and the hosts to come) is one implementation; the
/// worker drives them all the same way.
pub(crate) trait Host {
    /// The hyper service the worker's connections run.
    type Service: AppService;

    /// Which tokio runtime the worker builds for this host.
    fn runtime(&self) -> RuntimeFlavor;

    /// Builds the worker's service: called once per worker, after fork, inside the
    /// worker's runtime, with the settings of the worker's generation. An `Err` stops the
    /// worker with Gunicorn's exit code for its kind.
    fn boot(&self, s: &Settings) -> Result<Self::Service, BootError>;

    /// The service's capacity and load, when it has a fixed capacity (app threads, a
    /// greenlet pool): the worker then accepts only while it has room.
    fn app_load(&self, _svc: &Self::Service) -> Option<std::sync::Arc<crate::server::AppLoad>> {
        None
    }

    /// Whether the app runs on threads of its own beside the edge's (the Python hosts):
    /// the edge's thread then stops preempting them when it wakes (see `serve`), and
    /// requests carry their socket, which these hosts ask whether a queued request's
    /// client left (`ServeConfig::client_socket`).
    fn app_beside_edge(&self) -> bool {
        false
    }

    /// Told when the app can no longer answer (its thread ended while serving): the
    /// worker then stops at once, as on SIGQUIT but without the `worker_int` hook.
    fn app_gone(&self, _svc: &Self::Service) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// Runs once the worker stopped serving, before it exits (flush what the app buffered).
    fn at_exit(&self) {}

    /// The source files of the app's imported modules, which `--reload` watches (asked
    /// once the service booted).
    fn watched_files(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

/// Runs the worker: the host boots its service once, inside the worker's runtime, after
/// fork; returns the worker's exit status.
pub(crate) fn run<H: Host>(ctx: Context<'_>, host: &H) -> i32 {
    let flavor = host.runtime();
    crate::sys::reset_master_handlers();
    crate::sys::ignore_signals(IGNORED_IN_WORKER);
    crate::sys::exit_on_sigabrt();
    let pid = std::process::id();
    ctx.slot
        .pid
        .store(pid, std::sync::atomic::Ordering::Relaxed);
    ctx.slot.beat();
    tracing::info!("Booting worker with pid: {pid}");

    crate::sys::set_env_in_fresh_child(&ctx.settings.raw_env);
    crate::hooks::post_fork(&ctx.settings.raw_env);
    // After set_env_in_fresh_child, which must run while the worker has one thread.
    if crate::hooks::has("worker_abort") {
        watch_for_abort();
    }
    if let Err(e) = drop_privileges(ctx.settings) {
        tracing::error!("Exception in worker process: cannot switch user/group: {e}");
        return crate::error::WORKER_BOOT_ERROR;
    }
    set_process_name(ctx.settings, "worker");

    let runtime = if flavor == RuntimeFlavor::FromThreads && ctx.settings.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(ctx.settings.threads as usize)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("Exception in worker process: cannot build the runtime: {e}");
            return crate::error::WORKER_BOOT_ERROR;
        }
    };
    let access_log = ctx.access_log.clone();
    let status = runtime.block_on(serve(ctx, host));
    if let Some(log) = access_log {
        log.flush();
    }
    tracing::info!("Worker exiting (pid: {pid})");
    crate::hooks::worker("worker_exit");
    // Quick shutdown must not wait for connection tasks still parked in the runtime.
    runtime.shutdown_background();
    host.at_exit();
    status
}

async fn serve<H: Host>(ctx: Context<'_>, host: &H) -> i32 {
    let mut listeners = Vec::with_capacity(ctx.listeners.len());
    for l in ctx.listeners {
        match Accepting::from_listener(l) {
            Ok(a) => listeners.push(a),
            Err(e) => {
                tracing::error!("Exception in worker process: cannot use listener {l}: {e}");
                return crate::error::WORKER_BOOT_ERROR;
            }
        }
    }
    let (mut term, mut int, mut quit, mut usr1) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
        signal(SignalKind::user_defined1()),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        _ => {
            tracing::error!("Exception in worker process: cannot install signal handlers");
            return crate::error::WORKER_BOOT_ERROR;
        }
    };
    // Signals sent since the fork were held (see sys::fork); tokio handles them now.
    crate::sys::unblock_signals();

    let app = match host.boot(ctx.settings) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("Exception in worker process:\n{e}");
            return match e {
                BootError::Worker(_) => crate::error::WORKER_BOOT_ERROR,
                BootError::App(_) => crate::error::APP_LOAD_ERROR,
            };
        }
    };
    crate::hooks::worker("post_worker_init");
    // The app's threads exist now, with the default policy. Each response an app thread
    // finishes wakes this thread, which then preempted the app on a busy core to write
    // that one response: two context switches a request, and as much kernel time in the
    // edge as in the app (a Flask JSON view on one core: 1.15 switches a request, 23 µs of
    // system time in the edge). As SCHED_BATCH the edge runs when the app waits or its
    // slice ends, and writes every response finished meanwhile (that view: 10.0k → 15.4k
    // req/s, p99 11.2 → 7.8 ms). A core with nothing to run still runs it at once.
    if host.app_beside_edge()
        && let Err(e) = crate::sys::set_thread_batch()
    {
        tracing::debug!("the edge's thread stays SCHED_OTHER: {e}");
    }
    let s = ctx.settings;
    // Lives as long as the worker serves; dropping it stops the watcher's thread.
    let _reloader = if s.reload {
        reload::start(s, host.watched_files(), ctx.slot)
    } else {
        None
    };
    let statics = match crate::static_files::Config::from_settings(s) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("Exception in worker process: {e}");
            return crate::error::WORKER_BOOT_ERROR;
        }
    };
    // Beat well inside the timeout so one late tick never looks like a hang.
    let beat_every = match s.timeout {
        0 => Duration::from_secs(1),
        t => Duration::from_millis((t.saturating_mul(1000) / 4).clamp(50, 1000)),
    };
    let slot = ctx.slot;
    let edge_stats: std::sync::Arc<crate::server::conn::EdgeStats> = Default::default();
    let (metrics, mirrored) = (ctx.metrics, edge_stats.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(beat_every);
        let (mut cut_seen, mut trimmed) = (0, std::time::Instant::now());
        loop {
            tick.tick().await;
            slot.beat();
            // The edge's counters reach the master's scrape within a beat.
            if let Some(m) = metrics {
                crate::scoreboard::edge::mirror(m, &mirrored);
            }
            // Connections ended or parked, or streams were cut off (after an attack:
            // hundreds of MB at once): what they held is free, but glibc keeps it (the
            // buffers of parked connections lie between their live state, where only a
            // trim releases them); give it back, at most every TRIM_EVERY.
            let cut = mirrored.freed();
            if cut != cut_seen && trimmed.elapsed() >= TRIM_EVERY {
                (cut_seen, trimmed) = (cut, std::time::Instant::now());
                tokio::task::spawn_blocking(crate::sys::release_free_memory);
            }
        }
    });
    let access_log = ctx.access_log.clone();
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            if let Err(e) = crate::logging::reopen() {
                tracing::error!("cannot reopen the error log: {e}");
            }
            if let Some(log) = &access_log {
                // Flushes, then reopens: blocking, but USR1 is rare and the flush is bounded.
                let log = log.clone();
                let reopened = tokio::task::spawn_blocking(move || log.reopen()).await;
                if let Ok(Err(e)) = reopened {
                    tracing::error!("cannot reopen the access log: {e}");
                }
            }
        }
    });

    let tls = match &ctx.tls {
        Some(m) => match crate::tls::Acceptor::new(m, s) {
            Ok(a) => Some(std::sync::Arc::new(a)),
            Err(e) => {
                tracing::error!("Exception in worker process: cannot set up TLS: {e}");
                return crate::error::WORKER_BOOT_ERROR;
            }
        },
        None => None,
    };
    let cfg = ServeConfig {
        keepalive: Duration::from_secs(s.keepalive),
        worker_connections: s.worker_connections as usize,
        graceful_timeout: Duration::from_secs(s.graceful_timeout),
        max_requests: ctx.max_requests,
        access_log: ctx.access_log.clone(),
        access_log_skip: s.access_log_skip.as_slice().into(),
        edge: std::sync::Arc::new(crate::server::conn::EdgeConfig::from_settings(s)),
        edge_stats: edge_stats.clone(),
        tls,
        observer: crate::observe::RequestObserver::new(ctx.metrics),
        statics: statics.clone(),
        websocket: crate::websocket::Context::new(crate::websocket::Config {
            max_message_size: s.websocket_max_message_size,
            permessage_deflate: true,
            send_timeout: Duration::from_secs(s.send_timeout),
            ping_interval: Duration::from_secs(s.websocket_ping_interval),
        }),
        app_load: host.app_load(&app),
        h2c: crate::server::h2c::H2c::from_settings(s, ctx.tls.is_some()).map(std::sync::Arc::new),
        spread: Some(ctx.spread),
        client_socket: host.app_beside_edge(),
    };
    // Beat first: the heartbeat task has not run yet, and a slow boot left the slot's last
    // beat far behind; the master must not read READY with a stale beat.
    slot.beat();
    // Only a worker still marked booting becomes ready: a RETIRE set early must stick.
    let _ = slot.state.compare_exchange(
        state::BOOTING,
        state::READY,
        std::sync::atomic::Ordering::AcqRel,
        std::sync::atomic::Ordering::Relaxed,
    );
    let app_gone = host.app_gone(&app);
    let stop = async move {
        let gone = async {
            match app_gone {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => Stop::Graceful,
            _ = int.recv() => { crate::hooks::worker("worker_int"); Stop::Quick }
            _ = quit.recv() => { crate::hooks::worker("worker_int"); Stop::Quick }
            () = gone => Stop::Quick,
        }
    };
    // Without --static-map the app is served bare: no extra layer on its hot path.
    match statics {
        Some(st) => {
            server::serve(
                listeners,
                cfg,
                crate::server::statics::Static::new(app, st),
                Some(slot),
                stop,
            )
            .await
        }
        None => server::serve(listeners, cfg, app, Some(slot), stop).await,
    };
    // Final mirror: the master folds this slot once we are reaped.
    if let Some(m) = ctx.metrics {
        crate::scoreboard::edge::mirror(m, &edge_stats);
    }
    0
}

/// Gunicorn's SIGABRT handling with a `worker_abort` hook: the hook, "Worker exiting",
/// `worker_exit`, then exit status 1. A thread waits for the signal (turned into a pipe
/// byte), so the hook runs outside signal context; a hook wedged on the GIL is bounded by
/// the master's SIGKILL a second after its SIGABRT.
fn watch_for_abort() {
    let rd = match crate::sys::sigabrt_to_pipe() {
        Ok(rd) => rd,
        Err(e) => {
            tracing::error!("cannot set up the worker_abort hook: {e}; SIGABRT exits at once");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("worker-abort".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            loop {
                match nix::unistd::read(&rd, &mut byte) {
                    Ok(1) => break,
                    Err(nix::errno::Errno::EINTR) => continue,
                    _ => return,
                }
            }
            crate::hooks::worker("worker_abort");
            tracing::info!("Worker exiting (pid: {})", std::process::id());
            crate::hooks::worker("worker_exit");
            crate::sys::exit_immediately(1);
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the worker_abort thread: {e}");
    }
}

fn drop_privileges(s: &Settings) -> nix::Result<()> {
    use nix::unistd::{Gid, Uid};
    if let Some(gid) = s.group {
        nix::unistd::setgid(Gid::from_raw(gid))?;
    }
    if let Some(uid) = s.user {
        if s.initgroups
            && let Some(user) = nix::unistd::User::from_uid(Uid::from_raw(uid))?
        {
            let name = std::ffi::CString::new(user.name).map_err(|_| nix::Error::EINVAL)?;
            nix::unistd::initgroups(&name, Gid::from_raw(s.group.unwrap_or(user.gid.as_raw())))?;
        }
        nix::unistd::setuid(Uid::from_raw(uid))?;
    }
    Ok(())
}

/// Names the process `<proc_name>: <role>` in `ps -o comm` and `top` (the kernel keeps 15
/// bytes; rewriting the full argv, as setproctitle does, needs raw pointer games we
/// avoid).
pub(crate) fn set_process_name(s: &Settings, role: &str) {
    let base = s.proc_name.as_deref().unwrap_or("runicorn");
    let name = format!("{base}:{role}");
    let truncated: String = name.chars().take(15).collect();
    if let Ok(c) = std::ffi::CString::new(truncated) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}
