//! The response half of PEP 3333: `start_response` (with `exc_info`), the `write()`
//! callable, iterating the app's result, `wsgi.file_wrapper`, and the hand-over of the
//! status, headers and body chunks from the Python thread to the tokio side.
//!
//! Rules (Gunicorn's `http/wsgi.py Response`): headers go out with the first non-empty
//! chunk (or at the end), never more than the app's `Content-Length` is sent, hop-by-hop
//! headers plus `Server` and `Date` from the app are dropped, an invalid status or header
//! is an app error (500 before headers), an error after the headers closes the connection,
//! and the result's `close()` is always called.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use hyper::body::{Frame, SizeHint};
use pyo3::exceptions::{PyAssertionError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use tokio::sync::{mpsc, oneshot};

/// Status line and headers, validated and filtered.
pub struct Head {
    pub status: StatusCode,
    /// The app's reason phrase when it differs from the standard one.
    pub reason: Option<hyper::ext::ReasonPhrase>,
    pub headers: HeaderMap,
}

/// The start of a response: status, headers and the first chunk (`end` when that is the
/// whole body). It goes through a oneshot made per request, which costs far less than a
/// channel; only a body that does not end with it gets a channel for the rest, made by
/// the app thread and sent along as `rest`.
pub struct First {
    pub head: Head,
    pub body: Bytes,
    pub end: bool,
    pub rest: Option<mpsc::Receiver<Out>>,
    /// The client left before the app started the request: the 499 is for the access log
    /// and metrics, and nothing goes to the client (see [`crate::server::ClientGone`]).
    pub gone: bool,
}

/// Where an app thread sends a request's response.
pub(crate) type Reply = oneshot::Sender<First>;

/// Response heads on their way to the edge, handed over in batches: a oneshot send per
/// response wakes the edge's thread per response (an eventfd write each: tokio's
/// runtime does not know whether its thread sleeps), and on a loaded core each wake-up
/// can preempt the Python thread, so thread and edge ping-pong once per request. A thread
/// that runs many requests in turns (the ASGI loop, the gevent hub) queues the heads one
/// turn of its loop makes, and the first of them schedules the flush (`schedule(flush)`:
/// `loop.call_soon`, `hub.loop.run_callback`) for when that turn ends. WSGI app threads
/// have no turns (the next request may run for a minute): their heads go at once, but one
/// made before the edge took the previous batch rides with it, without a wake-up of its
/// own (a hello under load: 0.03 eventfd writes per request instead of 0.7–1).
pub(crate) struct Outbox {
    items: std::sync::Mutex<Vec<(Reply, First)>>,
    ready: tokio::sync::Notify,
    schedule: std::sync::OnceLock<Py<PyAny>>,
    flush: std::sync::OnceLock<Py<PyAny>>,
}

/// Heads that go to the edge without waiting for the end of the turn. When many requests
/// finish in one turn (200 clients whose `asyncio.sleep(0.1)` ends in the same iteration,
/// a gevent hub that took 70 queued requests at once), holding every head until the turn
/// ends would make the first response wait for the last one's app work (200 × ~50 µs of
/// FastAPI: 10 ms); a hello burst of 64 keep-alive clients still goes in two wake-ups.
const FLUSH_AT: usize = 32;

impl Outbox {
    pub(crate) fn new() -> std::sync::Arc<Outbox> {
        std::sync::Arc::new(Outbox {
            items: std::sync::Mutex::new(Vec::with_capacity(64)),
            ready: tokio::sync::Notify::new(),
            schedule: std::sync::OnceLock::new(),
            flush: std::sync::OnceLock::new(),
        })
    }

    /// How the Python thread runs `flush` once its current turn ends: `schedule(flush)`.
    /// Until this is set every head is handed over at once.
    pub(crate) fn attach(&self, schedule: Py<PyAny>, flush: Py<PyAny>) {
        let _ = self.schedule.set(schedule);
        let _ = self.flush.set(flush);
    }

    /// Queues a head (Python thread); the first of a batch schedules the flush, and a
    /// batch that reaches [`FLUSH_AT`] goes at once.
    pub(crate) fn hand_over(&self, py: Python<'_>, reply: Reply, first: First) -> PyResult<()> {
        let (was_empty, full) = {
            let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
            let e = items.is_empty();
            items.push((reply, first));
            (e, items.len() >= FLUSH_AT)
        };
        if full {
            // The scheduled flush still runs; it finds what came after this one.
            self.ready.notify_one();
            return Ok(());
        }
        if was_empty {
            match (self.schedule.get(), self.flush.get()) {
                (Some(schedule), Some(flush)) => {
                    if let Err(e) = schedule.bind(py).call1((flush.bind(py),)) {
                        // Never strand a head: without its flush it goes now.
                        self.ready.notify_one();
                        return Err(e);
                    }
                }
                _ => self.ready.notify_one(),
            }
        }
        Ok(())
    }

    /// The end of a turn: wake the edge for what it queued (nothing when
    /// [`Outbox::deliver_now`] already handed it over: that wake-up would find nothing).
    pub(crate) fn flush(&self) {
        if !self.is_empty() {
            self.ready.notify_one();
        }
    }

    /// The Python thread ran out of requests it can start now: wake the edge for the
    /// heads queued so far and give it the core (`sched_yield`) before the thread goes on
    /// with what the hub has left in this turn. On a core the edge shares, its thread is
    /// `SCHED_BATCH` and would otherwise write them only once the whole turn ends; when
    /// 18 sleeps end in the same millisecond tick of gevent's timers, the first response
    /// then waited for the other 17 to finish, and their clients' next requests came
    /// back together, so the clump kept its size (the 100 ms view: 18 requests starting
    /// their sleep in the same millisecond, against Gunicorn's 3–5, as
    /// `benches/gevent_clump.py` measures). On a core of its own the yield returns at once.
    pub(crate) fn deliver_now(&self) {
        if !self.is_empty() {
            self.ready.notify_one();
            std::thread::yield_now();
        }
    }

    fn is_empty(&self) -> bool {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The edge's side: delivers each batch the Python thread flushed, in the edge's own
    /// thread (one wake-up per batch).
    pub(crate) async fn deliver(self: std::sync::Arc<Self>) {
        let mut batch = Vec::with_capacity(64);
        loop {
            self.ready.notified().await;
            std::mem::swap(
                &mut *self.items.lock().unwrap_or_else(|p| p.into_inner()),
                &mut batch,
            );
            for (reply, first) in batch.drain(..) {
                let _ = reply.send(first);
            }
        }
    }
}

thread_local! {
    /// Set on a thread whose requests hand their heads to an [`Outbox`] (WSGI app threads
    /// and the gevent hub); elsewhere each head goes through its oneshot at once.
    static BATCHED: std::cell::RefCell<Option<std::sync::Arc<Outbox>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes the calling thread's responses go through `outbox` (see [`BATCHED`]).
pub(crate) fn batch_heads_on_this_thread(outbox: std::sync::Arc<Outbox>) {
    BATCHED.with(|b| *b.borrow_mut() = Some(outbox));
}

/// What the Python thread sends to the connection after the head.
pub enum Out {
    /// A further chunk; `end` on the last one.
    Data { body: Bytes, end: bool },
    /// The rest of the body is `len` bytes of this file from `offset` (`wsgi.file_wrapper`
    /// over a real file): the edge reads it, so the app thread is free at once.
    File {
        file: std::fs::File,
        offset: u64,
        len: u64,
    },
    /// Trailer fields, after the last chunk: they end the body (ASGI's
    /// `http.response.trailers`; sent on HTTP/2, and on HTTP/1.1 when the request said
    /// `TE: trailers`).
    Trailers(HeaderMap),
    /// The app failed after the headers went out: the connection must be closed.
    Abort,
}

/// Headers an app may not set (Gunicorn's `util.hop_headers` plus Server and Date, which
/// the server owns).
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailers"
            | "transfer-encoding"
            | "upgrade"
            | "server"
            | "date"
    )
}

/// Parses `3DIGIT[ reason]`.
fn parse_status(status: &str) -> Result<(StatusCode, Option<hyper::ext::ReasonPhrase>), String> {
    let bad = || format!("Invalid status: {status:?}");
    let (code, reason) = match status.split_once(' ') {
        Some((c, r)) => (c, Some(r)),
        None => (status, None),
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code = StatusCode::from_bytes(code.as_bytes()).map_err(|_| bad())?;
    let reason = match reason {
        Some(r) if Some(r) != code.canonical_reason() && !r.is_empty() => Some(
            hyper::ext::ReasonPhrase::try_from(latin1(r).ok_or_else(bad)?).map_err(|_| bad())?,
        ),
        _ => None,
    };
    Ok((code, reason))
}

/// A native string's bytes (WSGI strings are latin-1).
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Builds the head from `start_response`'s arguments; also returns the Content-Length.
fn parse_head(
    status: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
) -> PyResult<(Head, Option<u64>)> {
    let status: &Bound<'_, PyString> = status
        .cast()
        .map_err(|_| PyTypeError::new_err("status must be a str"))?;
    let (status, reason) = parse_status(&status.to_cow()?).map_err(PyValueError::new_err)?;
    let mut map = HeaderMap::new();
    let mut length = None;
    for item in headers.try_iter()? {
        let item = item?;
        let pair: &Bound<'_, PyTuple> = item
            .cast()
            .map_err(|_| PyTypeError::new_err("headers must be (name, value) tuples"))?;
        if pair.len() != 2 {
            return Err(PyTypeError::new_err("headers must be (name, value) tuples"));
        }
        // Borrowed, not copied into Strings: a str's UTF-8 is cached in the object (and
        // is its own data when ASCII). Anything but two str gets extract's own error.
        let (n, v) = (pair.get_borrowed_item(0)?, pair.get_borrowed_item(1)?);
        let owned: (String, String);
        let (ns, vs) = (n.cast::<PyString>(), v.cast::<PyString>());
        let (name, value) = match (&ns, &vs) {
            (Ok(n), Ok(v)) => (n.to_str()?, v.to_str()?),
            _ => {
                owned = pair.extract()?;
                (owned.0.as_str(), owned.1.as_str())
            }
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PyValueError::new_err(format!("Invalid header name {name:?}")))?;
        // Whitespace at either end is dropped, as Gunicorn's `str(value).strip()` drops
        // it: HTTP/2 forbids it (RFC 9113 §8.2.1; strict clients reset the stream), and
        // Django's Set-Cookie values begin with a space.
        let value = value.trim();
        let invalid = || PyValueError::new_err(format!("Invalid header value {value:?}"));
        let value = if value.is_ascii() {
            HeaderValue::from_str(value).map_err(|_| invalid())?
        } else {
            latin1(value)
                .and_then(|v| HeaderValue::from_bytes(&v).ok())
                .ok_or_else(invalid)?
        };
        if is_hop_by_hop(&name) {
            continue;
        }
        if name == CONTENT_LENGTH {
            let n = crate::http::content_length_value(value.as_bytes());
            length = Some(n.ok_or_else(|| {
                PyValueError::new_err(format!("Invalid Content-Length {value:?}"))
            })?);
        }
        map.append(name, value);
    }
    Ok((
        Head {
            status,
            reason,
            headers: map,
        },
        length,
    ))
}

/// The `start_response` callable of one request; also the state of the response it
/// starts, shared with `write()` and the result iteration.
#[pyclass(module = "runicorn")]
pub struct StartResponse {
    /// start_response has been called (and its head is in `pending` or sent).
    started: bool,
    pending: Option<Head>,
    sent: bool,
    ended: bool,
    /// The client went away: stop producing.
    gone: bool,
    /// What is left of the app's Content-Length.
    remaining: Option<u64>,
    /// Where the head goes, until it has gone.
    head_tx: Option<Reply>,
    /// The rest of a body that did not end with the head.
    tx: Option<mpsc::Sender<Out>>,
    /// For the post_request hook: the status and headers the app gave, body bytes sent,
    /// and whether a 500 replaced the app's response.
    status_text: Option<Py<PyString>>,
    headers_given: Option<Py<PyAny>>,
    body_sent: u64,
    errored: bool,
}

impl StartResponse {
    pub fn new(reply: Reply) -> StartResponse {
        StartResponse {
            started: false,
            pending: None,
            sent: false,
            ended: false,
            gone: false,
            remaining: None,
            head_tx: Some(reply),
            tx: None,
            status_text: None,
            headers_given: None,
            body_sent: 0,
            errored: false,
        }
    }

    /// What the post_request hook reports: status line, headers, body bytes sent.
    pub fn outcome(&self, py: Python<'_>) -> (Option<String>, Option<Py<PyAny>>, u64) {
        if self.errored {
            return (
                Some("500 Internal Server Error".into()),
                None,
                self.body_sent,
            );
        }
        (
            self.status_text.as_ref().map(|s| s.bind(py).to_string()),
            self.headers_given.as_ref().map(|h| h.clone_ref(py)),
            self.body_sent,
        )
    }

    pub fn headers_sent(&self) -> bool {
        self.sent
    }

    /// Hands a chunk over; `Ok(false)` once the client is gone.
    pub fn send(&mut self, py: Python<'_>, mut data: Bytes, mut end: bool) -> PyResult<bool> {
        if self.gone {
            return Ok(false);
        }
        if self.ended {
            // The body is complete (its declared length was reached): what follows is
            // dropped, and the app's iterable still runs to its end, as under Gunicorn.
            return Ok(true);
        }
        if let Some(rem) = &mut self.remaining {
            // Never more than the declared Content-Length.
            data.truncate(usize::try_from(*rem).unwrap_or(usize::MAX));
            *rem -= data.len() as u64;
            // The declared length is all there is: the body ends with this chunk, so a
            // framework's one-chunk response (Flask, Django) goes with its head in one
            // hand-over, with no channel for a rest that never comes.
            end |= *rem == 0;
        }
        self.body_sent += data.len() as u64;
        if data.is_empty() && !end {
            return Ok(true);
        }
        if self.sent {
            self.ended = end;
            return Ok(self.push(py, Out::Data { body: data, end }));
        }
        let head = self.pending.take().ok_or_else(|| {
            PyAssertionError::new_err(
                "the response body started before start_response() was called",
            )
        })?;
        self.sent = true;
        self.ended = end;
        Ok(self.push_head(py, head, data, end))
    }

    /// Hands the rest of the body over as a file region (after the head, if not sent).
    pub fn send_file(
        &mut self,
        py: Python<'_>,
        file: std::fs::File,
        offset: u64,
        mut len: u64,
    ) -> PyResult<()> {
        if self.ended || self.gone {
            return Ok(());
        }
        if let Some(rem) = &mut self.remaining {
            len = len.min(*rem);
            *rem -= len;
        }
        self.body_sent += len;
        if !self.sent {
            let head = self.pending.take().ok_or_else(|| {
                PyAssertionError::new_err(
                    "the response body started before start_response() was called",
                )
            })?;
            self.sent = true;
            if !self.push_head(py, head, Bytes::new(), len == 0) || len == 0 {
                self.ended = true;
                return Ok(());
            }
        }
        self.ended = true;
        self.push(py, Out::File { file, offset, len });
        Ok(())
    }

    /// Hands the head over (never blocks); a body that goes on gets its channel here.
    fn push_head(&mut self, py: Python<'_>, head: Head, body: Bytes, end: bool) -> bool {
        let Some(reply) = self.head_tx.take() else {
            return false;
        };
        let rest = (!end).then(|| {
            // Small: back-pressure from a slow client reaches the app thread after a few
            // chunks.
            let (tx, rx) = mpsc::channel(4);
            self.tx = Some(tx);
            rx
        });
        let first = First {
            head,
            body,
            end,
            rest,
            gone: false,
        };
        let outbox = BATCHED.with(|b| b.borrow().clone());
        let ok = match outbox {
            // A client that left is seen later, when the body's channel is closed.
            Some(outbox) => match outbox.hand_over(py, reply, first) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(
                        "cannot schedule the hand-over of responses: {}",
                        crate::python::format_exception(py, &e)
                    );
                    true
                }
            },
            None => reply.send(first).is_ok(),
        };
        self.gone |= !ok;
        ok
    }

    /// Sends a message after the head, without holding the GIL when the channel is full
    /// (back-pressure from a slow client must not stall the other app threads, nor, in a
    /// gevent worker, the other greenlets).
    fn push(&mut self, py: Python<'_>, msg: Out) -> bool {
        let Some(tx) = &self.tx else {
            self.gone = true;
            return false;
        };
        let ok = match tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            // A gevent worker parks only this greenlet; app threads wait without the GIL.
            Err(mpsc::error::TrySendError::Full(msg)) => {
                match super::green::send_when_room(py, tx, msg) {
                    Ok(sent) => sent,
                    Err(msg) => py.detach(|| tx.blocking_send(msg).is_ok()),
                }
            }
        };
        self.gone |= !ok;
        ok
    }

    /// The app failed: a 500 if nothing was sent yet, else abort the connection.
    pub fn fail(&mut self, py: Python<'_>) {
        if self.ended || self.gone {
            return;
        }
        self.ended = true;
        self.errored |= !self.sent;
        if self.sent {
            self.push(py, Out::Abort);
        } else {
            let (head, body) = error_500();
            self.push_head(py, head, body, true);
        }
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info=None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let this = slf.try_borrow()?;
            match exc_info {
                // PEP 3333: too late to change the status, re-raise the app's error.
                Some(ei) if this.sent => {
                    let value = ei.get_item(1)?;
                    let value = value.call_method1("with_traceback", (ei.get_item(2)?,))?;
                    return Err(PyErr::from_value(value));
                }
                Some(_) => {}
                None if this.started => {
                    return Err(PyAssertionError::new_err(
                        "start_response() called a second time without exc_info",
                    ));
                }
                None => {}
            }
        }
        let (head, length) = parse_head(status, headers)?;
        let mut this = slf.try_borrow_mut()?;
        // Kept as the object: only the post_request hook turns it into a String.
        this.status_text = status.cast::<PyString>().ok().map(|s| s.clone().unbind());
        this.headers_given = Some(headers.clone().unbind());
        this.started = true;
        this.pending = Some(head);
        this.remaining = length;
        drop(this);
        slf.getattr(pyo3::intern!(slf.py(), "write"))
    }

    /// The legacy `write()` callable: sends at once.
    fn write(&mut self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.started {
            return Err(PyAssertionError::new_err("write() before start_response()"));
        }
        let data = chunk(data)?;
        if self.send(py, data, false)? || self.ended {
            Ok(())
        } else {
            Err(PyOSError::new_err("client disconnected"))
        }
    }
}

/// A body chunk: must be bytes (PEP 3333).
fn chunk(item: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    match item.cast::<PyBytes>() {
        Ok(b) => Ok(Bytes::copy_from_slice(b.as_bytes())),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{} is not a byte",
            item.repr()?
        ))),
    }
}

/// Iterates the app's result into the response; the caller calls `close()`. With
/// `files` (the `sendfile` setting), a `wsgi.file_wrapper` over a real file is handed to
/// the edge whole instead of being read through Python.
pub(super) fn stream(
    py: Python<'_>,
    sr: &Bound<'_, StartResponse>,
    result: &Bound<'_, PyAny>,
    files: bool,
) -> PyResult<()> {
    if files
        && let Ok(fw) = result.cast::<FileWrapper>()
        && let Some((file, offset, len)) = fw.try_borrow().ok().and_then(|w| w.as_file(py))
    {
        return sr.try_borrow_mut()?.send_file(py, file, offset, len);
    }
    // Lists and tuples (most frameworks return a one-item list) are sent with the head in
    // one hand-over, so hyper can set Content-Length and the connection is woken once.
    let known = result
        .cast::<PyList>()
        .ok()
        .map(|l| l.as_sequence().clone())
        .or_else(|| {
            result
                .cast::<PyTuple>()
                .ok()
                .map(|t| t.as_sequence().clone())
        });
    if let Some(seq) = known {
        let n = seq.len()?;
        for i in 0..n {
            let data = chunk(&seq.get_item(i)?)?;
            if !sr.try_borrow_mut()?.send(py, data, i + 1 == n)? {
                return Ok(());
            }
        }
        if n > 0 {
            return Ok(());
        }
    } else {
        for item in result.try_iter()? {
            let data = chunk(&item?)?;
            if !sr.try_borrow_mut()?.send(py, data, false)? {
                return Ok(());
            }
        }
    }
    sr.try_borrow_mut()?.send(py, Bytes::new(), true).map(drop)
}

/// Gunicorn's 500 (`util.write_error`).
pub(crate) fn error_500() -> (Head, Bytes) {
    let reason = "Internal Server Error";
    let body = format!(
        "<html>\n  <head>\n    <title>{reason}</title>\n  </head>\n  <body>\n    <h1><p>{reason}</p></h1>\n    \n  </body>\n</html>\n"
    );
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    (
        Head {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: None,
            headers,
        },
        Bytes::from(body),
    )
}

/// `wsgi.file_wrapper`: iterates a file-like object in blocks and closes it with the
/// response.
#[pyclass(module = "runicorn")]
pub struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

impl FileWrapper {
    /// The wrapped object as a regular file: an independent handle (reopened through
    /// /proc/self/fd, so no raw descriptor is borrowed), the Python object's current
    /// position, and the bytes left. None for anything else (sockets, BytesIO...).
    fn as_file(&self, py: Python<'_>) -> Option<(std::fs::File, u64, u64)> {
        let f = self.filelike.bind(py);
        let fd: i32 = f
            .call_method0(pyo3::intern!(py, "fileno"))
            .ok()?
            .extract()
            .ok()?;
        let offset: u64 = f
            .call_method0(pyo3::intern!(py, "tell"))
            .ok()?
            .extract()
            .ok()?;
        let file = std::fs::File::open(format!("/proc/self/fd/{fd}")).ok()?;
        let meta = file.metadata().ok().filter(|m| m.is_file())?;
        Some((file, offset, meta.len().saturating_sub(offset)))
    }
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=65536))]
    fn new(filelike: Py<PyAny>, blksize: i64) -> FileWrapper {
        FileWrapper {
            filelike,
            blksize: usize::try_from(blksize)
                .ok()
                .filter(|&b| b > 0)
                .unwrap_or(65536),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1(pyo3::intern!(py, "read"), (self.blksize,))?;
        Ok(if data.is_truthy()? { Some(data) } else { None })
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let f = self.filelike.bind(py);
        if f.hasattr(pyo3::intern!(py, "close"))? {
            f.call_method0(pyo3::intern!(py, "close"))?;
        }
        Ok(())
    }
}

/// The response body on the tokio side: the first chunk, then whatever the Python
/// thread sends, until a chunk marked `end`.
pub(crate) struct ResponseBody {
    first: Option<Bytes>,
    /// The rest of the body (None when the first chunk ends it).
    rx: Option<mpsc::Receiver<Out>>,
    end: bool,
    file: Option<FileTail>,
    /// Dropped with the body: how another app host learns that the response ended or
    /// the connection went away (the ASGI host's disconnect notice).
    keep: Option<Box<dyn Send + Sync>>,
}

/// A file region being sent: reads run on tokio's blocking pool (a disk read must not
/// stall the connections sharing this thread).
struct FileTail {
    file: std::sync::Arc<std::fs::File>,
    offset: u64,
    left: u64,
    reading: Option<tokio::task::JoinHandle<std::io::Result<Bytes>>>,
}

/// Bytes per file read.
const FILE_CHUNK: u64 = 256 * 1024;

impl FileTail {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let reading = self.reading.get_or_insert_with(|| {
            let (file, offset, n) = (
                self.file.clone(),
                self.offset,
                self.left.min(FILE_CHUNK) as usize,
            );
            tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; n];
                let got = file.read_at(&mut buf, offset)?;
                buf.truncate(got);
                Ok(Bytes::from(buf))
            })
        });
        let read = std::task::ready!(Pin::new(reading).poll(cx));
        self.reading = None;
        match read.map_err(std::io::Error::other).and_then(|r| r) {
            // The file shrank under us: the promised length cannot be kept.
            Ok(b) if b.is_empty() => Poll::Ready(Some(Err(std::io::Error::other(
                "file truncated while being sent",
            )))),
            Ok(b) => {
                self.offset += b.len() as u64;
                self.left -= b.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl ResponseBody {
    fn new(first: Bytes, rx: Option<mpsc::Receiver<Out>>, end: bool) -> ResponseBody {
        ResponseBody {
            first: Some(first).filter(|b| !b.is_empty()),
            rx,
            end,
            file: None,
            keep: None,
        }
    }

    /// Keeps `guard` alive as long as the body: its drop marks the end of the exchange.
    pub(crate) fn keep(mut self, guard: Box<dyn Send + Sync>) -> ResponseBody {
        self.keep = Some(guard);
        self
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(tail) = &mut self.file {
            return tail.poll_next(cx);
        }
        loop {
            if self.end {
                return Poll::Ready(None);
            }
            let next = match &mut self.rx {
                Some(rx) => std::task::ready!(rx.poll_recv(cx)),
                None => None,
            };
            match next {
                Some(Out::Data { body, end }) => {
                    self.end = end;
                    if !body.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(body))));
                    }
                }
                Some(Out::File { file, offset, len }) => {
                    self.end = true;
                    let tail = self.file.insert(FileTail {
                        file: std::sync::Arc::new(file),
                        offset,
                        left: len,
                        reading: None,
                    });
                    return tail.poll_next(cx);
                }
                Some(Out::Trailers(fields)) => {
                    self.end = true;
                    return Poll::Ready(Some(Ok(Frame::trailers(fields))));
                }
                // An app error after the headers, a dead app thread, or a protocol slip:
                // an error makes hyper close the connection mid-body.
                _ => {
                    self.end = true;
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "the application failed after sending headers",
                    ))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.end && self.first.is_none() && self.file.as_ref().is_none_or(|f| f.left == 0)
    }

    fn size_hint(&self) -> SizeHint {
        if self.end && self.file.is_none() {
            SizeHint::with_exact(self.first.as_ref().map_or(0, |b| b.len() as u64))
        } else {
            SizeHint::default()
        }
    }
}

/// The answer to a request whose client left before the app started it: nginx's 499
/// ("client closed request"), for the access log and metrics; nobody reads it.
pub(super) fn departed() -> First {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    First {
        head: Head {
            status: StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            reason: None,
            headers,
        },
        body: Bytes::new(),
        end: true,
        rest: None,
        gone: true,
    }
}

/// Waits for the head and builds the hyper response (a 500 if the app thread died).
pub(crate) async fn respond(rx: oneshot::Receiver<First>) -> Response<ResponseBody> {
    match rx.await {
        Ok(First {
            head,
            body,
            end,
            rest,
            gone,
        }) => {
            let mut resp = build(head, body, rest, end);
            if gone {
                resp.extensions_mut().insert(crate::server::ClientGone);
            }
            resp
        }
        Err(_) => {
            tracing::error!("the application thread ended without a response");
            let (head, body) = error_500();
            build(head, body, None, true)
        }
    }
}

/// A response from a head and its first chunk.
pub(crate) fn build(
    head: Head,
    body: Bytes,
    rx: Option<mpsc::Receiver<Out>>,
    end: bool,
) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::new(body, rx, end));
    *resp.status_mut() = head.status;
    *resp.headers_mut() = head.headers;
    if let Some(r) = head.reason {
        resp.extensions_mut().insert(r);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("200 OK").unwrap().0, StatusCode::OK);
        assert!(parse_status("200 OK").unwrap().1.is_none());
        assert!(parse_status("200 Fine").unwrap().1.is_some());
        assert_eq!(parse_status("404").unwrap().0, StatusCode::NOT_FOUND);
        for bad in ["", "20", "2000 x", "abc OK", "99 x", "OK 200", " 200 OK"] {
            assert!(parse_status(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hop_by_hop() {
        for h in [
            "connection",
            "transfer-encoding",
            "server",
            "date",
            "upgrade",
            "keep-alive",
        ] {
            assert!(is_hop_by_hop(&HeaderName::from_static(h)));
        }
        assert!(!is_hop_by_hop(&CONTENT_TYPE));
    }
}
