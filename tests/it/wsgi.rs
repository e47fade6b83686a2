//! The WSGI host end to end: the `runicorn` binary serving the Python apps in
//! tests/apps/ (loading forms and failures, environ, wsgi.input, responses, errors, app
//! threads, Flask).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::*;

fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// `runicorn --chdir tests/apps <extra args> APP`.
fn serve(app: &str, extra: &[&str]) -> Master {
    let dir = apps();
    Master::runicorn()
        .args(["--chdir", dir.to_str().unwrap()])
        .args(extra.iter().copied())
        .arg(app)
        .spawn()
}

/// A raw HTTP exchange on its own connection (the request should say
/// `Connection: close`): status, headers, de-chunked body, and whether the body was
/// complete (a terminated chunked body, or Content-Length bytes, or EOF otherwise).
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
    complete: bool,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    parse(&all)
}

fn parse(all: &[u8]) -> Raw {
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let rest = &all[split + 4..];
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let mut r = Raw {
        status,
        head,
        body: Vec::new(),
        complete: false,
    };
    if r.header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        let mut i = 0;
        while let Some(eol) = rest[i..].windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[i..i + eol]).unwrap().trim(), 16)
                    .unwrap();
            i += eol + 2;
            if size == 0 {
                r.complete = true;
                break;
            }
            if rest.len() < i + size {
                r.body.extend_from_slice(&rest[i..]);
                break;
            }
            r.body.extend_from_slice(&rest[i..i + size]);
            i += size + 2;
        }
    } else if let Some(n) = r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        r.body = rest[..n.min(rest.len())].to_vec();
        r.complete = rest.len() >= n;
    } else {
        r.body = rest.to_vec();
        r.complete = true;
    }
    r
}

fn get(addr: SocketAddr, path: &str) -> Raw {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Raw {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

fn json(r: &Raw) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

// ===== loading =====

#[test]
fn serves_hello_world() {
    let m = serve("hello:app", &[]);
    let r = get(m.addr(), "/");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    assert_eq!(r.header("content-length").as_deref(), Some("13"));
    assert_eq!(r.header("server").as_deref(), Some("runicorn"));
}

#[test]
fn module_alone_means_application_and_packages_work() {
    let m = serve("hello", &[]);
    assert_eq!(get(m.addr(), "/").text(), "Hello, World!");
    let m = serve("pkg.sub", &[]);
    assert_eq!(get(m.addr(), "/").text(), "pkg.sub");
}

#[test]
fn factory_calls_with_literal_arguments() {
    let m = serve("hello:create_app()", &[]);
    assert_eq!(get(m.addr(), "/").text(), "Hello, factory!");
    let m = serve("hello:create_app('Hi', punct='?')", &[]);
    assert_eq!(get(m.addr(), "/").text(), "Hi, factory?");
}

#[test]
fn wsgi_app_from_a_config_file() {
    let s = Scratch::new("wsgi-conf");
    let conf = s.path("conf.toml");
    std::fs::write(&conf, "wsgi_app = \"hello:app\"\n").unwrap();
    let m = Master::runicorn()
        .args([
            "--chdir",
            apps().to_str().unwrap(),
            "-c",
            conf.to_str().unwrap(),
        ])
        .spawn();
    assert_eq!(get(m.addr(), "/").text(), "Hello, World!");
}

#[test]
fn import_error_exits_4_with_the_traceback() {
    let dir = apps();
    let (code, _, err) = Master::runicorn()
        .args(["--chdir", dir.to_str().unwrap(), "broken_import:app"])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("Traceback (most recent call last)"), "{err}");
    assert!(
        err.contains("ModuleNotFoundError: No module named 'module_that_does_not_exist_anywhere'"),
        "{err}"
    );
    assert!(err.contains("App failed to load."), "{err}");
    assert!(
        err.matches("Booting worker").count() <= 1,
        "no respawn loop:\n{err}"
    );
}

#[test]
fn check_config_imports_the_app() {
    let dir = apps();
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args([
            "--check-config",
            "--chdir",
            dir.to_str().unwrap(),
            "hello:app",
        ])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .args([
            "--check-config",
            "--chdir",
            dir.to_str().unwrap(),
            "broken_import:app",
        ])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Error while loading the application:")
            && err.contains("module_that_does_not_exist_anywhere"),
        "{err}"
    );
}

#[test]
fn missing_module_or_callable_exits_4() {
    let dir = apps();
    let (code, _, err) = Master::runicorn()
        .args(["--chdir", dir.to_str().unwrap(), "hello:nope"])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("Failed to find attribute \"nope\" in \"hello\"."),
        "{err}"
    );
    let (code, _, err) = Master::runicorn()
        .args(["--chdir", dir.to_str().unwrap(), "no_such_module:app"])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("No module named 'no_such_module'"), "{err}");
    let (code, _, err) = Master::runicorn()
        .args([
            "--chdir",
            dir.to_str().unwrap(),
            "hello:create_app(__import__('os'))",
        ])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("Failed to parse arguments as literal values"),
        "{err}"
    );
}

#[test]
fn pythonpath_and_chdir_reach_sys_path() {
    let extra = apps().join("extra");
    // Without --pythonpath the module is not importable from tests/apps.
    let (code, _, _) = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap(), "onpath:app"])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4));
    let m = serve(
        "onpath:app",
        &["--pythonpath", &format!("/nonexistent,{}", extra.display())],
    );
    assert_eq!(get(m.addr(), "/").text(), "onpath");
    // --chdir alone makes its directory importable (the cwd goes on sys.path).
    let m = Master::runicorn()
        .args(["--chdir", extra.to_str().unwrap(), "onpath:app"])
        .spawn();
    assert_eq!(get(m.addr(), "/").text(), "onpath");
}

#[test]
fn asgi_class_needs_an_asgi_app_and_eventlet_and_tornado_are_refused() {
    let (code, _, err) = Master::runicorn()
        .args(["--chdir", apps().to_str().unwrap()])
        .args(["-k", "uvicorn.workers.UvicornWorker", "hello:app"])
        .run(Duration::from_secs(10));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("hello:app is not an ASGI application"),
        "{err}"
    );
    // Gunicorn 27: "Error: class uri 'eventlet' invalid or not found"; never a silent
    // one-request-per-worker fallback.
    for class in ["eventlet", "tornado"] {
        let (code, _, err) = Master::runicorn()
            .args(["-k", class, "hello:app"])
            .run(Duration::from_secs(10));
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!("class uri '{class}' invalid or not found")),
            "{err}"
        );
    }
}

#[test]
fn hup_reloads_the_app_code() {
    // Without --preload the master never imports the app: workers of the new generation
    // import the changed file (Gunicorn's deploy-by-HUP).
    let s = Scratch::new("wsgi-hup");
    let write = |body: &str| {
        let code = format!(
            "def app(environ, start_response):\n    start_response('200 OK', [('Content-Length', '{}')])\n    return [b'{body}']\n",
            body.len()
        );
        std::fs::write(s.path("reloadable.py"), code).unwrap();
    };
    write("one");
    let m = Master::runicorn()
        .args(["--chdir", s.0.to_str().unwrap(), "reloadable:app"])
        .spawn();
    assert_eq!(get(m.addr(), "/").text(), "one");
    // A different size: a same-second rewrite of equal size would reuse the stale .pyc.
    write("second");
    m.signal(Signal::SIGHUP);
    assert!(
        eventually(Duration::from_secs(15), || get(m.addr(), "/").text()
            == "second"),
        "{}",
        m.log()
    );
}

#[test]
fn workers_run_atexit_handlers_when_they_stop() {
    let s = Scratch::new("wsgi-atexit");
    let file = s.path("atexit.txt");
    let mut m = Master::runicorn()
        .args([
            "--chdir",
            apps().to_str().unwrap(),
            "-w",
            "2",
            "atexit_app:app",
        ])
        .env("ATEXIT_FILE", file.to_str().unwrap())
        .spawn();
    assert_eq!(get(m.addr(), "/").text(), "ok");
    assert!(eventually(Duration::from_secs(10), || m
        .count("Booting worker")
        == 2));
    std::thread::sleep(Duration::from_millis(500));
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(text.matches("atexit ran").count(), 2, "{text}");
}

#[test]
fn preload_imports_in_the_master_and_reseeds_workers() {
    let m = serve("preload_app:app", &["--preload", "-w", "2"]);
    let master = m.pid().as_raw().to_string();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let r = get(m.addr(), "/");
        let t = r.text();
        let parts: Vec<&str> = t.split(' ').collect();
        assert_eq!(parts[0], master, "imported in the master: {t}");
        assert_ne!(parts[1], master, "served by a worker: {t}");
        seen.insert(parts[2].to_string());
    }
    // random is reseeded after fork: no two responses repeat a value.
    assert_eq!(seen.len(), 20);
}

// ===== environ and wsgi.input =====

#[test]
fn environ_is_complete() {
    let m = serve("environ_app:app", &[]);
    let req = b"POST /a%20b/%E9?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nX-Foo: 1\r\nX-Foo: 2\r\n\
                X_Bar: dropped\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let r = raw(m.addr(), req);
    let e = json(&r);
    let s = |k: &str| {
        e[k].as_str()
            .unwrap_or_else(|| panic!("{k} missing: {e}"))
            .to_string()
    };
    assert_eq!(s("REQUEST_METHOD"), "POST");
    assert_eq!(s("PATH_INFO"), "/a b/\u{e9}");
    assert_eq!(
        e["PATH_INFO.codepoints"],
        serde_json::json!([47, 97, 32, 98, 47, 233])
    );
    assert_eq!(s("QUERY_STRING"), "x=1&y=2");
    assert_eq!(s("RAW_URI"), "/a%20b/%E9?x=1&y=2");
    assert_eq!(s("SCRIPT_NAME"), "");
    assert_eq!(s("SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(s("SERVER_NAME"), "127.0.0.1");
    assert_eq!(s("SERVER_PORT"), m.addr().port().to_string());
    assert_eq!(s("REMOTE_ADDR"), "127.0.0.1");
    assert!(s("REMOTE_PORT").parse::<u16>().is_ok());
    assert_eq!(s("CONTENT_TYPE"), "text/plain");
    assert_eq!(s("CONTENT_LENGTH"), "5");
    assert_eq!(s("HTTP_HOST"), "example.com:8080");
    assert_eq!(s("HTTP_X_FOO"), "1,2");
    assert!(
        e.get("HTTP_X_BAR").is_none(),
        "underscore headers are dropped: {e}"
    );
    assert!(e.get("HTTP_CONTENT_TYPE").is_none() && e.get("HTTP_CONTENT_LENGTH").is_none());
    assert!(s("SERVER_SOFTWARE").starts_with("runicorn/"));
    assert_eq!(s("wsgi.url_scheme"), "http");
    assert_eq!(s("wsgi.input.read"), "hello");
    assert_eq!(e["wsgi.version"], serde_json::json!([1, 0]));
    for (k, v) in [
        ("wsgi.multithread", false),
        ("wsgi.multiprocess", false),
        ("wsgi.run_once", false),
        ("wsgi.input_terminated", true),
    ] {
        assert_eq!(e[k], serde_json::json!(v), "{k}");
    }
    assert_eq!(e["wsgi.errors"], serde_json::json!(true));
    assert_eq!(e["wsgi.file_wrapper"], serde_json::json!(true));
    assert!(
        m.wait_for_log(
            "environ_app: logged through wsgi.errors",
            Duration::from_secs(5)
        )
        .is_some(),
        "{}",
        m.log()
    );
}

/// The exact environ (sorted items; ports and objects masked by environ_repr.py) for
/// several requests on one keep-alive connection: the per-thread caches and the
/// constant part shared between requests must not change a value or let one request's
/// keys (or an app's mutation of its environ) leak into the next.
#[test]
fn environ_is_exactly_the_same_across_requests() {
    let m = serve("environ_repr:app", &[]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut exchange = |req: &[u8]| -> String {
        s.write_all(req).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed early");
            all.extend_from_slice(&buf[..n]);
            if let Some(split) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                let r = parse(&all);
                if r.complete && all.len() >= split + 4 + r.body.len() {
                    assert_eq!(r.status, 200, "{}", r.text());
                    return r.text();
                }
            }
        }
    };
    let first = exchange(
        b"POST /a%20b/%E9?x=1&y=%41 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t/1\r\n\
          Accept: */*\r\nX-Foo: 1\r\nX-Foo: 2\r\nX_Bar: dropped\r\nX-Very-Long-Custom-Header-Name-\
          That-Is-Longer-Than-Most: v\r\nCookie: a=\xe9\r\nContent-Type: text/plain\r\n\
          Content-Length: 5\r\n\r\nhello",
    );
    let expected_first = "[('CONTENT_LENGTH', '5'), ('CONTENT_TYPE', 'text/plain'), \
        ('HTTP_ACCEPT', '*/*'), ('HTTP_COOKIE', 'a=\u{e9}'), ('HTTP_HOST', 'example.com:8080'), \
        ('HTTP_USER_AGENT', 't/1'), \
        ('HTTP_X_FOO', '1,2'), \
        ('HTTP_X_VERY_LONG_CUSTOM_HEADER_NAME_THAT_IS_LONGER_THAN_MOST', 'v'), ('PATH_INFO', '/a b/\u{e9}'), ('QUERY_STRING', 'x=1&y=%41'), \
        ('RAW_URI', '/a%20b/%E9?x=1&y=%41'), ('REMOTE_ADDR', '127.0.0.1'), \
        ('REMOTE_PORT', '<port>'), ('REQUEST_METHOD', 'POST'), ('SCRIPT_NAME', ''), \
        ('SERVER_NAME', '127.0.0.1'), ('SERVER_PORT', '<port>'), \
        ('SERVER_PROTOCOL', 'HTTP/1.1'), ('SERVER_SOFTWARE', 'runicorn'), \
        ('wsgi.errors', '<Errors>'), ('wsgi.file_wrapper', '<FileWrapper>'), \
        ('wsgi.input', '<Input>'), ('wsgi.input_terminated', True), \
        ('wsgi.multiprocess', False), ('wsgi.multithread', False), ('wsgi.run_once', False), \
        ('wsgi.url_scheme', 'http'), ('wsgi.version', (1, 0))]";
    assert_eq!(first, expected_first);
    let second = exchange(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let expected_second = "[('HTTP_HOST', 't'), ('PATH_INFO', '/'), ('QUERY_STRING', ''), \
        ('RAW_URI', '/'), ('REMOTE_ADDR', '127.0.0.1'), ('REMOTE_PORT', '<port>'), \
        ('REQUEST_METHOD', 'GET'), ('SCRIPT_NAME', ''), ('SERVER_NAME', '127.0.0.1'), \
        ('SERVER_PORT', '<port>'), ('SERVER_PROTOCOL', 'HTTP/1.1'), \
        ('SERVER_SOFTWARE', 'runicorn'), ('wsgi.errors', '<Errors>'), \
        ('wsgi.file_wrapper', '<FileWrapper>'), ('wsgi.input', '<Input>'), \
        ('wsgi.input_terminated', True), ('wsgi.multiprocess', False), \
        ('wsgi.multithread', False), ('wsgi.run_once', False), ('wsgi.url_scheme', 'http'), \
        ('wsgi.version', (1, 0))]";
    assert_eq!(second, expected_second);
    // Same again, and an HTTP/1.0 request with an unusual method.
    assert_eq!(
        exchange(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"),
        expected_second
    );
    let third = exchange(b"PURGE /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(
        third,
        expected_second
            .replace(
                "('HTTP_HOST', 't'), ",
                "('HTTP_CONNECTION', 'keep-alive'), "
            )
            .replace("'/'), ('QUERY", "'/x'), ('QUERY")
            .replace("('RAW_URI', '/')", "('RAW_URI', '/x')")
            .replace("'GET'", "'PURGE'")
            .replace("HTTP/1.1", "HTTP/1.0")
    );
}

#[test]
fn script_name_comes_from_the_process_environment() {
    let m = Master::runicorn()
        .args([
            "--chdir",
            apps().to_str().unwrap(),
            "-w",
            "2",
            "--threads",
            "2",
            "environ_app:app",
        ])
        .env("SCRIPT_NAME", "/prefix")
        .spawn();
    let e = json(&get(m.addr(), "/prefix/rest"));
    assert_eq!(e["SCRIPT_NAME"], "/prefix");
    assert_eq!(e["PATH_INFO"], "/rest");
    assert_eq!(
        (
            e["wsgi.multithread"].as_bool(),
            e["wsgi.multiprocess"].as_bool()
        ),
        (Some(true), Some(true))
    );
    // A path outside SCRIPT_NAME is a configuration problem (Gunicorn: 500).
    assert_eq!(get(m.addr(), "/elsewhere").status, 500);
    assert!(
        m.wait_for_log("does not start with SCRIPT_NAME", Duration::from_secs(5))
            .is_some()
    );
}

#[test]
fn secure_scheme_headers_from_trusted_proxies() {
    let req = b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    // 127.0.0.1 is trusted by default.
    let m = serve("environ_app:app", &[]);
    assert_eq!(json(&raw(m.addr(), req))["wsgi.url_scheme"], "https");
    assert_eq!(json(&get(m.addr(), "/"))["wsgi.url_scheme"], "http");
    let bad = b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(m.addr(), bad).status, 400);
    let m = serve("environ_app:app", &["--forwarded-allow-ips", "10.0.0.0/8"]);
    assert_eq!(
        json(&raw(m.addr(), req))["wsgi.url_scheme"],
        "http",
        "untrusted peer"
    );
}

#[test]
fn header_map_refuse_and_dangerous() {
    let req = b"GET / HTTP/1.1\r\nHost: t\r\nX_Bar: underscored\r\nConnection: close\r\n\r\n";
    let m = serve("environ_app:app", &["--header-map", "dangerous"]);
    assert_eq!(json(&raw(m.addr(), req))["HTTP_X_BAR"], "underscored");
    let m = serve("environ_app:app", &["--header-map", "refuse"]);
    assert_eq!(raw(m.addr(), req).status, 400);
    assert_eq!(get(m.addr(), "/").status, 200);
}

/// A virtualenv made without pip, with a module only its site-packages has.
///
/// Against a pip-installed runicorn (`RUNICORN_BIN`) the venv is made by that command's own
/// Python: its site-packages path names the minor version.
#[test]
fn virtual_env_site_packages_are_importable() {
    let s = Scratch::new("wsgi-venv");
    let venv = s.path("venv");
    let python = pip_installed()
        .map(|bin| bin.with_file_name("python"))
        .unwrap_or_else(|| "python3".into());
    let ok = std::process::Command::new(python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success());
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    std::fs::write(
        site.join("only_in_venv.py"),
        "import sys\ndef app(environ, start_response):\n    body = sys.prefix.encode()\n    \
         start_response('200 OK', [('Content-Length', str(len(body)))])\n    return [body]\n",
    )
    .unwrap();
    let m = Master::runicorn()
        .arg("only_in_venv:app")
        .env("VIRTUAL_ENV", venv.to_str().unwrap())
        .spawn();
    let r = get(m.addr(), "/");
    assert_eq!(r.status, 200, "{}", m.log());
    assert_eq!(
        std::fs::canonicalize(r.text()).unwrap(),
        std::fs::canonicalize(&venv).unwrap(),
        "sys.prefix is the venv"
    );
    // Without VIRTUAL_ENV the module is not found.
    let (code, _, _) = Master::runicorn()
        .arg("only_in_venv:app")
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(4));
}

fn sha256_hex(data: &[u8]) -> String {
    // The reference hash comes from Python itself, to keep the test free of a hash crate.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn large_uploads_spill_to_disk_and_read_back_intact() {
    let s = Scratch::new("wsgi-upload");
    // A small buffer, so the 3 MB body goes through the spill file.
    // tmp_upload_dir has no flag in Gunicorn either: config file only.
    let conf = s.path("conf.toml");
    let spill = s.path("spill");
    std::fs::create_dir(&spill).unwrap();
    std::fs::write(
        &conf,
        format!("tmp_upload_dir = {:?}\n", spill.to_str().unwrap()),
    )
    .unwrap();
    let m = serve(
        "upload_app:app",
        &["--wsgi-body-buffer", "65536", "-c", conf.to_str().unwrap()],
    );
    let mut body = Vec::with_capacity(3_000_000);
    let mut x: u32 = 12345;
    while body.len() < 3_000_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        body.push((x >> 16) as u8);
    }
    let want = sha256_hex(&body);
    for mode in ["read", "chunks", "lines", "readline", "readlines"] {
        let r = post(m.addr(), &format!("/?{mode}"), &body);
        let j = json(&r);
        assert_eq!(j["size"], 3_000_000, "{mode}: {j}");
        assert_eq!(j["sha256"], want.as_str(), "{mode}");
    }
    // Spill files are unlinked at once.
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
    // Small bodies stay in memory and read the same way.
    let j = json(&post(m.addr(), "/?lines", b"a\nbb\nccc"));
    assert_eq!(
        (j["size"].as_u64(), j["lines"].as_u64()),
        (Some(8), Some(3))
    );
}

#[test]
fn bodies_over_the_buffer_go_through_the_spill_directory() {
    // Proof that the spill path is taken: with an unusable directory, only bodies over
    // the threshold fail (500, logged); smaller ones are served from memory.
    let s = Scratch::new("wsgi-nospill");
    let conf = s.path("conf.toml");
    std::fs::write(&conf, "tmp_upload_dir = \"/nonexistent/runicorn-spill\"\n").unwrap();
    let m = serve(
        "upload_app:app",
        &["--wsgi-body-buffer", "1000", "-c", conf.to_str().unwrap()],
    );
    assert_eq!(json(&post(m.addr(), "/", &[b'x'; 1000]))["size"], 1000);
    assert_eq!(post(m.addr(), "/", &[b'x'; 1001]).status, 500);
    assert!(
        m.wait_for_log(
            "cannot buffer a request body in /nonexistent/runicorn-spill",
            Duration::from_secs(5)
        )
        .is_some()
    );
}

#[test]
fn chunked_request_bodies_get_a_content_length() {
    let m = serve("upload_app:app", &[]);
    let r = raw(
        m.addr(),
        b"POST /?read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    let j = json(&r);
    assert_eq!(
        (j["size"].as_u64(), j["content_length"].as_str()),
        (Some(5), Some("5"))
    );
}

#[test]
fn wsgiref_validator_finds_nothing_wrong() {
    let m = serve("validated:app", &[]);
    let r = post(m.addr(), "/", b"xyz");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "ok:xyz"),
        "{}",
        m.log()
    );
    let r = get(m.addr(), "/");
    assert_eq!((r.status, r.text().as_str()), (200, "ok:"), "{}", m.log());
    assert!(!m.log().contains("Error handling request"), "{}", m.log());
}

// ===== responses =====

#[test]
fn generators_stream_as_produced_with_chunked_encoding() {
    let m = serve("stream_app:app", &[]);
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut first = [0u8; 512];
    let n = s.read(&mut first).unwrap();
    let got = String::from_utf8_lossy(&first[..n]).into_owned();
    // The first chunk arrives before the generator has produced the rest (~1.2 s).
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    assert!(got.contains("chunk0") && !got.contains("chunk2"), "{got}");
    let mut all = first[..n].to_vec();
    s.read_to_end(&mut all).unwrap();
    let r = parse(&all);
    assert!(r.complete);
    assert_eq!(r.header("transfer-encoding").as_deref(), Some("chunked"));
    assert_eq!(r.text(), "chunk0\nchunk1\nchunk2\n");
}

#[test]
fn write_callable_file_wrapper_and_close() {
    let m = serve("stream_app:app", &[]);
    assert_eq!(get(m.addr(), "/write").text(), "written;returned");
    let source = std::fs::read(apps().join("stream_app.py")).unwrap();
    let file = get(m.addr(), "/file");
    assert_eq!(file.body, source);
    assert_eq!(get(m.addr(), "/file-tail").body, &source[10..110]);
    assert_eq!(get(m.addr(), "/file-bytesio").text(), "in memory");
    // --no-sendfile: the same bytes through Python reads.
    let plain = serve("stream_app:app", &["--no-sendfile"]);
    assert_eq!(get(plain.addr(), "/file").body, source);
    assert_eq!(get(plain.addr(), "/file-tail").body, &source[10..110]);
    assert_eq!(get(m.addr(), "/closing").text(), "ab");
    assert_eq!(
        get(m.addr(), "/closed").text(),
        "closing",
        "close() was called"
    );
    let r = get(m.addr(), "/empty-gen");
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = get(m.addr(), "/reason");
    assert!(
        r.head.starts_with("HTTP/1.1 299 Custom Thing"),
        "{}",
        r.head
    );
}

#[test]
fn a_client_that_leaves_stops_an_endless_generator_and_close_is_called() {
    let m = serve("stream_app:app", &[]);
    {
        let mut s = TcpStream::connect(m.addr()).unwrap();
        s.write_all(b"GET /infinite HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = vec![0; 1 << 20];
        let mut got = 0;
        while got < (1 << 20) {
            got += s.read(&mut buf).unwrap();
        }
    } // dropped: the client is gone
    // The only app thread (-k sync) is free again, and close() ran.
    assert!(
        eventually(Duration::from_secs(10), || get(m.addr(), "/closed")
            .text()
            .contains("infinite")),
        "{}",
        m.log()
    );
}

#[test]
fn content_length_is_never_exceeded_and_hop_headers_are_dropped() {
    let m = serve("stream_app:app", &[]);
    let mut c = Conn::open(m.addr()).unwrap();
    let r = c.request("/truncate").unwrap();
    assert_eq!(r.body, b"abcde");
    // The connection is still in sync: the extra bytes never went out.
    let r = c.request("/hop").unwrap();
    assert_eq!(r.body, b"ok");
    assert_eq!(r.header("x-kept"), Some("yes"));
    assert_eq!(r.header("server"), Some("runicorn"));
    assert_ne!(r.header("date"), Some("yesterday"));
    assert!(r.header("keep-alive").is_none() && r.header("transfer-encoding").is_none());
    assert!(!r.closes(), "the app's Connection: close is dropped");
}

#[test]
fn a_body_complete_at_its_declared_length_still_runs_the_app_iterable_to_its_end() {
    let m = serve("stream_app:app", &["-k", "sync"]);
    let mut c = Conn::open(m.addr()).unwrap();
    let r = c.request("/whole-then-more").unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"whole"[..]));
    // Same connection, same (only) app thread: the response was framed by its length and
    // the generator's later chunk was dropped, after the generator ran on to its end.
    let r = c.request("/closed").unwrap();
    let closed = String::from_utf8_lossy(&r.body);
    assert!(closed.contains("ran-to-end"), "{closed}");
}

#[test]
fn exc_info_and_invalid_responses() {
    let m = serve("stream_app:app", &[]);
    let r = get(m.addr(), "/exc-info");
    assert_eq!((r.status, r.text().as_str()), (503, "replaced"));
    for (path, logged) in [
        (
            "/twice",
            "start_response() called a second time without exc_info",
        ),
        ("/bad-status", "Invalid status"),
        ("/bad-header", "Invalid header name"),
        ("/bad-value", "Invalid header value"),
        ("/str-body", "is not a byte"),
    ] {
        let r = get(m.addr(), path);
        assert_eq!(r.status, 500, "{path}");
        assert!(
            r.text().contains("<h1><p>Internal Server Error</p></h1>"),
            "{path}"
        );
        assert!(r.header("injected").is_none());
        m.wait_for_log(
            &format!("Error handling request {path}"),
            Duration::from_secs(5),
        )
        .expect(path);
        assert!(
            m.wait_for_log(logged, Duration::from_secs(5)).is_some(),
            "{path}: {}",
            m.log()
        );
    }
}

/// Whitespace around a header value goes, as Gunicorn strips it: HTTP/2 forbids it and
/// strict clients (nghttp2, Python's h2) reset the stream, so a stock Django page with a
/// cookie (`Set-Cookie:  csrftoken=...`) did not load over HTTP/2.
#[test]
fn header_values_lose_the_whitespace_at_either_end() {
    let m = serve("stream_app:app", &[]);
    let r = get(m.addr(), "/padded");
    assert_eq!((r.status, r.text().as_str()), (200, "padded"));
    let head = r.head.to_ascii_lowercase();
    assert!(head.contains("\r\nx-padded: v\r\n"), "{head:?}");
    assert!(head.contains("\r\nset-cookie: a=1; path=/\r\n"), "{head:?}");
}

#[test]
fn errors_before_headers_are_500_after_headers_close_the_connection() {
    let m = serve("errors_app:app", &[]);
    for path in ["/before", "/after-start"] {
        let r = get(m.addr(), path);
        assert_eq!(r.status, 500, "{path}");
        assert_eq!(r.header("connection").as_deref(), Some("close"));
    }
    m.wait_for_log(
        "RuntimeError: failed before start_response",
        Duration::from_secs(5),
    )
    .expect("traceback logged");
    assert!(
        m.log()
            .contains("Error handling request /before\nTraceback (most recent call last):"),
        "{}",
        m.log()
    );
    // The connection closes: what hyper had flushed by then (maybe nothing, maybe the
    // head and the first chunk) arrives, but never a terminated body.
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /after-body HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    if !all.is_empty() {
        let r = parse(&all);
        assert_eq!(r.status, 200);
        assert!(
            !r.complete,
            "the chunked body is cut off, not terminated: {:?}",
            r.text()
        );
    }
    m.wait_for_log("RuntimeError: failed mid-body", Duration::from_secs(5))
        .expect("traceback logged");
    // A failing close() after a complete body is logged; the response stands.
    let r = get(m.addr(), "/close-fails");
    assert_eq!((r.status, r.text().as_str()), (200, "body"));
    m.wait_for_log("RuntimeError: close failed", Duration::from_secs(5))
        .expect("logged");
    // The worker survives all of it.
    assert_eq!(get(m.addr(), "/").text(), "ok");
    assert_eq!(m.count("Booting worker"), 1);
}

// ===== app threads =====

fn timed_parallel(addr: SocketAddr, n: usize, path: &'static str) -> (Duration, Vec<String>) {
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| std::thread::spawn(move || get(addr, path).text()))
        .collect();
    let bodies = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (start.elapsed(), bodies)
}

#[test]
fn gthread_runs_requests_concurrently_and_sync_one_at_a_time() {
    let m = serve("sleepy:app", &["--threads", "2"]);
    let (took, bodies) = timed_parallel(m.addr(), 2, "/?1");
    assert!(
        took < Duration::from_millis(1800),
        "two 1 s requests on 2 threads took {took:?}"
    );
    assert_ne!(bodies[0], bodies[1], "served by two threads: {bodies:?}");
    let m = serve("sleepy:app", &[]);
    let (took, _) = timed_parallel(m.addr(), 2, "/?0.5");
    assert!(
        took >= Duration::from_millis(1000),
        "sync serialises: {took:?}"
    );
}

#[test]
fn timeout_kills_a_sync_worker_stuck_in_a_request_but_not_gthread() {
    let m = serve("sleepy:app", &["-t", "2"]);
    let start = Instant::now();
    let mut s = TcpStream::connect(m.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /?30 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        buf.is_empty() && start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(5))
        .expect("the master killed the worker");
    assert!(eventually(Duration::from_secs(10), || get(m.addr(), "/?0")
        .status
        == 200));
    // gthread (as Gunicorn): long requests are fine, only a wedged worker is killed.
    let m = serve("sleepy:app", &["-t", "1", "--threads", "2"]);
    assert_eq!(get(m.addr(), "/?2.5").status, 200);
    assert_eq!(m.count("WORKER TIMEOUT"), 0);
}

#[test]
fn request_timeout_answers_504() {
    let m = serve("sleepy:app", &["--request-timeout", "1"]);
    let start = Instant::now();
    let r = get(m.addr(), "/?6");
    assert_eq!(r.status, 504);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    m.wait_for_log("--request-timeout", Duration::from_secs(5))
        .expect("logged");
}

// ===== Flask =====

#[test]
fn flask_json_endpoint() {
    let flask = std::process::Command::new("python3")
        .args(["-c", "import flask"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        flask,
        "flask is not installed: `python3 -m pip install flask` (.ci/run does)"
    );
    let m = serve("flask_app:app", &["--threads", "4"]);
    let r = get(m.addr(), "/json?n=3");
    assert_eq!(r.status, 200, "{}", m.log());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        json(&r),
        serde_json::json!({"message": "Hello, World!", "n": 3})
    );
    let body = br#"{"a": [1, 2]}"#;
    let req = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(body)
    );
    assert_eq!(
        json(&raw(m.addr(), req.as_bytes())),
        serde_json::json!({"got": {"a": [1, 2]}})
    );
    assert_eq!(get(m.addr(), "/missing").status, 404);
    let m = serve("flask_app:create_app()", &[]);
    assert_eq!(get(m.addr(), "/json").status, 200);
}

#[test]
fn the_embedded_interpreter_ignores_the_python3_on_path() {
    // With only the system directories on PATH (where another python3 may live), the
    // interpreter still uses the installation runicorn was built against (its rpath'd
    // libpython, stdlib and site-packages, where flask is).
    let dir = apps();
    let (code, _, err) = Master::runicorn()
        .no_bind()
        .env("PATH", "/usr/bin:/bin")
        .args([
            "--check-config",
            "--chdir",
            dir.to_str().unwrap(),
            "flask_app:app",
        ])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn keep_alive_load_on_a_wsgi_worker() {
    let m = serve("hello:app", &["--threads", "2"]);
    let load = Load::start(m.addr(), 4, "/");
    assert!(load.wait_for_more(200, Duration::from_secs(20)));
    let (ok, failed, errors) = load.finish();
    assert!(
        ok >= 200 && failed == 0,
        "{ok} ok, {failed} failed: {errors:?}"
    );
}

/// The chaos suite's HUP and USR2 rounds with a WSGI app (the suite itself drives the
/// probe, a Rust service): with `RUNICORN_BIN` naming a pip-installed runicorn, this is the
/// Python-hosted master re-executing `sys.executable` and the original argv.
#[test]
fn hup_then_usr2_upgrade_of_a_wsgi_server_lose_no_request() {
    let dir = Scratch::new("wsgi-usr2");
    let pidfile = dir.path("app.pid");
    let pidfile2 = dir.path("app.pid.2");
    let mut m = serve("hello:app", &["-w", "2", "-p", pidfile.to_str().unwrap()]);
    m.wait_for_count("Booting worker", 2, Duration::from_secs(10))
        .unwrap();
    let load = Load::start(m.addr(), 4, "/");
    assert!(load.wait_for_more(200, Duration::from_secs(10)));

    m.signal(Signal::SIGHUP);
    m.wait_for_count("Booting worker", 4, Duration::from_secs(15))
        .expect("new generation booted");
    m.wait_for_count("Worker exiting", 2, Duration::from_secs(15))
        .expect("old generation retired");
    assert!(load.wait_for_more(200, Duration::from_secs(10)));

    let new_pid = usr2_new_master(&m, &pidfile2, 2);
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&pidfile)
            .is_ok_and(|s| s.trim() == new_pid.to_string())),
        "promoted master owns the pid file"
    );
    assert!(
        load.wait_for_more(200, Duration::from_secs(10)),
        "the new master serves alone"
    );
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{failed} failed of {}: {errors:?}", ok + failed);
}

/// Gunicorn 27.0.1 serving `app` from tests/apps with `extra`, killed on drop.
struct Gunicorn(std::process::Child, SocketAddr);

impl Gunicorn {
    fn start(app: &str, extra: &[&str]) -> Gunicorn {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = std::process::Command::new("gunicorn")
            .current_dir(apps())
            .args(["-b", &addr.to_string(), "--log-level", "warning"])
            .args(extra)
            .arg(app)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gunicorn 27.0.1 must be installed (python3 -m pip install gunicorn==27.0.1)");
        assert!(
            eventually(Duration::from_secs(15), || TcpStream::connect(addr).is_ok()),
            "gunicorn did not start"
        );
        Gunicorn(child, addr)
    }
}

impl Drop for Gunicorn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--forwarder-headers` (default SCRIPT_NAME,PATH_INFO) as Gunicorn 27 maps them, side by
/// side with it: from a trusted proxy, `SCRIPT_NAME` sets the request's SCRIPT_NAME and
/// PATH_INFO is what follows it (a path outside it is Gunicorn's 500); both reach the
/// environ as HTTP_* while other `_` names are dropped; from an untrusted peer, nothing.
#[test]
fn forwarder_headers_map_as_in_gunicorn() {
    let req = b"GET /app/x?q=1 HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /app\r\nPATH_INFO: /evil\r\n\
                REMOTE_USER: bob\r\nConnection: close\r\n\r\n";
    let outside =
        b"GET /other HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /app\r\nConnection: close\r\n\r\n";
    let keys = [
        "SCRIPT_NAME",
        "PATH_INFO",
        "HTTP_SCRIPT_NAME",
        "HTTP_PATH_INFO",
        "HTTP_REMOTE_USER",
    ];
    for extra in [&[][..], &["--forwarded-allow-ips", "10.0.0.0/8"][..]] {
        let g = Gunicorn::start("environ_app:app", extra);
        let m = serve("environ_app:app", extra);
        let (ge, re) = (json(&raw(g.1, req)), json(&raw(m.addr(), req)));
        for k in keys {
            assert_eq!(
                re[k], ge[k],
                "{k} with {extra:?}: runicorn {re} vs gunicorn {ge}"
            );
        }
        assert_eq!(
            raw(m.addr(), outside).status,
            raw(g.1, outside).status,
            "a path outside the forwarded SCRIPT_NAME, with {extra:?}"
        );
    }
    // What Gunicorn answered, so the comparison above cannot pass on two empty results.
    let m = serve("environ_app:app", &[]);
    let e = json(&raw(m.addr(), req));
    assert_eq!(
        (e["SCRIPT_NAME"].as_str(), e["PATH_INFO"].as_str()),
        (Some("/app"), Some("/x"))
    );
    assert_eq!(raw(m.addr(), outside).status, 500);
}

/// Each thread of process `pid`: its name and scheduling policy (/proc's `stat` field 41;
/// 0 SCHED_OTHER, 3 SCHED_BATCH).
fn thread_policies(pid: i32) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(t.unwrap().path().join("stat")).unwrap();
        // The name is in parentheses and may hold spaces; the fields after it are plain.
        let (name_part, rest) = stat.rsplit_once(')').unwrap();
        let name = name_part.split_once('(').unwrap().1.to_string();
        // After the name come fields 3, 4, ...: field 41 is the 39th of them.
        let policy = rest.split_whitespace().nth(38).unwrap().parse().unwrap();
        out.push((name, policy));
    }
    out
}

#[test]
fn the_edge_beside_python_app_threads_is_sched_batch_and_they_are_not() {
    // Each response an app thread finishes wakes the edge's thread; as SCHED_BATCH it no
    // longer preempts the app to write that one response (benches/syscalls.sh flask: 1.15
    // context switches per request before). The app threads keep the default policy.
    let m = serve("hello:app", &["-w", "1", "--threads", "2"]);
    assert_eq!(m.get("/").unwrap().0, 200);
    let worker = m.children()[0];
    let threads = thread_policies(worker);
    let edge: Vec<_> = threads
        .iter()
        .filter(|(n, _)| n == "runicorn:worker")
        .collect();
    assert_eq!(edge.len(), 1, "{threads:?}");
    assert_eq!(edge[0].1, 3, "{threads:?}");
    let app: Vec<_> = threads
        .iter()
        .filter(|(n, _)| n.starts_with("wsgi-"))
        .collect();
    assert_eq!(app.len(), 2, "{threads:?}");
    assert!(app.iter().all(|(_, p)| *p == 0), "{threads:?}");
    // A Rust service's edge is all there is: it keeps the default policy.
    let rust = Master::example("echo").args(["-w", "1"]).spawn();
    assert_eq!(rust.get("/").unwrap().0, 200);
    let threads = thread_policies(rust.children()[0]);
    assert!(threads.iter().all(|(_, p)| *p == 0), "{threads:?}");
}
