//! Per-request costs of the HTTP/1 edge and the one-off cost of resolving settings:
//! `parse_head` on a minimal and a browser-like head, the whole `Gate` (what a worker
//! runs on every request's bytes, head plus chunked body), the PROXY v1 parser, and
//! `config::load` for a short and a long command line.

use std::ffi::OsString;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runicorn::config::{MapEnv, load};
use runicorn::http::{Gate, GateConfig, ProxyMode, Rules, parse_head, parse_proxy};

const HELLO: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
const BROWSER: &[u8] = b"GET /static/app.3f1c0a2e.js?v=2 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/index.html\r\n\
Cookie: session=abc; theme=dark\r\n\
X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n\
Connection: keep-alive\r\n\r\n";
const CHUNKED: &[u8] = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";

fn heads(c: &mut Criterion) {
    let rules = Rules::default();
    for (name, input) in [("hello", HELLO), ("browser", BROWSER)] {
        c.bench_function(&format!("parse_head/{name}"), |b| {
            b.iter(|| black_box(parse_head(black_box(input), &rules).is_ok()))
        });
    }
    c.bench_function("parse_proxy/v1", |b| {
        let line = b"PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n\r\n";
        b.iter(|| black_box(parse_proxy(black_box(line), ProxyMode::V1).is_ok()))
    });
}

fn gate(c: &mut Criterion) {
    let cfg = GateConfig {
        peer_ip: "127.0.0.1".into(),
        ..GateConfig::default()
    };
    for (name, input) in [("hello", HELLO), ("browser", BROWSER), ("chunked", CHUNKED)] {
        // A fresh gate per connection is amortised over its requests; keep one and
        // feed it request after request, as a keep-alive connection does.
        let mut g = Gate::new(cfg.clone());
        let (mut out, mut ev) = (Vec::with_capacity(4096), Vec::with_capacity(8));
        c.bench_function(&format!("gate/{name}"), |b| {
            b.iter(|| {
                out.clear();
                ev.clear();
                g.feed(black_box(input), &mut out, &mut ev);
                black_box(out.len())
            })
        });
    }
}

fn config(c: &mut Criterion) {
    let env = MapEnv::from([]);
    let args = |s: &str| -> Vec<OsString> { s.split(' ').map(OsString::from).collect() };
    let short = args("runicorn app:app -w 4 -b 0.0.0.0:8000");
    let long = args(
        "runicorn app:app -w 4 -b 0.0.0.0:8000 -b unix:/run/app.sock --threads 8 -k gthread \
         --timeout 60 --graceful-timeout 20 --keep-alive 5 --max-requests 1000 \
         --max-requests-jitter 50 --access-logfile - --log-level warning \
         --forwarded-allow-ips 10.0.0.0/8 --limit-request-line 8190 --static-map /s=/srv",
    );
    c.bench_function("config/load_short", |b| {
        b.iter(|| black_box(load(black_box(&short), &env).is_ok()))
    });
    c.bench_function("config/load_long", |b| {
        b.iter(|| black_box(load(black_box(&long), &env).is_ok()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = heads, gate, config
}
criterion_main!(benches);
