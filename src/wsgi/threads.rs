//! The app threads: dedicated OS threads (never tokio's) that run Python. The tokio side
//! queues fully read requests on a channel and awaits the response on another, so it
//! never waits for the GIL; each app thread stays attached to the interpreter for its
//! whole life (keeping its thread state and `threading.local` data) and releases the GIL
//! only while it waits for work or for a slow client.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use http::request::Parts;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::environ::{self, Constants};
use super::input::{Body, Input};
use super::response::{self, Reply, StartResponse};

/// One request, read whole, waiting for an app thread.
pub(super) struct Job {
    pub parts: Parts,
    pub body: Body,
    /// `wsgi.url_scheme` is https (a trusted proxy said so).
    pub https: bool,
    /// The peer is a trusted proxy: its `--forwarder-headers` reach the environ.
    pub trusted: bool,
    /// `SCRIPT_NAME` from a trusted proxy's header, replacing the process environment's.
    pub script_name: Option<String>,
    pub reply: Reply,
    /// Holds a place in the worker's capacity until the app is done with the request.
    pub ticket: crate::server::Ticket,
    /// The client's socket, asked whether the client left before the app starts.
    pub client: Option<crate::server::ClientSocket>,
    /// When the edge queued it ([`crate::scoreboard::monotonic_coarse_ms`]).
    pub queued_ms: u64,
}

/// A keep-alive connection's next request that waited less than this is run without
/// asking its socket whether the client left: that peek is a system call, and a client
/// leaving within a few milliseconds of sending is no different from one leaving just
/// after the app started. Requests that really queued (every app thread or greenlet slot
/// busy), and first requests (which may have waited in the listen backlog), are asked.
const PEEK_AFTER_MS: u64 = 10;

impl Job {
    /// Whether the request is to be run: false when its client left while it waited (the
    /// edge then gets nginx's 499 for the access log and metrics; the app never sees it).
    /// A keep-alive follow-up queued for less than [`PEEK_AFTER_MS`] is not checked.
    pub(super) fn still_wanted(self: Box<Self>) -> Option<Box<Self>> {
        if self.reply.is_closed() {
            return None;
        }
        let asked = self.client.filter(|c| {
            let waited = crate::scoreboard::monotonic_coarse_ms().saturating_sub(self.queued_ms);
            !c.follow_up() || waited >= PEEK_AFTER_MS
        });
        if asked.is_some_and(|c| c.left()) {
            let _ = self.reply.send(response::departed());
            return None;
        }
        Some(self)
    }
}

/// The queue in front of the app threads.
#[derive(Clone)]
pub(super) struct Pool {
    /// Requests of the edge's current pass, handed to the channel together when the
    /// doorbell rings: each send to an idle app thread is a futex wake-up that lets the
    /// thread preempt the edge for one request.
    /// Boxed here already: the channel moves boxes, and a Job is a few hundred bytes.
    #[allow(clippy::vec_box)]
    staged: Arc<Mutex<Vec<Box<Job>>>>,
    bell: Arc<crate::server::doorbell::Doorbell>,
}

impl Pool {
    /// Starts `n` threads serving `app`. With `sync` (Gunicorn's sync worker: one thread),
    /// each request marks the worker busy, so the heartbeat stops advancing while it runs
    /// and `--timeout` kills a worker stuck in one request.
    pub(super) fn start(
        n: usize,
        sync: bool,
        app: Py<PyAny>,
        constants: Constants,
    ) -> std::io::Result<Pool> {
        // Boxed: a Job (the request head) is a few hundred bytes, copied at every move
        // through the queue; a pointer is not.
        let (tx, rx) = mpsc::channel::<Box<Job>>();
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new((app, constants));
        // Heads the threads make while the edge has not yet taken the last ones ride on
        // the same wake-up of the edge (each wake of a tokio runtime from another thread
        // is an eventfd write).
        let outbox = response::Outbox::new();
        tokio::spawn(outbox.clone().deliver());
        for i in 0..n.max(1) {
            let rx = rx.clone();
            let shared = shared.clone();
            let outbox = outbox.clone();
            std::thread::Builder::new()
                .name(format!("wsgi-{i}"))
                .spawn(move || {
                    response::batch_heads_on_this_thread(outbox);
                    serve(&rx, sync, &shared.0, &shared.1)
                })?;
        }
        let staged = Arc::new(Mutex::new(Vec::<Box<Job>>::with_capacity(64)));
        let s = staged.clone();
        let mut batch = Vec::with_capacity(64);
        let bell = crate::server::doorbell::Doorbell::new(move || {
            std::mem::swap(
                &mut *s.lock().unwrap_or_else(|p| p.into_inner()),
                &mut batch,
            );
            let mut lost = 0;
            for job in batch.drain(..) {
                // Fails only once every app thread is gone: the job's reply closes (a 500).
                lost += usize::from(tx.send(job).is_err());
            }
            if lost > 0 {
                tracing::error!("no application thread is left to serve {lost} request(s)");
            }
        });
        Ok(Pool { staged, bell })
    }

    /// Queues a request for the app threads, which get it when the edge's pass ends;
    /// never blocks.
    pub(super) fn submit(&self, job: Job) {
        self.staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(job));
        self.bell.ring_soon();
    }
}

fn serve(rx: &Mutex<mpsc::Receiver<Box<Job>>>, sync: bool, app: &Py<PyAny>, c: &Constants) {
    use crate::scoreboard::{heartbeat::BUSY_SINCE_MS, monotonic_ms};
    use std::sync::atomic::Ordering;
    // Hooks are fixed for a worker's life: look once, not per request.
    let request_hooks = crate::hooks::has("pre_request") || crate::hooks::has("post_request");
    Python::attach(|py| {
        let cache = match environ::Cache::new(py, c) {
            Ok(cache) => std::cell::RefCell::new(cache),
            Err(e) => {
                tracing::error!(
                    "cannot prepare the environ: {}",
                    crate::python::format_exception(py, &e)
                );
                return;
            }
        };
        loop {
            // Under load a job is usually waiting: take it without releasing the GIL. Only
            // try_lock here: blocking on the queue while holding the GIL would stall every
            // other app thread until the next request arrives.
            let ready = rx.try_lock().ok().and_then(|q| q.try_recv().ok());
            let job = match ready {
                Some(job) => Ok(job),
                None => py.detach(|| rx.lock().unwrap_or_else(|p| p.into_inner()).recv()),
            };
            let Ok(job) = job else { return };
            // A client that left while its request was queued needs no answer.
            let Some(job) = job.still_wanted() else {
                continue;
            };
            if sync {
                BUSY_SINCE_MS.store(monotonic_ms().max(1), Ordering::Relaxed);
            }
            // A panic (a bug of ours, or one surfacing through pyo3) must not kill the
            // thread: the request gets a 500 (its reply channel is dropped) and the
            // thread takes the next one.
            crate::pyconf::hooks::REQUESTS.fetch_add(1, Ordering::Relaxed);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handle(py, app, c, &cache, job, request_hooks)
            }));
            if sync {
                BUSY_SINCE_MS.store(0, Ordering::Relaxed);
            }
            if run.is_err() {
                tracing::error!(
                    "an application thread panicked while handling a request; it answered 500"
                );
            }
        }
    });
}

/// Runs the app for one request (on an app thread, or in a greenlet on the hub thread:
/// the cache is borrowed only while the environ is built, which never switches).
pub(super) fn handle(
    py: Python<'_>,
    app: &Py<PyAny>,
    c: &Constants,
    cache: &std::cell::RefCell<environ::Cache>,
    job: Box<Job>,
    request_hooks: bool,
) {
    let Job {
        parts,
        body,
        https,
        trusted,
        script_name,
        reply,
        ticket: _ticket,
        client: _,
        queued_ms: _,
    } = *job;
    let req = request_hooks
        .then(|| crate::pyconf::hooks::request_object(py, &parts, https))
        .flatten();
    if let Some(req) = &req {
        crate::pyconf::hooks::pre_request(py, req);
    }
    let body_len = body.len();
    let sr = match Bound::new(py, StartResponse::new(reply)) {
        Ok(sr) => sr,
        Err(e) => return log_error(py, &parts, &e),
    };
    let input = match Bound::new(py, Input::new(body)) {
        Ok(i) => i.into_any(),
        Err(e) => return log_error(py, &parts, &e),
    };
    let forwarded = environ::Forwarded {
        trusted,
        script_name: script_name.as_deref(),
    };
    let environ = environ::build(
        py,
        c,
        &mut cache.borrow_mut(),
        &parts,
        body_len,
        https,
        forwarded,
        input,
    );
    let result = match &environ {
        Ok(env) => app.bind(py).call1((env, &sr)),
        Err(e) => Err(e.clone_ref(py)),
    };
    let outcome = match result {
        Ok(iterable) => {
            let streamed = response::stream(py, &sr, &iterable, c.sendfile);
            // PEP 3333: close() is called whatever happened, even on a client that left.
            // An exact list or tuple (what most apps return) has no close(): asking would
            // raise and discard an AttributeError on every request.
            let plain = iterable.is_exact_instance_of::<PyList>()
                || iterable.is_exact_instance_of::<PyTuple>();
            let has_close = if plain {
                Ok(false)
            } else {
                iterable.hasattr(pyo3::intern!(py, "close"))
            };
            let closed = match has_close {
                Ok(true) => iterable.call_method0(pyo3::intern!(py, "close")).map(drop),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let (Err(_), Err(e)) = (&streamed, &closed) {
                log_error(py, &parts, e); // both failed: neither traceback may be lost
            }
            streamed.and(closed)
        }
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        log_error(py, &parts, &e);
        if let Ok(mut sr) = sr.try_borrow_mut() {
            sr.fail(py);
        }
    }
    if let Some(req) = &req {
        let (status, headers, sent) = sr
            .try_borrow()
            .map(|s| s.outcome(py))
            .unwrap_or((None, None, 0));
        let env = environ.as_ref().ok().map(|e| e.as_any().clone());
        crate::pyconf::hooks::post_request(py, req, env.as_ref(), status, headers, sent);
    }
}

/// Gunicorn's `Error handling request <uri>` with the traceback.
fn log_error(py: Python<'_>, parts: &Parts, e: &PyErr) {
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_string());
    tracing::error!(
        "Error handling request {target}\n{}",
        crate::python::format_exception(py, e)
    );
}
