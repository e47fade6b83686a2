//! Syslog output (`--log-syslog`): Gunicorn's addresses, facility names and wire format.
//!
//! Gunicorn adds a Python `SysLogHandler` to its error and access loggers; each record is
//! sent as `<PRI>gunicorn.<prefix>.<error|access>: [<pid>] <message>\0` (verified live
//! against Gunicorn 27.0.1: the NUL is `SysLogHandler.append_nul`, PRI is
//! `facility * 8 + severity`). One message per datagram, or per `write` on a stream.
//!
//! Sending never blocks a caller for long and never fails one: datagram sockets are
//! non-blocking (a full buffer drops the message), a stream is connected with a short
//! timeout and written non-blocking, a dead target is retried at most once per
//! [`RETRY`], and an outage is reported once on the local error log, not per message.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::target::{SyslogKind, SyslogTarget};

/// How long a failed target is left alone before the next attempt.
pub(crate) const RETRY: Duration = Duration::from_secs(2);
/// Upper bound on a (re)connect of a stream target, which happens in the logging caller.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// Syslog severities (RFC 5424), as Python's `SysLogHandler.mapPriority` assigns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Critical = 2,
    Error = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

enum Sock {
    Udp(UdpSocket),
    UnixDgram(UnixDatagram),
    Tcp(TcpStream),
    UnixStream(UnixStream),
}

impl Sock {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let n = match self {
            Sock::Udp(s) => s.send(msg)?,
            Sock::UnixDgram(s) => s.send(msg)?,
            Sock::Tcp(s) => s.write(msg)?,
            Sock::UnixStream(s) => s.write(msg)?,
        };
        if n < msg.len() {
            // A stream that took part of a message would glue the rest onto the next
            // one; the caller drops this connection and starts a fresh one.
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        Ok(())
    }

    fn is_stream(&self) -> bool {
        matches!(self, Sock::Tcp(_) | Sock::UnixStream(_))
    }
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))
}

fn open(target: &SyslogKind) -> io::Result<Sock> {
    let sock = match target {
        SyslogKind::Udp(h, p) => {
            let addr = resolve(h, *p)?;
            let bind: SocketAddr = if addr.is_ipv4() {
                "0.0.0.0:0".parse().expect("literal")
            } else {
                "[::]:0".parse().expect("literal")
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(addr)?;
            Sock::Udp(s)
        }
        SyslogKind::Tcp(h, p) => {
            let s = TcpStream::connect_timeout(&resolve(h, *p)?, CONNECT_TIMEOUT)?;
            Sock::Tcp(s)
        }
        SyslogKind::UnixDgram(path) => {
            let s = UnixDatagram::unbound()?;
            s.connect(path)?;
            Sock::UnixDgram(s)
        }
        SyslogKind::Unix(path) => {
            let s = UnixDatagram::unbound()?;
            match s.connect(path) {
                Ok(()) => Sock::UnixDgram(s),
                // EPROTOTYPE: the socket there is a stream socket.
                Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                    Sock::UnixStream(UnixStream::connect(path)?)
                }
                Err(e) => return Err(e),
            }
        }
    };
    match &sock {
        Sock::Udp(s) => s.set_nonblocking(true)?,
        Sock::UnixDgram(s) => s.set_nonblocking(true)?,
        Sock::Tcp(s) => s.set_nonblocking(true)?,
        Sock::UnixStream(s) => s.set_nonblocking(true)?,
    }
    Ok(sock)
}

struct Conn {
    /// The process that opened `sock`: a stream must not be shared across a fork (two
    /// writers could interleave), so a child opens its own.
    pid: u32,
    sock: Option<Sock>,
    retry_at: Option<Instant>,
}

/// One process's syslog sender for the error and access loggers.
pub(crate) struct Syslog {
    target: SyslogKind,
    address: String,
    facility: u8,
    /// `gunicorn.<prefix>.error: `
    error_tag: String,
    /// `gunicorn.<prefix>.access: `
    access_tag: String,
    conn: Mutex<Conn>,
    outage: super::Outage,
}

impl std::fmt::Debug for Syslog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syslog")
            .field("target", &self.target)
            .field("facility", &self.facility)
            .finish()
    }
}

/// Which logger a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logger {
    Error,
    Access,
}

impl Syslog {
    /// A sender for `target` (`--log-syslog-to`), `facility` number and program `prefix`
    /// (`--log-syslog-prefix`, else the process name with `:` turned into `.`). Opens
    /// nothing yet: the first message connects.
    pub(crate) fn new(target: &SyslogTarget, facility: u8, prefix: &str) -> Syslog {
        Syslog {
            target: target.kind.clone(),
            address: target.to_string(),
            facility,
            error_tag: format!("gunicorn.{prefix}.error: "),
            access_tag: format!("gunicorn.{prefix}.access: "),
            conn: Mutex::new(Conn {
                pid: 0,
                sock: None,
                retry_at: None,
            }),
            outage: super::Outage::default(),
        }
    }

    /// Encodes one message as Gunicorn puts it on the wire.
    pub(crate) fn encode(
        &self,
        logger: Logger,
        severity: Severity,
        pid: u32,
        message: &str,
    ) -> Vec<u8> {
        let tag = match logger {
            Logger::Error => &self.error_tag,
            Logger::Access => &self.access_tag,
        };
        let pri = u32::from(self.facility) * 8 + severity as u32;
        format!("<{pri}>{tag}[{pid}] {message}\0").into_bytes()
    }

    /// Sends one message; never blocks beyond [`CONNECT_TIMEOUT`] and never fails.
    pub(crate) fn send(&self, logger: Logger, severity: Severity, message: &str) {
        let pid = std::process::id();
        let msg = self.encode(logger, severity, pid, message);
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if c.pid != pid && c.sock.as_ref().is_some_and(Sock::is_stream) {
            c.sock = None;
        }
        c.pid = pid;
        let now = Instant::now();
        if c.sock.is_none() {
            if c.retry_at.is_some_and(|t| now < t) {
                return;
            }
            match open(&self.target) {
                Ok(s) => c.sock = Some(s),
                Err(e) => return self.failed(&mut c, now, &e),
            }
        }
        let Some(sock) = c.sock.as_mut() else { return };
        let mut sent = sock.send(&msg);
        // A connected datagram socket reports an earlier datagram's ICMP refusal on the
        // next send, which then did not go out: report the outage, and one more try
        // sends this one.
        if let Err(e) = &sent
            && !sock.is_stream()
            && e.kind() == io::ErrorKind::ConnectionRefused
        {
            self.report(e);
            sent = sock.send(&msg);
        }
        match sent {
            Ok(()) => c.retry_at = None,
            // A full socket buffer: this message is lost, the target is not down.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !sock.is_stream() => {}
            Err(e) => {
                // Datagram sockets stay (a refused datagram says nothing about the next
                // one); a broken stream is reopened after the pause.
                if sock.is_stream() {
                    c.sock = None;
                }
                self.failed(&mut c, now, &e);
            }
        }
    }

    fn failed(&self, c: &mut Conn, now: Instant, e: &io::Error) {
        c.retry_at = Some(now + RETRY);
        self.report(e);
    }

    fn report(&self, e: &io::Error) {
        if self.outage.failed() {
            crate::logging::write_local(
                crate::config::LogLevel::Error,
                &format!(
                    "syslog {}: {e}; syslog messages are dropped until it is reachable",
                    self.address
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_priorities() {
        let s = Syslog::new(&"udp://127.0.0.1:9".parse().unwrap(), 19, "app.app");
        // Gunicorn 27.0.1 sent exactly this for an INFO line with facility local3.
        assert_eq!(
            s.encode(
                Logger::Error,
                Severity::Info,
                27125,
                "Starting gunicorn 27.0.1"
            ),
            b"<158>gunicorn.app.app.error: [27125] Starting gunicorn 27.0.1\0"
        );
        assert!(
            s.encode(Logger::Access, Severity::Critical, 1, "x")
                .starts_with(b"<154>gunicorn.app.app.access: [1] x")
        );
    }

    #[test]
    fn unix_datagram_delivery() {
        let dir = std::env::temp_dir().join(format!("runicorn-syslog-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let s = Syslog::new(
            &format!("unix://{}", path.display()).parse().unwrap(),
            1,
            "p",
        );
        s.send(Logger::Error, Severity::Warning, "hello");
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).unwrap();
        let want = format!("<12>gunicorn.p.error: [{}] hello\0", std::process::id());
        assert_eq!(&buf[..n], want.as_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
