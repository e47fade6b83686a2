//! The request head (request line + header section): Gunicorn 27's parsing
//! rules and limits, and the body framing they decide.
//!
//! [`parse_head`] is pure and re-entrant: call it on everything buffered so
//! far; it answers [`Status::Incomplete`] until the whole head is there, or
//! rejects as early as Gunicorn would (a request line that can no longer fit,
//! a bare LF, a header section past the buffer cap). Header lines are only
//! validated once the empty line ending the head has arrived, as Gunicorn
//! does, so the verdict never depends on how the bytes were split.

use std::borrow::Cow;
use std::ops::Range;

use super::error::{Reject, upper_latin1};

/// What to do with header names containing `_` (Gunicorn `header_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderMap {
    /// Silently remove the line (default): `X_Foo` can't shadow `X-Foo`.
    #[default]
    Drop,
    /// Answer 400 `Invalid HTTP header name`.
    Refuse,
    /// Keep it (the WSGI layer maps it like `-`).
    Dangerous,
}

impl std::fmt::Display for HeaderMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeaderMap::Drop => "drop",
            HeaderMap::Refuse => "refuse",
            HeaderMap::Dangerous => "dangerous",
        })
    }
}

/// Parsing rules; `Default` is Gunicorn 27.0.1's defaults. Limits are taken
/// as already clamped by the configuration layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Max request-line bytes without CRLF; 0 = unlimited (bounded by
    /// [`UNLIMITED_LINE_CAP`] so memory stays bounded).
    pub limit_request_line: usize,
    /// Max number of kept header lines.
    pub limit_request_fields: usize,
    /// Max bytes of one header line incl. name, `:`, value, CRLF and folds.
    pub limit_request_field_size: usize,
    pub permit_unconventional_http_method: bool,
    pub casefold_http_method: bool,
    pub permit_unconventional_http_version: bool,
    pub permit_obsolete_folding: bool,
    pub strip_header_spaces: bool,
    pub header_map: HeaderMap,
    /// Uppercase names (with `_`) a trusted peer may send, e.g. `SCRIPT_NAME`.
    pub forwarder_headers: Vec<String>,
    /// Whether the peer is in `forwarded_allow_ips`.
    pub peer_trusted: bool,
}

/// Cap for the request line when `limit_request_line = 0` ("unlimited"):
/// Gunicorn's C parser uses the same 1 MiB.
pub const UNLIMITED_LINE_CAP: usize = 1 << 20;

impl Default for Rules {
    fn default() -> Self {
        Rules {
            limit_request_line: 4094,
            limit_request_fields: 100,
            limit_request_field_size: 8190,
            permit_unconventional_http_method: false,
            casefold_http_method: false,
            permit_unconventional_http_version: false,
            permit_obsolete_folding: false,
            strip_header_spaces: false,
            header_map: HeaderMap::Drop,
            forwarder_headers: vec!["SCRIPT_NAME".into(), "PATH_INFO".into()],
            peer_trusted: false,
        }
    }
}

impl Rules {
    /// Effective request-line limit.
    pub fn line_limit(&self) -> usize {
        if self.limit_request_line == 0 {
            UNLIMITED_LINE_CAP
        } else {
            self.limit_request_line
        }
    }

    /// Gunicorn's header buffer cap: fields × (field_size + 2) + 4 bytes.
    pub fn max_header_buffer(&self) -> usize {
        self.limit_request_fields
            .saturating_mul(self.limit_request_field_size.saturating_add(2))
            .saturating_add(4)
    }

    /// Hard bound on everything [`parse_head`] may need buffered.
    pub fn max_head_bytes(&self) -> usize {
        // Leading CRLF + line + slack + CRLF + header window + final CRLF,
        // rounded up: parse_head has always decided before this much.
        self.line_limit()
            .saturating_add(self.max_header_buffer())
            .saturating_add(16)
    }
}

/// How the message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (requests without CL/TE never read until close).
    NoBody,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: …, chunked`.
    Chunked,
}

/// `Connection` tokens that matter for persistence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

/// A byte-level rewrite the caller applies before hyper sees the head.
/// All edits keep positions stable except `Drop`, which removes a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Remove these bytes (a dropped header line with its CRLF and folds, or
    /// the tolerated leading empty line).
    Drop(Range<usize>),
    /// Overwrite one byte (method casefolding, obs-fold → SP, moving a colon
    /// left over stripped spaces, HTTP/1.x → HTTP/1.1 for hyper).
    Set { at: usize, byte: u8 },
}

/// A complete, validated request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// Bytes of the head in the input, from the first byte (including a
    /// tolerated leading CRLF) through the final empty line.
    pub len: usize,
    /// Method as received (casefolding, if enabled, is an [`Edit`]).
    pub method: &'a [u8],
    /// Raw request target.
    pub target: &'a [u8],
    /// `(major, minor)` from `HTTP/d.d`.
    pub version: (u8, u8),
    pub framing: Framing,
    pub connection: ConnectionTokens,
    /// An `Upgrade` header is present.
    pub upgrade: bool,
    /// `Expect: 100-continue` on HTTP/1.1+ (ignored for 1.0, as Gunicorn).
    pub expect_continue: bool,
    /// Number of header lines kept (dropped ones excluded).
    pub fields: usize,
    /// Byte edits, in ascending position order.
    pub edits: Vec<Edit>,
}

impl Head<'_> {
    /// Whether the connection may carry another request after this one
    /// (request side only; the response may still close it).
    pub fn keep_alive(&self) -> bool {
        if self.connection.close || self.method == b"CONNECT" {
            return false;
        }
        // Below 1.1 (incl. a permitted 0.x, handed to hyper as 1.0) only an explicit
        // keep-alive keeps the connection, as in Gunicorn and hyper.
        if self.version < (1, 1) {
            self.connection.keep_alive
        } else {
            true
        }
    }

    /// Whether the message asks to leave HTTP (CONNECT, or Upgrade with
    /// `Connection: upgrade`): after it, bytes are no longer HTTP/1 if the
    /// server agrees.
    pub fn wants_upgrade(&self) -> bool {
        self.method == b"CONNECT" || (self.upgrade && self.connection.upgrade)
    }

    /// Byte ranges of header lines to remove (`_` names under
    /// `header_map=drop`, and a tolerated leading empty line).
    pub fn dropped(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.edits.iter().filter_map(|e| match e {
            Edit::Drop(r) => Some(r.clone()),
            Edit::Set { .. } => None,
        })
    }

    /// The head bytes to hand to hyper: `buf[..len]` with the edits applied.
    /// Borrowed when there is nothing to change (the common case).
    pub fn rewrite<'b>(&self, buf: &'b [u8]) -> Cow<'b, [u8]> {
        apply_edits(buf.get(..self.len).unwrap_or(buf), &self.edits)
    }
}

/// `section` with `edits` (positions relative to its start, ascending) applied: what
/// hyper is given for a head or a trailer section.
pub(crate) fn apply_edits<'b>(section: &'b [u8], edits: &[Edit]) -> Cow<'b, [u8]> {
    let head = section;
    if edits.is_empty() {
        return Cow::Borrowed(head);
    }
    let mut out = Vec::with_capacity(head.len());
    let mut pos = 0usize;
    let mut sets: Vec<(usize, u8)> = Vec::new();
    for e in edits {
        match e {
            Edit::Drop(r) => {
                if let Some(chunk) = head.get(pos..r.start) {
                    out.extend_from_slice(chunk);
                }
                pos = pos.max(r.end);
            }
            Edit::Set { at, byte } => sets.push((*at, *byte)),
        }
    }
    if let Some(chunk) = head.get(pos..) {
        out.extend_from_slice(chunk);
    }
    if sets.is_empty() {
        return Cow::Owned(out);
    }
    // Sets address original positions: translate through the drops.
    for (at, byte) in sets {
        let removed: usize = edits
            .iter()
            .filter_map(|e| match e {
                Edit::Drop(r) if r.end <= at => Some(r.len()),
                _ => None,
            })
            .sum();
        if let Some(slot) = at.checked_sub(removed).and_then(|i| out.get_mut(i)) {
            *slot = byte;
        }
    }
    Cow::Owned(out)
}

/// Result of [`parse_head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<'a> {
    /// More bytes are needed; nothing is wrong so far.
    Incomplete,
    Complete(Head<'a>),
}

/// RFC 9110 `tchar`, as a table: this runs for every byte of every name.
pub(crate) const fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(i as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
            | b'`' | b'|' | b'~' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z');
        i += 1;
    }
    t
};

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A field value byte Gunicorn refuses: CTLs except HTAB, and DEL.
pub(crate) const fn is_bad_value_byte(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0a..=0x1f | 0x7f)
}

/// A Content-Length value as RFC 9110 §8.6 has it (`1*DIGIT`, optional whitespace
/// around), within u64; `None` for anything else (a sign, hex, a list, nothing). What an
/// app may put in its response: hyper copies the header to the wire as given.
pub fn content_length_value(v: &[u8]) -> Option<u64> {
    let v = trim_ows(v);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A field line at `pos` of `section` that is a token, a colon and a value without a
/// refused byte, ended by CRLF (nearly every line a client sends): where it ends (after
/// the LF) and where its colon is, found in one pass. `None` for any other line, which
/// [`parse_fields`] then takes apart the general way (two searches, then a scan of each
/// half), reaching the same verdict on a clean line: this is only the shorter way there.
fn clean_line(section: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rest = section.get(pos..)?;
    let colon = rest.iter().position(|&b| !is_tchar(b))?;
    if colon == 0 || rest.get(colon) != Some(&b':') {
        return None;
    }
    let value = rest.get(colon + 1..)?;
    let cr = value.iter().position(|&b| is_bad_value_byte(b))?;
    if value.get(cr..cr + 2) != Some(b"\r\n") {
        return None;
    }
    Some((pos + colon + 1 + cr + 2, colon))
}

fn find(hay: &[u8], from: usize, needle: u8) -> Option<usize> {
    memchr::memchr(needle, hay.get(from..)?).map(|i| i + from)
}

/// Parse and validate a request head from the start of `buf`.
pub fn parse_head<'a>(buf: &'a [u8], rules: &Rules) -> Result<Status<'a>, Reject> {
    let mut edits = Vec::new();
    // One empty line before the request line is tolerated (RFC 9112 §2.2).
    let mut start = 0usize;
    match buf {
        [] | [b'\r'] => return Ok(Status::Incomplete),
        [b'\r', b'\n', ..] => {
            start = 2;
            edits.push(Edit::Drop(0..2));
        }
        _ => {}
    }
    let limit = rules.line_limit();
    // Every verdict below is a function of a prefix of `buf` whose length
    // doesn't depend on how much has arrived (windows), so feeding the same
    // bytes in any split gives the same answer.
    //
    // Request line: Gunicorn rejects once the buffered line can no longer
    // fit even if its CRLF arrived next (more than limit + 2 bytes). A CR
    // right before the LF (or last in the buffer) is not counted.
    let line_window = buf
        .get(..start.saturating_add(limit).saturating_add(4))
        .unwrap_or(buf);
    let lf = find(line_window, start, b'\n');
    let upto = lf.unwrap_or(line_window.len());
    let content = buf.get(start..upto).unwrap_or_default();
    let content_len = match content {
        [head @ .., b'\r'] => head.len(),
        _ => content.len(),
    };
    if content_len > limit.saturating_add(2) {
        // The size Gunicorn reports: the whole line if its end has arrived,
        // else everything buffered (so it varies with read sizes, as there).
        let reported = match find(buf, start, b'\n') {
            Some(end) => {
                let l = buf.get(start..end).unwrap_or_default();
                l.strip_suffix(b"\r").unwrap_or(l).len()
            }
            None => buf.len().saturating_sub(start),
        };
        return Err(Reject::line_too_large(reported, limit));
    }
    let Some(lf) = lf else {
        return Ok(Status::Incomplete);
    };
    // A lone LF (also `\r\n\n`) ends the request line: refused (27.0).
    if lf == start || buf.get(lf - 1) != Some(&b'\r') {
        return Err(Reject::request_line_bare_lf());
    }
    let line = buf.get(start..lf - 1).unwrap_or_default();
    if line.is_empty() {
        // A second empty line.
        return Err(Reject::request_line(b""));
    }
    if line.len() > limit {
        return Err(Reject::line_too_large(line.len(), limit));
    }
    let rl = parse_request_line(line, start, rules, &mut edits)?;

    // Header section: find its end first (validation happens only on a
    // complete head, as in Gunicorn), refusing bare LFs as soon as they show
    // up, within a window of Gunicorn's header buffer size.
    let hstart = lf + 1;
    let cap = rules.max_header_buffer();
    let window = buf
        .get(..hstart.saturating_add(cap).saturating_add(2))
        .unwrap_or(buf);
    let mut pos = hstart;
    let end = loop {
        match window.get(pos..) {
            None | Some([]) | Some([b'\r']) => break None,
            Some([b'\r', b'\n', ..]) => break Some(pos),
            Some([b'\n', ..]) => return Err(Reject::header_bare_lf()),
            Some(_) => {}
        }
        match find(window, pos, b'\n') {
            None => break None,
            Some(i) => {
                if window.get(i - 1) != Some(&b'\r') {
                    return Err(Reject::header_bare_lf());
                }
                pos = i + 1;
            }
        }
    };
    let Some(end) = end else {
        // No end within the window: once the window is full, the head can
        // never be acceptable.
        if buf.len() >= hstart.saturating_add(cap).saturating_add(2) {
            return Err(Reject::headers_limit("max buffer headers"));
        }
        return Ok(Status::Incomplete);
    };
    let section = buf.get(hstart..end).unwrap_or_default();
    let h = parse_fields(section, hstart, rules, FieldsKind::Headers, &mut edits)?;

    let version = rl.version;
    // Gunicorn checks Expect before the framing headers (live: `Expect: foo`
    // with `Transfer-Encoding: foo` is a 417, not a 501).
    let expect_continue = match h.expect.as_deref() {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"100-continue") => version >= (1, 1),
        Some(v) => return Err(Reject::expectation(v)),
    };
    let framing = framing(&h, version)?;
    Ok(Status::Complete(Head {
        len: end + 2,
        method: rl.method,
        target: rl.target,
        version,
        framing,
        connection: h.connection,
        upgrade: h.upgrade,
        expect_continue,
        fields: h.kept,
        edits,
    }))
}

struct RequestLine<'a> {
    method: &'a [u8],
    target: &'a [u8],
    version: (u8, u8),
}

fn parse_request_line<'a>(
    line: &'a [u8],
    off: usize,
    rules: &Rules,
    edits: &mut Vec<Edit>,
) -> Result<RequestLine<'a>, Reject> {
    // Split on single spaces into at most three parts; the third keeps any
    // further spaces so `HTTP/1.1 x` is reported as a bad version.
    let Some(sp1) = memchr::memchr(b' ', line) else {
        return Err(Reject::request_line(line));
    };
    let method = line.get(..sp1).unwrap_or_default();
    let rest = line.get(sp1 + 1..).unwrap_or_default();
    let Some(sp2) = memchr::memchr(b' ', rest) else {
        return Err(Reject::request_line(line));
    };
    let target = rest.get(..sp2).unwrap_or_default();
    let version = rest.get(sp2 + 1..).unwrap_or_default();

    if !is_token(method) {
        return Err(Reject::method(method));
    }
    let upper_ok = rules.casefold_http_method || !method.iter().any(u8::is_ascii_lowercase);
    if !rules.permit_unconventional_http_method
        && (!upper_ok || method.contains(&b'#') || !(3..=20).contains(&method.len()))
    {
        return Err(Reject::method(method));
    }
    if rules.casefold_http_method {
        for (i, &b) in method.iter().enumerate() {
            if b.is_ascii_lowercase() {
                edits.push(Edit::Set {
                    at: off + i,
                    byte: b.to_ascii_uppercase(),
                });
            }
        }
    }
    let folded_is = |want: &[u8]| {
        method.eq_ignore_ascii_case(want) && (rules.casefold_http_method || method == want)
    };

    // Target: visible ASCII only, then the form must fit the method.
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(Reject::request_line(line));
    }
    let form_ok = if folded_is(b"CONNECT") {
        true
    } else if target == b"*" {
        folded_is(b"OPTIONS")
    } else {
        target.first() == Some(&b'/') || target.windows(3).any(|w| w == b"://")
    };
    if !form_ok {
        return Err(Reject::request_line(line));
    }

    let (major, minor) = match version {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            ma @ b'0'..=b'9',
            b'.',
            mi @ b'0'..=b'9',
        ] => (ma - b'0', mi - b'0'),
        _ => return Err(Reject::version_token(version)),
    };
    if !rules.permit_unconventional_http_version && major != 1 {
        return Err(Reject::version_tuple(major, minor));
    }
    // hyper only speaks 1.0/1.1 and answers anything else with its own 400, so
    // other versions are handed over as the nearest one it speaks (Head keeps the
    // truth): HTTP/1.x (x ≥ 2) is 1.1-compatible by RFC 9112 §2.3; with
    // --permit-unconventional-http-version, 0.x goes as 1.0 and 2.x-9.x as 1.1.
    let minor_at = off + line.len() - 1;
    let major_at = minor_at - 2;
    let handed = match major {
        0 => (b'1', b'0'),
        1 if minor >= 2 => (b'1', b'1'),
        1 => (b'1', b'0' + minor),
        _ => (b'1', b'1'),
    };
    if handed.0 != b'0' + major {
        edits.push(Edit::Set {
            at: major_at,
            byte: handed.0,
        });
    }
    if handed.1 != b'0' + minor {
        edits.push(Edit::Set {
            at: minor_at,
            byte: handed.1,
        });
    }
    Ok(RequestLine {
        method,
        target,
        version: (major, minor),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldsKind {
    Headers,
    Trailers,
}

#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub(crate) kept: usize,
    host: bool,
    content_type: bool,
    content_length: Vec<Cow<'a, [u8]>>,
    transfer_encoding: Vec<Cow<'a, [u8]>>,
    expect: Option<Cow<'a, [u8]>>,
    pub(crate) connection: ConnectionTokens,
    upgrade: bool,
}

/// Field names the validator acts on, recognised without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Host,
    ContentType,
    ContentLength,
    TransferEncoding,
    Expect,
    Upgrade,
    Connection,
    Trailer,
    Authorization,
    Te,
    Other,
}

impl Known {
    fn of(name: &[u8]) -> Known {
        let is = |k: &[u8]| name.eq_ignore_ascii_case(k);
        // Dispatch on length first: one comparison for most names.
        match name.len() {
            2 if is(b"te") => Known::Te,
            4 if is(b"host") => Known::Host,
            6 if is(b"expect") => Known::Expect,
            7 if is(b"upgrade") => Known::Upgrade,
            7 if is(b"trailer") => Known::Trailer,
            10 if is(b"connection") => Known::Connection,
            12 if is(b"content-type") => Known::ContentType,
            13 if is(b"authorization") => Known::Authorization,
            14 if is(b"content-length") => Known::ContentLength,
            17 if is(b"transfer-encoding") => Known::TransferEncoding,
            _ => Known::Other,
        }
    }

    /// Trailer names Gunicorn refuses (they would change framing, routing or
    /// authentication after the fact).
    fn forbidden_in_trailers(self) -> bool {
        matches!(
            self,
            Known::Host
                | Known::ContentLength
                | Known::TransferEncoding
                | Known::Trailer
                | Known::Authorization
                | Known::Te
        )
    }
}

/// Validate a complete field section (without its final empty line).
/// `section` lines all end in CRLF (the caller already refused bare LFs).
/// `base` is the section's offset in the caller's buffer, for edits.
pub(crate) fn parse_fields<'a>(
    section: &'a [u8],
    base: usize,
    rules: &Rules,
    kind: FieldsKind,
    edits: &mut Vec<Edit>,
) -> Result<Fields<'a>, Reject> {
    let mut f = Fields::default();
    let mut pos = 0usize;
    while pos < section.len() {
        // A clean line is proven so in one pass; any other takes the general path.
        let clean = clean_line(section, pos);
        let line_end = match clean {
            Some((end, _)) => end,
            None => find(section, pos, b'\n').map_or(section.len(), |i| i + 1),
        };
        let line = section
            .get(pos..line_end.saturating_sub(2))
            .unwrap_or_default();
        let line_start = pos;

        if f.kept >= rules.limit_request_fields {
            return Err(Reject::headers_limit("limit request headers fields"));
        }
        let Some(colon) = clean
            .map(|(_, colon)| colon)
            .or_else(|| memchr::memchr(b':', line))
        else {
            return Err(Reject::header(line));
        };
        let raw_name = line.get(..colon).unwrap_or_default();
        if raw_name.is_empty() {
            return Err(Reject::header(line));
        }
        let name_trimmed = {
            let mut n = raw_name;
            while let [rest @ .., b' ' | b'\t'] = n {
                n = rest;
            }
            n
        };
        let name = if name_trimmed.len() != raw_name.len() {
            if rules.strip_header_spaces && kind == FieldsKind::Headers && !name_trimmed.is_empty()
            {
                // `Name  :v` → `Name:  v` keeps every offset stable.
                let at = base + pos + name_trimmed.len();
                edits.push(Edit::Set { at, byte: b':' });
                edits.push(Edit::Set {
                    at: base + pos + colon,
                    byte: b' ',
                });
                name_trimmed
            } else {
                return Err(Reject::header_name(raw_name));
            }
        } else {
            raw_name
        };
        if clean.is_none() && !is_token(name) {
            return Err(Reject::header_name(raw_name));
        }
        // Uppercased names only exist in error messages: no per-field
        // allocation on the happy path.
        let upper = || upper_latin1(name);
        let known = Known::of(name);
        if kind == FieldsKind::Trailers && known.forbidden_in_trailers() {
            return Err(Reject::header_name(&upper()));
        }

        // Continuation lines (obs-fold) belong to this field.
        let mut end = line_end;
        let mut folds: Vec<Range<usize>> = Vec::new();
        while matches!(section.get(end), Some(b' ' | b'\t')) {
            if !rules.permit_obsolete_folding {
                return Err(Reject::obs_fold(&upper()));
            }
            let next = find(section, end, b'\n').map_or(section.len(), |i| i + 1);
            folds.push(end..next.saturating_sub(2));
            end = next;
        }

        let value = trim_ows(line.get(colon + 1..).unwrap_or_default());
        let bad = (clean.is_none() && value.iter().any(|&b| is_bad_value_byte(b)))
            || folds.iter().any(|r| {
                section
                    .get(r.clone())
                    .unwrap_or_default()
                    .iter()
                    .any(|&b| is_bad_value_byte(b))
            });
        if bad {
            return Err(Reject::header(&upper()));
        }
        if end - line_start > rules.limit_request_field_size {
            return Err(Reject::headers_limit("limit request headers fields size"));
        }
        // obs-fold accepted: each CRLF of the fold becomes SP for hyper
        // (RFC 9112 §5.2 lets a recipient replace obs-fold with SP).
        for r in &folds {
            let crlf = r.start - 2;
            edits.push(Edit::Set {
                at: base + crlf,
                byte: b' ',
            });
            edits.push(Edit::Set {
                at: base + crlf + 1,
                byte: b' ',
            });
        }
        pos = end;

        if name.contains(&b'_') && kind == FieldsKind::Headers {
            let forwarded = rules.peer_trusted
                && rules
                    .forwarder_headers
                    .iter()
                    .any(|h| h.as_bytes().eq_ignore_ascii_case(name));
            if !forwarded {
                match rules.header_map {
                    HeaderMap::Drop => {
                        // Remove the edits made for this line, then the line.
                        edits.retain(|e| match e {
                            Edit::Set { at, .. } => *at < base + line_start,
                            Edit::Drop(_) => true,
                        });
                        edits.push(Edit::Drop(base + line_start..base + end));
                        continue;
                    }
                    HeaderMap::Refuse => return Err(Reject::header_name(name)),
                    HeaderMap::Dangerous => {}
                }
            }
        }
        f.kept += 1;
        if kind == FieldsKind::Trailers {
            continue;
        }
        // Semantics. The value of a folded field is only needed for the
        // framing-relevant names, where folds are joined by commas below.
        let full_value: Cow<'a, [u8]> = if folds.is_empty() {
            Cow::Borrowed(value)
        } else {
            let mut v = value.to_vec();
            for r in &folds {
                let part = trim_ows(section.get(r.clone()).unwrap_or_default());
                if !part.is_empty() {
                    if !v.is_empty() {
                        v.push(b' ');
                    }
                    v.extend_from_slice(part);
                }
            }
            Cow::Owned(v)
        };
        match known {
            // Singletons (26.1): a second Host or Content-Type is refused.
            Known::Host if std::mem::replace(&mut f.host, true) => {
                return Err(Reject::header(b"HOST"));
            }
            Known::ContentType if std::mem::replace(&mut f.content_type, true) => {
                return Err(Reject::header(b"CONTENT-TYPE"));
            }
            Known::ContentLength => f.content_length.push(full_value),
            Known::TransferEncoding => f.transfer_encoding.push(full_value),
            Known::Expect => f.expect = Some(full_value),
            Known::Upgrade => f.upgrade = true,
            // hyper reads a Connection line only when it is all tab and
            // visible ASCII (`HeaderValue::to_str`) and ignores it otherwise;
            // reading it differently here would let the gate and hyper part
            // ways on whether the connection carries another request.
            Known::Connection
                if full_value
                    .iter()
                    .any(|&b| b != b'\t' && !(b' '..=b'~').contains(&b)) => {}
            Known::Connection => {
                for tok in full_value.split(|&b| b == b',') {
                    let t = trim_ows(tok);
                    if t.eq_ignore_ascii_case(b"close") {
                        f.connection.close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        f.connection.keep_alive = true;
                    } else if t.eq_ignore_ascii_case(b"upgrade") {
                        f.connection.upgrade = true;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

/// RFC 9112 §6.3 as Gunicorn applies it.
fn framing(f: &Fields<'_>, version: (u8, u8)) -> Result<Framing, Reject> {
    if !f.transfer_encoding.is_empty() {
        // Codings are taken in order across all TE fields, as Gunicorn does:
        // an unknown coding is a 501 naming the field it came in, unless a
        // second `chunked` or a coding after `chunked` was met first (400).
        let mut chunked = false;
        let mut last_chunked = false;
        for field in &f.transfer_encoding {
            for coding in field.split(|&b| b == b',') {
                let c = trim_ows(coding);
                if c.eq_ignore_ascii_case(b"chunked") {
                    if chunked {
                        return Err(Reject::header(b"TRANSFER-ENCODING"));
                    }
                    chunked = true;
                    last_chunked = true;
                } else if [&b"identity"[..], b"gzip", b"deflate", b"compress"]
                    .iter()
                    .any(|k| c.eq_ignore_ascii_case(k))
                {
                    if chunked {
                        return Err(Reject::header(b"TRANSFER-ENCODING"));
                    }
                    last_chunked = false;
                } else {
                    return Err(Reject::unsupported_coding(field));
                }
            }
        }
        if !last_chunked {
            return Err(Reject::header(b"TRANSFER-ENCODING"));
        }
        if version < (1, 1) {
            return Err(Reject::header(b"TRANSFER-ENCODING"));
        }
        if !f.content_length.is_empty() {
            return Err(Reject::header(b"CONTENT-LENGTH"));
        }
        return Ok(Framing::Chunked);
    }
    match f.content_length.as_slice() {
        [] => Ok(Framing::NoBody),
        // Beyond u64 is not a length anyone can send; Gunicorn would wait forever, we
        // refuse like any other bad Content-Length.
        [v] => content_length_value(v)
            .map(Framing::Length)
            .ok_or_else(|| Reject::header(b"CONTENT-LENGTH")),
        _ => Err(Reject::header(b"CONTENT-LENGTH")),
    }
}
