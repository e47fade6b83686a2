//! [`Record`]: the per-request facts a line is rendered from, borrowed from what the server
//! already holds. Also the derivations Gunicorn makes from them (path/query split of the raw
//! target, Basic-auth user), done lazily at render time so unused atoms cost nothing.
//!
//! Headers reach a [`Record`] as [`Headers`]: either a whole `HeaderMap` (tests, tools) or a
//! [`Captured`] set, which is what the server keeps per request. Capturing copies only the
//! values the format reads into an inline array (a `HeaderValue` clone bumps a refcount),
//! so the default format costs no allocation per request.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Version};

/// Everything the access log may need about one request. Only what [`super::Needs`] asks for
/// has to be filled in; the rest can stay at its default and renders `-`.
///
/// Lines for requests the server rejected before the app ran (400/408/413/414/431) are built
/// from the same type with only what was parsed: `method`, `target` and `version` are
/// `None` when the request line was not read, `request_headers` is `None` when the headers
/// were not.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// The TCP peer; `None` for a unix-socket peer (`h` renders empty, as in Gunicorn).
    pub peer: Option<SocketAddr>,
    /// The request method as received.
    pub method: Option<&'a str>,
    /// The request-target exactly as received (origin-form, absolute-form, `*`), not decoded.
    pub target: Option<&'a str>,
    /// The protocol version of the request.
    pub version: Option<Version>,
    /// Request headers (or just the ones [`super::Needs::capture_request_headers`] kept).
    pub request_headers: Option<Headers<'a>>,
    /// The status code sent.
    pub status: u16,
    /// Response headers as the app set them (hop-by-hop ones are filtered at render time).
    pub response_headers: Option<Headers<'a>>,
    /// Body bytes written (0 for HEAD/204/304); `None` if unknown, which renders `b` and `B` as `-`.
    pub body_bytes: Option<u64>,
    /// From the request head being parsed to the last body byte written.
    pub duration: Duration,
    /// `http` or `https` (`{wsgi.url_scheme}e`).
    pub url_scheme: &'a str,
    /// `{server_name}e`: the listener's host (or the Host header's, for unix sockets).
    pub server_name: &'a str,
    /// `{server_port}e`: as a string, because for unix sockets it may be empty.
    pub server_port: &'a str,
    /// `SCRIPT_NAME`, removed from the front of `U` (empty unless configured).
    pub script_name: &'a str,
}

impl Default for Record<'_> {
    fn default() -> Self {
        Record {
            peer: None,
            method: None,
            target: None,
            version: None,
            request_headers: None,
            status: 0,
            response_headers: None,
            body_bytes: None,
            duration: Duration::ZERO,
            url_scheme: "http",
            server_name: "",
            server_port: "",
            script_name: "",
        }
    }
}

/// Values kept inline by [`Captured`]; more spill into a `Vec` (only formats reading many
/// headers, or requests repeating them, get there). The default format reads three.
pub const CAPTURE_INLINE: usize = 8;

/// The header values a format reads, copied out of a request or response in order, each
/// tagged with its slot: the header's index in [`super::Needs::request_headers`] (or
/// `response_headers`), which the compiled format's fields refer to. Looking a value up is
/// a scan of a few integers instead of hashing a name.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    inline: [Option<(u32, HeaderValue)>; CAPTURE_INLINE],
    len: usize,
    spill: Vec<(u32, HeaderValue)>,
}

impl Captured {
    /// Copies every value of each of `names` out of `src`; slot `i` is `names[i]`.
    pub fn capture(names: &[HeaderName], src: &HeaderMap) -> Captured {
        let mut out = Captured::default();
        for (slot, name) in names.iter().enumerate() {
            // Slots are indices into a format's own header list, far below u32::MAX.
            let slot = slot as u32;
            for v in src.get_all(name) {
                if out.len < CAPTURE_INLINE {
                    out.inline[out.len] = Some((slot, v.clone()));
                    out.len += 1;
                } else {
                    out.spill.push((slot, v.clone()));
                }
            }
        }
        out
    }

    /// The values captured for `slot`, in the order the message carried them.
    pub fn values(&self, slot: u32) -> CapturedValues<'_> {
        CapturedValues {
            inline: self.inline[..self.len].iter(),
            spill: self.spill.iter(),
            slot,
        }
    }

    /// How many values were captured (all slots).
    pub fn len(&self) -> usize {
        self.len + self.spill.len()
    }

    /// Whether no value was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Iterator over one slot of a [`Captured`].
#[derive(Clone, Debug)]
pub struct CapturedValues<'a> {
    inline: std::slice::Iter<'a, Option<(u32, HeaderValue)>>,
    spill: std::slice::Iter<'a, (u32, HeaderValue)>,
    slot: u32,
}

impl<'a> Iterator for CapturedValues<'a> {
    type Item = &'a HeaderValue;

    fn next(&mut self) -> Option<&'a HeaderValue> {
        let slot = self.slot;
        for (s, v) in self.inline.by_ref().flatten() {
            if *s == slot {
                return Some(v);
            }
        }
        self.spill
            .by_ref()
            .find(|(s, _)| *s == slot)
            .map(|(_, v)| v)
    }
}

/// The headers a [`Record`] renders from.
#[derive(Clone, Copy, Debug)]
pub enum Headers<'a> {
    /// A whole map: looked up by name.
    Map(&'a HeaderMap),
    /// What [`super::Needs`] captured: looked up by the field's slot.
    Captured(&'a Captured),
}

impl<'a> From<&'a HeaderMap> for Headers<'a> {
    fn from(m: &'a HeaderMap) -> Self {
        Headers::Map(m)
    }
}

impl<'a> From<&'a Captured> for Headers<'a> {
    fn from(c: &'a Captured) -> Self {
        Headers::Captured(c)
    }
}

/// The values of one header in a [`Headers`], in message order.
pub(crate) enum Values<'a> {
    Map(http::header::ValueIter<'a, HeaderValue>),
    Captured(CapturedValues<'a>),
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Values::Map(it) => it.next(),
            Values::Captured(it) => it.next(),
        }
        .map(HeaderValue::as_bytes)
    }
}

impl<'a> Headers<'a> {
    /// All values of the header a field reads: `name` for maps, `slot` for captured sets.
    pub(crate) fn values(self, name: &HeaderName, slot: u32) -> Values<'a> {
        match self {
            Headers::Map(m) => Values::Map(m.get_all(name).iter()),
            Headers::Captured(c) => Values::Captured(c.values(slot)),
        }
    }

    /// The last value (Gunicorn's dict keeps the last header line of a name).
    pub(crate) fn last(self, name: &HeaderName, slot: u32) -> Option<&'a [u8]> {
        match self {
            Headers::Map(m) => m
                .get_all(name)
                .iter()
                .next_back()
                .map(HeaderValue::as_bytes),
            Headers::Captured(c) => c.values(slot).last().map(HeaderValue::as_bytes),
        }
    }
}

/// The parts of a request-target Gunicorn derives `PATH_INFO` and `QUERY_STRING` from
/// (Python's `urlsplit`, with Gunicorn's `//path` tweak). Both are still percent-encoded.
pub(crate) fn split_target(target: &str) -> (&str, &str) {
    // Fragments are cut from both path and query (clients should never send them).
    let no_frag = target.split_once('#').map_or(target, |(a, _)| a);
    let (before_q, query) = no_frag.split_once('?').unwrap_or((no_frag, ""));
    let path = if before_q.starts_with('/') {
        before_q
    } else if let Some(after) = scheme_rest(before_q) {
        // absolute-form: drop `//authority`.
        match after.strip_prefix("//") {
            Some(auth_path) => auth_path.find('/').map_or("", |i| &auth_path[i..]),
            None => after,
        }
    } else {
        before_q
    };
    (path, query)
}

/// `scheme:rest` per RFC 3986 (`urlsplit` only strips a scheme of letters, digits, `+-.`).
fn scheme_rest(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))).then_some(rest)
}

/// Appends the percent-decoded `s` (invalid escapes stay literal, as in `unquote_to_bytes`).
/// Decodes byte by byte into `out` via `push`, so no intermediate allocation.
pub(crate) fn percent_decode(s: &[u8], mut push: impl FnMut(u8)) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        push(s[i]);
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The user of an `Authorization: Basic` header as Gunicorn's `_get_user` finds it: the
/// value must start with `basic` (any case) and contain a space; the rest is decoded with
/// Python's lenient base64 (non-alphabet bytes skipped, stops at complete padding), cut at
/// the first `:` and must be UTF-8. Writes it into `out` (a fixed buffer, no allocation)
/// and returns its length; `None` means `-` (also for an empty user).
pub(crate) fn basic_user<'b>(value: &[u8], out: &'b mut [u8; 192]) -> Option<&'b [u8]> {
    if value.len() < 5 || !value[..5].eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let sp = value.iter().position(|&b| b == b' ')?;
    let b64 = &value[sp + 1..];
    let mut len = 0usize;
    // Set at the first `:`; later bytes are still decoded, because a padding error anywhere
    // makes Python raise and Gunicorn log `-`.
    let mut user_done = false;
    let (mut quad, mut acc, mut pads) = (0u8, 0u32, 0u8);
    let mut done = false;
    for &c in b64 {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    done = true;
                    break;
                }
            }
            continue;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = acc << 6 | u32::from(v);
        quad += 1;
        let byte = match quad {
            2 => Some((acc >> 4) as u8),
            3 => Some((acc >> 2) as u8),
            4 => {
                quad = 0;
                Some(acc as u8)
            }
            _ => None,
        };
        if let Some(b) = byte {
            if user_done {
                continue;
            }
            if b == b':' {
                user_done = true;
                continue;
            }
            if len == out.len() {
                return None; // absurdly long user: `-` rather than a truncated name
            }
            out[len] = b;
            len += 1;
        }
    }
    if !done && quad != 0 {
        return None; // "Incorrect padding": Python raises, Gunicorn logs `-`
    }
    finish(&mut out[..], len)
}

fn finish(out: &mut [u8], len: usize) -> Option<&[u8]> {
    let user = &out[..len];
    (!user.is_empty() && std::str::from_utf8(user).is_ok()).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_keeps_order_and_slots_and_spills() {
        let mut src = HeaderMap::new();
        for (k, v) in [("a", "1"), ("b", "x"), ("a", "2"), ("c", "no")] {
            src.append(k, HeaderValue::from_static(v));
        }
        let names = [
            HeaderName::from_static("b"),
            HeaderName::from_static("a"),
            HeaderName::from_static("z"),
        ];
        let c = Captured::capture(&names, &src);
        let got = |slot| {
            c.values(slot)
                .map(|v| v.to_str().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (got(0), got(1), got(2)),
            (vec!["x"], vec!["1", "2"], vec![])
        );
        let h = Headers::from(&c);
        assert_eq!(h.last(&names[1], 1), Some(&b"2"[..]));
        assert_eq!(h.values(&names[1], 1).count(), 2);
        assert_eq!(c.len(), 3);

        // Past the inline capacity values go to the spill list, still in order.
        let mut many = HeaderMap::new();
        for i in 0..CAPTURE_INLINE + 3 {
            many.append("x", HeaderValue::from(i));
        }
        many.append("y", HeaderValue::from_static("last"));
        let names = [HeaderName::from_static("x"), HeaderName::from_static("y")];
        let c = Captured::capture(&names, &many);
        let xs: Vec<String> = c
            .values(0)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            xs,
            (0..CAPTURE_INLINE + 3)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(Headers::from(&c).last(&names[1], 1), Some(&b"last"[..]));
    }

    #[test]
    fn target_split_matches_urlsplit() {
        assert_eq!(split_target("/a%20b/c?x=1&y=2"), ("/a%20b/c", "x=1&y=2"));
        assert_eq!(split_target("/"), ("/", ""));
        assert_eq!(split_target("/p?"), ("/p", ""));
        assert_eq!(split_target("/p#frag?x"), ("/p", ""));
        assert_eq!(split_target("//double/slash?q"), ("//double/slash", "q"));
        assert_eq!(split_target("http://host:8/x/y?z=1"), ("/x/y", "z=1"));
        assert_eq!(split_target("http://host"), ("", ""));
        assert_eq!(split_target("*"), ("*", ""));
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        let mut v = Vec::new();
        percent_decode(b"/a%20b%0A%zz%4", |b| v.push(b));
        assert_eq!(v, b"/a b\n%zz%4");
    }

    fn user(v: &str) -> Option<String> {
        let mut buf = [0u8; 192];
        basic_user(v.as_bytes(), &mut buf).map(|u| String::from_utf8(u.to_vec()).unwrap())
    }

    #[test]
    fn basic_auth_like_pythons_lenient_b64decode() {
        assert_eq!(user("Basic Ym9iOnNlY3JldA==").as_deref(), Some("bob")); // bob:secret
        assert_eq!(user("basic Ym9i").as_deref(), Some("bob"));
        assert_eq!(user("BASIC Y!m9i").as_deref(), Some("bob"));
        assert_eq!(user("Basic YWI=").as_deref(), Some("ab"));
        assert_eq!(user("Basic YWI"), None); // incorrect padding
        assert_eq!(user("Basic OnB3"), None); // ":pw" → empty user
        assert_eq!(user("Basic Ym9iOnNlY3JldA"), None); // padding error after the user
        assert_eq!(user("Bearer Ym9i"), None);
        assert_eq!(user("Basic"), None);
        assert_eq!(user("Basic /w=="), None); // 0xFF is not UTF-8
        assert_eq!(user("Basic w6k=").as_deref(), Some("é"));
    }
}
