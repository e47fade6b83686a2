//! The ASGI `websocket` scope on top of the edge's WebSockets ([`crate::websocket`]):
//! `websocket.connect`/`accept`/`receive`/`send`/`close`/`disconnect` and the denial
//! response extension (`websocket.http.response.*`).
//!
//! ```text
//! edge: Handshake ── WsPending ──► loop: scope, WsReceive, WsSend → the app's task
//!       ◄── Decision (accept: subprotocol, headers / deny: a response) ──
//!       accept → 101 → Session: reader → WsLink inbox (poke) ; out channel → writer
//! ```
//!
//! The app's messages go through a bounded channel to a writer task that feeds the
//! session (so the app may send right after `accept`, before the 101 is on the wire), and
//! the session's messages wait in the link, at most [`INBOX`] ahead of the app. After the
//! socket closed, `send` raises `ClientDisconnected` (an `OSError`), as HTTP's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use tokio::sync::{mpsc, oneshot};

use super::bridge::{Bridge, Event};
use super::io::{Ready, disconnected, hand_over, report};
use super::loop_ctx::Ctx;
use crate::websocket::{Handshake, Message};
use crate::wsgi::response::{self, Head, ResponseBody};

/// Messages from the client waiting for the app.
const INBOX: usize = 8;
/// Messages from the app waiting for the socket.
const OUTBOX: usize = 8;

/// A WebSocket request on its way to the loop thread.
pub(crate) struct WsPending {
    pub parts: http::request::Parts,
    pub https: bool,
    /// A trusted proxy's `SCRIPT_NAME` header, the scope's `root_path`.
    pub root: Option<String>,
    pub protocols: Vec<String>,
    pub link: Arc<WsLink>,
    pub decide: oneshot::Sender<Decision>,
}

/// The app's answer to the handshake.
pub(crate) enum Decision {
    Accept {
        subprotocol: Option<String>,
        headers: Vec<(HeaderName, HeaderValue)>,
        out: mpsc::Receiver<Message>,
    },
    /// A close before accept (403) or the denial extension's response.
    Deny(Head, Bytes),
}

/// One socket's state shared by the edge and the loop thread.
pub(crate) struct WsLink {
    inbox: Mutex<WsInbox>,
    credit: tokio::sync::Notify,
}

#[derive(Default)]
struct WsInbox {
    connect_delivered: bool,
    msgs: VecDeque<Message>,
    /// The final `Close` was delivered (or the socket never opened).
    ended: Option<(u16, String)>,
    waiter: Option<Py<PyAny>>,
}

/// What a `receive()` gets.
enum Incoming {
    /// `websocket.connect`, always first.
    Connect,
    /// `websocket.receive` or, for a `Close`, `websocket.disconnect`.
    Msg(Message),
}

impl WsInbox {
    /// The next message for `receive()`; after the end, the disconnect again.
    fn next(&mut self) -> Option<Incoming> {
        if !self.connect_delivered {
            self.connect_delivered = true;
            return Some(Incoming::Connect);
        }
        match self.msgs.pop_front() {
            Some(Message::Close { code, reason }) => {
                self.ended = Some((code, reason.clone()));
                Some(Incoming::Msg(Message::Close { code, reason }))
            }
            Some(m) => Some(Incoming::Msg(m)),
            None => self
                .ended
                .clone()
                .map(|(code, reason)| Incoming::Msg(Message::Close { code, reason })),
        }
    }
}

impl WsLink {
    fn new() -> Arc<WsLink> {
        Arc::new(WsLink {
            inbox: Mutex::new(WsInbox::default()),
            credit: tokio::sync::Notify::new(),
        })
    }

    fn inbox(&self) -> MutexGuard<'_, WsInbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Edge side: adds a message (or the end) and pokes a waiting `receive()`.
    fn push(self: &Arc<Self>, bridge: &Bridge, m: Option<Message>) {
        let poke = {
            let mut ib = self.inbox();
            match m {
                Some(m) => ib.msgs.push_back(m),
                None => {
                    if ib.ended.is_none() && ib.msgs.is_empty() {
                        ib.ended = Some((crate::websocket::code::ABNORMAL, String::new()));
                    }
                }
            }
            ib.waiter.is_some()
        };
        if poke {
            bridge.post(Event::WsPoke(self.clone()));
        }
    }
}

/// Edge side of a WebSocket request: hands it to the app and answers as it decides.
pub(super) async fn handle(
    bridge: &Arc<Bridge>,
    mut req: http::Request<hyper::body::Incoming>,
    https: bool,
    root: Option<String>,
) -> http::Response<ResponseBody> {
    let hs = match Handshake::from_request(&mut req) {
        Ok(hs) => hs,
        Err(refusal) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain"),
            );
            if refusal.status == StatusCode::UPGRADE_REQUIRED {
                headers.insert(
                    http::header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            let head = Head {
                status: refusal.status,
                reason: None,
                headers,
            };
            let body = Bytes::from(format!("{}\n", refusal.message));
            return response::build(head, body, None, true);
        }
    };
    let (parts, _body) = req.into_parts();
    let link = WsLink::new();
    let (decide, decision) = oneshot::channel();
    bridge.post(Event::WsConnect(Box::new(WsPending {
        parts,
        https,
        root,
        protocols: hs.protocols().to_vec(),
        link: link.clone(),
        decide,
    })));
    // The client may leave before the app decides: its receive() then gets a disconnect.
    struct Undecided(Option<(Arc<WsLink>, Arc<Bridge>)>);
    impl Drop for Undecided {
        fn drop(&mut self) {
            if let Some((link, bridge)) = self.0.take() {
                link.push(&bridge, None);
            }
        }
    }
    let mut undecided = Undecided(Some((link.clone(), bridge.clone())));
    let decision = decision.await;
    undecided.0 = None;
    match decision {
        Ok(Decision::Accept {
            subprotocol,
            headers,
            out,
        }) => {
            let (resp, session) = hs.accept(subprotocol.as_deref(), headers);
            let bridge = bridge.clone();
            tokio::spawn(async move {
                let Some(session) = session.await else {
                    link.push(&bridge, None);
                    return;
                };
                run(session, link, out, bridge).await;
            });
            let (parts, ()) = resp.into_parts();
            let head = Head {
                status: parts.status,
                reason: None,
                headers: parts.headers,
            };
            response::build(head, Bytes::new(), None, true)
        }
        Ok(Decision::Deny(head, body)) => response::build(head, body, None, true),
        Err(_) => {
            let (head, body) = response::error_500();
            response::build(head, body, None, true)
        }
    }
}

/// Moves messages between an open session and the app until both directions end.
async fn run(
    session: crate::websocket::Session,
    link: Arc<WsLink>,
    mut out: mpsc::Receiver<Message>,
    bridge: Arc<Bridge>,
) {
    let (tx, mut rx) = session.split();
    let reader = async {
        while let Some(m) = rx.recv().await {
            loop {
                let credit = link.credit.notified();
                if link.inbox().msgs.len() < INBOX {
                    break;
                }
                credit.await;
            }
            let last = matches!(m, Message::Close { .. });
            link.push(&bridge, Some(m));
            if last {
                break;
            }
        }
        link.push(&bridge, None);
    };
    let writer = async move {
        while let Some(m) = out.recv().await {
            if tx.send(m).await.is_err() {
                break;
            }
        }
        // Dropping the last sender closes the socket with 1000 if the app did not.
    };
    tokio::join!(reader, writer);
}

/// The `receive` callable of one WebSocket.
#[pyclass(module = "runicorn")]
pub(super) struct WsReceive {
    link: Arc<WsLink>,
}

fn ws_message<'py>(py: Python<'py>, m: Incoming) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let ty = pyo3::intern!(py, "type");
    let m = match m {
        Incoming::Connect => {
            d.set_item(ty, "websocket.connect")?;
            return Ok(d);
        }
        Incoming::Msg(m) => m,
    };
    match m {
        Message::Text(t) => {
            d.set_item(ty, "websocket.receive")?;
            d.set_item(pyo3::intern!(py, "text"), t)?;
        }
        Message::Binary(b) => {
            d.set_item(ty, "websocket.receive")?;
            d.set_item(pyo3::intern!(py, "bytes"), PyBytes::new(py, &b))?;
        }
        Message::Close { code, reason } => {
            d.set_item(ty, "websocket.disconnect")?;
            d.set_item(pyo3::intern!(py, "code"), code)?;
            d.set_item(pyo3::intern!(py, "reason"), reason)?;
        }
    }
    Ok(d)
}

#[pymethods]
impl WsReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut ib = self.link.inbox();
        let took = !ib.msgs.is_empty();
        if let Some(m) = ib.next() {
            drop(ib);
            if took {
                self.link.credit.notify_one();
            }
            let msg = ws_message(py, m)?;
            return Ok(Py::new(py, Ready::new(msg.into_any().unbind()))?.into_any());
        }
        if ib.waiter.is_some() {
            return Err(PyRuntimeError::new_err(
                "receive() called while another receive() is still waiting",
            ));
        }
        let fut = Ctx::get().create_future.bind(py).call0()?;
        ib.waiter = Some(fut.clone().unbind());
        Ok(fut.unbind())
    }
}

/// Loop side of a poke: resolves a waiting `receive()` if a message is due.
pub(super) fn poke(py: Python<'_>, link: &WsLink) -> PyResult<()> {
    let due = {
        let mut ib = link.inbox();
        let took = !ib.msgs.is_empty();
        match ib.waiter.is_some().then(|| ib.next()).flatten() {
            Some(m) => {
                if took {
                    link.credit.notify_one();
                }
                ib.waiter.take().map(|w| (w, m))
            }
            None => None,
        }
    };
    if let Some((w, m)) = due {
        let w = w.bind(py);
        if !w.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
            w.call_method1(pyo3::intern!(py, "set_result"), (ws_message(py, m)?,))?;
        }
    }
    Ok(())
}

/// Where the handshake is.
enum Stage {
    /// Waiting for `websocket.accept`, `websocket.close` or a denial response.
    Connecting(oneshot::Sender<Decision>),
    /// A denial response started: its head and the body so far.
    Denying(oneshot::Sender<Decision>, Head, Vec<u8>),
    Open(mpsc::Sender<Message>),
    Closed,
}

/// The `send` callable of one WebSocket.
#[pyclass(module = "runicorn")]
pub(super) struct WsSend {
    link: Arc<WsLink>,
    stage: Stage,
}

fn headers_of(py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    if let Some(hs) = msg.get_item(pyo3::intern!(py, "headers"))? {
        for item in hs.try_iter()? {
            let item = item?;
            let bad = || PyTypeError::new_err("headers must be [name, value] byte pairs");
            let mut it = item.try_iter().map_err(|_| bad())?;
            let n: Vec<u8> = it.next().ok_or_else(bad)??.extract().map_err(|_| bad())?;
            let v: Vec<u8> = it.next().ok_or_else(bad)??.extract().map_err(|_| bad())?;
            let name = HeaderName::from_bytes(&n)
                .map_err(|_| PyValueError::new_err("Invalid header name"))?;
            // As for HTTP responses (asgi::io): no whitespace at either end.
            let value = HeaderValue::from_bytes(v.trim_ascii())
                .map_err(|_| PyValueError::new_err("Invalid header value"))?;
            out.push((name, value));
        }
    }
    Ok(out)
}

impl WsSend {
    fn deny(&mut self, status: StatusCode, body: Bytes) {
        if let Stage::Connecting(d) | Stage::Denying(d, ..) =
            std::mem::replace(&mut self.stage, Stage::Closed)
        {
            let head = Head {
                status,
                reason: None,
                headers: HeaderMap::new(),
            };
            let _ = d.send(Decision::Deny(head, body));
        }
        self.link.push_closed_locally();
    }

    /// Queues a message for the socket; a future when the socket is behind.
    fn queue(&mut self, py: Python<'_>, m: Message) -> PyResult<Py<PyAny>> {
        let Stage::Open(tx) = &self.stage else {
            return Err(match self.stage {
                Stage::Closed => disconnected(py),
                _ => PyRuntimeError::new_err(
                    "Unexpected ASGI message 'websocket.send' before 'websocket.accept'",
                ),
            });
        };
        match hand_over(py, tx, m)? {
            Some(awaitable) => Ok(awaitable),
            None => {
                self.stage = Stage::Closed;
                Err(disconnected(py))
            }
        }
    }
}

impl WsLink {
    /// The app ended the exchange before the socket opened: a later `receive()` gets a
    /// disconnect instead of waiting for ever.
    fn push_closed_locally(&self) {
        let mut ib = self.inbox();
        if ib.ended.is_none() {
            ib.ended = Some((crate::websocket::code::ABNORMAL, String::new()));
        }
    }
}

#[pymethods]
impl WsSend {
    fn __call__(&mut self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let c = Ctx::get();
        let msg = msg
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("an ASGI message must be a dict"))?;
        let ty = msg
            .get_item(c.k_type.bind(py))?
            .ok_or_else(|| PyValueError::new_err("an ASGI message needs a 'type'"))?;
        let ty = ty.cast::<PyString>()?.to_str()?.to_owned();
        let get = |k: &str| msg.get_item(PyString::new(py, k));
        match ty.as_str() {
            "websocket.send" => {
                let m = match (get("bytes")?, get("text")?) {
                    (Some(b), _) if !b.is_none() => {
                        Message::Binary(Bytes::copy_from_slice(b.cast::<PyBytes>()?.as_bytes()))
                    }
                    (_, Some(t)) if !t.is_none() => Message::Text(t.extract()?),
                    _ => {
                        return Err(PyValueError::new_err(
                            "websocket.send needs 'bytes' or 'text'",
                        ));
                    }
                };
                self.queue(py, m)
            }
            "websocket.accept" => {
                let d = match std::mem::replace(&mut self.stage, Stage::Closed) {
                    Stage::Connecting(d) => d,
                    // Kept as it was: an open socket still closes with 1011 if the app
                    // does not catch this.
                    other => {
                        self.stage = other;
                        return Err(PyRuntimeError::new_err(
                            "Unexpected ASGI message 'websocket.accept' after the handshake",
                        ));
                    }
                };
                let subprotocol: Option<String> = match get("subprotocol")? {
                    Some(p) if !p.is_none() => Some(p.extract()?),
                    _ => None,
                };
                let headers = headers_of(py, msg)?;
                let (tx, rx) = mpsc::channel(OUTBOX);
                if d.send(Decision::Accept {
                    subprotocol,
                    headers,
                    out: rx,
                })
                .is_err()
                {
                    return Err(disconnected(py));
                }
                self.stage = Stage::Open(tx);
                Ok(c.ready_none.clone_ref(py))
            }
            "websocket.close" => match &self.stage {
                Stage::Connecting(_) => {
                    self.deny(StatusCode::FORBIDDEN, Bytes::new());
                    Ok(c.ready_none.clone_ref(py))
                }
                Stage::Open(_) => {
                    let code: u16 = match get("code")? {
                        Some(v) if !v.is_none() => v.extract()?,
                        _ => 1000,
                    };
                    // Refused here, where the app sees it (uncaught, it closes the socket
                    // with 1011 and its traceback is logged), rather than sent as 1000.
                    if !crate::websocket::frame::valid_close_code(code) {
                        return Err(PyValueError::new_err(format!(
                            "Invalid WebSocket close code {code}: an endpoint may send \
                             1000-1003, 1007-1014 or 3000-4999 (RFC 6455 section 7.4)"
                        )));
                    }
                    let reason: String = match get("reason")? {
                        Some(v) if !v.is_none() => v.extract()?,
                        _ => String::new(),
                    };
                    let r = self.queue(py, Message::Close { code, reason });
                    self.stage = Stage::Closed;
                    r
                }
                Stage::Denying(..) | Stage::Closed => Err(disconnected(py)),
            },
            "websocket.http.response.start" => {
                let d = match std::mem::replace(&mut self.stage, Stage::Closed) {
                    Stage::Connecting(d) => d,
                    other => {
                        self.stage = other;
                        return Err(PyRuntimeError::new_err(
                            "Unexpected ASGI message 'websocket.http.response.start'",
                        ));
                    }
                };
                let status: u16 = get("status")?
                    .ok_or_else(|| PyValueError::new_err("a 'status' is needed"))?
                    .extract()?;
                let status = StatusCode::from_u16(status)
                    .map_err(|_| PyValueError::new_err(format!("Invalid status code {status}")))?;
                let mut headers = HeaderMap::new();
                for (k, v) in headers_of(py, msg)? {
                    if !response::is_hop_by_hop(&k) {
                        headers.append(k, v);
                    }
                }
                let head = Head {
                    status,
                    reason: None,
                    headers,
                };
                self.stage = Stage::Denying(d, head, Vec::new());
                Ok(c.ready_none.clone_ref(py))
            }
            "websocket.http.response.body" => {
                let (d, head, mut body) = match std::mem::replace(&mut self.stage, Stage::Closed) {
                    Stage::Denying(d, head, body) => (d, head, body),
                    other => {
                        self.stage = other;
                        return Err(PyRuntimeError::new_err(
                            "Unexpected ASGI message 'websocket.http.response.body'",
                        ));
                    }
                };
                if let Some(b) = get("body")? {
                    body.extend_from_slice(b.cast::<PyBytes>()?.as_bytes());
                }
                let more = get("more_body")?.map_or(Ok(false), |m| m.is_truthy())?;
                if more {
                    self.stage = Stage::Denying(d, head, body);
                } else {
                    let _ = d.send(Decision::Deny(head, Bytes::from(body)));
                    self.link.push_closed_locally();
                }
                Ok(c.ready_none.clone_ref(py))
            }
            other => Err(PyRuntimeError::new_err(format!(
                "Unexpected ASGI message {other:?} sent for a WebSocket"
            ))),
        }
    }

    /// The app returned (called by the runner coroutine).
    fn _returned(&mut self, py: Python<'_>) {
        let _ = py;
        match std::mem::replace(&mut self.stage, Stage::Closed) {
            Stage::Connecting(d) | Stage::Denying(d, ..) => {
                tracing::error!("ASGI callable returned without sending handshake.");
                self.stage = Stage::Connecting(d);
                let (_, body) = response::error_500();
                self.deny(StatusCode::INTERNAL_SERVER_ERROR, body);
            }
            // Dropping the channel closes the socket with 1000 if the app did not close it.
            Stage::Open(_) | Stage::Closed => {}
        }
    }

    /// The app raised `exc` (called by the runner coroutine).
    fn _failed(&mut self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        report(py, exc, "WebSocket ASGI")?;
        match std::mem::replace(&mut self.stage, Stage::Closed) {
            Stage::Connecting(d) | Stage::Denying(d, ..) => {
                self.stage = Stage::Connecting(d);
                let (_, body) = response::error_500();
                self.deny(StatusCode::INTERNAL_SERVER_ERROR, body);
            }
            Stage::Open(tx) => {
                // 1011: the server met a condition that kept it from fulfilling the request.
                let _ = tx.try_send(Message::Close {
                    code: 1011,
                    reason: String::new(),
                });
            }
            Stage::Closed => {}
        }
        Ok(())
    }
}

/// Starts the app's task for one WebSocket.
pub(super) fn start(py: Python<'_>, c: &Ctx, p: WsPending) -> PyResult<()> {
    let scope = super::loop_ctx::scope(py, c, &p.parts, p.https, p.root.as_deref(), true)?;
    let protocols = pyo3::types::PyList::new(py, &p.protocols)?;
    scope.set_item(pyo3::intern!(py, "subprotocols"), protocols)?;
    let recv = Py::new(
        py,
        WsReceive {
            link: p.link.clone(),
        },
    )?;
    let send = Py::new(
        py,
        WsSend {
            link: p.link,
            stage: Stage::Connecting(p.decide),
        },
    )?;
    let coro = c.run.bind(py).call1((c.app.bind(py), scope, recv, send))?;
    c.create_task.bind(py).call1((coro,))?;
    Ok(())
}
