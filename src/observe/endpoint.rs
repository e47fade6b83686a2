//! The `--metrics-bind` HTTP endpoint, served from the master's own poll loop.
//!
//! Why in the master and not a child process: the master already owns every number the
//! page needs (folded totals, worker count, restarts) and already wakes on a poll; a
//! child would need its own lifecycle (respawn, HUP, USR2, shutdown) and a copy of
//! master-only state in shared memory. The price is that this code must never block the
//! arbiter, so it is a tiny, bounded, non-blocking HTTP/1.0-style responder:
//!
//! * at most [`MAX_CONNS`] connections; more are accepted and closed at once;
//! * a request head of at most [`MAX_HEAD`] bytes, read within [`DEADLINE`] of accept,
//!   else the connection is closed (no answer owed to a client that sends garbage);
//! * every answer carries `Connection: close` and a `Content-Length`; one request per
//!   connection; a client that does not read its answer is dropped at the deadline;
//! * no syscall here can block: every socket is non-blocking.
//!
//! The sockets are `CLOEXEC` (USR2's exec does not inherit them) and a forked worker
//! drops its copies at once ([`Endpoint::close_in_child`]), so a closed connection
//! really closes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};

/// Concurrent scrapes served; Prometheus uses one.
pub(crate) const MAX_CONNS: usize = 16;
/// Largest request head read.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// Time a connection may live, from accept to the last byte of the answer.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);

struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    /// The answer once the head is complete, and how much of it was written.
    out: Option<(Vec<u8>, usize)>,
    deadline: Instant,
}

/// The listener and its connections.
pub(crate) struct Endpoint {
    listener: TcpListener,
    addr: SocketAddr,
    conns: Vec<Conn>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .finish()
    }
}

/// A parsed request: what to answer.
fn answer(head: &[u8], body: &dyn Fn() -> String) -> Vec<u8> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let well_formed = version.is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next().is_none();
    let path = target.map(|t| t.split('?').next().unwrap_or(t));
    let (status, ctype, text, head_only) = match (well_formed, method, path) {
        (false, ..) => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".to_string(),
            false,
        ),
        (true, Some(m @ ("GET" | "HEAD")), Some("/metrics" | "/")) => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            body(),
            m == "HEAD",
        ),
        (true, Some("GET" | "HEAD"), _) => (
            "404 Not Found",
            "text/plain",
            "not found; try /metrics\n".to_string(),
            false,
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".to_string(),
            false,
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

impl Endpoint {
    /// Binds `addr` (`HOST:PORT`), non-blocking.
    pub(crate) fn bind(addr: &str) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(Endpoint {
            listener,
            addr,
            conns: Vec::new(),
        })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The descriptors to poll, with the events each waits for.
    pub(crate) fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(1 + self.conns.len());
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        for c in &self.conns {
            let ev = if c.out.is_some() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(c.stream.as_fd(), ev));
        }
        fds
    }

    /// Does whatever can be done without blocking: accepts, reads heads, writes answers
    /// (rendering `body` for each complete scrape), drops finished and expired
    /// connections.
    pub(crate) fn service(&mut self, body: &dyn Fn() -> String) {
        let now = Instant::now();
        // Bounded, so a connection flood cannot keep the arbiter in this loop.
        for _ in 0..4 * MAX_CONNS {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= MAX_CONNS || stream.set_nonblocking(true).is_err() {
                        continue; // dropped: closed at once
                    }
                    self.conns.push(Conn {
                        stream,
                        head: Vec::new(),
                        out: None,
                        deadline: now + DEADLINE,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock, or a transient error (EMFILE, ECONNABORTED): try next wake.
                Err(_) => break,
            }
        }
        self.conns.retain_mut(|c| {
            if now >= c.deadline {
                return false;
            }
            if c.out.is_none() {
                let mut buf = [0u8; 2048];
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => return false,
                        Ok(n) => {
                            c.head.extend_from_slice(&buf[..n]);
                            if let Some(end) = find_head_end(&c.head) {
                                c.out = Some((answer(&c.head[..end], body), 0));
                                break;
                            }
                            if c.head.len() > MAX_HEAD {
                                return false;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                        Err(_) => return false,
                    }
                }
            }
            let Some((out, pos)) = c.out.as_mut() else {
                return true;
            };
            while *pos < out.len() {
                match c.stream.write(&out[*pos..]) {
                    Ok(0) => return false,
                    Ok(n) => *pos += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
            }
            // Everything written: FIN, and forget the connection (the kernel delivers the
            // rest; unread request bytes, if any, are the client's problem).
            let _ = c.stream.shutdown(std::net::Shutdown::Write);
            false
        });
    }

    /// In a forked worker: close the inherited descriptors, so only the master holds
    /// them (a worker's copy would keep a finished connection open).
    pub(crate) fn close_in_child(self) {
        drop(self);
    }
}

/// The end of a head (`\r\n\r\n` or a bare `\n\n`), as an offset past it.
fn find_head_end(b: &[u8]) -> Option<usize> {
    if let Some(i) = b.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some(i + 4);
    }
    b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> String {
        "runicorn_requests_total 1\n".into()
    }

    #[test]
    fn answers() {
        let ok = String::from_utf8(answer(b"GET /metrics HTTP/1.1\r\nHost: x", &body)).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Length: 26\r\n"));
        assert!(ok.ends_with("\r\n\r\nrunicorn_requests_total 1\n"));
        let head = String::from_utf8(answer(b"HEAD / HTTP/1.0", &body)).unwrap();
        assert!(head.ends_with("Content-Length: 26\r\nConnection: close\r\n\r\n"));
        for (req, want) in [
            (&b"POST /metrics HTTP/1.1"[..], "405"),
            (b"GET /x HTTP/1.1", "404"),
            (b"GET /metrics", "400"),
            (b"\xff\xfe", "400"),
            (b"", "400"),
            (b"GET /metrics HTTP/1.1 extra", "400"),
        ] {
            let a = String::from_utf8(answer(req, &body)).unwrap();
            assert!(a.starts_with(&format!("HTTP/1.1 {want}")), "{req:?}: {a}");
        }
    }

    #[test]
    fn serves_without_blocking_and_bounds_bad_clients() {
        let mut ep = Endpoint::bind("127.0.0.1:0").unwrap();
        let addr = ep.local_addr();
        // A client that sends nothing and one that sends an endless head.
        let idle = TcpStream::connect(addr).unwrap();
        let mut flood = TcpStream::connect(addr).unwrap();
        let _ = flood.write_all(&[b'a'; MAX_HEAD + 10]);
        let mut good = TcpStream::connect(addr).unwrap();
        good.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        good.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let start = Instant::now();
        let mut text = String::new();
        // Serve the way the master does: repeated non-blocking passes.
        while start.elapsed() < Duration::from_secs(5) {
            ep.service(&body);
            good.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 1024];
            match good.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert!(text.ends_with("runicorn_requests_total 1\n"), "{text}");
        assert_eq!(
            ep.conns.len(),
            1,
            "the flood was dropped, the idle one waits"
        );
        drop(idle);
    }
}
