//! The wire side of static files answered by the connection edge, below hyper
//! (`server::conn::static_edge` drives it): the response head written from a cached
//! entry's prebuilt lines, byte for byte what hyper writes for the same answer, a
//! per-thread `Date` value, and [`SendFile`], the sockets `sendfile(2)` can write to.

use std::cell::RefCell;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::task::{Context, Poll};
use std::time::SystemTime;

use super::cache::Rep;
use super::{Part, part_status};

/// A socket the edge may `sendfile(2)` into: plaintext TCP and unix sockets. Others
/// (TLS) keep the default, which the edge never calls (it serves static files only on
/// plaintext connections).
pub(crate) trait SendFile {
    /// Sends up to `count` bytes of `file` from `*offset` (advanced by what was sent),
    /// waiting for writability. `Ok(0)` means the file ended early.
    fn poll_sendfile(
        &mut self,
        _cx: &mut Context<'_>,
        _file: &std::fs::File,
        _offset: &mut i64,
        _count: usize,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::from(io::ErrorKind::Unsupported)))
    }

    /// Writes `buf` telling the kernel more follows at once (`MSG_MORE` on TCP), so a
    /// response head leaves in the same segment as the first file bytes sent after it.
    /// `None`: no such write here; use `poll_write`.
    fn poll_write_more(
        &mut self,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        None
    }
}

/// One `sendfile(2)` on a tokio socket: wait for writability, then let tokio clear the
/// readiness if the kernel says it would block (so the next poll really waits).
macro_rules! sendfile_impl {
    ($t:ty, $more:expr) => {
        impl SendFile for $t {
            fn poll_write_more(
                &mut self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Option<Poll<io::Result<usize>>> {
                let sock = &*self;
                $more.then(|| {
                    poll_send_more(
                        sock,
                        |cx| sock.poll_write_ready(cx),
                        |f| sock.try_io(tokio::io::Interest::WRITABLE, f),
                        cx,
                        buf,
                    )
                })
            }

            fn poll_sendfile(
                &mut self,
                cx: &mut Context<'_>,
                file: &std::fs::File,
                offset: &mut i64,
                count: usize,
            ) -> Poll<io::Result<usize>> {
                loop {
                    std::task::ready!(self.poll_write_ready(cx))?;
                    let sock = &*self;
                    let r = sock.try_io(tokio::io::Interest::WRITABLE, || {
                        nix::sys::sendfile::sendfile(
                            sock.as_fd(),
                            file.as_fd(),
                            Some(offset),
                            count,
                        )
                        .map_err(io::Error::from)
                    });
                    match r {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => return Poll::Ready(r),
                    }
                }
            }
        }
    };
}

/// `send(2)` with `MSG_MORE` on a tokio socket.
fn poll_send_more<T: AsFd>(
    sock: &T,
    ready: impl Fn(&mut Context<'_>) -> Poll<io::Result<()>>,
    try_io: impl Fn(&dyn Fn() -> io::Result<usize>) -> io::Result<usize>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let more = nix::sys::socket::MsgFlags::from_bits_retain(libc::MSG_MORE);
    loop {
        std::task::ready!(ready(cx))?;
        let r = try_io(&|| {
            use std::os::fd::AsRawFd;
            nix::sys::socket::send(sock.as_fd().as_raw_fd(), buf, more).map_err(io::Error::from)
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return Poll::Ready(r),
        }
    }
}

sendfile_impl!(tokio::net::TcpStream, true);
// Unix sockets have no segments to coalesce.
sendfile_impl!(tokio::net::UnixStream, false);

impl<IO> SendFile for crate::tls::TlsIo<IO> {}

thread_local! {
    /// The `Date` value of the current second (hyper caches its own the same way).
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Appends `date: <IMF-fixdate>\r\n` for now.
fn put_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            let mut w = &mut text[..];
            // Always 29 bytes for years 1000-9999.
            let _ = write!(w, "{}", httpdate::HttpDate::from(now));
            *at = secs;
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    });
}

/// How the response ends the exchange, in hyper's terms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Persistence {
    /// The request was HTTP/1.0 (hyper answers in kind).
    pub http10: bool,
    /// The connection stays open after this response.
    pub keep_alive: bool,
    /// The worker drains (the service wrapper adds `connection: close`).
    pub draining: bool,
}

/// Appends the response head of `part` of `rep` to `out`: the status line, the same
/// header lines in the same order as the hyper path (the static service's map, then the
/// wrapper's `server`/`connection`, then hyper's own `connection` and `date`).
pub(crate) fn write_head(out: &mut Vec<u8>, rep: &Rep, part: Part, p: Persistence) {
    let status = part_status(part);
    out.extend_from_slice(if p.http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    match part {
        Part::NotModified => out.extend_from_slice(&rep.block[..rep.common_len]),
        Part::Full => {
            out.extend_from_slice(&rep.block);
            out.extend_from_slice(&rep.tail_200);
        }
        Part::Range { start, count } => {
            out.extend_from_slice(&rep.block);
            let _ = write!(out, "content-length: {count}\r\n");
            if let Some(c) = rep.coding {
                out.extend_from_slice(b"content-encoding: ");
                out.extend_from_slice(c.token().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            // (`content_range` spelled without its String.)
            let _ = write!(
                out,
                "content-range: bytes {}-{}/{}\r\n",
                start,
                start + count - 1,
                rep.len
            );
        }
    }
    out.extend_from_slice(b"server: runicorn\r\n");
    if p.draining {
        out.extend_from_slice(b"connection: close\r\n");
    } else if p.http10 && p.keep_alive {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    } else if !p.http10 && !p.keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    put_date(out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_line_is_an_imf_fixdate_of_now() {
        let mut out = Vec::new();
        put_date(&mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let value = text
            .strip_prefix("date: ")
            .and_then(|t| t.strip_suffix("\r\n"))
            .unwrap();
        let when = httpdate::parse_http_date(value).unwrap();
        let age = SystemTime::now().duration_since(when).unwrap();
        assert!(age.as_secs() < 3, "{value}");
    }
}
