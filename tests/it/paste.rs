//! `--paste CONFIG[#SECTION]` and `--paste-global`, side by side with Gunicorn 27.0.1: a
//! Pyramid app and a plain app factory (tests/apps/paste/) loaded from the same ini by
//! both servers, compared on what PasteDeploy gave the factory, the environ, Python's
//! logging and `--print-config`; the precedence of what the ini implies against a config
//! file and the command line; and the errors (missing file or section, PasteDeploy not
//! installed). Needs `pip install PasteDeploy pyramid` (as .ci/run does).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::util::*;

/// tests/apps: every server starts here and names `paste/app.ini` relative to it, with
/// `--chdir paste`, so the ini's path must be taken before the chdir (as Gunicorn does).
fn apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

fn ini_dir() -> PathBuf {
    apps().join("paste")
}

fn runicorn() -> Builder {
    Master::runicorn().cwd(apps())
}

fn gunicorn() -> Builder {
    gunicorn_peer().cwd(apps())
}

/// GET `path` (with extra header lines) on a fresh connection: status and JSON body.
fn fetch(addr: SocketAddr, path: &str, headers: &str) -> (u16, serde_json::Value) {
    let mut c = Conn::open(addr).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n");
    std::io::Write::write_all(c.stream_mut(), req.as_bytes()).unwrap();
    let r = c.read_response().unwrap();
    let body = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, body)
}

/// `--print-config` as key → value (sources dropped).
fn print_config(b: Builder) -> BTreeMap<String, String> {
    let (code, out, err) = b
        .no_bind()
        .arg("--print-config")
        .run(Duration::from_secs(30));
    assert_eq!(code, Some(0), "--print-config failed:\n{err}");
    out.lines()
        .filter_map(|l| {
            let (k, v) = l.split("  # ").next()?.split_once(" = ")?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

const PASTE: [&str; 6] = [
    "--paste",
    "paste/app.ini",
    "--chdir",
    "paste",
    "--paste-global",
    "FLAVOUR=mint",
];

/// The same ini under both servers: the Pyramid app's `main` and the `#plain` factory get
/// the same global_conf (`here`, `__file__`, [DEFAULT], `--paste-global` with `\=`
/// unescaped) and settings (interpolated from them), the same environ, and the ini's
/// logging sections configure Python's logging the same way (its format reaches stderr).
#[test]
fn pyramid_and_plain_factories_match_gunicorn() {
    let escaped = ["--paste-global", "A\\=B=C"];
    let g = gunicorn().args(PASTE).args(escaped).spawn();
    let m = runicorn().args(PASTE).args(escaped).spawn();
    let (gs, ge) = fetch(g.addr(), "/some/where", "");
    let (rs, re) = fetch(m.addr(), "/some/where", "");
    assert_eq!((rs, gs), (200, 200), "runicorn {re}\ngunicorn {ge}");
    for k in [
        "kind",
        "global_config",
        "settings",
        "SCRIPT_NAME",
        "PATH_INFO",
        "root_level",
        "root_handlers",
        "app_logger_level",
    ] {
        assert_eq!(re[k], ge[k], "{k}: runicorn {re}\ngunicorn {ge}");
    }
    // What both gave, so the comparison cannot pass on two empty answers.
    let here = ini_dir().display().to_string();
    assert_eq!(re["kind"], "pyramid");
    assert_eq!(re["global_config"]["here"], here.as_str());
    assert_eq!(re["global_config"]["FLAVOUR"], "mint");
    assert_eq!(re["global_config"]["A=B"], "C");
    assert_eq!(re["global_config"]["shared"], "from [DEFAULT]");
    assert_eq!(re["settings"]["app.flavour"], "mint");
    assert_eq!(
        re["settings"]["app.greeting"],
        format!("hello from {here}").as_str()
    );
    assert_eq!(re["root_handlers"], serde_json::json!(["StreamHandler"]));
    assert_eq!(re["loaded_in"], re["pid"], "loaded in the worker");
    for s in [&m, &g] {
        assert!(
            s.wait_for_log(
                "PASTE-LOG INFO [pyramid_app] PASTE-APP handled /some/where",
                Duration::from_secs(10)
            )
            .is_some(),
            "the ini's formatter:\n{}",
            s.log()
        );
    }
    // A trusted proxy's SCRIPT_NAME reaches the Pyramid app as under Gunicorn.
    let (_, ge) = fetch(g.addr(), "/mnt/x", "SCRIPT_NAME: /mnt\r\n");
    let (_, re) = fetch(m.addr(), "/mnt/x", "SCRIPT_NAME: /mnt\r\n");
    assert_eq!(
        (&re["SCRIPT_NAME"], &re["PATH_INFO"]),
        (&ge["SCRIPT_NAME"], &ge["PATH_INFO"])
    );
    assert_eq!(re["PATH_INFO"], "/x");
    // Only runicorn says that [server:main] is ignored; neither bound its port or used
    // its workers (checked in print_config_matches_gunicorn).
    assert!(m.log().contains("[server:main] is not read by --paste"));
    drop((g, m));

    let plain = [
        "--paste",
        "paste/app.ini#plain",
        "--chdir",
        "paste",
        "--paste-global",
        "K=v",
    ];
    let g = gunicorn().args(plain).spawn();
    let m = runicorn().args(plain).spawn();
    let (_, ge) = fetch(g.addr(), "/", "");
    let (_, re) = fetch(m.addr(), "/", "");
    assert_eq!(re["kind"], "plain", "{re}");
    for k in ["kind", "global_config", "settings"] {
        assert_eq!(re[k], ge[k], "{k}: runicorn {re}\ngunicorn {ge}");
    }
    assert_eq!(re["settings"], serde_json::json!({"answer": "42"}));
}

/// `--preload` loads the app in the master under both: the factory ran in another process
/// than the worker that answers.
#[test]
fn preload_loads_the_paste_app_in_the_master() {
    let g = gunicorn().args(PASTE).arg("--preload").spawn();
    let m = runicorn().args(PASTE).arg("--preload").spawn();
    for (name, addr, master) in [
        ("gunicorn", g.addr(), g.pid()),
        ("runicorn", m.addr(), m.pid()),
    ] {
        let (status, e) = fetch(addr, "/", "");
        assert_eq!(status, 200, "{name}: {e}");
        assert_eq!(e["loaded_in"], master.as_raw(), "{name}: {e}");
        assert_ne!(e["pid"], e["loaded_in"], "{name}: {e}");
    }
}

/// The effective settings as both print them: the ini names the processes and is the
/// default `logconfig` when it has [loggers]; its [server:main] (bind, workers, timeout)
/// is not read; a config file outranks what the ini implies, and the command line
/// outranks both.
#[test]
fn print_config_matches_gunicorn() {
    let keys = [
        "paste",
        "raw_paste_global_conf",
        "default_proc_name",
        "logconfig",
        "bind",
        "workers",
        "timeout",
        "proc_name",
    ];
    let cases: [&[&str]; 3] = [
        &PASTE,
        &[
            "-c",
            "paste/conf.py",
            "--paste",
            "paste/app.ini#plain",
            "--chdir",
            "paste",
            "--paste-global",
            "FLAVOUR=mint",
        ],
        &[
            "-c",
            "paste/conf.py",
            "--log-config",
            "paste/app.ini",
            "--workers",
            "3",
            "--paste",
            "paste/nolog.ini",
            "--chdir",
            "paste",
        ],
    ];
    let mut seen = Vec::new();
    for args in cases {
        let g = print_config(gunicorn().args(args.iter().copied()));
        let r = print_config(runicorn().args(args.iter().copied()));
        for k in keys {
            assert_eq!(r.get(k), g.get(k), "{k} with {args:?}");
        }
        seen.push(r);
    }
    let ini = ini_dir().join("app.ini").display().to_string();
    let line = |i: usize, k: &str| seen[i][k].clone();
    assert_eq!(line(0, "default_proc_name"), ini);
    assert_eq!(line(0, "logconfig"), ini, "the ini has [loggers]");
    assert_eq!(line(0, "workers"), "1", "[server:main] is not read");
    assert_eq!(line(0, "raw_paste_global_conf"), "['FLAVOUR=mint']");
    assert_eq!(line(1, "logconfig"), "nolog.ini", "the config file wins");
    assert_eq!(line(1, "timeout"), "45");
    assert_eq!(
        line(2, "logconfig"),
        "paste/app.ini",
        "the command line wins"
    );
    assert_eq!(line(2, "workers"), "3");
}

/// What goes wrong, and how each server says it. A missing ini is a configuration error
/// (exit 1) in both. A missing section and a missing PasteDeploy fail the app's load:
/// runicorn exits 4 ("App failed to load", as for any app) where Gunicorn exits 3 (its
/// worker failed to boot) or, for PasteDeploy, 1 (it imports PasteDeploy while parsing
/// its arguments).
#[test]
fn errors_name_the_setting_and_the_file() {
    let run = |b: Builder| b.run(Duration::from_secs(30));
    let (code, _, err) = run(runicorn().args(["--paste", "paste/nope.ini"]));
    let missing = ini_dir().join("nope.ini").display().to_string();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "invalid value \"paste/nope.ini\" for `paste` (from command line): \"{missing}\" not found"
        )),
        "{err}"
    );
    let (code, _, err) = run(gunicorn().args(["--paste", "paste/nope.ini"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("'{missing}' not found")), "{err}");

    let section = ["--paste", "paste/app.ini#nosuch", "--chdir", "paste"];
    let (code, _, err) = run(runicorn().args(section));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("LookupError: No section 'nosuch'"), "{err}");
    assert!(err.contains("App failed to load."), "{err}");
    let (code, _, err) = run(gunicorn().args(section));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("LookupError: No section 'nosuch'"), "{err}");

    // PasteDeploy hidden from the child's Python only (tests/apps/paste/no_pastedeploy).
    let hidden = ini_dir().join("no_pastedeploy").display().to_string();
    let (code, _, err) = run(runicorn().args(PASTE).env("PYTHONPATH", &hidden));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("--paste \"paste/app.ini\": PasteDeploy is not installed")
            && err.contains(
                "(No module named 'paste.deploy'); install it with `pip install PasteDeploy`"
            ),
        "{err}"
    );
    assert!(
        err.matches("Booting worker").count() <= 1,
        "no respawn loop:\n{err}"
    );
    let (code, _, err) = run(gunicorn().args(PASTE).env("PYTHONPATH", &hidden));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("No module named 'paste.deploy'"), "{err}");

    // A paste app is WSGI: under -k asgi runicorn refuses it at boot (Gunicorn serves a
    // 500 to every request).
    let (code, _, err) = run(runicorn().args(PASTE).args(["-k", "asgi"]));
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("paste/app.ini is not an ASGI application"),
        "{err}"
    );
}
