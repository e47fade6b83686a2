//! Body framing state machines: where a request body ends, byte-exactly.
//!
//! [`ChunkedDecoder`] walks a `Transfer-Encoding: chunked` body (RFC 9112
//! §7.1) with Gunicorn's rules: hex size without sign, size-line length
//! limit, `token [= token|quoted-string]` extensions with BWS, CRLF after
//! each chunk, last chunk, trailers checked with the header rules. It does
//! not copy data out: it only says how many input bytes belong to the
//! message, so a gate can forward them untouched and know exactly where the
//! next request starts. [`LengthDecoder`] does the same for Content-Length.

use super::error::Reject;
use super::head::{FieldsKind, Rules, apply_edits, is_tchar, parse_fields};

/// How far a decoder got through one `feed` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes that belong to this message's body (a prefix of the input).
    pub consumed: usize,
    /// The body ended within those bytes; the rest of the input (if any)
    /// starts the next message.
    pub done: bool,
}

/// Content-Length body tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthDecoder {
    remaining: u64,
}

impl LengthDecoder {
    pub fn new(len: u64) -> Self {
        LengthDecoder { remaining: len }
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn feed(&mut self, input: &[u8]) -> Progress {
        let take = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        self.remaining -= take as u64;
        Progress {
            consumed: take,
            done: self.remaining == 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Collecting a chunk-size line (bounded by the field size limit).
    SizeLine,
    /// Inside chunk data.
    Data(u64),
    /// Expecting the CRLF after chunk data; holds what arrived so far.
    DataEnd,
    /// After the last chunk: collecting the trailer section.
    Trailers,
    Done,
}

/// `Transfer-Encoding: chunked` framing validator.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Pending bytes of the current size line / CRLF / trailer section.
    line: Vec<u8>,
    line_limit: usize,
    trailer_cap: usize,
    rules: Rules,
    /// `--limit-request-body` (0: none) and the chunk data it still allows: a size line
    /// announcing more is refused before any of its data is passed on. Counted in data
    /// bytes, so the framing never counts against the limit.
    body_limit: u64,
    data_left: u64,
}

impl ChunkedDecoder {
    /// `rules` supplies the size-line limit (`limit_request_field_size`) and
    /// the header rules trailers are checked with.
    pub fn new(rules: &Rules) -> Self {
        ChunkedDecoder {
            state: State::SizeLine,
            line: Vec::new(),
            line_limit: rules.limit_request_field_size,
            trailer_cap: rules.max_header_buffer(),
            rules: rules.clone(),
            body_limit: 0,
            data_left: 0,
        }
    }

    /// Refuses (413) a body whose chunk data would exceed `limit` bytes; 0 allows any.
    pub fn with_body_limit(mut self, limit: u64) -> Self {
        self.body_limit = limit;
        self.data_left = limit;
        self
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feed body bytes. After an error or `done`, further calls consume nothing.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, Reject> {
        self.feed_into(input, None)
    }

    /// Like [`feed`](Self::feed), and append to `out` the bytes that are
    /// safe to forward: chunk data as it arrives, framing (size lines, the
    /// CRLF after data, the trailer section) only once validated. So a
    /// downstream parser never sees a malformed framing byte, and what it
    /// receives doesn't depend on how the input was split.
    pub fn feed_forward(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, Reject> {
        self.feed_into(input, Some(out))
    }

    fn feed_into(
        &mut self,
        input: &[u8],
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<Progress, Reject> {
        let mut emit = |bytes: &[u8]| {
            if let Some(o) = out.as_deref_mut() {
                o.extend_from_slice(bytes);
            }
        };
        let mut i = 0usize;
        while i < input.len() {
            match self.state {
                State::Done => {
                    return Ok(Progress {
                        consumed: i,
                        done: true,
                    });
                }
                State::Data(n) => {
                    let avail = input.len() - i;
                    let take = usize::try_from(n).map_or(avail, |n| n.min(avail));
                    emit(input.get(i..i + take).unwrap_or_default());
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => {
                    let Some(&b) = input.get(i) else { break };
                    self.line.push(b);
                    i += 1;
                    if self.line.len() == 2 {
                        if self.line != b"\r\n" {
                            return Err(Reject::chunk_terminator(&self.line));
                        }
                        emit(b"\r\n");
                        self.line.clear();
                        self.state = State::SizeLine;
                    }
                }
                State::SizeLine => {
                    let rest = input.get(i..).unwrap_or_default();
                    // Copy up to and including the next LF.
                    let (chunk, has_lf) = match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => (rest.get(..=p).unwrap_or_default(), true),
                        None => (rest, false),
                    };
                    self.line.extend_from_slice(chunk);
                    i += chunk.len();
                    // The size line ends at the first CRLF; a bare LF stays
                    // inside it (and makes it invalid), as in Gunicorn.
                    if has_lf && self.line.ends_with(b"\r\n") {
                        let line_len = self.line.len() - 2;
                        if line_len > self.line_limit {
                            return Err(Reject::chunk_line_too_long(self.line_limit));
                        }
                        let size = parse_size_line(self.line.get(..line_len).unwrap_or_default())?;
                        if self.body_limit > 0 {
                            if size > self.data_left {
                                return Err(Reject::body_too_large(self.body_limit));
                            }
                            self.data_left -= size;
                        }
                        emit(&self.line);
                        self.line.clear();
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::Data(size)
                        };
                    } else {
                        let pending = match self.line.as_slice() {
                            [head @ .., b'\r'] => head.len(),
                            l => l.len(),
                        };
                        if pending > self.line_limit {
                            return Err(Reject::chunk_line_too_long(self.line_limit));
                        }
                    }
                }
                State::Trailers => {
                    let rest = input.get(i..).unwrap_or_default();
                    let (chunk, has_lf) = match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => (rest.get(..=p).unwrap_or_default(), true),
                        None => (rest, false),
                    };
                    let line_start = {
                        // Start of the current (last, possibly partial) line.
                        let l = &self.line;
                        l.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
                    };
                    self.line.extend_from_slice(chunk);
                    i += chunk.len();
                    let cur = self.line.get(line_start..).unwrap_or_default();
                    // Checked per byte count, before the LF is looked at, so
                    // the verdict doesn't depend on read sizes.
                    if self.line.len() > self.trailer_cap {
                        return Err(Reject::headers_limit("limit request trailer section size"));
                    }
                    if has_lf {
                        if !cur.ends_with(b"\r\n") {
                            return Err(Reject::header_bare_lf());
                        }
                        if cur == b"\r\n" {
                            // End of the trailer section: validate it whole.
                            let section = self.line.get(..line_start).unwrap_or_default();
                            let mut edits = Vec::new();
                            parse_fields(
                                section,
                                0,
                                &self.rules,
                                FieldsKind::Trailers,
                                &mut edits,
                            )?;
                            // Trailers get the head's edits too (folds joined, dropped
                            // names removed): hyper refuses an obs-fold in trailers
                            // (found by the hyper_framing fuzz target).
                            emit(&apply_edits(section, &edits));
                            emit(b"\r\n");
                            self.line = Vec::new();
                            self.state = State::Done;
                            return Ok(Progress {
                                consumed: i,
                                done: true,
                            });
                        }
                    }
                }
            }
        }
        Ok(Progress {
            consumed: i,
            done: self.state == State::Done,
        })
    }
}

/// `chunk-size [ BWS chunk-ext ]` without the CRLF.
fn parse_size_line(line: &[u8]) -> Result<u64, Reject> {
    let (size, ext) = match line.iter().position(|&b| b == b';') {
        Some(p) => {
            let mut s = line.get(..p).unwrap_or_default();
            while let [rest @ .., b' ' | b'\t'] = s {
                s = rest;
            }
            (s, line.get(p..))
        }
        None => (line, None),
    };
    // Gunicorn's order: a CR in the extensions, then the size, then the
    // extension grammar.
    if ext.is_some_and(|e| e.contains(&b'\r')) {
        return Err(Reject::chunk_extension("bare CR not allowed"));
    }
    if size.is_empty() || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(Reject::chunk_size(size));
    }
    let mut n: u64 = 0;
    for &d in size {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d.wrapping_sub(b'A').wrapping_add(10),
        };
        // Sizes past u64 can't be sent; refuse rather than wrap.
        n = n
            .checked_mul(16)
            .and_then(|n| n.checked_add(u64::from(v)))
            .ok_or_else(|| Reject::chunk_size(size))?;
    }
    if ext.is_some_and(|e| !valid_extensions(e)) {
        return Err(Reject::chunk_extension("invalid chunk extension"));
    }
    Ok(n)
}

/// `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`, at least one, and
/// nothing (not even whitespace) after the last one.
fn valid_extensions(mut s: &[u8]) -> bool {
    fn ws(s: &[u8]) -> &[u8] {
        let mut s = s;
        while let [b' ' | b'\t', rest @ ..] = s {
            s = rest;
        }
        s
    }
    fn token(s: &[u8]) -> Option<&[u8]> {
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        if n == 0 { None } else { s.get(n..) }
    }
    fn quoted(s: &[u8]) -> Option<&[u8]> {
        let mut rest = s.strip_prefix(b"\"")?;
        loop {
            match rest {
                [b'"', tail @ ..] => return Some(tail),
                [b'\\', q, tail @ ..]
                    if *q == b'\t' || *q == b' ' || (0x21..=0x7e).contains(q) || *q >= 0x80 =>
                {
                    rest = tail;
                }
                [c, tail @ ..]
                    if *c == b'\t'
                        || *c == b' '
                        || *c == 0x21
                        || (0x23..=0x5b).contains(c)
                        || (0x5d..=0x7e).contains(c)
                        || *c >= 0x80 =>
                {
                    rest = tail;
                }
                _ => return None,
            }
        }
    }
    loop {
        if s.is_empty() {
            return true;
        }
        let Some(rest) = ws(s).strip_prefix(b";") else {
            return false;
        };
        let Some(rest) = token(ws(rest)) else {
            return false;
        };
        let after = ws(rest);
        s = if let Some(v) = after.strip_prefix(b"=") {
            let v = ws(v);
            match token(v).or_else(|| quoted(v)) {
                Some(r) => r,
                None => return false,
            }
        } else {
            rest
        };
    }
}
