//! What the per-connection service wrapper and the edge adapter share about one
//! connection: requests in flight, responses done (and when), the PROXY-announced peer,
//! hyper's read waker to wake when a response ends, and what the worker's connection
//! registry needs to tell an idle connection (one it may reclaim) from a busy one.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// What a connection speaks, as far as idleness goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Proto {
    /// Accepted, TLS handshake not finished (or not started): always idle.
    Handshake = 0,
    /// HTTP/1.x: idle while every head the edge let through has been answered.
    Http1 = 1,
    /// HTTP/2: idle while no stream is open.
    Http2 = 2,
    /// An HTTP/1.1 connection handed to a WebSocket: never idle.
    Upgraded = 3,
}

/// The app's answer to an HTTP/1 upgrade request, as the edge needs it (see
/// [`ConnState::decide_upgrade`]).
pub(crate) mod upgrade {
    /// No answer yet (or the last one was already acted on).
    pub(crate) const UNDECIDED: u8 = 0;
    /// `101`: the connection leaves HTTP/1 after the response.
    pub(crate) const ACCEPTED: u8 = 1;
    /// Anything else: the held bytes are the next request.
    pub(crate) const REFUSED: u8 = 2;
}

/// What the service and the adapter share about one connection.
pub(crate) struct ConnState {
    /// Requests handed to the app whose response body has not ended.
    pub(super) in_flight: AtomicU32,
    /// Responses whose body ended, ever (the edge compares it with the requests it
    /// passed to hyper to know hyper is idle).
    pub(super) done: AtomicU64,
    /// When the last response ended (milliseconds since `born`).
    pub(super) last_done_ms: AtomicU64,
    pub(in crate::server) born: Instant,
    /// hyper's read waker, woken when a response ends (deadlines change then).
    pub(super) read_waker: Mutex<Option<Waker>>,
    /// The client address from a PROXY header, replacing the socket peer (set once, before
    /// the first request reaches the app).
    pub(super) proxied: std::sync::OnceLock<SocketAddr>,
    /// HTTP/1 heads the edge let through (to hyper or its static edge) or refused: with
    /// `done` and `edge_done`, whether every request begun has been answered.
    pub(super) heads: AtomicU64,
    /// Responses the edge wrote itself (static files), ever.
    pub(super) edge_done: AtomicU64,
    /// HTTP/2: when the connection last wrote more than a control frame (milliseconds
    /// since `born`); data still queued in h2 after hyper finished a stream keeps it busy.
    pub(in crate::server) last_sent_ms: AtomicU64,
    /// HTTP/2: an extended CONNECT (a WebSocket) was opened on this connection. Its
    /// stream's "body" may rightly be silent for long, and the frame-level body watch
    /// cannot tell which stream it is, so answered streams are no longer watched then.
    pub(in crate::server) h2_tunnels: AtomicBool,
    /// A [`Proto`].
    proto: AtomicU8,
    /// The worker asks this connection to close if it is idle (slot reclamation).
    pub(in crate::server) reclaim: Notify,
    /// The same request, handed on to an HTTP/2 connection's own loop (which closes
    /// with GOAWAY rather than dropping the socket).
    pub(in crate::server) reclaim_h2: Notify,
    /// The app's answer to the upgrade request being served (an [`upgrade`] value).
    upgrade: AtomicU8,
    /// Where the connection goes if that answer is `101`.
    pub(in crate::server) handoff:
        Mutex<Option<tokio::sync::oneshot::Sender<crate::websocket::Handoff>>>,
    /// What must live as long as the upgraded connection (its access-log line, written
    /// when the WebSocket ends, with its duration).
    pub(in crate::server) upgraded_keep: Mutex<Option<Box<dyn Send>>>,
    /// The connection's socket, for what only the kernel knows about it (how much the
    /// client has read: see [`super::stall`]).
    pub(in crate::server) socket: std::sync::OnceLock<std::os::fd::RawFd>,
}

impl std::fmt::Debug for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnState")
            .field("in_flight", &self.in_flight)
            .field("done", &self.done)
            .field("proto", &self.proto())
            .finish_non_exhaustive()
    }
}

impl ConnState {
    pub(in crate::server) fn new() -> ConnState {
        ConnState {
            in_flight: AtomicU32::new(0),
            done: AtomicU64::new(0),
            last_done_ms: AtomicU64::new(0),
            born: Instant::now(),
            read_waker: Mutex::new(None),
            proxied: std::sync::OnceLock::new(),
            heads: AtomicU64::new(0),
            edge_done: AtomicU64::new(0),
            last_sent_ms: AtomicU64::new(0),
            h2_tunnels: AtomicBool::new(false),
            proto: AtomicU8::new(Proto::Handshake as u8),
            reclaim: Notify::new(),
            reclaim_h2: Notify::new(),
            upgrade: AtomicU8::new(upgrade::UNDECIDED),
            handoff: Mutex::new(None),
            upgraded_keep: Mutex::new(None),
            socket: std::sync::OnceLock::new(),
        }
    }

    /// The app answered the HTTP/1 upgrade request in flight (`accepted`: with 101). The
    /// edge holds the client's later bytes until then; wake it to act on the answer.
    pub(in crate::server) fn decide_upgrade(&self, accepted: bool) {
        let v = if accepted {
            upgrade::ACCEPTED
        } else {
            upgrade::REFUSED
        };
        self.upgrade.store(v, Ordering::Release);
        if let Some(w) = self
            .read_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            w.wake();
        }
    }

    /// Whether the app refused the upgrade request (consumed: the next upgrade request
    /// starts undecided).
    pub(in crate::server) fn take_upgrade_refused(&self) -> bool {
        self.upgrade.load(Ordering::Acquire) == upgrade::REFUSED
            && self
                .upgrade
                .compare_exchange(
                    upgrade::REFUSED,
                    upgrade::UNDECIDED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Whether the app accepted the upgrade request (consumed).
    pub(in crate::server) fn take_upgrade_accepted(&self) -> bool {
        self.upgrade
            .compare_exchange(
                upgrade::ACCEPTED,
                upgrade::UNDECIDED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The connection now speaks `p`.
    pub(in crate::server) fn set_proto(&self, p: Proto) {
        self.proto.store(p as u8, Ordering::Release);
    }

    pub(in crate::server) fn proto(&self) -> Proto {
        match self.proto.load(Ordering::Acquire) {
            1 => Proto::Http1,
            2 => Proto::Http2,
            3 => Proto::Upgraded,
            _ => Proto::Handshake,
        }
    }

    /// At least one request was answered on this connection (it is a kept-alive one).
    pub(in crate::server) fn answered_before(&self) -> bool {
        self.done.load(Ordering::Acquire) + self.edge_done.load(Ordering::Acquire) > 0
    }

    /// Nothing is being answered: no request in the app, no response being written, no
    /// head passed on and not yet answered. A partial head, an unfinished handshake and a
    /// keep-alive gap are idle. (HTTP/2 data h2 still queues after hyper finished a stream
    /// is not seen here; the HTTP/2 loop accounts for it with `last_sent_ms`.)
    pub(in crate::server) fn is_idle(&self) -> bool {
        match self.proto() {
            Proto::Handshake => true,
            Proto::Http1 => {
                let answered =
                    self.done.load(Ordering::Acquire) + self.edge_done.load(Ordering::Acquire);
                self.heads.load(Ordering::Acquire) == answered
            }
            Proto::Http2 => self.in_flight.load(Ordering::Acquire) == 0,
            Proto::Upgraded => false,
        }
    }

    /// When the connection last did something a client would want kept: accepted, a
    /// response ended, (HTTP/2) data sent.
    pub(in crate::server) fn last_active(&self) -> Instant {
        let ms = self
            .last_done_ms
            .load(Ordering::Acquire)
            .max(self.last_sent_ms.load(Ordering::Acquire));
        self.born + Duration::from_millis(ms)
    }

    /// Whether any response ended on this connection (or any request was dropped).
    pub(in crate::server) fn answered_any(&self) -> bool {
        self.done.load(Ordering::Acquire) > 0
    }

    /// Milliseconds since `born`, for the `*_ms` fields.
    pub(in crate::server) fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// The edge let a head through (or refused one: that connection is closing with an
    /// answer still to write, so it is not idle).
    pub(in crate::server) fn head_begun(&self) {
        self.heads.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the edge let any head through (or refused one) on this connection.
    pub(in crate::server) fn begun_any(&self) -> bool {
        self.heads.load(Ordering::Acquire) > 0
    }

    /// A request was handed to the app.
    pub(in crate::server) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// A response body ended (or was dropped).
    pub(in crate::server) fn response_done(&self) {
        self.last_done_ms
            .store(self.born.elapsed().as_millis() as u64, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.done.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = self
            .read_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            w.wake();
        }
    }

    /// The edge answered a request itself (its deadlines restart as after any response).
    pub(in crate::server) fn edge_response_done(&self) {
        self.last_done_ms
            .store(self.born.elapsed().as_millis() as u64, Ordering::Release);
        self.edge_done.fetch_add(1, Ordering::AcqRel);
    }

    /// The client address a PROXY header announced, if any.
    pub(in crate::server) fn proxied_peer(&self) -> Option<SocketAddr> {
        self.proxied.get().copied()
    }

    pub(in crate::server) fn last_done(&self) -> Instant {
        self.born + Duration::from_millis(self.last_done_ms.load(Ordering::Acquire))
    }
}
