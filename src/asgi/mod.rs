//! The ASGI host (the `python` feature): ASGI 3 apps (FastAPI, Starlette, Django,
//! Quart, any `async def app(scope, receive, send)`) on one asyncio event loop per worker,
//! behind the same Rust edge as every other app.
//!
//! ```text
//! tokio thread (the edge)                          loop thread (asyncio or uvloop, holds the GIL)
//! hyper → Pending ── Bridge queue + 1 wake byte ──► drain: scope, Receive, Send → create_task
//!   body pump ── Link (bounded read-ahead) ───────► receive(): Ready, or a future poked later
//!   ◄──────────── First / Out chunks (tokio channels, no GIL) ── send()
//! ```
//!
//! The edge never takes the GIL; the loop thread takes it once per wake-up and drains
//! every queued event in that one acquisition. A GET whose response fits one hand-over
//! crosses threads twice: the request in (one wake-up byte, shared by a burst) and the
//! response out (a oneshot). `driver.py` is the Python half: the loop, lifespan, the
//! runner that reports an app's exception.

mod bridge;
mod io;
mod loop_ctx;
mod ws;

use std::convert::Infallible;
use std::ffi::CString;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::config::Settings;
use crate::config::worker_class::WorkerKind;
use crate::worker::{BootError, Host, RuntimeFlavor};
use crate::wsgi::WsgiService;
use crate::wsgi::response::{self, First, ResponseBody};
use bridge::{Bridge, Event, Link, READ_AHEAD};

/// The driver's source, run once per worker on the loop thread.
const DRIVER: &str = include_str!("driver.py");

/// Seconds lifespan startup, and shutdown, may each take (Gunicorn's ASGI worker: 30).
const LIFESPAN_SECS: u64 = 30;

/// A request on its way to the loop thread.
pub(crate) struct Pending {
    parts: http::request::Parts,
    link: Arc<Link>,
    reply: oneshot::Sender<First>,
    https: bool,
    /// A trusted proxy's `SCRIPT_NAME` header: the scope's `root_path` instead of
    /// `--root-path`.
    root: Option<String>,
}

struct Edge {
    bridge: Arc<Bridge>,
    proxy: crate::wsgi::proxy::Proxy,
    request_timeout: Option<Duration>,
}

/// The hyper service of an ASGI worker.
#[derive(Clone)]
pub(crate) struct AsgiService {
    edge: Arc<Edge>,
    /// Told when the event loop thread ends (see [`STOPPING`]): while the worker serves,
    /// it then stops at once.
    gone: Arc<tokio::sync::Notify>,
}

/// Marks the exchange over when dropped: with the service future (the client left
/// before the response) or with the response body (sent, or the connection died).
struct Over {
    link: Arc<Link>,
    bridge: Arc<Bridge>,
}

impl Drop for Over {
    fn drop(&mut self) {
        let mut unfinished = false;
        self.link.update(&self.bridge, |ib| {
            ib.gone = true;
            unfinished = !ib.finished && ib.task.is_some();
        });
        self.link.credit.notify_one();
        if unfinished {
            self.bridge.post(Event::Gone(self.link.clone()));
        }
    }
}

async fn handle(edge: &Edge, req: Request<Incoming>) -> Response<ResponseBody> {
    let conn = req.extensions().get::<crate::http::ConnInfo>();
    let trusted = edge.proxy.trusted(conn.map(|c| c.peer));
    let tls = conn.is_some_and(|c| c.tls);
    let Ok(https) = edge.proxy.https(tls, trusted, req.headers()) else {
        tracing::warn!("Invalid request: Contradictory scheme headers");
        return crate::wsgi::simple(http::StatusCode::BAD_REQUEST);
    };
    // The WSGI host's SCRIPT_NAME, decided by the same rule (`--forwarder-headers`).
    let root = edge.proxy.script_name(trusted, req.headers());
    if crate::websocket::is_upgrade_request(&req) {
        return ws::handle(&edge.bridge, req, https, root).await;
    }
    // HTTP/1 only: hyper reads nothing while a request is in flight, so a client that
    // leaves is seen only by peeking its socket; an HTTP/2 stream's reset reaches hyper.
    let socket = (req.version() != http::Version::HTTP_2)
        .then(|| {
            req.extensions()
                .get::<crate::server::ClientSocket>()
                .copied()
        })
        .flatten();
    let (parts, body) = req.into_parts();
    // A body the edge can read at once (a small Content-Length) goes with the request,
    // so the app's first receive() finishes without a wait; a larger or chunked one is
    // pumped as the app takes it.
    let known = body.size_hint().exact();
    let mut pump = None;
    let link = if body.is_end_stream() {
        Link::new(Some(Bytes::new()))
    } else if known.is_some_and(|n| n <= READ_AHEAD as u64) {
        match body.collect().await {
            Ok(b) => Link::new(Some(b.to_bytes())),
            Err(e) => {
                tracing::debug!("request body not received: {e}");
                return crate::wsgi::simple(http::StatusCode::BAD_REQUEST);
            }
        }
    } else {
        let link = Link::new(None);
        pump = Some((body, link.clone()));
        link
    };
    let over = Over {
        link: link.clone(),
        bridge: edge.bridge.clone(),
    };
    let link_for_watch = link.clone();
    if let Some((body, link)) = pump {
        tokio::spawn(pump_body(body, link, edge.bridge.clone()));
    }
    let (tx, rx) = oneshot::channel();
    edge.bridge.post(Event::Request(Box::new(Pending {
        parts,
        link,
        reply: tx,
        https,
        root,
    })));
    let answer = async {
        match socket {
            None => Some(response::respond(rx).await),
            Some(sock) => tokio::select! {
                r = response::respond(rx) => Some(r),
                () = left(sock) => None,
            },
        }
    };
    let answer = match edge.request_timeout {
        None => answer.await,
        Some(t) => match tokio::time::timeout(t, answer).await {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(
                    "the application did not answer within --request-timeout ({}s)",
                    t.as_secs_f64()
                );
                Some(crate::wsgi::simple(http::StatusCode::GATEWAY_TIMEOUT))
            }
        },
    };
    let Some(resp) = answer else {
        // The client left before the head: the app gets http.disconnect, its send()
        // raises, and its task is cancelled after the grace period (`over` drops here).
        // nginx's 499, "client closed request", is what the access log shows.
        drop(over);
        return crate::wsgi::simple(CLIENT_CLOSED);
    };
    if let Some(sock) = socket
        && resp.body().size_hint().exact().is_none()
    {
        // A streamed response: an SSE stream idle between events would otherwise not
        // learn that its client left until its next send().
        tokio::spawn(watch_stream(sock, link_for_watch, edge.bridge.clone()));
    }
    resp.map(|b| b.keep(Box::new(over)))
}

/// nginx's status for a request whose client closed the connection first.
const CLIENT_CLOSED: http::StatusCode = match http::StatusCode::from_u16(499) {
    Ok(s) => s,
    Err(_) => http::StatusCode::BAD_REQUEST,
};

/// How often an HTTP/1 client's socket is peeked while its request is in flight.
const PEEK_EVERY: Duration = Duration::from_secs(1);

/// One clock for every peek of the worker: a timer per request cost a timer-wheel entry
/// (insert, fire or cancel) on the edge's thread for each request, a tenth of its work
/// on a hello; waiting on a shared [`Notify`](tokio::sync::Notify) costs a list link.
/// A request's first peek comes within one period rather than exactly one after it.
static PEEK_TICK: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Rings [`PEEK_TICK`] every [`PEEK_EVERY`] for as long as the worker's runtime runs.
async fn peek_clock() {
    let mut every = tokio::time::interval(PEEK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        PEEK_TICK.notify_waiters();
    }
}

/// Resolves once the client closed or reset its connection.
async fn left(sock: crate::server::ClientSocket) {
    loop {
        PEEK_TICK.notified().await;
        if sock.left() {
            return;
        }
    }
}

/// While a streamed response runs, marks the exchange over once its client left.
async fn watch_stream(sock: crate::server::ClientSocket, link: Arc<Link>, bridge: Arc<Bridge>) {
    loop {
        PEEK_TICK.notified().await;
        {
            let ib = link.inbox();
            // Over (or the connection moved on): the descriptor may belong to another
            // connection by now, so it is never peeked again.
            if ib.finished || ib.gone {
                return;
            }
        }
        if sock.left() {
            let mut unfinished = false;
            link.update(&bridge, |ib| {
                ib.gone = true;
                unfinished = !ib.finished && ib.task.is_some();
            });
            if unfinished {
                bridge.post(Event::Gone(link));
            }
            return;
        }
    }
}

/// Reads a request body into the link as the app takes it: at most [`READ_AHEAD`]
/// bytes ahead, so a fast upload to a slow app waits in the socket, not in memory.
async fn pump_body(mut body: Incoming, link: Arc<Link>, bridge: Arc<Bridge>) {
    loop {
        loop {
            let credit = link.credit.notified();
            {
                let ib = link.inbox();
                if ib.finished || ib.gone {
                    return;
                }
                if ib.buffered < READ_AHEAD {
                    break;
                }
            }
            credit.await;
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers: not part of ASGI's http.request
                };
                let end = body.is_end_stream();
                if data.is_empty() && !end {
                    continue;
                }
                link.update(&bridge, |ib| {
                    ib.buffered += data.len();
                    ib.chunks.push_back(data);
                    ib.body_done = end;
                });
                if end {
                    return;
                }
            }
            None => {
                link.update(&bridge, |ib| ib.body_done = true);
                return;
            }
            Some(Err(e)) => {
                tracing::debug!("request body not received: {e}");
                link.update(&bridge, |ib| ib.gone = true);
                return;
            }
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for AsgiService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let edge = self.edge.clone();
        Box::pin(async move { Ok(handle(&edge, req).await) })
    }
}

/// The loop thread of this worker, for the stop.
struct LoopThread {
    bridge: Arc<Bridge>,
    done: Mutex<std::sync::mpsc::Receiver<()>>,
}

static LOOP: OnceLock<LoopThread> = OnceLock::new();

/// Set once the worker asks the loop to stop: a loop that stops without it (the app
/// called `loop.stop()`) leaves requests nobody will answer, so the worker stops at once.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `app` is an ASGI callable (`async def app(...)`, or an object whose
/// `__call__` is one: FastAPI, Starlette, Quart, Django's ASGIHandler).
fn is_asgi(py: Python<'_>, app: &Py<PyAny>) -> bool {
    let check = || -> PyResult<bool> {
        let inspect = py.import("inspect")?;
        let coro = |o: &Bound<'_, PyAny>| -> PyResult<bool> {
            inspect
                .call_method1("iscoroutinefunction", (o,))?
                .is_truthy()
        };
        let app = app.bind(py);
        if coro(app)? {
            return Ok(true);
        }
        match app.getattr("__call__") {
            Ok(call) if !app.is_instance_of::<pyo3::types::PyFunction>() => coro(&call),
            _ => Ok(false),
        }
    };
    check().unwrap_or(false)
}

/// Starts the loop thread and waits for lifespan startup.
fn boot_asgi(s: &Settings, app: Py<PyAny>) -> Result<AsgiService, BootError> {
    let bridge = Arc::new(
        Bridge::new()
            .map_err(|e| BootError::Worker(format!("cannot make the ASGI wake-up socket: {e}")))?,
    );
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let outbox = crate::wsgi::response::Outbox::new();
    tokio::spawn(outbox.clone().deliver());
    tokio::spawn(peek_clock());
    let api = loop_ctx::Api {
        bridge: bridge.clone(),
        outbox,
        edge: tokio::runtime::Handle::current(),
        root_path: s.root_path.clone(),
        grace: s.asgi_disconnect_grace_period as f64,
        started: Mutex::new(Some(started_tx.clone())),
    };
    let beat_every = match s.timeout {
        0 => 1.0,
        t => (t.saturating_mul(1000) / 4).clamp(50, 1000) as f64 / 1000.0,
    };
    let (loop_kind, lifespan) = (s.asgi_loop.to_string(), s.asgi_lifespan.to_string());
    let gone = Arc::new(tokio::sync::Notify::new());
    let told = gone.clone();
    std::thread::Builder::new()
        .name("asgi-loop".into())
        .spawn(move || {
            if let Err(e) = crate::sys::set_thread_batch() {
                tracing::debug!("the ASGI loop thread stays SCHED_OTHER: {e}");
            }
            Python::attach(|py| {
                let run = || -> PyResult<()> {
                    let code = CString::new(DRIVER)?;
                    let driver = PyModule::from_code(
                        py,
                        &code,
                        c"runicorn/asgi_driver.py",
                        c"runicorn_asgi_driver",
                    )?;
                    let api = Py::new(py, api)?;
                    driver.getattr("serve")?.call1((
                        api,
                        app,
                        loop_kind,
                        lifespan,
                        beat_every,
                        LIFESPAN_SECS,
                    ))?;
                    Ok(())
                };
                if let Err(e) = run() {
                    let msg = crate::python::format_exception(py, &e);
                    tracing::error!("the ASGI event loop failed:\n{msg}");
                    let _ = started_tx.send(Err(msg));
                } else if LOOP.get().is_some()
                    && !STOPPING.load(std::sync::atomic::Ordering::Acquire)
                {
                    tracing::error!(
                        "the ASGI event loop stopped while the worker served (did the app \
                         call loop.stop()?): the worker stops"
                    );
                }
            });
            // Serving, the requests the loop held will never be answered: the worker
            // stops at once (a permit, as it may not be waiting yet). When the worker
            // stopped the loop itself it no longer waits; at boot nobody does.
            told.notify_one();
            let _ = done_tx.send(());
        })
        .map_err(|e| BootError::Worker(format!("cannot start the ASGI loop thread: {e}")))?;
    match started_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => return Err(BootError::Worker(msg)),
        Err(_) => {
            return Err(BootError::Worker(
                "the ASGI loop thread ended during startup".into(),
            ));
        }
    }
    let _ = LOOP.set(LoopThread {
        bridge: bridge.clone(),
        done: Mutex::new(done_rx),
    });
    Ok(AsgiService {
        edge: Arc::new(Edge {
            bridge,
            proxy: crate::wsgi::proxy::Proxy::new(s),
            request_timeout: (s.request_timeout > 0)
                .then(|| Duration::from_secs(s.request_timeout)),
        }),
        gone,
    })
}

/// Stops the loop thread: lifespan shutdown runs there, bounded.
fn stop_loop() {
    if let Some(l) = LOOP.get() {
        STOPPING.store(true, std::sync::atomic::Ordering::Release);
        l.bridge.post(Event::Shutdown);
        let done = l.done.lock().unwrap_or_else(|p| p.into_inner());
        if done
            .recv_timeout(Duration::from_secs(LIFESPAN_SECS + 2))
            .is_err()
        {
            tracing::warn!("the ASGI event loop did not stop in time");
        }
    }
}

/// A worker's service: WSGI or ASGI, decided by the worker class or the app itself.
#[derive(Clone)]
pub(crate) enum PythonService {
    Wsgi(WsgiService),
    Asgi(AsgiService),
}

impl hyper::service::Service<Request<Incoming>> for PythonService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match self {
            PythonService::Wsgi(s) => s.call(req),
            PythonService::Asgi(s) => s.call(req),
        }
    }
}

/// The host of a Python app: the WSGI host, or the ASGI host for `-k asgi` (and the
/// uvicorn class names) and for an ASGI app given with a WSGI class.
pub(crate) struct PythonHost {
    asgi: bool,
}

impl PythonHost {
    /// What can be decided before forking. `Err(code)`: logged; exit with it.
    pub(crate) fn prepare(s: &Settings) -> Result<PythonHost, i32> {
        let asgi = s.worker_class.kind == WorkerKind::Asgi;
        if asgi && s.threads > 1 {
            tracing::warn!(
                "--threads {} is ignored by the asgi worker: one event loop serves every request",
                s.threads
            );
        }
        crate::wsgi::prepare(s, asgi)?;
        if let Some(app) = crate::wsgi::preloaded() {
            let is = Python::attach(|py| is_asgi(py, &app));
            let serves_asgi = check_kind(s, asgi, is).map_err(|e| {
                tracing::error!("{e}");
                tracing::info!("Reason: App failed to load.");
                crate::error::APP_LOAD_ERROR
            })?;
            if serves_asgi && !asgi {
                crate::master::set_worker_shown("asgi");
            }
        }
        Ok(PythonHost { asgi })
    }
}

/// The app against the worker class: an ASGI app with a WSGI class is served as ASGI
/// (one INFO line); a WSGI app under `-k asgi` is an error.
fn check_kind(s: &Settings, asgi_class: bool, asgi_app: bool) -> Result<bool, String> {
    let name = match (&s.paste, &s.wsgi_app) {
        (Some(p), _) => p.given.as_str(),
        (None, Some(app)) => app.as_str(),
        (None, None) => "the app",
    };
    match (asgi_class, asgi_app) {
        (true, false) => Err(format!(
            "{name} is not an ASGI application (an `async def app(scope, receive, send)` or an \
             object with such a __call__) but the worker class is {:?}: serve a WSGI app with \
             -k sync or -k gthread",
            s.worker_class.as_str()
        )),
        (false, true) => {
            tracing::info!(
                "{name} is an ASGI application: serving it with the asgi worker (-k asgi)"
            );
            Ok(true)
        }
        (_, is) => Ok(is),
    }
}

impl Host for PythonHost {
    type Service = PythonService;

    /// One tokio thread is plenty for the I/O in front of the app threads or the loop.
    fn runtime(&self) -> RuntimeFlavor {
        RuntimeFlavor::CurrentThread
    }

    fn boot(&self, s: &Settings) -> Result<PythonService, BootError> {
        // gevent's hub thread patches before it imports the app: no import here.
        if s.worker_class.kind == WorkerKind::Gevent && crate::wsgi::preloaded().is_none() {
            return crate::wsgi::make_service(s, None).map(PythonService::Wsgi);
        }
        let app = crate::wsgi::app_object(s).map_err(BootError::App)?;
        let is = Python::attach(|py| is_asgi(py, &app));
        // With --preload the master already said what it found.
        let asgi = if crate::wsgi::preloaded().is_some() {
            is
        } else {
            check_kind(s, self.asgi, is).map_err(BootError::App)?
        };
        if asgi {
            boot_asgi(s, app).map(PythonService::Asgi)
        } else {
            crate::wsgi::make_service(s, Some(app)).map(PythonService::Wsgi)
        }
    }

    /// WSGI apps have a fixed capacity (app threads, a greenlet pool); the ASGI loop takes
    /// up to `--worker-connections`.
    fn app_load(&self, svc: &PythonService) -> Option<Arc<crate::server::AppLoad>> {
        match svc {
            PythonService::Wsgi(w) => Some(w.app_load()),
            PythonService::Asgi(_) => None,
        }
    }

    fn app_beside_edge(&self) -> bool {
        true
    }

    fn app_gone(&self, svc: &PythonService) -> Option<Arc<tokio::sync::Notify>> {
        match svc {
            PythonService::Wsgi(w) => w.app_gone(),
            PythonService::Asgi(a) => Some(a.gone.clone()),
        }
    }

    fn watched_files(&self) -> Vec<std::path::PathBuf> {
        crate::wsgi::module_files()
    }

    fn at_exit(&self) {
        stop_loop();
        crate::wsgi::at_worker_exit();
    }
}
