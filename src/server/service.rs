//! The hyper `Service` every app runs behind: counts requests toward `max_requests`, adds
//! the `Server` header, and forces `Connection: close` while the worker drains.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::header::{CONNECTION, SERVER};
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::service::Service;

use super::{AppService, Shared};

/// The remote end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A unix-socket client (no address).
    Unix,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("unix socket"),
        }
    }
}

static SERVER_NAME: HeaderValue = HeaderValue::from_static("runicorn");
static CLOSE: HeaderValue = HeaderValue::from_static("close");

/// The per-connection wrapper around an app.
#[derive(Clone)]
pub(super) struct Wrapped<A> {
    app: A,
    shared: Arc<Shared>,
    peer: Peer,
}

impl<A> Wrapped<A> {
    pub(super) fn new(app: A, shared: Arc<Shared>, peer: Peer) -> Self {
        Wrapped { app, shared, peer }
    }

    pub(super) fn peer(&self) -> Peer {
        self.peer
    }
}

impl<A: AppService> Service<Request<Incoming>> for Wrapped<A> {
    type Response = Response<A::Body>;
    type Error = A::Err;
    type Future = Respond<A::Fut>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.shared.count_request();
        Respond { inner: self.app.call(req), shared: self.shared.clone() }
    }
}

pin_project_lite::pin_project! {
    /// Future of one response: the app's future, then the header fix-ups.
    pub(super) struct Respond<F> {
        #[pin]
        inner: F,
        shared: Arc<Shared>,
    }
}

impl<F, B, E> Future for Respond<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = std::task::ready!(this.inner.poll(cx))?;
        let headers = resp.headers_mut();
        if !headers.contains_key(SERVER) {
            headers.insert(SERVER, SERVER_NAME.clone());
        }
        if this.shared.draining.load(Ordering::Relaxed) {
            headers.insert(CONNECTION, CLOSE.clone());
        }
        Poll::Ready(Ok(resp))
    }
}
