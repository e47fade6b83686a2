//! The HTTP/1 edge over real sockets: a conformance table sent in several split patterns
//! (what the app saw for accepted requests, the exact status for refused ones), request
//! smuggling attempts, Gunicorn's error wire format and log line, body limits, PROXY
//! protocol, slow clients cut off at their deadlines while others are served, and idle
//! keep-alive connections that park between requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::*;

enum Want {
    /// Accepted: (method, target, body) as the app saw them.
    Ok(&'static str, &'static str, &'static str),
    /// Refused with this status (and the connection closed).
    Status(u16),
}

/// (name, raw request, expectation)
const CASES: &[(&str, &str, Want)] = &[
    (
        "simple get",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Ok("GET", "/", ""),
    ),
    (
        "query kept raw",
        "GET /a%20b?x=1&y=%22 HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Ok("GET", "/a%20b?x=1&y=%22", ""),
    ),
    (
        "http/1.0",
        "GET /x HTTP/1.0\r\n\r\n",
        Want::Ok("GET", "/x", ""),
    ),
    (
        "one leading crlf",
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Ok("GET", "/", ""),
    ),
    (
        "content-length body",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        Want::Ok("POST", "/p", "hello"),
    ),
    (
        "chunked body",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
        Want::Ok("POST", "/c", "hello world"),
    ),
    (
        "chunk size leading zeros upper hex",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n0\r\n\r\n",
        Want::Ok("POST", "/c", "0123456789"),
    ),
    (
        "gzip before chunked",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
        Want::Ok("POST", "/c", "z"),
    ),
    (
        "unknown method token",
        "FOO / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Ok("FOO", "/", ""),
    ),
    (
        "absolute form",
        "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n",
        Want::Ok("GET", "http://example.com/x?y", ""),
    ),
    (
        "options star",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Ok("OPTIONS", "*", ""),
    ),
    (
        "expect 100-continue",
        "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        Want::Ok("POST", "/e", "ok"),
    ),
    // request line
    (
        "bare lf request line",
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "two leading crlf",
        "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "double space",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "lowercase method",
        "get / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "method too short",
        "GE / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "method with hash",
        "GE#T / HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "http/2.0 version",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "http/0.9 version",
        "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "two-digit minor",
        "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "ftp version",
        "GET / FTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "star without options",
        "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "authority form without connect",
        "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "control byte in target",
        "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n",
        Want::Status(400),
    ),
    // headers
    (
        "bare lf in headers",
        "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
        Want::Status(400),
    ),
    (
        "space before colon",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "no colon",
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",
        Want::Status(400),
    ),
    (
        "obs-fold",
        "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
        Want::Status(400),
    ),
    (
        "ctl in value",
        "GET / HTTP/1.1\r\nHost: a\r\nX: y\x01z\r\n\r\n",
        Want::Status(400),
    ),
    (
        "del in value",
        "GET / HTTP/1.1\r\nHost: a\r\nX: y\x7fz\r\n\r\n",
        Want::Status(400),
    ),
    (
        "duplicate host",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        Want::Status(400),
    ),
    (
        "duplicate content-type",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a\r\nContent-Type: b\r\nContent-Length: 0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "expectation failed",
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n",
        Want::Status(417),
    ),
    // framing and smuggling
    (
        "te and cl",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "cl and te",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "te not ending in chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "te identity",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nx",
        Want::Status(400),
    ),
    (
        "stacked chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "te in two fields",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "unknown coding",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n",
        Want::Status(501),
    ),
    (
        "chunked in http/1.0",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "cl list",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
        Want::Status(400),
    ),
    (
        "cl sign",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx",
        Want::Status(400),
    ),
    (
        "cl duplicate",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        Want::Status(400),
    ),
    (
        "te with space before colon",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 1\r\n\r\nx",
        Want::Status(400),
    ),
    (
        "te obs-folded",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "bad chunk size",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "negative chunk size",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        Want::Status(400),
    ),
    (
        "missing chunk terminator",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        Want::Status(400),
    ),
];

fn split_patterns(raw: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![vec![raw.to_vec()]];
    out.push(vec![raw[..1].to_vec(), raw[1..].to_vec()]);
    out.push(raw.iter().map(|b| vec![*b]).collect());
    // Deterministic "random" chunk sizes (xorshift), so failures reproduce.
    let mut x: u32 = 0x9e37_79b9 ^ raw.len() as u32;
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x as usize % 7 + 1).min(raw.len() - i);
        chunks.push(raw[i..i + n].to_vec());
        i += n;
    }
    out.push(chunks);
    out
}

/// Sends `chunks` with a pause between them, then reads the whole answer (the test closes
/// its side after one response).
fn exchange(addr: std::net::SocketAddr, chunks: &[Vec<u8>]) -> std::io::Result<Resp> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn_stream = s.try_clone()?;
    for c in chunks {
        // The server may refuse (and stop reading) before the request is complete.
        if conn_stream.write_all(c).is_err() {
            break;
        }
        if chunks.len() > 1 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let mut c = Conn::from_stream(s);
    c.read_response()
}

#[test]
fn conformance_table_in_every_split_pattern() {
    let m = Master::example("echo").args(["-w", "1"]).spawn();
    let mut failures = vec![];
    let mut checked = 0;
    for (name, raw, want) in CASES {
        for (p, chunks) in split_patterns(raw.as_bytes()).iter().enumerate() {
            checked += 1;
            let got = exchange(m.addr(), chunks);
            let ok = match (want, &got) {
                (Want::Ok(method, target, body), Ok(r)) if r.status == 200 => {
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    v["method"] == *method && v["target"] == *target && v["body"] == *body
                }
                (Want::Status(code), Ok(r)) => r.status == *code && r.closes(),
                _ => false,
            };
            if !ok {
                let shown =
                    got.map(|r| format!("{} {}", r.status, String::from_utf8_lossy(&r.body)));
                failures.push(format!("{name} (pattern {p}): {shown:?}"));
            }
        }
    }
    eprintln!(
        "edge conformance: {} of {checked} exchanges as expected ({} cases x 4 split patterns)",
        checked - failures.len(),
        CASES.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_refusal_uses_gunicorns_wire_format_and_logs_the_peer() {
    let m = Master::example("echo").args(["-w", "1"]).spawn();
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let body = "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    \
                Invalid HTTP Version &#x27;Invalid HTTP Version: (2, 0)&#x27;\n  </body>\n</html>\n";
    let want = format!(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(text, want);
    m.wait_for_log(
        "Invalid request from ip=127.0.0.1: Invalid HTTP Version: (2, 0)",
        Duration::from_secs(5),
    )
    .unwrap_or_else(|| panic!("{}", m.log()));
}

#[test]
fn limits_at_their_exact_boundaries() {
    let m = Master::example("echo")
        .args(["-w", "1", "--limit-request-fields", "5"])
        .spawn();
    let line = |n: usize| {
        format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "a".repeat(n - "GET / HTTP/1.1".len())
        )
    };
    assert_eq!(
        exchange(m.addr(), &[line(4094).into_bytes()])
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        exchange(m.addr(), &[line(4095).into_bytes()])
            .unwrap()
            .status,
        414
    );
    let fields = |n: usize| {
        let mut r = "GET / HTTP/1.1\r\n".to_string();
        for i in 0..n {
            r.push_str(&format!("X-{i}: v\r\n"));
        }
        r + "\r\n"
    };
    assert_eq!(
        exchange(m.addr(), &[fields(5).into_bytes()])
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        exchange(m.addr(), &[fields(6).into_bytes()])
            .unwrap()
            .status,
        431
    );
    let field = |n: usize| {
        format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "v".repeat(n - "X: \r\n".len())
        )
    };
    assert_eq!(
        exchange(m.addr(), &[field(8190).into_bytes()])
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        exchange(m.addr(), &[field(8191).into_bytes()])
            .unwrap()
            .status,
        431
    );
}

#[test]
fn pipelined_requests_are_answered_in_order_and_smuggled_ones_never_reach_the_app() {
    let m = Master::example("echo").args(["-w", "1"]).spawn();
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut()
        .write_all(b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&c.read_response().unwrap().body).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&c.read_response().unwrap().body).unwrap();
    assert_eq!(
        (a["target"].as_str(), a["body"].as_str()),
        (Some("/1"), Some("abc"))
    );
    assert_eq!(b["target"], "/2");
    // CL.TE: a front end honouring Content-Length would forward the "smuggled" request as body.
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut()
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 36\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 400);
    assert!(
        c.read_response().is_err(),
        "connection closed after the refusal"
    );
}

#[test]
fn request_body_limit_answers_413() {
    let m = Master::example("echo")
        .args(["-w", "1", "--limit-request-body", "10"])
        .spawn();
    let ok = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_eq!(
        exchange(m.addr(), &[ok.as_bytes().to_vec()])
            .unwrap()
            .status,
        200
    );
    let big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789a";
    assert_eq!(
        exchange(m.addr(), &[big.as_bytes().to_vec()])
            .unwrap()
            .status,
        413
    );
}

/// A chunked body is held to `--limit-request-body` by its data, not its framing: 1,000
/// bytes in 100 chunks pass a limit of 1,000 (the size lines and CRLFs, 600 bytes more,
/// were counted before and the body refused), 1,001 get 413. And a body refused after the
/// interim `100 Continue` still gets its 413 (it got 400 with no body, or a 500 from an
/// ASGI app, before).
#[test]
fn chunked_bodies_are_held_to_the_limit_by_their_data() {
    let m = Master::example("echo")
        .args(["-w", "1", "--limit-request-body", "1000"])
        .spawn();
    let chunked = |total: usize| {
        let mut body = String::new();
        let mut left = total;
        while left > 0 {
            let n = left.min(10);
            body.push_str(&format!("{n:x}\r\n{}\r\n", "x".repeat(n)));
            left -= n;
        }
        body.push_str("0\r\n\r\n");
        body
    };
    let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n";
    let r = exchange(
        m.addr(),
        &[format!("{head}\r\n{}", chunked(1000)).into_bytes()],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let echoed: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(echoed["body"].as_str().map(str::len), Some(1000));
    let r = exchange(
        m.addr(),
        &[format!("{head}\r\n{}", chunked(1001)).into_bytes()],
    )
    .unwrap();
    assert_eq!(r.status, 413);
    // Expect: 100-continue: the head alone, the interim answer, then the body.
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut()
        .write_all(format!("{head}Expect: 100-continue\r\n\r\n").as_bytes())
        .unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") && c.stream_mut().read(&mut byte).unwrap() == 1 {
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    c.stream_mut().write_all(chunked(1001).as_bytes()).unwrap();
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 413, "{:?}", String::from_utf8_lossy(&r.body));
}

#[test]
fn proxy_protocol_v1_sets_the_client_address() {
    let dir = Scratch::new("proxy");
    let log = dir.path("access.log");
    let m = Master::example("echo")
        .args([
            "-w",
            "1",
            "--proxy-protocol",
            "v1",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "%(h)s %(r)s",
        ])
        .spawn();
    let r = exchange(
        m.addr(),
        &[
            b"PROXY TCP4 203.0.113.7 192.0.2.1 4444 80\r\nGET /p HTTP/1.1\r\nHost: a\r\n\r\n"
                .to_vec(),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("203.0.113.7 GET /p HTTP/1.1")
    }));
    // From a peer not in --proxy-allow-from: 403.
    let m2 = Master::example("echo")
        .args([
            "-w",
            "1",
            "--proxy-protocol",
            "v1",
            "--proxy-allow-from",
            "10.0.0.1",
        ])
        .spawn();
    let r = exchange(
        m2.addr(),
        &[b"PROXY TCP4 203.0.113.7 192.0.2.1 4444 80\r\nGET / HTTP/1.1\r\n\r\n".to_vec()],
    )
    .unwrap();
    assert_eq!(r.status, 403);
}

/// Asks the probe for a `total`-byte body over a socket with a small fixed receive buffer
/// (what waits for the client then waits in the server's socket), reads `fast` bytes at
/// full speed (the server's send buffer grows), then `chunk` bytes every `pause` until the
/// body ends, the server closes, or `within` has passed. Returns the body bytes read.
fn read_big_then_slowly(
    addr: std::net::SocketAddr,
    total: usize,
    fast: usize,
    (chunk, pause): (usize, Duration),
    within: Duration,
) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBuf, &(128 << 10)).unwrap();
    s.write_all(format!("GET /big?ms={total} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut body = 0;
    let start = Instant::now();
    while body < total && start.elapsed() < within {
        let want = if body < fast { buf.len() } else { chunk };
        let n = s.read(&mut buf[..want]).unwrap_or(0);
        if n == 0 {
            break;
        }
        if head.ends_with(b"\r\n\r\n") {
            body += n;
        } else {
            head.extend_from_slice(&buf[..n]);
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body = head.len() - i - 4;
                head.truncate(i + 4);
            }
        }
        if body >= fast {
            std::thread::sleep(pause);
        }
    }
    body
}

/// A client reading a large response steadily, if slower than the kernel wakes a blocked
/// writer (once a third of a send buffer autotuned up to 4 MiB is free), is reading: the
/// send timeout is for clients that stopped. (Before, 1.3 s between wake-ups here cut it
/// at the 1 s timeout, part way through the body.)
#[test]
fn a_steady_reader_slower_than_its_send_buffer_drains_is_not_cut() {
    let m = Master::probe()
        .args(["-w", "1", "--send-timeout", "1"])
        .spawn();
    // 6 MiB fast, then 1 MB/s.
    let step = (64 << 10, Duration::from_millis(64));
    let body = read_big_then_slowly(m.addr(), 12 << 20, 6 << 20, step, Duration::from_secs(60));
    assert_eq!(body, 12 << 20, "the response was cut; {}", m.log());
}

/// A client that trickles (4 KiB every 250 ms: under the 64 KiB per --send-timeout a
/// reading client must manage) is still dropped as one that stopped reading.
#[test]
fn a_trickling_reader_is_still_cut_by_the_send_timeout() {
    let m = Master::probe()
        .args(["-w", "1", "--send-timeout", "1", "--log-level", "debug"])
        .spawn();
    let addr = m.addr();
    let step = (4 << 10, Duration::from_millis(250));
    let reader = std::thread::spawn(move || {
        read_big_then_slowly(addr, 12 << 20, 6 << 20, step, Duration::from_secs(8))
    });
    let cut = m.wait_for_log("stopped reading", Duration::from_secs(8));
    let body = reader.join().unwrap();
    assert!(cut.is_some(), "read {body} bytes, never cut: {}", m.log());
    assert!(body < 12 << 20);
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--header-timeout",
            "2",
            "--body-timeout",
            "2",
            "--send-timeout",
            "2",
            "--log-level",
            "debug",
        ])
        .spawn();
    let addr = m.addr();
    let load = Load::start(addr, 2, "/");

    // Slowloris: a header byte every 300 ms never completes within 2 s.
    let slow_head = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        for b in b"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" {
            if s.write_all(&[*b]).is_err() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        start.elapsed()
    });
    // A body that stalls half way: 408 at the body deadline.
    let stalled_body = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
            .unwrap();
        let start = Instant::now();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        (start.elapsed(), String::from_utf8_lossy(&raw).into_owned())
    });
    // A client that never reads a large response.
    let never_reads = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /big?ms=50000000 HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_secs(6));
        s
    });

    let head_elapsed = slow_head.join().unwrap();
    assert!(
        head_elapsed < Duration::from_secs(6),
        "slowloris cut after {head_elapsed:?}"
    );
    let (body_elapsed, answer) = stalled_body.join().unwrap();
    assert!(
        body_elapsed < Duration::from_secs(5),
        "stalled body cut after {body_elapsed:?}"
    );
    // The probe answers without reading the body; the stalled rest still closes the
    // connection at the body deadline.
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let _s = never_reads.join().unwrap();
    m.wait_for_log("stopped reading", Duration::from_secs(5))
        .expect("non-reading client dropped");
    let (ok, failed, errors) = load.finish();
    assert!(ok > 100, "others kept being served ({ok})");
    assert_eq!(failed, 0, "{errors:?}");
}

#[test]
fn a_trickled_body_is_cut_by_the_minimum_rate() {
    let m = Master::example("echo")
        .args(["-w", "1", "--body-timeout", "30", "--body-min-rate", "100"])
        .spawn();
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut writer = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..20 {
            if writer.write_all(b"x").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(9),
        "cut after {elapsed:?}"
    );
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let _ = trickle.join();
}

#[test]
fn a_stalled_body_read_by_the_app_gets_408() {
    let m = Master::example("echo")
        .args(["-w", "1", "--body-timeout", "1"])
        .spawn();
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    let start = Instant::now();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "cut after {:?}",
        start.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn raised_limits_are_honoured_end_to_end() {
    let m = Master::example("echo")
        .args([
            "-w",
            "1",
            "--limit-request-fields",
            "300",
            "--limit-request-field_size",
            "16000",
            "--limit-request-line",
            "8190",
        ])
        .spawn();
    let mut r = format!("GET /{} HTTP/1.1\r\n", "a".repeat(8100));
    for i in 0..300 {
        r.push_str(&format!("X-{i}: {}\r\n", "v".repeat(1000)));
    }
    r.push_str("\r\n");
    let resp = exchange(m.addr(), &[r.into_bytes()]).unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["headers"].as_array().unwrap().len(), 300);
}

#[test]
fn huge_timeouts_from_the_configuration_do_not_break_serving() {
    let max = i64::MAX.to_string();
    let mut m = Master::probe()
        .args([
            "-w",
            "1",
            "-t",
            &max,
            "--graceful-timeout",
            &max,
            "--keep-alive",
            &max,
            "--header-timeout",
            &max,
        ])
        .args([
            "--body-timeout",
            &max,
            "--send-timeout",
            &max,
            "--body-min-rate",
            "1",
        ])
        .spawn();
    let mut c = Conn::open(m.addr()).unwrap();
    for _ in 0..3 {
        assert_eq!(c.request("/").unwrap().status, 200);
    }
    let r = exchange(
        m.addr(),
        &[b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".to_vec()],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(m.count("panicked"), 0, "{}", m.log());
    drop(c);
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0), "{}", m.log());
}

/// Reads until the server closes `c` (up to 10 s): what it still sent, and how long the
/// close took from now.
fn until_closed(c: &mut Conn) -> (std::io::Result<Vec<u8>>, Duration) {
    let from = Instant::now();
    let mut rest = Vec::new();
    c.stream_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let read = c.stream_mut().read_to_end(&mut rest).map(|_| rest);
    (read, from.elapsed())
}

#[test]
fn an_idle_keep_alive_connection_parks_and_serves_what_comes_next() {
    // hyper lets go of a connection idle for 100 ms (`GateIo::is_parked`); whatever the
    // client sends after that must be served exactly as on a busy connection.
    let m = Master::example("echo")
        .args(["-w", "1", "--keep-alive", "2", "--log-level", "debug"])
        .spawn();
    let idle = || std::thread::sleep(Duration::from_millis(400));
    let mut c = Conn::open(m.addr()).unwrap();
    let echo = |c: &mut Conn| -> serde_json::Value {
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).unwrap()
    };
    c.stream_mut()
        .write_all(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(echo(&mut c)["target"], "/1");
    idle();
    m.wait_for_log("parked until its next request", Duration::from_secs(5))
        .expect("the idle connection parked");
    // Pipelined requests, one with a body, on the parked connection.
    c.stream_mut()
        .write_all(b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let (two, three) = (echo(&mut c), echo(&mut c));
    assert_eq!(
        (two["target"].as_str(), two["body"].as_str()),
        (Some("/2"), Some("abc"))
    );
    assert_eq!(three["target"], "/3");
    // A head that arrives in pieces across the park delay.
    idle();
    c.stream_mut().write_all(b"GET /4 HT").unwrap();
    idle();
    c.stream_mut()
        .write_all(b"TP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(echo(&mut c)["target"], "/4");
    // The gate is as strict after a park: a smuggling attempt is refused and closes.
    idle();
    c.stream_mut()
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(c.read_response().unwrap().status, 400);
    assert!(c.read_response().is_err(), "closed after the refusal");
    // A parked connection still closes at --keep-alive.
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut()
        .write_all(b"GET /5 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(echo(&mut c)["target"], "/5");
    let (rest, waited) = until_closed(&mut c);
    let n = rest.unwrap();
    assert_eq!(n.len(), 0, "nothing more was sent: {n:?}");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "closed after {waited:?}, --keep-alive is 2 s"
    );
}

#[test]
fn a_keep_alive_longer_than_the_header_timeout_is_honoured() {
    // Behind a load balancer --keep-alive is set above the balancer's idle timeout (75 s
    // for a 60 s one); a header timeout counted from the previous response would close
    // such connections early and race the balancer's next request. The header timeout
    // counts from the first byte of the next head instead.
    let m = Master::example("echo")
        .args(["-w", "1", "--keep-alive", "4", "--header-timeout", "2"])
        .spawn();
    let mut c = Conn::open(m.addr()).unwrap();
    let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    c.stream_mut().write_all(get).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    // Idle past the header timeout, within --keep-alive: still served.
    std::thread::sleep(Duration::from_millis(3000));
    c.stream_mut().write_all(get).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200, "{}", m.log());
    // A head begun after 1 s of idling and never finished: cut --header-timeout after its
    // first byte, not after the response.
    std::thread::sleep(Duration::from_millis(1000));
    c.stream_mut().write_all(b"GET / HT").unwrap();
    let (_, waited) = until_closed(&mut c);
    assert!(
        waited >= Duration::from_millis(1700) && waited < Duration::from_millis(3500),
        "a partial head was cut after {waited:?}; --header-timeout is 2 s"
    );
    // A silent keep-alive connection still closes at --keep-alive.
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut().write_all(get).unwrap();
    assert_eq!(c.read_response().unwrap().status, 200);
    let (rest, waited) = until_closed(&mut c);
    assert_eq!(rest.map_or(0, |r| r.len()), 0);
    assert!(
        waited >= Duration::from_millis(3700) && waited < Duration::from_secs(6),
        "an idle connection closed after {waited:?}; --keep-alive is 4 s"
    );
}
