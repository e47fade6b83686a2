//! Python config files end to end: tests/apps/hooks_conf.py run unchanged by Gunicorn
//! 27.0.1 and runicorn (same `--print-config` values, same hook calls per process over
//! start → request → HUP → TERM, same app logging), precedence, `python:module`, the
//! implicit ./gunicorn.conf.py, errors, raising hooks, a broken file on HUP, and the
//! attributes of the objects hooks receive.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::*;

fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

fn conf() -> String {
    apps().join("hooks_conf.py").to_string_lossy().into_owned()
}

/// The `gunicorn` command, which must be 27.0.1: the comparison is the point of the test,
/// so a missing Gunicorn fails instead of skipping.
fn gunicorn() -> PathBuf {
    let out = Command::new("gunicorn").arg("--version").output();
    let version = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => panic!(
            "gunicorn is not installed ({e}): these tests compare runicorn with Gunicorn \
             27.0.1; run `python3 -m pip install gunicorn==27.0.1` (as .ci/run does)"
        ),
    };
    assert!(
        version.contains("27.0.1"),
        "these tests need Gunicorn 27.0.1, found {version:?}; run `python3 -m pip install \
         gunicorn==27.0.1`"
    );
    PathBuf::from("gunicorn")
}

/// `--print-config` output as key → value, without runicorn's `  # source` notes.
fn print_config(b: Builder) -> BTreeMap<String, String> {
    let (code, out, err) = b.no_bind().run(Duration::from_secs(30));
    assert_eq!(code, Some(0), "--print-config failed ({code:?}):\n{err}");
    out.lines()
        .filter_map(|l| {
            let l = l.split("  # ").next()?;
            let (k, v) = l.split_once(" = ").or_else(|| {
                // An empty value prints as `key =` once trailing blanks are trimmed.
                l.trim_end().strip_suffix(" =").map(|k| (k, ""))
            })?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// runicorn's `['K=V', ...]` rendering of a dict setting as Gunicorn's `{'K': 'V'}`.
fn pairs_as_dict(v: &str) -> String {
    let items: Vec<String> = v
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.trim_matches('\'');
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            format!("'{k}': '{v}'")
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

#[test]
fn print_config_matches_gunicorn() {
    let g = print_config(
        Master::program(gunicorn())
            .cwd(apps())
            .env("HOOK_LOG", "/dev/null")
            .args(["-c", &conf(), "--print-config", "logging_app:app"]),
    );
    // Both import the app for --print-config (Gunicorn does): run them in tests/apps.
    let r = print_config(
        Master::runicorn()
            .cwd(apps())
            .env("HOOK_LOG", "/dev/null")
            .args(["-c", &conf(), "--print-config", "logging_app:app"]),
    );
    // Values Gunicorn resolves from the machine (the cwd, the current user and group,
    // $HOME's control socket) or renders from its own types (sendfile's None, the
    // app given on the command line); none of them comes from the file.
    let machine = [
        "chdir",
        "control_socket",
        "user",
        "group",
        "sendfile",
        "wsgi_app",
    ];
    let mut compared = 0;
    let mut differ = Vec::new();
    for (k, gv) in &g {
        let Some(rv) = r.get(k) else { continue };
        if machine.contains(&k.as_str()) {
            continue;
        }
        // Gunicorn shows its no-op default for a hook the file leaves alone.
        if rv == "None" && gv.starts_with('<') && gv.contains('.') && gv.ends_with("()>") {
            continue;
        }
        let rv = if k == "secure_scheme_headers" {
            pairs_as_dict(rv)
        } else {
            rv.clone()
        };
        compared += 1;
        if &rv != gv {
            differ.push(format!("{k}: gunicorn {gv:?}, runicorn {rv:?}"));
        }
    }
    assert!(differ.is_empty(), "differences:\n{}", differ.join("\n"));
    assert!(compared > 90, "only {compared} settings compared");
    // The file's values really arrived (not two identical defaults).
    assert_eq!(r["workers"], "1");
    assert_eq!(r["threads"], "2");
    assert_eq!(r["keepalive"], "3");
    assert_eq!(r["limit_request_line"], "4000");
    assert_eq!(r["on_starting"], "<on_starting()>");
    assert!(r["logconfig_dict"].contains("APPLOG"));
}

/// One hook call: the recording process and the line's words after the pid.
fn hook_calls(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            Some((pid.to_string(), rest.to_string()))
        })
        .collect()
}

/// Hook calls grouped by process, processes named by first appearance (`p0` is the
/// master: on_starting is its first call).
fn by_process(calls: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pid, call) in calls {
        let i = names.iter().position(|p| p == pid).unwrap_or_else(|| {
            names.push(pid.clone());
            names.len() - 1
        });
        out.entry(format!("p{i}")).or_default().push(call.clone());
    }
    out
}

fn count(calls: &[(String, String)], name: &str) -> usize {
    calls
        .iter()
        .filter(|(_, c)| c.split(' ').next() == Some(name))
        .count()
}

/// Runs start → GET → HUP → TERM under `server`; returns hook calls and the error log.
fn lifecycle(server: Builder, tag: &str) -> (Vec<(String, String)>, String) {
    let dir = Scratch::new(tag);
    let log = dir.path("hooks.log");
    let mut m = server
        .env("HOOK_LOG", log.to_str().unwrap())
        .args([
            "-c",
            &conf(),
            "--chdir",
            apps().to_str().unwrap(),
            "logging_app:app",
        ])
        .spawn();
    let calls = || hook_calls(&log);
    assert!(
        eventually(Duration::from_secs(20), || count(
            &calls(),
            "post_worker_init"
        ) == 1),
        "{tag}: no post_worker_init: {:?}\n{}",
        calls(),
        m.log()
    );
    let (status, body) = m.get("/x?y=1").unwrap();
    assert_eq!((status, body.as_str()), (200, "logged"));
    assert!(eventually(Duration::from_secs(10), || count(
        &calls(),
        "post_request"
    ) == 1));
    m.signal(Signal::SIGHUP);
    assert!(
        eventually(Duration::from_secs(20), || {
            let c = calls();
            count(&c, "post_worker_init") == 2 && count(&c, "child_exit") == 1
        }),
        "{tag}: HUP did not replace the worker: {:?}\n{}",
        calls(),
        m.log()
    );
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0), "{tag}");
    // The log reader may lag the exit.
    let _ = m.wait_for_log("Shutting down", Duration::from_secs(5));
    (calls(), m.log())
}

#[test]
fn hooks_run_in_gunicorns_order() {
    let (g, glog) = lifecycle(
        Master::program(gunicorn()).arg("--no-control-socket"),
        "hooks-gunicorn",
    );
    let (r, rlog) = lifecycle(Master::runicorn(), "hooks-runicorn");
    let (g, r) = (by_process(&g), by_process(&r));
    assert_eq!(g, r, "hook calls per process differ (gunicorn, runicorn)");
    // The expected shape, so that two equal but empty recordings cannot pass.
    assert_eq!(
        r["p0"],
        [
            "nworkers_changed 1 None",
            "on_starting 1",
            "when_ready",
            "pre_fork",
            "nworkers_changed 1 1",
            "on_reload",
            "pre_fork",
            "child_exit",
            "child_exit",
            "on_exit"
        ]
    );
    assert_eq!(
        r["p1"],
        [
            "post_fork",
            "post_worker_init",
            "pre_request GET /x",
            "post_request GET /x 200",
            "worker_exit"
        ]
    );
    // logconfig_dict configured the app's logger in both; `gunicorn.error` reaches the
    // error log in its format in both.
    for (who, log) in [("gunicorn", &glog), ("runicorn", &rlog)] {
        assert!(
            log.contains("APPLOG hooksapp INFO hooksapp says /x"),
            "{who}:\n{log}"
        );
        assert!(
            log.contains("] [WARNING] app warns via gunicorn.error"),
            "{who}:\n{log}"
        );
    }
}

/// `runicorn --print-config` run in `cwd` with `args` and `env`; the workers line.
fn workers_with(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut b = Master::runicorn().cwd(cwd).args(args.iter().copied());
    for (k, v) in env {
        b = b.env(k, v);
    }
    let (code, out, err) = b
        .arg("--print-config")
        .no_bind()
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("workers "))
        .unwrap_or_default()
        .to_string();
    (line, err)
}

/// A number where a text setting wants a string is refused at load, naming the setting,
/// the value and the file, as Gunicorn's "Not a string: 5" (before, `bind = 5` became the
/// address `5:8000` and failed only at start).
#[test]
fn a_number_for_a_text_setting_is_refused_at_load() {
    let dir = Scratch::new("pyconf-text");
    for (file, body, key) in [
        ("b.py", "bind = 5\n", "bind"),
        ("l.py", "bind = ['127.0.0.1:9', 5]\n", "bind"),
        ("f.py", "access_log_format = 5\n", "access_log_format"),
        ("b.toml", "bind = 5\n", "bind"),
    ] {
        std::fs::write(dir.path(file), body).unwrap();
        let path = dir.path(file);
        let (code, _, err) = Master::runicorn()
            .no_bind()
            .args(["-c", path.to_str().unwrap(), "--check-config"])
            .run(Duration::from_secs(20));
        assert_ne!(code, Some(0), "{file}: {err}");
        assert!(
            err.contains(&format!("for `{key}` (from config file"))
                && err.contains("not a string: 5"),
            "{file}: {err}"
        );
    }
}

/// `--check-config` imports the hooks given as dotted paths, as the start does: one that
/// cannot be imported fails the check and the start (as it fails Gunicorn's
/// configuration load), where before both went on without the hook.
#[test]
fn a_hook_that_cannot_be_imported_fails_the_check_and_the_start() {
    let dir = Scratch::new("pyconf-hookcheck");
    let check = |body: &str| {
        let path = dir.path("h.py");
        std::fs::write(&path, body).unwrap();
        Master::runicorn()
            .no_bind()
            .args(["-c", path.to_str().unwrap(), "--check-config"])
            .run(Duration::from_secs(20))
    };
    let (code, _, err) = check("post_fork = 'nomod.fn'\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("hook post_fork = \"nomod.fn\" cannot be used")
            && err.contains("No module named 'nomod'"),
        "{err}"
    );
    // The start stops before forking a worker, with the same line.
    let path = dir.path("h.py");
    let (code, _, err) = Master::runicorn()
        .cwd(apps())
        .args(["-c", path.to_str().unwrap(), "hello:application"])
        .run(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("hook post_fork = \"nomod.fn\" cannot be used")
            && err.contains("No module named 'nomod'")
            && !err.contains("Booting worker"),
        "{err}"
    );
    // A callable from the file and an importable dotted path pass.
    let (code, _, err) =
        check("def post_fork(server, worker):\n    pass\npre_fork = 'os.path.join'\n");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn precedence_module_and_implicit_files() {
    let dir = Scratch::new("pyconf-prec");
    std::fs::write(dir.path("c.py"), "workers = 2\nkeepalive = 7\n").unwrap();
    let c = dir.path("c.py");
    let c = c.to_str().unwrap();
    let (line, _) = workers_with(&dir.0, &["-c", c], &[]);
    assert!(
        line.contains("= 2") && line.contains("# config file"),
        "{line}"
    );
    let (line, _) = workers_with(&dir.0, &["-c", c], &[("GUNICORN_CMD_ARGS", "-w 3")]);
    assert!(
        line.contains("= 3") && line.contains("GUNICORN_CMD_ARGS"),
        "{line}"
    );
    let (line, _) = workers_with(
        &dir.0,
        &["-c", c],
        &[("GUNICORN_CMD_ARGS", "-w 3"), ("RUNICORN_CMD_ARGS", "-w 4")],
    );
    assert!(
        line.contains("= 4") && line.contains("RUNICORN_CMD_ARGS"),
        "{line}"
    );
    let (line, _) = workers_with(
        &dir.0,
        &["-c", c, "-w", "5"],
        &[("GUNICORN_CMD_ARGS", "-w 3"), ("RUNICORN_CMD_ARGS", "-w 4")],
    );
    assert!(
        line.contains("= 5") && line.contains("command line"),
        "{line}"
    );
    // -c may come from GUNICORN_CMD_ARGS too.
    let (line, _) = workers_with(&dir.0, &[], &[("GUNICORN_CMD_ARGS", &format!("-c {c}"))]);
    assert!(line.contains("= 2"), "{line}");

    // python:module, imported from the working directory.
    std::fs::write(
        dir.path("myconf.py"),
        "import os\nworkers = os.cpu_count() * 0 + 6\n",
    )
    .unwrap();
    let (line, _) = workers_with(&dir.0, &["-c", "python:myconf"], &[]);
    assert!(
        line.contains("= 6") && line.contains("python:myconf"),
        "{line}"
    );

    // The implicit ./gunicorn.conf.py, and ./runicorn.conf.py winning over it.
    let implicit = Scratch::new("pyconf-implicit");
    std::fs::write(implicit.path("gunicorn.conf.py"), "workers = 8\n").unwrap();
    let (line, _) = workers_with(&implicit.0, &[], &[]);
    assert!(
        line.contains("= 8") && line.contains("gunicorn.conf.py"),
        "{line}"
    );
    std::fs::write(implicit.path("runicorn.conf.py"), "workers = 9\n").unwrap();
    let (line, err) = workers_with(&implicit.0, &[], &[]);
    assert!(
        line.contains("= 9") && line.contains("runicorn.conf.py"),
        "{line}"
    );
    assert!(err.contains("both"), "{err}");
    // --check-config accepts a .py file too.
    let (code, out, err) = Master::runicorn()
        .cwd(&implicit.0)
        .arg("--check-config")
        .no_bind()
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn config_file_errors_name_the_file() {
    let dir = Scratch::new("pyconf-errors");
    let check = |text: &str, want: &[&str]| {
        let p = dir.path("bad.py");
        std::fs::write(&p, text).unwrap();
        let (code, out, err) = Master::runicorn()
            .args(["-c", p.to_str().unwrap(), "--check-config"])
            .no_bind()
            .run(Duration::from_secs(30));
        assert_eq!(code, Some(1), "{text:?}: {out}\n{err}");
        for w in want {
            assert!(err.contains(w), "{text:?}: missing {w:?} in:\n{err}");
        }
    };
    check("workers = = 1\n", &["bad.py", "SyntaxError"]);
    check(
        "import json\nworkers = 2\njson.loads('{')\n",
        &["bad.py", "line 3", "JSONDecodeError"],
    );
    check(
        "workers = 'lots'\n",
        &["\"lots\"", "`workers`", "config file", "bad.py"],
    );
    check("bind = {'a': 1}\n", &["`bind`", "bad.py", "not a dict"]);
    // A missing file.
    let (code, _, err) = Master::runicorn()
        .args(["-c", "/nonexistent/conf.py", "--check-config"])
        .no_bind()
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(1));
    assert!(err.contains("/nonexistent/conf.py"), "{err}");
}

#[test]
fn raising_hooks_are_logged_and_survived() {
    let dir = Scratch::new("pyconf-raise");
    let p = dir.path("raise.py");
    std::fs::write(
        &p,
        "def on_starting(server):\n    raise RuntimeError('boom at start')\n\
         def post_fork(server, worker):\n    raise ValueError('boom after fork')\n\
         def pre_request(worker, req):\n    raise KeyError('boom per request')\n",
    )
    .unwrap();
    let m = Master::runicorn()
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .spawn();
    for _ in 0..3 {
        assert_eq!(m.get("/").unwrap(), (200, "Hello, World!".to_string()));
    }
    // The log reader may lag the responses.
    let _ = m.wait_for_count("KeyError: 'boom per request'", 3, Duration::from_secs(10));
    let log = m.log();
    assert!(
        log.contains("[ERROR] Exception in on_starting hook:"),
        "{log}"
    );
    assert!(log.contains("RuntimeError: boom at start"), "{log}");
    assert!(log.contains("ValueError: boom after fork"), "{log}");
    assert_eq!(m.count("KeyError: 'boom per request'"), 3, "{log}");
    assert!(log.contains("Traceback (most recent call last)"), "{log}");
}

#[test]
fn hup_with_a_broken_file_keeps_serving() {
    let dir = Scratch::new("pyconf-hup");
    let p = dir.path("c.py");
    let rec = dir.path("rec.log");
    std::fs::write(
        &p,
        format!(
            "def on_reload(server):\n    open({:?}, 'a').write('reload\\n')\n",
            rec.to_str().unwrap()
        ),
    )
    .unwrap();
    let m = Master::runicorn()
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .spawn();
    assert_eq!(m.get("/").unwrap().0, 200);
    std::fs::write(&p, "workers = (\n").unwrap();
    m.signal(Signal::SIGHUP);
    let line = m.wait_for_log("configuration reload failed", Duration::from_secs(15));
    assert!(line.is_some(), "{}", m.log());
    assert!(
        m.wait_for_log("SyntaxError", Duration::from_secs(5))
            .is_some()
    );
    for _ in 0..5 {
        assert_eq!(m.get("/").unwrap().0, 200);
    }
    // The running hooks stay: the workers are still recycled, so on_reload (of the
    // file that loaded last) runs.
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&rec).unwrap_or_default() == "reload\n"
    }));
}

#[test]
fn hook_objects_carry_gunicorns_attributes() {
    let dir = Scratch::new("pyconf-attrs");
    let p = dir.path("attrs.py");
    let out = dir.path("out.log");
    std::fs::write(
        &p,
        format!(
            r#"
OUT = {out:?}
workers = 2
def w(*parts):
    with open(OUT, "a") as f:
        f.write(" ".join(str(x) for x in parts) + "\n")
def when_ready(server):
    w("ready", server.pid, server.num_workers, server.cfg.workers, server.cfg.bind == server.cfg.address, type(server.cfg.bind).__name__)
    server.log.info("hello from when_ready %s", server.cfg.proc_name)
    server.note = "kept"
def pre_fork(server, worker):
    worker.mark = "from pre_fork"
raw_env = ["ATTRS_ENV=yes"]
def post_fork(server, worker):
    import os
    w("post_fork", os.environ.get("ATTRS_ENV"), worker.pid, worker.ppid, worker.age, worker.mark, server.note)
def pre_request(worker, req):
    w("pre", req.method, req.path, req.query, req.uri, req.version, dict(req.headers).get("X-TEST"), req.remote_addr[0])
def post_request(worker, req, environ, resp):
    w("post", resp.status, resp.status_code, dict(resp.headers).get("Content-Type"), resp.sent, resp.response_length, environ["PATH_INFO"], worker.nr, worker.alive)
    worker.log.warning("post_request saw %d", resp.status_code)
def child_exit(server, worker):
    w("child_exit", worker.mark, worker.alive)
"#,
            out = out.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut m = Master::runicorn()
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .spawn();
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    assert!(eventually(Duration::from_secs(20), || read()
        .matches("post_fork")
        .count()
        == 2));
    let mut c = Conn::open(m.addr()).unwrap();
    c.stream_mut()
        .write_all(b"GET /p/q?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n")
        .unwrap();
    let resp = c.read_response().unwrap();
    assert_eq!(resp.status, 200);
    assert!(eventually(Duration::from_secs(10), || read().contains("post ")));
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0));
    let text = read();
    let master = m.pid().as_raw();
    assert!(
        text.contains(&format!("ready {master} 2 2 True list")),
        "{text}"
    );
    let forks: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("post_fork"))
        .collect();
    assert_eq!(forks.len(), 2, "{text}");
    let mut ages = Vec::new();
    for l in &forks {
        let f: Vec<&str> = l.split(' ').collect();
        // raw_env is in os.environ by post_fork, as under Gunicorn.
        assert_eq!(f[1], "yes", "{l}");
        assert_ne!(f[2], master.to_string(), "{l}");
        assert_eq!(f[3], master.to_string(), "{l}");
        ages.push(f[4].to_string());
        assert!(l.ends_with("from pre_fork kept"), "{l}");
    }
    // The two workers boot concurrently: their lines may come in either order.
    ages.sort();
    assert_eq!(ages, ["1", "2"], "{text}");
    assert!(
        text.contains("pre GET /p/q a=1&b=2 /p/q?a=1&b=2 (1, 1) yes 127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("post 200 OK 200 text/plain 13 13 /p/q 1 True"),
        "{text}"
    );
    assert_eq!(
        text.matches("child_exit from pre_fork False").count(),
        2,
        "{text}"
    );
    let _ = m.wait_for_log("post_request saw 200", Duration::from_secs(10));
    let log = m.log();
    assert!(log.contains("[INFO] hello from when_ready"), "{log}");
    assert!(log.contains("[WARNING] post_request saw 200"), "{log}");
}

#[test]
fn log_config_files_configure_app_loggers() {
    let dir = Scratch::new("pyconf-logcfg");
    let json = dir.path("log.json");
    std::fs::write(
        &json,
        r#"{"version": 1, "disable_existing_loggers": false,
            "formatters": {"j": {"format": "JSONLOG %(name)s %(message)s"}},
            "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "j",
                               "stream": "ext://sys.stderr"}},
            "loggers": {"hooksapp": {"handlers": ["h"], "level": "INFO"}},
            "root": {"handlers": [], "level": "WARNING"}}"#,
    )
    .unwrap();
    let ini = dir.path("log.ini");
    std::fs::write(
        &ini,
        "[loggers]\nkeys=root,app\n[handlers]\nkeys=h\n[formatters]\nkeys=f\n\
         [logger_root]\nlevel=WARNING\nhandlers=\n\
         [logger_app]\nlevel=INFO\nhandlers=h\nqualname=hooksapp\npropagate=0\n\
         [handler_h]\nclass=StreamHandler\nformatter=f\nargs=(sys.stderr,)\n\
         [formatter_f]\nformat=INILOG %(name)s %(message)s\n",
    )
    .unwrap();
    for (flag, path, want) in [
        (
            "--log-config-json",
            &json,
            "JSONLOG hooksapp hooksapp says /j",
        ),
        ("--log-config", &ini, "INILOG hooksapp hooksapp says /j"),
    ] {
        let m = Master::runicorn()
            .args([
                flag,
                path.to_str().unwrap(),
                "--chdir",
                apps().to_str().unwrap(),
                "logging_app:app",
            ])
            .spawn();
        assert_eq!(m.get("/j").unwrap().0, 200);
        assert!(
            m.wait_for_log(want, Duration::from_secs(10)).is_some(),
            "{flag}:\n{}",
            m.log()
        );
        // runicorn's own lines keep their format.
        assert!(m.log().contains("] [INFO] Booting worker with pid: "));
    }
}

#[test]
fn worker_abort_and_worker_int_hooks() {
    let dir = Scratch::new("pyconf-abort");
    let p = dir.path("c.py");
    let rec = dir.path("rec.log");
    std::fs::write(
        &p,
        format!(
            "import os\nREC = {:?}\n\
             def w(name):\n    open(REC, 'a').write('%d %s\\n' % (os.getpid(), name))\n\
             def worker_abort(worker):\n    w('worker_abort %s' % worker.aborted)\n\
             def worker_int(worker):\n    w('worker_int')\n\
             def worker_exit(server, worker):\n    w('worker_exit')\n",
            rec.to_str().unwrap()
        ),
    )
    .unwrap();
    let read = || std::fs::read_to_string(&rec).unwrap_or_default();
    let m = Master::runicorn()
        .args([
            "-c",
            p.to_str().unwrap(),
            "-t",
            "1",
            "--chdir",
            apps().to_str().unwrap(),
            "sleepy:app",
        ])
        .spawn();
    let addr = m.addr();
    // A request that outlives --timeout: the master's SIGABRT runs worker_abort, then
    // the worker exits as Gunicorn's does (worker_exit, status 1).
    std::thread::spawn(move || get(addr, "/?4"));
    assert!(
        m.wait_for_log("WORKER TIMEOUT", Duration::from_secs(10))
            .is_some(),
        "{}",
        m.log()
    );
    assert!(
        eventually(Duration::from_secs(10), || read().contains("worker_exit")),
        "{}\n{}",
        read(),
        m.log()
    );
    let lines: Vec<String> = read().lines().map(String::from).collect();
    assert!(lines[0].ends_with(" worker_abort True"), "{lines:?}");
    assert!(lines[1].ends_with(" worker_exit"), "{lines:?}");
    assert!(
        m.wait_for_log("exited with code 1", Duration::from_secs(5))
            .is_some(),
        "{}",
        m.log()
    );
    assert!(!m.log().contains("SIGKILL"), "{}", m.log());
    // SIGQUIT to a worker: worker_int.
    let _ = std::fs::remove_file(&rec);
    assert!(eventually(Duration::from_secs(10), || m.children().len() == 1));
    assert_eq!(m.get("/?0").unwrap().0, 200);
    let worker = m.children()[0];
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker), Signal::SIGQUIT).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || read().contains("worker_exit")),
        "{}\n{}",
        read(),
        m.log()
    );
    let lines: Vec<String> = read().lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with(&format!("{worker} worker_int")),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(&format!("{worker} worker_exit")),
        "{lines:?}"
    );
}

/// Records hook calls `names` to `rec`: the text of a config file.
fn recording_conf(rec: &Path, names: &[&str]) -> String {
    let mut text = format!(
        "import os\nREC = {:?}\ndef _w(name):\n    open(REC, 'a').write('%s %d\\n' % (name, os.getpid()))\n",
        rec.to_str().unwrap()
    );
    for n in names {
        let args = match *n {
            "pre_fork" | "post_fork" | "child_exit" | "worker_exit" | "pre_request" => "a, b",
            "post_request" => "a, b, c, d",
            "nworkers_changed" => "a, b, c",
            _ => "a",
        };
        text.push_str(&format!("def {n}({args}):\n    _w('{n}')\n"));
    }
    text
}

#[test]
fn rust_services_run_server_hooks() {
    let dir = Scratch::new("pyconf-rust");
    let p = dir.path("c.py");
    let rec = dir.path("rec.log");
    std::fs::write(
        &p,
        recording_conf(
            &rec,
            &[
                "nworkers_changed",
                "on_starting",
                "post_fork",
                "post_worker_init",
                "worker_exit",
                "on_exit",
            ],
        ) + "raw_env = ['FROM_PY_CONF=1']\n",
    )
    .unwrap();
    let names = || -> Vec<String> {
        std::fs::read_to_string(&rec)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').next().map(String::from))
            .collect()
    };
    let mut m = Master::probe().args(["-c", p.to_str().unwrap()]).spawn();
    assert_eq!(m.get("/env?FROM_PY_CONF").unwrap(), (200, "1".to_string()));
    assert!(eventually(Duration::from_secs(10), || names().len() == 4));
    assert_eq!(
        names(),
        [
            "nworkers_changed",
            "on_starting",
            "post_fork",
            "post_worker_init"
        ]
    );
    // TTIN: nworkers_changed, then a second worker.
    m.signal(Signal::SIGTTIN);
    assert!(
        eventually(Duration::from_secs(10), || names().len() == 7),
        "{:?}",
        names()
    );
    assert_eq!(
        names()[4..],
        ["nworkers_changed", "post_fork", "post_worker_init"]
    );
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0));
    assert_eq!(names()[7..], ["worker_exit", "worker_exit", "on_exit"]);
}

#[test]
fn preload_with_a_python_config_file() {
    let dir = Scratch::new("pyconf-preload");
    let p = dir.path("c.py");
    let rec = dir.path("rec.log");
    // A hook given as a "module.function" string, imported from the working directory.
    std::fs::write(
        dir.path("hookmod.py"),
        format!(
            "def on_exit(server):\n    open({:?}, 'a').write('on_exit from hookmod\\n')\n",
            rec.to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        &p,
        recording_conf(
            &rec,
            &["when_ready", "post_fork", "pre_request", "post_request"],
        ) + "preload_app = True\nworkers = 2\non_exit = 'hookmod.on_exit'\n",
    )
    .unwrap();
    let mut m = Master::runicorn()
        .cwd(&dir.0)
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .spawn();
    for _ in 0..4 {
        assert_eq!(m.get("/").unwrap(), (200, "Hello, World!".to_string()));
    }
    let read = || std::fs::read_to_string(&rec).unwrap_or_default();
    assert!(eventually(Duration::from_secs(10), || {
        read().matches("post_request").count() == 4
    }));
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0));
    let text = read();
    assert_eq!(text.matches("post_fork").count(), 2, "{text}");
    assert_eq!(text.matches("pre_request").count(), 4, "{text}");
    assert!(text.ends_with("on_exit from hookmod\n"), "{text}");
}

#[test]
fn gunicorn_loggers_and_a_bad_logging_config() {
    // By default `gunicorn.access` writes bare lines to the access log's destination.
    let dir = Scratch::new("pyconf-access");
    let access = dir.path("access.log");
    let m = Master::runicorn()
        .args([
            "--access-logfile",
            access.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "logging_app:app",
        ])
        .spawn();
    assert_eq!(m.get("/a").unwrap().0, 200);
    assert!(
        eventually(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(&access).unwrap_or_default();
            text.lines().any(|l| l == "app note via gunicorn.access")
                && text.contains("\"GET /a HTTP/1.1\" 200")
        }),
        "{:?}",
        std::fs::read_to_string(&access)
    );
    assert!(
        m.wait_for_log(
            "[WARNING] app warns via gunicorn.error",
            Duration::from_secs(10)
        )
        .is_some(),
        "{}",
        m.log()
    );
    drop(m);
    // A logging config that dictConfig refuses stops a master that runs a Python config
    // file, with the reason.
    let p = dir.path("c.py");
    std::fs::write(
        &p,
        "logconfig_dict = {'version': 1, 'handlers': {'h': {'class': 'no.such.Handler'}}}\n",
    )
    .unwrap();
    let (code, _, err) = Master::runicorn()
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot configure Python logging"), "{err}");
    assert!(
        err.contains("no.such") || err.contains("handler 'h'"),
        "{err}"
    );
}

#[test]
fn forks_run_pythons_register_at_fork_handlers() {
    // Every fork of a master that runs Python is bracketed as os.fork does
    // (PyOS_BeforeFork / AfterFork_Parent / AfterFork_Child), so all three kinds of
    // os.register_at_fork handler run, as under Gunicorn; on 3.13 the child also needs
    // the bracket to survive.
    let dir = Scratch::new("pyconf-atfork");
    let p = dir.path("c.py");
    let rec = dir.path("rec.log");
    std::fs::write(
        &p,
        format!(
            "import os\n\
             REC = {:?}\n\
             def note(what):\n    \
                 with open(REC, 'a') as f:\n        \
                     f.write('%s %d\\n' % (what, os.getpid()))\n\
             os.register_at_fork(before=lambda: note('before'),\n    \
                 after_in_parent=lambda: note('parent'),\n    \
                 after_in_child=lambda: note('child'))\n\
             workers = 2\n",
            rec.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut m = Master::runicorn()
        .cwd(&dir.0)
        .args([
            "-c",
            p.to_str().unwrap(),
            "--chdir",
            apps().to_str().unwrap(),
            "hello:app",
        ])
        .spawn();
    assert_eq!(m.get("/").unwrap(), (200, "Hello, World!".to_string()));
    let read = || std::fs::read_to_string(&rec).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(10), || read().matches("child").count()
            >= 2),
        "{}",
        read()
    );
    let master = m.pid().to_string();
    let text = read();
    let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    let of = |what: &str| lines.iter().filter(|(w, _)| *w == what).count();
    assert_eq!(of("before"), 2, "{text}");
    assert_eq!(of("parent"), 2, "{text}");
    assert!(
        lines
            .iter()
            .filter(|(w, _)| *w != "child")
            .all(|(_, pid)| *pid == master),
        "before/parent run in the master: {text}"
    );
    assert!(
        lines
            .iter()
            .filter(|(w, _)| *w == "child")
            .all(|(_, pid)| *pid != master),
        "child handlers run in the workers: {text}"
    );
    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(Duration::from_secs(20)), Some(0));
}
