//! `--static-map` end to end: a scratch directory served by real workers over real
//! sockets, alone (`runicorn` without an app) and in front of the probe app; content
//! types, validators, ranges, precompressed siblings, directories, and every way out of
//! the directory we could think of.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::*;

/// One request on a fresh `Connection: close` connection, read to EOF, so HEAD and 304
/// responses (headers announcing a length, no body) parse too.
fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body,
    }
}

/// Longer than the worker's file-cache revalidation window (200 ms, documented in
/// `static_files::cache`): after it, any change to a file is seen.
const CACHE_WINDOW: Duration = Duration::from_millis(300);

fn get(addr: SocketAddr, path: &str) -> Resp {
    send(addr, "GET", path, &[])
}

fn body(r: &Resp) -> &str {
    std::str::from_utf8(&r.body).unwrap()
}

/// A site: public/ with pages, assets, a subdirectory, dotfiles and precompressed
/// siblings; secret.txt beside it (outside the root).
fn site() -> Scratch {
    let dir = Scratch::new("static");
    let p = dir.path("public");
    std::fs::create_dir_all(p.join("sub")).unwrap();
    std::fs::create_dir_all(p.join("empty")).unwrap();
    std::fs::create_dir_all(p.join(".git")).unwrap();
    std::fs::create_dir_all(p.join("assets")).unwrap();
    let files: &[(&str, &[u8])] = &[
        ("index.html", b"<h1>home</h1>"),
        ("style.css", b"body{}"),
        ("app.js", b"console.log('plain')"),
        ("app.js.br", b"BROTLI-BYTES"),
        ("app.js.gz", b"GZIP-BYTES"),
        ("logo.png", b"\x89PNG...."),
        ("data.bin.unknownext", b"?"),
        ("ten.txt", b"0123456789"),
        ("sub/index.html", b"<p>sub</p>"),
        (".env", b"SECRET=1"),
        (".git/config", b"[core]"),
        ("assets/app.0123abcd.js", b"hashed"),
        ("a b.txt", b"spaced"),
    ];
    for (name, content) in files {
        std::fs::write(p.join(name), content).unwrap();
    }
    std::fs::write(dir.path("secret.txt"), b"TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(dir.path("secret.txt"), p.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("index.html", p.join("alias.html")).unwrap();
    dir
}

fn root_of(dir: &Scratch) -> String {
    format!("/={}", dir.path("public").display())
}

#[test]
fn serves_a_static_site_without_an_app() {
    let dir = site();
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--static-map",
            &root_of(&dir),
            "--static-cache-control",
            "/assets=public, max-age=31536000, immutable",
        ])
        .spawn();
    let a = m.addr();

    let r = get(a, "/style.css");
    assert_eq!((r.status, body(&r)), (200, "body{}"));
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("6"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(
        r.header("etag")
            .is_some_and(|e| e.starts_with('"') && e.ends_with('"')),
        "strong etag"
    );
    assert!(
        r.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    assert_eq!(
        r.header("cache-control"),
        None,
        "no Cache-Control unless configured"
    );
    assert_eq!(
        r.header("server"),
        Some("runicorn"),
        "behind the same wrapper as apps"
    );

    for (path, ty) in [
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/logo.png", "image/png"),
        ("/data.bin.unknownext", "application/octet-stream"),
    ] {
        assert_eq!(get(a, path).header("content-type"), Some(ty), "{path}");
    }
    let r = get(a, "/a%20b.txt");
    assert_eq!((r.status, body(&r)), (200, "spaced"));

    // Cache-Control per prefix.
    let r = get(a, "/assets/app.0123abcd.js");
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    // HEAD: the GET's headers, no body.
    let r = send(a, "HEAD", "/ten.txt", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    assert!(r.body.is_empty());

    // Other methods.
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = send(a, method, "/ten.txt", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }

    // Directories: index.html, redirect to the slash form (query kept), no listings.
    let r = get(a, "/");
    assert_eq!((r.status, body(&r)), (200, "<h1>home</h1>"));
    let r = get(a, "/sub/");
    assert_eq!((r.status, body(&r)), (200, "<p>sub</p>"));
    let r = get(a, "/sub?x=1&y=2");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/?x=1&y=2"));
    let r = get(a, "//sub");
    assert_eq!(
        r.header("location"),
        Some("/sub/"),
        "never a scheme-relative Location"
    );
    assert_eq!(get(a, "/empty/").status, 404, "no directory listing");
    assert_eq!(get(a, "/ten.txt/").status, 404);
    assert_eq!(get(a, "/missing.txt").status, 404);

    // Dotfiles are hidden.
    for path in ["/.env", "/.git/config", "/.git/", "/%2eenv"] {
        let r = get(a, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            !body(&r).contains("SECRET") && !body(&r).contains("core"),
            "{path}"
        );
    }
}

#[test]
fn conditional_requests() {
    let dir = site();
    let m = Master::runicorn()
        .args(["-w", "1", "--static-map", &root_of(&dir)])
        .spawn();
    let a = m.addr();
    let r = get(a, "/ten.txt");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();

    let r = send(a, "GET", "/ten.txt", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        send(
            a,
            "GET",
            "/ten.txt",
            &[("If-None-Match", &format!("\"x\", W/{etag}"))]
        )
        .status,
        304
    );
    assert_eq!(
        send(a, "HEAD", "/ten.txt", &[("If-None-Match", "*")]).status,
        304
    );
    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-None-Match", "\"other\"")]).status,
        200
    );
    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-Modified-Since", &lm)]).status,
        304
    );
    assert_eq!(
        send(
            a,
            "GET",
            "/ten.txt",
            &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")]
        )
        .status,
        200
    );
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    assert_eq!(
        send(
            a,
            "GET",
            "/ten.txt",
            &[("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)]
        )
        .status,
        200
    );

    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-Match", &etag)]).status,
        200
    );
    assert_eq!(send(a, "GET", "/ten.txt", &[("If-Match", "*")]).status, 200);
    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-Match", "\"other\"")]).status,
        412
    );
    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-Match", &format!("W/{etag}"))]).status,
        412,
        "strong comparison"
    );
    assert_eq!(
        send(
            a,
            "GET",
            "/ten.txt",
            &[("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")]
        )
        .status,
        412
    );
    assert_eq!(
        send(a, "GET", "/ten.txt", &[("If-Unmodified-Since", &lm)]).status,
        200
    );
    // If-Match wins over If-Unmodified-Since.
    assert_eq!(
        send(
            a,
            "GET",
            "/ten.txt",
            &[
                ("If-Match", &etag),
                ("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")
            ]
        )
        .status,
        200
    );

    // A rewritten file gets a new tag; the old one no longer matches (once the worker's
    // cache looks again: at most 200 ms after the change).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(dir.path("public/ten.txt"), b"abcdefghij").unwrap();
    std::thread::sleep(CACHE_WINDOW);
    let r = send(a, "GET", "/ten.txt", &[("If-None-Match", &etag)]);
    assert_eq!((r.status, body(&r)), (200, "abcdefghij"));
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[test]
fn byte_ranges() {
    let dir = site();
    let m = Master::runicorn()
        .args(["-w", "1", "--static-map", &root_of(&dir)])
        .spawn();
    let a = m.addr();
    let range = |spec: &str| send(a, "GET", "/ten.txt", &[("Range", spec)]);
    for (spec, part, content_range) in [
        ("bytes=0-3", "0123", "bytes 0-3/10"),
        ("bytes=7-9", "789", "bytes 7-9/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=6-", "6789", "bytes 6-9/10"),
        ("bytes=8-100", "89", "bytes 8-9/10"),
        ("bytes=0-0", "0", "bytes 0-0/10"),
    ] {
        let r = range(spec);
        assert_eq!((r.status, body(&r)), (206, part), "{spec}");
        assert_eq!(r.header("content-range"), Some(content_range), "{spec}");
        assert_eq!(
            r.header("content-length"),
            Some(part.len().to_string().as_str()),
            "{spec}"
        );
    }
    for spec in ["bytes=10-", "bytes=100-200", "bytes=-0"] {
        let r = range(spec);
        assert_eq!(r.status, 416, "{spec}");
        assert_eq!(r.header("content-range"), Some("bytes */10"), "{spec}");
    }
    // Several ranges: the whole file (documented choice), as are malformed ones.
    for spec in ["bytes=0-1,4-5", "bytes=5-2", "lines=1-2", "bytes=x-y"] {
        let r = range(spec);
        assert_eq!((r.status, body(&r)), (200, "0123456789"), "{spec}");
        assert_eq!(r.header("content-range"), None);
    }
    // HEAD ignores Range.
    assert_eq!(
        send(a, "HEAD", "/ten.txt", &[("Range", "bytes=0-1")]).status,
        200
    );

    let full = get(a, "/ten.txt");
    let etag = full.header("etag").unwrap().to_string();
    let lm = full.header("last-modified").unwrap().to_string();
    let r = send(
        a,
        "GET",
        "/ten.txt",
        &[("Range", "bytes=0-1"), ("If-Range", &etag)],
    );
    assert_eq!((r.status, body(&r)), (206, "01"));
    let r = send(
        a,
        "GET",
        "/ten.txt",
        &[("Range", "bytes=0-1"), ("If-Range", &lm)],
    );
    assert_eq!((r.status, body(&r)), (206, "01"));
    let weak = format!("W/{etag}");
    for stale in ["\"stale\"", weak.as_str(), "Mon, 01 Jan 2001 00:00:00 GMT"] {
        let r = send(
            a,
            "GET",
            "/ten.txt",
            &[("Range", "bytes=0-1"), ("If-Range", stale)],
        );
        assert_eq!(
            (r.status, body(&r)),
            (200, "0123456789"),
            "If-Range {stale}"
        );
    }
}

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let dir = site();
    let m = Master::runicorn()
        .args(["-w", "1", "--static-map", &root_of(&dir)])
        .spawn();
    let a = m.addr();
    for (ae, want, encoding) in [
        ("gzip, deflate, br", "BROTLI-BYTES", Some("br")),
        ("gzip", "GZIP-BYTES", Some("gzip")),
        ("br;q=0, gzip", "GZIP-BYTES", Some("gzip")),
        ("br;q=0.5, gzip;q=0.8", "GZIP-BYTES", Some("gzip")),
        ("*", "BROTLI-BYTES", Some("br")),
        ("gzip;q=0, br;q=0", "console.log('plain')", None),
        ("identity", "console.log('plain')", None),
        ("deflate", "console.log('plain')", None),
    ] {
        let r = send(a, "GET", "/app.js", &[("Accept-Encoding", ae)]);
        assert_eq!((r.status, body(&r)), (200, want), "Accept-Encoding: {ae}");
        assert_eq!(r.header("content-encoding"), encoding, "{ae}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{ae}"
        );
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{ae}");
        assert_eq!(
            r.header("content-length"),
            Some(want.len().to_string().as_str())
        );
    }
    let r = get(a, "/app.js");
    assert_eq!(
        (body(&r), r.header("content-encoding")),
        ("console.log('plain')", None)
    );
    // Each representation has its own validator.
    let br = send(a, "GET", "/app.js", &[("Accept-Encoding", "br")]);
    assert_ne!(br.header("etag"), r.header("etag"));
    let again = send(
        a,
        "GET",
        "/app.js",
        &[
            ("Accept-Encoding", "br"),
            ("If-None-Match", br.header("etag").unwrap()),
        ],
    );
    assert_eq!(again.status, 304);
    // No sibling: the file itself.
    let r = send(a, "GET", "/style.css", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!((body(&r), r.header("content-encoding")), ("body{}", None));
}

#[test]
fn nothing_escapes_the_directory() {
    let dir = site();
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--static-map",
            &format!("/static={}", dir.path("public").display()),
        ])
        .spawn();
    let a = m.addr();
    for path in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/sub/..%2f..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/sub\\..\\..\\secret.txt",
        "/static/ten.txt%00.html",
        "/static/%zz",
        "/static/link.txt",
        "/static/./ten.txt/../../secret.txt",
    ] {
        let r = get(a, path);
        assert!(matches!(r.status, 400 | 403 | 404), "{path}: {}", r.status);
        let b = body(&r);
        // The edge's own 400 page is HTML; what matters is no content and no path.
        assert!(
            !b.contains("TOP-SECRET") && !b.contains(&*dir.0.to_string_lossy()),
            "{path}: {b:?}"
        );
    }
    // A symlink inside the directory is fine.
    let r = get(a, "/static/alias.html");
    assert_eq!((r.status, body(&r)), (200, "<h1>home</h1>"));
    // Outside the mapping, no app: 404.
    assert_eq!(get(a, "/secret.txt").status, 404);
    assert_eq!(get(a, "/staticky").status, 404);

    // Symlinks out of the directory only when allowed.
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--static-follow-symlinks",
            "--static-map",
            &format!("/static={}", dir.path("public").display()),
        ])
        .spawn();
    let r = get(m.addr(), "/static/link.txt");
    assert_eq!((r.status, body(&r)), (200, "TOP-SECRET"));
    assert_eq!(
        get(m.addr(), "/static/%2e%2e/secret.txt").status,
        400,
        "traversal still refused"
    );
}

/// The probe app with `public/` mapped at `/static/` and an access log in `format`.
fn probe_logging_static(dir: &Scratch, log: &std::path::Path, format: &str) -> Master {
    Master::probe()
        .args([
            "-w",
            "1",
            "--static-map",
            &format!("/static/={}", dir.path("public").display()),
            "--access-logfile",
            log.to_str().unwrap(),
            "--access-logformat",
            format,
        ])
        .spawn()
}

#[test]
fn static_files_in_front_of_an_app_are_access_logged() {
    let dir = site();
    let log = dir.path("access.log");
    let m = probe_logging_static(&dir, &log, "%(m)s %(U)s %(s)s %(B)s");
    let a = m.addr();
    let r = get(a, "/static/ten.txt");
    assert_eq!((r.status, body(&r)), (200, "0123456789"));
    assert_eq!(body(&get(a, "/")), "Hello, World!");
    assert_eq!(
        body(&get(a, "/staticky")),
        "Hello, World!",
        "a prefix matches whole segments"
    );
    assert_eq!(
        get(a, "/static/missing").status,
        404,
        "mapped paths never reach the app"
    );
    let r = get(a, "/static");
    assert_eq!((r.status, r.header("location")), (301, Some("/static/")));
    assert_eq!(send(a, "HEAD", "/static/ten.txt", &[]).status, 200);

    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(5), || read().lines().count() >= 6),
        "log: {}",
        read()
    );
    let lines: Vec<String> = read().lines().map(str::to_owned).collect();
    assert!(
        lines.contains(&"GET /static/ten.txt 200 10".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"GET /static/missing 404 10".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"HEAD /static/ten.txt 200 0".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"GET / 200 13".to_string()), "{lines:?}");
}

#[test]
fn a_missing_directory_is_a_configuration_error_naming_the_setting() {
    // Checked when the configuration is loaded (a Django site before `collectstatic`):
    // start-up and --check-config both fail with the setting, the value and its source,
    // instead of every worker failing to boot.
    let dir = Scratch::new("static-missing");
    let value = format!("/={}", dir.path("nope").display());
    let (code, _, log) = Master::runicorn()
        .no_bind()
        .args(["-w", "1", "-b", "127.0.0.1:0", "--static-map", &value])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("`static_map`") && log.contains(&value) && log.contains("command line"),
        "{log}"
    );
    assert!(!log.contains("Booting worker"), "{log}");
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args(["--check-config", "--static-map", &value])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("`static_map`") && err.contains(&value),
        "{err}"
    );
    // A relative directory is looked up from --chdir, where the workers run.
    std::fs::create_dir(dir.path("public")).unwrap();
    let chdir = dir.path("").display().to_string();
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args([
            "--check-config",
            "--chdir",
            &chdir,
            "--static-map",
            "/s=public",
        ])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
}

// ===== The edge path: static answers written below hyper (sendfile) =====

/// Deterministic, non-repeating-looking content of `n` bytes.
fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// One raw response from a keep-alive connection: the head lines (status line first)
/// and exactly `body_len(head)` body bytes (the caller knows HEAD/304 carry none).
fn read_raw(r: &mut impl BufRead, has_body: bool) -> (Vec<String>, Vec<u8>) {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "connection closed early");
        let l = l.trim_end_matches(['\r', '\n']).to_string();
        if l.is_empty() {
            break;
        }
        lines.push(l);
    }
    let len: usize = lines
        .iter()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0u8; if has_body { len } else { 0 }];
    r.read_exact(&mut body).unwrap();
    (lines, body)
}

fn status_of(lines: &[String]) -> u16 {
    lines[0].split(' ').nth(1).unwrap().parse().unwrap()
}

fn header_of<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (k, v) = l.split_once(": ")?;
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// A head without its `date` line (the only line that may differ between two answers).
fn without_date(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("date: "))
        .cloned()
        .collect()
}

fn open_buffered(a: SocketAddr) -> std::io::BufReader<TcpStream> {
    let s = TcpStream::connect_timeout(&a, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    std::io::BufReader::new(s)
}

fn sized_site() -> (Scratch, Vec<u8>, Vec<u8>) {
    let dir = Scratch::new("static-edge");
    let p = dir.path("public");
    std::fs::create_dir_all(&p).unwrap();
    let small = pattern(4096, 1);
    let big = pattern(1 << 20, 2);
    std::fs::write(p.join("empty.txt"), b"").unwrap();
    std::fs::write(p.join("4k.bin"), &small).unwrap();
    std::fs::write(p.join("1m.bin"), &big).unwrap();
    (dir, small, big)
}

#[test]
fn keep_alive_bodies_are_byte_exact_with_and_without_sendfile() {
    use std::io::BufRead as _;
    let (dir, small, big) = sized_site();
    for extra in [None, Some("--no-sendfile")] {
        let mut args = vec!["-w".to_string(), "1".into(), "--static-map".into()];
        args.push(root_of(&dir));
        args.extend(extra.map(String::from));
        let m = Master::runicorn().args(args).spawn();
        let mut c = open_buffered(m.addr());
        let ask = |c: &mut std::io::BufReader<TcpStream>, req: &str, body: bool| {
            c.get_mut().write_all(req.as_bytes()).unwrap();
            read_raw(c, body)
        };
        for _ in 0..2 {
            let (h, b) = ask(&mut c, "GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n", true);
            assert_eq!((status_of(&h), b.len()), (200, 0), "{extra:?} {h:?}");
            assert_eq!(header_of(&h, "content-length"), Some("0"));
            let (h, b) = ask(&mut c, "GET /4k.bin HTTP/1.1\r\nHost: t\r\n\r\n", true);
            assert_eq!(status_of(&h), 200);
            assert!(b == small, "{extra:?}: 4 KB body differs");
            let (h, b) = ask(&mut c, "GET /1m.bin HTTP/1.1\r\nHost: t\r\n\r\n", true);
            assert_eq!(header_of(&h, "content-length"), Some("1048576"));
            assert!(b == big, "{extra:?}: 1 MB body differs");
            let (h, b) = ask(
                &mut c,
                "GET /1m.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-700999\r\n\r\n",
                true,
            );
            assert_eq!(status_of(&h), 206);
            assert_eq!(
                header_of(&h, "content-range"),
                Some("bytes 1000-700999/1048576")
            );
            assert!(b == big[1000..701_000], "{extra:?}: range differs");
            let (h, _) = ask(&mut c, "HEAD /1m.bin HTTP/1.1\r\nHost: t\r\n\r\n", false);
            assert_eq!(status_of(&h), 200);
            assert_eq!(header_of(&h, "content-length"), Some("1048576"));
        }
        // The connection is still in sync after a HEAD: nothing stray follows it.
        let (h, b) = ask(
            &mut c,
            "GET /4k.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            true,
        );
        assert_eq!(
            (status_of(&h), header_of(&h, "connection")),
            (200, Some("close"))
        );
        assert!(b == small);
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "bytes after the last response: {}",
            rest.len()
        );
        let _ = c.fill_buf();
    }
}

#[test]
fn pipelined_static_and_app_requests_stay_in_order_and_heads_match_hypers() {
    let (dir, small, big) = sized_site();
    std::fs::write(dir.path("public/ten.txt"), b"0123456789").unwrap();
    let m = Master::probe()
        .args([
            "-w",
            "1",
            "--static-map",
            &format!("/static/={}", dir.path("public").display()),
        ])
        .spawn();
    let a = m.addr();
    let kinds: &[(&str, &str, bool)] = &[
        ("GET", "", true),
        ("HEAD", "", false),
        ("GET", "Range: bytes=2-5\r\n", true),
        ("GET", "Accept-Encoding: gzip\r\n", true),
    ];
    for file in ["/static/ten.txt", "/static/1m.bin"] {
        for (method, extra, has_body) in kinds {
            // Alone on a connection (hyper idle): the edge answers.
            let mut alone = open_buffered(a);
            let req = format!("{method} {file} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
            alone.get_mut().write_all(req.as_bytes()).unwrap();
            let (edge_head, edge_body) = read_raw(&mut alone, *has_body);
            // Behind a slow app request in one write: hyper answers it, in order.
            let mut piped = open_buffered(a);
            let both = format!("GET /sleep?ms=200 HTTP/1.1\r\nHost: t\r\n\r\n{req}");
            piped.get_mut().write_all(both.as_bytes()).unwrap();
            let (h, b) = read_raw(&mut piped, true);
            assert_eq!((status_of(&h), b.as_slice()), (200, &b"slept 200"[..]));
            let (hyper_head, hyper_body) = read_raw(&mut piped, *has_body);
            assert_eq!(
                without_date(&edge_head),
                without_date(&hyper_head),
                "{method} {file} {extra:?}"
            );
            assert!(edge_body == hyper_body, "{method} {file} {extra:?}");
        }
        // 304 both ways.
        let etag = {
            let mut c = open_buffered(a);
            let req = format!("HEAD {file} HTTP/1.1\r\nHost: t\r\n\r\n");
            c.get_mut().write_all(req.as_bytes()).unwrap();
            header_of(&read_raw(&mut c, false).0, "etag")
                .unwrap()
                .to_string()
        };
        let req = format!("GET {file} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
        let mut alone = open_buffered(a);
        alone.get_mut().write_all(req.as_bytes()).unwrap();
        let (edge_head, _) = read_raw(&mut alone, false);
        let mut piped = open_buffered(a);
        let both = format!("GET /sleep?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n{req}");
        piped.get_mut().write_all(both.as_bytes()).unwrap();
        read_raw(&mut piped, true);
        let (hyper_head, _) = read_raw(&mut piped, false);
        assert_eq!(status_of(&edge_head), 304);
        assert_eq!(without_date(&edge_head), without_date(&hyper_head));
    }

    // A long mixed pipeline in one write comes back in request order.
    let mut c = open_buffered(a);
    let mut reqs = String::new();
    let order: &[&str] = &[
        "/static/4k.bin",
        "/sleep?ms=100",
        "/static/1m.bin",
        "/static/4k.bin",
        "/",
        "/static/1m.bin",
        "/static/empty.txt",
        "/sleep?ms=10",
        "/static/4k.bin",
    ];
    for p in order {
        reqs.push_str(&format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    c.get_mut().write_all(reqs.as_bytes()).unwrap();
    for p in order {
        let (h, b) = read_raw(&mut c, true);
        assert_eq!(status_of(&h), 200, "{p}");
        let want: &[u8] = match *p {
            "/static/4k.bin" => &small,
            "/static/1m.bin" => &big,
            "/static/empty.txt" => b"",
            "/" => b"Hello, World!",
            "/sleep?ms=100" => b"slept 100",
            _ => b"slept 10",
        };
        assert!(b == want, "{p}: wrong body ({} bytes)", b.len());
    }
    // HTTP/1.0: answered in kind, closed unless asked to stay.
    let mut c = open_buffered(a);
    c.get_mut()
        .write_all(b"GET /static/ten.txt HTTP/1.0\r\n\r\n")
        .unwrap();
    let (h, b) = read_raw(&mut c, true);
    assert!(h[0].starts_with("HTTP/1.0 200"), "{h:?}");
    assert_eq!(b, b"0123456789");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let mut c = open_buffered(a);
    c.get_mut()
        .write_all(b"GET /static/ten.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /static/ten.txt HTTP/1.0\r\n\r\n")
        .unwrap();
    let (h, _) = read_raw(&mut c, true);
    assert_eq!(header_of(&h, "connection"), Some("keep-alive"));
    let (h, b) = read_raw(&mut c, true);
    assert_eq!((status_of(&h), b.as_slice()), (200, &b"0123456789"[..]));
}

#[test]
fn modified_replaced_and_deleted_files_are_noticed_within_the_window() {
    let (dir, small, big) = sized_site();
    let m = Master::runicorn()
        .args(["-w", "1", "--static-map", &root_of(&dir)])
        .spawn();
    let a = m.addr();
    let p = dir.path("public");
    for (name, old) in [("4k.bin", &small), ("1m.bin", &big)] {
        assert!(get(a, &format!("/{name}")).body == *old);
        // Rewritten in place, a different size.
        let mut new = pattern(old.len() + 100, 7);
        std::fs::write(p.join(name), &new).unwrap();
        std::thread::sleep(CACHE_WINDOW);
        let r = get(a, &format!("/{name}"));
        assert!(r.body == new, "{name}: rewrite not seen");
        // Replaced by rename (the old inode stays open in the cache until then).
        new = pattern(old.len() / 2, 9);
        std::fs::write(p.join("tmp"), &new).unwrap();
        std::fs::rename(p.join("tmp"), p.join(name)).unwrap();
        std::thread::sleep(CACHE_WINDOW);
        let r = get(a, &format!("/{name}"));
        assert!(r.body == new, "{name}: replacement not seen");
        assert_eq!(
            r.header("content-length"),
            Some(new.len().to_string().as_str())
        );
        // Deleted.
        std::fs::remove_file(p.join(name)).unwrap();
        std::thread::sleep(CACHE_WINDOW);
        assert_eq!(get(a, &format!("/{name}")).status, 404, "{name}: deletion");
        // And back.
        std::fs::write(p.join(name), old).unwrap();
        std::thread::sleep(CACHE_WINDOW);
        assert!(get(a, &format!("/{name}")).body == *old);
    }
}

#[test]
fn a_client_that_stops_reading_is_cut_without_hurting_others() {
    let (dir, small, _) = sized_site();
    // Far larger than the socket buffers below, so the send really stalls.
    let huge = pattern(16 << 20, 3);
    std::fs::write(dir.path("public/huge.bin"), &huge).unwrap();
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--send-timeout",
            "1",
            "--static-map",
            &root_of(&dir),
        ])
        .spawn();
    let a = m.addr();
    let mut stalled = TcpStream::connect_timeout(&a, Duration::from_secs(5)).unwrap();
    // A fixed small receive buffer (no autotuning up to tens of MB).
    nix::sys::socket::setsockopt(&stalled, nix::sys::socket::sockopt::RcvBuf, &65536).unwrap();
    stalled
        .write_all(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // While it is stalled, others are served at once.
    for _ in 0..20 {
        let t = std::time::Instant::now();
        assert!(get(a, "/4k.bin").body == small);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
    std::thread::sleep(Duration::from_secs(3));
    // Now read: the server gave up on it, so the body ends short of 48 MB.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stalled.read_to_end(&mut got);
    assert!(
        got.len() < huge.len(),
        "the stalled client got everything ({} bytes)",
        got.len()
    );
    assert!(get(a, "/4k.bin").body == small);
}

#[test]
fn edge_and_hyper_access_lines_are_identical() {
    let (dir, _, _) = sized_site();
    let log = dir.path("access.log");
    let m = probe_logging_static(
        &dir,
        &log,
        "%(h)s %(l)s %(u)s \"%(r)s\" %(s)s %(b)s %(B)s \"%(f)s\" \"%(a)s\" %(m)s %(U)s %(q)s %(H)s {%({etag}o)s} {%({server}o)s} {%({x-custom}i)s}",
    );
    let a = m.addr();
    let req = "GET /static/4k.bin?v=1 HTTP/1.1\r\nHost: t\r\nReferer: http://r.example/\r\nUser-Agent: test-agent/1\r\nX-Custom: yes\r\n\r\n";
    let range = "GET /static/1m.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-99\r\nUser-Agent: test-agent/1\r\n\r\n";
    let head = "HEAD /static/1m.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    for (r, body) in [(req, true), (range, true), (head, false)] {
        // Edge.
        let mut c = open_buffered(a);
        c.get_mut().write_all(r.as_bytes()).unwrap();
        read_raw(&mut c, body);
        // hyper (behind an app request).
        let mut c = open_buffered(a);
        let both = format!("GET /sleep?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n{r}");
        c.get_mut().write_all(both.as_bytes()).unwrap();
        read_raw(&mut c, true);
        read_raw(&mut c, body);
    }
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(5), || read().lines().count() >= 9),
        "log: {}",
        read()
    );
    // The peer's port differs per connection: compare without it.
    let lines: Vec<String> = read()
        .lines()
        .filter(|l| !l.contains("/sleep"))
        .map(|l| l.to_string())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    assert!(
        lines[0].contains("\"GET /static/4k.bin?v=1 HTTP/1.1\" 200 4096 4096 \"http://r.example/\" \"test-agent/1\""),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("{yes}"), "{}", lines[0]);
    assert!(lines[2].contains(" 206 100 100 "), "{}", lines[2]);
    assert!(
        lines[4].contains("\"HEAD /static/1m.bin HTTP/1.1\" 200 0 0 "),
        "{}",
        lines[4]
    );
}

#[test]
fn without_keep_alive_the_edge_closes_after_each_answer() {
    let (dir, small, _) = sized_site();
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--keep-alive",
            "0",
            "--static-map",
            &root_of(&dir),
        ])
        .spawn();
    let mut c = open_buffered(m.addr());
    c.get_mut()
        .write_all(
            b"GET /4k.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /4k.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .unwrap();
    let (h, b) = read_raw(&mut c, true);
    assert_eq!(
        (status_of(&h), header_of(&h, "connection")),
        (200, Some("close"))
    );
    assert!(b == small);
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "a second answer on a closing connection");
}

/// Static answers the edge writes below hyper count in the metrics like app responses:
/// five keep-alive GETs of a file, all plaintext so all edge-served.
#[test]
fn edge_served_static_requests_are_counted_in_the_metrics() {
    let dir = site();
    let m = Master::runicorn()
        .args([
            "-w",
            "1",
            "--static-map",
            &root_of(&dir),
            "--metrics-bind",
            "127.0.0.1:0",
        ])
        .spawn();
    let maddr = crate::observe::metrics_addr(&m);
    let mut c = Conn::open(m.addr()).unwrap();
    for _ in 0..5 {
        let r = c.request("/style.css").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"body{}"[..]));
    }
    let mut text = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            text = crate::util::get(maddr, "/metrics")
                .map(|r| r.1)
                .unwrap_or_default();
            text.contains("\nrunicorn_requests_total 5\n")
                && text.contains("runicorn_responses_total{code=\"200\"} 5\n")
        }),
        "{text}"
    );
}
