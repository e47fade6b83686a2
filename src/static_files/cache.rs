//! The per-worker open-file and metadata cache of static files: what a URL path resolved
//! to (the file, its precompressed siblings, validators, content type, the prebuilt
//! header lines, and the body itself when small or an open descriptor when large), so a
//! hit costs a hash lookup and no syscall.
//!
//! Staleness: an entry is trusted for [`FRESH`] after it was last checked; after that,
//! the next request re-`stat`s the file and its `.br`/`.gz` siblings (three syscalls) and
//! compares device, inode, size and mtime (to the nanosecond). Any difference (modified,
//! replaced by rename, deleted, a sibling added or removed, a symlink retargeted) drops
//! the entry and resolves the path again. So a change is noticed at most [`FRESH`] after
//! it happened. Within that window a small file rewritten in place is served as it was;
//! a large one is read through the descriptor opened earlier (a rewrite in place shows
//! new bytes under the old validators, a shrink ends the response early with the
//! connection closed; a replace-by-rename keeps serving the old inode, whole).
//!
//! Bounds: [`MAX_ENTRIES`] paths per worker (an arbitrary entry is evicted when full);
//! bodies up to [`MEM_MAX`] are held in memory (at most 3 × 64 KiB per entry), larger
//! files hold one descriptor per representation. Errors and redirects are not cached.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::headers::{self, Coding};
use super::{Config, mime, under};

/// How long an entry is used without looking at the file system again.
pub(crate) const FRESH: Duration = Duration::from_millis(200);

/// Entries per worker.
pub(crate) const MAX_ENTRIES: usize = 512;

/// Bodies up to this size live in memory (most static assets); larger ones are sent
/// from an open descriptor.
pub(crate) const MEM_MAX: u64 = 64 * 1024;

/// Why a path has no entry: the answer instead of a file.
#[derive(Debug)]
pub(crate) enum Miss {
    Status(StatusCode),
    /// `/dir` → `/dir/` (the Location value).
    Redirect(HeaderValue),
}

/// What identifies a file's content cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }
    }
}

/// The file a URL path names, in every coding found.
#[derive(Debug)]
pub(crate) struct Entry {
    /// When last found current (milliseconds since the cache's epoch).
    checked_ms: AtomicU64,
    /// The file as named by the URL (before canonicalisation): what is re-`stat`ed.
    path: PathBuf,
    /// The file, its `.br` and its `.gz` sibling as last seen.
    seen: [Option<Stamp>; 3],
    /// The file first, then the siblings that exist (regular files only).
    pub(crate) reps: Vec<Rep>,
}

/// One representation: the file itself or a precompressed sibling.
#[derive(Debug)]
pub(crate) struct Rep {
    pub(crate) coding: Option<Coding>,
    pub(crate) len: u64,
    /// Strong tag, quotes included.
    pub(crate) etag: HeaderValue,
    pub(crate) last_modified: HeaderValue,
    /// mtime truncated to seconds (what `Last-Modified` says).
    pub(crate) modified: SystemTime,
    pub(crate) content_type: &'static str,
    pub(crate) cache_control: Option<HeaderValue>,
    pub(crate) data: Data,
    /// The response header lines common to 200/206/304 (`etag` … `accept-ranges`), then
    /// `content-type`: built once so a hit formats nothing.
    pub(crate) block: Box<[u8]>,
    /// Where `content-type` starts in `block` (a 304 stops there).
    pub(crate) common_len: usize,
    /// `content-length` of the whole file and `content-encoding`, for a 200.
    pub(crate) tail_200: Box<[u8]>,
}

#[derive(Debug)]
pub(crate) enum Data {
    Mem(Bytes),
    File(std::fs::File),
}

impl Rep {
    pub(crate) fn etag_str(&self) -> &str {
        self.etag.to_str().unwrap_or("")
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Cache {
    map: Mutex<HashMap<Box<str>, Arc<Entry>>>,
    epoch: Instant,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            map: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    /// The entry for `path` (a URL path under mount `i`), current within [`FRESH`].
    pub(crate) fn get(&self, cfg: &Config, i: usize, path: &str) -> Result<Arc<Entry>, Miss> {
        let now = self.epoch.elapsed().as_millis() as u64;
        let hit = self.lock().get(path).cloned();
        if let Some(e) = hit {
            let checked = e.checked_ms.load(Ordering::Relaxed);
            if now.saturating_sub(checked) < FRESH.as_millis() as u64 {
                return Ok(e);
            }
            if probe(&e.path, cfg.follow_symlinks) == e.seen {
                e.checked_ms.store(now, Ordering::Relaxed);
                return Ok(e);
            }
            self.lock().remove(path);
        }
        let e = Arc::new(load(cfg, i, path, now)?);
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES
            && !map.contains_key(path)
            && let Some(k) = map.keys().next().cloned()
        {
            map.remove(&k);
        }
        map.insert(path.into(), e.clone());
        Ok(e)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Entry>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Missing, not a directory, name too long, symlink loop: all "not found". Permission
/// problems are 403; anything else is the server's fault (logged, not disclosed).
pub(crate) fn io_status(e: &io::Error) -> StatusCode {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP) => {
            StatusCode::NOT_FOUND
        }
        Some(libc::EACCES | libc::EPERM) => StatusCode::FORBIDDEN,
        _ => {
            tracing::error!("static file: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn sibling_path(path: &Path, coding: Coding) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(coding.suffix());
    PathBuf::from(p)
}

/// The stamps of the file and of its siblings as [`load`] would accept them.
fn probe(path: &Path, follow: bool) -> [Option<Stamp>; 3] {
    let file = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
    let sib = |c| {
        let p = sibling_path(path, c);
        let m = if follow {
            std::fs::metadata(&p)
        } else {
            std::fs::symlink_metadata(&p)
        };
        m.ok().filter(|m| m.is_file()).map(|m| Stamp::of(&m))
    };
    [file, sib(Coding::Br), sib(Coding::Gzip)]
}

/// Resolves `url_path` under mount `i` from scratch: the path checks, directory handling,
/// the symlink rule, then every representation opened.
fn load(cfg: &Config, i: usize, url_path: &str, now_ms: u64) -> Result<Entry, Miss> {
    let mount = &cfg.mounts[i];
    let rest = under(url_path, &mount.prefix).unwrap_or("");
    let mut file_path = mount.root.clone();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let Some(name) = headers::decode_segment(seg) else {
            return Err(Miss::Status(StatusCode::BAD_REQUEST));
        };
        // Dotfiles (.git, .env, .htpasswd) are never served: 404, as if absent.
        if name.first() == Some(&b'.') {
            return Err(Miss::Status(StatusCode::NOT_FOUND));
        }
        file_path.push(OsStr::from_bytes(&name));
    }
    let wants_dir = rest.ends_with('/');
    let meta = std::fs::metadata(&file_path).map_err(|e| Miss::Status(io_status(&e)))?;
    if meta.is_dir() {
        if !wants_dir {
            return Err(redirect_to_dir(&mount.prefix, rest));
        }
        file_path.push("index.html");
    } else if wants_dir {
        return Err(Miss::Status(StatusCode::NOT_FOUND));
    }
    // Stamps first: if the file changes while it is opened, the next check reloads.
    let seen = probe(&file_path, cfg.follow_symlinks);
    let real = if cfg.follow_symlinks {
        file_path.clone()
    } else {
        // Canonical path inside the canonical root, or the file is reached through a
        // symlink that leaves the directory.
        match std::fs::canonicalize(&file_path) {
            Ok(p) if p.starts_with(&mount.root) => p,
            Ok(_) => return Err(Miss::Status(StatusCode::NOT_FOUND)),
            Err(e) => return Err(Miss::Status(io_status(&e))),
        }
    };
    let name = real.file_name().map_or(&b""[..], |n| n.as_bytes());
    let content_type = mime::content_type(name);
    let cache_control = cfg.cache_control_for(url_path).cloned();
    let mk = |file, meta, coding| rep(file, &meta, coding, content_type, cache_control.clone());
    let mut reps = Vec::with_capacity(3);
    match open_regular(&real) {
        Ok(Some((file, meta))) => reps.push(mk(file, meta, None).map_err(Miss::Status)?),
        Ok(None) => return Err(Miss::Status(StatusCode::NOT_FOUND)),
        Err(e) => return Err(Miss::Status(io_status(&e))),
    }
    for (k, coding) in [(1, Coding::Br), (2, Coding::Gzip)] {
        // Without --static-follow-symlinks a sibling may not itself be a symlink: `real`
        // is canonical and inside the root, so its directory is, and a plain file there
        // is too. (`seen` says whether it was one.)
        if seen[k].is_none() {
            continue;
        }
        if let Ok(Some((file, meta))) = open_regular(&sibling_path(&real, coding))
            && let Ok(r) = mk(file, meta, Some(coding))
        {
            reps.push(r);
        }
    }
    Ok(Entry {
        checked_ms: AtomicU64::new(now_ms),
        path: file_path,
        seen,
        reps,
    })
}

/// Opens `path` if it is a regular file (never a FIFO or device, which could block or
/// never end); the metadata comes from the open descriptor, so the validators describe
/// exactly what is read.
///
/// These are plain blocking calls on purpose: on a local file system they are served from
/// the dentry and page caches in microseconds, while a trip through tokio's blocking pool
/// per call cost more than the whole response (measured: ~5k req/s for a 4 KB file).
fn open_regular(path: &Path) -> io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    let pre = std::fs::metadata(path)?;
    if !pre.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    Ok(meta.is_file().then_some((file, meta)))
}

/// One representation with its header lines prebuilt.
fn rep(
    file: std::fs::File,
    meta: &std::fs::Metadata,
    coding: Option<Coding>,
    content_type: &'static str,
    cache_control: Option<HeaderValue>,
) -> Result<Rep, StatusCode> {
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
    let last_modified = httpdate::fmt_http_date(modified);
    let data = if len <= MEM_MAX {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, 0).map_err(|e| io_status(&e))?;
        Data::Mem(Bytes::from(buf))
    } else {
        Data::File(file)
    };
    fn line(block: &mut Vec<u8>, name: &str, value: &[u8]) {
        block.extend_from_slice(name.as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value);
        block.extend_from_slice(b"\r\n");
    }
    let mut block = Vec::with_capacity(256);
    line(&mut block, "etag", etag.as_bytes());
    line(&mut block, "last-modified", last_modified.as_bytes());
    if let Some(cc) = &cache_control {
        line(&mut block, "cache-control", cc.as_bytes());
    }
    // Whether or not a sibling exists for this file, the answer depends on the header.
    line(&mut block, "vary", b"Accept-Encoding");
    line(&mut block, "accept-ranges", b"bytes");
    let common_len = block.len();
    line(&mut block, "content-type", content_type.as_bytes());
    let mut tail = format!("content-length: {len}\r\n");
    if let Some(c) = coding {
        tail.push_str("content-encoding: ");
        tail.push_str(c.token());
        tail.push_str("\r\n");
    }
    Ok(Rep {
        coding,
        len,
        etag: HeaderValue::from_str(&etag).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
        last_modified: HeaderValue::from_str(&last_modified)
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
        modified,
        content_type,
        cache_control,
        data,
        block: block.into_boxed_slice(),
        common_len,
        tail_200: tail.into_bytes().into_boxed_slice(),
    })
}

/// `/dir` → `/dir/`, rebuilt from the checked segments (so `//evil.example` can never
/// become a scheme-relative Location). 301: only GET and HEAD get here. The query is
/// added by the caller.
fn redirect_to_dir(prefix: &str, rest: &str) -> Miss {
    let mut loc = String::from(prefix);
    for s in rest.split('/').filter(|s| !s.is_empty()) {
        loc.push('/');
        loc.push_str(s);
    }
    loc.push('/');
    match HeaderValue::from_str(&loc) {
        Ok(v) => Miss::Redirect(v),
        Err(_) => Miss::Status(StatusCode::BAD_REQUEST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "runicorn-cache-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn config(root: &Path) -> Config {
        Config {
            mounts: vec![super::super::Mount {
                prefix: "/s".into(),
                root: std::fs::canonicalize(root).unwrap(),
            }],
            cache_control: Vec::new(),
            follow_symlinks: false,
            sendfile: true,
            cache: Cache::new(),
        }
    }

    fn body(e: &Entry) -> Vec<u8> {
        match &e.reps[0].data {
            Data::Mem(b) => b.to_vec(),
            Data::File(_) => panic!("expected a small file"),
        }
    }

    #[test]
    fn hits_share_an_entry_and_changes_are_seen_after_the_window() {
        let d = scratch("window");
        std::fs::write(d.join("a.txt"), b"one").unwrap();
        let cfg = config(&d);
        let a = cfg.cache.get(&cfg, 0, "/s/a.txt").unwrap();
        let b = cfg.cache.get(&cfg, 0, "/s/a.txt").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "a hit reuses the entry");
        assert_eq!(body(&a), b"one");
        // Replaced by rename: a new inode.
        std::fs::write(d.join("a.tmp"), b"second").unwrap();
        std::fs::rename(d.join("a.tmp"), d.join("a.txt")).unwrap();
        std::thread::sleep(FRESH + Duration::from_millis(50));
        let c = cfg.cache.get(&cfg, 0, "/s/a.txt").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(body(&c), b"second");
        assert_ne!(a.reps[0].etag, c.reps[0].etag);
        // A sibling appearing is noticed too.
        std::fs::write(d.join("a.txt.gz"), b"gz").unwrap();
        std::thread::sleep(FRESH + Duration::from_millis(50));
        let g = cfg.cache.get(&cfg, 0, "/s/a.txt").unwrap();
        assert_eq!(g.reps.len(), 2);
        assert_eq!(g.reps[1].coding, Some(Coding::Gzip));
        // Deleted: no entry, 404.
        std::fs::remove_file(d.join("a.txt")).unwrap();
        std::thread::sleep(FRESH + Duration::from_millis(50));
        assert!(matches!(
            cfg.cache.get(&cfg, 0, "/s/a.txt"),
            Err(Miss::Status(StatusCode::NOT_FOUND))
        ));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_cache_is_bounded_and_large_files_keep_a_descriptor() {
        let d = scratch("bound");
        std::fs::write(d.join("big.bin"), vec![7u8; MEM_MAX as usize + 1]).unwrap();
        let cfg = config(&d);
        let big = cfg.cache.get(&cfg, 0, "/s/big.bin").unwrap();
        assert!(matches!(big.reps[0].data, Data::File(_)));
        assert_eq!(big.reps[0].len, MEM_MAX + 1);
        for i in 0..MAX_ENTRIES + 10 {
            std::fs::write(d.join(format!("f{i}")), b"x").unwrap();
            assert!(cfg.cache.get(&cfg, 0, &format!("/s/f{i}")).is_ok());
        }
        assert!(cfg.cache.len() <= MAX_ENTRIES);
        let _ = std::fs::remove_dir_all(&d);
    }
}
