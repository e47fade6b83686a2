//! The worker's HTTP server: accept loops over the inherited listeners, one task per
//! connection running hyper's HTTP/1.1 engine, the service wrapper every app runs behind,
//! and graceful draining.
//!
//! [`serve`] is the in-process seam: it needs no fork and no master, so tests and the
//! worker drive the same code.

pub mod listener;
mod service;

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
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

pub use listener::{Accepting, Listener};
pub use service::{ConnInfo, Peer};

use crate::access_log::AccessLog;
use crate::worker::heartbeat::{Slot, state};

/// Boxed error type apps may return.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What an app must be to be served: any hyper service over `Request<Incoming>` that can
/// be cloned per connection.
pub trait AppService:
    Service<Request<Incoming>, Response = Response<Self::Body>, Error = Self::Err, Future = Self::Fut> + Clone + Send + Sync + 'static
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
pub enum Stop {
    /// TERM: stop accepting, finish in-flight requests within the graceful timeout.
    Graceful,
    /// INT/QUIT: leave now.
    Quick,
}

/// Per-worker serving parameters (derived from `Settings`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
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
}

/// State shared by every connection of one worker.
#[derive(Debug)]
pub struct Shared {
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

/// Serves `app` on `listeners` until `stop` resolves, then drains (graceful) or returns
/// at once (quick). Must run inside a tokio runtime.
pub async fn serve<A: AppService>(
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
    });
    let conns = Arc::new(Semaphore::new(cfg.worker_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accept_tasks = Vec::new();
    for l in listeners {
        accept_tasks.push(tokio::spawn(accept_loop(l, app.clone(), cfg.clone(), shared.clone(), conns.clone(), stop_rx.clone())));
    }
    let how = stop.await;
    shared.draining.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    if how == Stop::Quick {
        return how;
    }
    for t in accept_tasks {
        let _ = t.await;
    }
    // Every connection holds a permit; all permits back means every connection ended.
    let all = u32::try_from(cfg.worker_connections.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(cfg.graceful_timeout, conns.acquire_many(all)).await.is_err() {
        tracing::warn!(
            "Graceful timeout reached with {} connection(s) still open; closing them",
            all as usize - conns.available_permits()
        );
    }
    how
}

async fn accept_loop<A: AppService>(
    listener: Accepting,
    app: A,
    cfg: ServeConfig,
    shared: Arc<Shared>,
    conns: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    // The listener's address, handed to apps through `ConnInfo` (WSGI's SERVER_NAME/PORT).
    let local = match &listener {
        Accepting::Tcp(l) => l.local_addr().ok(),
        Accepting::Unix(_) => None,
    };
    loop {
        // Take a connection slot before accepting: over the cap, new clients wait in the
        // kernel backlog (where another worker may take them) instead of being accepted
        // and starved.
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let accepted = tokio::select! {
            r = accept(&listener) => r,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((io, peer)) => {
                let svc = service::Wrapped::new(app.clone(), shared.clone(), peer, local);
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    serve_connection(io, svc, &cfg).await;
                    drop(permit);
                });
            }
            Err(e) => handle_accept_error(e).await,
        }
    }
}

/// A connected client of either family.
enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
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
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn serve_connection<A: AppService>(io: Stream, svc: service::Wrapped<A>, cfg: &ServeConfig) {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new());
    if cfg.keepalive.is_zero() {
        b.keep_alive(false);
        b.header_read_timeout(Duration::from_secs(30));
    } else {
        // hyper's header timer covers the keep-alive idle gap plus the next head, which
        // is Gunicorn's `keepalive` meaning.
        b.header_read_timeout(cfg.keepalive);
    }
    let peer = svc.peer();
    let result = match io {
        Stream::Tcp(s) => b.serve_connection(TokioIo::new(s), svc).await,
        Stream::Unix(s) => b.serve_connection(TokioIo::new(s), svc).await,
    };
    if let Err(e) = result {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}
