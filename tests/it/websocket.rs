//! WebSockets on `examples/ws_echo.rs`: the `websockets` Python client for the protocol
//! (text, binary, 1 MB, fragments, ping, close codes both ways, subprotocol, deflate, the
//! size limit, 1,000 sockets on one worker), a raw socket for what no library sends (bad
//! frames, malformed upgrades), and the drain's close 1001.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::*;

fn server(args: &[&str]) -> Master {
    Master::example("ws_echo")
        .args(args.iter().copied())
        .spawn()
}

/// Runs a scenario of `tests/apps/ws_client.py`.
fn python(scenario: &str, addr: SocketAddr, m: &Master) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps/ws_client.py");
    let out = std::process::Command::new("python3")
        .args([script, scenario, &addr.to_string()])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{scenario} (needs `pip install websockets`): {}\n{stdout}\n{}\nserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        m.log()
    );
}

#[test]
fn websockets_client_text_binary_fragments_ping_close_codes_subprotocol_deflate() {
    let m = server(&[]);
    python("basic", m.addr(), &m);
}

#[test]
fn a_message_over_the_limit_closes_1009_even_when_it_inflates_past_it() {
    let m = server(&["--websocket-max-message-size", "100000"]);
    python("too_big", m.addr(), &m);
    assert_eq!(m.count("not supported"), 0, "the setting is supported");
}

#[test]
fn a_thousand_sockets_on_one_worker() {
    let m = server(&["-w", "1", "--worker-connections", "1100"]);
    python("many", m.addr(), &m);
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Opens a socket and completes the handshake; returns it after the 101 head.
fn open(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let head = read_head(&mut r);
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    r
}

fn read_head(r: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            return head;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
}

/// A client frame: `first` byte as given, masked payload unless `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut v = vec![first];
    let m = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        v.push(m | payload.len() as u8);
    } else {
        v.push(m | 126);
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    if masked {
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

/// Reads one server frame: (opcode, payload).
fn read_frame(r: &mut BufReader<TcpStream>) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    r.read_exact(&mut p).unwrap();
    (h[0] & 0x0F, p)
}

fn close_code(r: &mut BufReader<TcpStream>) -> u16 {
    let (op, p) = read_frame(r);
    assert_eq!(op, 8, "a close frame");
    u16::from_be_bytes([p[0], p[1]])
}

#[test]
fn bad_frames_get_their_close_codes_and_the_worker_keeps_serving() {
    let m = server(&["-w", "1"]);
    let cases: &[(&str, Vec<u8>, u16)] = &[
        ("unmasked", frame(0x81, b"hi", false), 1002),
        ("bad UTF-8", frame(0x81, &[0xC3, 0x28], true), 1007),
        ("oversize control", frame(0x89, &[0; 126], true), 1002),
        ("reserved opcode", frame(0x83, b"x", true), 1002),
        ("reserved control opcode", frame(0x8B, b"", true), 1002),
        ("rsv2", frame(0xA1, b"x", true), 1002),
        ("rsv1 without deflate", frame(0xC1, b"x", true), 1002),
        ("fragmented ping", frame(0x09, b"", true), 1002),
        ("stray continuation", frame(0x80, b"x", true), 1002),
        (
            "bad close code",
            frame(0x88, &999u16.to_be_bytes(), true),
            1002,
        ),
    ];
    for (what, bytes, want) in cases {
        let mut r = open(m.addr());
        // A good message first: the socket works until the bad frame.
        r.get_mut().write_all(&frame(0x81, b"ok", true)).unwrap();
        assert_eq!(read_frame(&mut r), (1, b"ok".to_vec()), "{what}");
        r.get_mut().write_all(bytes).unwrap();
        assert_eq!(close_code(&mut r), *want, "{what}");
        let mut rest = Vec::new();
        let _ = r.read_to_end(&mut rest);
        assert!(
            rest.is_empty(),
            "{what}: the server closes after its close frame"
        );
    }
    // Ping, then a clean close the server echoes.
    let mut r = open(m.addr());
    r.get_mut().write_all(&frame(0x89, b"p1", true)).unwrap();
    assert_eq!(read_frame(&mut r), (10, b"p1".to_vec()));
    let mut p = 4100u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"done");
    r.get_mut().write_all(&frame(0x88, &p, true)).unwrap();
    assert_eq!(close_code(&mut r), 4100);
    assert_eq!(
        get(m.addr(), "/").unwrap().0,
        200,
        "the worker still serves"
    );
    assert_eq!(m.children().len(), 1);
}

#[test]
fn malformed_upgrades_are_refused_and_the_connection_keeps_serving_http() {
    let m = server(&[]);
    let base = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let cases: &[(&str, String, u16)] = &[
        (
            "no key",
            format!("{base}Sec-WebSocket-Version: 13\r\n\r\n"),
            400,
        ),
        (
            "short key",
            format!("{base}Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            400,
        ),
        (
            "version 8",
            format!("{base}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"),
            426,
        ),
        (
            "no version",
            format!("{base}Sec-WebSocket-Key: {KEY}\r\n\r\n"),
            400,
        ),
        (
            "a body",
            format!(
                "{base}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
                 Content-Length: 5\r\n\r\nhello"
            ),
            400,
        ),
        (
            "POST",
            format!(
                "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
            ),
            400,
        ),
    ];
    for (what, req, want) in cases {
        let mut s = TcpStream::connect(m.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The refused upgrade and a plain request in one write: the edge held the second
        // until the app answered the first, then parsed it as HTTP/1.
        s.write_all(format!("{req}GET / HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut c = Conn::from_stream(s);
        let r1 = c.read_response().unwrap();
        assert_eq!(r1.status, *want, "{what}");
        if *want == 426 {
            assert_eq!(r1.header("sec-websocket-version"), Some("13"));
        }
        let r2 = c.read_response().unwrap();
        assert_eq!(
            (r2.status, &r2.body[..]),
            (200, &b"plain HTTP\n"[..]),
            "{what}"
        );
    }
    // An app that denies with its own response.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /deny HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut c = Conn::from_stream(s);
    assert_eq!(c.read_response().unwrap().status, 403);
    assert_eq!(c.read_response().unwrap().status, 200);
    assert_eq!(m.children().len(), 1, "no worker died");
}

#[test]
fn bytes_sent_right_after_the_handshake_reach_the_socket() {
    let m = server(&[]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    req.extend(frame(0x81, b"early", true));
    s.write_all(&req).unwrap();
    let mut r = BufReader::new(s);
    assert!(read_head(&mut r).starts_with("http/1.1 101"));
    assert_eq!(read_frame(&mut r), (1, b"early".to_vec()));
}

#[test]
fn a_draining_worker_closes_open_sockets_with_1001_and_exits() {
    let m = server(&["--graceful-timeout", "20"]);
    let mut r = open(m.addr());
    r.get_mut().write_all(&frame(0x81, b"hi", true)).unwrap();
    assert_eq!(read_frame(&mut r), (1, b"hi".to_vec()));
    let start = std::time::Instant::now();
    m.signal(Signal::SIGTERM);
    assert_eq!(close_code(&mut r), 1001, "log:\n{}", m.log());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "at the start of the drain"
    );
    r.get_mut()
        .write_all(&frame(0x88, &1001u16.to_be_bytes(), true))
        .unwrap();
    let mut m = m;
    assert_eq!(m.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        m.log().contains("Closing 1 WebSocket(s) with 1001"),
        "{}",
        m.log()
    );
}

/// Keep-alive: a silent peer is pinged after `--websocket-ping-interval` and, answering
/// nothing, closed with 1011 after another interval; a peer that answers the pings (and
/// sends nothing else) stays open and keeps being served.
#[test]
fn silent_peers_are_pinged_and_closed_and_answering_peers_stay() {
    let m = server(&["--websocket-ping-interval", "1"]);
    let mut silent = open(m.addr());
    let mut answering = open(m.addr());
    let opened = std::time::Instant::now();
    // The other peer answers every ping from the start, and sends nothing else.
    let answerer = std::thread::spawn(move || {
        let mut pongs = 0;
        while opened.elapsed() < Duration::from_millis(3500) {
            let (op, payload) = read_frame(&mut answering);
            assert_eq!(op, 9, "only pings while the peer is quiet");
            answering
                .get_mut()
                .write_all(&frame(0x8A, &payload, true))
                .unwrap();
            pongs += 1;
        }
        (answering, pongs)
    });

    let (op, payload) = read_frame(&mut silent);
    let pinged_after = opened.elapsed();
    assert_eq!((op, payload.as_slice()), (9, &b"runicorn"[..]));
    assert!(
        pinged_after >= Duration::from_millis(700) && pinged_after < Duration::from_secs(4),
        "pinged after {pinged_after:?}"
    );
    assert_eq!(close_code(&mut silent), 1011);
    let closed_after = opened.elapsed();
    assert!(
        closed_after >= Duration::from_millis(1700) && closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);

    // The answering peer: still open after more than three intervals, still echoing.
    let (mut answering, pongs) = answerer.join().unwrap();
    assert!(pongs >= 2, "{pongs} pings in 3.5 s");
    answering
        .get_mut()
        .write_all(&frame(0x81, b"still here", true))
        .unwrap();
    loop {
        let (op, payload) = read_frame(&mut answering);
        if op == 9 {
            continue;
        }
        assert_eq!((op, payload.as_slice()), (1, &b"still here"[..]));
        break;
    }
}
