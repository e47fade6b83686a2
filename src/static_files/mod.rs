//! Static files at the edge (`--static-map URL_PREFIX=DIRECTORY`): the decisions and the
//! bodies behind `server::statics::Static`, a hyper service in front of the app. Requests under a mapped prefix are answered from disk
//! and never reach the app; the rest pass through untouched. It sits inside the
//! per-connection wrapper, so static responses are counted, get `Server`, and are
//! access-logged like any other.
//!
//! What it does: GET/HEAD (others 405), `Content-Type` from the extension, strong ETag
//! and `Last-Modified` with the RFC 9110 preconditions, one byte range per request
//! (several ranges get the whole file, 200), precompressed `.br`/`.gz` siblings chosen
//! from `Accept-Encoding`, `index.html` for directories (`/dir` redirects to `/dir/`),
//! per-prefix `Cache-Control`. Safety: decoded segments may not contain `/`, `\`, NUL or
//! be `.`/`..`; dotfiles are 404; a file resolving outside its directory through a
//! symlink is 404 unless `--static-follow-symlinks`.
//!
//! Two ways out, one decision ([`decide`]): on plaintext HTTP/1 connections the edge
//! answers GET/HEAD itself, below hyper, with `sendfile(2)` ([`edge`]); TLS, HTTP/2,
//! pipelined-behind-the-app and error answers go through this hyper service. Both read
//! the per-worker [`cache`] of resolved files (memory for small bodies, an open
//! descriptor for large ones; hyper reads those with positioned reads).

pub(crate) mod cache;
pub(crate) mod edge;
pub(crate) mod headers;
mod mime;

use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, VARY,
};
use http::{HeaderValue, Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};

use crate::config::Settings;
use cache::{Cache, Data, Entry, Miss};
use headers::{Fields, Precondition, Ranged, Validators};

/// Bytes per body frame: large enough that per-frame overhead vanishes, small enough
/// that a slow client does not pin much memory.
const CHUNK: usize = 64 * 1024;

/// The resolved `--static-*` settings of a worker.
#[derive(Debug)]
pub(crate) struct Config {
    /// Longest prefix first, so the most specific mapping wins.
    mounts: Vec<Mount>,
    /// `--static-cache-control`, longest prefix first.
    cache_control: Vec<(String, HeaderValue)>,
    follow_symlinks: bool,
    /// `--sendfile` (on unless `--no-sendfile`): the edge sends large bodies with
    /// sendfile(2), else through a buffer.
    pub(crate) sendfile: bool,
    cache: Cache,
}

#[derive(Debug)]
struct Mount {
    /// Without a trailing `/`; the empty string maps the whole site.
    prefix: String,
    /// Canonical, so "is this file inside" is a prefix test on canonical paths.
    root: PathBuf,
}

/// `/static/` and `/static` name the same mapping; `/` becomes the empty prefix.
fn normalize(prefix: &str) -> String {
    prefix.trim_end_matches('/').to_string()
}

/// The rest of `path` when it lies under `prefix` (on a segment boundary).
fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

impl Config {
    /// `None` without `--static-map`; `Err` when a directory cannot be used (the worker
    /// then fails to boot, which halts the master with the reason).
    pub(crate) fn from_settings(s: &Settings) -> Result<Option<Arc<Config>>, String> {
        if s.static_map.is_empty() {
            return Ok(None);
        }
        let mut mounts = Vec::with_capacity(s.static_map.len());
        for (prefix, dir) in &s.static_map {
            let root = std::fs::canonicalize(dir)
                .map_err(|e| format!("--static-map {prefix}={dir}: {e}"))?;
            if !root.is_dir() {
                return Err(format!("--static-map {prefix}={dir}: not a directory"));
            }
            mounts.push(Mount {
                prefix: normalize(prefix),
                root,
            });
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        let mut cache_control = Vec::with_capacity(s.static_cache_control.len());
        for (prefix, value) in &s.static_cache_control {
            let v = HeaderValue::from_str(value).map_err(|_| {
                format!("--static-cache-control {prefix}={value}: not a valid header value")
            })?;
            cache_control.push((normalize(prefix), v));
        }
        cache_control.sort_by_key(|c| std::cmp::Reverse(c.0.len()));
        Ok(Some(Arc::new(Config {
            mounts,
            cache_control,
            follow_symlinks: s.static_follow_symlinks,
            sendfile: s.sendfile,
            cache: Cache::new(),
        })))
    }

    /// The mapping `path` falls under, if any.
    pub(crate) fn mount_for(&self, path: &str) -> Option<usize> {
        self.mounts
            .iter()
            .position(|m| under(path, &m.prefix).is_some())
    }

    fn cache_control_for(&self, path: &str) -> Option<&HeaderValue> {
        self.cache_control
            .iter()
            .find(|(p, _)| under(path, p).is_some())
            .map(|(_, v)| v)
    }
}

/// A static response body: nothing, a short message or small file, or a byte range of
/// a cached open file.
pub(crate) struct FileBody(BodyKind);

enum BodyKind {
    Empty,
    Once(Option<Bytes>),
    File {
        /// Keeps the descriptor open while the body is sent.
        entry: Arc<Entry>,
        rep: usize,
        offset: u64,
        remaining: u64,
    },
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.0 {
            BodyKind::Empty => Poll::Ready(None),
            BodyKind::Once(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            BodyKind::File {
                entry,
                rep,
                offset,
                remaining,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let Data::File(file) = &entry.reps[*rep].data else {
                    return Poll::Ready(None);
                };
                let want = usize::try_from(*remaining).unwrap_or(CHUNK).min(CHUNK);
                // A positioned read from the page cache (see `cache::open_regular` on why
                // not tokio's blocking pool); the frame owns its buffer, as hyper queues it.
                let mut buf = bytes::BytesMut::zeroed(want);
                let n = file.read_at(&mut buf, *offset)?;
                if n == 0 {
                    // The file shrank after its length was announced: end with an error so
                    // hyper closes the connection instead of leaving the client waiting.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being served",
                    ))));
                }
                buf.truncate(n);
                *offset += n as u64;
                *remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            BodyKind::Empty => true,
            BodyKind::Once(b) => b.is_none(),
            BodyKind::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            BodyKind::Empty => SizeHint::with_exact(0),
            BodyKind::Once(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            BodyKind::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

/// A plain error: the status and its reason, never a path.
fn error(status: StatusCode) -> Response<FileBody> {
    let text = format!("{}\n", status.canonical_reason().unwrap_or("Error"));
    let mut r = Response::new(FileBody(BodyKind::Once(Some(Bytes::from(text)))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Which part of a representation a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// 200.
    Full,
    /// 206, `start..start + count`.
    Range { start: u64, count: u64 },
    /// 304.
    NotModified,
}

/// What a static request gets. Decided once, by [`decide`], for both ways out.
pub(crate) enum Outcome {
    /// 200, 206 or 304 from representation `rep` of `entry` (`head`: no body).
    Serve {
        entry: Arc<Entry>,
        rep: usize,
        part: Part,
        head: bool,
    },
    /// An error answer (400, 403, 404, 405, 412, 500).
    Status(StatusCode),
    /// 416 for a representation of this length.
    Unsatisfiable(u64),
    /// 301 to this Location.
    Redirect(HeaderValue),
}

/// The answer to `method path?query` under mount `i`: the method, the cached
/// resolution, the coding, RFC 9110 preconditions and the range.
pub(crate) fn decide<H: Fields + ?Sized>(
    cfg: &Config,
    i: usize,
    method: &str,
    path: &str,
    query: Option<&str>,
    h: &H,
) -> Outcome {
    let head = method == "HEAD";
    if method != "GET" && !head {
        return Outcome::Status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let entry = match cfg.cache.get(cfg, i, path) {
        Ok(e) => e,
        Err(Miss::Status(s)) => return Outcome::Status(s),
        Err(Miss::Redirect(loc)) => {
            let Some(q) = query else {
                return Outcome::Redirect(loc);
            };
            let loc = format!("{}?{q}", loc.to_str().unwrap_or(""));
            return match HeaderValue::from_str(&loc) {
                Ok(v) => Outcome::Redirect(v),
                Err(_) => Outcome::Status(StatusCode::BAD_REQUEST),
            };
        }
    };
    // A precompressed sibling when the client takes it; else the file itself.
    let codings = headers::accepted_codings(h);
    let rep = codings
        .as_slice()
        .iter()
        .find_map(|c| entry.reps.iter().position(|r| r.coding == Some(*c)))
        .unwrap_or(0);
    let r = &entry.reps[rep];
    let v = Validators {
        etag: r.etag_str(),
        modified: r.modified,
    };
    let part = match headers::evaluate(h, &v) {
        Precondition::Failed => return Outcome::Status(StatusCode::PRECONDITION_FAILED),
        Precondition::NotModified => Part::NotModified,
        // Range handling is defined for GET only (RFC 9110 §14.2).
        Precondition::Proceed if !head && headers::if_range_holds(h, &v) => {
            match headers::range(h, r.len) {
                Ranged::Full => Part::Full,
                Ranged::Part { start, end } => Part::Range {
                    start,
                    count: end - start + 1,
                },
                Ranged::Unsatisfiable => return Outcome::Unsatisfiable(r.len),
            }
        }
        Precondition::Proceed => Part::Full,
    };
    Outcome::Serve {
        entry,
        rep,
        part,
        head,
    }
}

/// The status and the byte count on the wire of a served part.
pub(crate) fn part_status(part: Part) -> StatusCode {
    match part {
        Part::Full => StatusCode::OK,
        Part::Range { .. } => StatusCode::PARTIAL_CONTENT,
        Part::NotModified => StatusCode::NOT_MODIFIED,
    }
}

/// `bytes a-b/len` for a range of a representation of `len` bytes.
pub(crate) fn content_range(start: u64, count: u64, len: u64) -> String {
    format!("bytes {}-{}/{len}", start, start + count - 1)
}

/// The header map of a served part, in the order the edge writes its lines (`cache::rep`).
/// `wrapper: Some(draining)` adds what the connection's service wrapper adds (`server`,
/// and `connection: close` when draining), for access logs of edge answers.
pub(crate) fn serve_headers(r: &cache::Rep, part: Part, wrapper: Option<bool>) -> http::HeaderMap {
    let mut h = http::HeaderMap::with_capacity(12);
    h.insert(ETAG, r.etag.clone());
    h.insert(LAST_MODIFIED, r.last_modified.clone());
    if let Some(cc) = &r.cache_control {
        h.insert(CACHE_CONTROL, cc.clone());
    }
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let count = match part {
        Part::NotModified => None,
        Part::Full => Some(r.len),
        Part::Range { count, .. } => Some(count),
    };
    if let Some(count) = count {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
        h.insert(CONTENT_LENGTH, HeaderValue::from(count));
        if let Some(c) = r.coding {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static(c.token()));
        }
    }
    if let Part::Range { start, count } = part
        && let Ok(v) = HeaderValue::from_str(&content_range(start, count, r.len))
    {
        h.insert(CONTENT_RANGE, v);
    }
    if let Some(draining) = wrapper {
        h.insert(http::header::SERVER, HeaderValue::from_static("runicorn"));
        if draining {
            h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    h
}

/// The hyper path's response for an outcome: the same header set, in the same order,
/// as the edge writes from the prebuilt block (`cache::rep`).
pub(crate) fn to_response(o: Outcome, head: bool) -> Response<FileBody> {
    match o {
        Outcome::Status(s) => {
            let mut r = error(s);
            if s == StatusCode::METHOD_NOT_ALLOWED {
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            r
        }
        Outcome::Unsatisfiable(len) => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r.headers_mut()
                .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            r
        }
        Outcome::Redirect(loc) => {
            let mut r = Response::new(FileBody(BodyKind::Empty));
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            r.headers_mut().insert(LOCATION, loc);
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            r
        }
        Outcome::Serve {
            entry, rep, part, ..
        } => {
            let r = &entry.reps[rep];
            let h = serve_headers(r, part, None);
            let (start, count) = match part {
                Part::NotModified => {
                    let mut resp = Response::new(FileBody(BodyKind::Empty));
                    *resp.status_mut() = StatusCode::NOT_MODIFIED;
                    *resp.headers_mut() = h;
                    return resp;
                }
                Part::Full => (0, r.len),
                Part::Range { start, count } => (start, count),
            };
            let body = if head || count == 0 {
                // hyper sends the announced length, no body.
                BodyKind::Empty
            } else {
                match &r.data {
                    Data::Mem(b) => {
                        BodyKind::Once(Some(b.slice(start as usize..(start + count) as usize)))
                    }
                    Data::File(_) => BodyKind::File {
                        entry: entry.clone(),
                        rep,
                        offset: start,
                        remaining: count,
                    },
                }
            };
            let mut resp = Response::new(FileBody(body));
            *resp.status_mut() = part_status(part);
            *resp.headers_mut() = h;
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(normalize("/"), "");
        assert_eq!(normalize("/static/"), "/static");
        assert_eq!(under("/static/a.css", "/static"), Some("/a.css"));
        assert_eq!(under("/static", "/static"), Some(""));
        assert_eq!(under("/staticky", "/static"), None);
        assert_eq!(under("/anything", ""), Some("/anything"));
    }
}
