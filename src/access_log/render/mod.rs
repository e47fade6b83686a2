//! Rendering a compiled [`Format`] for one [`Record`] into a caller-owned buffer: atom values,
//! escaping, and Python's `%` conversions (width, precision, flags, `r`, `d`, `x`, `f`, `g`…).
//!
//! Rendering never fails and, on the default format, never allocates: values are written
//! straight into the output `Vec` through an escaping [`Sink`], numbers through `itoa`, and
//! width/precision are applied in place afterwards.
//!
//! # Escaping (text mode)
//!
//! Gunicorn's `SafeAtoms` only turns `"` into `\"` in string atoms. Printable ASCII is kept
//! exactly that way here, so parsers of Gunicorn logs keep working. Unlike Gunicorn, every
//! other byte (controls, DEL, and all bytes ≥ 0x80) becomes `\xHH` (uppercase hex), so no
//! client can split or forge a line, not even through a percent-decoded `%0A` in `U`.
//! Consequences: non-ASCII text (which Gunicorn logs as latin-1 mojibake) shows as `\xC3\xA9`,
//! and since `\` itself is not escaped (for compatibility), a client-sent literal `\x0A`
//! reads the same as an escaped newline. Literal text from the format is never escaped.
//! Width and precision count bytes of the escaped value (Python counts characters of the
//! unescaped one; they differ only for values with non-printable bytes).
//!
//! `r` / `a` follow Python's `repr()`/`ascii()` of the `"`-escaped value (quotes chosen the
//! same way, `\\`, `\n`, `\t`, `\r`, `\xhh` lowercase); bytes ≥ 0x80 are `\xhh` for both.
//!
//! # JSON mode
//!
//! Strings are JSON strings (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, `\u00XX` for other
//! controls and DEL); bytes ≥ 0x80 are read as latin-1, as Gunicorn decodes headers, and
//! written `\u00XX`, so the output is always valid ASCII JSON. Integer atoms are numbers;
//! missing values are `null`; `t` is RFC 3339 local time.
//!
//! # Values that Python would choke on
//!
//! `B` is `None` in Gunicorn when the byte count is unknown (`%(B)s` → `None`, `%(B)d` →
//! `TypeError`): here it renders `-` under every conversion. Numeric conversions of string
//! atoms are compile errors (see [`super::format`]), so a compiled format always renders.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use http::{HeaderName, Version};

use super::atom::{Atom, EnvKey};
use super::format::{Field, Format, Lit};
use super::record::{Headers, Record, basic_user, percent_decode, split_target};

mod convert;
mod escape;

use convert::{plain_text, render_field};
use escape::Sink;
pub(crate) use escape::json_string;

/// Per-line context that does not come from the request: the cached clock and the pid.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// `[24/Nov/2026:21:15:52 +0000]` (text `t`).
    pub clf_time: &'a str,
    /// `2026-11-24T21:15:52+00:00` (JSON `t`).
    pub iso_time: &'a str,
    /// The worker's pid (`p` renders `<pid>`).
    pub pid: u32,
}

impl<'a> Context<'a> {
    /// A context from a clock stamp and a pid.
    pub fn new(stamp: &'a super::clock::Stamp, pid: u32) -> Self {
        Context {
            clf_time: &stamp.clf,
            iso_time: &stamp.iso,
            pid,
        }
    }
}

const SERVER_SOFTWARE: &str = concat!("runicorn/", env!("CARGO_PKG_VERSION"));

impl Format {
    /// Appends one rendered line to `out`, without the trailing newline.
    pub fn render(&self, rec: &Record<'_>, cx: &Context<'_>, out: &mut Vec<u8>) {
        for step in &self.steps {
            match &step.text {
                Lit::Short(bytes, len) => {
                    let end = out.len() + usize::from(*len);
                    out.extend_from_slice(bytes);
                    out.truncate(end);
                }
                Lit::Long(t) => out.extend_from_slice(t.as_bytes()),
            }
            match &step.field {
                Some(f) if f.plain => plain_text(f, rec, cx, out),
                Some(f) => render_field(f, self.mode, rec, cx, out),
                None => {}
            }
        }
    }

    /// Renders into a fresh `String` (tests and tools; the server uses [`Format::render`]).
    pub fn render_to_string(&self, rec: &Record<'_>, cx: &Context<'_>) -> String {
        let mut out = Vec::new();
        self.render(rec, cx, &mut out);
        // Text output is ASCII plus the format's own literals (UTF-8); JSON output is ASCII.
        String::from_utf8(out).expect("rendered lines are UTF-8")
    }
}

// ===== atom values =====

/// What [`emit`] produced.
enum Value {
    /// A string value, already written to the sink.
    Str,
    /// An absent string value: Gunicorn's `-`.
    Missing,
    /// An integer atom (nothing written yet).
    Int(u64),
    /// `B` with an unknown byte count (Python `None`).
    NoneInt,
}

fn last<'h>(headers: Option<Headers<'h>>, name: &HeaderName, slot: u32) -> Option<&'h [u8]> {
    headers?.last(name, slot)
}

/// All values of a request header, comma-joined, as the WSGI environ holds them.
fn joined<S: Sink>(headers: Option<Headers<'_>>, name: &HeaderName, slot: u32, o: &mut S) -> Value {
    let Some(h) = headers else {
        return Value::Missing;
    };
    let mut any = false;
    for v in h.values(name, slot) {
        if any {
            o.put(b",");
        }
        o.put(v);
        any = true;
    }
    if any { Value::Str } else { Value::Missing }
}

fn str_or_missing<S: Sink>(v: Option<&[u8]>, o: &mut S) -> Value {
    match v {
        Some(b) => {
            o.put(b);
            Value::Str
        }
        None => Value::Missing,
    }
}

fn itoa_put<S: Sink>(n: impl itoa::Integer, o: &mut S) {
    o.put_trusted(itoa::Buffer::new().format(n).as_bytes());
}

/// Statuses are three digits (hyper only sends 100–999): written without itoa's general path.
fn put_status<S: Sink>(status: u16, o: &mut S) {
    if (100..1000).contains(&status) {
        let d = |n: u16| b'0' + (n % 10) as u8;
        o.put_trusted(&[d(status / 100), d(status / 10), d(status)]);
    } else {
        itoa_put(status, o);
    }
}

/// `"0."` to `"255."`, zero-padded to 4 bytes, with their lengths.
static OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, d, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u, b'.'], 4)
        } else if i >= 10 {
            ([b'0' + d, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        i += 1;
    }
    t
};

fn put_ip<S: Sink>(ip: IpAddr, o: &mut S) {
    match ip {
        IpAddr::V4(v4) => {
            // Each octet is a table entry with its dot, written as one fixed 4-byte copy;
            // the last one's dot is cut off.
            let [a, b, c, d] = v4.octets();
            for x in [a, b, c] {
                let (s, n) = &OCTETS[usize::from(x)];
                o.put_trusted_padded(s, usize::from(*n));
            }
            let (s, n) = &OCTETS[usize::from(d)];
            o.put_trusted_padded(s, usize::from(*n) - 1);
        }
        IpAddr::V6(v6) => {
            // At most 45 bytes ("ffff:…:255.255.255.255"); a stack buffer avoids allocating.
            let mut buf = [0u8; 64];
            let mut cur = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cur, "{v6}");
            let n = cur.position() as usize;
            o.put_trusted(&buf[..n]);
        }
    }
}

fn version_str(v: Version) -> &'static [u8] {
    match v {
        Version::HTTP_09 => b"HTTP/0.9",
        Version::HTTP_10 => b"HTTP/1.0",
        Version::HTTP_11 => b"HTTP/1.1",
        Version::HTTP_2 => b"HTTP/2.0",
        Version::HTTP_3 => b"HTTP/3.0",
        _ => b"-",
    }
}

/// `PATH_INFO`: the target's path without `SCRIPT_NAME`, percent-decoded.
fn path_info<S: Sink>(rec: &Record<'_>, o: &mut S) -> Value {
    let Some(target) = rec.target else {
        return Value::Missing;
    };
    let (path, _) = split_target(target);
    let path = path.strip_prefix(rec.script_name).unwrap_or(path);
    // Decode in runs so the sink sees slices, not single bytes, in the common no-`%` case.
    let bytes = path.as_bytes();
    if !bytes.contains(&b'%') {
        o.put(bytes);
    } else {
        percent_decode(bytes, |b| o.put(&[b]));
    }
    Value::Str
}

fn user<S: Sink>(rec: &Record<'_>, slot: u32, o: &mut S) -> Value {
    let Some(h) = rec.request_headers else {
        return Value::Missing;
    };
    let name = &http::header::AUTHORIZATION;
    let mut values = h.values(name, slot);
    let Some(first) = values.next() else {
        return Value::Missing;
    };
    let mut buf = [0u8; 192];
    let found = match values.next() {
        None => basic_user(first, &mut buf),
        Some(_) => {
            // Repeated Authorization: the environ value is comma-joined (rare, so allocate).
            let all: Vec<&[u8]> = h.values(name, slot).collect();
            basic_user(&all.join(&b","[..]), &mut buf)
        }
    };
    str_or_missing(found, o)
}

/// `timedelta.seconds` (whole days dropped, as Python does) and the microseconds.
fn secs_micros(rec: &Record<'_>) -> (u64, u64) {
    (
        rec.duration.as_secs() % 86_400,
        u64::from(rec.duration.subsec_micros()),
    )
}

fn remote_addr<S: Sink>(rec: &Record<'_>, o: &mut S) -> Value {
    if let Some(p) = rec.peer {
        put_ip(p.ip(), o);
    }
    Value::Str
}

fn request_line<S: Sink>(rec: &Record<'_>, o: &mut S) -> Value {
    o.put(rec.method.map_or(&b"-"[..], str::as_bytes));
    o.put_trusted(b" ");
    o.put(rec.target.map_or(&b"-"[..], str::as_bytes));
    o.put_trusted(b" ");
    let version = rec.version.map_or(&b"-"[..], version_str);
    // `HTTP/x.y` is 8 bytes: as an array the copy is a single store, not a `memcpy` call.
    match <&[u8; 8]>::try_from(version) {
        Ok(v) => o.put_trusted(v),
        Err(_) => o.put_trusted(version),
    }
    Value::Str
}

fn body_bytes_clf<S: Sink>(rec: &Record<'_>, o: &mut S) -> Value {
    match rec.body_bytes {
        Some(n) => {
            itoa_put(n, o);
            Value::Str
        }
        None => Value::Missing,
    }
}

/// The text-mode `t`: `[%d/%b/%Y:%H:%M:%S %z]` is always 28 bytes, copied as a fixed-size
/// array (inline moves instead of a `memcpy` call); any other length the general way.
fn put_clf_time(stamp: &str, out: &mut Vec<u8>) {
    match <&[u8; 28]>::try_from(stamp.as_bytes()) {
        Ok(a) => out.extend_from_slice(a),
        Err(_) => out.extend_from_slice(stamp.as_bytes()),
    }
}

fn emit<S: Sink>(f: &Field, rec: &Record<'_>, cx: &Context<'_>, json: bool, o: &mut S) -> Value {
    match &f.atom {
        Atom::RemoteAddr | Atom::Environ(EnvKey::RemoteAddr) => remote_addr(rec, o),
        Atom::Ident => {
            o.put_trusted(b"-");
            Value::Str
        }
        Atom::User => user(rec, f.slot, o),
        Atom::Time => {
            o.put_trusted(if json { cx.iso_time } else { cx.clf_time }.as_bytes());
            Value::Str
        }
        Atom::RequestLine => request_line(rec, o),
        Atom::Method | Atom::Environ(EnvKey::RequestMethod) => {
            str_or_missing(rec.method.map(str::as_bytes), o)
        }
        Atom::PathInfo | Atom::Environ(EnvKey::PathInfo) => path_info(rec, o),
        Atom::Query | Atom::Environ(EnvKey::QueryString) => {
            str_or_missing(rec.target.map(|t| split_target(t).1.as_bytes()), o)
        }
        Atom::Protocol | Atom::Environ(EnvKey::ServerProtocol) => {
            str_or_missing(rec.version.map(version_str), o)
        }
        Atom::Status => {
            put_status(rec.status, o);
            Value::Str
        }
        Atom::BodyBytes => rec.body_bytes.map_or(Value::NoneInt, Value::Int),
        Atom::BodyBytesClf => body_bytes_clf(rec, o),
        Atom::Referer => joined(rec.request_headers, &http::header::REFERER, f.slot, o),
        Atom::UserAgent => joined(rec.request_headers, &http::header::USER_AGENT, f.slot, o),
        Atom::Seconds => Value::Int(secs_micros(rec).0),
        Atom::Millis => {
            let (secs, micros) = secs_micros(rec);
            Value::Int(secs * 1000 + micros / 1000)
        }
        Atom::Micros => {
            let (secs, micros) = secs_micros(rec);
            Value::Int(secs * 1_000_000 + micros)
        }
        Atom::SecondsDecimal => {
            let (secs, micros) = secs_micros(rec);
            let mut buf = itoa::Buffer::new();
            o.put(buf.format(secs).as_bytes());
            o.put(b".");
            let frac = buf.format(micros + 1_000_000); // 1xxxxxx: zero-padded to 6 digits
            o.put(&frac.as_bytes()[1..]);
            Value::Str
        }
        Atom::Pid => {
            o.put(b"<");
            itoa_put(cx.pid, o);
            o.put(b">");
            Value::Str
        }
        Atom::RequestHeader(name) => str_or_missing(last(rec.request_headers, name, f.slot), o),
        Atom::ResponseHeader(name) => str_or_missing(last(rec.response_headers, name, f.slot), o),
        Atom::Environ(key) => emit_env(key, f.slot, rec, o),
        Atom::Missing => Value::Missing,
    }
}

fn emit_env<S: Sink>(key: &EnvKey, slot: u32, rec: &Record<'_>, o: &mut S) -> Value {
    let s = |v: &str, o: &mut S| {
        o.put(v.as_bytes());
        Value::Str
    };
    match key {
        EnvKey::RemotePort => match rec.peer {
            Some(SocketAddr::V4(a)) => {
                itoa_put(a.port(), o);
                Value::Str
            }
            Some(SocketAddr::V6(a)) => {
                itoa_put(a.port(), o);
                Value::Str
            }
            None => Value::Missing,
        },
        EnvKey::UrlScheme => s(rec.url_scheme, o),
        EnvKey::RawUri => str_or_missing(rec.target.map(str::as_bytes), o),
        EnvKey::ScriptName => s(rec.script_name, o),
        EnvKey::ServerName => s(rec.server_name, o),
        EnvKey::ServerPort => s(rec.server_port, o),
        EnvKey::ServerSoftware => s(SERVER_SOFTWARE, o),
        // Gunicorn assigns these per header line, so the last one wins.
        EnvKey::ContentType => str_or_missing(
            last(rec.request_headers, &http::header::CONTENT_TYPE, slot),
            o,
        ),
        EnvKey::ContentLength => str_or_missing(
            last(rec.request_headers, &http::header::CONTENT_LENGTH, slot),
            o,
        ),
        EnvKey::Http(name) => joined(rec.request_headers, name, slot, o),
        // Handled in `emit` together with their letter atoms.
        EnvKey::RemoteAddr
        | EnvKey::QueryString
        | EnvKey::PathInfo
        | EnvKey::RequestMethod
        | EnvKey::ServerProtocol => {
            unreachable!("routed by emit")
        }
    }
}

/// Renders `rec` as the server would: its header maps first reduced to what `f` captures.
#[cfg(test)]
pub(crate) fn render_captured(f: &Format, rec: &Record<'_>, cx: &Context<'_>) -> String {
    use super::record::Captured;
    let cap = |h: Option<Headers<'_>>, names: &[HeaderName]| match h {
        Some(Headers::Map(m)) => Some(Captured::capture(names, m)),
        Some(Headers::Captured(c)) => Some(c.clone()),
        None => None,
    };
    let req = cap(rec.request_headers, &f.needs().request_headers);
    let resp = cap(rec.response_headers, &f.needs().response_headers);
    let rec = Record {
        request_headers: req.as_ref().map(Headers::from),
        response_headers: resp.as_ref().map(Headers::from),
        ..rec.clone()
    };
    f.render_to_string(&rec, cx)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::HeaderMap;

    use super::escape::{Text, json_escape, word_needs_escape, word_needs_json_escape};
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        h
    }

    const CX: Context<'static> = Context {
        clf_time: "[24/Nov/2026:21:15:52 +0000]",
        iso_time: "2026-11-24T21:15:52+00:00",
        pid: 4242,
    };

    /// Renders from whole header maps, and checks that the server's path (capturing only
    /// what the format needs, looked up by slot) renders the same line.
    fn render(fmt: &str, rec: &Record<'_>) -> String {
        let f = Format::compile(fmt).unwrap_or_else(|e| panic!("{e}"));
        let line = f.render_to_string(rec, &CX);
        assert_eq!(
            render_captured(&f, rec, &CX),
            line,
            "captured headers, {fmt}"
        );
        line
    }

    fn base<'a>(req: &'a HeaderMap, resp: &'a HeaderMap) -> Record<'a> {
        Record {
            peer: Some("127.0.0.1:48930".parse().unwrap()),
            method: Some("GET"),
            target: Some("/a%20b/c?x=1&y=%22"),
            version: Some(Version::HTTP_11),
            request_headers: Some(req.into()),
            status: 200,
            response_headers: Some(resp.into()),
            body_bytes: Some(12),
            duration: Duration::from_micros(509),
            server_name: "127.0.0.1",
            server_port: "8000",
            ..Record::default()
        }
    }

    #[test]
    fn word_scan_agrees_with_the_byte_rule() {
        for b in 0..=255u8 {
            let dirty = !(0x20..0x7f).contains(&b) || b == b'"';
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = b;
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(w)),
                    dirty,
                    "byte {b:#x} at {pos}"
                );
                assert_eq!(
                    word_needs_json_escape(u64::from_le_bytes(w)),
                    dirty || b == b'\\',
                    "json {b:#x} at {pos}"
                );
            }
        }
        // Long values with the dirty byte past the first words still get escaped.
        let mut out = Vec::new();
        Text(&mut out).put(b"0123456789abcdef0123\"x\n");
        assert_eq!(out, b"0123456789abcdef0123\\\"x\\x0A");
        // Every length and dirty position (whole words, overlapping tail word, short values)
        // agrees with escaping byte by byte.
        let naive = |v: &[u8]| {
            let mut o = Vec::new();
            for &b in v {
                match b {
                    b'"' => o.extend_from_slice(b"\\\""),
                    0x20..0x7f => o.push(b),
                    _ => o.extend_from_slice(format!("\\x{b:02X}").as_bytes()),
                }
            }
            o
        };
        let naive_json = |v: &[u8]| {
            let mut o = Vec::new();
            for &b in v {
                match b {
                    b'"' => o.extend_from_slice(b"\\\""),
                    b'\\' => o.extend_from_slice(b"\\\\"),
                    b'\n' => o.extend_from_slice(b"\\n"),
                    0x20..0x7f => o.push(b),
                    _ => o.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                }
            }
            o
        };
        for len in 0..=25 {
            for dirty in [
                None,
                Some(b'"'),
                Some(b'\n'),
                Some(0x7f),
                Some(0xe9),
                Some(b'\\'),
            ] {
                for pos in 0..len.max(1) {
                    let mut v = vec![b'a'; len];
                    if let (Some(d), true) = (dirty, pos < len) {
                        v[pos] = d;
                    }
                    let mut got = Vec::new();
                    Text(&mut got).put(&v);
                    assert_eq!(got, naive(&v), "len {len} pos {pos} {dirty:?}");
                    let mut json = Vec::new();
                    json_escape(&v, &mut json);
                    assert_eq!(json, naive_json(&v), "json len {len} pos {pos} {dirty:?}");
                }
            }
        }
    }

    #[test]
    fn default_line() {
        let req = headers(&[("user-agent", "curl/7.88.1")]);
        let resp = HeaderMap::new();
        assert_eq!(
            render(Format::GUNICORN_DEFAULT, &base(&req, &resp)),
            r#"127.0.0.1 - - [24/Nov/2026:21:15:52 +0000] "GET /a%20b/c?x=1&y=%22 HTTP/1.1" 200 12 "-" "curl/7.88.1""#
        );
    }

    #[test]
    fn every_letter_atom() {
        let req = headers(&[
            ("authorization", "Basic Ym9iOnNlY3JldA=="),
            ("referer", "http://x/\"y"),
            ("user-agent", "UA \"quoted\" \\ back"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        let resp = headers(&[("content-type", "text/plain"), ("server", "x")]);
        let line = render(
            "%(h)s %(l)s %(u)s %(t)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s %(f)s %(a)s %(T)s %(M)s %(D)s %(L)s %(p)s %({x-forwarded-for}i)s %({Content-Type}o)s %({server}o)s %(zz)s",
            &base(&req, &resp),
        );
        assert_eq!(
            line,
            r#"127.0.0.1 - bob [24/Nov/2026:21:15:52 +0000] GET /a b/c x=1&y=%22 HTTP/1.1 200 12 12 http://x/\"y UA \"quoted\" \ back 0 0 509 0.000509 <4242> 1.2.3.4 text/plain - -"#
        );
    }

    #[test]
    fn timing_atoms_follow_timedelta() {
        let (req, resp) = (HeaderMap::new(), HeaderMap::new());
        let mut r = base(&req, &resp);
        r.duration = Duration::new(2, 345_678_999);
        assert_eq!(
            render("%(T)s %(M)s %(D)s %(L)s", &r),
            "2 2345 2345678 2.345678"
        );
        r.duration = Duration::from_secs(86_400 + 3);
        assert_eq!(render("%(T)s %(D)s", &r), "3 3000000"); // days dropped, as in Python
    }

    #[test]
    fn conversions_match_python() {
        let (req, resp) = (HeaderMap::new(), HeaderMap::new());
        let r = base(&req, &resp);
        let cases = [
            ("%(s)5s|", "  200|"),
            ("%(s)-5s|", "200  |"),
            ("%(s)05s|", "  200|"),
            ("%(m).2s", "GE"),
            ("%(T)05d", "00000"),
            ("%(D)x %(D)#X %(D)o %(D)#o", "1fd 0X1FD 775 0o775"),
            (
                "%(D)+d|%(D) d|%(D).5d|%(D)10.5d|%(D)-08d|",
                "+509| 509|00509|     00509|509     |",
            ),
            ("%(D)#08x", "0x0001fd"),
            (
                "%(D)f %(D)e %(D)g %(D).2e %(D)#g %(D)5.1g",
                "509.000000 5.090000e+02 509 5.09e+02 509.000 5e+02",
            ),
            (
                "%(D)010.3f %(D)+e %(D)E %(D)#.0f %(D).0e %(D)#.0e",
                "000509.000 +5.090000e+02 5.090000E+02 509. 5e+02 5.e+02",
            ),
            (
                "%(s)r %(D)r %(zz)r %(s)a %(D).2r %(s)6r|",
                "'200' 509 '-' '200' 50  '200'|",
            ),
            ("%(T)g %(T)e %(T)#x", "0 0.000000e+00 0x0"),
        ];
        for (fmt, want) in cases {
            assert_eq!(render(fmt, &r), want, "{fmt}");
        }
        let mut big = base(&req, &resp);
        big.body_bytes = Some(1_234_567);
        assert_eq!(
            render("%(B)g %(B).3g %(B)G", &big),
            "1.23457e+06 1.23e+06 1.23457E+06"
        );
        big.body_bytes = Some(10_000_000);
        assert_eq!(render("%(B)G %(B)#.0g", &big), "1E+07 1.e+07");
    }

    #[test]
    fn repr_quotes_like_python() {
        let req = headers(&[("x-a", "it's"), ("x-b", "a\"b'c"), ("x-c", "back\\slash")]);
        let resp = HeaderMap::new();
        let r = base(&req, &resp);
        assert_eq!(render("%({x-a}i)r", &r), r#""it's""#);
        // SafeAtoms makes it a\"b'c; repr of that: 'a\\"b\'c'
        assert_eq!(render("%({x-b}i)r", &r), r#"'a\\"b\'c'"#);
        assert_eq!(render("%({x-c}i)r", &r), r"'back\\slash'");
    }

    #[test]
    fn controls_and_high_bytes_are_escaped() {
        // Header values cannot carry controls other than tab (the parser rejects them), but
        // obs-text bytes ≥ 0x80 arrive; the decoded path can carry anything.
        let req = headers(&[("user-agent", "caf\u{e9} [31m"), ("x-tab", "a\tb")]);
        let resp = HeaderMap::new();
        let mut r = base(&req, &resp);
        r.target = Some("/a%0Ab%0d%22%E9%1b%7F?q=%0A");
        let line = render(r#"%(U)s|%(q)s|%(a)s|%({x-tab}i)s|"%(r)s""#, &r);
        assert_eq!(
            line,
            r#"/a\x0Ab\x0D\"\xE9\x1B\x7F|q=%0A|caf\xC3\xA9 [31m|a\x09b|"GET /a%0Ab%0d%22%E9%1b%7F?q=%0A HTTP/1.1""#
        );
        assert!(!line.contains('\n'));
        assert_eq!(render("%(U)r", &r), r#"'/a\nb\r\\"\xe9\x1b\x7f'"#);
    }

    #[test]
    fn unix_peer_query_and_missing() {
        let (req, resp) = (HeaderMap::new(), HeaderMap::new());
        let mut r = base(&req, &resp);
        r.peer = None;
        r.target = Some("/plain");
        assert_eq!(
            render("[%(h)s] [%(q)s] [%({remote_port}e)s] [%(u)s] [%(f)s]", &r),
            "[] [] [-] [-] [-]"
        );
        r.body_bytes = Some(0);
        assert_eq!(render("%(b)s %(B)s", &r), "0 0");
        r.body_bytes = None;
        assert_eq!(render("%(b)s %(B)s %(B)d %(B)r", &r), "- - - -");
    }

    #[test]
    fn header_lookups_last_wins_environ_joins() {
        let req = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("X-Forwarded-For", "2.2.2.2"),
            ("content-type", "a"),
            ("content-type", "b"),
        ]);
        let resp = headers(&[("set-cookie", "a=1"), ("set-cookie", "b=2")]);
        let r = base(&req, &resp);
        assert_eq!(
            render(
                "%({X-FORWARDED-FOR}i)s %({http_x_forwarded_for}e)s %({set-cookie}o)s %({content_type}e)s",
                &r
            ),
            "2.2.2.2 1.1.1.1,2.2.2.2 b=2 b"
        );
    }

    #[test]
    fn environ_atoms() {
        let (req, resp) = (headers(&[("host", "example.com")]), HeaderMap::new());
        let mut r = base(&req, &resp);
        r.script_name = "/a%20b";
        assert_eq!(
            render("%({remote_addr}e) %({remote_port}e)s %({wsgi.url_scheme}e)s %({raw_uri}e)s %({query_string}e)s %({path_info}e)s %({script_name}e)s %({request_method}e)s %({server_protocol}e)s %({server_name}e)s %({server_port}e)s %({http_host}e)s".replace("e) ", "e)s ").as_str(), &r),
            "127.0.0.1 48930 http /a%20b/c?x=1&y=%22 x=1&y=%22 /c /a%20b GET HTTP/1.1 127.0.0.1 8000 example.com"
        );
        r.peer = Some("[::1]:9".parse().unwrap());
        r.version = Some(Version::HTTP_2);
        assert_eq!(render("%(h)s %(H)s", &r), "::1 HTTP/2.0");
    }

    #[test]
    fn ipv4_octets_and_folded_ident() {
        let (req, resp) = (HeaderMap::new(), HeaderMap::new());
        let mut r = base(&req, &resp);
        // Every octet value, in every position, against the standard library's Display.
        for x in 0..=255u8 {
            let ip = std::net::Ipv4Addr::new(x, 255 - x, x / 3, x.wrapping_mul(7));
            r.peer = Some(SocketAddr::new(ip.into(), 1));
            assert_eq!(render("[%(h)s]", &r), format!("[{ip}]"));
            assert_eq!(render("%(h)r|%(h)-16s|", &r), format!("'{ip}'|{ip:<16}|"));
        }
        // A plain `%(l)s` is folded into the text around it; with a conversion it is not.
        assert_eq!(render("a%(l)sb %(l)3s|%(l)r", &r), "a-b   -|'-'");
    }

    #[test]
    fn rejected_request_line() {
        let rec = Record {
            peer: Some("10.0.0.1:5".parse().unwrap()),
            status: 408,
            body_bytes: Some(0),
            ..Record::default()
        };
        assert_eq!(
            render(
                &format!("{} %(U)s %(q)s %(m)s %(D)s", Format::GUNICORN_DEFAULT),
                &rec
            ),
            r#"10.0.0.1 - - [24/Nov/2026:21:15:52 +0000] "- - -" 408 0 "-" "-" - - - 0"#
        );
    }

    #[test]
    fn json_mode() {
        let req = headers(&[
            ("user-agent", "a\"b\\c\t\u{e9}"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        let resp = HeaderMap::new();
        let mut r = base(&req, &resp);
        r.target = Some("/x%0A%01?q");
        let f = Format::compile_json("h u t r s b B D L U a {x-forwarded-for}i {x-none}i").unwrap();
        let line = f.render_to_string(&r, &CX);
        assert_eq!(
            line,
            r#"{"h":"127.0.0.1","u":null,"t":"2026-11-24T21:15:52+00:00","r":"GET /x%0A%01?q HTTP/1.1","s":200,"b":12,"B":12,"D":509,"L":0.000509,"U":"/x\n\u0001","a":"a\"b\\c\t\u00c3\u00a9","{x-forwarded-for}i":"1.2.3.4","{x-none}i":null}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["a"], "a\"b\\c\t\u{c3}\u{a9}");
    }
}
