//! Values of the logging settings parsed once, when the configuration is loaded, into
//! the types their users need: where syslog and StatsD messages go (`--log-syslog-to`,
//! `--statsd-host`) and the syslog facility. Each keeps the text it came from, so
//! `--print-config` shows what the user wrote.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Gunicorn's `SYSLOG_FACILITIES` (Python's `SysLogHandler.facility_names`).
const FACILITIES: &[(&str, u8)] = &[
    ("auth", 4),
    ("authpriv", 10),
    ("cron", 9),
    ("daemon", 3),
    ("ftp", 11),
    ("kern", 0),
    ("lpr", 6),
    ("mail", 2),
    ("news", 7),
    ("security", 4),
    ("syslog", 5),
    ("user", 1),
    ("uucp", 8),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The facility number of a name (case-insensitive, as Gunicorn looks it up).
fn facility(name: &str) -> Result<u8, String> {
    let lower = name.to_ascii_lowercase();
    FACILITIES
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<&str> = FACILITIES.iter().map(|(n, _)| *n).collect();
            format!("unknown syslog facility (one of: {})", names.join(", "))
        })
}

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogKind {
    /// `udp://HOST:PORT` (port 514 by default), resolved when the socket is opened.
    Udp(String, u16),
    /// `tcp://HOST:PORT`.
    Tcp(String, u16),
    /// `unix://PATH#dgram`: a datagram socket only.
    UnixDgram(PathBuf),
    /// `unix://PATH` (or `#stream`): a datagram socket, else a stream socket, as Python's
    /// handler tries both when no type is given.
    Unix(PathBuf),
}

/// Parses `--log-syslog-to` the way Gunicorn's `parse_syslog_address` does.
fn parse_syslog(addr: &str) -> Result<SyslogKind, String> {
    if let Some(rest) = addr.strip_prefix("unix://") {
        let (path, kind) = match rest.split_once('#') {
            Some((p, k)) => (p, Some(k)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err("unix:// needs a socket path".into());
        }
        return Ok(match kind {
            Some("dgram") => SyslogKind::UnixDgram(PathBuf::from(path)),
            _ => SyslogKind::Unix(PathBuf::from(path)),
        });
    }
    let (rest, tcp) = if let Some(r) = addr.strip_prefix("udp://") {
        (r, false)
    } else if let Some(r) = addr.strip_prefix("tcp://") {
        (r, true)
    } else {
        return Err(
            "invalid syslog address: expected unix://PATH, udp://HOST:PORT or tcp://HOST:PORT"
                .into(),
        );
    };
    let (host, port) = host_port(rest, 514)?;
    Ok(if tcp {
        SyslogKind::Tcp(host, port)
    } else {
        SyslogKind::Udp(host, port)
    })
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or empty (localhost), with a default port.
fn host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' in {text:?}"))?;
        (h, after.strip_prefix(':'))
    } else {
        match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("{p:?} is not a valid port number"))?,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_ascii_lowercase(), port))
}

/// A parsed `--statsd-host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsdKind {
    /// `HOST:PORT` (port 8125 by default).
    Udp(String, u16),
    /// `unix://PATH`: a unix datagram socket.
    Unix(std::path::PathBuf),
}

/// Parses `--statsd-host` as Gunicorn's `validate_statsd_address` accepts it.
fn parse_statsd(text: &str) -> Result<StatsdKind, String> {
    if let Some(path) = text.strip_prefix("unix://").or(text.strip_prefix("unix:")) {
        if path.is_empty() {
            return Err("unix:// needs a socket path".into());
        }
        return Ok(StatsdKind::Unix(path.into()));
    }
    let (host, port) =
        host_port(text, 8125).map_err(|e| format!("{e}; expected HOST:PORT or unix://PATH"))?;
    Ok(StatsdKind::Udp(host, port))
}

/// `--log-syslog-to`, parsed: where to send and the text it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    pub kind: SyslogKind,
    text: String,
}

impl FromStr for SyslogTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(SyslogTarget {
            kind: parse_syslog(text)?,
            text: text.to_owned(),
        })
    }
}

impl Default for SyslogTarget {
    fn default() -> Self {
        SyslogTarget {
            kind: SyslogKind::Udp("localhost".into(), 514),
            text: "udp://localhost:514".into(),
        }
    }
}

/// `--log-syslog-facility`, parsed: the facility number and the name it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub code: u8,
    text: String,
}

impl FromStr for Facility {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(Facility {
            code: facility(text)?,
            text: text.to_owned(),
        })
    }
}

impl Default for Facility {
    fn default() -> Self {
        Facility {
            code: 1,
            text: "user".into(),
        }
    }
}

/// `--statsd-host`, parsed: where to send and the text it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsdTarget {
    pub kind: StatsdKind,
    text: String,
}

impl FromStr for StatsdTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(StatsdTarget {
            kind: parse_statsd(text)?,
            text: text.to_owned(),
        })
    }
}

macro_rules! display_text {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }
    )*};
}
display_text!(SyslogTarget, Facility, StatsdTarget);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_gunicorn() {
        assert_eq!(
            parse_syslog("udp://localhost:514"),
            Ok(SyslogKind::Udp("localhost".into(), 514))
        );
        assert_eq!(
            parse_syslog("udp://Example.ORG"),
            Ok(SyslogKind::Udp("example.org".into(), 514))
        );
        assert_eq!(
            parse_syslog("udp://"),
            Ok(SyslogKind::Udp("localhost".into(), 514))
        );
        assert_eq!(
            parse_syslog("tcp://[::1]:5140"),
            Ok(SyslogKind::Tcp("::1".into(), 5140))
        );
        assert_eq!(
            parse_syslog("unix:///dev/log#dgram"),
            Ok(SyslogKind::UnixDgram("/dev/log".into()))
        );
        assert_eq!(
            parse_syslog("unix:///dev/log#stream"),
            Ok(SyslogKind::Unix("/dev/log".into()))
        );
        assert_eq!(
            parse_syslog("unix:///dev/log"),
            Ok(SyslogKind::Unix("/dev/log".into()))
        );
        assert!(parse_syslog("udp://h:port").unwrap_err().contains("port"));
        assert!(parse_syslog("http://h:1").is_err());
        assert!(parse_syslog("unix://").is_err());
    }

    #[test]
    fn facilities() {
        assert_eq!(facility("user"), Ok(1));
        assert_eq!(facility("LOCAL3"), Ok(19));
        assert_eq!(facility("daemon"), Ok(3));
        assert!(facility("local8").unwrap_err().contains("local7"));
        assert_eq!("LOCAL3".parse::<Facility>().unwrap().to_string(), "LOCAL3");
    }

    #[test]
    fn statsd_addresses() {
        assert_eq!(
            parse_statsd("127.0.0.1:9125"),
            Ok(StatsdKind::Udp("127.0.0.1".into(), 9125))
        );
        assert_eq!(
            parse_statsd("localhost"),
            Ok(StatsdKind::Udp("localhost".into(), 8125))
        );
        assert_eq!(
            parse_statsd("[::1]:1"),
            Ok(StatsdKind::Udp("::1".into(), 1))
        );
        assert_eq!(
            parse_statsd("unix:///tmp/s"),
            Ok(StatsdKind::Unix("/tmp/s".into()))
        );
        assert!(parse_statsd("h:x").is_err());
    }
}
