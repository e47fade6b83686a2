//! The PEP 3333 `environ` dict, built as Gunicorn's `http/wsgi.py create()` builds it,
//! and `wsgi.errors` (a stream into the error log).

use std::net::{IpAddr, SocketAddr};

use http::request::Parts;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::http::{ConnInfo, Peer};

/// Per-worker constants of the environ.
pub(super) struct Constants {
    /// `SCRIPT_NAME` from the process environment (Gunicorn reads it the same way).
    pub script_name: String,
    pub multithread: bool,
    pub multiprocess: bool,
    /// The `wsgi.errors` stream.
    pub errors: Py<Errors>,
    /// The `wsgi.file_wrapper` class.
    pub file_wrapper: Py<PyAny>,
    /// `wsgi.version`.
    pub version: Py<PyAny>,
    /// `--header-map dangerous`: header names with `_` are mapped too.
    pub keep_underscores: bool,
    /// `--forwarder-headers`: names with `_` mapped when a trusted proxy sends them.
    pub forwarders: super::proxy::Forwarders,
    /// The `sendfile` setting: `wsgi.file_wrapper` over a real file is sent by the edge.
    pub sendfile: bool,
}

/// Bytes as a WSGI native string (latin-1, so every byte survives).
fn latin1<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(b) {
        Ok(s) if s.is_ascii() => PyString::new(py, s),
        _ => PyString::new(py, &b.iter().map(|&c| c as char).collect::<String>()),
    }
}

/// `urllib.parse.unquote_to_bytes`: `%XX` with two hex digits decoded, anything else kept.
pub(crate) fn percent_decode(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !s.contains(&b'%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// `HTTP_` + the name upper-cased with `-` → `_`; None for names with `_` unless
/// `keep_underscores` (Gunicorn's default `header_map = drop`: they could spoof a dashed
/// header of the same key).
#[cfg(test)]
fn cgi_name(name: &str, keep_underscores: bool) -> Option<String> {
    let mut buf = [0u8; CGI_BUF];
    let mut long = Vec::new();
    cgi_name_into(name, keep_underscores, &mut buf, &mut long).map(String::from)
}

/// Header names up to this long are mapped on the stack.
const CGI_BUF: usize = 64;

/// `cgi_name` into `buf` (or `long` for a longer name): no allocation per header.
fn cgi_name_into<'b>(
    name: &str,
    keep_underscores: bool,
    buf: &'b mut [u8; CGI_BUF],
    long: &'b mut Vec<u8>,
) -> Option<&'b str> {
    if !keep_underscores && name.contains('_') {
        return None;
    }
    let map = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_uppercase()
        }
    };
    let out: &mut [u8] = if 5 + name.len() <= CGI_BUF {
        let out = &mut buf[..5 + name.len()];
        out[..5].copy_from_slice(b"HTTP_");
        for (o, &c) in out[5..].iter_mut().zip(name.as_bytes()) {
            *o = map(c);
        }
        out
    } else {
        long.clear();
        long.extend_from_slice(b"HTTP_");
        long.extend(name.bytes().map(map));
        long
    };
    // Header names are visible ASCII (hyper checks), so this never fails.
    std::str::from_utf8(out).ok()
}

/// How many headers `known_cgi_name` knows.
const KNOWN: usize = 23;

/// The environ key of the commonest request headers, interned once per interpreter (no
/// string is built for them per request), with the header's index below `KNOWN`.
fn known_cgi_name<'py>(py: Python<'py>, name: &str) -> Option<(usize, &'py Bound<'py, PyString>)> {
    macro_rules! known {
        ($($h:literal => $k:literal),* $(,)?) => {{
            let mut i = 0;
            $(
                if name == $h {
                    return Some((i, intern!(py, $k)));
                }
                i += 1;
            )*
            debug_assert_eq!(i, KNOWN);
            None
        }};
    }
    known!(
        "host" => "HTTP_HOST",
        "user-agent" => "HTTP_USER_AGENT",
        "accept" => "HTTP_ACCEPT",
        "accept-encoding" => "HTTP_ACCEPT_ENCODING",
        "accept-language" => "HTTP_ACCEPT_LANGUAGE",
        "connection" => "HTTP_CONNECTION",
        "cookie" => "HTTP_COOKIE",
        "referer" => "HTTP_REFERER",
        "origin" => "HTTP_ORIGIN",
        "authorization" => "HTTP_AUTHORIZATION",
        "cache-control" => "HTTP_CACHE_CONTROL",
        "pragma" => "HTTP_PRAGMA",
        "if-none-match" => "HTTP_IF_NONE_MATCH",
        "if-modified-since" => "HTTP_IF_MODIFIED_SINCE",
        "upgrade-insecure-requests" => "HTTP_UPGRADE_INSECURE_REQUESTS",
        "x-forwarded-for" => "HTTP_X_FORWARDED_FOR",
        "x-forwarded-proto" => "HTTP_X_FORWARDED_PROTO",
        "x-forwarded-host" => "HTTP_X_FORWARDED_HOST",
        "x-real-ip" => "HTTP_X_REAL_IP",
        "x-request-id" => "HTTP_X_REQUEST_ID",
        "sec-fetch-site" => "HTTP_SEC_FETCH_SITE",
        "sec-fetch-mode" => "HTTP_SEC_FETCH_MODE",
        "sec-fetch-dest" => "HTTP_SEC_FETCH_DEST",
    )
}

/// A decimal port without going through `fmt`.
fn port_str(py: Python<'_>, port: u16) -> Bound<'_, PyString> {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut n = port;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    PyString::new(py, std::str::from_utf8(&buf[i..]).unwrap_or_default())
}

/// One app thread's reusable parts of the environ: the constant entries and the strings
/// that repeat from request to request (the listener's address, the client's IP on a
/// keep-alive connection).
pub(super) struct Cache {
    /// Every environ starts as a copy of this: the constant entries with their values and
    /// the per-request ones (set on every request) as None. Copying a dict of string keys
    /// is one copy of its table, where inserting each entry would hash, probe and grow
    /// the table as it fills.
    template: Py<PyDict>,
    /// The last listener address seen, as SERVER_NAME and SERVER_PORT.
    server: Option<(SocketAddr, Py<PyString>, Py<PyString>)>,
    /// The last client IP seen, as REMOTE_ADDR.
    remote: Option<(IpAddr, Py<PyString>)>,
    /// Scratch space for header names too long for the stack buffer.
    long_name: Vec<u8>,
    /// The last value of each known header and its string: Host, User-Agent, Accept...
    /// mostly repeat from one request to the next.
    values: Vec<(Vec<u8>, Option<Py<PyString>>)>,
}

impl Cache {
    pub(super) fn new(py: Python<'_>, c: &Constants) -> PyResult<Cache> {
        let t = PyDict::new(py);
        let none = py.None();
        // Per-request keys first (their slots are overwritten), then the constants.
        for key in [
            intern!(py, "REQUEST_METHOD"),
            intern!(py, "RAW_URI"),
            intern!(py, "QUERY_STRING"),
            intern!(py, "PATH_INFO"),
            intern!(py, "SERVER_PROTOCOL"),
            intern!(py, "REMOTE_ADDR"),
            intern!(py, "SERVER_NAME"),
            intern!(py, "SERVER_PORT"),
            intern!(py, "wsgi.url_scheme"),
            intern!(py, "wsgi.input"),
        ] {
            t.set_item(key, &none)?;
        }
        t.set_item(
            intern!(py, "SERVER_SOFTWARE"),
            intern!(py, concat!("runicorn/", env!("CARGO_PKG_VERSION"))),
        )?;
        t.set_item(intern!(py, "SCRIPT_NAME"), c.script_name.as_str())?;
        t.set_item(intern!(py, "wsgi.version"), c.version.bind(py))?;
        t.set_item(intern!(py, "wsgi.errors"), c.errors.bind(py))?;
        t.set_item(intern!(py, "wsgi.multithread"), c.multithread)?;
        t.set_item(intern!(py, "wsgi.multiprocess"), c.multiprocess)?;
        t.set_item(intern!(py, "wsgi.run_once"), false)?;
        t.set_item(intern!(py, "wsgi.input_terminated"), true)?;
        t.set_item(intern!(py, "wsgi.file_wrapper"), c.file_wrapper.bind(py))?;
        // Room for the per-request keys (headers, REMOTE_PORT...): a copy keeps the table
        // size of its template, and a template this full would make most copies grow
        // (rehash into a new table) on their first few inserts. Padding entries inserted
        // then deleted grow the template's table once; CPython still copies a dict with
        // this few deleted entries by copying its table. (Only speed depends on this.)
        let pads: Vec<String> = (0..9).map(|i| format!("\0pad{i}")).collect();
        for pad in &pads {
            t.set_item(pad, &none)?;
        }
        for pad in &pads {
            t.del_item(pad)?;
        }
        Ok(Cache {
            template: t.unbind(),
            server: None,
            remote: None,
            long_name: Vec::new(),
            values: (0..KNOWN).map(|_| (Vec::new(), None)).collect(),
        })
    }

    fn server<'py>(
        &mut self,
        py: Python<'py>,
        a: SocketAddr,
    ) -> (Bound<'py, PyString>, Bound<'py, PyString>) {
        match &self.server {
            Some((seen, n, p)) if *seen == a => (n.bind(py).clone(), p.bind(py).clone()),
            _ => {
                let n = PyString::new(py, &a.ip().to_string());
                let p = port_str(py, a.port());
                self.server = Some((a, n.clone().unbind(), p.clone().unbind()));
                (n, p)
            }
        }
    }

    /// The value of known header `i` as a string, reused when it repeats.
    fn value<'py>(&mut self, py: Python<'py>, i: usize, v: &[u8]) -> Bound<'py, PyString> {
        let Some((seen, s)) = self.values.get_mut(i) else {
            return latin1(py, v);
        };
        match s {
            Some(s) if seen.as_slice() == v => s.bind(py).clone(),
            _ => {
                let new = latin1(py, v);
                seen.clear();
                seen.extend_from_slice(v);
                *s = Some(new.clone().unbind());
                new
            }
        }
    }

    fn remote<'py>(&mut self, py: Python<'py>, ip: IpAddr) -> Bound<'py, PyString> {
        match &self.remote {
            Some((seen, s)) if *seen == ip => s.bind(py).clone(),
            _ => {
                let s = PyString::new(py, &ip.to_string());
                self.remote = Some((ip, s.clone().unbind()));
                s
            }
        }
    }
}

/// What a trusted proxy set for one request (`--forwarder-headers`).
pub(super) struct Forwarded<'a> {
    /// The peer is trusted: its forwarder headers with `_` are mapped.
    pub trusted: bool,
    /// Its `SCRIPT_NAME` header, replacing the process environment's.
    pub script_name: Option<&'a str>,
}

/// Builds the environ of one request; `input` becomes `wsgi.input`.
#[allow(clippy::too_many_arguments)]
pub(super) fn build<'py>(
    py: Python<'py>,
    c: &Constants,
    cache: &mut Cache,
    parts: &Parts,
    body_len: u64,
    https: bool,
    forwarded: Forwarded<'_>,
    input: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = cache.template.bind(py).copy()?;
    if let Some(s) = forwarded.script_name {
        env.set_item(intern!(py, "SCRIPT_NAME"), s)?;
    }
    let conn = parts.extensions.get::<ConnInfo>().copied();
    let method = match parts.method.as_str() {
        "GET" => intern!(py, "GET").clone(),
        "POST" => intern!(py, "POST").clone(),
        "HEAD" => intern!(py, "HEAD").clone(),
        "PUT" => intern!(py, "PUT").clone(),
        "DELETE" => intern!(py, "DELETE").clone(),
        "PATCH" => intern!(py, "PATCH").clone(),
        "OPTIONS" => intern!(py, "OPTIONS").clone(),
        m => PyString::new(py, m),
    };
    env.set_item(intern!(py, "REQUEST_METHOD"), method)?;
    let uri = &parts.uri;
    // The request target as received: for the origin form (`/path?query`, nearly every
    // request) that is path_and_query, with no String formatted on the way.
    match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() && uri.authority().is_none() => {
            env.set_item(intern!(py, "RAW_URI"), pq.as_str())?
        }
        _ => env.set_item(intern!(py, "RAW_URI"), uri.to_string())?,
    }
    env.set_item(intern!(py, "QUERY_STRING"), uri.query().unwrap_or(""))?;
    let path = uri.path().as_bytes();
    let path = match forwarded.script_name.unwrap_or(&c.script_name).as_bytes() {
        s if !s.is_empty() && path.starts_with(s) => &path[s.len()..],
        _ => path,
    };
    env.set_item(intern!(py, "PATH_INFO"), latin1(py, &percent_decode(path)))?;
    let http2 = parts.version == http::Version::HTTP_2;
    let protocol = match parts.version {
        http::Version::HTTP_10 => intern!(py, "HTTP/1.0"),
        http::Version::HTTP_2 => intern!(py, "HTTP/2.0"),
        _ => intern!(py, "HTTP/1.1"),
    };
    env.set_item(intern!(py, "SERVER_PROTOCOL"), protocol)?;

    let mut content_length = false;
    let mut host: Option<&[u8]> = None;
    let mut name_buf = [0u8; CGI_BUF];
    // HeaderMap::iter yields every value of a name one after the other: walking it
    // groups them without a get_all (a hash and probe) per name.
    let mut headers = parts.headers.iter().peekable();
    while let Some((name, first)) = headers.next() {
        let value: std::borrow::Cow<'_, [u8]> = match headers.next_if(|(n, _)| *n == name) {
            None => first.as_bytes().into(),
            Some((_, second)) => {
                // HTTP/2 clients send each cookie as a field of its own, to be joined with
                // "; " (RFC 9113 §8.2.3); joined with "," the app parsed `a=1,b=2` as one
                // cookie and lost the rest. Other repeated fields join with "," (HTTP/1.1's
                // Cookie too, as Gunicorn joins it: a client sends one there).
                let sep: &[u8] = if name == http::header::COOKIE && http2 {
                    b"; "
                } else {
                    b","
                };
                let mut v = first.as_bytes().to_vec();
                v.extend_from_slice(sep);
                v.extend_from_slice(second.as_bytes());
                while let Some((_, more)) = headers.next_if(|(n, _)| *n == name) {
                    v.extend_from_slice(sep);
                    v.extend_from_slice(more.as_bytes());
                }
                v.into()
            }
        };
        match name.as_str() {
            "content-type" => env.set_item(intern!(py, "CONTENT_TYPE"), latin1(py, &value))?,
            "content-length" => {
                content_length = true;
                env.set_item(intern!(py, "CONTENT_LENGTH"), latin1(py, &value))?
            }
            n => {
                if n == "host" {
                    host = Some(first.as_bytes());
                }
                if let Some((i, key)) = known_cgi_name(py, n) {
                    env.set_item(key, cache.value(py, i, &value))?;
                } else if let Some(key) = cgi_name_into(
                    n,
                    c.keep_underscores || (forwarded.trusted && c.forwarders.allows(n)),
                    &mut name_buf,
                    &mut cache.long_name,
                ) {
                    env.set_item(key, latin1(py, &value))?;
                }
            }
        }
    }
    // A chunked body was read whole at the edge: give its length, so apps that trust
    // only CONTENT_LENGTH (Django) see it too.
    if !content_length && body_len > 0 {
        env.set_item(intern!(py, "CONTENT_LENGTH"), body_len.to_string())?;
    }

    match conn.map(|c| c.peer) {
        Some(Peer::Tcp(a)) => {
            env.set_item(intern!(py, "REMOTE_ADDR"), cache.remote(py, a.ip()))?;
            env.set_item(intern!(py, "REMOTE_PORT"), port_str(py, a.port()))?;
        }
        _ => env.set_item(intern!(py, "REMOTE_ADDR"), intern!(py, ""))?,
    }
    let (server_name, server_port) = match conn.and_then(|c| c.local) {
        Some(a) => cache.server(py, a),
        // Unix sockets: the Host header, as Gunicorn.
        None => {
            let (n, p) = match host.map(|h| String::from_utf8_lossy(h).into_owned()) {
                Some(h) => match h.rsplit_once(':') {
                    Some((n, p)) if !p.contains(']') => (n.to_string(), p.to_string()),
                    _ => (h, if https { "443" } else { "80" }.to_string()),
                },
                None => (String::new(), String::new()),
            };
            (PyString::new(py, &n), PyString::new(py, &p))
        }
    };
    env.set_item(intern!(py, "SERVER_NAME"), server_name)?;
    env.set_item(intern!(py, "SERVER_PORT"), server_port)?;

    let scheme = if https {
        intern!(py, "https")
    } else {
        intern!(py, "http")
    };
    env.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
    env.set_item(intern!(py, "wsgi.input"), input)?;
    Ok(env)
}

/// `wsgi.errors`: text written here goes to the error log, a line at a time.
#[pyclass(module = "runicorn")]
pub struct Errors {
    partial: std::sync::Mutex<String>,
}

impl Errors {
    pub fn new() -> Errors {
        Errors {
            partial: std::sync::Mutex::new(String::new()),
        }
    }
}

#[pymethods]
impl Errors {
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let text = match data.cast::<PyBytes>() {
            Ok(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
            Err(_) => data.str()?.to_cow()?.into_owned(),
        };
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        partial.push_str(&text);
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            tracing::error!("{}", line.trim_end_matches(['\n', '\r']));
        }
        Ok(text.len())
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for l in lines.try_iter()? {
            self.write(&l?)?;
        }
        Ok(())
    }

    fn flush(&self) {
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        if !partial.is_empty() {
            tracing::error!("{}", std::mem::take(&mut *partial));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_unquote_to_bytes() {
        assert_eq!(&*percent_decode(b"/a%20b"), b"/a b");
        assert_eq!(&*percent_decode(b"/%e9%C3%a9"), b"/\xe9\xc3\xa9");
        assert_eq!(&*percent_decode(b"/%zz%2"), b"/%zz%2");
        assert_eq!(&*percent_decode(b"/plain"), b"/plain");
    }

    #[test]
    fn header_keys() {
        assert_eq!(
            cgi_name("x-forwarded-for", false).as_deref(),
            Some("HTTP_X_FORWARDED_FOR")
        );
        assert_eq!(cgi_name("x_forwarded_for", false), None);
        assert_eq!(
            cgi_name("x_forwarded_for", true).as_deref(),
            Some("HTTP_X_FORWARDED_FOR")
        );
    }
}
