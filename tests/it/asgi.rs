//! The ASGI host end to end: the `runicorn` binary serving the ASGI apps in
//! tests/apps/asgi/ (a raw ASGI 3 app, FastAPI, Starlette, Django, Quart), driven by curl
//! and raw sockets: the scope, request and response streaming, disconnects, app errors,
//! lifespan, the heartbeat, and worker replacement under load.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::*;

fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps/asgi")
}

/// `runicorn --chdir tests/apps/asgi <extra> APP` (the caller adds `-k asgi` or not).
fn builder(app: &str, extra: &[&str]) -> Builder {
    Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(extra.iter().copied())
        .arg(app)
}

fn serve(app: &str, extra: &[&str]) -> Master {
    builder(app, extra).spawn()
}

/// A `Connection: close` GET of `path` over a plain socket: everything the server sent.
fn get_raw(m: &Master, path: &str) -> String {
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

/// curl with `args`; returns (exit code, stdout).
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn url(m: &Master, path: &str) -> String {
    format!("http://{}{path}", m.addr())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

#[test]
fn the_http_scope_has_every_key_with_the_spec_types() {
    let m = serve("raw_app:app", &["-k", "asgi", "--root-path", "/api"]);
    let (code, body) = curl(&[
        "-H",
        "X-Dup: one",
        "-H",
        "X-Dup: two",
        &url(&m, "/caf%C3%A9/scope?x=1&y=%20"),
    ]);
    assert_eq!(code, 0);
    let s = json(&body);
    assert_eq!(s["type"], "http");
    assert_eq!(s["asgi"]["version"], "3.0");
    assert_eq!(s["asgi"]["spec_version"], "2.5");
    assert_eq!(s["http_version"], "1.1");
    assert_eq!(s["method"], "GET");
    assert_eq!(s["scheme"], "http");
    // The spec: `path` includes root_path; the proxy stripped it, so it is put back.
    assert_eq!(s["root_path"], "/api");
    assert_eq!(s["path"], "/api/café/scope");
    assert_eq!(s["raw_path"], "/caf%C3%A9/scope");
    assert_eq!(s["query_string"], "x=1&y=%20");
    // Ports are ints (Granian sends strings).
    let port = m.addr().port();
    assert_eq!(s["server"], serde_json::json!(["127.0.0.1", port]));
    assert_eq!(s["client"][0], "127.0.0.1");
    assert!(s["client"][1].is_u64(), "{}", s["client"]);
    // Headers: lowercase names, in order, duplicates kept.
    let headers: Vec<(String, String)> = s["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
        .collect();
    let dups: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "x-dup")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(dups, ["one", "two"]);
    assert!(headers.iter().any(|(k, _)| k == "host"));
    assert!(headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    // Lifespan state reaches every request scope (a copy).
    assert_eq!(s["state"]["boot"], "ready");
    assert!(s["extensions"]["http.response.pathsend"].is_object());

    // A request that carries the prefix keeps it once.
    let (_, body) = curl(&[&url(&m, "/api/scope")]);
    assert_eq!(json(&body)["path"], "/api/scope");
}

#[test]
fn an_asgi_app_with_the_default_worker_class_is_detected_and_served() {
    let m = serve("raw_app:app", &[]);
    assert_eq!(m.get("/").unwrap(), (200, "Hello, ASGI!\n".into()));
    assert!(
        m.log()
            .contains("raw_app:app is an ASGI application: serving it with the asgi worker"),
        "{}",
        m.log()
    );
    // Without --preload the master cannot know before forking: it names the class.
    assert!(m.log().contains("Using worker: sync"), "{}", m.log());
    // With --preload it knows, and says what runs.
    let m = serve("raw_app:app", &["--preload"]);
    assert_eq!(m.get("/").unwrap().0, 200);
    assert!(m.log().contains("Using worker: asgi"), "{}", m.log());
    assert!(!m.log().contains("Using worker: sync"), "{}", m.log());
    // uvicorn's worker class names select the same host.
    let m = serve("raw_app:app", &["-k", "uvicorn.workers.UvicornWorker"]);
    assert_eq!(m.get("/").unwrap().0, 200);
    assert!(!m.log().contains("is an ASGI application"));
}

#[test]
fn a_wsgi_app_under_k_asgi_is_a_startup_error() {
    let (code, _, err) = builder("wsgi_app:app", &["-k", "asgi"]).run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("wsgi_app:app is not an ASGI application"),
        "{err}"
    );
    // With --preload the master finds out before forking.
    let (code, _, err) =
        builder("wsgi_app:app", &["-k", "asgi", "--preload"]).run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("is not an ASGI application"), "{err}");
}

#[test]
fn request_bodies_stream_in_chunks_and_a_100_mb_upload_stays_bounded() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    // Small, chunked, and empty bodies.
    let (_, body) = curl(&["--data-binary", "hello", &url(&m, "/upload")]);
    let r = json(&body);
    assert_eq!(
        (r["bytes"].as_u64(), r["chunks"].as_u64()),
        (Some(5), Some(1))
    );
    let (_, body) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "abcdef",
        &url(&m, "/upload"),
    ]);
    assert_eq!(json(&body)["bytes"], 6);
    let (_, body) = curl(&["-X", "POST", &url(&m, "/upload")]);
    assert_eq!(json(&body)["bytes"], 0);

    // 100 MB streamed: the app sees it in many chunks, the worker never holds it.
    // The worker is forked after "Listening at": wait for it before reading its pid.
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .expect("a worker booted");
    assert!(eventually(Duration::from_secs(10), || !m
        .children()
        .is_empty()));
    let worker = m.children()[0];
    let before = rss_kb(worker);
    const MB: usize = 1024 * 1024;
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        100 * MB
    )
    .unwrap();
    let block = vec![b'z'; MB];
    let mut peak = 0;
    for i in 0..100 {
        s.write_all(&block).unwrap();
        if i % 10 == 0 {
            peak = peak.max(rss_kb(worker));
        }
    }
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    peak = peak.max(rss_kb(worker));
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    let r = json(body);
    assert_eq!(r["bytes"].as_u64(), Some(100 * MB as u64));
    assert!(r["chunks"].as_u64().unwrap() > 10, "{r}");
    let mut expect = String::new();
    // sha256 of 100 MiB of 'z', computed by Python's hashlib below.
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib;print(hashlib.sha256(b'z'*(100*1024*1024)).hexdigest())",
        ])
        .output()
        .unwrap();
    expect.push_str(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(r["sha256"], expect.as_str());
    assert!(
        peak < before + 30 * 1024,
        "worker RSS grew from {before} kB to {peak} kB during a 100 MB upload"
    );
}

#[test]
fn responses_stream_chunked_with_content_length_and_from_a_path() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    let (_, body) = curl(&["-i", &url(&m, "/stream?4")]);
    assert!(
        body.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{body}"
    );
    assert!(
        body.ends_with("chunk 0\nchunk 1\nchunk 2\nchunk 3\n"),
        "{body}"
    );
    let (_, body) = curl(&[&url(&m, "/big?3000000")]);
    assert_eq!(body.len(), 3_000_000);
    let (_, body) = curl(&[&url(&m, "/pathsend")]);
    let file = std::fs::read_to_string(apps().join("raw_app.py")).unwrap();
    assert_eq!(body, file);
    // HEAD: the head only.
    let (_, body) = curl(&["-I", &url(&m, "/")]);
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
}

#[test]
fn a_slow_reader_does_not_grow_the_worker() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    // The worker is forked after "Listening at": wait for it before reading its pid.
    m.wait_for_log("Booting worker", Duration::from_secs(10))
        .expect("a worker booted");
    assert!(eventually(Duration::from_secs(10), || !m
        .children()
        .is_empty()));
    let worker = m.children()[0];
    // Warm up the path (imports, allocator pools) so what follows measures the stall.
    assert_eq!(curl(&[&url(&m, "/big?5000000")]).1.len(), 5_000_000);
    let before = rss_kb(worker);
    // 200 MB asked for, never read: the app's send() must wait, not buffer.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET /big?200000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let stalled = rss_kb(worker);
    std::thread::sleep(Duration::from_secs(2));
    let later = rss_kb(worker);
    assert!(
        stalled < before + 16 * 1024 && later < stalled + 2 * 1024,
        "worker RSS {before} kB → {stalled} kB → {later} kB with a client that does not read"
    );
    // The worker still serves others meanwhile.
    assert_eq!(m.get("/").unwrap().0, 200);
    drop(s);
}

#[test]
fn send_raises_once_the_client_left_so_endless_streams_stop() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
    drop(s);
    let line = m
        .wait_for_log("SEND RAISED", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("send() kept going after the client left:\n{}", m.log()));
    assert!(line.contains("ClientDisconnected"), "{line}");
    assert!(!m.log().contains("Error in ASGI application"));
}

#[test]
fn app_errors_give_a_500_before_the_head_and_a_cut_connection_after() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    assert_eq!(m.get("/error").unwrap().0, 500);
    let log = m
        .wait_for_log("boom before the response", Duration::from_secs(5))
        .map(|_| m.log())
        .unwrap();
    assert!(log.contains("Error in ASGI application"), "{log}");
    assert!(log.contains("Traceback (most recent call last):"), "{log}");
    // After the head: the connection is cut (curl 18 "partial file" or 52 "empty reply",
    // depending on whether the head was flushed before the error), never a clean end.
    let (code, body) = curl(&[&url(&m, "/error-after")]);
    assert!(
        (code == 18 && body == "partial") || (code == 52 && body.is_empty()),
        "curl {code}: {body:?}"
    );
    // Returning without a response: a 500 and an error line.
    assert_eq!(m.get("/silent").unwrap().0, 500);
    assert!(
        m.wait_for_log(
            "ASGI callable returned without starting response",
            Duration::from_secs(5)
        )
        .is_some()
    );
    // A client that leaves mid-upload: the app returns on `http.disconnect` with no
    // response, which is no app error (uvicorn and Gunicorn log nothing); it was logged
    // as one for every departed client.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    // Larger than what the edge reads before calling the app, so the app is reading.
    s.write_all(b"POST /drain HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        .unwrap();
    s.write_all(&[b'x'; 100_000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(s);
    assert!(
        m.wait_for_log("DRAIN DISCONNECT", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        m.count("ASGI callable returned without starting response"),
        1,
        "{}",
        m.log()
    );
    // The worker is still the same one and serves.
    assert_eq!(m.get("/").unwrap().0, 200);
    assert_eq!(m.count("Booting worker"), 1);
}

/// An app's Content-Length the body does not match. Longer than the body: hyper used to
/// announce it and send the 5 bytes, and a pipelined second response ran into the first
/// one's body on a connection that stayed open. Now the connection closes after the short
/// body, and an error line says why. Not a length at all: the app's error, a 500.
#[test]
fn a_content_length_the_body_does_not_match_never_runs_into_the_next_response() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /length?10 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let started = Instant::now();
    s.read_to_end(&mut got)
        .expect("the server closes the connection");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("content-length: 10\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n12345"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    // At once, not at the keep-alive timeout.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        m.wait_for_log(
            "declares Content-Length: 10 with a body of 5 bytes",
            Duration::from_secs(5)
        )
        .is_some(),
        "{}",
        m.log()
    );
    for bad in ["abc", "-1", "+5", "0x5", "5,5", "99999999999999999999"] {
        let url = url(&m, &format!("/length?{bad}"));
        let (code, status) = curl(&["-o", "/dev/null", "-w", "%{http_code}", &url]);
        assert_eq!((code, status.as_str()), (0, "500"), "{bad}");
    }
    assert!(m.log().contains("Invalid Content-Length"), "{}", m.log());
    // A matching one is untouched, and the worker still serves.
    let (code, body) = curl(&[&url(&m, "/length?5")]);
    assert_eq!((code, body.as_str()), (0, "12345"));
    assert_eq!(m.count("Booting worker"), 1);
}

/// A status without a standard reason phrase (ASGI gives none) goes out with an empty
/// one, as uvicorn sends it; hyper alone wrote `HTTP/1.1 419 <none>`. One outside
/// 200-599 is the app's error (600-999 went out as given).
#[test]
fn an_uncommon_status_gets_an_empty_reason_phrase_and_an_invalid_one_a_500() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    for (status, line) in [
        ("419", "HTTP/1.1 419 \r\n"),
        ("418", "HTTP/1.1 418 I'm a teapot\r\n"),
    ] {
        let text = get_raw(&m, &format!("/status?{status}"));
        assert!(text.starts_with(line), "{text}");
    }
    // Outside RFC 9110's 100-599 (and 1xx, which is not a final answer): the app's
    // error, answered 500 as any invalid response start.
    for status in ["99", "101", "600", "999", "1000"] {
        let (code, got) = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url(&m, &format!("/status?{status}")),
        ]);
        assert_eq!((code, got.as_str()), (0, "500"), "{status}");
        assert!(
            m.wait_for_log(
                &format!("Invalid status code {status}"),
                Duration::from_secs(5)
            )
            .is_some(),
            "{}",
            m.log()
        );
    }
}

/// As for WSGI: whitespace around a header value goes (HTTP/2 forbids it).
#[test]
fn header_values_lose_the_whitespace_at_either_end() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    let text = get_raw(&m, "/padded").to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text:?}");
    assert!(text.contains("\r\nx-padded: v\r\n"), "{text:?}");
}

#[test]
fn lifespan_startup_state_and_shutdown_run_once_per_worker() {
    let mut m = serve("raw_app:app", &["-k", "asgi", "-w", "2"]);
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let (_, body) = curl(&[&url(&m, "/scope")]);
    assert_eq!(json(&body)["state"]["boot"], "ready");
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    assert_eq!(m.count("LIFESPAN SHUTDOWN"), 2, "{}", m.log());
}

#[test]
fn a_failed_lifespan_startup_stops_the_server_with_the_apps_message() {
    let (code, _, err) = builder("raw_app:app", &["-k", "asgi"])
        .env("ASGI_TEST_STARTUP", "fail")
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("ASGI lifespan startup failed: database unreachable"),
        "{err}"
    );
    assert!(err.contains("Worker failed to boot."), "{err}");
}

#[test]
fn a_lifespan_startup_that_never_answers_fails_after_30_s_as_in_gunicorn() {
    // --timeout 120: the heartbeat must not be what ends it.
    let (code, _, err) = builder("raw_app:app", &["-k", "asgi", "--timeout", "120"])
        .env("ASGI_TEST_STARTUP", "hang")
        .run(Duration::from_secs(60));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("ASGI lifespan startup timed out after 30s"),
        "{err}"
    );
    assert!(!err.contains("WORKER TIMEOUT"), "{err}");
}

#[test]
fn an_app_that_does_not_speak_lifespan_is_served_in_auto_and_refused_with_on() {
    let m = builder("raw_app:app", &["-k", "asgi"])
        .env("ASGI_TEST_STARTUP", "raise")
        .spawn();
    assert_eq!(m.get("/").unwrap().0, 200);
    assert!(
        m.log()
            .contains("ASGI 'lifespan' protocol appears unsupported"),
        "{}",
        m.log()
    );
    let (code, _, err) = builder("raw_app:app", &["-k", "asgi", "--asgi-lifespan", "on"])
        .env("ASGI_TEST_STARTUP", "raise")
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("lifespan not spoken here"), "{err}");
    // off: never called with a lifespan scope, so the failure cannot happen.
    let m = builder("raw_app:app", &["-k", "asgi", "--asgi-lifespan", "off"])
        .env("ASGI_TEST_STARTUP", "fail")
        .spawn();
    assert_eq!(m.get("/").unwrap().0, 200);
}

#[test]
fn an_app_that_blocks_its_loop_is_killed_at_the_timeout_and_replaced() {
    let m = serve("raw_app:app", &["-k", "asgi", "--timeout", "2"]);
    let (_, first) = m.get("/pid").unwrap();
    // A cooperative wait far longer than the timeout is fine.
    let (code, body) = curl(&[&url(&m, "/sleep?3")]);
    assert_eq!((code, body.as_str()), (0, "slept\n"));
    assert_eq!(m.count("WORKER TIMEOUT"), 0);
    // Sync code in `async def` blocks the loop: the heartbeat stops.
    let _ = curl(&["--max-time", "8", &url(&m, "/block?30")]);
    assert!(
        m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(10))
            .is_some(),
        "{}",
        m.log()
    );
    assert!(eventually(Duration::from_secs(10), || {
        m.get("/pid").is_ok_and(|(c, p)| c == 200 && p != first)
    }));
}

#[test]
fn request_timeout_answers_504() {
    let m = serve("raw_app:app", &["-k", "asgi", "--request-timeout", "1"]);
    let t = Instant::now();
    assert_eq!(m.get("/sleep?5").unwrap().0, 504);
    assert!(t.elapsed() < Duration::from_secs(4));
    assert_eq!(m.get("/").unwrap().0, 200);
}

#[test]
fn the_access_log_has_asgi_requests() {
    let dir = Scratch::new("asgi-access");
    let log = dir.path("access.log");
    let m = serve(
        "raw_app:app",
        &[
            "-k",
            "asgi",
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(B)s",
        ],
    );
    assert_eq!(m.get("/big?1000").unwrap().0, 200);
    let _ = curl(&["--data-binary", "abc", &url(&m, "/upload")]);
    let lines = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(5), || lines().lines().count() >= 2),
        "{}",
        lines()
    );
    let text = lines();
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got[0], "GET /big 200 1000");
    assert!(got[1].starts_with("POST /upload 200 "), "{text}");
}

#[test]
fn hup_and_max_requests_replace_asgi_workers_without_failed_requests() {
    let m = serve(
        "raw_app:app",
        &["-k", "asgi", "-w", "2", "--max-requests", "300"],
    );
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let load = Load::start(m.addr(), 4, "/");
    assert!(load.wait_for_more(200, Duration::from_secs(10)));
    m.signal(Signal::SIGHUP);
    m.wait_for_count("Worker exiting", 2, Duration::from_secs(15))
        .expect("old generation retired");
    assert!(
        m.wait_for_count(
            "Autorestarting worker after current request.",
            4,
            Duration::from_secs(30)
        )
        .is_some(),
        "{}",
        m.log()
    );
    assert!(load.wait_for_more(200, Duration::from_secs(10)));
    let (ok, failed, errors) = load.finish();
    assert!(ok > 1000, "{ok}");
    assert_eq!(failed, 0, "{errors:?}");
    // Every retired worker ran lifespan shutdown before it exited.
    assert!(
        eventually(Duration::from_secs(10), || {
            m.count("LIFESPAN SHUTDOWN") == m.count("Worker exiting")
        }),
        "{}",
        m.log()
    );
    assert!(m.count("LIFESPAN SHUTDOWN") >= 2, "{}", m.log());
}

#[test]
fn fastapi_params_bodies_forms_state_and_sse() {
    let m = serve("fastapi_app:app", &["-k", "asgi", "--root-path", "/svc"]);
    let (_, b) = curl(&[&url(&m, "/items/42?q=abc")]);
    assert_eq!(json(&b), serde_json::json!({"item_id": 42, "q": "abc"}));
    let (_, b) = curl(&[&url(&m, "/items/nope")]);
    assert!(b.contains("int_parsing"), "{b}");
    let (_, b) = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"name":"pen","price":2.5}"#,
        &url(&m, "/items"),
    ]);
    assert_eq!(json(&b)["taxed"], 3.0);
    let (_, b) = curl(&["-d", "username=ada&password=s3cret", &url(&m, "/login")]);
    assert_eq!(
        json(&b),
        serde_json::json!({"username": "ada", "password_len": 6})
    );
    let (_, b) = curl(&[&url(&m, "/state")]);
    let s = json(&b);
    assert_eq!(s["db"], "connected");
    assert_eq!(s["events"], serde_json::json!(["startup"]));
    assert_eq!(s["root_path"], "/svc");
    let (_, b) = curl(&["-N", &url(&m, "/sse")]);
    assert_eq!(b, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

#[test]
fn starlette_streams_stop_when_the_client_leaves() {
    let m = serve("starlette_app:app", &[]);
    let (_, b) = curl(&[&url(&m, "/?a=1")]);
    assert_eq!(
        json(&b),
        serde_json::json!({"hello": "starlette", "query": {"a": "1"}})
    );
    let (_, b) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "0123456789",
        &url(&m, "/echo"),
    ]);
    assert_eq!(json(&b)["received"], 10);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET /ticker HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let mut seen = String::new();
    while !seen.contains("tick 3") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(s);
    // Gunicorn 27's ASGI worker lets this run until its 3 s grace period cancels it.
    assert!(
        m.wait_for_log("TICKER STOPPED", Duration::from_secs(2))
            .is_some(),
        "the stream outlived its client:\n{}",
        m.log()
    );
}

#[test]
fn django_serves_through_get_asgi_application() {
    let m = serve("django_app:application", &["-k", "asgi"]);
    let (_, b) = curl(&[&url(&m, "/hello/ada?q=1")]);
    assert_eq!(
        json(&b),
        serde_json::json!({"hello": "ada", "method": "GET", "path": "/hello/ada", "q": "1"})
    );
    let (_, b) = curl(&["-d", r#"{"k": [1, 2]}"#, &url(&m, "/echo")]);
    assert_eq!(json(&b)["echo"], serde_json::json!({"k": [1, 2]}));
    // Django refuses lifespan with a ValueError: auto mode serves without it.
    assert!(m.log().contains("protocol appears unsupported"));
}

#[test]
fn quart_serves_with_its_startup_hook() {
    let m = serve("quart_app:app", &["-k", "asgi"]);
    let (_, b) = curl(&[&url(&m, "/hello/bob")]);
    assert_eq!(
        json(&b),
        serde_json::json!({"hello": "bob", "booted": true})
    );
    let (_, b) = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"x": 1}"#,
        &url(&m, "/echo"),
    ]);
    assert_eq!(json(&b), serde_json::json!({"echo": {"x": 1}}));
}

#[test]
fn request_hooks_run_around_asgi_requests() {
    let conf = apps().join("hooks_conf.py");
    let m = serve("raw_app:app", &["-k", "asgi", "-c", conf.to_str().unwrap()]);
    assert_eq!(m.get("/big?1234").unwrap().0, 200);
    assert_eq!(m.get("/error").unwrap().0, 500);
    assert!(
        m.wait_for_log("POST /error 500", Duration::from_secs(5))
            .is_some()
    );
    let log = m.log();
    let pre = log.find("PRE GET /big").expect("pre_request ran");
    let post = log
        .find("POST /big 200 200 OK sent=1234")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(pre < post);
    assert!(
        log.contains("POST /error 500 500 Internal Server Error"),
        "{log}"
    );
}

/// Runs a `websockets`-client script against `m`: `script` under tests/apps/, then its args.
fn ws_script(m: &Master, script: &str, args: &[&str]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(script);
    let out = Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{script} {args:?} (needs `pip install websockets`): {}\n{stdout}\n{}\nserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        m.log()
    );
}

#[test]
fn asgi_websockets_pass_the_echo_scenarios_of_the_rust_api() {
    // The same client scenarios as tests/it/websocket.rs, against an ASGI app.
    let m = serve(
        "ws_app:app",
        &["-k", "asgi", "--websocket-max-message-size", "2000000"],
    );
    let addr = m.addr().to_string();
    ws_script(&m, "ws_client.py", &["basic", &addr]);
    assert!(
        m.wait_for_log(
            "WS DISCONNECT code=4002 reason='client done'",
            Duration::from_secs(5)
        )
        .is_some(),
        "{}",
        m.log()
    );
    let m = serve(
        "ws_app:app",
        &["-k", "asgi", "--websocket-max-message-size", "100000"],
    );
    ws_script(&m, "ws_client.py", &["too_big", &m.addr().to_string()]);
    assert!(m.log().contains("WS DISCONNECT code=1009"), "{}", m.log());
}

#[test]
fn asgi_websocket_scope_denial_errors_and_departed_clients() {
    let m = serve("ws_app:app", &["-k", "asgi"]);
    ws_script(&m, "asgi/ws_checks.py", &[&m.addr().to_string()]);
    assert!(
        m.wait_for_log("WS SEND RAISED ClientDisconnected", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    assert!(m.log().contains("app failed mid-socket"));
    assert!(
        m.log().contains("Invalid WebSocket close code 1005"),
        "{}",
        m.log()
    );
    // Plain HTTP on the same app still works.
    assert_eq!(m.get("/").unwrap(), (200, "plain http\n".into()));
}

#[test]
fn a_thousand_asgi_websockets_on_one_worker() {
    let m = serve(
        "ws_app:app",
        &["-k", "asgi", "-w", "1", "--worker-connections", "1100"],
    );
    ws_script(&m, "ws_client.py", &["many", &m.addr().to_string()]);
}

#[test]
fn a_draining_asgi_worker_closes_sockets_with_1001_and_runs_lifespan_shutdown() {
    let mut m = serve("ws_app:app", &["-k", "asgi"]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = [0u8; 512];
    let n = s.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 101"));
    m.signal(Signal::SIGTERM);
    // The close frame: 0x88, length, then the code.
    let mut frame = [0u8; 4];
    s.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 0x88);
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1001);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    let log = m.log();
    let closed = log
        .find("WS DISCONNECT code=1001")
        .unwrap_or_else(|| panic!("{log}"));
    let shutdown = log
        .find("LIFESPAN SHUTDOWN")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(closed < shutdown, "{log}");
}

/// One server-to-client WebSocket frame from `buf` (unmasked): (opcode, payload), or None
/// while incomplete.
fn take_frame(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 2 {
        return None;
    }
    let (len, at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        126 => return None,
        127 => panic!("test frames are small"),
        n => (n as usize, 2),
    };
    if buf.len() < at + len {
        return None;
    }
    let op = buf[0] & 0x0f;
    let payload = buf[at..at + len].to_vec();
    buf.drain(..at + len);
    Some((op, payload))
}

/// A masked client frame.
fn client_frame(op: u8, payload: &[u8]) -> bytes::Bytes {
    let mask = [7u8, 1, 3, 9];
    let mut f = vec![0x80 | op, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    bytes::Bytes::from(f)
}

#[test]
fn asgi_websockets_over_http2_extended_connect() {
    let mut args: Vec<String> = crate::tls::tls_args();
    args.extend(["--http-protocols", "h2,h1", "-k", "asgi"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let m = serve("ws_app:app", &args);
    let cfg = crate::tls::client_config(&crate::tls::Opts {
        alpn: vec![b"h2"],
        ..Default::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = m.addr();
    let (scope, echoed, close) = rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(
                rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let (client, conn) = h2::client::handshake(tls).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        // The server's SETTINGS arrive after the handshake returns.
        for _ in 0..100 {
            if client.is_extended_connect_protocol_enabled() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            client.is_extended_connect_protocol_enabled(),
            "the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL"
        );
        let mut req = http::Request::builder()
            .method("CONNECT")
            .uri("https://localhost/scope")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (resp, mut up) = client.send_request(req, false).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut down = resp.into_body();
        let mut buf = Vec::new();
        let mut next = async || loop {
            if let Some(f) = take_frame(&mut buf) {
                return f;
            }
            let chunk = down.data().await.expect("stream open").unwrap();
            let _ = down.flow_control().release_capacity(chunk.len());
            buf.extend_from_slice(&chunk);
        };
        let (op, scope) = next().await;
        assert_eq!(op, 1);
        up.send_data(client_frame(1, b"over h2"), false).unwrap();
        let (op, echoed) = next().await;
        assert_eq!(op, 1);
        up.send_data(client_frame(8, &1000u16.to_be_bytes()), false)
            .unwrap();
        let (op, close) = next().await;
        assert_eq!(op, 8);
        (scope, echoed, close)
    });
    let s = json(&String::from_utf8(scope).unwrap());
    assert_eq!(s["type"], "websocket");
    assert_eq!(s["http_version"], "2");
    assert_eq!(s["scheme"], "wss");
    assert_eq!(s["path"], "/scope");
    assert_eq!(echoed, b"over h2");
    assert_eq!(close[..2], 1000u16.to_be_bytes());
    assert!(
        m.wait_for_log("WS DISCONNECT code=1000", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
}

#[test]
fn a_client_that_leaves_mid_request_gets_http_disconnect_and_a_cancel_after_the_grace() {
    let dir = Scratch::new("asgi-gone");
    let log = dir.path("access.log");
    let m = serve(
        "raw_app:app",
        &[
            "-k",
            "asgi",
            "--asgi-disconnect-grace-period",
            "1",
            "--access-logfile",
            log.to_str().unwrap(),
        ],
    );
    // Waiting in receive() after the body: http.disconnect once the client is gone.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET /wait-disconnect HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    assert!(
        m.wait_for_log("RECEIVED http.disconnect", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    // An app that ignores disconnects is cancelled after the grace period.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.write_all(b"GET /cancellable HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    let line = m
        .wait_for_log("CANCELLED after", Duration::from_secs(6))
        .unwrap_or_else(|| panic!("the task outlived its client:\n{}", m.log()));
    let secs: f64 = line
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('s')
        .trim()
        .parse()
        .unwrap();
    assert!((1.0..4.0).contains(&secs), "{line}");
    // nginx's 499 in the access log, for both.
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("\" 499 ")
            .count()
            == 2
    }));
}

#[test]
fn response_trailers_follow_the_body_when_the_client_accepts_them() {
    let m = serve("raw_app:app", &["-k", "asgi"]);
    let exchange = |te: &str| {
        let mut s = TcpStream::connect(m.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /trailers HTTP/1.1\r\nHost: t\r\n{te}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        all.split_once("\r\n\r\n").unwrap().1.to_string()
    };
    // The fields of both trailer messages, after the last chunk.
    assert_eq!(
        exchange("TE: trailers\r\n"),
        "4\r\ndata\r\n1\r\n!\r\n0\r\nx-checksum: abc\r\nx-count: 2\r\n\r\n"
    );
    // A client that did not say TE: trailers gets the body alone.
    assert_eq!(exchange(""), "4\r\ndata\r\n1\r\n!\r\n0\r\n\r\n");
    let (_, body) = curl(&[&url(&m, "/scope")]);
    assert!(json(&body)["extensions"]["http.response.trailers"].is_object());
}

/// `--forwarder-headers` under `-k asgi`, side by side with Gunicorn 27's ASGI worker: from
/// a trusted proxy both keep the SCRIPT_NAME and PATH_INFO headers in the scope and drop
/// other `_` names; from an untrusted one both drop them, and a path outside the
/// forwarded SCRIPT_NAME is served (200) by both. Where runicorn differs on purpose: a
/// trusted SCRIPT_NAME becomes the scope's `root_path` (Gunicorn's worker leaves
/// `root_path` at `--root-path` and ignores the header), and `path` includes it, as the
/// spec says and as `--root-path` is handled.
#[test]
fn forwarder_headers_set_root_path_side_by_side_with_gunicorn() {
    let fetch = |addr: std::net::SocketAddr, path: &str| -> (String, serde_json::Value) {
        let (code, out) = curl(&[
            "-w",
            "\n%{http_code}",
            "-H",
            "SCRIPT_NAME: /app",
            "-H",
            "PATH_INFO: /evil",
            "-H",
            "REMOTE_USER: bob",
            &format!("http://{addr}{path}"),
        ]);
        assert_eq!(code, 0, "{out}");
        let (body, status) = out.rsplit_once('\n').unwrap();
        (status.to_string(), json(body))
    };
    let names = |s: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = s["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    for (allow, trusted) in [("127.0.0.1", true), ("10.0.0.0/8", false)] {
        let extra = ["-k", "asgi", "--forwarded-allow-ips", allow];
        let g = gunicorn_peer()
            .args(["--chdir", apps().to_str().unwrap()])
            .args(extra)
            .arg("raw_app:app")
            .spawn();
        let m = serve("raw_app:app", &extra);
        let (gs, ge) = fetch(g.addr(), "/app/scope");
        let (rs, re) = fetch(m.addr(), "/app/scope");
        assert_eq!((rs.as_str(), gs.as_str()), ("200", "200"));
        assert_eq!(names(&re), names(&ge), "header names, trusted={trusted}");
        assert_eq!(
            names(&re).contains(&"script_name".to_string()),
            trusted,
            "{re}"
        );
        assert!(!names(&re).contains(&"remote_user".to_string()), "{re}");
        assert_eq!(re["path"], ge["path"], "trusted={trusted}");
        assert_eq!(re["raw_path"], ge["raw_path"]);
        assert_eq!(ge["root_path"], "", "Gunicorn ignores the header");
        assert_eq!(re["root_path"], if trusted { "/app" } else { "" });
        // Outside the forwarded mount: both serve it.
        let (gs, ge) = fetch(g.addr(), "/scope");
        let (rs, re) = fetch(m.addr(), "/scope");
        assert_eq!(rs, gs, "a path outside SCRIPT_NAME, trusted={trusted}");
        assert_eq!(ge["path"], "/scope");
        if trusted {
            // A forwarded mount is a per-request --root-path: the path lacks it, so it
            // is put back.
            assert_eq!(
                (re["root_path"].as_str(), re["path"].as_str()),
                (Some("/app"), Some("/app/scope"))
            );
        } else {
            assert_eq!(
                (re["root_path"].as_str(), re["path"].as_str()),
                (Some(""), Some("/scope"))
            );
        }
    }
}

#[test]
fn term_lets_in_flight_asgi_requests_finish_then_exits() {
    let mut m = serve("raw_app:app", &["-k", "asgi", "-w", "2"]);
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let addr = m.addr();
    let inflight: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || get(addr, "/sleep?1.5")))
        .collect();
    // Every request is in the app (a connection still in the listen backlog when the
    // workers stop accepting is the kernel's to reset, as under Gunicorn).
    assert!(
        eventually(Duration::from_secs(15), || m.count("SLEEP START") == 4),
        "all four requests started:\n{}",
        m.log()
    );
    let t = Instant::now();
    m.signal(Signal::SIGTERM);
    for h in inflight {
        let (status, body) = h.join().unwrap().unwrap();
        assert_eq!((status, body.as_str()), (200, "slept\n"));
    }
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(m.count("LIFESPAN SHUTDOWN"), 2, "{}", m.log());
}

#[test]
fn an_app_that_stops_the_event_loop_gets_its_worker_replaced_at_once() {
    let m = serve("raw_app:app", &["-k", "asgi", "-w", "1"]);
    let (_, pid) = curl(&[&url(&m, "/pid")]);
    // The request gets no answer: its worker stops (--timeout 30 would take 30 s).
    let started = Instant::now();
    let (code, _) = curl(&["--max-time", "10", &url(&m, "/stop-loop")]);
    assert_ne!(code, 0, "{}", m.log());
    assert!(started.elapsed() < Duration::from_secs(8), "{}", m.log());
    m.wait_for_log(
        "the ASGI event loop stopped while the worker served",
        Duration::from_secs(10),
    )
    .expect("the worker says why it stops");
    assert!(
        eventually(Duration::from_secs(10), || {
            let (code, now) = curl(&["--max-time", "2", &url(&m, "/pid")]);
            code == 0 && !now.is_empty() && now != pid
        }),
        "a replacement serves\n{}",
        m.log()
    );
    assert_eq!(m.count("WORKER TIMEOUT"), 0, "{}", m.log());
}
