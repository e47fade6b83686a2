//! The request-header logic of static files, kept pure (no I/O) so it is unit-tested:
//! path segments, RFC 9110 preconditions (§13.2.2 order), byte ranges and the
//! `Accept-Encoding` choice.
//!
//! Every function reads request fields through [`Fields`], so the hyper path (an
//! `http::HeaderMap`) and the edge path (the raw head, parsed in place without
//! allocating) share one implementation of every rule.

use std::borrow::Cow;
use std::time::SystemTime;

use http::HeaderMap;
use http::header::{
    ACCEPT_ENCODING, HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, RANGE,
};

/// Request header fields, looked up by (lower-case) name, in arrival order.
pub(crate) trait Fields {
    /// The raw values of every line named `name`.
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]>;

    /// The first line named `name`, as text (see [`visible`]).
    fn first(&self, name: &HeaderName) -> Option<Result<&str, ()>> {
        self.values(name).next().map(|v| visible(v).ok_or(()))
    }
}

impl Fields for HeaderMap {
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(|v| v.as_bytes())
    }
}

/// A head parsed in place by `httparse` (the edge path).
impl Fields for [httparse::Header<'_>] {
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
        let name = name.as_str();
        self.iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// A value as text when it is visible ASCII (and tabs/spaces), the same test as
/// `HeaderValue::to_str`, so both paths read the same fields the same way.
pub(crate) fn visible(v: &[u8]) -> Option<&str> {
    if v.iter().all(|&b| b == b'\t' || (32..127).contains(&b)) {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

/// Percent-decodes one path segment. `None` for anything that could change which file
/// is meant after decoding: a malformed escape, or a decoded `/`, `\`, NUL, `.` or `..`.
pub(crate) fn decode_segment(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.iter().any(|&c| c == b'/' || c == b'\\' || c == 0) || out == b"." || out == b".." {
        return None;
    }
    Some(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What the preconditions decided before any body is chosen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the representation (possibly a range of it).
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The validators of the selected representation.
pub(crate) struct Validators<'a> {
    /// The strong entity tag, quotes included.
    pub etag: &'a str,
    /// Modification time truncated to whole seconds (what `Last-Modified` says).
    pub modified: SystemTime,
}

/// RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match, else
/// If-Modified-Since. Only GET and HEAD reach here, so a matching If-None-Match is a 304.
pub(crate) fn evaluate<H: Fields + ?Sized>(h: &H, v: &Validators<'_>) -> Precondition {
    if let Some(im) = header_str(h, IF_MATCH) {
        if !etag_list_matches(&im, v.etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = header_date(h, IF_UNMODIFIED_SINCE)
        && v.modified > date
    {
        return Precondition::Failed;
    }
    if let Some(inm) = header_str(h, IF_NONE_MATCH) {
        if etag_list_matches(&inm, v.etag, false) {
            return Precondition::NotModified;
        }
    } else if let Some(date) = header_date(h, IF_MODIFIED_SINCE)
        && v.modified <= date
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether a `Range` may be honoured: no `If-Range`, or one that still holds (a strong
/// tag equal to ours, or exactly our `Last-Modified`). Weak tags never hold (§13.1.5).
pub(crate) fn if_range_holds<H: Fields + ?Sized>(h: &H, v: &Validators<'_>) -> bool {
    let Some(value) = h.first(&IF_RANGE) else {
        return true;
    };
    let Ok(s) = value else { return false };
    let s = s.trim();
    if s.starts_with('"') {
        return s == v.etag;
    }
    if s.starts_with("W/") {
        return false;
    }
    httpdate::parse_http_date(s).is_ok_and(|d| d == v.modified)
}

/// Matches a comma-separated entity-tag list (or `*`) against our strong tag; weak
/// comparison (If-None-Match) ignores the `W/` prefix, strong comparison (If-Match)
/// never matches a weak tag.
fn etag_list_matches(list: &str, etag: &str, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    list.split(',')
        .map(str::trim)
        .any(|t| match t.strip_prefix("W/") {
            Some(weak) => !strong && weak == etag,
            None => t == etag,
        })
}

fn header_str<H: Fields + ?Sized>(h: &H, name: HeaderName) -> Option<Cow<'_, str>> {
    // Several lines of a list-valued field mean the same as one joined line. A
    // non-ASCII value matches no tag, which for If-Match is the safe (412) answer.
    let mut it = h.values(&name);
    let first = visible(it.next()?).unwrap_or("\u{0}");
    let mut joined = Cow::Borrowed(first);
    for more in it {
        let s = joined.to_mut();
        s.push(',');
        s.push_str(visible(more).unwrap_or("\u{0}"));
    }
    Some(joined)
}

/// A date header; an invalid date is ignored, as RFC 9110 requires.
fn header_date<H: Fields + ?Sized>(h: &H, name: HeaderName) -> Option<SystemTime> {
    h.first(&name)?
        .ok()
        .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
}

/// The answer to a `Range` header for a representation of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// No usable range (absent, not `bytes`, malformed, or several ranges): send it all.
    Full,
    /// One satisfiable range, `start..=end`.
    Part { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Parses a single byte range (RFC 9110 §14.1.2). Several ranges are answered with the
/// whole file (200): a multipart/byteranges body costs more than it saves for the
/// clients that ask (and RFC 9110 lets a server ignore `Range`).
pub(crate) fn range<H: Fields + ?Sized>(h: &H, len: u64) -> Ranged {
    let Some(Ok(v)) = h.first(&RANGE) else {
        return Ranged::Full;
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Absurdly long positions are valid syntax; saturating keeps them "past the end".
        Some(s.parse().unwrap_or(u64::MAX))
    };
    match (first, last) {
        ("", suffix) => match num(suffix) {
            None => Ranged::Full,
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if len == 0 => Ranged::Unsatisfiable,
            Some(n) => Ranged::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        (first, last) => {
            let Some(start) = num(first) else {
                return Ranged::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match num(last) {
                    Some(e) if e >= start => e,
                    _ => return Ranged::Full,
                }
            };
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
    }
}

/// A content coding we can serve from a precompressed sibling file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Br,
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The sibling file's suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Gzip => ".gz",
        }
    }
}

/// The codings the client accepts, best first, among those it prefers at least as much
/// as an explicitly listed identity: q-values respected, `q=0` refuses, `*` covers unnamed codings, and
/// brotli wins ties (smaller). No allocation: at most two codings.
pub(crate) fn accepted_codings<H: Fields + ?Sized>(h: &H) -> Codings {
    let mut br = None;
    let mut gzip = None;
    let mut identity = None;
    let mut star = None;
    for value in h.values(&ACCEPT_ENCODING) {
        let Some(value) = visible(value) else {
            continue;
        };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let mut q = 1.0f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    // A malformed q-value is treated as 0: never send a coding we were
                    // not clearly asked for.
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
            let slot = if name.eq_ignore_ascii_case("br") {
                &mut br
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if name.eq_ignore_ascii_case("identity") {
                &mut identity
            } else if name == "*" {
                &mut star
            } else {
                continue;
            };
            *slot = Some(q);
        }
    }
    // Only an explicit `identity;q=` competes: clients that list codings without it
    // (every browser) want them, whatever their relative q-values.
    let identity = identity.unwrap_or(0.0);
    let ok = |q: Option<f32>| q.filter(|&q| q > 0.0 && q >= identity);
    let mut out = Codings {
        list: [Coding::Br, Coding::Gzip],
        len: 0,
    };
    match (ok(br.or(star)), ok(gzip.or(star))) {
        // Brotli stays ahead of gzip at equal q.
        (Some(b), Some(g)) => {
            out.len = 2;
            if g > b {
                out.list = [Coding::Gzip, Coding::Br];
            }
        }
        (Some(_), None) => out.len = 1,
        (None, Some(_)) => {
            out.list = [Coding::Gzip, Coding::Br];
            out.len = 1;
        }
        (None, None) => {}
    }
    out
}

/// The accepted codings, best first (see [`accepted_codings`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Codings {
    list: [Coding; 2],
    len: usize,
}

impl Codings {
    pub(crate) fn as_slice(&self) -> &[Coding] {
        &self.list[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::Duration;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn segments() {
        assert_eq!(decode_segment("a%20b").as_deref(), Some(&b"a b"[..]));
        assert_eq!(decode_segment("%2e%2e"), None);
        assert_eq!(decode_segment(".."), None);
        assert_eq!(decode_segment("."), None);
        assert_eq!(decode_segment("a%2fb"), None);
        assert_eq!(decode_segment("a%5cb"), None);
        assert_eq!(decode_segment("a\\b"), None);
        assert_eq!(decode_segment("a%00"), None);
        assert_eq!(decode_segment("a%g0"), None);
        assert_eq!(decode_segment("a%2"), None);
        assert_eq!(decode_segment("...").as_deref(), Some(&b"..."[..]));
    }

    #[test]
    fn ranges() {
        let r = |v: &'static str, len| range(&headers(&[("range", v)]), len);
        assert_eq!(r("bytes=0-9", 100), Ranged::Part { start: 0, end: 9 });
        assert_eq!(r("bytes=90-", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(r("bytes=-10", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(r("bytes=-1000", 100), Ranged::Part { start: 0, end: 99 });
        assert_eq!(r("bytes=50-1000", 100), Ranged::Part { start: 50, end: 99 });
        assert_eq!(r("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(
            r("bytes=99999999999999999999999-", 100),
            Ranged::Unsatisfiable
        );
        assert_eq!(r("bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(r("bytes=9-1", 100), Ranged::Full);
        assert_eq!(r("items=0-1", 100), Ranged::Full);
        assert_eq!(r("bytes=a-b", 100), Ranged::Full);
        assert_eq!(range(&HeaderMap::new(), 100), Ranged::Full);
    }

    #[test]
    fn preconditions() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = Validators {
            etag: "\"abc\"",
            modified: t,
        };
        let e = |pairs: &[(&'static str, &'static str)]| evaluate(&headers(pairs), &v);
        let date = httpdate::fmt_http_date(t);
        let before = httpdate::fmt_http_date(t - Duration::from_secs(10));
        let date: &'static str = Box::leak(date.into_boxed_str());
        let before: &'static str = Box::leak(before.into_boxed_str());
        assert_eq!(e(&[]), Precondition::Proceed);
        assert_eq!(
            e(&[("if-none-match", "\"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(
            e(&[("if-none-match", "W/\"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(
            e(&[("if-none-match", "\"x\", \"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(e(&[("if-none-match", "*")]), Precondition::NotModified);
        assert_eq!(e(&[("if-none-match", "\"x\"")]), Precondition::Proceed);
        assert_eq!(e(&[("if-modified-since", date)]), Precondition::NotModified);
        assert_eq!(e(&[("if-modified-since", before)]), Precondition::Proceed);
        // If-None-Match takes precedence over If-Modified-Since.
        assert_eq!(
            e(&[("if-none-match", "\"x\""), ("if-modified-since", date)]),
            Precondition::Proceed
        );
        assert_eq!(e(&[("if-match", "\"abc\"")]), Precondition::Proceed);
        assert_eq!(e(&[("if-match", "W/\"abc\"")]), Precondition::Failed);
        assert_eq!(e(&[("if-match", "\"x\"")]), Precondition::Failed);
        assert_eq!(e(&[("if-unmodified-since", before)]), Precondition::Failed);
        assert_eq!(e(&[("if-unmodified-since", date)]), Precondition::Proceed);
        assert_eq!(
            e(&[("if-unmodified-since", "garbage")]),
            Precondition::Proceed
        );
        // If-Match takes precedence over If-Unmodified-Since.
        assert_eq!(
            e(&[("if-match", "\"abc\""), ("if-unmodified-since", before)]),
            Precondition::Proceed
        );
        let ir = |val: &'static str| if_range_holds(&headers(&[("if-range", val)]), &v);
        assert!(ir("\"abc\"") && ir(date));
        assert!(!ir("\"x\"") && !ir("W/\"abc\"") && !ir(before));
    }

    #[test]
    fn codings() {
        let a = |v: &'static str| {
            accepted_codings(&headers(&[("accept-encoding", v)]))
                .as_slice()
                .to_vec()
        };
        assert_eq!(a("gzip, deflate, br"), [Coding::Br, Coding::Gzip]);
        assert_eq!(a("gzip;q=1.0, br;q=0.5"), [Coding::Gzip, Coding::Br]);
        assert_eq!(a("br;q=0, gzip"), [Coding::Gzip]);
        assert_eq!(a("*"), [Coding::Br, Coding::Gzip]);
        assert_eq!(a("*;q=0.5, gzip;q=0"), [Coding::Br]);
        assert_eq!(a("identity"), []);
        assert_eq!(a("gzip;q=0.5, identity"), []);
        assert_eq!(a("gzip;q=abc"), []);
        assert_eq!(accepted_codings(&HeaderMap::new()).as_slice(), []);
    }

    /// The edge reads fields from the raw head, hyper's path from a `HeaderMap`: every
    /// rule must read them the same way (case, repeats, non-ASCII values).
    #[test]
    fn raw_fields_and_header_maps_agree() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = Validators {
            etag: "\"abc\"",
            modified: t,
        };
        let date = httpdate::fmt_http_date(t);
        let cases: Vec<Vec<(&str, String)>> = vec![
            vec![],
            vec![
                ("If-None-Match", "\"x\"".into()),
                ("if-none-match", "\"abc\"".into()),
            ],
            vec![("IF-MATCH", "\"nope\"".into())],
            vec![("If-Modified-Since", date.clone())],
            vec![("If-Unmodified-Since", "garbage".into())],
            vec![("Range", "bytes=5-".into()), ("If-Range", date.clone())],
            vec![
                ("range", "bytes=-3".into()),
                ("If-Range", "W/\"abc\"".into()),
            ],
            vec![
                ("Accept-Encoding", "gzip;q=0.9".into()),
                ("accept-encoding", "br;q=0.8".into()),
            ],
            vec![("Accept-Encoding", "gzip, \u{e9}".into())],
            vec![("If-None-Match", "\"abc\u{e9}\"".into())],
        ];
        for case in cases {
            let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
            let mut map = HeaderMap::new();
            for (k, val) in &case {
                raw.extend_from_slice(format!("{k}: {val}\r\n").as_bytes());
                map.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(val.as_bytes()).unwrap(),
                );
            }
            raw.extend_from_slice(b"\r\n");
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut fields);
            assert!(req.parse(&raw).unwrap().is_complete());
            let f: &[httparse::Header<'_>] = req.headers;
            assert_eq!(evaluate(f, &v), evaluate(&map, &v), "{case:?}");
            assert_eq!(if_range_holds(f, &v), if_range_holds(&map, &v), "{case:?}");
            assert_eq!(range(f, 100), range(&map, 100), "{case:?}");
            assert_eq!(
                accepted_codings(f).as_slice(),
                accepted_codings(&map).as_slice(),
                "{case:?}"
            );
        }
    }
}
