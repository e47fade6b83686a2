//! `Hello, World!` (text/plain) on every path, served with runicorn's whole command line,
//! configuration and process model. Benchmarks use it:
//! `target/release/examples/hello -b 127.0.0.1:8000 -w 2`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

fn main() -> std::process::ExitCode {
    runicorn::run(service_fn(hello))
}
