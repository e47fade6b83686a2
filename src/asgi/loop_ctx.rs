//! The loop thread's side of the bridge: the per-worker constants the callables need
//! ([`Ctx`]), the drain callback the loop runs when the wake-up socket is readable, the
//! `http` scope, and [`Api`], the object the embedded Python driver (`driver.py`) calls.

use std::sync::{Arc, OnceLock};

use http::Version;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::bridge::{Bridge, Event};
use super::io::{Ready, Receive, Send, resolve};
use crate::http::{ConnInfo, Peer};
use crate::wsgi::response::Outbox;

/// What the loop thread needs on every request, made once per worker.
pub(super) struct Ctx {
    pub bridge: Arc<Bridge>,
    pub outbox: Arc<Outbox>,
    /// The edge's runtime: a `send` that must wait for room is a task there.
    pub edge: tokio::runtime::Handle,
    pub app: Py<PyAny>,
    /// The driver's runner coroutine function: `run(app, scope, receive, send)`.
    pub run: Py<PyAny>,
    pub create_task: Py<PyAny>,
    pub create_future: Py<PyAny>,
    pub stop_loop: Py<PyAny>,
    pub call_later: Py<PyAny>,
    grace: f64,
    pub client_disconnected: Py<PyAny>,
    pub cancelled: Py<PyAny>,
    /// A [`Ready`] for `None`: reusable, it holds no value.
    pub ready_none: Py<PyAny>,
    /// The lifespan state every scope gets a shallow copy of.
    pub state: Py<PyDict>,
    root: String,
    /// Every key of an `http` (and a `websocket`) scope in its order, the constant values
    /// set: a request's scope is a copy with the rest overwritten, which is cheaper than
    /// growing a new dict key by key (two resizes at 14 keys).
    scope_http: Py<PyDict>,
    scope_ws: Py<PyDict>,
    /// `pre_request` or `post_request` is set (fixed for the worker's life).
    hooks: bool,
    pub k_type: Py<PyString>,
    pub k_body: Py<PyString>,
    pub k_more_body: Py<PyString>,
    pub k_status: Py<PyString>,
    pub k_headers: Py<PyString>,
    pub t_request: Py<PyString>,
    pub t_disconnect: Py<PyString>,
}

static CTX: OnceLock<Ctx> = OnceLock::new();

impl Ctx {
    /// The worker's context; set before the loop takes its first request.
    pub(super) fn get() -> &'static Ctx {
        CTX.get()
            .expect("the ASGI loop context is set before any request")
    }
}

/// What the worker's boot learns from the loop thread.
pub(super) type Started = Result<(), String>;

/// The object `driver.py` calls into.
#[pyclass(module = "runicorn")]
pub(super) struct Api {
    pub bridge: Arc<Bridge>,
    pub outbox: Arc<Outbox>,
    pub edge: tokio::runtime::Handle,
    pub root_path: String,
    /// `--asgi-disconnect-grace-period`, seconds.
    pub grace: f64,
    pub started: std::sync::Mutex<Option<std::sync::mpsc::Sender<Started>>>,
}

#[pymethods]
impl Api {
    /// The descriptor the loop watches with `add_reader`.
    fn wake_fd(&self) -> i32 {
        self.bridge.wake_fd()
    }

    /// Makes the per-worker context; called once on the loop thread, before requests.
    fn attach(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        lp: &Bound<'_, PyAny>,
        app: &Bound<'_, PyAny>,
        run: &Bound<'_, PyAny>,
        client_disconnected: &Bound<'_, PyAny>,
        state: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let s = |t: &str| PyString::intern(py, t).unbind();
        let asgi = PyDict::new(py);
        asgi.set_item("version", "3.0")?;
        // 2.5: `websocket.disconnect` carries the peer's close `reason`.
        asgi.set_item("spec_version", "2.5")?;
        let extensions = PyDict::new(py);
        extensions.set_item("http.response.pathsend", PyDict::new(py))?;
        extensions.set_item("http.response.trailers", PyDict::new(py))?;
        let ws_extensions = PyDict::new(py);
        ws_extensions.set_item("websocket.http.response", PyDict::new(py))?;
        let this = slf.borrow();
        let root_path = PyString::new(py, &this.root_path);
        let template = |websocket: bool| -> PyResult<Py<PyDict>> {
            let d = PyDict::new(py);
            let none = py.None();
            let ty = if websocket { "websocket" } else { "http" };
            d.set_item(s("type"), ty)?;
            d.set_item(s("asgi"), &asgi)?;
            for k in ["http_version", "scheme", "path", "raw_path", "query_string"] {
                d.set_item(s(k), &none)?;
            }
            d.set_item(s("root_path"), &root_path)?;
            for k in ["headers", "client", "server", "state"] {
                d.set_item(s(k), &none)?;
            }
            let ext = if websocket {
                &ws_extensions
            } else {
                &extensions
            };
            d.set_item(s("extensions"), ext)?;
            d.set_item(s(if websocket { "subprotocols" } else { "method" }), &none)?;
            Ok(d.unbind())
        };
        let (scope_http, scope_ws) = (template(false)?, template(true)?);
        // Heads made in one loop iteration go to the edge together, at its end.
        this.outbox.attach(
            lp.getattr("call_soon")?.unbind(),
            slf.getattr("flush")?.unbind(),
        );
        let ctx = Ctx {
            bridge: this.bridge.clone(),
            outbox: this.outbox.clone(),
            edge: this.edge.clone(),
            app: app.clone().unbind(),
            run: run.clone().unbind(),
            create_task: lp.getattr("create_task")?.unbind(),
            create_future: lp.getattr("create_future")?.unbind(),
            stop_loop: lp.getattr("stop")?.unbind(),
            call_later: lp.getattr("call_later")?.unbind(),
            grace: this.grace,
            client_disconnected: client_disconnected.clone().unbind(),
            cancelled: py.import("asyncio")?.getattr("CancelledError")?.unbind(),
            ready_none: Py::new(py, Ready::none())?.into_any(),
            state: state.clone().unbind(),
            root: this.root_path.clone(),
            scope_http,
            scope_ws,
            hooks: crate::hooks::has("pre_request") || crate::hooks::has("post_request"),
            k_type: s("type"),
            k_body: s("body"),
            k_more_body: s("more_body"),
            k_status: s("status"),
            k_headers: s("headers"),
            t_request: s("http.request"),
            t_disconnect: s("http.disconnect"),
        };
        if CTX.set(ctx).is_err() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the ASGI loop was attached twice",
            ));
        }
        Ok(())
    }

    /// Wakes the edge for the heads queued in this loop iteration.
    fn flush(&self) {
        self.outbox.flush();
    }

    /// Lifespan startup is over: the worker may accept (`error`: it must not).
    #[pyo3(signature = (error=None))]
    fn started(&self, error: Option<String>) {
        let tx = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(error.map_or(Ok(()), Err));
        }
    }

    /// Runs what the edge queued: new requests, pokes, resolved sends, shutdown.
    fn drain(&self, py: Python<'_>) {
        let c = Ctx::get();
        let mut batch = Vec::new();
        c.bridge.take(&mut batch);
        for ev in batch {
            if let Err(e) = handle(py, c, ev) {
                tracing::error!(
                    "ASGI bridge error: {}",
                    crate::python::format_exception(py, &e)
                );
            }
        }
    }

    /// The loop is alive: beat the heartbeat. A loop blocked by its app stops calling
    /// this, so the master's `--timeout` replaces the worker, as Gunicorn's ASGI worker.
    fn tick(&self) {
        use crate::scoreboard::{heartbeat::BUSY_SINCE_MS, monotonic_ms};
        BUSY_SINCE_MS.store(monotonic_ms().max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// A log line from the driver at `level` (Python's numbers).
    fn log(&self, level: u32, msg: &str) {
        match level {
            40.. => tracing::error!("{msg}"),
            30..40 => tracing::warn!("{msg}"),
            20..30 => tracing::info!("{msg}"),
            _ => tracing::debug!("{msg}"),
        }
    }
}

fn handle(py: Python<'_>, c: &Ctx, ev: Event) -> PyResult<()> {
    match ev {
        Event::Request(p) => start(py, c, *p),
        Event::Poke(link) => {
            let due = {
                let mut ib = link.inbox();
                let took_body = !ib.chunks.is_empty();
                match ib.waiter.is_some().then(|| ib.next()).flatten() {
                    Some(m) => {
                        let w = ib.waiter.take();
                        if took_body {
                            link.credit.notify_one();
                        }
                        w.map(|w| (w, m))
                    }
                    None => None,
                }
            };
            match due {
                Some((w, m)) => resolve(py, w.bind(py), m),
                None => Ok(()),
            }
        }
        Event::Resolve(fut, ok) => {
            let fut = fut.bind(py);
            if fut.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
                return Ok(());
            }
            if ok {
                fut.call_method1(pyo3::intern!(py, "set_result"), (py.None(),))?;
            } else {
                let e = c.client_disconnected.bind(py).call0()?;
                fut.call_method1(pyo3::intern!(py, "set_exception"), (e,))?;
            }
            Ok(())
        }
        Event::Gone(link) => {
            let task = link.inbox().task.take();
            if let Some(task) = task {
                let task = task.bind(py);
                if !task.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
                    let cancel = task.getattr(pyo3::intern!(py, "cancel"))?;
                    c.call_later.bind(py).call1((c.grace, cancel))?;
                }
            }
            Ok(())
        }
        Event::WsConnect(p) => super::ws::start(py, c, *p),
        Event::WsPoke(link) => super::ws::poke(py, &link),
        Event::Shutdown => c.stop_loop.bind(py).call0().map(drop),
    }
}

/// Starts the app's task for one request.
fn start(py: Python<'_>, c: &Ctx, p: super::Pending) -> PyResult<()> {
    let scope = scope(py, c, &p.parts, p.https, p.root.as_deref(), false)?;
    scope.set_item(
        pyo3::intern!(py, "method"),
        method(py, p.parts.method.as_str()),
    )?;
    let req = if c.hooks {
        let req = crate::pyconf::hooks::request_object(py, &p.parts, p.https);
        if let Some(req) = &req {
            crate::pyconf::hooks::pre_request(py, req);
        }
        req
    } else {
        None
    };
    crate::pyconf::hooks::REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let link = p.link.clone();
    let recv = Py::new(py, Receive::new(p.link.clone()))?;
    let send = Py::new(py, Send::new(p.link, p.reply, req))?;
    let coro = c.run.bind(py).call1((c.app.bind(py), scope, recv, send))?;
    let task = c.create_task.bind(py).call1((coro,))?;
    // Kept until the response completes, for the disconnect grace period's cancel.
    let mut ib = link.inbox();
    if !ib.finished {
        ib.task = Some(task.unbind());
    }
    Ok(())
}

fn method<'py>(py: Python<'py>, m: &str) -> Bound<'py, PyString> {
    match m {
        "GET" => pyo3::intern!(py, "GET").clone(),
        "POST" => pyo3::intern!(py, "POST").clone(),
        "HEAD" => pyo3::intern!(py, "HEAD").clone(),
        "PUT" => pyo3::intern!(py, "PUT").clone(),
        "DELETE" => pyo3::intern!(py, "DELETE").clone(),
        "PATCH" => pyo3::intern!(py, "PATCH").clone(),
        "OPTIONS" => pyo3::intern!(py, "OPTIONS").clone(),
        m => PyString::new(py, m),
    }
}

/// An address and its text, as the scope shows it.
type IpText = (std::net::IpAddr, Py<PyString>);

thread_local! {
    /// The last address text made on the loop thread, per role (client, server): most
    /// requests come from the address the one before came from, and a worker listens on
    /// few, so formatting an IP address per request and side is mostly repeated work.
    static LAST_IP: std::cell::RefCell<[Option<IpText>; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// `(host, port)` for the scope's `client` (`role` 0) or `server` (1), or None.
fn addr<'py>(
    py: Python<'py>,
    a: Option<std::net::SocketAddr>,
    role: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(a) = a else {
        return Ok(py.None().into_bound(py));
    };
    let host = LAST_IP.with(|last| {
        let mut last = last.borrow_mut();
        match &last[role] {
            Some((ip, text)) if *ip == a.ip() => text.clone_ref(py),
            _ => {
                let text = PyString::new(py, &a.ip().to_string()).unbind();
                last[role] = Some((a.ip(), text.clone_ref(py)));
                text
            }
        }
    });
    Ok(PyTuple::new(
        py,
        [
            host.into_bound(py).into_any(),
            a.port().into_pyobject(py)?.into_any(),
        ],
    )?
    .into_any())
}

/// The `http` scope (ASGI 3, HTTP and WebSocket spec 2.5) without `method`, or the
/// `websocket` one without `subprotocols`. `forwarded_root`: a trusted proxy's `SCRIPT_NAME`
/// header, which replaces `--root-path` for this request.
pub(super) fn scope<'py>(
    py: Python<'py>,
    c: &Ctx,
    parts: &http::request::Parts,
    https: bool,
    forwarded_root: Option<&str>,
    websocket: bool,
) -> PyResult<Bound<'py, PyDict>> {
    use pyo3::intern;
    let template = if websocket {
        c.scope_ws.bind(py)
    } else {
        c.scope_http.bind(py)
    };
    // Keys already there keep their place: `type`, `asgi`, `extensions` and the
    // configured `root_path` come with the copy.
    let d = template.copy()?;
    let version = match parts.version {
        Version::HTTP_2 => intern!(py, "2"),
        Version::HTTP_10 => intern!(py, "1.0"),
        _ => intern!(py, "1.1"),
    };
    d.set_item(intern!(py, "http_version"), version)?;
    let scheme = match (websocket, https) {
        (false, false) => intern!(py, "http"),
        (false, true) => intern!(py, "https"),
        (true, false) => intern!(py, "ws"),
        (true, true) => intern!(py, "wss"),
    };
    d.set_item(intern!(py, "scheme"), scheme)?;
    let raw = parts.uri.path().as_bytes();
    let decoded = crate::wsgi::environ::percent_decode(raw);
    let decoded = String::from_utf8_lossy(&decoded);
    // The spec's `path` includes `root_path`: behind a proxy that strips the prefix the
    // request path lacks it and it is put back; a request that carries it keeps it. A
    // forwarded SCRIPT_NAME is a per-request root path and follows the same rule (the
    // WSGI host answers 500 to a path outside it, as Gunicorn's WSGI workers; Gunicorn's
    // ASGI worker ignores the header and serves the path as it came).
    let root = forwarded_root.unwrap_or(c.root.as_str());
    let carries = root.is_empty()
        || decoded
            .strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if carries {
        d.set_item(intern!(py, "path"), decoded.as_ref())?;
    } else {
        d.set_item(intern!(py, "path"), format!("{root}{decoded}"))?;
    }
    d.set_item(intern!(py, "raw_path"), PyBytes::new(py, raw))?;
    d.set_item(
        intern!(py, "query_string"),
        PyBytes::new(py, parts.uri.query().unwrap_or("").as_bytes()),
    )?;
    if let Some(r) = forwarded_root {
        d.set_item(intern!(py, "root_path"), r)?;
    }
    let headers = PyList::empty(py);
    if parts.version == Version::HTTP_2
        && !parts.headers.contains_key(http::header::HOST)
        && let Some(a) = parts.uri.authority()
    {
        headers.append((
            PyBytes::new(py, b"host"),
            PyBytes::new(py, a.as_str().as_bytes()),
        ))?;
    }
    for (k, v) in &parts.headers {
        headers.append((
            PyBytes::new(py, k.as_str().as_bytes()),
            PyBytes::new(py, v.as_bytes()),
        ))?;
    }
    d.set_item(c.k_headers.bind(py), headers)?;
    let conn = parts.extensions.get::<ConnInfo>();
    let client = match conn.map(|c| c.peer) {
        Some(Peer::Tcp(a)) => Some(a),
        _ => None,
    };
    d.set_item(intern!(py, "client"), addr(py, client, 0)?)?;
    d.set_item(
        intern!(py, "server"),
        addr(py, conn.and_then(|c| c.local), 1)?,
    )?;
    d.set_item(intern!(py, "state"), c.state.bind(py).copy()?)?;
    Ok(d)
}
