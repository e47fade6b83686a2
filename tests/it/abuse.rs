//! Abuse cases, each with a legitimate client beside the attacker that must keep
//! succeeding (≥ 99%): connection-slot exhaustion (plaintext and TLS), idle and
//! header-stalled HTTP/2 connections, zero-window HTTP/2 streams, a pipelining flood
//! written without reading, stalled TLS handshakes, HTTP/2 rapid reset, SETTINGS and PING
//! floods, CONTINUATION floods and an HPACK bomb. Loopback only, one worker, each case
//! a few seconds; deadlines are checked with a second or more of slack, never to the
//! millisecond.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::tls::{Opts, client_config, tls_args};
use crate::util::*;

/// A legitimate client: a fresh connection and one request every 50 ms, each given 2 s.
struct Legit {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Legit {
    fn start(request: impl Fn() -> std::io::Result<u16> + Send + 'static) -> Legit {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match request() {
                    Ok(200) => o.fetch_add(1, Ordering::Relaxed),
                    _ => f.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Legit {
            stop,
            ok,
            failed,
            thread,
        }
    }

    fn plain(addr: SocketAddr) -> Legit {
        Legit::start(move || plain_get(addr, "/"))
    }

    fn tls(addr: SocketAddr) -> Legit {
        let cfg = client_config(&Opts::default());
        Legit::start(move || tls_get(addr, &cfg))
    }

    /// Stops once it made at least `min` requests (waiting up to 10 s more for them: a
    /// short case on a loaded machine); asserts ≥ 99% success; returns (ok, failed).
    fn finish(self, min: u64) -> (u64, u64) {
        let made = || self.ok.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed);
        eventually(Duration::from_secs(10), || made() >= min);
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let (ok, failed) = (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        );
        assert!(
            ok >= min && failed * 100 <= ok + failed,
            "legitimate client: {ok} ok, {failed} failed"
        );
        (ok, failed)
    }
}

fn plain_get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())?;
    Ok(read_response_from(&mut BufReader::new(s))?.status)
}

fn tls_get(addr: SocketAddr, cfg: &Arc<ClientConfig>) -> std::io::Result<u16> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(Duration::from_secs(2)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(2)))?;
    let conn = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    Ok(read_response_from(&mut BufReader::new(s))?.status)
}

/// An attacker holding `n` connections that send `greeting` (maybe nothing) and then
/// nothing more, re-opening any the server closes.
struct Holder {
    stop: Arc<AtomicBool>,
    open: Arc<AtomicU64>,
    reopened: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Holder {
    fn start(addr: SocketAddr, n: usize, greeting: &'static [u8]) -> Holder {
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicU64::new(0));
        let reopened = Arc::new(AtomicU64::new(0));
        let (s, o, r) = (stop.clone(), open.clone(), reopened.clone());
        let thread = std::thread::spawn(move || {
            let connect = || -> Option<TcpStream> {
                let c = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
                let _ = (&c).write_all(greeting);
                c.set_nonblocking(true).ok()?;
                Some(c)
            };
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let before = conns.len();
                conns.retain(|mut c| match c.read(&mut buf) {
                    Ok(0) => false,
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                });
                r.fetch_add((before - conns.len()) as u64, Ordering::Relaxed);
                while conns.len() < n && !s.load(Ordering::Relaxed) {
                    match connect() {
                        Some(c) => conns.push(c),
                        None => break,
                    }
                }
                o.store(conns.len() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Holder {
            stop,
            open,
            reopened,
            thread,
        }
    }

    fn wait_full(&self, n: usize) {
        assert!(
            eventually(Duration::from_secs(15), || self
                .open
                .load(Ordering::Relaxed)
                >= n as u64),
            "attacker holds only {} connections",
            self.open.load(Ordering::Relaxed)
        );
    }

    /// Stops; returns how many of its connections the server closed.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.reopened.load(Ordering::Relaxed)
    }
}

fn metric(maddr: SocketAddr, key: &str) -> f64 {
    let body = get(maddr, "/metrics").map(|r| r.1).unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// One worker, default `--worker-connections` (1000): an attacker holding 1,000 silent
/// connections (re-opening any that close) does not keep a client making fresh requests
/// out, because idle connections are reclaimed; the metrics count them.
#[test]
fn idle_connections_cannot_exhaust_the_slots() {
    let m = Master::probe()
        .args(["-w", "1", "--metrics-bind", "127.0.0.1:0"])
        .spawn();
    let maddr = crate::observe::metrics_addr(&m);
    let attacker = Holder::start(m.addr(), 1000, b"");
    attacker.wait_full(1000);
    let legit = Legit::plain(m.addr());
    std::thread::sleep(Duration::from_secs(3));
    let (ok, failed) = legit.finish(20);
    let closed = attacker.finish();
    assert!(closed > 0, "no attacker connection was reclaimed");
    assert!(
        eventually(Duration::from_secs(5), || metric(
            maddr,
            "runicorn_reclaimed_connections_total"
        ) >= 1.0),
        "reclaimed connections are not in the metrics"
    );
    assert_eq!(
        m.count("worker_connections are not enough"),
        1,
        "{}",
        m.log()
    );
    eprintln!(
        "plaintext slot exhaustion: legitimate {ok} ok / {failed} failed; {closed} reclaimed"
    );
}

/// The same over TLS, the attacker's connections never starting their handshake.
#[test]
fn unfinished_handshakes_cannot_exhaust_the_slots() {
    let m = Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--worker-connections", "200"])
        .spawn();
    let attacker = Holder::start(m.addr(), 200, b"");
    attacker.wait_full(200);
    let legit = Legit::tls(m.addr());
    std::thread::sleep(Duration::from_secs(3));
    let (ok, failed) = legit.finish(10);
    let closed = attacker.finish();
    assert!(closed > 0, "no attacker connection was reclaimed");
    eprintln!("TLS slot exhaustion: legitimate {ok} ok / {failed} failed; {closed} reclaimed");
}

/// A pipelining flood written without reading: the worker answers until the socket's
/// buffers fill, then drops the connection at `--send-timeout`; others are served all along.
#[test]
fn a_pipelining_flood_without_reading_is_dropped_at_the_send_timeout() {
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--send-timeout",
            "1",
            "--metrics-bind",
            "127.0.0.1:0",
        ])
        .spawn();
    let maddr = crate::observe::metrics_addr(&m);
    let legit = Legit::plain(m.addr());
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(8))).unwrap();
    let one = b"GET /big?ms=20000 HTTP/1.1\r\nHost: t\r\n\r\n";
    let all: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 10_000)
        .collect();
    // Most of it fits in the socket buffers; the rest waits for the worker to read it,
    // which it stops doing once its responses cannot be written. The socket stays open.
    let _ = s.write_all(&all);
    assert!(
        eventually(Duration::from_secs(8), || metric(
            maddr,
            "runicorn_slow_client_timeouts_total{kind=\"send\"}"
        ) >= 1.0),
        "the flood was not cut by the send timeout"
    );
    drop(s);
    legit.finish(20);
}

/// Connections that never finish (or start) their TLS handshake are closed at
/// `--tls-handshake-timeout`, while a client's handshakes keep succeeding.
#[test]
fn stalled_handshakes_are_cut_by_the_handshake_timeout() {
    let m = Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--tls-handshake-timeout", "1"])
        .spawn();
    let legit = Legit::tls(m.addr());
    // Half of them send the first bytes of a ClientHello record, half nothing.
    let started = Instant::now();
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut c = TcpStream::connect(m.addr()).unwrap();
            if i % 2 == 0 {
                c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            }
            c.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
            c
        })
        .collect();
    for c in &mut conns {
        let mut buf = [0u8; 64];
        // EOF or reset: the worker closed it (a timeout here fails the test below).
        let r = c.read(&mut buf);
        assert!(
            !matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{r:?}"
        );
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "stalled handshakes closed after {took:?}"
    );
    legit.finish(10);
}

// ===== HTTP/2 =====

fn h2_server(extra: &[&str]) -> Master {
    Master::probe()
        .args(tls_args())
        .args(["-w", "1", "--http-protocols", "h2,h1"])
        .args(extra.iter().copied())
        .spawn()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type H2Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls_connect(addr: SocketAddr) -> H2Tls {
    let cfg = client_config(&Opts {
        alpn: vec![b"h2"],
        ..Opts::default()
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    tls
}

fn get_req(path: &str) -> http::Request<()> {
    http::Request::get(format!("https://localhost{path}"))
        .body(())
        .unwrap()
}

/// A field value with whitespace at either end is malformed over HTTP/2 (RFC 9113
/// §8.2.1): that stream gets a 400 and the connection goes on. Before, the app got
/// `HTTP_X_PADDED='  v  '`.
#[test]
fn an_http2_field_value_padded_with_whitespace_gets_a_400() {
    let m = h2_server(&[]);
    let addr = m.addr();
    rt().block_on(async move {
        let (mut send, conn) = h2::client::handshake(tls_connect(addr).await)
            .await
            .unwrap();
        tokio::spawn(conn);
        for (value, status) in [("  v  ", 400), ("v\t", 400), ("v w", 200)] {
            let mut req = get_req("/");
            req.headers_mut()
                .insert("x-padded", http::HeaderValue::from_str(value).unwrap());
            let (resp, _) = send.send_request(req, true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{value:?}");
            send = send.ready().await.unwrap();
        }
    });
}

/// An idle HTTP/2 connection (no open stream) is closed after `--keep-alive`; one that
/// never sends a request, and one that never even sends the connection preface, after
/// `--header-timeout`.
#[test]
fn idle_http2_connections_are_closed_at_their_deadlines() {
    let m = h2_server(&["--keep-alive", "1", "--header-timeout", "2"]);
    let legit = Legit::tls(m.addr());
    let addr = m.addr();
    rt().block_on(async move {
        // After one request: keep-alive.
        let (mut send, conn) = h2::client::handshake(tls_connect(addr).await)
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        let (resp, _) = send.send_request(get_req("/"), true).unwrap();
        let mut body = resp.await.unwrap().into_body();
        while body.data().await.is_some() {}
        let idle_from = Instant::now();
        // Before any request: the header deadline.
        let (send2, conn2) = h2::client::handshake(tls_connect(addr).await)
            .await
            .unwrap();
        let conn2 = tokio::spawn(conn2);
        // TLS done, no preface at all.
        let mut silent = tls_connect(addr).await;
        let ended = tokio::time::timeout(Duration::from_secs(4), conn).await;
        let idle_took = idle_from.elapsed();
        // GOAWAY, then the close (the client may see it as a broken pipe).
        assert!(matches!(ended, Ok(Ok(_))), "{ended:?}");
        assert!(
            idle_took >= Duration::from_millis(700) && idle_took < Duration::from_secs(3),
            "idle connection closed after {idle_took:?}"
        );
        let ended = tokio::time::timeout(Duration::from_secs(4), conn2).await;
        assert!(matches!(ended, Ok(Ok(_))), "{ended:?}");
        let mut buf = [0u8; 256];
        use tokio::io::AsyncReadExt;
        let r = tokio::time::timeout(Duration::from_secs(3), async {
            // The server's SETTINGS, then EOF.
            loop {
                match silent.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(r.is_ok(), "a connection that sent no preface is still open");
        drop((send, send2));
    });
    legit.finish(10);
}

/// Streams whose responses wait on a flow-control window the client never opens are
/// reset at `--send-timeout`, counted as send timeouts, and the connection is then idle.
#[test]
fn zero_window_streams_are_reset_at_the_send_timeout() {
    let m = h2_server(&[
        "--send-timeout",
        "1",
        "--keep-alive",
        "1",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let maddr = crate::observe::metrics_addr(&m);
    let legit = Legit::tls(m.addr());
    let addr = m.addr();
    let closed = rt().block_on(async move {
        let (mut send, conn) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, bytes::Bytes>(tls_connect(addr).await)
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        let started = Instant::now();
        let mut streams = Vec::new();
        for _ in 0..20 {
            let (resp, _) = send.send_request(get_req("/big?ms=1000000"), true).unwrap();
            streams.push(resp);
        }
        for resp in streams {
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut body = resp.into_body();
            let r = tokio::time::timeout(Duration::from_secs(5), body.data()).await;
            let reset = match r {
                Ok(Some(Err(e))) => e.reason() == Some(h2::Reason::CANCEL),
                _ => false,
            };
            assert!(reset, "a zero-window stream was not reset");
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(4),
            "streams reset after {took:?}"
        );
        // No stream left: the idle deadline closes the connection.
        let ended = tokio::time::timeout(Duration::from_secs(4), conn).await;
        drop(send);
        ended.is_ok()
    });
    assert!(closed, "the connection stayed open: {}", m.log());
    assert!(
        eventually(Duration::from_secs(5), || metric(
            maddr,
            "runicorn_slow_client_timeouts_total{kind=\"send\"}"
        ) >= 20.0),
        "stream resets are not counted"
    );
    legit.finish(10);
}

/// Rapid reset: streams opened and reset at once, over and over. h2 closes the connection
/// with GOAWAY ENHANCE_YOUR_CALM; the error log gets one warning naming the peer (not one
/// per connection from h2 without it), and others are served all along.
#[test]
fn rapid_reset_is_closed_and_logged_once_with_the_peer() {
    let m = h2_server(&[]);
    let legit = Legit::tls(m.addr());
    let addr = m.addr();
    let closed = rt().block_on(async move {
        let mut calm = 0;
        for _ in 0..3 {
            let (mut send, conn) = h2::client::handshake(tls_connect(addr).await)
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            for _ in 0..200 {
                let Ok((_, mut stream)) = send.send_request(get_req("/"), false) else {
                    break;
                };
                stream.send_reset(h2::Reason::CANCEL);
            }
            // The client sees the GOAWAY or the close, depending on timing.
            if tokio::time::timeout(Duration::from_secs(5), conn)
                .await
                .is_ok()
            {
                calm += 1;
            }
        }
        calm
    });
    assert_eq!(closed, 3, "{}", m.log());
    assert!(
        m.wait_for_log("closed for abuse", Duration::from_secs(3))
            .is_some(),
        "{}",
        m.log()
    );
    assert_eq!(m.count("closed for abuse"), 1, "{}", m.log());
    let line = m
        .wait_for_log("closed for abuse", Duration::ZERO)
        .unwrap_or_default();
    assert!(
        line.contains("127.0.0.1:") && line.contains("excessive load"),
        "{line}"
    );
    assert_eq!(m.count("WARNING] recv_reset"), 0, "{}", m.log());
    legit.finish(10);
}

/// SETTINGS and PING floods: each frame makes the server write an acknowledgement, so a
/// client streaming them keeps a worker busy indefinitely. Past the per-connection budget
/// the connection is closed, one warning names the peer, and others are served all along.
#[test]
fn settings_and_ping_floods_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = h2_server(&[]);
    let legit = Legit::tls(m.addr());
    let addr = m.addr();
    let outcomes = rt().block_on(async move {
        let mut outcomes = Vec::new();
        for ty in [0x6u8, 0x4] {
            let tls = tls_connect(addr).await;
            let (mut rd, mut wr) = tokio::io::split(tls);
            // Read (and drop) the acknowledgements, so the server is never blocked on us.
            let reader = tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0usize;
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return total,
                        Ok(n) => total += n,
                    }
                }
            });
            let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
            wr.write_all(&out).await.unwrap();
            // 50,000 frames, at most a second's worth of writing: the budget is 500 at once.
            let payload_len = if ty == 0x6 { 8u8 } else { 0 };
            let mut frame = vec![0, 0, payload_len, ty, 0, 0, 0, 0, 0];
            frame.resize(9 + usize::from(payload_len), 0);
            let batch = frame.repeat(1000);
            let started = Instant::now();
            let mut sent = 0;
            for _ in 0..50 {
                if wr.write_all(&batch).await.is_err() {
                    break;
                }
                sent += 1000;
            }
            let closed = tokio::time::timeout(Duration::from_secs(5), reader).await;
            outcomes.push((ty, sent, closed.is_ok(), started.elapsed()));
        }
        outcomes
    });
    for (ty, sent, closed, took) in &outcomes {
        assert!(
            closed,
            "frame type {ty}: the connection stayed open after {sent} frames ({took:?})\n{}",
            m.log()
        );
    }
    assert!(
        m.wait_for_log("flood detected from 127.0.0.1:", Duration::from_secs(3))
            .is_some(),
        "{}",
        m.log()
    );
    assert_eq!(m.count("flood detected"), 1, "rate-limited:\n{}", m.log());
    legit.finish(10);
}

/// A raw HTTP/2 frame (9-byte header, then the payload).
fn h2_frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Writes `frames` after the connection preface on a fresh HTTP/2 connection while a task
/// reads and drops what the server sends; true when the server closed the connection
/// within 5 s.
fn h2_raw_closed(addr: SocketAddr, frames: Vec<Vec<u8>>) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt().block_on(async move {
        let (mut rd, mut wr) = tokio::io::split(tls_connect(addr).await);
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        out.extend(h2_frame(0x4, 0, 0, &[]));
        let _ = wr.write_all(&out).await;
        for f in frames {
            if wr.write_all(&f).await.is_err() {
                break;
            }
        }
        tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .is_ok()
    })
}

/// CONTINUATION floods (a header block that never ends, in empty or full frames) and an
/// HPACK bomb (one 4 KB table entry referenced a thousand times: 4 MB of headers from
/// 5 KB) are refused by the HTTP/2 engine's limits; the worker survives and others are
/// served all along.
#[test]
fn continuation_floods_and_hpack_bombs_are_refused() {
    let m = h2_server(&[]);
    let legit = Legit::tls(m.addr());
    // :method GET, :scheme https, :path /, :authority localhost (not indexed).
    let mut start = vec![0x82, 0x87, 0x84, 0x01, 9];
    start.extend_from_slice(b"localhost");
    for payload in [Vec::new(), vec![0x40; 16_000]] {
        let mut frames = vec![h2_frame(0x1, 0, 1, &start)];
        let n = if payload.is_empty() { 100_000 } else { 2_000 };
        frames.extend((0..n).map(|_| h2_frame(0x9, 0, 1, &payload)));
        assert!(
            h2_raw_closed(m.addr(), frames),
            "a CONTINUATION flood ({} bytes a frame) kept its connection\n{}",
            payload.len(),
            m.log()
        );
    }
    // The bomb: a literal with incremental indexing (x-bomb: 4,000 x 'a'), then its index
    // (62) a thousand times, in one HEADERS frame that ends the headers and the stream.
    let mut block = start.clone();
    block.extend_from_slice(&[0x40, 6]);
    block.extend_from_slice(b"x-bomb");
    block.extend_from_slice(&[0x7f, 0xa1, 0x1e]); // 4000 as a 7-bit-prefix integer
    block.extend(std::iter::repeat_n(b'a', 4000));
    block.extend(std::iter::repeat_n(0xbe, 1000));
    let bombs: Vec<Vec<u8>> = (0..50u32)
        .map(|i| h2_frame(0x1, 0x5, 1 + 2 * i, &block))
        .collect();
    // The connection may stay open (each stream is refused alone) or be closed: either is
    // fine; the worker must not spend 4 MB per stream nor die.
    let _ = h2_raw_closed(m.addr(), bombs);
    legit.finish(10);
    assert_eq!(
        m.count("Booting worker"),
        1,
        "the worker died:\n{}",
        m.log()
    );
}

/// Idle HTTP/2 connections (handshake, preface and SETTINGS done, no stream opened) filling
/// every slot: the worker reclaims them with GOAWAY for new clients, who keep being served;
/// the metrics count them. Long idle deadlines make reclamation the only way out.
#[test]
fn idle_http2_connections_cannot_exhaust_the_slots() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = h2_server(&[
        "--worker-connections",
        "100",
        "--keep-alive",
        "60",
        "--header-timeout",
        "60",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let maddr = crate::observe::metrics_addr(&m);
    let addr = m.addr();
    let (ok, failed, reclaimed) = rt().block_on(async move {
        let closed = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let tls = tls_connect(addr).await;
            let closed = closed.clone();
            tasks.push(tokio::spawn(async move {
                let (mut rd, mut wr) = tokio::io::split(tls);
                let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                out.extend(h2_frame(0x4, 0, 0, &[]));
                let _ = wr.write_all(&out).await;
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = rd.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                closed.fetch_add(1, Ordering::Relaxed);
            }));
        }
        // Let the idle connections settle, then a client making fresh requests arrives.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let legit = Legit::tls(addr);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (ok, failed) = legit.finish(10);
        for t in tasks {
            t.abort();
        }
        (ok, failed, closed.load(Ordering::Relaxed))
    });
    assert!(reclaimed > 0, "no idle HTTP/2 connection was reclaimed");
    assert!(
        eventually(Duration::from_secs(5), || metric(
            maddr,
            "runicorn_reclaimed_connections_total"
        ) >= 1.0),
        "reclaimed connections are not in the metrics"
    );
    eprintln!(
        "HTTP/2 slot exhaustion: legitimate {ok} ok / {failed} failed; {reclaimed} reclaimed"
    );
}

fn post_req(path: &str) -> http::Request<()> {
    http::Request::post(format!("https://localhost{path}"))
        .body(())
        .unwrap()
}

/// Reads an h2 response body to its end: the bytes, or the stream error's reason.
async fn h2_body(mut body: h2::RecvStream) -> Result<Vec<u8>, Option<h2::Reason>> {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| e.reason())?;
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// HTTP/2 request bodies under `--body-timeout`, all on one connection: a body that
/// stalls before the app answered gets a 408; one that stalls after the response began is
/// reset; a steady upload and a body held back by the app not reading (its window shut,
/// not the client's fault) are served; the connection serves on after the cuts, and the
/// cuts are counted as body timeouts.
#[test]
fn stalled_http2_request_bodies_are_cut_at_the_body_timeout() {
    let m = h2_server(&["--body-timeout", "1", "--metrics-bind", "127.0.0.1:0"]);
    let maddr = crate::observe::metrics_addr(&m);
    let legit = Legit::tls(m.addr());
    let addr = m.addr();
    rt().block_on(async move {
        let (mut send, conn) = h2::client::handshake(tls_connect(addr).await)
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        let started = Instant::now();
        // Stalls before the app (which reads the whole body first) answers.
        let (stalled, mut s1) = send.send_request(post_req("/upload"), false).unwrap();
        s1.send_data(bytes::Bytes::from_static(b"abc"), false)
            .unwrap();
        // Stalls after the app began its response.
        let (early, mut s2) = send.send_request(post_req("/early"), false).unwrap();
        s2.send_data(bytes::Bytes::from_static(b"abc"), false)
            .unwrap();
        // The app does not read for 3 s: 200 KB wait on the shut window meanwhile.
        let (unread, mut s3) = send
            .send_request(post_req("/sleep?ms=3000"), false)
            .unwrap();
        s3.send_data(bytes::Bytes::from(vec![b'u'; 200_000]), true)
            .unwrap();
        // A steady upload: 1 KB every 300 ms for 2.4 s.
        let (steady, mut s4) = send.send_request(post_req("/upload"), false).unwrap();
        let uploader = tokio::spawn(async move {
            for i in 0..8 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                s4.send_data(bytes::Bytes::from(vec![b's'; 1000]), i == 7)
                    .unwrap();
            }
        });

        let resp = tokio::time::timeout(Duration::from_secs(5), stalled)
            .await
            .expect("the stalled upload got no answer")
            .unwrap();
        assert_eq!(resp.status(), 408);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(4), "408 after {took:?}");

        let resp = early.await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = tokio::time::timeout(Duration::from_secs(5), h2_body(resp.into_body()))
            .await
            .expect("the early response was neither ended nor reset");
        assert_eq!(body, Err(Some(h2::Reason::CANCEL)));

        let resp = unread.await.unwrap();
        assert_eq!(resp.status(), 200, "a body the app did not read was cut");
        assert_eq!(h2_body(resp.into_body()).await.unwrap(), b"slept 3000");

        uploader.await.unwrap();
        let resp = steady.await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(h2_body(resp.into_body()).await.unwrap(), b"read 8000");

        // The connection is still in order.
        let (resp, _) = send.send_request(get_req("/"), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(h2_body(resp.into_body()).await.unwrap(), b"Hello, World!");
        drop(send);
        conn.abort();
    });
    assert!(
        eventually(Duration::from_secs(5), || metric(
            maddr,
            "runicorn_slow_client_timeouts_total{kind=\"body\"}"
        ) >= 2.0),
        "body cuts are not counted: {}",
        m.log()
    );
    legit.finish(10);
}

/// The worker of a one-worker server.
fn worker_of(m: &Master) -> i32 {
    assert!(
        eventually(Duration::from_secs(10), || m.children().len() == 1),
        "{}",
        m.log()
    );
    m.children()[0]
}

/// Stream-count exhaustion: connections each holding as many streams as the server allows
/// (`--http2-max-concurrent-streams`, 100) with request bodies never finished. The cap
/// bounds what one connection costs, the body deadline then cuts every stream (408), and
/// the connections, idle again, are closed at `--keep-alive`. A client beside is served
/// all along and the worker's memory stays bounded.
#[test]
fn streams_held_open_cannot_lock_others_out() {
    const CONNS: usize = 10;
    let m = h2_server(&["--body-timeout", "2", "--keep-alive", "1"]);
    let worker = worker_of(&m);
    let legit = Legit::tls(m.addr());
    let before = rss_kb(worker);
    let addr = m.addr();
    let (cut, closed, during) = rt().block_on(async move {
        let (mut conns, mut sends, mut streams) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..CONNS {
            let (mut send, conn) = h2::client::handshake(tls_connect(addr).await)
                .await
                .unwrap();
            conns.push(tokio::spawn(conn));
            for _ in 0..100 {
                streams.push(send.send_request(post_req("/upload"), false).unwrap());
            }
            sends.push(send);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let during = rss_kb(worker);
        let mut cut = 0;
        for (resp, _body) in streams {
            if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(10), resp).await
                && r.status() == 408
            {
                cut += 1;
            }
        }
        drop(sends);
        let mut closed = 0;
        for c in conns {
            if tokio::time::timeout(Duration::from_secs(5), c)
                .await
                .is_ok()
            {
                closed += 1;
            }
        }
        (cut, closed, during)
    });
    eprintln!("{CONNS} x 100 held streams: worker RSS {before} -> {during} KiB");
    assert_eq!(cut, CONNS * 100, "{}", m.log());
    assert_eq!(
        closed, CONNS,
        "connections left open after their streams were cut"
    );
    assert!(
        during < before + 100 * 1024,
        "worker RSS {before} -> {during} KiB"
    );
    legit.finish(10);
}

/// Memory pinned by zero-window streams (responses queued for a client that never opens
/// its window: here 10 connections x 50 streams x 200 KB) is released when
/// `--send-timeout` resets them (freed, and handed back to the system: glibc would keep
/// it), while a client beside is served.
#[test]
fn memory_pinned_by_zero_window_streams_is_released_at_the_reset() {
    let m = h2_server(&["--send-timeout", "2", "--keep-alive", "30"]);
    let worker = worker_of(&m);
    let legit = Legit::tls(m.addr());
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kb(worker);
    let addr = m.addr();
    let (during, after, reset) = rt().block_on(async move {
        let (mut conns, mut sends, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..10 {
            let (mut send, conn) = h2::client::Builder::new()
                .initial_window_size(0)
                .handshake::<_, bytes::Bytes>(tls_connect(addr).await)
                .await
                .unwrap();
            conns.push(tokio::spawn(conn));
            for _ in 0..50 {
                let (resp, _) = send.send_request(get_req("/big?ms=200000"), true).unwrap();
                pending.push(resp);
            }
            sends.push(send);
        }
        let mut bodies = Vec::new();
        for resp in pending {
            bodies.push(resp.await.unwrap().into_body());
        }
        let during = rss_kb(worker);
        let mut reset = 0;
        for mut b in bodies {
            let r = tokio::time::timeout(Duration::from_secs(10), b.data()).await;
            if let Ok(Some(Err(e))) = r
                && e.reason() == Some(h2::Reason::CANCEL)
            {
                reset += 1;
            }
        }
        // Freed at the reset, handed back to the system within a few heartbeats.
        let mut after = rss_kb(worker);
        let since = Instant::now();
        while after >= before + (during - before) / 4 && since.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            after = rss_kb(worker);
        }
        drop(sends);
        (during, after, reset)
    });
    eprintln!("500 zero-window streams: worker RSS {before} -> {during} -> {after} KiB");
    assert_eq!(reset, 500);
    assert!(
        during > before + 50 * 1024,
        "the stalled streams pinned no memory: {before} -> {during} KiB"
    );
    assert!(
        after < before + (during - before) / 4,
        "not released: {before} -> {during} -> {after} KiB"
    );
    legit.finish(10);
}

/// 1,000 idle HTTP/2 connections (preface and SETTINGS, no stream) against one worker
/// with default settings (1,000 slots, `--keep-alive` 2 s, `--header-timeout` 10 s),
/// re-opened as they close: a client making fresh requests keeps ≥ 99% success, idle
/// connections are reclaimed for it, and the worker's memory stays bounded.
#[test]
fn a_thousand_idle_http2_connections_with_default_settings() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const N: u64 = 1000;
    let m = h2_server(&["--metrics-bind", "127.0.0.1:0"]);
    let maddr = crate::observe::metrics_addr(&m);
    let worker = worker_of(&m);
    let before = rss_kb(worker);
    let addr = m.addr();
    let (ok, failed, peak, opened) = rt().block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicU64::new(0));
        let opened = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..N {
            let (stop, open, opened) = (stop.clone(), open.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let tcp = match tokio::net::TcpStream::connect(addr).await {
                        Ok(t) => t,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let cfg = client_config(&Opts {
                        alpn: vec![b"h2"],
                        ..Opts::default()
                    });
                    let name = ServerName::try_from("localhost").unwrap();
                    let Ok(tls) = tokio_rustls::TlsConnector::from(cfg)
                        .connect(name, tcp)
                        .await
                    else {
                        continue;
                    };
                    let (mut rd, mut wr) = tokio::io::split(tls);
                    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                    out.extend(h2_frame(0x4, 0, 0, &[]));
                    if wr.write_all(&out).await.is_err() {
                        continue;
                    }
                    open.fetch_add(1, Ordering::Relaxed);
                    opened.fetch_add(1, Ordering::Relaxed);
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = rd.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                }
            }));
        }
        let filled = Instant::now();
        while open.load(Ordering::Relaxed) < N * 9 / 10
            && filled.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "{} idle HTTP/2 connections open after {:?}",
            open.load(Ordering::Relaxed),
            filled.elapsed()
        );
        let peak = Arc::new(AtomicU64::new(rss_kb(worker)));
        let legit = Legit::tls(addr);
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kb(worker), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (ok, failed) = tokio::task::spawn_blocking(move || legit.finish(10))
            .await
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        sampler.abort();
        for t in tasks {
            t.abort();
        }
        (
            ok,
            failed,
            peak.load(Ordering::Relaxed),
            opened.load(Ordering::Relaxed),
        )
    });
    eprintln!(
        "1,000 idle HTTP/2 connections: legitimate {ok} ok / {failed} failed; {opened} \
         opened; worker RSS {before} -> peak {peak} KiB"
    );
    assert!(
        metric(maddr, "runicorn_reclaimed_connections_total") >= 1.0,
        "no idle connection was reclaimed for the legitimate client"
    );
    assert!(
        peak < before + 300 * 1024,
        "worker RSS {before} -> {peak} KiB"
    );
}
