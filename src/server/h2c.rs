//! HTTP/2 over cleartext TCP (h2c, `--http2-cleartext`): who may use it, how a plaintext
//! connection is recognised as HTTP/2, and how an HTTP/1.1 `Upgrade: h2c` request becomes
//! stream 1 of an HTTP/2 connection served by [`super::http2::serve`].
//!
//! - **Prior knowledge** (RFC 9113 §3.3): the connection opens with the 24-byte preface.
//!   The accept task peeks (without consuming) until the first bytes match it, diverge
//!   from it, or `--header-timeout` (counted from accept) passes; anything that is not
//!   the preface stays HTTP/1.1 with every check of the edge. Unlike Gunicorn 27, which
//!   answers a trusted peer's HTTP/1.1 on a prior-knowledge port with 400, both protocols
//!   share the port.
//! - **Upgrade** (RFC 7540 §3.2): the edge recognises the request (see
//!   [`upgrade_frames`]), keeps it from hyper's HTTP/1 engine, answers `101`, and feeds
//!   hyper's HTTP/2 server the client's preface and first SETTINGS frame, then a HEADERS
//!   frame for stream 1 built from the request ([`Spliced`]), then the rest of the
//!   client's bytes. The request's header block uses HPACK literals that are never added
//!   to the dynamic table, so the decoder's table stays what the client's encoder
//!   expects (empty). The settings in `HTTP2-Settings` are validated, not applied: the
//!   client's first SETTINGS frame, which RFC 7540 §3.5 requires right after the
//!   preface, carries them and is read before stream 1, so the response obeys them and
//!   no SETTINGS acknowledgement is sent that the client did not ask for.
//!
//! Only peers in `--forwarded-allow-ips` (and Unix-socket peers) may use either, as in
//! Gunicorn 27: h2c comes from the TLS-terminating proxy in front. Others are served
//! HTTP/1.x as if h2c were off.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::h2c::Http2Cleartext;

/// The client connection preface (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the edge answers an accepted `Upgrade: h2c` request with.
pub(super) const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

/// A worker's h2c configuration: present only when plaintext listeners take HTTP/2.
#[derive(Debug, Clone)]
pub(crate) struct H2c {
    pub mode: Http2Cleartext,
    /// HTTP/2's own limits, as over TLS.
    pub limits: crate::tls::Http2Limits,
}

impl H2c {
    /// `None` unless `--http2-cleartext` is on, `h2` is in `--http-protocols` and the
    /// listeners are not TLS (where ALPN chooses).
    pub(crate) fn from_settings(s: &crate::config::Settings, tls: bool) -> Option<H2c> {
        let h2 = s.http_protocols.iter().any(|p| p == "h2");
        (s.http2_cleartext != Http2Cleartext::Off && h2 && !tls).then(|| H2c {
            mode: s.http2_cleartext,
            limits: crate::tls::Http2Limits::from_settings(s),
        })
    }
}

/// How the first bytes of a connection compare with the preface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preface {
    /// The whole preface.
    Match,
    /// A proper prefix of it: more bytes decide.
    Partial,
    /// Not the preface: HTTP/1.
    Mismatch,
}

pub(super) fn preface_match(first: &[u8]) -> Preface {
    if first.len() >= PREFACE.len() {
        if first.starts_with(PREFACE) {
            Preface::Match
        } else {
            Preface::Mismatch
        }
    } else if PREFACE.starts_with(first) {
        Preface::Partial
    } else {
        Preface::Mismatch
    }
}

/// Headers that are about the HTTP/1.1 connection and must not appear in HTTP/2
/// (RFC 9113 §8.2.2), plus those the upgrade consumes and `host` (`:authority` instead).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "host",
];

/// The HEADERS (and CONTINUATION) frames that carry an `Upgrade: h2c` request as stream
/// 1, or `None` when the request does not qualify and stays HTTP/1.1 (RFC 7230 §6.7 lets
/// a server ignore `Upgrade`). `head` is a head the edge already validated. It qualifies
/// when, as in Gunicorn 27: it is HTTP/1.1, its one `Upgrade` is `h2c`, it has exactly
/// one `HTTP2-Settings` that decodes to valid settings, and `Connection` names both
/// `Upgrade` and `HTTP2-Settings`. Unlike Gunicorn 27 (which takes a body up to 64 KiB)
/// it must also have no body, so no body is ever held in memory outside the edge's
/// deadlines and limits; and its target must be origin-form (or `*`).
pub(super) fn upgrade_frames(head: &[u8]) -> Option<Vec<u8>> {
    let lines = head.iter().filter(|b| **b == b'\n').count();
    let mut fields = vec![httparse::EMPTY_HEADER; lines];
    let mut req = httparse::Request::new(&mut fields);
    let Ok(httparse::Status::Complete(_)) = req.parse(head) else {
        return None;
    };
    let (method, target) = (req.method?, req.path?);
    if req.version != Some(1) || !(target.starts_with('/') || target == "*") {
        return None;
    }
    let mut upgrade = 0;
    let mut settings = None;
    let mut settings_count = 0;
    let (mut conn_upgrade, mut conn_settings) = (false, false);
    let mut named = Vec::new();
    let mut authority = None;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade += 1;
            if !h.value.trim_ascii().eq_ignore_ascii_case(b"h2c") {
                return None;
            }
        } else if name.eq_ignore_ascii_case("http2-settings") {
            settings_count += 1;
            settings = Some(h.value.trim_ascii());
        } else if name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                conn_upgrade |= t.eq_ignore_ascii_case(b"upgrade");
                conn_settings |= t.eq_ignore_ascii_case(b"http2-settings");
                named.push(t.to_ascii_lowercase());
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        } else if name.eq_ignore_ascii_case("content-length") {
            if h.value.trim_ascii() != b"0" {
                return None;
            }
        } else if name.eq_ignore_ascii_case("host") {
            authority = Some(h.value);
        }
    }
    if upgrade != 1 || settings_count != 1 || !conn_upgrade || !conn_settings {
        return None;
    }
    if !settings_valid(&base64url(settings?)?) {
        return None;
    }
    let mut block = Vec::with_capacity(head.len() + 64);
    literal(&mut block, b":method", method.as_bytes());
    literal(&mut block, b":scheme", b"http");
    literal(&mut block, b":path", target.as_bytes());
    if let Some(a) = authority {
        literal(&mut block, b":authority", a);
    }
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str())
            || named.iter().any(|n| n == name.as_bytes())
            || (name == "te" && !h.value.trim_ascii().eq_ignore_ascii_case(b"trailers"))
        {
            continue;
        }
        literal(&mut block, name.as_bytes(), h.value);
    }
    Some(headers_frames(&block))
}

/// One header field as an HPACK literal without indexing, new name, no Huffman coding
/// (RFC 7541 §6.2.2): the decoder adds nothing to its dynamic table.
fn literal(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    block.push(0x00);
    string(block, name);
    string(block, value);
}

fn string(block: &mut Vec<u8>, s: &[u8]) {
    // RFC 7541 §5.1: a 7-bit prefix integer, then 7 bits a byte, low bits first.
    let mut n = s.len();
    if n < 0x7f {
        block.push(n as u8);
    } else {
        block.push(0x7f);
        n -= 0x7f;
        while n >= 0x80 {
            block.push((n & 0x7f) as u8 | 0x80);
            n >>= 7;
        }
        block.push(n as u8);
    }
    block.extend_from_slice(s);
}

/// The smallest SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2): every server takes frames of
/// this size.
const FRAME_MAX: usize = 16384;

/// HEADERS for stream 1 with END_STREAM (no body), split into CONTINUATION frames past
/// [`FRAME_MAX`]; the last frame has END_HEADERS.
fn headers_frames(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 9 * (1 + block.len() / FRAME_MAX));
    let chunks: Vec<&[u8]> = if block.is_empty() {
        vec![&[][..]]
    } else {
        block.chunks(FRAME_MAX).collect()
    };
    let last = chunks.len() - 1;
    for (i, c) in chunks.iter().enumerate() {
        let (ty, mut flags) = if i == 0 { (0x1, 0x1) } else { (0x9, 0x0) };
        if i == last {
            flags |= 0x4;
        }
        let n = c.len();
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8, ty, flags]);
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// Decodes `HTTP2-Settings` (base64url, RFC 4648 §5; padding optional).
fn base64url(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero (canonical encoding).
    (acc == 0).then_some(out)
}

/// A SETTINGS payload's values are valid (RFC 9113 §6.5.2); unknown settings are ignored.
fn settings_valid(payload: &[u8]) -> bool {
    payload.len() % 6 == 0
        && payload.chunks(6).all(|s| {
            let id = u16::from_be_bytes([s[0], s[1]]);
            let v = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
            match id {
                0x2 => v <= 1,
                0x4 => v <= 0x7fff_ffff,
                0x5 => (16384..=16_777_215).contains(&v),
                _ => true,
            }
        })
}

/// The client's bytes after a 101 to `Upgrade: h2c`, as hyper's HTTP/2 server reads
/// them: unchanged up to the end of the client's first frame after the preface (its
/// SETTINGS; h2 checks the preface and that frame itself), then the stream-1 frames of
/// the upgraded request, then the rest unchanged. Reads before that point never go past
/// it, so the request is always stream 1's opening, before any stream the client opens.
pub(super) struct Spliced<S> {
    io: S,
    /// Client bytes passed so far (until the splice).
    seen: usize,
    /// The 9-byte header of the client's first frame.
    frame: [u8; 9],
    /// Where the first frame ends, once its header is read.
    boundary: Option<usize>,
    inject: Vec<u8>,
    injected: usize,
    done: bool,
}

/// Preface plus one frame header.
const FIRST_HEADER_END: usize = 24 + 9;

impl<S> Spliced<S> {
    pub(super) fn new(io: S, stream1: Vec<u8>) -> Spliced<S> {
        Spliced {
            io,
            seen: 0,
            frame: [0; 9],
            boundary: None,
            inject: stream1,
            injected: 0,
            done: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Spliced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.done || buf.remaining() == 0 {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let until = this.boundary.unwrap_or(FIRST_HEADER_END);
        if this.seen == until {
            let n = buf.remaining().min(this.inject.len() - this.injected);
            buf.put_slice(&this.inject[this.injected..this.injected + n]);
            this.injected += n;
            if this.injected == this.inject.len() {
                this.done = true;
                this.inject = Vec::new();
            }
            return Poll::Ready(Ok(()));
        }
        let mut tmp = [0u8; 1024];
        let n = (until - this.seen).min(tmp.len()).min(buf.remaining());
        let mut rb = ReadBuf::new(&mut tmp[..n]);
        std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
        let got = rb.filled();
        for (i, b) in got.iter().enumerate() {
            if let Some(k) = (this.seen + i).checked_sub(24).filter(|k| *k < 9) {
                this.frame[k] = *b;
            }
        }
        this.seen += got.len();
        if this.boundary.is_none() && this.seen == FIRST_HEADER_END {
            let f = this.frame;
            let len = usize::from(f[0]) << 16 | usize::from(f[1]) << 8 | usize::from(f[2]);
            this.boundary = Some(FIRST_HEADER_END + len);
        }
        buf.put_slice(got);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Spliced<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, b)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "AAMAAABkAAQAoAAAAAIAAAAA": curl's HTTP2-Settings (streams 100, window 10 MiB,
    /// push off).
    const CURL_SETTINGS: &str = "AAMAAABkAAQAoAAAAAIAAAAA";

    fn upgrade_head(extra: &str) -> Vec<u8> {
        format!(
            "GET /x?y=1 HTTP/1.1\r\nHost: h:8\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             Upgrade: h2c\r\nHTTP2-Settings: {CURL_SETTINGS}\r\nX-A: b\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    /// Decodes our own literal-only header blocks (the subset `literal` writes).
    fn decode(frames: &[u8]) -> Vec<(String, String)> {
        let mut block = Vec::new();
        let mut rest = frames;
        let mut first = true;
        while !rest.is_empty() {
            let n = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            assert_eq!(rest[3], if first { 0x1 } else { 0x9 });
            assert_eq!(&rest[5..9], &[0, 0, 0, 1], "stream 1");
            let end_headers = rest[4] & 0x4 != 0;
            block.extend_from_slice(&rest[9..9 + n]);
            rest = &rest[9 + n..];
            assert_eq!(end_headers, rest.is_empty());
            first = false;
        }
        let mut out = Vec::new();
        let mut p = &block[..];
        let int = |p: &mut &[u8]| {
            let mut n = usize::from(p[0] & 0x7f);
            *p = &p[1..];
            if n == 0x7f {
                let mut shift = 0;
                loop {
                    let b = p[0];
                    *p = &p[1..];
                    n += usize::from(b & 0x7f) << shift;
                    shift += 7;
                    if b & 0x80 == 0 {
                        break;
                    }
                }
            }
            n
        };
        while !p.is_empty() {
            assert_eq!(p[0], 0);
            p = &p[1..];
            let n = int(&mut p);
            let name = String::from_utf8(p[..n].to_vec()).unwrap();
            p = &p[n..];
            let n = int(&mut p);
            let value = String::from_utf8(p[..n].to_vec()).unwrap();
            p = &p[n..];
            out.push((name, value));
        }
        out
    }

    #[test]
    fn preface_is_recognised_only_whole() {
        assert_eq!(preface_match(b""), Preface::Partial);
        assert_eq!(preface_match(b"PRI * HTTP/2"), Preface::Partial);
        assert_eq!(preface_match(PREFACE), Preface::Match);
        assert_eq!(
            preface_match(&[&PREFACE[..], b"\0\0\0\x04"].concat()),
            Preface::Match
        );
        assert_eq!(
            preface_match(b"PRI * HTTP/2.0\r\n\r\nXX"),
            Preface::Mismatch
        );
        assert_eq!(preface_match(b"PRI * HTTP/1.1\r\n"), Preface::Mismatch);
        assert_eq!(preface_match(b"GET / HTTP/1.1\r\n"), Preface::Mismatch);
    }

    #[test]
    fn an_upgrade_request_becomes_stream_1_without_connection_headers() {
        let frames = upgrade_frames(&upgrade_head("TE: trailers\r\nKeep-Alive: 5\r\n")).unwrap();
        assert_eq!(frames[4], 0x1 | 0x4, "END_STREAM | END_HEADERS");
        let h = decode(&frames);
        let want = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/x?y=1"),
            (":authority", "h:8"),
            ("x-a", "b"),
            ("te", "trailers"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(h, want);
    }

    #[test]
    fn a_large_head_is_split_into_continuation_frames() {
        let big = format!("X-Big: {}\r\n", "v".repeat(40_000));
        let frames = upgrade_frames(&upgrade_head(&big)).unwrap();
        let h = decode(&frames);
        assert_eq!(h.last().unwrap().1.len(), 40_000);
        assert!(frames.len() > 40_000 + 3 * 9);
    }

    #[test]
    fn requests_that_do_not_qualify_stay_http1() {
        let ok = upgrade_head("");
        assert!(upgrade_frames(&ok).is_some());
        let text = String::from_utf8(ok).unwrap();
        let cases = [
            ("HTTP/1.0", text.replace("HTTP/1.1", "HTTP/1.0")),
            ("body", text.replace("X-A: b", "Content-Length: 3")),
            (
                "chunked",
                text.replace("X-A: b", "Transfer-Encoding: chunked"),
            ),
            ("bad settings", text.replace(CURL_SETTINGS, "!!!!")),
            ("odd settings", text.replace(CURL_SETTINGS, "AAMAAABkAA")),
            ("push 2", text.replace(CURL_SETTINGS, "AAIAAAAC")),
            ("frame size", text.replace(CURL_SETTINGS, "AAUAAAAQ")),
            (
                "no settings",
                text.replace(&format!("HTTP2-Settings: {CURL_SETTINGS}\r\n"), ""),
            ),
            (
                "two settings",
                text.replace("X-A: b", &format!("HTTP2-Settings: {CURL_SETTINGS}")),
            ),
            (
                "websocket",
                text.replace("Upgrade: h2c", "Upgrade: websocket"),
            ),
            (
                "list",
                text.replace("Upgrade: h2c", "Upgrade: h2c, websocket"),
            ),
            ("two upgrades", text.replace("X-A: b", "Upgrade: h2c")),
            (
                "connection",
                text.replace("Upgrade, HTTP2-Settings", "Upgrade"),
            ),
            ("absolute", text.replace("/x?y=1", "http://h/x")),
        ];
        for (what, head) in cases {
            assert!(upgrade_frames(head.as_bytes()).is_none(), "{what}");
        }
        assert!(upgrade_frames(text.replace("X-A: b", "Content-Length: 0").as_bytes()).is_some());
        assert!(
            upgrade_frames(text.replace(CURL_SETTINGS, "").as_bytes()).is_some(),
            "empty"
        );
    }

    #[test]
    fn base64url_decodes_canonical_text_only() {
        assert_eq!(base64url(b"AAMAAABk"), Some(vec![0, 3, 0, 0, 0, 0x64]));
        assert_eq!(base64url(b"_-8"), Some(vec![0xff, 0xef]));
        assert_eq!(base64url(b"_-8="), Some(vec![0xff, 0xef]));
        assert_eq!(base64url(b"_-9"), None, "non-zero leftover bits");
        assert_eq!(base64url(b"A"), None);
        assert_eq!(base64url(b"AA+/"), None, "not the URL alphabet");
    }

    #[tokio::test]
    async fn spliced_puts_stream_1_right_after_the_first_settings_frame() {
        use tokio::io::AsyncReadExt;
        let settings = [0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        let later = [0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0, 1, 0, 0];
        let client = [&PREFACE[..], &settings, &later].concat();
        for chunk in [1, 7, 33, 4096] {
            let (mut a, b) = tokio::io::duplex(64);
            let c = client.clone();
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                for part in c.chunks(chunk) {
                    a.write_all(part).await.unwrap();
                }
            });
            let mut s = Spliced::new(b, b"STREAM1".to_vec());
            let mut got = Vec::new();
            let mut buf = [0u8; 5];
            while got.len() < client.len() + 7 {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            writer.await.unwrap();
            let want = [&PREFACE[..], &settings, b"STREAM1", &later].concat();
            assert_eq!(got, want, "chunks of {chunk}");
        }
    }
}
