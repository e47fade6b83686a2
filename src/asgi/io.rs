//! The `receive` and `send` callables an ASGI app gets for an HTTP request, and the
//! awaitables they return.
//!
//! Everything here runs on the loop thread with the GIL held. A call that can complete at
//! once (the request body is already here, the response fits in the channel) returns
//! [`Ready`], which finishes on its first step without suspending the task or touching
//! the loop; only a real wait makes an asyncio future, resolved later by the drain
//! (`Event::Poke`, `Event::Resolve`).
//!
//! Response rules: `http.response.start` is held until the first body message, so a
//! whole response goes to the edge in one hand-over; a body with `more_body` opens a
//! bounded channel (a slow reader suspends the app's `send`, never grows memory); after
//! the client left, `send` raises `ClientDisconnected` (an `OSError`, ASGI 2.4); an app
//! error before the head gives a 500, after it the connection is cut.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

use super::bridge::{Event, Link, Message};
use super::loop_ctx::Ctx;
use crate::wsgi::response::{First, Head, Out};

/// An awaitable that is already done: `await` gets its value without suspending.
#[pyclass(module = "runicorn", freelist = 64)]
pub(super) struct Ready {
    value: Option<Py<PyAny>>,
}

impl Ready {
    pub(super) fn new(value: Py<PyAny>) -> Ready {
        Ready { value: Some(value) }
    }

    /// The awaitable of `None`, shareable: it holds nothing to hand out.
    pub(super) fn none() -> Ready {
        Ready { value: None }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The value leaves as `StopIteration(value)`, which ends the `await`.
    fn __next__(&mut self) -> PyResult<Option<Py<PyAny>>> {
        match self.value.take() {
            Some(v) => Err(PyStopIteration::new_err((v,))),
            None => Ok(None),
        }
    }

    fn send(&mut self, _value: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.__next__()
    }
}

/// The `receive` callable of one HTTP request.
#[pyclass(module = "runicorn")]
pub(super) struct Receive {
    link: Arc<Link>,
}

impl Receive {
    pub(super) fn new(link: Arc<Link>) -> Receive {
        Receive { link }
    }
}

/// The message dict for `m`.
pub(super) fn message<'py>(py: Python<'py>, c: &Ctx, m: Message) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match m {
        Message::Body(b, more) => {
            d.set_item(c.k_type.bind(py), c.t_request.bind(py))?;
            d.set_item(c.k_body.bind(py), PyBytes::new(py, &b))?;
            d.set_item(c.k_more_body.bind(py), more)?;
        }
        Message::Disconnect => {
            d.set_item(c.k_type.bind(py), c.t_disconnect.bind(py))?;
        }
    }
    Ok(d)
}

#[pymethods]
impl Receive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let mut ib = self.link.inbox();
        let took_body = !ib.chunks.is_empty();
        if let Some(m) = ib.next() {
            drop(ib);
            if took_body {
                self.link.credit.notify_one();
            }
            let msg = message(py, c, m)?;
            return Ok(Py::new(py, Ready::new(msg.into_any().unbind()))?.into_any());
        }
        if ib.waiter.is_some() {
            return Err(PyRuntimeError::new_err(
                "receive() called while another receive() is still waiting",
            ));
        }
        let fut = c.create_future.bind(py).call0()?;
        ib.waiter = Some(fut.clone().unbind());
        Ok(fut.unbind())
    }
}

/// Where the response is.
enum Stage {
    /// Nothing sent yet.
    Init,
    /// `http.response.start` seen, held until the first body message.
    Started(Head, bool),
    /// The head went out with a body that goes on.
    Streaming(mpsc::Sender<Out>),
    /// The body is complete; trailer fields come next (`trailers: True` in the start).
    Trailers(mpsc::Sender<Out>, HeaderMap),
    /// The response is complete (or abandoned).
    Done,
}

/// The `send` callable of one HTTP request, and the response's state.
#[pyclass(module = "runicorn")]
pub(super) struct Send {
    link: Arc<Link>,
    head_tx: Option<oneshot::Sender<First>>,
    stage: Stage,
    /// What is left of the app's Content-Length (never more is sent).
    remaining: Option<u64>,
    /// The status sent, for the error log of an app that fails after it.
    status: u16,
    /// `http.response.start` announced trailers.
    trailers: bool,
    /// With `pre_request`/`post_request` hooks: the hooks' `req`, and what
    /// post_request reports (status line, headers, body bytes).
    hooks: Option<Hooked>,
}

/// What the `post_request` hook is told about an ASGI response.
pub(super) struct Hooked {
    req: Py<crate::pyconf::hooks::Request>,
    status: Option<String>,
    headers: Vec<(String, String)>,
    sent: u64,
    done: bool,
}

impl Send {
    pub(super) fn new(
        link: Arc<Link>,
        reply: oneshot::Sender<First>,
        req: Option<Py<crate::pyconf::hooks::Request>>,
    ) -> Send {
        Send {
            link,
            head_tx: Some(reply),
            stage: Stage::Init,
            remaining: None,
            status: 0,
            trailers: false,
            hooks: req.map(|req| Hooked {
                req,
                status: None,
                headers: Vec::new(),
                sent: 0,
                done: false,
            }),
        }
    }

    /// Runs `post_request` once, when the exchange ends.
    fn post_request(&mut self, py: Python<'_>) {
        let Some(h) = &mut self.hooks else { return };
        if std::mem::replace(&mut h.done, true) {
            return;
        }
        let headers = pyo3::types::PyList::empty(py);
        for (k, v) in &h.headers {
            let _ = headers.append((k, v));
        }
        crate::pyconf::hooks::post_request(
            py,
            &h.req,
            None,
            h.status.take(),
            Some(headers.into_any().unbind()),
            h.sent,
        );
    }

    fn gone(&self) -> bool {
        self.link.inbox().gone
    }

    /// The response is complete: a `receive()` waiting for `http.disconnect` gets it,
    /// and the edge stops reading a body nobody will take.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        self.stage = Stage::Done;
        self.post_request(py);
        let (waiter, _task) = {
            let mut ib = self.link.inbox();
            ib.finished = true;
            let task = ib.task.take();
            let waiter = if ib.waiter.is_some() {
                ib.next().and_then(|m| ib.waiter.take().map(|w| (w, m)))
            } else {
                None
            };
            (waiter, task)
        };
        self.link.credit.notify_one();
        if let Some((w, m)) = waiter {
            resolve(py, w.bind(py), m)?;
        }
        Ok(())
    }

    /// Hands the head and the first chunk to the edge.
    fn push_head(&mut self, py: Python<'_>, head: Head, body: Bytes, end: bool) -> PyResult<()> {
        let Some(reply) = self.head_tx.take() else {
            return Err(disconnected(py));
        };
        if reply.is_closed() {
            self.stage = Stage::Done;
            return Err(disconnected(py));
        }
        self.status = head.status.as_u16();
        if let Some(h) = &mut self.hooks {
            h.status = Some(format!(
                "{} {}",
                head.status.as_u16(),
                head.status.canonical_reason().unwrap_or("")
            ));
            h.headers = head
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
        }
        let (tx, rest) = if end {
            (None, None)
        } else {
            // Small: back-pressure from a slow client reaches `send` after a few chunks.
            let (tx, rx) = mpsc::channel(4);
            (Some(tx), Some(rx))
        };
        let first = First {
            head,
            body,
            end,
            rest,
            gone: false,
        };
        Ctx::get().outbox.hand_over(py, reply, first)?;
        self.stage = match tx {
            Some(tx) => Stage::Streaming(tx),
            None => Stage::Done,
        };
        Ok(())
    }

    /// Body bytes, cut to what is left of the Content-Length.
    fn clip(&mut self, mut body: Bytes) -> Bytes {
        if let Some(rem) = &mut self.remaining {
            body.truncate(usize::try_from(*rem).unwrap_or(usize::MAX));
            *rem -= body.len() as u64;
        }
        body
    }

    fn body(&mut self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let body = match msg.get_item(c.k_body.bind(py))? {
            None => Bytes::new(),
            Some(b) => match b.cast::<PyBytes>() {
                Ok(b) => Bytes::copy_from_slice(b.as_bytes()),
                Err(_) => {
                    // bytearray and memoryview are accepted by the other servers too.
                    let v: Vec<u8> = b.extract().map_err(|_| {
                        PyTypeError::new_err("http.response.body 'body' must be bytes")
                    })?;
                    Bytes::from(v)
                }
            },
        };
        let more = match msg.get_item(c.k_more_body.bind(py))? {
            None => false,
            Some(m) => m.is_truthy()?,
        };
        let body = self.clip(body);
        if let Some(h) = &mut self.hooks {
            h.sent += body.len() as u64;
        }
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Init => Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.body' sent, before \
                 'http.response.start'",
            )),
            Stage::Trailers(tx, fields) => {
                self.stage = Stage::Trailers(tx, fields);
                Err(PyRuntimeError::new_err(
                    "Unexpected ASGI message 'http.response.body' sent, after the body's \
                     end (trailers are due)",
                ))
            }
            Stage::Done => {
                if self.gone() {
                    Err(disconnected(py))
                } else {
                    Err(PyRuntimeError::new_err(
                        "Unexpected ASGI message 'http.response.body' sent, after response \
                         already completed",
                    ))
                }
            }
            Stage::Started(head, trailers) => {
                self.trailers = trailers;
                // With trailers announced the body never ends the response by itself.
                self.push_head(py, head, body, !more && !trailers)?;
                if !more {
                    match std::mem::replace(&mut self.stage, Stage::Done) {
                        Stage::Streaming(tx) if trailers => {
                            self.stage = Stage::Trailers(tx, HeaderMap::new());
                        }
                        _ => self.finish(py)?,
                    }
                }
                Ok(c.ready_none.clone_ref(py))
            }
            Stage::Streaming(tx) => {
                let out = Out::Data {
                    body,
                    end: !more && !self.trailers,
                };
                let Some(res) = hand_over(py, &tx, out)? else {
                    self.finish(py)?;
                    return Err(disconnected(py));
                };
                if more {
                    self.stage = Stage::Streaming(tx);
                } else if self.trailers {
                    self.stage = Stage::Trailers(tx, HeaderMap::new());
                } else {
                    self.finish(py)?;
                }
                Ok(res)
            }
        }
    }

    fn start(&mut self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        if !matches!(self.stage, Stage::Init) {
            return Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.start' sent, after response already \
                 started",
            ));
        }
        let status: u16 = msg
            .get_item(c.k_status.bind(py))?
            .ok_or_else(|| PyValueError::new_err("http.response.start needs a 'status'"))?
            .extract()
            .map_err(|_| PyTypeError::new_err("http.response.start 'status' must be an int"))?;
        // RFC 9110 §15: a status is three digits, 100-599; hyper would send 600-999 as
        // given. Informational ones (1xx) are not a final answer.
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| (200..600).contains(&s.as_u16()))
            .ok_or_else(|| PyValueError::new_err(format!("Invalid status code {status}")))?;
        let mut headers = HeaderMap::new();
        if let Some(hs) = msg.get_item(c.k_headers.bind(py))? {
            for item in hs.try_iter()? {
                let (name, value) = with_pair(&item?, |n, v| {
                    let name = HeaderName::from_bytes(n).map_err(|_| {
                        PyValueError::new_err(format!(
                            "Invalid header name {:?}",
                            String::from_utf8_lossy(n)
                        ))
                    })?;
                    // Whitespace at either end is dropped: HTTP/2 forbids it (RFC 9113
                    // §8.2.1), and it is never part of a field's value (RFC 9110 §5.5).
                    let value = HeaderValue::from_bytes(v.trim_ascii()).map_err(|_| {
                        PyValueError::new_err(format!(
                            "Invalid header value {:?}",
                            String::from_utf8_lossy(v)
                        ))
                    })?;
                    Ok((name, value))
                })?;
                if crate::wsgi::response::is_hop_by_hop(&name) {
                    continue;
                }
                if name == CONTENT_LENGTH {
                    // Copied to the wire as given: one a client cannot read is the app's
                    // error (a 500), as under the WSGI host.
                    let n = crate::http::content_length_value(value.as_bytes());
                    self.remaining = Some(n.ok_or_else(|| {
                        PyValueError::new_err(format!("Invalid Content-Length {value:?}"))
                    })?);
                }
                headers.append(name, value);
            }
        }
        let trailers = match msg.get_item(pyo3::intern!(py, "trailers"))? {
            Some(t) => t.is_truthy()?,
            None => false,
        };
        self.stage = Stage::Started(
            Head {
                status,
                reason: None,
                headers,
            },
            trailers,
        );
        Ok(c.ready_none.clone_ref(py))
    }

    /// `http.response.pathsend`: the edge sends the file (read in tokio's blocking pool,
    /// never through Python).
    fn pathsend(&mut self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let Stage::Started(head, _) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.pathsend' sent, outside a started \
                 response",
            ));
        };
        let path: std::path::PathBuf = msg
            .get_item(pyo3::intern!(py, "path"))?
            .ok_or_else(|| PyValueError::new_err("http.response.pathsend needs a 'path'"))?
            .extract()?;
        let file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let len = self.remaining.map_or(len, |r| r.min(len));
        self.push_head(py, head, Bytes::new(), len == 0)?;
        if let Stage::Streaming(tx) = std::mem::replace(&mut self.stage, Stage::Done) {
            let out = Out::File {
                file,
                offset: 0,
                len,
            };
            if tx.try_send(out).is_err() {
                self.finish(py)?;
                return Err(disconnected(py));
            }
        }
        self.finish(py)?;
        Ok(c.ready_none.clone_ref(py))
    }
}

impl Send {
    /// `http.response.trailers`: fields gathered until `more_trailers` is false, then
    /// sent after the body.
    fn trailer_fields(&mut self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let Stage::Trailers(tx, mut fields) = std::mem::replace(&mut self.stage, Stage::Done)
        else {
            return Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.trailers': the start did not announce \
                 trailers, or the body is not complete",
            ));
        };
        if let Some(hs) = msg.get_item(c.k_headers.bind(py))? {
            for item in hs.try_iter()? {
                let (n, v) = pair(&item?)?;
                let name = HeaderName::from_bytes(&n)
                    .map_err(|_| PyValueError::new_err("Invalid trailer name"))?;
                let value = HeaderValue::from_bytes(v.trim_ascii())
                    .map_err(|_| PyValueError::new_err("Invalid trailer value"))?;
                fields.append(name, value);
            }
        }
        let more = match msg.get_item(pyo3::intern!(py, "more_trailers"))? {
            Some(m) => m.is_truthy()?,
            None => false,
        };
        if more {
            self.stage = Stage::Trailers(tx, fields);
            return Ok(c.ready_none.clone_ref(py));
        }
        let handed = hand_over(py, &tx, Out::Trailers(fields))?;
        self.finish(py)?;
        handed.ok_or_else(|| disconnected(py))
    }
}

/// `f` of a header pair's name and value. The common shape (Starlette's and FastAPI's
/// raw headers, most raw apps) is a 2-tuple of bytes, read in place with no iterator
/// and no copies; anything else goes through [`pair`].
fn with_pair<R>(
    item: &Bound<'_, PyAny>,
    f: impl FnOnce(&[u8], &[u8]) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(t) = item.cast::<PyTuple>()
        && t.len() == 2
    {
        let (n, v) = (t.get_item(0)?, t.get_item(1)?);
        if let (Ok(n), Ok(v)) = (n.cast::<PyBytes>(), v.cast::<PyBytes>()) {
            return f(n.as_bytes(), v.as_bytes());
        }
    }
    let (n, v) = pair(item)?;
    f(&n, &v)
}

/// A header pair: two bytes-like items.
fn pair(item: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Vec<u8>)> {
    let bad = || PyTypeError::new_err("response headers must be [name, value] byte pairs");
    let mut it = item.try_iter().map_err(|_| bad())?;
    let n = it.next().ok_or_else(bad)??;
    let v = it.next().ok_or_else(bad)??;
    if it.next().is_some() {
        return Err(bad());
    }
    let bytes = |o: &Bound<'_, PyAny>| -> PyResult<Vec<u8>> {
        match o.cast::<PyBytes>() {
            Ok(b) => Ok(b.as_bytes().to_vec()),
            Err(_) if o.is_instance_of::<PyString>() => Err(bad()),
            Err(_) => o.extract().map_err(|_| bad()),
        }
    };
    Ok((bytes(&n)?, bytes(&v)?))
}

#[pymethods]
impl Send {
    fn __call__(&mut self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let msg = msg
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("an ASGI message must be a dict"))?;
        let ty = msg
            .get_item(c.k_type.bind(py))?
            .ok_or_else(|| PyValueError::new_err("an ASGI message needs a 'type'"))?;
        let ty = ty.cast::<PyString>()?;
        match ty.to_str()? {
            "http.response.body" => self.body(py, msg),
            "http.response.start" => self.start(py, msg),
            "http.response.pathsend" => self.pathsend(py, msg),
            "http.response.trailers" => self.trailer_fields(py, msg),
            other => Err(PyRuntimeError::new_err(format!(
                "Unexpected ASGI message {other:?} sent for an HTTP request"
            ))),
        }
    }

    /// The app returned (called by the runner coroutine).
    fn _returned(&mut self, py: Python<'_>) -> PyResult<()> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Done => {}
            // An app that stops because its client left (it read `http.disconnect`, or
            // its send failed) did nothing wrong: uvicorn and Gunicorn log nothing then,
            // and an ERROR line per departed client would fill error counters and alerts.
            Stage::Init | Stage::Started(..) => {
                let closed = self.head_tx.as_ref().is_some_and(|t| t.is_closed());
                if closed || self.link.inbox().gone {
                    tracing::debug!("ASGI callable returned without a response: the client left");
                } else {
                    tracing::error!("ASGI callable returned without starting response.");
                }
                self.error_response();
            }
            Stage::Streaming(tx) | Stage::Trailers(tx, _) => {
                if tx.is_closed() || self.link.inbox().gone {
                    tracing::debug!(
                        "ASGI application returned before the end of its response: the client left"
                    );
                } else {
                    tracing::error!(
                        "ASGI application returned without completing the response; closing the connection"
                    );
                }
                let _ = tx.try_send(Out::Abort);
            }
        }
        self.finish(py)
    }

    /// The app raised `exc` (called by the runner coroutine).
    fn _failed(&mut self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        report(py, exc, "ASGI")?;
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Init | Stage::Started(..) => self.error_response(),
            // After the head: an error makes the edge cut the connection mid-body.
            Stage::Streaming(tx) | Stage::Trailers(tx, _) => {
                let _ = tx.try_send(Out::Abort);
            }
            Stage::Done => {}
        }
        self.finish(py)
    }
}

impl Send {
    fn error_response(&mut self) {
        if let Some(reply) = self.head_tx.take() {
            let (head, body) = crate::wsgi::response::error_500();
            if let Some(h) = &mut self.hooks {
                h.status = Some("500 Internal Server Error".into());
                h.sent = body.len() as u64;
            }
            let _ = reply.send(First {
                head,
                body,
                end: true,
                rest: None,
                gone: false,
            });
        }
    }
}

/// `ClientDisconnected`: the client left; `send` has nowhere to go.
pub(super) fn disconnected(py: Python<'_>) -> PyErr {
    match Ctx::get().client_disconnected.bind(py).call0() {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// Hands `out` to the edge through `tx`: the shared ready awaitable when there is room;
/// when the client reads slower than the app writes, a future the edge resolves once it
/// took `out` (the loop runs the other tasks meanwhile); `None` once the edge is gone.
pub(super) fn hand_over<T: std::marker::Send + 'static>(
    py: Python<'_>,
    tx: &mpsc::Sender<T>,
    out: T,
) -> PyResult<Option<Py<PyAny>>> {
    let c = Ctx::get();
    match tx.try_send(out) {
        Ok(()) => Ok(Some(c.ready_none.clone_ref(py))),
        Err(mpsc::error::TrySendError::Closed(_)) => Ok(None),
        Err(mpsc::error::TrySendError::Full(out)) => {
            let fut = c.create_future.bind(py).call0()?;
            let waiting = fut.clone().unbind();
            let (tx, bridge) = (tx.clone(), c.bridge.clone());
            c.edge.spawn(async move {
                let ok = tx.send(out).await.is_ok();
                bridge.post(Event::Resolve(waiting, ok));
            });
            Ok(Some(fut.unbind()))
        }
    }
}

/// Logs an app's exception as Gunicorn 27's ASGI worker does (`what`: "ASGI" or
/// "WebSocket ASGI"); a departed client or a cancelled task is no error.
pub(super) fn report(py: Python<'_>, exc: &Bound<'_, PyAny>, what: &str) -> PyResult<()> {
    let c = Ctx::get();
    let quiet = exc.is_instance(c.client_disconnected.bind(py))?
        || exc.is_instance(c.cancelled.bind(py))?;
    let err = PyErr::from_value(exc.clone());
    if quiet {
        tracing::debug!("{what} task ended: {err}");
    } else {
        tracing::error!(
            "Error in {what} application\n{}",
            crate::python::format_exception(py, &err)
        );
    }
    Ok(())
}

/// Resolves a waiting `receive()` future with `m` (unless the task gave up on it).
pub(super) fn resolve(py: Python<'_>, fut: &Bound<'_, PyAny>, m: Message) -> PyResult<()> {
    if fut.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    let msg = message(py, Ctx::get(), m)?;
    fut.call_method1(pyo3::intern!(py, "set_result"), (msg,))?;
    Ok(())
}
