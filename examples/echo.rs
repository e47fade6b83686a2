//! Answers every request with JSON describing what the server handed to the app:
//! `{"method", "target" (the request-target as received), "version", "headers" (in order,
//! names lower-cased by the HTTP layer; repeats of one name are grouped after its first
//! occurrence), "body"}`. Same command line as `runicorn`. Useful for debugging proxies in
//! front of runicorn, and for the conformance tests.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let target = match (parts.uri.scheme(), parts.uri.path_and_query()) {
        (None, Some(pq)) => pq.as_str().to_owned(),
        _ => parts.uri.to_string(),
    };
    let headers: Vec<serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| serde_json::json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
        .collect();
    let (status, body) = match body.collect().await {
        Ok(b) => (200, String::from_utf8_lossy(&b.to_bytes()).into_owned()),
        Err(e) => (400, format!("<body error: {e}>")),
    };
    let json = serde_json::json!({
        "method": parts.method.as_str(),
        "target": target,
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body": body,
    });
    let mut resp = Response::new(Full::new(Bytes::from(json.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

fn main() -> std::process::ExitCode {
    runicorn::run(service_fn(echo))
}
