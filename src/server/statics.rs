//! `--static-map` in front of the app: [`Static`] answers requests under a mapped prefix
//! from `static_files` (decided synchronously, never reaching the app) and passes the
//! rest to the app; [`NoApp`] is the app of a static-only server.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;

use super::{AppService, BoxError};
use crate::static_files::{Config, FileBody, decide, to_response};

/// The app behind static files, or the lone "app" of a static-only server.
#[derive(Clone)]
pub(crate) struct Static<A> {
    app: A,
    cfg: Arc<Config>,
}

impl<A> Static<A> {
    pub(crate) fn new(app: A, cfg: Arc<Config>) -> Self {
        Static { app, cfg }
    }
}

impl<A: AppService> Service<Request<Incoming>> for Static<A> {
    type Response = Response<StaticBody<A::Body>>;
    type Error = A::Err;
    type Future = StaticFuture<A::Fut>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match self.cfg.mount_for(req.uri().path()) {
            Some(i) => {
                let uri = req.uri();
                let outcome = decide(
                    &self.cfg,
                    i,
                    req.method().as_str(),
                    uri.path(),
                    uri.query(),
                    req.headers(),
                );
                StaticFuture::File {
                    resp: Some(to_response(outcome, req.method() == http::Method::HEAD)),
                }
            }
            None => StaticFuture::App {
                fut: self.app.call(req),
            },
        }
    }
}

/// The app of `runicorn --static-map ...` without an APP_MODULE: 404 for every path no
/// mapping covers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NoApp;

impl Service<Request<Incoming>> for NoApp {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _req: Request<Incoming>) -> Self::Future {
        let mut r = Response::new(Full::new(Bytes::from_static(b"Not Found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        std::future::ready(Ok(r))
    }
}

pin_project_lite::pin_project! {
    /// The app's future, or a static-file answer (decided synchronously).
    #[project = StaticFutureProj]
    pub enum StaticFuture<F> {
        App { #[pin] fut: F },
        File { resp: Option<Response<FileBody>> },
    }
}

impl<F, B, E> Future for StaticFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<StaticBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            StaticFutureProj::App { fut } => fut
                .poll(cx)
                .map(|r| r.map(|r| r.map(|inner| StaticBody::App { inner }))),
            StaticFutureProj::File { resp } => match resp.take() {
                Some(r) => Poll::Ready(Ok(r.map(|inner| StaticBody::File { inner }))),
                None => Poll::Pending,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The app's body or a file's.
    #[project = StaticBodyProj]
    pub enum StaticBody<B> {
        App { #[pin] inner: B },
        File { inner: FileBody },
    }
}

impl<B> Body for StaticBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            StaticBodyProj::App { inner } => inner
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
            StaticBodyProj::File { inner } => Pin::new(inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            StaticBody::App { inner } => inner.is_end_stream(),
            StaticBody::File { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            StaticBody::App { inner } => inner.size_hint(),
            StaticBody::File { inner } => inner.size_hint(),
        }
    }
}
