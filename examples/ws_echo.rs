//! A WebSocket echo service on runicorn's `websocket` API: every text or binary message
//! comes back as sent; a text message `close CODE REASON` makes the server close with that
//! code; `GET /` (no upgrade) answers plain HTTP. It accepts the first subprotocol offered.
//! Same command line as `runicorn` (`--websocket-max-message-size`, `--certfile`, ...).
//! Used by the integration tests (`tests/it/websocket.rs`) and the echo benchmark.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use runicorn::websocket::{self, Handshake, Message};

async fn serve(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if !websocket::is_upgrade_request(&req) {
        return Ok(Response::new(Full::new(Bytes::from_static(
            b"plain HTTP\n",
        ))));
    }
    let hs = match Handshake::from_request(&mut req) {
        Ok(hs) => hs,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    if req.uri().path() == "/deny" {
        let mut r = Response::new(Full::new(Bytes::from_static(b"denied\n")));
        *r.status_mut() = hyper::StatusCode::FORBIDDEN;
        return Ok(r);
    }
    let proto = hs.protocols().first().cloned();
    let extra = vec![(
        hyper::header::HeaderName::from_static("x-echo"),
        hyper::header::HeaderValue::from_static("1"),
    )];
    let (response, session) = hs.accept(proto.as_deref(), extra);
    tokio::spawn(async move {
        let Some(mut ws) = session.await else {
            return;
        };
        while let Some(m) = ws.recv().await {
            let reply = match m {
                Message::Close { .. } => break,
                Message::Text(t) if t.starts_with("close ") => {
                    let mut it = t.splitn(3, ' ').skip(1);
                    let code = it.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
                    let reason = it.next().unwrap_or("").to_owned();
                    Message::Close { code, reason }
                }
                m => m,
            };
            if ws.send(reply).await.is_err() {
                break;
            }
        }
    });
    Ok(response.map(|()| Full::new(Bytes::new())))
}

fn main() -> std::process::ExitCode {
    runicorn::run(service_fn(serve))
}
