//! Rejections: every way the validator refuses a request, worded and framed
//! exactly as Gunicorn 27.0.1 answers it on the wire and in its error log.
//!
//! Gunicorn builds two texts from one exception: `str(exc)` goes to the
//! error log (`Invalid request from ip=<ip>: <str(exc)>`) and a body text,
//! sometimes wrapped with a prefix, goes into the HTML error page. Both are
//! kept here so the server can reproduce either byte for byte. Strings are
//! "latin-1 strings": each `char` stands for one request byte (0..=255), the
//! way Python decodes the head, so the wire form re-encodes them as latin-1.

use std::fmt::Write as _;

/// How the HTML body text is derived from the log message (Gunicorn's
/// `handle_error` words each exception class differently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStyle {
    /// Body text is the log message itself.
    Plain,
    /// `"<prefix> '<message>'"`.
    Prefixed(&'static str),
    /// `"'<message>'"` (PROXY v1 line errors).
    Quoted,
    /// A fixed body text unrelated to the log message.
    Fixed(&'static str),
}

/// A refused request: status line, Gunicorn's `str(exc)` and body wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Status code written on the wire.
    pub status: u16,
    /// Reason phrase written on the wire (Gunicorn keeps "Bad Request" for
    /// 501 and 500-config errors; that quirk is reproduced).
    pub reason: &'static str,
    /// `str(exc)`: what the error log prints after `ip=...: `.
    pub message: String,
    /// How the body text is built from `message`.
    pub body: BodyStyle,
}

/// Python's `repr()` of a str whose chars are latin-1 decoded bytes.
pub(crate) fn py_repr_str(bytes: &[u8]) -> String {
    let has_sq = bytes.contains(&b'\'');
    let has_dq = bytes.contains(&b'"');
    let q = if has_sq && !has_dq { '"' } else { '\'' };
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push(q);
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            // Python treats C0/C1 controls, DEL, NBSP and soft hyphen as
            // non-printable and hex-escapes them.
            0..=0x1f | 0x7f..=0xa0 | 0xad => {
                let _ = write!(s, "\\x{b:02x}");
            }
            _ if char::from(b) == q => {
                s.push('\\');
                s.push(q);
            }
            _ => s.push(char::from(b)),
        }
    }
    s.push(q);
    s
}

/// Python's `repr()` of a bytes object (`b'...'`).
pub(crate) fn py_repr_bytes(bytes: &[u8]) -> String {
    let has_sq = bytes.contains(&b'\'');
    let has_dq = bytes.contains(&b'"');
    let q = if has_sq && !has_dq { '"' } else { '\'' };
    let mut s = String::with_capacity(bytes.len() + 3);
    s.push('b');
    s.push(q);
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0..=0x1f | 0x7f..=0xff => {
                let _ = write!(s, "\\x{b:02x}");
            }
            _ if char::from(b) == q => {
                s.push('\\');
                s.push(q);
            }
            _ => s.push(char::from(b)),
        }
    }
    s.push(q);
    s
}

/// Uppercased latin-1 rendering of a header name (Gunicorn stores names
/// uppercased and reports them that way).
pub(crate) fn upper_latin1(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(u8::to_ascii_uppercase).collect()
}

const BAD: &str = "Bad Request";

impl Reject {
    fn new(status: u16, reason: &'static str, message: String, body: BodyStyle) -> Self {
        Reject {
            status,
            reason,
            message,
            body,
        }
    }

    /// `InvalidRequestLine`: 400 for a request line Gunicorn can't split or
    /// whose target is not acceptable. `line` is the raw line.
    pub fn request_line(line: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP request line: {}", py_repr_str(line)),
            BodyStyle::Prefixed("Invalid Request Line"),
        )
    }

    /// `InvalidRequestLine` raised for a bare LF ending the request line.
    pub fn request_line_bare_lf() -> Self {
        Self::request_line(b"bare LF as line terminator")
    }

    /// `InvalidRequestMethod`.
    pub fn method(m: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP method: {}", py_repr_str(m)),
            BodyStyle::Prefixed("Invalid Method"),
        )
    }

    /// `InvalidHTTPVersion` for a token that is not `HTTP/d.d`.
    pub fn version_token(v: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP Version: {}", py_repr_str(v)),
            BodyStyle::Prefixed("Invalid HTTP Version"),
        )
    }

    /// `InvalidHTTPVersion` for a well-formed but unsupported version,
    /// reported as a Python tuple `(major, minor)`.
    pub fn version_tuple(major: u8, minor: u8) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP Version: ({major}, {minor})"),
            BodyStyle::Prefixed("Invalid HTTP Version"),
        )
    }

    /// `LimitRequestLine` → 414.
    pub fn line_too_large(size: usize, limit: usize) -> Self {
        Self::new(
            414,
            "URI Too Long",
            format!("Request Line is too large ({size} > {limit})"),
            BodyStyle::Plain,
        )
    }

    /// `LimitRequestHeaders` → 431 with one of Gunicorn's fixed reasons.
    pub fn headers_limit(what: &'static str) -> Self {
        Self::new(
            431,
            "Request Header Fields Too Large",
            what.to_owned(),
            BodyStyle::Prefixed("Error parsing headers:"),
        )
    }

    /// `InvalidHeader`: `what` is the uppercased name or the raw line.
    pub fn header(what: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP Header: {}", py_repr_str(what)),
            BodyStyle::Plain,
        )
    }

    /// `InvalidHeader` raised for a bare LF in the header section.
    pub fn header_bare_lf() -> Self {
        Self::header(b"bare LF as line terminator")
    }

    /// `InvalidHeaderName`.
    pub fn header_name(name: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid HTTP header name: {}", py_repr_str(name)),
            BodyStyle::Plain,
        )
    }

    /// `ObsoleteFolding` (name uppercased by the caller).
    pub fn obs_fold(name: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!(
                "Obsolete line folding is unacceptable: {}",
                py_repr_str(name)
            ),
            BodyStyle::Plain,
        )
    }

    /// `UnsupportedTransferCoding`: 501 with Gunicorn's "Bad Request" reason.
    pub fn unsupported_coding(value: &[u8]) -> Self {
        Self::new(
            501,
            BAD,
            format!("Unsupported transfer coding: {}", py_repr_str(value)),
            BodyStyle::Plain,
        )
    }

    /// `ExpectationFailed` → 417.
    pub fn expectation(value: &[u8]) -> Self {
        Self::new(
            417,
            "Expectation Failed",
            format!("Unable to comply with expectation: {}", py_repr_str(value)),
            BodyStyle::Plain,
        )
    }

    /// `InvalidChunkSize` with the offending size line (bytes repr).
    pub fn chunk_size(line: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid chunk size: {}", py_repr_bytes(line)),
            BodyStyle::Plain,
        )
    }

    /// `InvalidChunkSize` for a size line longer than the limit.
    pub fn chunk_line_too_long(limit: usize) -> Self {
        let detail = format!("line over {limit} bytes with no terminator");
        Self::chunk_size(detail.as_bytes())
    }

    /// `ChunkMissingTerminator`: the two bytes found instead of CRLF.
    pub fn chunk_terminator(got: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!(
                "Invalid chunk terminator is not '\\r\\n': {}",
                py_repr_bytes(got)
            ),
            BodyStyle::Plain,
        )
    }

    /// `InvalidChunkExtension` with Gunicorn's fixed detail.
    pub fn chunk_extension(detail: &'static str) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid chunk extension: {detail}"),
            BodyStyle::Plain,
        )
    }

    /// `InvalidProxyLine` (v1): `detail` is what Gunicorn reprs.
    pub fn proxy_line(detail: &[u8]) -> Self {
        Self::new(
            400,
            BAD,
            format!("Invalid PROXY line: {}", py_repr_str(detail)),
            BodyStyle::Quoted,
        )
    }

    /// `InvalidProxyHeader` (v2): Gunicorn lets it escape as a 500 with an
    /// empty body (the message only appears in the logged traceback).
    pub fn proxy_header(detail: &str) -> Self {
        Self::new(
            500,
            "Internal Server Error",
            format!("Invalid PROXY header: {detail}"),
            BodyStyle::Fixed(""),
        )
    }

    /// `ForbiddenProxyRequest`: PROXY header from a peer not allowed to send it.
    pub fn forbidden_proxy(peer_ip: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "Proxy request from {} not allowed",
                py_repr_str(peer_ip.as_bytes())
            ),
            BodyStyle::Fixed("Request forbidden"),
        )
    }

    /// `--limit-request-body` exceeded (a runicorn limit; Gunicorn has none). 413.
    pub fn body_too_large(limit: u64) -> Self {
        Reject {
            status: 413,
            reason: "Request Entity Too Large",
            message: format!("Request body is too large (limit {limit} bytes)"),
            body: BodyStyle::Plain,
        }
    }

    /// A request body stalled or trickled past its deadline (runicorn's body timeouts). 408.
    pub fn body_timeout(what: &str) -> Self {
        Reject {
            status: 408,
            reason: "Request Timeout",
            message: format!("Request body {what}"),
            body: BodyStyle::Plain,
        }
    }

    /// `InvalidSchemeHeaders`: a trusted peer sent secure-scheme headers
    /// that contradict each other (checked by the WSGI layer).
    pub fn contradictory_scheme_headers() -> Self {
        Self::new(
            400,
            BAD,
            "Contradictory scheme headers".to_owned(),
            BodyStyle::Plain,
        )
    }

    /// `ConfigurationProblem`: the path is not under `SCRIPT_NAME`. Gunicorn
    /// answers 500 with the reason phrase "Bad Request" (quirk, verified).
    pub fn configuration_problem(path: &[u8], script_name: &[u8]) -> Self {
        Self::new(
            500,
            BAD,
            format!(
                "Configuration problem: Request path {} does not start with SCRIPT_NAME {}",
                py_repr_str(path),
                py_repr_str(script_name)
            ),
            BodyStyle::Plain,
        )
    }

    /// The body text before HTML escaping.
    pub fn body_text(&self) -> String {
        match &self.body {
            BodyStyle::Plain => self.message.clone(),
            BodyStyle::Prefixed(p) => format!("{p} '{}'", self.message),
            BodyStyle::Quoted => format!("'{}'", self.message),
            BodyStyle::Fixed(t) => (*t).to_owned(),
        }
    }

    /// The complete error response, byte for byte as Gunicorn writes it.
    /// The caller writes it and closes the connection.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(160 + self.message.len());
        body.extend_from_slice(b"<html>\n  <head>\n    <title>");
        body.extend_from_slice(self.reason.as_bytes());
        body.extend_from_slice(b"</title>\n  </head>\n  <body>\n    <h1><p>");
        body.extend_from_slice(self.reason.as_bytes());
        body.extend_from_slice(b"</p></h1>\n    ");
        html_escape_latin1(&self.body_text(), &mut body);
        body.extend_from_slice(b"\n  </body>\n</html>\n");

        let mut out = Vec::with_capacity(body.len() + 96);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(
            b"\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: ",
        );
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&body);
        out
    }

    /// The WARNING line Gunicorn's error log carries for this rejection
    /// (without the timestamp/pid/level prefix).
    pub fn log_line(&self, ip: &str) -> String {
        format!("Invalid request from ip={ip}: {}", self.message)
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.reason, self.message)
    }
}

impl std::error::Error for Reject {}

/// `html.escape(s, quote=True)`, then latin-1 encoding (chars above 0xFF
/// cannot occur in messages built from request bytes; they are written as
/// UTF-8 should a caller construct one).
fn html_escape_latin1(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\'' => out.extend_from_slice(b"&#x27;"),
            c if (c as u32) < 0x100 => out.push(c as u8),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bytes captured from live gunicorn 27.0.1 (sync worker, defaults).
    #[test]
    fn wire_version_tuple_matches_live() {
        let r = Reject::version_tuple(2, 0);
        assert_eq!(
            r.to_wire(),
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 182\r\n\r\n<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    Invalid HTTP Version &#x27;Invalid HTTP Version: (2, 0)&#x27;\n  </body>\n</html>\n".to_vec()
        );
        assert_eq!(
            r.log_line("127.0.0.1"),
            "Invalid request from ip=127.0.0.1: Invalid HTTP Version: (2, 0)"
        );
    }

    #[test]
    fn wire_forbidden_and_500_match_live() {
        let r = Reject::forbidden_proxy("127.0.0.1");
        assert_eq!(
            r.to_wire(),
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 134\r\n\r\n<html>\n  <head>\n    <title>Forbidden</title>\n  </head>\n  <body>\n    <h1><p>Forbidden</p></h1>\n    Request forbidden\n  </body>\n</html>\n".to_vec()
        );
        assert_eq!(
            r.log_line("127.0.0.1"),
            "Invalid request from ip=127.0.0.1: Proxy request from '127.0.0.1' not allowed"
        );
        let r = Reject::proxy_header("only TCP protocol is supported");
        assert_eq!(
            r.to_wire(),
            b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 141\r\n\r\n<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n  <body>\n    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n".to_vec()
        );
    }

    #[test]
    fn wire_header_name_matches_live() {
        let r = Reject::header_name(b"X_Y");
        assert_eq!(
            r.to_wire(),
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 162\r\n\r\n<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    Invalid HTTP header name: &#x27;X_Y&#x27;\n  </body>\n</html>\n".to_vec()
        );
    }

    #[test]
    fn bodies_match_live_wording() {
        let body = |r: &Reject| {
            let w = r.to_wire();
            let s: String = w.iter().map(|&b| char::from(b)).collect();
            let start = s.find("</h1>\n    ").unwrap() + 10;
            let end = s.find("\n  </body>").unwrap();
            s[start..end].to_owned()
        };
        assert_eq!(
            body(&Reject::request_line(b"")),
            "Invalid Request Line &#x27;Invalid HTTP request line: &#x27;&#x27;&#x27;"
        );
        assert_eq!(
            body(&Reject::request_line(b"GET /\x7f HTTP/1.1")),
            "Invalid Request Line &#x27;Invalid HTTP request line: &#x27;GET /\\x7f HTTP/1.1&#x27;&#x27;"
        );
        // Non-ASCII stays raw latin-1 in the body, as in Gunicorn.
        assert!(
            Reject::request_line(b"GET /\xc3\xa9 HTTP/1.1")
                .to_wire()
                .windows(2)
                .any(|w| w == b"\xc3\xa9")
        );
        assert_eq!(
            body(&Reject::line_too_large(4095, 4094)),
            "Request Line is too large (4095 &gt; 4094)"
        );
        assert_eq!(
            body(&Reject::headers_limit("limit request headers fields")),
            "Error parsing headers: &#x27;limit request headers fields&#x27;"
        );
        assert_eq!(
            body(&Reject::proxy_line(b"protocol 'UNKNOWN' not supported")),
            "&#x27;Invalid PROXY line: &quot;protocol &#x27;UNKNOWN&#x27; not supported&quot;&#x27;"
        );
        assert_eq!(
            body(&Reject::chunk_terminator(b"XX")),
            "Invalid chunk terminator is not &#x27;\\r\\n&#x27;: b&#x27;XX&#x27;"
        );
        assert_eq!(
            Reject::chunk_size(b"5\nhello").message,
            "Invalid chunk size: b'5\\nhello'"
        );
        assert_eq!(
            Reject::chunk_line_too_long(8190).message,
            "Invalid chunk size: b'line over 8190 bytes with no terminator'"
        );
        assert_eq!(Reject::unsupported_coding(b"foo").status, 501);
        assert_eq!(Reject::unsupported_coding(b"foo").reason, "Bad Request");
    }

    #[test]
    fn configuration_problem_matches_live() {
        let r = Reject::configuration_problem(b"/", b"/a");
        assert_eq!(
            r.log_line("127.0.0.1"),
            "Invalid request from ip=127.0.0.1: Configuration problem: Request path '/' does not start with SCRIPT_NAME '/a'"
        );
        assert!(r.to_wire().starts_with(b"HTTP/1.1 500 Bad Request\r\n"));
    }

    #[test]
    fn python_repr_rules() {
        assert_eq!(py_repr_str(b"a'b"), "\"a'b\"");
        assert_eq!(py_repr_str(b"a'\"b"), "'a\\'\"b'");
        assert_eq!(
            py_repr_str(b"\t\x00\xa0\xa1\xff\\"),
            "'\\t\\x00\\xa0\u{a1}\u{ff}\\\\'"
        );
        assert_eq!(py_repr_bytes(b"\xff'"), "b\"\\xff'\"");
    }
}
