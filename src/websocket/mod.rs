//! WebSockets (RFC 6455, permessage-deflate per RFC 7692, over HTTP/2 per RFC 8441): the
//! handshake, the framing, one task per open socket, and the worker's registry of open
//! sockets. The ASGI host's `websocket` scope and Rust services use the same API.
//!
//! # API
//!
//! ```no_run
//! # use runicorn::websocket::{self, Handshake, Message};
//! # use http_body_util::{Empty, Full, BodyExt, combinators::BoxBody};
//! # use bytes::Bytes;
//! # type Body = Full<Bytes>;
//! async fn serve(mut req: http::Request<hyper::body::Incoming>) -> http::Response<Body> {
//!     if !websocket::is_upgrade_request(&req) {
//!         return http::Response::new(Full::new(Bytes::from("plain HTTP")));
//!     }
//!     let hs = match Handshake::from_request(&mut req) {
//!         Ok(hs) => hs,
//!         Err(refusal) => return refusal.into_response(), // 400 / 426
//!     };
//!     let proto = hs.protocols().first().cloned();
//!     let (response, session) = hs.accept(proto.as_deref(), vec![]);
//!     tokio::spawn(async move {
//!         let Some(mut ws) = session.await else { return };
//!         while let Some(m) = ws.recv().await {
//!             match m {
//!                 Message::Close { .. } => break,
//!                 m => { if ws.send(m).await.is_err() { break } }
//!             }
//!         }
//!     });
//!     response.map(|()| Full::new(Bytes::new()))
//! }
//! ```
//!
//! - [`is_upgrade_request`]: the `websocket` path or the `http` one.
//! - [`Handshake::from_request`] validates (a [`Refusal`] is a 400, or 426 for a version
//!   other than 13) and takes the connection's upgrade handle.
//! - [`Handshake::accept`] gives the response (`101`, or `200` on HTTP/2) with
//!   `Sec-WebSocket-Accept`, the chosen subprotocol, the app's extra headers and the
//!   permessage-deflate answer, and a future of the [`Session`]. Not accepting is simply
//!   answering with another response (ASGI's denial extension, a close before accept's 403).
//! - [`Session`] (or its [`Sender`]/[`Receiver`] halves): bounded both ways; pings, pongs,
//!   fragments, deflate and the close handshake are handled by the socket's task, the app
//!   sees whole messages and exactly one final [`Message::Close`].
//!
//! # Limits and close codes
//!
//! `--websocket-max-message-size` (0 = none) bounds a message after reassembly and
//! inflation; the size is checked from each frame header, so an oversize message is
//! refused (1009) before it is buffered. Unmasked client frames, reserved bits or opcodes,
//! fragmented or oversize (>125 B) control frames, non-minimal lengths and bad close
//! payloads close with 1002; text or a close reason that is not UTF-8, or a payload that
//! does not inflate, with 1007. A peer that stops reading is dropped after
//! `--send-timeout`. Idle sockets are the app's business (no server pings).
//!
//! # Draining
//!
//! When a worker starts a graceful stop (TERM, HUP, `--max-requests`), every open socket
//! gets close 1001 at once, after the messages the app already sent, and the app its final
//! `Close { code: 1001 }`. A WebSocket has no request in flight to finish: waiting for
//! `--graceful-timeout` would only keep clients on the old generation's code and hold the
//! worker (and a reload) for its whole length before cutting them anyway, while an early
//! 1001 lets clients reconnect to the new workers at once (uvicorn also closes sockets at
//! the start of its shutdown). The close handshake itself is bounded (5 s).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::watch;

mod deflate;
pub(crate) mod frame;
mod handshake;
mod session;

pub use frame::code;
pub(crate) use handshake::{EdgeUpgrade, Handoff};
pub use handshake::{Handshake, Refusal, is_upgrade_request};
pub use session::{Closed, Message, Receiver, Sender, Session};

/// For the fuzz target: decodes `data` as client frames fed `chunk` bytes at a time (a
/// message limit of `max`, permessage-deflate agreed or not), and lists what came out,
/// ending with the close code of a failure.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8], chunk: usize, max: u64, deflate: bool) -> Vec<String> {
    let mut d = frame::Decoder::new(max, deflate.then(deflate::Inflate::new));
    let mut buf = bytes::BytesMut::new();
    let mut seen = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match d.next(&mut buf) {
                Ok(Some(item)) => seen.push(format!("{item:?}")),
                Ok(None) => break,
                Err(f) => {
                    seen.push(format!("close {}", f.code));
                    return seen;
                }
            }
        }
    }
    seen
}

/// A byte stream a session can own (the edge's socket adapter or a hyper upgrade).
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static
{
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// WebSocket settings of one worker.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `--websocket-max-message-size`; 0 = unlimited.
    pub(crate) max_message_size: u64,
    /// Whether permessage-deflate is offered back when a client asks.
    pub(crate) permessage_deflate: bool,
    /// `--send-timeout`: a peer that reads nothing for this long is dropped; 0 = never.
    pub(crate) send_timeout: Duration,
    /// `--websocket-ping-interval`: silence after which the peer is pinged, and after
    /// twice which it is closed; 0 = never.
    pub(crate) ping_interval: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_message_size: 16 * 1024 * 1024,
            permessage_deflate: true,
            send_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
        }
    }
}

/// The open sockets of one worker.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Set once the worker drains; every session then closes with 1001.
    going_away: watch::Sender<bool>,
    /// Sessions running.
    open: AtomicUsize,
}

/// What every session of a worker shares: its settings and the registry.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
}

impl Context {
    pub(crate) fn new(config: Config) -> Arc<Context> {
        Arc::new(Context {
            config,
            registry: Registry {
                going_away: watch::channel(false).0,
                open: AtomicUsize::new(0),
            },
        })
    }

    /// For a request served outside runicorn's server: default settings, never drained.
    fn fallback() -> Arc<Context> {
        static CTX: std::sync::OnceLock<Arc<Context>> = std::sync::OnceLock::new();
        CTX.get_or_init(|| Context::new(Config::default())).clone()
    }

    /// The worker drains: every open (and every later) socket closes with 1001. Returns
    /// how many were open.
    pub(crate) fn going_away(&self) -> usize {
        self.registry.going_away.send_replace(true);
        self.registry
            .open
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
