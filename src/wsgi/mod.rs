//! The WSGI host (the `python` feature): runs Python WSGI apps (PEP 3333: Flask, Django,
//! any callable) in an embedded CPython, one interpreter per worker.
//!
//! ```text
//! tokio (current-thread, the edge)                 app threads (-k sync: 1, gthread: --threads)
//! hyper → read the whole body (input) ─ Job ──►    environ → app(environ, start_response)
//!       ◄── First (head) / Out::Data / Abort ────── iterate the result, close()
//! ```
//!
//! The interpreter is initialised in each worker after fork: the master stays free of
//! threads and of Python, except with `--preload`, where it imports the app before
//! forking (CPython starts no thread of its own; an app that starts one at import
//! trips `sys::fork`'s single-thread assertion in debug builds) and each worker repairs
//! the interpreter with `PyOS_AfterFork_Child`.

pub(crate) mod environ;
mod green;
mod input;
pub(crate) mod loader;
pub(crate) mod proxy;
pub(crate) mod response;
mod threads;
mod welcome;

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use pyo3::prelude::*;

use crate::config::Settings;
use crate::config::worker_class::WorkerKind;
use crate::http::head::HeaderMap;
use crate::worker::BootError;
use loader::AppSpec;
use response::ResponseBody;

/// How the worker class maps onto app threads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkerModel {
    /// Gunicorn's name for what runs (`sync`, `gthread` or `gevent`).
    pub class: &'static str,
    /// App threads per worker (gevent: the hub's one).
    pub threads: usize,
    /// Requests the worker runs at once: its app threads, or (gevent) its greenlet pool.
    pub capacity: usize,
    /// A startup warning to log.
    pub warning: Option<String>,
}

/// Maps `-k`/`--threads` onto app threads: sync = 1 thread (more than one thread makes it
/// gthread, as Gunicorn), gthread = `--threads`, gevent = one hub thread running up to
/// `--worker-connections` greenlets. eventlet and tornado are refused as Gunicorn 27
/// refuses eventlet (its worker was removed in 26.0): nothing runs with less concurrency
/// than the class promises.
pub(crate) fn worker_model(s: &Settings) -> Result<WorkerModel, String> {
    let threads = s.threads.max(1) as usize;
    let name = s.worker_class.as_str();
    match s.worker_class.kind {
        WorkerKind::Sync if threads == 1 => Ok(WorkerModel {
            class: "sync",
            threads,
            capacity: 1,
            warning: None,
        }),
        WorkerKind::Sync | WorkerKind::Gthread => Ok(WorkerModel {
            class: "gthread",
            threads,
            capacity: threads,
            warning: None,
        }),
        WorkerKind::Gevent => Ok(WorkerModel {
            class: "gevent",
            threads: 1,
            capacity: s.worker_connections.max(1) as usize,
            warning: (threads > 1).then(|| {
                format!(
                    "--threads {threads} is ignored by the gevent worker: its concurrency is \
                     --worker-connections ({}) greenlets",
                    s.worker_connections
                )
            }),
        }),
        WorkerKind::Eventlet | WorkerKind::Tornado => Err(format!(
            "class uri '{name}' invalid or not found: runicorn has no {name} worker (Gunicorn \
             removed its eventlet worker in 26.0); use -k gevent for cooperative concurrency or \
             -k gthread --threads N"
        )),
        WorkerKind::Asgi => Err("ASGI apps are not supported yet".to_string()),
        WorkerKind::Other => Err(format!(
            "worker class {name:?} is not supported: use sync, gthread, gevent or asgi"
        )),
    }
}

/// The app imported in the master by `--preload` (before fork, inherited by workers).
static PRELOADED: OnceLock<Py<PyAny>> = OnceLock::new();

/// Initialises Python, prepares `sys.path` and imports the app.
fn import_app(s: &Settings) -> Result<Py<PyAny>, String> {
    import_app_with(s, |_| Ok(()))
}

/// [`import_app`], running `before` (gevent's patching) once `sys.path` is set and just
/// before the app's import.
fn import_app_with(
    s: &Settings,
    before: impl FnOnce(Python<'_>) -> Result<(), String>,
) -> Result<Py<PyAny>, String> {
    // `--paste` loads the app instead of APP_MODULE (which Gunicorn then ignores).
    let target = match &s.paste {
        Some(p) => Target::Paste(p),
        None => Target::Module(AppSpec::parse(
            s.wsgi_app.as_deref().unwrap_or(welcome::APP),
        )?),
    };
    crate::python::init_interpreter()?;
    Python::attach(|py| {
        let setup = loader::PathSetup {
            cwd: std::env::current_dir().ok(),
            pythonpath: s.pythonpath.as_deref(),
            virtual_env: std::env::var_os("VIRTUAL_ENV").map(PathBuf::from),
        };
        loader::setup_sys_path(py, &setup).map_err(|e| crate::python::format_exception(py, &e))?;
        // A master that ran a Python config file configured logging before forking.
        if !crate::pyconf::logconf::applied() {
            crate::pyconf::logconf::apply(py, s)?;
        }
        // Hosted by Python, sys.argv is already what the user ran (as under Gunicorn).
        if !HOSTED.load(std::sync::atomic::Ordering::Relaxed) {
            let sys = py
                .import("sys")
                .map_err(|e| crate::python::format_exception(py, &e))?;
            let argv: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let _ = sys.setattr("argv", argv);
        }
        before(py)?;
        match target {
            Target::Paste(p) => loader::load_paste(py, p, &s.raw_paste_global_conf),
            Target::Module(spec) => {
                welcome::install_if_named(py, &spec.module)
                    .map_err(|e| crate::python::format_exception(py, &e))?;
                loader::load(py, &spec)
            }
        }
    })
}

/// Where the app comes from.
enum Target<'a> {
    /// `APP_MODULE` (or `wsgi_app`; the welcome page without either).
    Module(AppSpec),
    /// `--paste`.
    Paste(&'a crate::config::paste::PasteConfig),
}

/// Where the edge hands requests to the app.
enum Apps {
    /// App threads (sync, gthread).
    Threads(threads::Pool),
    /// The gevent hub.
    Green(Arc<green::Queue>),
}

impl Apps {
    fn submit(&self, job: threads::Job) -> bool {
        match self {
            Apps::Threads(p) => {
                p.submit(job);
                true
            }
            Apps::Green(q) => q.submit(job),
        }
    }
}

/// Per-worker tuning of the edge.
struct Edge {
    pool: Apps,
    /// The worker's capacity (app threads or greenlets) and what is taken of it.
    load: Arc<crate::server::AppLoad>,
    body_buffer: usize,
    tmp_dir: PathBuf,
    request_timeout: Option<Duration>,
    /// `--header-map refuse`: header names with `_` get a 400.
    refuse_underscores: bool,
    /// `secure_scheme_headers` / `forwarded_allow_ips`.
    proxy: proxy::Proxy,
    /// `SCRIPT_NAME` from the process environment: every path must be under it.
    script_name: String,
}

/// The hyper service of a WSGI worker.
#[derive(Clone)]
pub(crate) struct WsgiService {
    edge: Arc<Edge>,
}

impl WsgiService {
    /// The app's capacity and load: the worker accepts only while it has room.
    pub(crate) fn app_load(&self) -> Arc<crate::server::AppLoad> {
        self.edge.load.clone()
    }

    /// Told when the app's thread ended while serving (the gevent hub's loop; app
    /// threads never end on their own).
    pub(crate) fn app_gone(&self) -> Option<Arc<tokio::sync::Notify>> {
        match &self.edge.pool {
            Apps::Threads(_) => None,
            Apps::Green(q) => Some(q.gone.clone()),
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for WsgiService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let edge = self.edge.clone();
        // Taken now: the request counts against the worker's capacity from the moment
        // hyper hands it over until the app is done with it.
        let ticket = edge.load.enter();
        Box::pin(async move { Ok(handle(&edge, req, ticket).await) })
    }
}

async fn handle(
    edge: &Edge,
    req: Request<Incoming>,
    ticket: crate::server::Ticket,
) -> Response<ResponseBody> {
    let (parts, body) = req.into_parts();
    let trusted = edge.proxy.trusted(
        parts
            .extensions
            .get::<crate::http::ConnInfo>()
            .map(|c| c.peer),
    );
    // Names with `_` a trusted proxy may send (`--forwarder-headers`) are not refused.
    let forwarded = |k: &str| trusted && edge.proxy.forwarders.allows(k);
    if edge.refuse_underscores
        && parts
            .headers
            .keys()
            .any(|k| k.as_str().contains('_') && !forwarded(k.as_str()))
    {
        return simple(http::StatusCode::BAD_REQUEST);
    }
    // A trusted proxy's SCRIPT_NAME header replaces the process environment's.
    let script_name = edge.proxy.script_name(trusted, &parts.headers);
    let prefix = script_name.as_deref().unwrap_or(edge.script_name.as_str());
    if !parts.uri.path().starts_with(prefix) {
        // Gunicorn's ConfigurationProblem: a 500, and the operator learns why.
        tracing::error!(
            "Configuration problem: Request path {:?} does not start with SCRIPT_NAME {:?}",
            parts.uri.path(),
            prefix
        );
        return simple(http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    let tls = parts
        .extensions
        .get::<crate::http::ConnInfo>()
        .is_some_and(|c| c.tls);
    let client = parts
        .extensions
        .get::<crate::server::ClientSocket>()
        .copied();
    let Ok(https) = edge.proxy.https(tls, trusted, &parts.headers) else {
        tracing::warn!("Invalid request: Contradictory scheme headers");
        return simple(http::StatusCode::BAD_REQUEST);
    };
    let body = match input::collect(body, edge.body_buffer, &edge.tmp_dir).await {
        Ok(b) => b,
        Err(input::ReadError::Client(e)) => {
            tracing::debug!("request body not received: {e}");
            return simple(http::StatusCode::BAD_REQUEST);
        }
        Err(input::ReadError::Io(e)) => {
            tracing::error!(
                "cannot buffer a request body in {}: {e}",
                edge.tmp_dir.display()
            );
            return simple(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if !edge.pool.submit(threads::Job {
        parts,
        body,
        https,
        trusted,
        script_name,
        reply: tx,
        ticket,
        client,
        queued_ms: crate::scoreboard::monotonic_coarse_ms(),
    }) {
        tracing::error!("no application thread is left to serve the request");
        return simple(http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    match edge.request_timeout {
        None => response::respond(rx).await,
        Some(t) => match tokio::time::timeout(t, response::respond(rx)).await {
            Ok(r) => r,
            Err(_) => {
                // Dropping the receiver tells the app thread to stop producing.
                tracing::error!(
                    "the application did not answer within --request-timeout ({}s)",
                    t.as_secs_f64()
                );
                simple(http::StatusCode::GATEWAY_TIMEOUT)
            }
        },
    }
}

/// An empty response that closes the connection (the ASGI host's too).
pub(crate) fn simple(status: http::StatusCode) -> Response<ResponseBody> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response::build(
        response::Head {
            status,
            reason: None,
            headers,
        },
        bytes::Bytes::new(),
        None,
        true,
    )
}

/// The app object: imported by `--preload` in the master, else imported now (in the
/// worker, after fork).
pub(crate) fn app_object(s: &Settings) -> Result<Py<PyAny>, String> {
    match preloaded() {
        Some(app) => Ok(app),
        None => import_app(s),
    }
}

/// The source files of every imported module (`sys.modules`' `__file__`s, `.pyc` read as
/// `.py`), which `--reload` watches as Gunicorn's reloader does.
pub(crate) fn module_files() -> Vec<PathBuf> {
    let listed = Python::attach(|py| -> PyResult<Vec<String>> {
        // A copy of the values: an import on another thread may resize the dict.
        let modules = py.import("sys")?.getattr("modules")?;
        let mut files = Vec::new();
        for m in modules
            .call_method0("values")?
            .try_iter()?
            .collect::<Vec<_>>()
        {
            let Ok(file) = m?.getattr("__file__") else {
                continue;
            };
            if let Ok(f) = file.extract::<String>() {
                files.push(f);
            }
        }
        Ok(files)
    });
    match listed {
        Ok(files) => files
            .into_iter()
            .map(|f| match f.strip_suffix(['c', 'o']) {
                Some(py) if py.ends_with(".py") => PathBuf::from(py),
                _ => PathBuf::from(f),
            })
            .collect(),
        Err(e) => {
            tracing::error!("--reload: cannot list the imported modules: {e}");
            Vec::new()
        }
    }
}

/// The app `--preload` imported in the master, if any.
pub(crate) fn preloaded() -> Option<Py<PyAny>> {
    PRELOADED
        .get()
        .map(|app| Python::attach(|py| app.clone_ref(py)))
}

/// The environ's constants for a worker of `model`.
fn constants(py: Python<'_>, s: &Settings, model: &WorkerModel) -> PyResult<environ::Constants> {
    Ok(environ::Constants {
        script_name: std::env::var("SCRIPT_NAME").unwrap_or_default(),
        // Gunicorn's gevent worker sets wsgi.multithread (greenlets are threads to the app).
        multithread: model.threads > 1 || model.class == "gevent",
        multiprocess: s.workers > 1,
        errors: Py::new(py, environ::Errors::new())?,
        file_wrapper: py.get_type::<response::FileWrapper>().into_any().unbind(),
        version: (1, 0).into_pyobject(py)?.into_any().unbind(),
        keep_underscores: s.header_map == HeaderMap::Dangerous,
        forwarders: proxy::Proxy::new(s).forwarders,
        sendfile: s.sendfile,
    })
}

/// Starts a gevent worker's hub thread: it initialises Python (so it is CPython's and
/// gevent's main thread), patches, then imports the app; with `--preload` the master
/// already patched and imported.
fn start_green(s: &Settings, model: &WorkerModel) -> Result<Arc<green::Queue>, BootError> {
    let settings = s.clone();
    let m = model.clone();
    let boot: green::Boot = Box::new(move || {
        let app = match PRELOADED.get() {
            Some(app) => Python::attach(|py| app.clone_ref(py)),
            None => import_app_with(&settings, green::patch).map_err(BootError::App)?,
        };
        let c = Python::attach(|py| constants(py, &settings, &m))
            .map_err(|e| BootError::App(e.to_string()))?;
        Ok((app, c))
    });
    // The hub beats as often as the worker's own heartbeat task.
    let beat_every = match s.timeout {
        0 => Duration::from_secs(1),
        t => Duration::from_millis((t.saturating_mul(1000) / 4).clamp(50, 1000)),
    };
    green::start(boot, model.capacity, beat_every)
}

/// Builds a worker's WSGI service (called in the worker, after fork) for `app`, already
/// imported; None for gevent, whose hub thread patches before it imports the app.
pub(crate) fn make_service(s: &Settings, app: Option<Py<PyAny>>) -> Result<WsgiService, BootError> {
    let model = worker_model(s).map_err(BootError::App)?;
    let pool = if model.class == "gevent" {
        Apps::Green(start_green(s, &model)?)
    } else {
        let app = match app {
            Some(app) => app,
            None => app_object(s).map_err(BootError::App)?,
        };
        let constants = Python::attach(|py| constants(py, s, &model))
            .map_err(|e| BootError::App(e.to_string()))?;
        Apps::Threads(
            threads::Pool::start(model.threads, model.class == "sync", app, constants).map_err(
                |e| BootError::Worker(format!("cannot start the application threads: {e}")),
            )?,
        )
    };
    let tmp_dir = s
        .tmp_upload_dir
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    Ok(WsgiService {
        edge: Arc::new(Edge {
            pool,
            load: crate::server::AppLoad::new(model.capacity),
            body_buffer: usize::try_from(s.wsgi_body_buffer).unwrap_or(usize::MAX),
            tmp_dir,
            request_timeout: (s.request_timeout > 0)
                .then(|| Duration::from_secs(s.request_timeout)),
            refuse_underscores: s.header_map == HeaderMap::Refuse,
            proxy: proxy::Proxy::new(s),
            script_name: std::env::var("SCRIPT_NAME").unwrap_or_default(),
        }),
    })
}

/// `--check-config` with an app: import it (after `--chdir`); 1 with the traceback on
/// stderr if that fails, as Gunicorn.
pub(crate) fn check_app(s: &Settings) -> i32 {
    if let Some(dir) = &s.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("Error: cannot change directory to {}: {e}", dir.display());
        return 1;
    }
    match import_app(s) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("\nError while loading the application:\n\n{e}");
            1
        }
    }
}

/// Set by [`set_hosted`]: Python runs this process, and `sys.argv` is Python's.
static HOSTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a master hosted by a running Python (the `runicorn` Python package's command,
/// `python -m runicorn`): `sys.argv` stays as Python set it instead of being set from
/// this process's command line.
pub(crate) fn set_hosted() {
    HOSTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Checks what can be checked before forking (the worker class unless it is ASGI's, the
/// APP_MODULE syntax) and, with `--preload`, imports the app in the master. `Err(code)`:
/// the reason is logged; exit with that code.
pub(crate) fn prepare(s: &Settings, asgi: bool) -> Result<(), i32> {
    {
        let mut green = false;
        if !asgi {
            let model = match worker_model(s) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!("{e}");
                    return Err(1);
                }
            };
            if let Some(w) = &model.warning {
                tracing::warn!("{w}");
            }
            green = model.class == "gevent";
        }
        if s.paste.is_none()
            && let Err(e) = AppSpec::parse(s.wsgi_app.as_deref().unwrap_or(welcome::APP))
        {
            tracing::error!("{e}");
            tracing::info!("Reason: App failed to load.");
            return Err(crate::error::APP_LOAD_ERROR);
        }
        if s.preload_app {
            // gevent patches before the app's import here too: a preloaded app's
            // module-level locks and sockets are then gevent's, not native ones a
            // greenlet could block the hub on. (Gunicorn imports unpatched in the master.)
            let app = match import_app_with(s, |py| if green { green::patch(py) } else { Ok(()) }) {
                Ok(app) => app,
                Err(e) => {
                    tracing::error!("Exception in preloading the application:\n{e}");
                    tracing::info!("Reason: App failed to load.");
                    return Err(crate::error::APP_LOAD_ERROR);
                }
            };
            // Objects that survive import go to the permanent generation, so the collector
            // never touches (and un-shares) their copy-on-write pages in the workers.
            Python::attach(|py| {
                let _ = py.import("gc").and_then(|gc| gc.call_method0("freeze"));
            });
            let _ = PRELOADED.set(app);
            // CPython itself starts no thread, but an app may at import (an SDK's
            // background sender): such threads do not exist in the forked workers, and
            // forking a multi-threaded process is only safe if they hold no lock at that
            // moment. (Debug builds assert on this in sys::fork.)
            if let Some(n) = crate::sys::thread_count().filter(|&n| n > 1) {
                tracing::warn!(
                    "--preload: importing the app started {} thread(s) in the master; they \
                     will not run in the workers, and forking with them alive risks deadlocks",
                    n - 1
                );
            }
        }
        Ok(())
    }
}

/// What a Python process does on `sys.exit()` and Gunicorn's workers get: run the
/// `atexit` handlers (SDKs flush there) and flush `sys.stdout`/`sys.stderr` (a
/// block-buffered `print()` would be lost). The interpreter is not finalised: app threads
/// may still be inside a request.
pub(crate) fn at_worker_exit() {
    Python::try_attach(|py| {
        let run = py
            .import("atexit")
            .and_then(|m| m.call_method0("_run_exitfuncs"));
        if let Err(e) = run {
            tracing::error!(
                "Error in atexit handlers:\n{}",
                crate::python::format_exception(py, &e)
            );
        }
        if let Ok(sys) = py.import("sys") {
            for stream in ["stdout", "stderr"] {
                let _ = sys.getattr(stream).and_then(|s| s.call_method0("flush"));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(class: &str, threads: u32) -> Result<WorkerModel, String> {
        let s = Settings {
            worker_class: class.parse().unwrap(),
            threads,
            ..Settings::default()
        };
        worker_model(&s)
    }

    #[test]
    fn worker_classes() {
        assert_eq!(model("sync", 1).unwrap().class, "sync");
        assert_eq!(
            model("sync", 4).unwrap(),
            WorkerModel {
                class: "gthread",
                threads: 4,
                capacity: 4,
                warning: None
            }
        );
        assert_eq!(model("gthread", 1).unwrap().threads, 1);
        let g = model("gevent", 8).unwrap();
        assert_eq!((g.class, g.threads, g.capacity), ("gevent", 1, 1000));
        assert!(g.warning.unwrap().contains("--worker-connections"));
        assert!(model("gevent", 1).unwrap().warning.is_none());
        for refused in ["eventlet", "tornado"] {
            assert!(
                model(refused, 1)
                    .unwrap_err()
                    .contains("invalid or not found")
            );
        }
        assert_eq!(
            model("asgi", 1).unwrap_err(),
            "ASGI apps are not supported yet"
        );
        assert_eq!(
            model("uvicorn.workers.UvicornWorker", 1).unwrap_err(),
            "ASGI apps are not supported yet"
        );
        assert!(model("mypkg.MyWorker", 1).is_err());
    }
}
