//! The arbiter: a synchronous, single-threaded loop that binds the listeners, forks
//! workers, reaps them, kills those whose heartbeat stopped, keeps the count, and turns
//! signals into reloads, upgrades and shutdowns. It never starts a tokio runtime or a
//! thread, so forking from it is sound.
//!
//! Loop (once a second at most, or at once when a signal arrives):
//! `maybe_promote → wait_for_signal → serve_metrics/serve_control → reload_on_change →
//! handle_* → reap → murder_workers → manage_workers`.

mod control;
mod crash_loop;
mod reload;
pub(crate) mod signals;

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use std::sync::Arc;

use crate::access_log::AccessLog;
use crate::config::{self, Env, Loaded, ProcessEnv, Settings};
use crate::error::{APP_LOAD_ERROR, WORKER_BOOT_ERROR};
use crate::pidfile::Pidfile;
use crate::scoreboard::heartbeat::{self, Table, state};
use crate::scoreboard::monotonic_ms;
use crate::server::Listener;
use crate::worker::{self, Context};
use signals::{Signal, SignalQueue};

/// The function a forked child runs (the app is captured inside); returns the exit code.
pub(crate) type Runner = Box<dyn Fn(Context<'_>) -> i32>;

/// One live worker, as the master sees it.
#[derive(Debug)]
struct WorkerInfo {
    /// Heartbeat slot.
    nr: usize,
    /// Spawn order; the oldest surplus worker is retired first (Gunicorn's `age`).
    age: u64,
    /// Configuration generation (bumped by HUP); older generations are retired once the
    /// current one is ready.
    generation: u64,
    /// When SIGABRT was sent for a heartbeat timeout; SIGKILL follows a second later.
    aborted_at: Option<Instant>,
    /// TERM sent: draining, not counted toward capacity.
    terminating: bool,
    /// When it was forked (the crash-loop guard times its life).
    started: Instant,
}

/// Why the master stopped.
#[derive(Debug)]
pub(crate) struct Halt {
    /// Process exit code.
    pub code: i32,
    /// Logged as `Reason: ...` when set.
    pub reason: Option<String>,
}

/// The master process.
pub(crate) struct Arbiter {
    /// Original command line, re-read on HUP and re-executed on USR2.
    args: Vec<OsString>,
    /// The binary to re-execute on USR2 (resolved at start, so a binary replaced on disk
    /// is the one that runs).
    exe: PathBuf,
    /// Its argv: `args`, or what [`set_reexec_argv`] gave (a Python-hosted master).
    exec_argv: Vec<OsString>,
    settings: Settings,
    listeners: Vec<Listener>,
    /// Whether listeners came from a parent master or systemd (their socket files are not
    /// ours to unlink).
    inherited: bool,
    table: Table,
    workers: BTreeMap<i32, WorkerInfo>,
    /// Target worker count (TTIN/TTOU move it).
    num_workers: u32,
    generation: u64,
    worker_age: u64,
    signals: SignalQueue,
    pidfile: Option<Pidfile>,
    /// The USR2 child master, while it runs.
    reexec_pid: Option<Pid>,
    /// When we are a USR2 child: the old master's pid, until it exits (promotion).
    parent_master: Option<i32>,
    runner: Runner,
    rng: u64,
    /// The access log handed to workers (its file is opened here, O_APPEND, shared by
    /// every worker; each worker runs its own writer thread).
    access_log: Option<Arc<AccessLog>>,
    /// Validated TLS files and parameters handed to workers; replaced on HUP only when the
    /// new files are valid.
    tls: Option<Arc<crate::tls::Material>>,
    /// Session-ticket secret drawn once before the first fork and kept across HUP, so
    /// every worker of every generation derives the same rotating ticket keys.
    ticket_secret: crate::tls::ticketer::Secret,
    /// Syslog/StatsD sinks, the metrics table and the `--metrics-bind` endpoint.
    observe: crate::observe::MasterObs,
    /// Slows respawning down while workers die right after their fork.
    crash_loop: crash_loop::CrashLoop,
    /// The `gunicornc` control socket (`--control-socket`), served from this loop.
    control: Option<control::ControlSocket>,
    /// Workers sent TERM by the master (`show stats`' `workers_killed`).
    killed: u64,
}

/// What USR2 re-executes when this process is not simply our own binary run with
/// `args` (see [`set_reexec_argv`]).
static REEXEC_ARGV: std::sync::OnceLock<Vec<OsString>> = std::sync::OnceLock::new();

/// Makes USR2 re-execute `argv` (`argv[0]` is the program's path) instead of this
/// process's executable with the server's command line: a master hosted by Python is
/// `python .../bin/runicorn ARGS`, whose executable is the interpreter (Gunicorn's
/// `[sys.executable] + sys.argv`). Only the first call counts.
#[cfg(feature = "python")]
pub(crate) fn set_reexec_argv(argv: Vec<OsString>) {
    let _ = REEXEC_ARGV.set(argv);
}

static WORKER_SHOWN: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// What the `Using worker:` line names when the app host learned before forking that its
/// workers run another class than the settings name: a preloaded ASGI app given with the
/// default class is served by the asgi worker. Only the first call counts.
#[cfg(feature = "python")]
pub(crate) fn set_worker_shown(name: &'static str) {
    let _ = WORKER_SHOWN.set(name);
}

/// Runs the master until it exits; returns the process exit code.
pub(crate) fn run(loaded: Loaded, args: Vec<OsString>, runner: Runner) -> i32 {
    match Arbiter::start(loaded, args, runner) {
        Ok(mut arbiter) => {
            let halt = arbiter.run_loop();
            arbiter.finish(halt)
        }
        Err(halt) => {
            if let Some(r) = &halt.reason {
                tracing::error!("{r}");
            }
            halt.code
        }
    }
}

/// Binds every `--bind` address under `--umask`, giving each unix socket to
/// `--user`/`--group`, as Gunicorn's `sock.py` binds: at start, and on a HUP that changed
/// the addresses. The process umask is back to what it was afterwards.
fn bind_listeners(s: &Settings) -> Result<Vec<Listener>, String> {
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(s.umask as _));
    let bound = s
        .bind
        .iter()
        .map(|addr| {
            let l = Listener::bind(addr, s.backlog, s.reuse_port).map_err(|e| e.to_string())?;
            l.chown(s.user, s.group)
                .map_err(|e| format!("cannot give {addr} to --user/--group: {e}"))?;
            Ok(l)
        })
        .collect();
    umask(old);
    bound
}

fn env_fds(env: &dyn Env) -> Option<Vec<i32>> {
    if let Some(v) = env.var("GUNICORN_FD") {
        return Some(v.split(',').filter_map(|s| s.trim().parse().ok()).collect());
    }
    let pid_ok =
        env.var("LISTEN_PID").and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let n: i32 = env
        .var("LISTEN_FDS")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (pid_ok && n > 0).then(|| (3..3 + n).collect())
}

impl Arbiter {
    fn start(loaded: Loaded, args: Vec<OsString>, runner: Runner) -> Result<Arbiter, Halt> {
        let settings = loaded.settings;
        let fail = |reason: String| Halt {
            code: 1,
            reason: Some(reason),
        };
        let env = ProcessEnv;
        let parent_master = env.var("GUNICORN_PID").and_then(|p| p.parse().ok());
        // Syslog and StatsD first, so they see every line from the first one on.
        crate::observe::install(&settings);
        // Gunicorn's order: hooks and Python logging are set up, num_workers is set
        // (nworkers_changed), then "Starting", on_starting, binding, when_ready.
        let num_workers = settings.workers.max(1);
        crate::hooks::install(&settings, num_workers).map_err(fail)?;
        crate::hooks::nworkers_changed(num_workers, None);
        tracing::info!("Starting runicorn {}", env!("CARGO_PKG_VERSION"));
        crate::hooks::server("on_starting", num_workers);

        let signals = SignalQueue::install()
            .map_err(|e| fail(format!("cannot install signal handlers: {e}")))?;
        let table = crate::sys::shared_zeroed_slice(heartbeat::MAX_SLOTS)
            .map(Table::new)
            .map_err(|e| fail(format!("cannot map the heartbeat table: {e}")))?;

        let (listeners, inherited) = match env_fds(&env) {
            Some(fds) => {
                let mut ls = Vec::new();
                for fd in fds {
                    ls.push(
                        Listener::from_inherited(fd)
                            .map_err(|e| fail(format!("cannot use inherited socket {fd}: {e}")))?,
                    );
                }
                (ls, true)
            }
            None => (bind_listeners(&settings).map_err(fail)?, false),
        };

        let ticket_secret = crate::tls::ticketer::new_secret().map_err(fail)?;
        let tls = load_tls(&settings, ticket_secret).map_err(fail)?;
        let observe =
            crate::observe::MasterObs::start(&settings, parent_master.is_some()).map_err(fail)?;
        let access_log = open_access_log(&settings).map_err(fail)?;
        let pidfile = match &settings.pidfile {
            Some(p) => {
                let path = if parent_master.is_some() {
                    suffixed(p, ".2")
                } else {
                    p.clone()
                };
                Some(Pidfile::create(&path).map_err(|e| fail(e.to_string()))?)
            }
            None => None,
        };

        let pid = std::process::id();
        let shown = shown_listeners(&listeners, tls.is_some());
        tracing::info!("Listening at: {} ({pid})", shown);
        tracing::info!(
            "Using worker: {}",
            WORKER_SHOWN
                .get()
                .copied()
                .unwrap_or_else(|| settings.worker_class.effective_name(settings.threads))
        );
        worker::set_process_name(
            &settings,
            if parent_master.is_some() {
                "master.2"
            } else {
                "master"
            },
        );
        sd_notify(&env, "READY=1\nSTATUS=runicorn arbiter booted");
        crate::hooks::server("when_ready", num_workers);

        let (exe, exec_argv) = match REEXEC_ARGV.get() {
            Some(argv) if !argv.is_empty() => (PathBuf::from(&argv[0]), argv.clone()),
            _ => (
                std::env::current_exe()
                    .unwrap_or_else(|_| PathBuf::from(args.first().cloned().unwrap_or_default())),
                args.clone(),
            ),
        };
        let control = control::open(&settings, &env);
        Ok(Arbiter {
            control,
            killed: 0,
            args,
            exec_argv,
            exe,
            num_workers,
            settings,
            listeners,
            inherited,
            table,
            workers: BTreeMap::new(),
            generation: 0,
            worker_age: 0,
            signals,
            pidfile,
            reexec_pid: None,
            parent_master,
            runner,
            access_log,
            tls,
            ticket_secret,
            observe,
            crash_loop: crash_loop::CrashLoop::default(),
            rng: u64::from(pid) ^ monotonic_ms().rotate_left(17) | 1,
        })
    }

    fn run_loop(&mut self) -> Halt {
        self.manage_workers();
        loop {
            self.maybe_promote();
            // A quarter second: quick enough to notice a booted or retiring worker promptly,
            // rare enough to cost nothing.
            let sig = {
                let mut extra = self.observe.poll_fds();
                extra.extend(self.control.iter().flat_map(|c| c.poll_fds()));
                self.signals.wait_with(250, extra)
            };
            self.serve_metrics();
            self.serve_control();
            self.reload_on_change();
            if let Some(sig) = sig {
                let mut next = Some(sig);
                while let Some(sig) = next {
                    if let Some(halt) = self.handle(sig) {
                        return halt;
                    }
                    next = self.signals.pop();
                }
            }
            if let Some(halt) = self.reap() {
                return halt;
            }
            self.murder_workers();
            self.manage_workers();
        }
    }

    /// Answers pending scrapes of `--metrics-bind` (non-blocking) and sends the periodic
    /// backlog metric.
    fn serve_metrics(&mut self) {
        let fds: Vec<_> = self.listeners.iter().map(|l| l.as_fd()).collect();
        self.observe.tick(&fds);
        let live: Vec<usize> = self.workers.values().map(|w| w.nr).collect();
        let serving = self.workers.values().filter(|w| !w.terminating).count();
        self.observe.service(&live, serving as u64);
    }

    // ===== signals =====

    fn handle(&mut self, sig: Signal) -> Option<Halt> {
        if sig == Signal::SIGCHLD {
            tracing::debug!("Handling signal: chld");
            return self.reap();
        }
        tracing::info!("Handling signal: {}", signals::name(sig));
        match sig {
            Signal::SIGHUP => self.handle_hup(),
            Signal::SIGTERM => return Some(self.stop(true)),
            Signal::SIGINT | Signal::SIGQUIT => return Some(self.stop(false)),
            Signal::SIGTTIN => {
                if (self.num_workers as usize) < heartbeat::MAX_SLOTS / 2 {
                    self.num_workers += 1;
                    crate::hooks::nworkers_changed(self.num_workers, Some(self.num_workers - 1));
                }
                self.manage_workers();
            }
            Signal::SIGTTOU => {
                let old = self.num_workers;
                self.num_workers = self.num_workers.saturating_sub(1).max(1);
                if self.num_workers != old {
                    crate::hooks::nworkers_changed(self.num_workers, Some(old));
                }
                self.manage_workers();
            }
            Signal::SIGUSR1 => {
                if let Err(e) = crate::logging::reopen() {
                    tracing::error!("cannot reopen the error log: {e}");
                }
                // The master writes no access lines; reopening here just keeps its handle
                // (inherited by workers forked later) pointing at the new file.
                if let Some(log) = &self.access_log
                    && let Err(e) = log.reopen()
                {
                    tracing::error!("cannot reopen the access log: {e}");
                }
                self.signal_workers(Signal::SIGUSR1);
            }
            Signal::SIGUSR2 => self.reexec(),
            Signal::SIGWINCH => {
                if self.settings.daemon {
                    tracing::info!("graceful stop of workers");
                    self.num_workers = 0;
                    self.signal_workers(Signal::SIGTERM);
                } else {
                    tracing::debug!("SIGWINCH ignored. Not daemonized");
                }
            }
            _ => {}
        }
        None
    }

    fn handle_hup(&mut self) {
        tracing::info!("Hang up: Master");
        sd_notify(&ProcessEnv, "RELOADING=1");
        match config::load(&self.args, &ProcessEnv) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                let new = loaded.settings;
                if let Err(e) = crate::logging::init(&new.errorlog, new.loglevel) {
                    tracing::error!(
                        "cannot open the error log {:?}: {e}; keeping the previous one",
                        new.errorlog
                    );
                }
                self.observe.reconfigure(&new);
                if new.bind != self.settings.bind && !self.inherited {
                    self.rebind(&new);
                }
                if new.accesslog != self.settings.accesslog
                    || new.access_log_format != self.settings.access_log_format
                    || crate::observe::access_needed(&new)
                        != crate::observe::access_needed(&self.settings)
                {
                    match open_access_log(&new) {
                        Ok(log) => self.access_log = log,
                        Err(e) => tracing::error!("{e}; keeping the previous access log"),
                    }
                } else if let Some(log) = &self.access_log
                    && let Err(e) = log.reopen()
                {
                    tracing::error!("cannot reopen the access log: {e}");
                }
                // New workers read the new certificate; a broken one keeps the old.
                match load_tls(&new, self.ticket_secret) {
                    Ok(tls) => self.tls = tls,
                    Err(e) => tracing::error!("{e}; keeping the previous TLS certificate and key"),
                }
                let old_workers = self.num_workers;
                self.num_workers = new.workers.max(1);
                self.settings = new;
                if let Err(e) = crate::hooks::install(&self.settings, self.num_workers) {
                    tracing::error!("{e}");
                }
                crate::hooks::nworkers_changed(self.num_workers, Some(old_workers));
                crate::hooks::server("on_reload", self.num_workers);
            }
            Err(e) => {
                tracing::error!("configuration reload failed, keeping the running configuration:");
                for line in load_error_lines(&e) {
                    tracing::error!("  {line}");
                }
                let _ = crate::logging::reopen();
                // The workers are still recycled: the running hooks see it.
                crate::hooks::server("on_reload", self.num_workers);
            }
        }
        // A new generation replaces every worker; the old one is retired as soon as the
        // new one is ready (see manage_workers), so capacity never dips.
        self.generation += 1;
        self.manage_workers();
        sd_notify(&ProcessEnv, "READY=1");
    }

    fn rebind(&mut self, new: &Settings) {
        let fresh = match bind_listeners(new) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!("{e}; keeping the previous listeners");
                return;
            }
        };
        for old in std::mem::replace(&mut self.listeners, fresh) {
            old.close(true);
        }
        tracing::info!(
            "Listening at: {} ({})",
            shown_listeners(&self.listeners, self.tls.is_some()),
            std::process::id()
        );
    }

    fn signal_workers(&self, sig: Signal) {
        for &pid in self.workers.keys() {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    // ===== USR2 =====

    fn reexec(&mut self) {
        if self.reexec_pid.is_some() {
            tracing::warn!("USR2 signal ignored. Child exists.");
            return;
        }
        if self.parent_master.is_some() {
            tracing::warn!("USR2 signal ignored. Parent exists.");
            return;
        }
        let fds: Vec<String> = self
            .listeners
            .iter()
            .map(|l| l.raw_fd().to_string())
            .collect();
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| {
                !matches!(
                    k.to_str(),
                    Some("GUNICORN_FD" | "GUNICORN_PID" | "LISTEN_FDS" | "LISTEN_PID")
                )
            })
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        env.extend(CString::new(format!("GUNICORN_FD={}", fds.join(","))).ok());
        env.extend(CString::new(format!("GUNICORN_PID={}", std::process::id())).ok());
        let argv: Vec<CString> = self
            .exec_argv
            .iter()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
        let Ok(exe) = CString::new(self.exe.as_os_str().as_bytes()) else {
            tracing::error!(
                "cannot re-execute {}: path contains NUL",
                self.exe.display()
            );
            return;
        };
        match crate::sys::fork() {
            Ok(crate::sys::Forked::Parent(child)) => {
                self.reexec_pid = Some(child);
            }
            Ok(crate::sys::Forked::Child) => {
                crate::hooks::server("pre_exec", self.num_workers);
                for l in &self.listeners {
                    let _ = crate::sys::set_inheritable(l.as_fd(), true);
                }
                crate::sys::reset_master_handlers();
                crate::sys::unblock_signals();
                let err = nix::unistd::execve(&exe, &argv, &env).unwrap_err();
                tracing::error!("cannot re-execute {}: {err}", self.exe.display());
                std::process::exit(1);
            }
            Err(e) => tracing::error!("USR2: fork failed: {e}"),
        }
    }

    /// A USR2 child becomes the master once its parent is gone.
    fn maybe_promote(&mut self) {
        let Some(parent) = self.parent_master else {
            return;
        };
        if nix::unistd::getppid().as_raw() == parent {
            return;
        }
        tracing::info!("Master has been promoted.");
        self.parent_master = None;
        if let (Some(pf), Some(path)) = (self.pidfile.as_mut(), self.settings.pidfile.as_ref())
            && let Err(e) = pf.rename(path)
        {
            tracing::error!("cannot rename the pid file to {}: {e}", path.display());
        }
        worker::set_process_name(&self.settings, "master");
    }

    // ===== workers =====

    fn reap(&mut self) -> Option<Halt> {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return None,
                Ok(s) => s,
            };
            let (pid, code, signal) = match status {
                WaitStatus::Exited(pid, code) => (pid, Some(code), None),
                WaitStatus::Signaled(pid, sig, _) => (pid, None, Some(sig)),
                _ => continue,
            };
            if Some(pid) == self.reexec_pid {
                self.reexec_pid = None;
                tracing::info!("New master (pid:{pid}) exited; this master keeps serving");
                if let Some(c) = self.control.as_mut() {
                    c.reclaim();
                }
                continue;
            }
            let Some(w) = self.workers.remove(&pid.as_raw()) else {
                continue;
            };
            let why = if w.aborted_at.is_some() {
                crate::observe::ReapReason::Timeout
            } else if self.table.slot(w.nr).state() == state::RETIRE {
                crate::observe::ReapReason::MaxRequests
            } else if w.terminating {
                crate::observe::ReapReason::Retired
            } else {
                crate::observe::ReapReason::Crashed
            };
            self.observe.reaped(w.nr, why);
            let was_ready = self.table.slot(w.nr).state() != state::BOOTING;
            self.table.release(w.nr);
            crate::hooks::child_exit(pid.as_raw() as u32, self.num_workers);
            match (code, signal) {
                (Some(WORKER_BOOT_ERROR | APP_LOAD_ERROR), _)
                    if self.keep_serving_after_failed_load(pid.as_raw(), w.generation) =>
                {
                    continue;
                }
                (Some(WORKER_BOOT_ERROR), _) => {
                    return Some(Halt {
                        code: WORKER_BOOT_ERROR,
                        reason: Some("Worker failed to boot.".into()),
                    });
                }
                (Some(APP_LOAD_ERROR), _) => {
                    return Some(Halt {
                        code: APP_LOAD_ERROR,
                        reason: Some("App failed to load.".into()),
                    });
                }
                (Some(0), _) => {}
                (Some(c), _) => tracing::error!("Worker (pid:{pid}) exited with code {c}."),
                (_, Some(Signal::SIGKILL)) => {
                    tracing::error!("Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?")
                }
                (_, Some(Signal::SIGTERM)) => {
                    tracing::info!("Worker (pid:{pid}) was sent SIGTERM!")
                }
                (_, Some(s)) => tracing::warn!("Worker (pid:{pid}) was sent {}!", s.as_str()),
                _ => {}
            }
            // Exit code 0 is a worker that was told to stop (TERM/QUIT at shutdown, WINCH).
            if why == crate::observe::ReapReason::Crashed && code != Some(0) {
                let lived = w.started.elapsed();
                if let Some((streak, delay)) =
                    self.crash_loop.died(lived, was_ready, Instant::now())
                {
                    tracing::error!(
                        "Worker (pid:{pid}) died {:.2}s after it was forked{}: {streak} such \
                         deaths in a row, next worker in {:.2}s",
                        lived.as_secs_f64(),
                        if was_ready {
                            ""
                        } else {
                            ", before it was ready"
                        },
                        delay.as_secs_f64()
                    );
                }
            }
        }
    }

    /// Kills workers whose heartbeat went silent: SIGABRT first, SIGKILL a second later.
    fn murder_workers(&mut self) {
        for (&pid, w) in self.workers.iter_mut() {
            let slot = self.table.slot(w.nr);
            let limit = if slot.state() == state::BOOTING {
                self.settings.boot_timeout
            } else {
                self.settings.timeout
            };
            if limit == 0 || slot.silence_ms() <= limit.saturating_mul(1000) {
                continue;
            }
            match w.aborted_at {
                None => {
                    crate::critical!("WORKER TIMEOUT (pid:{pid})");
                    w.aborted_at = Some(Instant::now());
                    let _ = kill(Pid::from_raw(pid), Signal::SIGABRT);
                }
                Some(t) if t.elapsed() >= Duration::from_secs(1) => {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                Some(_) => {}
            }
        }
    }

    /// Keeps `num_workers` serving workers of the current generation. Workers of older
    /// generations and workers that reached `max_requests` are retired only once enough
    /// current workers are ready to take their place.
    fn manage_workers(&mut self) {
        let serving: Vec<(i32, u64)> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.terminating && w.generation == self.generation)
            .filter(|(_, w)| self.table.slot(w.nr).state() != state::RETIRE)
            .map(|(&pid, w)| (pid, w.age))
            .collect();
        let target = self.num_workers as usize;
        if self.crash_loop.in_loop()
            && self.workers.values().any(|w| {
                w.started.elapsed() >= crash_loop::QUICK
                    && self.table.slot(w.nr).state() == state::READY
            })
        {
            self.crash_loop.served();
        }
        if serving.len() < target {
            let allowed = self
                .crash_loop
                .allowance(Instant::now())
                .unwrap_or(usize::MAX);
            for _ in (serving.len()..target).take(allowed) {
                if !self.spawn_worker() {
                    break;
                }
            }
        } else if serving.len() > target {
            let mut by_age = serving.clone();
            by_age.sort_by_key(|&(_, age)| age);
            for &(pid, _) in by_age.iter().take(serving.len() - target) {
                self.terminate(pid);
            }
        }
        let ready = self
            .workers
            .values()
            .filter(|w| !w.terminating && w.generation == self.generation)
            .filter(|w| self.table.slot(w.nr).state() == state::READY)
            .count();
        if ready >= target || self.num_workers == 0 {
            let retiring: Vec<i32> = self
                .workers
                .iter()
                .filter(|(_, w)| !w.terminating)
                .filter(|(_, w)| {
                    w.generation != self.generation
                        || self.table.slot(w.nr).state() == state::RETIRE
                })
                .map(|(&pid, _)| pid)
                .collect();
            for pid in retiring {
                self.terminate(pid);
            }
        }
        let live = self.workers.values().filter(|w| !w.terminating).count();
        self.observe.workers(live as u64);
    }

    fn terminate(&mut self, pid: i32) {
        if let Some(w) = self.workers.get_mut(&pid) {
            w.terminating = true;
            self.killed += 1;
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: jitter only needs to differ between workers, not be unpredictable.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn spawn_worker(&mut self) -> bool {
        let Some(nr) = self.table.claim() else {
            tracing::error!("no free heartbeat slot: cannot start more workers");
            return false;
        };
        self.worker_age += 1;
        let s = &self.settings;
        let max_requests = match (s.max_requests, s.max_requests_jitter) {
            (0, _) => 0,
            (m, 0) => m,
            (m, j) => m + self.next_random() % (j + 1),
        };
        crate::hooks::pre_fork(self.worker_age, self.num_workers);
        match crate::sys::fork() {
            Ok(crate::sys::Forked::Parent(pid)) => {
                crate::hooks::forked_parent(self.worker_age, pid.as_raw() as u32);
                self.table
                    .slot(nr)
                    .pid
                    .store(pid.as_raw() as u32, std::sync::atomic::Ordering::Relaxed);
                self.workers.insert(
                    pid.as_raw(),
                    WorkerInfo {
                        nr,
                        age: self.worker_age,
                        generation: self.generation,
                        aborted_at: None,
                        terminating: false,
                        started: Instant::now(),
                    },
                );
                true
            }
            Ok(crate::sys::Forked::Child) => {
                let metrics = self.observe.worker_slot(nr);
                self.observe.close_in_child();
                // Dropped, not closed: the socket file stays the master's.
                drop(self.control.take());
                crate::hooks::forked_child(self.worker_age);
                let ctx = Context {
                    slot: self.table.slot(nr),
                    spread: crate::server::Spread::new(self.table, nr),
                    listeners: &self.listeners,
                    settings: &self.settings,
                    max_requests,
                    access_log: self.access_log.clone(),
                    tls: self.tls.clone(),
                    metrics,
                };
                // The child must never unwind back into the master's loop.
                let code =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.runner)(ctx)))
                        .unwrap_or(crate::error::WORKER_PANIC);
                std::process::exit(code);
            }
            Err(e) => {
                self.table.release(nr);
                tracing::error!("fork failed: {e}");
                false
            }
        }
    }

    // ===== shutdown =====

    /// TERM (graceful) or INT/QUIT (quick): close the listeners, signal the workers,
    /// wait up to `graceful_timeout`, SIGKILL the rest.
    fn stop(&mut self, graceful: bool) -> Halt {
        sd_notify(&ProcessEnv, "STOPPING=1");
        // Gone before the wait, so a client is refused rather than left hanging; the
        // file stays when a USR2 child has taken the path over.
        if let Some(c) = self.control.take() {
            c.close();
        }
        // The socket files stay when a USR2 child or systemd still serves on them.
        let unlink = self.reexec_pid.is_none() && !self.inherited;
        for l in self.listeners.drain(..) {
            l.close(unlink);
        }
        let sig = if graceful {
            Signal::SIGTERM
        } else {
            Signal::SIGQUIT
        };
        self.signal_workers(sig);
        // A huge configured value means "wait", not an Instant overflow.
        let deadline =
            Instant::now().checked_add(Duration::from_secs(self.settings.graceful_timeout));
        while !self.workers.is_empty() && deadline.is_none_or(|d| Instant::now() < d) {
            let _ = self.reap();
            std::thread::sleep(Duration::from_millis(50));
        }
        if !self.workers.is_empty() {
            self.signal_workers(Signal::SIGKILL);
            while !self.workers.is_empty() {
                if waitpid(None, None).is_err() {
                    break;
                }
                let _ = self.reap();
            }
        }
        Halt {
            code: 0,
            reason: None,
        }
    }

    fn finish(mut self, halt: Halt) -> i32 {
        if halt.code != 0 {
            // A halt from a boot/load failure: stop the rest quickly.
            let _ = self.stop(false);
        }
        tracing::info!("Shutting down: Master");
        if let Some(r) = &halt.reason {
            tracing::info!("Reason: {r}");
        }
        if let Some(pf) = self.pidfile.take() {
            pf.unlink();
        }
        crate::hooks::server("on_exit", self.num_workers);
        halt.code
    }
}

/// Reads and validates the TLS files (fail fast at start; on HUP the caller keeps the old
/// material on error).
fn load_tls(
    s: &Settings,
    secret: crate::tls::ticketer::Secret,
) -> Result<Option<Arc<crate::tls::Material>>, String> {
    let m = crate::tls::Material::load(s, secret)?;
    let h2 = s.http_protocols.iter().any(|p| p == "h2");
    let h2c = s.http2_cleartext;
    if m.is_none() && h2 && h2c == crate::config::h2c::Http2Cleartext::Off {
        tracing::warn!("--http-protocols h2 needs TLS or --http2-cleartext: serving HTTP/1.1 only");
    }
    if h2c != crate::config::h2c::Http2Cleartext::Off {
        if m.is_some() {
            tracing::warn!("--http2-cleartext {h2c} is ignored with TLS: ALPN chooses HTTP/2");
        } else if !h2 {
            tracing::warn!(
                "--http2-cleartext {h2c} needs h2 in --http-protocols: serving HTTP/1.1 only"
            );
        }
    }
    Ok(m.map(Arc::new))
}

/// Gunicorn's `Listening at:` spelling: `https://` when TLS is on.
fn shown_listeners(listeners: &[Listener], tls: bool) -> String {
    let shown: Vec<String> = listeners
        .iter()
        .map(|l| {
            let s = l.to_string();
            match s.strip_prefix("http://") {
                Some(rest) if tls => format!("https://{rest}"),
                _ => s,
            }
        })
        .collect();
    shown.join(",")
}

/// Opens `--access-logfile` (no thread starts here: the master must stay single-threaded).
fn open_access_log(s: &Settings) -> Result<Option<Arc<AccessLog>>, String> {
    let log = match &s.accesslog {
        Some(target) => AccessLog::open(target, s.access_log_format.clone())
            .map_err(|e| format!("cannot open the access log {target:?}: {e}"))?,
        // Gunicorn logs access lines to syslog alone when it has no access-log file.
        None if crate::observe::access_needed(s) => {
            AccessLog::syslog_only(s.access_log_format.clone())
        }
        None => return Ok(None),
    };
    let log = log.with_error_handler(Box::new(|what: &str, e: &std::io::Error| {
        tracing::error!("access log: {what}: {e}")
    }));
    Ok(Some(Arc::new(log)))
}

fn suffixed(p: &std::path::Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The lines of a configuration error, for logs.
pub(crate) fn load_error_lines(e: &config::LoadError) -> Vec<String> {
    match e {
        config::LoadError::Exit { message, .. } => vec![message.trim_end().to_string()],
        config::LoadError::Invalid(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// Tells systemd about state changes when `NOTIFY_SOCKET` is set (`@name` = abstract).
fn sd_notify(env: &dyn Env, msg: &str) {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = env.var("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let addr = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(&path),
    };
    if let Ok(addr) = addr {
        let _ = sock.send_to_addr(msg.as_bytes(), &addr);
    }
}
