//! A service for the integration tests (and for poking at the process model by hand):
//!
//! - `/`          → `Hello, World!`
//! - `/pid`       → the worker's pid
//! - `/env?KEY`   → the worker's value of environment variable KEY
//! - `/sleep?ms=N`→ answers after N ms without blocking the worker (in-flight requests)
//! - `/wedge?ms=N`→ blocks the worker's event loop for N ms (default 60 s), so its
//!   heartbeat stops: the test-only way to make a worker hang
//! - `/panic`     → panics inside the handler
//! - `/big?ms=N`  → an N-byte body (default 1000; the parameter name is shared)
//! - `/upload`    → reads the whole request body, then answers `read N`
//! - `/early`     → answers at once (`started` as the first chunk), then reads the
//!   whole request body and ends the response with `read N` (or `failed` if the read did)

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

fn millis(req: &Request<Incoming>, default: u64) -> u64 {
    req.uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A response body fed by a task.
struct Chan(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for Chan {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// The body's length, or None if reading it failed.
async fn read_all(body: Incoming) -> Option<usize> {
    body.collect().await.ok().map(|b| b.to_bytes().len())
}

type ProbeBody = Either<Full<Bytes>, Chan>;

async fn probe(req: Request<Incoming>) -> Result<Response<ProbeBody>, Infallible> {
    let body = match req.uri().path() {
        "/upload" => match read_all(req.into_body()).await {
            Some(n) => format!("read {n}"),
            None => "failed".to_string(),
        },
        "/early" => {
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(b"started\n")).await;
                let end = match read_all(req.into_body()).await {
                    Some(n) => format!("read {n}"),
                    None => "failed".to_string(),
                };
                let _ = tx.send(Bytes::from(end)).await;
            });
            return Ok(Response::new(Either::Right(Chan(rx))));
        }
        "/pid" => std::process::id().to_string(),
        "/env" => {
            let key = req.uri().query().unwrap_or_default();
            std::env::var(key).unwrap_or_else(|_| "<unset>".into())
        }
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
        "/big" => "x".repeat(millis(&req, 1000) as usize),
        _ => "Hello, World!".to_string(),
    };
    Ok(Response::new(Either::Left(Full::new(Bytes::from(body)))))
}

/// `PROBE_BOOT` (set by tests on the child's environment) makes every worker's boot
/// misbehave: `fail` (exit 3), `load-fail` (exit 4), `crash` (exit 1 at once, as a worker
/// whose interpreter aborts would) or `sleep:MS` (a slow-loading app).
fn main() -> std::process::ExitCode {
    runicorn::run_with(|| {
        match std::env::var("PROBE_BOOT").ok().as_deref() {
            Some("fail") => {
                return Err(runicorn::BootError::Worker(
                    "probe: boot failure requested".into(),
                ));
            }
            Some("load-fail") => {
                return Err(runicorn::BootError::App(
                    "probe: app load failure requested".into(),
                ));
            }
            Some("crash") => std::process::exit(1),
            Some(s) if s.starts_with("sleep:") => {
                let ms = s[6..].parse().unwrap_or(0);
                std::thread::sleep(Duration::from_millis(ms));
            }
            _ => {}
        }
        Ok(service_fn(probe))
    })
}
