//! The PEP 3333 `environ` dict, built as Gunicorn's `http/wsgi.py create()` builds it,
//! and `wsgi.errors` (a stream into the error log).

use std::net::SocketAddr;

use http::request::Parts;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::server::{ConnInfo, Peer};

/// Per-worker constants of the environ.
pub struct Constants {
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
pub fn percent_decode(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
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
fn cgi_name(name: &str, keep_underscores: bool) -> Option<String> {
    if !keep_underscores && name.contains('_') {
        return None;
    }
    let mut k = String::with_capacity(5 + name.len());
    k.push_str("HTTP_");
    k.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    Some(k)
}

/// Builds the environ of one request; `input` becomes `wsgi.input`.
pub fn build<'py>(
    py: Python<'py>,
    c: &Constants,
    parts: &Parts,
    body_len: u64,
    https: bool,
    input: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    let conn = parts.extensions.get::<ConnInfo>().copied();
    env.set_item(intern!(py, "REQUEST_METHOD"), parts.method.as_str())?;
    env.set_item(
        intern!(py, "SERVER_SOFTWARE"),
        intern!(py, concat!("runicorn/", env!("CARGO_PKG_VERSION"))),
    )?;
    let uri = &parts.uri;
    env.set_item(intern!(py, "RAW_URI"), uri.to_string())?;
    env.set_item(intern!(py, "QUERY_STRING"), uri.query().unwrap_or(""))?;
    let path = uri.path().as_bytes();
    let path = match c.script_name.as_bytes() {
        s if !s.is_empty() && path.starts_with(s) => &path[s.len()..],
        _ => path,
    };
    env.set_item(intern!(py, "PATH_INFO"), latin1(py, &percent_decode(path)))?;
    env.set_item(intern!(py, "SCRIPT_NAME"), c.script_name.as_str())?;
    let protocol = match parts.version {
        http::Version::HTTP_10 => intern!(py, "HTTP/1.0"),
        http::Version::HTTP_2 => intern!(py, "HTTP/2.0"),
        _ => intern!(py, "HTTP/1.1"),
    };
    env.set_item(intern!(py, "SERVER_PROTOCOL"), protocol)?;

    let mut content_length = false;
    let mut host: Option<&[u8]> = None;
    for name in parts.headers.keys() {
        let mut values = parts.headers.get_all(name).iter();
        let Some(first) = values.next() else { continue };
        let value: std::borrow::Cow<'_, [u8]> = match values.next() {
            None => first.as_bytes().into(),
            Some(second) => {
                let mut v = first.as_bytes().to_vec();
                for more in std::iter::once(second).chain(values) {
                    v.push(b',');
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
                if let Some(key) = cgi_name(n, c.keep_underscores) {
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
            env.set_item(intern!(py, "REMOTE_ADDR"), a.ip().to_string())?;
            env.set_item(intern!(py, "REMOTE_PORT"), a.port().to_string())?;
        }
        _ => env.set_item(intern!(py, "REMOTE_ADDR"), "")?,
    }
    let (server_name, server_port) = match conn.and_then(|c| c.local) {
        Some(SocketAddr::V4(a)) => (a.ip().to_string(), a.port().to_string()),
        Some(SocketAddr::V6(a)) => (a.ip().to_string(), a.port().to_string()),
        // Unix sockets: the Host header, as Gunicorn.
        None => match host.map(|h| String::from_utf8_lossy(h).into_owned()) {
            Some(h) => match h.rsplit_once(':') {
                Some((n, p)) if !p.contains(']') => (n.to_string(), p.to_string()),
                _ => (h, if https { "443" } else { "80" }.to_string()),
            },
            None => (String::new(), String::new()),
        },
    };
    env.set_item(intern!(py, "SERVER_NAME"), server_name)?;
    env.set_item(intern!(py, "SERVER_PORT"), server_port)?;

    env.set_item(intern!(py, "wsgi.version"), c.version.bind(py))?;
    let scheme = if https {
        intern!(py, "https")
    } else {
        intern!(py, "http")
    };
    env.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
    env.set_item(intern!(py, "wsgi.input"), input)?;
    env.set_item(intern!(py, "wsgi.errors"), c.errors.bind(py))?;
    env.set_item(intern!(py, "wsgi.multithread"), c.multithread)?;
    env.set_item(intern!(py, "wsgi.multiprocess"), c.multiprocess)?;
    env.set_item(intern!(py, "wsgi.run_once"), false)?;
    env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    env.set_item(intern!(py, "wsgi.file_wrapper"), c.file_wrapper.bind(py))?;
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
