//! The gevent worker (`-k gevent`, `gevent_wsgi`, `gevent_pywsgi`): one app thread per
//! worker runs gevent's hub, and every request runs in its own greenlet from a pool of
//! `--worker-connections`.
//!
//! ```text
//! tokio (the edge)                          hub thread (gevent, holds the GIL while busy)
//! request read whole ─ Job ─► Queue ─ eventfd ─► wait_read wakes the dispatcher greenlet
//!                                                take(): every queued Job, one GIL hold
//!      ◄── First (batched per hub turn) / Out ─── Pool.spawn(job): environ, app, iterate
//!      ◄── room in a full channel: eventfd ────── the greenlet parks in wait_read
//! ```
//!
//! The edge's thread never touches Python or gevent: it pushes into a Rust queue and
//! writes an eventfd, which the hub waits on like on a socket (gevent's async watchers
//! would need the GIL on the sending side). A response channel that is full (a slow
//! reader) parks only its greenlet: a tokio task finishes the send and writes a
//! per-wait eventfd that greenlet waits on. Patching (`monkey.patch_all()`) happens on
//! the hub thread before the app is imported, so that thread is both CPython's and
//! gevent's main thread; with `--preload` the master patches before its import.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};
use pyo3::prelude::*;
use tokio::sync::mpsc;

use super::environ::{self, Constants};
use super::response::{self, Out, Outbox};
use super::threads::{self, Job};
use crate::worker::BootError;

/// The oldest gevent Gunicorn 27's gevent worker accepts.
const MIN_GEVENT: [u32; 3] = [24, 10, 1];

/// The dispatcher loop (Python: it waits on gevent's hub).
const LOOP_SOURCE: &std::ffi::CStr = pyo3::ffi::c_str!(include_str!("green.py"));

/// What `-k gevent` needs and did not find: Gunicorn's words, then why.
pub(super) fn missing(why: &str) -> String {
    format!(
        "class uri 'gevent' invalid or not found: gevent worker requires gevent {}.{}.{} or \
         higher ({why})",
        MIN_GEVENT[0], MIN_GEVENT[1], MIN_GEVENT[2]
    )
}

/// Imports gevent, checks its version and patches the standard library
/// (`monkey.patch_all()`, as Gunicorn's gevent worker does before loading the app).
pub(super) fn patch(py: Python<'_>) -> Result<(), String> {
    let gevent = py.import("gevent").map_err(|e| missing(&e.to_string()))?;
    let version: String = gevent
        .getattr("__version__")
        .and_then(|v| v.extract())
        .map_err(|e| missing(&e.to_string()))?;
    let parsed: Vec<u32> = version
        .split('.')
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
        .collect();
    if parsed.as_slice() < MIN_GEVENT.as_slice() {
        return Err(missing(&format!("found gevent {version}")));
    }
    py.import("gevent.monkey")
        .and_then(|m| m.call_method0("patch_all"))
        .map(drop)
        .map_err(|e| crate::python::format_exception(py, &e))
}

/// Requests handed from the edge to the hub.
pub(super) struct Queue {
    jobs: Mutex<VecDeque<Box<Job>>>,
    wake: EventFd,
    /// A wake-up is written and not yet consumed: further jobs need none.
    signalled: AtomicBool,
    /// The hub runs; false once it ended (its jobs could never be answered).
    alive: AtomicBool,
    /// Told once the hub's loop ended while the worker served: the requests it held can
    /// never be answered, so the worker stops at once rather than wait for them.
    pub(super) gone: Arc<tokio::sync::Notify>,
}

impl Queue {
    fn new() -> std::io::Result<Queue> {
        Ok(Queue {
            jobs: Mutex::new(VecDeque::new()),
            wake: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
            signalled: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            gone: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Queues a request for the hub; never blocks. False once the hub is gone.
    pub(super) fn submit(&self, job: Job) -> bool {
        if !self.alive.load(Ordering::Acquire) {
            return false;
        }
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(Box::new(job));
        self.wake();
        true
    }

    /// Wakes the dispatcher (from any thread) unless a wake-up is already pending.
    fn wake(&self) {
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // Fails only when the counter would overflow: a wake-up is pending then.
            let _ = self.wake.write(1);
        }
    }

    fn is_empty(&self) -> bool {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The hub ended: drop what it will never take (each reply closes: a 500).
    fn close(&self) {
        self.alive.store(false, Ordering::Release);
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// What a greenlet needs to wait for room in a full response channel.
struct Cooperative {
    wait_read: Py<PyAny>,
    runtime: tokio::runtime::Handle,
}

/// Set on the hub thread of a gevent worker (one host per worker process).
static COOPERATIVE: OnceLock<Cooperative> = OnceLock::new();

/// Sends `msg` when `tx` is full, parking only the calling greenlet; `Err(msg)` when this
/// is not a gevent worker (the caller blocks its thread instead). `Ok(false)`: the
/// client is gone, or the greenlet was interrupted while waiting (killed, a
/// `gevent.Timeout`), which abandons the response.
pub(super) fn send_when_room(
    py: Python<'_>,
    tx: &mpsc::Sender<Out>,
    msg: Out,
) -> Result<bool, Out> {
    let Some(c) = COOPERATIVE.get() else {
        return Err(msg);
    };
    let Ok(done) = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK) else {
        return Ok(false);
    };
    let done = Arc::new(done);
    let sent = Arc::new(AtomicBool::new(false));
    let (tx, d, s) = (tx.clone(), done.clone(), sent.clone());
    c.runtime.spawn(async move {
        s.store(tx.send(msg).await.is_ok(), Ordering::Release);
        let _ = d.write(1);
    });
    loop {
        if let Err(e) = c.wait_read.call1(py, (done.as_raw_fd(),)) {
            tracing::debug!("a greenlet stopped waiting for a slow client: {e}");
            return Ok(false);
        }
        if done.read().is_ok() {
            return Ok(sent.load(Ordering::Acquire));
        }
    }
}

/// Greenlets running requests, against `--worker-connections`.
struct Slots {
    running: Cell<usize>,
    capacity: usize,
    queue: Arc<Queue>,
}

/// One running greenlet's place: freed when its request is done (or when a job that never
/// ran is freed), not when Python frees the job object, which a variable may keep.
struct Slot(std::rc::Rc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        let s = &self.0;
        let full = s.running.get() >= s.capacity;
        s.running.set(s.running.get() - 1);
        // Requests left queued while every slot was taken: take them now.
        if full && !s.queue.is_empty() {
            s.queue.wake();
        }
    }
}

/// Runs the queued requests as greenlets (lives on the hub thread only).
#[pyclass(unsendable, module = "runicorn")]
struct Dispatcher {
    slots: std::rc::Rc<Slots>,
    app: Py<PyAny>,
    constants: Constants,
    cache: RefCell<environ::Cache>,
    request_hooks: bool,
    /// Where this hub's greenlets queue their response heads.
    outbox: Arc<Outbox>,
}

#[pymethods]
impl Dispatcher {
    /// A request is queued that `take` would return (the edge wrote the wake-up since the
    /// last take): one atomic load, no system call.
    fn has_queued(&self) -> bool {
        self.slots.queue.signalled.load(Ordering::Acquire)
    }

    /// Hands the heads queued so far to the edge and yields the core to it (see
    /// [`Outbox::deliver_now`]).
    fn deliver_now(&self) {
        self.outbox.deliver_now();
    }

    /// Queued requests whose client is still there, as callables for greenlets: as many
    /// as there are free slots.
    fn take(slf: &Bound<'_, Self>) -> Vec<GreenJob> {
        let this = slf.borrow();
        let slots = &this.slots;
        let q = &slots.queue;
        // Consume the wake-up before draining, so a job queued after the drain wakes us.
        let _ = q.wake.read();
        q.signalled.store(false, Ordering::Release);
        let mut taken = Vec::new();
        let mut queued = q.jobs.lock().unwrap_or_else(|p| p.into_inner());
        // One at a time: a request whose client left takes no slot.
        while slots.running.get() < slots.capacity {
            let Some(job) = queued.pop_front() else { break };
            if let Some(job) = job.still_wanted() {
                slots.running.set(slots.running.get() + 1);
                taken.push(GreenJob {
                    dispatcher: slf.clone().unbind(),
                    job: Some(job),
                    slot: Some(Slot(slots.clone())),
                });
            }
        }
        drop(queued);
        taken
    }
}

/// One request, run by its own greenlet.
#[pyclass(unsendable, module = "runicorn")]
struct GreenJob {
    dispatcher: Py<Dispatcher>,
    job: Option<Box<Job>>,
    slot: Option<Slot>,
}

#[pymethods]
impl GreenJob {
    fn __call__(&mut self, py: Python<'_>) {
        let _slot = self.slot.take();
        // The client may have left since it was taken (another greenlet ran meanwhile).
        let Some(job) = self.job.take().and_then(Job::still_wanted) else {
            return;
        };
        let d = self.dispatcher.bind(py).borrow();
        crate::pyconf::hooks::REQUESTS.fetch_add(1, Ordering::Relaxed);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            threads::handle(py, &d.app, &d.constants, &d.cache, job, d.request_hooks)
        }));
        if run.is_err() {
            tracing::error!("a greenlet panicked while handling a request; it answered 500");
        }
    }
}

/// The hub's end-of-turn callback: wakes the edge for the response heads its greenlets
/// queued in the [`Outbox`].
#[pyclass(unsendable, module = "runicorn")]
struct FlushHeads(Arc<Outbox>);

#[pymethods]
impl FlushHeads {
    fn __call__(&self) {
        self.0.flush();
    }
}

/// The heartbeat greenlet's beat.
#[pyfunction]
fn loop_beat() {
    crate::scoreboard::heartbeat::LOOP_BEAT_MS
        .store(crate::scoreboard::monotonic_ms().max(1), Ordering::Relaxed);
}

/// What the hub thread must do before serving: initialise Python, patch, import the app
/// (or take the preloaded one), build the environ constants.
pub(super) type Boot = Box<dyn FnOnce() -> Result<(Py<PyAny>, Constants), BootError> + Send>;

/// Starts the hub thread; returns once the app is loaded (or failed to).
pub(super) fn start(
    boot: Boot,
    pool_size: usize,
    beat_every: Duration,
) -> Result<Arc<Queue>, BootError> {
    let queue = Arc::new(
        Queue::new().map_err(|e| BootError::Worker(format!("cannot create an eventfd: {e}")))?,
    );
    let runtime = tokio::runtime::Handle::current();
    // Greenlets that finish in one turn of the hub hand their heads over together.
    let outbox = Outbox::new();
    runtime.spawn(outbox.clone().deliver());
    let (booted_tx, booted_rx) = std::sync::mpsc::channel::<Result<(), BootError>>();
    let q = queue.clone();
    std::thread::Builder::new()
        .name("wsgi-gevent".into())
        .spawn(move || {
            let (app, constants) = match boot() {
                Ok(b) => b,
                Err(e) => {
                    let _ = booted_tx.send(Err(e));
                    return;
                }
            };
            Python::attach(|py| {
                let ended = (|| -> PyResult<()> {
                    let request_hooks =
                        crate::hooks::has("pre_request") || crate::hooks::has("post_request");
                    let cache = RefCell::new(environ::Cache::new(py, &constants)?);
                    let slots = std::rc::Rc::new(Slots {
                        running: Cell::new(0),
                        capacity: pool_size.max(1),
                        queue: q.clone(),
                    });
                    let dispatcher = Py::new(
                        py,
                        Dispatcher {
                            slots,
                            app,
                            constants,
                            cache,
                            request_hooks,
                            outbox: outbox.clone(),
                        },
                    )?;
                    let code = pyo3::types::PyModule::from_code(
                        py,
                        LOOP_SOURCE,
                        c"runicorn_gevent_loop.py",
                        c"runicorn_gevent_loop",
                    )?;
                    let run_callback = py
                        .import("gevent")?
                        .call_method0("get_hub")?
                        .getattr("loop")?
                        .getattr("run_callback")?;
                    outbox.attach(
                        run_callback.unbind(),
                        Py::new(py, FlushHeads(outbox.clone()))?.into_any(),
                    );
                    response::batch_heads_on_this_thread(outbox);
                    let wait_read = py.import("gevent.socket")?.getattr("wait_read")?.unbind();
                    let _ = COOPERATIVE.set(Cooperative { wait_read, runtime });
                    let beat = wrap_pyfunction!(loop_beat, py)?;
                    loop_beat();
                    let _ = booted_tx.send(Ok(()));
                    code.getattr("serve")?.call1((
                        dispatcher,
                        q.wake.as_raw_fd(),
                        beat,
                        beat_every.as_secs_f64(),
                    ))?;
                    Ok(())
                })();
                q.close();
                // Read while this thread's Python state still holds the greenlets whose
                // frames the traceback names (leaving `attach` would free that state and
                // their frame stacks with it: reading the traceback after did segfault).
                let text = match ended {
                    Err(e) => crate::python::format_exception(py, &e),
                    Ok(()) => "its loop returned".to_string(),
                };
                // Still booting: the boot fails with the reason, which the worker logs once
                // (as Gunicorn's "Exception in worker process"). Serving: the requests the
                // hub held will never be answered and new ones could only get a 500, so
                // the worker says why and stops at once; the master replaces it.
                if booted_tx
                    .send(Err(BootError::Worker(text.clone())))
                    .is_err()
                {
                    tracing::error!("the gevent hub stopped: {text}");
                    // A permit: the worker may not be waiting for it yet.
                    q.gone.notify_one();
                    // This thread neither ends nor leaves `attach` while the worker
                    // drains: its greenlets' saved stacks and Python state stay intact.
                    // It gives up the GIL, which the worker's exit hooks need.
                    py.detach(|| {
                        loop {
                            std::thread::park();
                        }
                    });
                }
            });
        })
        .map_err(|e| BootError::Worker(format!("cannot start the gevent hub thread: {e}")))?;
    match booted_rx.recv() {
        Ok(Ok(())) => Ok(queue),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BootError::Worker(
            "the gevent hub thread ended at start".into(),
        )),
    }
}
