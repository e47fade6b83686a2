//! The connection gate: a sans-IO byte-stream state machine that every
//! inbound byte goes through before hyper sees it.
//!
//! Per connection: optional PROXY header first, then for each request the
//! head is buffered until [`parse_head`] accepts it (or rejects it), the
//! validated head is passed on (minus dropped header lines), and the body is
//! passed on exactly as far as its one framing says, then the gate is back
//! at a head. So hyper only ever receives messages this module fully
//! understood, cut where this module cut them: the two parsers cannot
//! disagree on where a message ends (no request smuggling between them).
//!
//! The caller (an `AsyncRead` adapter) does, per read:
//! `gate.feed(&bytes, &mut to_hyper, &mut events)`, hands `to_hyper` to
//! hyper, and looks at `events` (a [`Event::Reject`] means: write
//! `reject.to_wire()` if no response for the current request was started,
//! log `reject.log_line(ip)`, then close). See the module docs of
//! [`crate::http`] for the full contract.

use super::chunked::{ChunkedDecoder, LengthDecoder};
use super::error::Reject;
use super::head::{Framing, Head, Rules, Status, parse_head};
use super::proxy::{ProxyInfo, ProxyMode, parse_proxy};

/// Per-connection settings.
#[derive(Debug, Clone, Default)]
pub struct GateConfig {
    pub rules: Rules,
    /// `proxy_protocol`.
    pub proxy_mode: ProxyMode,
    /// The peer is in `proxy_allow_ips` (else a PROXY header gets 403).
    pub proxy_allowed: bool,
    /// Peer IP as Gunicorn prints it, for the 403 message.
    pub peer_ip: String,
    /// `--limit-request-body` (0 = unlimited): a larger Content-Length is refused with 413
    /// before the head reaches hyper. (Chunked bodies are counted by the connection.)
    pub limit_request_body: u64,
}

/// Something the connection driver must know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A PROXY header was accepted: use its addresses for this connection.
    Proxy(ProxyInfo),
    /// A validated request head was passed on.
    Head {
        /// Request-side persistence (hyper applies the same rule).
        keep_alive: bool,
        expect_continue: bool,
        framing: Framing,
        /// CONNECT or `Upgrade` + `Connection: upgrade`: after this
        /// message the gate holds input until [`Gate::upgrade_decided`].
        wants_upgrade: bool,
        /// Where the head (as rewritten for hyper) lies in the output buffer given
        /// to [`Gate::feed`], so a driver may answer it itself instead.
        out: std::ops::Range<usize>,
    },
    /// The current request's body ended (immediately after `Head` for
    /// bodiless requests).
    MessageEnd,
    /// The stream is refused. Nothing more will be passed on. Write
    /// `to_wire()` unless a response to the current request already started,
    /// then close the connection.
    Reject(Reject),
}

#[derive(Debug)]
enum State {
    Proxy,
    Head,
    Length(LengthDecoder),
    Chunked(Box<ChunkedDecoder>),
    /// After an upgrade-requesting message: hold input until the server says
    /// whether it switched protocols.
    AwaitUpgrade,
    /// Upgraded: bytes are no longer HTTP/1, pass them through.
    Passthrough,
    /// The last request said the connection ends; input is discarded.
    Finished,
    Rejected,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Gate {
    cfg: GateConfig,
    state: State,
    /// Head bytes (and bytes that arrived after a head in the same read).
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// How far `buf` was scanned for head-end / bare-LF triggers.
    scanned: usize,
    lf_count: usize,
    /// Where the header section of the pending head starts, once known.
    hstart: Option<usize>,
    /// Persistence and upgrade of the message whose body is in flight.
    keep_alive: bool,
    wants_upgrade: bool,
    requests: u64,
}

impl Gate {
    pub fn new(cfg: GateConfig) -> Self {
        let state = if cfg.proxy_mode == ProxyMode::Off {
            State::Head
        } else {
            State::Proxy
        };
        Gate {
            cfg,
            state,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            lf_count: 0,
            hstart: None,
            keep_alive: true,
            wants_upgrade: false,
            requests: 0,
        }
    }

    /// Heads passed on so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// True once nothing more will ever be passed on (rejected, or the last
    /// request ended the connection).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Rejected | State::Finished)
    }

    /// True while the gate is holding bytes for an upgrade decision.
    pub fn awaiting_upgrade(&self) -> bool {
        matches!(self.state, State::AwaitUpgrade)
    }

    /// Bytes held back (partial head, or input held for an upgrade). The
    /// driver should stop reading while this exceeds
    /// [`Rules::max_head_bytes`] during an upgrade wait.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether the driver should keep reading from the socket.
    pub fn wants_input(&self) -> bool {
        match self.state {
            State::Rejected | State::Finished => false,
            State::AwaitUpgrade => self.buffered() <= self.cfg.rules.max_head_bytes(),
            _ => true,
        }
    }

    /// Feed inbound bytes; bytes for hyper are appended to `out`, events to
    /// `events` (in stream order).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, events: &mut Vec<Event>) {
        let mut data = input;
        loop {
            match &mut self.state {
                State::Rejected | State::Finished => {
                    self.buf = Vec::new();
                    self.start = 0;
                    return;
                }
                State::Passthrough => {
                    out.extend_from_slice(self.buf.get(self.start..).unwrap_or_default());
                    self.buf.clear();
                    self.start = 0;
                    out.extend_from_slice(data);
                    return;
                }
                State::AwaitUpgrade => {
                    self.buf.extend_from_slice(data);
                    return;
                }
                State::Proxy => {
                    self.append(&mut data);
                    let pending = self.buf.get(self.start..).unwrap_or_default();
                    match parse_proxy(pending, self.cfg.proxy_mode) {
                        Ok(None) => return,
                        Ok(Some((ProxyInfo::Absent, _))) => self.state = State::Head,
                        Ok(Some((info, n))) => {
                            if !self.cfg.proxy_allowed {
                                let r = Reject::forbidden_proxy(&self.cfg.peer_ip);
                                return self.reject(r, events);
                            }
                            events.push(Event::Proxy(info));
                            self.start += n;
                            self.scanned = self.start;
                            self.state = State::Head;
                        }
                        Err(r) => return self.reject(r, events),
                    }
                }
                State::Head
                    if self.start == self.buf.len()
                        && self.lf_count == 0
                        && self.hstart.is_none()
                        && memchr::memchr(b'\n', data).is_some() =>
                {
                    // Fast path: nothing is buffered and the input holds an LF, so
                    // the slow path below would append all of it, see a trigger
                    // (the first LF of a head always is one) and parse exactly
                    // these bytes: parse them in place instead, without copying.
                    // Only an incomplete head is buffered (and re-checked there).
                    let limit = self.cfg.limit_request_body;
                    let acc = match parse_head(data, &self.cfg.rules) {
                        Ok(Status::Incomplete) => {
                            self.append(&mut data);
                            continue;
                        }
                        Err(r) => return self.reject(r, events),
                        Ok(Status::Complete(head)) => match accept(&head, data, limit, out) {
                            Ok(acc) => acc,
                            Err(r) => return self.reject(r, events),
                        },
                    };
                    data = data.get(acc.len..).unwrap_or_default();
                    self.commit(acc, events);
                }
                State::Head => {
                    self.append(&mut data);
                    if !self.head_trigger() {
                        return;
                    }
                    let pending = self.buf.get(self.start..).unwrap_or_default();
                    match parse_head(pending, &self.cfg.rules) {
                        Ok(Status::Incomplete) => {
                            if pending.len() > self.cfg.rules.max_head_bytes() {
                                // Belt and braces: memory stays bounded even
                                // if the parser kept waiting.
                                let r = Reject::headers_limit("max buffer headers");
                                return self.reject(r, events);
                            }
                            return;
                        }
                        Err(r) => return self.reject(r, events),
                        Ok(Status::Complete(head)) => {
                            let limit = self.cfg.limit_request_body;
                            let acc = match accept(&head, pending, limit, out) {
                                Ok(acc) => acc,
                                Err(r) => return self.reject(r, events),
                            };
                            self.start += acc.len;
                            self.scanned = self.start;
                            self.commit(acc, events);
                            self.compact();
                        }
                    }
                }
                State::Length(_) | State::Chunked(_) => {
                    // Leftover bytes from the head buffer go first.
                    let from_buf = self.start < self.buf.len();
                    let src: &[u8] = if from_buf {
                        self.buf.get(self.start..).unwrap_or_default()
                    } else {
                        data
                    };
                    if src.is_empty() {
                        return;
                    }
                    let progress = match &mut self.state {
                        State::Length(d) => {
                            let p = d.feed(src);
                            out.extend_from_slice(src.get(..p.consumed).unwrap_or_default());
                            Ok(p)
                        }
                        State::Chunked(d) => d.feed_forward(src, out),
                        _ => return,
                    };
                    let p = match progress {
                        Ok(p) => p,
                        Err(r) => return self.reject(r, events),
                    };
                    if from_buf {
                        self.start += p.consumed;
                        self.compact();
                    } else {
                        data = data.get(p.consumed..).unwrap_or_default();
                    }
                    if p.done {
                        self.message_end(events);
                    } else if !from_buf {
                        return;
                    }
                }
            }
        }
    }

    /// The server answered the upgrade-requesting message: `accepted` (101,
    /// or 2xx to CONNECT) turns the gate into a pass-through; otherwise the
    /// held bytes are parsed as the next request.
    pub fn upgrade_decided(&mut self, accepted: bool, out: &mut Vec<u8>, events: &mut Vec<Event>) {
        if !matches!(self.state, State::AwaitUpgrade) {
            return;
        }
        self.state = if accepted {
            State::Passthrough
        } else if self.keep_alive {
            State::Head
        } else {
            State::Finished
        };
        self.wants_upgrade = false;
        self.scanned = self.start;
        self.lf_count = 0;
        self.hstart = None;
        self.feed(&[], out, events);
    }

    /// Bookkeeping for a head [`accept`] passed on (the caller moves past its bytes).
    fn commit(&mut self, acc: Accepted, events: &mut Vec<Event>) {
        self.requests += 1;
        self.keep_alive = acc.keep_alive;
        self.wants_upgrade = acc.wants_upgrade;
        events.push(Event::Head {
            keep_alive: acc.keep_alive,
            expect_continue: acc.expect_continue,
            framing: acc.framing,
            wants_upgrade: acc.wants_upgrade,
            out: acc.out.clone(),
        });
        self.lf_count = 0;
        self.hstart = None;
        match acc.framing {
            Framing::NoBody | Framing::Length(0) => self.message_end(events),
            Framing::Length(n) => self.state = State::Length(LengthDecoder::new(n)),
            Framing::Chunked => {
                self.state = State::Chunked(Box::new(
                    ChunkedDecoder::new(&self.cfg.rules)
                        .with_body_limit(self.cfg.limit_request_body),
                ));
            }
        }
    }

    fn append(&mut self, data: &mut &[u8]) {
        if !data.is_empty() {
            self.buf.extend_from_slice(data);
            *data = &[];
        }
    }

    fn message_end(&mut self, events: &mut Vec<Event>) {
        events.push(Event::MessageEnd);
        // An upgrade request waits for the server's answer even when the
        // request alone would close (CONNECT): only a refusal ends it.
        self.state = if self.wants_upgrade {
            State::AwaitUpgrade
        } else if !self.keep_alive {
            State::Finished
        } else {
            State::Head
        };
    }

    fn reject(&mut self, r: Reject, events: &mut Vec<Event>) {
        events.push(Event::Reject(r));
        self.state = State::Rejected;
        self.buf = Vec::new();
        self.start = 0;
        self.scanned = 0;
    }

    /// Drop consumed bytes once they dominate the buffer (amortised O(1)).
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.scanned -= self.start.min(self.scanned);
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned -= self.start.min(self.scanned);
            self.start = 0;
        }
    }

    /// Whether the buffered head could have changed verdict since the last
    /// look: re-parsing only on these events keeps per-byte feeding linear.
    fn head_trigger(&mut self) -> bool {
        let rules = &self.cfg.rules;
        let mut trigger = false;
        let from = self.scanned.max(self.start);
        for (i, &b) in self.buf.iter().enumerate().skip(from) {
            if b != b'\n' {
                continue;
            }
            self.lf_count += 1;
            let prev = if i > self.start {
                self.buf.get(i - 1).copied()
            } else {
                None
            };
            let end_marker =
                i >= self.start + 3 && self.buf.get(i - 3..=i) == Some(b"\r\n\r\n".as_slice());
            let leading_empty = i == self.start + 1 && prev == Some(b'\r');
            if self.hstart.is_none() && !leading_empty {
                self.hstart = Some(i + 1);
            }
            // Early LFs settle the request line; a bare LF or the end of the
            // head settles everything.
            if prev != Some(b'\r') || self.lf_count <= 2 || end_marker {
                trigger = true;
            }
        }
        self.scanned = self.buf.len();
        let pending = self.buf.len() - self.start;
        match self.hstart {
            // The request line can't fit any more.
            None if pending > rules.line_limit().saturating_add(2) => trigger = true,
            // The header window (see parse_head) is full.
            Some(h)
                if self.buf.len()
                    >= h.saturating_add(rules.max_header_buffer())
                        .saturating_add(2) =>
            {
                trigger = true
            }
            _ => {}
        }
        if pending > rules.max_head_bytes() {
            trigger = true;
        }
        trigger
    }
}

/// What the gate keeps of an accepted head.
#[derive(Debug, Clone)]
struct Accepted {
    len: usize,
    out: std::ops::Range<usize>,
    keep_alive: bool,
    expect_continue: bool,
    framing: Framing,
    wants_upgrade: bool,
}

/// Last checks on a complete head (`pending` starts with it); on success its
/// bytes, rewritten for hyper, are appended to `out`.
fn accept(
    head: &Head<'_>,
    pending: &[u8],
    limit: u64,
    out: &mut Vec<u8>,
) -> Result<Accepted, Reject> {
    hyper_target_check(head, pending)?;
    if let Framing::Length(n) = head.framing
        && limit > 0
        && n > limit
    {
        return Err(Reject::body_too_large(limit));
    }
    let start = out.len();
    out.extend_from_slice(&head.rewrite(pending));
    Ok(Accepted {
        len: head.len,
        out: start..out.len(),
        keep_alive: head.keep_alive(),
        expect_continue: head.expect_continue,
        framing: head.framing,
        wants_upgrade: head.wants_upgrade(),
    })
}

/// Targets Gunicorn accepts but hyper's URI parser (the `http` crate) would
/// answer with its own bare 400: refuse them here instead, worded as
/// Gunicorn's `InvalidRequestLine`, so the client gets one consistent error
/// format and hyper never sees a request it would reject. Origin-form
/// targets made only of bytes `http` always accepts skip the (allocating)
/// parse; everything else is checked with the very parser hyper uses.
fn hyper_target_check(head: &Head<'_>, pending: &[u8]) -> Result<(), Reject> {
    let t = head.target;
    let fast = t.first() == Some(&b'/')
        && t.len() <= 65_534
        && t.iter()
            .all(|&b| !matches!(b, b'"' | b'<' | b'>' | b'`' | b'#' | b'{' | b'}'));
    if fast || head.method == b"CONNECT" && http::uri::Authority::try_from(t).is_ok() {
        return Ok(());
    }
    if http::Uri::try_from(t).is_ok() {
        return Ok(());
    }
    // Report the request line exactly as received.
    let skip = if pending.starts_with(b"\r\n") { 2 } else { 0 };
    let rest = pending.get(skip..).unwrap_or_default();
    let line = rest
        .iter()
        .position(|&b| b == b'\r')
        .and_then(|e| rest.get(..e))
        .unwrap_or(rest);
    Err(Reject::request_line(line))
}
