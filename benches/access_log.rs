//! Access-log costs: compiling a format, and rendering one line of the default format, a
//! header-heavy format and the JSON preset into a reused buffer (what a worker does per
//! request, minus the hand-off to the writer thread). `render/*` reads whole header maps;
//! `request/*` is the server's path: capture what the format needs, then render from that.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Version};
use runicorn::access_log::{Clock, Context, Format, Headers, Record};

const HEAVY: &str = concat!(
    r#"%({x-forwarded-for}i)s %(h)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(L)s "#,
    r#"%({x-request-id}i)s %({accept}i)s %({accept-language}i)s %({host}i)s %({content-type}o)s "#,
    r#"%({cache-control}o)s %({x-app}o)s %({http_x_forwarded_for}e)s %(T)05d %(p)s"#
);

fn request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "www.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("referer", "https://www.example.com/index.html"),
        ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
        ("x-request-id", "3f1c0a2e-8d4b-4b43-9e7a-6f9f0c2d1b55"),
        ("cookie", "session=abc"),
    ] {
        h.append(k, HeaderValue::from_static(v));
    }
    h
}

fn response_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("x-app", "1"),
    ] {
        h.append(k, HeaderValue::from_static(v));
    }
    h
}

fn benches(c: &mut Criterion) {
    c.bench_function("compile/default", |b| {
        b.iter(|| Format::compile(black_box(Format::GUNICORN_DEFAULT)))
    });
    c.bench_function("compile/heavy", |b| {
        b.iter(|| Format::compile(black_box(HEAVY)))
    });

    let (req, resp) = (request_headers(), response_headers());
    let rec = Record {
        peer: Some("192.168.10.42:51234".parse().unwrap()),
        method: Some("GET"),
        target: Some("/articles/2026/11/some-article-slug?page=2&sort=desc"),
        version: Some(Version::HTTP_11),
        request_headers: Some((&req).into()),
        status: 200,
        response_headers: Some((&resp).into()),
        body_bytes: Some(5123),
        duration: Duration::from_micros(1234),
        server_name: "www.example.com",
        server_port: "80",
        ..Record::default()
    };
    let mut clock = Clock::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    for (name, format) in [
        ("render/default", Format::default()),
        ("render/heavy", Format::compile(HEAVY).unwrap()),
        ("render/json", Format::from_setting("@json").unwrap()),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                // As AccessLog::log does: the cached clock, then render + newline.
                let cx = Context::new(clock.now(), 4242);
                buf.clear();
                format.render(black_box(&rec), &cx, &mut buf);
                buf.push(b'\n');
                black_box(buf.len())
            })
        });
        let request = name.replace("render/", "request/");
        c.bench_function(&request, |b| {
            b.iter(|| {
                // As the server does: capture before the app runs and after it answered...
                let needs = format.needs();
                let creq = needs.capture_request_headers(black_box(&req));
                let cresp = needs.capture_response_headers(black_box(&resp));
                let rec = Record {
                    request_headers: creq.as_ref().map(Headers::from),
                    response_headers: cresp.as_ref().map(Headers::from),
                    ..rec.clone()
                };
                // ...then render as AccessLog::log does.
                let cx = Context::new(clock.now(), 4242);
                buf.clear();
                format.render(black_box(&rec), &cx, &mut buf);
                buf.push(b'\n');
                black_box(buf.len())
            })
        });
    }
}

criterion_group!(access_log, benches);
criterion_main!(access_log);
