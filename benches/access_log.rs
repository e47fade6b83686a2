//! Access-log costs: compiling a format, and rendering one line of the default format, a
//! header-heavy format and the JSON preset into a reused buffer (what a worker does per
//! request, minus the hand-off to the writer thread). `render/*` reads whole header maps;
//! `request/*` is the server's path: capture what the format needs, then render from that.
//!
//! `access_log-<hash> --instr <bench> <n>` skips criterion and runs just `n` iterations of one
//! render/request bench, so `benches/access_log_instr.py` can count instructions per render
//! under callgrind (two runs, different `n`, the difference divided) without criterion's own
//! work in the count.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
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

/// The record every render bench logs (header maps borrowed from the caller).
fn record<'a>(req: &'a HeaderMap, resp: &'a HeaderMap) -> Record<'a> {
    Record {
        peer: Some("192.168.10.42:51234".parse().unwrap()),
        method: Some("GET"),
        target: Some("/articles/2026/11/some-article-slug?page=2&sort=desc"),
        version: Some(Version::HTTP_11),
        request_headers: Some(req.into()),
        status: 200,
        response_headers: Some(resp.into()),
        body_bytes: Some(5123),
        duration: Duration::from_micros(1234),
        server_name: "www.example.com",
        server_port: "80",
        ..Record::default()
    }
}

fn formats() -> [(&'static str, Format); 3] {
    [
        ("default", Format::default()),
        ("heavy", Format::compile(HEAVY).unwrap()),
        ("json", Format::from_setting("@json").unwrap()),
    ]
}

/// One `render/*` iteration: as AccessLog::log does, the cached clock, then render + newline.
fn render_once(format: &Format, rec: &Record<'_>, clock: &mut Clock, buf: &mut Vec<u8>) -> usize {
    let cx = Context::new(clock.now(), 4242);
    buf.clear();
    format.render(black_box(rec), &cx, buf);
    buf.push(b'\n');
    black_box(buf.len())
}

/// One `request/*` iteration: as the server does, capture before the app runs and after it
/// answered, then render as AccessLog::log does.
fn request_once(
    format: &Format,
    (req, resp): (&HeaderMap, &HeaderMap),
    rec: &Record<'_>,
    clock: &mut Clock,
    buf: &mut Vec<u8>,
) -> usize {
    let needs = format.needs();
    let creq = needs.capture_request_headers(black_box(req));
    let cresp = needs.capture_response_headers(black_box(resp));
    let rec = Record {
        request_headers: creq.as_ref().map(Headers::from),
        response_headers: cresp.as_ref().map(Headers::from),
        ..rec.clone()
    };
    render_once(format, &rec, clock, buf)
}

fn benches(c: &mut Criterion) {
    c.bench_function("compile/default", |b| {
        b.iter(|| Format::compile(black_box(Format::GUNICORN_DEFAULT)))
    });
    c.bench_function("compile/heavy", |b| {
        b.iter(|| Format::compile(black_box(HEAVY)))
    });

    let (req, resp) = (request_headers(), response_headers());
    let rec = record(&req, &resp);
    let mut clock = Clock::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    for (name, format) in formats() {
        c.bench_function(&format!("render/{name}"), |b| {
            b.iter(|| render_once(&format, &rec, &mut clock, &mut buf))
        });
        c.bench_function(&format!("request/{name}"), |b| {
            b.iter(|| request_once(&format, (&req, &resp), &rec, &mut clock, &mut buf))
        });
    }
}

/// `--instr render/default 10000`: that many iterations of one bench, nothing else.
fn instr(bench: &str, n: u64) {
    let (req, resp) = (request_headers(), response_headers());
    let rec = record(&req, &resp);
    let mut clock = Clock::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    let (kind, name) = bench
        .split_once('/')
        .expect("render/<name> or request/<name>");
    let (_, format) = formats()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no format {name}"));
    for _ in 0..n {
        match kind {
            "render" => render_once(&format, &rec, &mut clock, &mut buf),
            "request" => request_once(&format, (&req, &resp), &rec, &mut clock, &mut buf),
            _ => panic!("no bench kind {kind}"),
        };
    }
}

criterion_group!(access_log, benches);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--instr") {
        let n = args[i + 2].parse().expect("--instr <bench> <iterations>");
        instr(&args[i + 1], n);
        return;
    }
    access_log();
    Criterion::default().configure_from_args().final_summary();
}
