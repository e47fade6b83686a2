//! Request bodies for Python: the edge reads the whole body before the app runs (in
//! memory up to `--wsgi-body-buffer`, above it into an unlinked temporary file), and
//! `wsgi.input` is a file-like object implemented in Rust over that buffer.
//!
//! Buffering at the edge means a slow upload costs a tokio task, never a Python thread,
//! and reading `wsgi.input` never blocks on the network.

use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// A fully received request body.
pub enum Body {
    /// Small bodies.
    Mem(Bytes),
    /// Bodies over the threshold: an unlinked temporary file (freed when closed).
    File { file: File, len: u64 },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Mem(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// Why the body could not be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The client went away or sent a malformed body.
    Client(hyper::Error),
    /// The spill file could not be written.
    Io(std::io::Error),
}

/// Reads the whole body; keeps up to `threshold` bytes in memory, spills the rest (and
/// everything before it) to an unlinked file in `tmp_dir`.
pub(super) async fn collect(
    mut body: Incoming,
    threshold: usize,
    tmp_dir: &Path,
) -> Result<Body, ReadError> {
    let mut mem = BytesMut::new();
    let mut file: Option<(File, u64)> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Client)?;
        let Ok(data) = frame.into_data() else {
            continue;
        }; // trailers are ignored
        match &mut file {
            Some((f, len)) => {
                // Page-cache writes: short enough not to need a blocking thread.
                f.write_all(&data).map_err(ReadError::Io)?;
                *len += data.len() as u64;
            }
            None if mem.len() + data.len() > threshold => {
                let mut f = spill_file(tmp_dir).map_err(ReadError::Io)?;
                f.write_all(&mem)
                    .and_then(|()| f.write_all(&data))
                    .map_err(ReadError::Io)?;
                file = Some((f, (mem.len() + data.len()) as u64));
                mem = BytesMut::new();
            }
            None => mem.extend_from_slice(&data),
        }
    }
    Ok(match file {
        Some((mut f, len)) => {
            f.rewind().map_err(ReadError::Io)?;
            Body::File { file: f, len }
        }
        None => Body::Mem(mem.freeze()),
    })
}

/// A new temporary file that is already unlinked, so it disappears with the request
/// even if the worker is killed.
fn spill_file(dir: &Path) -> std::io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = dir.join(format!(
            "runicorn-body-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&name)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&name);
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `wsgi.input`: `read`, `readline`, `readlines` and iteration over the buffered body.
#[pyclass(module = "runicorn")]
pub struct Input {
    body: Body,
    pos: u64,
}

impl Input {
    pub fn new(body: Body) -> Input {
        Input { body, pos: 0 }
    }

    fn remaining(&self) -> u64 {
        self.body.len().saturating_sub(self.pos)
    }

    /// Bytes `[pos, pos + n)` (n already clamped).
    fn slice(&self, n: u64) -> PyResult<std::borrow::Cow<'_, [u8]>> {
        match &self.body {
            Body::Mem(b) => Ok(std::borrow::Cow::Borrowed(
                &b[self.pos as usize..(self.pos + n) as usize],
            )),
            Body::File { file, .. } => {
                let mut buf = vec![0; n as usize];
                file.read_exact_at(&mut buf, self.pos)?;
                Ok(std::borrow::Cow::Owned(buf))
            }
        }
    }

    /// Length of the next line (through its `\n`), at most `limit`.
    fn line_len(&self, limit: u64) -> PyResult<u64> {
        let limit = limit.min(self.remaining());
        match &self.body {
            Body::Mem(b) => {
                let s = &b[self.pos as usize..(self.pos + limit) as usize];
                Ok(s.iter()
                    .position(|&c| c == b'\n')
                    .map_or(limit, |i| i as u64 + 1))
            }
            Body::File { file, .. } => {
                let mut buf = [0u8; 8192];
                let mut seen = 0u64;
                while seen < limit {
                    let want = (limit - seen).min(buf.len() as u64) as usize;
                    file.read_exact_at(&mut buf[..want], self.pos + seen)?;
                    if let Some(i) = buf[..want].iter().position(|&c| c == b'\n') {
                        return Ok(seen + i as u64 + 1);
                    }
                    seen += want as u64;
                }
                Ok(limit)
            }
        }
    }

    fn take<'py>(&mut self, py: Python<'py>, n: u64) -> PyResult<Bound<'py, PyBytes>> {
        let out = PyBytes::new(py, &self.slice(n)?);
        self.pos += n;
        Ok(out)
    }
}

/// `None` or a negative size means "no limit", as for Python file objects.
fn limit(size: Option<i64>) -> u64 {
    match size {
        Some(n) if n >= 0 => n as u64,
        _ => u64::MAX,
    }
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size=None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let n = limit(size).min(self.remaining());
        self.take(py, n)
    }

    #[pyo3(signature = (size=None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<i64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let n = self.line_len(limit(size))?;
        self.take(py, n)
    }

    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint.filter(|&h| h > 0));
        let lines = PyList::empty(py);
        let mut total = 0u64;
        while self.remaining() > 0 && total < hint {
            let n = self.line_len(u64::MAX)?;
            total += n;
            lines.append(self.take(py, n)?)?;
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.remaining() == 0 {
            return Ok(None);
        }
        let n = self.line_len(u64::MAX)?;
        self.take(py, n).map(Some)
    }

    fn readable(&self) -> bool {
        true
    }

    fn close(&self) {}
}
