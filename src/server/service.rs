//! The hyper `Service` every app runs behind: counts requests toward `max_requests`, adds
//! the `Server` header, forces `Connection: close` while the worker drains, and writes the
//! access-log line when the response body has been handed to the connection.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, SERVER};
use http::{HeaderValue, Method, Request, Response, Uri, Version};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;

use super::conn::ConnState;
use super::{AppService, Shared};
use crate::access_log::{AccessLog, Captured, Record};
pub(crate) use crate::http::{ConnInfo, Peer};

static SERVER_NAME: HeaderValue = HeaderValue::from_static("runicorn");
static CLOSE: HeaderValue = HeaderValue::from_static("close");

/// The per-connection wrapper around an app.
#[derive(Clone)]
pub(super) struct Wrapped<A> {
    app: A,
    shared: Arc<Shared>,
    peer: Peer,
    conn: Arc<ConnState>,
    /// `wsgi.url_scheme`: "https" on TLS listeners.
    scheme: &'static str,
    local: Option<SocketAddr>,
    /// Requests carry the connection's socket as a [`ClientSocket`].
    client_socket: bool,
}

/// The socket a request came on, in its extensions: an app host that queues requests
/// asks it, just before starting one, whether the client already left.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) struct ClientSocket(RawFd, bool);

#[cfg_attr(not(feature = "python"), allow(dead_code))]
impl ClientSocket {
    /// An earlier request on this connection was answered: the edge was reading the
    /// connection when this one came, so the request is no older than its time in the
    /// app's queue. A first request may have waited in the listen backlog for long.
    pub(crate) fn follow_up(&self) -> bool {
        self.1
    }

    /// The client closed its side (or reset the connection), as far as the socket tells
    /// without consuming anything: a peek that reads EOF or fails. hyper does not read
    /// while a request waits for the app, so a client that gave up on a queued request
    /// is only seen here. A descriptor already closed and reused means the connection
    /// ended anyway; a wrong answer then drops a request nobody awaits.
    pub(crate) fn left(&self) -> bool {
        use nix::sys::socket::{MsgFlags, recv};
        let mut byte = [0u8; 1];
        match recv(
            self.0,
            &mut byte,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => true,
            Ok(_) => false,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => false,
            Err(_) => true,
        }
    }
}

impl<A> Wrapped<A> {
    /// The service of the connection on socket `fd` (kept in its [`ConnState`]).
    pub(super) fn new(
        app: A,
        shared: Arc<Shared>,
        peer: Peer,
        local: Option<SocketAddr>,
        fd: RawFd,
    ) -> Self {
        let conn = ConnState::new();
        let _ = conn.socket.set(fd);
        Wrapped {
            app,
            shared,
            peer,
            conn: Arc::new(conn),
            scheme: "http",
            local,
            client_socket: false,
        }
    }

    /// The connection's socket is handed to the app host as a [`ClientSocket`].
    pub(super) fn client_socket(mut self) -> Self {
        self.client_socket = true;
        self
    }

    /// The socket for [`ClientSocket`], when requests carry it.
    fn client_fd(&self) -> Option<RawFd> {
        self.client_socket
            .then(|| self.conn.socket.get().copied())
            .flatten()
    }

    /// Marks the connection as TLS (`%({wsgi.url_scheme}e)s` renders `https`).
    pub(super) fn https(mut self) -> Self {
        self.scheme = "https";
        self
    }

    pub(super) fn peer(&self) -> Peer {
        self.peer
    }

    pub(super) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    pub(super) fn scheme(&self) -> &'static str {
        self.scheme
    }

    pub(super) fn conn_state(&self) -> Arc<ConnState> {
        self.conn.clone()
    }

    /// The client: the socket peer, or the address a PROXY header announced.
    fn client(&self) -> Peer {
        self.conn.proxied_peer().map_or(self.peer, Peer::Tcp)
    }
}

/// `--limit-request-line`, `--limit-request-fields` and `--limit-request-field_size` for
/// HTTP/2, measured as Gunicorn 27 measures them there (a limit of 0 is off): `:path`'s
/// length against the line limit (414), the count of regular fields (431), and each
/// field's name and value plus 2 (431). Over HTTP/1 the gate applies them to the bytes
/// received; hyper's HTTP/2 alone bounds only the whole header block. A field value with
/// whitespace at either end, which RFC 9113 calls malformed, gets a 400.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Http2Limits {
    pub line: usize,
    pub fields: usize,
    pub field_size: usize,
    /// `--limit-request-body` (0: none): a Content-Length over it is refused with the
    /// head, as HTTP/1's gate refuses it; a body that runs past it without one is cut
    /// below hyper (`h2body`).
    pub body: u64,
}

impl Http2Limits {
    fn refuses<B>(&self, req: &Request<B>) -> Option<http::StatusCode> {
        let path = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if self.line > 0 && path > self.line {
            return Some(http::StatusCode::URI_TOO_LONG);
        }
        let h = req.headers();
        // The Host made from `:authority` is no field the client sent.
        let sent = h.len() - usize::from(h.contains_key(http::header::HOST));
        let (mut too_big, mut padded) = (false, false);
        for (n, v) in h {
            let b = v.as_bytes();
            too_big |= self.field_size > 0
                && n != http::header::HOST
                && n.as_str().len() + b.len() + 2 > self.field_size;
            // RFC 9113 §8.2.1: a value that starts or ends with whitespace makes the
            // request malformed (HTTP/1's parser strips it; HTTP/2 carries it as sent).
            // Gunicorn 27's h2 library ends the whole connection; one stream's 400 is
            // enough.
            padded |= [b.first(), b.last()]
                .into_iter()
                .flatten()
                .any(|c| matches!(c, b' ' | b'\t'));
        }
        if too_big || (self.fields > 0 && sent > self.fields) {
            return Some(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        if padded {
            return Some(http::StatusCode::BAD_REQUEST);
        }
        // Looked up only under a limit: most servers run without one.
        let over = self.body > 0
            && h.get(http::header::CONTENT_LENGTH)
                .and_then(|v| crate::http::content_length_value(v.as_bytes()))
                .is_some_and(|n| n > self.body);
        over.then_some(http::StatusCode::PAYLOAD_TOO_LARGE)
    }
}

/// An HTTP/2 request as the app would see it over HTTP/1 (and as Gunicorn's HTTP/2 hands
/// it over): hyper makes an absolute URI of `:scheme`, `:authority` and `:path` and adds
/// no Host header, so a WSGI app got no `HTTP_HOST` (Django's `ALLOWED_HOSTS`, Flask's
/// and Starlette's URLs fell back to the listener's address), `RAW_URI` and the access
/// log's `%(r)s` showed `https://host/path` (or any scheme the client sent). The target
/// becomes the origin form (`/path?query`) and `:authority` the Host header, replacing a
/// Host the client also sent (RFC 9113 §8.3.1: `:authority` takes precedence).
fn as_http1_sees_it<B>(req: &mut Request<B>) {
    if let Some(host) = req
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(http::header::HOST, host);
    }
    // A CONNECT without `:protocol` has no path: its target stays the authority.
    if req.uri().scheme().is_some()
        && let Some(origin) = req.uri().path_and_query().cloned()
    {
        *req.uri_mut() = Uri::from(origin);
    }
}

/// What the access log needs from the request, copied before the app takes it (only the
/// headers the format uses).
struct Pending {
    log: Arc<AccessLog>,
    peer: Peer,
    scheme: &'static str,
    start: Instant,
    method: Method,
    uri: Uri,
    version: Version,
    request_headers: Option<Captured>,
}

impl<A: AppService> Service<Request<Incoming>> for Wrapped<A> {
    type Response = Response<Logged<A::Body>>;
    type Error = A::Err;
    type Future = Respond<A::Fut>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let mut refused = None;
        if req.version() == Version::HTTP_2 {
            as_http1_sees_it(&mut req);
            refused = self.shared.http2_limits.refuses(&req);
        }
        self.shared.count_request();
        self.conn.request_started();
        // What the WSGI host needs to build its environ: the PROXY-aware client address.
        req.extensions_mut().insert(ConnInfo {
            peer: self.client(),
            local: self.local,
            tls: self.scheme == "https",
        });
        let fd = self.client_fd();
        if let Some(fd) = fd {
            req.extensions_mut()
                .insert(ClientSocket(fd, self.conn.answered_any()));
        }
        let skipped = self.shared.skips_access_log(req.uri().path());
        let line = self
            .shared
            .access_log
            .as_ref()
            .filter(|_| !skipped)
            .map(|log| {
                Box::new(Line {
                    pending: Pending {
                        start: Instant::now(),
                        peer: self.client(),
                        scheme: self.scheme,
                        method: req.method().clone(),
                        uri: req.uri().clone(),
                        version: req.version(),
                        request_headers: log.needs().capture_request_headers(req.headers()),
                        log: log.clone(),
                    },
                    // Set when the app answers; a request dropped before then is a 499.
                    status: CLIENT_CLOSED,
                    response_headers: None,
                    bytes: 0,
                })
            });
        let observed = self.shared.observer.clone().map(|obs| Observed {
            obs,
            start: Instant::now(),
            status: 0,
        });
        // HTTP/2 has no `Connection` header; a draining HTTP/2 connection sends GOAWAY.
        let http2 = req.version() == Version::HTTP_2;
        let head = req.method() == Method::HEAD;
        let upgrade = if http2 {
            if req.method() == Method::CONNECT {
                self.conn.h2_tunnels.store(true, Ordering::Relaxed);
                req.extensions_mut().insert(self.shared.websocket.clone());
            }
            None
        } else {
            self.edge_upgrade(&mut req)
        };
        Respond {
            refused: refused.unwrap_or_default(),
            inner: match refused {
                Some(_) => None,
                None => Some(self.app.call(req)),
            },
            shared: self.shared.clone(),
            line,
            observed,
            // Created now, so a request dropped before its response (an HTTP/2 stream the
            // client reset) still counts as ended.
            done: Some(Done(self.conn.clone())),
            http2,
            head,
            upgrade,
            fd,
        }
    }
}

impl<A> Wrapped<A> {
    /// An HTTP/1 request the edge holds the connection for (the same test as the gate's:
    /// CONNECT, or `Upgrade` with `Connection: upgrade`): gives the app a way to take the
    /// connection ([`crate::websocket::Handshake::from_request`] finds it), and returns the
    /// guard through which the edge learns the answer.
    fn edge_upgrade(&self, req: &mut Request<Incoming>) -> Option<Decide> {
        let h = req.headers();
        let upgrade = req.method() == Method::CONNECT
            || (h.contains_key(http::header::UPGRADE)
                && h.get_all(CONNECTION).iter().any(|v| {
                    v.as_bytes()
                        .split(|b| *b == b',')
                        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
                }));
        if !upgrade {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.conn.handoff.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let ext = req.extensions_mut();
        ext.insert(crate::websocket::EdgeUpgrade(Arc::new(
            std::sync::Mutex::new(Some(rx)),
        )));
        ext.insert(self.shared.websocket.clone());
        Some(Decide(Some(self.conn.clone())))
    }
}

/// Tells the edge the app's answer to an HTTP/1 upgrade request: refused unless
/// [`Decide::decide`] says otherwise before it drops (an app that failed refused too).
struct Decide(Option<Arc<ConnState>>);

impl Decide {
    fn decide(mut self, accepted: bool) {
        if let Some(c) = self.0.take() {
            c.decide_upgrade(accepted);
        }
    }
}

impl Drop for Decide {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.decide_upgrade(false);
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of one response: the app's future, then the header fix-ups. The log line is
    /// boxed: inline it made this future (and the response body after it) over 1 KB,
    /// which hyper and tokio copy at every move, logging or not.
    pub(super) struct Respond<F> {
        // None: the edge answers without the app (`refused`).
        #[pin]
        inner: Option<F>,
        refused: http::StatusCode,
        shared: Arc<Shared>,
        line: Option<Box<Line>>,
        observed: Option<Observed>,
        done: Option<Done>,
        http2: bool,
        // The request is a HEAD.
        head: bool,
        upgrade: Option<Decide>,
        // The connection's socket (Python hosts), shut down for a ClientGone response.
        fd: Option<RawFd>,
    }

    impl<F> PinnedDrop for Respond<F> {
        /// Dropped before the app answered: the client left (hyper saw it close), so the
        /// request is logged and counted with nginx's 499, "client closed request". An app
        /// host that had not started the request skips it.
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Its status is still CLIENT_CLOSED: logged as such.
            drop(this.line.take());
            if let Some(o) = this.observed.as_mut() {
                o.status = CLIENT_CLOSED;
            }
        }
    }
}

/// nginx's status for a request whose client closed the connection before the response.
const CLIENT_CLOSED: u16 = 499;

/// In a response's extensions: its client left before the app started the request (an
/// app host saw the socket's end, as [`ClientSocket::left`] tells it). The response is
/// logged and counted with its 499, but nothing is written: the connection is shut down
/// (a client that only half-closed still reads, and nginx's 499 is no status to send).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) struct ClientGone;

impl<F, B, E> Future for Respond<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<Logged<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut parts, body) = match this.inner.as_pin_mut() {
            Some(app) => {
                let (parts, body) = std::task::ready!(app.poll(cx))?.into_parts();
                (parts, Some(body))
            }
            None => {
                let mut r = Response::new(());
                *r.status_mut() = *this.refused;
                r.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                (r.into_parts().0, None)
            }
        };
        // hyper writes `<none>` as the reason of a status it has no phrase for (419, 499,
        // 520, any ASGI app's uncommon status, which comes without a phrase): an empty
        // one, as uvicorn writes, says nothing false.
        if parts.status.canonical_reason().is_none()
            && parts.extensions.get::<hyper::ext::ReasonPhrase>().is_none()
        {
            parts
                .extensions
                .insert(hyper::ext::ReasonPhrase::from_static(b""));
        }
        if let Some(fd) = *this.fd
            && parts.extensions.remove::<ClientGone>().is_some()
        {
            // In this connection's own task: the descriptor is still this connection's.
            // hyper's write of the 499 then fails and the connection closes.
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
        }
        let headers = &mut parts.headers;
        // One lookup (an app's own Server header stays).
        headers.entry(SERVER).or_insert_with(|| SERVER_NAME.clone());
        let switching = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
        if !*this.http2 && !switching && this.shared.draining.load(Ordering::Relaxed) {
            headers.insert(CONNECTION, CLOSE.clone());
        }
        let mut line = this.line.take().map(|mut l| {
            l.response_headers = l
                .pending
                .log
                .needs()
                .capture_response_headers(&parts.headers);
            l.status = parts.status.as_u16();
            l
        });
        if let Some(d) = this.upgrade.take() {
            let accepted = switching
                && d.0.as_ref().is_some_and(|c| {
                    c.handoff
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_some()
                });
            if accepted && let (Some(c), Some(l)) = (d.0.as_ref(), line.take()) {
                // The line is written when the WebSocket ends, with its duration.
                *c.upgraded_keep.lock().unwrap_or_else(|e| e.into_inner()) = Some(l);
            }
            d.decide(accepted);
        }
        let done = this.done.take();
        // An HTTP/2 stream task notes when the body waits for the peer's window.
        let clock = if *this.http2 {
            super::http2::StreamClock::current()
        } else {
            None
        };
        let observed = this.observed.take().map(|mut o| {
            o.status = parts.status.as_u16();
            o
        });
        // A response to HEAD, and a 204 or 304, has no content (RFC 9110 §6.4.1), whatever
        // body the app gave. hyper's HTTP/1 leaves it unsent; its HTTP/2 sends it as DATA,
        // which the client must treat as a stream error (RFC 9113 §8.1.1), so the body
        // is ended here: the HEADERS frame carries END_STREAM and the app's body is
        // dropped unread, as hyper's HTTP/1 drops it.
        let status = parts.status.as_u16();
        let framed_by_header = !*this.head
            && !matches!(status, 100..=199 | 204 | 304)
            && body
                .as_ref()
                .is_some_and(|b| length_disagrees(&mut parts.headers, b));
        let bodyless = match (*this.http2, status) {
            (false, _) => None,
            (true, 204 | 304) => Some(Bodyless::Status),
            (true, _) if *this.head => Some(Bodyless::Head),
            _ => None,
        };
        Poll::Ready(Ok(Response::from_parts(
            parts,
            Logged {
                inner: body,
                line,
                observed,
                done,
                clock,
                bodyless,
                framed_by_header,
            },
        )))
    }
}

/// The access-log line of one request, written when the body ends or is dropped.
pub(super) struct Line {
    pending: Pending,
    status: u16,
    response_headers: Option<Captured>,
    bytes: u64,
}

impl Line {
    /// The line of a request the edge answers itself (static files), built from the same
    /// fields as an app's so the two cannot differ in format; `None` when not logged.
    /// `fields` are the request's header lines as received (only the format's are kept).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_edge(
        shared: &Shared,
        peer: Peer,
        scheme: &'static str,
        method: &str,
        target: &str,
        version: Version,
        fields: &[httparse::Header<'_>],
        start: Instant,
    ) -> Option<Line> {
        let log = shared.access_log.as_ref()?;
        if shared.skips_access_log(target.split('?').next().unwrap_or(target)) {
            return None;
        }
        let needs = log.needs();
        let request_headers = if needs.request_headers.is_empty() {
            None
        } else {
            let mut h = http::HeaderMap::new();
            for f in fields {
                if let Ok(name) = http::HeaderName::from_bytes(f.name.as_bytes())
                    && needs.request_headers.contains(&name)
                    && let Ok(v) = HeaderValue::from_bytes(f.value)
                {
                    h.append(name, v);
                }
            }
            needs.capture_request_headers(&h)
        };
        Some(Line {
            pending: Pending {
                log: log.clone(),
                peer,
                scheme,
                start,
                method: Method::from_bytes(method.as_bytes()).ok()?,
                uri: Uri::try_from(target).ok()?,
                version,
                request_headers,
            },
            status: 0,
            response_headers: None,
            bytes: 0,
        })
    }

    /// Whether the format reads response headers (then [`Line::respond`] wants them).
    pub(super) fn wants_response_headers(&self) -> bool {
        !self.pending.log.needs().response_headers.is_empty()
    }

    /// The status and response headers sent.
    pub(super) fn respond(&mut self, status: u16, headers: Option<&http::HeaderMap>) {
        self.status = status;
        self.response_headers =
            headers.and_then(|h| self.pending.log.needs().capture_response_headers(h));
    }

    /// Body bytes written so far.
    pub(super) fn add_bytes(&mut self, n: u64) {
        self.bytes += n;
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let p = &self.pending;
        // Origin-form (nearly every request) borrows the target as received; only
        // absolute-form and authority-form need the URI re-assembled.
        let owned;
        let target: &str = match (p.uri.scheme(), p.uri.path_and_query()) {
            (None, Some(pq)) => pq.as_str(),
            _ => {
                owned = p.uri.to_string();
                &owned
            }
        };
        // HEAD, 1xx, 204 and 304 responses carry no body on the wire whatever the app gave.
        let bodyless = p.method == Method::HEAD
            || self.status < 200
            || self.status == 204
            || self.status == 304;
        let rec = Record {
            peer: p.peer.addr(),
            method: Some(p.method.as_str()),
            target: Some(target),
            version: Some(p.version),
            request_headers: p.request_headers.as_ref().map(Into::into),
            status: self.status,
            response_headers: self.response_headers.as_ref().map(Into::into),
            body_bytes: Some(if bodyless { 0 } else { self.bytes }),
            duration: p.start.elapsed(),
            url_scheme: p.scheme,
            ..Record::default()
        };
        p.log.log(&rec);
    }
}

/// StatsD lines and metrics counters of one request, recorded when its body ends or is
/// dropped (Gunicorn measures up to the end of the response too).
pub(crate) struct Observed {
    obs: Arc<crate::observe::RequestObserver>,
    start: Instant,
    status: u16,
}

impl Observed {
    /// For a response the edge answers itself (static files below hyper): counted
    /// with `status` when dropped, like an app response at the end of its body.
    pub(crate) fn for_edge(shared: &Shared, start: Instant, status: u16) -> Option<Observed> {
        shared
            .observer
            .clone()
            .map(|obs| Observed { obs, start, status })
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // 0: the app never answered (it failed, or the client left first); Gunicorn
        // logs no access line and sends no metric for such a request either.
        if self.status != 0 {
            self.obs.request_done(self.status, self.start.elapsed());
        }
    }
}

/// Tells the connection's edge that a response ended (its deadlines restart then).
struct Done(Arc<ConnState>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.response_done();
    }
}

/// Whether the app's Content-Length disagrees with a body whose length is known. hyper
/// trusts such a body and copies the header as given: it would frame the response by the
/// one and announce the other, and a body shorter than announced runs into the next
/// response on the connection, which the client then reads as the rest of this one. A
/// value no client can read is dropped (hyper then announces the body's own length); a
/// valid one that disagrees makes hyper frame by it (see [`Logged::size_hint`]).
fn length_disagrees<B: Body>(headers: &mut http::HeaderMap, body: &B) -> bool {
    let Some(len) = body.size_hint().exact() else {
        return false;
    };
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return false;
    };
    match crate::http::content_length_value(value.as_bytes()) {
        Some(n) if n == len => false,
        Some(n) => {
            tracing::error!(
                "the application's response declares Content-Length: {n} with a body of {len} \
                 bytes; it is sent cut to the declared length, or, if shorter, with the \
                 connection closed after it"
            );
            true
        }
        None => {
            tracing::error!(
                "the application's response has an invalid Content-Length {value:?}; it is \
                 sent without it"
            );
            headers.remove(CONTENT_LENGTH);
            false
        }
    }
}

/// Why an HTTP/2 response carries no body although the app gave one.
#[derive(Debug, Clone, Copy)]
enum Bodyless {
    /// The request is a HEAD.
    Head,
    /// The status is 204 or 304.
    Status,
}

pin_project_lite::pin_project! {
    /// The app's response body, counting the bytes handed to the connection.
    pub struct Logged<B> {
        // None: a response the edge made, with no body.
        #[pin]
        inner: Option<B>,
        line: Option<Box<Line>>,
        observed: Option<Observed>,
        done: Option<Done>,
        clock: Option<Arc<super::http2::StreamClock>>,
        bodyless: Option<Bodyless>,
        // The app's Content-Length disagrees with its body's known length.
        framed_by_header: bool,
    }
}

impl<B: Body<Data = Bytes>> Body for Logged<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        // A body that must not be sent ends at once, unread.
        let frame = if this.bodyless.is_some() {
            None
        } else {
            if let Some(c) = this.clock.as_ref() {
                c.polled();
            }
            match this.inner.as_pin_mut() {
                Some(b) => std::task::ready!(b.poll_frame(cx)),
                None => None,
            }
        };
        match &frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    if let Some(line) = this.line.as_mut() {
                        line.bytes += data.len() as u64;
                    }
                    if let Some(c) = this.clock.as_ref().filter(|_| !data.is_empty()) {
                        c.handed();
                    }
                }
            }
            // End of body: log now rather than when hyper drops the body.
            None | Some(Err(_)) => {
                drop(this.line.take());
                drop(this.observed.take());
                drop(this.done.take());
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.bodyless.is_some() || self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.framed_by_header {
            // hyper then frames the body by the app's header: it writes no more than that
            // and closes the connection after a body that ends short of it.
            return SizeHint::default();
        }
        match self.bodyless {
            // HEAD: the length a GET would have (hyper's HTTP/2 sets Content-Length from
            // an exact hint the app did not give as a header).
            None | Some(Bodyless::Head) => self
                .inner
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint()),
            // 204 and 304 carry no Content-Length for a body they do not have.
            Some(Bodyless::Status) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Ready;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::Response;

    use super::{Logged, Respond};

    /// hyper and tokio move the response future and the response body several times per
    /// request (a memcpy of the whole value each time, whether logging is on or not). With
    /// the access-log line inline they were 792 and 1,120 bytes, and those copies were
    /// 1,400 of a plaintext hello's 18,000 instructions.
    #[test]
    fn the_response_future_and_body_stay_small_because_they_are_moved_per_request() {
        type Fut = Ready<Result<Response<Full<Bytes>>, std::convert::Infallible>>;
        let own = std::mem::size_of::<Respond<Fut>>() - std::mem::size_of::<Fut>();
        let body = std::mem::size_of::<Logged<Full<Bytes>>>() - std::mem::size_of::<Full<Bytes>>();
        eprintln!("Respond adds {own} bytes, Logged adds {body}");
        assert!(own <= 96, "Respond adds {own} bytes to the app's future");
        // (72 since a response the edge makes itself, an HTTP/2 request over the limits,
        // has no app body: the body is an Option now.)
        assert!(body <= 72, "Logged adds {body} bytes to the app's body");
    }
}
