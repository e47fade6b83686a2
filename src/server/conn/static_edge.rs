//! Static files answered by the edge itself, below hyper (plaintext HTTP/1 only).
//!
//! When the gate passes on a complete bodiless GET/HEAD head under a `--static-map`
//! prefix and hyper is idle on the connection (every request it was given has ended its
//! response and hyper has flushed since, and nothing before this head is unread), the
//! head is withheld from hyper: the edge decides the answer with the same
//! [`decide`](crate::static_files::decide) as the hyper service, writes the head from
//! the cached entry's prebuilt lines, then the body (small files from memory in the same
//! write, large ones with `sendfile(2)` or, under `--no-sendfile`, through a buffer),
//! driven by socket writability and cut by `--send-timeout`. Then it writes the access
//! line and moves on to the next request. Anything else (errors, redirects, requests
//! pipelined behind an app request) goes to hyper, which answers from the same decision,
//! so order on the connection is always request order.

use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};

use super::GateIo;
use crate::server::Shared;
use crate::server::service::{Line, Observed, Peer};
use crate::static_files::cache::{Data, Entry};
use crate::static_files::edge::{Persistence, SendFile, write_head};
use crate::static_files::{Config, Outcome, Part, decide, serve_headers};

/// Bytes per buffered copy under `--no-sendfile`.
const COPY_CHUNK: usize = 64 * 1024;

/// Header lines parsed in place per request; a head with more goes to hyper.
const MAX_FIELDS: usize = 100;

/// Per-connection state of the static edge.
pub(super) struct Statics {
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    scheme: &'static str,
    /// `--keep-alive` is not 0 (hyper closes after each response otherwise).
    keepalive: bool,
    /// Heads passed on to hyper.
    to_hyper: u64,
    /// `ConnState::done` when hyper last completed a flush.
    flushed_done: u64,
    /// The send buffer, kept between responses so a hit allocates nothing.
    buf: Vec<u8>,
    job: Option<Job>,
}

/// A response being written.
struct Job {
    /// Written so far of `buf`.
    pos: usize,
    /// Where the body starts in `buf` (the head before it is not counted as body).
    body_at: usize,
    /// A body range still to send from a descriptor.
    file: Option<FileRange>,
    /// The connection ends after this response.
    close: bool,
    /// Written when the job ends or is dropped (client gone, worker stopping).
    line: Option<Line>,
    /// StatsD / metrics count for this response, sent when the job ends (held for its
    /// Drop, like `line`).
    _observed: Option<Observed>,
}

struct FileRange {
    entry: Arc<Entry>,
    rep: usize,
    offset: u64,
    remaining: u64,
}

impl<S> GateIo<S> {
    /// Lets this connection answer static requests itself.
    pub(in crate::server) fn serve_static(
        &mut self,
        cfg: Arc<Config>,
        shared: Arc<Shared>,
        scheme: &'static str,
        keepalive: bool,
    ) {
        self.statics = Some(Box::new(Statics {
            cfg,
            shared,
            scheme,
            keepalive,
            to_hyper: 0,
            flushed_done: 0,
            buf: Vec::new(),
            job: None,
        }));
    }

    /// A response is being written by the edge (hyper gets nothing until it ends).
    pub(super) fn static_busy(&self) -> bool {
        self.statics.as_ref().is_some_and(|s| s.job.is_some())
    }

    /// hyper completed a flush: everything it wrote so far is on the socket.
    pub(super) fn static_flushed(&mut self) {
        if let Some(st) = &mut self.statics {
            st.flushed_done = self.state.done.load(Ordering::Acquire);
        }
    }

    /// A head was passed on to hyper.
    pub(super) fn static_passed(&mut self) {
        if let Some(st) = &mut self.statics {
            st.to_hyper += 1;
        }
    }

    /// Answers the bodiless head at `range` of the output here, if it is a static
    /// GET/HEAD the edge can serve and hyper is idle; true when it did (a job started).
    pub(super) fn try_static(&mut self, keep_alive: bool, range: Range<usize>) -> bool {
        let Some(st) = self.statics.as_deref_mut() else {
            return false;
        };
        let done = self.state.done.load(Ordering::Acquire);
        let idle = st.job.is_none()
            && range.start == self.out_pos
            && st.to_hyper == done
            && st.flushed_done == done
            && !self.unflushed
            && !self.eof
            && self.pending_reject.is_none();
        if !idle {
            return false;
        }
        let Some(head) = self.out.get(range.clone()) else {
            return false;
        };
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut req = httparse::Request::new(&mut fields);
        let Ok(httparse::Status::Complete(_)) = req.parse(head) else {
            return false;
        };
        let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
            return false;
        };
        if (method != "GET" && method != "HEAD") || !target.starts_with('/') || target.contains('#')
        {
            return false;
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let Some(mount) = st.cfg.mount_for(path) else {
            return false;
        };
        let fields = &*req.headers;
        let Outcome::Serve {
            entry,
            rep,
            part,
            head: head_only,
        } = decide(&st.cfg, mount, method, path, query, fields)
        else {
            // Errors and redirects are rare: hyper answers them from the same decision.
            return false;
        };
        st.shared.count_request();
        let draining = st.shared.draining.load(Ordering::Relaxed);
        let p = Persistence {
            http10: minor == 0,
            keep_alive: keep_alive && st.keepalive && !draining,
            draining,
        };
        let r = &entry.reps[rep];
        st.buf.clear();
        write_head(&mut st.buf, r, part, p);
        let body_at = st.buf.len();
        let (start, count) = match part {
            Part::Full => (0, r.len),
            Part::Range { start, count } => (start, count),
            Part::NotModified => (0, 0),
        };
        let mut file = None;
        if !head_only && count > 0 {
            match &r.data {
                Data::Mem(b) => st
                    .buf
                    .extend_from_slice(&b[start as usize..(start + count) as usize]),
                Data::File(_) => {
                    file = Some(FileRange {
                        entry: entry.clone(),
                        rep,
                        offset: start,
                        remaining: count,
                    })
                }
            }
        }
        let client = self.state.proxied_peer().map_or(
            match self.peer {
                Some(a) => Peer::Tcp(a),
                None => Peer::Unix,
            },
            Peer::Tcp,
        );
        let version = if minor == 0 {
            http::Version::HTTP_10
        } else {
            http::Version::HTTP_11
        };
        let started = Instant::now();
        let line = Line::for_edge(
            &st.shared, client, st.scheme, method, target, version, fields, started,
        )
        .map(|mut line| {
            let status = crate::static_files::part_status(part).as_u16();
            if line.wants_response_headers() {
                let h = serve_headers(r, part, Some(draining));
                line.respond(status, Some(&h));
            } else {
                line.respond(status, None);
            }
            line
        });
        let observed = Observed::for_edge(
            &st.shared,
            started,
            crate::static_files::part_status(part).as_u16(),
        );
        st.job = Some(Job {
            pos: 0,
            body_at,
            file,
            close: !p.keep_alive,
            line,
            _observed: observed,
        });
        self.out_pos = range.end;
        true
    }
}

impl<S: AsyncRead + AsyncWrite + SendFile + Unpin> GateIo<S> {
    /// Moves the edge's response forward; Ready(Ok) once it is written (or there is none).
    pub(super) fn drive_static(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(st) = self.statics.as_deref_mut() else {
            return Poll::Ready(Ok(()));
        };
        let Some(mut job) = st.job.take() else {
            return Poll::Ready(Ok(()));
        };
        let mut buf = std::mem::take(&mut st.buf);
        let sendfile = st.cfg.sendfile;
        let r = self.write_job(cx, &mut job, &mut buf, sendfile);
        if let Some(st) = self.statics.as_deref_mut() {
            st.buf = buf;
            if r.is_pending() {
                st.job = Some(job);
                return Poll::Pending;
            }
        }
        // The idle and header deadlines of the next request count from here.
        self.state.edge_response_done();
        let close = job.close || matches!(r, Poll::Ready(Err(_)));
        // Writes the access line.
        drop(job);
        if close {
            self.out.clear();
            self.out_pos = 0;
            self.events.clear();
            self.eof = true;
        }
        r
    }

    fn write_job(
        &mut self,
        cx: &mut Context<'_>,
        job: &mut Job,
        buf: &mut Vec<u8>,
        sendfile: bool,
    ) -> Poll<io::Result<()>> {
        loop {
            if job.pos < buf.len() {
                // A head followed by sendfile(2): cork it so both leave together.
                let more = if sendfile && job.file.is_some() {
                    self.io.poll_write_more(cx, &buf[job.pos..])
                } else {
                    None
                };
                let w = match more {
                    Some(w) => w,
                    None => Pin::new(&mut self.io).poll_write(cx, &buf[job.pos..]),
                };
                let n = std::task::ready!(self.write_progress(cx, w, false))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                let body = (job.pos + n).saturating_sub(job.body_at.max(job.pos));
                if let Some(line) = &mut job.line {
                    line.add_bytes(body as u64);
                }
                job.pos += n;
                continue;
            }
            let Some(f) = &mut job.file else {
                return Poll::Ready(Ok(()));
            };
            if f.remaining == 0 {
                return Poll::Ready(Ok(()));
            }
            let Data::File(file) = &f.entry.reps[f.rep].data else {
                return Poll::Ready(Ok(()));
            };
            let n = if sendfile {
                let mut off = i64::try_from(f.offset).unwrap_or(i64::MAX);
                let count = usize::try_from(f.remaining.min(1 << 30)).unwrap_or(1 << 30);
                let s = self.io.poll_sendfile(cx, file, &mut off, count);
                let n = std::task::ready!(self.write_progress(cx, s, false))?;
                if let Some(line) = &mut job.line {
                    line.add_bytes(n as u64);
                }
                n
            } else {
                // --no-sendfile: through the (reused) buffer, then the write loop above.
                let want = usize::try_from(f.remaining)
                    .unwrap_or(COPY_CHUNK)
                    .min(COPY_CHUNK);
                buf.clear();
                buf.resize(want, 0);
                let n = file.read_at(buf, f.offset)?;
                buf.truncate(n);
                job.pos = 0;
                job.body_at = 0;
                n
            };
            if n == 0 {
                // The file shrank after its length was announced: the client cannot be
                // given the promised bytes, so the connection ends.
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being served",
                )));
            }
            f.offset += n as u64;
            f.remaining -= n as u64;
        }
    }
}
