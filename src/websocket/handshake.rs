//! The opening handshake: a request validated as a WebSocket upgrade (RFC 6455 §4.2.1 for
//! HTTP/1.1, RFC 8441 §5 for HTTP/2 extended CONNECT), the client's offered subprotocols
//! and extensions, and the answer (`101` with `Sec-WebSocket-Accept` on HTTP/1.1, `200` on
//! HTTP/2). A refused handshake is an ordinary HTTP response ([`Refusal`]).

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use tokio::sync::oneshot;

use super::deflate::{self, Params};
use super::{Context, Session};

/// What the HTTP/1 edge hands over once a `101` went out: the connection (its read-ahead
/// already put back in front) and a signal the edge waits on until the socket is done.
pub(crate) struct Handoff {
    pub(crate) io: Box<dyn super::Io>,
    pub(crate) done: oneshot::Sender<()>,
}

/// Request extension the runicorn HTTP/1 edge adds to an upgrade request: where the
/// connection arrives if the app answers `101`. (hyper's own upgrade cannot be used there:
/// the edge needs the socket back when the app refuses, to keep serving HTTP/1.)
#[derive(Clone)]
pub(crate) struct EdgeUpgrade(pub(crate) Arc<Mutex<Option<oneshot::Receiver<Handoff>>>>);

/// Where the connection will come from.
enum Source {
    Edge(oneshot::Receiver<Handoff>),
    Hyper(hyper::upgrade::OnUpgrade),
}

/// A handshake refused: answer the request with [`Refusal::into_response`] (or with any
/// response built from `status` and `message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 400, or 426 for a version other than 13.
    pub status: StatusCode,
    /// What was wrong, for the body and the log.
    pub message: &'static str,
}

impl Refusal {
    fn bad(message: &'static str) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    /// The response: the status, the message as a plain-text body, and for 426 the
    /// `Sec-WebSocket-Version: 13` header RFC 6455 §4.4 asks for.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(Bytes::from(format!("{}\n", self.message))));
        *r.status_mut() = self.status;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        if self.status == StatusCode::UPGRADE_REQUIRED {
            h.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        r
    }
}

/// A valid WebSocket request, not yet answered. Dropping it answers nothing: the app
/// sends whatever response it likes instead (a denial is a normal HTTP response).
pub struct Handshake {
    accept_key: Option<String>,
    protocols: Vec<String>,
    deflate: Option<Params>,
    source: Source,
    ctx: Arc<Context>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("http2", &self.accept_key.is_none())
            .field("protocols", &self.protocols)
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

/// Whether `req` asks for a WebSocket: `Upgrade: websocket` with `Connection: upgrade`
/// (HTTP/1.1, any method: a POST asking gets a 400 from [`Handshake::from_request`]), or an
/// extended CONNECT with `:protocol websocket` (HTTP/2). Use it to choose between the
/// `http` and `websocket` paths; then [`Handshake::from_request`] validates the rest.
pub fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    if req.version() == Version::HTTP_2 {
        return req.method() == Method::CONNECT
            && req
                .extensions()
                .get::<hyper::ext::Protocol>()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
    }
    has_token(req.headers(), &header::UPGRADE, "websocket")
        && has_token(req.headers(), &header::CONNECTION, "upgrade")
}

/// Whether a comma-separated header has `token` (case-insensitive) in any of its lines.
fn has_token(h: &http::HeaderMap, name: &HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Whether `key` is the base64 of 16 bytes (RFC 6455 §4.2.1 item 4): 22 characters from
/// the alphabet, the last carrying only 2 bits, then `==`.
fn valid_key(key: &[u8]) -> bool {
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    key.len() == 24
        && key[..21].iter().all(b64)
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
        && &key[22..] == b"=="
}

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for `key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key);
    ctx.update(GUID);
    base64(ctx.finish().as_ref())
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Headers the handshake owns: an app's copy of them is dropped from `accept`.
fn owned_by_handshake(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::UPGRADE,
        header::SEC_WEBSOCKET_ACCEPT,
        header::SEC_WEBSOCKET_EXTENSIONS,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ]
    .contains(name)
}

impl Handshake {
    /// Validates `req` as a WebSocket handshake and takes its upgrade handle (so call it
    /// before the request is consumed). The worker's settings
    /// (`--websocket-max-message-size` and friends) come with the request; outside
    /// runicorn's server the defaults apply.
    pub fn from_request<B>(req: &mut Request<B>) -> Result<Handshake, Refusal> {
        let h2 = req.version() == Version::HTTP_2;
        let headers = req.headers();
        if h2 {
            if !is_upgrade_request(req) {
                return Err(Refusal::bad("not a WebSocket extended CONNECT"));
            }
        } else {
            if req.version() != Version::HTTP_11 {
                return Err(Refusal::bad("WebSocket needs HTTP/1.1"));
            }
            if req.method() != Method::GET {
                return Err(Refusal::bad("WebSocket upgrade must be a GET"));
            }
            if !has_token(headers, &header::UPGRADE, "websocket") {
                return Err(Refusal::bad("missing Upgrade: websocket"));
            }
            if !has_token(headers, &header::CONNECTION, "upgrade") {
                return Err(Refusal::bad("missing Connection: upgrade"));
            }
        }
        let body = headers.contains_key(header::TRANSFER_ENCODING)
            || headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        if body && !h2 {
            return Err(Refusal::bad("WebSocket upgrade with a request body"));
        }
        let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
        match (versions.next(), versions.next()) {
            (None, _) => return Err(Refusal::bad("missing Sec-WebSocket-Version")),
            (Some(v), None) if v.as_bytes().trim_ascii() == b"13" => {}
            _ => {
                return Err(Refusal {
                    status: StatusCode::UPGRADE_REQUIRED,
                    message: "unsupported Sec-WebSocket-Version (13 is)",
                });
            }
        }
        let accept_key = if h2 {
            // RFC 8441 §5: no key, no accept; the stream itself proves the intent.
            None
        } else {
            let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
            match (keys.next(), keys.next()) {
                (Some(k), None) if valid_key(k.as_bytes().trim_ascii()) => {
                    Some(accept_key(k.as_bytes().trim_ascii()))
                }
                _ => return Err(Refusal::bad("missing or invalid Sec-WebSocket-Key")),
            }
        };
        let protocols = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let ctx = req
            .extensions()
            .get::<Arc<Context>>()
            .cloned()
            .unwrap_or_else(Context::fallback);
        let deflate = if ctx.config.permessage_deflate {
            deflate::negotiate(
                headers
                    .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
                    .iter()
                    .map(HeaderValue::as_bytes),
            )
        } else {
            None
        };
        let edge = req
            .extensions()
            .get::<EdgeUpgrade>()
            .and_then(|e| e.0.lock().unwrap_or_else(|p| p.into_inner()).take());
        let source = match edge {
            Some(rx) => Source::Edge(rx),
            None => match req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() {
                Some(on) => Source::Hyper(on),
                None => return Err(Refusal::bad("connection cannot be upgraded")),
            },
        };
        Ok(Handshake {
            accept_key,
            protocols,
            deflate,
            source,
            ctx,
        })
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Whether permessage-deflate will be used if accepted.
    pub fn compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Accepts: the response to return from the service (`101 Switching Protocols`, or
    /// `200` on HTTP/2; map its `()` body to the service's body type), and a future that
    /// resolves to the [`Session`] once the response is on the wire (`None` if the
    /// connection went away first). `subprotocol` is sent as `Sec-WebSocket-Protocol`
    /// (the app's choice, normally one of [`Handshake::protocols`]); `extra_headers` are
    /// added, except the ones the handshake owns (`Connection`, `Upgrade`,
    /// `Sec-WebSocket-Accept`, `Sec-WebSocket-Extensions`, framing headers).
    pub fn accept(
        self,
        subprotocol: Option<&str>,
        extra_headers: Vec<(HeaderName, HeaderValue)>,
    ) -> (
        Response<()>,
        impl Future<Output = Option<Session>> + Send + 'static,
    ) {
        let mut r = Response::new(());
        *r.status_mut() = if self.accept_key.is_some() {
            StatusCode::SWITCHING_PROTOCOLS
        } else {
            StatusCode::OK
        };
        let h = r.headers_mut();
        for (k, v) in extra_headers {
            if !owned_by_handshake(&k) {
                h.append(k, v);
            }
        }
        if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(p).ok()) {
            h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        if let Some(d) = &self.deflate
            && let Ok(v) = HeaderValue::from_str(&d.response())
        {
            h.insert(header::SEC_WEBSOCKET_EXTENSIONS, v);
        }
        if let Some(key) = &self.accept_key {
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Ok(v) = HeaderValue::from_str(key) {
                h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
            }
        }
        let Handshake {
            source,
            deflate,
            ctx,
            ..
        } = self;
        let session = async move {
            let (io, done): (Box<dyn super::Io>, _) = match source {
                Source::Edge(rx) => {
                    let h = rx.await.ok()?;
                    (h.io, Some(h.done))
                }
                Source::Hyper(on) => {
                    let up = on.await.ok()?;
                    (Box::new(hyper_util::rt::TokioIo::new(up)), None)
                }
            };
            Some(Session::start(io, done, deflate, ctx))
        };
        (r, session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(
            !valid_key(b"dGhlIHNhbXBsZSBub25jZR=="),
            "bits past the 16th byte"
        );
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25j*Q=="));
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
    }

    fn req(extra: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::get("/ws")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        let mut r = b.body(()).unwrap();
        let (_tx, rx) = oneshot::channel();
        r.extensions_mut()
            .insert(EdgeUpgrade(Arc::new(Mutex::new(Some(rx)))));
        r
    }

    #[test]
    fn validation() {
        let mut r = req(&[("sec-websocket-protocol", "chat, superchat")]);
        assert!(is_upgrade_request(&r));
        let hs = Handshake::from_request(&mut r).unwrap();
        assert_eq!(hs.protocols(), ["chat", "superchat"]);
        let (resp, _) = hs.accept(
            Some("chat"),
            vec![
                (
                    HeaderName::from_static("x-a"),
                    HeaderValue::from_static("1"),
                ),
                (header::CONNECTION, HeaderValue::from_static("close")),
            ],
        );
        assert_eq!(resp.status(), 101);
        assert_eq!(
            resp.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(resp.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(resp.headers()["connection"], "upgrade");
        assert_eq!(resp.headers()["x-a"], "1");

        let mut r = req(&[]);
        r.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        let e = Handshake::from_request(&mut r).unwrap_err();
        assert_eq!(e.status, 426);
        assert_eq!(e.into_response().headers()["sec-websocket-version"], "13");
        let mut r = req(&[]);
        r.headers_mut()
            .insert("sec-websocket-key", HeaderValue::from_static("short"));
        assert_eq!(Handshake::from_request(&mut r).unwrap_err().status, 400);
        let mut r = req(&[("content-length", "5")]);
        assert_eq!(Handshake::from_request(&mut r).unwrap_err().status, 400);
        let mut r = req(&[]);
        *r.method_mut() = Method::POST;
        assert_eq!(Handshake::from_request(&mut r).unwrap_err().status, 400);
        let mut r = req(&[]);
        r.headers_mut().remove("sec-websocket-version");
        assert_eq!(Handshake::from_request(&mut r).unwrap_err().status, 400);
    }
}
