//! HTTP/1 request validation with Gunicorn 27's rules, limits and error
//! responses: the strict edge that lets runicorn face the internet without
//! nginx in front of it.
//!
//! # Why a validator in front of hyper
//!
//! hyper's HTTP/1 parser (httparse + the `http` crate) is correct but
//! lenient where Gunicorn is strict, and it has no request-line or
//! per-field limits; it answers errors with bare heads Gunicorn never sends.
//! Gunicorn 27 refuses bare LFs, obs-fold, `_` header names (dropped),
//! duplicate `Host`/`Content-Type`, lists or signs in `Content-Length`,
//! any `Transfer-Encoding` that doesn't end in exactly one `chunked`, ...
//! and answers each with a specific status and HTML body. This module
//! reproduces those rules byte for byte, purely (no I/O, no async):
//!
//! | module | owns |
//! |---|---|
//! | [`error`] | [`Reject`]: status, Gunicorn's message, `to_wire()` / `log_line()` |
//! | [`head`] | [`parse_head`]: request line + header section, limits, framing decision |
//! | [`chunked`] | [`ChunkedDecoder`] / [`LengthDecoder`]: where a body ends |
//! | [`proxy`] | [`parse_proxy`]: PROXY protocol v1/v2 |
//! | `conn_info` | [`ConnInfo`] / [`Peer`]: where a request came in, for the layers above the server |
//! | [`gate`] | [`Gate`]: the per-connection byte-stream state machine tying it together |
//!
//! # The one rule: our framing and hyper's must agree
//!
//! Two HTTP parsers reading the same stream is how request smuggling
//! happens: if they disagree on where a message ends, bytes one treats as
//! body the other treats as a new request. The design makes disagreement
//! impossible rather than unlikely:
//!
//! * The [`Gate`] sits between the socket and hyper and forwards **only
//!   messages it fully understood, with exactly one framing**: no body, one
//!   `Content-Length` of plain digits, or `chunked` as the single final
//!   coding, never both (anything ambiguous is refused before hyper sees a
//!   byte of it). Those are the cases where RFC 9112 §6.3 leaves no choice,
//!   so hyper necessarily frames them the same way.
//! * The Gate cuts the stream itself: it forwards a head, then exactly the
//!   body bytes its framing allows (chunk framing forwarded only once
//!   validated), then parses the next head. hyper can never receive the
//!   start of request *n+1* as part of request *n*.
//! * What Gunicorn accepts but hyper would reject is normalised or refused
//!   here, so hyper never has to answer in its own format: `HTTP/1.x`
//!   (x ≥ 2) is handed over as `HTTP/1.1`, accepted obs-folds become spaces,
//!   stripped header spaces move the colon, casefolded methods are
//!   uppercased (all in place, same length), `_` header lines are removed,
//!   and targets the `http` crate's URI parser would refuse (`<`, `>`,
//!   `` ` `` in paths, `"` in queries, ...) are refused with Gunicorn's
//!   `Invalid HTTP request line` wording. A test serves the gate's output
//!   with real hyper and checks it sees exactly the same requests.
//!
//! # Driving the Gate (for the server side)
//!
//! Wrap the socket in an `AsyncRead` adapter. On each read of `n` bytes:
//! `gate.feed(&buf[..n], &mut to_hyper, &mut events)`; serve `to_hyper` to
//! hyper's reads; act on `events` in order:
//! * [`gate::Event::Proxy`]: replace the peer address (REMOTE_ADDR).
//! * [`gate::Event::Head`] / [`gate::Event::MessageEnd`]: bookkeeping
//!   (request counting, `Expect: 100-continue` is left to hyper).
//! * [`gate::Event::Reject`]: if hyper has not started a response on this
//!   connection's current request, write `reject.to_wire()` to the socket
//!   yourself, log `reject.log_line(peer_ip)` at WARNING (for status 500 —
//!   malformed PROXY v2 — Gunicorn logs `Error handling request (no URI
//!   read)` with a traceback instead), then close; in any case stop feeding
//!   hyper (report EOF to it).
//! * When `gate.awaiting_upgrade()`, tell it the outcome of the response
//!   with `upgrade_decided(status == 101 || CONNECT-2xx, ...)`.
//! * Stop reading when `!gate.wants_input()`.
//!
//! Configure hyper so its own limits never fire first:
//! `max_buf_size(max(8192, rules.max_head_bytes()))`,
//! `max_headers(rules.limit_request_fields)`.

pub mod chunked;
mod conn_info;
pub mod error;
pub mod gate;
pub mod head;
pub mod proxy;

pub use chunked::{ChunkedDecoder, LengthDecoder, Progress};
pub use conn_info::{ConnInfo, Peer};
pub use error::Reject;
pub use gate::{Event, Gate, GateConfig};
pub use head::{Framing, Head, HeaderMap, Rules, Status, content_length_value, parse_head};
pub use proxy::{ProxyInfo, ProxyMode, parse_proxy};

#[cfg(test)]
mod tests;
