//! One open WebSocket: the task that owns the socket (reads and decodes client frames,
//! answers pings, runs the close handshake, writes what the app sends) and the app's two
//! bounded channels to it.
//!
//! Back-pressure both ways, so no peer and no app can grow the worker's memory:
//! - inbound: the task reads the socket only while the app has room for the next message
//!   (a channel of [`INBOUND`] messages); a peer that sends faster than the app reads
//!   waits in its own TCP window;
//! - outbound: the app's `send` waits while [`HIGH_WATER`] bytes are queued for the socket;
//!   a peer that stops reading is dropped after `--send-timeout`, and while it is not
//!   reading its pings are not read either (their pongs would queue).
//!
//! Keep-alive: a peer silent for `--websocket-ping-interval` is pinged; one that sends
//! nothing (not even the pong) for another interval is closed with 1011, so a dead or
//! silent socket does not hold its connection slot (an idle WebSocket is one past that
//! deadline; one in use, either way, is not). The clock stops while the task is not
//! reading (the app is behind): the peer cannot be heard then.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::Context;
use super::deflate::Deflate;
use super::frame::{self, Decoder, Item, code};

/// Messages decoded but not yet taken by the app.
const INBOUND: usize = 4;
/// Messages the app may hand over before `send` waits (plus what is being written).
const OUTBOUND: usize = 4;
/// Bytes queued for the socket above which the task takes nothing more from the app (and
/// reads nothing more from the peer).
const HIGH_WATER: usize = 64 * 1024;
/// How long to wait for the peer's close frame after sending one (Gunicorn: 5 s).
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A WebSocket message, either way. The app receives [`Message::Close`] exactly once, as
/// the last message: the peer's code and reason (1005 when its close frame had none), the
/// code the server closed with for a bad frame (1002, 1007, 1009) or a draining worker
/// (1001), or 1006 when the connection ended without a close frame. Sending
/// [`Message::Close`] starts the close handshake (`code` 1000 is the normal one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Bytes),
    Close { code: u16, reason: String },
}

/// `send` on a socket that is closed or closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the WebSocket is closed")
    }
}

impl std::error::Error for Closed {}

/// The app's sending half (cloneable). Dropping every clone without sending
/// [`Message::Close`] closes the socket with 1000.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<Message>,
}

impl Sender {
    /// Queues `m`, waiting while the socket is behind; [`Closed`] once the socket is
    /// closing or closed (a `Close` was sent or received).
    pub async fn send(&self, m: Message) -> Result<(), Closed> {
        self.tx.send(m).await.map_err(|_| Closed)
    }
}

/// The app's receiving half.
#[derive(Debug)]
pub struct Receiver {
    rx: mpsc::Receiver<Message>,
    end: Arc<OnceLock<(u16, String)>>,
    closed: bool,
}

impl Receiver {
    /// The next message; the last one is a [`Message::Close`], then `None`.
    pub async fn recv(&mut self) -> Option<Message> {
        if let Some(m) = self.rx.recv().await {
            return Some(m);
        }
        if self.closed {
            return None;
        }
        self.closed = true;
        let (code, reason) = self
            .end
            .get()
            .cloned()
            .unwrap_or((code::ABNORMAL, String::new()));
        Some(Message::Close { code, reason })
    }
}

/// An open WebSocket, as the app sees it.
#[derive(Debug)]
pub struct Session {
    tx: Sender,
    rx: Receiver,
}

impl Session {
    /// Starts the socket's task.
    pub(crate) fn start(
        io: Box<dyn super::Io>,
        done: Option<oneshot::Sender<()>>,
        deflate: Option<super::deflate::Params>,
        ctx: Arc<Context>,
    ) -> Session {
        let (in_tx, in_rx) = mpsc::channel(INBOUND);
        let (out_tx, out_rx) = mpsc::channel(OUTBOUND);
        let end = Arc::new(OnceLock::new());
        let dec = Decoder::new(
            ctx.config.max_message_size,
            deflate.map(|_| super::deflate::Inflate::new()),
        );
        let task = Task {
            dec,
            deflate: deflate.map(Deflate::new),
            in_tx,
            out_rx,
            end: end.clone(),
            ctx,
        };
        tokio::spawn(async move {
            task.run(io).await;
            // Only now may the HTTP/1 edge let the connection (and its slot) go.
            drop(done);
        });
        Session {
            tx: Sender { tx: out_tx },
            rx: Receiver {
                rx: in_rx,
                end,
                closed: false,
            },
        }
    }

    /// The next message from the client; see [`Receiver::recv`].
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// Sends a message; see [`Sender::send`].
    pub async fn send(&self, m: Message) -> Result<(), Closed> {
        self.tx.send(m).await
    }

    /// The two halves, for an app that sends and receives from different tasks.
    pub fn split(self) -> (Sender, Receiver) {
        (self.tx, self.rx)
    }
}

struct Task {
    dec: Decoder,
    deflate: Option<Deflate>,
    in_tx: mpsc::Sender<Message>,
    out_rx: mpsc::Receiver<Message>,
    end: Arc<OnceLock<(u16, String)>>,
    ctx: Arc<Context>,
}

/// Ends a session as counted in the worker's registry.
struct Counted(Arc<Context>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0
            .registry
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Appends `m` as a frame (compressed when deflate was agreed).
fn encode(deflate: &mut Option<Deflate>, m: Message, out: &mut BytesMut) {
    let (op, data) = match &m {
        Message::Text(s) => (frame::OP_TEXT, s.as_bytes()),
        Message::Binary(b) => (frame::OP_BINARY, &b[..]),
        Message::Close { code, reason } => {
            // Codes an endpoint must not send (1005, 1006, 1015, out of range) are
            // replaced by 1000 rather than put on the wire.
            let c = if frame::valid_close_code(*code) {
                *code
            } else {
                code::NORMAL
            };
            frame::encode_close(out, c, reason);
            return;
        }
    };
    match deflate.as_mut() {
        // Incompressible data (already compressed, random) goes as is: the compression
        // bit is per message (RFC 7692 §6).
        Some(d) => match d.compress(data) {
            Some(z) => frame::encode(out, op, true, &z),
            None => frame::encode(out, op, false, data),
        },
        None => frame::encode(out, op, false, data),
    }
}

impl Task {
    async fn run(mut self, io: Box<dyn super::Io>) {
        self.ctx
            .registry
            .open
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _counted = Counted(self.ctx.clone());
        let mut going = self.ctx.registry.going_away.subscribe();
        let send_timeout = self.ctx.config.send_timeout;
        let (mut rd, mut wr) = tokio::io::split(io);
        let mut rbuf = BytesMut::new();
        let mut out = BytesMut::new();
        // A decoded message the app has no room for yet.
        let mut ready: Option<Message> = None;
        let mut close_sent = false;
        // The peer's close frame: Some(None) when it carried no code.
        let mut close_rcvd: Option<Option<(u16, String)>> = None;
        // The server failed the connection (bad frame) with this code and reason.
        let mut failed: Option<(u16, String)> = None;
        let mut sent_code: Option<(u16, String)> = None;
        let mut read_open = true;
        let mut app_open = true;
        let mut close_by: Option<Instant> = None;
        let mut stalled_since: Option<Instant> = None;
        let ping_interval = self.ctx.config.ping_interval;
        // When the peer was last heard from (or the task last started listening), and
        // whether it has been pinged since.
        let mut heard = Instant::now();
        let mut pinged = false;
        if *going.borrow_and_update() {
            sent_code = Some((code::GOING_AWAY, "server shutting down".into()));
            frame::encode_close(&mut out, code::GOING_AWAY, "server shutting down");
            close_sent = true;
            close_by = Some(Instant::now() + CLOSE_WAIT);
        }
        loop {
            // Decode what is buffered, as long as the app has taken the last message and
            // the outbound queue has room for pongs.
            while ready.is_none() && read_open && out.len() < HIGH_WATER {
                match self.dec.next(&mut rbuf) {
                    Ok(None) => break,
                    Ok(Some(Item::Ping(p))) => {
                        if !close_sent {
                            frame::encode(&mut out, frame::OP_PONG, false, &p);
                        }
                    }
                    Ok(Some(Item::Pong)) => {}
                    Ok(Some(Item::Close(c))) => {
                        if !close_sent {
                            // Echo the peer's code (RFC 6455 §5.5.1); none for none.
                            match &c {
                                Some((code, _)) => frame::encode_close(&mut out, *code, ""),
                                None => frame::encode(&mut out, frame::OP_CLOSE, false, &[]),
                            }
                            close_sent = true;
                        }
                        close_rcvd = Some(c);
                        read_open = false;
                    }
                    Ok(Some(Item::Text(s))) => {
                        if !close_sent {
                            ready = Some(Message::Text(s));
                        }
                    }
                    Ok(Some(Item::Binary(b))) => {
                        if !close_sent {
                            ready = Some(Message::Binary(b));
                        }
                    }
                    Err(f) => {
                        tracing::debug!("closing WebSocket with {}: {}", f.code, f.reason);
                        if !close_sent {
                            frame::encode_close(&mut out, f.code, f.reason);
                            close_sent = true;
                        }
                        failed = Some((f.code, f.reason.to_owned()));
                        read_open = false;
                        // Nothing the peer sends now is worth reading.
                        rbuf = BytesMut::new();
                    }
                }
            }
            if let Some(m) = ready.take() {
                match self.in_tx.try_send(m) {
                    Ok(()) => continue,
                    Err(mpsc::error::TrySendError::Full(m)) => ready = Some(m),
                    // The app stopped listening: what the peer sends is dropped.
                    Err(mpsc::error::TrySendError::Closed(_)) => continue,
                }
            }
            let done_reading = close_rcvd.is_some() || failed.is_some();
            if done_reading && out.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
                break;
            }
            if rbuf.capacity() - rbuf.len() < 4096 {
                rbuf.reserve(8192);
            }
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            let stall_at = match (stalled_since, send_timeout.is_zero()) {
                (Some(t), false) => t + send_timeout,
                _ => far,
            };
            let can_read = read_open && ready.is_none() && out.len() < HIGH_WATER;
            if !can_read {
                heard = Instant::now();
            }
            let keepalive = can_read && !close_sent && !ping_interval.is_zero();
            let ping_due = heard
                + if pinged {
                    ping_interval * 2
                } else {
                    ping_interval
                };
            tokio::select! {
                biased;
                r = wr.write(&out), if !out.is_empty() => match r {
                    Ok(n) if n > 0 => {
                        out.advance(n);
                        stalled_since = if out.is_empty() { None } else { Some(Instant::now()) };
                    }
                    _ => break,
                },
                permit = self.in_tx.reserve(), if ready.is_some() => {
                    if let (Ok(p), Some(m)) = (permit, ready.take()) {
                        p.send(m);
                    }
                    ready = None;
                }
                m = self.out_rx.recv(), if app_open && !close_sent && out.len() < HIGH_WATER => {
                    let m = m.unwrap_or_else(|| {
                        app_open = false;
                        Message::Close { code: code::NORMAL, reason: String::new() }
                    });
                    if let Message::Close { code, reason } = &m {
                        sent_code = Some((*code, reason.clone()));
                        close_sent = true;
                        close_by = Some(Instant::now() + CLOSE_WAIT);
                        // Later sends fail at once rather than queue for nothing.
                        self.out_rx.close();
                    }
                    if out.is_empty() && stalled_since.is_none() {
                        stalled_since = Some(Instant::now());
                    }
                    encode(&mut self.deflate, m, &mut out);
                }
                r = rd.read_buf(&mut rbuf), if can_read => match r {
                    Ok(n) if n > 0 => {
                        heard = Instant::now();
                        pinged = false;
                    }
                    _ => break,
                },
                () = tokio::time::sleep_until(ping_due), if keepalive => {
                    if out.is_empty() && stalled_since.is_none() {
                        stalled_since = Some(Instant::now());
                    }
                    if !pinged {
                        frame::encode(&mut out, frame::OP_PING, false, b"runicorn");
                        pinged = true;
                    } else {
                        tracing::debug!(
                            "closing a WebSocket whose peer sent nothing for {:?}",
                            ping_interval * 2
                        );
                        let reason = "keepalive ping timeout";
                        frame::encode_close(&mut out, code::INTERNAL, reason);
                        failed = Some((code::INTERNAL, reason.to_owned()));
                        close_sent = true;
                        read_open = false;
                        rbuf = BytesMut::new();
                    }
                }
                r = going.changed(), if !close_sent => {
                    if r.is_ok() {
                        sent_code = Some((code::GOING_AWAY, "server shutting down".into()));
                        frame::encode_close(&mut out, code::GOING_AWAY, "server shutting down");
                        close_sent = true;
                        close_by = Some(Instant::now() + CLOSE_WAIT);
                        self.out_rx.close();
                    }
                }
                () = tokio::time::sleep_until(close_by.unwrap_or(far)), if close_by.is_some() => break,
                () = tokio::time::sleep_until(stall_at), if !out.is_empty() && !send_timeout.is_zero() => {
                    tracing::debug!("dropping a WebSocket peer that stopped reading");
                    break;
                }
            }
        }
        let end = match (failed, close_rcvd, sent_code) {
            (Some(f), _, _) => f,
            (None, Some(Some(c)), _) => c,
            (None, Some(None), _) => (code::NO_STATUS, String::new()),
            // We closed (app or drain) and the peer never answered.
            (None, None, Some(c)) if close_sent => c,
            _ => (code::ABNORMAL, String::new()),
        };
        let _ = self.end.set(end);
        // Dropping `in_tx` (with self) ends the app's stream: its last message is the Close.
    }
}
