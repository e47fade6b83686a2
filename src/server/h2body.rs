//! `--body-timeout` and `--body-min-rate` for HTTP/2 request bodies. hyper hands the app
//! each request body as its own `Incoming` (nothing can be put in between), so the
//! deadlines are kept below hyper, on the connection's frames: [`BodyWatch`] reads the
//! frames both ways as `http2::ProgressIo` passes them.
//!
//! - A stream whose HEADERS did not end it is watched until its END_STREAM or a reset
//!   either way. Its clock runs only while the client could send (the stream's and the
//!   connection's windows, as the server granted them, are open): an app that reads its
//!   upload late shuts the window, and that is not the client's fault (HTTP/1's rule:
//!   only time spent waiting on the client counts).
//! - Past the deadline (no DATA for `--body-timeout`, or under `--body-min-rate` on
//!   average once the body has had 5 s) the stream is cut: hyper is handed a RST_STREAM
//!   CANCEL as if the client had sent it (the app's body read fails, the stream's task
//!   ends), and the client gets a `408` (HEADERS with END_STREAM, then RST_STREAM
//!   NO_ERROR, RFC 9113 §8.1) if no response HEADERS went out on the stream yet, else a
//!   RST_STREAM CANCEL. Counted as a body timeout, as on HTTP/1.
//! - DATA the client still sends on a cut stream is dropped here and its share of the
//!   connection window given back (WINDOW_UPDATE): h2 treats DATA on a stream the peer
//!   reset as a connection error.
//! - A client stalled in the middle of a frame holds up every stream behind that frame,
//!   and nothing can be handed to hyper until it ends: the connection is closed then.
//! - `--limit-request-body`: a DATA frame that would take a stream's body past the limit
//!   is dropped (its window given back) and the stream cut the same way, with a `413`
//!   (HTTP/1's gate refuses the same body by its chunk sizes or its Content-Length).
//! - A connection that opened an extended CONNECT (a WebSocket, whose "body" may rightly
//!   stay silent) stops watching streams once their response went out: which stream is
//!   the tunnel is in the HPACK-coded headers, which this layer does not decode.
//!
//! The 408 header block uses HPACK's literal-without-indexing form with a static-table
//! name, so neither side's dynamic table changes under hyper's feet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::conn::{NEVER_SECS, RATE_GRACE};

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const NO_ERROR: u32 = 0x0;
const CANCEL: u32 = 0x8;
/// SETTINGS_INITIAL_WINDOW_SIZE.
const INITIAL_WINDOW_SIZE: u16 = 0x4;
/// Both windows before any SETTINGS or WINDOW_UPDATE (RFC 9113 §6.9.2).
const DEFAULT_WINDOW: i64 = 65_535;
/// `:status: 408`, literal without indexing, name from static-table entry 8.
const STATUS_408: [u8; 5] = [0x08, 0x03, b'4', b'0', b'8'];
/// `:status: 413`, the same way.
const STATUS_413: [u8; 5] = [0x08, 0x03, b'4', b'1', b'3'];
/// Cut streams remembered (to drop DATA the client had in flight); the oldest goes first.
const CUT_MEMORY: usize = 64;
/// Streams watched at once; h2 refuses a client far fewer (`--http2-max-concurrent-streams`).
const MAX_WATCHED: usize = 4096;

/// One watched request body.
#[derive(Debug)]
struct Stream {
    id: u32,
    /// Flow-controlled bytes received, and the WINDOW_UPDATE increments granted for it.
    received: i64,
    granted: i64,
    /// The body's clock: shifted forward by every spell the window was shut.
    started: Instant,
    last: Instant,
    bytes: u64,
    blocked_since: Option<Instant>,
    /// Response HEADERS went out on it.
    responded: bool,
}

/// What [`BodyWatch::expire`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Expired {
    None,
    /// This many streams were cut; the frames to send either way are queued.
    Cut(usize),
    /// A deadline passed while the client was in the middle of a frame.
    Close,
}

/// Both directions' frame scanners, the watched streams and the frames to inject.
#[derive(Debug)]
pub(super) struct BodyWatch {
    timeout: Duration,
    min_rate: u64,
    /// `--limit-request-body` (0: none), and the streams cut for passing it not yet
    /// reported ([`BodyWatch::take_over_limit`]).
    limit: u64,
    over_limit: u64,
    /// Inbound: bytes of the client's preface still to pass, the frame header being
    /// gathered (held back from hyper until whole, so a frame can still be dropped), the
    /// current frame's payload bytes still to come and whether they are dropped.
    preface_left: usize,
    in_header: [u8; 9],
    in_held: usize,
    in_left: usize,
    in_drop: bool,
    /// Outbound: the same for what hyper wrote, plus the payload bytes kept (a
    /// WINDOW_UPDATE increment, a SETTINGS entry).
    out_header: [u8; 9],
    out_header_len: usize,
    out_left: usize,
    out_ty: u8,
    out_flags: u8,
    out_stream: u32,
    out_small: [u8; 6],
    out_small_len: usize,
    /// The windows the server granted: the stream's initial one (its SETTINGS), and the
    /// connection's received and granted totals.
    initial_window: i64,
    conn_received: i64,
    conn_granted: i64,
    streams: Vec<Stream>,
    cut: VecDeque<u32>,
    /// Frames for hyper (at an inbound frame boundary) and for the client (at an
    /// outbound one), and connection window to give back for dropped DATA.
    pub(super) to_hyper: Vec<u8>,
    to_client: Vec<u8>,
    credit: u64,
}

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
    let n = payload.len();
    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8, ty, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

impl BodyWatch {
    pub(super) fn new(timeout: Duration, min_rate: u64, limit: u64) -> BodyWatch {
        BodyWatch {
            timeout,
            min_rate,
            limit,
            over_limit: 0,
            preface_left: 24,
            in_header: [0; 9],
            in_held: 0,
            in_left: 0,
            in_drop: false,
            out_header: [0; 9],
            out_header_len: 0,
            out_left: 0,
            out_ty: 0,
            out_flags: 0,
            out_stream: 0,
            out_small: [0; 6],
            out_small_len: 0,
            initial_window: DEFAULT_WINDOW,
            conn_received: 0,
            conn_granted: 0,
            streams: Vec::new(),
            cut: VecDeque::new(),
            to_hyper: Vec::new(),
            to_client: Vec::new(),
            credit: 0,
        }
    }

    /// The frame header bytes held back from hyper so far: they go in front of the next
    /// bytes read, and [`BodyWatch::inbound`] scans them again with those.
    pub(super) fn held(&self) -> &[u8] {
        &self.in_header[..self.in_held]
    }

    /// hyper has been handed whole frames only (injecting one is safe now).
    pub(super) fn inbound_at_boundary(&self) -> bool {
        self.preface_left == 0 && self.in_left == 0
    }

    /// Scans bytes read from the client (after [`BodyWatch::held`]), in place: drops what
    /// hyper must not see and holds back an incomplete frame header. Returns how many
    /// bytes at the front remain.
    pub(super) fn inbound(&mut self, data: &mut [u8], now: Instant) -> usize {
        self.in_held = 0;
        let (mut r, mut w) = (0, 0);
        while r < data.len() {
            let rest = data.len() - r;
            let pass = if self.preface_left > 0 {
                let n = self.preface_left.min(rest);
                self.preface_left -= n;
                Some((n, true))
            } else if self.in_left > 0 {
                let n = self.in_left.min(rest);
                self.in_left -= n;
                Some((n, !self.in_drop))
            } else {
                None
            };
            if let Some((n, keep)) = pass {
                if keep {
                    data.copy_within(r..r + n, w);
                    w += n;
                }
                r += n;
                continue;
            }
            if rest < 9 {
                self.in_header[..rest].copy_from_slice(&data[r..]);
                self.in_held = rest;
                break;
            }
            let h = &data[r..r + 9];
            let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
            let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
            let drop = self.frame_in(h[3], h[4], id, len, now);
            if !drop {
                data.copy_within(r..r + 9, w);
                w += 9;
            }
            r += 9;
            self.in_left = len;
            self.in_drop = drop;
        }
        self.refresh(now);
        w
    }

    /// One inbound frame header; true when the frame is dropped.
    fn frame_in(&mut self, ty: u8, flags: u8, id: u32, len: usize, now: Instant) -> bool {
        let ends = flags & END_STREAM != 0;
        match ty {
            DATA => {
                if let Some(i) = self.cut.iter().position(|c| *c == id) {
                    self.credit += len as u64;
                    if ends {
                        self.cut.remove(i);
                    }
                    return true;
                }
                let watched = self.find(id);
                if let Some(i) = watched
                    && self.limit > 0
                    && self.streams[i].bytes + len as u64 > self.limit
                {
                    // Dropped whole, so hyper's windows never count it: the client's
                    // connection window is given back, and hyper gets the reset.
                    self.credit += len as u64;
                    let s = self.streams.swap_remove(i);
                    self.cut_stream(s, &STATUS_413, !ends);
                    self.over_limit += 1;
                    return true;
                }
                self.conn_received += len as i64;
                if let Some(i) = watched {
                    let s = &mut self.streams[i];
                    s.received += len as i64;
                    s.bytes += len as u64;
                    s.last = now;
                    if ends {
                        self.streams.swap_remove(i);
                    }
                }
            }
            HEADERS => match self.find(id) {
                // Trailers.
                Some(i) if ends => {
                    self.streams.swap_remove(i);
                }
                Some(_) => {}
                None if !ends
                    && id % 2 == 1
                    && self.streams.len() < MAX_WATCHED
                    && !self.cut.contains(&id) =>
                {
                    self.streams.push(Stream {
                        id,
                        received: 0,
                        granted: 0,
                        started: now,
                        last: now,
                        bytes: 0,
                        blocked_since: None,
                        responded: false,
                    });
                }
                None => {}
            },
            RST_STREAM => {
                self.forget(id);
                self.cut.retain(|c| *c != id);
            }
            _ => {}
        }
        false
    }

    /// Scans bytes hyper wrote to the client (those the socket took).
    pub(super) fn outbound(&mut self, mut data: &[u8], now: Instant) {
        while !data.is_empty() {
            if self.out_left == 0 {
                let n = (9 - self.out_header_len).min(data.len());
                self.out_header[self.out_header_len..self.out_header_len + n]
                    .copy_from_slice(&data[..n]);
                self.out_header_len += n;
                data = &data[n..];
                if self.out_header_len < 9 {
                    break;
                }
                self.out_header_len = 0;
                let h = self.out_header;
                self.out_left =
                    usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                self.out_ty = h[3];
                self.out_flags = h[4];
                self.out_stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                self.out_small_len = 0;
                match self.out_ty {
                    HEADERS => {
                        if let Some(i) = self.find(self.out_stream) {
                            self.streams[i].responded = true;
                        }
                    }
                    RST_STREAM => self.forget(self.out_stream),
                    _ => {}
                }
                continue;
            }
            let n = self.out_left.min(data.len());
            let wanted = match self.out_ty {
                WINDOW_UPDATE => 4,
                SETTINGS if self.out_flags & ACK == 0 => 6,
                _ => 0,
            };
            for &b in &data[..n] {
                if wanted == 0 {
                    break;
                }
                self.out_small[self.out_small_len] = b;
                self.out_small_len += 1;
                if self.out_small_len == wanted {
                    self.out_small_len = 0;
                    self.small_payload();
                }
            }
            self.out_left -= n;
            data = &data[n..];
        }
        self.refresh(now);
    }

    /// A WINDOW_UPDATE increment or a SETTINGS entry hyper sent.
    fn small_payload(&mut self) {
        let s = self.out_small;
        if self.out_ty == WINDOW_UPDATE {
            let inc = i64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) & 0x7fff_ffff);
            if self.out_stream == 0 {
                self.conn_granted += inc;
            } else if let Some(i) = self.find(self.out_stream) {
                self.streams[i].granted += inc;
            }
        } else if u16::from_be_bytes([s[0], s[1]]) == INITIAL_WINDOW_SIZE {
            self.initial_window = i64::from(u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
        }
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    fn forget(&mut self, id: u32) {
        if let Some(i) = self.find(id) {
            self.streams.swap_remove(i);
        }
    }

    /// Starts or stops each stream's clock as its windows shut or open.
    fn refresh(&mut self, now: Instant) {
        let conn_open = DEFAULT_WINDOW + self.conn_granted - self.conn_received > 0;
        for s in &mut self.streams {
            let open = conn_open && self.initial_window + s.granted - s.received > 0;
            match (open, s.blocked_since) {
                (false, None) => s.blocked_since = Some(now),
                (true, Some(t)) => {
                    let shut = now.saturating_duration_since(t);
                    s.started += shut;
                    s.last += shut;
                    s.blocked_since = None;
                }
                _ => {}
            }
        }
    }

    /// A stream's deadline, if its clock runs (`tunnels`: answered streams are let be).
    fn stream_deadline(&self, s: &Stream, tunnels: bool) -> Option<Instant> {
        if s.blocked_since.is_some() || (tunnels && s.responded) {
            return None;
        }
        let gap = s.last + self.timeout;
        if self.min_rate == 0 {
            return Some(gap);
        }
        // The earliest moment the average can fall below the minimum with the bytes so far.
        let needed =
            Duration::from_secs_f64((s.bytes as f64 / self.min_rate as f64).min(NEVER_SECS as f64));
        Some(gap.min(s.started + needed.max(RATE_GRACE)))
    }

    /// The earliest deadline of a watched stream.
    pub(super) fn deadline(&self, tunnels: bool) -> Option<Instant> {
        self.streams
            .iter()
            .filter_map(|s| self.stream_deadline(s, tunnels))
            .min()
    }

    /// Cuts every stream past its deadline (queueing the frames for both sides), or
    /// says the connection must close.
    pub(super) fn expire(&mut self, now: Instant, tunnels: bool) -> Expired {
        let due: Vec<usize> = (0..self.streams.len())
            .filter(|&i| {
                self.stream_deadline(&self.streams[i], tunnels)
                    .is_some_and(|d| d <= now)
            })
            .collect();
        if due.is_empty() {
            return Expired::None;
        }
        if !self.inbound_at_boundary() {
            return Expired::Close;
        }
        for &i in due.iter().rev() {
            let s = self.streams.swap_remove(i);
            self.cut_stream(s, &STATUS_408, true);
        }
        Expired::Cut(due.len())
    }

    /// Queues a cut stream's frames: a reset for hyper, as if the client had sent it, and
    /// for the client `status` (or a reset, once a response began). `more`: the client
    /// may still send DATA on it, to be dropped.
    fn cut_stream(&mut self, s: Stream, status: &[u8; 5], more: bool) {
        frame(
            &mut self.to_hyper,
            RST_STREAM,
            0,
            s.id,
            &CANCEL.to_be_bytes(),
        );
        if s.responded {
            frame(
                &mut self.to_client,
                RST_STREAM,
                0,
                s.id,
                &CANCEL.to_be_bytes(),
            );
        } else {
            let flags = END_STREAM | END_HEADERS;
            frame(&mut self.to_client, HEADERS, flags, s.id, status);
            frame(
                &mut self.to_client,
                RST_STREAM,
                0,
                s.id,
                &NO_ERROR.to_be_bytes(),
            );
        }
        if more {
            if self.cut.len() == CUT_MEMORY {
                self.cut.pop_front();
            }
            self.cut.push_back(s.id);
        }
    }

    /// `--limit-request-body`, and the streams cut for passing it since the last call.
    pub(super) fn take_over_limit(&mut self) -> Option<(u64, u64)> {
        let n = std::mem::take(&mut self.over_limit);
        (n > 0).then_some((n, self.limit))
    }

    /// Frames for the client, if one may be written now (hyper's last frame is whole).
    pub(super) fn for_client(&mut self) -> Option<&mut Vec<u8>> {
        if self.out_left != 0 || self.out_header_len != 0 {
            return None;
        }
        if self.credit > 0 {
            let inc = self.credit.min(0x7fff_ffff) as u32;
            self.credit -= u64::from(inc);
            frame(&mut self.to_client, WINDOW_UPDATE, 0, 0, &inc.to_be_bytes());
        }
        (!self.to_client.is_empty()).then_some(&mut self.to_client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn f(ty: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        frame(&mut v, ty, flags, id, payload);
        v
    }

    fn watch() -> (BodyWatch, Instant) {
        let mut w = BodyWatch::new(Duration::from_secs(10), 0, 0);
        let now = Instant::now();
        let mut pre = PREFACE.to_vec();
        assert_eq!(w.inbound(&mut pre, now), PREFACE.len());
        (w, now)
    }

    #[test]
    fn a_stalled_body_is_cut_with_a_408_and_its_late_data_dropped() {
        let (mut w, t0) = watch();
        let mut bytes = f(HEADERS, END_HEADERS, 1, &[0x83]);
        bytes.extend(f(DATA, 0, 1, b"abc"));
        let n = bytes.len();
        assert_eq!(w.inbound(&mut bytes, t0), n, "nothing dropped yet");
        assert_eq!(w.deadline(false), Some(t0 + Duration::from_secs(10)));
        assert_eq!(w.expire(t0 + Duration::from_secs(9), false), Expired::None);
        assert_eq!(
            w.expire(t0 + Duration::from_secs(10), false),
            Expired::Cut(1)
        );
        assert_eq!(w.to_hyper, f(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()));
        let mut expect = f(HEADERS, END_STREAM | END_HEADERS, 1, &STATUS_408);
        expect.extend(f(RST_STREAM, 0, 1, &NO_ERROR.to_be_bytes()));
        assert_eq!(w.for_client().cloned(), Some(expect));
        w.to_client.clear();
        // Late DATA on the cut stream is dropped, a GET on another stream passes.
        let mut late = f(DATA, END_STREAM, 1, &[7; 100]);
        let get = f(HEADERS, END_STREAM | END_HEADERS, 3, &[0x82]);
        late.extend(&get);
        let kept = w.inbound(&mut late, t0);
        assert_eq!(&late[..kept], &get[..]);
        assert_eq!(
            w.for_client().cloned(),
            Some(f(WINDOW_UPDATE, 0, 0, &100u32.to_be_bytes())),
            "the connection window of the dropped DATA is given back"
        );
    }

    #[test]
    fn a_body_past_the_limit_is_cut_with_a_413_at_the_frame_that_passes_it() {
        let mut w = BodyWatch::new(Duration::from_secs(10), 0, 10);
        let t0 = Instant::now();
        let mut pre = PREFACE.to_vec();
        w.inbound(&mut pre, t0);
        // 10 bytes in two frames pass; the 11th byte's frame is dropped whole.
        let mut ok = f(HEADERS, END_HEADERS, 1, &[0x83]);
        ok.extend(f(DATA, 0, 1, &[1; 6]));
        ok.extend(f(DATA, 0, 1, &[2; 4]));
        let n = ok.len();
        assert_eq!(w.inbound(&mut ok, t0), n);
        assert!(w.to_hyper.is_empty());
        let mut over = f(DATA, 0, 1, &[3; 1]);
        let get = f(HEADERS, END_STREAM | END_HEADERS, 3, &[0x82]);
        over.extend(&get);
        let kept = w.inbound(&mut over, t0);
        assert_eq!(
            &over[..kept],
            &get[..],
            "the frame that passes the limit is dropped"
        );
        assert_eq!(w.take_over_limit(), Some((1, 10)));
        assert_eq!(w.take_over_limit(), None);
        assert_eq!(w.to_hyper, f(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()));
        let mut expect = f(HEADERS, END_STREAM | END_HEADERS, 1, &STATUS_413);
        expect.extend(f(RST_STREAM, 0, 1, &NO_ERROR.to_be_bytes()));
        expect.extend(f(WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes()));
        assert_eq!(w.for_client().cloned(), Some(expect));
        // What the client still sends on it is dropped too; its window given back.
        w.to_client.clear();
        let mut late = f(DATA, END_STREAM, 1, &[4; 50]);
        assert_eq!(w.inbound(&mut late, t0), 0);
        assert_eq!(
            w.for_client().cloned(),
            Some(f(WINDOW_UPDATE, 0, 0, &50u32.to_be_bytes()))
        );
    }

    #[test]
    fn an_answered_stream_is_reset_and_a_shut_window_stops_the_clock() {
        let (mut w, t0) = watch();
        // The server grants a 10-byte stream window.
        w.outbound(&f(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 10]), t0);
        let mut bytes = f(HEADERS, END_HEADERS, 1, &[0x83]);
        bytes.extend(f(DATA, 0, 1, &[1; 10]));
        w.inbound(&mut bytes, t0);
        assert_eq!(
            w.deadline(false),
            None,
            "window shut: the client is not at fault"
        );
        // The app reads: the window opens 20 s later, the clock resumes from there.
        let t20 = t0 + Duration::from_secs(20);
        w.outbound(&f(WINDOW_UPDATE, 0, 1, &10u32.to_be_bytes()), t20);
        assert_eq!(w.deadline(false), Some(t20 + Duration::from_secs(10)));
        w.outbound(&f(HEADERS, END_HEADERS, 1, &[0x88]), t20);
        assert_eq!(
            w.deadline(true),
            None,
            "a connection with a tunnel lets answered streams be"
        );
        assert_eq!(
            w.expire(t20 + Duration::from_secs(10), false),
            Expired::Cut(1)
        );
        assert_eq!(
            w.for_client().cloned(),
            Some(f(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()))
        );
    }

    #[test]
    fn ended_and_reset_bodies_are_not_watched_and_split_headers_are_held() {
        let (mut w, t0) = watch();
        let mut bytes = f(HEADERS, END_HEADERS, 1, &[0x83]);
        bytes.extend(f(DATA, END_STREAM, 1, b"x"));
        bytes.extend(f(HEADERS, END_HEADERS, 3, &[0x83]));
        bytes.extend(f(RST_STREAM, 0, 3, &CANCEL.to_be_bytes()));
        bytes.extend(f(HEADERS, END_HEADERS, 5, &[0x83]));
        w.inbound(&mut bytes, t0);
        w.outbound(&f(RST_STREAM, 0, 5, &NO_ERROR.to_be_bytes()), t0);
        assert_eq!(w.deadline(false), None);
        // A header split across reads is held back until whole.
        let whole = f(HEADERS, END_HEADERS, 7, &[0x83]);
        let mut first = whole[..4].to_vec();
        assert_eq!(w.inbound(&mut first, t0), 0);
        let mut second = w.held().to_vec();
        second.extend(&whole[4..]);
        assert_eq!(w.inbound(&mut second, t0), whole.len());
        assert!(w.deadline(false).is_some());
        // Mid-frame, a deadline closes the connection.
        let mut partial = f(DATA, 0, 7, &[0; 50]);
        partial.truncate(20);
        w.inbound(&mut partial, t0);
        assert!(!w.inbound_at_boundary());
        assert_eq!(
            w.expire(t0 + Duration::from_secs(60), false),
            Expired::Close
        );
    }

    /// Arbitrary bytes both ways, split anywhere, with the clock running: the scanners
    /// never panic, never grow what they pass on, hold back less than a frame header, and
    /// keep their bookkeeping bounded. (Attacker bytes reach `inbound` before h2 checks them.)
    #[test]
    fn arbitrary_frames_both_ways_never_panic_and_stay_bounded() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let mut w = BodyWatch::new(
                Duration::from_secs(1),
                if round % 2 == 0 { 0 } else { 1024 },
                if round % 3 == 0 { 0 } else { 512 },
            );
            let t0 = Instant::now();
            let mut now = t0;
            let mut pre = PREFACE.to_vec();
            assert_eq!(w.inbound(&mut pre, now), PREFACE.len());
            for _ in 0..60 {
                // Mostly well-formed frames of the kinds the watch reads, sometimes noise.
                let mut bytes = Vec::new();
                let ty = [
                    DATA,
                    HEADERS,
                    RST_STREAM,
                    SETTINGS,
                    WINDOW_UPDATE,
                    0x9,
                    0xff,
                ][next() as usize % 7];
                let id = (next() % 12) as u32;
                let len = (next() % 40) as usize;
                let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if next() % 8 == 0 {
                    bytes.extend((0..(next() % 30)).map(|_| next() as u8));
                } else {
                    frame(&mut bytes, ty, (next() % 16) as u8, id, &payload);
                }
                if next() % 2 == 0 {
                    let mut data = [w.held().to_vec(), bytes].concat();
                    let n = data.len();
                    let kept = w.inbound(&mut data, now);
                    assert!(kept <= n);
                    assert!(w.held().len() < 9);
                } else {
                    let cut = (next() as usize) % (bytes.len() + 1);
                    w.outbound(&bytes[..cut], now);
                    w.outbound(&bytes[cut..], now);
                }
                now += Duration::from_millis(next() % 700);
                let _ = w.deadline(next() % 2 == 0);
                let _ = w.expire(now, next() % 3 == 0);
                if let Some(out) = w.for_client() {
                    out.clear();
                }
                w.to_hyper.clear();
                assert!(w.streams.len() <= MAX_WATCHED);
                assert!(w.cut.len() <= CUT_MEMORY);
            }
        }
    }
}
