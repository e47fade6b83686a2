//! The worker's HTTP server: accept loops over the inherited listeners, one task per
//! connection running hyper's HTTP/1.1 engine (or HTTP/2, over TLS or as h2c), the service
//! wrapper every app runs behind, and graceful draining.
//!
//! [`serve`] is the in-process seam: it needs no fork and no master, so tests and the
//! worker drive the same code.

pub(crate) mod conn;
#[cfg(feature = "python")]
pub(crate) mod doorbell;
mod h2body;
pub(crate) mod h2c;
mod http2;
pub(crate) mod listener;
mod load;
mod reclaim;
mod service;
pub(crate) mod statics;
pub(crate) mod trust;

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use tokio::sync::{Semaphore, watch};

pub(crate) use listener::{Accepting, Listener};
use load::Admit;
pub(crate) use load::AppLoad;
pub(crate) use load::Spread;
#[cfg(feature = "python")]
pub(crate) use load::Ticket;
pub(crate) use service::Peer;
#[cfg(feature = "python")]
pub(crate) use service::{ClientGone, ClientSocket};

use crate::access_log::AccessLog;
use crate::scoreboard::heartbeat::{Slot, state};

/// Boxed error type apps may return.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// What an app must be to be served: any hyper service over `Request<Incoming>` that can
/// be cloned per connection.
pub trait AppService:
    Service<
        Request<Incoming>,
        Response = Response<Self::Body>,
        Error = Self::Err,
        Future = Self::Fut,
    > + Clone
    + Send
    + Sync
    + 'static
{
    /// Response body.
    type Body: Body<Data = Bytes, Error = Self::BodyError> + Send + 'static;
    /// Response body error.
    type BodyError: Into<BoxError>;
    /// Service error.
    type Err: Into<BoxError>;
    /// Response future.
    type Fut: Future<Output = Result<Response<Self::Body>, Self::Err>> + Send + 'static;
}

impl<S, B> AppService for S
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Body = B;
    type BodyError = B::Error;
    type Err = S::Error;
    type Fut = S::Future;
}

/// How a worker was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// TERM: stop accepting, finish in-flight requests within the graceful timeout.
    Graceful,
    /// INT/QUIT: leave now.
    Quick,
}

/// Per-worker serving parameters (derived from `Settings`).
#[derive(Debug, Clone)]
pub(crate) struct ServeConfig {
    /// `--keep-alive` seconds; 0 closes after every response.
    pub keepalive: Duration,
    /// `--worker-connections`.
    pub worker_connections: usize,
    /// `--graceful-timeout`.
    pub graceful_timeout: Duration,
    /// `--max-requests` plus this worker's jitter; 0 = never retire.
    pub max_requests: u64,
    /// The access log, when `--access-logfile` is set.
    pub access_log: Option<Arc<AccessLog>>,
    /// `--access-log-skip`: request path prefixes that get no access-log line.
    pub access_log_skip: Arc<[String]>,
    /// Parsing rules, deadlines and limits of the HTTP/1 edge.
    pub edge: Arc<conn::EdgeConfig>,
    /// What the edge cut off, for this worker.
    pub edge_stats: Arc<conn::EdgeStats>,
    /// TLS on every listener (`--certfile`/`--keyfile`); see [`serve_tls`].
    pub tls: Option<Arc<crate::tls::Acceptor>>,
    /// StatsD / metrics hook called when each response ends (None: no extra work).
    pub observer: Option<Arc<crate::observe::RequestObserver>>,
    /// `--static-map`: plaintext HTTP/1 connections answer these in the edge (the app
    /// must also be wrapped in [`statics::Static`] for the other paths).
    pub statics: Option<Arc<crate::static_files::Config>>,
    /// WebSocket settings and the worker's registry of open sockets.
    pub websocket: Arc<crate::websocket::Context>,
    /// An app host's capacity and load: new connections are accepted only while it has
    /// room (see [`load`]); None accepts up to `worker_connections`.
    pub app_load: Option<Arc<AppLoad>>,
    /// HTTP/2 on plaintext listeners (`--http2-cleartext`); None when off or over TLS.
    pub h2c: Option<Arc<h2c::H2c>>,
    /// This worker among its siblings, to share new connections evenly (see [`load`]);
    /// None when serving in-process.
    pub spread: Option<Spread>,
    /// Requests carry their connection's socket ([`ClientSocket`]), which the Python hosts
    /// ask whether a queued request's client left. A Rust service never reads it, and
    /// the extension costs an allocation and a map insert per request.
    pub client_socket: bool,
}

/// State shared by every connection of one worker.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Set once the worker drains: every response then carries `Connection: close`.
    pub draining: AtomicBool,
    /// Requests started by this worker.
    pub requests: AtomicU64,
    /// Quota after which the worker asks to be replaced (0 = none).
    max_requests: u64,
    /// This worker's heartbeat slot (None when serving in-process).
    slot: Option<&'static Slot>,
    /// Where access-log lines go.
    access_log: Option<Arc<AccessLog>>,
    /// Path prefixes that are not logged.
    access_log_skip: Arc<[String]>,
    /// See [`ServeConfig::observer`].
    observer: Option<Arc<crate::observe::RequestObserver>>,
    /// See [`ServeConfig::websocket`].
    websocket: Arc<crate::websocket::Context>,
    /// The request limits as HTTP/2 applies them.
    http2_limits: service::Http2Limits,
}

impl Shared {
    /// `--access-log-skip`: whether a request for `path` gets no access-log line.
    fn skips_access_log(&self, path: &str) -> bool {
        self.access_log_skip
            .iter()
            .any(|p| path.starts_with(p.as_str()))
    }
}

impl Shared {
    /// Counts a request; at the quota, asks the master for a replacement once.
    fn count_request(&self) {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(slot) = self.slot {
            slot.requests.store(n, Ordering::Relaxed);
        }
        if self.max_requests > 0 && n == self.max_requests {
            tracing::info!("Autorestarting worker after current request.");
            match self.slot {
                // The master starts the replacement first, then sends TERM: capacity
                // never dips, and draining answers the last requests with
                // `Connection: close` so keep-alive clients reconnect elsewhere.
                Some(slot) => slot.set_state(state::RETIRE),
                None => self.draining.store(true, Ordering::Relaxed),
            }
        }
    }
}

/// How long a draining worker lets idle HTTP/1.1 keep-alive connections send one more
/// request before it closes them (Gunicorn's default `--keep-alive`).
const DRAIN_IDLE: Duration = Duration::from_secs(2);

/// Serves `app` on `listeners` until `stop` resolves, then drains (graceful) or returns
/// at once (quick). Must run inside a tokio runtime.
pub(crate) async fn serve<A: AppService>(
    listeners: Vec<Accepting>,
    cfg: ServeConfig,
    app: A,
    slot: Option<&'static Slot>,
    stop: impl Future<Output = Stop>,
) -> Stop {
    let shared = Arc::new(Shared {
        draining: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        max_requests: cfg.max_requests,
        slot,
        access_log: cfg.access_log.clone(),
        access_log_skip: cfg.access_log_skip.clone(),
        observer: cfg.observer.clone(),
        websocket: cfg.websocket.clone(),
        http2_limits: service::Http2Limits {
            line: cfg.edge.gate.rules.limit_request_line,
            fields: cfg.edge.gate.rules.limit_request_fields,
            field_size: cfg.edge.gate.rules.limit_request_field_size,
            body: cfg.edge.gate.limit_request_body,
        },
    });
    let conns = Arc::new(Semaphore::new(cfg.worker_connections.max(1)));
    let registry = Arc::new(reclaim::Registry::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accept_tasks = Vec::new();
    for l in listeners {
        accept_tasks.push(tokio::spawn(accept_loop(
            l,
            app.clone(),
            cfg.clone(),
            shared.clone(),
            conns.clone(),
            registry.clone(),
            stop_rx.clone(),
        )));
    }
    let how = stop.await;
    shared.draining.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    if how == Stop::Quick {
        return how;
    }
    // Open WebSockets close with 1001 now rather than at the graceful timeout: see the
    // `websocket` module's "Draining".
    let open = cfg.websocket.going_away();
    if open > 0 {
        tracing::info!("Closing {open} WebSocket(s) with 1001 (going away)");
    }
    for t in accept_tasks {
        let _ = t.await;
    }
    // Every connection holds a permit; all permits back means every connection ended.
    let all = u32::try_from(cfg.worker_connections.max(1)).unwrap_or(u32::MAX);
    let give_up = tokio::time::Instant::now() + cfg.graceful_timeout;
    let mut ended = std::pin::pin!(conns.acquire_many(all));
    // Keep-alive connections still idle DRAIN_IDLE into the drain have had that long to
    // send a last request (answered with `Connection: close`); they are closed then, so
    // a long --keep-alive does not hold up the exit.
    let idle_for = DRAIN_IDLE.min(cfg.graceful_timeout);
    if tokio::time::timeout(idle_for, &mut ended).await.is_err() {
        let closed = registry.close_idle_kept_alive();
        if closed > 0 {
            tracing::debug!("closing {closed} idle keep-alive connection(s) to finish the drain");
        }
        if tokio::time::timeout_at(give_up, ended).await.is_err() {
            tracing::warn!(
                "Graceful timeout reached with {} connection(s) still open; closing them",
                // Not from the semaphore: the pending acquire_many holds what came back.
                registry.open()
            );
        }
    }
    how
}

async fn accept_loop<A: AppService>(
    listener: Accepting,
    app: A,
    cfg: ServeConfig,
    shared: Arc<Shared>,
    conns: Arc<Semaphore>,
    registry: Arc<reclaim::Registry>,
    mut stop: watch::Receiver<bool>,
) {
    // The listener's address, handed to apps through `ConnInfo` (WSGI's SERVER_NAME/PORT).
    let local = match &listener {
        Accepting::Tcp(l) => l.local_addr().ok(),
        Accepting::Unix(_) => None,
    };
    let mut gate = cfg
        .app_load
        .clone()
        .map(|load| load::Gate::new(load, cfg.spread));
    loop {
        let admit = match &mut gate {
            Some(g) => match g.room(&mut stop).await {
                Some(admit) => admit,
                None => return,
            },
            None => Admit::Room,
        };
        // From here until a connection comes, siblings see this worker as one that takes
        // connections (also while it holds back for them: else the one that takes them
        // would see nobody else and take the whole burst).
        let waiting = cfg.spread.as_ref().map(|sp| sp.waiting(admit));
        if let Some(sp) = &cfg.spread
            && !sp.turn(admit, &mut stop).await
        {
            return;
        }
        // A free connection slot, if there is one. Without one, the next client is still
        // accepted, and idle connections are closed to make room for it (see `reclaim`).
        let permit = match conns.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(tokio::sync::TryAcquireError::Closed) => return,
            Err(tokio::sync::TryAcquireError::NoPermits) => None,
        };
        let accepted = tokio::select! {
            r = accept(&listener) => r,
            _ = stop.changed() => return,
            // Taking connections into a full app's queue: only while no sibling has room.
            () = async {
                match &gate {
                    Some(g) => g.outdated(admit).await,
                    None => std::future::pending().await,
                }
            } => continue,
        };
        drop(waiting);
        match accepted {
            Ok((io, peer)) => {
                let permit = match permit {
                    Some(p) => p,
                    None => match make_room(&conns, &registry, &cfg, &mut stop).await {
                        Some(p) => p,
                        None => return,
                    },
                };
                let mut svc =
                    service::Wrapped::new(app.clone(), shared.clone(), peer, local, io.raw_fd());
                if cfg.client_socket {
                    svc = svc.client_socket();
                }
                let cfg = cfg.clone();
                let conn_stop = stop.clone();
                let state = svc.conn_state();
                if let Some(g) = &mut gate {
                    g.accepted(state.clone());
                }
                let entry = registry.register(state.clone());
                let open = cfg.spread.as_ref().map(Spread::opened);
                let shared = shared.clone();
                tokio::spawn(async move {
                    // TLS: the handshake runs here, in the connection's task, so a slow
                    // client never holds up this accept loop.
                    let serve = async {
                        match cfg.tls.clone() {
                            Some(tls) => {
                                Box::pin(serve_tls(io, svc.https(), &cfg, &tls, conn_stop)).await
                            }
                            None => serve_connection(io, svc, &cfg, conn_stop).await,
                        }
                    };
                    tokio::select! {
                        biased;
                        () = serve => {}
                        () = reclaim::reclaimed(&state) => {
                            // Dropping the connection closes the socket: it was idle.
                            if shared.draining.load(Ordering::Relaxed) {
                                tracing::debug!("closing idle connection from {peer}: the worker drains");
                            } else {
                                cfg.edge_stats.reclaimed.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!("closing idle connection from {peer} to make room");
                            }
                        }
                    }
                    drop(entry);
                    drop(open);
                    drop(permit);
                    cfg.edge_stats.ended.fetch_add(1, Ordering::Relaxed);
                });
            }
            Err(e) => handle_accept_error(e).await,
        }
    }
}

/// Every slot is taken and a client was accepted: closes idle connections until a slot
/// frees (asking again every 250 ms while none does, as connections go idle). `None` when
/// the worker stops meanwhile.
async fn make_room(
    conns: &Arc<Semaphore>,
    registry: &reclaim::Registry,
    cfg: &ServeConfig,
    stop: &mut watch::Receiver<bool>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    loop {
        registry.make_room(cfg.worker_connections);
        tokio::select! {
            p = conns.clone().acquire_owned() => return p.ok(),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.changed() => return None,
        }
    }
}

/// A connected client of either family.
enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Stream {
    fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// The bytes waiting on the socket, left there (MSG_PEEK); waits for some.
    async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, recv};
        let fd = self.raw_fd();
        let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
        let interest = tokio::io::Interest::READABLE;
        loop {
            let peek = || recv(fd, buf, flags).map_err(io::Error::from);
            let r = match self {
                Stream::Tcp(s) => {
                    s.readable().await?;
                    s.try_io(interest, peek)
                }
                Stream::Unix(s) => {
                    s.readable().await?;
                    s.try_io(interest, peek)
                }
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }

    /// Prior-knowledge h2c: whether the connection opens with the HTTP/2 preface, decided
    /// from peeked bytes (nothing is consumed) within `--header-timeout` of accept. `None`:
    /// the client left or the deadline passed (counted as a header timeout); close.
    async fn opens_with_preface(&self, cfg: &ServeConfig, state: &conn::ConnState) -> Option<bool> {
        let deadline = tokio::time::Instant::from_std(state.born + cfg.edge.header_timeout);
        let mut first = [0u8; h2c::PREFACE.len()];
        loop {
            let n = match tokio::time::timeout_at(deadline, self.peek(&mut first)).await {
                Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(n)) => n,
                Err(_) => {
                    cfg.edge_stats
                        .header_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            };
            match h2c::preface_match(&first[..n]) {
                h2c::Preface::Match => return Some(true),
                h2c::Preface::Mismatch => return Some(false),
                // The socket stays readable with a partial preface: look again shortly
                // (only a client that splits its first 24 bytes ever gets here).
                h2c::Preface::Partial => {
                    if tokio::time::Instant::now() >= deadline {
                        cfg.edge_stats
                            .header_timeouts
                            .fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

async fn accept(l: &Accepting) -> io::Result<(Stream, Peer)> {
    match l {
        Accepting::Tcp(l) => {
            let (s, addr) = l.accept().await?;
            // Small responses must not wait for Nagle's algorithm (Gunicorn sets it too).
            let _ = s.set_nodelay(true);
            Ok((Stream::Tcp(s), Peer::Tcp(addr)))
        }
        Accepting::Unix(l) => {
            let (s, _) = l.accept().await?;
            Ok((Stream::Unix(s), Peer::Unix))
        }
    }
}

/// Connection-level errors (the client gave up during the handshake) are ignored;
/// resource exhaustion is logged and followed by a pause, since retrying at once would
/// spin (axum's policy).
async fn handle_accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A plaintext connection: HTTP/1.1 through the edge, or HTTP/2 (h2c) for a trusted peer
/// when `--http2-cleartext` allows it, by prior knowledge or by `Upgrade: h2c`.
async fn serve_connection<A: AppService>(
    io: Stream,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    stop: watch::Receiver<bool>,
) {
    let h2c = cfg.h2c.as_deref().filter(|_| match svc.peer() {
        Peer::Tcp(a) => cfg.edge.forwarded_allow.contains(a.ip()),
        Peer::Unix => true,
    });
    if let Some(h) = h2c.filter(|h| h.mode.prior_knowledge()) {
        match io.opens_with_preface(cfg, &svc.conn_state()).await {
            None => return,
            Some(true) => {
                return match io {
                    Stream::Tcp(s) => Box::pin(http2::serve(s, svc, cfg, &h.limits, stop)).await,
                    Stream::Unix(s) => Box::pin(http2::serve(s, svc, cfg, &h.limits, stop)).await,
                };
            }
            Some(false) => {}
        }
    }
    let upgrade = h2c.filter(|h| h.mode.upgrade());
    match io {
        Stream::Tcp(s) => serve_plain(s, svc, cfg, upgrade, stop).await,
        Stream::Unix(s) => serve_plain(s, svc, cfg, upgrade, stop).await,
    }
}

/// What an HTTP/1 connection's byte stream must offer the edge (a plain socket, TLS).
trait EdgeIo:
    tokio::io::AsyncRead
    + tokio::io::AsyncWrite
    + crate::static_files::edge::SendFile
    + Unpin
    + Send
    + 'static
{
}

impl<T> EdgeIo for T where
    T: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + crate::static_files::edge::SendFile
        + Unpin
        + Send
        + 'static
{
}

/// HTTP/1.1 over a plaintext socket; with `upgrade`, an `Upgrade: h2c` request the edge
/// took is answered 101 and the connection goes on as HTTP/2.
async fn serve_plain<IO, A>(
    io: IO,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    upgrade: Option<&h2c::H2c>,
    stop: watch::Receiver<bool>,
) where
    IO: EdgeIo,
    A: AppService,
{
    let Some(switch) = serve_http1(io, svc, cfg, cfg.statics.clone(), upgrade.is_some()).await
    else {
        return;
    };
    let Some(h) = upgrade else { return };
    // Boxed: see `after_http1`.
    Box::pin(h2c_switch(switch, h, cfg, stop)).await;
}

/// Answers the `Upgrade: h2c` request the edge took with 101 and goes on as HTTP/2.
async fn h2c_switch<IO, A>(
    switch: H2cSwitch<IO, A>,
    h: &h2c::H2c,
    cfg: &ServeConfig,
    stop: watch::Receiver<bool>,
) where
    IO: EdgeIo,
    A: AppService,
{
    use tokio::io::AsyncWriteExt;
    let H2cSwitch {
        mut gate,
        read_ahead,
        svc,
        stream1,
    } = switch;
    let send = cfg.edge.send_timeout;
    match tokio::time::timeout(send, gate.inner_mut().write_all(h2c::SWITCHING)).await {
        Ok(Ok(())) => {}
        _ => return,
    }
    gate.pass_through(&read_ahead);
    http2::serve(h2c::Spliced::new(gate, stream1), svc, cfg, &h.limits, stop).await;
}

/// An HTTP/1.1 connection whose `Upgrade: h2c` request the edge took: what HTTP/2 needs
/// to go on.
struct H2cSwitch<IO, A> {
    gate: conn::GateIo<IO>,
    read_ahead: Bytes,
    svc: service::Wrapped<A>,
    stream1: Vec<u8>,
}

/// Sends FIN (TLS: close_notify first), giving a peer that does not read 1 s for it.
async fn close_quietly<IO: tokio::io::AsyncWrite + Unpin>(io: &mut IO) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
}

/// Lingering close after an error response (as nginx does): closing a socket with unread
/// input makes the kernel send RST, which can destroy the response before the client read
/// it. So: send FIN, then read and discard what the client is still sending, for up to 2 s
/// or 64 KiB.
async fn linger<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(io: &mut IO) {
    use tokio::io::AsyncReadExt;
    close_quietly(io).await;
    let mut sink = [0u8; 4096];
    let mut left = 64 * 1024usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while left > 0 {
        match tokio::time::timeout_at(deadline, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// HTTP/1.1 over any byte stream (plain socket or TLS): the strict edge ([`conn::GateIo`])
/// in front of hyper, then the answer to a refused request once hyper is done. With
/// `statics` (plaintext only) the edge answers static GET/HEAD requests itself.
async fn serve_http1<IO, A>(
    io: IO,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    statics: Option<Arc<crate::static_files::Config>>,
    h2c_upgrade: bool,
) -> Option<H2cSwitch<IO, A>>
where
    IO: EdgeIo,
    A: AppService,
{
    let peer = svc.peer();
    let state = svc.conn_state();
    state.set_proto(conn::Proto::Http1);
    // Boxed once: hyper, the parked wait and the hand-overs after hyper move it around,
    // and inline every one of those states would be a copy of it in this future.
    let mut gate = Box::new(conn::GateIo::new(
        io,
        peer.addr(),
        cfg.edge.clone(),
        cfg.edge_stats.clone(),
        state.clone(),
        cfg.access_log.clone(),
    ));
    if let Some(st) = statics {
        gate.serve_static(st, svc.shared(), svc.scheme(), !cfg.keepalive.is_zero());
    }
    if h2c_upgrade {
        gate.allow_h2c_upgrade();
    }
    let mut b = http1::Builder::new();
    // Deadlines live in GateIo (hyper's header timer would also fire while the app works
    // on a pipelined request). No half-close: an EOF while a request waits or runs means
    // the client left (as nginx reads it: its 499), so hyper drops the request's future,
    // and an app host skips a request whose reply nobody awaits any more instead of
    // running it for nobody. (A client that shuts down its sending side and still wants
    // the answer loses it, as behind nginx.)
    b.keep_alive(!cfg.keepalive.is_zero()).half_close(false);
    // hyper must never refuse a head the gate accepted (its bare 431 is not Gunicorn's).
    // Its defaults (100 headers, ~408 KiB buffer) are kept when they suffice: raising
    // max_headers moves hyper's header array to the heap for every request.
    let rules = &cfg.edge.gate.rules;
    if rules.limit_request_fields > 100 {
        b.max_headers(rules.limit_request_fields);
    }
    if rules.max_head_bytes() > 400 * 1024 {
        b.max_buf_size(rules.max_head_bytes());
    }
    let mut io = TokioIo::new(gate);
    let mut svc = svc;
    loop {
        // Boxed, hyper's connection state (its dispatcher and the adapter it owns) is
        // freed when the connection parks; inline, the task would hold room for it for
        // the connection's whole life.
        let ended = Box::pin(b.serve_connection(io, svc).without_shutdown()).await;
        match ended {
            // Idle between requests: hyper and its buffers are gone until the client
            // sends again (see `GateIo::is_parked`).
            Ok(parts) if parts.io.inner().is_parked() => {
                let mut gate = parts.io.into_inner();
                svc = parts.service;
                // Given back now: kept across the wait, hyper's read buffer would stay
                // allocated with it.
                gate.read_ahead(parts.read_buf);
                if !gate.unpark().await {
                    close_quietly(gate.inner_mut()).await;
                    return None;
                }
                io = TokioIo::new(gate);
            }
            // What follows runs once per connection; boxed, its locals take no room in
            // this future, which every connection's task holds for its whole life.
            ended => return Box::pin(after_http1(ended, cfg, &state, peer)).await,
        }
    }
}

/// What hyper hands back when it lets go of an HTTP/1 connection.
type Http1Parts<IO, A> = http1::Parts<TokioIo<Box<conn::GateIo<IO>>>, service::Wrapped<A>>;

/// What a connection does once hyper let go of it: hand over to HTTP/2 (h2c) or to a
/// WebSocket, answer a refused head, or close.
async fn after_http1<IO, A>(
    ended: hyper::Result<Http1Parts<IO, A>>,
    cfg: &ServeConfig,
    state: &Arc<conn::ConnState>,
    peer: Peer,
) -> Option<H2cSwitch<IO, A>>
where
    IO: EdgeIo,
    A: AppService,
{
    use tokio::io::AsyncWriteExt;
    match ended {
        Ok(parts) => {
            let mut gate = parts.io.into_inner();
            if let Some(stream1) = gate.take_h2c() {
                return Some(H2cSwitch {
                    gate: *gate,
                    read_ahead: parts.read_buf,
                    svc: parts.service,
                    stream1,
                });
            }
            if state.take_upgrade_accepted() {
                upgraded(*gate, &parts.read_buf, state).await;
                return None;
            }
            if let Some(reject) = gate.take_reject() {
                // hyper has finished every earlier response: the error cannot interleave.
                let wire = reject.to_wire();
                let send = cfg.edge.send_timeout;
                if let Ok(Ok(())) =
                    tokio::time::timeout(send, gate.inner_mut().write_all(&wire)).await
                {
                    gate.log_refusal(&reject);
                }
                linger(gate.inner_mut()).await;
                return None;
            }
            close_quietly(gate.inner_mut()).await;
        }
        Err(e) => tracing::debug!("connection from {peer} ended: {e}"),
    }
    None
}

/// The app answered an upgrade request with 101 and hyper let go of the connection: hand
/// it to the WebSocket that took the request's upgrade handle, and keep this task (with
/// its connection slot) until that socket is done. Without a taker the connection closes.
async fn upgraded<IO>(mut gate: conn::GateIo<IO>, read_ahead: &[u8], state: &Arc<conn::ConnState>)
where
    IO: EdgeIo,
{
    gate.pass_through(read_ahead);
    state.set_proto(conn::Proto::Upgraded);
    let taker = state
        .handoff
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let (done, ended) = tokio::sync::oneshot::channel();
    let handoff = crate::websocket::Handoff {
        io: Box::new(gate),
        done,
    };
    if let Some(tx) = taker
        && tx.send(handoff).is_ok()
    {
        let _ = ended.await;
    }
    drop(
        state
            .upgraded_keep
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(),
    );
}

// ===== TLS =====
// Kept apart from `serve_connection`, so the plaintext path pays nothing for it. HTTP/1.1
// over TLS goes through the same strict edge (`serve_http1`) as plaintext.

/// Serves one TLS connection: handshake under `--tls-handshake-timeout`, then HTTP/2 when
/// ALPN chose `h2`, HTTP/1.1 otherwise. On worker stop an HTTP/2 connection sends GOAWAY
/// and finishes its open streams; HTTP/1.1 drains like the plaintext path.
async fn serve_tls<A: AppService>(
    io: Stream,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    tls: &crate::tls::Acceptor,
    stop: watch::Receiver<bool>,
) {
    match io {
        Stream::Tcp(s) => serve_tls_io(s, svc, cfg, tls, stop).await,
        Stream::Unix(s) => serve_tls_io(s, svc, cfg, tls, stop).await,
    }
}

async fn serve_tls_io<IO, A>(
    io: IO,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    tls: &crate::tls::Acceptor,
    stop: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    A: AppService,
{
    let peer = svc.peer();
    let Some((stream, h2)) = tls.handshake(io, peer).await else {
        return;
    };
    if !h2 {
        // HTTP/1.1 over TLS gets the same strict edge as plaintext.
        serve_http1(stream, svc, cfg, None, false).await;
        return;
    }
    http2::serve(stream, svc, cfg, &tls.http2, stop).await;
}

/// Resolves once the worker stops accepting (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Logs why a connection failed: at debug level, with the peer. A protocol abuse the
/// HTTP/2 engine answered with GOAWAY ENHANCE_YOUR_CALM (a reset flood, too many streams
/// it had to reset) is also logged as a warning, at most once per 10 s per worker with the
/// number of such connections since the last line, so one client cannot flood the log.
fn protocol_error(peer: Peer, e: &hyper::Error) {
    tracing::debug!("connection from {peer} ended: {e}");
    let Some(h) = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<h2::Error>())
        .filter(|h| h.is_go_away() && h.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM))
    else {
        return;
    };
    static ABUSE: Throttled = Throttled::new();
    if let Some(n) = ABUSE.hit() {
        tracing::warn!(
            "HTTP/2 connection from {peer} closed for abuse: {h} ({n} such connection(s) \
             since the last such line)"
        );
    }
}

/// A warning one client could repeat at will (an abusive connection): logged at most once
/// per 10 s per worker, with how many occurrences the line stands for, so it cannot flood
/// the error log.
pub(super) struct Throttled {
    /// Monotonic seconds of the last line.
    last: AtomicU64,
    /// Occurrences since the last line.
    since: AtomicU64,
}

impl Throttled {
    pub(super) const fn new() -> Throttled {
        Throttled {
            last: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; `Some(n)` when it is to be logged, `n` counting it and the
    /// ones not logged since the last line.
    pub(super) fn hit(&self) -> Option<u64> {
        let n = self.since.fetch_add(1, Ordering::Relaxed) + 1;
        let now = crate::scoreboard::monotonic_ms() / 1000;
        let last = self.last.load(Ordering::Relaxed);
        let due = now >= last + 10
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        due.then(|| {
            self.since.store(0, Ordering::Relaxed);
            n
        })
    }
}
