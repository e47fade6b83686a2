//! StatsD output (`--statsd-host`): Gunicorn's metric names, types and wire format.
//!
//! Verified live against Gunicorn 27.0.1 on a local UDP socket, one metric per datagram:
//!
//! ```text
//! myp.gunicorn.workers:2|g|#env:x,team:y
//! myp.gunicorn.request.duration:5.115|ms|#env:x,team:y
//! myp.gunicorn.requests:1|c|@1.0|#env:x,team:y
//! myp.gunicorn.request.status.200:1|c|@1.0|#env:x,team:y
//! myp.gunicorn.backlog:0|h|#env:x,team:y
//! a.b.gunicorn.log.warning:1|c|@1.0
//! ```
//!
//! Counters carry a `|@1.0` sample rate, timers/gauges/histograms none; `--statsd-prefix`
//! gets one trailing dot (`a.b..` → `a.b.`); `--dogstatsd-tags` is appended verbatim after
//! `|#`; the duration is milliseconds with microsecond resolution in Python's float
//! spelling (`5.0`, `5.115`).
//!
//! The socket is a connected, non-blocking datagram socket, created once and shared by
//! the master and (through fork) its workers: a datagram `send` is atomic, so processes
//! cannot interleave, and a full buffer or a dead collector drops the metric instead of
//! blocking a request. An outage is reported once on the local error log.

use std::io;
use std::net::{ToSocketAddrs, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::config::target::{StatsdKind, StatsdTarget};

/// Gunicorn's prefix rule: `re.sub(r"^(.+[^.]+)\.*$", "\g<1>.", prefix)`: trailing dots
/// become exactly one, unless what is left is shorter than two characters (then the
/// prefix is used as given — Gunicorn's quirk, kept).
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('.');
    if trimmed.contains('\n') || trimmed.chars().count() < 2 {
        prefix.to_owned()
    } else {
        format!("{trimmed}.")
    }
}

/// Python's `repr(float)` of a duration in milliseconds, computed as Gunicorn does:
/// `seconds * 1000 + float(microseconds) / 10**3`.
pub(crate) fn duration_ms(d: Duration) -> String {
    let ms = (d.as_secs() * 1000) as f64 + f64::from(d.subsec_micros()) / 1000.0;
    // Rust's Display and Python's repr are both the shortest round-trip form; Python
    // always shows a fractional part.
    let s = ms.to_string();
    if s.contains('.') { s } else { format!("{s}.0") }
}

enum Sock {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// One metric sender (master and workers share it after fork).
pub(crate) struct Statsd {
    sock: Sock,
    prefix: String,
    /// `|#tags`, or empty.
    tags: String,
    address: String,
    outage: super::Outage,
}

impl std::fmt::Debug for Statsd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statsd")
            .field("address", &self.address)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Statsd {
    /// Opens the socket for `host` (`--statsd-host`). A unix socket that does not exist
    /// yet is an error here, as in Gunicorn (its `connect` fails at logger set-up).
    pub(crate) fn new(target: &StatsdTarget, prefix: &str, tags: &str) -> io::Result<Statsd> {
        let sock = match &target.kind {
            StatsdKind::Udp(h, p) => {
                let addr = (h.as_str(), *p).to_socket_addrs()?.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "host has no address")
                })?;
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local)?;
                s.connect(addr)?;
                s.set_nonblocking(true)?;
                Sock::Udp(s)
            }
            StatsdKind::Unix(path) => {
                let s = UnixDatagram::unbound()?;
                s.connect(path)?;
                s.set_nonblocking(true)?;
                Sock::Unix(s)
            }
        };
        Ok(Statsd {
            sock,
            prefix: normalize_prefix(prefix),
            tags: if tags.is_empty() {
                String::new()
            } else {
                format!("|#{tags}")
            },
            address: target.to_string(),
            outage: super::Outage::default(),
        })
    }

    /// One datagram: `<prefix><name>:<value>|<kind><|@1.0 for counters><|#tags>`.
    pub(crate) fn encode(&self, name: &str, value: &str, kind: &str) -> Vec<u8> {
        let rate = if kind == "c" { "|@1.0" } else { "" };
        format!("{}{name}:{value}|{kind}{rate}{}", self.prefix, self.tags).into_bytes()
    }

    fn send(&self, name: &str, value: &str, kind: &str) {
        let msg = self.encode(name, value, kind);
        let send = || match &self.sock {
            Sock::Udp(s) => s.send(&msg),
            Sock::Unix(s) => s.send(&msg),
        };
        let mut r = send();
        // A connected UDP socket reports an earlier datagram's ICMP refusal on the next
        // send, which then did not go out: report the outage, and one more try sends
        // this one.
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::ConnectionRefused
        {
            self.report(e);
            r = send();
        }
        match r {
            Ok(_) => {}
            // A full buffer loses this metric; the collector is not known to be down.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => self.report(&e),
        }
    }

    fn report(&self, e: &io::Error) {
        if self.outage.failed() {
            crate::logging::write_local(
                crate::config::LogLevel::Warning,
                &format!(
                    "statsd {}: {e}; metrics are dropped until it is reachable",
                    self.address
                ),
            );
        }
    }

    /// A counter increment (`|c|@1.0`).
    pub(crate) fn increment(&self, name: &str, by: u64) {
        self.send(name, &by.to_string(), "c");
    }

    /// A gauge (`|g`).
    pub(crate) fn gauge(&self, name: &str, value: i64) {
        self.send(name, &value.to_string(), "g");
    }

    /// A histogram value (`|h`).
    pub(crate) fn histogram(&self, name: &str, value: i64) {
        self.send(name, &value.to_string(), "h");
    }

    /// What Gunicorn's `Statsd.access` sends for one request, in its order: three
    /// datagrams, handed to the kernel in one `sendmmsg`.
    pub(crate) fn request(&self, status: u16, elapsed: Duration) {
        let msgs = [
            self.encode("gunicorn.request.duration", &duration_ms(elapsed), "ms"),
            self.encode("gunicorn.requests", "1", "c"),
            self.encode(&format!("gunicorn.request.status.{status}"), "1", "c"),
        ];
        let msgs: [&[u8]; 3] = [&msgs[0], &msgs[1], &msgs[2]];
        let fd = match &self.sock {
            Sock::Udp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        };
        // Up to two passes: a refusal reported for an earlier datagram fails the call
        // without sending anything (as with `send`); the second pass sends them.
        for _ in 0..2 {
            match crate::sys::send_datagrams(fd, &msgs) {
                // All sent, or only some because the buffer filled: the rest are
                // dropped, as a full buffer drops a single metric.
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.report(&e);
                    if e.kind() != io::ErrorKind::ConnectionRefused {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_rule_matches_gunicorns_regex() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("myp"), "myp.");
        assert_eq!(normalize_prefix("a.b.."), "a.b.");
        assert_eq!(normalize_prefix("a.b."), "a.b.");
        // `^(.+[^.]+)\.*$` needs two characters before the dots.
        assert_eq!(normalize_prefix("a"), "a");
        assert_eq!(normalize_prefix("a.."), "a..");
        assert_eq!(normalize_prefix("..ab"), "..ab.");
    }

    #[test]
    fn durations_are_python_floats() {
        assert_eq!(duration_ms(Duration::from_micros(5115)), "5.115");
        assert_eq!(duration_ms(Duration::from_millis(5)), "5.0");
        assert_eq!(duration_ms(Duration::from_nanos(1_999)), "0.001");
        assert_eq!(duration_ms(Duration::from_micros(1_000_123)), "1000.123");
        assert_eq!(duration_ms(Duration::ZERO), "0.0");
    }

    #[test]
    fn wire_format_and_delivery() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let s = Statsd::new(
            &rx.local_addr().unwrap().to_string().parse().unwrap(),
            "myp",
            "env:x,team:y",
        )
        .unwrap();
        s.request(404, Duration::from_micros(2441));
        s.gauge("gunicorn.workers", 2);
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..4 {
            let n = rx.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            [
                "myp.gunicorn.request.duration:2.441|ms|#env:x,team:y",
                "myp.gunicorn.requests:1|c|@1.0|#env:x,team:y",
                "myp.gunicorn.request.status.404:1|c|@1.0|#env:x,team:y",
                "myp.gunicorn.workers:2|g|#env:x,team:y",
            ]
        );
    }
}
