//! Server hooks: the Python callables a config file defines (`on_starting`, `pre_fork`,
//! `pre_request`, ...), resolved once per configuration load and called at Gunicorn's
//! moments with `server`, `worker`, `req`, `environ` and `resp` objects that carry the
//! attributes hooks commonly use. A hook that raises is logged with its traceback and
//! never stops the process that called it.
//!
//! State lives in process-wide statics: the master installs the hooks; a worker inherits
//! them (and the `server` object and its own `worker` object) through fork. A lock is
//! never held while waiting for the GIL (holders either have it already or touch no
//! Python), so app threads and hooks cannot deadlock on the pair.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::config::Settings;

struct Active {
    hooks: HashMap<&'static str, Py<PyAny>>,
    server: Py<Server>,
    cfg: Py<PyAny>,
    /// Worker objects by spawn order (`age`), from pre_fork to child_exit.
    workers: HashMap<u64, Py<Worker>>,
    /// In a worker: its own object.
    me: Option<Py<Worker>>,
    /// The config file's `logconfig_dict` object, when it set one.
    logconfig_dict: Option<Py<PyAny>>,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// Requests this worker's app threads have started (`worker.nr`).
pub(crate) static REQUESTS: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether any hook is installed in this process (cheap; no GIL).
pub(crate) fn any() -> bool {
    lock(&ACTIVE).as_ref().is_some_and(|a| !a.hooks.is_empty())
}

/// What [`install`] did: whether the configuration came from a Python config file, and
/// one line per hook that could not be resolved (not installed; the rest are).
pub(crate) struct Installed {
    pub from_file: bool,
    pub unusable: Vec<String>,
}

/// Resolves the hooks of `s` (the config file's callables, or dotted paths to import)
/// and builds the `server`/`cfg` objects. Called by the master after every successful
/// configuration load; a failed load never reaches here, so the running hooks stay.
pub(crate) fn install(s: &Settings, num_workers: u32) -> Installed {
    let staged = crate::config::python_file::take_staged();
    let mut done = Installed {
        from_file: staged.is_some(),
        unusable: Vec::new(),
    };
    let wanted = wanted(s);
    let logconfig_from_file = staged.is_some() && s.logconfig_dict != "{}";
    if wanted.is_empty() && staged.is_none() {
        let old = lock(&ACTIVE).take();
        if old.is_some() {
            // Python objects are released with the GIL held.
            Python::attach(|_| drop(old));
        }
        return done;
    }
    if let Err(e) = crate::python::init_interpreter() {
        done.unusable
            .push(format!("cannot start Python for the server hooks: {e}"));
        return done;
    }
    Python::attach(|py| {
        let ns = staged.map(|n| n.into_bound(py));
        let mut hooks = HashMap::new();
        for (key, text) in wanted {
            match resolve(py, ns.as_ref(), key, &text) {
                Ok(c) => {
                    hooks.insert(key, c.unbind());
                }
                Err(e) => done.unusable.push(unusable_line(py, key, &text, &e)),
            }
        }
        let cfg = match config_object(py, s, ns.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(
                    "cannot build the hooks' cfg object:\n{}",
                    crate::python::format_exception(py, &e)
                );
                py.None()
            }
        };
        let logconfig_dict = if logconfig_from_file {
            ns.as_ref()
                .and_then(|n| n.get_item("logconfig_dict").ok().flatten())
                .filter(|d| d.is_instance_of::<PyDict>())
                .map(Bound::unbind)
        } else {
            None
        };
        let mut active = lock(&ACTIVE);
        let previous = active.take();
        // One `server` object for the master's life, as Gunicorn's Arbiter: attributes
        // hooks set on it survive a HUP; its cfg is the new configuration.
        let server = match &previous {
            Some(p) => {
                if let Ok(mut s) = p.server.bind(py).try_borrow_mut() {
                    s.cfg = cfg.clone_ref(py);
                    s.num_workers = num_workers;
                }
                p.server.clone_ref(py)
            }
            None => {
                let server = Py::new(
                    py,
                    Server {
                        pid: std::process::id(),
                        num_workers,
                        cfg: cfg.clone_ref(py),
                        log: Py::new(py, Log).ok(),
                    },
                );
                let Ok(server) = server else { return };
                server
            }
        };
        let workers = previous.map(|a| a.workers).unwrap_or_default();
        *active = Some(Active {
            hooks,
            server,
            cfg,
            workers,
            me: None,
            logconfig_dict,
        });
    });
    done
}

/// Why hook `key` (given as `text`) cannot be used, in one line.
fn unusable_line(py: Python<'_>, key: &str, text: &str, e: &PyErr) -> String {
    let kind = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    format!(
        "hook {key} = {text:?} cannot be used: {kind}: {}",
        e.value(py)
    )
}

/// The config file's own `logconfig_dict` object (keeps callables a JSON copy loses).
pub(crate) fn logconfig_dict(py: Python<'_>) -> Option<Py<PyAny>> {
    lock(&ACTIVE)
        .as_ref()
        .and_then(|a| a.logconfig_dict.as_ref().map(|d| d.clone_ref(py)))
}

/// The hooks `s` sets, with their text (a callable's description or a dotted path).
fn wanted(s: &Settings) -> Vec<(&'static str, String)> {
    s.hooks
        .iter()
        .filter(|(k, _)| crate::config::registry::hook_arity(k).is_some() && **k != "ssl_context")
        .filter_map(|(k, v)| Some((*k, v.clone()?)))
        .collect()
}

/// Hook `key`: the config file's callable (`ns`), or the one its dotted path names.
fn resolve<'py>(
    py: Python<'py>,
    ns: Option<&Bound<'py, PyDict>>,
    key: &str,
    text: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let from_ns = ns
        .and_then(|n| n.get_item(key).ok().flatten())
        .filter(|v| v.is_callable() && crate::config::python_file::describe(v) == text);
    match from_ns {
        Some(c) => Ok(c),
        None => import_path(py, text),
    }
}

/// `--check-config`: every hook resolved as [`install`] resolves it at start; one line
/// per hook that cannot be used (Gunicorn's configuration load fails on such a hook,
/// `Error: No module named 'nomod'`).
pub(crate) fn unusable(s: &Settings) -> Vec<String> {
    let wanted = wanted(s);
    let staged = crate::config::python_file::take_staged();
    if wanted.is_empty() {
        return Vec::new();
    }
    if let Err(e) = crate::python::init_interpreter() {
        return vec![format!(
            "cannot start Python to check the server hooks: {e}"
        )];
    }
    Python::attach(|py| {
        let ns = staged.map(|n| n.into_bound(py));
        wanted
            .iter()
            .filter_map(|(key, text)| {
                let e = resolve(py, ns.as_ref(), key, text).err()?;
                Some(unusable_line(py, key, text, &e))
            })
            .collect()
    })
}

/// `module.attr` (or `module:attr`) imported, as Gunicorn's `validate_callable` does
/// for string values.
fn import_path<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let (module, attr) = path
        .rsplit_once(':')
        .or_else(|| path.rsplit_once('.'))
        .ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "{path:?} is neither a callable nor a dotted path to one"
            ))
        })?;
    let obj = py.import(module)?.getattr(attr)?;
    if !obj.is_callable() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{path} is not callable"
        )));
    }
    Ok(obj)
}

/// `server.cfg` / `worker.cfg`: every setting as an attribute, values as Python sees them
/// under Gunicorn (`workers` an int, `bind` a list, hooks the callables), plus the
/// derived names hooks use (`address`, `is_ssl`, `worker_class_str`, `proc_name`, `env`).
fn config_object(
    py: Python<'_>,
    s: &Settings,
    ns: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let ast = py.import("ast")?;
    let attrs = PyDict::new(py);
    let mut rendered = s.clone();
    for spec in crate::config::registry::ALL {
        let key = spec.key();
        let text = spec.render(&mut rendered);
        let from_file = ns.and_then(|n| n.get_item(key).ok().flatten());
        let value = match from_file {
            // The file's own object where the text is only its repr (hooks, dicts).
            Some(v) if v.is_callable() || v.is_instance_of::<PyDict>() => v,
            _ => match ast.call_method1("literal_eval", (text.as_str(),)) {
                Ok(v) => v,
                Err(_) => text.as_str().into_pyobject(py)?.into_any(),
            },
        };
        attrs.set_item(key, value)?;
    }
    attrs.set_item("address", attrs.get_item("bind")?)?;
    attrs.set_item("is_ssl", s.certfile.is_some() || s.keyfile.is_some())?;
    attrs.set_item("worker_class_str", s.worker_class.as_str())?;
    attrs.set_item(
        "proc_name",
        s.proc_name.as_deref().unwrap_or(&s.default_proc_name),
    )?;
    let env = PyDict::new(py);
    for (k, v) in &s.raw_env {
        env.set_item(k, v)?;
    }
    attrs.set_item("env", env)?;
    let ns_type = py.import("types")?.getattr("SimpleNamespace")?;
    Ok(ns_type.call((), Some(&attrs))?.unbind())
}

/// `server.log` / `worker.log`: Gunicorn's logger methods, routed to runicorn's error log.
#[pyclass(module = "runicorn", frozen)]
pub(crate) struct Log;

fn message(msg: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> String {
    let text = if args.is_empty() {
        msg.str().map(|s| s.to_string())
    } else {
        let args: Bound<'_, PyAny> = if args.len() == 1 {
            args.get_item(0).unwrap_or_else(|_| args.clone().into_any())
        } else {
            args.clone().into_any()
        };
        msg.rem(args).and_then(|m| m.str()).map(|s| s.to_string())
    };
    text.unwrap_or_else(|e| format!("{msg} (unformattable: {e})"))
}

#[pymethods]
impl Log {
    #[pyo3(signature = (msg, *args, **_kw))]
    fn debug(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        tracing::debug!("{}", message(msg, args));
    }
    #[pyo3(signature = (msg, *args, **_kw))]
    fn info(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        tracing::info!("{}", message(msg, args));
    }
    #[pyo3(signature = (msg, *args, **_kw))]
    fn warning(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        tracing::warn!("{}", message(msg, args));
    }
    #[pyo3(signature = (msg, *args, **_kw))]
    fn warn(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        tracing::warn!("{}", message(msg, args));
    }
    #[pyo3(signature = (msg, *args, **_kw))]
    fn error(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        tracing::error!("{}", message(msg, args));
    }
    #[pyo3(signature = (msg, *args, **_kw))]
    fn critical(
        &self,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        crate::critical!("{}", message(msg, args));
    }
    /// An error with the traceback of the exception being handled.
    #[pyo3(signature = (msg, *args, **_kw))]
    fn exception(
        &self,
        py: Python<'_>,
        msg: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        _kw: Option<&Bound<'_, PyDict>>,
    ) {
        let tb = py
            .import("traceback")
            .and_then(|t| t.call_method0("format_exc"))
            .map(|s| s.to_string())
            .unwrap_or_default();
        tracing::error!("{}\n{}", message(msg, args), tb.trim_end());
    }
}

/// The `server` argument (Gunicorn's Arbiter): `pid`, `num_workers`, `cfg`, `log`.
/// Hooks may add attributes; they persist for the master's life.
#[pyclass(module = "runicorn", dict)]
pub(crate) struct Server {
    #[pyo3(get)]
    pid: u32,
    #[pyo3(get)]
    num_workers: u32,
    #[pyo3(get)]
    cfg: Py<PyAny>,
    #[pyo3(get)]
    log: Option<Py<Log>>,
}

/// The `worker` argument: `pid` (None before fork), `ppid`, `age`, `alive`, `nr`
/// (requests started), `booted`, `aborted`, `cfg`, `log`. The same object reaches
/// pre_fork, the worker's own hooks (through fork) and child_exit.
#[pyclass(module = "runicorn", dict)]
pub(crate) struct Worker {
    #[pyo3(get)]
    pid: Option<u32>,
    #[pyo3(get)]
    ppid: u32,
    #[pyo3(get)]
    age: u64,
    #[pyo3(get, set)]
    alive: bool,
    #[pyo3(get, set)]
    booted: bool,
    #[pyo3(get, set)]
    aborted: bool,
    #[pyo3(get)]
    cfg: Py<PyAny>,
    #[pyo3(get)]
    log: Option<Py<Log>>,
}

#[pymethods]
impl Worker {
    #[getter]
    fn nr(&self) -> u64 {
        REQUESTS.load(Ordering::Relaxed)
    }
}

/// Calls hook `name` with `args` if it is installed; a raise is logged, never propagated.
fn call<'py>(
    py: Python<'py>,
    name: &str,
    args: impl FnOnce(&Active) -> Option<Bound<'py, PyTuple>>,
) {
    let prepared = {
        let guard = lock(&ACTIVE);
        guard.as_ref().and_then(|active| {
            let hook = active.hooks.get(name)?.clone_ref(py);
            Some((hook, args(active)?))
        })
    };
    let Some((hook, args)) = prepared else { return };
    if let Err(e) = hook.bind(py).call1(args) {
        tracing::error!(
            "Exception in {name} hook:\n{}",
            crate::python::format_exception(py, &e)
        );
    }
}

fn server<'py>(py: Python<'py>, a: &Active, num_workers: u32) -> Bound<'py, Server> {
    let s = a.server.bind(py);
    if let Ok(mut m) = s.try_borrow_mut() {
        m.num_workers = num_workers;
        m.pid = std::process::id();
    }
    s.clone()
}

/// A master hook taking `(server)`: on_starting, when_ready, on_reload, pre_exec, on_exit.
pub(crate) fn server_hook(name: &str, num_workers: u32) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        call(py, name, |a| {
            PyTuple::new(py, [server(py, a, num_workers).into_any()]).ok()
        })
    });
}

/// `nworkers_changed(server, new_value, old_value)`.
pub(crate) fn nworkers_changed(new: u32, old: Option<u32>) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        call(py, "nworkers_changed", |a| {
            let old = old.map_or_else(
                || py.None().into_bound(py),
                |o| {
                    o.into_pyobject(py)
                        .map(|o| o.into_any())
                        .unwrap_or_else(|_| py.None().into_bound(py))
                },
            );
            let new = new.into_pyobject(py).ok()?.into_any();
            PyTuple::new(
                py,
                [
                    server(py, a, new.extract().unwrap_or(0)).into_any(),
                    new,
                    old,
                ],
            )
            .ok()
        })
    });
}

/// In the master before forking worker number `age`: creates its `worker` object and
/// calls `pre_fork(server, worker)`.
pub(crate) fn pre_fork(age: u64, num_workers: u32) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        {
            let mut guard = lock(&ACTIVE);
            let Some(a) = guard.as_mut() else { return };
            let w = Worker {
                pid: None,
                ppid: std::process::id(),
                age,
                alive: true,
                booted: false,
                aborted: false,
                cfg: a.cfg.clone_ref(py),
                log: Py::new(py, Log).ok(),
            };
            let Ok(w) = Py::new(py, w) else { return };
            a.workers.insert(age, w);
        }
        call(py, "pre_fork", |a| {
            let w = a.workers.get(&age)?.bind(py).clone().into_any();
            PyTuple::new(py, [server(py, a, num_workers).into_any(), w]).ok()
        });
    });
}

/// In the master after fork: the worker object learns its pid.
pub(crate) fn forked_parent(age: u64, pid: u32) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        if let Some(w) = lock(&ACTIVE).as_ref().and_then(|a| a.workers.get(&age)) {
            if let Ok(mut w) = w.bind(py).try_borrow_mut() {
                w.pid = Some(pid);
            }
        }
    });
}

/// In the child right after fork: keeps only its own worker object.
pub(crate) fn forked_child(age: u64) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        {
            let mut guard = lock(&ACTIVE);
            let Some(a) = guard.as_mut() else { return };
            let me = a.workers.remove(&age);
            a.workers.clear();
            if let Some(w) = &me
                && let Ok(mut w) = w.bind(py).try_borrow_mut()
            {
                w.pid = Some(std::process::id());
            }
            a.me = me;
        }
        REQUESTS.store(0, Ordering::Relaxed);
    });
}

/// `post_fork(server, worker)` in the worker, once its environment is set.
pub(crate) fn post_fork() {
    if !any() {
        return;
    }
    Python::attach(|py| {
        call(py, "post_fork", |a| {
            let w = a.me.as_ref()?.bind(py).clone().into_any();
            let num = a.server.bind(py).try_borrow().map_or(0, |s| s.num_workers);
            PyTuple::new(py, [server(py, a, num).into_any(), w]).ok()
        });
    });
}

/// Mirrors `raw_env` into `os.environ`, which an interpreter initialised before the
/// fork read once at start-up (setenv(3) alone would not reach the app).
pub(crate) fn sync_environ(vars: &[(String, String)]) {
    if vars.is_empty() || !crate::sys::python_is_initialized() {
        return;
    }
    Python::attach(|py| {
        let set = py.import("os").and_then(|os| {
            let environ = os.getattr("environ")?;
            for (k, v) in vars {
                environ.set_item(k, v)?;
            }
            Ok(())
        });
        if let Err(e) = set {
            tracing::error!(
                "cannot set the worker's environment in Python:\n{}",
                crate::python::format_exception(py, &e)
            );
        }
    });
}

/// In the master after reaping worker `pid`: `child_exit(server, worker)`.
pub(crate) fn child_exit(pid: u32, num_workers: u32) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        let w = {
            let mut guard = lock(&ACTIVE);
            let Some(a) = guard.as_mut() else { return };
            let age = a
                .workers
                .iter()
                .find(|(_, w)| w.bind(py).try_borrow().is_ok_and(|w| w.pid == Some(pid)))
                .map(|(age, _)| *age);
            age.and_then(|age| a.workers.remove(&age))
        };
        let Some(w) = w else { return };
        if let Ok(mut m) = w.bind(py).try_borrow_mut() {
            m.alive = false;
        }
        call(py, "child_exit", |a| {
            PyTuple::new(
                py,
                [
                    server(py, a, num_workers).into_any(),
                    w.bind(py).clone().into_any(),
                ],
            )
            .ok()
        });
    });
}

/// A worker hook taking `(worker)` (post_worker_init, worker_int, worker_abort) or
/// `(server, worker)` (worker_exit), in the worker.
pub(crate) fn worker_hook(name: &str) {
    if !any() {
        return;
    }
    Python::attach(|py| {
        call(py, name, |a| {
            let w = a.me.as_ref()?.bind(py);
            match name {
                "post_worker_init" => {
                    if let Ok(mut m) = w.try_borrow_mut() {
                        m.booted = true;
                    }
                }
                "worker_abort" => {
                    if let Ok(mut m) = w.try_borrow_mut() {
                        m.aborted = true;
                    }
                }
                "worker_exit" => {
                    if let Ok(mut m) = w.try_borrow_mut() {
                        m.alive = false;
                    }
                }
                _ => {}
            }
            let w = w.clone().into_any();
            if name == "worker_exit" {
                let num = a.server.bind(py).try_borrow().map_or(0, |s| s.num_workers);
                PyTuple::new(py, [server(py, a, num).into_any(), w]).ok()
            } else {
                PyTuple::new(py, [w]).ok()
            }
        })
    });
}

/// Whether hook `name` is installed (checked by the app threads once per request).
pub(crate) fn has(name: &str) -> bool {
    lock(&ACTIVE)
        .as_ref()
        .is_some_and(|a| a.hooks.contains_key(name))
}

/// The `req` argument of pre_request/post_request, as Gunicorn's `Request`.
#[pyclass(module = "runicorn", dict)]
pub(crate) struct Request {
    #[pyo3(get)]
    method: String,
    #[pyo3(get)]
    uri: String,
    #[pyo3(get)]
    path: String,
    #[pyo3(get)]
    query: String,
    #[pyo3(get)]
    version: (u8, u8),
    #[pyo3(get)]
    scheme: &'static str,
    /// `(NAME, value)` pairs with upper-cased names, as Gunicorn's parser stores them.
    #[pyo3(get)]
    headers: Py<PyList>,
    #[pyo3(get)]
    remote_addr: Option<(String, u16)>,
}

/// The `resp` argument of post_request.
#[pyclass(module = "runicorn", dict)]
pub(crate) struct Response {
    #[pyo3(get)]
    status: Option<String>,
    #[pyo3(get)]
    status_code: Option<u16>,
    #[pyo3(get)]
    headers: Py<PyAny>,
    #[pyo3(get)]
    sent: u64,
}

#[pymethods]
impl Response {
    #[getter]
    fn response_length(&self) -> u64 {
        self.sent
    }
}

/// Builds `req` for `parts` (None when neither request hook is installed).
pub(crate) fn request_object(
    py: Python<'_>,
    parts: &http::request::Parts,
    https: bool,
) -> Option<Py<Request>> {
    if !has("pre_request") && !has("post_request") {
        return None;
    }
    let headers = PyList::empty(py);
    for (k, v) in &parts.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let _ = headers.append((k.as_str().to_ascii_uppercase(), v));
    }
    let remote_addr = parts
        .extensions
        .get::<crate::http::ConnInfo>()
        .and_then(|c| c.peer.addr())
        .map(|a| (a.ip().to_string(), a.port()));
    let version = match parts.version {
        http::Version::HTTP_10 => (1, 0),
        http::Version::HTTP_2 => (2, 0),
        _ => (1, 1),
    };
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_string());
    Py::new(
        py,
        Request {
            method: parts.method.as_str().to_string(),
            uri,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            version,
            scheme: if https { "https" } else { "http" },
            headers: headers.unbind(),
            remote_addr,
        },
    )
    .ok()
}

/// `pre_request(worker, req)` on the request's app thread.
pub(crate) fn pre_request(py: Python<'_>, req: &Py<Request>) {
    call(py, "pre_request", |a| {
        let w = a.me.as_ref()?.bind(py).clone().into_any();
        PyTuple::new(py, [w, req.bind(py).clone().into_any()]).ok()
    });
}

/// `post_request(worker, req, environ, resp)` on the request's app thread.
pub(crate) fn post_request(
    py: Python<'_>,
    req: &Py<Request>,
    environ: Option<&Bound<'_, PyAny>>,
    status: Option<String>,
    headers: Option<Py<PyAny>>,
    sent: u64,
) {
    if !has("post_request") {
        return;
    }
    let status_code = status
        .as_deref()
        .and_then(|s| s.split(' ').next())
        .and_then(|c| c.parse().ok());
    let resp = Py::new(
        py,
        Response {
            status,
            status_code,
            headers: headers.unwrap_or_else(|| PyList::empty(py).into_any().unbind()),
            sent,
        },
    );
    let Ok(resp) = resp else { return };
    let environ = environ
        .cloned()
        .unwrap_or_else(|| PyDict::new(py).into_any());
    call(py, "post_request", |a| {
        let w = a.me.as_ref()?.bind(py).clone().into_any();
        PyTuple::new(
            py,
            [
                w,
                req.bind(py).clone().into_any(),
                environ,
                resp.bind(py).clone().into_any(),
            ],
        )
        .ok()
    });
}
