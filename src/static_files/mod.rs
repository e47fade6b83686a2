//! Static files at the edge (`--static-map URL_PREFIX=DIRECTORY`): [`Static`] is a hyper
//! service in front of the app. Requests under a mapped prefix are answered from disk
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
//! symlink is 404 unless `--static-follow-symlinks`. Metadata and bodies up to 64 KiB are
//! read with plain (page-cache) syscalls; larger bodies stream through `tokio::fs` in 64 KiB
//! frames (no sendfile(2): hyper owns the socket writes).

mod headers;
mod mime;

use std::convert::Infallible;
use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, VARY,
};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

use crate::config::Settings;
use crate::server::{AppService, BoxError};
use headers::{Coding, Precondition, Ranged, Validators};

/// Bytes per body frame: large enough that per-frame overhead vanishes, small enough
/// that a slow client does not pin much memory.
const CHUNK: usize = 64 * 1024;

/// The resolved `--static-*` settings of a worker.
#[derive(Debug)]
pub struct Config {
    /// Longest prefix first, so the most specific mapping wins.
    mounts: Vec<Mount>,
    /// `--static-cache-control`, longest prefix first.
    cache_control: Vec<(String, HeaderValue)>,
    follow_symlinks: bool,
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
    pub fn from_settings(s: &Settings) -> Result<Option<Arc<Config>>, String> {
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
        })))
    }

    fn mount_for(&self, path: &str) -> Option<usize> {
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

/// The app behind static files, or the lone "app" of a static-only server.
#[derive(Clone)]
pub struct Static<A> {
    app: A,
    cfg: Arc<Config>,
}

impl<A> Static<A> {
    pub fn new(app: A, cfg: Arc<Config>) -> Self {
        Static { app, cfg }
    }
}

impl<A: AppService> Service<Request<Incoming>> for Static<A> {
    type Response = Response<StaticBody<A::Body>>;
    type Error = A::Err;
    type Future = StaticFuture<A::Fut>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match self.cfg.mount_for(req.uri().path()) {
            Some(i) => {
                let (parts, _body) = req.into_parts();
                StaticFuture::File {
                    fut: Box::pin(respond(self.cfg.clone(), i, parts)),
                }
            }
            None => StaticFuture::App {
                fut: self.app.call(req),
            },
        }
    }
}

/// The app of `runicorn --static-map ...` without an APP_MODULE: 404 for every path no
/// mapping covers.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoApp;

impl Service<Request<Incoming>> for NoApp {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _req: Request<Incoming>) -> Self::Future {
        let mut r = Response::new(Full::new(Bytes::from_static(b"Not Found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        std::future::ready(Ok(r))
    }
}

pin_project_lite::pin_project! {
    /// The app's future, or a boxed static-file answer.
    #[project = StaticFutureProj]
    pub enum StaticFuture<F> {
        App { #[pin] fut: F },
        File { fut: Pin<Box<dyn Future<Output = Response<FileBody>> + Send>> },
    }
}

impl<F, B, E> Future for StaticFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<StaticBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            StaticFutureProj::App { fut } => fut
                .poll(cx)
                .map(|r| r.map(|r| r.map(|inner| StaticBody::App { inner }))),
            StaticFutureProj::File { fut } => fut
                .as_mut()
                .poll(cx)
                .map(|r| Ok(r.map(|inner| StaticBody::File { inner }))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The app's body or a file's.
    #[project = StaticBodyProj]
    pub enum StaticBody<B> {
        App { #[pin] inner: B },
        File { inner: FileBody },
    }
}

impl<B> Body for StaticBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            StaticBodyProj::App { inner } => inner
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
            StaticBodyProj::File { inner } => Pin::new(inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            StaticBody::App { inner } => inner.is_end_stream(),
            StaticBody::File { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            StaticBody::App { inner } => inner.size_hint(),
            StaticBody::File { inner } => inner.size_hint(),
        }
    }
}

/// A static response body: nothing, a short message, or a byte range of an open file.
pub struct FileBody(BodyKind);

enum BodyKind {
    Empty,
    Once(Option<Bytes>),
    File {
        file: tokio::fs::File,
        remaining: u64,
        buf: Vec<u8>,
    },
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.0 {
            BodyKind::Empty => Poll::Ready(None),
            BodyKind::Once(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            BodyKind::File {
                file,
                remaining,
                buf,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = usize::try_from(*remaining).unwrap_or(CHUNK).min(CHUNK);
                // One buffer per response, sized for the first frame (small files stay small).
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let mut rb = ReadBuf::new(&mut buf[..want]);
                std::task::ready!(Pin::new(file).poll_read(cx, &mut rb))?;
                let n = rb.filled().len();
                if n == 0 {
                    // The file shrank after its length was announced: end with an error so
                    // hyper closes the connection instead of leaving the client waiting.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being served",
                    ))));
                }
                *remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
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

/// Missing, not a directory, name too long, symlink loop: all "not found". Permission
/// problems are 403; anything else is the server's fault (logged, not disclosed).
fn io_error(e: &io::Error) -> Response<FileBody> {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP) => {
            error(StatusCode::NOT_FOUND)
        }
        Some(libc::EACCES | libc::EPERM) => error(StatusCode::FORBIDDEN),
        _ => {
            tracing::error!("static file: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Answers one request under mount `i`.
async fn respond(cfg: Arc<Config>, i: usize, req: Parts) -> Response<FileBody> {
    if req.method != Method::GET && req.method != Method::HEAD {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mount = &cfg.mounts[i];
    let path = req.uri.path();
    let rest = under(path, &mount.prefix).unwrap_or("");
    let mut file_path = mount.root.clone();
    let mut segments: Vec<&str> = Vec::new();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let Some(name) = headers::decode_segment(seg) else {
            return error(StatusCode::BAD_REQUEST);
        };
        // Dotfiles (.git, .env, .htpasswd) are never served: 404, as if absent.
        if name.first() == Some(&b'.') {
            return error(StatusCode::NOT_FOUND);
        }
        file_path.push(OsStr::from_bytes(&name));
        segments.push(seg);
    }
    let wants_dir = rest.ends_with('/');
    let meta = match std::fs::metadata(&file_path) {
        Ok(m) => m,
        Err(e) => return io_error(&e),
    };
    if meta.is_dir() {
        if !wants_dir {
            return redirect_to_dir(&mount.prefix, &segments, req.uri.query());
        }
        file_path.push("index.html");
    } else if wants_dir {
        return error(StatusCode::NOT_FOUND);
    }
    let file_path = if cfg.follow_symlinks {
        file_path
    } else {
        // Canonical path inside the canonical root, or the file is reached through a
        // symlink that leaves the directory.
        match std::fs::canonicalize(&file_path) {
            Ok(p) if p.starts_with(&mount.root) => p,
            Ok(_) => return error(StatusCode::NOT_FOUND),
            Err(e) => return io_error(&e),
        }
    };
    let name = file_path.file_name().map_or(&b""[..], |n| n.as_bytes());
    let content_type = mime::content_type(name);

    // A precompressed sibling when the client takes it; else the file itself.
    let mut chosen = None;
    for coding in headers::accepted_codings(&req.headers) {
        if let Some(found) = sibling(&file_path, coding, cfg.follow_symlinks).await {
            chosen = Some(found);
            break;
        }
    }
    let (file, meta, coding) = match chosen {
        Some((file, meta, coding)) => (file, meta, Some(coding)),
        None => match open_regular(&file_path).await {
            Ok(Some((file, meta))) => (file, meta, None),
            Ok(None) => return error(StatusCode::NOT_FOUND),
            Err(e) => return io_error(&e),
        },
    };

    let len = meta.size();
    // Size, mtime to the nanosecond and inode: a replaced or rewritten file (even within
    // the same second, even with the same size) gets a new tag.
    let etag = format!(
        "\"{:x}-{:x}.{:x}-{:x}\"",
        len,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino()
    );
    let modified =
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(meta.mtime()).unwrap_or(0));
    let v = Validators {
        etag: &etag,
        modified,
    };

    let mut common = http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        common.insert(ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        common.insert(LAST_MODIFIED, v);
    }
    if let Some(cc) = cfg.cache_control_for(path) {
        common.insert(CACHE_CONTROL, cc.clone());
    }
    // Whether or not a sibling exists for this file, the answer depends on the header.
    common.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    common.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    match headers::evaluate(&req.headers, &v) {
        Precondition::Failed => return error(StatusCode::PRECONDITION_FAILED),
        Precondition::NotModified => {
            let mut r = Response::new(FileBody(BodyKind::Empty));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            *r.headers_mut() = common;
            return r;
        }
        Precondition::Proceed => {}
    }
    // Range handling is defined for GET only (RFC 9110 §14.2).
    let ranged = if req.method == Method::GET && headers::if_range_holds(&req.headers, &v) {
        headers::range(&req.headers, len)
    } else {
        Ranged::Full
    };
    let (status, start, count) = match ranged {
        Ranged::Full => (StatusCode::OK, 0, len),
        Ranged::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r.headers_mut()
                .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return r;
        }
    };
    let mut h = common;
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    if let Some(c) = coding {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(c.token()));
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) =
            HeaderValue::from_str(&format!("bytes {}-{}/{len}", start, start + count - 1))
    {
        h.insert(CONTENT_RANGE, v);
    }
    let body = if req.method == Method::HEAD || count == 0 {
        // The file is closed at once; hyper sends the announced length, no body.
        FileBody(BodyKind::Empty)
    } else if count <= CHUNK as u64 {
        // Small bodies (most static assets) are read at once, from the page cache.
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; count as usize];
        if let Err(e) = file.read_exact_at(&mut buf, start) {
            return io_error(&e);
        }
        FileBody(BodyKind::Once(Some(Bytes::from(buf))))
    } else {
        let mut file = tokio::fs::File::from_std(file);
        if start > 0
            && let Err(e) = file.seek(io::SeekFrom::Start(start)).await
        {
            return io_error(&e);
        }
        FileBody(BodyKind::File {
            file,
            remaining: count,
            buf: Vec::new(),
        })
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = h;
    r
}

/// Opens `path` if it is a regular file (never a FIFO or device, which could block or
/// never end); the metadata comes from the open descriptor, so the validators describe
/// exactly what is read.
///
/// These are plain blocking calls on purpose: on a local file system they are served from
/// the dentry and page caches in microseconds, while a trip through tokio's blocking pool
/// per call cost more than the whole response (measured: ~5k req/s for a 4 KB file).
async fn open_regular(path: &Path) -> io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    let pre = std::fs::metadata(path)?;
    if !pre.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    Ok(meta.is_file().then_some((file, meta)))
}

/// The `.br`/`.gz` sibling of `path`, if it is a regular file. Without
/// `--static-follow-symlinks` the sibling may not itself be a symlink: `path` is already
/// canonical and inside the root, so its directory is, and a plain file there is too.
async fn sibling(
    path: &Path,
    coding: Coding,
    follow: bool,
) -> Option<(std::fs::File, std::fs::Metadata, Coding)> {
    let mut p = path.as_os_str().to_owned();
    p.push(coding.suffix());
    let p = PathBuf::from(p);
    if !follow && !std::fs::symlink_metadata(&p).ok()?.is_file() {
        return None;
    }
    let (file, meta) = open_regular(&p).await.ok()??;
    Some((file, meta, coding))
}

/// `/dir` → `/dir/`, rebuilt from the checked segments (so `//evil.example` can never
/// become a scheme-relative Location), the query kept. 301: only GET and HEAD get here.
fn redirect_to_dir(prefix: &str, segments: &[&str], query: Option<&str>) -> Response<FileBody> {
    let mut loc = String::from(prefix);
    for s in segments {
        loc.push('/');
        loc.push_str(s);
    }
    loc.push('/');
    if let Some(q) = query {
        loc.push('?');
        loc.push_str(q);
    }
    let Ok(loc) = HeaderValue::from_str(&loc) else {
        return error(StatusCode::BAD_REQUEST);
    };
    let mut r = Response::new(FileBody(BodyKind::Empty));
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    r.headers_mut().insert(LOCATION, loc);
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
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
