//! HTTP/2 (over TLS, or cleartext: see [`super::h2c`]) with the same deadlines as the
//! HTTP/1 edge. hyper's HTTP/2 server has none of its own beyond keep-alive PINGs, so they
//! are built around it:
//!
//! - **idle**: a connection with no open stream is closed (GOAWAY NO_ERROR) once
//!   `--keep-alive` has passed since its last stream ended or it last sent data; before
//!   its first stream, `--header-timeout` from accept applies instead (a client that never
//!   completes a request head, or stalls in the preface or a header block).
//! - **send**: a stream whose response cannot go on for `--send-timeout` because the peer
//!   keeps its flow-control window shut is reset (RST_STREAM CANCEL) and what it had
//!   queued is freed ([`StreamExec`] wraps every stream task hyper spawns); a connection
//!   whose socket accepts no bytes for `--send-timeout` is dropped ([`ProgressIo`]).
//! - **dead peers**: hyper's keep-alive PING every `--send-timeout`, and the connection is
//!   closed when the PONG does not come within `--send-timeout`.
//! - **body**: `--body-timeout` and `--body-min-rate` per request body, kept on the
//!   frames below hyper ([`super::h2body`]): a stalled stream gets its 408, or a
//!   RST_STREAM once its response began.
//!
//! - **floods**: SETTINGS and PING frames the server must acknowledge are rationed per
//!   connection ([`ControlBudget`]: a burst of [`CONTROL_BURST`], then [`CONTROL_RATE`] a
//!   second); a client past that is disconnected, as nginx's "http2 flood detected".
//!   hyper would otherwise acknowledge hundreds of thousands a second, indefinitely.
//!
//! After an idle GOAWAY (NO_ERROR) the connection gets [`GOAWAY_GRACE`] to finish (hyper's
//! two-phase GOAWAY waits for a PING round trip), then the socket is dropped; one closed
//! to make room for a new client gets [`RECLAIM_GRACE`], since that client waits for the
//! slot meanwhile.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Sleep;

use super::conn::{ConnState, EdgeStats, Proto};
use super::h2body::{BodyWatch, Expired};
use super::{AppService, ServeConfig, service};

/// How long a connection may take to close after its GOAWAY before the socket is dropped.
pub(super) const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// The same for an idle connection reclaimed at `--worker-connections`: a new client waits
/// for its slot, and an attacker holding idle connections never answers the GOAWAY's
/// PING (with [`GOAWAY_GRACE`] each new client waited about half a second). A peer that
/// sent a request in that window sees the connection close after the first GOAWAY.
const RECLAIM_GRACE: Duration = Duration::from_millis(100);

/// Writes of at most this many bytes (PING and SETTINGS acknowledgements, WINDOW_UPDATE,
/// RST_STREAM) do not count as the connection sending data.
const CONTROL_BYTES: usize = 64;

/// SETTINGS and PING frames (without ACK) a connection may send at once. A client sends
/// one SETTINGS at start and a PING now and then (keep-alive, gRPC's bandwidth probes);
/// hundreds in a burst leave a wide margin.
pub(super) const CONTROL_BURST: f64 = 500.0;
/// ... and per second after the burst.
pub(super) const CONTROL_RATE: f64 = 100.0;

/// Watches a connection's inbound frames and rations the control frames that each make
/// the server write an acknowledgement (SETTINGS and PING without the ACK flag), with a
/// token bucket. It reads only the 9-byte frame headers (after the 24-byte connection
/// preface) and skips payloads, so it costs a few comparisons per frame.
#[derive(Debug)]
pub(super) struct ControlBudget {
    /// Bytes of the client's connection preface still to pass.
    preface_left: usize,
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    skip: usize,
    tokens: f64,
    refilled: Instant,
}

impl ControlBudget {
    pub(super) fn new() -> ControlBudget {
        ControlBudget {
            preface_left: 24,
            header: [0; 9],
            header_len: 0,
            skip: 0,
            tokens: CONTROL_BURST,
            refilled: Instant::now(),
        }
    }

    /// Feeds bytes as read from the client; false once the client sent more acknowledged
    /// control frames than its budget allows.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.preface_left > 0 {
                let n = self.preface_left.min(bytes.len());
                self.preface_left -= n;
                bytes = &bytes[n..];
            } else if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
            } else {
                let n = (9 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < 9 {
                    break;
                }
                self.header_len = 0;
                let h = self.header;
                self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                // SETTINGS (0x4) and PING (0x6) without ACK (flag 0x1) are answered.
                if matches!(h[3], 0x4 | 0x6) && h[4] & 0x1 == 0 && !self.take() {
                    return false;
                }
            }
        }
        true
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * CONTROL_RATE;
        self.tokens = (self.tokens + earned).min(CONTROL_BURST);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Logs a flooding client at WARNING with its address, at most once per 10 s per worker
/// (with the number of floods since the last line), so floods cannot flood the log.
fn flood_detected(peer: &super::Peer) {
    static FLOODS: super::Throttled = super::Throttled::new();
    if let Some(n) = FLOODS.hit() {
        tracing::warn!(
            "HTTP/2 flood detected from {peer}: more than {CONTROL_BURST} SETTINGS/PING frames \
             at once or {CONTROL_RATE} a second; connection closed ({n} such connection(s) \
             since the last such line)"
        );
    }
}

thread_local! {
    /// The clock of the stream task being polled on this thread (set by [`Guarded`] around
    /// each poll), picked up by the response body wrapper built inside that poll.
    static CURRENT: RefCell<Option<Arc<StreamClock>>> = const { RefCell::new(None) };
}

/// When one stream's response last waited for the peer's window.
#[derive(Debug)]
pub(crate) struct StreamClock {
    epoch: Instant,
    /// Milliseconds since `epoch` + 1 when the body handed over a chunk that is not sent
    /// yet (it is asked for the next one as soon as that chunk goes out); 0 otherwise.
    handed_ms: AtomicU64,
}

impl StreamClock {
    /// The clock of the stream task being polled, if this is an HTTP/2 stream task.
    pub(crate) fn current() -> Option<Arc<StreamClock>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// The response body is being asked for its next frame: the last one went out.
    pub(crate) fn polled(&self) {
        self.handed_ms.store(0, Ordering::Relaxed);
    }

    /// The response body handed over a non-empty chunk.
    pub(crate) fn handed(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64 + 1;
        self.handed_ms.store(ms, Ordering::Relaxed);
    }

    fn waiting_since(&self) -> Option<Instant> {
        match self.handed_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.epoch + Duration::from_millis(ms - 1)),
        }
    }
}

/// What every stream task of one connection shares.
#[derive(Debug)]
struct ExecShared {
    send_timeout: Duration,
    stats: Arc<EdgeStats>,
    peer: String,
}

/// The executor hyper spawns each HTTP/2 stream on: the tokio runtime, with every stream
/// task wrapped in [`Guarded`].
#[derive(Debug, Clone)]
pub(super) struct StreamExec(Arc<ExecShared>);

impl<F> hyper::rt::Executor<F> for StreamExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(Guarded {
            fut,
            clock: Some(Arc::new(StreamClock {
                epoch: Instant::now(),
                handed_ms: AtomicU64::new(0),
            })),
            shared: self.0.clone(),
            timer: None,
        });
    }
}

pin_project_lite::pin_project! {
    /// A stream task that ends (dropping hyper's stream, which resets it and frees what
    /// it queued) once its response has waited `--send-timeout` for the peer's window.
    struct Guarded<F> {
        #[pin]
        fut: F,
        clock: Option<Arc<StreamClock>>,
        shared: Arc<ExecShared>,
        timer: Option<Pin<Box<Sleep>>>,
    }
}

impl<F: Future<Output = ()>> Future for Guarded<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // Lend the clock to the thread for this poll (no reference count traffic).
        let prev = CURRENT.with(|c| c.replace(this.clock.take()));
        let r = this.fut.poll(cx);
        *this.clock = CURRENT.with(|c| c.replace(prev));
        if r.is_ready() {
            return r;
        }
        let Some(since) = this.clock.as_ref().and_then(|c| c.waiting_since()) else {
            return Poll::Pending;
        };
        let at = tokio::time::Instant::from_std(since + this.shared.send_timeout);
        let timer = match this.timer {
            Some(t) => {
                if t.deadline() != at {
                    t.as_mut().reset(at);
                }
                t
            }
            None => this.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.shared
            .stats
            .send_timeouts
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "resetting an HTTP/2 stream from {}: its flow-control window stayed shut for {:?}",
            this.shared.peer,
            this.shared.send_timeout
        );
        Poll::Ready(())
    }
}

thread_local! {
    /// Where bytes read from the client are scanned before hyper gets them.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; 16 * 1024].into_boxed_slice());
}

/// The stream (TLS, or plaintext for h2c) under hyper's HTTP/2 connection: notes when the
/// connection last sent data, fails writes that stay blocked for `--send-timeout` (a peer
/// that stopped reading the socket), rations control frames and keeps the request-body
/// deadlines.
pub(super) struct ProgressIo<S> {
    io: S,
    peer: super::Peer,
    budget: ControlBudget,
    body: BodyWatch,
    body_timer: Option<Pin<Box<Sleep>>>,
    /// Scanned bytes for hyper that its last read buffer had no room for.
    pending_in: Vec<u8>,
    state: Arc<ConnState>,
    stats: Arc<EdgeStats>,
    send_timeout: Duration,
    stall: super::conn::Stall,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S: AsyncWrite + Unpin> ProgressIo<S> {
    fn progress<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if !r.is_pending() {
            self.stall.end();
            return r;
        }
        let mut since = self.stall.begin(&self.state);
        if Instant::now() >= since + self.send_timeout {
            match self.stall.still_reading(&self.state) {
                Some(now) => since = now,
                None => return self.timed_out(),
            }
        }
        let at = tokio::time::Instant::from_std(since + self.send_timeout);
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != at {
                    t.as_mut().reset(at);
                }
                t
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.timed_out()
    }

    fn timed_out<T>(&self) -> Poll<io::Result<T>> {
        self.stats.send_timeouts.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client stopped reading",
        )))
    }

    /// Counts and logs streams cut for passing `--limit-request-body`, as HTTP/1 logs
    /// the same refusal.
    fn refused_over_limit(&self, n: u64, limit: u64) {
        let r = crate::http::error::Reject::body_too_large(limit);
        self.stats.count_rejected(r.status, n);
        let ip = self
            .peer
            .addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        tracing::warn!("{}", r.log_line(&ip));
    }

    fn sent(&self, n: usize) {
        if n > CONTROL_BYTES {
            self.state
                .last_sent_ms
                .store(self.state.now_ms(), Ordering::Release);
        }
    }
}

impl<S: AsyncWrite + Unpin> ProgressIo<S> {
    /// Cuts the streams whose request body is past its deadline, once it comes (the
    /// timer wakes the connection's read); Err when the connection must close.
    fn body_deadlines(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let tunnels = self.state.h2_tunnels.load(Ordering::Relaxed);
        let Some(at) = self.body.deadline(tunnels) else {
            return Ok(());
        };
        // When the timer fires the deadline has passed on its clock; should `expire` see
        // it a hair early, the timer is re-armed just after, never left unarmed.
        let mut at = tokio::time::Instant::from_std(at);
        loop {
            let timer = match &mut self.body_timer {
                Some(t) => {
                    if t.deadline() != at {
                        t.as_mut().reset(at);
                    }
                    t
                }
                None => self
                    .body_timer
                    .insert(Box::pin(tokio::time::sleep_until(at))),
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
            let now = Instant::now();
            if self.body.deadline(tunnels).is_some_and(|d| d <= now) {
                break;
            }
            at = tokio::time::Instant::now() + Duration::from_millis(1);
        }
        match self.body.expire(Instant::now(), tunnels) {
            Expired::None => Ok(()),
            Expired::Cut(n) => {
                self.stats
                    .body_timeouts
                    .fetch_add(n as u64, Ordering::Relaxed);
                tracing::debug!(
                    "cutting {n} HTTP/2 stream(s) from {}: request body stalled or too slow",
                    self.peer
                );
                Ok(())
            }
            Expired::Close => {
                self.stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "closing HTTP/2 connection from {}: request body stalled mid-frame",
                    self.peer
                );
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body stalled in the middle of a frame",
                ))
            }
        }
    }

    /// Writes the frames [`BodyWatch`] queued for the client, between hyper's frames.
    fn write_injected(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(out) = self.body.for_client() {
            match Pin::new(&mut self.io).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.progress(cx, Poll::Pending),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// What one read from the client gave hyper.
enum Read {
    Eof,
    Flood,
    Kept(usize),
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ProgressIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending_in.is_empty() {
                let n = buf.remaining().min(this.pending_in.len());
                buf.put_slice(&this.pending_in[..n]);
                this.pending_in.drain(..n);
                return Poll::Ready(Ok(()));
            }
            // Frames for hyper (a cut stream's reset) go in between whole frames.
            if !this.body.to_hyper.is_empty() && this.body.inbound_at_boundary() {
                let n = buf.remaining().min(this.body.to_hyper.len());
                buf.put_slice(&this.body.to_hyper[..n]);
                this.body.to_hyper.drain(..n);
                return Poll::Ready(Ok(()));
            }
            this.body_deadlines(cx)?;
            if !this.body.to_hyper.is_empty() && this.body.inbound_at_boundary() {
                continue;
            }
            let read = SCRATCH.with_borrow_mut(|raw| {
                // A frame header held back from hyper goes first, to be scanned again.
                let held = this.body.held().len();
                raw[..held].copy_from_slice(this.body.held());
                let end = raw.len().min(held + buf.remaining().max(1));
                let mut rb = ReadBuf::new(&mut raw[held..end]);
                let r = Pin::new(&mut this.io).poll_read(cx, &mut rb);
                let got = rb.filled().len();
                let Poll::Ready(Ok(())) = r else {
                    return r.map_ok(|()| Read::Eof);
                };
                if got == 0 {
                    // EOF: whatever was held goes as it is (hyper sees a truncated frame).
                    let n = held.min(buf.remaining());
                    buf.put_slice(&raw[..n]);
                    return Poll::Ready(Ok(Read::Eof));
                }
                let kept = this.body.inbound(&mut raw[..held + got], Instant::now());
                if !this.budget.feed(&raw[..kept]) {
                    return Poll::Ready(Ok(Read::Flood));
                }
                let n = kept.min(buf.remaining());
                buf.put_slice(&raw[..n]);
                this.pending_in.extend_from_slice(&raw[n..kept]);
                Poll::Ready(Ok(Read::Kept(kept)))
            });
            if let Some((n, limit)) = this.body.take_over_limit() {
                this.refused_over_limit(n, limit);
            }
            match std::task::ready!(read)? {
                Read::Flood => {
                    flood_detected(&this.peer);
                    return Poll::Ready(Err(io::Error::other(
                        "HTTP/2 control-frame flood (SETTINGS/PING)",
                    )));
                }
                // Everything read was dropped or held back: read on (an empty read
                // would be EOF to hyper).
                Read::Kept(0) => {}
                Read::Kept(_) | Read::Eof => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProgressIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.write_injected(cx))?;
        let r = Pin::new(&mut this.io).poll_write(cx, b);
        if let Poll::Ready(Ok(n)) = r {
            this.sent(n);
            this.body.outbound(&b[..n], Instant::now());
        }
        this.progress(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.write_injected(cx))?;
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.sent(n);
            let (mut left, now) = (n, Instant::now());
            for b in bufs {
                if left == 0 {
                    break;
                }
                let k = left.min(b.len());
                this.body.outbound(&b[..k], now);
                left -= k;
            }
        }
        this.progress(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.write_injected(cx))?;
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.progress(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The deadline of a connection with no open stream (None while one is open).
fn idle_deadline(state: &ConnState, cfg: &ServeConfig) -> Option<Instant> {
    if !state.is_idle() {
        return None;
    }
    let edge = &cfg.edge;
    let ever = state.answered_any();
    Some(if ever {
        state.last_active() + edge.keepalive
    } else {
        state.last_active() + edge.header_timeout
    })
}

/// Serves an HTTP/2 connection (TLS with ALPN `h2`, or h2c) under the deadlines above, until it ends,
/// is idle too long, is reclaimed while idle, or the worker stops (GOAWAY, then open
/// streams finish).
pub(super) async fn serve<IO, A>(
    io: IO,
    svc: service::Wrapped<A>,
    cfg: &ServeConfig,
    limits: &crate::tls::Http2Limits,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: AppService,
{
    let peer = svc.peer();
    let state = svc.conn_state();
    state.set_proto(Proto::Http2);
    let edge = &cfg.edge;
    let exec = StreamExec(Arc::new(ExecShared {
        send_timeout: edge.send_timeout,
        stats: cfg.edge_stats.clone(),
        peer: peer.to_string(),
    }));
    let io = ProgressIo {
        io,
        peer,
        budget: ControlBudget::new(),
        body: BodyWatch::new(
            edge.body_timeout,
            edge.body_min_rate,
            edge.gate.limit_request_body,
        ),
        body_timer: None,
        pending_in: Vec::new(),
        state: state.clone(),
        stats: cfg.edge_stats.clone(),
        send_timeout: edge.send_timeout,
        stall: super::conn::Stall::default(),
        timer: None,
    };
    let mut b = hyper::server::conn::http2::Builder::new(exec);
    b.timer(hyper_util::rt::TokioTimer::new());
    // 0 ("never") arrives as a year: no PINGs then.
    if edge.send_timeout < Duration::from_secs(super::conn::NEVER_SECS) {
        b.keep_alive_interval(edge.send_timeout)
            .keep_alive_timeout(edge.send_timeout);
    }
    limits.apply(&mut b);
    // RFC 8441 extended CONNECT: WebSockets over HTTP/2 (`websocket::Handshake`).
    b.enable_connect_protocol();
    let conn = b.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut draining = false;
    let result = loop {
        // Look again at least every keep-alive (1 s when it is 0): nothing wakes this loop
        // when a stream opens or ends, and the keep-alive deadline that follows the last
        // stream's end can be no earlier than the next look, so it is kept exactly.
        let next_look = Instant::now() + edge.keepalive.max(Duration::from_secs(1));
        let at = idle_deadline(&state, cfg).map_or(next_look, |d| d.min(next_look));
        let at = tokio::time::Instant::from_std(at);
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = super::stopped(&mut stop), if !draining => {
                // The worker stops: GOAWAY, open streams finish (bounded by the worker's
                // graceful timeout).
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = state.reclaim_h2.notified(), if !draining => {
                if state.is_idle() {
                    cfg.edge_stats.reclaimed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("closing idle HTTP/2 connection from {peer} to make room");
                    conn.as_mut().graceful_shutdown();
                    break tokio::time::timeout(RECLAIM_GRACE, conn.as_mut()).await.unwrap_or(Ok(()));
                }
            }
            _ = tokio::time::sleep_until(at), if !draining => {
                if idle_deadline(&state, cfg).is_some_and(|d| d <= Instant::now()) {
                    cfg.edge_stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("closing idle HTTP/2 connection from {peer}");
                    conn.as_mut().graceful_shutdown();
                    break tokio::time::timeout(GOAWAY_GRACE, conn.as_mut()).await.unwrap_or(Ok(()));
                }
            }
        }
    };
    if let Err(e) = result {
        super::protocol_error(peer, &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(ty: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut f = vec![
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
            ty,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn acknowledged_control_frames_are_rationed_and_nothing_else_counts() {
        let mut b = ControlBudget::new();
        assert!(b.feed(PREFACE));
        assert!(b.feed(&frame(0x4, 0, &[])), "the client's SETTINGS");
        // ACKs, DATA and HEADERS cost nothing, even when a payload looks like PING headers.
        let lookalike: Vec<u8> = (0..200).flat_map(|_| frame(0x6, 0, &[0; 8])).collect();
        for _ in 0..1000 {
            assert!(b.feed(&frame(0x6, 0x1, &[0; 8])));
            assert!(b.feed(&frame(0x4, 0x1, &[])));
            assert!(b.feed(&frame(0x0, 0, &lookalike)));
            assert!(b.feed(&frame(0x1, 0x4, &[0x82])));
        }
        let burst = CONTROL_BURST as usize - 1;
        assert!(b.feed(&frame(0x6, 0, &[0; 8]).repeat(burst)));
        assert!(!b.feed(&frame(0x6, 0, &[0; 8])), "one past the burst");
    }

    #[test]
    fn the_verdict_does_not_depend_on_how_the_bytes_were_split() {
        let mut stream = PREFACE.to_vec();
        for i in 0..(CONTROL_BURST as usize + 10) {
            stream.extend(frame(0x0, 0, &[7; 3]));
            stream.extend(frame(if i % 2 == 0 { 0x6 } else { 0x4 }, 0, &[0; 6]));
        }
        let whole = ControlBudget::new().feed(&stream);
        assert!(!whole);
        for chunk in [1, 2, 5, 9, 10, 17, 4096] {
            let mut b = ControlBudget::new();
            let ok = stream.chunks(chunk).all(|c| b.feed(c));
            assert_eq!(ok, whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn the_budget_refills_over_time() {
        let mut b = ControlBudget::new();
        assert!(b.feed(PREFACE));
        let burst = frame(0x6, 0, &[0; 8]).repeat(CONTROL_BURST as usize);
        assert!(b.feed(&burst));
        b.refilled -= Duration::from_secs(1);
        let second = frame(0x6, 0, &[0; 8]).repeat(CONTROL_RATE as usize - 1);
        assert!(
            b.feed(&second),
            "a second later, the rate's worth is allowed again"
        );
    }
}
