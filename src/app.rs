//! Entry points: load the configuration, handle `--print-config`/`--check-config`, set up
//! logging and the process (chdir, daemon), pick the app host, then hand over to the
//! master with a runner that serves that host in each forked worker.
//!
//! The Rust service API is [`run`]: any hyper service (for example `service_fn(handler)`)
//! gets Gunicorn's whole command line, configuration and process model. The `runicorn`
//! command is [`run_command`]: the app named by APP_MODULE through the WSGI host, or
//! static files alone.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::config::{self, LoadError, Loaded, ProcessEnv, Settings};
use crate::server::AppService;
pub use crate::worker::BootError;
use crate::worker::{Host, RuntimeFlavor};

/// Serves `app` with runicorn's command line (`std::env::args_os()`), configuration and
/// process model; returns the exit code to return from `main`.
///
/// `app` is built once in the master and cloned into each worker after fork. Create
/// runtime-bound resources (connection pools, tokio timers) lazily inside the worker,
/// never before `run`: the master has no runtime.
pub fn run<A: AppService>(app: A) -> ExitCode {
    run_with_args(app, std::env::args_os().collect())
}

/// [`run`] with an explicit command line (`args[0]` is the program name).
pub fn run_with_args<A: AppService>(app: A, args: Vec<OsString>) -> ExitCode {
    serve(move |_: &Settings| Ok(app.clone()), args)
}

/// Like [`run`], but builds the app in each worker, after fork and inside the worker's
/// runtime: the place for per-worker resources (connection pools, caches, timers). An
/// `Err` stops the worker with Gunicorn's exit code (3 for [`BootError::Worker`], 4 for
/// [`BootError::App`]) and the master halts instead of respawning in a loop.
pub fn run_with<A, F>(make_app: F) -> ExitCode
where
    A: AppService,
    F: Fn() -> Result<A, BootError> + 'static,
{
    serve(
        move |_: &Settings| make_app(),
        std::env::args_os().collect(),
    )
}

/// Like [`run_with`], but the factory sees the worker's resolved [`Settings`] (those of
/// its generation: a HUP reload hands new workers the new settings).
pub fn run_with_settings<A, F>(make_app: F) -> ExitCode
where
    A: AppService,
    F: Fn(&Settings) -> Result<A, BootError> + 'static,
{
    serve(make_app, std::env::args_os().collect())
}

fn serve<A, F>(make_app: F, args: Vec<OsString>) -> ExitCode
where
    A: AppService,
    F: Fn(&Settings) -> Result<A, BootError> + 'static,
{
    let loaded = match prepare(&args) {
        Ok(l) => l,
        Err(code) => return exit(code),
    };
    exit(serve_host(RustService(make_app), loaded, args))
}

/// Runs the master with workers that serve `host`; returns the master's exit code.
fn serve_host<H: Host + 'static>(host: H, loaded: Loaded, args: Vec<OsString>) -> i32 {
    let runner = Box::new(move |ctx: crate::worker::Context<'_>| crate::worker::run(ctx, &host));
    crate::master::run(loaded, args, runner)
}

/// The host of a Rust service: the factory builds it in each worker, which runs a
/// multi-thread runtime when `--threads` asks for one.
struct RustService<F>(F);

impl<A, F> Host for RustService<F>
where
    A: AppService,
    F: Fn(&Settings) -> Result<A, BootError>,
{
    type Service = A;

    fn runtime(&self) -> RuntimeFlavor {
        RuntimeFlavor::FromThreads
    }

    fn boot(&self, s: &Settings) -> Result<A, BootError> {
        (self.0)(s)
    }
}

/// `runicorn --static-map ...` without an APP_MODULE: the workers serve the mapped
/// directories and answer 404 everywhere else.
struct StaticOnly;

impl Host for StaticOnly {
    type Service = crate::server::statics::NoApp;

    fn runtime(&self) -> RuntimeFlavor {
        RuntimeFlavor::FromThreads
    }

    fn boot(&self, _: &Settings) -> Result<Self::Service, BootError> {
        Ok(crate::server::statics::NoApp)
    }
}

/// The `runicorn` command: loads the configuration from `args` (`args[0]` is the program
/// name) and serves the WSGI app APP_MODULE names, or the `--static-map` directories
/// alone; returns the process exit code (Gunicorn's: 0, 1 for configuration errors, 3
/// when a worker failed to boot, 4 when the app failed to load).
pub fn run_command(args: Vec<OsString>) -> i32 {
    // Gunicorn's --check-config also imports the app; prepare() ends the run for it
    // and hands the settings back.
    let loaded = match prepare_keeping(&args) {
        Ok(l) => l,
        #[cfg(feature = "python")]
        Err((0, Some(s)))
            if s.check_config && !s.print_config && (s.wsgi_app.is_some() || s.paste.is_some()) =>
        {
            return crate::wsgi::check_app(&s);
        }
        Err((code, _)) => return code,
    };
    let s = &loaded.settings;
    if s.wsgi_app.is_none() && s.paste.is_none() && !s.static_map.is_empty() {
        return serve_host(StaticOnly, loaded, args);
    }
    #[cfg(feature = "python")]
    {
        if s.wsgi_app.is_none() && s.paste.is_none() {
            // Gunicorn exits 1 here; a first-time user is better served by a page that
            // says how to serve a real app.
            tracing::warn!(
                "No application module specified: serving runicorn's welcome page \
                 (examples/welcome); name your WSGI app to serve it, e.g. `runicorn app:app`"
            );
        }
        match crate::asgi::PythonHost::prepare(s) {
            Ok(host) => serve_host(host, loaded, args),
            Err(code) => code,
        }
    }
    #[cfg(not(feature = "python"))]
    {
        let paste = s.paste.as_ref().map(|p| p.given.as_str());
        let Some(app) = paste.or(s.wsgi_app.as_deref()) else {
            eprintln!("Error: No application module specified.");
            return 1;
        };
        tracing::error!(
            "Cannot load {app:?}: this runicorn was built without the `python` feature, so \
             it serves no Python WSGI apps (rebuild with default features); Rust services \
             run through runicorn::run, see examples/hello.rs"
        );
        tracing::info!("Reason: App failed to load.");
        crate::error::APP_LOAD_ERROR
    }
}

/// [`run_command`] for a master hosted by a running Python (the `runicorn` Python
/// package's command, `python -m runicorn`): the interpreter is already initialised (any
/// venv, any supported minor version), `sys.argv` stays as Python set it, and USR2
/// re-executes `exec_argv` (the interpreter and what the user ran after it, Gunicorn's
/// `[sys.executable] + sys.argv`) instead of this process's executable. Call it without
/// holding the GIL.
#[cfg(feature = "python")]
pub fn run_hosted(args: Vec<OsString>, exec_argv: Vec<OsString>) -> i32 {
    crate::wsgi::set_hosted();
    crate::master::set_reexec_argv(exec_argv);
    run_command(args)
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Loads and validates the configuration and prepares the process. `Err(code)` means
/// "exit now with this code" (help, version, print/check-config, invalid settings).
fn prepare(args: &[OsString]) -> Result<Loaded, i32> {
    prepare_keeping(args).map_err(|(code, _)| code)
}

/// [`prepare`], also handing back the settings when it ends the run after loading them
/// (`--check-config` imports the app with them): the configuration is loaded once, as
/// a Python config file must not run twice.
fn prepare_keeping(args: &[OsString]) -> Result<Loaded, (i32, Option<Box<Settings>>)> {
    let loaded = match config::load(args, &ProcessEnv) {
        Ok(l) => l,
        Err(LoadError::Exit { code, message }) => {
            if code == 0 {
                print!("{message}");
            } else {
                eprint!("{message}");
            }
            return Err((code, None));
        }
        Err(e @ LoadError::Invalid(_)) => {
            for line in crate::master::load_error_lines(&e) {
                eprintln!("Error: {line}");
            }
            return Err((1, None));
        }
    };
    let s = &loaded.settings;
    if s.print_config || s.check_config {
        // No error log is set up for these one-shot modes; warnings go to stderr.
        for w in &loaded.warnings {
            eprintln!("Warning: {w}");
        }
    }
    if s.print_config {
        print!("{}", config::print_config(&loaded));
        return Err((0, Some(Box::new(loaded.settings.clone()))));
    }
    if s.check_config {
        // Hooks given as dotted paths are imported as at start: one that cannot be fails
        // the check, as it fails Gunicorn's configuration load.
        #[cfg(feature = "python")]
        {
            let unusable = crate::pyconf::hooks::unusable(s);
            for u in &unusable {
                eprintln!("Error: {u}");
            }
            if !unusable.is_empty() {
                return Err((1, None));
            }
        }
        return Err((0, Some(Box::new(loaded.settings.clone()))));
    }
    if let Some(dir) = &s.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("Error: cannot change directory to {}: {e}", dir.display());
        return Err((1, None));
    }
    if let Err(e) = crate::logging::init(&s.errorlog, s.loglevel) {
        eprintln!("Error: cannot open the error log {:?}: {e}", s.errorlog);
        return Err((1, None));
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if s.daemon
        && let Err(e) = daemonize(s.enable_stdio_inheritance)
    {
        tracing::error!("cannot daemonize: {e}");
        return Err((1, None));
    }
    if s.capture_output
        && let Err(e) = crate::logging::capture_output()
    {
        tracing::error!("cannot capture output into the error log: {e}");
    }
    Ok(loaded)
}

/// Detaches from the terminal: fork, setsid, fork, stdio to /dev/null (unless
/// `--enable-stdio-inheritance`). The parents exit 0 at once.
fn daemonize(keep_stdio: bool) -> nix::Result<()> {
    use crate::sys::{Forked, fork};
    if let Forked::Parent(_) = fork()? {
        std::process::exit(0);
    }
    crate::sys::unblock_signals();
    nix::unistd::setsid()?;
    if let Forked::Parent(_) = fork()? {
        std::process::exit(0);
    }
    crate::sys::unblock_signals();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    if !keep_stdio {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|_| nix::Error::ENOENT)?;
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(&null)?;
        nix::unistd::dup2_stderr(&null)?;
    }
    Ok(())
}
