//! Value types and parsers shared by settings: bind addresses, log levels.

use std::fmt;
use std::path::PathBuf;

/// One `-b/--bind` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    /// `HOST`, `HOST:PORT`, `[IPv6]:PORT`; the host is resolved when binding.
    Tcp { host: String, port: u16 },
    /// `unix:PATH` (a leading NUL or `@` selects the abstract namespace).
    Unix(PathBuf),
    /// `fd://N`: an already-open listening socket.
    Fd(i32),
}

impl BindAddr {
    /// Parses Gunicorn's bind syntax. A missing port is 8000, as in Gunicorn.
    pub fn parse(s: &str) -> Result<BindAddr, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("{s:?}: empty unix socket path"));
            }
            return Ok(BindAddr::Unix(PathBuf::from(path)));
        }
        if let Some(fd) = s.strip_prefix("fd://") {
            return fd
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(BindAddr::Fd)
                .ok_or_else(|| format!("{s:?}: fd:// needs a non-negative file descriptor number"));
        }
        if s.is_empty() {
            return Err("empty address".into());
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: missing ']' after an IPv6 address"))?;
            let port = match after {
                "" => 8000,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("{s:?}: invalid port"))?,
            };
            return Ok(BindAddr::Tcp { host: host.to_string(), port });
        }
        match s.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| format!("{s:?}: invalid port {port:?}"))?;
                Ok(BindAddr::Tcp { host: host.to_string(), port })
            }
            None => Ok(BindAddr::Tcp { host: s.to_string(), port: 8000 }),
        }
    }
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            BindAddr::Tcp { host, port } => write!(f, "{host}:{port}"),
            BindAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            BindAddr::Fd(n) => write!(f, "fd://{n}"),
        }
    }
}

/// Error-log severity, Gunicorn's five levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    /// Parses `debug|info|warning|error|critical` (case-insensitive; `warn` too).
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warning" | "warn" => Ok(LogLevel::Warning),
            "error" => Ok(LogLevel::Error),
            "critical" => Ok(LogLevel::Critical),
            _ => Err(format!("{s:?} is not one of debug, info, warning, error, critical")),
        }
    }

    /// The name Gunicorn prints in brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}
