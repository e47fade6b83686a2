//! Value types and the parsers shared by settings: bind addresses, log levels, numbers,
//! booleans, lists, users, limits; plus how each type renders in `--print-config`.

use std::fmt;
use std::path::PathBuf;

use crate::http::head::HeaderMap;
use crate::http::proxy::ProxyMode;

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
                .ok_or_else(|| {
                    format!("{s:?}: fd:// needs a non-negative file descriptor number")
                });
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
            return Ok(BindAddr::Tcp {
                host: host.to_string(),
                port,
            });
        }
        match s.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse()
                    .map_err(|_| format!("{s:?}: invalid port {port:?}"))?;
                Ok(BindAddr::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            None => Ok(BindAddr::Tcp {
                host: s.to_string(),
                port: 8000,
            }),
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
            _ => Err(format!(
                "{s:?} is not one of debug, info, warning, error, critical"
            )),
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

impl LogLevel {
    /// The lowercase name used on the command line and by `--print-config`.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }
}

// ===== Parsers =====
//
// Every parser takes the raw text of one value and returns the typed value or a reason
// (lowercase, no trailing period). The caller adds the setting, the value and its source.

/// Python's `int(text, 0)`: optional sign, then decimal, `0x`, `0o` or `0b` digits, with
/// `_` allowed between digits. Leading-zero decimals (`010`) are read as decimal, where
/// Python would refuse them; being lenient there loses nothing.
pub fn int(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        (10, lower.as_str())
    };
    digits_to_int(digits, radix, neg).ok_or_else(|| "must be an integer".to_string())
}

fn digits_to_int(digits: &str, radix: u32, neg: bool) -> Option<i64> {
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    let v = i64::from_str_radix(&cleaned, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn in_range<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{what} is out of range"))
}

/// A non-negative integer (Gunicorn's `validate_pos_int`, which admits 0).
pub fn uint<T: TryFrom<i64>>(text: &str) -> Result<T, String> {
    let v = int(text).map_err(|_| "must be a non-negative integer".to_string())?;
    if v < 0 {
        return Err("must be a non-negative integer".into());
    }
    in_range(v, "the number")
}

/// An integer of at least 1. Gunicorn admits 0 for `workers` and `threads` and then
/// runs no workers or breaks; runicorn refuses it up front.
pub fn positive<T: TryFrom<i64>>(text: &str) -> Result<T, String> {
    match int(text) {
        Ok(v) if v >= 1 => in_range(v, "the number"),
        _ => Err("must be a positive integer".into()),
    }
}

/// `true`/`false`, case-insensitive, surrounding blanks ignored (Gunicorn's `validate_bool`).
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// Any text.
pub fn string(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

/// Any text; empty means unset.
pub fn opt_string(text: &str) -> Result<Option<String>, String> {
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// A path; empty means unset.
pub fn opt_path(text: &str) -> Result<Option<PathBuf>, String> {
    Ok((!text.is_empty()).then(|| PathBuf::from(text)))
}

/// One of a fixed set of words (compared case-sensitively, as Gunicorn does).
/// `--log-syslog-to`: checked as Gunicorn's `parse_syslog_address` reads it.
pub fn syslog_addr(text: &str) -> Result<super::target::SyslogTarget, String> {
    text.parse()
}

/// `--log-syslog-facility`: one of Gunicorn's facility names (any case).
pub fn syslog_facility(text: &str) -> Result<super::target::Facility, String> {
    text.parse()
}

/// `--statsd-host`: HOST[:PORT] or unix://PATH; empty means none.
pub fn statsd_host(text: &str) -> Result<Option<super::target::StatsdTarget>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some)
}

/// `--metrics-bind`: HOST:PORT (IPv6 in brackets); empty means off.
pub fn metrics_bind(text: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let ok = text
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(Some(text.to_owned()))
    } else {
        Err("expected HOST:PORT, e.g. 127.0.0.1:9100".into())
    }
}

pub fn one_of(text: &str, choices: &[&str]) -> Result<String, String> {
    if choices.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!("must be one of {}", choices.join(", ")))
    }
}

/// A comma-separated list; blanks around items are dropped, as are empty items.
pub fn comma_list(text: &str) -> Result<Vec<String>, String> {
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

/// A comma-separated list of IP addresses, CIDR networks or `*`.
pub fn addr_list(text: &str) -> Result<Vec<String>, String> {
    let items = comma_list(text)?;
    for item in &items {
        if item != "*" && !is_ip_network(item) {
            return Err(format!("{item:?} is not an IP address, a network or *"));
        }
    }
    Ok(items)
}

fn is_ip_network(s: &str) -> bool {
    use std::net::IpAddr;
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((ip, bits)) => match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
            (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
            _ => false,
        },
    }
}

/// `-b/--bind` values, in order.
pub fn binds(items: &[String]) -> Result<Vec<BindAddr>, (String, String)> {
    items
        .iter()
        .map(|s| BindAddr::parse(s).map_err(|e| (s.clone(), e)))
        .collect()
}

/// Strings, taken as they are.
pub fn strings(items: &[String]) -> Result<Vec<String>, (String, String)> {
    Ok(items.to_vec())
}

/// Request path prefixes (`--access-log-skip`): each must start with `/`, or it could never
/// match a request path.
pub fn path_prefixes(items: &[String]) -> Result<Vec<String>, (String, String)> {
    items
        .iter()
        .map(|s| {
            if s.starts_with('/') {
                Ok(s.clone())
            } else {
                Err((s.clone(), "must start with `/`".to_string()))
            }
        })
        .collect()
}

/// `URL_PREFIX=VALUE` pairs (`--static-map`, `--static-cache-control`): the prefix starts
/// with `/` and the value is not empty (it may contain `=`).
pub fn prefix_values(items: &[String]) -> Result<Vec<(String, String)>, (String, String)> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if k.starts_with('/') && !v.is_empty() => {
                Ok((k.to_string(), v.to_string()))
            }
            _ => Err((
                s.clone(),
                "must be URL_PREFIX=VALUE, the prefix starting with `/`".to_string(),
            )),
        })
        .collect()
}

/// `KEY=VALUE` pairs (`-e/--env`, `secure_scheme_headers`); the value may be empty and
/// may itself contain `=`.
pub fn key_values(items: &[String]) -> Result<Vec<(String, String)>, (String, String)> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err((s.clone(), "must be KEY=VALUE".to_string())),
        })
        .collect()
}

/// A file mode mask: decimal, `0o`/`0x`/`0b`, or a leading-zero octal (`022`) as
/// Gunicorn's `auto_int` reads it.
pub fn umask(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let v = if t.len() > 1 && t.starts_with('0') && t.as_bytes()[1].is_ascii_digit() {
        digits_to_int(&t[1..], 8, false).ok_or_else(|| "must be an octal number".to_string())?
    } else {
        int(t)?
    };
    if !(0..=0o7777).contains(&v) {
        return Err("must be a file mode mask between 0 and 0o7777".into());
    }
    in_range(v, "the mask")
}

/// A user name or uid; names are looked up in the user database, so an unknown name is a
/// configuration error rather than a failure after fork. Empty means "keep the master's".
pub fn user(text: &str) -> Result<Option<u32>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return uint(t).map(Some);
    }
    match nix::unistd::User::from_name(t) {
        Ok(Some(u)) => Ok(Some(u.uid.as_raw())),
        Ok(None) => Err(format!("no such user: {t:?}")),
        Err(e) => Err(format!("cannot look up user {t:?}: {e}")),
    }
}

/// A group name or gid, as [`user`].
pub fn group(text: &str) -> Result<Option<u32>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return uint(t).map(Some);
    }
    match nix::unistd::Group::from_name(t) {
        Ok(Some(g)) => Ok(Some(g.gid.as_raw())),
        Ok(None) => Err(format!("no such group: {t:?}")),
        Err(e) => Err(format!("cannot look up group {t:?}: {e}")),
    }
}

/// `limit_request_line`: 0 means unlimited; Gunicorn silently clamps anything above 8190.
pub fn limit_request_line(text: &str) -> Result<u32, String> {
    let v = int(text)?;
    if v < 0 {
        return Err("must be a non-negative integer".into());
    }
    Ok(v.min(8190) as u32)
}

/// `limit_request_fields`: Gunicorn maps `<= 0` and anything above 32768 to 32768.
pub fn limit_request_fields(text: &str) -> Result<u32, String> {
    let v = int(text)?;
    Ok(if v <= 0 || v > 32768 { 32768 } else { v as u32 })
}

/// `limit_request_field_size`: documented "0 = unlimited", but Gunicorn's parser maps
/// `<= 0` to 8190; we keep what it does, not what it says.
pub fn limit_request_field_size(text: &str) -> Result<u32, String> {
    let v = int(text)?;
    if v <= 0 {
        Ok(8190)
    } else {
        in_range(v, "the size")
    }
}

/// `proxy_protocol`: `off|v1|v2|auto`; booleans as Gunicorn maps them.
pub fn proxy_protocol(text: &str) -> Result<ProxyMode, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "auto" => Ok(ProxyMode::Auto),
        "false" | "none" | "off" => Ok(ProxyMode::Off),
        "v1" => Ok(ProxyMode::V1),
        "v2" => Ok(ProxyMode::V2),
        _ => Err("must be one of off, v1, v2, auto".into()),
    }
}

/// `header_map`: how header names with `_` are handled (any case).
pub fn header_map(text: &str) -> Result<HeaderMap, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "drop" => Ok(HeaderMap::Drop),
        "refuse" => Ok(HeaderMap::Refuse),
        "dangerous" => Ok(HeaderMap::Dangerous),
        _ => Err("must be one of drop, refuse, dangerous".into()),
    }
}

/// `http_protocols`: a comma list of `h1`, `h2`.
pub fn http_protocols(text: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = comma_list(&text.to_ascii_lowercase())?;
    if items.is_empty() {
        return Err("must name at least one of h1, h2".into());
    }
    match items.iter().find(|p| !["h1", "h2"].contains(&p.as_str())) {
        Some(bad) => Err(format!("{bad:?} is not one of h1, h2")),
        None => Ok(items),
    }
}

/// A number within `lo..=hi`.
pub fn ranged(text: &str, lo: i64, hi: i64) -> Result<u32, String> {
    match int(text) {
        Ok(v) if (lo..=hi).contains(&v) => in_range(v, "the number"),
        _ => Err(format!("must be an integer from {lo} to {hi}")),
    }
}

// ===== Rendering for --print-config =====

/// How a value is shown by `--print-config`, following Python's rendering in Gunicorn's
/// output: `None`, `True`/`False`, bare strings, lists as `['a', 'b']`.
pub trait Render {
    fn render(&self) -> String;
}

/// Python's `repr` of a string, close enough for display.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_list<I: IntoIterator<Item = String>>(items: I) -> String {
    let v: Vec<String> = items.into_iter().map(|s| py_repr(&s)).collect();
    format!("[{}]", v.join(", "))
}

macro_rules! render_display {
    ($($t:ty),*) => { $(impl Render for $t { fn render(&self) -> String { self.to_string() } })* };
}
render_display!(
    u32,
    u64,
    i32,
    String,
    crate::access_log::Format,
    super::target::SyslogTarget,
    super::target::Facility,
    super::target::StatsdTarget,
    super::worker_class::WorkerClass,
    super::asgi::AsgiLoop,
    super::asgi::Lifespan,
    super::h2c::Http2Cleartext,
    ProxyMode,
    HeaderMap
);

/// `access_log_format`: the nom compiler is the validator (presets `@name`, files `@./path`).
pub fn access_log_format(text: &str) -> Result<crate::access_log::Format, String> {
    crate::access_log::Format::from_setting(text).map_err(|e| e.to_string())
}

impl Render for bool {
    fn render(&self) -> String {
        if *self { "True" } else { "False" }.to_string()
    }
}
impl<T: Render> Render for Option<T> {
    fn render(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".to_string(), Render::render)
    }
}
impl Render for PathBuf {
    fn render(&self) -> String {
        self.display().to_string()
    }
}
impl Render for LogLevel {
    fn render(&self) -> String {
        self.name().to_string()
    }
}
impl Render for Vec<String> {
    fn render(&self) -> String {
        py_list(self.iter().cloned())
    }
}
impl Render for Vec<BindAddr> {
    fn render(&self) -> String {
        py_list(self.iter().map(ToString::to_string))
    }
}
/// `raw_env` and friends print as Gunicorn stores them: `['KEY=VALUE', ...]`.
impl Render for Vec<(String, String)> {
    fn render(&self) -> String {
        py_list(self.iter().map(|(k, v)| format!("{k}={v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_python() {
        assert_eq!(int("42"), Ok(42));
        assert_eq!(int(" -7 "), Ok(-7));
        assert_eq!(int("0x1F"), Ok(31));
        assert_eq!(int("0o17"), Ok(15));
        assert_eq!(int("0b101"), Ok(5));
        assert_eq!(int("1_000"), Ok(1000));
        for bad in ["", "x", "1.5", "0x", "1__0", "_1", "99999999999999999999"] {
            assert!(int(bad).is_err(), "{bad:?}");
        }
        assert_eq!(uint::<u32>("0"), Ok(0));
        assert!(uint::<u32>("-1").is_err());
        assert!(uint::<u32>("4294967296").is_err());
        assert_eq!(positive::<u32>("3"), Ok(3));
        assert_eq!(
            positive::<u32>("0"),
            Err("must be a positive integer".into())
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(boolean("true"), Ok(true));
        assert_eq!(boolean(" FALSE "), Ok(false));
        assert!(boolean("yes").is_err());
    }

    #[test]
    fn umask_bases() {
        assert_eq!(umask("0"), Ok(0));
        assert_eq!(umask("022"), Ok(0o22));
        assert_eq!(umask("0o022"), Ok(0o22));
        assert_eq!(umask("0x12"), Ok(18));
        assert_eq!(umask("18"), Ok(18));
        assert!(umask("089").is_err());
        assert!(umask("-1").is_err());
        assert!(umask("0o10000").is_err());
    }

    #[test]
    fn users_and_groups() {
        assert_eq!(user(""), Ok(None));
        assert_eq!(user("1000"), Ok(Some(1000)));
        assert_eq!(user("root"), Ok(Some(0)));
        assert!(
            user("no-such-user-runicorn")
                .unwrap_err()
                .contains("no such user")
        );
        assert_eq!(group("0"), Ok(Some(0)));
        assert_eq!(group("root"), Ok(Some(0)));
        assert!(
            group("no-such-group-runicorn")
                .unwrap_err()
                .contains("no such group")
        );
    }

    #[test]
    fn limits_clamp_like_gunicorn() {
        assert_eq!(limit_request_line("0"), Ok(0));
        assert_eq!(limit_request_line("4094"), Ok(4094));
        assert_eq!(limit_request_line("9000"), Ok(8190));
        assert!(limit_request_line("-1").is_err());
        assert_eq!(limit_request_fields("0"), Ok(32768));
        assert_eq!(limit_request_fields("-5"), Ok(32768));
        assert_eq!(limit_request_fields("40000"), Ok(32768));
        assert_eq!(limit_request_fields("100"), Ok(100));
        assert_eq!(limit_request_field_size("0"), Ok(8190));
        assert_eq!(limit_request_field_size("-1"), Ok(8190));
        assert_eq!(limit_request_field_size("100"), Ok(100));
    }

    #[test]
    fn key_value_pairs() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            key_values(&v(&["A=1", "B=", "C=x=y"])),
            Ok(vec![
                ("A".into(), "1".into()),
                ("B".into(), "".into()),
                ("C".into(), "x=y".into())
            ])
        );
        assert_eq!(
            key_values(&v(&["A=1", "NOEQ"])),
            Err(("NOEQ".into(), "must be KEY=VALUE".into()))
        );
        assert!(key_values(&v(&["=x"])).is_err());
    }

    #[test]
    fn address_lists() {
        assert_eq!(
            addr_list("127.0.0.1, ::1"),
            Ok(vec!["127.0.0.1".into(), "::1".into()])
        );
        assert_eq!(addr_list("*"), Ok(vec!["*".into()]));
        assert!(addr_list("10.0.0.0/8,fd00::/8").is_ok());
        assert!(addr_list("10.0.0.0/33").is_err());
        assert!(addr_list("example.com").is_err());
    }

    #[test]
    fn choices_and_protocols() {
        assert_eq!(proxy_protocol("true"), Ok(ProxyMode::Auto));
        assert_eq!(proxy_protocol("v2"), Ok(ProxyMode::V2));
        assert!(proxy_protocol("v3").is_err());
        assert_eq!(http_protocols("h2, h1"), Ok(vec!["h2".into(), "h1".into()]));
        assert!(http_protocols("h3").is_err());
        assert!(http_protocols("").is_err());
        assert!(one_of("x", &["a", "b"]).unwrap_err().contains("a, b"));
    }

    #[test]
    fn rendering_like_python() {
        assert_eq!(true.render(), "True");
        assert_eq!(None::<String>.render(), "None");
        assert_eq!(
            vec!["a".to_string(), "it's".to_string()].render(),
            r#"['a', "it's"]"#
        );
        assert_eq!(Vec::<String>::new().render(), "[]");
        assert_eq!(vec![("A".to_string(), "B".to_string())].render(), "['A=B']");
        let binds = binds(&["127.0.0.1:8000".to_string(), "[::1]:9".to_string()]).unwrap();
        assert_eq!(binds.render(), "['127.0.0.1:8000', '[::1]:9']");
        assert_eq!(LogLevel::Warning.render(), "warning");
    }
}
