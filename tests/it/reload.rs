//! `--reload`: an edited app is served within 2 s with no failed request under load; a
//! syntax error keeps the old code serving until it is fixed; an extra file (a glob) and
//! the config file trigger reloads; the ASGI host reloads too; with `--preload` workers
//! are replaced but run the master's copy of the old code, as Gunicorn documents.
//!
//! Every rewrite changes the file's size: a same-second rewrite of equal size would let
//! Python reuse the stale `.pyc` (as it would under Gunicorn).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::*;

const LOAD_CLIENTS: usize = 4;

/// The promise: the developer's next request after a save sees the new code.
const RELOAD_WITHIN: Duration = Duration::from_secs(2);

fn wsgi_app(body: &str) -> String {
    format!(
        "def app(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [b'{body}']\n"
    )
}

fn asgi_app(body: &str) -> String {
    format!(
        "async def app(scope, receive, send):\n    \
         if scope['type'] != 'http':\n        return\n    \
         await send({{'type': 'http.response.start', 'status': 200,\n                \
         'headers': [(b'content-type', b'text/plain')]}})\n    \
         await send({{'type': 'http.response.body', 'body': b'{body}'}})\n"
    )
}

fn body(m: &Master) -> String {
    m.get("/").map(|(_, b)| b).unwrap_or_default()
}

/// Waits until `/` answers `want`; returns how long it took.
fn served_within(m: &Master, want: &str, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    eventually(timeout, || body(m) == want).then(|| start.elapsed())
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn assert_no_failures(load: Load, what: &str) {
    let (ok, failed, errors) = load.finish();
    assert!(ok > 100, "{what}: too few requests completed ({ok})");
    assert_eq!(
        failed,
        0,
        "{what}: {failed} failed of {}: {errors:?}",
        ok + failed
    );
}

/// runicorn serving `app:app` from the scratch directory `s`, with `args` (`--reload` among
/// them, where the test wants it).
fn reloading(s: &Scratch, args: &[&str]) -> Master {
    Master::runicorn()
        .args(["--chdir", s.0.to_str().unwrap()])
        .args(args.iter().copied())
        .arg("app:app")
        .spawn()
}

#[test]
fn an_edit_is_served_within_two_seconds_without_a_failed_request() {
    let s = Scratch::new("reload-edit");
    let app = s.path("app.py");
    write(&app, &wsgi_app("one"));
    let m = reloading(&s, &["--reload", "-w", "2"]);
    assert_eq!(body(&m), "one");
    let load = Load::start(m.addr(), LOAD_CLIENTS, "/");
    assert!(load.wait_for_more(100, Duration::from_secs(10)));
    for (round, version) in ["second", "third!!"].into_iter().enumerate() {
        write(&app, &wsgi_app(version));
        let took = served_within(&m, version, Duration::from_secs(10));
        assert!(
            took.is_some_and(|t| t <= RELOAD_WITHIN),
            "round {round}: {version:?} served after {took:?}:\n{}",
            m.log()
        );
        assert!(load.wait_for_more(100, Duration::from_secs(10)));
    }
    assert_no_failures(load, "two edits");
    let line = format!("Worker reloading: {} modified", app.display());
    assert!(m.count(&line) >= 2, "{}", m.log());
    assert!(m.log().contains("Reloader is on. Use in development only!"));
}

#[test]
fn a_syntax_error_keeps_the_old_code_serving_until_it_is_fixed() {
    let s = Scratch::new("reload-syntax");
    let app = s.path("app.py");
    write(&app, &wsgi_app("good"));
    let mut m = reloading(&s, &["--reload", "-w", "2"]);
    let load = Load::start(m.addr(), LOAD_CLIENTS, "/");
    assert!(load.wait_for_more(100, Duration::from_secs(10)));
    // Both workers have the good code (each starts its reloader once the app is loaded):
    // a worker still booting when the file breaks would fail to boot, which halts the
    // master as in Gunicorn, and that is not what this test is about.
    m.wait_for_count("Reloader is on", 2, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", m.log()));
    write(&app, "def app(environ, start_response)\n    return []\n");
    m.wait_for_log("SyntaxError", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("syntax error not logged:\n{}", m.log()));
    m.wait_for_log("failed to load the app", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", m.log()));
    // The old generation still answers, with the old code, and the master lives on.
    assert!(
        load.wait_for_more(200, Duration::from_secs(10)),
        "{} ok so far:\n{}",
        load.ok(),
        m.log()
    );
    assert_eq!(body(&m), "good");
    assert_eq!(
        m.child.try_wait().unwrap(),
        None,
        "master exited:\n{}",
        m.log()
    );
    // The other worker of the dropped generation fails too and is reaped.
    assert!(
        eventually(Duration::from_secs(10), || m.children().len() == 2),
        "{:?}\n{}",
        m.children(),
        m.log()
    );
    write(&app, &wsgi_app("fixed!"));
    let took = served_within(&m, "fixed!", Duration::from_secs(10));
    assert!(
        took.is_some_and(|t| t <= RELOAD_WITHIN),
        "fixed code served after {took:?}:\n{}",
        m.log()
    );
    assert!(load.wait_for_more(100, Duration::from_secs(10)));
    assert_no_failures(load, "syntax error then fix");
}

#[test]
fn an_extra_file_glob_and_the_config_file_trigger_reloads() {
    let s = Scratch::new("reload-extra");
    // The app reads its data file at import, so only a new worker sees a new value.
    write(
        &s.path("app.py"),
        "import os\nDATA = open(os.path.join(os.path.dirname(__file__), 'data', 'greeting.txt'), 'rb').read()\n\
         def app(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [DATA]\n",
    );
    std::fs::create_dir(s.path("data")).unwrap();
    write(&s.path("data/greeting.txt"), "hello");
    let conf = s.path("conf.py");
    write(&conf, "workers = 1\n");
    let glob = format!("{}/data/*.txt", s.0.display());
    let m = reloading(
        &s,
        &[
            "-c",
            conf.to_str().unwrap(),
            "--reload",
            "--reload-extra-file",
            &glob,
        ],
    );
    assert_eq!(body(&m), "hello");
    write(&s.path("data/greeting.txt"), "bonjour");
    let took = served_within(&m, "bonjour", Duration::from_secs(10));
    assert!(
        took.is_some_and(|t| t <= RELOAD_WITHIN),
        "extra file: served after {took:?}:\n{}",
        m.log()
    );
    assert!(m.log().contains("greeting.txt modified"), "{}", m.log());
    m.wait_for_log("Worker exiting", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("first worker not retired:\n{}", m.log()));
    // The config file: the new generation runs with the new settings.
    write(&conf, "workers = 2  # more\n");
    m.wait_for_log(
        &format!("Worker reloading: {} modified", conf.display()),
        Duration::from_secs(10),
    )
    .unwrap_or_else(|| panic!("{}", m.log()));
    // 1 + 1 + 2 workers booted; the first two retired.
    m.wait_for_count("Booting worker", 4, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", m.log()));
    m.wait_for_count("Worker exiting", 2, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", m.log()));
    assert!(
        eventually(Duration::from_secs(10), || m.children().len() == 2),
        "{:?}\n{}",
        m.children(),
        m.log()
    );
    assert_eq!(body(&m), "bonjour", "{}", m.log());
}

#[test]
fn an_asgi_app_reloads() {
    let s = Scratch::new("reload-asgi");
    let app = s.path("app.py");
    write(&app, &asgi_app("one"));
    let m = reloading(&s, &["--reload", "-k", "asgi"]);
    assert_eq!(body(&m), "one");
    let load = Load::start(m.addr(), LOAD_CLIENTS, "/");
    assert!(load.wait_for_more(100, Duration::from_secs(10)));
    write(&app, &asgi_app("second"));
    let took = served_within(&m, "second", Duration::from_secs(10));
    assert!(
        took.is_some_and(|t| t <= RELOAD_WITHIN),
        "served after {took:?}:\n{}",
        m.log()
    );
    assert!(load.wait_for_more(100, Duration::from_secs(10)));
    assert_no_failures(load, "asgi edit");
}

#[test]
fn with_preload_workers_are_replaced_but_run_the_preloaded_code() {
    // Gunicorn: "The reloader is incompatible with application preloading": its workers
    // restart on a change, forked from the master that imported the old code.
    let s = Scratch::new("reload-preload");
    let app = s.path("app.py");
    write(&app, &wsgi_app("one"));
    let m = reloading(&s, &["--reload", "--preload"]);
    assert_eq!(body(&m), "one");
    assert!(m.log().contains("--reload with --preload"), "{}", m.log());
    write(&app, &wsgi_app("second"));
    m.wait_for_log("Worker reloading:", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", m.log()));
    m.wait_for_log("Worker exiting", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("old worker not replaced:\n{}", m.log()));
    assert_eq!(body(&m), "one");
}

#[test]
fn the_poll_engine_reloads_too() {
    let s = Scratch::new("reload-poll");
    let app = s.path("app.py");
    write(&app, &wsgi_app("one"));
    let m = reloading(&s, &["--reload", "--reload-engine", "poll"]);
    assert_eq!(body(&m), "one");
    // notify's poller compares whole-second mtimes: an edit in the same second as the
    // file's previous write is not seen (a limitation the README states).
    let written = std::fs::metadata(&app).unwrap().modified().unwrap();
    while std::time::SystemTime::now()
        .duration_since(written)
        .unwrap_or_default()
        < Duration::from_millis(1100)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    write(&app, &wsgi_app("second"));
    // Polling adds up to its one-second interval (Gunicorn's) to the reload.
    let took = served_within(&m, "second", Duration::from_secs(10));
    assert!(
        took.is_some_and(|t| t <= RELOAD_WITHIN + Duration::from_secs(1)),
        "served after {took:?}:\n{}",
        m.log()
    );
}
