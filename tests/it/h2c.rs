//! HTTP/2 over cleartext TCP (`--http2-cleartext`): curl with prior knowledge and with
//! `Upgrade: h2c`, h2load, and plain HTTP/1.1 on the same port; each mode enabling only
//! its mechanism; untrusted peers served HTTP/1.x; inputs that only resemble h2c refused
//! or answered over HTTP/1.1; HTTP/2's deadlines and flood cap on h2c connections;
//! Gunicorn 27.0.1 side by side; the ASGI host over h2c.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// curl's HTTP2-Settings: 100 streams, a 10 MiB window, no push.
const SETTINGS: &str = "AAMAAABkAAQAoAAAAAIAAAAA";

fn server(bin: &str, extra: &[&str]) -> Master {
    Master::example(bin)
        .args(["-w", "1"])
        .args(extra.iter().copied())
        .spawn()
}

fn h2c(bin: &str, mode: &str, extra: &[&str]) -> Master {
    let mut args = vec!["--http-protocols", "h2,h1", "--http2-cleartext", mode];
    args.extend_from_slice(extra);
    server(bin, &args)
}

/// curl with `args`: (stdout, stderr); the last stdout line is `<http_version> <status>`.
fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// Sends `data`, then reads until the server closes or 3 s pass without a byte.
fn raw(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(data).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An `Upgrade: h2c` GET as curl sends it, with `extra` header lines.
fn upgrade_get(version: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET / {version}\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
         HTTP2-Settings: {SETTINGS}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// The preface and an empty SETTINGS frame, as a prior-knowledge client opens.
fn preface() -> Vec<u8> {
    [PREFACE, &[0, 0, 0, 0x4, 0, 0, 0, 0, 0]].concat()
}

/// Whether the bytes open with the server's HTTP/2 SETTINGS frame.
fn is_http2(b: &[u8]) -> bool {
    b.len() >= 9 && b[3] == 0x4 && b[4] == 0 && !b.starts_with(b"HTTP/")
}

fn json(text: &str) -> serde_json::Value {
    let body = text.rsplit_once('\n').map_or(text, |(b, _)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

#[test]
fn prior_knowledge_upgrade_and_http1_share_one_port() {
    let m = h2c("echo", "both", &[]);
    let a = m.addr();
    // Prior knowledge.
    let (out, err) = curl(&["--http2-prior-knowledge", &url(a, "/pk?x=1")]);
    assert_eq!(last_line(&out), "2 200", "{out}{err}");
    let j = json(&out);
    assert_eq!(j["version"], "HTTP/2.0");
    // As over HTTP/1: the origin form, and `:authority` as the Host header.
    assert_eq!(j["target"], "/pk?x=1", "{j}");
    // Upgrade: 101, then the request is answered as HTTP/2 stream 1, without the
    // HTTP/1.1 connection's own headers, and the next request reuses the connection.
    let (out, err) = curl(&[
        "-v",
        "--http2",
        "-H",
        "X-Test: yes",
        &url(a, "/up"),
        &url(a, "/again"),
    ]);
    assert!(err.contains("< HTTP/1.1 101 Switching Protocols"), "{err}");
    assert!(err.contains("Re-using existing connection"), "{err}");
    assert_eq!(err.matches("< HTTP/2 200").count(), 2, "{err}");
    let first = out.split("\n2 200").next().unwrap();
    let j = json(first);
    assert_eq!(j["version"], "HTTP/2.0");
    assert_eq!(j["target"], "/up");
    let names: Vec<String> = j["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"x-test".to_string()), "{names:?}");
    for hop in ["connection", "upgrade", "http2-settings"] {
        assert!(!names.contains(&hop.to_string()), "{hop} in {names:?}");
    }
    // The upgrade request's Host went into `:authority`, and comes back as Host once.
    assert_eq!(
        names.iter().filter(|n| *n == "host").count(),
        1,
        "{names:?}"
    );
    assert!(out.contains("\"/again\""), "{out}");
    // A POST with a body is not upgraded: answered over HTTP/1.1, body intact.
    let (out, err) = curl(&["-v", "--http2", "-d", "hello=h2c", &url(a, "/post")]);
    assert!(
        err.contains("Upgrade: h2c"),
        "curl offered the upgrade: {err}"
    );
    assert!(!err.contains(" 101 "), "{err}");
    assert_eq!(last_line(&out), "1.1 200", "{out}");
    assert_eq!(json(&out)["body"], "hello=h2c");
    // Plain HTTP/1.1 on the same port.
    let (out, _) = curl(&["--http1.1", &url(a, "/h1")]);
    assert_eq!(last_line(&out), "1.1 200", "{out}");
    assert_eq!(json(&out)["version"], "HTTP/1.1");
}

#[test]
fn h2load_over_h2c_has_no_failures() {
    let m = h2c("probe", "both", &[]);
    let out = Command::new("h2load")
        .args(["-n", "400", "-c", "4", "-m", "10", &url(m.addr(), "/")])
        .output()
        .expect("h2load is installed (nghttp2-client)");
    let out = text(&out.stdout);
    assert!(
        out.contains("400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored"),
        "{out}"
    );
    assert!(out.contains("Application protocol: h2c"), "{out}");
}

/// Default `off`, and `both` without `h2` in `--http-protocols`: today's HTTP/1 only.
#[test]
fn off_and_without_h2_the_port_stays_http1() {
    let off = server("probe", &[]);
    let no_h2 = server("probe", &["--http2-cleartext", "both"]);
    for m in [&off, &no_h2] {
        let r = text(&raw(m.addr(), &preface()));
        assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{r}");
        let r = text(&raw(
            m.addr(),
            &upgrade_get("HTTP/1.1", "Connection: close\r\n"),
        ));
        // (Two Connection lines: the gate joins them; `close` ends the exchange.)
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    }
    assert!(
        no_h2
            .wait_for_log("needs h2 in --http-protocols", Duration::from_secs(5))
            .is_some(),
        "{}",
        no_h2.log()
    );
    assert!(!off.log().contains("http2-cleartext"), "{}", off.log());
}

#[test]
fn each_mode_enables_only_its_mechanism() {
    // prior-knowledge: an Upgrade request is answered over HTTP/1.1 (Gunicorn 27 answers
    // every HTTP/1 request on such a port 400), as is plain HTTP/1.1.
    let pk = h2c("probe", "prior-knowledge", &[]);
    assert!(is_http2(&raw(pk.addr(), &preface())));
    let r = text(&raw(
        pk.addr(),
        &upgrade_get("HTTP/1.1", "Connection: close\r\n"),
    ));
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    // upgrade: the preface is an HTTP/1 request line the edge refuses (as Gunicorn does).
    let up = h2c("probe", "upgrade", &[]);
    let r = text(&raw(up.addr(), &preface()));
    assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{r}");
    let r = raw(up.addr(), &upgrade_get("HTTP/1.1", ""));
    let switching =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    assert!(r.starts_with(switching), "{}", text(&r));
    assert!(is_http2(&r[switching.len()..]), "{}", text(&r));
}

/// Only peers in `--forwarded-allow-ips` may use h2c (as in Gunicorn 27); others are
/// served HTTP/1.x as if it were off.
#[test]
fn untrusted_peers_are_served_http1_as_if_off() {
    let m = h2c("probe", "both", &["--forwarded-allow-ips", "10.9.9.9"]);
    let r = text(&raw(m.addr(), &preface()));
    assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{r}");
    let (out, err) = curl(&["-v", "--http2", &url(m.addr(), "/")]);
    assert!(!err.contains(" 101 "), "{err}");
    assert_eq!(last_line(&out), "1.1 200", "{out}");
    let (out, _) = curl(&["--http2-prior-knowledge", &url(m.addr(), "/")]);
    assert!(!out.ends_with("2 200"), "{out}");
}

/// What only resembles h2c is refused or answered over HTTP/1.1, and the edge's HTTP/1
/// checks still guard an h2c port.
#[test]
fn lookalikes_and_smuggling_type_inputs_are_refused_or_answered_over_http1() {
    let m = h2c("echo", "both", &[]);
    let a = m.addr();
    for lookalike in [
        &b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"[..],
        b"PRI * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\nHost: x\r\n\r\n",
    ] {
        let r = text(&raw(a, lookalike));
        assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{r}");
    }
    // Upgrade with a body (chunked or sized), then a pipelined request: both answered
    // over HTTP/1.1; neither the body nor the next request is read as HTTP/2.
    let next = "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for body in [
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "Content-Length: 5\r\n\r\nhello",
    ] {
        let req = format!(
            "POST /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             Upgrade: h2c\r\nHTTP2-Settings: {SETTINGS}\r\n{body}{next}"
        );
        let r = text(&raw(a, req.as_bytes()));
        assert!(!r.contains(" 101 "), "{r}");
        assert_eq!(r.matches("HTTP/1.1 200 OK").count(), 2, "{r}");
        assert!(r.contains("\"body\":\"hello\""), "{r}");
        assert!(r.contains("\"/next\""), "{r}");
    }
    // Not upgraded: a bad or repeated HTTP2-Settings, Upgrade on HTTP/1.0, Upgrade not
    // named in Connection.
    let cases = [
        upgrade_get("HTTP/1.1", "Connection: close\r\n")
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
            .replace(SETTINGS, "!!not-base64!!"),
        text(&upgrade_get("HTTP/1.1", "Connection: close\r\n")).replace(SETTINGS, "AAIAAAAC"),
        text(&upgrade_get(
            "HTTP/1.1",
            &format!("HTTP2-Settings: {SETTINGS}\r\nConnection: close\r\n"),
        )),
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: {SETTINGS}\r\n\r\n"
        ),
    ];
    for req in &cases {
        let r = text(&raw(a, req.as_bytes()));
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{req:?} -> {r}");
    }
    let r = text(&raw(a, &upgrade_get("HTTP/1.0", "")));
    assert!(r.starts_with("HTTP/1.0 200 OK"), "{r}");
    // The HTTP/1 edge's own refusals, unchanged on an h2c port.
    let r = text(&raw(
        a,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ));
    assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{r}");
}

/// Reads from `s` until EOF or error; how long that took, or None after `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// HTTP/2's deadlines apply to h2c: a stalled partial preface and an upgraded connection
/// that never sends its preface are closed at `--header-timeout`, an idle one after a
/// request at `--keep-alive`; a PING flood is cut off; others are served all along.
/// `--limit-request-body` holds over HTTP/2 as over HTTP/1 (it did not apply at all: 5,000
/// bytes passed a limit of 1,000): a Content-Length over it is refused with the head, a
/// body without one is cut at the DATA frame that passes it, both with 413, and the
/// connection goes on.
#[test]
fn the_body_limit_holds_over_http2() {
    let dir = Scratch::new("h2c-body-limit");
    let m = h2c("echo", "prior-knowledge", &["--limit-request-body", "1000"]);
    let file = |n: usize| {
        let p = dir.path(&format!("{n}.bin"));
        std::fs::write(&p, vec![b'x'; n]).unwrap();
        format!("@{}", p.display())
    };
    let root = url(m.addr(), "/");
    let post = |data: &str, no_length: bool| {
        let mut a = vec!["--http2-prior-knowledge", "-o", "/dev/null"];
        if no_length {
            a.extend(["-H", "Content-Length:"]);
        }
        a.extend(["--data-binary", data, &root]);
        let (out, err) = curl(&a);
        format!(
            "{}{}",
            last_line(&out),
            if err.is_empty() { "" } else { " (curl error)" }
        )
    };
    let (at, over) = (file(1000), file(5000));
    assert_eq!(post(&at, false), "2 200");
    assert_eq!(post(&at, true), "2 200");
    assert_eq!(post(&over, false), "2 413");
    assert_eq!(post(&over, true), "2 413");
    assert!(
        m.wait_for_log("Request body is too large", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    let (out, _) = curl(&["--http2-prior-knowledge", &root]);
    assert_eq!(last_line(&out), "2 200");
}

#[test]
fn h2c_connections_get_http2_deadlines_and_flood_cap() {
    let m = h2c(
        "probe",
        "both",
        &["--keep-alive", "1", "--header-timeout", "2"],
    );
    let a = m.addr();
    // HTTP/1.1 clients on the same port throughout.
    let legit = Load::start(a, 1, "/");
    // Part of the preface, then nothing.
    let mut partial = TcpStream::connect(a).unwrap();
    partial.write_all(&PREFACE[..10]).unwrap();
    // The upgrade, then no preface.
    let mut upgraded = TcpStream::connect(a).unwrap();
    upgraded.write_all(&upgrade_get("HTTP/1.1", "")).unwrap();
    for (what, s) in [
        ("partial preface", &mut partial),
        ("upgraded", &mut upgraded),
    ] {
        let took = closed_within(s, Duration::from_secs(6));
        assert!(
            took.is_some_and(|t| t < Duration::from_secs(5)),
            "{what}: {took:?}"
        );
    }
    // Idle after one request: closed at keep-alive (GOAWAY, then EOF).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(a).await.unwrap();
        let (mut send, conn) = h2::client::handshake(tcp).await.unwrap();
        let conn = tokio::spawn(conn);
        let req = http::Request::get(format!("http://{a}/")).body(()).unwrap();
        let (resp, _) = send.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        while body.data().await.is_some() {}
        let idle = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert!(matches!(ended, Ok(Ok(_))), "{ended:?}");
        let took = idle.elapsed();
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_secs(4),
            "idle h2c connection closed after {took:?}"
        );
        drop(send);
    });
    // A PING flood over prior knowledge: the connection is closed.
    let ping = [0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut flood = preface();
    for _ in 0..2000 {
        flood.extend_from_slice(&ping);
    }
    let mut s = TcpStream::connect(a).unwrap();
    let _ = s.write_all(&flood);
    let took = closed_within(&mut s, Duration::from_secs(5));
    assert!(took.is_some(), "a PING flood over h2c was not cut off");
    let (ok, failed, errors) = legit.finish();
    assert!(
        ok >= 10 && failed == 0,
        "{ok} ok, {failed} failed: {errors:?}"
    );
}

#[cfg(feature = "python")]
mod gunicorn {
    use super::*;

    fn apps() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
    }

    fn start(b: Builder, dir: &Scratch, name: &str, extra: &[&str]) -> Master {
        let sock = dir.path(name);
        b.cwd(apps())
            .args(["-w", "1", "--control-socket", sock.to_str().unwrap()])
            .args(["--http-protocols", "h2,h1"])
            .args(extra.iter().copied())
            .arg("hello:app")
            .spawn()
    }

    /// The request-line and field limits hold over HTTP/2, measured as Gunicorn 27.0.1
    /// measures them there. Gunicorn resets the stream (PROTOCOL_ERROR, no status);
    /// runicorn answers with the status HTTP/1 gets, 431 or 414, which tells the client
    /// why. (runicorn served all three with 200 before.)
    #[test]
    fn http2_requests_get_the_request_limits_as_under_gunicorn() {
        let dir = Scratch::new("h2c-limits");
        let pk = ["--http2-cleartext", "prior-knowledge"];
        let g = start(Master::program(gunicorn_27()), &dir, "g.ctl", &{
            let mut a = vec!["-k", "gthread"];
            a.extend_from_slice(&pk);
            a
        });
        let r = start(Master::runicorn(), &dir, "r.ctl", &pk);
        let mut many = vec!["--http2-prior-knowledge".to_string()];
        for i in 0..150 {
            many.extend(["-H".to_string(), format!("x{i}: 1")]);
        }
        let cookie = format!("Cookie: a={}", "v".repeat(9000));
        let long_path = format!("/{}", "p".repeat(6000));
        for (who, m) in [("gunicorn", &g), ("runicorn", &r)] {
            let mut fields: Vec<&str> = many.iter().map(String::as_str).collect();
            let root = url(m.addr(), "/");
            fields.push(&root);
            let cases = [
                ("150 fields", curl(&fields), "431"),
                (
                    "a 9 KB field",
                    curl(&["--http2-prior-knowledge", "-H", &cookie, &root]),
                    "431",
                ),
                (
                    "a 6 KB path",
                    curl(&["--http2-prior-knowledge", &url(m.addr(), &long_path)]),
                    "414",
                ),
            ];
            for (case, (out, err), status) in cases {
                if who == "gunicorn" {
                    assert_eq!(last_line(&out), "0 000", "{who}, {case}: {out}");
                    assert!(err.contains("PROTOCOL_ERROR"), "{who}, {case}: {err}");
                } else {
                    assert_eq!(
                        last_line(&out),
                        format!("2 {status}"),
                        "{who}, {case}: {err}"
                    );
                }
            }
            // Within the limits: served.
            let (out, err) = curl(&["--http2-prior-knowledge", "-H", "X-A: b", &root]);
            assert_eq!(last_line(&out), "2 200", "{who}: {err}");
        }
    }

    /// Over HTTP/2 a WSGI app and the access log see the request as over HTTP/1, as under
    /// Gunicorn 27.0.1: `:authority` as HTTP_HOST, the origin form as RAW_URI and in
    /// `%(r)s`, the cookie fields as one Cookie. (runicorn gave no HTTP_HOST and
    /// `http://host/p?q=1` before, and joined the cookies with ",".)
    #[test]
    fn http2_requests_reach_wsgi_apps_and_the_log_as_gunicorn_hands_them_over() {
        let dir = Scratch::new("h2c-environ");
        let run = |b: Builder, name: &str, extra: &[&str]| {
            let log = dir.path(&format!("{name}.log"));
            let m = b
                .cwd(apps())
                .args(["-w", "1", "--http-protocols", "h2,h1"])
                .args(["--http2-cleartext", "prior-knowledge"])
                .args(["--access-logfile", log.to_str().unwrap()])
                .args(["--access-logformat", "%(r)s|%({host}i)s"])
                .args(extra.iter().copied())
                .arg("environ_app:app")
                .spawn();
            // Two cookie fields, as browsers and proxies send them over HTTP/2.
            let (out, err) = curl(&[
                "--http2-prior-knowledge",
                "-H",
                "Cookie: a=1",
                "-H",
                "Cookie: b=2",
                &url(m.addr(), "/p?q=1"),
            ]);
            assert_eq!(last_line(&out), "2 200", "{name}: {out}{err}");
            let env = json(&out);
            let authority = m.addr().to_string();
            let logged = || std::fs::read_to_string(&log).unwrap_or_default();
            // runicorn's writer flushes on its own schedule.
            assert!(
                eventually(Duration::from_secs(5), || !logged().is_empty()),
                "{name}"
            );
            (env, authority, logged())
        };
        let g = run(
            Master::program(gunicorn_27()),
            "gunicorn",
            &["-k", "gthread"],
        );
        let r = run(Master::runicorn(), "runicorn", &[]);
        for (who, (env, authority, line)) in [("gunicorn", g), ("runicorn", r)] {
            assert_eq!(env["HTTP_HOST"], authority.as_str(), "{who}: {env}");
            assert_eq!(env["RAW_URI"], "/p?q=1", "{who}: {env}");
            assert_eq!(env["PATH_INFO"], "/p", "{who}: {env}");
            // RFC 9113 §8.2.3: rejoined with "; " (runicorn gave "a=1,b=2": one cookie).
            assert_eq!(env["HTTP_COOKIE"], "a=1; b=2", "{who}: {env}");
            assert_eq!(
                line.trim(),
                format!("GET /p?q=1 HTTP/2.0|{authority}"),
                "{who}"
            );
        }
    }

    /// The same WSGI app behind Gunicorn 27.0.1 (gthread, which serves h2c) and runicorn's
    /// WSGI host. Prior knowledge and untrusted peers behave alike; plain HTTP/1.1 on a
    /// prior-knowledge port is refused by Gunicorn and served by runicorn.
    #[test]
    fn side_by_side_with_gunicorn() {
        let dir = Scratch::new("h2c");
        let g = |extra: &[&str]| {
            let mut a = vec!["-k", "gthread", "--threads", "2"];
            a.extend_from_slice(extra);
            start(Master::program(gunicorn_27()), &dir, "g.ctl", &a)
        };
        let r = |extra: &[&str]| start(Master::runicorn(), &dir, "r.ctl", extra);
        let pk = ["--http2-cleartext", "prior-knowledge"];
        for (who, m) in [("gunicorn", g(&pk)), ("runicorn", r(&pk))] {
            let (out, err) = curl(&["--http2-prior-knowledge", &url(m.addr(), "/")]);
            assert_eq!(last_line(&out), "2 200", "{who}: {out}{err}");
            assert!(out.starts_with("Hello, World!"), "{who}: {out}");
            let (out, _) = curl(&["--http1.1", &url(m.addr(), "/")]);
            let want = if who == "gunicorn" {
                "1.1 400"
            } else {
                "1.1 200"
            };
            assert_eq!(last_line(&out), want, "{who}: {out}");
        }
        let untrusted = [
            "--http2-cleartext",
            "both",
            "--forwarded-allow-ips",
            "10.9.9.9",
        ];
        for (who, m) in [("gunicorn", g(&untrusted)), ("runicorn", r(&untrusted))] {
            let r = text(&raw(m.addr(), &preface()));
            assert!(r.starts_with("HTTP/1.1 400 Bad Request"), "{who}: {r}");
            let (out, err) = curl(&["-v", "--http2", &url(m.addr(), "/")]);
            assert!(!err.contains(" 101 "), "{who}: {err}");
            assert_eq!(last_line(&out), "1.1 200", "{who}: {out}");
        }
        // Both upgrade a bodiless GET.
        let both = ["--http2-cleartext", "both"];
        for (who, m) in [("gunicorn", g(&both)), ("runicorn", r(&both))] {
            let (out, err) = curl(&["-v", "--http2", &url(m.addr(), "/")]);
            assert!(err.contains(" 101 Switching Protocols"), "{who}: {err}");
            assert_eq!(last_line(&out), "2 200", "{who}: {out}");
        }
    }

    /// tests/apps/asgi/raw_app.py on one ASGI worker, h2c by prior knowledge or upgrade.
    fn asgi_h2c() -> Master {
        Master::runicorn()
            .cwd(apps().join("asgi"))
            .args(["-w", "1", "-k", "asgi", "--http-protocols", "h2,h1"])
            .args(["--http2-cleartext", "both", "raw_app:app"])
            .spawn()
    }

    /// The ASGI host over h2c: the scope says HTTP/2 by prior knowledge and after an
    /// upgrade, and an upload arrives whole.
    #[test]
    fn asgi_over_h2c() {
        let m = asgi_h2c();
        for how in ["--http2-prior-knowledge", "--http2"] {
            let (out, err) = curl(&[how, &url(m.addr(), "/scope")]);
            assert_eq!(last_line(&out), "2 200", "{how}: {out}{err}");
            assert_eq!(json(&out)["http_version"], "2", "{how}: {out}");
        }
        let body = "x".repeat(100_000);
        let (out, err) = curl(&[
            "--http2-prior-knowledge",
            "--data-binary",
            &body,
            &url(m.addr(), "/upload"),
        ]);
        assert_eq!(last_line(&out), "2 200", "{out}{err}");
        assert_eq!(json(&out)["bytes"], 100_000, "{out}");
    }

    /// A response to HEAD, or a 204 or 304, carries no content over HTTP/2 either, whatever
    /// body the app gives: sent as DATA, the client resets the stream (curl: "stream 1 was
    /// not closed cleanly: PROTOCOL_ERROR").
    #[test]
    fn asgi_over_h2c_sends_no_body_for_head_204_and_304() {
        let m = asgi_h2c();
        let pk = "--http2-prior-knowledge";
        let (out, err) = curl(&[pk, "-I", &url(m.addr(), "/")]);
        assert_eq!(last_line(&out), "2 200", "{out}{err}");
        for status in ["204", "304"] {
            let (out, err) = curl(&[pk, "-i", &url(m.addr(), &format!("/status?{status}"))]);
            assert_eq!(last_line(&out), format!("2 {status}"), "{out}{err}");
            assert!(!out.contains("body"), "{out}");
            assert!(!out.contains("content-length"), "{out}");
        }
        // The same app's 200 still has its body.
        let (out, err) = curl(&[pk, &url(m.addr(), "/status?200")]);
        assert_eq!(out, "body\n2 200", "{err}");
    }
}
