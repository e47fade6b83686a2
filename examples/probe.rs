//! A service for the integration tests (and for poking at the process model by hand):
//!
//! - `/`          → `Hello, World!`
//! - `/pid`       → the worker's pid
//! - `/sleep?ms=N`→ answers after N ms without blocking the worker (in-flight requests)
//! - `/wedge?ms=N`→ blocks the worker's event loop for N ms (default 60 s), so its
//!   heartbeat stops: the test-only way to make a worker hang
//! - `/panic`     → panics inside the handler

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

fn millis(req: &Request<Incoming>, default: u64) -> u64 {
    req.uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn probe(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/pid" => std::process::id().to_string(),
        "/sleep" => {
            let ms = millis(&req, 1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("slept {ms}")
        }
        "/wedge" => {
            // Deliberately blocks the runtime thread: nothing else in this worker runs,
            // including its heartbeat.
            std::thread::sleep(Duration::from_millis(millis(&req, 60_000)));
            "unwedged".to_string()
        }
        "/panic" => panic!("probe: asked to panic"),
        _ => "Hello, World!".to_string(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> std::process::ExitCode {
    runicorn::run(service_fn(probe))
}
