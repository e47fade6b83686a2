//! One client connection's edge: the [`GateIo`] adapter between the socket and hyper that
//! feeds every inbound byte through the strict HTTP/1 [`Gate`](crate::http::gate::Gate),
//! and enforces the deadlines hyper lacks (keep-alive idle, header, body, send).
//!
//! ```text
//! socket ──► GateIo::poll_read ──► Gate::feed ──► validated bytes ──► hyper http1
//!   ▲                                  └─► Reject: answered in Gunicorn's format, then close
//!   └──── GateIo::poll_write ◄──────────────────────────────────────── hyper responses
//! ```
//!
//! Deadlines (all per connection, none per byte):
//! - **idle**: after a response, the next request's first byte must come within
//!   `--keep-alive` seconds;
//! - **header**: a complete head within `--header-timeout` of accept, or of its first byte
//!   on a kept-alive connection (never before the end of the previous response), so a
//!   long `--keep-alive` (a load balancer's idle timeout plus a margin) is honoured and a
//!   slowloris still gets only `--header-timeout` once it starts a head;
//! - **body**: no gap longer than `--body-timeout` between body reads, and at least
//!   `--body-min-rate` bytes/s on average once the body has taken 5 s (a 1 byte/s upload
//!   is cut, a fast one never is); answered 408 when nothing was sent yet;
//! - **send**: a client that stops reading for `--send-timeout` is dropped.
//!
//! A rejected head is answered after hyper has finished everything before it: the gate
//! reports EOF to hyper, hyper completes and hands the socket back (`without_shutdown`),
//! and the error response is written then, so it can never interleave with a response.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::http::error::Reject;
use crate::http::gate::{Event, Gate};
use crate::http::head::Framing;
use crate::http::proxy::ProxyInfo;
pub(crate) use crate::scoreboard::edge::EdgeStats;
use crate::static_files::edge::SendFile;

mod config;
mod stall;
mod state;
mod static_edge;

pub(crate) use config::EdgeConfig;
pub(super) use config::NEVER_SECS;
pub(in crate::server) use stall::Stall;
pub(crate) use state::{ConnState, Proto};

thread_local! {
    /// Read buffer shared by every connection of a worker thread.
    static SCRATCH: std::cell::RefCell<Box<[u8]>> = std::cell::RefCell::new(vec![0u8; 16 * 1024].into_boxed_slice());
}

/// Time a body may run before `--body-min-rate` applies (a TCP slow start, a pause
/// while the client reads a file).
pub(super) const RATE_GRACE: Duration = Duration::from_secs(5);

/// How long a keep-alive connection waits between requests before hyper lets go of it
/// (see [`GateIo::is_parked`]). A client that keeps the connection busy (a load balancer,
/// a page's burst of requests) answers within milliseconds and never parks; one that
/// went quiet gives back hyper's read and write buffers (8 KiB each) while it waits.
const PARK_AFTER: Duration = Duration::from_millis(100);

/// Where the current message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Passing a request body: started at, bytes so far, last progress.
    Body {
        started: Instant,
        bytes: u64,
        last: Instant,
    },
}

/// The socket as hyper sees it.
pub(crate) struct GateIo<S> {
    io: S,
    gate: Gate,
    cfg: std::sync::Arc<EdgeConfig>,
    stats: std::sync::Arc<EdgeStats>,
    state: std::sync::Arc<ConnState>,
    peer_ip: String,
    /// Validated bytes not yet read by hyper.
    out: Vec<u8>,
    out_pos: usize,
    events: Vec<Event>,
    phase: Phase,
    /// A refused head to answer once hyper has finished.
    pending_reject: Option<Reject>,
    /// A refused body chunk, answered right away when nothing was sent for its request.
    body_reject: Option<Reject>,
    /// hyper has written bytes since the current request's head was passed on.
    wrote_since_head: bool,
    /// Bytes written but not yet flushed by hyper.
    unflushed: bool,
    /// Reads return EOF from now on.
    eof: bool,
    /// No request completed yet (the header deadline counts from accept).
    first: bool,
    /// When the first byte of a later request's head arrived (its header deadline counts
    /// from here, or from the end of the previous response if that is later).
    head_began: Instant,
    read_timer: Pin<Box<Sleep>>,
    read_deadline: Option<Instant>,
    /// The last poll_read returned Pending (hyper is waiting on the client), and when
    /// the last poll_read returned: body deadlines count only time hyper spent waiting,
    /// so an app that reads its upload late is not mistaken for a slow client.
    waiting: bool,
    last_return: Instant,
    write_timer: Pin<Box<Sleep>>,
    write_stall: stall::Stall,
    /// Where lines for refused requests go (Gunicorn writes none; users asked for them).
    access_log: Option<std::sync::Arc<crate::access_log::AccessLog>>,
    peer: Option<SocketAddr>,
    /// Static files answered here, below hyper (plaintext `--static-map` only).
    statics: Option<Box<static_edge::Statics>>,
    /// The connection left HTTP/1 (a WebSocket): reads pass straight through, no
    /// header or body deadline applies; the send timeout still does.
    upgraded: bool,
    /// `Upgrade: h2c` requests may switch this connection to HTTP/2.
    h2c_upgrade: bool,
    /// hyper was told EOF because the connection went idle (see [`GateIo::is_parked`]).
    parked: bool,
    /// An `Upgrade: h2c` request kept from hyper: its stream-1 frames, for the HTTP/2
    /// connection that takes over once hyper has finished the requests before it.
    h2c: Option<Vec<u8>>,
}

impl<S> GateIo<S> {
    pub(super) fn new(
        io: S,
        peer: Option<SocketAddr>,
        cfg: std::sync::Arc<EdgeConfig>,
        stats: std::sync::Arc<EdgeStats>,
        state: std::sync::Arc<ConnState>,
        access_log: Option<std::sync::Arc<crate::access_log::AccessLog>>,
    ) -> GateIo<S> {
        let mut gate_cfg = cfg.gate.clone();
        // Unix-socket peers are local: trusted, as Gunicorn trusts them.
        let ip = peer.map(|p| p.ip());
        gate_cfg.proxy_allowed = ip.is_none_or(|ip| cfg.proxy_allow.contains(ip));
        gate_cfg.rules.peer_trusted = ip.is_none_or(|ip| cfg.forwarded_allow.contains(ip));
        let peer_ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        gate_cfg.peer_ip = peer_ip.clone();
        let far = tokio::time::Instant::now() + Duration::from_secs(NEVER_SECS);
        GateIo {
            io,
            gate: Gate::new(gate_cfg),
            cfg,
            stats,
            state,
            peer_ip,
            out: Vec::new(),
            out_pos: 0,
            events: Vec::new(),
            phase: Phase::Head,
            pending_reject: None,
            body_reject: None,
            wrote_since_head: false,
            unflushed: false,
            eof: false,
            first: true,
            head_began: Instant::now(),
            read_timer: Box::pin(tokio::time::sleep_until(far)),
            read_deadline: None,
            waiting: false,
            last_return: Instant::now(),
            write_timer: Box::pin(tokio::time::sleep_until(far)),
            write_stall: stall::Stall::default(),
            access_log,
            peer,
            statics: None,
            upgraded: false,
            h2c_upgrade: false,
            parked: false,
            h2c: None,
        }
    }

    /// Lets an `Upgrade: h2c` request switch the connection to HTTP/2 (see
    /// `server::h2c`): a trusted peer, on plaintext, with upgrade enabled.
    pub(super) fn allow_h2c_upgrade(&mut self) {
        self.h2c_upgrade = true;
    }

    /// The stream-1 frames of an `Upgrade: h2c` request the edge took, once hyper is done.
    pub(super) fn take_h2c(&mut self) -> Option<Vec<u8>> {
        self.h2c.take()
    }

    /// The app answered the upgrade request with 101 and hyper let go of the socket:
    /// from now on bytes pass through untouched. `read_ahead` is what hyper had read
    /// but not used; it goes first, then what the gate held back.
    pub(super) fn pass_through(&mut self, read_ahead: &[u8]) {
        let mut held = Vec::new();
        let mut events = Vec::new();
        self.gate.upgrade_decided(true, &mut held, &mut events);
        let mut out = Vec::with_capacity(read_ahead.len() + self.out.len() + held.len());
        out.extend_from_slice(read_ahead);
        out.extend_from_slice(self.out.get(self.out_pos..).unwrap_or_default());
        out.extend_from_slice(&held);
        self.out = out;
        self.out_pos = 0;
        self.events.clear();
        self.phase = Phase::Head;
        self.eof = false;
        self.upgraded = true;
    }

    /// Writes the access-log line of a request the edge answered itself: status, peer,
    /// time, pid and the error body's size; `-` for what was never parsed.
    pub(super) fn log_refusal(&self, r: &Reject) {
        if let Some(log) = &self.access_log {
            let wire = r.to_wire();
            let body_len = wire
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |i| wire.len() - i - 4);
            let rec = crate::access_log::Record {
                peer: self.state.proxied_peer().or(self.peer),
                status: r.status,
                body_bytes: Some(body_len as u64),
                ..crate::access_log::Record::default()
            };
            log.log(&rec);
        }
    }

    /// hyper let go of this connection because it sat idle between requests for
    /// [`PARK_AFTER`]: an idle keep-alive connection then holds no HTTP parser, no
    /// buffers of hyper's and no read buffer of the edge (nginx frees its request buffers
    /// the same way), only this adapter and its socket. `serve_http1` waits with
    /// [`GateIo::unpark`] and starts hyper again for the next request.
    pub(in crate::server) fn is_parked(&self) -> bool {
        self.parked
    }

    /// The refused head still to be answered, once hyper is done with the socket.
    pub(super) fn take_reject(&mut self) -> Option<Reject> {
        self.pending_reject.take()
    }

    /// The socket, for writing the error response.
    pub(super) fn inner_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The deadline that applies now, and what kind it is.
    fn deadline(&self) -> Option<(Instant, Deadline)> {
        match self.phase {
            Phase::Body {
                started,
                bytes,
                last,
                ..
            } => {
                let gap = (last + self.cfg.body_timeout, Deadline::Body);
                if self.cfg.body_min_rate == 0 {
                    return Some(gap);
                }
                // The earliest moment the average rate can fall below the minimum with the
                // bytes received so far.
                let needed = Duration::from_secs_f64(
                    (bytes as f64 / self.cfg.body_min_rate as f64).min(NEVER_SECS as f64),
                );
                let rate = (started + needed.max(RATE_GRACE), Deadline::Rate);
                Some(if rate.0 < gap.0 { rate } else { gap })
            }
            Phase::Head => {
                if self.state.in_flight.load(Ordering::Acquire) > 0 || self.write_stall.waiting() {
                    // The app is answering, or hyper is still writing a response the app
                    // handed over whole (the send deadline governs that); the client may
                    // legitimately be silent.
                    return None;
                }
                let since = if self.first {
                    self.state.born
                } else {
                    self.state.last_done()
                };
                if self.gate.buffered() == 0 && !self.first && !self.cfg.keepalive.is_zero() {
                    // Idle between requests: only --keep-alive applies. Capped by the
                    // header timeout, a --keep-alive 75 behind a load balancer would
                    // close at 10 s and race the balancer's next request.
                    let idle = (since + self.cfg.keepalive, Deadline::Idle);
                    let park = (since + PARK_AFTER, Deadline::Park);
                    return Some(if !self.parked && park.0 < idle.0 {
                        park
                    } else {
                        idle
                    });
                }
                let since = if self.first {
                    since
                } else {
                    since.max(self.head_began)
                };
                Some((since + self.cfg.header_timeout, Deadline::Header))
            }
        }
    }

    /// Handles the gate's events in order; stops after a head the edge answers itself
    /// (the rest waits until that response is written, so order is kept).
    fn on_events(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        while !self.events.is_empty() && !self.static_busy() {
            let ev = self.events.remove(0);
            result = result.and(self.on_event(ev));
        }
        result
    }

    fn on_event(&mut self, ev: Event) -> io::Result<()> {
        let mut result = Ok(());
        match ev {
            Event::Proxy(ProxyInfo::Tcp { src, .. }) => {
                let _ = self.state.proxied.set(src);
            }
            Event::Proxy(_) => {}
            Event::Head {
                keep_alive,
                framing,
                wants_upgrade,
                out,
                ..
            } => {
                self.state.head_begun();
                self.wrote_since_head = false;
                self.first = false;
                if wants_upgrade
                    && self.h2c_upgrade
                    && matches!(framing, Framing::NoBody | Framing::Length(0))
                    && let Some(frames) = self
                        .out
                        .get(out.clone())
                        .and_then(crate::server::h2c::upgrade_frames)
                {
                    // hyper never sees this request: it finishes what came before and
                    // reads EOF, then `serve_http1` answers 101 and HTTP/2 takes over.
                    // The gate holds whatever the client sends next.
                    self.out.truncate(out.start);
                    self.h2c = Some(frames);
                    self.eof = true;
                    return Ok(());
                }
                // An upgrade request: the gate holds what follows until the app answers
                // (see `read_inner`: a refusal resumes HTTP/1, a 101 hands the socket to
                // a WebSocket in `serve_http1`).
                // `--limit-request-body` is the gate's: a Content-Length over it is refused
                // with the head, a chunked body at the size line that passes it.
                match framing {
                    Framing::NoBody => {}
                    _ => {
                        let now = Instant::now();
                        self.phase = Phase::Body {
                            started: now,
                            bytes: 0,
                            last: now,
                        };
                    }
                }
                let bodiless = matches!(framing, Framing::NoBody | Framing::Length(0));
                if !(bodiless && !wants_upgrade && self.try_static(keep_alive, out)) {
                    self.static_passed();
                }
            }
            Event::MessageEnd => self.phase = Phase::Head,
            Event::Reject(r) => {
                if matches!(self.phase, Phase::Body { .. }) {
                    // The app owns this request already: answer if nothing was sent
                    // for it yet, then fail its body read.
                    self.log_reject(&r);
                    self.body_reject = Some(r.clone());
                    self.eof = true;
                    result = Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        r.message.clone(),
                    ));
                } else {
                    self.reject(r);
                }
            }
        }
        result
    }

    fn reject(&mut self, r: Reject) {
        // Not idle from here: the refusal is still to be written.
        self.state.head_begun();
        self.log_reject(&r);
        self.pending_reject = Some(r);
        self.eof = true;
    }

    fn log_reject(&self, r: &Reject) {
        self.stats.count_rejected(r.status, 1);
        tracing::warn!("{}", r.log_line(&self.peer_ip));
    }
}

/// What hyper writes, alone, when an app reads the body of an `Expect: 100-continue`
/// request.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// `bufs` together are exactly [`CONTINUE`].
fn is_continue(bufs: &[io::IoSlice<'_>]) -> bool {
    let mut rest = CONTINUE;
    for b in bufs {
        match rest.strip_prefix(&b[..]) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Which deadline fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Idle between requests long enough to let hyper go (not a timeout).
    Park,
    Idle,
    Header,
    Body,
    Rate,
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> GateIo<S> {
    /// Best effort, non-blocking: a small error response for a request whose body is being
    /// read, only when hyper has not written anything for it and has nothing unflushed
    /// (so it cannot interleave with a response).
    fn try_answer(&mut self, cx: &mut Context<'_>, r: &Reject) {
        // Another request's response still being produced could interleave.
        let others = self.state.in_flight.load(Ordering::Acquire) > 1;
        if self.wrote_since_head || self.unflushed || others {
            return;
        }
        let wire = r.to_wire();
        if let Poll::Ready(Ok(_)) = Pin::new(&mut self.io).poll_write(cx, &wire) {
            self.log_refusal(r);
        }
    }

    fn on_deadline(&mut self, cx: &mut Context<'_>, kind: Deadline) -> Poll<io::Result<()>> {
        match kind {
            Deadline::Park => {
                // hyper reads a clean EOF between requests and hands the socket back.
                self.parked = true;
                self.eof = true;
                self.stats.parked.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "connection from {} idle: parked until its next request",
                    self.peer_ip
                );
                self.out = Vec::new();
                self.out_pos = 0;
                self.events = Vec::new();
                Poll::Ready(Ok(()))
            }
            Deadline::Idle | Deadline::Header => {
                self.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "closing connection from {}: {:?} deadline passed",
                    self.peer_ip,
                    kind
                );
                self.eof = true;
                // A clean EOF: hyper closes an idle connection quietly.
                Poll::Ready(Ok(()))
            }
            Deadline::Body | Deadline::Rate => {
                self.stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
                let what = if kind == Deadline::Body {
                    "stalled"
                } else {
                    "too slow"
                };
                tracing::debug!(
                    "closing connection from {}: request body {what}",
                    self.peer_ip
                );
                self.try_answer(cx, &Reject::body_timeout(what));
                self.eof = true;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("request body {what}"),
                )))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> AsyncRead for GateIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.waiting
            && let Phase::Body { started, last, .. } = &mut this.phase
        {
            let idle = this.last_return.elapsed();
            *started += idle;
            *last += idle;
        }
        let r = this.read_inner(cx, buf);
        this.waiting = r.is_pending();
        // Only body deadlines use it; skip the clock read between heads.
        if matches!(this.phase, Phase::Body { .. }) {
            this.last_return = Instant::now();
        }
        r
    }
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> GateIo<S> {
    fn read_inner(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self;
        if this.upgraded {
            return this.read_upgraded(cx, buf);
        }
        loop {
            if this.gate.awaiting_upgrade() && this.state.take_upgrade_refused() {
                // The app answered the upgrade request with something else than 101:
                // what the client sent after it is the next HTTP/1 request.
                let mut more = Vec::new();
                this.gate.upgrade_decided(false, &mut this.out, &mut more);
                this.events.extend(more);
                continue;
            }
            if this.static_busy() {
                std::task::ready!(this.drive_static(cx))?;
                continue;
            }
            if !this.events.is_empty() {
                // Events held while the edge answered a request: handle them now.
                if let Err(e) = this.on_events() {
                    if let Some(r) = this.body_reject.take() {
                        this.try_answer(cx, &r);
                    }
                    return Poll::Ready(Err(e));
                }
                continue;
            }
            if this.out_pos < this.out.len() {
                if buf.remaining() == 0 {
                    // `unpark` asking whether there is something for hyper.
                    return Poll::Ready(Ok(()));
                }
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.gate.is_closed() {
                // The gate takes no further request here (`Connection: close`), but hyper
                // still reads while it answers, to notice a client that left: hand it the
                // socket's EOF or error, and drop anything else the client sends.
                let read = SCRATCH.with_borrow_mut(|raw| {
                    let mut rb = ReadBuf::new(&mut raw[..]);
                    let polled = Pin::new(&mut this.io).poll_read(cx, &mut rb);
                    polled.map_ok(|()| rb.filled().len())
                });
                match std::task::ready!(read) {
                    Ok(0) => {
                        this.eof = true;
                        return Poll::Ready(Ok(()));
                    }
                    Ok(_) => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if this.out_pos > 0 {
                // Everything was consumed, the last bytes by the static edge (hyper's
                // reads clear it above): start over, or a keep-alive connection of
                // static requests would grow the buffer by a head per request.
                this.out.clear();
                this.out_pos = 0;
            }
            // Socket bytes land in a per-thread scratch buffer and go straight through the
            // gate: an idle connection holds no read buffer of its own.
            let read = SCRATCH.with_borrow_mut(|raw| {
                let mut rb = ReadBuf::new(&mut raw[..]);
                let polled = Pin::new(&mut this.io).poll_read(cx, &mut rb);
                let n = rb.filled().len();
                if let Poll::Ready(Ok(())) = polled
                    && n > 0
                {
                    let was_empty = this.gate.buffered() == 0;
                    this.gate.feed(&raw[..n], &mut this.out, &mut this.events);
                    if was_empty && this.gate.buffered() > 0 {
                        // A head begun, not finished: its header deadline starts now.
                        this.head_began = Instant::now();
                    }
                }
                polled.map_ok(|()| n)
            });
            match read {
                Poll::Ready(Ok(n)) => {
                    if n == 0 {
                        this.eof = true;
                        continue;
                    }
                    if let Phase::Body { bytes, last, .. } = &mut this.phase {
                        *bytes += n as u64;
                        *last = Instant::now();
                    }
                    if let Err(e) = this.on_events() {
                        if let Some(r) = this.body_reject.take() {
                            this.try_answer(cx, &r);
                        }
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let mut deadline = this.deadline();
                    if deadline.is_none() {
                        // A response is in flight: when it ends, the idle/header deadline
                        // starts, so leave a waker for `response_done` (only here: a lock
                        // per wait on the common path would be wasted), then look again in
                        // case it ended meanwhile.
                        *this
                            .state
                            .read_waker
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
                        deadline = this.deadline();
                    }
                    // No deadline while the app answers: the timer stays armed where it
                    // is (read_deadline still says where), so the next request's deadline,
                    // later than it, needs no re-arming; firing meanwhile costs one poll.
                    let Some((at, kind)) = deadline else {
                        return Poll::Pending;
                    };
                    if Instant::now() >= at {
                        return this.on_deadline(cx, kind);
                    }
                    // On a busy keep-alive connection the deadline moves later with every
                    // response; re-arming the timer each time would cost a timer-wheel
                    // update per request. Keep an earlier armed deadline instead: when it
                    // fires early, the check above finds time left and re-arms once.
                    loop {
                        if this
                            .read_deadline
                            .is_none_or(|armed| at < armed || this.read_timer.is_elapsed())
                        {
                            this.read_deadline = Some(at);
                            this.read_timer
                                .as_mut()
                                .reset(tokio::time::Instant::from_std(at));
                        }
                        if this.read_timer.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        if Instant::now() >= at {
                            return this.on_deadline(cx, kind);
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> GateIo<S> {
    /// What hyper had read and not used when it let go of a parked connection (nothing,
    /// as it parks only between requests): it goes to the next hyper first. Taken by
    /// value, so hyper's read buffer is freed here rather than kept while parked.
    pub(in crate::server) fn read_ahead(&mut self, read_ahead: bytes::Bytes) {
        if !read_ahead.is_empty() {
            let mut out = Vec::with_capacity(read_ahead.len() + self.out.len() - self.out_pos);
            out.extend_from_slice(&read_ahead);
            out.extend_from_slice(&self.out[self.out_pos..]);
            self.out = out;
            self.out_pos = 0;
        }
    }

    /// Waits, without hyper, for the parked connection's next request (`true`: start
    /// hyper again) or its end (`false`: the client closed, or the keep-alive or header
    /// deadline passed; close the socket). The bytes go through the gate and the static
    /// edge exactly as when hyper reads them.
    pub(in crate::server) async fn unpark(&mut self) -> bool {
        self.eof = false;
        let read = std::future::poll_fn(|cx| self.read_inner(cx, &mut ReadBuf::new(&mut []))).await;
        self.parked = false;
        // Closed quietly: the client left, or a deadline passed with nothing to answer.
        let quiet = self.eof
            && self.out_pos == self.out.len()
            && self.pending_reject.is_none()
            && self.h2c.is_none();
        read.is_ok() && !quiet
    }

    /// Reads of an upgraded connection: the bytes the gate held, then the socket itself.
    fn read_upgraded(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.out_pos < self.out.len() {
            let n = buf.remaining().min(self.out.len() - self.out_pos);
            buf.put_slice(&self.out[self.out_pos..self.out_pos + n]);
            self.out_pos += n;
            if self.out_pos == self.out.len() {
                self.out = Vec::new();
                self.out_pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }

    fn write_progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<T>>,
        wrote: bool,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => {
                let mut at = self.write_stall.begin(&self.state) + self.cfg.send_timeout;
                if Instant::now() >= at {
                    match self.write_stall.still_reading(&self.state) {
                        Some(now) => at = now + self.cfg.send_timeout,
                        None => return self.send_timed_out(),
                    }
                }
                self.write_timer
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(at));
                if self.write_timer.as_mut().poll(cx).is_ready() {
                    return self.send_timed_out();
                }
                Poll::Pending
            }
            ready => {
                self.write_stall.end();
                if wrote {
                    self.wrote_since_head = true;
                    self.unflushed = true;
                }
                ready
            }
        }
    }

    fn send_timed_out<T>(&mut self) -> Poll<io::Result<T>> {
        self.stats.send_timeouts.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "dropping connection from {}: it stopped reading the response",
            self.peer_ip
        );
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client stopped reading",
        )))
    }
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> AsyncWrite for GateIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let interim = !this.wrote_since_head && data == CONTINUE;
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        let r = this.write_progress(cx, r, true);
        if interim && matches!(r, Poll::Ready(Ok(n)) if n == CONTINUE.len()) {
            // As in poll_write_vectored.
            this.wrote_since_head = false;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let interim = !this.wrote_since_head && is_continue(bufs);
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        let r = this.write_progress(cx, r, true);
        if interim && matches!(r, Poll::Ready(Ok(n)) if n == CONTINUE.len()) {
            // The interim `100 Continue` hyper sends when the app first reads the body
            // starts no response: a body refused after it (too large, malformed) is still
            // answered with its own status, not cut off.
            this.wrote_since_head = false;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.static_busy() {
            // hyper has nothing to flush while the edge writes (sockets flush nothing
            // anyway), and its idle flushes must not restart the edge's stall clock.
            return Poll::Ready(Ok(()));
        }
        let r = Pin::new(&mut this.io).poll_flush(cx);
        let r = this.write_progress(cx, r, false);
        if let Poll::Ready(Ok(())) = r {
            this.unflushed = false;
            this.static_flushed();
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
